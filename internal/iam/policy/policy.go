package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// Policy language versions accepted in the Version element.
const (
	// Version2012 is the current policy language version; it enables
	// policy variables.
	Version2012 = "2012-10-17"
	// Version2008 is the legacy version: ${...} is literal text.
	Version2008 = "2008-10-17"
)

// Kind says which type of policy document is parsed; it selects the
// validation rules for Principal, Resource, Id and Sid.
type Kind uint8

const (
	// Any applies the union of the rules: Principal/NotPrincipal optional,
	// Resource/NotResource required unless the statement names a principal.
	Any Kind = iota
	// Identity is an identity-based policy (inline or managed, user, group
	// or role) or a permissions boundary: no Principal, no Id, Resource
	// required, Sid alphanumeric.
	Identity
	// Resource is a resource-based policy such as a KMS key policy:
	// Principal or NotPrincipal required in every statement, Resource
	// required, Id allowed, Sid may be any string (KMS uses spaces).
	Resource
	// Trust is a role trust policy: Principal or NotPrincipal required,
	// Resource/NotResource prohibited, only sts:* actions, Sid alphanumeric.
	Trust
	// Session is a session policy passed to AssumeRole (Policy/PolicyArns):
	// same rules as Identity.
	Session
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Identity:
		return "identity"
	case Resource:
		return "resource"
	case Trust:
		return "trust"
	case Session:
		return "session"
	}
	return "any"
}

// Decision is the outcome of evaluating a policy or a set of policies.
type Decision uint8

const (
	// NotApplicable means no statement applied: an implicit deny.
	NotApplicable Decision = iota
	// Allow means an Allow statement applied and no Deny did.
	Allow
	// Deny means an explicit Deny statement applied.
	Deny
)

// Effect is the Effect element of a statement: Allow or Deny.
type Effect = Decision

// String returns the SimulatePrincipalPolicy spelling of the decision:
// "allowed", "explicitDeny" or "implicitDeny".
func (d Decision) String() string {
	switch d {
	case Allow:
		return "allowed"
	case Deny:
		return "explicitDeny"
	}
	return "implicitDeny"
}

// MalformedError reports an invalid policy document. Callers map it to the
// MalformedPolicyDocument error code; Error() is a human readable message.
type MalformedError struct {
	// Message describes the problem, prefixed with the statement it is in.
	Message string
}

// Error returns the message.
func (e *MalformedError) Error() string { return e.Message }

// Position is a 1-based line/column in the policy document, as reported in
// SimulatePrincipalPolicy MatchedStatements.
type Position struct {
	Line   int
	Column int
}

// Policy is a parsed, validated and precompiled policy document. It is
// immutable after Parse and safe for concurrent use.
type Policy struct {
	// Name is a caller-assigned label (policy ARN, "inline:Name", ...) used
	// in Match and Result reasons. Parse leaves it empty.
	Name string
	// Version is the Version element ("" when absent, which behaves like
	// 2008-10-17: policy variables are literal text).
	Version string
	// ID is the optional Id element.
	ID string
	// Kind is the kind the document was validated as.
	Kind Kind
	// Statements holds the statements in document order.
	Statements []*Statement

	vars bool
}

// Statement is one compiled statement of a policy.
type Statement struct {
	// Sid is the optional statement id.
	Sid string
	// Effect is Allow or Deny.
	Effect Effect
	// Index is the 0-based position of the statement in the policy.
	Index int
	// Start and End delimit the statement object in the source document.
	Start, End Position

	actions     []pattern
	notAction   bool
	resources   []arnPattern
	notResource bool
	hasResource bool
	principal   *principalSet
	notPrinc    bool
	conds       []condition
}

var (
	sidIAM      = regexp.MustCompile(`^[A-Za-z0-9]*$`)
	actionRe    = regexp.MustCompile(`^[A-Za-z0-9-]+:[A-Za-z0-9_*?-]+$`)
	condKeyRe   = regexp.MustCompile(`^\S(.*\S)?$`)
	topElements = map[string]bool{"Version": true, "Id": true, "Statement": true}
	stmtElems   = map[string]bool{"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true,
		"Action": true, "NotAction": true, "Resource": true, "NotResource": true, "Condition": true}
)

