package kms

import (
	"context"
	"sort"
	"strconv"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// KMS operations on a key are declared ResourcePolicy in the operation
// table: their resolvers return one check per key (keyCheck) carrying the
// key policy and the grants that may allow the call, and the pipeline
// evaluates it with the caller's identity policies in the one IAM
// evaluator (gateway.Decide). Handlers then load the key (key) without
// authorizing anything.

// authzRequest is what an operation adds to the check of a key.
type authzRequest struct {
	Action string            // full action, e.g. kms:Decrypt; defaults to the operation's
	Alias  string            // alias used in the request (kms:RequestAlias)
	EncCtx map[string]string // request encryption context
	Extra  map[string][]string
	// RequestTags are the tags the request sets (aws:RequestTag/*, and
	// their keys as aws:TagKeys); TagKeys the keys a request names without
	// values (UntagResource). Both sides of the evaluation see them.
	RequestTags map[string]string
	TagKeys     []string
	GrantOp     string // the grant operation that may allow the call; "" when grants cannot
	// Grants, when set, replaces the grants consulted for GrantOp (the
	// parent grants of CreateGrant, the grant RetireGrant retires).
	Grants func(ctx context.Context) (bool, error)
}

// keyCheck is the authorization check of a call on key k: the key's tags,
// the KMS condition keys (kms:CallerAccount, kms:KeySpec, kms:KeyUsage,
// kms:KeyOrigin, kms:MultiRegion, kms:EncryptionContext:*,
// kms:EncryptionContextKeys, kms:RequestAlias and the operation's own),
// the key policy and the grants for r.GrantOp.
func (m *Module) keyCheck(account string, p *gateway.Principal, k *keyRec, r authzRequest) gateway.Check {
	cc := map[string][]string{
		"kms:CallerAccount": {account},
		"kms:KeySpec":       {k.KeySpec},
		"kms:KeyUsage":      {k.KeyUsage},
		"kms:KeyOrigin":     {k.Origin},
		"kms:MultiRegion":   {"false"},
	}
	if len(r.EncCtx) > 0 {
		keys := make([]string, 0, len(r.EncCtx))
		for kk, v := range r.EncCtx {
			cc["kms:EncryptionContext:"+kk] = []string{v}
			keys = append(keys, kk)
		}
		sort.Strings(keys)
		cc["kms:EncryptionContextKeys"] = keys
	}
	if r.Alias != "" {
		cc["kms:RequestAlias"] = []string{r.Alias}
	}
	for kk, v := range r.Extra {
		cc[kk] = v
	}
	rp := &gateway.ResourcePolicy{Documents: []string{k.Policy}, Grants: r.Grants}
	if rp.Grants == nil && r.GrantOp != "" {
		op, ec := r.GrantOp, r.EncCtx
		rp.Grants = func(ctx context.Context) (ok bool, err error) {
			err = m.store.View(ctx, func(tx store.Tx) error {
				ok, err = m.grantAllows(ctx, tx, p, k, op, ec)
				return err
			})
			return ok, err
		}
	}
	return gateway.Check{Action: r.Action, Resource: k.ARN, ResourceAccount: k.Account, ResourceTags: k.Tags,
		RequestTags: r.RequestTags, TagKeys: r.TagKeys, Context: cc, Policy: rp}
}

// keyChecks is the resolver of an operation on the key keyRef: it finds the
// key (NotFoundException when there is none) and returns its check.
func (m *Module) keyChecks(ctx context.Context, c *gateway.Call, keyRef string, allowAlias bool, r authzRequest) ([]gateway.Check, error) {
	var chk gateway.Check
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, alias, err := m.key(ctx, tx, c, keyRef, allowAlias)
		if err != nil {
			return err
		}
		r.Alias = alias
		chk = m.keyCheck(c.Account, c.Principal, k, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []gateway.Check{chk}, nil
}

// key resolves a key reference (key id, key ARN and, when allowAlias, alias
// name or ARN) and returns the key and the alias it was named by.
func (m *Module) key(ctx context.Context, tx store.Tx, c *gateway.Call, keyRef string, allowAlias bool) (*keyRec, string, error) {
	rf, err := parseRef(c.Account, c.Region, keyRef, allowAlias)
	if err != nil {
		return nil, "", err
	}
	k, err := loadKey(ctx, tx, rf, c.Now)
	if err != nil {
		return nil, "", err
	}
	return k, rf.alias, nil
}

// keyDenied is the denial of a check on a key, in the one format of every
// denial (gateway.Denied): KMS speaks awsJson.
func keyDenied(p *gateway.Principal, chk gateway.Check, d gateway.Decision) error {
	return gateway.Denied(gateway.JSON, p, chk, d)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
