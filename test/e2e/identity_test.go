package e2e

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// apiErr asserts err is an API error with code and, if status > 0, that status.
func iamErr(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected %s, got success", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("expected API error %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("expected %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
	if status > 0 {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() != status {
			t.Fatalf("%s: expected HTTP %d, got %d", code, status, re.HTTPStatusCode())
		}
	}
}

// iamFailure is a must iamFailure, turned into t.Fatal by catch.
type iamFailure struct{ err error }

// iamMust returns v or aborts the test (through catch) on err.
func iamMust[T any](v T, err error) T {
	if err != nil {
		panic(iamFailure{err})
	}
	return v
}

// catch reports a must iamFailure; every test defers it.
func iamCatch(t *testing.T) {
	if r := recover(); r != nil {
		if f, ok := r.(iamFailure); ok {
			t.Fatalf("unexpected error: %v", f.err)
		}
		panic(r)
	}
}

const trustPartner = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Customer-1234"}}}]}`

func TestIAMUsersAndKeys(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())

	me := iamMust(c.GetUser(ctx, &iam.GetUserInput{}))
	if aws.ToString(me.User.UserName) != "admin" || aws.ToString(me.User.Arn) != "arn:aws:iam::111122223333:user/admin" {
		t.Fatalf("GetUser caller: %+v", me.User)
	}
	u := iamMust(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ops"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}))
	if !strings.HasPrefix(aws.ToString(u.User.UserId), "AIDA") {
		t.Fatalf("user id %q", aws.ToString(u.User.UserId))
	}
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("OPS")})
	iamErr(t, err, "EntityAlreadyExists", 409)
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	iamErr(t, err, "NoSuchEntity", 404)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name!")})
	iamErr(t, err, "ValidationError", 400)

	users := iamMust(c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)}))
	if !users.IsTruncated || len(users.Users) != 1 {
		t.Fatalf("ListUsers page 1: %+v", users)
	}
	users2 := iamMust(c.ListUsers(ctx, &iam.ListUsersInput{Marker: users.Marker}))
	if users2.IsTruncated || len(users2.Users) != 1 {
		t.Fatalf("ListUsers page 2: %+v", users2)
	}

	k := iamMust(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops")}))
	id, secret := aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)
	if len(id) != 20 || !strings.HasPrefix(id, "AKIA") || len(secret) != 40 {
		t.Fatalf("key %q secret %q", id, secret)
	}
	iamMust(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops")}))
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops")})
	iamErr(t, err, "LimitExceeded", 409)
	keys := iamMust(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("ops")}))
	if len(keys.AccessKeyMetadata) != 2 {
		t.Fatalf("keys: %+v", keys.AccessKeyMetadata)
	}

	// The new user can authenticate but has no permissions yet.
	opsIAM := iam.NewFromConfig(s.Config(id, secret))
	_, err = opsIAM.ListUsers(ctx, &iam.ListUsersInput{})
	iamErr(t, err, "AccessDenied", 403)
	if !strings.Contains(err.Error(), "no identity-based policy allows") {
		t.Fatalf("deny reason: %v", err)
	}
	iamMust(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ops"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"},{"Sid":"NoKeys","Effect":"Deny","Action":"iam:ListAccessKeys","Resource":"*"}]}`)}))
	iamMust(opsIAM.ListUsers(ctx, &iam.ListUsersInput{})) // policy change visible at once
	_, err = opsIAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	iamErr(t, err, "AccessDenied", 403)
	if !strings.Contains(err.Error(), `explicit deny`) || !strings.Contains(err.Error(), `"NoKeys"`) {
		t.Fatalf("explicit deny reason: %v", err)
	}
	// Accounts are isolated: the user cannot see the partner account's users.
	pu := iamMust(iam.NewFromConfig(s.Partner()).ListUsers(ctx, &iam.ListUsersInput{}))
	for _, x := range pu.Users {
		if strings.Contains(aws.ToString(x.Arn), "111122223333") {
			t.Fatalf("partner sees customer user %s", aws.ToString(x.Arn))
		}
	}

	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ops"), PolicyName: aws.String("big"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 2100) + `"}]}`)})
	iamErr(t, err, "LimitExceeded", 409)

	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("ops")})
	iamErr(t, err, "DeleteConflict", 409)
	for _, km := range keys.AccessKeyMetadata {
		iamMust(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("ops"), AccessKeyId: km.AccessKeyId}))
	}
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("ops"), AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId})
	iamErr(t, err, "NoSuchEntity", 404)
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("ops")})
	iamErr(t, err, "DeleteConflict", 409) // inline policy left
}

