package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// familyOps are the WorkSpaces operations of account links, Connect client
// add-ins, applications, pools, custom images and standby WorkSpaces.
var familyOps = []string{
	"CreateAccountLinkInvitation", "AcceptAccountLinkInvitation", "RejectAccountLinkInvitation", "DeleteAccountLinkInvitation",
	"GetAccountLink", "ListAccountLinks",
	"CreateConnectClientAddIn", "DescribeConnectClientAddIns", "UpdateConnectClientAddIn", "DeleteConnectClientAddIn",
	"DescribeApplications", "DescribeApplicationAssociations", "DescribeImageAssociations", "DescribeWorkspaceAssociations",
	"DescribeBundleAssociations", "AssociateWorkspaceApplication", "DisassociateWorkspaceApplication", "DeployWorkspaceApplications",
	"CreateWorkspacesPool", "DescribeWorkspacesPools", "UpdateWorkspacesPool", "StartWorkspacesPool", "StopWorkspacesPool",
	"TerminateWorkspacesPool", "DescribeWorkspacesPoolSessions", "TerminateWorkspacesPoolSession",
	"ImportCustomWorkspaceImage", "DescribeCustomWorkspaceImageImport", "CreateUpdatedWorkspaceImage",
	"CreateStandbyWorkspaces",
}

