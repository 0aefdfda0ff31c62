package workspaces_test

// Black-box tests of the operation families of account links, Connect
// client add-ins, applications, pools, custom images, standby WorkSpaces
// and image sharing, through aws-sdk-go-v2 against an in-process server.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// The limited user of the customer account: WorkSpaces is allowed except
// what its policy denies (see start).
const (
	limitedKey    = "AKIALIMITEDEXAMPLE01"
	limitedSecret = "limitedSecretEXAMPLEKEYlimitedSecret0000"
)

// start runs a server (instant timing) whose customer account has the user
// "limited": workspaces:* allowed; denied: account link invitations, every
// action on pools tagged env=prod, and Connect add-in deletion.
func start(t *testing.T, opts ...testserver.Option) *testserver.Server {
	t.Helper()
	cfg := config.Default()
	policy := map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": "workspaces:*", "Resource": "*"},
		map[string]any{"Effect": "Deny", "Action": "workspaces:CreateAccountLinkInvitation", "Resource": "*"},
		map[string]any{"Effect": "Deny", "Action": "workspaces:DeleteConnectClientAddIn", "Resource": "arn:aws:workspaces:*:*:directory/*"},
		map[string]any{"Effect": "Deny", "Action": "workspaces:*", "Resource": "arn:aws:workspaces:*:*:workspacespool/*",
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/env": "prod"}}},
	}}
	cfg.Accounts[0].Users = append(cfg.Accounts[0].Users, config.User{Name: "limited",
		AccessKeys: []config.AccessKey{{ID: limitedKey, Secret: limitedSecret}}, Policies: map[string]any{"Limited": policy}})
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, append([]testserver.Option{testserver.ConfigFile(p), testserver.Timing("instant")}, opts...)...)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// registerDir registers the account's corp directory in the client's Region.
func registerDir(t *testing.T, ctx context.Context, ws *workspaces.Client, typ wstypes.WorkspaceType) string {
	t.Helper()
	dirs := must(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{}))(t)
	if len(dirs.Directories) == 0 {
		t.Fatal("no directory")
	}
	id := aws.ToString(dirs.Directories[0].DirectoryId)
	must(ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(id), WorkspaceType: typ}))(t)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
		return err == nil && len(d.Directories) == 1 && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
	}, "directory never REGISTERED")
	return id
}

// publicBundle returns Amazon's Standard Windows 10 (PCoIP) bundle.
func publicBundle(t *testing.T, ctx context.Context, ws *workspaces.Client) string {
	t.Helper()
	var token *string
	for {
		out := must(ws.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{Owner: aws.String("AMAZON"), NextToken: token}))(t)
		for _, b := range out.Bundles {
			if b.ComputeType != nil && b.ComputeType.Name == wstypes.ComputeStandard && strings.HasSuffix(aws.ToString(b.Name), "with Windows 10 (Server 2022 based)") {
				return aws.ToString(b.BundleId)
			}
		}
		if token = out.NextToken; token == nil {
			t.Fatal("no public Standard Windows 10 bundle")
		}
	}
}

// createDesktop creates alice's desktop from the bundle and waits for AVAILABLE.
func createDesktop(t *testing.T, ctx context.Context, ws *workspaces.Client, dir, bundle string, mode ...wstypes.RunningMode) string {
	t.Helper()
	props := &wstypes.WorkspaceProperties{}
	if len(mode) > 0 {
		props.RunningMode = mode[0]
	}
	out := must(ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(dir), UserName: aws.String("alice"), BundleId: aws.String(bundle), WorkspaceProperties: props}}}))(t)
	if len(out.FailedRequests) > 0 {
		t.Fatalf("CreateWorkspaces: %s %s", aws.ToString(out.FailedRequests[0].ErrorCode), aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	id := aws.ToString(out.PendingRequests[0].WorkspaceId)
	waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateAvailable)
	return id
}

func waitDesktop(t *testing.T, ctx context.Context, ws *workspaces.Client, id string, state wstypes.WorkspaceState) wstypes.Workspace {
	t.Helper()
	var last wstypes.Workspace
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
		if err != nil || len(d.Workspaces) != 1 {
			return false
		}
		last = d.Workspaces[0]
		return last.State == state
	}, "desktop %s never %s", id, state)
	return last
}

func TestAccountLinks(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	cust := workspaces.NewFromConfig(s.Admin())
	part := workspaces.NewFromConfig(s.Partner())

	_, err := cust.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.CustomerAccount)})
	wantCode(t, err, "ValidationException")
	_, err = cust.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String("999999999999")})
	wantCode(t, err, "ValidationException")
	// The limited user is denied the invitation by its policy.
	limited := workspaces.NewFromConfig(s.Config(limitedKey, limitedSecret))
	_, err = limited.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.PartnerAccount)})
	wantCode(t, err, "AccessDeniedException")

	inv := must(cust.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{
		TargetAccountId: aws.String(config.PartnerAccount), ClientToken: aws.String("tok-1")}))(t).AccountLink
	if inv.AccountLinkStatus != wstypes.AccountLinkStatusEnumPendingAcceptanceByTargetAccount ||
		aws.ToString(inv.SourceAccountId) != config.CustomerAccount || aws.ToString(inv.TargetAccountId) != config.PartnerAccount ||
		!strings.HasPrefix(aws.ToString(inv.AccountLinkId), "link-") {
		t.Fatalf("invitation = %+v", inv)
	}
	id := inv.AccountLinkId
	// The same ClientToken answers the same link; another invitation between the pair conflicts.
	again := must(cust.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{
		TargetAccountId: aws.String(config.PartnerAccount), ClientToken: aws.String("tok-1")}))(t).AccountLink
	if aws.ToString(again.AccountLinkId) != aws.ToString(id) {
		t.Fatalf("retry made another link %s", aws.ToString(again.AccountLinkId))
	}
	_, err = part.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.CustomerAccount)})
	wantCode(t, err, "ConflictException")

	// Both accounts see the link; only the target accepts.
	for _, c := range []*workspaces.Client{cust, part} {
		l := must(c.ListAccountLinks(ctx, &workspaces.ListAccountLinksInput{}))(t)
		if len(l.AccountLinks) != 1 || aws.ToString(l.AccountLinks[0].AccountLinkId) != aws.ToString(id) {
			t.Fatalf("ListAccountLinks = %+v", l.AccountLinks)
		}
	}
	g := must(part.GetAccountLink(ctx, &workspaces.GetAccountLinkInput{LinkedAccountId: aws.String(config.CustomerAccount)}))(t)
	if aws.ToString(g.AccountLink.AccountLinkId) != aws.ToString(id) {
		t.Fatalf("GetAccountLink by account = %+v", g.AccountLink)
	}
	_, err = cust.GetAccountLink(ctx, &workspaces.GetAccountLinkInput{})
	wantCode(t, err, "ValidationException")
	_, err = cust.AcceptAccountLinkInvitation(ctx, &workspaces.AcceptAccountLinkInvitationInput{LinkId: id})
	wantCode(t, err, "AccessDeniedException")
	_, err = part.AcceptAccountLinkInvitation(ctx, &workspaces.AcceptAccountLinkInvitationInput{LinkId: aws.String("link-doesnotexist")})
	wantCode(t, err, "ResourceNotFoundException")
	acc := must(part.AcceptAccountLinkInvitation(ctx, &workspaces.AcceptAccountLinkInvitationInput{LinkId: id}))(t)
	if acc.AccountLink.AccountLinkStatus != wstypes.AccountLinkStatusEnumLinked {
		t.Fatalf("accepted = %+v", acc.AccountLink)
	}
	_, err = part.RejectAccountLinkInvitation(ctx, &workspaces.RejectAccountLinkInvitationInput{LinkId: id})
	wantCode(t, err, "ConflictException")
	// A LINKED link cannot be deleted (no unlinking).
	_, err = cust.DeleteAccountLinkInvitation(ctx, &workspaces.DeleteAccountLinkInvitationInput{LinkId: id})
	wantCode(t, err, "ConflictException")
	l := must(cust.ListAccountLinks(ctx, &workspaces.ListAccountLinksInput{LinkStatusFilter: []wstypes.AccountLinkStatusEnum{wstypes.AccountLinkStatusEnumRejected}}))(t)
	if len(l.AccountLinks) != 0 {
		t.Fatalf("REJECTED filter lists %+v", l.AccountLinks)
	}

	// GetAccountLink by id sees the accepted state.
	g = must(cust.GetAccountLink(ctx, &workspaces.GetAccountLinkInput{LinkId: id}))(t)
	if g.AccountLink.AccountLinkStatus != wstypes.AccountLinkStatusEnumLinked {
		t.Fatalf("GetAccountLink = %+v", g.AccountLink)
	}
}

