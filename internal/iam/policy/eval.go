package policy

import (
	"fmt"
	"strings"
)

// Request is the request context of one authorization check.
type Request struct {
	// Action is "service:ActionName", matched case-insensitively.
	Action string
	// Resource is the resource ARN, or "*" for actions without resource-level
	// permissions (then only Resource "*" patterns match).
	Resource string
	// Principal is the caller.
	Principal Principal
	// Context maps condition keys to their values. Key names are
	// case-insensitive (the evaluator folds them, so callers may use any
	// case; if the same key appears in several casings their values are
	// merged). A key absent from the map is "missing"; a key present with
	// zero values is an empty set and is treated exactly like a missing key
	// (AWS's "null data set"), e.g. aws:TagKeys for a request without tags.
	// Single-valued keys carry one value; multivalued keys (aws:TagKeys,
	// kms:EncryptionContextKeys, ...) carry any number.
	//
	// Policy variables (${aws:username}, ${aws:PrincipalTag/k}, ...) are
	// resolved from this map only: callers put aws:username, aws:userid,
	// aws:PrincipalArn, aws:PrincipalAccount, tags etc. here.
	Context map[string][]string
}

// ctxView is a case-insensitive view of a request context.
type ctxView struct {
	m     map[string][]string
	lower bool // every key is already lower-case: direct lookups suffice
}

func newCtxView(m map[string][]string) ctxView {
	cv := ctxView{m: m, lower: true}
	for k := range m {
		for i := 0; i < len(k); i++ {
			if c := k[i]; ('A' <= c && c <= 'Z') || c >= 0x80 {
				cv.lower = false
				break
			}
		}
		if !cv.lower {
			break
		}
	}
	return cv
}

// lookup returns the values of key (which must be lower-case).
func (c *ctxView) lookup(key string) ([]string, bool) {
	if c.lower {
		v, ok := c.m[key]
		return v, ok
	}
	var out []string
	found, merged := false, false
	for k, v := range c.m {
		if strings.EqualFold(k, key) {
			switch {
			case !found:
				out, found = v, true
			case !merged:
				out = append(append([]string(nil), out...), v...)
				merged = true
			default:
				out = append(out, v...)
			}
		}
	}
	return out, found
}

// resolve returns the value of a policy variable: the key's single value;
// else the default when the key is missing or empty; otherwise unresolved
// (multivalued keys cannot be used as variables).
func (c *ctxView) resolve(v *variable) (string, bool) {
	vals, ok := c.lookup(v.key)
	if ok && len(vals) == 1 {
		return vals[0], true
	}
	if len(vals) == 0 && v.hasDef {
		return v.def, true
	}
	return "", false
}

// PolicyType says which part of a Set a policy came from.
type PolicyType string

// Policy types reported in Match.Type.
const (
	// TypeIdentity marks Set.Identity policies.
	TypeIdentity PolicyType = "identity"
	// TypeSession marks Set.Session policies.
	TypeSession PolicyType = "session"
	// TypeBoundary marks Set.Boundary policies.
	TypeBoundary PolicyType = "boundary"
	// TypeResource marks Set.Resource policies.
	TypeResource PolicyType = "resource"
)

// Match identifies the statement that decided an evaluation.
type Match struct {
	// Policy is the Name of the policy the statement belongs to.
	Policy string
	// Type is the Set slot of the policy (empty from Policy.Evaluate).
	Type PolicyType
	// Sid is the statement's Sid ("" when it has none).
	Sid string
	// Index is the 0-based statement index.
	Index int
	// Effect is the statement's effect.
	Effect Effect
	// Start and End delimit the statement in the source document.
	Start, End Position
}

// String describes the statement for error messages, e.g.
// `identity policy "inline:p" statement "DenyAll"` or `statement #2`.
func (m *Match) String() string {
	var b strings.Builder
	if m.Type != "" {
		b.WriteString(string(m.Type))
		b.WriteString(" policy ")
	} else if m.Policy != "" {
		b.WriteString("policy ")
	}
	if m.Policy != "" {
		fmt.Fprintf(&b, "%q ", m.Policy)
	}
	if m.Sid != "" {
		fmt.Fprintf(&b, "statement %q", m.Sid)
	} else {
		fmt.Fprintf(&b, "statement #%d", m.Index+1)
	}
	return b.String()
}

