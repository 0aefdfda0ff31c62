package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestPartnerGuideTagBasedAuthorization follows the partner guide's
// "Tag-based authorization guidelines" end to end with aws-sdk-go-v2: the
// customer admin creates a role trusting the partner account with an
// ExternalId and the guide's tag policies; the partner assumes it and can
// only create tagged desktops and change/terminate tagged ones.
func TestPartnerGuideTagBasedAuthorization(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	e := setup(t, s)
	roleARN := partnerRole(t, s, 3600)
	out := iamMust(stsAssume(ctx, s.Partner(), &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("partner-broker"), ExternalId: aws.String("Customer-1234")}))
	ws := workspaces.NewFromConfig(stsSessionConfig(s, out.Credentials))

	req := func(name string, tags ...wstypes.Tag) *workspaces.CreateWorkspacesInput {
		return &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
			DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: aws.String(e.bundleID),
			WorkspaceName: aws.String(name), WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}, Tags: tags}}}
	}
	guard := wstypes.Tag{Key: aws.String("PartnerManaged"), Value: aws.String("true")}
	refused := func(what string, o *workspaces.CreateWorkspacesOutput, err error) {
		t.Helper()
		if err == nil && len(o.PendingRequests) > 0 {
			t.Fatalf("%s: created %s", what, aws.ToString(o.PendingRequests[0].WorkspaceId))
		}
	}
	o, err := ws.CreateWorkspaces(ctx, req("untagged"))
	refused("untagged", o, err)
	o, err = ws.CreateWorkspaces(ctx, req("wrong", wstypes.Tag{Key: aws.String("PartnerManaged"), Value: aws.String("false")}))
	refused("wrong value", o, err)
	o, err = ws.CreateWorkspaces(ctx, req("extra", guard, wstypes.Tag{Key: aws.String("CostCenter"), Value: aws.String("1")}))
	refused("extra tag key", o, err)

	created, err := ws.CreateWorkspaces(ctx, req("tagged", guard))
	iamMust(created, err)
	if len(created.FailedRequests) > 0 || len(created.PendingRequests) != 1 {
		if len(created.FailedRequests) > 0 {
			t.Fatalf("tagged create failed: %s %s", aws.ToString(created.FailedRequests[0].ErrorCode), aws.ToString(created.FailedRequests[0].ErrorMessage))
		}
		t.Fatalf("tagged create: %+v", created)
	}
	mine := aws.ToString(created.PendingRequests[0].WorkspaceId)
	// A desktop the customer created without the tag.
	theirs := e.create(t, ctx, 1, "customer")[0]
	_ = iamMust(e.ws.DeleteTags(ctx, &workspaces.DeleteTagsInput{ResourceId: &theirs, TagKeys: []string{"PartnerManaged"}}))
	e.waitAll(t, ctx, []string{mine, theirs}, wstypes.WorkspaceStateAvailable)

	props := &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAlwaysOn}
	iamMust(ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: &mine, WorkspaceProperties: props}))
	_, err = ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: &theirs, WorkspaceProperties: props})
	iamErr(t, err, "AccessDeniedException", 0)
	// The partner may not remove the guard tag.
	_, err = ws.DeleteTags(ctx, &workspaces.DeleteTagsInput{ResourceId: &mine, TagKeys: []string{"PartnerManaged"}})
	iamErr(t, err, "AccessDeniedException", 0)

	term, err := ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{{WorkspaceId: &theirs}}})
	if err == nil && len(term.FailedRequests) != 1 {
		t.Fatalf("terminating the customer's desktop: %+v", term)
	}
	term = iamMust(ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{{WorkspaceId: &mine}}}))
	if len(term.FailedRequests) != 0 {
		t.Fatalf("terminate own desktop: %s", aws.ToString(term.FailedRequests[0].ErrorCode))
	}
}

// TestPartnerGuideBoto3 runs the same guide flow with boto3
// (test/e2e/partner_guide.py); skipped when python3 or boto3 is missing.
func TestPartnerGuideBoto3(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if exec.Command(py, "-c", "import boto3").Run() != nil {
		t.Skip("boto3 not installed")
	}
	s := testserver.Start(t)
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, filepath.Join(filepath.Dir(file), "partner_guide.py"), s.URL)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("partner_guide.py: %v\n%s", err, outb)
	}
	t.Logf("%s", outb)
}