// TestWorkspacesFamiliesConformance drives every operation of the families
// through a recording proxy, successes and errors, and checks each
// response body against botocore's model.
func TestWorkspacesFamiliesConformance(t *testing.T) {
	m := awsmodel.LoadOrSkip(t, "workspaces")
	s := testserver.Start(t, testserver.Timing("instant"))
	rec := newRecorder(t, s.URL)
	ctx := ctxT(t)
	cust := workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, config.AdminKeyID, config.AdminSecret, ""))
	west := workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, config.AdminKeyID, config.AdminSecret, "", "us-west-2"))
	part := workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, config.PartnerKeyID, config.PartnerSecret, ""))
	ign := func(_ any, _ error) {}
	mustOK := func(what string, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Account links.
	l, err := cust.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.PartnerAccount)})
	mustOK("CreateAccountLinkInvitation", l, err)
	ign(cust.CreateAccountLinkInvitation(ctx, &workspaces.CreateAccountLinkInvitationInput{TargetAccountId: aws.String(config.PartnerAccount)}))
	ign(part.GetAccountLink(ctx, &workspaces.GetAccountLinkInput{LinkId: l.AccountLink.AccountLinkId}))
	ign(part.GetAccountLink(ctx, &workspaces.GetAccountLinkInput{}))
	ign(part.ListAccountLinks(ctx, &workspaces.ListAccountLinksInput{}))
	ign(part.RejectAccountLinkInvitation(ctx, &workspaces.RejectAccountLinkInvitationInput{LinkId: aws.String("link-notthere")}))
	ign(cust.AcceptAccountLinkInvitation(ctx, &workspaces.AcceptAccountLinkInvitationInput{LinkId: l.AccountLink.AccountLinkId}))
	ign(part.AcceptAccountLinkInvitation(ctx, &workspaces.AcceptAccountLinkInvitationInput{LinkId: l.AccountLink.AccountLinkId}))
	ign(part.RejectAccountLinkInvitation(ctx, &workspaces.RejectAccountLinkInvitationInput{LinkId: l.AccountLink.AccountLinkId}))
	ign(cust.DeleteAccountLinkInvitation(ctx, &workspaces.DeleteAccountLinkInvitationInput{LinkId: l.AccountLink.AccountLinkId}))

	// Directories (POOLS in us-east-1, PERSONAL in us-west-2).
	regDir := func(c *workspaces.Client, typ wstypes.WorkspaceType) string {
		d, err := c.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
		mustOK("DescribeWorkspaceDirectories", d, err)
		id := aws.ToString(d.Directories[0].DirectoryId)
		r, err := c.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(id), WorkspaceType: typ})
		mustOK("RegisterWorkspaceDirectory", r, err)
		testserver.Eventually(t, 30*time.Second, func() bool {
			d, err := c.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
			return err == nil && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
		}, "directory never registered")
		return id
	}
	dir := regDir(cust, wstypes.WorkspaceTypePools)
	dirWest := regDir(west, wstypes.WorkspaceTypePersonal)

	// Add-ins.
	a, err := cust.CreateConnectClientAddIn(ctx, &workspaces.CreateConnectClientAddInInput{ResourceId: aws.String(dir), Name: aws.String("c"), URL: aws.String("https://c.example/")})
	mustOK("CreateConnectClientAddIn", a, err)
	ign(cust.CreateConnectClientAddIn(ctx, &workspaces.CreateConnectClientAddInInput{ResourceId: aws.String(dir), Name: aws.String("c"), URL: aws.String("https://c.example/")}))
	ign(cust.DescribeConnectClientAddIns(ctx, &workspaces.DescribeConnectClientAddInsInput{ResourceId: aws.String(dir)}))
	ign(cust.UpdateConnectClientAddIn(ctx, &workspaces.UpdateConnectClientAddInInput{ResourceId: aws.String(dir), AddInId: a.AddInId, URL: aws.String("http://d.example/")}))
	ign(cust.DeleteConnectClientAddIn(ctx, &workspaces.DeleteConnectClientAddInInput{ResourceId: aws.String(dir), AddInId: a.AddInId}))
	ign(cust.DeleteConnectClientAddIn(ctx, &workspaces.DeleteConnectClientAddInInput{ResourceId: aws.String(dir), AddInId: a.AddInId}))

	// Pools.
	var bundle string
	bs, err := cust.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{Owner: aws.String("AMAZON")})
	mustOK("DescribeWorkspaceBundles", bs, err)
	for _, b := range bs.Bundles {
		if strings.HasSuffix(aws.ToString(b.Name), "with Windows 10 (Server 2022 based)") {
			bundle = aws.ToString(b.BundleId)
		}
	}
	p, err := cust.CreateWorkspacesPool(ctx, &workspaces.CreateWorkspacesPoolInput{PoolName: aws.String("conf"), Description: aws.String("conformance"),
		BundleId: aws.String(bundle), DirectoryId: aws.String(dir), Capacity: &wstypes.Capacity{DesiredUserSessions: aws.Int32(2)},
		ApplicationSettings: &wstypes.ApplicationSettingsRequest{Status: wstypes.ApplicationSettingsStatusEnumEnabled, SettingsGroup: aws.String("grp")}})
	mustOK("CreateWorkspacesPool", p, err)
	id := p.WorkspacesPool.PoolId
	ign(cust.StartWorkspacesPool(ctx, &workspaces.StartWorkspacesPoolInput{PoolId: id}))
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := cust.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{aws.ToString(id)}})
		return err == nil && len(d.WorkspacesPools) == 1 && d.WorkspacesPools[0].State == wstypes.WorkspacesPoolStateRunning
	}, "pool never RUNNING")
	ign(cust.UpdateWorkspacesPool(ctx, &workspaces.UpdateWorkspacesPoolInput{PoolId: id, Description: aws.String("changed")}))
	ign(cust.StopWorkspacesPool(ctx, &workspaces.StopWorkspacesPoolInput{PoolId: id}))
	ign(cust.DescribeWorkspacesPoolSessions(ctx, &workspaces.DescribeWorkspacesPoolSessionsInput{PoolId: id}))
	ign(cust.TerminateWorkspacesPoolSession(ctx, &workspaces.TerminateWorkspacesPoolSessionInput{SessionId: aws.String("00000000-0000-4000-8000-000000000000")}))
	ign(cust.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{}))
	ign(cust.TerminateWorkspacesPool(ctx, &workspaces.TerminateWorkspacesPoolInput{PoolId: aws.String("wspool-000000000")}))
	ign(cust.TerminateWorkspacesPool(ctx, &workspaces.TerminateWorkspacesPoolInput{PoolId: id}))

	// Applications.
	ign(cust.DescribeApplications(ctx, &workspaces.DescribeApplicationsInput{}))
	ign(cust.DescribeApplicationAssociations(ctx, &workspaces.DescribeApplicationAssociationsInput{ApplicationId: aws.String("wsa-12345678"),
		AssociatedResourceTypes: []wstypes.ApplicationAssociatedResourceType{wstypes.ApplicationAssociatedResourceTypeBundle}}))
	ign(cust.DescribeBundleAssociations(ctx, &workspaces.DescribeBundleAssociationsInput{BundleId: aws.String(bundle),
		AssociatedResourceTypes: []wstypes.BundleAssociatedResourceType{wstypes.BundleAssociatedResourceTypeApplication}}))
	ign(cust.DescribeImageAssociations(ctx, &workspaces.DescribeImageAssociationsInput{ImageId: aws.String("wsi-000000000"),
		AssociatedResourceTypes: []wstypes.ImageAssociatedResourceType{wstypes.ImageAssociatedResourceTypeApplication}}))

	// Standby: a primary in us-west-2 (personal directory), its standby asked for in us-east-1 (a pools directory: refused).
	cw, err := west.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(dirWest), UserName: aws.String("bob"), BundleId: aws.String(bundle)}}})
	mustOK("CreateWorkspaces", cw, err)
	wid := cw.PendingRequests[0].WorkspaceId
	ign(west.DescribeWorkspaceAssociations(ctx, &workspaces.DescribeWorkspaceAssociationsInput{WorkspaceId: wid,
		AssociatedResourceTypes: []wstypes.WorkSpaceAssociatedResourceType{wstypes.WorkSpaceAssociatedResourceTypeApplication}}))
	ign(west.AssociateWorkspaceApplication(ctx, &workspaces.AssociateWorkspaceApplicationInput{WorkspaceId: wid, ApplicationId: aws.String("wsa-12345678")}))
	ign(west.DisassociateWorkspaceApplication(ctx, &workspaces.DisassociateWorkspaceApplicationInput{WorkspaceId: wid, ApplicationId: aws.String("wsa-12345678")}))
	ign(west.DeployWorkspaceApplications(ctx, &workspaces.DeployWorkspaceApplicationsInput{WorkspaceId: wid}))
	ign(cust.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-west-2"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: wid, DirectoryId: aws.String(dir)}, {PrimaryWorkspaceId: aws.String("ws-000000000"), DirectoryId: aws.String(dir)}}}))
	ign(cust.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{PrimaryRegion: aws.String("us-east-1"),
		StandbyWorkspaces: []wstypes.StandbyWorkspace{{PrimaryWorkspaceId: wid, DirectoryId: aws.String(dir)}}}))

	// Custom images.
	ign(cust.ImportCustomWorkspaceImage(ctx, &workspaces.ImportCustomWorkspaceImageInput{ImageName: aws.String("ci"), ImageDescription: aws.String("ci"),
		ComputeType: wstypes.ImageComputeTypeBase, Protocol: wstypes.CustomImageProtocolDcv, ImageSource: &wstypes.ImageSourceIdentifierMemberEc2ImageId{Value: "ami-0123456789abcdef0"},
		InfrastructureConfigurationArn: aws.String("arn:aws:imagebuilder:us-east-1:" + config.CustomerAccount + ":infrastructure-configuration/x"),
		Platform:                       wstypes.PlatformWindows, OsVersion: wstypes.OSVersionWindows10}))
	ign(cust.DescribeCustomWorkspaceImageImport(ctx, &workspaces.DescribeCustomWorkspaceImageImportInput{ImageId: aws.String("wsi-000000000")}))
	ign(cust.CreateUpdatedWorkspaceImage(ctx, &workspaces.CreateUpdatedWorkspaceImageInput{Name: aws.String("u"), Description: aws.String("u"), SourceImageId: aws.String("wsi-000000000")}))

	seen := map[string]bool{}
	var problems []string
	for _, x := range rec.exchanges() {
		if x.Service != "workspaces" || !slices.Contains(familyOps, x.Op) {
			continue
		}
		seen[x.Op] = true
		for _, q := range checkExchange(t, m, x) {
			problems = append(problems, x.Op+": "+q)
		}
	}
	for _, op := range familyOps {
		if !seen[op] {
			problems = append(problems, op+": never called")
		}
	}
	sort.Strings(problems)
	for _, p := range slices.Compact(problems) {
		t.Error(p)
	}
	conformanceDone(t)
}