func TestAccountLinkRejectAndDelete(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	cust := workspaces.NewFromConfig(s.Admin())
	part := workspaces.NewFromConfig(s.Partner())
	id := must(part.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.CustomerAccount)}))(t).AccountLink.AccountLinkId
	// Only the source deletes its invitation.
	_, err := cust.DeleteAccountLinkInvitation(ctx, &workspaces.DeleteAccountLinkInvitationInput{LinkId: id})
	wantCode(t, err, "AccessDeniedException")
	rej := must(cust.RejectAccountLinkInvitation(ctx, &workspaces.RejectAccountLinkInvitationInput{LinkId: id}))(t)
	if rej.AccountLink.AccountLinkStatus != wstypes.AccountLinkStatusEnumRejected {
		t.Fatalf("rejected = %+v", rej.AccountLink)
	}
	// A rejected invitation does not block a new one; the source deletes the old.
	must(part.DeleteAccountLinkInvitation(ctx, &workspaces.DeleteAccountLinkInvitationInput{LinkId: id}))(t)
	_, err = part.GetAccountLink(ctx, &workspaces.GetAccountLinkInput{LinkId: id})
	wantCode(t, err, "ResourceNotFoundException")
	must(cust.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.PartnerAccount)}))(t)
	l := must(part.ListAccountLinks(ctx, &workspaces.ListAccountLinksInput{MaxResults: aws.Int32(1)}))(t)
	if len(l.AccountLinks) != 1 || l.NextToken != nil {
		t.Fatalf("ListAccountLinks = %+v next %v", l.AccountLinks, l.NextToken)
	}
}