func TestIAMRolesAndPolicies(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())

	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)})
	iamErr(t, err, "MalformedPolicyDocument", 400)
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17",`)})
	iamErr(t, err, "MalformedPolicyDocument", 400)
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trustPartner), MaxSessionDuration: aws.Int32(100)})
	iamErr(t, err, "ValidationError", 400)

	r := iamMust(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("GuideRole"), AssumeRolePolicyDocument: aws.String(trustPartner),
		MaxSessionDuration: aws.Int32(7200), Tags: []iamtypes.Tag{{Key: aws.String("Owner"), Value: aws.String("it")}}}))
	if aws.ToString(r.Role.Arn) != "arn:aws:iam::111122223333:role/GuideRole" || !strings.HasPrefix(aws.ToString(r.Role.RoleId), "AROA") {
		t.Fatalf("role %+v", r.Role)
	}
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("partnerrole"), AssumeRolePolicyDocument: aws.String(trustPartner)})
	iamErr(t, err, "EntityAlreadyExists", 409)
	g := iamMust(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("GuideRole")}))
	doc, _ := url.QueryUnescape(aws.ToString(g.Role.AssumeRolePolicyDocument))
	if doc != trustPartner || aws.ToInt32(g.Role.MaxSessionDuration) != 7200 || len(g.Role.Tags) != 1 {
		t.Fatalf("GetRole: %+v (doc %s)", g.Role, doc)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})
	iamErr(t, err, "NoSuchEntity", 404)
	iamMust(c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("GuideRole"), Tags: []iamtypes.Tag{{Key: aws.String("owner"), Value: aws.String("ops")}}}))
	g = iamMust(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("GuideRole")}))
	if len(g.Role.Tags) != 1 || aws.ToString(g.Role.Tags[0].Key) != "owner" {
		t.Fatalf("tag keys are case-insensitive: %+v", g.Role.Tags)
	}
	// The default environment's PartnerRole, and this one.
	if roles := iamMust(c.ListRoles(ctx, &iam.ListRolesInput{})).Roles; len(roles) != 2 ||
		aws.ToString(roles[0].RoleName) != "GuideRole" || aws.ToString(roles[1].Arn) != config.PartnerRoleARN {
		t.Fatalf("ListRoles: %+v", roles)
	}
	iamMust(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyDocument: aws.String(trustPartner)}))
	_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}`)})
	iamErr(t, err, "MalformedPolicyDocument", 400)

	// Inline role policies.
	pdoc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"workspaces:Describe*","Resource":"*"}]}`
	iamMust(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("describe"), PolicyDocument: aws.String(pdoc)}))
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`)})
	iamErr(t, err, "MalformedPolicyDocument", 400)
	gp := iamMust(c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("describe")}))
	if got, _ := url.QueryUnescape(aws.ToString(gp.PolicyDocument)); got != pdoc || !strings.HasPrefix(aws.ToString(gp.PolicyDocument), "%7B%22Version%22") {
		t.Fatalf("GetRolePolicy document %q", aws.ToString(gp.PolicyDocument))
	}
	_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("x")})
	iamErr(t, err, "NoSuchEntity", 404)
	if n := iamMust(c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("GuideRole")})).PolicyNames; len(n) != 1 || n[0] != "describe" {
		t.Fatalf("ListRolePolicies %v", n)
	}

	// Managed policies.
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("big"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 6200) + `"}]}`)})
	iamErr(t, err, "LimitExceeded", 409)
	mp := iamMust(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("ws-read"), PolicyDocument: aws.String(pdoc), Description: aws.String("read")}))
	arn := mp.Policy.Arn
	if aws.ToString(arn) != "arn:aws:iam::111122223333:policy/ws-read" {
		t.Fatalf("policy arn %s", aws.ToString(arn))
	}
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("ws-read"), PolicyDocument: aws.String(pdoc)})
	iamErr(t, err, "EntityAlreadyExists", 409)
	iamMust(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyArn: arn}))
	iamMust(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyArn: aws.String("arn:aws:iam::111122223333:policy/none")})
	iamErr(t, err, "NoSuchEntity", 404)
	if a := iamMust(c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("GuideRole")})).AttachedPolicies; len(a) != 2 {
		t.Fatalf("attached %+v", a)
	}
	gpol := iamMust(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn}))
	if aws.ToInt32(gpol.Policy.AttachmentCount) != 1 {
		t.Fatalf("attachment count %d", aws.ToInt32(gpol.Policy.AttachmentCount))
	}
	v := iamMust(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: aws.String("v1")}))
	if got, _ := url.QueryUnescape(aws.ToString(v.PolicyVersion.Document)); got != pdoc || !v.PolicyVersion.IsDefaultVersion {
		t.Fatalf("version %+v", v.PolicyVersion)
	}
	local := iamMust(c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal}))
	awsPols := iamMust(c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeAws}))
	if len(local.Policies) != 1 || len(awsPols.Policies) < 3 {
		t.Fatalf("ListPolicies local %d aws %d", len(local.Policies), len(awsPols.Policies))
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})
	iamErr(t, err, "DeleteConflict", 409)
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("GuideRole")})
	iamErr(t, err, "DeleteConflict", 409)
	iamMust(c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyArn: arn}))
	_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyArn: arn})
	iamErr(t, err, "NoSuchEntity", 404)
	iamMust(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn}))
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn})
	iamErr(t, err, "NoSuchEntity", 404)
	iamMust(c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	iamMust(c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("describe")}))
	_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("describe")})
	iamErr(t, err, "NoSuchEntity", 404)
	iamMust(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("GuideRole")}))
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("GuideRole")})
	iamErr(t, err, "NoSuchEntity", 404)
}

