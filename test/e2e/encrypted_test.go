package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestEncryptedDesktopKMSGuide follows the KMS guide's nine steps with
// aws-sdk-go-v2: a customer managed key, an encrypted desktop, the grants
// WorkSpaces and EBS create (with their constraints), the GenerateDataKey
// and Decrypt events carrying both encryption-context keys, the grants
// retired on terminate, and a disabled key failing the next start.
func TestEncryptedDesktopKMSGuide(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	e := setup(t, s)
	ctx := ctxT(t)
	k := kms.NewFromConfig(s.Admin())
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("WorkSpaces volumes")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyARN := *key.KeyMetadata.Arn
	// Encrypted desktops need a directory user (the SID goes into the context).
	create := func(ws *workspaces.Client, user string) *workspaces.CreateWorkspacesOutput {
		out, err := ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
			DirectoryId: aws.String(e.dirID), UserName: aws.String(user), BundleId: aws.String(e.bundleID),
			VolumeEncryptionKey: aws.String(keyARN), RootVolumeEncryptionEnabled: aws.Bool(true), UserVolumeEncryptionEnabled: aws.Bool(true),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop}}}})
		if err != nil {
			t.Fatalf("CreateWorkspaces: %v", err)
		}
		return out
	}
	// BYOP desktops are user-decoupled, but encrypted volumes are bound to
	// a user's SID: use a public bundle with a directory user for this part.
	e.bundleID = sharedBundle(t, e)
	e.dirID = registerShared(t, s, e)
	out := create(e.ws, "alice")
	if len(out.FailedRequests) > 0 {
		t.Fatalf("encrypted create failed: %s %s", aws.ToString(out.FailedRequests[0].ErrorCode), aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	id := *out.PendingRequests[0].WorkspaceId
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)

	// Steps 1–2: a grant for WorkSpaces scoped to the user and directory, and
	// one for EBS per volume scoped to the volume.
	grants, err := k.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyARN)})
	if err != nil {
		t.Fatalf("ListGrants: %v", err)
	}
	var wsGrant, ebsGrants int
	for _, g := range grants.Grants {
		if g.Constraints == nil || len(g.Constraints.EncryptionContextSubset) == 0 {
			t.Fatalf("grant %s has no encryption context constraint", aws.ToString(g.GrantId))
		}
		sub := g.Constraints.EncryptionContextSubset
		if !strings.HasPrefix(sub["aws:workspaces:sid-directoryid"], "[S-1-5-21-") || !strings.HasSuffix(sub["aws:workspaces:sid-directoryid"], "]@["+e.dirID+"]") {
			t.Fatalf("grant constraint %v does not name the user's SID and the directory", sub)
		}
		if _, ok := sub["aws:ebs:id"]; ok {
			ebsGrants++
		} else {
			wsGrant++
		}
	}
	if wsGrant != 1 || ebsGrants != 2 {
		t.Fatalf("grants: %d for WorkSpaces, %d for EBS; want 1 and 2", wsGrant, ebsGrants)
	}

	// Steps 3–6: the GenerateDataKey and Decrypt events carry both context keys.
	ct := cloudtrail.NewFromConfig(s.Admin())
	for _, name := range []string{"GenerateDataKeyWithoutPlaintext", "Decrypt"} {
		ev, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(name)}}})
		if err != nil {
			t.Fatalf("LookupEvents %s: %v", name, err)
		}
		if len(ev.Events) < 2 {
			t.Fatalf("%d %s events, want one per volume", len(ev.Events), name)
		}
		var rec struct {
			UserIdentity struct {
				Type      string `json:"type"`
				InvokedBy string `json:"invokedBy"`
			} `json:"userIdentity"`
			RequestParameters struct {
				EncryptionContext map[string]string `json:"encryptionContext"`
			} `json:"requestParameters"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(ev.Events[0].CloudTrailEvent)), &rec); err != nil {
			t.Fatal(err)
		}
		ec := rec.RequestParameters.EncryptionContext
		if ec["aws:workspaces:sid-directoryid"] == "" || !strings.HasPrefix(ec["aws:ebs:id"], "vol-") {
			t.Fatalf("%s event context = %v", name, ec)
		}
		if rec.UserIdentity.Type != "AWSService" {
			t.Fatalf("%s made by %+v, want the AWS service", name, rec.UserIdentity)
		}
	}

	// A disabled key makes the next start fail instead of silently working.
	ws := e.ws
	if out, err := ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []wstypes.StopRequest{{WorkspaceId: aws.String(id)}}}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("stop: %v %+v", err, out)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	if out, err := ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []wstypes.StartRequest{{WorkspaceId: aws.String(id)}}}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("start: %v %+v", err, out)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateError)
	d, _ := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
	if w := d.Workspaces[0]; !strings.Contains(aws.ToString(w.ErrorCode), "Disabled") || aws.ToString(w.ErrorMessage) == "" {
		t.Fatalf("error after start with a disabled key: %q %q", aws.ToString(w.ErrorCode), aws.ToString(w.ErrorMessage))
	}
	// A new encrypted desktop with the disabled key fails in FailedRequests.
	if out := create(ws, "bob"); len(out.FailedRequests) != 1 {
		t.Fatalf("create with a disabled key: %+v", out)
	}
	k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN)})

	// Step 9: terminate retires the grants.
	if out, err := ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{{WorkspaceId: aws.String(id)}}}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("terminate: %v %+v", err, out)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateTerminated)
	grants, err = k.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyARN)})
	if err != nil || len(grants.Grants) != 0 {
		t.Fatalf("grants after terminate: %v %d", err, len(grants.Grants))
	}

	// A caller without kms:CreateGrant cannot create an encrypted desktop.
	im := iam.NewFromConfig(s.Admin())
	if _, err := im.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("wsadmin")}); err != nil {
		t.Fatal(err)
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["workspaces:*"],"Resource":"*"}]}`
	if _, err := im.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("wsadmin"), PolicyName: aws.String("ws"), PolicyDocument: &pol}); err != nil {
		t.Fatal(err)
	}
	ak, err := im.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("wsadmin")})
	if err != nil {
		t.Fatal(err)
	}
	limited := workspaces.NewFromConfig(s.Config(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey))
	out = create(limited, "carol")
	if len(out.FailedRequests) != 1 || aws.ToString(out.FailedRequests[0].ErrorCode) != "AccessDeniedException" ||
		!strings.Contains(aws.ToString(out.FailedRequests[0].ErrorMessage), "kms:CreateGrant") {
		t.Fatalf("create without kms:CreateGrant: %+v", out)
	}
}

