package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// wsCoverageRun completes the conformance suite's WorkSpaces coverage: a
// success of the operations the other runs only see fail, and a bad input
// (a malformed or unknown id, an empty or oversized list, a limit out of
// range, or an unknown key for an operation without input) of those they
// only see succeed. e is the env of conformanceRun (BYOL enabled, its BYOP
// image, bundle and DEDICATED directory); ids are its desktops.
func wsCoverageRun(t *testing.T, rec *recorder, s *testserver.Server, e *env, ids []string) {
	ctx := ctxT(t)
	ws := e.ws
	part := workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, config.PartnerKeyID, config.PartnerSecret, ""))
	unknown := workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, "AKIAEXAMPLEUNKNOWN00", "nope", ""))
	ign := func(_ any, _ error) {} // every response is checked from the recording
	must := func(what string, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Successes.
	inv, err := ws.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.PartnerAccount)})
	must("CreateAccountLinkInvitation", inv, err)
	ign(ws.DeleteAccountLinkInvitation(ctx, &workspaces.DeleteAccountLinkInvitationInput{LinkId: inv.AccountLink.AccountLinkId}))
	inv, err = ws.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.PartnerAccount)})
	must("CreateAccountLinkInvitation", inv, err)
	ign(part.RejectAccountLinkInvitation(ctx, &workspaces.RejectAccountLinkInvitationInput{LinkId: inv.AccountLink.AccountLinkId}))
	b, err := ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("conf-temp"), BundleDescription: aws.String("temporary"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputePerformance}, ImageId: aws.String(e.imageID), UserStorage: &wstypes.UserStorage{Capacity: aws.String("100")}})
	must("CreateWorkspaceBundle", b, err)
	ign(ws.DeleteWorkspaceBundle(ctx, &workspaces.DeleteWorkspaceBundleInput{BundleId: b.WorkspaceBundle.BundleId}))
	ign(ws.DescribeImageAssociations(ctx, &workspaces.DescribeImageAssociationsInput{ImageId: aws.String(e.imageID),
		AssociatedResourceTypes: []wstypes.ImageAssociatedResourceType{wstypes.ImageAssociatedResourceTypeApplication}}))
	ign(ws.DeployWorkspaceApplications(ctx, &workspaces.DeployWorkspaceApplicationsInput{WorkspaceId: aws.String(ids[1])}))
	ims, err := e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"win10-*"}}}})
	must("DescribeImages", ims, err)
	ci, err := ws.ImportCustomWorkspaceImage(ctx, &workspaces.ImportCustomWorkspaceImageInput{ImageName: aws.String("conf-custom"), ImageDescription: aws.String("custom import"),
		ComputeType: wstypes.ImageComputeTypeBase, Protocol: wstypes.CustomImageProtocolDcv, ImageSource: &wstypes.ImageSourceIdentifierMemberEc2ImageId{Value: aws.ToString(ims.Images[0].ImageId)},
		InfrastructureConfigurationArn: aws.String("arn:aws:imagebuilder:us-east-1:" + config.CustomerAccount + ":infrastructure-configuration/conf"),
		Platform:                       wstypes.PlatformWindows, OsVersion: wstypes.OSVersionWindows10})
	must("ImportCustomWorkspaceImage", ci, err)
	ign(ws.DescribeCustomWorkspaceImageImport(ctx, &workspaces.DescribeCustomWorkspaceImageImportInput{ImageId: ci.ImageId}))
	// Restore and migrate need the first snapshots: the clock moves on.
	s.Advance(2 * time.Hour)
	e.waitAll(t, ctx, ids[1:2], wstypes.WorkspaceStateAvailable)
	ign(ws.RestoreWorkspace(ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(ids[1])}))
	e.waitAll(t, ctx, ids[1:2], wstypes.WorkspaceStateAvailable)
	other, err := ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("conf-power"), BundleDescription: aws.String("migration target"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputePower}, ImageId: aws.String(e.imageID), UserStorage: &wstypes.UserStorage{Capacity: aws.String("100")},
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("175")}})
	must("CreateWorkspaceBundle", other, err)
	ign(ws.MigrateWorkspace(ctx, &workspaces.MigrateWorkspaceInput{SourceWorkspaceId: aws.String(ids[1]), BundleId: other.WorkspaceBundle.BundleId}))

	// In us-west-2, a SHARED-tenancy desktop from a public bundle: its
	// image is shared, copied and the copy deleted.
	west := workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, config.AdminKeyID, config.AdminSecret, "", "us-west-2"))
	wdir := registerAt(t, west, wstypes.WorkspaceTypePersonal)
	wd, err := west.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{DirectoryId: aws.String(wdir),
		UserName: aws.String("alice"), BundleId: aws.String(publicWin10(t, west))}}})
	must("CreateWorkspaces", wd, err)
	if len(wd.PendingRequests) != 1 {
		t.Fatalf("us-west-2 desktop: %+v", wd.FailedRequests)
	}
	wid := aws.ToString(wd.PendingRequests[0].WorkspaceId)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := west.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{wid}})
		return err == nil && len(d.Workspaces) == 1 && d.Workspaces[0].State == wstypes.WorkspaceStateAvailable
	}, "us-west-2 desktop never AVAILABLE")
	img, err := west.CreateWorkspaceImage(ctx, &workspaces.CreateWorkspaceImageInput{Name: aws.String("conf-west"), Description: aws.String("west"), WorkspaceId: aws.String(wid)})
	must("CreateWorkspaceImage", img, err)
	waitImage := func(id *string) {
		t.Helper()
		testserver.Eventually(t, 30*time.Second, func() bool {
			d, err := west.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{aws.ToString(id)}})
			return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
		}, "image %s never AVAILABLE", aws.ToString(id))
	}
	waitImage(img.ImageId)
	ign(west.UpdateWorkspaceImagePermission(ctx, &workspaces.UpdateWorkspaceImagePermissionInput{ImageId: img.ImageId, AllowCopyImage: aws.Bool(true), SharedAccountId: aws.String(config.PartnerAccount)}))
	cp, err := west.CopyWorkspaceImage(ctx, &workspaces.CopyWorkspaceImageInput{Name: aws.String("conf-west-copy"), SourceImageId: img.ImageId, SourceRegion: aws.String("us-west-2")})
	must("CopyWorkspaceImage", cp, err)
	waitImage(cp.ImageId)
	wb, err := west.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("conf-west"), BundleDescription: aws.String("west"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeStandard}, ImageId: cp.ImageId, UserStorage: &wstypes.UserStorage{Capacity: aws.String("50")}})
	must("CreateWorkspaceBundle", wb, err)
	ign(west.UpdateWorkspaceBundle(ctx, &workspaces.UpdateWorkspaceBundleInput{BundleId: wb.WorkspaceBundle.BundleId, ImageId: img.ImageId}))
	ign(west.DeleteWorkspaceImage(ctx, &workspaces.DeleteWorkspaceImageInput{ImageId: cp.ImageId}))

	// In eu-west-1, a pool: stopped, then started.
	eu := workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, config.AdminKeyID, config.AdminSecret, "", "eu-west-1"))
	edir := registerAt(t, eu, wstypes.WorkspaceTypePools)
	pool, err := eu.CreateWorkspacesPool(ctx, &workspaces.CreateWorkspacesPoolInput{PoolName: aws.String("conf"), Description: aws.String("conformance"),
		BundleId: aws.String(publicWin10(t, eu)), DirectoryId: aws.String(edir), Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(1)}})
	must("CreateWorkspacesPool", pool, err)
	poolState := func(want wstypes.WorkspacesPoolState) {
		t.Helper()
		testserver.Eventually(t, 30*time.Second, func() bool {
			d, err := eu.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(pool.WorkspacesPool.PoolId)}})
			return err == nil && len(d.WorkspacesPools) == 1 && d.WorkspacesPools[0].State == want
		}, "pool never %s", want)
	}
	poolState(wstypes.WorkspacesPoolStateRunning)
	ign(eu.StopWorkspacesPool(ctx, &workspaces.StopWorkspacesPoolInput{PoolId: pool.WorkspacesPool.PoolId}))
	poolState(wstypes.WorkspacesPoolStateStopped)
	ign(eu.StartWorkspacesPool(ctx, &workspaces.StartWorkspacesPoolInput{PoolId: pool.WorkspacesPool.PoolId}))
	poolState(wstypes.WorkspacesPoolStateRunning)
	ign(eu.StopWorkspacesPool(ctx, &workspaces.StopWorkspacesPoolInput{PoolId: pool.WorkspacesPool.PoolId}))
	poolState(wstypes.WorkspacesPoolStateStopped)
	ign(eu.TerminateWorkspacesPool(ctx, &workspaces.TerminateWorkspacesPoolInput{PoolId: pool.WorkspacesPool.PoolId}))

	// Bad inputs.
	ign(ws.DeployWorkspaceApplications(ctx, &workspaces.DeployWorkspaceApplicationsInput{WorkspaceId: aws.String("ws-000000000")}))
	ign(ws.StopWorkspacesPool(ctx, &workspaces.StopWorkspacesPoolInput{PoolId: aws.String("wspool-000000000")}))
	const (
		noDir    = "d-0000000000"
		noDesk   = "ws-000000000"
		noImage  = "wsi-000000000"
		noBundle = "wsb-000000000"
	)
	ign(ws.CopyWorkspaceImage(ctx, &workspaces.CopyWorkspaceImageInput{Name: aws.String("x"), SourceImageId: aws.String(noImage), SourceRegion: aws.String("us-east-1")}))
	ign(ws.CreateTags(ctx, &workspaces.CreateTagsInput{ResourceId: aws.String(noDesk), Tags: []wstypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}))
	ign(ws.DeleteTags(ctx, &workspaces.DeleteTagsInput{ResourceId: aws.String(noDesk), TagKeys: []string{"k"}}))
	ign(ws.CreateWorkspaceImage(ctx, &workspaces.CreateWorkspaceImageInput{Name: aws.String("x"), Description: aws.String("x"), WorkspaceId: aws.String(noDesk)}))
	ign(ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{}}))
	ign(ws.CreateWorkspacesPool(ctx, &workspaces.CreateWorkspacesPoolInput{PoolName: aws.String("x"), Description: aws.String("x"), BundleId: aws.String(noBundle),
		DirectoryId: aws.String(noDir), Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(1)}}))
	ign(ws.DeleteClientBranding(ctx, &workspaces.DeleteClientBrandingInput{ResourceId: aws.String(noDir), Platforms: []wstypes.ClientDeviceType{wstypes.ClientDeviceTypeDeviceTypeWindows}}))
	ign(ws.DeleteWorkspaceImage(ctx, &workspaces.DeleteWorkspaceImageInput{ImageId: aws.String("bad")}))
	ign(unknown.DescribeAccount(ctx, &workspaces.DescribeAccountInput{}))
	ign(ws.DescribeAccountModifications(ctx, &workspaces.DescribeAccountModificationsInput{NextToken: aws.String("bogus-token")}))
	ign(unknown.DescribeAccountModifications(ctx, &workspaces.DescribeAccountModificationsInput{}))
	ign(ws.DescribeApplications(ctx, &workspaces.DescribeApplicationsInput{MaxResults: aws.Int32(0)}))
	ign(ws.DescribeBundleAssociations(ctx, &workspaces.DescribeBundleAssociationsInput{BundleId: aws.String(noBundle),
		AssociatedResourceTypes: []wstypes.BundleAssociatedResourceType{wstypes.BundleAssociatedResourceTypeApplication}}))
	ign(ws.DescribeConnectClientAddIns(ctx, &workspaces.DescribeConnectClientAddInsInput{ResourceId: aws.String(noDir)}))
	ign(ws.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{Limit: aws.Int32(0)}))
	ign(ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{MaxResults: aws.Int32(0)}))
	ign(ws.DescribeWorkspaceAssociations(ctx, &workspaces.DescribeWorkspaceAssociationsInput{WorkspaceId: aws.String(noDesk),
		AssociatedResourceTypes: []wstypes.WorkSpaceAssociatedResourceType{wstypes.WorkSpaceAssociatedResourceTypeApplication}}))
	ign(ws.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{BundleIds: []string{"bad"}}))
	ign(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{Limit: aws.Int32(0)}))
	ign(ws.DescribeWorkspaceImagePermissions(ctx, &workspaces.DescribeWorkspaceImagePermissionsInput{ImageId: aws.String(noImage)}))
	ign(ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{MaxResults: aws.Int32(0)}))
	ign(ws.DescribeWorkspaceSnapshots(ctx, &workspaces.DescribeWorkspaceSnapshotsInput{WorkspaceId: aws.String(noDesk)}))
	ign(ws.DescribeWorkspacesPoolSessions(ctx, &workspaces.DescribeWorkspacesPoolSessionsInput{PoolId: aws.String("bad")}))
	ign(ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{Limit: aws.Int32(0)}))
	ign(ws.DisassociateIpGroups(ctx, &workspaces.DisassociateIpGroupsInput{DirectoryId: aws.String(noDir), GroupIds: []string{"wsipg-00000000"}}))
	ign(ws.ListAccountLinks(ctx, &workspaces.ListAccountLinksInput{MaxResults: aws.Int32(0)}))
	ign(ws.ModifyClientProperties(ctx, &workspaces.ModifyClientPropertiesInput{ResourceId: aws.String(noDir), ClientProperties: &wstypes.ClientProperties{}}))
	ign(ws.ModifyWorkspaceCreationProperties(ctx, &workspaces.ModifyWorkspaceCreationPropertiesInput{ResourceId: aws.String(noDir),
		WorkspaceCreationProperties: &wstypes.WorkspaceCreationProperties{EnableMaintenanceMode: aws.Bool(true)}}))
	ign(ws.RebootWorkspaces(ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: []wstypes.RebootRequest{}}))
	ign(ws.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []wstypes.RebuildRequest{{WorkspaceId: aws.String(ids[0])}, {WorkspaceId: aws.String(ids[1])}}}))
	ign(ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []wstypes.StartRequest{}}))
	ign(ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []wstypes.StopRequest{}}))
	ign(ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{}}))
	ign(ws.UpdateConnectClientAddIn(ctx, &workspaces.UpdateConnectClientAddInInput{ResourceId: aws.String(noDir), AddInId: aws.String("00000000-0000-4000-8000-000000000000"), Name: aws.String("x")}))
	ign(ws.UpdateWorkspaceBundle(ctx, &workspaces.UpdateWorkspaceBundleInput{BundleId: aws.String(noBundle), ImageId: aws.String(e.imageID)}))
	ign(ws.UpdateWorkspacesPool(ctx, &workspaces.UpdateWorkspacesPoolInput{PoolId: aws.String("wspool-000000000"), Description: aws.String("x")}))
}