func TestConnectClientAddIns(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	dirs := must(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{}))(t)
	dir := aws.ToString(dirs.Directories[0].DirectoryId)
	// Unregistered: not found.
	_, err := ws.CreateConnectClientAddIn(ctx, &workspaces.CreateConnectClientAddInInput{ResourceId: aws.String(dir), Name: aws.String("connect"), URL: aws.String("https://example.my.connect.aws/")})
	wantCode(t, err, "ResourceNotFoundException")
	registerDir(t, ctx, ws, wstypes.WorkspaceTypePersonal)
	_, err = ws.CreateConnectClientAddIn(ctx, &workspaces.CreateConnectClientAddInInput{ResourceId: aws.String(dir), Name: aws.String("connect"), URL: aws.String("ftp://x")})
	wantCode(t, err, "ValidationException")
	id := aws.ToString(must(ws.CreateConnectClientAddIn(ctx, &workspaces.CreateConnectClientAddInInput{ResourceId: aws.String(dir), Name: aws.String("connect"), URL: aws.String("https://example.my.connect.aws/")}))(t).AddInId)
	if len(id) != 36 {
		t.Fatalf("AddInId %q", id)
	}
	_, err = ws.CreateConnectClientAddIn(ctx, &workspaces.CreateConnectClientAddInInput{ResourceId: aws.String(dir), Name: aws.String("second"), URL: aws.String("https://b.example/")})
	wantCode(t, err, "ResourceAlreadyExistsException")
	must(ws.UpdateConnectClientAddIn(ctx, &workspaces.UpdateConnectClientAddInInput{ResourceId: aws.String(dir), AddInId: aws.String(id), Name: aws.String("renamed")}))(t)
	d := must(ws.DescribeConnectClientAddIns(ctx, &workspaces.DescribeConnectClientAddInsInput{ResourceId: aws.String(dir)}))(t)
	if len(d.AddIns) != 1 || aws.ToString(d.AddIns[0].Name) != "renamed" || aws.ToString(d.AddIns[0].URL) != "https://example.my.connect.aws/" {
		t.Fatalf("AddIns = %+v", d.AddIns)
	}
	_, err = ws.UpdateConnectClientAddIn(ctx, &workspaces.UpdateConnectClientAddInInput{ResourceId: aws.String(dir), AddInId: aws.String("00000000-0000-4000-8000-000000000000"), Name: aws.String("x")})
	wantCode(t, err, "ResourceNotFoundException")
	// The limited user may not delete add-ins.
	limited := workspaces.NewFromConfig(s.Config(limitedKey, limitedSecret))
	_, err = limited.DeleteConnectClientAddIn(ctx, &workspaces.DeleteConnectClientAddInInput{ResourceId: aws.String(dir), AddInId: aws.String(id)})
	wantCode(t, err, "AccessDeniedException")
	must(ws.DeleteConnectClientAddIn(ctx, &workspaces.DeleteConnectClientAddInInput{ResourceId: aws.String(dir), AddInId: aws.String(id)}))(t)
	d = must(ws.DescribeConnectClientAddIns(ctx, &workspaces.DescribeConnectClientAddInsInput{ResourceId: aws.String(dir)}))(t)
	if len(d.AddIns) != 0 {
		t.Fatalf("AddIns after delete = %+v", d.AddIns)
	}
	// Another account does not see the directory.
	_, err = workspaces.NewFromConfig(s.Partner()).DescribeConnectClientAddIns(ctx, &workspaces.DescribeConnectClientAddInsInput{ResourceId: aws.String(dir)})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestApplicationsWithoutCatalogue(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	apps := must(ws.DescribeApplications(ctx, &workspaces.DescribeApplicationsInput{Owner: aws.String("AMAZON")}))(t)
	if len(apps.Applications) != 0 {
		t.Fatalf("applications: %+v", apps.Applications)
	}
	_, err := ws.DescribeApplications(ctx, &workspaces.DescribeApplicationsInput{ApplicationIds: []string{"wsa-12345678"}})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = ws.DescribeApplications(ctx, &workspaces.DescribeApplicationsInput{ApplicationIds: []string{"bad"}})
	wantCode(t, err, "ValidationException")
	_, err = ws.DescribeApplicationAssociations(ctx, &workspaces.DescribeApplicationAssociationsInput{ApplicationId: aws.String("wsa-12345678"),
		AssociatedResourceTypes: []wstypes.ApplicationAssociatedResourceType{wstypes.ApplicationAssociatedResourceTypeWorkspace}})
	wantCode(t, err, "ResourceNotFoundException")
	bundle := publicBundle(t, ctx, ws)
	b := must(ws.DescribeBundleAssociations(ctx, &workspaces.DescribeBundleAssociationsInput{BundleId: aws.String(bundle),
		AssociatedResourceTypes: []wstypes.BundleAssociatedResourceType{wstypes.BundleAssociatedResourceTypeApplication}}))(t)
	if len(b.Associations) != 0 {
		t.Fatalf("bundle associations %+v", b.Associations)
	}
	_, err = ws.DescribeBundleAssociations(ctx, &workspaces.DescribeBundleAssociationsInput{BundleId: aws.String("wsb-00000000"),
		AssociatedResourceTypes: []wstypes.BundleAssociatedResourceType{wstypes.BundleAssociatedResourceTypeApplication}})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = ws.DescribeImageAssociations(ctx, &workspaces.DescribeImageAssociationsInput{ImageId: aws.String("wsi-000000000"),
		AssociatedResourceTypes: []wstypes.ImageAssociatedResourceType{wstypes.ImageAssociatedResourceTypeApplication}})
	wantCode(t, err, "ResourceNotFoundException")
	dir := registerDir(t, ctx, ws, wstypes.WorkspaceTypePersonal)
	w := createDesktop(t, ctx, ws, dir, bundle, wstypes.RunningModeAutoStop)
	wa := must(ws.DescribeWorkspaceAssociations(ctx, &workspaces.DescribeWorkspaceAssociationsInput{WorkspaceId: aws.String(w),
		AssociatedResourceTypes: []wstypes.WorkSpaceAssociatedResourceType{wstypes.WorkSpaceAssociatedResourceTypeApplication}}))(t)
	if len(wa.Associations) != 0 {
		t.Fatalf("workspace associations %+v", wa.Associations)
	}
	_, err = ws.AssociateWorkspaceApplication(ctx, &workspaces.AssociateWorkspaceApplicationInput{WorkspaceId: aws.String(w), ApplicationId: aws.String("wsa-12345678")})
	wantCode(t, err, "ResourceNotFoundException")
	wantResourceID(t, err, "wsa-12345678")
	_, err = ws.DisassociateWorkspaceApplication(ctx, &workspaces.DisassociateWorkspaceApplicationInput{WorkspaceId: aws.String("ws-000000000"), ApplicationId: aws.String("wsa-12345678")})
	wantCode(t, err, "ResourceNotFoundException")
	dep := must(ws.DeployWorkspaceApplications(ctx, &workspaces.DeployWorkspaceApplicationsInput{WorkspaceId: aws.String(w)}))(t)
	if dep.Deployment == nil || len(dep.Deployment.Associations) != 0 {
		t.Fatalf("deployment %+v", dep.Deployment)
	}
	must(ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []wstypes.StopRequest{{WorkspaceId: aws.String(w)}}}))(t)
	waitDesktop(t, ctx, ws, w, wstypes.WorkspaceStateStopped)
	_, err = ws.DeployWorkspaceApplications(ctx, &workspaces.DeployWorkspaceApplicationsInput{WorkspaceId: aws.String(w)})
	wantCode(t, err, "ResourceInUseException")
}

