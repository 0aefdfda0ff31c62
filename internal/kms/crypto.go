package kms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EnvMasterKey is the environment variable holding the master key (base64 of
// 32 bytes). It takes precedence over the master key file. Every node of a
// multi-node (PostgreSQL) deployment must use the same master key.
const EnvMasterKey = "DESKPLANE_MASTER_KEY"

// MasterKeyFile is the name of the master key file in the data directory.
const MasterKeyFile = "master.key"

// MasterKey wraps (encrypts at rest) the key material of every KMS key. It is
// kept outside the database: in $DESKPLANE_MASTER_KEY or in a 0600 file.
type MasterKey struct {
	aead cipher.AEAD
	raw  []byte
}

// NewMasterKey returns a master key from 32 raw bytes.
func NewMasterKey(raw []byte) (*MasterKey, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("kms: master key must be 32 bytes, got %d", len(raw))
	}
	a, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: a, raw: bytes.Clone(raw)}, nil
}

// SubKey derives an independent 32-byte key for another use of the master
// key (HMAC-SHA256 of the master key over purpose), such as sealing the
// secrets kept in the store (internal/secrets).
func (m *MasterKey) SubKey(purpose string) []byte {
	h := hmac.New(sha256.New, m.raw)
	h.Write([]byte("deskplane-subkey\x00" + purpose))
	return h.Sum(nil)
}

// LoadMasterKey returns the master key from $DESKPLANE_MASTER_KEY when set,
// otherwise from path (created with 32 random bytes and mode 0600 when
// missing). path is usually DataDir/master.key; a multi-node deployment
// points every node at the same key (environment or shared file).
func LoadMasterKey(path string) (*MasterKey, error) {
	if v := strings.TrimSpace(os.Getenv(EnvMasterKey)); v != "" {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("kms: %s is not valid base64: %w", EnvMasterKey, err)
		}
		return NewMasterKey(raw)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil {
			return nil, fmt.Errorf("kms: master key file %s is not valid base64: %w", path, derr)
		}
		return NewMasterKey(raw)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kms: read master key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("kms: create master key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadMasterKey(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("kms: create master key: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("kms: write master key: %w", werr)
	}
	return NewMasterKey(raw)
}

// seal encrypts key material for storage, bound to the key's ARN.
func (m *MasterKey) seal(material []byte, keyARN string) []byte {
	nonce := make([]byte, m.aead.NonceSize())
	rand.Read(nonce)
	return m.aead.Seal(nonce, nonce, material, []byte("deskplane-kms-material\x00"+keyARN))
}

// open decrypts stored key material.
func (m *MasterKey) open(sealed []byte, keyARN string) ([]byte, error) {
	ns := m.aead.NonceSize()
	if len(sealed) < ns {
		return nil, errors.New("kms: sealed key material too short")
	}
	out, err := m.aead.Open(nil, sealed[:ns], sealed[ns:], []byte("deskplane-kms-material\x00"+keyARN))
	if err != nil {
		return nil, errors.New("kms: cannot unseal key material (wrong master key?)")
	}
	return out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Ciphertext blob format (version 1):
//
//	byte 0      magic 0xD5
//	byte 1      version 1
//	bytes 2-3   length n of the key ARN (big endian)
//	n bytes     key ARN of the KMS key that encrypted it
//	12 bytes    GCM nonce
//	rest        AES-256-GCM ciphertext and 16-byte tag
//
// The additional authenticated data is the header (magic through key ARN)
// followed by the canonical encryption context, so the key reference and the
// context are both bound to the ciphertext.
const (
	blobMagic   = 0xD5
	blobVersion = 1
)

// canonicalContext renders an encryption context deterministically: pairs
// sorted by key, each key and value length-prefixed.
func canonicalContext(ec map[string]string) []byte {
	if len(ec) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	var n [4]byte
	for _, k := range keys {
		binary.BigEndian.PutUint32(n[:], uint32(len(k)))
		b.Write(n[:])
		b.WriteString(k)
		v := ec[k]
		binary.BigEndian.PutUint32(n[:], uint32(len(v)))
		b.Write(n[:])
		b.WriteString(v)
	}
	return b.Bytes()
}

// encryptBlob encrypts plaintext under key material with the context as AAD.
func encryptBlob(material []byte, keyARN string, plaintext []byte, ec map[string]string) ([]byte, error) {
	a, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, 4, 4+len(keyARN)+a.NonceSize()+len(plaintext)+a.Overhead())
	hdr[0], hdr[1] = blobMagic, blobVersion
	binary.BigEndian.PutUint16(hdr[2:], uint16(len(keyARN)))
	hdr = append(hdr, keyARN...)
	aad := append(append([]byte(nil), hdr...), canonicalContext(ec)...)
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(hdr, nonce...)
	return a.Seal(out, nonce, plaintext, aad), nil
}

// blobKeyARN returns the ARN of the key named in a ciphertext blob, or ""
// when the blob is not one of ours.
func blobKeyARN(blob []byte) string {
	if len(blob) < 4 || blob[0] != blobMagic || blob[1] != blobVersion {
		return ""
	}
	n := int(binary.BigEndian.Uint16(blob[2:]))
	if len(blob) < 4+n+12+16 {
		return ""
	}
	return string(blob[4 : 4+n])
}

var errBadCiphertext = errors.New("kms: invalid ciphertext")

// decryptBlob decrypts a blob made by encryptBlob with the same context.
func decryptBlob(material []byte, blob []byte, ec map[string]string) ([]byte, error) {
	arn := blobKeyARN(blob)
	if arn == "" {
		return nil, errBadCiphertext
	}
	a, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	h := 4 + len(arn)
	aad := append(append([]byte(nil), blob[:h]...), canonicalContext(ec)...)
	ns := a.NonceSize()
	pt, err := a.Open(nil, blob[h:h+ns], blob[h+ns:], aad)
	if err != nil {
		return nil, errBadCiphertext
	}
	return pt, nil
}
