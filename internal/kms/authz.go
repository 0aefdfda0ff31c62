package kms

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/cloudtrail"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/store"
)

// allowAll stands in for "the identity side allows" when probing whether a
// key policy delegates to the account's IAM policies.
var allowAll = policy.MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, policy.Identity)

// policyCache keeps compiled key policies by key ARN.
type policyCache struct {
	mu sync.RWMutex
	m  map[string]cachedPolicy
}

type cachedPolicy struct {
	text string
	p    *policy.Policy
}

func (pc *policyCache) get(arn, text string) (*policy.Policy, error) {
	pc.mu.RLock()
	c, ok := pc.m[arn]
	pc.mu.RUnlock()
	if ok && c.text == text {
		return c.p, nil
	}
	p, err := policy.ParseKind(text, policy.Resource)
	if err != nil {
		return nil, err
	}
	pc.mu.Lock()
	if pc.m == nil || len(pc.m) > 10000 {
		pc.m = map[string]cachedPolicy{}
	}
	pc.m[arn] = cachedPolicy{text: text, p: p}
	pc.mu.Unlock()
	return p, nil
}

// authzRequest is one KMS authorization question about a key.
type authzRequest struct {
	Action string // full action, e.g. kms:Decrypt
	Key    *keyRec
	Alias  string            // alias used in the request (kms:RequestAlias)
	EncCtx map[string]string // request encryption context
	Extra  map[string][]string
	// RequestTags are the tags the request sets (aws:RequestTag/*, and
	// their keys as aws:TagKeys); TagKeys the keys a request names without
	// values (UntagResource). Both sides of the evaluation see them.
	RequestTags map[string]string
	TagKeys     []string
	GrantOp     string // the grant operation that may allow the call; "" when grants cannot
}

// principalOf maps the gateway principal to the policy evaluator's.
func principalOf(p *gateway.Principal) policy.Principal {
	pp := policy.Principal{ARN: p.ARN, Account: p.Account, IssuerARN: p.RoleARN, Service: p.Service}
	if p.Type == "AWSService" {
		pp.ARN = ""
	}
	return pp
}

