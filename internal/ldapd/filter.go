package ldapd

import (
	"fmt"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Matching rules AD supports in extensible filters.
const (
	ruleBitAnd  = "1.2.840.113556.1.4.803"
	ruleBitOr   = "1.2.840.113556.1.4.804"
	ruleInChain = "1.2.840.113556.1.4.1941"
)

// matcher evaluates a compiled LDAP filter against entries; byDN resolves
// the in-chain rule's transitive memberships.
type matcher struct {
	byDN map[string]*entry // normalized DN → entry
	base string            // the directory's base DN
}

func compile(filter string) (*ber.Packet, error) {
	if strings.TrimSpace(filter) == "" {
		filter = "(objectClass=*)"
	}
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("bad filter %q: %w", filter, err)
	}
	return p, nil
}

func str(p *ber.Packet) string {
	if s, ok := p.Value.(string); ok {
		return s
	}
	return p.Data.String()
}

func (m *matcher) match(e *entry, f *ber.Packet) (bool, error) {
	switch f.Tag {
	case ldap.FilterAnd:
		for _, c := range f.Children {
			ok, err := m.match(e, c)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case ldap.FilterOr:
		for _, c := range f.Children {
			ok, err := m.match(e, c)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
		return false, nil
	case ldap.FilterNot:
		if len(f.Children) != 1 {
			return false, fmt.Errorf("not filter needs one operand")
		}
		ok, err := m.match(e, f.Children[0])
		return !ok, err
	case ldap.FilterPresent:
		name := str(f)
		if strings.EqualFold(name, "objectClass") {
			return true, nil
		}
		return len(e.get(name)) > 0, nil
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(f.Children) != 2 {
			return false, fmt.Errorf("malformed comparison")
		}
		name, want := str(f.Children[0]), str(f.Children[1])
		dnValued := isDNAttr(name)
		if strings.EqualFold(name, "objectCategory") && !strings.Contains(want, "=") {
			// AD's shorthand: objectCategory=person names CN=Person,CN=Schema,….
			want = "CN=" + want + ",CN=Schema,CN=Configuration," + m.base
		}
		for _, v := range e.get(name) {
			if cmpValue(v, want, dnValued, f.Tag) {
				return true, nil
			}
		}
		return false, nil
	case ldap.FilterSubstrings:
		if len(f.Children) != 2 {
			return false, fmt.Errorf("malformed substring filter")
		}
		name := str(f.Children[0])
		for _, v := range e.get(name) {
			if substrMatch(strings.ToLower(v), f.Children[1].Children) {
				return true, nil
			}
		}
		return false, nil
	case ldap.FilterExtensibleMatch:
		return m.extensible(e, f)
	}
	return false, fmt.Errorf("unsupported filter type %d", f.Tag)
}

func isDNAttr(name string) bool {
	switch strings.ToLower(name) {
	case "distinguishedname", "member", "memberof", "objectcategory", "manager":
		return true
	}
	return false
}

func cmpValue(have, want string, dn bool, op ber.Tag) bool {
	if dn {
		have, want = normDN(have), normDN(want)
	} else {
		have, want = strings.ToLower(have), strings.ToLower(want)
	}
	switch op {
	case ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		hn, err1 := strconv.ParseInt(have, 10, 64)
		wn, err2 := strconv.ParseInt(want, 10, 64)
		if err1 == nil && err2 == nil {
			if op == ldap.FilterGreaterOrEqual {
				return hn >= wn
			}
			return hn <= wn
		}
		if op == ldap.FilterGreaterOrEqual {
			return have >= want
		}
		return have <= want
	}
	return have == want
}

// substrMatch matches initial, any and final substrings in order.
func substrMatch(v string, parts []*ber.Packet) bool {
	pos := 0
	for i, p := range parts {
		s := strings.ToLower(str(p))
		switch p.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			pos = len(s)
		case ldap.FilterSubstringsAny:
			j := strings.Index(v[pos:], s)
			if j < 0 {
				return false
			}
			pos += j + len(s)
		case ldap.FilterSubstringsFinal:
			if i != len(parts)-1 || len(v)-pos < len(s) || !strings.HasSuffix(v, s) {
				return false
			}
		}
	}
	return true
}

// extensible evaluates attr:rule:=value for AD's bitwise AND/OR rules and
// the in-chain rule (transitive memberOf/member).
func (m *matcher) extensible(e *entry, f *ber.Packet) (bool, error) {
	var rule, name, value string
	for _, c := range f.Children {
		switch c.Tag {
		case 1:
			rule = str(c)
		case 2:
			name = str(c)
		case 3:
			value = str(c)
		}
	}
	switch rule {
	case ruleBitAnd, ruleBitOr:
		want, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return false, nil
		}
		for _, v := range e.get(name) {
			have, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			if rule == ruleBitAnd && have&want == want || rule == ruleBitOr && have&want != 0 {
				return true, nil
			}
		}
		return false, nil
	case ruleInChain:
		target := normDN(value)
		seen := map[string]bool{}
		queue := []*entry{e}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, v := range cur.get(name) {
				n := normDN(v)
				if n == target {
					return true, nil
				}
				if !seen[n] {
					seen[n] = true
					if next := m.byDN[n]; next != nil {
						queue = append(queue, next)
					}
				}
			}
		}
		return false, nil
	case "":
		for _, v := range e.get(name) {
			if strings.EqualFold(v, value) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, nil
}