// guidePolicy is the partner guide's tag-based policy for the assumed role
// (its three examples in one document, with the real workspaces: prefix).
const guidePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["workspaces:CreateWorkspaces"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/PartnerManaged": "true"},
                   "ForAllValues:StringEquals": {"aws:TagKeys": "PartnerManaged"}}},
    {"Effect": "Allow", "Action": ["workspaces:ModifyWorkspaceProperties"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/PartnerManaged": "true"},
                   "ForAllValues:StringEquals": {"aws:TagKeys": "PartnerManaged"}}},
    {"Effect": "Allow", "Action": ["workspaces:TerminateWorkspaces"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/PartnerManaged": "true"},
                   "ForAllValues:StringEquals": {"aws:TagKeys": "PartnerManaged"}}}
  ]
}`

func TestSimulatePrincipalPolicy(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())
	iamMust(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("GuideRole"), AssumeRolePolicyDocument: aws.String(trustPartner)}))
	iamMust(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("guide"), PolicyDocument: aws.String(guidePolicy)}))
	src := aws.String("arn:aws:iam::111122223333:role/GuideRole")
	tag := func(kv ...string) []iamtypes.ContextEntry {
		var out []iamtypes.ContextEntry
		var keys []string
		for i := 0; i < len(kv); i += 2 {
			out = append(out, iamtypes.ContextEntry{ContextKeyName: aws.String("aws:RequestTag/" + kv[i]), ContextKeyValues: []string{kv[i+1]}, ContextKeyType: iamtypes.ContextKeyTypeEnumString})
			keys = append(keys, kv[i])
		}
		return append(out, iamtypes.ContextEntry{ContextKeyName: aws.String("aws:TagKeys"), ContextKeyValues: keys, ContextKeyType: iamtypes.ContextKeyTypeEnumStringList})
	}
	cases := []struct {
		name   string
		action string
		ctx    []iamtypes.ContextEntry
		want   iamtypes.PolicyEvaluationDecisionType
	}{
		{"create tagged", "workspaces:CreateWorkspaces", tag("PartnerManaged", "true"), iamtypes.PolicyEvaluationDecisionTypeAllowed},
		{"create untagged", "workspaces:CreateWorkspaces", nil, iamtypes.PolicyEvaluationDecisionTypeImplicitDeny},
		{"create extra key", "workspaces:CreateWorkspaces", tag("PartnerManaged", "true", "Other", "x"), iamtypes.PolicyEvaluationDecisionTypeImplicitDeny},
		{"create wrong value", "workspaces:CreateWorkspaces", tag("PartnerManaged", "false"), iamtypes.PolicyEvaluationDecisionTypeImplicitDeny},
		{"terminate tagged", "workspaces:TerminateWorkspaces", []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:ResourceTag/PartnerManaged"), ContextKeyValues: []string{"true"}, ContextKeyType: iamtypes.ContextKeyTypeEnumString}}, iamtypes.PolicyEvaluationDecisionTypeAllowed},
		{"terminate untagged", "workspaces:TerminateWorkspaces", nil, iamtypes.PolicyEvaluationDecisionTypeImplicitDeny},
		{"delete tags", "workspaces:DeleteTags", nil, iamtypes.PolicyEvaluationDecisionTypeImplicitDeny},
	}
	for _, tc := range cases {
		out := iamMust(c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: []string{tc.action}, ContextEntries: tc.ctx}))
		if len(out.EvaluationResults) != 1 || out.EvaluationResults[0].EvalDecision != tc.want {
			t.Fatalf("%s: %+v", tc.name, out.EvaluationResults)
		}
		r := out.EvaluationResults[0]
		if tc.want == iamtypes.PolicyEvaluationDecisionTypeAllowed && (len(r.MatchedStatements) != 1 || aws.ToString(r.MatchedStatements[0].SourcePolicyId) != "guide" || r.MatchedStatements[0].SourcePolicyType != iamtypes.PolicySourceTypeRole) {
			t.Fatalf("%s: matched %+v", tc.name, r.MatchedStatements)
		}
		if tc.ctx == nil && len(r.MissingContextValues) == 0 {
			t.Fatalf("%s: expected missing context values", tc.name)
		}
	}
	// Explicit deny through PolicyInputList, several actions and resources, paging.
	out := iamMust(c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src,
		ActionNames:     []string{"workspaces:TerminateWorkspaces", "workspaces:RebootWorkspaces"},
		ResourceArns:    []string{"arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1", "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-2"},
		PolicyInputList: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"NoReboot","Effect":"Deny","Action":"workspaces:RebootWorkspaces","Resource":"*"}]}`},
		MaxItems:        aws.Int32(3)}))
	if len(out.EvaluationResults) != 3 || !out.IsTruncated {
		t.Fatalf("page 1: %d truncated=%v", len(out.EvaluationResults), out.IsTruncated)
	}
	out2 := iamMust(c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src,
		ActionNames:     []string{"workspaces:TerminateWorkspaces", "workspaces:RebootWorkspaces"},
		ResourceArns:    []string{"arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1", "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-2"},
		PolicyInputList: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"NoReboot","Effect":"Deny","Action":"workspaces:RebootWorkspaces","Resource":"*"}]}`},
		Marker:          out.Marker}))
	last := out2.EvaluationResults[0]
	if out2.IsTruncated || len(out2.EvaluationResults) != 1 || last.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeExplicitDeny ||
		aws.ToString(last.MatchedStatements[0].SourcePolicyId) != "PolicyInputList.1" || aws.ToString(last.EvalResourceName) != "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-2" {
		t.Fatalf("page 2: %+v", out2.EvaluationResults)
	}
	_, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:role/none"), ActionNames: []string{"s3:GetObject"}})
	iamErr(t, err, "NoSuchEntity", 404)
	_, err = c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: []string{"s3:GetObject"}, PolicyInputList: []string{"{"}})
	iamErr(t, err, "InvalidInput", 400)
	// The admin user's own policy.
	adm := iamMust(c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:user/admin"), ActionNames: []string{"workspaces:CreateWorkspaces"}}))
	if adm.EvaluationResults[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed || adm.EvaluationResults[0].MatchedStatements[0].SourcePolicyType != iamtypes.PolicySourceTypeUser {
		t.Fatalf("admin: %+v", adm.EvaluationResults[0])
	}
}

// partnerRole creates the guide's role in the customer account and returns
// its ARN.
func partnerRole(t *testing.T, s *testserver.Server, maxSession int32) string {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())
	r := iamMust(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("GuideRole"), AssumeRolePolicyDocument: aws.String(trustPartner), MaxSessionDuration: aws.Int32(maxSession),
		Tags: []iamtypes.Tag{{Key: aws.String("Partner"), Value: aws.String("acme")}}}))
	iamMust(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("guide"), PolicyDocument: aws.String(guidePolicy)}))
	iamMust(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("GuideRole"), PolicyName: aws.String("iam-read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","iam:ListRoles"],"Resource":"*"}]}`)}))
	return aws.ToString(r.Role.Arn)
}

