package kms

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// CreateGrantInput is the CreateGrant request.
type CreateGrantInput struct {
	KeyId             *string  `v:"required,min=1,max=2048"`
	GranteePrincipal  *string  `v:"required,min=1,max=256,pattern=^[\\w+=,.@:/-]+$"`
	RetiringPrincipal *string  `v:"min=1,max=256,pattern=^[\\w+=,.@:/-]+$"`
	Operations        []string `v:"required,nonempty,enum=Decrypt|Encrypt|GenerateDataKey|GenerateDataKeyWithoutPlaintext|ReEncryptFrom|ReEncryptTo|Sign|Verify|GetPublicKey|CreateGrant|RetireGrant|DescribeKey|GenerateDataKeyPair|GenerateDataKeyPairWithoutPlaintext|GenerateMac|VerifyMac|DeriveSharedSecret"`
	Constraints       *GrantConstraints
	GrantTokens       []string `v:"max=10"`
	Name              *string  `v:"min=1,max=256,pattern=^[a-zA-Z0-9:/_-]+$"`
	DryRun            *bool
}

// CreateGrantOutput is the CreateGrant response.
type CreateGrantOutput struct{ GrantToken, GrantId string }

// ListGrantsInput is the ListGrants request.
type ListGrantsInput struct {
	Limit            *int    `v:"min=1,max=1000"`
	Marker           *string `v:"min=1,max=1024"`
	KeyId            *string `v:"required,min=1,max=2048"`
	GrantId          *string `v:"min=1,max=128"`
	GranteePrincipal *string `v:"min=1,max=256"`
}

// ListRetirableGrantsInput is the ListRetirableGrants request.
type ListRetirableGrantsInput struct {
	Limit             *int    `v:"min=1,max=1000"`
	Marker            *string `v:"min=1,max=1024"`
	RetiringPrincipal *string `v:"required,min=1,max=256"`
}

// GrantListEntry is the model's GrantListEntry.
type GrantListEntry struct {
	KeyId             string
	GrantId           string
	Name              string `json:",omitempty"`
	CreationDate      *awsproto.Time
	GranteePrincipal  string
	RetiringPrincipal string `json:",omitempty"`
	IssuingAccount    string
	Operations        []string
	Constraints       *GrantConstraints `json:",omitempty"`
}

// ListGrantsOutput is the ListGrants and ListRetirableGrants response.
type ListGrantsOutput struct {
	Grants     []GrantListEntry
	NextMarker *string `json:",omitempty"`
	Truncated  bool
}

// RetireGrantInput is the RetireGrant request.
type RetireGrantInput struct {
	GrantToken *string `v:"min=1,max=8192"`
	KeyId      *string `v:"min=1,max=2048"`
	GrantId    *string `v:"min=1,max=128"`
	DryRun     *bool
}

// RevokeGrantInput is the RevokeGrant request.
type RevokeGrantInput struct {
	KeyId   *string `v:"required,min=1,max=2048"`
	GrantId *string `v:"required,min=1,max=128"`
	DryRun  *bool
}

var grantIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (g *grantRec) entry() GrantListEntry {
	return GrantListEntry{KeyId: g.KeyARN, GrantId: g.GrantID, Name: g.Name, CreationDate: awsproto.NewTime(g.Created),
		GranteePrincipal: g.Grantee, RetiringPrincipal: g.Retiring, IssuingAccount: "arn:aws:iam::" + g.IssuingAccount + ":root",
		Operations: g.Operations, Constraints: g.Constraints}
}

// validateGrant checks what the model cannot say of a grant's constraints
// (the operations are the input's tag).
func validateGrant(cons *GrantConstraints) error {
	if cons != nil {
		for _, m := range []map[string]string{cons.EncryptionContextSubset, cons.EncryptionContextEquals} {
			if len(m) > 8 {
				return errValidation("A grant constraint can have at most 8 encryption context pairs.")
			}
		}
		if cons.EncryptionContextSubset == nil && cons.EncryptionContextEquals == nil {
			return errValidation("Grant constraints must contain EncryptionContextSubset or EncryptionContextEquals.")
		}
	}
	return nil
}

