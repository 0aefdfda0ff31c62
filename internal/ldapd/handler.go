package ldapd

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jimlambrt/gldap"

	"github.com/deskplane/deskplane/internal/ds"
)

// AD's diagnostic messages, as clients (and people reading logs) know them.
const (
	diagBadCredentials = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563"
	diagNeedBind       = "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"
	diagNoObject       = "0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t''"
)

// requestTimeout bounds the store reads of one LDAP request.
const requestTimeout = 10 * time.Second

// handler serves one listener of one directory; bound holds the directory
// user each connection bound as.
type handler struct {
	s   *Server
	ctx context.Context // the server's: its requests' store reads end with it
	dir ds.LDAPDirectory

	mu    sync.Mutex
	bound map[int]string
}

func (h *handler) closed(connID int) {
	h.mu.Lock()
	delete(h.bound, connID)
	h.mu.Unlock()
}

func (h *handler) boundAs(connID int) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.bound[connID]
	return u, ok
}

func (h *handler) unbind(w *gldap.ResponseWriter, r *gldap.Request) { h.closed(r.ConnectionID()) }

func (h *handler) unwilling(w *gldap.ResponseWriter, r *gldap.Request) {
	w.Write(r.NewResponse(gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
		gldap.WithDiagnosticMessage("deskplane's directories answer bind and search only")))
}

// bind is a simple bind as a directory user: by user principal name
// (alice@corp.example.com), down-level name (CORP\alice), DN or
// sAMAccountName. An anonymous bind succeeds but allows nothing beyond the
// root DSE; a name without a password is refused (RFC 4513 5.1.2).
func (h *handler) bind(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
	defer func() { w.Write(resp) }()
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		resp.SetResultCode(gldap.ResultAuthMethodNotSupported)
		resp.SetDiagnosticMessage("only simple binds are supported")
		return
	}
	h.closed(r.ConnectionID())
	name, pw := strings.TrimSpace(m.UserName), string(m.Password)
	if name == "" && pw == "" {
		resp.SetResultCode(gldap.ResultSuccess)
		return
	}
	if pw == "" {
		resp.SetResultCode(gldap.ResultUnwillingToPerform)
		resp.SetDiagnosticMessage("unauthenticated binds (a name without a password) are not allowed")
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, requestTimeout)
	defer cancel()
	sam, err := h.resolve(ctx, name)
	if err == nil {
		err = h.s.src.CheckPassword(ctx, h.dir.Account, h.dir.Region, h.dir.ID, sam, pw)
	}
	if err != nil {
		if !errors.Is(err, ds.ErrBadCredentials) {
			h.s.opts.Log.Error("ldap bind", "directory", h.dir.ID, "err", err)
			resp.SetResultCode(gldap.ResultOperationsError)
			return
		}
		resp.SetDiagnosticMessage(diagBadCredentials)
		return
	}
	h.mu.Lock()
	h.bound[r.ConnectionID()] = sam
	h.mu.Unlock()
	resp.SetResultCode(gldap.ResultSuccess)
}

