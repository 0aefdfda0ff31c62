package iam_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/testserver"
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"workspaces:Describe*","Resource":"*"}]}`

// TestPolicyVersions creates, lists, defaults and deletes a customer managed
// policy's versions, and attaches the WorkSpaces AWS managed policies.
func TestPolicyVersions(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())
	p, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("versions"), PolicyDocument: aws.String(allowAll)})
	if err != nil {
		t.Fatal(err)
	}
	arn := p.Policy.Arn
	for i := 2; i <= 5; i++ {
		v, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: arn, PolicyDocument: aws.String(allowAll), SetAsDefault: i == 3})
		if err != nil {
			t.Fatal(err)
		}
		if want := "v" + string(rune('0'+i)); aws.ToString(v.PolicyVersion.VersionId) != want {
			t.Fatalf("version id %s, want %s", aws.ToString(v.PolicyVersion.VersionId), want)
		}
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: arn, PolicyDocument: aws.String(allowAll)})
	wantCode(t, err, "LimitExceeded")
	list, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: arn})
	if err != nil || len(list.Versions) != 5 || aws.ToString(list.Versions[0].VersionId) != "v5" {
		t.Fatalf("versions: %+v, %v", list, err)
	}
	for _, v := range list.Versions {
		if v.IsDefaultVersion != (aws.ToString(v.VersionId) == "v3") {
			t.Errorf("%s IsDefaultVersion=%v, want only v3", aws.ToString(v.VersionId), v.IsDefaultVersion)
		}
	}
	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: arn, VersionId: aws.String("v3")})
	wantCode(t, err, "DeleteConflict")
	if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: arn, VersionId: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: arn, VersionId: aws.String("v5")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn})
	if err != nil || aws.ToString(got.Policy.DefaultVersionId) != "v5" {
		t.Fatalf("default version: %+v, %v", got, err)
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonWorkSpacesServiceAccess"), PolicyDocument: aws.String(allowAll)})
	wantCode(t, err, "InvalidInput")

	// The WorkSpaces service policies are AWS managed policies with their
	// documented versions.
	for arn, version := range map[string]string{"arn:aws:iam::aws:policy/AmazonWorkSpacesServiceAccess": "v2", "arn:aws:iam::aws:policy/AmazonWorkSpacesSelfServiceAccess": "v1"} {
		mp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil || aws.ToString(mp.Policy.DefaultVersionId) != version {
			t.Fatalf("%s: %+v, %v", arn, mp, err)
		}
	}
}

// TestTagsAndKeys tags and untags users, roles and policies, turns an
// access key inactive (it then no longer authenticates), and lists the
// groups and instance profiles deskplane does not model (none).
func TestTagsAndKeys(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("u"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("u"), TagKeys: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	ut, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("u")})
	if err != nil || len(ut.Tags) != 1 || aws.ToString(ut.Tags[0].Key) != "b" {
		t.Fatalf("user tags: %+v, %v", ut, err)
	}
	groups, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("u")})
	if err != nil || len(groups.Groups) != 0 {
		t.Fatalf("groups: %+v, %v", groups, err)
	}
	_, err = c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("nobody")})
	wantCode(t, err, "NoSuchEntity")

	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"workspaces.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust),
		Tags: []types.Tag{{Key: aws.String("x"), Value: aws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String("r"), TagKeys: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	rt, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("r")})
	if err != nil || len(rt.Tags) != 0 {
		t.Fatalf("role tags: %+v, %v", rt, err)
	}
	ips, err := c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: aws.String("r")})
	if err != nil || len(ips.InstanceProfiles) != 0 {
		t.Fatalf("instance profiles: %+v, %v", ips, err)
	}
	p, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(allowAll)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: p.Policy.Arn, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	pt, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: p.Policy.Arn})
	if err != nil || len(pt.Tags) != 1 {
		t.Fatalf("policy tags: %+v, %v", pt, err)
	}
	if _, err := c.UntagPolicy(ctx, &iam.UntagPolicyInput{PolicyArn: p.Policy.Arn, TagKeys: []string{"k"}}); err != nil {
		t.Fatal(err)
	}

	// An inactive key is refused; active again, it works.
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("u")})
	if err != nil {
		t.Fatal(err)
	}
	id, secret := aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)
	who := func() error {
		_, err := sts.NewFromConfig(s.Config(id, secret)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	}
	if err := who(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("u"), AccessKeyId: &id, Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if err := who(); err == nil {
		t.Fatal("an inactive key authenticated")
	}
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("u")})
	if err != nil || keys.AccessKeyMetadata[0].Status != types.StatusTypeInactive {
		t.Fatalf("keys: %+v, %v", keys, err)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("u"), AccessKeyId: &id, Status: types.StatusTypeActive}); err != nil {
		t.Fatal(err)
	}
	if err := who(); err != nil {
		t.Fatalf("the key active again: %v", err)
	}
	_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("u"), AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA"), Status: types.StatusTypeActive})
	wantCode(t, err, "NoSuchEntity")
}