func sortedOps(ops []string) []string {
	out := append([]string(nil), ops...)
	sort.Strings(out)
	n := 0
	for i, o := range out {
		if i == 0 || o != out[n-1] {
			out[n] = o
			n++
		}
	}
	return out[:n]
}

// grantConditionKeys are the CreateGrant condition keys.
func grantConditionKeys(grantee, retiring string, ops []string, cons *GrantConstraints, forAWS bool) (map[string][]string, map[string]string) {
	extra := map[string][]string{"kms:GranteePrincipal": {grantee}, "kms:GrantOperations": ops, "kms:GrantIsForAWSResource": {boolStr(forAWS)}}
	if retiring != "" {
		extra["kms:RetiringPrincipal"] = []string{retiring}
	}
	var ec map[string]string
	if cons != nil {
		ec = map[string]string{}
		for k, v := range cons.EncryptionContextSubset {
			ec[k] = v
		}
		for k, v := range cons.EncryptionContextEquals {
			ec[k] = v
		}
		if cons.EncryptionContextEquals != nil {
			extra["kms:GrantConstraintType"] = []string{"EncryptionContextEquals"}
		} else {
			extra["kms:GrantConstraintType"] = []string{"EncryptionContextSubset"}
		}
	}
	return extra, ec
}

// parentGrantAllows checks a grantee's CreateGrant through a grant: the child
// grant may only have a subset of the parent's operations and constraints at
// least as strict.
func (m *Module) parentGrantAllows(ctx context.Context, tx store.Tx, p *gateway.Principal, k *keyRec, ops []string, cons *GrantConstraints) (bool, error) {
	found := false
	err := store.ScanJSON(ctx, tx, tGrants, key3(k.Account, k.Region, k.KeyID)+"/", "", 0, func(_ string, g *grantRec) error {
		if g.permitsChild(p, ops, cons) {
			found = true
			return store.ErrStop
		}
		return nil
	})
	return found, err
}

// permitsChild reports whether the grant lets p create a child grant with
// ops and cons.
func (g *grantRec) permitsChild(p *gateway.Principal, ops []string, cons *GrantConstraints) bool {
	if !granteeMatches(g.Grantee, p) || !g.allows("CreateGrant") {
		return false
	}
	for _, o := range ops {
		if !g.allows(o) {
			return false
		}
	}
	if g.Constraints != nil {
		_, childCtx := grantConditionKeys("", "", nil, cons, false)
		if cons == nil || !g.satisfies("Decrypt", childCtx) {
			return false
		}
		if g.Constraints.EncryptionContextEquals != nil && cons.EncryptionContextEquals == nil {
			return false
		}
	}
	return true
}

// insertGrant writes a new grant. Its id is 256 random bits, so no record
// holds its key: it is put, not created, and on store/postgres the write
// waits to go to the server with the transaction's next statement (or its
// COMMIT) instead of taking a round trip of its own. An encrypted creation
// makes one grant per desktop while it holds the Region's count.
// insertGrant writes a new grant on k, of id when it is not empty (a
// grant WorkSpaces asked for under an id it chose, GrantRequest.GrantID),
// else of a new random id.
func insertGrant(ctx context.Context, tx store.Tx, k *keyRec, id, grantee, retiring, name, issuer string, ops []string, cons *GrantConstraints, now time.Time) (*grantRec, error) {
	if id == "" {
		id = ids.Hex(64)
	}
	g := &grantRec{GrantID: id, KeyID: k.KeyID, KeyARN: k.ARN, Name: name, Grantee: grantee, Retiring: retiring,
		Operations: sortedOps(ops), Constraints: cons, IssuingAccount: issuer, Created: now,
		Token: newGrantToken(k.Account, k.Region, k.KeyID, id)}
	return g, store.PutJSON(ctx, tx, tGrants, key3(k.Account, k.Region, k.KeyID)+"/"+id, g)
}

// listRetirableGrants is the handler of ListRetirableGrants.
func (m *Module) listRetirableGrants(ctx context.Context, c *gateway.Call, in *ListRetirableGrantsInput) (*ListGrantsOutput, error) {
	var out *ListGrantsOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = listGrants(ctx, tx, c.Account+"/"+c.Region+"/", in.Limit, in.Marker, func(g *grantRec) bool {
			return g.Retiring == *in.RetiringPrincipal
		})
		return err
	})
	return out, err
}

