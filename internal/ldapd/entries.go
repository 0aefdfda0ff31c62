package ldapd

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/ds"
)

// entry is one LDAP object: its DN and attributes (canonical names, in the
// order AD lists the usual ones).
type entry struct {
	dn    string
	names []string            // attribute names in output order
	attrs map[string][]string // lower-cased name → values
	canon map[string]string   // lower-cased name → canonical name
}

func newEntry(dn string) *entry {
	return &entry{dn: dn, attrs: map[string][]string{}, canon: map[string]string{}}
}

func (e *entry) add(name string, values ...string) {
	var vs []string
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return
	}
	k := strings.ToLower(name)
	if _, ok := e.canon[k]; !ok {
		e.canon[k] = name
		e.names = append(e.names, name)
	}
	e.attrs[k] = append(e.attrs[k], vs...)
}

func (e *entry) get(name string) []string { return e.attrs[strings.ToLower(name)] }

// AD's userAccountControl flags and groupType values.
const (
	uacAccountDisable = 0x2
	uacNormalAccount  = 0x200
	groupSecurity     = -0x80000000
)

func userEntry(d ds.LDAPDirectory, u ds.LDAPUser) *entry {
	e := newEntry(u.DN)
	e.add("objectClass", "top", "person", "organizationalPerson", "user")
	e.add("cn", u.SAMAccountName)
	e.add("name", u.SAMAccountName)
	e.add("sAMAccountName", u.SAMAccountName)
	e.add("userPrincipalName", strings.ToLower(u.SAMAccountName)+"@"+strings.ToLower(d.Name))
	e.add("distinguishedName", u.DN)
	e.add("givenName", u.GivenName)
	e.add("sn", u.Surname)
	e.add("displayName", strings.TrimSpace(u.GivenName+" "+u.Surname))
	e.add("mail", u.Email)
	e.add("memberOf", u.MemberOf...)
	e.add("objectSid", sidBytes(u.SID))
	e.add("objectCategory", "CN=Person,CN=Schema,CN=Configuration,"+d.BaseDN)
	e.add("sAMAccountType", "805306368")
	uac := uacNormalAccount
	if !u.Enabled {
		uac |= uacAccountDisable
	}
	e.add("userAccountControl", fmt.Sprint(uac))
	addOther(e, u.Other)
	return e
}

func groupEntry(d ds.LDAPDirectory, g ds.LDAPGroup) *entry {
	e := newEntry(g.DN)
	e.add("objectClass", "top", "group")
	e.add("cn", g.SAMAccountName)
	e.add("name", g.SAMAccountName)
	e.add("sAMAccountName", g.SAMAccountName)
	e.add("distinguishedName", g.DN)
	e.add("member", g.Members...)
	e.add("memberOf", g.MemberOf...)
	e.add("objectSid", sidBytes(g.SID))
	e.add("objectCategory", "CN=Group,CN=Schema,CN=Configuration,"+d.BaseDN)
	gt := 0
	switch g.Scope {
	case "Global":
		gt = 0x2
	case "DomainLocal":
		gt = 0x4
	case "Universal":
		gt = 0x8
	case "BuiltinLocal":
		gt = 0x1 | 0x4
	}
	if g.Type == "Security" {
		gt |= groupSecurity
	}
	e.add("groupType", fmt.Sprint(int32(gt)))
	addOther(e, g.Other)
	return e
}

// addOther adds the Data API's other attributes not already set.
func addOther(e *entry, other map[string][]string) {
	for k, vs := range other {
		if _, ok := e.canon[strings.ToLower(k)]; !ok {
			e.add(k, vs...)
		}
	}
}

func domainEntry(d ds.LDAPDirectory) *entry {
	e := newEntry(d.BaseDN)
	e.add("objectClass", "top", "domain", "domainDNS")
	e.add("distinguishedName", d.BaseDN)
	e.add("dc", strings.SplitN(d.Name, ".", 2)[0])
	e.add("name", strings.SplitN(d.Name, ".", 2)[0])
	return e
}

// normDN lower-cases a DN and drops the spaces around its separators, so
// that DNs compare as AD compares them (case-insensitively).
func normDN(dn string) string {
	var b strings.Builder
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			b.WriteString(strings.ToLower(strings.TrimSpace(p)))
			continue
		}
		b.WriteString(strings.ToLower(strings.TrimSpace(k)) + "=" + strings.ToLower(strings.TrimSpace(v)))
	}
	return b.String()
}

// inScope reports whether an entry's DN is in a search's scope under base
// (both normalized): 0 base object, 1 one level, 2 subtree.
func inScope(dn, base string, scope int64) bool {
	switch scope {
	case 0:
		return dn == base
	case 1:
		_, parent, ok := strings.Cut(dn, ",")
		return ok && parent == base
	}
	return dn == base || base == "" || strings.HasSuffix(dn, ","+base)
}

// sidBytes encodes a SID string (S-1-5-21-…) in its binary form, as AD
// returns objectSid; "" when it is not a SID.
func sidBytes(sid string) string {
	parts := strings.Split(sid, "-")
	if len(parts) < 3 || parts[0] != "S" {
		return ""
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil {
		return ""
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return ""
	}
	b := []byte{byte(rev), byte(len(parts) - 3)}
	for i := 5; i >= 0; i-- {
		b = append(b, byte(auth>>(8*i)))
	}
	for _, p := range parts[3:] {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return ""
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	return string(b)
}
