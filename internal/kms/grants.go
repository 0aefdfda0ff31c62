package kms

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/store"
)

// GrantConstraints is the model's GrantConstraints shape.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

// contextOps are the grant operations that take an encryption context;
// constraints only apply to them.
var contextOps = map[string]bool{
	"Decrypt": true, "Encrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
	"ReEncryptFrom": true, "ReEncryptTo": true, "GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true,
}

// granteeMatches reports whether the grant's grantee is the caller: its ARN,
// the role behind its session, or its service principal.
func granteeMatches(principal string, p *gateway.Principal) bool {
	if principal == "" {
		return false
	}
	return principal == p.ARN || (p.RoleARN != "" && principal == p.RoleARN) || (p.Service != "" && principal == p.Service)
}

// constraintKeyEqual compares constraint keys case-insensitively, as the
// current CreateGrant reference says (values stay case-sensitive).
func lookupFold(ec map[string]string, k string) (string, bool) {
	if v, ok := ec[k]; ok {
		return v, true
	}
	for kk, v := range ec {
		if strings.EqualFold(kk, k) {
			return v, true
		}
	}
	return "", false
}

// satisfies checks a request context against grant constraints.
func (g *grantRec) satisfies(op string, ec map[string]string) bool {
	if g.Constraints == nil || !contextOps[op] {
		return true
	}
	if eq := g.Constraints.EncryptionContextEquals; eq != nil {
		if len(eq) != len(ec) {
			return false
		}
		for k, v := range eq {
			if got, ok := lookupFold(ec, k); !ok || got != v {
				return false
			}
		}
	}
	for k, v := range g.Constraints.EncryptionContextSubset {
		if got, ok := lookupFold(ec, k); !ok || got != v {
			return false
		}
	}
	return true
}

func (g *grantRec) allows(op string) bool {
	for _, o := range g.Operations {
		if o == op {
			return true
		}
	}
	return false
}

// grantAllows reports whether a grant on the key lets the caller perform op
// with the request's encryption context.
func (m *Module) grantAllows(ctx context.Context, tx store.Tx, p *gateway.Principal, k *keyRec, op string, ec map[string]string) (bool, error) {
	found := false
	err := store.ScanJSON(ctx, tx, tGrants, key3(k.Account, k.Region, k.KeyID)+"/", "", 0, func(_ string, g *grantRec) error {
		if granteeMatches(g.Grantee, p) && g.allows(op) && g.satisfies(op, ec) {
			found = true
			return store.ErrStop
		}
		return nil
	})
	return found, err
}

// newGrantToken builds a grant token naming the grant.
func newGrantToken(account, region, keyID, grantID string) string {
	raw := "dpgt1:" + account + ":" + region + ":" + keyID + ":" + grantID + ":" + ids.Hex(32)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parseGrantToken returns the grant a token names.
func parseGrantToken(tok string) (account, region, keyID, grantID string, err error) {
	raw, derr := base64.RawURLEncoding.DecodeString(tok)
	parts := strings.Split(string(raw), ":")
	if derr != nil || len(parts) != 6 || parts[0] != "dpgt1" {
		return "", "", "", "", awsproto.Errorf("InvalidGrantTokenException", "The grant token is not valid.")
	}
	return parts[1], parts[2], parts[3], parts[4], nil
}

// checkGrantTokens checks that each grant token of a request names a grant
// (the model's limit of 10 tokens is the input's v: tag). Grants take effect
// at once here, so valid tokens change nothing.
func checkGrantTokens(toks []string) error {
	for _, t := range toks {
		if _, _, _, _, err := parseGrantToken(t); err != nil {
			return err
		}
	}
	return nil
}