// revokeGrantResources resolves the resources RevokeGrant is authorized on.
func (m *Module) revokeGrantResources(ctx context.Context, c *gateway.Call, in *RevokeGrantInput) ([]gateway.Check, error) {
	if !grantIDRE.MatchString(*in.GrantId) {
		return nil, awsproto.Errorf("InvalidGrantIdException", "Grant ID %s is not valid.", *in.GrantId)
	}
	return m.keyChecks(ctx, c, *in.KeyId, false, authzRequest{})
}

func (m *Module) listGrantsOp(ctx context.Context, c *gateway.Call, in *ListGrantsInput) (*ListGrantsOutput, error) {
	var out *ListGrantsOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		out, err = listGrants(ctx, tx, key3(k.Account, k.Region, k.KeyID)+"/", in.Limit, in.Marker, func(g *grantRec) bool {
			return (in.GrantId == nil || *in.GrantId == g.GrantID) && (in.GranteePrincipal == nil || *in.GranteePrincipal == g.Grantee)
		})
		return err
	})
	return out, err
}

func (m *Module) revokeGrant(ctx context.Context, c *gateway.Call, in *RevokeGrantInput) (*struct{}, error) {
	return nil, m.store.Update(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		err = tx.Delete(ctx, tGrants, key3(k.Account, k.Region, k.KeyID)+"/"+*in.GrantId)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("Grant ID %s not found", *in.GrantId)
		}
		return err
	})
}

func listGrants(ctx context.Context, tx store.Tx, prefix string, limit *int, marker *string, keep func(*grantRec) bool) (*ListGrantsOutput, error) {
	n := 50
	if limit != nil {
		n = *limit
	}
	out := &ListGrantsOutput{Grants: []GrantListEntry{}}
	next, err := scanPage(ctx, tx, tGrants, prefix, marker, n, keep, func(g *grantRec) { out.Grants = append(out.Grants, g.entry()) })
	out.NextMarker, out.Truncated = next, next != nil
	return out, err
}

