package iam

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
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
					ARN: UserARN(a.ID, "/", cu.Name), Created: now, Tags: cu.Tags, Attached: cu.Managed}
				if u.Inline, err = seedPolicies(cu.Policies, false); err != nil {
					return fmt.Errorf("iam seed: user %s in %s: %w", cu.Name, a.ID, err)
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
		for _, cr := range a.Roles {
			if err := seedRole(ctx, tx, a.ID, cr, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// seedRole creates a configured role unless a role of that name exists: a
// role changed or deleted and re-created through the API keeps its changes.
func seedRole(ctx context.Context, tx store.Tx, account string, cr config.Role, now time.Time) error {
	_, err := GetRole(ctx, tx, account, cr.Name)
	if err == nil {
		return nil
	}
	if !IsNotFound(err) {
		return fmt.Errorf("iam seed: role %s in %s: %w", cr.Name, account, err)
	}
	trust, err := config.PolicyDocument(cr.TrustPolicy)
	if err != nil {
		return fmt.Errorf("iam seed: role %s in %s: trust policy: %w", cr.Name, account, err)
	}
	if _, err := policy.ParseKind(trust, policy.Trust); err != nil {
		return fmt.Errorf("iam seed: role %s in %s: trust policy: %w", cr.Name, account, err)
	}
	path := cr.Path
	if path == "" {
		path = "/"
	}
	maxSession := cr.MaxSessionDuration
	if maxSession == 0 {
		maxSession = defaultSessionDuration
	}
	for _, arn := range cr.Managed {
		if _, ok := awsManaged[arn]; !ok {
			return fmt.Errorf("iam seed: role %s in %s: managed policy %s: only AWS managed policies can be attached in the configuration", cr.Name, account, arn)
		}
	}
	r := &Role{Account: account, Name: cr.Name, Path: path, RoleID: UniqueID("AROA", account+"/"+cr.Name),
		ARN: RoleARN(account, path, cr.Name), Description: cr.Description, AssumeRolePolicy: trust,
		MaxSessionDuration: maxSession, Created: now, Tags: cr.Tags, Attached: cr.Managed}
	if r.Inline, err = seedPolicies(cr.Policies, true); err != nil {
		return fmt.Errorf("iam seed: role %s in %s: %w", cr.Name, account, err)
	}
	if err := store.PutJSON(ctx, tx, TableRoles, RoleKey(account, cr.Name), r); err != nil {
		return fmt.Errorf("iam seed: role %s in %s: %w", cr.Name, account, err)
	}
	return nil
}

// seedPolicies turns configured inline policies into documents, checking
// that each parses as an identity policy when check is set (users' policies
// were never checked, and a configuration that worked keeps working).
func seedPolicies(pols map[string]any, check bool) (map[string]string, error) {
	out := make(map[string]string, len(pols))
	names := make([]string, 0, len(pols))
	for n := range pols {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		doc, err := config.PolicyDocument(pols[n])
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", n, err)
		}
		if _, err := policy.ParseKind(doc, policy.Identity); check && err != nil {
			return nil, fmt.Errorf("policy %s: %w", n, err)
		}
		out[n] = doc
	}
	return out, nil
}
