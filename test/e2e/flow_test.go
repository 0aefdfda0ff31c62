// Package e2e holds black-box tests that start a real deskplane server and
// drive it with the unmodified aws-sdk-go-v2 clients.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// env is a customer account prepared as the partner guide's setup leaves it.
type env struct {
	s        *testserver.Server
	ws       *workspaces.Client
	ec2      *ec2.Client
	dirID    string
	imageID  string
	bundleID string
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// setup runs the guide's infrastructure steps: BYOL with a listed range,
// import a BYOL_REGULAR_BYOP image, register the directory DEDICATED and
// create a bundle.
func setup(t testing.TB, s *testserver.Server) *env {
	t.Helper()
	var nudge func()
	if s.Opts.Timing == "realistic" && s.Opts.Clock == "virtual" {
		// The setup's steps take the real service's minutes: move the
		// virtual clock on while waiting for them.
		nudge = func() { s.Advance(time.Hour) }
	}
	e := setupAt(t, s.URL, nudge)
	e.s = s
	return e
}

// setupAt runs the setup against any endpoint with the default admin keys;
// nudge, when not nil, runs before each poll of a step's progress.
func setupAt(t testing.TB, url string, nudge ...func()) *env {
	t.Helper()
	poll := func() {
		for _, f := range nudge {
			if f != nil {
				f()
			}
		}
	}
	ctx := ctxT(t)
	cfg := testserver.ConfigFor(url, config.AdminKeyID, config.AdminSecret, "")
	e := &env{ws: workspaces.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg)}
	mods, err := e.ws.DescribeAccountModifications(ctx, &workspaces.DescribeAccountModificationsInput{})
	if err != nil {
		t.Fatalf("DescribeAccountModifications: %v", err)
	}
	if len(mods.AccountModifications) != 0 {
		t.Fatalf("fresh account has modifications: %+v", mods.AccountModifications)
	}
	ranges, err := e.ws.ListAvailableManagementCidrRanges(ctx, &workspaces.ListAvailableManagementCidrRangesInput{
		ManagementCidrRangeConstraint: aws.String("192.168.0.0/16")})
	if err != nil {
		t.Fatalf("ListAvailableManagementCidrRanges: %v", err)
	}
	if len(ranges.ManagementCidrRanges) != 1 || ranges.ManagementCidrRanges[0] != "192.168.0.0/16" {
		t.Fatalf("ranges = %v", ranges.ManagementCidrRanges)
	}
	if _, err := e.ws.ModifyAccount(ctx, &workspaces.ModifyAccountInput{
		DedicatedTenancySupport:             wstypes.DedicatedTenancySupportEnumEnabled,
		DedicatedTenancyManagementCidrRange: aws.String(ranges.ManagementCidrRanges[0])}); err != nil {
		t.Fatalf("ModifyAccount: %v", err)
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		poll()
		a, err := e.ws.DescribeAccount(ctx, &workspaces.DescribeAccountInput{})
		return err == nil && a.DedicatedTenancySupport == wstypes.DedicatedTenancySupportResultEnumEnabled
	}, "account BYOL never ENABLED")
	// The range the account took is no longer available.
	if r, err := e.ws.ListAvailableManagementCidrRanges(ctx, &workspaces.ListAvailableManagementCidrRangesInput{
		ManagementCidrRangeConstraint: aws.String("192.168.0.0/16")}); err != nil || len(r.ManagementCidrRanges) != 0 {
		t.Fatalf("ranges after ModifyAccount: %v %v", r, err)
	}
	imgs, err := e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"win10-*"}}}})
	if err != nil || len(imgs.Images) != 1 {
		t.Fatalf("DescribeImages: %v %d", err, len(imgs.Images))
	}
	imp, err := e.ws.ImportWorkspaceImage(ctx, &workspaces.ImportWorkspaceImageInput{
		Ec2ImageId: imgs.Images[0].ImageId, IngestionProcess: wstypes.WorkspaceImageIngestionProcessByolRegularByop,
		ImageName: aws.String("win10-ent-img01"), ImageDescription: aws.String("Windows 10 Enterprise")})
	if err != nil {
		t.Fatalf("ImportWorkspaceImage: %v", err)
	}
	e.imageID = *imp.ImageId
	testserver.Eventually(t, 30*time.Second, func() bool {
		poll()
		d, err := e.ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{e.imageID}})
		return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
	}, "image never AVAILABLE")
	dirs, err := e.ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
	if err != nil || len(dirs.Directories) == 0 {
		t.Fatalf("DescribeWorkspaceDirectories: %v", err)
	}
	e.dirID = *dirs.Directories[0].DirectoryId
	if _, err := e.ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{
		DirectoryId: aws.String(e.dirID), Tenancy: wstypes.TenancyDedicated}); err != nil {
		t.Fatalf("RegisterWorkspaceDirectory: %v", err)
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		poll()
		d, err := e.ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}})
		return err == nil && len(d.Directories) == 1 && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
	}, "directory never REGISTERED")
	b, err := e.ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{
		BundleName: aws.String("byop-standard"), BundleDescription: aws.String("BYOP standard"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeStandard}, ImageId: aws.String(e.imageID),
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("80")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("50")}})
	if err != nil {
		t.Fatalf("CreateWorkspaceBundle: %v", err)
	}
	e.bundleID = *b.WorkspaceBundle.BundleId
	return e
}