func TestWorkspacesPools(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	bundle := publicBundle(t, ctx, ws)
	dirs := must(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{}))(t)
	dir := aws.ToString(dirs.Directories[0].DirectoryId)
	create := func(name string, mode wstypes.PoolsRunningMode, n int32, tags ...wstypes.Tag) (*workspaces.CreateWorkspacesPoolOutput, error) {
		return ws.CreateWorkspacesPool(ctx, &workspaces.CreateWorkspacesPoolInput{PoolName: aws.String(name), Description: aws.String("pool " + name),
			BundleId: aws.String(bundle), DirectoryId: aws.String(dir), Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(n)},
			RunningMode: mode, Tags: tags})
	}
	_, err := create("early", wstypes.PoolsRunningModeAutoStop, 2)
	wantCode(t, err, "ResourceNotFoundException") // directory not registered
	registerDir(t, ctx, ws, wstypes.WorkspaceTypePools)
	_, err = ws.CreateWorkspacesPool(ctx, &workspaces.CreateWorkspacesPoolInput{PoolName: aws.String("nob"), Description: aws.String("x"),
		BundleId: aws.String("wsb-00000000"), DirectoryId: aws.String(dir), Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(1)}})
	wantCode(t, err, "ResourceNotFoundException")
	p := must(create("team-a", wstypes.PoolsRunningModeAutoStop, 3))(t).WorkspacesPool
	if p.State != wstypes.WorkspacesPoolStateCreating || aws.ToString(p.PoolArn) != "arn:aws:workspaces:us-east-1:"+config.CustomerAccount+":workspacespool/"+aws.ToString(p.PoolId) {
		t.Fatalf("created pool %+v", p)
	}
	id := p.PoolId
	_, err = create("team-a", wstypes.PoolsRunningModeAutoStop, 1)
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = create("huge", wstypes.PoolsRunningModeAlwaysOn, int32(config.DefaultQuotas.Workspaces))
	wantCode(t, err, "ResourceLimitExceededException")
	describe := func() wstypes.WorkspacesPool {
		d := must(ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(id)}}))(t)
		if len(d.WorkspacesPools) != 1 {
			t.Fatalf("DescribeWorkspacesPools: %+v", d.WorkspacesPools)
		}
		return d.WorkspacesPools[0]
	}
	waitPool := func(state wstypes.WorkspacesPoolState) wstypes.WorkspacesPool {
		t.Helper()
		var last wstypes.WorkspacesPool
		testserver.Eventually(t, 30*time.Second, func() bool { last = describe(); return last.State == state }, "pool never %s (last %s)", state, last.State)
		return last
	}
	run := waitPool(wstypes.WorkspacesPoolStateRunning)
	if aws.ToInt32(run.CapacityStatus.ActualUserSessions) != 3 || aws.ToInt32(run.CapacityStatus.AvailableUserSessions) != 3 {
		t.Fatalf("running capacity %+v", run.CapacityStatus)
	}
	// The running mode changes only while STOPPED.
	_, err = ws.UpdateWorkspacesPool(ctx, &workspaces.UpdateWorkspacesPoolInput{PoolId: id, RunningMode: wstypes.PoolsRunningModeAlwaysOn})
	wantCode(t, err, "InvalidResourceStateException")
	_, err = ws.StartWorkspacesPool(ctx, &workspaces.StartWorkspacesPoolInput{PoolId: id})
	wantCode(t, err, "InvalidResourceStateException")
	up := must(ws.UpdateWorkspacesPool(ctx, &workspaces.UpdateWorkspacesPoolInput{PoolId: id, Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(5)},
		TimeoutSettings: &wstypes.TimeoutSettings{DisconnectTimeoutInSeconds: aws.Int32(120)}}))(t).WorkspacesPool
	if up.State != wstypes.WorkspacesPoolStateUpdating {
		t.Fatalf("updated pool state %s", up.State)
	}
	waitPool(wstypes.WorkspacesPoolStateRunning)
	must(ws.StopWorkspacesPool(ctx, &workspaces.StopWorkspacesPoolInput{PoolId: id}))(t)
	st := waitPool(wstypes.WorkspacesPoolStateStopped)
	if aws.ToInt32(st.CapacityStatus.DesiredUserSessions) != 5 || aws.ToInt32(st.CapacityStatus.ActualUserSessions) != 0 ||
		aws.ToInt32(st.TimeoutSettings.DisconnectTimeoutInSeconds) != 120 {
		t.Fatalf("stopped pool %+v %+v", st.CapacityStatus, st.TimeoutSettings)
	}
	must(ws.UpdateWorkspacesPool(ctx, &workspaces.UpdateWorkspacesPoolInput{PoolId: id, RunningMode: wstypes.PoolsRunningModeAlwaysOn}))(t)
	if describe().RunningMode != wstypes.PoolsRunningModeAlwaysOn {
		t.Fatal("running mode not changed")
	}
	_, err = ws.StartWorkspacesPool(ctx, &workspaces.StartWorkspacesPoolInput{PoolId: id})
	wantCode(t, err, "OperationNotSupportedException") // ALWAYS_ON pools are not started
	must(ws.UpdateWorkspacesPool(ctx, &workspaces.UpdateWorkspacesPoolInput{PoolId: id, RunningMode: wstypes.PoolsRunningModeAutoStop}))(t)
	must(ws.StartWorkspacesPool(ctx, &workspaces.StartWorkspacesPoolInput{PoolId: id}))(t)
	waitPool(wstypes.WorkspacesPoolStateRunning)
	sess := must(ws.DescribeWorkspacesPoolSessions(ctx, &workspaces.DescribeWorkspacesPoolSessionsInput{PoolId: id}))(t)
	if len(sess.Sessions) != 0 {
		t.Fatalf("sessions %+v", sess.Sessions)
	}
	_, err = ws.TerminateWorkspacesPoolSession(ctx, &workspaces.TerminateWorkspacesPoolSessionInput{SessionId: aws.String("00000000-0000-4000-8000-000000000000")})
	wantCode(t, err, "ResourceNotFoundException")
	wantResourceID(t, err, "00000000-0000-4000-8000-000000000000")
	// Filters by name.
	must(create("team-b", wstypes.PoolsRunningModeAlwaysOn, 1, wstypes.Tag{Key: aws.String("env"), Value: aws.String("prod")}))(t)
	f := must(ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{Filters: []wstypes.DescribeWorkspacesPoolsFilter{{
		Name: wstypes.DescribeWorkspacesPoolsFilterNamePoolname, Values: []string{"team-b"}, Operator: wstypes.DescribeWorkspacesPoolsFilterOperatorNotequals}}}))(t)
	if len(f.WorkspacesPools) != 1 || aws.ToString(f.WorkspacesPools[0].PoolName) != "team-a" {
		t.Fatalf("NOTEQUALS team-b = %+v", f.WorkspacesPools)
	}
	all := must(ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{Limit: aws.Int32(1)}))(t)
	if len(all.WorkspacesPools) != 1 || all.NextToken == nil {
		t.Fatalf("page 1 %+v", all)
	}
	// The limited user is denied pools tagged env=prod, allowed the others.
	limited := workspaces.NewFromConfig(s.Config(limitedKey, limitedSecret))
	var prod string
	for _, p := range must(ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{}))(t).WorkspacesPools {
		if aws.ToString(p.PoolName) == "team-b" {
			prod = aws.ToString(p.PoolId)
		}
	}
	_, err = limited.TerminateWorkspacesPool(ctx, &workspaces.TerminateWorkspacesPoolInput{PoolId: aws.String(prod)})
	wantCode(t, err, "AccessDeniedException")
	// Pools take tags through the tag operations too; a pool tagged env=prod later is denied as well.
	must(ws.CreateTags(ctx, &workspaces.CreateTagsInput{ResourceId: id, Tags: []wstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}))(t)
	if tl := must(ws.DescribeTags(ctx, &workspaces.DescribeTagsInput{ResourceId: id}))(t).TagList; len(tl) != 1 || aws.ToString(tl[0].Key) != "env" {
		t.Fatalf("pool tags %+v", tl)
	}
	_, err = limited.TerminateWorkspacesPool(ctx, &workspaces.TerminateWorkspacesPoolInput{PoolId: id})
	wantCode(t, err, "AccessDeniedException")
	must(ws.DeleteTags(ctx, &workspaces.DeleteTagsInput{ResourceId: id, TagKeys: []string{"env"}}))(t)
	must(limited.TerminateWorkspacesPool(ctx, &workspaces.TerminateWorkspacesPoolInput{PoolId: id}))(t)
	_, err = ws.StartWorkspacesPool(ctx, &workspaces.StartWorkspacesPoolInput{PoolId: id})
	if err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) || (ae.ErrorCode() != "OperationInProgressException" && ae.ErrorCode() != "ResourceNotFoundException") {
			t.Fatalf("start of a terminated pool: %v", err)
		}
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(id)}})
		return err == nil && len(d.WorkspacesPools) == 0
	}, "terminated pool still listed")
	_, err = ws.StopWorkspacesPool(ctx, &workspaces.StopWorkspacesPoolInput{PoolId: id})
	wantCode(t, err, "ResourceNotFoundException")
	// The name is free again.
	must(create("team-a", wstypes.PoolsRunningModeAutoStop, 1))(t)
	// The directory of a pool cannot be deregistered.
	_, err = ws.DeregisterWorkspaceDirectory(ctx, &workspaces.DeregisterWorkspaceDirectoryInput{DirectoryId: aws.String(dir)})
	wantCode(t, err, "OperationNotSupportedException")
}