// sharedBundle returns an Amazon public Windows bundle (PCoIP, SHARED tenancy).
func sharedBundle(t *testing.T, e *env) string {
	t.Helper()
	p := workspaces.NewDescribeWorkspaceBundlesPaginator(e.ws, &workspaces.DescribeWorkspaceBundlesInput{Owner: aws.String("AMAZON")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range out.Bundles {
			if strings.HasPrefix(aws.ToString(b.Name), "Standard with Windows 10") {
				return *b.BundleId
			}
		}
	}
	t.Fatalf("no public Standard Windows 10 bundle")
	return ""
}

// registerShared moves the directory registration from DEDICATED to SHARED.
func registerShared(t *testing.T, s *testserver.Server, e *env) string {
	t.Helper()
	ctx := ctxT(t)
	// Deregister the DEDICATED registration (no desktops yet) and register SHARED.
	if _, err := e.ws.DeregisterWorkspaceDirectory(ctx, &workspaces.DeregisterWorkspaceDirectoryInput{DirectoryId: aws.String(e.dirID)}); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		_, err := e.ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(e.dirID), Tenancy: wstypes.TenancyShared})
		return err == nil
	}, "re-register SHARED")
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := e.ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}})
		return err == nil && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
	}, "directory never REGISTERED")
	return e.dirID
}

// TestEncryptedDesktopKMSGuideBoto3 runs the same guide flow with boto3
// (test/e2e/kms_guide.py).
func TestEncryptedDesktopKMSGuideBoto3(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import boto3").Run() != nil {
		t.Skip("python3 with boto3 is not installed")
	}
	s := testserver.Start(t, testserver.Timing("instant"))
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, filepath.Join(filepath.Dir(file), "kms_guide.py"), s.URL)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kms_guide.py: %v\n%s", err, out)
	}
}