// resolve turns a bind name into a sAMAccountName of the directory.
func (h *handler) resolve(ctx context.Context, name string) (string, error) {
	if user, domain, ok := strings.Cut(name, "@"); ok {
		if !strings.EqualFold(domain, h.dir.Name) {
			return "", ds.ErrBadCredentials
		}
		return user, nil
	}
	if domain, user, ok := strings.Cut(name, `\`); ok {
		if !strings.EqualFold(domain, h.dir.ShortName) && !strings.EqualFold(domain, h.dir.Name) {
			return "", ds.ErrBadCredentials
		}
		return user, nil
	}
	if strings.Contains(name, "=") {
		users, _, err := h.s.src.LDAPEntries(ctx, h.dir.Account, h.dir.Region, h.dir.ID)
		if err != nil {
			return "", err
		}
		want := normDN(name)
		for _, u := range users {
			if normDN(u.DN) == want {
				return u.SAMAccountName, nil
			}
		}
		return "", ds.ErrBadCredentials
	}
	return name, nil
}

// search answers a search under the directory's base DN (or of the root
// DSE) for a connection bound as a directory user.
func (h *handler) search(w *gldap.ResponseWriter, r *gldap.Request) {
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	defer func() { w.Write(done) }()
	m, err := r.GetSearchMessage()
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		return
	}
	base := normDN(m.BaseDN)
	if base == "" && m.Scope == gldap.BaseObject {
		h.writeEntry(w, r, h.rootDSE(), m.Attributes, m.TypesOnly)
		return
	}
	if _, ok := h.boundAs(r.ConnectionID()); !ok {
		done.SetResultCode(gldap.ResultOperationsError)
		done.SetDiagnosticMessage(diagNeedBind)
		return
	}
	filter, err := compile(m.Filter)
	if err != nil {
		done.SetResultCode(gldap.ResultFilterError)
		done.SetDiagnosticMessage(err.Error())
		return
	}
	dirBase := normDN(h.dir.BaseDN)
	if base != dirBase && !strings.HasSuffix(base, ","+dirBase) {
		done.SetResultCode(gldap.ResultNoSuchObject)
		done.SetDiagnosticMessage(diagNoObject)
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, requestTimeout)
	defer cancel()
	users, groups, err := h.s.src.LDAPEntries(ctx, h.dir.Account, h.dir.Region, h.dir.ID)
	if err != nil {
		h.s.opts.Log.Error("ldap search", "directory", h.dir.ID, "err", err)
		done.SetResultCode(gldap.ResultOperationsError)
		return
	}
	all := []*entry{domainEntry(h.dir)}
	for _, u := range users {
		all = append(all, userEntry(h.dir, u))
	}
	for _, g := range groups {
		all = append(all, groupEntry(h.dir, g))
	}
	mt := &matcher{byDN: map[string]*entry{}, base: h.dir.BaseDN}
	for _, e := range all {
		mt.byDN[normDN(e.dn)] = e
	}
	if base != dirBase && mt.byDN[base] == nil && !hasChildren(all, base) {
		done.SetResultCode(gldap.ResultNoSuchObject)
		done.SetMatchedDN(h.dir.BaseDN)
		done.SetDiagnosticMessage(diagNoObject)
		return
	}
	n := 0
	for _, e := range all {
		if !inScope(normDN(e.dn), base, int64(m.Scope)) {
			continue
		}
		ok, err := mt.match(e, filter)
		if err != nil {
			done.SetResultCode(gldap.ResultFilterError)
			done.SetDiagnosticMessage(err.Error())
			return
		}
		if !ok {
			continue
		}
		if m.SizeLimit > 0 && int64(n) >= m.SizeLimit {
			done.SetResultCode(gldap.ResultSizeLimitExceeded)
			return
		}
		h.writeEntry(w, r, e, m.Attributes, m.TypesOnly)
		n++
	}
}

// hasChildren reports whether some entry sits under dn (an OU or container
// that has no entry of its own here).
func hasChildren(all []*entry, dn string) bool {
	for _, e := range all {
		if strings.HasSuffix(normDN(e.dn), ","+dn) {
			return true
		}
	}
	return false
}

func (h *handler) rootDSE() *entry {
	e := newEntry("")
	e.add("objectClass", "top")
	e.add("defaultNamingContext", h.dir.BaseDN)
	e.add("rootDomainNamingContext", h.dir.BaseDN)
	e.add("namingContexts", h.dir.BaseDN)
	e.add("dnsHostName", "dc."+strings.ToLower(h.dir.Name))
	e.add("supportedLDAPVersion", "3")
	e.add("supportedSASLMechanisms")
	return e
}

// writeEntry sends e with the requested attributes: all for none or "*",
// none for "1.1".
func (h *handler) writeEntry(w *gldap.ResponseWriter, r *gldap.Request, e *entry, attrs []string, typesOnly bool) {
	all := len(attrs) == 0
	want := map[string]bool{}
	for _, a := range attrs {
		if a == "*" {
			all = true
		}
		want[strings.ToLower(a)] = true
	}
	resp := r.NewSearchResponseEntry(e.dn)
	for _, name := range e.names {
		if !all && !want[strings.ToLower(name)] {
			continue
		}
		vs := e.attrs[strings.ToLower(name)]
		if typesOnly {
			vs = nil
		}
		resp.AddAttribute(name, vs)
	}
	w.Write(resp)
}
