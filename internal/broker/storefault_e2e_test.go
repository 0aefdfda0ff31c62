package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
)

// errInjected is the error of a write failed by a test.
var errInjected = errors.New("injected store write failure")

// failNth arms the store to fail the n-th write (1-based) whose statement
// contains match ("" matches every write, transactions included) and
// returns a function reporting the statement it failed ("" if none).
func failNth(st *Store, match string, n int) func() string {
	var mu sync.Mutex
	seen, failed := 0, ""
	f := func(q string) error {
		if !strings.Contains(q, match) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if seen++; seen == n {
			failed = q
			return errInjected
		}
		return nil
	}
	st.writeFault.Store(&f)
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return failed
	}
}

// TestStoreWriteFailureFailsThePass sweeps a failed store write over every
// write of the passes that act on a pool (creates, starts when the warm
// count rises, stops when it falls, terminations when the maximum falls):
// whichever write
// fails, the pass returns the error instead of going on as if the action
// were recorded, and once writes succeed again the pool converges with no
// desktop created twice.
func TestStoreWriteFailureFailsThePass(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 4, 1)
	e.cfg.Pools = []Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 3, Max: 4, Warm: 1}}
	e.cfg.Policies = e.cfg.Policies[:1]
	b := e.broker()
	ctx := context.Background()
	fired := 0
	sweep := func(phase string, passes int) {
		t.Helper()
		for k := 1; k <= passes; k++ {
			failed := failNth(b.st, "", k)
			rep, err := b.Reconcile(ctx)
			b.st.writeFault.Store(nil)
			q := failed()
			if q != "" {
				fired++
				if !errors.Is(err, errInjected) {
					t.Fatalf("%s: write %d (%s) failed but the pass returned %v: %+v", phase, k, q, err, rep)
				}
				if _, ok := rep.Pools["eng"]; ok {
					t.Fatalf("%s: write %d failed but the pool's actions were reported: %+v", phase, k, rep.Pools["eng"])
				}
			} else if err != nil {
				t.Fatalf("%s: pass %d: %v", phase, k, err)
			}
		}
	}
	sweep("create", 12)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") }, "pool settles (1 warm)")
	e.cfg.Pools[0].Warm = 3
	sweep("start", 12)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Running == 3 }, "pool settles (3 warm)")
	e.cfg.Pools[0].Warm = 0
	sweep("stop", 12)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Running == 0 }, "pool settles (0 warm)")
	e.cfg.Pools[0].Min, e.cfg.Pools[0].Max = 2, 2
	sweep("terminate", 12)
	rep := reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Desktops == 2 }, "pool settles (max 2)")
	if fired < 10 {
		t.Fatalf("only %d writes were failed", fired)
	}
	if got := e.serverDesktops("eng"); len(got) != 2 || rep.Pools["eng"].Desktops != 2 {
		t.Fatalf("server desktops %v, pool %+v: want 2", got, rep.Pools["eng"])
	}
	e.checkStoreAfterCrash(t)
}

// TestStopNotSentWhenItsMarkFails: the broker marks a desktop before asking
// the service to stop it (so its own stop is never taken for the
// service's); when that mark cannot be written, the stop is not sent and the
// pass fails.
func TestStopNotSentWhenItsMarkFails(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 4, 1)
	e.cfg.Pools = []Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 1, Max: 1, Warm: 1}}
	e.cfg.Policies = e.cfg.Policies[:1]
	b := e.broker()
	ctx := context.Background()
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Running == 1 }, "pool settles")
	e.cfg.Pools[0].Warm = 0
	// The pass observes the one desktop unchanged (a steady pass writes no
	// record), so its first desktop write is the mark before the stop.
	failed := failNth(b.st, "INTO desktops", 1)
	rep, err := b.Reconcile(ctx)
	b.st.writeFault.Store(nil)
	if q := failed(); q == "" || !errors.Is(err, errInjected) {
		t.Fatalf("failed write %q; pass: %v %+v", q, err, rep)
	}
	out, err := e.c.WorkSpaces.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range out.Workspaces {
		if strings.HasPrefix(aws.ToString(w.WorkspaceName), "eng-") && w.State != "AVAILABLE" {
			t.Fatalf("%s is %s: the stop was sent although its mark was not written", aws.ToString(w.WorkspaceId), w.State)
		}
	}
	rep = reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Running == 0 }, "pool stops")
	if n, err := b.st.CountEvents(ctx, "service_stop"); err != nil || n != 0 {
		t.Fatalf("the broker's own stop was taken for the service's %d times (%v)", n, err)
	}
}

// TestDisconnectIsOneChange: a disconnect records the session's end and its
// desktop's power-plan deadline together. When the desktop's write fails,
// the session is left connected (not ended with its stop lost, which no
// later disconnect would repair: ending an ended session changes nothing);
// disconnecting again applies the plan, and the desktop stops on time.
func TestDisconnectIsOneChange(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 2, 1)
	e.cfg.Pools = e.cfg.Pools[:1]
	e.cfg.Policies = e.cfg.Policies[:1]
	b := e.broker()
	ctx := context.Background()
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Running == 1 }, "pool settles")
	v, err := b.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() {
		t.Fatalf("alice: %+v %v", v, err)
	}
	failed := failNth(b.st, "INTO desktops", 1)
	_, err = b.Disconnect(ctx, v.SessionID)
	b.st.writeFault.Store(nil)
	if q := failed(); q == "" || !errors.Is(err, errInjected) {
		t.Fatalf("failed write %q; disconnect: %v", q, err)
	}
	s, err := b.Store().Session(ctx, v.SessionID)
	if err != nil || s == nil || s.State != SessActive {
		t.Fatalf("session after a failed disconnect: %+v %v (want it still active)", s, err)
	}
	if d, _ := b.Store().Desktop(ctx, v.WorkspaceID); d == nil || !d.StopAt.IsZero() {
		t.Fatalf("desktop after a failed disconnect: %+v", d)
	}
	if _, err := b.Disconnect(ctx, v.SessionID); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Store().Session(ctx, v.SessionID); s == nil || s.State != SessDisconnected {
		t.Fatalf("session after disconnecting again: %+v", s)
	}
	d, _ := b.Store().Desktop(ctx, v.WorkspaceID)
	if d == nil || d.StopAt.IsZero() {
		t.Fatalf("desktop after disconnecting again: %+v (want a stop deadline)", d)
	}
	e.advance(31 * time.Minute)
	reconcileUntil(t, b, func(r *PassReport) bool { return slices.Contains(r.Pools["eng"].Stopped, v.WorkspaceID) }, "the power plan stops alice's desktop")
}
