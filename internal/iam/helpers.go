package iam

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/store"
)

// Quotas of the IAM API (defaults of the IAM quotas page).
const (
	MaxAccessKeysPerUser   = 2
	MaxManagedPerEntity    = 10
	MaxTagsPerEntity       = 50
	defaultMaxItems        = 100
	defaultSessionDuration = 3600
)

func sortTags(t []Tag) { sort.Slice(t, func(i, j int) bool { return t[i].Key < t[j].Key }) }

// oneCheck declares an operation's single authorization check on the ARN
// that arn computes.
func oneCheck[In any](op *gateway.Operation, arn func(c *gateway.Call, in *In) string) *gateway.Operation {
	return gateway.WithResources(op, func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		return []gateway.Check{{Resource: arn(c, in)}}, nil
	})
}

// userCheck declares an operation's authorization check on an existing
// user: the user's real ARN (with its path) and its tags, so that
// path-scoped statements (user/admins/*) and aws:ResourceTag conditions
// apply. An empty name means the calling user.
func userCheck[In any](m *Module, op *gateway.Operation, name func(in *In) string) *gateway.Operation {
	return gateway.WithResources(op, func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		n := name(in)
		if n == "" && c.Principal != nil && c.Principal.Type == "IAMUser" {
			n = c.Principal.UserName
		}
		if n == "" {
			return []gateway.Check{{Resource: UserARN(c.Account, "/", n)}}, nil // the handler refuses it
		}
		var u *User
		err := m.store.View(ctx, func(tx store.Tx) error {
			var err error
			u, err = GetUser(ctx, tx, c.Account, n)
			return err
		})
		if IsNotFound(err) {
			// Nothing to protect: the handler answers NoSuchEntity.
			return []gateway.Check{{Resource: UserARN(c.Account, "/", n)}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("iam: authorize on user %s: %w", n, err)
		}
		return []gateway.Check{{Resource: u.ARN, ResourceTags: u.Tags}}, nil
	})
}

// roleCheck declares an operation's authorization check on an existing
// role: the role's real ARN (with its path) and its tags.
func roleCheck[In any](m *Module, op *gateway.Operation, name func(in *In) string) *gateway.Operation {
	return gateway.WithResources(op, func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		n := name(in)
		var r *Role
		err := m.store.View(ctx, func(tx store.Tx) error {
			var err error
			r, err = GetRole(ctx, tx, c.Account, n)
			return err
		})
		if IsNotFound(err) {
			return []gateway.Check{{Resource: RoleARN(c.Account, "/", n)}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("iam: authorize on role %s: %w", n, err)
		}
		return []gateway.Check{{Resource: r.ARN, ResourceTags: r.Tags}}, nil
	})
}

// page returns the page of items after marker (an opaque offset).
func page[T any](items []T, marker string, maxItems int) ([]T, string, bool, error) {
	start, end, next, trunc, err := pageRange(len(items), marker, maxItems)
	if err != nil {
		return nil, "", false, err
	}
	return items[start:end], next, trunc, nil
}

// pageRange returns the bounds [start, end) of the page after marker (an
// opaque offset) among total items, the next page's marker and whether
// there is one.
func pageRange(total int, marker string, maxItems int) (start, end int, next string, trunc bool, err error) {
	if marker != "" {
		b, err := base64.RawURLEncoding.DecodeString(marker)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > total {
			return 0, 0, "", false, errInvalidInput("Invalid Marker.")
		}
		start = n
	}
	if maxItems <= 0 {
		maxItems = defaultMaxItems
	}
	end = start + min(maxItems, total-start)
	if end < total {
		return start, end, base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))), true, nil
	}
	return start, end, "", false, nil
}

// NewAccessKeyID returns a random access key id with the given prefix
// (AKIA for long-term keys, ASIA for temporary ones): 20 characters.
func NewAccessKeyID(prefix string) string {
	return prefix + ids.FromAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 20-len(prefix))
}

// NewSecretKey returns a random 40-character secret access key.
func NewSecretKey() string {
	return ids.FromAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
}

func checkPath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		return "", errValidation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return p, nil
}

func tagMap(tags []Tag, into map[string]string) (map[string]string, error) {
	if into == nil {
		into = map[string]string{}
	}
	seen := map[string]bool{}
	for _, t := range tags {
		l := strings.ToLower(t.Key)
		if seen[l] {
			return nil, errInvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[l] = true
		for k := range into { // IAM tag keys are case-insensitive, case-preserving
			if strings.EqualFold(k, t.Key) {
				delete(into, k)
			}
		}
		into[t.Key] = t.Value
	}
	if len(into) > MaxTagsPerEntity {
		return nil, errLimit("The number of tags has reached the maximum limit.")
	}
	return into, nil
}

// validateIdentity parses an identity policy (MalformedPolicyDocument).
func (m *Module) validateIdentity(doc string) error {
	_, err := m.authz.Parse(doc, policy.Identity)
	return MalformedError(err)
}