// create makes n user-decoupled MANUAL desktops in batches of 25.
func (e *env) create(t testing.TB, ctx context.Context, n int, prefix string) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i += 25 {
		var reqs []wstypes.WorkspaceRequest
		for j := i; j < i+25 && j < n; j++ {
			reqs = append(reqs, wstypes.WorkspaceRequest{
				DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: aws.String(e.bundleID),
				WorkspaceName:       aws.String(fmt.Sprintf("%s%d", prefix, j)),
				WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual},
				Tags:                []wstypes.Tag{{Key: aws.String("PartnerManaged"), Value: aws.String("true")}},
			})
		}
		out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
		if err != nil {
			t.Fatalf("CreateWorkspaces: %v", err)
		}
		if len(out.FailedRequests) > 0 {
			t.Fatalf("CreateWorkspaces failed: %s %s", aws.ToString(out.FailedRequests[0].ErrorCode), aws.ToString(out.FailedRequests[0].ErrorMessage))
		}
		for _, w := range out.PendingRequests {
			if w.State != wstypes.WorkspaceStatePending {
				t.Fatalf("new desktop state %s", w.State)
			}
			ids = append(ids, *w.WorkspaceId)
		}
	}
	return ids
}

func (e *env) states(t testing.TB, ctx context.Context, ids []string) map[string]wstypes.WorkspaceState {
	t.Helper()
	out := map[string]wstypes.WorkspaceState{}
	for i := 0; i < len(ids); i += 25 {
		end := min(i+25, len(ids))
		d, err := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: ids[i:end]})
		if err != nil {
			t.Fatalf("DescribeWorkspaces: %v", err)
		}
		for _, w := range d.Workspaces {
			out[*w.WorkspaceId] = w.State
		}
	}
	return out
}

// stop stops the desktops, failing the test if the call or any of them fails.
func (e *env) stop(t testing.TB, ctx context.Context, ids ...string) {
	t.Helper()
	reqs := make([]wstypes.StopRequest, len(ids))
	for i, id := range ids {
		reqs[i] = wstypes.StopRequest{WorkspaceId: aws.String(id)}
	}
	if out, err := e.ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: reqs}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("stop: %v %+v", err, out)
	}
}

// start starts the desktops, failing the test if the call or any of them fails.
func (e *env) start(t testing.TB, ctx context.Context, ids ...string) {
	t.Helper()
	reqs := make([]wstypes.StartRequest, len(ids))
	for i, id := range ids {
		reqs[i] = wstypes.StartRequest{WorkspaceId: aws.String(id)}
	}
	if out, err := e.ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: reqs}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("start: %v %+v", err, out)
	}
}

func (e *env) waitAll(t testing.TB, ctx context.Context, ids []string, want wstypes.WorkspaceState) {
	t.Helper()
	testserver.Eventually(t, 60*time.Second, func() bool {
		st := e.states(t, ctx, ids)
		for _, id := range ids {
			if st[id] != want {
				return false
			}
		}
		return true
	}, "desktops never all %s", want)
}

