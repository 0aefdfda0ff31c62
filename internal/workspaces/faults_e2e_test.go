package workspaces_test

// Black-box tests of the injected faults (/_deskplane/faults) on running
// desktops and on every lifecycle and image operation, through
// aws-sdk-go-v2 against an in-process server on a virtual clock.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// faultEnv is a server on the instant profile and a virtual clock, with
// the corp directory registered.
type faultEnv struct {
	s      *testserver.Server
	ws     *workspaces.Client
	ctx    context.Context
	dir    string
	bundle string
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	s := start(t, testserver.VirtualClock())
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	e := &faultEnv{s: s, ws: ws, ctx: ctx}
	e.dir = registerDir(t, ctx, ws, wstypes.WorkspaceTypePersonal)
	e.bundle = publicBundle(t, ctx, ws)
	return e
}

// faults replaces the injected faults.
func (e *faultEnv) faults(t *testing.T, f map[string]any) {
	t.Helper()
	if _, err := e.s.AdminPost("/_deskplane/faults", f); err != nil {
		t.Fatalf("set faults %v: %v", f, err)
	}
}

// desktop creates user's AUTO_STOP desktop and waits until it is AVAILABLE.
func (e *faultEnv) desktop(t *testing.T, user string) string {
	t.Helper()
	out := must(e.ws.CreateWorkspaces(e.ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(e.dir), UserName: aws.String(user), BundleId: aws.String(e.bundle),
		// A day's timeout: the tests advance the clock by hours, and an
		// AUTO_STOP desktop stops after its timeout with no session.
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop,
			RunningModeAutoStopTimeoutInMinutes: aws.Int32(1440)}}}}))(t)
	if len(out.FailedRequests) > 0 {
		t.Fatalf("CreateWorkspaces: %s %s", aws.ToString(out.FailedRequests[0].ErrorCode), aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	id := aws.ToString(out.PendingRequests[0].WorkspaceId)
	waitDesktop(t, e.ctx, e.ws, id, wstypes.WorkspaceStateAvailable)
	return id
}

// state describes the desktop now.
func (e *faultEnv) state(t *testing.T, id string) wstypes.Workspace {
	t.Helper()
	d := must(e.ws.DescribeWorkspaces(e.ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}}))(t)
	if len(d.Workspaces) != 1 {
		t.Fatalf("desktop %s not described", id)
	}
	return d.Workspaces[0]
}

// failedCode returns the ErrorCode of the one FailedRequests entry (""
// when the request succeeded).
func failedCode(t *testing.T, failed []wstypes.FailedWorkspaceChangeRequest, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) == 0 {
		return ""
	}
	if len(failed) != 1 || aws.ToString(failed[0].ErrorMessage) == "" {
		t.Fatalf("failed requests %+v", failed)
	}
	return aws.ToString(failed[0].ErrorCode)
}

