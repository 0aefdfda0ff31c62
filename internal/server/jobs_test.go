package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/testserver"
)

func jobsByID(t *testing.T, s *testserver.Server, query string) (map[string]map[string]any, map[string]any) {
	t.Helper()
	out, err := s.AdminGet("/_deskplane/jobs" + query)
	if err != nil {
		t.Fatalf("GET /_deskplane/jobs%s: %v", query, err)
	}
	js := map[string]map[string]any{}
	list, _ := out["jobs"].([]any)
	for _, j := range list {
		m := j.(map[string]any)
		js[m["id"].(string)] = m
	}
	return js, out
}

// A job that keeps failing is retried with a growing delay and parked after
// ten failures; GET /_deskplane/jobs lists it with its attempts and last
// error, beside the pending jobs.
func TestJobsEndpointListsPendingAndParkedJobs(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock())
	ctx := t.Context()
	now := s.Now()
	later := now.Add(100 * time.Hour)
	err := s.Deps.Store.Update(ctx, func(tx store.Tx) error {
		if err := s.Deps.Engine.Schedule(ctx, tx, "test/broken", "test.no-such-kind", now, nil); err != nil {
			return err
		}
		return s.Deps.Engine.Schedule(ctx, tx, "test/later", "test.no-such-kind", later, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	parked := func() map[string]any {
		js, _ := jobsByID(t, s, "?state=parked")
		return js["test/broken"]
	}
	for i := 0; parked() == nil; i++ {
		if i == 12 {
			js, _ := jobsByID(t, s, "")
			t.Fatalf("the failing job is not parked after %d clock advances: %v", i, js["test/broken"])
		}
		s.Advance(5 * time.Minute) // more than the longest backoff: one run per advance
	}
	p := parked()
	if p["state"] != "parked" || p["kind"] != "test.no-such-kind" || p["attempts"] != float64(10) ||
		!strings.Contains(p["last_error"].(string), `no handler for job kind "test.no-such-kind"`) || p["parked_at"] == nil || p["due"] != nil {
		t.Errorf("parked job = %v", p)
	}
	// Parked, it runs no more.
	s.Advance(time.Hour)
	if p := parked(); p == nil || p["attempts"] != float64(10) {
		t.Errorf("parked job after an hour = %v", p)
	}
	all, _ := jobsByID(t, s, "")
	l := all["test/later"]
	if l == nil || l["state"] != "pending" || l["attempts"] != float64(0) || l["due"] != later.UTC().Format(time.RFC3339Nano) || l["last_error"] != nil {
		t.Errorf("pending job = %v", l)
	}
	if all["test/broken"] == nil {
		t.Errorf("the listing without a state lacks the parked job")
	}
	if js, _ := jobsByID(t, s, "?state=pending"); js["test/broken"] != nil || js["test/later"] == nil {
		t.Errorf("pending listing = %v", js)
	}
	// Pages.
	_, out := jobsByID(t, s, "?limit=1")
	if n, _ := out["next"].(string); n == "" || len(out["jobs"].([]any)) != 1 {
		t.Errorf("first page of one = %v", out)
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?limit=1001", "?state=dead", "?after=%ff"} {
		if _, err := s.AdminGet("/_deskplane/jobs" + bad); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("GET /_deskplane/jobs%s = %v, want 400", bad, err)
		}
	}
	if _, err := s.AdminGetNoAuth(s.URL + "/_deskplane/jobs"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("GET /_deskplane/jobs without the token = %v, want 401", err)
	}
}
