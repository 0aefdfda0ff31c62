// Package secrets seals the secrets deskplane keeps in its store (the
// secret access keys of IAM users, the STS token sealing key) under a key
// derived from the KMS master key, which is kept outside the store
// ($DESKPLANE_MASTER_KEY or the master key file). A copy of the database
// alone then reveals no credential.
//
// A sealed value is text: "dpsec1:" (the format version), the key id (8 hex
// digits naming the key that sealed it, so a value sealed under another
// master key is reported as such), ":", and the base64url of a 12-byte nonce
// and the AES-256-GCM ciphertext. The additional data binds the value to
// what it is the secret of (e.g. the access key id), so sealed values cannot
// be swapped between records. Values without the prefix are plaintext
// written by earlier versions: Open returns them as they are, and the
// owners of such records seal them again at start.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Prefix starts every sealed value.
const Prefix = "dpsec1:"

// Box seals and opens secrets with one key.
type Box struct {
	aead cipher.AEAD
	id   string
}

// New returns a box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: the key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	sum := sha256.Sum256(append([]byte("deskplane-secrets-key-id\x00"), key...))
	return &Box{aead: aead, id: hex.EncodeToString(sum[:4])}, nil
}

// ID names the box's key (the id sealed values carry).
func (b *Box) ID() string { return b.id }

// Sealed reports whether v is a sealed value (not legacy plaintext).
func Sealed(v string) bool { return strings.HasPrefix(v, Prefix) }

func aad(owner string) []byte { return []byte("deskplane-secret\x00" + owner) }

// Seal seals plain, the secret of owner (a record's identity, such as an
// access key id).
func (b *Box) Seal(plain, owner string) string {
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	ct := b.aead.Seal(nonce, nonce, []byte(plain), aad(owner))
	return Prefix + b.id + ":" + base64.RawURLEncoding.EncodeToString(ct)
}

// Open returns the secret sealed in v for owner. A value that is not sealed
// (legacy plaintext) is returned as it is.
func (b *Box) Open(v, owner string) (string, error) {
	if !Sealed(v) {
		return v, nil
	}
	id, enc, ok := strings.Cut(v[len(Prefix):], ":")
	if !ok {
		return "", errors.New("secrets: malformed sealed value")
	}
	if id != b.id {
		return "", fmt.Errorf("secrets: a secret of %s was sealed under key %s, but the master key in use is %s (wrong DESKPLANE_MASTER_KEY or master key file?)", owner, id, b.id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("secrets: malformed sealed value")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], aad(owner))
	if err != nil {
		return "", fmt.Errorf("secrets: the secret of %s does not open (tampered with, or moved from another record)", owner)
	}
	return string(plain), nil
}