// registerAt registers the Region's corp directory with the type and waits
// until it is REGISTERED.
func registerAt(t *testing.T, ws *workspaces.Client, typ wstypes.WorkspaceType) string {
	t.Helper()
	ctx := ctxT(t)
	dirs, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
	if err != nil || len(dirs.Directories) == 0 {
		t.Fatalf("no directory: %v", err)
	}
	id := aws.ToString(dirs.Directories[0].DirectoryId)
	if _, err := ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(id), WorkspaceType: typ}); err != nil {
		t.Fatalf("RegisterWorkspaceDirectory: %v", err)
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
		return err == nil && len(d.Directories) == 1 && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
	}, "directory %s never REGISTERED", id)
	return id
}

// publicWin10 returns Amazon's Standard Windows 10 (PCoIP) bundle.
func publicWin10(t *testing.T, ws *workspaces.Client) string {
	t.Helper()
	p := workspaces.NewDescribeWorkspaceBundlesPaginator(ws, &workspaces.DescribeWorkspaceBundlesInput{Owner: aws.String("AMAZON")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range out.Bundles {
			if aws.ToString(b.Name) == "Standard with Windows 10 (Server 2022 based)" {
				return aws.ToString(b.BundleId)
			}
		}
	}
	t.Fatal("no public Standard Windows 10 bundle")
	return ""
}