func (e *faultEnv) start(t *testing.T, id string) string {
	out, err := e.ws.StartWorkspaces(e.ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []wstypes.StartRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil {
		t.Fatal(err)
	}
	return failedCode(t, out.FailedRequests, nil)
}

func (e *faultEnv) stop(t *testing.T, id string) string {
	out, err := e.ws.StopWorkspaces(e.ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []wstypes.StopRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil {
		t.Fatal(err)
	}
	return failedCode(t, out.FailedRequests, nil)
}

func (e *faultEnv) reboot(t *testing.T, id string) string {
	out, err := e.ws.RebootWorkspaces(e.ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: []wstypes.RebootRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil {
		t.Fatal(err)
	}
	return failedCode(t, out.FailedRequests, nil)
}

func (e *faultEnv) rebuild(t *testing.T, id string) string {
	out, err := e.ws.RebuildWorkspaces(e.ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []wstypes.RebuildRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil {
		t.Fatal(err)
	}
	return failedCode(t, out.FailedRequests, nil)
}

// wantError waits for the desktop to land in ERROR with code.
func (e *faultEnv) wantError(t *testing.T, id, code string) {
	t.Helper()
	w := waitDesktop(t, e.ctx, e.ws, id, wstypes.WorkspaceStateError)
	if aws.ToString(w.ErrorCode) != code || !strings.Contains(aws.ToString(w.ErrorMessage), "fault injected") {
		t.Fatalf("desktop %s in ERROR with %q %q, want %s", id, aws.ToString(w.ErrorCode), aws.ToString(w.ErrorMessage), code)
	}
}

// TestFaultsMakeRunningDesktopsUnhealthyOrImpaired: by id, a running
// desktop turns UNHEALTHY or IMPAIRED as the faults are set; a reboot
// heals UNHEALTHY; IMPAIRED allows only stop (and terminate); by rate, the
// health check turns AVAILABLE desktops on the virtual clock, and stops
// once the rate is cleared.
func TestFaultsMakeRunningDesktopsUnhealthyOrImpaired(t *testing.T) {
	e := newFaultEnv(t)
	a, b := e.desktop(t, "alice"), e.desktop(t, "bob")
	e.faults(t, map[string]any{"unhealthy_workspaces": []string{a}, "impaired_workspaces": []string{b}})
	if st := e.state(t, a).State; st != wstypes.WorkspaceStateUnhealthy {
		t.Fatalf("alice's desktop %s after the fault, want UNHEALTHY", st)
	}
	if st := e.state(t, b).State; st != wstypes.WorkspaceStateImpaired {
		t.Fatalf("bob's desktop %s after the fault, want IMPAIRED", st)
	}
	// A reboot heals UNHEALTHY (the fault applies when set, not again).
	if code := e.reboot(t, a); code != "" {
		t.Fatalf("reboot of an UNHEALTHY desktop: %s", code)
	}
	waitDesktop(t, e.ctx, e.ws, a, wstypes.WorkspaceStateAvailable)
	// IMPAIRED: reboot, rebuild and restore are refused; stop is allowed.
	e.s.Advance(2 * time.Hour) // snapshots exist: only the state refuses
	if code := e.reboot(t, b); code != "InvalidResourceStateException" {
		t.Fatalf("reboot of an IMPAIRED desktop: %q", code)
	}
	if code := e.rebuild(t, b); code != "InvalidResourceStateException" {
		t.Fatalf("rebuild of an IMPAIRED desktop: %q", code)
	}
	_, err := e.ws.RestoreWorkspace(e.ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(b)})
	wantCode(t, err, "OperationNotSupportedException")
	if code := e.stop(t, b); code != "" {
		t.Fatalf("stop of an IMPAIRED desktop: %s", code)
	}
	waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateStopped)
	if code := e.start(t, b); code != "" {
		t.Fatalf("start after the stop: %s", code)
	}
	waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateAvailable)

	// By rate: every AVAILABLE desktop turns at the next health check (10
	// minutes of the clock), not before.
	e.faults(t, map[string]any{"running_impaired_rate": 1.0, "health_check_minutes": 10, "seed": 3})
	e.s.Advance(9 * time.Minute)
	if st := e.state(t, a).State; st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("before the health check: %s", st)
	}
	e.s.Advance(time.Minute)
	waitDesktop(t, e.ctx, e.ws, a, wstypes.WorkspaceStateImpaired)
	waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateImpaired)
	e.faults(t, map[string]any{"running_unhealthy_rate": 1.0, "health_check_minutes": 10})
	for _, id := range []string{a, b} {
		if code := e.stop(t, id); code != "" {
			t.Fatalf("stop: %s", code)
		}
		waitDesktop(t, e.ctx, e.ws, id, wstypes.WorkspaceStateStopped)
		if code := e.start(t, id); code != "" {
			t.Fatalf("start: %s", code)
		}
		waitDesktop(t, e.ctx, e.ws, id, wstypes.WorkspaceStateAvailable)
	}
	e.s.Advance(10 * time.Minute)
	waitDesktop(t, e.ctx, e.ws, a, wstypes.WorkspaceStateUnhealthy)
	// Cleared: the checks stop, a healed desktop stays AVAILABLE.
	e.faults(t, map[string]any{})
	if code := e.reboot(t, a); code != "" {
		t.Fatalf("reboot: %s", code)
	}
	waitDesktop(t, e.ctx, e.ws, a, wstypes.WorkspaceStateAvailable)
	e.s.Advance(time.Hour)
	if st := e.state(t, a).State; st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("after the rate was cleared: %s", st)
	}
}

