package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Tag is the model's Tag shape.
type Tag struct {
	TagKey   *string `json:"TagKey" v:"required,min=1,max=128"`
	TagValue *string `json:"TagValue" v:"required,min=0,max=256"`
}

// KeyMetadata is the model's KeyMetadata shape.
type KeyMetadata struct {
	AWSAccountId                string
	KeyId                       string
	Arn                         string
	CreationDate                *awsproto.Time
	Enabled                     bool
	Description                 string
	KeyUsage                    string
	KeyState                    string
	DeletionDate                *awsproto.Time `json:",omitempty"`
	PendingDeletionWindowInDays *int           `json:",omitempty"`
	Origin                      string
	KeyManager                  string
	CustomerMasterKeySpec       string
	KeySpec                     string
	EncryptionAlgorithms        []string
	MultiRegion                 bool
}

func (k *keyRec) metadata() *KeyMetadata {
	md := &KeyMetadata{AWSAccountId: k.Account, KeyId: k.KeyID, Arn: k.ARN, CreationDate: awsproto.NewTime(k.Created),
		Enabled: k.State == stateEnabled, Description: k.Description, KeyUsage: k.KeyUsage, KeyState: k.State,
		Origin: k.Origin, KeyManager: k.KeyManager, CustomerMasterKeySpec: k.KeySpec, KeySpec: k.KeySpec,
		EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}}
	if k.DeletionDate != nil {
		md.DeletionDate = awsproto.NewTime(*k.DeletionDate)
		w := k.PendingWindow
		md.PendingDeletionWindowInDays = &w
	}
	return md
}

// CreateKeyInput is the CreateKey request.
type CreateKeyInput struct {
	Policy                         *string `v:"min=1,max=131072"`
	Description                    *string `v:"max=8192"`
	KeyUsage                       *string `v:"enum=SIGN_VERIFY|ENCRYPT_DECRYPT|GENERATE_VERIFY_MAC|KEY_AGREEMENT"`
	CustomerMasterKeySpec          *string
	KeySpec                        *string
	Origin                         *string `v:"enum=AWS_KMS|EXTERNAL|AWS_CLOUDHSM|EXTERNAL_KEY_STORE"`
	CustomKeyStoreId               *string
	BypassPolicyLockoutSafetyCheck *bool
	Tags                           []Tag
	MultiRegion                    *bool
	XksKeyId                       *string
}

// CreateKeyOutput is the CreateKey response.
type CreateKeyOutput struct{ KeyMetadata *KeyMetadata }

// KeyIDInput is the shape of the requests that only name a key (EnableKey,
// DisableKey, CancelKeyDeletion: one shape in the model); each operation
// has its own type of it.
type KeyIDInput struct {
	KeyId *string `v:"required,min=1,max=2048"`
}

// EnableKeyInput is the EnableKey request.
type EnableKeyInput KeyIDInput

// DisableKeyInput is the DisableKey request.
type DisableKeyInput KeyIDInput

// CancelKeyDeletionInput is the CancelKeyDeletion request.
type CancelKeyDeletionInput KeyIDInput

// DescribeKeyInput is the DescribeKey request.
type DescribeKeyInput struct {
	KeyId       *string  `v:"required,min=1,max=2048"`
	GrantTokens []string `json:",omitempty" v:"max=10"`
}

// DescribeKeyOutput is the DescribeKey response.
type DescribeKeyOutput struct{ KeyMetadata *KeyMetadata }

// ListInput is the paging part of list requests.
type ListInput struct {
	Limit  *int    `v:"min=1,max=1000"`
	Marker *string `v:"min=1,max=1024"`
}

// KeyListEntry is the model's KeyListEntry.
type KeyListEntry struct{ KeyId, KeyArn string }

// ListKeysOutput is the ListKeys response.
type ListKeysOutput struct {
	Keys       []KeyListEntry
	NextMarker *string `json:",omitempty"`
	Truncated  bool
}

// ScheduleKeyDeletionInput is the ScheduleKeyDeletion request.
type ScheduleKeyDeletionInput struct {
	KeyId *string `v:"required,min=1,max=2048"`
	// The model allows 1-365; KMS takes 7-30 days and words the refusal
	// as the model's validation.
	PendingWindowInDays *int `v:"min=7,max=30"`
}

// ScheduleKeyDeletionOutput is the ScheduleKeyDeletion response.
type ScheduleKeyDeletionOutput struct {
	KeyId               string
	DeletionDate        *awsproto.Time
	KeyState            string
	PendingWindowInDays int
}