// TestCLIWorkspacesFamilies runs the unmodified AWS CLI through an account
// link, a pool's lifecycle and an add-in.
func TestCLIWorkspacesFamilies(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the aws CLI is not on PATH")
	}
	s := testserver.Start(t, testserver.Timing("instant"))
	// Each CLI run starts a Python interpreter (seconds on a loaded machine).
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	aws1 := func(key, secret string, args ...string) map[string]any {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", s.URL, "--output", "json", "workspaces"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_DEFAULT_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws workspaces %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		v := map[string]any{}
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws workspaces %s: %v\n%s", args[0], err, out)
			}
		}
		return v
	}
	cust := func(args ...string) map[string]any { return aws1(config.AdminKeyID, config.AdminSecret, args...) }
	part := func(args ...string) map[string]any { return aws1(config.PartnerKeyID, config.PartnerSecret, args...) }

	link := cust("create-account-link-invitation", "--target-account-id", config.PartnerAccount)["AccountLink"].(map[string]any)
	id := link["AccountLinkId"].(string)
	acc := part("accept-account-link-invitation", "--link-id", id)["AccountLink"].(map[string]any)
	if acc["AccountLinkStatus"] != "LINKED" {
		t.Fatalf("accepted link %v", acc)
	}
	links := cust("list-account-links", "--link-status-filter", "LINKED")["AccountLinks"].([]any)
	if len(links) != 1 {
		t.Fatalf("list-account-links %v", links)
	}

	dirs := cust("describe-workspace-directories")["Directories"].([]any)
	dir := dirs[0].(map[string]any)["DirectoryId"].(string)
	cust("register-workspace-directory", "--directory-id", dir, "--workspace-type", "POOLS")
	testserver.Eventually(t, 30*time.Second, func() bool {
		d := cust("describe-workspace-directories", "--directory-ids", dir)["Directories"].([]any)
		return d[0].(map[string]any)["State"] == "REGISTERED"
	}, "directory never REGISTERED")
	// (A URL given as an option would be fetched by CLI v1: the JSON input form passes it as a value.)
	addIn := cust("create-connect-client-add-in", "--cli-input-json", `{"ResourceId":"`+dir+`","Name":"connect","URL":"https://example.my.connect.aws/"}`)["AddInId"].(string)
	if got := cust("describe-connect-client-add-ins", "--resource-id", dir)["AddIns"].([]any); len(got) != 1 || got[0].(map[string]any)["AddInId"] != addIn {
		t.Fatalf("add-ins %v", got)
	}
	var bundle string
	for _, b := range cust("describe-workspace-bundles", "--owner", "AMAZON")["Bundles"].([]any) {
		if strings.HasSuffix(b.(map[string]any)["Name"].(string), "with Windows 10 (Server 2022 based)") {
			bundle = b.(map[string]any)["BundleId"].(string)
		}
	}
	pool := cust("create-workspaces-pool", "--pool-name", "cli-pool", "--description", "from the CLI", "--bundle-id", bundle,
		"--directory-id", dir, "--capacity", "DesiredUserSessions=2", "--running-mode", "AUTO_STOP")["WorkspacesPool"].(map[string]any)
	pid := pool["PoolId"].(string)
	state := func() string {
		ps := cust("describe-workspaces-pools", "--pool-ids", pid)["WorkspacesPools"].([]any)
		if len(ps) == 0 {
			return "GONE"
		}
		return ps[0].(map[string]any)["State"].(string)
	}
	testserver.Eventually(t, 30*time.Second, func() bool { return state() == "RUNNING" }, "pool never RUNNING")
	cust("stop-workspaces-pool", "--pool-id", pid)
	testserver.Eventually(t, 30*time.Second, func() bool { return state() == "STOPPED" }, "pool never STOPPED")
	cust("terminate-workspaces-pool", "--pool-id", pid)
	testserver.Eventually(t, 30*time.Second, func() bool { return state() == "GONE" }, "pool never gone")
}

