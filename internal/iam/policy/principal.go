package policy

import (
	"fmt"
	"strings"
)

// Principal identifies who makes a request.
type Principal struct {
	// ARN is the caller's ARN: an IAM user
	// (arn:aws:iam::444455556666:user/partner), a role session
	// (arn:aws:sts::111122223333:assumed-role/R/s), a federated user
	// (arn:aws:sts::111122223333:federated-user/n) or the account root
	// (arn:aws:iam::111122223333:root). Empty for service and anonymous
	// callers.
	ARN string
	// Account is the caller's 12-digit account id.
	Account string
	// IssuerARN is the identity behind a session: the role ARN (with its
	// path) for an assumed-role session, or the IAM user ARN that called
	// GetFederationToken for a federated-user session. A Principal element
	// naming this ARN matches the session, but such grants remain limited
	// by the permissions boundary and session policies.
	IssuerARN string
	// Service is the service principal when a service acts, e.g.
	// "workspaces.amazonaws.com".
	Service string
	// Federated is the identity provider for AssumeRoleWithWebIdentity /
	// AssumeRoleWithSAML callers (e.g. "cognito-identity.amazonaws.com" or
	// a SAML provider ARN).
	Federated string
	// CanonicalUser is an S3 canonical user id, if any.
	CanonicalUser string
}

// IsRoot reports whether the principal is an account root user.
func (p *Principal) IsRoot() bool { return isRootARN(p.ARN) }

// IsAnonymous reports whether the principal carries no identity at all.
func (p *Principal) IsAnonymous() bool {
	return p.ARN == "" && p.Service == "" && p.Federated == "" && p.CanonicalUser == "" && p.Account == ""
}

func isRootARN(arn string) bool {
	parts, ok := splitARN(arn, false)
	return ok && parts[0] == "arn" && parts[2] == "iam" && parts[5] == "root" && isAccountID(parts[4])
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// principalSet is a compiled Principal/NotPrincipal element.
type principalSet struct {
	all       bool
	accounts  []string // 12-digit ids (from "123456789012" or arn:...:iam::123456789012:root)
	arns      []string
	services  []string
	federated []string
	canonical []string
}

// Principal match strength, from weakest to strongest.
const (
	levelNone    = iota
	levelAccount // matched through an account principal: delegates to the account's IAM policies
	levelLimited // "*", NotPrincipal, or the role/user behind a session: limited by boundary and session policy
	levelDirect  // names the exact caller (user, session, root, service, federated, canonical user)
)

func compilePrincipal(n *node, elem string) (*principalSet, error) {
	ps := &principalSet{}
	if n.kind == nString {
		if n.str != "*" {
			return nil, fmt.Errorf("invalid %s %q: a string %s must be \"*\"; use {\"AWS\": ...}, {\"Service\": ...} or {\"Federated\": ...}", elem, n.str, elem)
		}
		ps.all = true
		return ps, nil
	}
	if n.kind != nObject {
		return nil, fmt.Errorf("%s must be \"*\" or an object, got %s", elem, n.kind)
	}
	if len(n.keys) == 0 {
		return nil, fmt.Errorf("%s must not be empty", elem)
	}
	for i, k := range n.keys {
		vals, err := stringList(n.vals[i], elem+"."+k)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			if v == "" {
				return nil, fmt.Errorf("%s.%s must not contain an empty string", elem, k)
			}
			if v != "*" && strings.ContainsAny(v, "*?") {
				return nil, fmt.Errorf("invalid %s.%s %q: wildcards are not allowed in principals (only \"*\" on its own)", elem, k, v)
			}
			switch k {
			case "AWS":
				switch {
				case v == "*":
					ps.all = true
				case isAccountID(v):
					ps.accounts = append(ps.accounts, v)
				case isRootARN(v):
					parts, _ := splitARN(v, false)
					ps.accounts = append(ps.accounts, parts[4])
				default:
					parts, ok := splitARN(v, false)
					if !ok || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") || parts[3] != "" || !isAccountID(parts[4]) || parts[5] == "" {
						return nil, fmt.Errorf("invalid principal in %s.AWS: %q (expected \"*\", a 12-digit account id or an IAM/STS ARN such as arn:aws:iam::123456789012:user/name)", elem, v)
					}
					ps.arns = append(ps.arns, v)
				}
			case "Service":
				if v == "*" {
					ps.all = true
				} else {
					ps.services = append(ps.services, v)
				}
			case "Federated":
				if v == "*" {
					ps.all = true
				} else {
					ps.federated = append(ps.federated, v)
				}
			case "CanonicalUser":
				if v == "*" {
					ps.all = true
				} else {
					ps.canonical = append(ps.canonical, v)
				}
			default:
				return nil, fmt.Errorf("unknown principal type %q in %s (allowed: AWS, Service, Federated, CanonicalUser)", k, elem)
			}
		}
	}
	return ps, nil
}

func contains(list []string, s string, fold bool) bool {
	for _, x := range list {
		if x == s || (fold && strings.EqualFold(x, s)) {
			return true
		}
	}
	return false
}

// level returns how strongly the Principal element matches p. ARN
// comparisons are exact (the user-name part of an ARN is case-sensitive);
// service principal names compare case-insensitively.
func (ps *principalSet) level(p *Principal) int {
	if p.ARN != "" && contains(ps.arns, p.ARN, false) {
		return levelDirect
	}
	if p.Service != "" && contains(ps.services, p.Service, true) {
		return levelDirect
	}
	if p.Federated != "" && contains(ps.federated, p.Federated, false) {
		return levelDirect
	}
	if p.CanonicalUser != "" && contains(ps.canonical, p.CanonicalUser, false) {
		return levelDirect
	}
	accountMatch := p.Account != "" && contains(ps.accounts, p.Account, false)
	if accountMatch && isRootARN(p.ARN) {
		return levelDirect
	}
	if ps.all || (p.IssuerARN != "" && contains(ps.arns, p.IssuerARN, false)) {
		return levelLimited
	}
	if accountMatch {
		return levelAccount
	}
	return levelNone
}

// excludes reports whether a NotPrincipal element excludes p. Following the
// NotPrincipal documentation, a caller is excluded only when every identity
// it carries is listed: for a role session that is the session ARN, the
// role ARN and the account; for an IAM user the user ARN and the account.
// An anonymous caller is excluded only by "*".
func (ps *principalSet) excludes(p *Principal) bool {
	if ps.all {
		return true
	}
	if p.IsAnonymous() {
		return false
	}
	if p.ARN != "" {
		if isRootARN(p.ARN) {
			if !contains(ps.accounts, p.Account, false) && !contains(ps.arns, p.ARN, false) {
				return false
			}
		} else if !contains(ps.arns, p.ARN, false) {
			return false
		}
	}
	if p.IssuerARN != "" && !contains(ps.arns, p.IssuerARN, false) {
		return false
	}
	if p.Account != "" && !contains(ps.accounts, p.Account, false) {
		return false
	}
	if p.Service != "" && !contains(ps.services, p.Service, true) {
		return false
	}
	if p.Federated != "" && !contains(ps.federated, p.Federated, false) {
		return false
	}
	if p.CanonicalUser != "" && !contains(ps.canonical, p.CanonicalUser, false) {
		return false
	}
	return true
}