func newMatch(p *Policy, s *Statement, t PolicyType) Match {
	return Match{Policy: p.Name, Type: t, Sid: s.Sid, Index: s.Index, Effect: s.Effect, Start: s.Start, End: s.End}
}

// applies reports whether the statement applies to the request and, for
// statements with a Principal element, how strongly the principal matched.
func (s *Statement) applies(r *Request, cv *ctxView) (bool, int) {
	m := false
	for i := range s.actions {
		if ok, _ := s.actions[i].match(r.Action, true, cv); ok {
			m = true
			break
		}
	}
	if m == s.notAction {
		return false, levelNone
	}
	if s.hasResource {
		m, unresolved := false, false
		for i := range s.resources {
			ok, err := s.resources[i].match(r.Resource, cv)
			if err != nil {
				unresolved = true
			}
			if ok {
				m = true
				break
			}
		}
		if !s.notResource {
			// An unresolved variable makes that Resource entry match nothing.
			if !m {
				return false, levelNone
			}
		} else {
			// NotResource: fail closed on unresolved variables — an Allow
			// statement does not apply, a Deny statement does.
			if m || (unresolved && s.Effect == Allow) {
				return false, levelNone
			}
		}
	}
	level := levelDirect
	if s.principal != nil {
		if s.notPrinc {
			if s.principal.excludes(&r.Principal) {
				return false, levelNone
			}
			level = levelLimited
		} else if level = s.principal.level(&r.Principal); level == levelNone {
			return false, levelNone
		}
	}
	for i := range s.conds {
		if !s.conds[i].eval(cv) {
			return false, levelNone
		}
	}
	return true, level
}

type polResult struct {
	dec    Decision
	deny   *Statement
	allow  *Statement
	level  int // strongest principal level among applicable Allow statements
	denies []*Statement
	allows []*Statement
}

func (p *Policy) eval(r *Request, cv *ctxView, collect, requirePrincipal bool) polResult {
	var res polResult
	for _, s := range p.Statements {
		if requirePrincipal && s.principal == nil {
			continue
		}
		ok, level := s.applies(r, cv)
		if !ok {
			continue
		}
		if s.Effect == Deny {
			if res.deny == nil {
				res.deny = s
			}
			if !collect {
				break
			}
			res.denies = append(res.denies, s)
			continue
		}
		if res.allow == nil || level > res.level {
			res.allow, res.level = s, level
		}
		if collect {
			res.allows = append(res.allows, s)
		}
	}
	switch {
	case res.deny != nil:
		res.dec = Deny
	case res.allow != nil:
		res.dec = Allow
	}
	return res
}

// Evaluate evaluates the policy alone against r: Deny if an applicable Deny
// statement exists, else Allow if an applicable Allow statement exists,
// else NotApplicable. The Match names the deciding statement (the first
// applicable Deny, else the applicable Allow whose Principal matched most
// specifically); it is nil for NotApplicable.
//
// Statements with a Principal/NotPrincipal element are matched against
// r.Principal; statements without one (identity policies) apply to any
// principal. Statements without Resource/NotResource (trust policies) apply
// to any resource.
func (p *Policy) Evaluate(r *Request) (Decision, *Match) {
	cv := newCtxView(r.Context)
	res := p.eval(r, &cv, false, false)
	switch res.dec {
	case Deny:
		m := newMatch(p, res.deny, "")
		return Deny, &m
	case Allow:
		m := newMatch(p, res.allow, "")
		return Allow, &m
	}
	return NotApplicable, nil
}

