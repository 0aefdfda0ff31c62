package kms

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Store tables of the KMS module.
const (
	// tKeys holds keyRec records under ACCOUNT/REGION/KEYID.
	tKeys = "kms_keys"
	// tAliases holds aliasRec records under ACCOUNT/REGION/ALIASNAME.
	tAliases = "kms_aliases"
	// tGrants holds grantRec records under ACCOUNT/REGION/KEYID/GRANTID.
	tGrants = "kms_grants"
)

// Key states (enum KeyState).
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"
)

// managedWorkSpacesAlias is the alias of the AWS managed key for WorkSpaces.
const managedWorkSpacesAlias = "alias/aws/workspaces"

// keyRec is a KMS key. Material is the 256-bit key material sealed under the
// master key; the plaintext material is never stored.
type keyRec struct {
	KeyID         string            `json:"id"`
	ARN           string            `json:"arn"`
	Account       string            `json:"account"`
	Region        string            `json:"region"`
	Description   string            `json:"description"`
	KeyUsage      string            `json:"usage"`
	KeySpec       string            `json:"spec"`
	Origin        string            `json:"origin"`
	KeyManager    string            `json:"manager"` // AWS or CUSTOMER
	State         string            `json:"state"`
	Created       time.Time         `json:"created"`
	DeletionDate  *time.Time        `json:"deletion,omitempty"`
	PendingWindow int               `json:"window,omitempty"`
	Policy        string            `json:"policy"`
	Tags          map[string]string `json:"tags,omitempty"`
	Material      []byte            `json:"sealed"`
	// Rotation is the automatic rotation setting (nil: never enabled).
	Rotation *rotationRec `json:"rotation,omitempty"`
	// MaterialID names the current key material ("" for the material the
	// key was created with, before its first rotation).
	MaterialID string `json:"material_id,omitempty"`
	// OldMaterial is the key material rotations replaced (sealed as
	// Material), newest first: old ciphertexts still decrypt with it.
	OldMaterial []oldMaterial `json:"old_material,omitempty"`
	// Rotations are the key's completed rotations, oldest first.
	Rotations []keyRotation `json:"rotations,omitempty"`
}

// oldMaterial is key material a rotation replaced.
type oldMaterial struct {
	ID     string `json:"id,omitempty"`
	Sealed []byte `json:"sealed"`
}

// keyRotation is one completed rotation of a key.
type keyRotation struct {
	MaterialID string    `json:"material_id"`
	Date       time.Time `json:"date"`
	Type       string    `json:"type"` // AUTOMATIC or ON_DEMAND
}