// CancelKeyDeletionOutput is the CancelKeyDeletion response.
type CancelKeyDeletionOutput struct{ KeyId string }

// GetKeyPolicyInput is the GetKeyPolicy request.
type GetKeyPolicyInput struct {
	KeyId      *string `v:"required,min=1,max=2048"`
	PolicyName *string `v:"min=1,max=128,pattern=^[\\w]+$"`
}

// GetKeyPolicyOutput is the GetKeyPolicy response.
type GetKeyPolicyOutput struct{ Policy, PolicyName string }

// PutKeyPolicyInput is the PutKeyPolicy request.
type PutKeyPolicyInput struct {
	KeyId                          *string `v:"required,min=1,max=2048"`
	PolicyName                     *string `v:"min=1,max=128,pattern=^[\\w]+$"`
	Policy                         *string `v:"required,min=1,max=131072"`
	BypassPolicyLockoutSafetyCheck *bool
}

// ListKeyPoliciesInput is the ListKeyPolicies request.
type ListKeyPoliciesInput struct {
	KeyId  *string `v:"required,min=1,max=2048"`
	Limit  *int    `v:"min=1,max=1000"`
	Marker *string `v:"min=1,max=320"`
}

// ListKeyPoliciesOutput is the ListKeyPolicies response.
type ListKeyPoliciesOutput struct {
	PolicyNames []string
	Truncated   bool
}

// TagResourceInput is the TagResource request.
type TagResourceInput struct {
	KeyId *string `v:"required,min=1,max=2048"`
	Tags  []Tag   `v:"required"`
}

// UntagResourceInput is the UntagResource request.
type UntagResourceInput struct {
	KeyId   *string  `v:"required,min=1,max=2048"`
	TagKeys []string `v:"required"`
}

// ListResourceTagsInput is the ListResourceTags request.
type ListResourceTagsInput struct {
	KeyId  *string `v:"required,min=1,max=2048"`
	Limit  *int    `v:"min=1,max=50"`
	Marker *string `v:"min=1,max=1024"`
}

// ListResourceTagsOutput is the ListResourceTags response.
type ListResourceTagsOutput struct {
	Tags       []Tag
	NextMarker *string `json:",omitempty"`
	Truncated  bool
}

func tagMap(tags []Tag) (map[string]string, []string, error) {
	if len(tags) == 0 {
		return nil, nil, nil
	}
	if len(tags) > 50 {
		return nil, nil, awsproto.Errorf("TagException", "Too many tags: a key can have at most 50 tags.")
	}
	out := map[string]string{}
	var keys []string
	for _, t := range tags {
		k := ptr.Deref(t.TagKey)
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, nil, awsproto.Errorf("TagException", "Tag keys beginning with aws: are reserved for AWS use.")
		}
		if _, dup := out[k]; dup {
			return nil, nil, awsproto.Errorf("TagException", "Duplicate tag key %s.", k)
		}
		out[k] = ptr.Deref(t.TagValue)
		keys = append(keys, k)
	}
	return out, keys, nil
}

func malformed(err error) error {
	var me *policy.MalformedError
	if errors.As(err, &me) {
		return awsproto.Errorf("MalformedPolicyDocumentException", "%s", me.Message)
	}
	return awsproto.Errorf("MalformedPolicyDocumentException", "%s", err.Error())
}