// Parse parses and validates a JSON policy document of any kind (identity,
// resource/key, trust or session policy) with the relaxed Any rules.
// Errors are *MalformedError.
func Parse(doc string) (*Policy, error) { return ParseKind(doc, Any) }

// ParseKind parses and validates a JSON policy document with the rules of
// kind. Errors are *MalformedError. Size limits are enforced by callers.
//
// Element names, Effect values and condition operator names are
// case-sensitive; JSON objects must not repeat a key; Sids must be unique.
func ParseKind(doc string, kind Kind) (*Policy, error) {
	p, err := parse(doc, kind)
	if err != nil {
		return nil, &MalformedError{Message: err.Error()}
	}
	return p, nil
}

// MustParse is like ParseKind but panics on error. Intended for tests and
// built-in policies.
func MustParse(doc string, kind Kind) *Policy {
	p, err := ParseKind(doc, kind)
	if err != nil {
		panic(err)
	}
	return p
}

func parse(doc string, kind Kind) (*Policy, error) {
	if strings.TrimSpace(doc) == "" {
		return nil, fmt.Errorf("policy document is empty")
	}
	if err := checkChars(doc); err != nil {
		return nil, err
	}
	root, err := parseJSON(doc)
	if err != nil {
		return nil, err
	}
	if root.kind != nObject {
		return nil, fmt.Errorf("policy document must be a JSON object, got %s", root.kind)
	}
	p := &Policy{Kind: kind}
	for _, k := range root.keys {
		if !topElements[k] {
			return nil, fmt.Errorf("unknown policy element %q (allowed: Version, Id, Statement)", k)
		}
	}
	if v := root.get("Version"); v != nil {
		if v.kind != nString {
			return nil, fmt.Errorf("Version must be a string")
		}
		if v.str != Version2012 && v.str != Version2008 {
			return nil, fmt.Errorf("invalid Version %q (must be %q or %q)", v.str, Version2012, Version2008)
		}
		p.Version = v.str
	}
	p.vars = p.Version == Version2012
	if id := root.get("Id"); id != nil {
		if kind == Identity || kind == Session {
			return nil, fmt.Errorf("Id is not allowed in %s policies", kind)
		}
		if id.kind != nString {
			return nil, fmt.Errorf("Id must be a string")
		}
		p.ID = id.str
	}
	st := root.get("Statement")
	if st == nil {
		return nil, fmt.Errorf("missing required element Statement")
	}
	var stmts []*node
	switch st.kind {
	case nObject:
		stmts = []*node{st}
	case nArray:
		stmts = st.items
	default:
		return nil, fmt.Errorf("Statement must be an object or an array of objects")
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("Statement must contain at least one statement")
	}
	sids := map[string]int{}
	li := newLineIndex(doc)
	for i, sn := range stmts {
		s, err := p.compileStatement(li, sn, i)
		if err != nil {
			label := fmt.Sprintf("statement %d", i+1)
			if sn.kind == nObject {
				if sid := sn.get("Sid"); sid != nil && sid.kind == nString && sid.str != "" {
					label += fmt.Sprintf(" (Sid %q)", sid.str)
				}
			}
			return nil, fmt.Errorf("%s: %v", label, err)
		}
		if s.Sid != "" {
			if j, dup := sids[s.Sid]; dup {
				return nil, fmt.Errorf("statement %d: duplicate Sid %q (also used by statement %d); statement IDs must be unique within a policy", i+1, s.Sid, j+1)
			}
			sids[s.Sid] = i
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

// stringList accepts a string or a non-empty array of strings.
func stringList(n *node, elem string) ([]string, error) {
	switch n.kind {
	case nString:
		return []string{n.str}, nil
	case nArray:
		if len(n.items) == 0 {
			return nil, fmt.Errorf("%s must not be an empty array", elem)
		}
		out := make([]string, 0, len(n.items))
		for _, it := range n.items {
			if it.kind != nString {
				return nil, fmt.Errorf("%s entries must be strings, got %s", elem, it.kind)
			}
			out = append(out, it.str)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a string or an array of strings, got %s", elem, n.kind)
}

func (p *Policy) compileStatement(li lineIndex, n *node, idx int) (*Statement, error) {
	if n.kind != nObject {
		return nil, fmt.Errorf("statement must be a JSON object, got %s", n.kind)
	}
	s := &Statement{Index: idx, Start: li.position(n.start), End: li.position(n.end)}
	for _, k := range n.keys {
		if !stmtElems[k] {
			return nil, fmt.Errorf("unknown statement element %q", k)
		}
	}
	kind := p.Kind
	if sid := n.get("Sid"); sid != nil {
		if sid.kind != nString {
			return nil, fmt.Errorf("Sid must be a string")
		}
		if kind != Resource && kind != Any && !sidIAM.MatchString(sid.str) {
			return nil, fmt.Errorf("invalid Sid %q: only letters A-Z, a-z and digits 0-9 are allowed", sid.str)
		}
		s.Sid = sid.str
	}
	eff := n.get("Effect")
	if eff == nil {
		return nil, fmt.Errorf("missing required field Effect")
	}
	switch {
	case eff.kind == nString && eff.str == "Allow":
		s.Effect = Allow
	case eff.kind == nString && eff.str == "Deny":
		s.Effect = Deny
	default:
		return nil, fmt.Errorf("invalid Effect %s: must be \"Allow\" or \"Deny\" (case-sensitive)", quoteNode(eff))
	}

	// Principal / NotPrincipal.
	pr, npr := n.get("Principal"), n.get("NotPrincipal")
	switch {
	case pr != nil && npr != nil:
		return nil, fmt.Errorf("statement cannot have both Principal and NotPrincipal")
	case (pr != nil || npr != nil) && (kind == Identity || kind == Session):
		return nil, fmt.Errorf("policy document should not specify a principal (Principal/NotPrincipal are prohibited in %s policies)", kind)
	case pr == nil && npr == nil && (kind == Resource || kind == Trust):
		return nil, fmt.Errorf("missing required field Principal")
	}
	if pr != nil || npr != nil {
		pn, elem := pr, "Principal"
		if npr != nil {
			pn, elem, s.notPrinc = npr, "NotPrincipal", true
		}
		ps, err := compilePrincipal(pn, elem)
		if err != nil {
			return nil, err
		}
		s.principal = ps
	}

	// Action / NotAction.
	act, nact := n.get("Action"), n.get("NotAction")
	switch {
	case act != nil && nact != nil:
		return nil, fmt.Errorf("statement cannot have both Action and NotAction")
	case act == nil && nact == nil:
		return nil, fmt.Errorf("missing required field Action (or NotAction)")
	}
	an, elem := act, "Action"
	if nact != nil {
		an, elem, s.notAction = nact, "NotAction", true
	}
	acts, err := stringList(an, elem)
	if err != nil {
		return nil, err
	}
	for _, a := range acts {
		if a != "*" && !actionRe.MatchString(a) {
			return nil, fmt.Errorf("invalid %s %q: expected \"*\" or \"service:ActionName\" (wildcards * and ? allowed in the action name)", elem, a)
		}
		if kind == Trust && !strings.EqualFold(a[:strings.IndexByte(a+":", ':')], "sts") {
			return nil, fmt.Errorf("invalid %s %q: a trust policy may only specify sts actions (e.g. sts:AssumeRole)", elem, a)
		}
		pat, _ := compilePattern(a, false, true)
		s.actions = append(s.actions, pat)
	}

	// Resource / NotResource.
	res, nres := n.get("Resource"), n.get("NotResource")
	switch {
	case res != nil && nres != nil:
		return nil, fmt.Errorf("statement cannot have both Resource and NotResource")
	case (res != nil || nres != nil) && kind == Trust:
		return nil, fmt.Errorf("has prohibited field Resource: trust policies must not specify Resource or NotResource")
	case res == nil && nres == nil && kind != Trust && !(kind == Any && s.principal != nil):
		return nil, fmt.Errorf("missing required field Resource (or NotResource)")
	}
	if res != nil || nres != nil {
		rn, elem := res, "Resource"
		if nres != nil {
			rn, elem, s.notResource = nres, "NotResource", true
		}
		s.hasResource = true
		list, err := stringList(rn, elem)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			ap, err := compileARNPattern(r, p.vars, true)
			if err != nil {
				return nil, fmt.Errorf("invalid %s: %v", elem, err)
			}
			if !ap.any && strings.ContainsAny(ap.parts[2].raw, "*?") {
				return nil, fmt.Errorf("invalid %s %q: the service part of a resource ARN cannot contain wildcards", elem, r)
			}
			s.resources = append(s.resources, ap)
		}
	}

	if c := n.get("Condition"); c != nil {
		conds, err := p.compileConditions(c)
		if err != nil {
			return nil, err
		}
		s.conds = conds
	}
	return s, nil
}

func quoteNode(n *node) string {
	if n.kind == nString {
		return fmt.Sprintf("%q", n.str)
	}
	return "(" + n.kind.String() + ")"
}

func (p *Policy) compileConditions(c *node) ([]condition, error) {
	if c.kind != nObject {
		return nil, fmt.Errorf("Condition must be a JSON object")
	}
	var out []condition
	for i, opName := range c.keys {
		op, q, ifExists, err := parseOperator(opName)
		if err != nil {
			return nil, err
		}
		block := c.vals[i]
		if block.kind != nObject {
			return nil, fmt.Errorf("condition operator %q must map to an object of condition keys", opName)
		}
		if len(block.keys) == 0 {
			return nil, fmt.Errorf("condition operator %q has no condition keys", opName)
		}
		for j, key := range block.keys {
			if !condKeyRe.MatchString(key) {
				return nil, fmt.Errorf("invalid condition key %q under %s: must be non-empty without leading or trailing spaces", key, opName)
			}
			vn := block.vals[j]
			var raw []string
			switch vn.kind {
			case nString, nNumber, nBool:
				raw = []string{vn.str}
			case nArray:
				if len(vn.items) == 0 {
					return nil, fmt.Errorf("condition %s %q has an empty list of values", opName, key)
				}
				for _, it := range vn.items {
					if it.kind != nString && it.kind != nNumber && it.kind != nBool {
						return nil, fmt.Errorf("condition %s %q: values must be strings, numbers or booleans, got %s", opName, key, it.kind)
					}
					raw = append(raw, it.str)
				}
			default:
				return nil, fmt.Errorf("condition %s %q: value must be a string, number, boolean or an array of them, got %s", opName, key, vn.kind)
			}
			cond := condition{operator: opName, op: op, qual: q, ifExists: ifExists,
				key: strings.ToLower(key), keyOrig: key}
			for _, r := range raw {
				v, err := compileValue(op, r, p.vars)
				if err != nil {
					return nil, fmt.Errorf("condition %s %q: %v", opName, key, err)
				}
				cond.values = append(cond.values, v)
			}
			out = append(out, cond)
		}
	}
	return out, nil
}

// ContextKeys returns the condition keys and policy-variable keys the policy
// references, in document order, deduplicated case-insensitively and
// spelled as first written. Useful for GetContextKeysForPrincipalPolicy and
// the MissingContextValues of SimulatePrincipalPolicy.
func (p *Policy) ContextKeys() []string {
	seen := map[string]bool{}
	var out []string
	add := func(orig string) {
		l := strings.ToLower(orig)
		if !seen[l] {
			seen[l] = true
			out = append(out, orig)
		}
	}
	addVar := func(v *variable) { add(v.orig) }
	for _, s := range p.Statements {
		for i := range s.resources {
			for j := range s.resources[i].parts {
				s.resources[i].parts[j].variables(addVar)
			}
		}
		for _, c := range s.conds {
			add(c.keyOrig)
			for k := range c.values {
				c.values[k].str.variables(addVar)
				for j := range c.values[k].arn.parts {
					c.values[k].arn.parts[j].variables(addVar)
				}
			}
		}
	}
	return out
}

// MissingContextKeys returns the keys referenced by the policies (see
// Policy.ContextKeys) that are absent from ctx (compared
// case-insensitively), in order and without duplicates.
func MissingContextKeys(ctx map[string][]string, policies ...*Policy) []string {
	have := make(map[string]bool, len(ctx))
	for k := range ctx {
		have[strings.ToLower(k)] = true
	}
	var out []string
	for _, p := range policies {
		if p == nil {
			continue
		}
		for _, k := range p.ContextKeys() {
			l := strings.ToLower(k)
			if !have[l] {
				have[l] = true
				out = append(out, k)
			}
		}
	}
	return out
}
