package broker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the broker's /metrics with the bearer token and parses it
// with the Prometheus client's own text parser.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return fams
}

// value sums the family's samples (counter, gauge, or a histogram's count)
// whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsMatchWhatHappened drives a pool through throttled calls and a
// session, then checks /metrics (parsed by the Prometheus text parser)
// against what the test counted itself.
func TestMetricsMatchWhatHappened(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 3, 1)
	e.cfg.Pools = e.cfg.Pools[:1] // eng: min 1, max 3, warm 1
	e.cfg.Policies = e.cfg.Policies[:1]
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{"throttle": []string{"DescribeWorkspaces"}, "throttle_rate": 0.5}); err != nil {
		t.Fatal(err)
	}
	counter := &targetCounter{inner: e.c.AWS.HTTPClient, target: "WorkspacesService.DescribeWorkspaces"}
	e.c.AWS.HTTPClient = counter
	e.c = NewClients(e.c.AWS, e.cfg.Endpoint)
	b := e.broker()
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()

	passes := 0
	reconcileUntil(t, b, func(r *PassReport) bool { passes++; return settled(r, "eng") }, "pool settles")
	// More passes until the wire has seen a throttled attempt (each pass
	// observes with DescribeWorkspaces; half the attempts are throttled).
	for i := 0; i < 60; i++ {
		if _, fails := counter.counts(); fails > 0 {
			break
		}
		if _, err := b.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		passes++
	}
	v, err := b.RequestSession(context.Background(), "alice")
	if err != nil || !v.Ready() {
		t.Fatalf("alice: %+v %v", v, err)
	}

	// Without the token there is nothing to see.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without a token: %v %v", resp, err)
	}
	fams := scrape(t, srv.URL, "test-token")

	status, err := b.PoolStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for state, n := range status["eng"].States {
		if got := value(fams, "deskplane_broker_pool_desktops", map[string]string{"pool": "eng", "state": state}); got != float64(n) {
			t.Errorf("pool_desktops{eng,%s} = %v, the pool has %d", state, got, n)
		}
	}
	if got := value(fams, "deskplane_broker_pool_warm_buffer", map[string]string{"pool": "eng"}); got != 1 {
		t.Errorf("warm buffer = %v, want 1", got)
	}
	if got := value(fams, "deskplane_broker_sessions", map[string]string{"pool": "eng", "state": "active"}); got != 1 {
		t.Errorf("active sessions = %v, want 1", got)
	}
	if got := value(fams, "deskplane_broker_session_grant_seconds", nil); got != 1 {
		t.Errorf("session grants observed = %v, want 1", got)
	}
	if got := value(fams, "deskplane_broker_session_request_seconds", map[string]string{"outcome": "active"}); got != 1 {
		t.Errorf("session requests answered active = %v, want 1", got)
	}
	if got := value(fams, "deskplane_broker_reconcile_pass_seconds", nil); got != float64(passes) {
		t.Errorf("reconcile passes = %v, the test ran %d", got, passes)
	}
	attempts, throttled := counter.counts()
	op := map[string]string{"service": "WorkSpaces", "operation": "DescribeWorkspaces"}
	if got := value(fams, "deskplane_broker_aws_attempts_total", op); got != float64(attempts) {
		t.Errorf("DescribeWorkspaces attempts = %v, the wire saw %d", got, attempts)
	}
	if throttled == 0 {
		t.Fatal("no DescribeWorkspaces call was throttled (rate 0.5)")
	}
	if got := value(fams, "deskplane_broker_aws_throttles_total", op); got != float64(throttled) {
		t.Errorf("DescribeWorkspaces throttles = %v, the wire saw %d", got, throttled)
	}
	calls := value(fams, "deskplane_broker_aws_calls_total", op)
	if retries := value(fams, "deskplane_broker_aws_retries_total", op); calls+retries != float64(attempts) {
		t.Errorf("calls %v + retries %v != attempts %d", calls, retries, attempts)
	}
	if got := value(fams, "deskplane_broker_aws_calls_total", map[string]string{"operation": "CreateWorkspaces", "outcome": "ok"}); got < 1 {
		t.Errorf("no successful CreateWorkspaces counted")
	}
	for name := range fams {
		if !strings.HasPrefix(name, "deskplane_broker_") {
			t.Errorf("unexpected family %s", name)
		}
	}
}
