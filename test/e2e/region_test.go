package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestRegionWithoutWorkSpaces: a WorkSpaces request signed for a region
// where WorkSpaces is not offered is refused as an endpoint refuses a
// credential scoped to a region it does not serve, never answered with
// empty lists; an offered region answers.
func TestRegionWithoutWorkSpaces(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	_, err := workspaces.NewFromConfig(s.Admin("eu-north-1")).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" || !strings.Contains(ae.ErrorMessage(), "valid region, not 'eu-north-1'") {
		t.Fatalf("DescribeWorkspaces in eu-north-1: %v", err)
	}
	if _, err := workspaces.NewFromConfig(s.Admin("eu-west-2")).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
		t.Fatalf("DescribeWorkspaces in eu-west-2: %v", err)
	}
}

// TestTagEventsNameTheirResource: CreateTags and DeleteTags are authorized
// on "*" only, yet their CloudTrail events name the resource they tagged.
func TestTagEventsNameTheirResource(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	ws := workspaces.NewFromConfig(s.Admin())
	dirs, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
	if err != nil || len(dirs.Directories) == 0 {
		t.Fatalf("DescribeWorkspaceDirectories: %v", err)
	}
	dir := aws.ToString(dirs.Directories[0].DirectoryId)
	if _, err := ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(dir), Tenancy: wstypes.TenancyShared}); err != nil {
		t.Fatal(err)
	}
	tags := []wstypes.Tag{{Key: aws.String("Team"), Value: aws.String("a")}}
	if _, err := ws.CreateTags(ctx, &workspaces.CreateTagsInput{ResourceId: aws.String(dir), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.DeleteTags(ctx, &workspaces.DeleteTagsInput{ResourceId: aws.String(dir), TagKeys: []string{"Team"}}); err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:workspaces:us-east-1:" + config.CustomerAccount + ":directory/" + dir
	ct := cloudtrail.NewFromConfig(s.Admin())
	for _, name := range []string{"CreateTags", "DeleteTags"} {
		ev, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(name)}}})
		if err != nil || len(ev.Events) != 1 {
			t.Fatalf("LookupEvents %s: %v %+v", name, err, ev)
		}
		rs := ev.Events[0].Resources
		if len(rs) != 1 || aws.ToString(rs[0].ResourceName) != want {
			t.Fatalf("%s event resources: %+v, want %s", name, rs, want)
		}
	}
}
