package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	dstypes "github.com/aws/aws-sdk-go-v2/service/directoryservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
	wsmod "github.com/deskplane/deskplane/internal/workspaces"
)

// wsWant fails the test unless err is the model error code.
func wsWant(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %s", what, code)
	}
	if got := apiCode(err); got != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

func wsOK[T any](t *testing.T, what string) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// redDeniedRole creates a role in the customer account that may do
// anything in WorkSpaces except act on resources tagged team=red or create
// them with that tag, assumes it, and returns a WorkSpaces client for the
// session.
func redDeniedRole(t *testing.T, s *testserver.Server, rec *recorder) *workspaces.Client {
	t.Helper()
	ctx := ctxT(t)
	c := iam.NewFromConfig(s.Admin())
	r := wsOK[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("NotRed"), AssumeRolePolicyDocument: aws.String(trustAccount)}))
	wsOK[*iam.PutRolePolicyOutput](t, "PutRolePolicy")(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("NotRed"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"workspaces:*","Resource":"*"},
 {"Effect":"Deny","Action":"workspaces:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"red"}}},
 {"Effect":"Deny","Action":"workspaces:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"red"}}}]}`)}))
	out := wsOK[*sts.AssumeRoleOutput](t, "AssumeRole")(sts.NewFromConfig(s.Admin()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: r.Role.Arn, RoleSessionName: aws.String("ops")}))
	cr := out.Credentials
	return workspaces.NewFromConfig(testserver.ConfigFor(rec.URL, aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken)))
}

// wsRecorded starts a server behind a recorder, runs the setup through it,
// and checks every WorkSpaces response of the test against botocore's
// model when the test ends.
func wsRecorded(t *testing.T) (*testserver.Server, *recorder, *env) {
	t.Helper()
	m := awsmodel.LoadOrSkip(t, "workspaces")
	s := testserver.Start(t)
	rec := newRecorder(t, s.URL)
	e := setupAt(t, rec.URL)
	e.s = s
	t.Cleanup(func() {
		n := 0
		for _, x := range rec.exchanges() {
			if x.Service != "workspaces" {
				continue
			}
			n++
			if p := checkExchange(t, m, x); len(p) > 0 {
				t.Errorf("workspaces.%s does not conform to the botocore model:\n  %s", x.Op, strings.Join(p, "\n  "))
			}
		}
		t.Logf("%d WorkSpaces responses checked against the model", n)
		conformanceDone(t)
	})
	return s, rec, e
}

// partnerConfig is the partner account's admin through the recorder.
func partnerConfig(rec *recorder) aws.Config {
	return testserver.ConfigFor(rec.URL, config.PartnerKeyID, config.PartnerSecret, "")
}

var red = []wstypes.Tag{{Key: aws.String("team"), Value: aws.String("red")}}

