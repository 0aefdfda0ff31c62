package broker

import (
	"context"
	"testing"
	"time"
)

// TestAbandonedSessionsExpire: a session left waiting (the gateway stopped
// polling it) stops counting as demand after AbandonAfter.
func TestAbandonedSessionsExpire(t *testing.T) {
	e := startEnv(t)
	e.withPools(0, 1, 0)
	b := e.broker()
	ctx := context.Background()
	// alice takes eng's only desktop; bob then waits: the pool is at its max.
	reconcileUntil(t, b, func(r *PassReport) bool {
		v, err := b.RequestSession(ctx, "alice")
		return err == nil && v.Ready()
	}, "alice ready")
	v, err := b.RequestSession(ctx, "bob")
	if err != nil || v.Ready() {
		t.Fatalf("bob at a full pool: %+v %v", v, err)
	}
	waitingFor := func(user string) bool {
		live, err := b.st.LiveSessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range live {
			if s.User == user && s.State == SessWaiting {
				return true
			}
		}
		return false
	}
	if _, err := b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !waitingFor("bob") {
		t.Fatal("bob's session is not waiting")
	}
	// Nobody polls bob's session for longer than AbandonAfter.
	e.advance(AbandonAfter + time.Minute)
	if _, err := b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if waitingFor("bob") {
		t.Fatal("an abandoned session still waits")
	}
}
