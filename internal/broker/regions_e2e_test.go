package broker

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/workspaces"
)

// TestRegionFailoverAndBack: a pool with a standby region. An outage of the
// primary region (fault injection) fails three passes; new sessions then
// come from the standby, which grows to the primary's size; when the
// primary answers again for three passes, new sessions return to it and the
// standby shrinks back to its baseline.
func TestRegionFailoverAndBack(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	b, sb := standbyFleet(t, e, &StandbyPool{Region: "us-west-2", Bundle: "win11-bundle-west"})
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") }, "primary settles")
	reconcileUntil(t, sb, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Desktops == 0 }, "standby idles at 0")

	alice, err := b.RequestSession(ctx, "alice")
	if err != nil || !alice.Ready() || alice.Region != "us-east-1" {
		t.Fatalf("alice before the outage: %+v %v", alice, err)
	}

	// The primary region goes down.
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{"region_outages": map[string]string{"us-east-1": "error"}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= FailoverPasses; i++ {
		if st := b.Failover(); st.Failing {
			t.Fatalf("failed over after %d failed passes, want %d", i-1, FailoverPasses)
		}
		if _, err := b.Reconcile(ctx); err == nil {
			t.Fatalf("pass %d succeeded during the outage", i)
		}
	}
	if st := b.Failover(); !st.Failing || st.Active != "us-west-2" || st.Failovers != 1 {
		t.Fatalf("after %d failed passes: %+v", FailoverPasses, st)
	}
	// The standby grows to the primary pool's min and warm.
	reconcileUntil(t, sb, func(r *PassReport) bool {
		return settled(r, "eng") && r.Pools["eng"].States["AVAILABLE"] >= 1
	}, "standby grows")
	bob, err := b.RequestSession(ctx, "bob")
	if err != nil || bob.Region != "us-west-2" {
		t.Fatalf("bob during the outage: %+v %v", bob, err)
	}
	reconcileUntil(t, sb, func(r *PassReport) bool { return settled(r, "eng") }, "standby serves bob")
	if bob, err = b.GetSession(ctx, bob.SessionID); err != nil || !bob.Ready() {
		t.Fatalf("bob's standby session: %+v %v", bob, err)
	}
	west := workspaces.NewFromConfig(e.s.Admin("us-west-2"))
	if o, err := west.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{bob.WorkspaceID}}); err != nil || len(o.Workspaces) != 1 {
		t.Fatalf("bob's desktop %s is not in us-west-2: %v", bob.WorkspaceID, err)
	}
	// alice's session, granted in the primary, is still known.
	if v, err := b.GetSession(ctx, alice.SessionID); err != nil || v.Region != "us-east-1" {
		t.Fatalf("alice's session during the outage: %+v %v", v, err)
	}

	// The primary comes back: after three healthy passes, new sessions
	// return to it and the standby shrinks to its baseline.
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < RecoverPasses; i++ {
		if _, err := b.Reconcile(ctx); err != nil {
			t.Fatalf("pass after the outage: %v", err)
		}
	}
	if st := b.Failover(); st.Failing || st.Recoveries != 1 || st.Active != "us-east-1" {
		t.Fatalf("after recovery: %+v", st)
	}
	if _, err := b.Logout(ctx, bob.SessionID); err != nil {
		t.Fatalf("bob logs out of the standby: %v", err)
	}
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") }, "primary settles after the outage")
	bob2, err := b.RequestSession(ctx, "bob")
	if err != nil || bob2.Region != "us-east-1" {
		t.Fatalf("bob after recovery: %+v %v", bob2, err)
	}
	e.advance(time.Hour) // bob's old standby desktop passes its power plan
	reconcileUntil(t, sb, func(r *PassReport) bool {
		return settled(r, "eng") && r.Pools["eng"].Running == 0
	}, "standby back to its baseline (nothing running)")
}
