package workspaces_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// autoStopDesktop creates an AUTO_STOP desktop with a 60-minute timeout
// and waits until it is AVAILABLE.
func autoStopDesktop(t *testing.T, ctx context.Context, s *testserver.Server) (*workspaces.Client, string) {
	t.Helper()
	ws := workspaces.NewFromConfig(s.Admin())
	dir := registerDir(t, ctx, ws, wstypes.WorkspaceTypePersonal)
	out := must(ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(dir), UserName: aws.String("alice"), BundleId: aws.String(publicBundle(t, ctx, ws)),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop, RunningModeAutoStopTimeoutInMinutes: aws.Int32(60)}}}}))(t)
	if len(out.FailedRequests) > 0 {
		t.Fatalf("CreateWorkspaces: %s", aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	id := aws.ToString(out.PendingRequests[0].WorkspaceId)
	waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateAvailable)
	return ws, id
}

func describeState(t *testing.T, ctx context.Context, ws *workspaces.Client, id string) wstypes.WorkspaceState {
	t.Helper()
	d := must(ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}}))(t)
	if len(d.Workspaces) != 1 {
		t.Fatalf("no desktop %s", id)
	}
	return d.Workspaces[0].State
}

// TestAutoStopWithoutRuntime: with --runtime none no session is ever
// observed, so an AUTO_STOP desktop stops RunningModeAutoStopTimeoutInMinutes
// after its last start (virtual clock).
func TestAutoStopWithoutRuntime(t *testing.T) {
	s := start(t, testserver.VirtualClock())
	ctx := ctxT(t)
	ws, id := autoStopDesktop(t, ctx, s)
	s.Advance(59 * time.Minute)
	if st := describeState(t, ctx, ws, id); st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("after 59 of 60 minutes: %s", st)
	}
	s.Advance(2 * time.Minute)
	waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateStopped)
	// The timer runs from the last start.
	if out := must(ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []wstypes.StartRequest{{WorkspaceId: aws.String(id)}}}))(t); len(out.FailedRequests) > 0 {
		t.Fatalf("start: %s", aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateAvailable)
	s.Advance(59 * time.Minute)
	if st := describeState(t, ctx, ws, id); st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("59 minutes after the start: %s", st)
	}
	s.Advance(2 * time.Minute)
	waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateStopped)
}

// TestAutoStopWithoutRuntimeFastFloor: the fast profile scales the
// 60-minute timeout to 10 s; without a runtime the desktop still runs at
// least as long as a MANUAL one's scaled auto-stop (8 minutes).
func TestAutoStopWithoutRuntimeFastFloor(t *testing.T) {
	s := start(t, testserver.Timing("fast"), testserver.VirtualClock())
	ctx := ctxT(t)
	ws, id := autoStopDesktop(t, ctx, s)
	s.Advance(5 * time.Minute)
	if st := describeState(t, ctx, ws, id); st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("5 minutes after the start under fast: %s", st)
	}
	s.Advance(4 * time.Minute)
	waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateStopped)
}