func TestCustomImageImportAndUpdatedImage(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	infra := "arn:aws:imagebuilder:us-east-1:" + config.CustomerAccount + ":infrastructure-configuration/wks-import"
	in := func(ami string) *workspaces.ImportCustomWorkspaceImageInput {
		return &workspaces.ImportCustomWorkspaceImageInput{ImageName: aws.String("custom-win10"), ImageDescription: aws.String("custom import"),
			ComputeType: wstypes.ImageComputeTypeBase, Protocol: wstypes.CustomImageProtocolDcv, ImageSource: &wstypes.ImageSourceIdentifierMemberEc2ImageId{Value: ami},
			InfrastructureConfigurationArn: aws.String(infra), Platform: wstypes.PlatformWindows, OsVersion: wstypes.OSVersionWindows10}
	}
	// BYOL is needed first.
	_, err := ws.ImportCustomWorkspaceImage(ctx, in("ami-0123456789abcdef0"))
	wantCode(t, err, "AccessDeniedException")
	enableBYOL(t, ctx, ws)
	_, err = ws.ImportCustomWorkspaceImage(ctx, in("ami-0123456789abcdef0"))
	wantCode(t, err, "ResourceNotFoundException")
	ami := win10AMI(t, ctx, s)
	bad := in(ami)
	bad.InfrastructureConfigurationArn = aws.String("arn:aws:imagebuilder:us-west-2:" + config.CustomerAccount + ":infrastructure-configuration/x")
	_, err = ws.ImportCustomWorkspaceImage(ctx, bad)
	wantCode(t, err, "InvalidParameterValuesException")
	bad = in(ami)
	bad.ImageSource = &wstypes.ImageSourceIdentifierMemberEc2ImportTaskId{Value: "import-ami-0123456789abcdef0"}
	_, err = ws.ImportCustomWorkspaceImage(ctx, bad)
	wantCode(t, err, "ResourceNotFoundException")
	bad = in(ami)
	bad.OsVersion = wstypes.OSVersionWindows11
	_, err = ws.ImportCustomWorkspaceImage(ctx, bad)
	wantCode(t, err, "InvalidParameterValuesException")
	out := must(ws.ImportCustomWorkspaceImage(ctx, in(ami)))(t)
	if out.State != wstypes.CustomWorkspaceImageImportStatePending {
		t.Fatalf("state %s", out.State)
	}
	img := aws.ToString(out.ImageId)
	var d *workspaces.DescribeCustomWorkspaceImageImportOutput
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err = ws.DescribeCustomWorkspaceImageImport(ctx, &workspaces.DescribeCustomWorkspaceImageImportInput{ImageId: aws.String(img)})
		return err == nil && d.State == wstypes.CustomWorkspaceImageImportStateCompleted
	}, "import never COMPLETED")
	if aws.ToString(d.InfrastructureConfigurationArn) != infra || aws.ToInt32(d.ProgressPercentage) != 100 {
		t.Fatalf("import %+v", d)
	}
	imgs := must(ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{img}}))(t)
	if len(imgs.Images) != 1 || imgs.Images[0].State != wstypes.WorkspaceImageStateAvailable || imgs.Images[0].RequiredTenancy != wstypes.WorkspaceImageRequiredTenancyDedicated ||
		imgs.Images[0].Updates == nil || aws.ToBool(imgs.Images[0].Updates.UpdateAvailable) {
		t.Fatalf("imported image %+v", imgs.Images)
	}
	_, err = ws.DescribeCustomWorkspaceImageImport(ctx, &workspaces.DescribeCustomWorkspaceImageImportInput{ImageId: aws.String("wsi-000000000")})
	wantCode(t, err, "ResourceNotFoundException")
	// No image has updates available.
	_, err = ws.CreateUpdatedWorkspaceImage(ctx, &workspaces.CreateUpdatedWorkspaceImageInput{Name: aws.String("upd"), Description: aws.String("updated"), SourceImageId: aws.String(img)})
	wantCode(t, err, "OperationNotSupportedException")
	_, err = ws.CreateUpdatedWorkspaceImage(ctx, &workspaces.CreateUpdatedWorkspaceImageInput{Name: aws.String("upd"), Description: aws.String("updated"), SourceImageId: aws.String("wsi-000000000")})
	wantCode(t, err, "ResourceNotFoundException")
}

func enableBYOL(t *testing.T, ctx context.Context, ws *workspaces.Client) {
	t.Helper()
	r := must(ws.ListAvailableManagementCidrRanges(ctx, &workspaces.ListAvailableManagementCidrRangesInput{ManagementCidrRangeConstraint: aws.String("192.168.0.0/16")}))(t)
	must(ws.ModifyAccount(ctx, &workspaces.ModifyAccountInput{DedicatedTenancySupport: wstypes.DedicatedTenancySupportEnumEnabled,
		DedicatedTenancyManagementCidrRange: aws.String(r.ManagementCidrRanges[0])}))(t)
	testserver.Eventually(t, 30*time.Second, func() bool {
		a, err := ws.DescribeAccount(ctx, &workspaces.DescribeAccountInput{})
		return err == nil && a.DedicatedTenancySupport == wstypes.DedicatedTenancySupportResultEnumEnabled
	}, "BYOL never ENABLED")
}

