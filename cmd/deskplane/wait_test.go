package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestWait drives "deskplane wait" against a server: it returns once the
// state is reached, fails on a missing resource and on its timeout.
func TestWait(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	t.Setenv("AWS_ACCESS_KEY_ID", config.AdminKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", config.AdminSecret)
	t.Setenv("AWS_DEFAULT_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("DESKPLANE_ENDPOINT", s.URL)
	wait := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		args = append(args, "--interval", "10ms")
		if !strings.Contains(strings.Join(args, " "), "--timeout") {
			args = append(args, "--timeout", "10s")
		}
		code := waitCmd(args, &out, &errb)
		return code, errb.String()
	}
	ctx := context.Background()
	ws := workspaces.NewFromConfig(s.Admin())

	if code, out := wait("account", "--timeout", "1s"); code != 1 || !strings.Contains(out, "not COMPLETED") {
		t.Fatalf("wait account before BYOL: %d %s", code, out)
	}
	if _, err := ws.ModifyAccount(ctx, &workspaces.ModifyAccountInput{DedicatedTenancySupport: types.DedicatedTenancySupportEnumEnabled,
		DedicatedTenancyManagementCidrRange: aws.String("192.168.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if code, out := wait("account"); code != 0 {
		t.Fatalf("wait account: %d %s", code, out)
	}

	dirs, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
	if err != nil || len(dirs.Directories) == 0 {
		t.Fatalf("DescribeWorkspaceDirectories: %v", err)
	}
	dir := aws.ToString(dirs.Directories[0].DirectoryId)
	if _, err := ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(dir), Tenancy: types.TenancyDedicated}); err != nil {
		t.Fatal(err)
	}
	if code, out := wait("directory", dir); code != 0 || !strings.Contains(out, "REGISTERED") {
		t.Fatalf("wait directory: %d %s", code, out)
	}
	if code, out := wait("image", "wsi-123456789"); code != 1 || !strings.Contains(out, "no image wsi-123456789") {
		t.Fatalf("wait for a missing image: %d %s", code, out)
	}
	if code, _ := wait("image"); code != 2 {
		t.Fatalf("wait image without an id: %d", code)
	}
}
