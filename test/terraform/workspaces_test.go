package terraform

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// TestTerraformWorkSpaces runs the WorkSpaces resources and data sources of
// the provider (testdata/workspaces): an IP access control group, a
// connection alias, the default environment's directory registered with
// self-service permissions, access and creation properties, a desktop from
// a public bundle, and the directory, bundle and workspace data sources.
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
	w := newWorkdir(t, "workspaces", srv.URL)
	w.vars["directory_id"] = dirID

	ws := workspaces.NewFromConfig(cfg)
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