// conditionContext builds the request context for key policy and IAM
// evaluation: kms:CallerAccount, kms:EncryptionContext:*,
// kms:EncryptionContextKeys, kms:RequestAlias, aws:ResourceTag/* and the
// principal's global keys.
func conditionContext(c *gateway.Call, r *authzRequest) map[string][]string {
	m := map[string][]string{}
	p := c.Principal
	m["kms:CallerAccount"] = []string{p.Account}
	if p.ARN != "" {
		m["aws:PrincipalArn"] = []string{principalARN(p)}
	}
	m["aws:PrincipalAccount"] = []string{p.Account}
	if p.UserName != "" {
		m["aws:username"] = []string{p.UserName}
	}
	if p.UserID != "" {
		m["aws:userid"] = []string{p.UserID}
	}
	if p.Type != "" {
		m["aws:PrincipalType"] = []string{principalType(p)}
	}
	for k, v := range p.Tags {
		m["aws:PrincipalTag/"+k] = []string{v}
	}
	if c.SourceIP != "" {
		m["aws:SourceIp"] = []string{c.SourceIP}
	}
	if c.Secure {
		m["aws:SecureTransport"] = []string{"true"}
	} else {
		m["aws:SecureTransport"] = []string{"false"}
	}
	m["aws:CurrentTime"] = []string{c.Now.UTC().Format("2006-01-02T15:04:05Z")}
	m["aws:EpochTime"] = []string{itoa(c.Now.Unix())}
	m["aws:RequestedRegion"] = []string{c.Region}
	if r.Key != nil {
		for k, v := range r.Key.Tags {
			m["aws:ResourceTag/"+k] = []string{v}
		}
		m["kms:KeySpec"] = []string{r.Key.KeySpec}
		m["kms:KeyUsage"] = []string{r.Key.KeyUsage}
		m["kms:KeyOrigin"] = []string{r.Key.Origin}
		m["kms:MultiRegion"] = []string{"false"}
	}
	if len(r.EncCtx) > 0 {
		keys := make([]string, 0, len(r.EncCtx))
		for k, v := range r.EncCtx {
			m["kms:EncryptionContext:"+k] = []string{v}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m["kms:EncryptionContextKeys"] = keys
	}
	if r.Alias != "" {
		m["kms:RequestAlias"] = []string{r.Alias}
	}
	if r.RequestTags != nil {
		keys := make([]string, 0, len(r.RequestTags))
		for k, v := range r.RequestTags {
			m["aws:RequestTag/"+k] = []string{v}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m["aws:TagKeys"] = keys
	}
	if r.TagKeys != nil {
		m["aws:TagKeys"] = append(m["aws:TagKeys"], r.TagKeys...)
	}
	for k, v := range r.Extra {
		m[k] = v
	}
	return m
}

// principalARN is the ARN matched by aws:PrincipalArn: the role for a session.
func principalARN(p *gateway.Principal) string {
	if p.Type == "AssumedRole" && p.RoleARN != "" {
		return p.RoleARN
	}
	return p.ARN
}

func principalType(p *gateway.Principal) string {
	switch p.Type {
	case "IAMUser":
		return "User"
	case "Root":
		return "Account"
	}
	return p.Type
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// verdict is the outcome of key policy + IAM evaluation.
type verdict struct {
	allowed      bool
	explicitDeny bool
	reason       string
}

// evaluate applies the KMS authorization logic: an explicit deny in the key
// policy or in IAM denies; a key policy statement naming the caller (or "*"
// with matching conditions) allows; a statement naming the account delegates
// to IAM, whose policies must then allow. A key policy that allows neither
// denies even when IAM policies allow. The IAM side is always evaluated, so
// that an identity-based explicit deny is reported (explicitDeny) whatever
// the key policy says: grants, consulted after, never override it.
func (m *Module) evaluate(ctx context.Context, c *gateway.Call, r *authzRequest, kp *policy.Policy, condCtx map[string][]string) (verdict, error) {
	req := &policy.Request{Action: r.Action, Resource: r.Key.ARN, Principal: principalOf(c.Principal), Context: condCtx}
	set := policy.Set{Resource: []*policy.Policy{kp}, ResourceAccount: r.Key.Account, ResourceMustAllow: true}
	res := policy.Authorize(set, req)
	if res.Decision == policy.Deny {
		return verdict{explicitDeny: true, reason: res.Reason}, nil
	}
	direct := res.Decision == policy.Allow
	delegates := false
	if !direct {
		set.Identity = []*policy.Policy{allowAll}
		delegates = policy.Authorize(set, req).Decision == policy.Allow
	}
	noResource := verdict{reason: "no resource-based policy allows the " + r.Action + " action"}
	// The IAM side: must allow when the key policy delegates; an explicit
	// deny applies in every case (AWS services have no identity policies).
	if m.authz == nil || c.Principal.Type == "AWSService" {
		if direct || delegates {
			return verdict{allowed: true}, nil
		}
		return noResource, nil
	}
	chk := gateway.Check{Action: r.Action, Resource: r.Key.ARN, ResourceAccount: r.Key.Account, ResourceTags: r.Key.Tags,
		RequestTags: r.RequestTags, TagKeys: r.TagKeys, Context: kmsOnly(condCtx)}
	d, err := m.authz.Authorize(ctx, c.Principal, r.Action, chk, gateway.Env{SourceIP: c.SourceIP, SecureTransport: c.Secure, Now: c.Now, Region: c.Region})
	if err != nil {
		return verdict{}, fmt.Errorf("kms: evaluate identity policies for %s on %s: %w", r.Action, r.Key.ARN, err)
	}
	switch {
	case d.ExplicitDeny:
		return verdict{explicitDeny: true, reason: "explicit deny in an identity-based policy"}, nil
	case direct || (delegates && d.Allowed):
		return verdict{allowed: true}, nil
	case !delegates:
		return noResource, nil
	}
	return verdict{reason: "no identity-based policy allows the " + r.Action + " action"}, nil
}

// kmsOnly keeps the service-specific keys for the IAM check (the IAM
// authorizer adds the global aws: keys itself).
func kmsOnly(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		if strings.HasPrefix(k, "kms:") {
			out[k] = v
		}
	}
	return out
}

// authorize decides a call on a key: key policy and IAM, then grants. It
// records the key as a resource of the call for CloudTrail.
func (m *Module) authorize(ctx context.Context, tx store.Tx, c *gateway.Call, r *authzRequest) error {
	v, err := m.decide(ctx, tx, c, r)
	if err != nil {
		return err
	}
	if v.allowed {
		return nil
	}
	return accessDenied(c.Principal, r.Action, r.Key.ARN, v)
}

// decide is authorize's verdict: the key policy and IAM policies, then (when
// neither denies explicitly) the grants for r.GrantOp. An explicit deny in
// any policy is final: grants only ever allow.
func (m *Module) decide(ctx context.Context, tx store.Tx, c *gateway.Call, r *authzRequest) (verdict, error) {
	addResource(c, cloudtrail.Resource{ARN: r.Key.ARN, Account: r.Key.Account})
	kp, err := m.policies.get(r.Key.ARN, r.Key.Policy)
	if err != nil {
		return verdict{}, errInternal(err)
	}
	cc := conditionContext(c, r)
	v, err := m.evaluate(ctx, c, r, kp, cc)
	if err != nil || v.allowed || v.explicitDeny || r.GrantOp == "" {
		return v, err
	}
	ok, err := m.grantAllows(ctx, tx, c.Principal, r.Key, r.GrantOp, r.EncCtx)
	if err != nil {
		return verdict{}, fmt.Errorf("kms: read the grants of %s: %w", r.Key.ARN, err)
	}
	if ok {
		return verdict{allowed: true}, nil
	}
	return v, nil
}

// accessDenied is the denial of action on the key arn to p, spelled by the
// error table (awsproto.ErrAccessDenied) with the verdict's reason.
func accessDenied(p *gateway.Principal, action, arn string, v verdict) error {
	who := p.ARN
	if who == "" {
		who = p.Service
	}
	why := "no resource-based policy allows the " + action + " action"
	if v.reason != "" {
		why = v.reason
	}
	return awsproto.Denied(awsproto.JSON, who, action, arn, why)
}

// addResource reports the keys a call touched to CloudTrail (resources).
func addResource(c *gateway.Call, res ...cloudtrail.Resource) {
	if c != nil {
		c.SetAudit(cloudtrail.ResourcesKey, res)
	}
}

func resourceOf(k *keyRec) cloudtrail.Resource {
	return cloudtrail.Resource{ARN: k.ARN, Account: k.Account}
}
