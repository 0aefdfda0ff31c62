package sts

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam"
	"github.com/deskplane/deskplane/internal/secrets"
	"github.com/deskplane/deskplane/internal/store"
)

// KeySealing is the settings record holding the token sealing key: 32
// random bytes, hex-encoded, created once (store.Create, so concurrent first
// starts of several nodes agree on one key), and sealed under the master
// key (internal/secrets) when the Sealer has a Box; a plaintext key written
// by an earlier version is sealed at start.
const KeySealing = "sts-sealing-key"

// tokenPrefix marks deskplane session tokens (format version 1).
const tokenPrefix = "DPST1"

// Claims are the contents of a sealed session token.
type Claims struct {
	Account  string `json:"a"`
	Kind     string `json:"k"` // "role" (AssumeRole) or "user" (GetSessionToken)
	ARN      string `json:"arn"`
	UserName string `json:"un,omitempty"`
	// UserID is the caller's unique id: the user's AIDA… id, or the role's
	// AROA… id and ":" and the session name. It binds the session to that
	// entity: once it is deleted the token no longer authenticates, even if
	// an entity of the same name exists again (iam.Authenticator).
	UserID      string            `json:"uid"`
	RoleARN     string            `json:"ra,omitempty"`
	RoleName    string            `json:"rn,omitempty"`
	SessionName string            `json:"sn,omitempty"`
	Issued      int64             `json:"iat"`
	Expires     int64             `json:"exp"`
	Policies    []string          `json:"pol,omitempty"` // inline session policy and "arn:" managed policy ARNs
	Tags        map[string]string `json:"tags,omitempty"`
	Transitive  []string          `json:"tt,omitempty"`
	SourceID    string            `json:"si,omitempty"`
	Chained     bool              `json:"ch,omitempty"`
}

// Sealer seals and opens session tokens with the shared key.
type Sealer struct {
	Store store.Store
	mu    sync.Mutex
	aead  cipher.AEAD
	mac   []byte // secret-derivation key

	// Box seals the sealing key in the store (nil: plaintext).
	Box *secrets.Box
}

// EnsureKey creates the sealing key in tx if it does not exist yet, sealed
// under box when box is not nil, and seals a plaintext one.
func EnsureKey(ctx context.Context, tx store.Tx, box *secrets.Box) error {
	v, err := store.GetJSON[string](ctx, tx, iam.TableSettings, KeySealing)
	if err == nil {
		switch {
		case box == nil:
			return nil
		case secrets.Sealed(*v):
			_, err := box.Open(*v, KeySealing) // another master key fails here, at start
			return err
		}
		return store.PutJSON(ctx, tx, iam.TableSettings, KeySealing, box.Seal(*v, KeySealing))
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var k [32]byte
	rand.Read(k[:])
	stored := hex.EncodeToString(k[:])
	if box != nil {
		stored = box.Seal(stored, KeySealing)
	}
	err = store.CreateJSON(ctx, tx, iam.TableSettings, KeySealing, stored)
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}

func (s *Sealer) keys(ctx context.Context) (cipher.AEAD, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aead != nil {
		return s.aead, s.mac, nil
	}
	var hexKey string
	read := func(tx store.Tx) error {
		v, err := store.GetJSON[string](ctx, tx, iam.TableSettings, KeySealing)
		if err != nil {
			return err
		}
		hexKey = *v
		return nil
	}
	err := s.Store.View(ctx, read)
	if errors.Is(err, store.ErrNotFound) {
		err = s.Store.Update(ctx, func(tx store.Tx) error {
			if err := EnsureKey(ctx, tx, s.Box); err != nil {
				return err
			}
			return read(tx)
		})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sts: sealing key: %w", err)
	}
	if secrets.Sealed(hexKey) {
		if s.Box == nil {
			return nil, nil, errors.New("sts: the sealing key is sealed, and no master key was given")
		}
		if hexKey, err = s.Box.Open(hexKey, KeySealing); err != nil {
			return nil, nil, fmt.Errorf("sts: sealing key: %w", err)
		}
	}
	master, err := hex.DecodeString(hexKey)
	if err != nil || len(master) != 32 {
		return nil, nil, fmt.Errorf("sts: sealing key is corrupt")
	}
	block, err := aes.NewCipher(derive(master, "token-encryption"))
	if err != nil {
		return nil, nil, err
	}
	s.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	s.mac = derive(master, "secret-derivation")
	return s.aead, s.mac, nil
}

func derive(master []byte, label string) []byte {
	h := hmac.New(sha256.New, master)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// secretFor derives the secret access key of a temporary access key id.
func secretFor(mac []byte, akid string, issued int64) string {
	h := hmac.New(sha256.New, mac)
	fmt.Fprintf(h, "%s|%d", akid, issued)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))[:40]
}