func TestConformanceWorkspacesIPGroups(t *testing.T) {
	s, rec, e := wsRecorded(t)
	ctx := ctxT(t)
	ws := e.ws
	rules := func(cidrs ...string) []wstypes.IpRuleItem {
		var out []wstypes.IpRuleItem
		for _, c := range cidrs {
			out = append(out, wstypes.IpRuleItem{IpRule: aws.String(c), RuleDesc: aws.String("office " + c)})
		}
		return out
	}
	g1 := wsOK[*workspaces.CreateIpGroupOutput](t, "CreateIpGroup")(ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("offices"),
		GroupDesc: aws.String("branch offices"), UserRules: rules("203.0.113.0/24", "198.51.100.7"), Tags: []wstypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}))
	id1 := aws.ToString(g1.GroupId)
	_, err := ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("offices")})
	wsWant(t, "duplicate name", err, "ResourceAlreadyExistsException")
	_, err = ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("bad"), UserRules: rules("300.1.1.0/24")})
	wsWant(t, "bad CIDR", err, "InvalidParameterValuesException")
	_, err = ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("v6"), UserRules: rules("2001:db8::/32")})
	wsWant(t, "IPv6", err, "InvalidParameterValuesException")
	many := rules("10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24", "10.0.4.0/24", "10.0.5.0/24", "10.0.6.0/24", "10.0.7.0/24", "10.0.8.0/24", "10.0.9.0/24", "10.0.10.0/24")
	_, err = ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("many"), UserRules: many})
	wsWant(t, "11 rules", err, "ResourceLimitExceededException")
	g2 := wsOK[*workspaces.CreateIpGroupOutput](t, "CreateIpGroup 2")(ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("red"), Tags: red}))
	id2 := aws.ToString(g2.GroupId)

	d := wsOK[*workspaces.DescribeIpGroupsOutput](t, "DescribeIpGroups")(ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{GroupIds: []string{id1}}))
	if len(d.Result) != 1 || aws.ToString(d.Result[0].GroupName) != "offices" || aws.ToString(d.Result[0].GroupDesc) != "branch offices" || len(d.Result[0].UserRules) != 2 ||
		aws.ToString(d.Result[0].UserRules[1].IpRule) != "198.51.100.7" {
		t.Fatalf("DescribeIpGroups: %+v", d.Result)
	}
	p1 := wsOK[*workspaces.DescribeIpGroupsOutput](t, "page 1")(ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{MaxResults: aws.Int32(1)}))
	if len(p1.Result) != 1 || p1.NextToken == nil {
		t.Fatalf("page 1: %+v", p1)
	}
	p2 := wsOK[*workspaces.DescribeIpGroupsOutput](t, "page 2")(ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{MaxResults: aws.Int32(1), NextToken: p1.NextToken}))
	if len(p2.Result) != 1 || p2.NextToken != nil || aws.ToString(p2.Result[0].GroupId) == aws.ToString(p1.Result[0].GroupId) {
		t.Fatalf("page 2: %+v", p2)
	}

	// Rules: add, refuse a repeat and the 11th, revoke, replace.
	wsOK[*workspaces.AuthorizeIpRulesOutput](t, "AuthorizeIpRules")(ws.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: &id1, UserRules: rules("192.0.2.0/28")}))
	_, err = ws.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: &id1, UserRules: rules("192.0.2.0/28")})
	wsWant(t, "repeat rule", err, "InvalidParameterValuesException")
	_, err = ws.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: &id1, UserRules: many[:8]})
	wsWant(t, "rule limit", err, "ResourceLimitExceededException")
	_, err = ws.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: aws.String("wsipg-00000000z"), UserRules: rules("192.0.2.16/28")})
	wsWant(t, "unknown group", err, "ResourceNotFoundException")
	wsOK[*workspaces.RevokeIpRulesOutput](t, "RevokeIpRules")(ws.RevokeIpRules(ctx, &workspaces.RevokeIpRulesInput{GroupId: &id1, UserRules: []string{"198.51.100.7"}}))
	_, err = ws.RevokeIpRules(ctx, &workspaces.RevokeIpRulesInput{GroupId: &id1, UserRules: []string{"198.51.100.7"}})
	wsWant(t, "revoke absent rule", err, "InvalidParameterValuesException")
	d = wsOK[*workspaces.DescribeIpGroupsOutput](t, "after revoke")(ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{GroupIds: []string{id1}}))
	if len(d.Result[0].UserRules) != 2 || aws.ToString(d.Result[0].UserRules[1].IpRule) != "192.0.2.0/28" {
		t.Fatalf("rules after revoke: %+v", d.Result[0].UserRules)
	}
	wsOK[*workspaces.UpdateRulesOfIpGroupOutput](t, "UpdateRulesOfIpGroup")(ws.UpdateRulesOfIpGroup(ctx, &workspaces.UpdateRulesOfIpGroupInput{GroupId: &id1, UserRules: rules("0.0.0.0/0")}))
	d = wsOK[*workspaces.DescribeIpGroupsOutput](t, "after update")(ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{GroupIds: []string{id1}}))
	if len(d.Result[0].UserRules) != 1 || aws.ToString(d.Result[0].UserRules[0].IpRule) != "0.0.0.0/0" {
		t.Fatalf("rules after update: %+v", d.Result[0].UserRules)
	}
	_, err = ws.UpdateRulesOfIpGroup(ctx, &workspaces.UpdateRulesOfIpGroupInput{GroupId: &id1, UserRules: many})
	wsWant(t, "update past the limit", err, "ResourceLimitExceededException")

	// Associations: the directory lists its groups; an associated group cannot be deleted.
	wsOK[*workspaces.AssociateIpGroupsOutput](t, "AssociateIpGroups")(ws.AssociateIpGroups(ctx, &workspaces.AssociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{id1}}))
	_, err = ws.AssociateIpGroups(ctx, &workspaces.AssociateIpGroupsInput{DirectoryId: aws.String("d-0000000000"), GroupIds: []string{id1}})
	wsWant(t, "unregistered directory", err, "ResourceNotFoundException")
	_, err = ws.AssociateIpGroups(ctx, &workspaces.AssociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{"wsipg-00000000z"}})
	wsWant(t, "associate unknown group", err, "ResourceNotFoundException")
	dirs := wsOK[*workspaces.DescribeWorkspaceDirectoriesOutput](t, "DescribeWorkspaceDirectories")(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}}))
	if g := dirs.Directories[0].IpGroupIds; len(g) != 1 || g[0] != id1 {
		t.Fatalf("directory ipGroupIds = %v", g)
	}
	_, err = ws.DeleteIpGroup(ctx, &workspaces.DeleteIpGroupInput{GroupId: &id1})
	wsWant(t, "delete associated", err, "ResourceAssociatedException")

	// Tags on the group, and authorization by them.
	tags := wsOK[*workspaces.DescribeTagsOutput](t, "DescribeTags")(ws.DescribeTags(ctx, &workspaces.DescribeTagsInput{ResourceId: &id1}))
	if len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Value) != "blue" {
		t.Fatalf("tags = %+v", tags.TagList)
	}
	role := redDeniedRole(t, s, rec)
	wsOK[*workspaces.DescribeIpGroupsOutput](t, "role describe")(role.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{}))
	wsOK[*workspaces.AuthorizeIpRulesOutput](t, "role authorize blue")(role.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: &id1, UserRules: rules("192.0.2.64/26")}))
	_, err = role.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: &id2, UserRules: rules("192.0.2.64/26")})
	wsWant(t, "role authorize red", err, "AccessDeniedException")
	_, err = role.DeleteIpGroup(ctx, &workspaces.DeleteIpGroupInput{GroupId: &id2})
	wsWant(t, "role delete red", err, "AccessDeniedException")
	_, err = role.AssociateIpGroups(ctx, &workspaces.AssociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{id2}})
	wsWant(t, "role associate red", err, "AccessDeniedException")
	_, err = role.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("red2"), Tags: red})
	wsWant(t, "role create red", err, "AccessDeniedException")

	wsOK[*workspaces.DisassociateIpGroupsOutput](t, "DisassociateIpGroups")(ws.DisassociateIpGroups(ctx, &workspaces.DisassociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{id1}}))
	// Disassociating again changes nothing and succeeds (Terraform's
	// provider relies on it when it replaces a group).
	wsOK[*workspaces.DisassociateIpGroupsOutput](t, "disassociate again")(ws.DisassociateIpGroups(ctx, &workspaces.DisassociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{id1}}))
	wsOK[*workspaces.DeleteIpGroupOutput](t, "DeleteIpGroup")(ws.DeleteIpGroup(ctx, &workspaces.DeleteIpGroupInput{GroupId: &id1}))
	wsOK[*workspaces.DisassociateIpGroupsOutput](t, "disassociate a deleted group")(ws.DisassociateIpGroups(ctx, &workspaces.DisassociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{id1}}))
	_, err = ws.DeleteIpGroup(ctx, &workspaces.DeleteIpGroupInput{GroupId: &id1})
	wsWant(t, "delete again", err, "ResourceNotFoundException")
	d = wsOK[*workspaces.DescribeIpGroupsOutput](t, "after delete")(ws.DescribeIpGroups(ctx, &workspaces.DescribeIpGroupsInput{}))
	if len(d.Result) != 1 || aws.ToString(d.Result[0].GroupId) != id2 {
		t.Fatalf("groups after delete: %+v", d.Result)
	}
	// Deregistering the directory ends its associations.
	wsOK[*workspaces.AssociateIpGroupsOutput](t, "associate red")(ws.AssociateIpGroups(ctx, &workspaces.AssociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{id2}}))
	wsOK[*workspaces.DeregisterWorkspaceDirectoryOutput](t, "DeregisterWorkspaceDirectory")(ws.DeregisterWorkspaceDirectory(ctx, &workspaces.DeregisterWorkspaceDirectoryInput{DirectoryId: &e.dirID}))
	testserver.Eventually(t, 30*time.Second, func() bool {
		_, err := ws.DeleteIpGroup(ctx, &workspaces.DeleteIpGroupInput{GroupId: &id2})
		return err == nil
	}, "the group stays associated with a deregistered directory")
}