// Set holds every policy that takes part in authorizing one request.
//
// KMS: put the key policy in Resource with ResourceMustAllow=true and the
// key's account in ResourceAccount. A key policy statement that allows the
// account ("AWS": "arn:aws:iam::111122223333:root" or the bare account id)
// delegates to IAM: the caller's identity policies (with boundary and
// session policy) must then allow too. A statement naming the caller
// directly (user ARN, session ARN or role ARN) grants by itself (a role ARN
// grant stays limited by boundary/session policies). If the key policy
// allows neither, the request is denied even when IAM policies allow it —
// also for the root user. Grants are handled by the caller.
//
// STS AssumeRole: put the role's trust policy in Resource (ParseKind Trust)
// with ResourceMustAllow=true, ResourceAccount = the role's account,
// Request.Resource = the role ARN, Action "sts:AssumeRole" and context keys
// such as sts:ExternalId, sts:RoleSessionName, aws:RequestTag/k, aws:TagKeys.
// Identity holds the caller's policies. Same account: a trust policy naming
// the caller allows on its own; one trusting the account requires the
// caller's identity policy to allow sts:AssumeRole. Cross-account: both the
// trust policy and the caller's identity policy must allow.
type Set struct {
	// Identity holds the principal's identity policies (user inline and
	// attached, its groups' policies; or the role's policies).
	Identity []*Policy
	// Session holds the session policies of a role session (AssumeRole
	// Policy/PolicyArns). Empty means none were given.
	Session []*Policy
	// IsSession is true when the principal is a role (or federated-user)
	// session; session policies only apply then.
	IsSession bool
	// Boundary holds the permissions boundary, if any (empty = none).
	Boundary []*Policy
	// Resource holds the resource-based policy (KMS key policy, trust
	// policy, ...), if any. Statements without a Principal/NotPrincipal
	// element (possible only in documents parsed with kind Any) are ignored
	// here, so an identity-style statement can never grant to everyone.
	Resource []*Policy
	// ResourceAccount is the account that owns the resource. When it differs
	// from Principal.Account the request is cross-account: both the
	// resource policy and the caller's identity side must allow. Empty means
	// the caller's own account.
	ResourceAccount string
	// ResourceMustAllow is true for role trust policies and KMS key policies:
	// the resource policy itself must allow the principal (directly or, by
	// naming the account, by delegating to IAM policies).
	ResourceMustAllow bool
}

// Result is the outcome of Authorize.
type Result struct {
	// Decision is Allow, Deny (explicit) or NotApplicable (implicit deny).
	Decision Decision
	// Reason explains the decision, e.g. `explicit deny in identity policy
	// "p" statement "S"` or "no identity-based policy allows the action".
	Reason string
	// Matched lists the deciding statements: every applicable Deny for an
	// explicit deny; the Allow statements that granted access for Allow;
	// nothing for an implicit deny.
	Matched []Match
	// IdentityDecision, SessionDecision, BoundaryDecision and
	// ResourceDecision are the decisions of each policy type alone
	// (NotApplicable when the type is absent or nothing applied).
	IdentityDecision, SessionDecision, BoundaryDecision, ResourceDecision Decision
}

type typeResult struct {
	dec    Decision
	level  int
	denies []Match
	allows []Match
}

func evalType(pols []*Policy, t PolicyType, r *Request, cv *ctxView) typeResult {
	var tr typeResult
	for _, p := range pols {
		if p == nil {
			continue
		}
		res := p.eval(r, cv, true, t == TypeResource)
		for _, s := range res.denies {
			tr.denies = append(tr.denies, newMatch(p, s, t))
		}
		for _, s := range res.allows {
			tr.allows = append(tr.allows, newMatch(p, s, t))
		}
		if res.allow != nil && res.level > tr.level {
			tr.level = res.level
		}
	}
	switch {
	case len(tr.denies) > 0:
		tr.dec = Deny
	case len(tr.allows) > 0:
		tr.dec = Allow
	}
	return tr
}

func nonEmpty(pols []*Policy) bool {
	for _, p := range pols {
		if p != nil {
			return true
		}
	}
	return false
}

