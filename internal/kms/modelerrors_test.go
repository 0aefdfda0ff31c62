package kms_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestErrorsFollowTheModel holds answers the hostile-input suite
// (test/hostile) found outside the model's errors for the operation:
// UpdateAlias and DeleteAlias declare no InvalidAliasNameException, and
// DescribeKey no InvalidGrantTokenException.
func TestErrorsFollowTheModel(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	id := newKey(t, c)
	_, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("noprefix")})
	wantCode(t, err, "ValidationException")
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/aws/ebs")})
	wantCode(t, err, "ValidationException")
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("noprefix"), TargetKeyId: &id})
	wantCode(t, err, "ValidationException")
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id, GrantTokens: []string{"not-a-grant-token"}}); err != nil {
		t.Fatalf("DescribeKey with a grant token it does not read: %v", err)
	}
}
