package broker

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// TestCrashBetweenCreateAndRecord replays the dangerous window
// deterministically: the intent is recorded and CreateWorkspaces succeeds,
// but the broker "dies" before recording the answer. The next pass must
// adopt the desktop by name instead of creating another; an intent whose
// call never happened is re-sent under the same name once a minute old.
func TestCrashBetweenCreateAndRecord(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 5, 1)
	e.cfg.Pools = []Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 3, Max: 3, Warm: 0}}
	e.cfg.Policies = e.cfg.Policies[:1]
	b := e.broker()
	ctx := context.Background()
	if err := b.resolveLocked(ctx); err != nil {
		t.Fatal(err)
	}
	names, err := b.Store().NextNames(ctx, "eng", 3, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Two of the three calls reached the service; the third never left.
	var reqs []types.WorkspaceRequest
	for _, n := range names[:2] {
		reqs = append(reqs, types.WorkspaceRequest{DirectoryId: aws.String(b.dirID["eng"]), BundleId: aws.String(b.bundleID["eng"]),
			UserName: aws.String("[UNDEFINED]"), WorkspaceName: aws.String(n), Tags: partnerTags(),
			WorkspaceProperties: &types.WorkspaceProperties{RunningMode: types.RunningModeManual}})
	}
	if _, err := e.c.WorkSpaces.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs}); err != nil {
		t.Fatal(err)
	}
	// A restarted broker on the same store.
	b.Close()
	b = e.broker()
	rep, err := b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Pools["eng"]; p.Requested != 0 || len(p.Resent) != 0 || p.Desktops != 2 || p.Pending != 1 {
		t.Fatalf("first pass after the crash: %+v", p)
	}
	// The unsent intent is re-sent (same name) after a minute.
	e.advance(2 * time.Minute)
	rep = reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") }, "settle")
	if got := e.serverDesktops("eng"); len(got) != 3 || got[names[2]] == "" {
		t.Fatalf("server desktops %v, want %v", got, names)
	}
}
