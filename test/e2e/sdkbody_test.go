package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestLargeAnswersReadWhole sends many calls whose answers are longer than
// one read (a ListGrants of about 7 KB) through an SDK client of the tests,
// never retried: each answer must be read whole. Without sdkhttp about one
// call in seventy lost the end of its answer ("use of closed network
// connection"), when net/http's request writer took smithy-go's closing of
// the request body for a write error.
func TestLargeAnswersReadWhole(t *testing.T) {
	p := startProc(t, t.TempDir(), "--timing", "instant")
	cfg := testserver.ConfigFor(p.URL, config.AdminKeyID, config.AdminSecret, "")
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	c := kms.NewFromConfig(cfg)
	ctx := ctxT(t)
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key.KeyMetadata.Arn,
			GranteePrincipal: aws.String("arn:aws:iam::" + config.CustomerAccount + ":user/admin"),
			Operations:       []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationEncrypt}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 400; i++ {
		out, err := c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: key.KeyMetadata.Arn})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(out.Grants) != 20 {
			t.Fatalf("call %d: %d grants", i, len(out.Grants))
		}
	}
}