// TestFaultsFailDesktopOperations: Start, Stop, Reboot, Rebuild, Restore
// and Migrate fail by id or by rate, in the call (FailedRequests or the
// modeled exception) or afterwards (ERROR with the code, or back in the
// previous state).
func TestFaultsFailDesktopOperations(t *testing.T) {
	e := newFaultEnv(t)
	a, b, c := e.desktop(t, "alice"), e.desktop(t, "bob"), e.desktop(t, "carol")
	e.s.Advance(2 * time.Hour) // the first snapshots (rebuild, restore, migrate)
	op := func(name string, fault map[string]any) map[string]any {
		return map[string]any{"operation_faults": map[string]any{name: fault}}
	}

	// Stop, by id, in the call; then by rate to ERROR.
	e.faults(t, op("StopWorkspaces", map[string]any{"ids": []string{a}, "outcome": "request"}))
	if code := e.stop(t, a); code != "ResourceUnavailableException" {
		t.Fatalf("stop with a request fault: %q", code)
	}
	if code := e.stop(t, b); code != "" {
		t.Fatalf("stop of a desktop the fault does not name: %s", code)
	}
	waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateStopped)
	if st := e.state(t, a).State; st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("after a refused stop: %s", st)
	}
	e.faults(t, op("StopWorkspaces", map[string]any{"rate": 1.0}))
	if code := e.stop(t, a); code != "" {
		t.Fatalf("stop with an async fault: %s", code)
	}
	e.wantError(t, a, "StopFailure")
	e.faults(t, op("StopWorkspaces", map[string]any{"ids": []string{a}, "outcome": "revert", "error_code": "Custom.Code"}))
	e.stop(t, a) // ERROR allows a stop: it fails back to ERROR
	e.wantError(t, a, "Custom.Code")
	e.faults(t, map[string]any{})
	e.stop(t, a)
	waitDesktop(t, e.ctx, e.ws, a, wstypes.WorkspaceStateStopped)

	// Start: in the call, to ERROR (a failure during startup), back to STOPPED.
	e.faults(t, op("StartWorkspaces", map[string]any{"ids": []string{a}, "outcome": "request", "error_code": "InsufficientCapacity"}))
	if code := e.start(t, a); code != "InsufficientCapacity" {
		t.Fatalf("start with a request fault: %q", code)
	}
	e.faults(t, op("StartWorkspaces", map[string]any{"ids": []string{b}, "outcome": "revert"}))
	if code := e.start(t, b); code != "" {
		t.Fatalf("start: %s", code)
	}
	w := waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateStopped)
	if aws.ToString(w.ErrorCode) != "StartFailure" {
		t.Fatalf("reverted start without its reason: %+v", w)
	}
	e.faults(t, op("StartWorkspaces", map[string]any{"rate": 1.0}))
	e.start(t, a)
	e.wantError(t, a, "StartFailure")
	e.faults(t, map[string]any{})
	e.start(t, b)
	waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateAvailable)

	// Reboot: a reboot that does not heal leaves the desktop UNHEALTHY;
	// one that fails, ERROR; in the call, FailedRequests.
	e.faults(t, map[string]any{"unhealthy_workspaces": []string{b},
		"operation_faults": map[string]any{"RebootWorkspaces": map[string]any{"ids": []string{b}, "outcome": "revert"}}})
	e.reboot(t, b)
	waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateUnhealthy)
	e.faults(t, op("RebootWorkspaces", map[string]any{"ids": []string{b}, "outcome": "request"}))
	if code := e.reboot(t, b); code != "ResourceUnavailableException" {
		t.Fatalf("reboot with a request fault: %q", code)
	}
	e.faults(t, op("RebootWorkspaces", map[string]any{"ids": []string{b}}))
	e.reboot(t, b)
	e.wantError(t, b, "RebootFailure")

	// Rebuild (from ERROR): in the call, then to ERROR, then healed.
	e.faults(t, op("RebuildWorkspaces", map[string]any{"ids": []string{b}, "outcome": "request"}))
	if code := e.rebuild(t, b); code != "ResourceUnavailableException" {
		t.Fatalf("rebuild with a request fault: %q", code)
	}
	before := e.state(t, b)
	e.faults(t, op("RebuildWorkspaces", map[string]any{"rate": 1.0}))
	e.rebuild(t, b)
	e.wantError(t, b, "RebuildFailure")
	if after := e.state(t, b); aws.ToString(after.IpAddress) != aws.ToString(before.IpAddress) {
		t.Fatalf("a failed rebuild gave the desktop a new address: %s -> %s", aws.ToString(before.IpAddress), aws.ToString(after.IpAddress))
	}
	e.faults(t, map[string]any{})
	e.rebuild(t, b)
	waitDesktop(t, e.ctx, e.ws, b, wstypes.WorkspaceStateAvailable)

	// Restore: the modeled exception, then ERROR, then back to AVAILABLE.
	e.faults(t, op("RestoreWorkspace", map[string]any{"ids": []string{c}, "outcome": "request"}))
	_, err := e.ws.RestoreWorkspace(e.ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(c)})
	wantCode(t, err, "OperationNotSupportedException")
	e.faults(t, op("RestoreWorkspace", map[string]any{"ids": []string{c}, "outcome": "revert"}))
	must(e.ws.RestoreWorkspace(e.ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(c)}))(t)
	waitDesktop(t, e.ctx, e.ws, c, wstypes.WorkspaceStateAvailable)
	e.faults(t, op("RestoreWorkspace", map[string]any{"rate": 1.0}))
	must(e.ws.RestoreWorkspace(e.ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(c)}))(t)
	e.wantError(t, c, "RestoreFailure")

	// Migrate (from ERROR): the modeled exception; then the target fails
	// and the source is kept.
	target := otherPublicBundle(t, e.ctx, e.ws, e.bundle)
	e.faults(t, op("MigrateWorkspace", map[string]any{"ids": []string{c}, "outcome": "request"}))
	_, err = e.ws.MigrateWorkspace(e.ctx, &workspaces.MigrateWorkspaceInput{SourceWorkspaceId: aws.String(c), BundleId: aws.String(target)})
	wantCode(t, err, "ResourceUnavailableException")
	e.faults(t, op("MigrateWorkspace", map[string]any{"ids": []string{c}}))
	mig := must(e.ws.MigrateWorkspace(e.ctx, &workspaces.MigrateWorkspaceInput{SourceWorkspaceId: aws.String(c), BundleId: aws.String(target)}))(t)
	// The target's id is not used: it is terminated at once, with the
	// reason, and then gone; the source keeps its id, bundle and state.
	tw := waitDesktop(t, e.ctx, e.ws, aws.ToString(mig.TargetWorkspaceId), wstypes.WorkspaceStateTerminated)
	if aws.ToString(tw.ErrorCode) != "MigrationFailure" || !strings.Contains(aws.ToString(tw.ErrorMessage), "fault injected") {
		t.Fatalf("the target of a failed migration: %s %q %q", tw.State, aws.ToString(tw.ErrorCode), aws.ToString(tw.ErrorMessage))
	}
	if src := e.state(t, c); src.State != wstypes.WorkspaceStateError || aws.ToString(src.BundleId) != e.bundle {
		t.Fatalf("the source of a failed migration: %s %s", src.State, aws.ToString(src.BundleId))
	}
	e.s.Advance(time.Hour)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := e.ws.DescribeWorkspaces(e.ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{aws.ToString(mig.TargetWorkspaceId)}})
		return err == nil && len(d.Workspaces) == 0
	}, "the target of a failed migration is still listed")
	// The source can be migrated again.
	e.faults(t, map[string]any{})
	again := must(e.ws.MigrateWorkspace(e.ctx, &workspaces.MigrateWorkspaceInput{SourceWorkspaceId: aws.String(c), BundleId: aws.String(target)}))(t)
	waitDesktop(t, e.ctx, e.ws, aws.ToString(again.TargetWorkspaceId), wstypes.WorkspaceStateAvailable)
	// Not every operation is a fault target, and outcomes are per operation.
	for _, bad := range []map[string]any{
		op("TerminateWorkspaces", map[string]any{"rate": 1.0}),
		op("MigrateWorkspace", map[string]any{"outcome": "revert"}),
		op("RestoreWorkspace", map[string]any{"outcome": "request", "error_code": "ResourceUnavailableException"}),
		op("StartWorkspaces", map[string]any{"rate": 2.0}),
		{"running_unhealthy_rate": -1},
	} {
		if _, err := e.s.AdminPost("/_deskplane/faults", bad); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("faults %v accepted: %v", bad, err)
		}
	}
}

