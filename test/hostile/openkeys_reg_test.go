package hostile

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestPowerlessUserOnOpenKey is the regression test of seed
// 1796539701965270843: the setup stored a key policy that allows the
// principal "*", and the user with no policy then, as AWS allows, retired
// the key's grants and disabled it; the suite called that a hole. The
// check of the store must spare exactly the keys whose key policy allows
// everyone, and still report any change to another key.
func TestPowerlessUserOnOpenKey(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t)
	admin := kms.NewFromConfig(s.Admin())
	iamc := iam.NewFromConfig(s.Admin())
	if _, err := iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("nopolicy")}); err != nil {
		t.Fatal(err)
	}
	ak, err := iamc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nopolicy")})
	if err != nil {
		t.Fatal(err)
	}
	user := kms.NewFromConfig(s.Config(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey))

	openPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","NotResource":"arn:aws:workspaces:*:*:workspace/*"}]}`
	open, err := admin.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(openPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := admin.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	grant := func(keyID *string) *kms.CreateGrantOutput {
		t.Helper()
		g, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: keyID, GranteePrincipal: aws.String("arn:aws:iam::111122223333:role/someone"),
			RetiringPrincipal: aws.String("arn:aws:iam::111122223333:role/other"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	openGrant, closedGrant := grant(open.KeyMetadata.KeyId), grant(closed.KeyMetadata.KeyId)

	set, err := openKeys(ctx, s.Admin())
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 1 || !set["111122223333/us-east-1/"+*open.KeyMetadata.KeyId] {
		t.Fatalf("open keys: got %v, want only %s", set, *open.KeyMetadata.KeyId)
	}
	before, err := fetchDigest(ctx, http.DefaultClient, s.URL, s.AdminToken)
	if err != nil {
		t.Fatal(err)
	}

	// AWS: the key policy allows everyone, so the user with no policy may
	// retire the open key's grant and disable it; not so on the other key.
	if _, err := user.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: open.KeyMetadata.Arn, GrantId: openGrant.GrantId}); err != nil {
		t.Fatalf("retire a grant of the open key: %v", err)
	}
	if _, err := user.DisableKey(ctx, &kms.DisableKeyInput{KeyId: open.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("disable the open key: %v", err)
	}
	var ae smithy.APIError
	if _, err := user.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: closed.KeyMetadata.Arn, GrantId: closedGrant.GrantId}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("retire a grant of the closed key: got %v, want AccessDeniedException", err)
	}
	if _, err := user.DisableKey(ctx, &kms.DisableKeyInput{KeyId: closed.KeyMetadata.KeyId}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("disable the closed key: got %v, want AccessDeniedException", err)
	}

	after, err := fetchDigest(ctx, http.DefaultClient, s.URL, s.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	diff, spared := diffDigests(before, after, set.allows)
	if diff != "" {
		t.Errorf("changes to the open key were reported:\n%s", diff)
	}
	for _, want := range []string{*openGrant.GrantId + ": deleted", *open.KeyMetadata.KeyId + ": changed"} {
		if !strings.Contains(spared, want) {
			t.Errorf("spared changes %q do not hold %q", spared, want)
		}
	}

	// A change to the other key is still a change.
	if _, err := admin.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: closed.KeyMetadata.KeyId, GrantId: closedGrant.GrantId}); err != nil {
		t.Fatal(err)
	}
	after, err = fetchDigest(ctx, http.DefaultClient, s.URL, s.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	if diff, _ := diffDigests(before, after, set.allows); !strings.Contains(diff, *closedGrant.GrantId+": deleted") {
		t.Errorf("the revoked grant of the closed key is not reported: %q", diff)
	}
}

// TestPolicyOpensWrites covers which key policies open a key to everyone.
func TestPolicyOpensWrites(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want bool
	}{
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`, true},
		{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Disable*","Resource":"*"}}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","*"]},"Action":["kms:retiregrant"],"Resource":"*"}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"kms:Encrypt","Resource":"*"}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"kms:*","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":["workspaces:Describe*","iam:Get*"],"Resource":"*"}]}`, false},
		{`not json`, false},
	} {
		if got := policyOpensWrites(c.doc); got != c.want {
			t.Errorf("policyOpensWrites(%s) = %v, want %v", c.doc, got, c.want)
		}
	}
}