func stsAssume(ctx context.Context, cfg aws.Config, in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
	return sts.NewFromConfig(cfg).AssumeRole(ctx, in)
}

func stsSessionConfig(s *testserver.Server, cr *ststypes.Credentials) aws.Config {
	return testserver.ConfigFor(s.URL, aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken))
}

func TestSTSAssumeRole(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t, testserver.VirtualClock())
	ctx := context.Background()
	roleARN := partnerRole(t, s, 7200)
	partner := s.Partner()

	// GetCallerIdentity needs no permission.
	id := iamMust(sts.NewFromConfig(partner).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(id.Arn) != "arn:aws:iam::444455556666:user/partner" || aws.ToString(id.Account) != config.PartnerAccount {
		t.Fatalf("caller %+v", id)
	}
	// Wrong or missing ExternalId.
	_, err := stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-9999")})
	iamErr(t, err, "AccessDenied", 403)
	if !strings.Contains(err.Error(), "User: arn:aws:iam::444455556666:user/partner is not authorized to perform: sts:AssumeRole on resource: "+roleARN) {
		t.Fatalf("message: %v", err)
	}
	_, err = stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1")})
	iamErr(t, err, "AccessDenied", 403)
	// The customer admin is not trusted.
	_, err = stsAssume(ctx, s.Admin(), &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-1234")})
	iamErr(t, err, "AccessDenied", 403)
	// Unknown roles look the same as refused ones.
	_, err = stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/Nope"), RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-1234")})
	iamErr(t, err, "AccessDenied", 403)
	// Bad inputs.
	_, err = stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("bad name"), ExternalId: aws.String("Customer-1234")})
	iamErr(t, err, "ValidationError", 400)
	_, err = stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-1234"), DurationSeconds: aws.Int32(899)})
	iamErr(t, err, "ValidationError", 400)
	_, err = stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-1234"), DurationSeconds: aws.Int32(7201)})
	iamErr(t, err, "ValidationError", 400)
	_, err = stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-1234"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`)})
	iamErr(t, err, "MalformedPolicyDocument", 400)
	var tags []ststypes.Tag
	for i := 0; i < 50; i++ {
		tags = append(tags, ststypes.Tag{Key: aws.String(strings.Repeat(string(rune('a'+i%26)), 100) + string(rune('A'+i/26))), Value: aws.String(strings.Repeat(string(rune('z'-i%26)), 250))})
	}
	// (Session tags also need sts:TagSession in the trust policy, which is checked after the size.)
	_, err = stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-1234"), Tags: tags})
	if err == nil {
		t.Fatal("50 long tags accepted")
	}

	// A partner user whose own policies do not allow sts:AssumeRole is refused.
	padmin := iam.NewFromConfig(partner)
	iamMust(padmin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("noassume")}))
	k := iamMust(padmin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("noassume")}))
	iamMust(padmin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("noassume"), PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`)}))
	_, err = stsAssume(ctx, s.Config(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)), &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1"), ExternalId: aws.String("Customer-1234")})
	iamErr(t, err, "AccessDenied", 403)

	// The right ExternalId works.
	out := iamMust(stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("broker"), ExternalId: aws.String("Customer-1234"), DurationSeconds: aws.Int32(3600)}))
	cr := out.Credentials
	if !strings.HasPrefix(aws.ToString(cr.AccessKeyId), "ASIA") || len(aws.ToString(cr.AccessKeyId)) != 20 || len(aws.ToString(cr.SecretAccessKey)) != 40 {
		t.Fatalf("credentials %+v", cr)
	}
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::111122223333:assumed-role/GuideRole/broker" || !strings.HasPrefix(aws.ToString(out.AssumedRoleUser.AssumedRoleId), "AROA") || !strings.HasSuffix(aws.ToString(out.AssumedRoleUser.AssumedRoleId), ":broker") {
		t.Fatalf("assumed role user %+v", out.AssumedRoleUser)
	}
	sess := stsSessionConfig(s, cr)
	who := iamMust(sts.NewFromConfig(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(who.Arn) != "arn:aws:sts::111122223333:assumed-role/GuideRole/broker" || aws.ToString(who.Account) != config.CustomerAccount {
		t.Fatalf("session identity %+v", who)
	}
	// The session acts in the customer account with the role's permissions.
	iamMust(iam.NewFromConfig(sess).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("GuideRole")}))
	_, err = iam.NewFromConfig(sess).ListUsers(ctx, &iam.ListUsersInput{})
	iamErr(t, err, "AccessDenied", 403)
	// Temporary credentials cannot call GetSessionToken.
	_, err = sts.NewFromConfig(sess).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	iamErr(t, err, "AccessDenied", 403)
	// Role chaining is limited to one hour.
	_, err = stsAssume(ctx, sess, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("chain"), DurationSeconds: aws.Int32(3601)})
	iamErr(t, err, "ValidationError", 400)

	// A token with one flipped byte, or presented with another key id, is invalid.
	tok := []byte(aws.ToString(cr.SessionToken))
	i := len(tok) / 2
	if tok[i] == 'A' {
		tok[i] = 'B'
	} else {
		tok[i] = 'A'
	}
	bad := testserver.ConfigFor(s.URL, aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), string(tok))
	_, err = sts.NewFromConfig(bad).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	iamErr(t, err, "InvalidClientTokenId", 403)
	out2 := iamMust(stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("other"), ExternalId: aws.String("Customer-1234")}))
	swapped := testserver.ConfigFor(s.URL, aws.ToString(out2.Credentials.AccessKeyId), aws.ToString(out2.Credentials.SecretAccessKey), aws.ToString(cr.SessionToken))
	_, err = sts.NewFromConfig(swapped).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	iamErr(t, err, "InvalidClientTokenId", 403)

	// Session policy narrows: only GetRole, not ListRoles.
	np := iamMust(stsAssume(ctx, partner, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("narrow"), ExternalId: aws.String("Customer-1234"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}`)}))
	if np.PackedPolicySize == nil || *np.PackedPolicySize <= 0 {
		t.Fatalf("PackedPolicySize %v", np.PackedPolicySize)
	}
	nc := iam.NewFromConfig(stsSessionConfig(s, np.Credentials))
	iamMust(nc.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("GuideRole")}))
	_, err = nc.ListRoles(ctx, &iam.ListRolesInput{})
	iamErr(t, err, "AccessDenied", 403)
	if !strings.Contains(err.Error(), "no session policy allows") {
		t.Fatalf("narrowed reason: %v", err)
	}

	// The session expires on the server's (virtual) clock.
	s.Advance(2 * time.Hour)
	_, err = sts.NewFromConfig(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	iamErr(t, err, "ExpiredToken", 400)
	if !strings.Contains(err.Error(), "The security token included in the request is expired") {
		t.Fatalf("expired message: %v", err)
	}
}

func TestSTSGetSessionToken(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t, testserver.VirtualClock())
	ctx := context.Background()
	c := sts.NewFromConfig(s.Admin())
	_, err := c.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(800)})
	iamErr(t, err, "ValidationError", 400)
	_, err = c.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129601)})
	iamErr(t, err, "ValidationError", 400)
	out := iamMust(c.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)}))
	sess := stsSessionConfig(s, out.Credentials)
	who := iamMust(sts.NewFromConfig(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(who.Arn) != "arn:aws:iam::111122223333:user/admin" {
		t.Fatalf("identity %+v", who)
	}
	iamMust(ec2.NewFromConfig(sess).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})) // the user's permissions (but no IAM)
	s.Advance(901 * time.Second)
	_, err = sts.NewFromConfig(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	iamErr(t, err, "ExpiredToken", 400)
}