// Authorize applies the AWS policy evaluation logic
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
// to one request:
//
//  1. An applicable Deny in any policy (identity, session, boundary,
//     resource) is an explicit deny.
//  2. Service principals and anonymous callers are allowed only by a
//     resource policy that names them (or "*").
//  3. Cross-account (ResourceAccount differs from the caller's account):
//     the resource policy must allow the caller (directly or by naming its
//     account) AND the caller's identity side (identity ∩ boundary ∩
//     session policy) must allow.
//  4. ResourceMustAllow (trust and KMS key policies): the resource policy
//     must allow: naming the caller (user/session/root) grants; naming the
//     role behind a session, "*" or matching via NotPrincipal grants within
//     the boundary and session policy; naming the account requires the
//     identity side to allow.
//  5. Otherwise (same account): allowed when the identity side allows, or
//     a resource policy names the caller directly, or names the role behind
//     the session / "*" and the boundary and session policy allow.
//
// The identity side is: an identity policy allows (the account root user is
// implicitly allowed), the permissions boundary (if any) allows, and — for
// sessions with session policies — a session policy allows.
func Authorize(s Set, r *Request) Result {
	cv := newCtxView(r.Context)
	id := evalType(s.Identity, TypeIdentity, r, &cv)
	var sess typeResult
	if s.IsSession {
		sess = evalType(s.Session, TypeSession, r, &cv)
	}
	bnd := evalType(s.Boundary, TypeBoundary, r, &cv)
	res := evalType(s.Resource, TypeResource, r, &cv)
	out := Result{IdentityDecision: id.dec, SessionDecision: sess.dec, BoundaryDecision: bnd.dec, ResourceDecision: res.dec}

	var denies []Match
	for _, tr := range []*typeResult{&id, &sess, &bnd, &res} {
		denies = append(denies, tr.denies...)
	}
	if len(denies) > 0 {
		out.Decision, out.Matched = Deny, denies
		out.Reason = "explicit deny in " + denies[0].String()
		return out
	}

	p := &r.Principal
	isRoot := p.IsRoot()
	hasBoundary := nonEmpty(s.Boundary)
	hasSession := s.IsSession && nonEmpty(s.Session)
	boundaryOK := !hasBoundary || bnd.dec == Allow
	sessionOK := !hasSession || sess.dec == Allow
	limitsOK := boundaryOK && sessionOK
	identityOK := (id.dec == Allow || isRoot) && limitsOK
	lvl := levelNone
	if res.dec == Allow {
		lvl = res.level
	}
	// identityWhy explains why the identity side failed.
	identityWhy := func() string {
		switch {
		case id.dec != Allow && !isRoot:
			return "no identity-based policy allows the action"
		case !boundaryOK:
			return "the permissions boundary does not allow the action"
		default:
			return "no session policy allows the action"
		}
	}
	limitsWhy := func() string {
		if !boundaryOK {
			return "the permissions boundary does not allow the action"
		}
		return "no session policy allows the action"
	}
	limitMatches := func() []Match {
		var m []Match
		if hasBoundary {
			m = append(m, bnd.allows...)
		}
		if hasSession {
			m = append(m, sess.allows...)
		}
		return m
	}
	identityDesc := func() string {
		if isRoot && id.dec != Allow {
			return "the account root user"
		}
		return id.allows[0].String()
	}
	allowIdentity := func() Result {
		out.Decision = Allow
		out.Matched = append(append([]Match(nil), id.allows...), limitMatches()...)
		out.Reason = "allowed by " + identityDesc()
		return out
	}
	allowResource := func(limited bool) Result {
		out.Decision = Allow
		out.Matched = append([]Match(nil), res.allows...)
		if limited {
			out.Matched = append(out.Matched, limitMatches()...)
		}
		out.Reason = "allowed by " + res.allows[0].String()
		return out
	}
	deny := func(reason string) Result {
		out.Decision, out.Reason = NotApplicable, reason
		return out
	}

	switch {
	case p.Service != "" || p.IsAnonymous():
		if lvl >= levelLimited {
			return allowResource(false)
		}
		return deny("no resource-based policy allows the principal")
	case s.ResourceAccount != "" && p.Account != "" && s.ResourceAccount != p.Account:
		if lvl == levelNone {
			return deny("cross-account request: no resource-based policy in account " + s.ResourceAccount + " allows the principal")
		}
		if !identityOK {
			return deny("cross-account request: " + identityWhy())
		}
		out = allowIdentity()
		out.Matched = append(out.Matched, res.allows...)
		out.Reason = "allowed (cross-account) by " + res.allows[0].String() + " and " + identityDesc()
		return out
	case s.ResourceMustAllow:
		switch lvl {
		case levelDirect:
			return allowResource(false)
		case levelLimited:
			if limitsOK {
				return allowResource(true)
			}
			return deny(limitsWhy())
		case levelAccount:
			if identityOK {
				out = allowIdentity()
				out.Reason += " (the resource-based policy delegates to the account)"
				out.Matched = append(out.Matched, res.allows...)
				return out
			}
			return deny(identityWhy())
		}
		return deny("the resource-based policy does not allow the principal (key and trust policies must allow the principal explicitly)")
	default:
		if identityOK {
			return allowIdentity()
		}
		if lvl == levelDirect || (lvl == levelLimited && limitsOK) {
			return allowResource(lvl == levelLimited)
		}
		if lvl == levelLimited {
			return deny(limitsWhy())
		}
		return deny(identityWhy())
	}
}
