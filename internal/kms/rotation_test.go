package kms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestKeyRotationAndDescription turns a key's automatic rotation on and
// off, reads its status and next rotation date, and changes its
// description, through the SDK.
func TestKeyRotationAndDescription(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("before")})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId

	st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	if err != nil || st.KeyRotationEnabled || st.NextRotationDate != nil {
		t.Fatalf("a new key's rotation: %+v, %v", st, err)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	st, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	if err != nil || !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 90 || st.NextRotationDate == nil {
		t.Fatalf("rotation after EnableKeyRotation: %+v, %v", st, err)
	}
	if d := time.Until(*st.NextRotationDate); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Errorf("next rotation in %s, want 90 days", d)
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: aws.Int32(30)})
	if err == nil {
		t.Fatal("a 30-day rotation period was accepted (the minimum is 90)")
	}
	if _, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	st, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	if err != nil || st.KeyRotationEnabled {
		t.Fatalf("rotation after DisableKeyRotation: %+v, %v", st, err)
	}

	if _, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: id, Description: aws.String("after")}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	if err != nil || aws.ToString(d.KeyMetadata.Description) != "after" {
		t.Fatalf("description: %+v, %v", d, err)
	}

	// A disabled key's rotation cannot change.
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id})
	var ise *types.KMSInvalidStateException
	if !errors.As(err, &ise) {
		t.Fatalf("EnableKeyRotation on a disabled key: %v, want KMSInvalidStateException", err)
	}
	_, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String("00000000-0000-0000-0000-000000000000")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("GetKeyRotationStatus of a missing key: %v, want NotFoundException", err)
	}
}
