package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/go-ldap/ldap/v3"

	"github.com/deskplane/deskplane/internal/loopback"
)

// PortalConfig configures the user portal's sign-in.
type PortalConfig struct {
	// LDAP maps a directory (id or DNS name) to its LDAP URL (ldap:// or
	// ldaps://). A directory without one is reached at the loopback
	// address its first DNS address maps to (internal/loopback), port 389:
	// deskplane's directories answering LDAP there.
	LDAP map[string]string `json:"ldap,omitempty"`
	// BindFormat is the bind name of a user, with {user} and {domain}
	// (the directory's DNS name) replaced (default "{user}@{domain}", the
	// user principal name).
	BindFormat string `json:"bind_format,omitempty"`
	// InsecureSkipVerify accepts any LDAPS certificate (test directories).
	InsecureSkipVerify bool `json:"ldaps_insecure_skip_verify,omitempty"`
}

// userNameRE is what a portal user name may be (a sAMAccountName): nothing
// that could change a bind name's meaning.
var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// errBadCredentials: the directory refused the bind.
var errBadCredentials = errors.New("wrong user name or password")

// directoryLDAP returns the LDAP URL and DNS name of a pool's directory.
func (b *Broker) directoryLDAP(ctx context.Context, pool string) (url, domain string, err error) {
	if err := b.resolveLocked(ctx); err != nil {
		return "", "", err
	}
	p := b.cfg.Pool(pool)
	id := b.dirID[pool]
	out, err := b.c.DS.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{DirectoryIds: []string{id}})
	if err != nil {
		return "", "", fmt.Errorf("DescribeDirectories %s: %w", id, err)
	}
	if len(out.DirectoryDescriptions) != 1 {
		return "", "", fmt.Errorf("directory %s not found", id)
	}
	d := out.DirectoryDescriptions[0]
	domain = aws.ToString(d.Name)
	for _, k := range []string{id, domain, p.Directory} {
		if u := b.cfg.Portal.LDAP[k]; u != "" {
			return u, domain, nil
		}
	}
	if len(d.DnsIpAddrs) == 0 {
		return "", "", fmt.Errorf("directory %s has no DNS addresses and no configured ldap url", id)
	}
	ip, err := netip.ParseAddr(d.DnsIpAddrs[0])
	if err != nil {
		return "", "", fmt.Errorf("directory %s address %q: %w", id, d.DnsIpAddrs[0], err)
	}
	l, err := loopback.Preferred(ip)
	if err != nil {
		return "", "", err
	}
	return "ldap://" + net.JoinHostPort(l.String(), "389"), domain, nil
}

// Authenticate checks a user's directory password by an LDAP bind against
// each of the pools' directories in turn (never by comparing stored
// passwords); the first directory that accepts the bind wins.
func (b *Broker) Authenticate(ctx context.Context, user, password string) error {
	if !userNameRE.MatchString(user) || password == "" {
		// An empty password would be an unauthenticated bind, which
		// directories accept.
		return errBadCredentials
	}
	seen := map[string]bool{}
	var lastErr error
	for _, p := range b.cfg.Pools {
		u, domain, err := b.directoryLDAP(ctx, p.Name)
		if err != nil {
			lastErr = err
			continue
		}
		if seen[u] {
			continue
		}
		seen[u] = true
		err = b.ldapBind(ctx, u, b.bindName(user, domain), password)
		if err == nil {
			return nil
		}
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			lastErr = err
			b.log.Warn("portal: ldap bind failed", "url", u, "err", err)
		}
	}
	if lastErr != nil {
		return fmt.Errorf("%w (%v)", errBadCredentials, lastErr)
	}
	return errBadCredentials
}

func (b *Broker) bindName(user, domain string) string {
	f := b.cfg.Portal.BindFormat
	if f == "" {
		f = "{user}@{domain}"
	}
	return strings.NewReplacer("{user}", user, "{domain}", domain).Replace(f)
}

