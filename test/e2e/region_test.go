package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/smithy-go"

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