func TestStandbyWorkspaces(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	east := workspaces.NewFromConfig(s.Admin("us-east-1"))
	west := workspaces.NewFromConfig(s.Admin("us-west-2"))
	bundle := publicBundle(t, ctx, east)
	dirEast := registerDir(t, ctx, east, wstypes.WorkspaceTypePersonal)
	dirWest := registerDir(t, ctx, west, wstypes.WorkspaceTypePersonal)
	primary := createDesktop(t, ctx, east, dirEast, bundle)

	_, err := west.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-west-2"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: aws.String(primary), DirectoryId: aws.String(dirWest)}}})
	wantCode(t, err, "InvalidParameterValuesException")
	out := must(west.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-east-1"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{
			{PrimaryWorkspaceId: aws.String(primary), DirectoryId: aws.String(dirWest), DataReplication: wstypes.DataReplicationPrimaryAsSource},
			{PrimaryWorkspaceId: aws.String("ws-000000000"), DirectoryId: aws.String(dirWest)},
		}}))(t)
	if len(out.PendingStandbyRequests) != 1 || len(out.FailedStandbyRequests) != 1 ||
		aws.ToString(out.FailedStandbyRequests[0].ErrorCode) != "ResourceNotFoundException" {
		t.Fatalf("CreateStandbyWorkspaces = %+v", out)
	}
	pend := out.PendingStandbyRequests[0]
	if aws.ToString(pend.UserName) != "alice" || aws.ToString(pend.DirectoryId) != dirWest || pend.State != wstypes.WorkspaceStatePending {
		t.Fatalf("pending %+v", pend)
	}
	standby := aws.ToString(pend.WorkspaceId)
	sw := waitDesktop(t, ctx, west, standby, wstypes.WorkspaceStateAvailable)
	if len(sw.RelatedWorkspaces) != 1 || aws.ToString(sw.RelatedWorkspaces[0].WorkspaceId) != primary ||
		aws.ToString(sw.RelatedWorkspaces[0].Region) != "us-east-1" || sw.RelatedWorkspaces[0].Type != wstypes.StandbyWorkspaceRelationshipTypePrimary ||
		sw.RelatedWorkspaces[0].State != wstypes.WorkspaceStateAvailable || sw.DataReplicationSettings == nil ||
		sw.DataReplicationSettings.DataReplication != wstypes.DataReplicationPrimaryAsSource || aws.ToString(sw.BundleId) != bundle {
		t.Fatalf("standby %+v", sw)
	}
	pw := waitDesktop(t, ctx, east, primary, wstypes.WorkspaceStateAvailable)
	if len(pw.RelatedWorkspaces) != 1 || aws.ToString(pw.RelatedWorkspaces[0].WorkspaceId) != standby ||
		pw.RelatedWorkspaces[0].Type != wstypes.StandbyWorkspaceRelationshipTypeStandby || aws.ToString(pw.RelatedWorkspaces[0].Region) != "us-west-2" ||
		len(pw.StandbyWorkspacesProperties) != 1 || aws.ToString(pw.StandbyWorkspacesProperties[0].StandbyWorkspaceId) != standby {
		t.Fatalf("primary %+v", pw)
	}
	// One standby per primary; a standby cannot have one.
	again := must(west.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-east-1"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: aws.String(primary), DirectoryId: aws.String(dirWest)}}}))(t)
	if len(again.FailedStandbyRequests) != 1 || aws.ToString(again.FailedStandbyRequests[0].ErrorCode) != "ResourceAlreadyExistsException" {
		t.Fatalf("second standby %+v", again)
	}
	back := must(east.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-west-2"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: aws.String(standby), DirectoryId: aws.String(dirEast)}}}))(t)
	if len(back.FailedStandbyRequests) != 1 || aws.ToString(back.FailedStandbyRequests[0].ErrorCode) != "OperationNotSupportedException" {
		t.Fatalf("standby of a standby %+v", back)
	}
	// A custom bundle is mirrored to the standby's Region with its image.
	img := aws.ToString(must(east.CreateWorkspaceImage(ctx, &workspaces.CreateWorkspaceImageInput{Name: aws.String("team-image"), Description: aws.String("team image"), WorkspaceId: aws.String(primary)}))(t).ImageId)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := east.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{img}})
		return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
	}, "image never AVAILABLE")
	custom := aws.ToString(must(east.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("team-bundle"), BundleDescription: aws.String("team"),
		ImageId: aws.String(img), ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeStandard},
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("80")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("50")}}))(t).WorkspaceBundle.BundleId)
	cw := must(east.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(dirEast), UserName: aws.String("bob"), BundleId: aws.String(custom)}}}))(t)
	if len(cw.FailedRequests) > 0 {
		t.Fatalf("bob's desktop: %s", aws.ToString(cw.FailedRequests[0].ErrorMessage))
	}
	bobs := aws.ToString(cw.PendingRequests[0].WorkspaceId)
	waitDesktop(t, ctx, east, bobs, wstypes.WorkspaceStateAvailable)
	ms := must(west.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-east-1"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: aws.String(bobs), DirectoryId: aws.String(dirWest)}}}))(t)
	if len(ms.PendingStandbyRequests) != 1 {
		t.Fatalf("standby of a custom-bundle desktop: %+v", ms.FailedStandbyRequests)
	}
	bsw := waitDesktop(t, ctx, west, aws.ToString(ms.PendingStandbyRequests[0].WorkspaceId), wstypes.WorkspaceStateAvailable)
	wb := must(west.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{BundleIds: []string{aws.ToString(bsw.BundleId)}}))(t)
	if aws.ToString(bsw.BundleId) == custom || len(wb.Bundles) != 1 || aws.ToString(wb.Bundles[0].Name) != "team-bundle" {
		t.Fatalf("mirrored bundle %s: %+v", aws.ToString(bsw.BundleId), wb.Bundles)
	}
	wi := must(west.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{aws.ToString(wb.Bundles[0].ImageId)}}))(t)
	if len(wi.Images) != 1 || aws.ToString(wi.Images[0].Name) != "team-image" || wi.Images[0].State != wstypes.WorkspaceImageStateAvailable {
		t.Fatalf("mirrored image %+v", wi.Images)
	}

	// The limited user is denied nothing here; a Region mismatch is refused for it too.
	_, err = workspaces.NewFromConfig(s.Config(limitedKey, limitedSecret, "us-west-2")).CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{
		PrimaryRegion: aws.String("xx-none-1"), StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: aws.String(primary), DirectoryId: aws.String(dirWest)}}})
	wantCode(t, err, "InvalidParameterValuesException")
}

