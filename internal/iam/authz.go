package iam

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/store"
)

// Shared IAM settings, in the store's settings table (the same on every node).
const (
	TableSettings = "settings"
	// KeyGeneration is the IAM generation counter: every IAM write bumps it
	// in its own transaction, and every node's Authorizer drops its cached
	// identity policies when it sees a new value.
	KeyGeneration = "iam-generation"
)

// DefaultGenerationTTL is how long a node trusts its last read of the
// generation counter: writes made through another node become visible to
// this node's authorizer at most this late. Writes through this node are
// visible at once.
const DefaultGenerationTTL = time.Second

// Authorizer implements gateway.Authorizer with the policy evaluator. It
// caches each principal's parsed identity policies until the IAM generation
// counter changes, and parsed documents by content.
type Authorizer struct {
	Store store.Store
	// TTL bounds how stale the generation counter may be (cross-node writes).
	TTL time.Duration
	// wall returns the time used for the TTL (real time, not the domain
	// clock); nil is time.Now, whose monotonic reading alone then ages the
	// last read (time.Since: one clock reading, where time.Now takes two).
	wall func() time.Time

	mu        sync.RWMutex
	gen       int64
	genRead   time.Time
	idents    map[identKey]*identEntry // principal -> policies
	parsed    *parseCache
	decisions map[string]decisionEntry // decision key (decisionKey) -> decision
	// lastIdent is the identity identityAt last found: a run of calls of
	// one principal finds it by a compare of its key (whose strings are
	// the cached principal's own), without the map's hash of them.
	lastIdent atomic.Pointer[identEntry]
}

type identEntry struct {
	gen  int64
	key  identKey // whose policies they are (set when cached)
	pols []*policy.Policy
	// types maps policy names to SimulatePrincipalPolicy source types.
	types map[string]string
	// ctxKeys are the request context keys (lower-case, sorted, unique)
	// that evaluating pols can read.
	ctxKeys []string
}

// decisionEntry is a cached decision, valid while the IAM generation is gen.
type decisionEntry struct {
	gen int64
	d   gateway.Decision
}

// MaxCachedDecisions bounds the decision cache; past it, it is emptied.
const MaxCachedDecisions = 16384

var _ gateway.Authorizer = (*Authorizer)(nil)

// NewAuthorizer returns an authorizer over st.
func NewAuthorizer(st store.Store) *Authorizer {
	return &Authorizer{Store: st, TTL: DefaultGenerationTTL,
		idents: map[identKey]*identEntry{}, parsed: newParseCache(ParseCacheEntries, ParseCacheBytes), decisions: map[string]decisionEntry{}}
}

// Invalidate forces the next authorization to re-read the generation counter
// (called after an IAM write on this node).
func (a *Authorizer) Invalidate() {
	a.mu.Lock()
	a.genRead = time.Time{}
	a.mu.Unlock()
}