// checkPolicy parses a key policy and, unless bypassed, applies the policy
// lockout safety check: the caller must still be allowed kms:PutKeyPolicy.
func (m *Module) checkPolicy(ctx context.Context, c *gateway.Call, k *keyRec, text string, bypass bool) error {
	if len(text) > 32768 {
		return awsproto.Errorf("LimitExceededException", "The key policy exceeds the maximum size of 32768 bytes.")
	}
	if _, err := policy.ParseKind(text, policy.Resource); err != nil {
		return malformed(err)
	}
	if bypass {
		return nil
	}
	// The safety check simulates the caller's kms:PutKeyPolicy under the
	// new policy, in the one evaluator (grants cannot allow PutKeyPolicy).
	chk := m.keyCheck(c.Account, c.Principal, k, authzRequest{Action: "kms:PutKeyPolicy"})
	chk.Policy.Documents = []string{text}
	d, err := gateway.Decide(ctx, m.authz, c.Principal, chk, c.Env())
	if err != nil {
		return fmt.Errorf("kms: policy lockout safety check on %s: %w", k.ARN, err)
	}
	if !d.Allowed {
		return awsproto.Errorf("MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

// newKey builds a key record with fresh, sealed key material.
func (m *Module) newKey(account, region, desc, manager, pol string, tags map[string]string, now time.Time) (*keyRec, error) {
	id := ids.UUID()
	k := &keyRec{KeyID: id, ARN: keyARN(account, region, id), Account: account, Region: region, Description: desc,
		KeyUsage: "ENCRYPT_DECRYPT", KeySpec: "SYMMETRIC_DEFAULT", Origin: "AWS_KMS", KeyManager: manager,
		State: stateEnabled, Created: now, Policy: pol, Tags: tags}
	material := make([]byte, 32)
	if _, err := rand.Read(material); err != nil {
		return nil, err
	}
	k.Material = m.master.seal(material, k.ARN)
	clear(material)
	return k, nil
}

// keyOp declares an operation on the key its input names: the resolver
// finds the key and returns its check (keyChecks) with what r adds; the
// operation is authorized by the key policy, grants and IAM policies
// (ResourcePolicy).
func keyOp[In any](m *Module, op *gateway.Operation, keyRef func(in *In) string, allowAlias bool, r authzRequest) *gateway.Operation {
	return gateway.WithResources(op, func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		return m.keyChecks(ctx, c, keyRef(in), allowAlias, r)
	}).ResourcePolicy()
}

// createKeyResources resolves the resources CreateKey is authorized on.
func (m *Module) createKeyResources(ctx context.Context, c *gateway.Call, in *CreateKeyInput) ([]gateway.Check, error) {
	tags, _, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	chk := gateway.Check{Resource: "*", RequestTags: tags, Context: map[string][]string{
		"kms:KeySpec": {or(ptr.Deref(in.KeySpec), "SYMMETRIC_DEFAULT")}, "kms:KeyUsage": {or(ptr.Deref(in.KeyUsage), "ENCRYPT_DECRYPT")},
		"kms:KeyOrigin": {or(ptr.Deref(in.Origin), "AWS_KMS")}, "kms:MultiRegion": {boolStr(ptr.Deref(in.MultiRegion))},
		"kms:CallerAccount": {c.Account}, "kms:BypassPolicyLockoutSafetyCheck": {boolStr(ptr.Deref(in.BypassPolicyLockoutSafetyCheck))}}}
	if len(tags) == 0 {
		return []gateway.Check{chk}, nil
	}
	// Tags on CreateKey also need kms:TagResource in an IAM policy
	// (the CreateKey reference), with the same request tags.
	tag := gateway.Check{Action: "kms:TagResource", Resource: "*", RequestTags: tags,
		Context: map[string][]string{"kms:CallerAccount": {c.Account}}}
	return []gateway.Check{chk, tag}, nil
}

// scheduleKeyDeletionResources resolves the resources ScheduleKeyDeletion is authorized on.
func (m *Module) scheduleKeyDeletionResources(ctx context.Context, c *gateway.Call, in *ScheduleKeyDeletionInput) ([]gateway.Check, error) {
	days := pendingDays(in)
	extra := map[string][]string{"kms:ScheduleKeyDeletionPendingWindowInDays": {itoa(int64(days))}}
	return m.keyChecks(ctx, c, *in.KeyId, false, authzRequest{Extra: extra})
}

// getKeyPolicyResources resolves the resources GetKeyPolicy is authorized on.
func (m *Module) getKeyPolicyResources(ctx context.Context, c *gateway.Call, in *GetKeyPolicyInput) ([]gateway.Check, error) {
	if err := defaultPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	return m.keyChecks(ctx, c, *in.KeyId, false, authzRequest{})
}

// putKeyPolicyResources resolves the resources PutKeyPolicy is authorized on.
func (m *Module) putKeyPolicyResources(ctx context.Context, c *gateway.Call, in *PutKeyPolicyInput) ([]gateway.Check, error) {
	if err := defaultPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	return m.keyChecks(ctx, c, *in.KeyId, false, authzRequest{})
}

// tagResourceResources resolves the resources TagResource is authorized on.
func (m *Module) tagResourceResources(ctx context.Context, c *gateway.Call, in *TagResourceInput) ([]gateway.Check, error) {
	tags, err := requestTags(in.Tags)
	if err != nil {
		return nil, err
	}
	return m.keyChecks(ctx, c, *in.KeyId, false, authzRequest{RequestTags: tags})
}

// untagResourceResources resolves the resources UntagResource is authorized on.
func (m *Module) untagResourceResources(ctx context.Context, c *gateway.Call, in *UntagResourceInput) ([]gateway.Check, error) {
	return m.keyChecks(ctx, c, *in.KeyId, false, authzRequest{TagKeys: append([]string{}, in.TagKeys...)})
}

// defaultPolicyName checks a PolicyName: a key has one policy, "default".
func defaultPolicyName(name *string) error {
	if name != nil && *name != "default" {
		return errNotFound("No such policy exists")
	}
	return nil
}

// requestTags are the tags of a TagResource request (an empty map when
// none: aws:TagKeys is empty, not absent).
func requestTags(in []Tag) (map[string]string, error) {
	tags, _, err := tagMap(in)
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return tags, nil
}

func (m *Module) describeKey(ctx context.Context, c *gateway.Call, in *DescribeKeyInput) (*DescribeKeyOutput, error) {
	var out *DescribeKeyOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, true)
		if err != nil {
			return err
		}
		out = &DescribeKeyOutput{KeyMetadata: k.metadata()}
		return nil
	})
	return out, err
}