// otherPublicBundle returns a public bundle other than not, of the same
// protocol family (a Performance one).
func otherPublicBundle(t *testing.T, ctx context.Context, ws *workspaces.Client, not string) string {
	t.Helper()
	var token *string
	for {
		out := must(ws.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{Owner: aws.String("AMAZON"), NextToken: token}))(t)
		for _, b := range out.Bundles {
			if b.ComputeType != nil && b.ComputeType.Name == wstypes.ComputePerformance && aws.ToString(b.BundleId) != not &&
				strings.HasSuffix(aws.ToString(b.Name), "with Windows 10 (Server 2022 based)") {
				return aws.ToString(b.BundleId)
			}
		}
		if token = out.NextToken; token == nil {
			t.Fatal("no other public bundle")
		}
	}
}

// TestFaultsFailImageOperations: CreateWorkspaceImage, CopyWorkspaceImage,
// ImportWorkspaceImage and CreateUpdatedWorkspaceImage fail in the call with
// a modeled exception, or leave the image in ERROR with ErrorCode and
// ErrorMessage (an import also with ErrorDetails).
func TestFaultsFailImageOperations(t *testing.T) {
	e := newFaultEnv(t)
	a := e.desktop(t, "alice")
	op := func(name string, fault map[string]any) map[string]any {
		return map[string]any{"operation_faults": map[string]any{name: fault}}
	}
	create := func(name string) (*workspaces.CreateWorkspaceImageOutput, error) {
		return e.ws.CreateWorkspaceImage(e.ctx, &workspaces.CreateWorkspaceImageInput{Name: aws.String(name), Description: aws.String(name), WorkspaceId: aws.String(a)})
	}
	image := func(id string) wstypes.WorkspaceImage {
		t.Helper()
		var img wstypes.WorkspaceImage
		testserver.Eventually(t, 30*time.Second, func() bool {
			out, err := e.ws.DescribeWorkspaceImages(e.ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{id}})
			if err != nil || len(out.Images) != 1 {
				return false
			}
			img = out.Images[0]
			return img.State != wstypes.WorkspaceImageStatePending
		}, "image %s stays PENDING", id)
		return img
	}
	wantImageError := func(id, code string) wstypes.WorkspaceImage {
		t.Helper()
		img := image(id)
		if img.State != wstypes.WorkspaceImageStateError || aws.ToString(img.ErrorCode) != code || !strings.Contains(aws.ToString(img.ErrorMessage), "fault injected") {
			t.Fatalf("image %s: %s %q %q, want ERROR with %s", id, img.State, aws.ToString(img.ErrorCode), aws.ToString(img.ErrorMessage), code)
		}
		return img
	}

	// CreateWorkspaceImage, by the source desktop's id.
	e.faults(t, op("CreateWorkspaceImage", map[string]any{"ids": []string{a}, "outcome": "request", "error_code": "InvalidResourceStateException"}))
	_, err := create("img-refused")
	wantCode(t, err, "InvalidResourceStateException")
	e.faults(t, op("CreateWorkspaceImage", map[string]any{"ids": []string{a}}))
	failed := must(create("img-failed"))(t)
	wantImageError(aws.ToString(failed.ImageId), "ImageCreationFailure")
	waitDesktop(t, e.ctx, e.ws, a, wstypes.WorkspaceStateAvailable) // back from SUSPENDED
	e.faults(t, map[string]any{})
	good := aws.ToString(must(create("img-good"))(t).ImageId)
	if img := image(good); img.State != wstypes.WorkspaceImageStateAvailable {
		t.Fatalf("image without a fault: %s", img.State)
	}

	// CopyWorkspaceImage, by rate.
	copyImg := func(name string) (*workspaces.CopyWorkspaceImageOutput, error) {
		return e.ws.CopyWorkspaceImage(e.ctx, &workspaces.CopyWorkspaceImageInput{Name: aws.String(name), SourceImageId: aws.String(good), SourceRegion: aws.String("us-east-1")})
	}
	e.faults(t, op("CopyWorkspaceImage", map[string]any{"rate": 1.0, "outcome": "request"}))
	_, err = copyImg("copy-refused")
	wantCode(t, err, "ResourceUnavailableException")
	e.faults(t, op("CopyWorkspaceImage", map[string]any{"rate": 1.0}))
	wantImageError(aws.ToString(must(copyImg("copy-failed"))(t).ImageId), "ImageCopyFailure")

	// CreateUpdatedWorkspaceImage: in the call only.
	e.faults(t, op("CreateUpdatedWorkspaceImage", map[string]any{"ids": []string{good}}))
	_, err = e.ws.CreateUpdatedWorkspaceImage(e.ctx, &workspaces.CreateUpdatedWorkspaceImageInput{Name: aws.String("upd"), Description: aws.String("upd"), SourceImageId: aws.String(good)})
	wantCode(t, err, "OperationNotSupportedException")
	if !strings.Contains(err.Error(), "fault injected") {
		t.Fatalf("not the injected failure: %v", err)
	}

	// ImportWorkspaceImage, by the EC2 image's id.
	enableBYOL(t, e.ctx, e.ws)
	ami := win10AMI(t, e.ctx, e.s)
	imp := func(name string) (*workspaces.ImportWorkspaceImageOutput, error) {
		return e.ws.ImportWorkspaceImage(e.ctx, &workspaces.ImportWorkspaceImageInput{Ec2ImageId: aws.String(ami), ImageName: aws.String(name),
			ImageDescription: aws.String(name), IngestionProcess: wstypes.WorkspaceImageIngestionProcessByolRegularByop})
	}
	e.faults(t, op("ImportWorkspaceImage", map[string]any{"ids": []string{ami}, "outcome": "request"}))
	_, err = imp("imp-refused")
	wantCode(t, err, "OperationNotSupportedException")
	e.faults(t, op("ImportWorkspaceImage", map[string]any{"ids": []string{ami}}))
	img := wantImageError(aws.ToString(must(imp("imp-failed"))(t).ImageId), "UnknownError")
	if len(img.ErrorDetails) != 1 || img.ErrorDetails[0].ErrorCode != wstypes.WorkspaceImageErrorDetailCodeUnknownError {
		t.Fatalf("import error details %+v", img.ErrorDetails)
	}
	e.faults(t, map[string]any{})
	if img := image(aws.ToString(must(imp("imp-good"))(t).ImageId)); img.State != wstypes.WorkspaceImageStateAvailable {
		t.Fatalf("import without a fault: %s", img.State)
	}
}