// partnerDirectory creates and registers a directory in the partner account.
func partnerDirectory(t *testing.T, p aws.Config) string {
	t.Helper()
	ctx := ctxT(t)
	subs := wsOK[*ec2.DescribeSubnetsOutput](t, "DescribeSubnets")(ec2.NewFromConfig(p).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}))
	if len(subs.Subnets) < 2 {
		t.Fatalf("partner subnets: %d", len(subs.Subnets))
	}
	var ids []string
	for _, sn := range subs.Subnets[:2] {
		ids = append(ids, aws.ToString(sn.SubnetId))
	}
	dsc := directoryservice.NewFromConfig(p)
	dir := wsOK[*directoryservice.CreateDirectoryOutput](t, "CreateDirectory")(dsc.CreateDirectory(ctx, &directoryservice.CreateDirectoryInput{
		Name: aws.String("partner.example.com"), Password: aws.String("Sup3r-Secret!"), Size: dstypes.DirectorySizeSmall,
		VpcSettings: &dstypes.DirectoryVpcSettings{VpcId: subs.Subnets[0].VpcId, SubnetIds: ids}}))
	id := aws.ToString(dir.DirectoryId)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := dsc.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{DirectoryIds: []string{id}})
		return err == nil && len(d.DirectoryDescriptions) == 1 && d.DirectoryDescriptions[0].Stage == dstypes.DirectoryStageActive
	}, "partner directory never Active")
	pw := workspaces.NewFromConfig(p)
	wsOK[*workspaces.RegisterWorkspaceDirectoryOutput](t, "partner RegisterWorkspaceDirectory")(pw.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: &id}))
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := pw.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
		return err == nil && len(d.Directories) == 1 && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
	}, "partner directory never REGISTERED")
	return id
}

func TestConformanceWorkspacesConnectionAliases(t *testing.T) {
	s, rec, e := wsRecorded(t)
	ctx := ctxT(t)
	ws, pw := e.ws, workspaces.NewFromConfig(partnerConfig(rec))
	pdir := partnerDirectory(t, partnerConfig(rec))

	a := wsOK[*workspaces.CreateConnectionAliasOutput](t, "CreateConnectionAlias")(ws.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{
		ConnectionString: aws.String("desktops.example.com"), Tags: []wstypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}))
	id := aws.ToString(a.AliasId)
	_, err := ws.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{ConnectionString: aws.String("desktops.example.com")})
	wsWant(t, "same string", err, "ResourceAlreadyExistsException")
	_, err = pw.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{ConnectionString: aws.String("DESKTOPS.example.com")})
	wsWant(t, "same string, other account", err, "ResourceAlreadyExistsException")
	_, err = ws.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{ConnectionString: aws.String("localhost")})
	wsWant(t, "not an FQDN", err, "InvalidParameterValuesException")
	_, err = ws.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{ConnectionString: aws.String("bad_name.example.com")})
	wsWant(t, "pattern", err, "ValidationException")
	red1 := wsOK[*workspaces.CreateConnectionAliasOutput](t, "red alias")(ws.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{
		ConnectionString: aws.String("red.example.com"), Tags: red}))

	d := wsOK[*workspaces.DescribeConnectionAliasesOutput](t, "DescribeConnectionAliases")(ws.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{AliasIds: []string{id}}))
	if len(d.ConnectionAliases) != 1 || d.ConnectionAliases[0].State != wstypes.ConnectionAliasStateCreated || aws.ToString(d.ConnectionAliases[0].OwnerAccountId) != "111122223333" ||
		aws.ToString(d.ConnectionAliases[0].ConnectionString) != "desktops.example.com" {
		t.Fatalf("alias: %+v", d.ConnectionAliases)
	}
	// Not shared yet: the partner does not see it and cannot associate it.
	pd := wsOK[*workspaces.DescribeConnectionAliasesOutput](t, "partner describe")(pw.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{}))
	if len(pd.ConnectionAliases) != 0 {
		t.Fatalf("partner sees %+v", pd.ConnectionAliases)
	}
	_, err = pw.AssociateConnectionAlias(ctx, &workspaces.AssociateConnectionAliasInput{AliasId: &id, ResourceId: &pdir})
	wsWant(t, "partner associate unshared", err, "ResourceNotFoundException")

	// Share with the partner.
	wsOK[*workspaces.UpdateConnectionAliasPermissionOutput](t, "share")(ws.UpdateConnectionAliasPermission(ctx, &workspaces.UpdateConnectionAliasPermissionInput{AliasId: &id,
		ConnectionAliasPermission: &wstypes.ConnectionAliasPermission{SharedAccountId: aws.String("444455556666"), AllowAssociation: aws.Bool(true)}}))
	_, err = ws.UpdateConnectionAliasPermission(ctx, &workspaces.UpdateConnectionAliasPermissionInput{AliasId: &id,
		ConnectionAliasPermission: &wstypes.ConnectionAliasPermission{SharedAccountId: aws.String("111122223333"), AllowAssociation: aws.Bool(true)}})
	wsWant(t, "share with self", err, "InvalidParameterValuesException")
	perms := wsOK[*workspaces.DescribeConnectionAliasPermissionsOutput](t, "DescribeConnectionAliasPermissions")(ws.DescribeConnectionAliasPermissions(ctx, &workspaces.DescribeConnectionAliasPermissionsInput{AliasId: &id}))
	if len(perms.ConnectionAliasPermissions) != 1 || aws.ToString(perms.ConnectionAliasPermissions[0].SharedAccountId) != "444455556666" || !aws.ToBool(perms.ConnectionAliasPermissions[0].AllowAssociation) {
		t.Fatalf("permissions: %+v", perms.ConnectionAliasPermissions)
	}
	_, err = pw.DescribeConnectionAliasPermissions(ctx, &workspaces.DescribeConnectionAliasPermissionsInput{AliasId: &id})
	wsWant(t, "partner reads permissions", err, "OperationNotSupportedException")
	_, err = pw.DeleteConnectionAlias(ctx, &workspaces.DeleteConnectionAliasInput{AliasId: &id})
	wsWant(t, "partner deletes", err, "OperationNotSupportedException")
	pd = wsOK[*workspaces.DescribeConnectionAliasesOutput](t, "partner describe shared")(pw.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{}))
	if len(pd.ConnectionAliases) != 1 || aws.ToString(pd.ConnectionAliases[0].AliasId) != id {
		t.Fatalf("partner sees %+v", pd.ConnectionAliases)
	}
	as := wsOK[*workspaces.AssociateConnectionAliasOutput](t, "partner associate")(pw.AssociateConnectionAlias(ctx, &workspaces.AssociateConnectionAliasInput{AliasId: &id, ResourceId: &pdir}))
	if aws.ToString(as.ConnectionIdentifier) == "" {
		t.Fatal("no ConnectionIdentifier")
	}
	d = wsOK[*workspaces.DescribeConnectionAliasesOutput](t, "owner describe associated")(ws.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{AliasIds: []string{id}}))
	if as := d.ConnectionAliases[0].Associations; len(as) != 1 || as[0].AssociationStatus != wstypes.AssociationStatusAssociatedWithSharedAccount ||
		aws.ToString(as[0].AssociatedAccountId) != "444455556666" || aws.ToString(as[0].ResourceId) != pdir {
		t.Fatalf("associations: %+v", as)
	}
	_, err = ws.AssociateConnectionAlias(ctx, &workspaces.AssociateConnectionAliasInput{AliasId: &id, ResourceId: &e.dirID})
	wsWant(t, "owner associates an associated alias", err, "ResourceAssociatedException")
	_, err = ws.UpdateConnectionAliasPermission(ctx, &workspaces.UpdateConnectionAliasPermissionInput{AliasId: &id,
		ConnectionAliasPermission: &wstypes.ConnectionAliasPermission{SharedAccountId: aws.String("444455556666"), AllowAssociation: aws.Bool(false)}})
	wsWant(t, "unshare while associated", err, "ResourceAssociatedException")
	_, err = ws.DeleteConnectionAlias(ctx, &workspaces.DeleteConnectionAliasInput{AliasId: &id})
	wsWant(t, "delete while associated", err, "ResourceAssociatedException")
	_, err = ws.DisassociateConnectionAlias(ctx, &workspaces.DisassociateConnectionAliasInput{AliasId: &id})
	wsWant(t, "owner disassociates the partner's association", err, "OperationNotSupportedException")
	wsOK[*workspaces.DisassociateConnectionAliasOutput](t, "partner disassociate")(pw.DisassociateConnectionAlias(ctx, &workspaces.DisassociateConnectionAliasInput{AliasId: &id}))
	_, err = pw.DisassociateConnectionAlias(ctx, &workspaces.DisassociateConnectionAliasInput{AliasId: &id})
	wsWant(t, "disassociate again", err, "InvalidResourceStateException")

	// The owner associates with its own directory; one alias per directory.
	wsOK[*workspaces.AssociateConnectionAliasOutput](t, "owner associate")(ws.AssociateConnectionAlias(ctx, &workspaces.AssociateConnectionAliasInput{AliasId: &id, ResourceId: &e.dirID}))
	_, err = ws.AssociateConnectionAlias(ctx, &workspaces.AssociateConnectionAliasInput{AliasId: red1.AliasId, ResourceId: &e.dirID})
	wsWant(t, "second alias on a directory", err, "ResourceAssociatedException")
	byDir := wsOK[*workspaces.DescribeConnectionAliasesOutput](t, "by directory")(ws.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{ResourceId: &e.dirID}))
	if len(byDir.ConnectionAliases) != 1 || byDir.ConnectionAliases[0].Associations[0].AssociationStatus != wstypes.AssociationStatusAssociatedWithOwnerAccount {
		t.Fatalf("by directory: %+v", byDir.ConnectionAliases)
	}
	wsOK[*workspaces.DisassociateConnectionAliasOutput](t, "owner disassociate")(ws.DisassociateConnectionAlias(ctx, &workspaces.DisassociateConnectionAliasInput{AliasId: &id}))

	// Authorization by the alias's tags.
	role := redDeniedRole(t, s, rec)
	_, err = role.DeleteConnectionAlias(ctx, &workspaces.DeleteConnectionAliasInput{AliasId: red1.AliasId})
	wsWant(t, "role deletes red alias", err, "AccessDeniedException")
	_, err = role.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{ConnectionString: aws.String("red2.example.com"), Tags: red})
	wsWant(t, "role creates red alias", err, "AccessDeniedException")

	wsOK[*workspaces.UpdateConnectionAliasPermissionOutput](t, "unshare")(ws.UpdateConnectionAliasPermission(ctx, &workspaces.UpdateConnectionAliasPermissionInput{AliasId: &id,
		ConnectionAliasPermission: &wstypes.ConnectionAliasPermission{SharedAccountId: aws.String("444455556666"), AllowAssociation: aws.Bool(false)}}))
	pd = wsOK[*workspaces.DescribeConnectionAliasesOutput](t, "partner describe unshared")(pw.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{}))
	if len(pd.ConnectionAliases) != 0 {
		t.Fatalf("partner still sees %+v", pd.ConnectionAliases)
	}
	wsOK[*workspaces.DeleteConnectionAliasOutput](t, "role deletes blue alias")(role.DeleteConnectionAlias(ctx, &workspaces.DeleteConnectionAliasInput{AliasId: &id}))
	_, err = ws.DeleteConnectionAlias(ctx, &workspaces.DeleteConnectionAliasInput{AliasId: &id})
	wsWant(t, "delete again", err, "ResourceNotFoundException")
	// The connection string is free again.
	wsOK[*workspaces.CreateConnectionAliasOutput](t, "reuse string")(pw.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{ConnectionString: aws.String("desktops.example.com")}))
}