func (m *Module) enableKey(ctx context.Context, c *gateway.Call, in *EnableKeyInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		k.State = stateEnabled
		return nil
	})
}

func (m *Module) disableKey(ctx context.Context, c *gateway.Call, in *DisableKeyInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		k.State = stateDisabled
		return nil
	})
}

func (m *Module) cancelKeyDeletion(ctx context.Context, c *gateway.Call, in *CancelKeyDeletionInput) (*CancelKeyDeletionOutput, error) {
	var out CancelKeyDeletionOutput
	err := m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if k.State != statePendingDeletion {
			return errInvalidState("%s is not pending deletion.", k.ARN)
		}
		k.State, k.DeletionDate, k.PendingWindow = stateDisabled, nil, 0
		out.KeyId = k.ARN
		return tx.CancelJob(ctx, deleteJobID(k.Account, k.Region, k.KeyID))
	})
	return &out, err
}

func (m *Module) getKeyPolicy(ctx context.Context, c *gateway.Call, in *GetKeyPolicyInput) (*GetKeyPolicyOutput, error) {
	var out *GetKeyPolicyOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		out = &GetKeyPolicyOutput{Policy: k.Policy, PolicyName: "default"}
		return nil
	})
	return out, err
}

func (m *Module) putKeyPolicy(ctx context.Context, c *gateway.Call, in *PutKeyPolicyInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if k.KeyManager == "AWS" {
			return awsproto.Errorf("AccessDeniedException", "The key policy of an AWS managed key cannot be changed.")
		}
		if err := m.checkPolicy(ctx, c, k, *in.Policy, ptr.Deref(in.BypassPolicyLockoutSafetyCheck)); err != nil {
			return err
		}
		k.Policy = *in.Policy
		return nil
	})
}

func (m *Module) listKeyPolicies(ctx context.Context, c *gateway.Call, in *ListKeyPoliciesInput) (*ListKeyPoliciesOutput, error) {
	err := m.store.View(ctx, func(tx store.Tx) error {
		_, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ListKeyPoliciesOutput{PolicyNames: []string{"default"}}, nil
}

func (m *Module) tagResource(ctx context.Context, c *gateway.Call, in *TagResourceInput) (*struct{}, error) {
	tags, err := requestTags(in.Tags)
	if err != nil {
		return nil, err
	}
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		if k.Tags == nil {
			k.Tags = map[string]string{}
		}
		for kk, v := range tags {
			k.Tags[kk] = v
		}
		if len(k.Tags) > 50 {
			return awsproto.Errorf("TagException", "Too many tags: a key can have at most 50 tags.")
		}
		return nil
	})
}

func (m *Module) untagResource(ctx context.Context, c *gateway.Call, in *UntagResourceInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		for _, t := range in.TagKeys {
			delete(k.Tags, t)
		}
		return nil
	})
}

func (m *Module) listResourceTags(ctx context.Context, c *gateway.Call, in *ListResourceTagsInput) (*ListResourceTagsOutput, error) {
	out := &ListResourceTagsOutput{Tags: []Tag{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(k.Tags))
		for t := range k.Tags {
			keys = append(keys, t)
		}
		sort.Strings(keys)
		for _, t := range keys {
			out.Tags = append(out.Tags, Tag{TagKey: ptr.To(t), TagValue: ptr.To(k.Tags[t])})
		}
		return nil
	})
	return out, err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// updateKey loads (by key id or ARN), changes and writes a key; the
// pipeline has authorized the call on it.
func (m *Module) updateKey(ctx context.Context, c *gateway.Call, keyRef string, fn func(tx store.Tx, k *keyRec) error) error {
	return m.store.Update(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, keyRef, false)
		if err != nil {
			return err
		}
		if err := fn(tx, k); err != nil {
			return err
		}
		return store.PutJSON(ctx, tx, tKeys, key3(k.Account, k.Region, k.KeyID), k)
	})
}

