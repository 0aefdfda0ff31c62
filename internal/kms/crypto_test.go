package kms

import (
	"bytes"
	"testing"
)

func TestBlobBindsContextAndKey(t *testing.T) {
	mat := bytes.Repeat([]byte{7}, 32)
	arn := "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555"
	ec := map[string]string{"b": "2", "a": "1"}
	blob, err := encryptBlob(mat, arn, []byte("data"), ec)
	if err != nil {
		t.Fatal(err)
	}
	if blobKeyARN(blob) != arn {
		t.Fatal("blob does not name its key")
	}
	pt, err := decryptBlob(mat, blob, map[string]string{"a": "1", "b": "2"})
	if err != nil || string(pt) != "data" {
		t.Fatalf("round trip: %v", err)
	}
	// Length-prefixing keeps {"ab":""} and {"a":"b"} apart.
	b2, _ := encryptBlob(mat, arn, []byte("x"), map[string]string{"ab": ""})
	if _, err := decryptBlob(mat, b2, map[string]string{"a": "b"}); err == nil {
		t.Fatal("ambiguous context canonicalization")
	}
	for i := range blob {
		tb := bytes.Clone(blob)
		tb[i] ^= 0x80
		if _, err := decryptBlob(mat, tb, ec); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
	other := bytes.Repeat([]byte{8}, 32)
	if _, err := decryptBlob(other, blob, ec); err == nil {
		t.Fatal("wrong key material accepted")
	}
}

func TestMasterKeySealing(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	dir := t.TempDir()
	mk, err := LoadMasterKey(dir + "/" + MasterKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	mk2, err := LoadMasterKey(dir + "/" + MasterKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	mat := bytes.Repeat([]byte{9}, 32)
	sealed := mk.seal(mat, "arn:a")
	if bytes.Contains(sealed, mat) {
		t.Fatal("material visible in sealed form")
	}
	if got, err := mk2.open(sealed, "arn:a"); err != nil || !bytes.Equal(got, mat) {
		t.Fatalf("reloaded master key cannot unseal: %v", err)
	}
	if _, err := mk.open(sealed, "arn:b"); err == nil {
		t.Fatal("sealed material not bound to its key ARN")
	}
	t.Setenv(EnvMasterKey, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	env, err := LoadMasterKey(dir + "/" + MasterKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.open(sealed, "arn:a"); err == nil {
		t.Fatal("environment master key not used")
	}
}
