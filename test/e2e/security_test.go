package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	deskiam "github.com/deskplane/deskplane/internal/iam"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/testserver"
)

// delegatePolicy lets a delegated administrator manage IAM, except the
// users and roles under the /admins/ path and anything tagged tier=admin.
const delegatePolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iam:*","Resource":"*"},
 {"Sid":"NotAdmins","Effect":"Deny","Action":"iam:*","Resource":["arn:aws:iam::111122223333:user/admins/*","arn:aws:iam::111122223333:role/admins/*"]},
 {"Sid":"NotTagged","Effect":"Deny","Action":"iam:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/tier":"admin"}}}]}`

const trustAccount = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`

// newUserWithKey creates a user with an inline policy and an access key and
// returns an IAM client for it.
func newUserWithKey(t *testing.T, s *testserver.Server, name, path, doc string) aws.Config {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())
	in := &iam.CreateUserInput{UserName: aws.String(name)}
	if path != "" {
		in.Path = aws.String(path)
	}
	iamMust(c.CreateUser(ctx, in))
	if doc != "" {
		iamMust(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}))
	}
	k := iamMust(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)}))
	return s.Config(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
}

// TestPathScopedDenyOnExistingEntities: operations on existing users and
// roles are authorized against the entity's real ARN (with its path) and
// tags, so a Deny on user/admins/* or on aws:ResourceTag holds.
func TestPathScopedDenyOnExistingEntities(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(s.Admin())
	iamMust(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("boss"), Path: aws.String("/admins/")}))
	iamMust(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tagged"), Tags: []iamtypes.Tag{{Key: aws.String("tier"), Value: aws.String("admin")}}}))
	iamMust(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("plain")}))
	iamMust(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("AdminRole"), Path: aws.String("/admins/"), AssumeRolePolicyDocument: aws.String(trustAccount)}))
	iamMust(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("PlainRole"), AssumeRolePolicyDocument: aws.String(trustAccount)}))
	d := iam.NewFromConfig(newUserWithKey(t, s, "delegate", "", delegatePolicy))

	denied := func(what, arn string, err error) {
		t.Helper()
		iamErr(t, err, "AccessDenied", 403)
		if !strings.Contains(err.Error(), "on resource: "+arn+" ") {
			t.Fatalf("%s: the denial names another resource: %v", what, err)
		}
	}
	const bossARN = "arn:aws:iam::111122223333:user/admins/boss"
	const taggedARN = "arn:aws:iam::111122223333:user/tagged"
	const roleARN = "arn:aws:iam::111122223333:role/admins/AdminRole"
	for _, who := range []struct{ name, arn string }{{"boss", bossARN}, {"tagged", taggedARN}} {
		u := aws.String(who.name)
		_, err := d.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: u})
		denied("CreateAccessKey "+who.name, who.arn, err)
		_, err = d.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: u, PolicyName: aws.String("x"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
		denied("PutUserPolicy "+who.name, who.arn, err)
		_, err = d.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: u, PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
		denied("AttachUserPolicy "+who.name, who.arn, err)
		_, err = d.GetUser(ctx, &iam.GetUserInput{UserName: u})
		denied("GetUser "+who.name, who.arn, err)
		_, err = d.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u})
		denied("ListAccessKeys "+who.name, who.arn, err)
		_, err = d.DeleteUser(ctx, &iam.DeleteUserInput{UserName: u})
		denied("DeleteUser "+who.name, who.arn, err)
		_, err = d.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: u, PolicyName: aws.String("p")})
		denied("DeleteUserPolicy "+who.name, who.arn, err)
	}
	r := aws.String("AdminRole")
	_, err := d.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: r, PolicyDocument: aws.String(trustAccount)})
	denied("UpdateAssumeRolePolicy", roleARN, err)
	_, err = d.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: r, PolicyName: aws.String("x"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	denied("PutRolePolicy", roleARN, err)
	_, err = d.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: r, PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	denied("AttachRolePolicy", roleARN, err)
	_, err = d.TagRole(ctx, &iam.TagRoleInput{RoleName: r, Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	denied("TagRole", roleARN, err)
	_, err = d.GetRole(ctx, &iam.GetRoleInput{RoleName: r})
	denied("GetRole", roleARN, err)
	_, err = d.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: r})
	denied("DeleteRole", roleARN, err)
	// Spelling the source without its path neither bypasses the deny nor
	// finds the user.
	_, err = d.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:user/boss"), ActionNames: []string{"iam:CreateAccessKey"}})
	denied("SimulatePrincipalPolicy", bossARN, err)
	_, err = admin.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:user/boss"), ActionNames: []string{"iam:CreateAccessKey"}})
	iamErr(t, err, "NoSuchEntity", 404)
	iamMust(admin.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(bossARN), ActionNames: []string{"iam:CreateAccessKey"}}))

	// Outside /admins/ the delegate still manages users and roles.
	iamMust(d.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("plain")}))
	iamMust(d.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("PlainRole"), PolicyDocument: aws.String(trustAccount)}))
	iamMust(d.GetUser(ctx, &iam.GetUserInput{})) // itself
	// Unknown entities are still reported as such.
	_, err = d.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nobody")})
	iamErr(t, err, "NoSuchEntity", 404)
	_, err = d.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("plain"), PolicyName: aws.String("none")})
	iamErr(t, err, "NoSuchEntity", 404)
}

