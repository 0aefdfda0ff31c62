package broker

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestRecoversFromProvisioningFailuresAndThrottling(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 5, 1)
	e.cfg.Pools = []Pool{
		{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 15, Max: 20, Warm: 4},
		{Name: "fin", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 15, Max: 20, Warm: 4},
	}
	e.cfg.Policies = e.cfg.Policies[:2]
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{"provision_fail_rate": 0.2, "throttle": []string{"StartWorkspaces"}, "throttle_rate": 0.5}); err != nil {
		t.Fatal(err)
	}
	e.usePartnerRole()
	counter := &targetCounter{inner: e.c.AWS.HTTPClient, target: "WorkspacesService.StartWorkspaces"}
	e.c.AWS.HTTPClient = counter
	e.c = NewClients(e.c.AWS, e.cfg.Endpoint)
	b := e.broker()
	ctx := context.Background()
	rep := reconcileUntil(t, b, func(r *PassReport) bool {
		e.checkInvariants(b)
		return settled(r, "eng", "fin")
	}, "pools settle despite failures")
	for _, name := range []string{"eng", "fin"} {
		p := rep.Pools[name]
		if p.Desktops != 15 || p.States["AVAILABLE"] != 4 || p.States["STOPPED"] != 11 {
			t.Fatalf("pool %s: %+v", name, p)
		}
	}
	n, err := b.Store().CountEvents(ctx, "terminate")
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no failed desktop was replaced (provision_fail_rate 0.2 over 30+ desktops)")
	}
	t.Logf("%d failed desktops replaced", n)

	// Every round everyone logs in (starting stopped desktops through the
	// throttled StartWorkspaces, one call each), logs out, and the power
	// plans stop the desktops again.
	for i := 0; i < 6; i++ {
		for _, u := range []string{"alice", "bob", "carol", "dave"} {
			v, err := b.RequestSession(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Logout(ctx, v.SessionID); err != nil {
				t.Fatal(err)
			}
		}
		e.advance(40 * time.Minute)
		if _, err := b.Reconcile(ctx); err != nil {
			t.Logf("pass: %v", err)
		}
		e.checkInvariants(b)
	}
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	reconcileUntil(t, b, func(r *PassReport) bool {
		e.checkInvariants(b)
		return settled(r, "eng", "fin") && r.Pools["eng"].States["ERROR"] == 0
	}, "pools settle after faults")
	calls, failed := counter.counts()
	t.Logf("StartWorkspaces: %d calls, %d throttled", calls, failed)
	if failed == 0 {
		t.Fatal("StartWorkspaces was never throttled")
	}
}

// targetCounter counts the calls of one JSON-protocol operation and its
// non-200 answers.
type targetCounter struct {
	inner        aws.HTTPClient
	target       string
	mu           sync.Mutex
	calls, fails int
}

func (c *targetCounter) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.inner.Do(r)
	if r.Header.Get("X-Amz-Target") == c.target {
		c.mu.Lock()
		c.calls++
		if err != nil || resp.StatusCode != http.StatusOK {
			c.fails++
		}
		c.mu.Unlock()
	}
	return resp, err
}

func (c *targetCounter) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.fails
}
