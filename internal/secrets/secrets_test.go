package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	v := b.Seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIA1")
	if !Sealed(v) || strings.Contains(v, "wJalr") || !strings.HasPrefix(v, Prefix+b.ID()+":") {
		t.Fatalf("sealed value %q", v)
	}
	if got, err := b.Open(v, "AKIA1"); err != nil || got != "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := b.Open(v, "AKIA2"); err == nil {
		t.Fatal("a value moved to another record opened")
	}
	other, _ := New(bytes.Repeat([]byte{2}, 32))
	if _, err := other.Open(v, "AKIA1"); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("another key: %v", err)
	}
	if got, err := b.Open("legacy-plaintext", "AKIA1"); err != nil || got != "legacy-plaintext" {
		t.Fatalf("legacy plaintext: %q %v", got, err)
	}
	if b.Seal("x", "o") == b.Seal("x", "o") {
		t.Fatal("two seals of one value are equal (nonce reuse)")
	}
}

func TestPrivateDir(t *testing.T) {
	root := t.TempDir()
	fresh := filepath.Join(root, "fresh")
	if err := PrivateDir(fresh); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o700 {
		t.Fatalf("created with %04o", fi.Mode().Perm())
	}
	for _, mode := range []os.FileMode{0o777, 0o770, 0o702} {
		d := filepath.Join(root, mode.String())
		os.Mkdir(d, 0o700)
		os.Chmod(d, mode)
		if err := PrivateDir(d); err == nil {
			t.Errorf("mode %04o accepted", mode)
		}
	}
}
