package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/secrets"
	"github.com/deskplane/deskplane/internal/store"
)

// SessionResolver resolves temporary credentials (STS session tokens).
type SessionResolver interface {
	// ResolveSession opens a sealed session token; it returns an
	// *awsproto.Error for forged, mismatched or expired tokens.
	ResolveSession(ctx context.Context, accessKeyID, token string, now time.Time) (secret string, p *gateway.Principal, err error)
}

// Authenticator resolves access keys to principals from the store.
type Authenticator struct {
	Store    store.Store
	Sessions SessionResolver // nil: session tokens are refused
	// Generation, when set, lets resolved long-term keys be cached until the
	// IAM generation counter changes (every IAM write bumps it).
	Generation func(ctx context.Context) (int64, error)
	// Secrets opens the sealed secret access keys (nil: plaintext).
	Secrets *secrets.Box

	mu       sync.RWMutex
	cache    map[string]cachedKey
	entities map[string]cachedEntity // "u/ACCOUNT/name" or "r/ACCOUNT/name" -> current unique id
}

type cachedEntity struct {
	gen int64
	id  string // "" when no such entity
}

type cachedKey struct {
	gen    int64
	secret string
	p      *gateway.Principal
}

var _ gateway.Authenticator = (*Authenticator)(nil)

// Resolve implements gateway.Authenticator.
func (a *Authenticator) Resolve(ctx context.Context, akid, token string, now time.Time) (string, *gateway.Principal, bool, error) {
	if token != "" || (len(akid) > 4 && akid[:4] == "ASIA") {
		if a.Sessions == nil || token == "" {
			return "", nil, false, nil
		}
		secret, p, err := a.Sessions.ResolveSession(ctx, akid, token, now)
		if err != nil {
			return secret, nil, secret != "", err
		}
		if p == nil {
			return secret, nil, false, nil
		}
		// A session is bound to its role's or user's unique id: once that
		// entity is deleted the token is invalid, even if an entity of the
		// same name exists again.
		live, err := a.sessionEntityLive(ctx, p)
		if err != nil {
			return "", nil, false, err
		}
		if !live {
			return secret, nil, true, errInvalidClientToken()
		}
		return secret, p, true, nil
	}
	var gen int64
	if a.Generation != nil {
		g, err := a.Generation(ctx)
		if err != nil {
			return "", nil, false, err
		}
		gen = g
		a.mu.RLock()
		c, ok := a.cache[akid]
		a.mu.RUnlock()
		if ok && c.gen == gen {
			return c.secret, c.p, true, nil
		}
	}
	var key *AccessKey
	var user *User
	err := a.Store.View(ctx, func(tx store.Tx) error {
		k, err := store.GetJSON[AccessKey](ctx, tx, TableKeys, akid)
		if err != nil {
			return err
		}
		u, err := GetUser(ctx, tx, k.Account, k.UserName)
		if err != nil {
			return err
		}
		key, user = k, u
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("iam: resolve access key: %w", err)
	}
	if key.Status != "Active" || (key.UserID != "" && key.UserID != user.UserID) {
		// Inactive, or left behind by a deleted user whose name was reused.
		return "", nil, false, nil
	}
	secret, err := openSecret(a.Secrets, key)
	if err != nil {
		return "", nil, false, err
	}
	p := UserPrincipal(user, akid)
	if a.Generation != nil {
		a.mu.Lock()
		if a.cache == nil || len(a.cache) > 100000 {
			a.cache = map[string]cachedKey{}
		}
		a.cache[akid] = cachedKey{gen: gen, secret: secret, p: p}
		a.mu.Unlock()
	}
	return secret, p, true, nil
}

// UserPrincipal builds the principal of an IAM user.
func UserPrincipal(u *User, akid string) *gateway.Principal {
	return &gateway.Principal{
		Type: "IAMUser", Account: u.Account, ARN: u.ARN, UserName: u.Name, UserID: u.UserID,
		AccessKeyID: akid, Tags: u.Tags,
	}
}

// EntityID returns the unique id of the IAM entity behind a principal — the
// user's AIDA… id, or the role's AROA… id of a role session — and its cache
// key ("u/ACCOUNT/name" or "r/ACCOUNT/name"); ok is false for other
// principals.
func EntityID(p *gateway.Principal) (key, id string, ok bool) {
	switch p.Type {
	case "IAMUser":
		return "u/" + UserKey(p.Account, p.UserName), p.UserID, true
	case "AssumedRole":
		id, _, _ := strings.Cut(p.UserID, ":")
		return "r/" + RoleKey(p.Account, p.RoleName), id, true
	}
	return "", "", false
}

// sessionEntityLive reports whether the user or role that a session was
// issued to still exists with the unique id the session carries. The answer
// is cached until the IAM generation changes.
func (a *Authenticator) sessionEntityLive(ctx context.Context, p *gateway.Principal) (bool, error) {
	key, id, ok := EntityID(p)
	if !ok {
		return true, nil
	}
	if id == "" {
		return false, nil
	}
	var gen int64
	if a.Generation != nil {
		g, err := a.Generation(ctx)
		if err != nil {
			return false, err
		}
		gen = g
		a.mu.RLock()
		c, ok := a.entities[key]
		a.mu.RUnlock()
		if ok && c.gen == gen {
			return c.id == id, nil
		}
	}
	var cur string
	err := a.Store.View(ctx, func(tx store.Tx) error {
		if p.Type == "IAMUser" {
			u, err := GetUser(ctx, tx, p.Account, p.UserName)
			if err == nil {
				cur = u.UserID
			}
			return err
		}
		r, err := GetRole(ctx, tx, p.Account, p.RoleName)
		if err == nil && r.ARN == p.RoleARN {
			cur = r.RoleID
		}
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("iam: resolve session entity: %w", err)
	}
	if a.Generation != nil {
		a.mu.Lock()
		if a.entities == nil || len(a.entities) > 100000 {
			a.entities = map[string]cachedEntity{}
		}
		a.entities[key] = cachedEntity{gen: gen, id: cur}
		a.mu.Unlock()
	}
	return cur == id, nil
}