// TestImageSharingAcrossAccounts: an image shared with the partner account
// is visible (ImageType SHARED) and usable for CreateWorkspaceBundle there,
// in its Region only, and not after it is unshared.
func TestImageSharingAcrossAccounts(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	cust := workspaces.NewFromConfig(s.Admin())
	part := workspaces.NewFromConfig(s.Partner())
	partWest := workspaces.NewFromConfig(s.Partner("us-west-2"))
	bundle := publicBundle(t, ctx, cust)
	dir := registerDir(t, ctx, cust, wstypes.WorkspaceTypePersonal)
	w := createDesktop(t, ctx, cust, dir, bundle)
	img := aws.ToString(must(cust.CreateWorkspaceImage(ctx, &workspaces.CreateWorkspaceImageInput{Name: aws.String("golden"), Description: aws.String("golden image"), WorkspaceId: aws.String(w)}))(t).ImageId)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := cust.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{img}})
		return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
	}, "image never AVAILABLE")
	newBundle := func(c *workspaces.Client) error {
		_, err := c.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("from-shared"), BundleDescription: aws.String("from a shared image"),
			ImageId: aws.String(img), ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeStandard},
			RootStorage: &wstypes.RootStorage{Capacity: aws.String("80")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("50")}})
		return err
	}
	if err := newBundle(part); err == nil {
		t.Fatal("the partner made a bundle of an image not shared with it")
	}
	must(cust.UpdateWorkspaceImagePermission(ctx, &workspaces.UpdateWorkspaceImagePermissionInput{ImageId: aws.String(img), AllowCopyImage: aws.Bool(true), SharedAccountId: aws.String(config.PartnerAccount)}))(t)
	perms := must(cust.DescribeWorkspaceImagePermissions(ctx, &workspaces.DescribeWorkspaceImagePermissionsInput{ImageId: aws.String(img)}))(t)
	if len(perms.ImagePermissions) != 1 || aws.ToString(perms.ImagePermissions[0].SharedAccountId) != config.PartnerAccount {
		t.Fatalf("permissions %+v", perms.ImagePermissions)
	}
	shared := must(part.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageType: wstypes.ImageTypeShared}))(t)
	if len(shared.Images) != 1 || aws.ToString(shared.Images[0].ImageId) != img || aws.ToString(shared.Images[0].OwnerAccountId) != config.CustomerAccount {
		t.Fatalf("partner's SHARED images %+v", shared.Images)
	}
	if own := must(part.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageType: wstypes.ImageTypeOwned}))(t); len(own.Images) != 0 {
		t.Fatalf("partner's OWNED images %+v", own.Images)
	}
	if west := must(partWest.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageType: wstypes.ImageTypeShared}))(t); len(west.Images) != 0 {
		t.Fatalf("shared image visible in another Region: %+v", west.Images)
	}
	// The recipient copies the shared image before using it in a bundle
	// [AG:share-custom-image]; the copy is its own, usable at once.
	err := newBundle(part)
	wantCode(t, err, "InvalidParameterValuesException")
	cp := aws.ToString(must(part.CopyWorkspaceImage(ctx, &workspaces.CopyWorkspaceImageInput{Name: aws.String("golden-copy"),
		SourceImageId: aws.String(img), SourceRegion: aws.String("us-east-1")}))(t).ImageId)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := part.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{cp}})
		return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
	}, "copy never AVAILABLE")
	img = cp
	if err := newBundle(part); err != nil {
		t.Fatalf("bundle from the copy of the shared image: %v", err)
	}
	img = aws.ToString(perms.ImageId)
	// Only the owner sees and changes the permissions.
	_, err = part.DescribeWorkspaceImagePermissions(ctx, &workspaces.DescribeWorkspaceImagePermissionsInput{ImageId: aws.String(img)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = part.UpdateWorkspaceImagePermission(ctx, &workspaces.UpdateWorkspaceImagePermissionInput{ImageId: aws.String(img), AllowCopyImage: aws.Bool(true), SharedAccountId: aws.String(config.CustomerAccount)})
	wantCode(t, err, "OperationNotSupportedException")
	// Unshared, the image is no longer visible to the partner.
	must(cust.UpdateWorkspaceImagePermission(ctx, &workspaces.UpdateWorkspaceImagePermissionInput{ImageId: aws.String(img), AllowCopyImage: aws.Bool(false), SharedAccountId: aws.String(config.PartnerAccount)}))(t)
	if sh := must(part.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageType: wstypes.ImageTypeShared}))(t); len(sh.Images) != 0 {
		t.Fatalf("unshared image still visible: %+v", sh.Images)
	}
}

// win10AMI returns the customer account's Windows 10 AMI in us-east-1.
func win10AMI(t *testing.T, ctx context.Context, s *testserver.Server) string {
	t.Helper()
	imgs := must(ec2.NewFromConfig(s.Admin()).DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"win10-*"}}}}))(t)
	if len(imgs.Images) != 1 {
		t.Fatalf("win10 AMIs: %d", len(imgs.Images))
	}
	return aws.ToString(imgs.Images[0].ImageId)
}

// TestPoolStepsOnTheVirtualClock: under the fast profile on a frozen
// virtual clock a pool stays CREATING, and calls on it are
// OperationInProgressException, until the clock passes the step.
func TestPoolStepsOnTheVirtualClock(t *testing.T) {
	s := start(t, testserver.Timing("fast"), testserver.VirtualClock())
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	bundle := publicBundle(t, ctx, ws)
	dirs := must(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{}))(t)
	dir := aws.ToString(dirs.Directories[0].DirectoryId)
	must(ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(dir), WorkspaceType: wstypes.WorkspaceTypePools}))(t)
	s.Advance(time.Hour)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{dir}})
		return err == nil && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
	}, "directory never REGISTERED")
	p := must(ws.CreateWorkspacesPool(ctx, &workspaces.CreateWorkspacesPoolInput{PoolName: aws.String("slow"), Description: aws.String("slow"),
		BundleId: aws.String(bundle), DirectoryId: aws.String(dir), Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(1)}}))(t).WorkspacesPool
	for _, call := range []func() error{
		func() error {
			_, err := ws.StopWorkspacesPool(ctx, &workspaces.StopWorkspacesPoolInput{PoolId: p.PoolId})
			return err
		},
		func() error {
			_, err := ws.UpdateWorkspacesPool(ctx, &workspaces.UpdateWorkspacesPoolInput{PoolId: p.PoolId, Description: aws.String("x")})
			return err
		},
		func() error {
			_, err := ws.TerminateWorkspacesPool(ctx, &workspaces.TerminateWorkspacesPoolInput{PoolId: p.PoolId})
			return err
		},
	} {
		wantCode(t, call(), "OperationInProgressException")
	}
	d := must(ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(p.PoolId)}}))(t)
	if d.WorkspacesPools[0].State != wstypes.WorkspacesPoolStateCreating || aws.ToInt32(d.WorkspacesPools[0].CapacityStatus.ActualUserSessions) != 0 {
		t.Fatalf("pool before the step: %+v", d.WorkspacesPools[0])
	}
	s.Advance(time.Hour)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(p.PoolId)}})
		return err == nil && d.WorkspacesPools[0].State == wstypes.WorkspacesPoolStateRunning
	}, "pool never RUNNING after the clock moved")
}

