package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/smithy-go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// sumOf adds the samples of a family (counters; histograms by count) whose
// labels include want.
func sumOf(f *dto.MetricFamily, want map[string]string) float64 {
	total := 0.0
	if f == nil {
		return 0
	}
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
			total += m.Counter.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		}
	}
	return total
}

// TestServerMetrics makes known calls and checks GET /metrics, parsed by the
// Prometheus text parser, counts exactly them.
func TestServerMetrics(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	ws := workspaces.NewFromConfig(s.Admin())
	for i := 0; i < 3; i++ {
		if _, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{Limit: aws.Int32(0)})
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("Limit 0 was accepted: %v", err)
	}
	denied := workspaces.NewFromConfig(s.Config(config.AdminKeyID, "not-the-secret"))
	_, err = denied.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
	var sigErr smithy.APIError
	if !errors.As(err, &sigErr) {
		t.Fatalf("a wrong secret was accepted: %v", err)
	}

	req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without the admin token: %v %v", resp, err)
	}
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		req.Header.Set("Authorization", "Bearer "+s.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("the metrics do not parse: %v", err)
		}
		return fams
	}
	commitsBefore := sumOf(scrape()["deskplane_store_commit_seconds"], nil)
	if _, err := ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("metrics")}); err != nil {
		t.Fatal(err)
	}
	fams := scrape()
	req200 := map[string]string{"service": "workspaces", "operation": "DescribeWorkspaces", "status": "200", "code": ""}
	if got := sumOf(fams["deskplane_requests_total"], req200); got != 3 {
		t.Errorf("successful DescribeWorkspaces = %v, want 3", got)
	}
	bad := map[string]string{"service": "workspaces", "operation": "DescribeWorkspaces", "code": ae.ErrorCode()}
	if got := sumOf(fams["deskplane_requests_total"], bad); got != 1 {
		t.Errorf("DescribeWorkspaces answered %s = %v, want 1", ae.ErrorCode(), got)
	}
	if got := sumOf(fams["deskplane_requests_total"], map[string]string{"code": sigErr.ErrorCode()}); got != 1 {
		t.Errorf("requests refused with %s = %v, want 1", sigErr.ErrorCode(), got)
	}
	if got := sumOf(fams["deskplane_request_seconds"], map[string]string{"operation": "DescribeWorkspaces"}); got < 4 {
		t.Errorf("DescribeWorkspaces latencies observed = %v, want at least 4", got)
	}
	// The IP group created above is one more commit, made durable before
	// CreateIpGroup answered.
	if got := sumOf(fams["deskplane_store_commit_seconds"], nil); got < commitsBefore+1 {
		t.Errorf("store commits observed = %v, want at least %v (before the tag) + 1", got, commitsBefore)
	}
	if fams["go_goroutines"] == nil || fams["deskplane_jobs_claimed"] == nil {
		t.Errorf("runtime or scheduler metrics missing: %v", keys(fams))
	}
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