// createGrantChecks authorizes CreateGrant on its key: the key policy and
// IAM policies, or else a grant of the caller's that includes CreateGrant
// and covers the new grant (its operations, constraints at least as
// strict), unless a policy denies the caller explicitly.
func (m *Module) createGrantChecks(ctx context.Context, c *gateway.Call, in *CreateGrantInput) ([]gateway.Check, error) {
	if err := validateGrant(in.Constraints); err != nil {
		return nil, err
	}
	if err := checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	var chk gateway.Check
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		extra, ec := grantConditionKeys(*in.GranteePrincipal, ptr.Deref(in.RetiringPrincipal), sortedOps(in.Operations), in.Constraints, false)
		p := c.Principal
		chk = m.keyCheck(c.Account, p, k, authzRequest{Action: "kms:CreateGrant", EncCtx: ec, Extra: extra,
			Grants: func(ctx context.Context) (ok bool, err error) {
				err = m.store.View(ctx, func(tx store.Tx) error {
					ok, err = m.parentGrantAllows(ctx, tx, p, k, in.Operations, in.Constraints)
					return err
				})
				return ok, err
			}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []gateway.Check{chk}, nil
}

func (m *Module) createGrant(ctx context.Context, c *gateway.Call, in *CreateGrantInput) (*CreateGrantOutput, error) {
	var out *CreateGrantOutput
	err := m.store.Update(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		if err := k.usable(); err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		g, err := insertGrant(ctx, tx, k, "", *in.GranteePrincipal, ptr.Deref(in.RetiringPrincipal), ptr.Deref(in.Name), c.Account, in.Operations, in.Constraints, c.Now)
		if err != nil {
			return err
		}
		out = &CreateGrantOutput{GrantToken: g.Token, GrantId: g.GrantID}
		return nil
	})
	return out, err
}

// retireTarget finds the grant a RetireGrant request names (by token, or
// by key and grant id), its store key and its key.
func (m *Module) retireTarget(ctx context.Context, tx store.Tx, c *gateway.Call, in *RetireGrantInput) (string, *grantRec, *keyRec, error) {
	var account, region, keyID, grantID string
	switch {
	case in.GrantToken != nil:
		var err error
		account, region, keyID, grantID, err = parseGrantToken(*in.GrantToken)
		if err != nil {
			return "", nil, nil, err
		}
		// A KeyId or GrantId beside the token must name the token's grant
		// (strict reading: AWS documents the token alone or the key and
		// grant id together; README).
		if in.KeyId != nil {
			rf, err := parseRef(c.Account, c.Region, *in.KeyId, false)
			if err != nil {
				return "", nil, nil, err
			}
			if rf.account != account || rf.region != region || rf.keyID != keyID {
				return "", nil, nil, awsproto.Errorf("InvalidGrantTokenException", "The grant token refers to a grant of another key than %s.", *in.KeyId)
			}
		}
		if in.GrantId != nil && *in.GrantId != grantID {
			return "", nil, nil, awsproto.Errorf("InvalidGrantIdException", "Grant ID %s is not the grant the grant token refers to.", *in.GrantId)
		}
	case in.KeyId != nil && in.GrantId != nil:
		rf, err := parseRef(c.Account, c.Region, *in.KeyId, false)
		if err != nil {
			return "", nil, nil, err
		}
		account, region, keyID, grantID = rf.account, rf.region, rf.keyID, *in.GrantId
		if !grantIDRE.MatchString(grantID) {
			return "", nil, nil, awsproto.Errorf("InvalidGrantIdException", "Grant ID %s is not valid.", grantID)
		}
	default:
		return "", nil, nil, errValidation("Either GrantToken, or both KeyId and GrantId, must be specified.")
	}
	gk := key3(account, region, keyID) + "/" + grantID
	g, err := store.GetJSON[grantRec](ctx, tx, tGrants, gk)
	if errors.Is(err, store.ErrNotFound) {
		if in.GrantToken != nil {
			return "", nil, nil, awsproto.Errorf("InvalidGrantTokenException", "The grant token refers to a grant that does not exist.")
		}
		return "", nil, nil, errNotFound("Grant ID %s not found", grantID)
	}
	if err != nil {
		return "", nil, nil, err
	}
	if in.GrantToken != nil && g.Token != *in.GrantToken {
		return "", nil, nil, awsproto.Errorf("InvalidGrantTokenException", "The grant token is not valid.")
	}
	k, err := loadKey(ctx, tx, ref{account: account, region: region, keyID: keyID}, c.Now)
	if err != nil {
		return "", nil, nil, err
	}
	return gk, g, k, nil
}

// retireGrantChecks authorizes RetireGrant: the grant itself lets its
// retiring principal (or a grantee with RetireGrant) retire it; the issuing
// account may through its policies. An explicit deny in a policy stops
// either.
func (m *Module) retireGrantChecks(ctx context.Context, c *gateway.Call, in *RetireGrantInput) ([]gateway.Check, error) {
	var chk gateway.Check
	err := m.store.View(ctx, func(tx store.Tx) error {
		_, g, k, err := m.retireTarget(ctx, tx, c, in)
		if err != nil {
			return err
		}
		p := c.Principal
		chk = m.keyCheck(c.Account, p, k, authzRequest{Action: "kms:RetireGrant", Grants: func(context.Context) (bool, error) {
			return granteeMatches(g.Retiring, p) || (granteeMatches(g.Grantee, p) && g.allows("RetireGrant")), nil
		}})
		chk.Policy.GrantsOnly = p.Account != g.IssuingAccount
		chk.Policy.DenyReason = "the caller is neither the grant's retiring principal nor a grantee allowed to retire it"
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []gateway.Check{chk}, nil
}

func (m *Module) retireGrant(ctx context.Context, c *gateway.Call, in *RetireGrantInput) (*struct{}, error) {
	return nil, m.store.Update(ctx, func(tx store.Tx) error {
		gk, _, _, err := m.retireTarget(ctx, tx, c, in)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		return tx.Delete(ctx, tGrants, gk)
	})
}
