package kms

import (
	"bytes"
	"testing"
	"time"
)

// TestRotationReplacesKeyMaterial: a rotation gives the key new material;
// what it encrypts after does not open with the old material, and what was
// encrypted before still decrypts.
func TestRotationReplacesKeyMaterial(t *testing.T) {
	mk, err := NewMasterKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	m := &Module{master: mk}
	arn := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	k := &keyRec{ARN: arn, Material: mk.seal(bytes.Repeat([]byte{1}, 32), arn)}
	ec := map[string]string{"purpose": "test"}
	cur := func() []byte {
		mat, err := mk.open(k.Material, arn)
		if err != nil {
			t.Fatal(err)
		}
		return mat
	}
	old := cur()
	before, err := encryptBlob(old, arn, []byte("before"), ec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := m.rotate(k, time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC), "ON_DEMAND"); err != nil {
			t.Fatal(err)
		}
	}
	if len(k.Rotations) != 2 || len(k.OldMaterial) != 2 || k.MaterialID == "" || k.Rotations[1].MaterialID != k.MaterialID {
		t.Fatalf("after two rotations: %d rotations, %d old materials, id %q", len(k.Rotations), len(k.OldMaterial), k.MaterialID)
	}
	mat := cur()
	if bytes.Equal(mat, old) {
		t.Fatal("the rotation kept the key material")
	}
	after, err := encryptBlob(mat, arn, []byte("after"), ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decryptBlob(old, after, ec); err == nil {
		t.Fatal("a ciphertext made after the rotation opens with the old material")
	}
	for want, blob := range map[string][]byte{"before": before, "after": after} {
		pt, err := m.decryptAny(k, mat, blob, ec)
		if err != nil || string(pt) != want {
			t.Fatalf("decrypt %s: %q, %v", want, pt, err)
		}
	}
	if _, err := m.decryptAny(k, mat, before, map[string]string{"purpose": "other"}); err == nil {
		t.Fatal("an old ciphertext decrypted under another encryption context")
	}
}
