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

// TestKeyRotationOnDemandAndOnItsPeriod: RotateKeyOnDemand and the
// automatic rotation (on the virtual clock) create new key material;
// ciphertexts from before each rotation still decrypt, and ListKeyRotations
// lists the rotations with their type, date and material.
func TestKeyRotationOnDemandAndOnItsPeriod(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock())
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("rotating")})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	encrypt := func(pt string) []byte {
		t.Helper()
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte(pt)})
		if err != nil {
			t.Fatal(err)
		}
		return out.CiphertextBlob
	}
	rotations := func() []types.RotationsListEntry {
		t.Helper()
		out, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id})
		if err != nil {
			t.Fatal(err)
		}
		return out.Rotations
	}
	if r := rotations(); len(r) != 0 {
		t.Fatalf("a new key's rotations: %+v", r)
	}
	first := encrypt("first")
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	second := encrypt("second")
	r := rotations()
	if len(r) != 1 || r[0].RotationType != types.RotationTypeOnDemand || aws.ToString(r[0].KeyMaterialId) == "" || r[0].RotationDate == nil ||
		aws.ToString(r[0].KeyId) != aws.ToString(k.KeyMetadata.Arn) {
		t.Fatalf("after RotateKeyOnDemand: %+v", r)
	}
	// Automatic rotation: 90 days on the server's clock.
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	s.Advance(89 * 24 * time.Hour)
	if r := rotations(); len(r) != 1 {
		t.Fatalf("rotated before its period: %+v", r)
	}
	s.Advance(2 * 24 * time.Hour)
	testserver.Eventually(t, 10*time.Second, func() bool { return len(rotations()) == 2 }, "no automatic rotation after 90 days")
	r = rotations()
	if r[1].RotationType != types.RotationTypeAutomatic || aws.ToString(r[1].KeyMaterialId) == aws.ToString(r[0].KeyMaterialId) {
		t.Fatalf("automatic rotation: %+v", r)
	}
	st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	if err != nil || st.NextRotationDate == nil || st.NextRotationDate.Sub(*r[1].RotationDate) != 90*24*time.Hour {
		t.Fatalf("next rotation after the automatic one: %+v, %v", st, err)
	}
	third := encrypt("third")
	for want, blob := range map[string][]byte{"first": first, "second": second, "third": third} {
		out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
		if err != nil || string(out.Plaintext) != want {
			t.Fatalf("decrypt %s after the rotations: %+v, %v", want, out, err)
		}
	}
	// Pages, and the errors the model lists.
	p, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id, Limit: aws.Int32(1)})
	if err != nil || len(p.Rotations) != 1 || !p.Truncated || p.NextMarker == nil {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	p, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id, Limit: aws.Int32(1), Marker: p.NextMarker})
	if err != nil || len(p.Rotations) != 1 || p.Truncated || p.Rotations[0].RotationType != types.RotationTypeAutomatic {
		t.Fatalf("second page: %+v, %v", p, err)
	}
	_, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id, Marker: aws.String("bogus")})
	var im *types.InvalidMarkerException
	if !errors.As(err, &im) {
		t.Fatalf("bad marker: %v", err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: id})
	var de *types.DisabledException
	if !errors.As(err, &de) {
		t.Fatalf("on-demand rotation of a disabled key: %v", err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown key: %v", err)
	}
}
