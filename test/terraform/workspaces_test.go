package terraform

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestTerraformWorkSpaces runs the WorkSpaces resources and data sources of
// the provider (testdata/workspaces): an IP access control group, a
// connection alias, the default environment's directory registered with
// self-service permissions, access and creation properties, a desktop from
// a public bundle, and the directory, bundle, image and workspace data
// sources (the image imported beforehand through the SDK: the provider has
// no image resource).
// It needs the WorkSpaces operations of the IP groups, connection aliases
// and directory properties (ModifySelfservicePermissions,
// ModifyWorkspaceAccessProperties, ModifyWorkspaceCreationProperties, …).
func TestTerraformWorkSpaces(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	cfg := srv.Admin()
	ctx := context.Background()

	dirs, err := ds.NewFromConfig(cfg).DescribeDirectories(ctx, &ds.DescribeDirectoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var dirID string
	for _, d := range dirs.DirectoryDescriptions {
		if aws.ToString(d.Name) == "corp.example.com" {
			dirID = aws.ToString(d.DirectoryId)
		}
	}
	if dirID == "" {
		t.Fatal("the default environment has no corp.example.com directory")
	}
	ws := workspaces.NewFromConfig(cfg)
	imageID := importImage(ctx, t, cfg)
	w := newWorkdir(t, "workspaces", srv.URL)
	w.vars["directory_id"] = dirID
	w.vars["image_id"] = imageID

	w.cycle(func() {
		d, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{dirID}})
		if err != nil || len(d.Directories) != 1 {
			t.Fatalf("the directory after the update: %+v, %v", d, err)
		}
		dir := d.Directories[0]
		if dir.SelfservicePermissions == nil || dir.SelfservicePermissions.ChangeComputeType != wstypes.ReconnectEnumEnabled {
			t.Errorf("self-service permissions after the update: %+v", dir.SelfservicePermissions)
		}
		if dir.WorkspaceAccessProperties == nil || dir.WorkspaceAccessProperties.DeviceTypeWeb != wstypes.AccessPropertyValueAllow {
			t.Errorf("access properties after the update: %+v", dir.WorkspaceAccessProperties)
		}
		if len(dir.IpGroupIds) != 1 {
			t.Errorf("IP groups of the directory: %v", dir.IpGroupIds)
		}
		// The image data source read the account's image.
		if got := w.must("output", "-raw", "image_name"); got != "tf-image" {
			t.Errorf("the aws_workspaces_image data source's name: %q, want tf-image", got)
		}
	})

	// Nothing is left behind: no desktop but TERMINATED ones, the directory
	// deregistered, no IP group, no connection alias.
	out, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: &dirID})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range out.Workspaces {
		if d.State != wstypes.WorkspaceStateTerminated {
			t.Errorf("desktop left: %s %s", aws.ToString(d.WorkspaceId), d.State)
		}
	}
	d, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{dirID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range d.Directories {
		if dir.State != wstypes.WorkspaceDirectoryStateDeregistered {
			t.Errorf("the directory is still %s", dir.State)
		}
	}
	groups, err := ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{})
	if err != nil || len(groups.Result) != 0 {
		t.Errorf("IP groups left: %+v, %v", groups, err)
	}
	aliases, err := ws.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases.ConnectionAliases {
		if a.State != wstypes.ConnectionAliasStateDeleting {
			t.Errorf("connection alias left: %s %s", aws.ToString(a.AliasId), a.State)
		}
	}
}

// importImage makes the account a BYOL one and imports its Windows 10 EC2
// image as a WorkSpaces image (the provider has no image resource, only the
// aws_workspaces_image data source), and returns the AVAILABLE image's id.
func importImage(ctx context.Context, t *testing.T, cfg aws.Config) string {
	t.Helper()
	ws := workspaces.NewFromConfig(cfg)
	ranges, err := ws.ListAvailableManagementCidrRanges(ctx, &workspaces.ListAvailableManagementCidrRangesInput{ManagementCidrRangeConstraint: aws.String("192.168.0.0/16")})
	if err != nil || len(ranges.ManagementCidrRanges) == 0 {
		t.Fatalf("ListAvailableManagementCidrRanges: %+v, %v", ranges, err)
	}
	if _, err := ws.ModifyAccount(ctx, &workspaces.ModifyAccountInput{DedicatedTenancySupport: wstypes.DedicatedTenancySupportEnumEnabled,
		DedicatedTenancyManagementCidrRange: aws.String(ranges.ManagementCidrRanges[0])}); err != nil {
		t.Fatalf("ModifyAccount: %v", err)
	}
	testserver.Eventually(t, time.Minute, func() bool {
		a, err := ws.DescribeAccount(ctx, &workspaces.DescribeAccountInput{})
		return err == nil && a.DedicatedTenancySupport == wstypes.DedicatedTenancySupportResultEnumEnabled
	}, "BYOL never ENABLED")
	imgs, err := ec2.NewFromConfig(cfg).DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"win10-*"}}}})
	if err != nil || len(imgs.Images) != 1 {
		t.Fatalf("DescribeImages: %+v, %v", imgs, err)
	}
	imp, err := ws.ImportWorkspaceImage(ctx, &workspaces.ImportWorkspaceImageInput{Ec2ImageId: imgs.Images[0].ImageId,
		IngestionProcess: wstypes.WorkspaceImageIngestionProcessByolRegularByop, ImageName: aws.String("tf-image"), ImageDescription: aws.String("tf image")})
	if err != nil {
		t.Fatalf("ImportWorkspaceImage: %v", err)
	}
	testserver.Eventually(t, time.Minute, func() bool {
		d, err := ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{*imp.ImageId}})
		return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
	}, "the image never AVAILABLE")
	return *imp.ImageId
}
