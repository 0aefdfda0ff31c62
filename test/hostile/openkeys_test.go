package hostile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// A KMS key policy is a resource policy: a statement that allows the
// principal "*" (or {"AWS":"*"}) allows every principal, and in the key's
// own account that is enough without any identity policy (AWS: "a key
// policy statement with a wildcard principal gives all identities
// permission to use the KMS key"; RetireGrant is also allowed to the
// account's principals that the key policy allows kms:RetireGrant). The
// setup's PutKeyPolicy and CreateKey calls can store such a policy, and
// then the user with no policy may, as in AWS, disable that key, retire
// its grants, and so on. openKeys finds those keys before the user's phase
// so that the check of the store spares exactly their records.

// kmsWrites are the KMS actions that change a key or its grants.
var kmsWrites = []string{
	"kms:CancelKeyDeletion", "kms:CreateGrant", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
	"kms:EnableKeyRotation", "kms:PutKeyPolicy", "kms:RetireGrant", "kms:RevokeGrant", "kms:RotateKeyOnDemand",
	"kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateKeyDescription",
}

// openKeySet is the set of keys, as "account/region/keyid", whose key
// policy lets every principal change them.
type openKeySet map[string]bool

// allows tells whether the digest record table/key belongs to an open key:
// the key's own record or one of its grants.
func (s openKeySet) allows(table, key string) bool {
	switch table {
	case "kms_keys":
		return s[key]
	case "kms_grants":
		i := strings.LastIndexByte(key, '/')
		return i > 0 && s[key[:i]]
	}
	return false
}

func (s openKeySet) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// openKeys lists, with the admin's configuration cfg, the keys of cfg's
// region whose key policy lets every principal change them, and those
// whose key policy the admin may not read.
func openKeys(ctx context.Context, cfg aws.Config) (openKeySet, error) {
	cli := kms.NewFromConfig(cfg)
	out := openKeySet{}
	p := kms.NewListKeysPaginator(cli, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		for _, k := range page.Keys {
			pol, err := cli.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId})
			var ae smithy.APIError
			unreadable := errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException"
			if err != nil && !unreadable {
				return nil, fmt.Errorf("key policy of %s: %w", aws.ToString(k.KeyArn), err)
			}
			// A key whose policy does not let the admin read it (the
			// setup's CreateKey or PutKeyPolicy may store one: AWS's
			// lockout safety check only keeps kms:PutKeyPolicy, and a
			// bypass skips it) cannot be judged: it is spared whole, as
			// an open key is.
			if unreadable || policyOpensWrites(aws.ToString(pol.Policy)) {
				// arn:aws:kms:region:account:key/id
				f := strings.SplitN(aws.ToString(k.KeyArn), ":", 6)
				if len(f) != 6 {
					return nil, fmt.Errorf("key ARN %q", aws.ToString(k.KeyArn))
				}
				out[f[4]+"/"+f[3]+"/"+strings.TrimPrefix(f[5], "key/")] = true
			}
		}
	}
	return out, nil
}

// policyOpensWrites tells whether a key policy has an Allow statement for
// every principal that names (by Action or NotAction) a KMS write. Its
// Resource and Condition are not evaluated: such a key is spared whole,
// a slight over-approximation of what AWS allows.
func policyOpensWrites(doc string) bool {
	var pol struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &pol) != nil {
		return false
	}
	var stmts []map[string]json.RawMessage
	if json.Unmarshal(pol.Statement, &stmts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(pol.Statement, &one) != nil {
			return false
		}
		stmts = []map[string]json.RawMessage{one}
	}
	for _, st := range stmts {
		var effect string
		if json.Unmarshal(st["Effect"], &effect) != nil || effect != "Allow" || !everyone(st["Principal"]) {
			continue
		}
		if acts, ok := strList(st["Action"]); ok && anyWriteMatched(acts) {
			return true
		}
		if nacts, ok := strList(st["NotAction"]); ok && !allWritesMatched(nacts) {
			return true
		}
	}
	return false
}

// everyone tells whether a statement's Principal is "*" or {"AWS":"*"}
// (alone or in a list).
func everyone(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == "*"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	l, ok := strList(m["AWS"])
	return ok && strings.Contains("\x00"+strings.Join(l, "\x00")+"\x00", "\x00*\x00")
}

func strList(raw json.RawMessage) ([]string, bool) {
	if raw == nil {
		return nil, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, true
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l, true
	}
	return nil, false
}

// actionMatches matches an IAM action pattern (* and ?, case-insensitive).
func actionMatches(pattern, action string) bool {
	re := "(?is)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	ok, err := regexp.MatchString(re, action)
	return err == nil && ok
}

func anyWriteMatched(patterns []string) bool {
	for _, w := range kmsWrites {
		for _, p := range patterns {
			if actionMatches(p, w) {
				return true
			}
		}
	}
	return false
}

func allWritesMatched(patterns []string) bool {
	for _, w := range kmsWrites {
		matched := false
		for _, p := range patterns {
			if actionMatches(p, w) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}
