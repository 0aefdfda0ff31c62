package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/secrets"
	"github.com/deskplane/deskplane/internal/store"
)

// Module is the IAM service: its operation table, the seed of the
// configured identities and the authorizer of the request pipeline.
type Module struct {
	store store.Store
	authz *Authorizer
	svc   *gateway.Service
	// Secrets seals the secret access keys in the store (nil: plaintext).
	Secrets *secrets.Box
}

// New returns the IAM module over st.
func New(st store.Store) *Module {
	m := &Module{store: st, authz: NewAuthorizer(st)}
	m.svc = &gateway.Service{Name: "iam", ActionPrefix: "iam", EventSource: "iam.amazonaws.com", Protocol: gateway.Query,
		XMLNamespace: "https://iam.amazonaws.com/doc/2010-05-08/", ValidationCode: "ValidationError", Global: true}
	m.register()
	return m
}

// Services returns the iam operation table.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.svc} }

// Authorizer returns the pipeline's authorizer (shared with STS and KMS).
func (m *Module) Authorizer() *Authorizer { return m.authz }

// Seed writes the configured identities (see the package-level Seed) and
// bumps the IAM generation so that every node reloads policies.
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	if err := Seed(ctx, tx, cfg, now); err != nil {
		return err
	}
	if err := sealKeys(ctx, tx, m.Secrets); err != nil {
		return err
	}
	if err := BumpGeneration(ctx, tx); err != nil {
		return err
	}
	m.authz.Invalidate()
	return nil
}

// update runs fn in a write transaction that also bumps the IAM generation,
// then makes this node's authorizer re-read it.
func (m *Module) update(ctx context.Context, fn func(tx store.Tx) error) error {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return BumpGeneration(ctx, tx)
	})
	if err == nil {
		m.authz.Invalidate()
	}
	return err
}

// Seed writes the configured IAM users, access keys and policies. Existing
// users keep what was changed through the API; declared keys are restored.
func Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	for _, a := range cfg.Accounts {
		for _, cu := range a.Users {
			u, err := GetUser(ctx, tx, a.ID, cu.Name)
			if errors.Is(err, store.ErrNotFound) {
				u = &User{Account: a.ID, Name: cu.Name, Path: "/", UserID: UniqueID("AIDA", a.ID+"/"+cu.Name),
					ARN: UserARN(a.ID, "/", cu.Name), Created: now, Tags: cu.Tags, Inline: map[string]string{}, Attached: cu.Managed}
				names := make([]string, 0, len(cu.Policies))
				for n := range cu.Policies {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					var doc string
					switch d := cu.Policies[n].(type) {
					case string:
						doc = d
					default:
						b, err := json.Marshal(d)
						if err != nil {
							return fmt.Errorf("iam seed: policy %s of %s: %w", n, cu.Name, err)
						}
						doc = string(b)
					}
					u.Inline[n] = doc
				}
				if err := store.PutJSON(ctx, tx, TableUsers, UserKey(a.ID, cu.Name), u); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			for _, k := range cu.AccessKeys {
				_, err := tx.Get(ctx, TableKeys, k.ID)
				if err == nil {
					continue
				}
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				ak := &AccessKey{ID: k.ID, Secret: k.Secret, Account: a.ID, UserName: u.Name, UserID: u.UserID, Status: "Active", Created: now}
				if err := store.PutJSON(ctx, tx, TableKeys, k.ID, ak); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
