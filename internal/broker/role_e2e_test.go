package broker

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
)

const partnerTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
 "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Customer-1234"}}}]}`

// partnerPolicy is the partner guide's tag-based policy plus what a broker
// needs to read and to power-manage its own desktops.
const partnerPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["workspaces:CreateWorkspaces"],"Resource":"*",
  "Condition":{"StringEquals":{"aws:RequestTag/PartnerManaged":"true"},"ForAllValues:StringEquals":{"aws:TagKeys":"PartnerManaged"}}},
 {"Effect":"Allow","Action":["workspaces:TerminateWorkspaces","workspaces:ModifyWorkspaceProperties"],"Resource":"*",
  "Condition":{"StringEquals":{"aws:ResourceTag/PartnerManaged":"true"},"ForAllValues:StringEquals":{"aws:TagKeys":"PartnerManaged"}}},
 {"Effect":"Allow","Action":["workspaces:StartWorkspaces","workspaces:StopWorkspaces","workspaces:RebuildWorkspaces"],"Resource":"*",
  "Condition":{"StringEquals":{"aws:ResourceTag/PartnerManaged":"true"}}},
 {"Effect":"Allow","Action":["workspaces:Describe*","ds-data:List*","ds-data:Describe*","ds:Describe*","ds:AccessDSData"],"Resource":"*"}
]}`

// usePartnerRole switches the environment's broker configuration and
// clients to the default environment's PartnerRole (trusting the partner
// account with the ExternalId config.PartnerExternalID), as the README's
// broker configuration for the default server does.
func (e *testEnv) usePartnerRole() {
	e.t.Helper()
	ctx := context.Background()
	e.cfg.AccessKeyID, e.cfg.SecretAccessKey = config.PartnerKeyID, config.PartnerSecret
	e.cfg.RoleARN, e.cfg.ExternalID = config.PartnerRoleARN, config.PartnerExternalID
	awsCfg, err := NewAWSConfig(ctx, e.cfg, 30*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	e.c = NewClients(awsCfg, e.cfg.Endpoint)
}

// TestAssumedRoleUnderTagPolicies runs the broker as the partner: it
// assumes a customer's role with the ExternalId and works within the
// guide's tag-based policy alone (it never tags or untags anything).
func TestAssumedRoleUnderTagPolicies(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 5, 1) // the customer's admin onboards with static keys
	ctx := context.Background()
	ic := iam.NewFromConfig(e.s.Admin())
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("GuideRole"), AssumeRolePolicyDocument: aws.String(partnerTrust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("partner"), PolicyDocument: aws.String(partnerPolicy)}); err != nil {
		t.Fatal(err)
	}
	admin := e.c
	cfg := *e.cfg
	cfg.AccessKeyID, cfg.SecretAccessKey = config.PartnerKeyID, config.PartnerSecret
	cfg.RoleARN, cfg.ExternalID = "arn:aws:iam::111122223333:role/GuideRole", "Customer-1234"
	cfg.Pools = []Pool{
		{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 2, Max: 4, Warm: 1},
		{Name: "fin", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 1, Max: 4, Warm: 1},
	}
	cfg.Policies = cfg.Policies[:2]
	role := newEnv(t, e.s, &cfg)
	role.clock = e.clock
	b := role.broker()

	// A desktop with a pool-like name that the partner did not create (no
	// tag): the broker must leave it alone.
	dir := e.dirID()
	if err := b.resolveLocked(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := admin.WorkSpaces.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []types.WorkspaceRequest{{
		DirectoryId: aws.String(dir), BundleId: aws.String(b.bundleID["eng"]), UserName: aws.String("[UNDEFINED]"),
		WorkspaceName: aws.String("eng-999"), WorkspaceProperties: &types.WorkspaceProperties{RunningMode: types.RunningModeManual}}}})
	if err != nil || len(out.PendingRequests) != 1 {
		t.Fatalf("admin create: %v %+v", err, out)
	}
	foreign := aws.ToString(out.PendingRequests[0].WorkspaceId)

	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin") && r.Pools["eng"].Desktops == 2 }, "pools settle as the partner role")
	v, err := b.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() {
		t.Fatalf("alice: %+v %v", v, err)
	}
	if v.WorkspaceID == foreign {
		t.Fatal("the broker handed out a desktop it does not manage")
	}
	// Logout with release: RebuildWorkspaces under aws:ResourceTag.
	vc, err := b.RequestSession(ctx, "carol")
	if err != nil || !vc.Ready() {
		t.Fatalf("carol: %+v %v", vc, err)
	}
	if _, err := b.Logout(ctx, vc.SessionID); err != nil {
		t.Fatal(err)
	}
	// A desktop can be rebuilt once its first user-volume snapshot exists.
	e.advance(35 * time.Minute)
	reconcileUntil(t, b, func(r *PassReport) bool { return len(r.Pools["fin"].Rebuilt) == 1 }, "rebuild as the partner role")

	// The role's credentials expire on the server's clock; the broker
	// refreshes them (ExpiredToken drops the cache) and carries on.
	e.advance(2 * time.Hour)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin") }, "settle after the credentials expired")

	// A desktop that fails is replaced: TerminateWorkspaces under aws:ResourceTag.
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{"provision_fail_rate": 1}); err != nil {
		t.Fatal(err)
	}
	b2cfg := b.cfg
	b2cfg.Pools[0].Min = 3
	reconcileUntil(t, b, func(r *PassReport) bool { return len(r.Pools["eng"].Replaced) > 0 }, "replace a failed desktop")
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Desktops == 3 }, "settle after replacement")

	// The foreign desktop is untouched.
	d, err := admin.WorkSpaces.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{foreign}})
	if err != nil || len(d.Workspaces) != 1 || d.Workspaces[0].State == types.WorkspaceStateTerminated || d.Workspaces[0].State == types.WorkspaceStateTerminating {
		t.Fatalf("foreign desktop: %+v %v", d, err)
	}
}