func (b *Broker) ldapBind(ctx context.Context, url, name, password string) error {
	conn, err := b.ldapDial(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Bind(name, password)
}

// portal is the users' web portal at /portal/ on a Fleet's server.
type portal struct {
	f  *Fleet
	ws *webSessions
}

type portalDesktop struct {
	Pool, Policy, Protocol, WorkspaceID, State, Session string
}

type portalData struct {
	Title, User, CSRF, Error string
	Signed                   bool
	Desktops                 []portalDesktop
}

func (p *portal) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(webFS, "web")
	mux.Handle("GET /portal/static/", http.StripPrefix("/portal/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /portal/{$}", func(w http.ResponseWriter, r *http.Request) {
		s := p.ws.get(r)
		if s == nil {
			render(w, "portal-login", http.StatusOK, portalData{Title: "Sign in", CSRF: p.ws.preCSRF(w, r)})
			return
		}
		b := p.f.brokers[s.tenant]
		d := portalData{Title: "Your desktops", User: s.user, CSRF: s.csrf, Signed: true}
		pd, err := p.entitled(r.Context(), b, s.user)
		if err != nil {
			d.Error = err.Error()
		}
		d.Desktops = pd
		render(w, "portal-home", http.StatusOK, d)
	})
	mux.HandleFunc("POST /portal/login", func(w http.ResponseWriter, r *http.Request) {
		fail := func(code int, msg string) {
			render(w, "portal-login", code, portalData{Title: "Sign in", CSRF: p.ws.preCSRF(w, r), Error: msg})
		}
		if !p.ws.allowSignIn(r, strings.TrimSpace(r.PostFormValue("user"))) {
			w.Header().Set("Retry-After", "2")
			fail(http.StatusTooManyRequests, "Too many sign-in attempts; wait a moment.")
			return
		}
		if !p.ws.checkPreCSRF(r) {
			fail(http.StatusForbidden, "The form expired; sign in again.")
			return
		}
		user, pw := strings.TrimSpace(r.PostFormValue("user")), r.PostFormValue("password")
		for _, name := range p.f.names {
			b := p.f.brokers[name]
			if err := b.Authenticate(r.Context(), user, pw); err == nil {
				b.log.Info("portal sign-in", "user", user)
				p.ws.create(w, r, webSession{tenant: name, user: user})
				http.Redirect(w, r, "/portal/", http.StatusSeeOther)
				return
			}
		}
		fail(http.StatusUnauthorized, "Wrong user name or password.")
	})
	mux.HandleFunc("POST /portal/connect", p.signed(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker) {
		v, err := b.RequestSession(r.Context(), s.user)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}))
	end := func(logout bool) func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker) {
		return func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker) {
			if cur, err := b.st.OpenSession(r.Context(), s.user); err == nil && cur != nil {
				if logout {
					_, err = b.Logout(r.Context(), cur.ID)
				} else {
					_, err = b.Disconnect(r.Context(), cur.ID)
				}
				if err != nil {
					b.log.Warn("portal: ending the session failed", "user", s.user, "err", err)
				}
			}
			if logout {
				p.ws.destroy(w, r)
			}
			http.Redirect(w, r, "/portal/", http.StatusSeeOther)
		}
	}
	mux.HandleFunc("POST /portal/disconnect", p.signed(end(false)))
	mux.HandleFunc("POST /portal/logout", p.signed(end(true)))
}

// entitled lists the desktops the user's policy gives: the pool, and the
// user's own desktop in it with its state.
func (p *portal) entitled(ctx context.Context, b *Broker, user string) ([]portalDesktop, error) {
	groups, err := b.UserGroups(ctx, user)
	if err != nil {
		return nil, err
	}
	pol := MatchPolicy(b.cfg.Policies, user, groups)
	if pol == nil {
		return nil, ErrNoPolicy
	}
	pd := portalDesktop{Pool: pol.Pool, Policy: pol.Name, Protocol: b.cfg.ProtocolPlans[pol.ProtocolPlan].Protocol, State: "not assigned yet"}
	if d, err := b.st.UserDesktop(ctx, pol.Pool, user); err == nil && d != nil {
		pd.WorkspaceID, pd.State = d.ID, d.State
	}
	if s, err := b.st.OpenSession(ctx, user); err == nil && s != nil {
		pd.Session = s.State
	}
	return []portalDesktop{pd}, nil
}

// signed wraps a portal action: a signed-in user and the session's CSRF
// token (form field csrf, or header X-CSRF-Token for the page's script).
// The user acts only on their own session: no request names a session.
func (p *portal) signed(h func(http.ResponseWriter, *http.Request, *webSession, *Broker)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := p.ws.get(r)
		if s == nil {
			writeJSON(w, http.StatusUnauthorized, errBody("Unauthorized", "sign in first"))
			return
		}
		if hv := r.Header.Get("X-CSRF-Token"); hv != "" {
			if !constantEq(hv, s.csrf) {
				writeJSON(w, http.StatusForbidden, errBody("Forbidden", "wrong CSRF token"))
				return
			}
		} else if !p.ws.checkCSRF(r, s) {
			writeJSON(w, http.StatusForbidden, errBody("Forbidden", "missing or wrong CSRF token"))
			return
		}
		h(w, r, s, p.f.brokers[s.tenant])
	}
}

func constantEq(a, b string) bool {
	return len(a) == len(b) && subtleEq(a, b)
}