// BumpGeneration increments the IAM generation counter inside tx. Every
// transaction that changes users, roles, keys or policies calls it.
func BumpGeneration(ctx context.Context, tx store.Tx) error {
	g, err := store.GetJSON[int64](ctx, tx, TableSettings, KeyGeneration)
	var n int64
	if err == nil {
		n = *g
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return store.PutJSON(ctx, tx, TableSettings, KeyGeneration, n+1)
}

// Generation returns the IAM generation counter as this node last read it
// (at most TTL old): caches of IAM data are valid while it is unchanged.
func (a *Authorizer) Generation(ctx context.Context) (int64, error) { return a.generation(ctx) }

func (a *Authorizer) generation(ctx context.Context) (int64, error) {
	var now time.Time
	if a.wall != nil {
		now = a.wall()
	}
	a.mu.RLock()
	g, read := a.gen, a.genRead
	a.mu.RUnlock()
	if !read.IsZero() {
		var age time.Duration
		if a.wall == nil {
			age = time.Since(read)
		} else {
			age = now.Sub(read)
		}
		if age < a.TTL {
			return g, nil
		}
	}
	if a.wall == nil {
		now = time.Now()
	}
	var n int64
	err := a.Store.View(ctx, func(tx store.Tx) error {
		v, err := store.GetJSON[int64](ctx, tx, TableSettings, KeyGeneration)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		n = *v
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("iam: read generation: %w", err)
	}
	a.mu.Lock()
	if n != a.gen {
		a.gen = n
		clear(a.idents)
		clear(a.decisions)
	}
	a.genRead = now
	a.mu.Unlock()
	return n, nil
}

// Parse parses a document of the given kind, caching the result by content
// (least recently used first out, within ParseCacheEntries documents and
// ParseCacheBytes of their text).
// Callers must not modify the returned policy.
func (a *Authorizer) Parse(doc string, kind policy.Kind) (*policy.Policy, error) {
	k := parseKey{kind, doc}
	if p := a.parsed.get(k); p != nil {
		return p, nil
	}
	p, err := policy.ParseKind(doc, kind)
	if err != nil {
		return nil, err
	}
	a.parsed.put(k, p)
	return p, nil
}

// ParseCacheSize reports how many parsed documents the authorizer keeps
// and the total length of their text.
func (a *Authorizer) ParseCacheSize() (entries, bytes int) { return a.parsed.size() }

// named returns a shallow copy of p carrying name (for decision reasons).
func named(p *policy.Policy, name string) *policy.Policy {
	cp := *p
	cp.Name = name
	return &cp
}

// Source types of SimulatePrincipalPolicy MatchedStatements.
const (
	SourceUser       = "user"
	SourceRole       = "role"
	SourceAWSManaged = "aws-managed"
	SourceManaged    = "user-managed"
	SourceResource   = "resource"
	SourceNone       = "none"
)

// loadEntity reads the inline and attached policies of a user or role.
func (a *Authorizer) loadEntity(ctx context.Context, tx store.Tx, inline map[string]string, attached []string, inlineType string) (*identEntry, error) {
	e := &identEntry{types: map[string]string{}}
	names := make([]string, 0, len(inline))
	for n := range inline {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := a.Parse(inline[n], policy.Identity)
		if err != nil {
			return nil, fmt.Errorf("iam: stored policy %s: %w", n, err)
		}
		e.pols = append(e.pols, named(p, n))
		e.types[n] = inlineType
	}
	for _, arn := range attached {
		mp, err := GetPolicy(ctx, tx, arn)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := a.Parse(mp.Versions[mp.DefaultVersion], policy.Identity)
		if err != nil {
			return nil, fmt.Errorf("iam: stored policy %s: %w", arn, err)
		}
		e.pols = append(e.pols, named(p, mp.Name))
		if mp.Account == "aws" {
			e.types[mp.Name] = SourceAWSManaged
		} else {
			e.types[mp.Name] = SourceManaged
		}
	}
	e.ctxKeys = contextKeys(e.pols)
	return e, nil
}

// contextKeys returns the request context keys (lower-case, sorted,
// unique) that evaluating pols can read.
func contextKeys(pols []*policy.Policy) []string {
	var out []string
	for _, p := range pols {
		for _, k := range p.ContextKeys() {
			out = append(out, strings.ToLower(k))
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// noPolicies is the identity of a principal that has no identity policies
// (the root user, a service).
var noPolicies = &identEntry{}

// identKey names the user or role whose policies an identEntry holds: its
// account, its name (lower-case, as names compare) and its unique id (the
// policies of this entity, not of a later one of the same name).
type identKey struct {
	role              bool
	account, name, id string
}

// identity returns the cached identity policies of the principal.
func (a *Authorizer) identity(ctx context.Context, p *gateway.Principal) (*identEntry, error) {
	switch p.Type {
	case "IAMUser", "AssumedRole":
	default:
		return noPolicies, nil
	}
	gen, err := a.generation(ctx)
	if err != nil {
		return nil, err
	}
	return a.identityAt(ctx, p, gen)
}

// identityAt is identity with the policies' generation already read (the
// decision cache reads it once per check: a reading is the clock's and the
// lock's).
func (a *Authorizer) identityAt(ctx context.Context, p *gateway.Principal, gen int64) (*identEntry, error) {
	var key identKey
	switch p.Type {
	case "IAMUser":
		key = identKey{account: p.Account, name: strings.ToLower(p.UserName), id: p.UserID}
	case "AssumedRole":
		id, _, _ := strings.Cut(p.UserID, ":")
		key = identKey{role: true, account: p.Account, name: strings.ToLower(p.RoleName), id: id}
	default:
		return noPolicies, nil
	}
	if e := a.lastIdent.Load(); e != nil && e.gen == gen && e.key == key {
		return e, nil
	}
	a.mu.RLock()
	e := a.idents[key]
	a.mu.RUnlock()
	if e != nil && e.gen == gen {
		a.lastIdent.Store(e)
		return e, nil
	}
	return a.loadIdentity(ctx, p, key, gen)
}

// loadIdentity reads the principal's identity policies into the cache (a
// function of its own: the closure it passes the store would otherwise put
// identity's cached entry on the heap on every call).
func (a *Authorizer) loadIdentity(ctx context.Context, p *gateway.Principal, key identKey, gen int64) (*identEntry, error) {
	id := key.id
	var e *identEntry
	err := a.Store.View(ctx, func(tx store.Tx) error {
		if p.Type == "IAMUser" {
			u, err := GetUser(ctx, tx, p.Account, p.UserName)
			if IsNotFound(err) || (err == nil && u.UserID != id) {
				e = &identEntry{} // deleted (or deleted and re-created): no permissions
				return nil
			}
			if err != nil {
				return err
			}
			e, err = a.loadEntity(ctx, tx, u.Inline, u.Attached, SourceUser)
			return err
		}
		r, err := GetRole(ctx, tx, p.Account, p.RoleName)
		if IsNotFound(err) || (err == nil && (r.ARN != p.RoleARN || r.RoleID != id)) {
			e = &identEntry{} // deleted (or deleted and re-created): the session has no permissions
			return nil
		}
		if err != nil {
			return err
		}
		e, err = a.loadEntity(ctx, tx, r.Inline, r.Attached, SourceRole)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.gen, e.key = gen, key
	a.mu.Lock()
	if a.gen == gen {
		a.idents[key] = e
	}
	a.mu.Unlock()
	return e, nil
}

// sessionPolicies parses a session's policies. Entries starting with
// "arn:" are managed policy ARNs (AssumeRole PolicyArns), read at request
// time; the others are inline JSON documents.
func (a *Authorizer) sessionPolicies(ctx context.Context, p *gateway.Principal) ([]*policy.Policy, error) {
	if len(p.SessionPolicies) == 0 {
		return nil, nil
	}
	out := make([]*policy.Policy, 0, len(p.SessionPolicies))
	for i, doc := range p.SessionPolicies {
		if strings.HasPrefix(doc, "arn:") {
			var mp *ManagedPolicy
			err := a.Store.View(ctx, func(tx store.Tx) error {
				var err error
				mp, err = GetPolicy(ctx, tx, doc)
				return err
			})
			if IsNotFound(err) {
				// A deleted managed session policy allows nothing.
				out = append(out, named(policy.MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}`, policy.Session), doc))
				continue
			}
			if err != nil {
				return nil, err
			}
			pp, err := a.Parse(mp.Versions[mp.DefaultVersion], policy.Session)
			if err != nil {
				return nil, err
			}
			out = append(out, named(pp, mp.Name))
			continue
		}
		pp, err := a.Parse(doc, policy.Session)
		if err != nil {
			return nil, err
		}
		if i == 0 && pp.Name == "" {
			pp = named(pp, "session-policy")
		}
		out = append(out, pp)
	}
	return out, nil
}

// PolicyPrincipal converts a gateway principal to the evaluator's.
func PolicyPrincipal(p *gateway.Principal) policy.Principal {
	pp := policy.Principal{ARN: p.ARN, Account: p.Account, Service: p.Service}
	if p.Type == "AssumedRole" {
		pp.IssuerARN = p.RoleARN
	}
	if p.Type == "AWSService" {
		pp.ARN, pp.Account = "", ""
	}
	return pp
}

// RequestContext builds the request context of one check: the global keys
// of the principal and environment, the check's tags and its service keys.
// Keys are lower-case (the evaluator's fast path).
func RequestContext(p *gateway.Principal, chk *gateway.Check, env *gateway.Env) map[string][]string {
	n := 10 + len(p.Tags) + len(chk.Context) + len(chk.RequestTags) + len(chk.ResourceTags)
	m := make(map[string][]string, n)
	one := func(k, v string) { m[k] = []string{v} }
	switch p.Type {
	case "IAMUser":
		one("aws:username", p.UserName)
		one("aws:principaltype", "User")
		one("aws:principalarn", p.ARN)
	case "AssumedRole":
		one("aws:principaltype", "AssumedRole")
		one("aws:principalarn", p.RoleARN)
		if !p.SessionIssued.IsZero() {
			one("aws:tokenissuetime", p.SessionIssued.UTC().Format(time.RFC3339))
		}
	case "Root":
		one("aws:principaltype", "Account")
		one("aws:principalarn", p.ARN)
	case "AWSService":
		one("aws:principalservicename", p.Service)
	}
	if p.UserID != "" {
		one("aws:userid", p.UserID)
	}
	if p.Account != "" {
		one("aws:principalaccount", p.Account)
	}
	for k, v := range p.Tags {
		one("aws:principaltag/"+strings.ToLower(k), v)
	}
	if env.SourceIP != "" {
		one("aws:sourceip", env.SourceIP)
	}
	if !env.Now.IsZero() {
		one("aws:currenttime", env.Now.UTC().Format(time.RFC3339))
		one("aws:epochtime", strconv.FormatInt(env.Now.Unix(), 10))
	}
	if env.SecureTransport {
		one("aws:securetransport", "true")
	} else {
		one("aws:securetransport", "false")
	}
	if env.Region != "" {
		one("aws:requestedregion", env.Region)
	}
	for k, v := range chk.Context {
		m[strings.ToLower(k)] = v
	}
	if chk.RequestTags != nil {
		keys := make([]string, 0, len(chk.RequestTags))
		for k, v := range chk.RequestTags {
			one("aws:requesttag/"+strings.ToLower(k), v)
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m["aws:tagkeys"] = keys
	}
	if chk.TagKeys != nil {
		m["aws:tagkeys"] = append(m["aws:tagkeys"], chk.TagKeys...)
	}
	if chk.ResourceTags != nil {
		for k, v := range chk.ResourceTags {
			one("aws:resourcetag/"+strings.ToLower(k), v)
		}
	}
	return m
}

// ResourcePolicy is a resource-based policy taking part in an evaluation:
// a role trust policy (STS AssumeRole) or a KMS key policy.
type ResourcePolicy struct {
	Policies []*policy.Policy
	// MustAllow is true for trust and key policies: the resource policy
	// itself must allow the principal (or delegate to the account's IAM
	// policies by naming the account).
	MustAllow bool
}

// Evaluate runs the full AWS evaluation for p doing chk.Action on
// chk.Resource: the principal's identity policies (cached), its session
// policies, the optional resource policy and the cross-account rule
// (chk.ResourceAccount differing from p.Account needs both sides to allow).
// Services do not call it: an operation's checks carry their resource's
// policy (gateway.Check.Policy) and the pipeline decides them through
// Authorize.
func (a *Authorizer) Evaluate(ctx context.Context, p *gateway.Principal, chk gateway.Check, env gateway.Env, rp *ResourcePolicy) (policy.Result, error) {
	e, err := a.identity(ctx, p)
	if err != nil {
		return policy.Result{}, err
	}
	return a.evaluate(ctx, p, e, chk, env, rp, nil)
}

// evaluate is Evaluate with the principal's identity policies read, and
// its request context when rc is not nil.
func (a *Authorizer) evaluate(ctx context.Context, p *gateway.Principal, e *identEntry, chk gateway.Check, env gateway.Env, rp *ResourcePolicy, rc map[string][]string) (policy.Result, error) {
	var err error
	set := policy.Set{Identity: e.pols, IsSession: p.Type == "AssumedRole", ResourceAccount: chk.ResourceAccount}
	if set.IsSession {
		if set.Session, err = a.sessionPolicies(ctx, p); err != nil {
			return policy.Result{}, err
		}
	}
	if rp != nil {
		set.Resource, set.ResourceMustAllow = rp.Policies, rp.MustAllow
	}
	if rc == nil {
		rc = RequestContext(p, &chk, &env)
	}
	req := policy.Request{Action: chk.Action, Resource: chk.Resource, Principal: PolicyPrincipal(p), Context: rc}
	return policy.Authorize(set, &req), nil
}

// Authorize implements gateway.Authorizer: the caller's identity policies
// and, when the check carries one (chk.Policy: a KMS key policy, a role
// trust policy), the resource's policy, in one evaluation (Evaluate). A
// check on a resource of another account (chk.ResourceAccount) without a
// resource policy is denied. A denial with a resource policy names the side
// that did not allow, as AWS words it.
func (a *Authorizer) Authorize(ctx context.Context, p *gateway.Principal, action string, chk gateway.Check, env gateway.Env) (gateway.Decision, error) {
	if p == nil {
		return gateway.Decision{Reason: "the request is not authenticated"}, nil
	}
	if why := userSessionLimit(p, action); why != "" {
		return gateway.Decision{Reason: why}, nil
	}
	chk.Action = action
	if chk.Policy == nil && len(p.SessionPolicies) == 0 {
		return a.authorizeCached(ctx, p, chk, env)
	}
	var rp *ResourcePolicy
	if chk.Policy != nil {
		kind := policy.Resource
		if chk.Policy.Trust {
			kind = policy.Trust
		}
		rp = &ResourcePolicy{MustAllow: true}
		for i, doc := range chk.Policy.Documents {
			pp, err := a.Parse(doc, kind)
			if err != nil {
				return gateway.Decision{}, fmt.Errorf("iam: the %s policy of %s: %w", kind, chk.Resource, err)
			}
			if pp.Name == "" {
				pp = named(pp, resourcePolicyName(chk.Policy, i))
			}
			rp.Policies = append(rp.Policies, pp)
		}
	}
	res, err := a.Evaluate(ctx, p, chk, env, rp)
	if err != nil {
		return gateway.Decision{}, err
	}
	d := gateway.Decision{Allowed: res.Decision == policy.Allow, ExplicitDeny: res.Decision == policy.Deny, Reason: res.Reason}
	if rp != nil && res.Decision == policy.NotApplicable {
		// The denial of a check with a resource policy names the side that
		// did not allow, as AWS words it.
		if res.ResourceDecision != policy.Allow {
			d.Reason = "no resource-based policy allows the " + action + " action"
		} else {
			d.Reason = "no identity-based policy allows the " + action + " action"
		}
	}
	return d, nil
}

// authorizeCached is Authorize of a check without a resource policy, for a
// principal without session policies, through the decision cache: the
// decision depends only on the principal's identity policies (cached until
// the IAM generation changes, which drops the decisions too), the
// principal, the action, the resource, its account and the values of the
// context keys those policies read, which together are the cache key.
func (a *Authorizer) authorizeCached(ctx context.Context, p *gateway.Principal, chk gateway.Check, env gateway.Env) (gateway.Decision, error) {
	gen, err := a.generation(ctx)
	if err != nil {
		return gateway.Decision{}, err
	}
	e, err := a.identityAt(ctx, p, gen)
	if err != nil {
		return gateway.Decision{}, err
	}
	var rc map[string][]string
	if len(e.ctxKeys) > 0 {
		rc = RequestContext(p, &chk, &env)
	}
	var buf [256]byte
	key, ok := decisionKey(buf[:0], p, &chk, e.ctxKeys, rc)
	if ok {
		a.mu.RLock()
		de, hit := a.decisions[string(key)]
		a.mu.RUnlock()
		if hit && de.gen == gen {
			return de.d, nil
		}
	}
	res, err := a.evaluate(ctx, p, e, chk, env, nil, rc)
	if err != nil {
		return gateway.Decision{}, err
	}
	d := gateway.Decision{Allowed: res.Decision == policy.Allow, ExplicitDeny: res.Decision == policy.Deny, Reason: res.Reason}
	if ok && (e == noPolicies || e.gen == gen) {
		a.mu.Lock()
		if a.gen == gen {
			if len(a.decisions) >= MaxCachedDecisions {
				clear(a.decisions)
			}
			a.decisions[string(key)] = decisionEntry{gen: gen, d: d}
		}
		a.mu.Unlock()
	}
	return d, nil
}

// decisionKey appends to b the decision cache's key of a check: the principal, the
// action, the resource and its account, and the values of keys in rc (the
// request context; nil when keys is empty). Every part is length-prefixed,
// so no two checks share a key. ok is false when rc has keys that are not
// lower-case (the evaluator then folds their case, which the key does not
// model): such a check is not cached.
func decisionKey(b []byte, p *gateway.Principal, chk *gateway.Check, keys []string, rc map[string][]string) ([]byte, bool) {
	// rc is nil for most checks (a range over nil still starts an
	// iterator: 0.08 µs of a describe's).
	if len(rc) > 0 {
		for k := range rc {
			for i := 0; i < len(k); i++ {
				if c := k[i]; ('A' <= c && c <= 'Z') || c >= 0x80 {
					return nil, false
				}
			}
		}
	}
	pp := PolicyPrincipal(p)
	// A length as a uvarint (one byte for most): strconv's decimal digits
	// were about a quarter of the key's cost.
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field(p.Type)
	field(p.UserID)
	field(pp.ARN)
	field(pp.Account)
	field(pp.Service)
	field(pp.IssuerARN)
	field(chk.Action)
	field(chk.Resource)
	field(chk.ResourceAccount)
	for _, k := range keys {
		field(k)
		vs, present := rc[k]
		if !present {
			b = append(b, '-')
			continue
		}
		b = append(b, '+')
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			field(v)
		}
	}
	return b, true
}

// resourcePolicyName names the i-th document of a resource policy for
// decision reasons: "trust-policy" or "key-policy" (the KMS key policy's
// name is "default").
func resourcePolicyName(rp *gateway.ResourcePolicy, i int) string {
	name := "key-policy"
	if rp.Trust {
		name = "trust-policy"
	}
	if i > 0 {
		name += "-" + strconv.Itoa(i+1)
	}
	return name
}

// IsUserSession reports whether p holds temporary credentials of an IAM
// user (GetSessionToken), as opposed to the user's long-term access key.
func IsUserSession(p *gateway.Principal) bool {
	return p != nil && p.Type == "IAMUser" && !p.SessionIssued.IsZero()
}

// userSessionLimit returns why credentials from GetSessionToken may not call
// action, or "": without MFA (deskplane has no MFA devices) they cannot call
// any IAM API operation, nor any STS operation but AssumeRole and
// GetCallerIdentity (STS API reference, GetSessionToken).
func userSessionLimit(p *gateway.Principal, action string) string {
	if !IsUserSession(p) {
		return ""
	}
	svc, op, _ := strings.Cut(action, ":")
	switch {
	case strings.EqualFold(svc, "iam"):
		return "temporary credentials from GetSessionToken without MFA cannot call IAM API operations"
	case strings.EqualFold(svc, "sts") && !strings.EqualFold(op, "AssumeRole") && !strings.EqualFold(op, "GetCallerIdentity") &&
		// Permissions AssumeRole checks beside sts:AssumeRole, not operations.
		!strings.EqualFold(op, "TagSession") && !strings.EqualFold(op, "SetSourceIdentity"):
		return "temporary credentials from GetSessionToken without MFA can call no STS API operation but AssumeRole and GetCallerIdentity"
	}
	return ""
}
