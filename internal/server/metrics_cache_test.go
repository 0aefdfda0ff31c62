package server

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestRequestMetricsPastTheCache counts every request, outcomes the
// request cache holds and those past its bound alike.
func TestRequestMetricsPastTheCache(t *testing.T) {
	m := NewMetrics()
	n := maxRequestKeys + 50
	for i := range n {
		for range 2 {
			m.ObserveRequest("workspaces", fmt.Sprintf("Op%d", i), 200, "", time.Millisecond)
		}
	}
	m.ObserveRequest("workspaces", "Op0", 400, "ValidationException", time.Millisecond)
	if len(m.byRequest) != maxRequestKeys {
		t.Fatalf("cache holds %d outcomes, want its bound %d", len(m.byRequest), maxRequestKeys)
	}
	count := func(op, status, code string) float64 {
		var d dto.Metric
		if err := m.requests.WithLabelValues("workspaces", op, status, code).Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetCounter().GetValue()
	}
	for _, op := range []string{"Op0", fmt.Sprintf("Op%d", n-1)} {
		if got := count(op, "200", ""); got != 2 {
			t.Errorf("%s: %v requests counted, want 2", op, got)
		}
	}
	if got := count("Op0", "400", "ValidationException"); got != 1 {
		t.Errorf("Op0 400: %v requests counted, want 1", got)
	}
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "deskplane_request_seconds" {
			continue
		}
		total := uint64(0)
		for _, s := range f.Metric {
			total += s.GetHistogram().GetSampleCount()
		}
		if len(f.Metric) != n || total != uint64(2*n+1) {
			t.Errorf("latency: %d series, %d samples; want %d, %d", len(f.Metric), total, n, 2*n+1)
		}
	}
}