func (m *Module) createKey(ctx context.Context, c *gateway.Call, in *CreateKeyInput) (*CreateKeyOutput, error) {
	if o := ptr.Deref(in.Origin); o != "" && o != "AWS_KMS" {
		return nil, awsproto.Errorf("UnsupportedOperationException", "Origin %s is not supported; only AWS_KMS keys are available.", o)
	}
	spec := or(ptr.Deref(in.KeySpec), ptr.Deref(in.CustomerMasterKeySpec))
	if spec != "" && spec != "SYMMETRIC_DEFAULT" {
		return nil, awsproto.Errorf("UnsupportedOperationException", "KeySpec %s is not supported; only SYMMETRIC_DEFAULT keys are available.", spec)
	}
	if u := ptr.Deref(in.KeyUsage); u != "" && u != "ENCRYPT_DECRYPT" {
		return nil, awsproto.Errorf("ValidationException", "KeyUsage %s is not compatible with KeySpec SYMMETRIC_DEFAULT.", u)
	}
	if ptr.Deref(in.MultiRegion) {
		return nil, awsproto.Errorf("UnsupportedOperationException", "Multi-Region keys are not supported.")
	}
	if in.CustomKeyStoreId != nil || in.XksKeyId != nil {
		return nil, awsproto.Errorf("UnsupportedOperationException", "Custom key stores are not supported.")
	}
	tags, _, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	pol := defaultKeyPolicy(c.Account)
	k, err := m.newKey(c.Account, c.Region, ptr.Deref(in.Description), "CUSTOMER", pol, tags, c.Now)
	if err != nil {
		return nil, errInternal(err)
	}
	if in.Policy != nil {
		if err := m.checkPolicy(ctx, c, k, *in.Policy, ptr.Deref(in.BypassPolicyLockoutSafetyCheck)); err != nil {
			return nil, err
		}
		k.Policy = *in.Policy
	}
	c.AddResource(gateway.Check{Resource: k.ARN, ResourceAccount: k.Account})
	err = m.store.Update(ctx, func(tx store.Tx) error {
		return store.CreateJSON(ctx, tx, tKeys, key3(k.Account, k.Region, k.KeyID), k)
	})
	if err != nil {
		return nil, err
	}
	return &CreateKeyOutput{KeyMetadata: k.metadata()}, nil
}

func (m *Module) listKeys(ctx context.Context, c *gateway.Call, in *ListInput) (*ListKeysOutput, error) {
	limit := 100
	if in.Limit != nil {
		limit = *in.Limit
	}
	out := &ListKeysOutput{Keys: []KeyListEntry{}}
	prefix := c.Account + "/" + c.Region + "/"
	err := m.store.View(ctx, func(tx store.Tx) error {
		next, err := scanPage(ctx, tx, tKeys, prefix, in.Marker, limit,
			func(k *keyRec) bool { return !k.deleted(c.Now) },
			func(k *keyRec) { out.Keys = append(out.Keys, KeyListEntry{KeyId: k.KeyID, KeyArn: k.ARN}) })
		out.NextMarker, out.Truncated = next, next != nil
		return err
	})
	return out, err
}

// pendingDays is the waiting period of a ScheduleKeyDeletion request (its
// range is the input's tag).
func pendingDays(in *ScheduleKeyDeletionInput) int {
	if in.PendingWindowInDays != nil {
		return *in.PendingWindowInDays
	}
	return 30
}

func (m *Module) scheduleKeyDeletion(ctx context.Context, c *gateway.Call, in *ScheduleKeyDeletionInput) (*ScheduleKeyDeletionOutput, error) {
	days := pendingDays(in)
	var out *ScheduleKeyDeletionOutput
	err := m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if k.KeyManager == "AWS" {
			return awsproto.Errorf("AccessDeniedException", "AWS managed keys cannot be deleted.")
		}
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		due := c.Now.Add(time.Duration(days) * 24 * time.Hour)
		k.State, k.DeletionDate, k.PendingWindow = statePendingDeletion, &due, days
		if m.engine != nil {
			if err := m.engine.Schedule(ctx, tx, deleteJobID(k.Account, k.Region, k.KeyID), jobDeleteKey, due,
				deleteJob{Account: k.Account, Region: k.Region, KeyID: k.KeyID}); err != nil {
				return err
			}
		}
		out = &ScheduleKeyDeletionOutput{KeyId: k.ARN, DeletionDate: awsproto.NewTime(due), KeyState: k.State, PendingWindowInDays: days}
		return nil
	})
	return out, err
}
