package e2e

import (
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestCreateWorkspacesNamesAndUsersInOneRequest: one request's desktops are
// written together, yet a name taken before or earlier in the same request,
// and a user given two desktops in one request, are refused item by item,
// leaving nothing behind.
func TestCreateWorkspacesNamesAndUsersInOneRequest(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	e := setup(t, s)
	ctx := ctxT(t)
	before := e.create(t, ctx, 1, "taken") // named "taken0"
	named := func(name string) wstypes.WorkspaceRequest {
		return wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: aws.String(e.bundleID),
			WorkspaceName: aws.String(name), WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}}
	}
	user := func(name string) wstypes.WorkspaceRequest {
		return wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String(name), BundleId: aws.String(e.bundleID),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}}
	}
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{
		named("dup"), named("taken0"), named("dup"), named("fresh"), user("alice"), user("ALICE"), user("bob")}})
	if err != nil {
		t.Fatal(err)
	}
	var pending, failed []string
	for _, w := range out.PendingRequests {
		pending = append(pending, aws.ToString(w.WorkspaceName)+aws.ToString(w.UserName))
	}
	for _, f := range out.FailedRequests {
		if aws.ToString(f.ErrorCode) != "ResourceAlreadyExistsException" {
			t.Errorf("failed with %s: %s", aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage))
		}
		failed = append(failed, aws.ToString(f.WorkspaceRequest.WorkspaceName)+aws.ToString(f.WorkspaceRequest.UserName))
	}
	sort.Strings(pending)
	sort.Strings(failed)
	if want := "[alice bob dup[UNDEFINED] fresh[UNDEFINED]]"; fmt.Sprint(pending) != want {
		t.Fatalf("pending %v, want %s", pending, want)
	}
	if want := "[ALICE dup[UNDEFINED] taken0[UNDEFINED]]"; fmt.Sprint(failed) != want {
		t.Fatalf("failed %v, want %s", failed, want)
	}
	// Exactly the accepted desktops exist, each once.
	all, err := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(e.dirID)})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, w := range all.Workspaces {
		names[aws.ToString(w.WorkspaceName)+"/"+aws.ToString(w.UserName)]++
	}
	want := map[string]int{"taken0/[UNDEFINED]": 1, "dup/[UNDEFINED]": 1, "fresh/[UNDEFINED]": 1, "/alice": 1, "/bob": 1}
	if len(all.Workspaces) != len(before)+4 || fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("desktops %v, want %v", names, want)
	}
	// A freed name can be used again once its desktop is gone; a refused
	// one was never stored, so asking again is refused the same way.
	again, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{named("dup")}})
	if err != nil || len(again.FailedRequests) != 1 || len(again.PendingRequests) != 0 {
		t.Fatalf("dup again: %v %+v", err, again)
	}
}

// TestOneDesktopPerUserUntilTerminated: a directory user has one desktop;
// once it is terminating, the user may get a new one.
func TestOneDesktopPerUserUntilTerminated(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	e := setup(t, s)
	ctx := ctxT(t)
	req := func(user string) []wstypes.WorkspaceRequest {
		return []wstypes.WorkspaceRequest{{DirectoryId: aws.String(e.dirID), UserName: aws.String(user), BundleId: aws.String(e.bundleID),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}}}
	}
	first, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: req("carol")})
	if err != nil || len(first.PendingRequests) != 1 {
		t.Fatalf("first: %v %+v", err, first)
	}
	id := aws.ToString(first.PendingRequests[0].WorkspaceId)
	// Other users are free; carol is not, whatever the case.
	again, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: append(req("Carol"), req("dave")...)})
	if err != nil || len(again.FailedRequests) != 1 || aws.ToString(again.FailedRequests[0].ErrorCode) != "ResourceAlreadyExistsException" ||
		len(again.PendingRequests) != 1 || aws.ToString(again.PendingRequests[0].UserName) != "dave" {
		t.Fatalf("again: %v %+v", err, again)
	}
	if out, err := e.ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{{WorkspaceId: aws.String(id)}}}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("terminate: %v %+v", err, out)
	}
	after, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: req("carol")})
	if err != nil || len(after.PendingRequests) != 1 || aws.ToString(after.PendingRequests[0].WorkspaceId) == id {
		t.Fatalf("after terminating the first: %v %+v", err, after)
	}
}

// TestCreateWorkspacesRefusesUserDecoupledItemByItem: a request of
// user-decoupled desktops (checked before its transaction, from the
// committed directory and bundle) refuses each bad desktop with the code
// the model names and accepts and places the others.
func TestCreateWorkspacesRefusesUserDecoupledItemByItem(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	e := setup(t, s)
	ctx := ctxT(t)
	req := func(name string, edit func(*wstypes.WorkspaceRequest)) wstypes.WorkspaceRequest {
		r := wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: aws.String(e.bundleID),
			WorkspaceName: aws.String(name), WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}}
		if edit != nil {
			edit(&r)
		}
		return r
	}
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{
		req("ok-1", nil),
		req("no-bundle", func(r *wstypes.WorkspaceRequest) { r.BundleId = aws.String("wsb-000000000") }),
		req("no-dir", func(r *wstypes.WorkspaceRequest) { r.DirectoryId = aws.String("d-0000000000") }),
		req("", func(r *wstypes.WorkspaceRequest) { r.WorkspaceName = nil }),
		req("auto-stop", func(r *wstypes.WorkspaceRequest) { r.WorkspaceProperties.RunningMode = wstypes.RunningModeAutoStop }),
		req("volumes", func(r *wstypes.WorkspaceRequest) {
			r.WorkspaceProperties.RootVolumeSizeGib = aws.Int32(90)
			r.WorkspaceProperties.UserVolumeSizeGib = aws.Int32(10)
		}),
		req("ok-2", nil),
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range out.FailedRequests {
		got[aws.ToString(f.WorkspaceRequest.WorkspaceName)] = aws.ToString(f.ErrorCode)
	}
	want := map[string]string{"no-bundle": "ResourceNotFoundException", "no-dir": "ResourceNotFoundException", "": "InvalidParameterValuesException",
		"auto-stop": "OperationNotSupportedException", "volumes": "InvalidParameterValuesException"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("refused %v, want %v", got, want)
	}
	if len(out.PendingRequests) != 2 || aws.ToString(out.PendingRequests[0].WorkspaceName) != "ok-1" || aws.ToString(out.PendingRequests[1].WorkspaceName) != "ok-2" {
		t.Fatalf("pending %+v", out.PendingRequests)
	}
	// Once provisioned, each has a subnet and an address of its own.
	ids := []string{aws.ToString(out.PendingRequests[0].WorkspaceId), aws.ToString(out.PendingRequests[1].WorkspaceId)}
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	ips := map[string]bool{}
	for _, id := range ids {
		w := e.describe(t, id)
		if aws.ToString(w.SubnetId) == "" || aws.ToString(w.IpAddress) == "" || ips[aws.ToString(w.IpAddress)] {
			t.Fatalf("desktop %s placed at subnet %q address %q", id, aws.ToString(w.SubnetId), aws.ToString(w.IpAddress))
		}
		ips[aws.ToString(w.IpAddress)] = true
	}
}