func TestConformanceWorkspacesDirectoryProperties(t *testing.T) {
	s, rec, e := wsRecorded(t)
	ctx := ctxT(t)
	ws := e.ws
	dir := func() wstypes.WorkspaceDirectory {
		t.Helper()
		d := wsOK[*workspaces.DescribeWorkspaceDirectoriesOutput](t, "DescribeWorkspaceDirectories")(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}}))
		return d.Directories[0]
	}
	d := dir()
	ap := d.WorkspaceAccessProperties
	if ap == nil || ap.DeviceTypeChromeOs != wstypes.AccessPropertyValueAllow || ap.DeviceTypeZeroClient != wstypes.AccessPropertyValueAllow ||
		ap.DeviceTypeWorkSpacesThinClient == "" || ap.DeviceTypeWindows != wstypes.AccessPropertyValueAllow {
		t.Fatalf("default access properties: %+v", ap)
	}
	if d.SamlProperties == nil || d.SamlProperties.Status != wstypes.SamlStatusEnumDisabled || d.CertificateBasedAuthProperties == nil ||
		d.CertificateBasedAuthProperties.Status != wstypes.CertificateBasedAuthStatusEnumDisabled || d.EndpointEncryptionMode != wstypes.EndpointEncryptionModeStandardTls ||
		d.SelfservicePermissions == nil || len(d.IpGroupIds) != 0 {
		t.Fatalf("defaults: saml %+v cba %+v enc %q self %+v ipg %v", d.SamlProperties, d.CertificateBasedAuthProperties, d.EndpointEncryptionMode, d.SelfservicePermissions, d.IpGroupIds)
	}

	wsOK[*workspaces.ModifySelfservicePermissionsOutput](t, "ModifySelfservicePermissions")(ws.ModifySelfservicePermissions(ctx, &workspaces.ModifySelfservicePermissionsInput{ResourceId: &e.dirID,
		SelfservicePermissions: &wstypes.SelfservicePermissions{RebuildWorkspace: wstypes.ReconnectEnumEnabled, RestartWorkspace: wstypes.ReconnectEnumDisabled}}))
	_, err := ws.ModifySelfservicePermissions(ctx, &workspaces.ModifySelfservicePermissionsInput{ResourceId: aws.String("d-0000000000"), SelfservicePermissions: &wstypes.SelfservicePermissions{}})
	wsWant(t, "self-service of an unregistered directory", err, "ResourceNotFoundException")
	wsOK[*workspaces.ModifyWorkspaceAccessPropertiesOutput](t, "ModifyWorkspaceAccessProperties")(ws.ModifyWorkspaceAccessProperties(ctx, &workspaces.ModifyWorkspaceAccessPropertiesInput{ResourceId: &e.dirID,
		WorkspaceAccessProperties: &wstypes.WorkspaceAccessProperties{DeviceTypeChromeOs: wstypes.AccessPropertyValueDeny, DeviceTypeWorkSpacesThinClient: wstypes.AccessPropertyValueAllow,
			DeviceTypeWeb: wstypes.AccessPropertyValueAllow}}))
	_, err = ws.ModifyWorkspaceAccessProperties(ctx, &workspaces.ModifyWorkspaceAccessPropertiesInput{ResourceId: &e.dirID,
		WorkspaceAccessProperties: &wstypes.WorkspaceAccessProperties{AccessEndpointConfig: &wstypes.AccessEndpointConfig{
			AccessEndpoints: []wstypes.AccessEndpoint{{AccessEndpointType: wstypes.AccessEndpointTypeStreamingWsp, VpcEndpointId: aws.String("vpce-0123456789abcdef0")}}}}})
	wsWant(t, "unknown VPC endpoint", err, "InvalidParameterValuesException")
	d = dir()
	if sp := d.SelfservicePermissions; sp.RebuildWorkspace != wstypes.ReconnectEnumEnabled || sp.RestartWorkspace != wstypes.ReconnectEnumDisabled || sp.ChangeComputeType != wstypes.ReconnectEnumDisabled {
		t.Fatalf("self-service: %+v", sp)
	}
	if ap := d.WorkspaceAccessProperties; ap.DeviceTypeChromeOs != wstypes.AccessPropertyValueDeny || ap.DeviceTypeWorkSpacesThinClient != wstypes.AccessPropertyValueAllow ||
		ap.DeviceTypeWeb != wstypes.AccessPropertyValueAllow || ap.DeviceTypeZeroClient != wstypes.AccessPropertyValueAllow {
		t.Fatalf("access after modify: %+v", ap)
	}

	// Client properties.
	cp := wsOK[*workspaces.DescribeClientPropertiesOutput](t, "DescribeClientProperties")(ws.DescribeClientProperties(ctx, &workspaces.DescribeClientPropertiesInput{ResourceIds: []string{e.dirID}}))
	if len(cp.ClientPropertiesList) != 1 || cp.ClientPropertiesList[0].ClientProperties.ReconnectEnabled != wstypes.ReconnectEnumEnabled {
		t.Fatalf("client properties: %+v", cp.ClientPropertiesList)
	}
	wsOK[*workspaces.ModifyClientPropertiesOutput](t, "ModifyClientProperties")(ws.ModifyClientProperties(ctx, &workspaces.ModifyClientPropertiesInput{ResourceId: &e.dirID,
		ClientProperties: &wstypes.ClientProperties{ReconnectEnabled: wstypes.ReconnectEnumDisabled}}))
	cp = wsOK[*workspaces.DescribeClientPropertiesOutput](t, "DescribeClientProperties 2")(ws.DescribeClientProperties(ctx, &workspaces.DescribeClientPropertiesInput{ResourceIds: []string{e.dirID}}))
	if c := cp.ClientPropertiesList[0].ClientProperties; c.ReconnectEnabled != wstypes.ReconnectEnumDisabled || c.LogUploadEnabled != wstypes.LogUploadEnumEnabled {
		t.Fatalf("client properties after modify: %+v", c)
	}
	_, err = ws.DescribeClientProperties(ctx, &workspaces.DescribeClientPropertiesInput{ResourceIds: []string{"d-0000000000"}})
	wsWant(t, "client properties of an unknown directory", err, "ResourceNotFoundException")

	// SAML, then certificate-based authentication on top of it.
	_, err = ws.ModifySamlProperties(ctx, &workspaces.ModifySamlPropertiesInput{ResourceId: &e.dirID, SamlProperties: &wstypes.SamlProperties{Status: wstypes.SamlStatusEnumEnabled}})
	wsWant(t, "SAML without a URL", err, "InvalidParameterValuesException")
	caARN := "arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/12345678-1234-1234-1234-123456789012"
	_, err = ws.ModifyCertificateBasedAuthProperties(ctx, &workspaces.ModifyCertificateBasedAuthPropertiesInput{ResourceId: &e.dirID,
		CertificateBasedAuthProperties: &wstypes.CertificateBasedAuthProperties{Status: wstypes.CertificateBasedAuthStatusEnumEnabled, CertificateAuthorityArn: &caARN}})
	wsWant(t, "CBA without SAML", err, "OperationNotSupportedException")
	wsOK[*workspaces.ModifySamlPropertiesOutput](t, "ModifySamlProperties")(ws.ModifySamlProperties(ctx, &workspaces.ModifySamlPropertiesInput{ResourceId: &e.dirID,
		SamlProperties: &wstypes.SamlProperties{Status: wstypes.SamlStatusEnumEnabledWithDirectoryLoginFallback, UserAccessUrl: aws.String("https://idp.example.com/sso"), RelayStateParameterName: aws.String("RelayState")}}))
	_, err = ws.ModifyCertificateBasedAuthProperties(ctx, &workspaces.ModifyCertificateBasedAuthPropertiesInput{ResourceId: &e.dirID,
		CertificateBasedAuthProperties: &wstypes.CertificateBasedAuthProperties{Status: wstypes.CertificateBasedAuthStatusEnumEnabled, CertificateAuthorityArn: aws.String("arn:aws:acm:us-east-1:111122223333:certificate/abc")}})
	wsWant(t, "CBA with a non-PCA ARN", err, "InvalidParameterValuesException")
	wsOK[*workspaces.ModifyCertificateBasedAuthPropertiesOutput](t, "ModifyCertificateBasedAuthProperties")(ws.ModifyCertificateBasedAuthProperties(ctx, &workspaces.ModifyCertificateBasedAuthPropertiesInput{ResourceId: &e.dirID,
		CertificateBasedAuthProperties: &wstypes.CertificateBasedAuthProperties{Status: wstypes.CertificateBasedAuthStatusEnumEnabled, CertificateAuthorityArn: &caARN}}))
	_, err = ws.ModifySamlProperties(ctx, &workspaces.ModifySamlPropertiesInput{ResourceId: &e.dirID, SamlProperties: &wstypes.SamlProperties{Status: wstypes.SamlStatusEnumDisabled}})
	wsWant(t, "SAML off under CBA", err, "OperationNotSupportedException")
	d = dir()
	if d.SamlProperties.Status != wstypes.SamlStatusEnumEnabledWithDirectoryLoginFallback || aws.ToString(d.SamlProperties.UserAccessUrl) != "https://idp.example.com/sso" ||
		d.CertificateBasedAuthProperties.Status != wstypes.CertificateBasedAuthStatusEnumEnabled || aws.ToString(d.CertificateBasedAuthProperties.CertificateAuthorityArn) != caARN {
		t.Fatalf("saml %+v cba %+v", d.SamlProperties, d.CertificateBasedAuthProperties)
	}
	wsOK[*workspaces.ModifySamlPropertiesOutput](t, "delete relay state")(ws.ModifySamlProperties(ctx, &workspaces.ModifySamlPropertiesInput{ResourceId: &e.dirID,
		PropertiesToDelete: []wstypes.DeletableSamlProperty{wstypes.DeletableSamlPropertySamlPropertiesRelayStateParameterName}}))
	if d = dir(); d.SamlProperties.RelayStateParameterName != nil {
		t.Fatalf("relay state kept: %+v", d.SamlProperties)
	}

	// Streaming properties: user settings are a Pools feature.
	_, err = ws.ModifyStreamingProperties(ctx, &workspaces.ModifyStreamingPropertiesInput{ResourceId: &e.dirID, StreamingProperties: &wstypes.StreamingProperties{
		UserSettings: []wstypes.UserSetting{{Action: wstypes.UserSettingActionEnumClipboardCopyFromLocalDevice, Permission: wstypes.UserSettingPermissionEnumDisabled}}}})
	wsWant(t, "user settings on a PERSONAL directory", err, "OperationNotSupportedException")
	wsOK[*workspaces.ModifyStreamingPropertiesOutput](t, "ModifyStreamingProperties")(ws.ModifyStreamingProperties(ctx, &workspaces.ModifyStreamingPropertiesInput{ResourceId: &e.dirID,
		StreamingProperties: &wstypes.StreamingProperties{StreamingExperiencePreferredProtocol: wstypes.StreamingExperiencePreferredProtocolEnumUdp,
			GlobalAccelerator: &wstypes.GlobalAcceleratorForDirectory{Mode: wstypes.AGAModeForDirectoryEnumEnabledAuto}}}))
	if d = dir(); d.StreamingProperties == nil || d.StreamingProperties.StreamingExperiencePreferredProtocol != wstypes.StreamingExperiencePreferredProtocolEnumUdp ||
		d.StreamingProperties.GlobalAccelerator == nil || d.StreamingProperties.GlobalAccelerator.Mode != wstypes.AGAModeForDirectoryEnumEnabledAuto {
		t.Fatalf("streaming: %+v", d.StreamingProperties)
	}

	// Client branding.
	br := wsOK[*workspaces.ImportClientBrandingOutput](t, "ImportClientBranding")(ws.ImportClientBranding(ctx, &workspaces.ImportClientBrandingInput{ResourceId: &e.dirID,
		DeviceTypeWindows: &wstypes.DefaultImportClientBrandingAttributes{Logo: []byte("\x89PNG fake logo"), SupportEmail: aws.String("help@example.com"),
			LoginMessage: map[string]string{"en_US": "Welcome"}},
		DeviceTypeIos: &wstypes.IosImportClientBrandingAttributes{Logo2x: []byte("\x89PNG 2x"), SupportLink: aws.String("https://help.example.com")}}))
	if br.DeviceTypeWindows == nil || aws.ToString(br.DeviceTypeWindows.LogoUrl) == "" || aws.ToString(br.DeviceTypeWindows.SupportEmail) != "help@example.com" ||
		br.DeviceTypeIos == nil || aws.ToString(br.DeviceTypeIos.Logo2xUrl) == "" || br.DeviceTypeOsx != nil {
		t.Fatalf("imported: %+v", br)
	}
	_, err = ws.ImportClientBranding(ctx, &workspaces.ImportClientBrandingInput{ResourceId: &e.dirID,
		DeviceTypeWeb: &wstypes.DefaultImportClientBrandingAttributes{LoginMessage: map[string]string{"english": "hi"}}})
	wsWant(t, "bad locale", err, "InvalidParameterValuesException")
	_, err = ws.ImportClientBranding(ctx, &workspaces.ImportClientBrandingInput{ResourceId: &e.dirID})
	wsWant(t, "no platform", err, "InvalidParameterValuesException")
	db := wsOK[*workspaces.DescribeClientBrandingOutput](t, "DescribeClientBranding")(ws.DescribeClientBranding(ctx, &workspaces.DescribeClientBrandingInput{ResourceId: &e.dirID}))
	if db.DeviceTypeWindows == nil || db.DeviceTypeWindows.LoginMessage["en_US"] != "Welcome" || db.DeviceTypeIos == nil {
		t.Fatalf("described: %+v", db)
	}
	wsOK[*workspaces.DeleteClientBrandingOutput](t, "DeleteClientBranding")(ws.DeleteClientBranding(ctx, &workspaces.DeleteClientBrandingInput{ResourceId: &e.dirID,
		Platforms: []wstypes.ClientDeviceType{wstypes.ClientDeviceTypeDeviceTypeWindows}}))
	db = wsOK[*workspaces.DescribeClientBrandingOutput](t, "DescribeClientBranding 2")(ws.DescribeClientBranding(ctx, &workspaces.DescribeClientBrandingInput{ResourceId: &e.dirID}))
	if db.DeviceTypeWindows != nil || db.DeviceTypeIos == nil {
		t.Fatalf("after delete: %+v", db)
	}

	// Endpoint encryption: FIPS where offered, and only while the directory has no desktops.
	wsOK[*workspaces.ModifyEndpointEncryptionModeOutput](t, "ModifyEndpointEncryptionMode")(ws.ModifyEndpointEncryptionMode(ctx, &workspaces.ModifyEndpointEncryptionModeInput{DirectoryId: &e.dirID,
		EndpointEncryptionMode: wstypes.EndpointEncryptionModeFipsValidated}))
	if d = dir(); d.EndpointEncryptionMode != wstypes.EndpointEncryptionModeFipsValidated {
		t.Fatalf("encryption mode %q", d.EndpointEncryptionMode)
	}
	e.create(t, ctx, 1, "enc")
	_, err = ws.ModifyEndpointEncryptionMode(ctx, &workspaces.ModifyEndpointEncryptionModeInput{DirectoryId: &e.dirID, EndpointEncryptionMode: wstypes.EndpointEncryptionModeStandardTls})
	wsWant(t, "encryption change with desktops", err, "OperationNotSupportedException")

	// Authorization by the directory's tags.
	role := redDeniedRole(t, s, rec)
	wsOK[*workspaces.ModifyClientPropertiesOutput](t, "role modifies untagged")(role.ModifyClientProperties(ctx, &workspaces.ModifyClientPropertiesInput{ResourceId: &e.dirID,
		ClientProperties: &wstypes.ClientProperties{LogUploadEnabled: wstypes.LogUploadEnumDisabled}}))
	wsOK[*workspaces.CreateTagsOutput](t, "tag directory red")(ws.CreateTags(ctx, &workspaces.CreateTagsInput{ResourceId: &e.dirID, Tags: red}))
	_, err = role.ModifySelfservicePermissions(ctx, &workspaces.ModifySelfservicePermissionsInput{ResourceId: &e.dirID, SelfservicePermissions: &wstypes.SelfservicePermissions{}})
	wsWant(t, "role modifies red directory", err, "AccessDeniedException")
	_, err = role.DescribeClientBranding(ctx, &workspaces.DescribeClientBrandingInput{ResourceId: &e.dirID})
	wsWant(t, "role reads red directory branding", err, "AccessDeniedException")
}