// TestCLIWorkspacesAppsImagesStandby runs the unmodified AWS CLI through the
// families TestCLIWorkspacesFamilies leaves out: applications (an account
// without a catalogue: none listed, a desktop with no associations, an
// application id not found), custom image imports (BYOL, an import that
// completes, no updated image) and a standby WorkSpace in a second Region.
// The setup the families need (directories, the primary desktop, the AMI)
// goes through the Go SDK.
func TestCLIWorkspacesAppsImagesStandby(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the aws CLI is not on PATH")
	}
	s := testserver.Start(t, testserver.Timing("instant"))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := func(region string, args ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", s.URL, "--output", "json", "--region", region, "workspaces"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_ACCESS_KEY_ID="+config.AdminKeyID, "AWS_SECRET_ACCESS_KEY="+config.AdminSecret, "AWS_MAX_ATTEMPTS=1")
		out, err := cmd.CombinedOutput()
		v := map[string]any{}
		if err == nil && len(strings.TrimSpace(string(out))) > 0 {
			if jerr := json.Unmarshal(out, &v); jerr != nil {
				t.Fatalf("aws workspaces %s: %v\n%s", args[0], jerr, out)
			}
		}
		return v, string(out), err
	}
	cli := func(region string, args ...string) map[string]any {
		t.Helper()
		v, out, err := run(region, args...)
		if err != nil {
			t.Fatalf("aws workspaces %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	cliFails := func(code string, region string, args ...string) {
		t.Helper()
		_, out, err := run(region, args...)
		if err == nil || !strings.Contains(out, "("+code+")") {
			t.Fatalf("aws workspaces %s: want %s, got %v\n%s", args[0], code, err, out)
		}
	}

	// Setup through the SDK: a PERSONAL directory in each Region and
	// alice's desktop in us-east-1.
	east := workspaces.NewFromConfig(s.Admin("us-east-1"))
	west := workspaces.NewFromConfig(s.Admin("us-west-2"))
	register := func(c *workspaces.Client) string {
		d, err := c.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
		if err != nil || len(d.Directories) == 0 {
			t.Fatalf("DescribeWorkspaceDirectories: %+v, %v", d, err)
		}
		id := aws.ToString(d.Directories[0].DirectoryId)
		if _, err := c.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: &id, WorkspaceType: wstypes.WorkspaceTypePersonal}); err != nil {
			t.Fatalf("RegisterWorkspaceDirectory: %v", err)
		}
		testserver.Eventually(t, 30*time.Second, func() bool {
			d, err := c.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
			return err == nil && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
		}, "directory never REGISTERED")
		return id
	}
	dirEast, dirWest := register(east), register(west)
	var bundle string
	for _, b := range cli("us-east-1", "describe-workspace-bundles", "--owner", "AMAZON")["Bundles"].([]any) {
		if strings.HasSuffix(b.(map[string]any)["Name"].(string), "with Windows 10 (Server 2022 based)") && strings.HasPrefix(b.(map[string]any)["Name"].(string), "Standard") {
			bundle = b.(map[string]any)["BundleId"].(string)
		}
	}
	cw, err := east.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: &dirEast, UserName: aws.String("alice"), BundleId: &bundle}}})
	if err != nil || len(cw.PendingRequests) != 1 {
		t.Fatalf("CreateWorkspaces: %+v, %v", cw, err)
	}
	primary := aws.ToString(cw.PendingRequests[0].WorkspaceId)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := east.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{primary}})
		return err == nil && len(d.Workspaces) == 1 && d.Workspaces[0].State == wstypes.WorkspaceStateAvailable
	}, "the primary desktop never AVAILABLE")

	// Applications: an account without a catalogue.
	if apps := cli("us-east-1", "describe-applications")["Applications"].([]any); len(apps) != 0 {
		t.Fatalf("describe-applications: %v", apps)
	}
	if as := cli("us-east-1", "describe-workspace-associations", "--workspace-id", primary, "--associated-resource-types", "APPLICATION")["Associations"].([]any); len(as) != 0 {
		t.Fatalf("describe-workspace-associations: %v", as)
	}
	cliFails("ResourceNotFoundException", "us-east-1", "associate-workspace-application", "--workspace-id", primary, "--application-id", "wsa-12345678")

	// Standby: alice's desktop mirrored into us-west-2.
	sb := cli("us-west-2", "create-standby-workspaces", "--primary-region", "us-east-1",
		"--standby-workspaces", "PrimaryWorkspaceId="+primary+",DirectoryId="+dirWest)
	pending := sb["PendingStandbyRequests"].([]any)
	if len(pending) != 1 || len(sb["FailedStandbyRequests"].([]any)) != 0 {
		t.Fatalf("create-standby-workspaces: %v", sb)
	}
	standby := pending[0].(map[string]any)["WorkspaceId"].(string)
	d := cli("us-west-2", "describe-workspaces", "--workspace-ids", standby)["Workspaces"].([]any)
	if len(d) != 1 || d[0].(map[string]any)["DirectoryId"] != dirWest {
		t.Fatalf("the standby desktop: %v", d)
	}

	// Custom images: BYOL first, then an import of the account's AMI.
	r := cli("us-east-1", "list-available-management-cidr-ranges", "--management-cidr-range-constraint", "192.168.0.0/16")["ManagementCidrRanges"].([]any)
	cli("us-east-1", "modify-account", "--dedicated-tenancy-support", "ENABLED", "--dedicated-tenancy-management-cidr-range", r[0].(string))
	testserver.Eventually(t, 30*time.Second, func() bool {
		return cli("us-east-1", "describe-account")["DedicatedTenancySupport"] == "ENABLED"
	}, "BYOL never ENABLED")
	imgs, err := ec2.NewFromConfig(s.Admin()).DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"win10-*"}}}})
	if err != nil || len(imgs.Images) != 1 {
		t.Fatalf("DescribeImages: %+v, %v", imgs, err)
	}
	infra := "arn:aws:imagebuilder:us-east-1:" + config.CustomerAccount + ":infrastructure-configuration/cli-import"
	imp := cli("us-east-1", "import-custom-workspace-image", "--image-name", "cli-custom", "--image-description", "from the CLI",
		"--compute-type", "BASE", "--protocol", "DCV", "--image-source", "Ec2ImageId="+aws.ToString(imgs.Images[0].ImageId),
		"--infrastructure-configuration-arn", infra, "--platform", "WINDOWS", "--os-version", "Windows_10")
	img := imp["ImageId"].(string)
	testserver.Eventually(t, 30*time.Second, func() bool {
		return cli("us-east-1", "describe-custom-workspace-image-import", "--image-id", img)["State"] == "COMPLETED"
	}, "the import never COMPLETED")
	cliFails("OperationNotSupportedException", "us-east-1", "create-updated-workspace-image", "--name", "upd", "--description", "updated", "--source-image-id", img)
}