// TestGetSessionTokenCredentialsLimits: credentials from GetSessionToken
// (without MFA) cannot call IAM at all, nor STS but AssumeRole and
// GetCallerIdentity, so a leaked token cannot mint a permanent key.
func TestGetSessionTokenCredentialsLimits(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(s.Admin())
	iamMust(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Ops"), AssumeRolePolicyDocument: aws.String(trustAccount)}))
	out := iamMust(sts.NewFromConfig(s.Admin()).GetSessionToken(ctx, &sts.GetSessionTokenInput{}))
	sess := stsSessionConfig(s, out.Credentials)
	si := iam.NewFromConfig(sess)

	_, err := si.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	iamErr(t, err, "AccessDenied", 403)
	if !strings.Contains(err.Error(), "GetSessionToken") {
		t.Fatalf("unclear message: %v", err)
	}
	_, err = si.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")})
	iamErr(t, err, "AccessDenied", 403)
	_, err = si.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backdoor")})
	iamErr(t, err, "AccessDenied", 403)
	_, err = si.ListUsers(ctx, &iam.ListUsersInput{})
	iamErr(t, err, "AccessDenied", 403)
	_, err = si.GetUser(ctx, &iam.GetUserInput{})
	iamErr(t, err, "AccessDenied", 403)
	_, err = sts.NewFromConfig(sess).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	iamErr(t, err, "AccessDenied", 403)

	// AssumeRole and GetCallerIdentity work, and so do other services.
	iamMust(sts.NewFromConfig(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	ar := iamMust(sts.NewFromConfig(sess).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/Ops"), RoleSessionName: aws.String("ops")}))
	if ar.Credentials == nil {
		t.Fatal("no credentials")
	}
	iamMust(ec2.NewFromConfig(sess).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))
	// The long-term key keeps its IAM permissions.
	iamMust(admin.ListUsers(ctx, &iam.ListUsersInput{}))
}

// TestSessionsBoundToUniqueID: a session (and an access key) belongs to the
// role's or user's unique id, so deleting the entity and creating another of
// the same name never hands the old credentials the new one's permissions.
func TestSessionsBoundToUniqueID(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(s.Admin())
	invalid := func(cfg aws.Config) {
		t.Helper()
		_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		iamErr(t, err, "InvalidClientTokenId", 403)
		_, err = iam.NewFromConfig(cfg).ListRoles(ctx, &iam.ListRolesInput{})
		iamErr(t, err, "InvalidClientTokenId", 403)
		_, err = workspaces.NewFromConfig(cfg).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
		iamErr(t, err, "UnrecognizedClientException", 400)
	}

	// A role session.
	const roleARN = "arn:aws:iam::111122223333:role/Ephemeral"
	iamMust(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Ephemeral"), AssumeRolePolicyDocument: aws.String(trustAccount)}))
	old := iamMust(sts.NewFromConfig(s.Admin()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1")}))
	oldSess := stsSessionConfig(s, old.Credentials)
	_, err := iam.NewFromConfig(oldSess).ListRoles(ctx, &iam.ListRolesInput{})
	iamErr(t, err, "AccessDenied", 403) // the first role has no permissions
	iamMust(admin.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("Ephemeral")}))
	invalid(oldSess)
	iamMust(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Ephemeral"), AssumeRolePolicyDocument: aws.String(trustAccount)}))
	iamMust(admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Ephemeral"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	invalid(oldSess)
	// A session of the new role has the new role's permissions.
	cur := iamMust(sts.NewFromConfig(s.Admin()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1")}))
	iamMust(iam.NewFromConfig(stsSessionConfig(s, cur.Credentials)).ListRoles(ctx, &iam.ListRolesInput{}))
	invalid(oldSess)

	// A user's GetSessionToken session.
	temp := newUserWithKey(t, s, "temp", "", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetSessionToken","Resource":"*"}]}`)
	tok := iamMust(sts.NewFromConfig(temp).GetSessionToken(ctx, &sts.GetSessionTokenInput{}))
	tokSess := stsSessionConfig(s, tok.Credentials)
	_, err = ec2.NewFromConfig(tokSess).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	iamErr(t, err, "UnauthorizedOperation", 403)
	keys := iamMust(admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("temp")}))
	for _, k := range keys.AccessKeyMetadata {
		iamMust(admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("temp"), AccessKeyId: k.AccessKeyId}))
	}
	iamMust(admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("temp"), PolicyName: aws.String("p")}))
	iamMust(admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("temp")}))
	iamMust(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("temp")}))
	iamMust(admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("temp"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	_, err = sts.NewFromConfig(tokSess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	iamErr(t, err, "InvalidClientTokenId", 403)
	_, err = workspaces.NewFromConfig(tokSess).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
	iamErr(t, err, "UnrecognizedClientException", 400)
}

// TestAccessKeyBoundToUserID: an access key that outlives its user (deleting
// a user through the API refuses while it has keys, so the key is left
// behind here the way a restored or hand-edited store would leave it) does
// not authenticate as a later user of the same name.
func TestAccessKeyBoundToUserID(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	admin := iam.NewFromConfig(s.Admin())
	leftover := newUserWithKey(t, s, "reused", "", "")
	_, err := ec2.NewFromConfig(leftover).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	iamErr(t, err, "UnauthorizedOperation", 403) // authenticates, no permissions
	// The user record goes; its key stays.
	err = s.Deps.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(ctx, deskiam.TableUsers, deskiam.UserKey("111122223333", "reused")); err != nil {
			return err
		}
		return deskiam.BumpGeneration(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	iamMust(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reused")}))
	iamMust(admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("reused"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	_, err = ec2.NewFromConfig(leftover).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	iamErr(t, err, "AuthFailure", 401)
	_, err = iam.NewFromConfig(leftover).ListUsers(ctx, &iam.ListUsersInput{})
	iamErr(t, err, "InvalidClientTokenId", 403)
	// A key of the new user works.
	k := iamMust(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reused")}))
	iamMust(ec2.NewFromConfig(s.Config(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))
}

// TestSimulatePrincipalPolicyBounded: SimulatePrincipalPolicy refuses more
// action names or resource ARNs than it accepts, and evaluates only the
// requested page of the action × resource product.
func TestSimulatePrincipalPolicyBounded(t *testing.T) {
	defer iamCatch(t)
	s := testserver.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())
	src := aws.String("arn:aws:iam::111122223333:user/admin")
	names := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	action := func(i int) string { return fmt.Sprintf("workspaces:Action%d", i) }
	resource := func(i int) string {
		return fmt.Sprintf("arn:aws:workspaces:us-east-1:111122223333:workspace/ws-%09d", i)
	}
	_, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: names(1001, action)})
	iamErr(t, err, "ValidationError", 400)
	_, err = c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: []string{"s3:GetObject"}, ResourceArns: names(1001, resource)})
	iamErr(t, err, "ValidationError", 400)
	_, err = c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: []string{"s3"}})
	iamErr(t, err, "ValidationError", 400) // shorter than the model's 3 characters
	_, err = c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: []string{"s3:GetObject"}, ResourceArns: []string{strings.Repeat("a", 2049)}})
	iamErr(t, err, "ValidationError", 400)
	_, err = c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: []string{"s3:GetObject"}, PolicyInputList: []string{strings.Repeat(" ", 131073)}})
	iamErr(t, err, "ValidationError", 400)

	// 300 × 300 = 90,000 results, one page of two asked for: about 11,000
	// allocations (decoding the 600 members), against 1.6 million when every
	// result was built before paging.
	in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: src, ActionNames: names(300, action), ResourceArns: names(300, resource), MaxItems: aws.Int32(2)}
	var out *iam.SimulatePrincipalPolicyOutput
	allocs := testing.AllocsPerRun(1, func() {
		out = iamMust(c.SimulatePrincipalPolicy(ctx, in))
	})
	if allocs > 100000 {
		t.Fatalf("one page of 2 results took %.0f allocations: the whole product was built", allocs)
	}
	if len(out.EvaluationResults) != 2 || !out.IsTruncated || aws.ToString(out.EvaluationResults[1].EvalActionName) != action(0) ||
		aws.ToString(out.EvaluationResults[1].EvalResourceName) != resource(1) {
		t.Fatalf("page 1: truncated=%v %+v", out.IsTruncated, out.EvaluationResults)
	}
	// The next page carries on where the first stopped.
	in.Marker, in.MaxItems = out.Marker, aws.Int32(299)
	out = iamMust(c.SimulatePrincipalPolicy(ctx, in))
	if len(out.EvaluationResults) != 299 || aws.ToString(out.EvaluationResults[298].EvalActionName) != action(1) ||
		aws.ToString(out.EvaluationResults[298].EvalResourceName) != resource(0) {
		t.Fatalf("page 2: %d results, last %+v", len(out.EvaluationResults), out.EvaluationResults[len(out.EvaluationResults)-1])
	}
	// A marker past the end is refused.
	in.Marker = aws.String(base64.RawURLEncoding.EncodeToString([]byte("90001")))
	_, err = c.SimulatePrincipalPolicy(ctx, in)
	iamErr(t, err, "InvalidInput", 400)
}
