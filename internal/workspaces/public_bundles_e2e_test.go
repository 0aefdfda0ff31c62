package workspaces_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// TestCoreBundlesLaunchManualDesktopsWithoutAnImport: Amazon's public
// WorkSpaces Core bundles (Windows Server, license included, bring your own
// protocol) are listed with Owner AMAZON, and a BYOP partner launches a
// user-decoupled MANUAL desktop from one on a shared-tenancy directory
// without importing an image or enabling BYOL; AUTO_STOP is refused, as
// for every BYOP desktop, and MANUAL from a PCoIP bundle too.
func TestCoreBundlesLaunchManualDesktopsWithoutAnImport(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	dir := registerDir(t, ctx, ws, wstypes.WorkspaceTypePersonal)
	byName := map[string]wstypes.WorkspaceBundle{}
	var token *string
	for {
		out := must(ws.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{Owner: aws.String("AMAZON"), NextToken: token}))(t)
		for _, b := range out.Bundles {
			byName[aws.ToString(b.Name)] = b
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	for _, n := range []string{"Value with Windows Server 2019 (BYOP)", "Standard with Windows Server 2022 (BYOP)", "PowerPro with Windows Server 2022 (BYOP)",
		"Graphics.g4dn with Windows Server 2022 (BYOP)", "GraphicsPro.g4dn with Windows Server 2019 (BYOP)"} {
		if b, ok := byName[n]; !ok || aws.ToString(b.Owner) != "AMAZON" || b.State != wstypes.WorkspaceBundleStateAvailable {
			t.Fatalf("public Core bundle %q: %+v", n, b)
		}
	}
	if _, ok := byName["Value with Windows Server 2022 (BYOP)"]; ok {
		t.Fatal("Windows Server 2022 (BYOP) is not offered on Value")
	}
	// Public bundles' images are not the account's: DescribeWorkspaceImages
	// lists none of them, and names none by id.
	pub := aws.ToString(byName["Standard with Windows Server 2022 (BYOP)"].ImageId)
	if pub == "" {
		t.Fatal("the public Core bundle names no image")
	}
	if imgs := must(ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{pub}}))(t); len(imgs.Images) != 0 {
		t.Fatalf("DescribeWorkspaceImages described the public image %s: %+v", pub, imgs.Images)
	}
	if imgs := must(ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{}))(t); len(imgs.Images) != 0 {
		t.Fatalf("DescribeWorkspaceImages of a fresh account: %+v", imgs.Images)
	}
	core := aws.ToString(byName["Standard with Windows Server 2022 (BYOP)"].BundleId)
	pcoip := aws.ToString(byName["Standard with Windows Server 2022"].BundleId)
	create := func(bundle, name string, mode wstypes.RunningMode) *workspaces.CreateWorkspacesOutput {
		return must(ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
			DirectoryId: aws.String(dir), UserName: aws.String("[UNDEFINED]"), WorkspaceName: aws.String(name), BundleId: aws.String(bundle),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: mode}}}}))(t)
	}
	if out := create(core, "core-autostop", wstypes.RunningModeAutoStop); len(out.FailedRequests) != 1 || aws.ToString(out.FailedRequests[0].ErrorCode) != "OperationNotSupportedException" {
		t.Fatalf("AUTO_STOP from a Core bundle: %s %s", aws.ToString(out.FailedRequests[0].ErrorCode), aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	if out := create(pcoip, "pcoip-manual", wstypes.RunningModeManual); len(out.FailedRequests) != 1 {
		t.Fatalf("MANUAL user-decoupled desktop from a PCoIP bundle accepted")
	}
	out := create(core, "core-manual", wstypes.RunningModeManual)
	if len(out.FailedRequests) != 0 {
		t.Fatalf("MANUAL from a Core bundle: %s %s", aws.ToString(out.FailedRequests[0].ErrorCode), aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	id := aws.ToString(out.PendingRequests[0].WorkspaceId)
	w := waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateAvailable)
	if w.WorkspaceProperties.RunningMode != wstypes.RunningModeManual || w.WorkspaceProperties.OperatingSystemName != wstypes.OperatingSystemNameWindowsServer2022 ||
		aws.ToString(w.BundleId) != core || aws.ToString(w.WorkspaceName) != "core-manual" {
		t.Fatalf("Core desktop %+v %+v", w, w.WorkspaceProperties)
	}
	// The partner powers it with Start and Stop.
	stop := must(ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []wstypes.StopRequest{{WorkspaceId: aws.String(id)}}}))(t)
	if len(stop.FailedRequests) != 0 {
		t.Fatalf("stop: %+v", stop.FailedRequests)
	}
	waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateStopped)
}
