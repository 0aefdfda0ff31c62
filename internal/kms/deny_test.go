package kms_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// iamUser creates an IAM user with one inline policy and returns a KMS
// client signed with its new access key.
func iamUser(t *testing.T, s *testserver.Server, name, pol string) *kms.Client {
	t.Helper()
	ctx := context.Background()
	im := iam.NewFromConfig(s.Admin())
	if _, err := im.CreateUser(ctx, &iam.CreateUserInput{UserName: &name}); err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	if _, err := im.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &name, PolicyName: aws.String("p"), PolicyDocument: &pol}); err != nil {
		t.Fatalf("PutUserPolicy %s: %v", name, err)
	}
	ak, err := im.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &name})
	if err != nil {
		t.Fatalf("CreateAccessKey %s: %v", name, err)
	}
	return kms.NewFromConfig(s.Config(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey))
}

func userARN(name string) string { return "arn:aws:iam::" + config.CustomerAccount + ":user/" + name }

// TestTaggingIAMSeesRequestTags holds TagResource, UntagResource and
// CreateKey with Tags to IAM conditions on aws:RequestTag/* and aws:TagKeys:
// an identity-based deny on those keys matches.
func TestTaggingIAMSeesRequestTags(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	admin := kms.NewFromConfig(s.Admin())
	id := newKey(t, admin) // default key policy: delegates to IAM
	tagger := iamUser(t, s, "tagger", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Action":["kms:TagResource","kms:UntagResource"],"Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["Owner"]}}},
		{"Effect":"Deny","Action":"kms:TagResource","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/Env":"prod"}}}]}`)
	tag := func(k, v string) error {
		_, err := tagger.TagResource(ctx, &kms.TagResourceInput{KeyId: &id, Tags: []types.Tag{{TagKey: &k, TagValue: &v}}})
		return err
	}
	for _, kv := range [][2]string{{"Team", "a"}, {"Env", "dev"}} {
		if err := tag(kv[0], kv[1]); err != nil {
			t.Fatalf("TagResource %v: %v", kv, err)
		}
	}
	wantCode(t, tag("Owner", "x"), "AccessDeniedException")
	wantCode(t, tag("Env", "prod"), "AccessDeniedException")
	if _, err := admin.TagResource(ctx, &kms.TagResourceInput{KeyId: &id, Tags: []types.Tag{{TagKey: aws.String("Owner"), TagValue: aws.String("ops")}}}); err != nil {
		t.Fatal(err)
	}
	_, err := tagger.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &id, TagKeys: []string{"Owner"}})
	wantCode(t, err, "AccessDeniedException")
	if _, err := tagger.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &id, TagKeys: []string{"Team"}}); err != nil {
		t.Fatalf("UntagResource Team: %v", err)
	}
	lt, err := admin.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: &id})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range lt.Tags {
		got[*tg.TagKey] = *tg.TagValue
	}
	if len(got) != 2 || got["Owner"] != "ops" || got["Env"] != "dev" {
		t.Fatalf("tags after the denied calls: %v", got)
	}
	// CreateKey with Tags needs kms:TagResource, with the same conditions.
	create := func(k, v string) error {
		_, err := tagger.CreateKey(ctx, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: &k, TagValue: &v}}})
		return err
	}
	wantCode(t, create("Owner", "x"), "AccessDeniedException")
	wantCode(t, create("Env", "prod"), "AccessDeniedException")
	if err := create("Team", "b"); err != nil {
		t.Fatalf("CreateKey with an allowed tag: %v", err)
	}
}

// denyKMS is an identity policy that allows nothing in KMS and denies its
// use of keys explicitly.
const denyKMS = `{"Version":"2012-10-17","Statement":[
	{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"},
	{"Effect":"Deny","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:ReEncrypt*","kms:DescribeKey","kms:CreateGrant","kms:RetireGrant"],"Resource":"*"}]}`

// TestIdentityDenyBeatsGrantsAndKeyPolicy: an explicit deny in a caller's
// identity policy wins over a key policy that names the caller and over
// grants (for IAM users and role sessions), on every key operation.
func TestIdentityDenyBeatsGrantsAndKeyPolicy(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	admin := kms.NewFromConfig(s.Admin())
	app := kms.NewFromConfig(s.Config(appKey, appSecret))
	dev := iamUser(t, s, "dev", denyKMS)

	im := iam.NewFromConfig(s.Admin())
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + config.CustomerAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	if _, err := im.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("devrole"), AssumeRolePolicyDocument: &trust}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("devrole"), PolicyName: aws.String("p"), PolicyDocument: aws.String(denyKMS)}); err != nil {
		t.Fatal(err)
	}
	roleARN := "arn:aws:iam::" + config.CustomerAccount + ":role/devrole"
	as, err := sts.NewFromConfig(s.Admin()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testserver.ConfigFor(s.URL, *as.Credentials.AccessKeyId, *as.Credentials.SecretAccessKey, *as.Credentials.SessionToken)
	role := kms.NewFromConfig(cfg)

	// A key policy that names only the admin, and one that also names the
	// denied principals directly.
	adminOnly := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + userARN("admin") + `"},"Action":"kms:*","Resource":"*"}]}`
	named := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + userARN("admin") + `"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":["` + userARN("dev") + `","` + roleARN + `","` + appARN() + `"]},"Action":"kms:*","Resource":"*"}]}`
	ec := map[string]string{"tenant": "a"}
	allOps := []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt, types.GrantOperationGenerateDataKey,
		types.GrantOperationGenerateDataKeyWithoutPlaintext, types.GrantOperationReEncryptFrom, types.GrantOperationReEncryptTo,
		types.GrantOperationDescribeKey, types.GrantOperationCreateGrant, types.GrantOperationRetireGrant}

	for _, kp := range []struct{ name, policy string }{{"grant", adminOnly}, {"key policy", named}} {
		out, err := admin.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(kp.policy)})
		if err != nil {
			t.Fatalf("%s: CreateKey: %v", kp.name, err)
		}
		id := *out.KeyMetadata.Arn
		enc, err := admin.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("secret"), EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		grants := map[string]*kms.CreateGrantOutput{}
		for _, p := range []string{userARN("dev"), roleARN, appARN()} {
			g, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: aws.String(p), RetiringPrincipal: aws.String(p), Operations: allOps})
			if err != nil {
				t.Fatalf("%s: CreateGrant for %s: %v", kp.name, p, err)
			}
			grants[p] = g
		}
		// The control: app has no IAM permission and no deny; the grant (or
		// the key policy) lets it use the key.
		if _, err := app.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); err != nil {
			t.Fatalf("%s: app Decrypt: %v", kp.name, err)
		}
		for who, c := range map[string]*kms.Client{"user": dev, "role session": role} {
			grantee := userARN("dev")
			if who == "role session" {
				grantee = roleARN
			}
			calls := map[string]func() error{
				"Encrypt": func() error {
					_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x"), EncryptionContext: ec})
					return err
				},
				"Decrypt": func() error {
					_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
					return err
				},
				"GenerateDataKey": func() error {
					_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
					return err
				},
				"GenerateDataKeyWithoutPlaintext": func() error {
					_, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: &id, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
					return err
				},
				"ReEncrypt": func() error {
					_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: &id})
					return err
				},
				"DescribeKey": func() error {
					_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
					return err
				},
				"CreateGrant": func() error {
					_, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: aws.String(appARN()), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
					return err
				},
				"RetireGrant": func() error {
					_, err := c.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: grants[grantee].GrantToken})
					return err
				},
			}
			for op, call := range calls {
				err := call()
				if err == nil {
					t.Errorf("%s, %s: %s succeeded despite an explicit deny in the identity policy", kp.name, who, op)
					continue
				}
				wantCode(t, err, "AccessDeniedException")
			}
		}
	}
}
