package broker

import (
	"context"
	"github.com/deskplane/deskplane/internal/testserver"
	"testing"
	"time"
)

// TestNoticesServiceStops: MANUAL desktops left AVAILABLE are stopped by the
// service after 48 hours; the broker notices (an event, the session marked
// interrupted), restarts the warm buffer, and starts the user's desktop at
// the next login. A pool at its maximum answers with a reason.
func TestNoticesServiceStops(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 5, 1)
	e.cfg.Pools = []Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 1, Max: 2, Warm: 1}}
	e.cfg.Policies = []Policy{{Name: "all", Groups: []string{"Engineering", "Finance"}, Pool: "eng", PowerPlan: "keep-running", ReleasePlan: "keep", ProtocolPlan: "rdp"}}
	if err := e.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b := e.broker()
	ctx := context.Background()
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].States["AVAILABLE"] == 1 }, "warm desktop")
	v, err := b.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() {
		t.Fatalf("alice %+v %v", v, err)
	}
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].States["AVAILABLE"] == 2 }, "warm refill")
	bv, err := b.RequestSession(ctx, "bob")
	if err != nil || !bv.Ready() {
		t.Fatalf("bob %+v %v", bv, err)
	}
	// The pool is at its maximum (2) with both desktops assigned.
	cv, err := b.RequestSession(ctx, "carol")
	if err != nil || cv.Ready() || cv.RetryAfter == 0 || cv.Reason == "" {
		t.Fatalf("carol should wait with a reason: %+v %v", cv, err)
	}
	t.Logf("carol: %s", cv.Reason)
	if _, err := b.Disconnect(ctx, bv.SessionID); err != nil { // keep running
		t.Fatal(err)
	}
	// The broker observes hourly; a monthly maintenance window may postpone
	// a desktop's 48-hour stop, so allow a few days.
	for h := 0; ; h++ {
		if h > 120 {
			t.Fatal("the service never stopped both desktops")
		}
		e.advance(time.Hour)
		reconcileUntil(t, b, func(r *PassReport) bool { return true }, "pass")
		if n, _ := b.Store().CountEvents(ctx, "service_stop"); n >= 2 {
			t.Logf("both service stops noticed after %d hours", h+1)
			break
		}
	}
	s, _ := b.Store().Session(ctx, v.SessionID)
	if s.State != SessInterrupted {
		t.Fatalf("alice's session: %s, want interrupted", s.State)
	}
	// alice comes back: her desktop starts again.
	testserver.Eventually(t, 30*time.Second, func() bool {
		v2, err := b.RequestSession(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if v2.WorkspaceID != v.WorkspaceID {
			t.Fatalf("alice moved to %s", v2.WorkspaceID)
		}
		return v2.Ready()
	}, "alice's desktop restarted")
}