func TestConformanceWorkspacesConnectionStatusAndInputs(t *testing.T) {
	s, _, e := wsRecorded(t)
	ctx := ctxT(t)
	ws := e.ws
	ids := e.create(t, ctx, 2, "conn")
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)

	st := wsOK[*workspaces.DescribeWorkspacesConnectionStatusOutput](t, "DescribeWorkspacesConnectionStatus")(ws.DescribeWorkspacesConnectionStatus(ctx, &workspaces.DescribeWorkspacesConnectionStatusInput{}))
	if len(st.WorkspacesConnectionStatus) != 2 {
		t.Fatalf("statuses: %+v", st.WorkspacesConnectionStatus)
	}
	for _, c := range st.WorkspacesConnectionStatus {
		if c.ConnectionState != wstypes.ConnectionStateDisconnected || c.LastKnownUserConnectionTimestamp != nil || c.ConnectionStateCheckTimestamp != nil {
			t.Fatalf("never-connected desktop: %+v", c)
		}
	}
	var mod *wsmod.Module
	for _, m := range s.Modules {
		if w, ok := m.(*wsmod.Module); ok {
			mod = w
		}
	}
	at := time.Now().UTC().Truncate(time.Second)
	if err := mod.SetConnection(ctx, "111122223333", "us-east-1", ids[0], true, at); err != nil {
		t.Fatal(err)
	}
	st = wsOK[*workspaces.DescribeWorkspacesConnectionStatusOutput](t, "after connect")(ws.DescribeWorkspacesConnectionStatus(ctx, &workspaces.DescribeWorkspacesConnectionStatusInput{WorkspaceIds: []string{ids[0]}}))
	if c := st.WorkspacesConnectionStatus; len(c) != 1 || c[0].ConnectionState != wstypes.ConnectionStateConnected || !aws.ToTime(c[0].LastKnownUserConnectionTimestamp).Equal(at) {
		t.Fatalf("connected: %+v", c)
	}
	_, err := ws.DescribeWorkspacesConnectionStatus(ctx, &workspaces.DescribeWorkspacesConnectionStatusInput{WorkspaceIds: []string{"nope"}})
	wsWant(t, "bad id", err, "InvalidParameterValuesException")
	e.stop(t, ctx, ids[0])
	e.waitAll(t, ctx, ids[:1], wstypes.WorkspaceStateStopped)
	st = wsOK[*workspaces.DescribeWorkspacesConnectionStatusOutput](t, "stopped")(ws.DescribeWorkspacesConnectionStatus(ctx, &workspaces.DescribeWorkspacesConnectionStatusInput{WorkspaceIds: []string{ids[0]}}))
	if c := st.WorkspacesConnectionStatus[0]; c.ConnectionState != wstypes.ConnectionStateUnknown || c.LastKnownUserConnectionTimestamp == nil {
		t.Fatalf("stopped: %+v", c)
	}

	// ModifyWorkspaceProperties: the OS name moves within its family; Global
	// Accelerator needs WSP, which BYOP desktops do not use.
	wd := wsOK[*workspaces.DescribeWorkspacesOutput](t, "DescribeWorkspaces")(ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: ids[1:]}))
	osName := wd.Workspaces[0].WorkspaceProperties.OperatingSystemName
	_, err = ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: &ids[1],
		WorkspaceProperties: &wstypes.WorkspaceProperties{OperatingSystemName: wstypes.OperatingSystemNameAmazonLinux2}})
	wsWant(t, "OS family change", err, "UnsupportedWorkspaceConfigurationException")
	if osName == wstypes.OperatingSystemNameWindows10 {
		wsOK[*workspaces.ModifyWorkspacePropertiesOutput](t, "OS upgrade")(ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: &ids[1],
			WorkspaceProperties: &wstypes.WorkspaceProperties{OperatingSystemName: wstypes.OperatingSystemNameWindows11}}))
		wd = wsOK[*workspaces.DescribeWorkspacesOutput](t, "DescribeWorkspaces 2")(ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: ids[1:]}))
		if got := wd.Workspaces[0].WorkspaceProperties.OperatingSystemName; got != wstypes.OperatingSystemNameWindows11 {
			t.Fatalf("OS after upgrade %q", got)
		}
	}
	_, err = ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: &ids[1],
		WorkspaceProperties: &wstypes.WorkspaceProperties{GlobalAccelerator: &wstypes.GlobalAcceleratorForWorkSpace{Mode: wstypes.AGAModeForWorkSpaceEnumEnabledAuto}}})
	wsWant(t, "Global Accelerator on BYOP", err, "UnsupportedWorkspaceConfigurationException")

	// CreateWorkspaces acts on the same inputs: each refused request fails on its own.
	cr := wsOK[*workspaces.CreateWorkspacesOutput](t, "CreateWorkspaces")(ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{
		{DirectoryId: &e.dirID, UserName: aws.String("[UNDEFINED]"), BundleId: &e.bundleID, WorkspaceName: aws.String("ga1"),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual,
				GlobalAccelerator: &wstypes.GlobalAcceleratorForWorkSpace{Mode: wstypes.AGAModeForWorkSpaceEnumEnabledAuto}}},
		{DirectoryId: &e.dirID, UserName: aws.String("[UNDEFINED]"), BundleId: &e.bundleID, WorkspaceName: aws.String("os1"),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual, OperatingSystemName: wstypes.OperatingSystemNameAmazonLinux2}},
	}}))
	if len(cr.FailedRequests) != 2 || len(cr.PendingRequests) != 0 || aws.ToString(cr.FailedRequests[0].ErrorCode) != "UnsupportedWorkspaceConfigurationException" ||
		aws.ToString(cr.FailedRequests[1].ErrorCode) != "InvalidParameterValuesException" {
		t.Fatalf("CreateWorkspaces with refused inputs: failed %d pending %d %+v", len(cr.FailedRequests), len(cr.PendingRequests), cr.FailedRequests)
	}

	// Identity sources deskplane does not model are refused.
	_, err = ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: &e.dirID,
		IdcInstanceArn: aws.String("arn:aws:sso:::instance/ssoins-1234567890abcdef")})
	wsWant(t, "IdC", err, "ResourceNotFoundException")
	_, err = ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: &e.dirID,
		MicrosoftEntraConfig: &wstypes.MicrosoftEntraConfig{TenantId: aws.String("t1"), ApplicationConfigSecretArn: aws.String("arn:aws:secretsmanager:us-east-1:111122223333:secret:entra-config")}})
	wsWant(t, "Entra", err, "InvalidParameterValuesException")
	_, err = ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: &e.dirID, UserIdentityType: wstypes.UserIdentityTypeCustomerManaged})
	wsWant(t, "customer managed", err, "InvalidParameterValuesException")

	// ADMIN_MAINTENANCE and back.
	wsOK[*workspaces.ModifyWorkspaceStateOutput](t, "to ADMIN_MAINTENANCE")(ws.ModifyWorkspaceState(ctx, &workspaces.ModifyWorkspaceStateInput{WorkspaceId: &ids[1], WorkspaceState: wstypes.TargetWorkspaceStateAdminMaintenance}))
	if got := e.states(t, ctx, ids[1:])[ids[1]]; got != wstypes.WorkspaceStateAdminMaintenance {
		t.Fatalf("state %s", got)
	}
	_, err = ws.ModifyWorkspaceState(ctx, &workspaces.ModifyWorkspaceStateInput{WorkspaceId: &ids[0], WorkspaceState: wstypes.TargetWorkspaceStateAdminMaintenance})
	wsWant(t, "stopped to ADMIN_MAINTENANCE", err, "InvalidResourceStateException")
	wsOK[*workspaces.ModifyWorkspaceStateOutput](t, "to AVAILABLE")(ws.ModifyWorkspaceState(ctx, &workspaces.ModifyWorkspaceStateInput{WorkspaceId: &ids[1], WorkspaceState: wstypes.TargetWorkspaceStateAvailable}))
	snaps := wsOK[*workspaces.DescribeWorkspaceSnapshotsOutput](t, "DescribeWorkspaceSnapshots")(ws.DescribeWorkspaceSnapshots(ctx, &workspaces.DescribeWorkspaceSnapshotsInput{WorkspaceId: &ids[1]}))
	if snaps.RebuildSnapshots == nil || snaps.RestoreSnapshots == nil {
		t.Fatalf("snapshots: %+v", snaps)
	}
}