// aliasRec is an alias.
type aliasRec struct {
	Name    string    `json:"name"`
	ARN     string    `json:"arn"`
	KeyID   string    `json:"key"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// grantRec is a grant.
type grantRec struct {
	GrantID        string            `json:"id"`
	KeyID          string            `json:"key"`
	KeyARN         string            `json:"arn"`
	Name           string            `json:"name,omitempty"`
	Grantee        string            `json:"grantee"`
	Retiring       string            `json:"retiring,omitempty"`
	Operations     []string          `json:"ops"`
	Constraints    *GrantConstraints `json:"constraints,omitempty"`
	IssuingAccount string            `json:"issuer"`
	Created        time.Time         `json:"created"`
	Token          string            `json:"token"`
}

func key3(account, region, id string) string { return account + "/" + region + "/" + id }

// scanPage visits the records of table under prefix that come after marker
// (a key relative to prefix), hands those keep accepts (all when keep is
// nil) to add until limit were added, and returns the marker to resume from
// when more remain (nil when the listing is complete).
func scanPage[R any](ctx context.Context, tx store.Tx, table, prefix string, marker *string, limit int, keep func(*R) bool, add func(*R)) (*string, error) {
	after := ""
	if marker != nil {
		after = prefix + *marker
	}
	var next *string
	n, last := 0, ""
	err := store.ScanJSON(ctx, tx, table, prefix, after, 0, func(key string, r *R) error {
		if keep != nil && !keep(r) {
			return nil
		}
		if n == limit {
			next = ptr.To(last[len(prefix):])
			return store.ErrStop
		}
		add(r)
		n++
		last = key
		return nil
	})
	return next, err
}

func keyARN(account, region, id string) string {
	return "arn:aws:kms:" + region + ":" + account + ":key/" + id
}

func aliasARN(account, region, name string) string {
	return "arn:aws:kms:" + region + ":" + account + ":" + name
}

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	mrkRE   = regexp.MustCompile(`^mrk-[0-9a-f]{32}$`)
	aliasRE = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)
)

// errors in the KMS model's style.
func errNotFound(format string, a ...any) error {
	return awsproto.Errorf("NotFoundException", format, a...)
}
func errDisabled(arn string) error {
	return awsproto.Errorf("DisabledException", "%s is disabled.", arn)
}
func errInvalidState(format string, a ...any) error {
	return awsproto.Errorf("KMSInvalidStateException", format, a...)
}
func errValidation(format string, a ...any) error {
	return awsproto.Errorf("ValidationException", format, a...)
}
func errInvalidCiphertext() error {
	return awsproto.Errorf("InvalidCiphertextException", "The ciphertext is invalid, was tampered with, or its encryption context does not match.")
}
func errIncorrectKey() error {
	return awsproto.Errorf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
}
func errInternal(err error) error { return fmt.Errorf("kms: %w", err) }

// ref is a parsed key reference.
type ref struct {
	account, region string
	keyID           string // set for key id / key ARN references
	alias           string // alias name (alias/x) for alias references
}

// parseRef parses a key id, key ARN, alias name or alias ARN. Accounts and
// regions default to the caller's.
func parseRef(account, region, s string, allowAlias bool) (ref, error) {
	r := ref{account: account, region: region}
	switch {
	case strings.HasPrefix(s, "arn:"):
		parts := strings.SplitN(s, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" || len(parts[4]) != 12 {
			return r, errNotFound("Invalid arn %s", s)
		}
		r.region, r.account = parts[3], parts[4]
		res := parts[5]
		switch {
		case strings.HasPrefix(res, "key/"):
			r.keyID = strings.TrimPrefix(res, "key/")
		case strings.HasPrefix(res, "alias/") && allowAlias:
			r.alias = res
		default:
			return r, errNotFound("Invalid arn %s", s)
		}
	case strings.HasPrefix(s, "alias/"):
		if !allowAlias {
			return r, errNotFound("Invalid keyId '%s'", s)
		}
		r.alias = s
	default:
		r.keyID = s
	}
	if r.keyID != "" && !uuidRE.MatchString(r.keyID) && !mrkRE.MatchString(r.keyID) {
		return r, errNotFound("Invalid keyId '%s'", s)
	}
	return r, nil
}

// loadKey resolves a reference to its key. It reports the alias name used
// (kms:RequestAlias). Keys past their deletion date are gone.
func loadKey(ctx context.Context, tx store.Tx, r ref, now time.Time) (*keyRec, error) {
	id := r.keyID
	if r.alias != "" {
		a, err := store.GetJSON[aliasRec](ctx, tx, tAliases, key3(r.account, r.region, r.alias))
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("Alias %s is not found.", aliasARN(r.account, r.region, r.alias))
		}
		if err != nil {
			return nil, err
		}
		id = a.KeyID
	}
	k, err := store.GetJSON[keyRec](ctx, tx, tKeys, key3(r.account, r.region, id))
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.deleted(now)) {
		return nil, errNotFound("Key '%s' does not exist", keyARN(r.account, r.region, id))
	}
	return k, err
}

// deleted reports whether a key's deletion window has passed (the lifecycle
// job removes it; until then it is treated as gone).
func (k *keyRec) deleted(now time.Time) bool {
	return k.State == statePendingDeletion && k.DeletionDate != nil && !now.Before(*k.DeletionDate)
}

// usable checks the key state for cryptographic operations and CreateGrant.
func (k *keyRec) usable() error {
	switch k.State {
	case stateEnabled:
		return nil
	case stateDisabled:
		return errDisabled(k.ARN)
	case statePendingDeletion:
		return errInvalidState("%s is pending deletion.", k.ARN)
	}
	return errInvalidState("%s is %s.", k.ARN, strings.ToLower(k.State))
}

// notPendingDeletion checks the key state for management operations.
func (k *keyRec) notPendingDeletion() error {
	if k.State == statePendingDeletion {
		return errInvalidState("%s is pending deletion.", k.ARN)
	}
	return nil
}

func defaultKeyPolicy(account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// workspacesKeyPolicy is the key policy of the AWS managed key
// aws/workspaces. AWS does not publish it; it follows the documented
// pattern of the AWS managed key for EBS: use through the service by
// principals of the account, and read-only metadata access for the account.
func workspacesKeyPolicy(account, region string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "auto-workspaces-1",
  "Statement" : [ {
    "Sid" : "Allow access through WorkSpaces for all principals in the account that are authorized to use WorkSpaces",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "` + account + `",
        "kms:ViaService" : "workspaces.` + region + `.amazonaws.com"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*" ],
    "Resource" : "*"
  } ]
}`
}