// TestFamiliesSurviveRestart: account links, add-ins and pools are in the
// store, not in memory: a server started again on the same data directory
// has them as they were.
func TestFamiliesSurviveRestart(t *testing.T) {
	dataDir := t.TempDir()
	ctx := ctxT(t)
	s := start(t, testserver.DataDir(dataDir))
	ws := workspaces.NewFromConfig(s.Admin())
	link := must(ws.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.PartnerAccount)}))(t).AccountLink
	must(workspaces.NewFromConfig(s.Partner()).AcceptAccountLinkInvitation(ctx, &workspaces.AcceptAccountLinkInvitationInput{LinkId: link.AccountLinkId}))(t)
	dir := registerDir(t, ctx, ws, wstypes.WorkspaceTypePools)
	addIn := aws.ToString(must(ws.CreateConnectClientAddIn(ctx, &workspaces.CreateConnectClientAddInInput{ResourceId: aws.String(dir), Name: aws.String("c"), URL: aws.String("https://c.example/")}))(t).AddInId)
	pool := must(ws.CreateWorkspacesPool(ctx, &workspaces.CreateWorkspacesPoolInput{PoolName: aws.String("durable"), Description: aws.String("durable"),
		BundleId: aws.String(publicBundle(t, ctx, ws)), DirectoryId: aws.String(dir), Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(4)}}))(t).WorkspacesPool
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(pool.PoolId)}})
		return err == nil && len(d.WorkspacesPools) == 1 && d.WorkspacesPools[0].State == wstypes.WorkspacesPoolStateRunning
	}, "pool never RUNNING")
	s.Shutdown(ctx)

	s2 := start(t, testserver.DataDir(dataDir))
	ws2 := workspaces.NewFromConfig(s2.Admin())
	g := must(ws2.GetAccountLink(ctx, &workspaces.GetAccountLinkInput{LinkId: link.AccountLinkId}))(t)
	if g.AccountLink.AccountLinkStatus != wstypes.AccountLinkStatusEnumLinked {
		t.Fatalf("link after restart %+v", g.AccountLink)
	}
	a := must(ws2.DescribeConnectClientAddIns(ctx, &workspaces.DescribeConnectClientAddInsInput{ResourceId: aws.String(dir)}))(t)
	if len(a.AddIns) != 1 || aws.ToString(a.AddIns[0].AddInId) != addIn {
		t.Fatalf("add-ins after restart %+v", a.AddIns)
	}
	p := must(ws2.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(pool.PoolId)}}))(t)
	if len(p.WorkspacesPools) != 1 || p.WorkspacesPools[0].State != wstypes.WorkspacesPoolStateRunning || aws.ToInt32(p.WorkspacesPools[0].CapacityStatus.DesiredUserSessions) != 4 {
		t.Fatalf("pool after restart %+v", p.WorkspacesPools)
	}
}

// TestCreateWorkspacesRefusesIPv6Address: an Ipv6Address the directory's
// IPv4-only subnets cannot hold fails the request's item, not silently.
func TestCreateWorkspacesRefusesIPv6Address(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	dir := registerDir(t, ctx, ws, wstypes.WorkspaceTypePersonal)
	out := must(ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(dir), UserName: aws.String("alice"), BundleId: aws.String(publicBundle(t, ctx, ws)),
		Ipv6Address: aws.String("2001:db8::10")}}}))(t)
	if len(out.PendingRequests) != 0 || len(out.FailedRequests) != 1 || aws.ToString(out.FailedRequests[0].ErrorCode) != "InvalidParameterValuesException" ||
		!strings.Contains(aws.ToString(out.FailedRequests[0].ErrorMessage), "IPv6") {
		t.Fatalf("CreateWorkspaces with an Ipv6Address: %+v", out)
	}
}

// wantResourceID checks that a ResourceNotFoundException names the
// resource in its ResourceId member, as the API reference shows.
func wantResourceID(t *testing.T, err error, id string) {
	t.Helper()
	var nf *wstypes.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.ResourceId) != id {
		t.Fatalf("want ResourceNotFoundException with ResourceId %s, got %v", id, err)
	}
}

// TestStandbyRecoverySnapshotTime: a standby with data replication
// (PRIMARY_AS_SOURCE) reports on both sides the time of the primary's last
// user-volume snapshot taken since replication began (RecoverySnapshotTime),
// which follows the primary's snapshots on the virtual clock.
func TestStandbyRecoverySnapshotTime(t *testing.T) {
	s := start(t, testserver.Timing("fast"), testserver.VirtualClock())
	ctx := ctxT(t)
	east := workspaces.NewFromConfig(s.Admin("us-east-1"))
	west := workspaces.NewFromConfig(s.Admin("us-west-2"))
	tick := func() { s.Advance(5 * time.Minute) }
	reg := func(ws *workspaces.Client) string {
		id := aws.ToString(must(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{}))(t).Directories[0].DirectoryId)
		must(ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(id), WorkspaceType: wstypes.WorkspaceTypePersonal}))(t)
		testserver.Eventually(t, 30*time.Second, func() bool {
			tick()
			d, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
			return err == nil && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
		}, "directory never REGISTERED")
		return id
	}
	desktop := func(ws *workspaces.Client, id string) wstypes.Workspace {
		d := must(ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}}))(t)
		if len(d.Workspaces) != 1 {
			t.Fatalf("desktop %s: %+v", id, d.Workspaces)
		}
		return d.Workspaces[0]
	}
	available := func(ws *workspaces.Client, id string) {
		testserver.Eventually(t, 30*time.Second, func() bool { tick(); return desktop(ws, id).State == wstypes.WorkspaceStateAvailable }, "%s never AVAILABLE", id)
	}
	dirEast, dirWest := reg(east), reg(west)
	cw := must(east.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(dirEast), UserName: aws.String("alice"), BundleId: aws.String(publicBundle(t, ctx, east))}}}))(t)
	primary := aws.ToString(cw.PendingRequests[0].WorkspaceId)
	available(east, primary)
	out := must(west.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-east-1"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: aws.String(primary), DirectoryId: aws.String(dirWest), DataReplication: wstypes.DataReplicationPrimaryAsSource}}}))(t)
	standby := aws.ToString(out.PendingStandbyRequests[0].WorkspaceId)
	began := must(east.DescribeWorkspaceSnapshots(ctx, &workspaces.DescribeWorkspaceSnapshotsInput{WorkspaceId: aws.String(primary)}))(t).RebuildSnapshots
	available(west, standby)
	// Past two of the primary's snapshot intervals, a snapshot since the
	// standby was asked for exists.
	s.Advance(25 * time.Hour)
	snaps := must(east.DescribeWorkspaceSnapshots(ctx, &workspaces.DescribeWorkspaceSnapshotsInput{WorkspaceId: aws.String(primary)}))(t).RebuildSnapshots
	if len(snaps) == 0 {
		t.Fatal("the primary has no user-volume snapshot after 25 hours")
	}
	last := aws.ToTime(snaps[len(snaps)-1].SnapshotTime)
	if len(began) > 0 && !last.After(aws.ToTime(began[len(began)-1].SnapshotTime)) {
		t.Fatalf("no snapshot since replication began: %v then %v", began, snaps)
	}
	sw, pw := desktop(west, standby), desktop(east, primary)
	if sw.DataReplicationSettings == nil || !aws.ToTime(sw.DataReplicationSettings.RecoverySnapshotTime).Equal(last) {
		t.Fatalf("the standby's DataReplicationSettings: %+v, want RecoverySnapshotTime %v", sw.DataReplicationSettings, last)
	}
	if len(pw.StandbyWorkspacesProperties) != 1 || !aws.ToTime(pw.StandbyWorkspacesProperties[0].RecoverySnapshotTime).Equal(last) {
		t.Fatalf("the primary's StandbyWorkspacesProperties: %+v, want RecoverySnapshotTime %v", pw.StandbyWorkspacesProperties, last)
	}
}