// TestConformanceWorkspacesDirectorySideDurable: IP groups, their
// association, directory properties, aliases and their sharing survive a
// SIGKILL of the server.
func TestConformanceWorkspacesDirectorySideDurable(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir, "--timing", "instant")
	e := setupAt(t, p.URL)
	ctx := ctxT(t)
	ws := e.ws
	g := wsOK[*workspaces.CreateIpGroupOutput](t, "CreateIpGroup")(ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("durable"),
		UserRules: []wstypes.IpRuleItem{{IpRule: aws.String("192.0.2.0/24")}}, Tags: red}))
	wsOK[*workspaces.AssociateIpGroupsOutput](t, "AssociateIpGroups")(ws.AssociateIpGroups(ctx, &workspaces.AssociateIpGroupsInput{DirectoryId: &e.dirID, GroupIds: []string{*g.GroupId}}))
	wsOK[*workspaces.ModifyWorkspaceAccessPropertiesOutput](t, "ModifyWorkspaceAccessProperties")(ws.ModifyWorkspaceAccessProperties(ctx, &workspaces.ModifyWorkspaceAccessPropertiesInput{ResourceId: &e.dirID,
		WorkspaceAccessProperties: &wstypes.WorkspaceAccessProperties{DeviceTypeZeroClient: wstypes.AccessPropertyValueDeny}}))
	a := wsOK[*workspaces.CreateConnectionAliasOutput](t, "CreateConnectionAlias")(ws.CreateConnectionAlias(ctx, &workspaces.CreateConnectionAliasInput{ConnectionString: aws.String("durable.example.com")}))
	wsOK[*workspaces.UpdateConnectionAliasPermissionOutput](t, "share")(ws.UpdateConnectionAliasPermission(ctx, &workspaces.UpdateConnectionAliasPermissionInput{AliasId: a.AliasId,
		ConnectionAliasPermission: &wstypes.ConnectionAliasPermission{SharedAccountId: aws.String("444455556666"), AllowAssociation: aws.Bool(true)}}))
	p.kill()

	p = startProc(t, dir, "--timing", "instant")
	ws = p.workspaces()
	d := wsOK[*workspaces.DescribeWorkspaceDirectoriesOutput](t, "DescribeWorkspaceDirectories")(ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}}))
	if dd := d.Directories[0]; len(dd.IpGroupIds) != 1 || dd.IpGroupIds[0] != *g.GroupId || dd.WorkspaceAccessProperties.DeviceTypeZeroClient != wstypes.AccessPropertyValueDeny {
		t.Fatalf("directory after restart: %v %+v", dd.IpGroupIds, dd.WorkspaceAccessProperties)
	}
	tags := wsOK[*workspaces.DescribeTagsOutput](t, "DescribeTags")(ws.DescribeTags(ctx, &workspaces.DescribeTagsInput{ResourceId: g.GroupId}))
	if len(tags.TagList) != 1 {
		t.Fatalf("group tags after restart: %+v", tags.TagList)
	}
	pw := workspaces.NewFromConfig(testserver.ConfigFor(p.URL, config.PartnerKeyID, config.PartnerSecret, ""))
	pd := wsOK[*workspaces.DescribeConnectionAliasesOutput](t, "partner describe")(pw.DescribeConnectionAliases(ctx, &workspaces.DescribeConnectionAliasesInput{}))
	if len(pd.ConnectionAliases) != 1 || aws.ToString(pd.ConnectionAliases[0].AliasId) != *a.AliasId {
		t.Fatalf("shared alias after restart: %+v", pd.ConnectionAliases)
	}
}