func TestPartnerGuideFlow(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	e := setup(t, s)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 50, "desk")
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)

	// Stop and start: STOPPING -> STOPPED -> STARTING -> AVAILABLE.
	var stops []wstypes.StopRequest
	for _, id := range ids[:25] {
		stops = append(stops, wstypes.StopRequest{WorkspaceId: aws.String(id)})
	}
	st, err := e.ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: stops})
	if err != nil || len(st.FailedRequests) != 0 {
		t.Fatalf("StopWorkspaces: %v %+v", err, st)
	}
	e.waitAll(t, ctx, ids[:25], wstypes.WorkspaceStateStopped)
	// Stopping a stopped desktop fails in FailedRequests with the state error.
	st, err = e.ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: stops[:1]})
	if err != nil || len(st.FailedRequests) != 1 || aws.ToString(st.FailedRequests[0].ErrorCode) != "InvalidResourceStateException" {
		t.Fatalf("second stop: %v %+v", err, st)
	}
	var starts []wstypes.StartRequest
	for _, id := range ids[:25] {
		starts = append(starts, wstypes.StartRequest{WorkspaceId: aws.String(id)})
	}
	if out, err := e.ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: starts}); err != nil || len(out.FailedRequests) != 0 {
		t.Fatalf("StartWorkspaces: %v %+v", err, out)
	}
	e.waitAll(t, ctx, ids[:25], wstypes.WorkspaceStateAvailable)

	// Reboot.
	if out, err := e.ws.RebootWorkspaces(ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: []wstypes.RebootRequest{{WorkspaceId: aws.String(ids[0])}}}); err != nil || len(out.FailedRequests) != 0 {
		t.Fatalf("RebootWorkspaces: %v %+v", err, out)
	}
	e.waitAll(t, ctx, ids[:1], wstypes.WorkspaceStateAvailable)

	// Modify running mode and state.
	if _, err := e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(ids[1]),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAlwaysOn}}); err != nil {
		t.Fatalf("ModifyWorkspaceProperties: %v", err)
	}
	_, err = e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(ids[1]),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop}})
	if apiCode(err) != "UnsupportedWorkspaceConfigurationException" {
		t.Fatalf("AUTO_STOP on BYOP: %v", err)
	}
	if _, err := e.ws.ModifyWorkspaceState(ctx, &workspaces.ModifyWorkspaceStateInput{WorkspaceId: aws.String(ids[2]), WorkspaceState: wstypes.TargetWorkspaceStateAdminMaintenance}); err != nil {
		t.Fatalf("ModifyWorkspaceState: %v", err)
	}
	if got := e.states(t, ctx, ids[2:3])[ids[2]]; got != wstypes.WorkspaceStateAdminMaintenance {
		t.Fatalf("state after ModifyWorkspaceState = %s", got)
	}
	if out, _ := e.ws.RebootWorkspaces(ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: []wstypes.RebootRequest{{WorkspaceId: aws.String(ids[2])}}}); len(out.FailedRequests) != 1 {
		t.Fatalf("reboot in ADMIN_MAINTENANCE should fail: %+v", out)
	}
	if _, err := e.ws.ModifyWorkspaceState(ctx, &workspaces.ModifyWorkspaceStateInput{WorkspaceId: aws.String(ids[2]), WorkspaceState: wstypes.TargetWorkspaceStateAvailable}); err != nil {
		t.Fatalf("ModifyWorkspaceState back: %v", err)
	}

	// Terminate all; they go TERMINATING -> TERMINATED.
	for i := 0; i < len(ids); i += 25 {
		var reqs []wstypes.TerminateRequest
		for _, id := range ids[i:min(i+25, len(ids))] {
			reqs = append(reqs, wstypes.TerminateRequest{WorkspaceId: aws.String(id)})
		}
		if out, err := e.ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: reqs}); err != nil || len(out.FailedRequests) != 0 {
			t.Fatalf("TerminateWorkspaces: %v %+v", err, out)
		}
	}
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateTerminated)
	// The directory can now be deregistered.
	if _, err := e.ws.DeregisterWorkspaceDirectory(ctx, &workspaces.DeregisterWorkspaceDirectoryInput{DirectoryId: aws.String(e.dirID)}); err != nil {
		t.Fatalf("DeregisterWorkspaceDirectory: %v", err)
	}
}