// Seal issues temporary credentials for the claims: a fresh ASIA access key
// id, the secret derived from it, and the sealed token (AES-256-GCM with the
// access key id as additional data, so a token only works with its key).
func (s *Sealer) Seal(ctx context.Context, c *Claims) (akid, secret, token string, err error) {
	aead, mac, err := s.keys(ctx)
	if err != nil {
		return "", "", "", err
	}
	akid = iam.NewAccessKeyID("ASIA")
	plain, err := json.Marshal(c)
	if err != nil {
		return "", "", "", err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, plain, []byte(akid))
	return akid, secretFor(mac, akid, c.Issued), tokenPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open verifies and decodes a token presented with akid.
func (s *Sealer) Open(ctx context.Context, akid, token string) (*Claims, string, error) {
	aead, mac, err := s.keys(ctx)
	if err != nil {
		return nil, "", err
	}
	raw, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return nil, "", errInvalidToken()
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < aead.NonceSize()+aead.Overhead() {
		return nil, "", errInvalidToken()
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(akid))
	if err != nil {
		return nil, "", errInvalidToken()
	}
	c := &Claims{}
	if err := json.Unmarshal(plain, c); err != nil {
		return nil, "", errInvalidToken()
	}
	return c, secretFor(mac, akid, c.Issued), nil
}

func errInvalidToken() error {
	return &awsproto.Error{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden, Sender: true}
}

func errExpiredToken() error {
	return &awsproto.Error{Code: "ExpiredToken", Message: "The security token included in the request is expired", Status: http.StatusBadRequest, Sender: true}
}

// ResolveSession implements iam.SessionResolver: a forged, altered or
// foreign token yields InvalidClientTokenId (with no secret, so the
// signature check reports the protocol's unknown-key error); an expired one
// (on the server's domain clock) yields ExpiredToken with the secret, so the
// signature is verified first.
func (m *Module) ResolveSession(ctx context.Context, akid, token string, now time.Time) (string, *gateway.Principal, error) {
	c, secret, err := m.sealer.Open(ctx, akid, token)
	if err != nil {
		if awsproto.As(err) != nil {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("sts: open token: %w", err)
	}
	if !now.Before(time.Unix(c.Expires, 0)) {
		return secret, nil, errExpiredToken()
	}
	return secret, c.principal(akid), nil
}

func (c *Claims) principal(akid string) *gateway.Principal {
	p := &gateway.Principal{Account: c.Account, ARN: c.ARN, UserID: c.UserID, AccessKeyID: akid,
		SessionIssued: time.Unix(c.Issued, 0).UTC(), SessionExpires: time.Unix(c.Expires, 0).UTC(), Tags: c.Tags}
	if c.Kind == "user" {
		p.Type, p.UserName = "IAMUser", c.UserName
		return p
	}
	p.Type, p.RoleARN, p.RoleName, p.SessionName, p.SessionPolicies = "AssumedRole", c.RoleARN, c.RoleName, c.SessionName, c.Policies
	return p
}
