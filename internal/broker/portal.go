package broker

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/go-ldap/ldap/v3"
)

// PortalConfig configures the user portal's sign-in.
type PortalConfig struct {
	// LDAP maps a directory (id or DNS name) to its LDAP URL (ldap:// or
	// ldaps://). A directory without one is reached at its first DNS
	// address as Broker.reachable resolves it (deskplane: where GET
	// /_deskplane/ldap says it answers — over LDAPS on its listed port
	// when the listed CA file (or CAFile) can be read, else LDAP on its
	// listed port — or else the loopback address it maps to, port 389;
	// AWS: the address itself, port 389).
	LDAP map[string]string `json:"ldap,omitempty"`
	// BindFormat is the bind name of a user, with {user} and {domain}
	// (the directory's DNS name) replaced (default "{user}@{domain}", the
	// user principal name).
	BindFormat string `json:"bind_format,omitempty"`
	// InsecureSkipVerify accepts any LDAPS certificate (test directories).
	InsecureSkipVerify bool `json:"ldaps_insecure_skip_verify,omitempty"`
	// CAFile is the CA (PEM) LDAPS certificates are checked against
	// (default: the system's roots; for a directory whose URL is derived
	// from deskplane's listing, the CA file deskplane names).
	CAFile string `json:"ldaps_ca_file,omitempty"`
	// NoVNCDir is the directory of an installed noVNC (its core/rfb.js
	// module), served at /portal/novnc/ for VNC desktops (default
	// /usr/share/novnc, Debian's novnc package). Top level only: one
	// portal serves every tenant.
	NoVNCDir string `json:"novnc_dir,omitempty"`
}

// DefaultNoVNCDir is where Debian's novnc package installs noVNC.
const DefaultNoVNCDir = "/usr/share/novnc"

// noVNCDir returns the configured noVNC directory.
func (c *PortalConfig) noVNCDir() string {
	if c.NoVNCDir != "" {
		return c.NoVNCDir
	}
	return DefaultNoVNCDir
}

// noVNCMissing says why noVNC cannot be served from dir; "" when it can.
func noVNCMissing(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "core", "rfb.js")); err != nil {
		return fmt.Sprintf("noVNC is not installed at %s (no core/rfb.js): install Debian's novnc package or set portal.novnc_dir", dir)
	}
	return ""
}

// viewerFor names the portal's viewer of a protocol plan: "novnc" for VNC
// (protocol VNC or port 5900), else "terminal" (the built-in guest's text
// protocol).
func viewerFor(pp ProtocolPlan) string {
	if strings.EqualFold(pp.Protocol, "VNC") || pp.Port == 5900 {
		return "novnc"
	}
	return "terminal"
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
	l, err := b.reachable(ctx, reachDirectory, id, d.DnsIpAddrs[0])
	if err != nil {
		return "", "", err
	}
	// LDAPS where deskplane lists it for the directory and its
	// certificate can be checked (the CA file deskplane names, readable
	// where the broker runs, or portal.ldaps_ca_file); else LDAP, on the
	// listed port or 389.
	ldapPort, ldapsPort, ca := b.reach.directoryPorts(id, d.DnsIpAddrs[0])
	if b.cfg.Portal.CAFile != "" {
		ca = b.cfg.Portal.CAFile
	}
	if ldapsPort > 0 && (b.cfg.Portal.InsecureSkipVerify || readableCA(ca)) {
		u := "ldaps://" + net.JoinHostPort(l.String(), strconv.Itoa(ldapsPort))
		b.ldapCA.Store(u, ca)
		return u, domain, nil
	}
	if ldapPort == 0 {
		ldapPort = 389
	}
	return "ldap://" + net.JoinHostPort(l.String(), strconv.Itoa(ldapPort)), domain, nil
}

// readableCA reports whether path holds PEM certificates.
func readableCA(path string) bool {
	if path == "" {
		return false
	}
	pem, err := os.ReadFile(path)
	return err == nil && x509.NewCertPool().AppendCertsFromPEM(pem)
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
	return b.eachDirectory(ctx, "portal", func(u, domain string) (bool, error) {
		return true, b.ldapBind(ctx, u, b.bindName(user, domain), password)
	})
}

// eachDirectory tries sign-in on each of the pools' directories in turn
// (each LDAP URL once) until try accepts: try binds at the directory's URL
// and returns done (nil error and done: signed in). A directory that
// refuses the credentials is passed over; any other failure is logged and
// kept for the caller's error. With no directory accepting, the answer is
// errBadCredentials.
func (b *Broker) eachDirectory(ctx context.Context, what string, try func(url, domain string) (bool, error)) error {
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
		done, err := try(u, domain)
		if err == nil && done {
			return nil
		}
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			lastErr = err
			b.log.Warn(what+": ldap sign-in failed", "url", u, "err", err)
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
	// novncDir is the installed noVNC served at /portal/novnc/.
	novncDir string
}

// portalDesktop is one row of the portal's table, and of GET
// /portal/api/desktops.
type portalDesktop struct {
	Pool        string `json:"pool"`
	Policy      string `json:"policy"`
	Protocol    string `json:"protocol"`
	Port        int    `json:"port"`
	WorkspaceID string `json:"workspace_id,omitempty"`
	// State is the desktop's WorkSpaces state.
	State string `json:"state"`
	// Session is the user's open session's state (active, disconnected).
	Session string `json:"session,omitempty"`
	// Connection is CONNECTED while a gateway carries a connection of the
	// session, else DISCONNECTED (empty without a session).
	Connection string `json:"connection,omitempty"`
	// Viewer is how the page opens the desktop: novnc or terminal.
	Viewer string `json:"viewer"`
}

type portalData struct {
	Title, User, CSRF, Error string
	Signed                   bool
	Desktops                 []portalDesktop
	// Session is the session a session page (/portal/sessions/{id})
	// opens: the page connects to it when loaded.
	Session string
}

// portalAPI is GET /portal/api/desktops: what the portal's table shows,
// polled by the page.
type portalAPI struct {
	User     string          `json:"user"`
	Desktops []portalDesktop `json:"desktops"`
	Error    string          `json:"error,omitempty"`
	// NoVNC says why VNC desktops cannot open (noVNC missing); empty
	// when they can.
	NoVNC string `json:"novnc_error,omitempty"`
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
		w.Header().Set("Content-Security-Policy", p.homeCSP(r.Context()))
		render(w, "portal-home", http.StatusOK, d)
	})
	// A session's own page: the address bar's URL once the user has
	// connected, which opens the desktop again when reloaded. Only the
	// session's user opens it; anyone else — another signed-in user — is
	// told no such session exists, as for a session that ended or never
	// did, and the page connects nothing.
	mux.HandleFunc("GET /portal/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		s := p.ws.get(r)
		if s == nil {
			render(w, "portal-login", http.StatusOK, portalData{Title: "Sign in", CSRF: p.ws.preCSRF(w, r)})
			return
		}
		b := p.f.brokers[s.tenant]
		d := portalData{Title: "Your desktops", User: s.user, CSRF: s.csrf, Signed: true}
		code := http.StatusOK
		sess, err := b.st.Session(r.Context(), r.PathValue("id"))
		switch {
		case err != nil:
			d.Error, code = err.Error(), http.StatusInternalServerError
		case sess == nil || !strings.EqualFold(sess.User, s.user) || sess.State == SessEnded || sess.State == SessInterrupted:
			if sess != nil && !strings.EqualFold(sess.User, s.user) {
				b.log.Warn("portal: a user asked for another's session", "user", s.user, "session", sess.ID)
			}
			d.Title, d.Error, code = "No such session", "No such session: it is not yours, or it has ended.", http.StatusNotFound
		default:
			d.Session = sess.ID
		}
		pd, err := p.entitled(r.Context(), b, s.user)
		if err != nil && d.Error == "" {
			d.Error = err.Error()
		}
		d.Desktops = pd
		w.Header().Set("Content-Security-Policy", p.homeCSP(r.Context()))
		render(w, "portal-home", code, d)
	})
	mux.HandleFunc("GET /portal/api/desktops", func(w http.ResponseWriter, r *http.Request) {
		s := p.ws.get(r)
		if s == nil {
			writeJSON(w, http.StatusUnauthorized, errBody("Unauthorized", "sign in first"))
			return
		}
		out := portalAPI{User: s.user, Desktops: []portalDesktop{}}
		pd, err := p.entitled(r.Context(), p.f.brokers[s.tenant], s.user)
		if err != nil {
			out.Error = err.Error()
		} else {
			out.Desktops = pd
		}
		out.NoVNC = noVNCMissing(p.novncDir)
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, out)
	})
	// noVNC from its installed package (its ES modules; the page imports
	// core/rfb.js), never a copy in this repository.
	novnc := http.StripPrefix("/portal/novnc/", http.FileServer(http.Dir(p.novncDir)))
	mux.HandleFunc("GET /portal/novnc/", func(w http.ResponseWriter, r *http.Request) {
		if msg := noVNCMissing(p.novncDir); msg != "" {
			http.Error(w, msg, http.StatusNotFound)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		novnc.ServeHTTP(w, r)
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

// cspHostRE is a host[:port] that can stand in a CSP source list.
var cspHostRE = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// homeCSP is the page CSP with the live gateways' WebSocket origins in
// connect-src: a gateway running as its own process is another origin,
// which 'self' does not cover.
func (p *portal) homeCSP(ctx context.Context) string {
	src := []string{"'self'"}
	for _, g := range p.f.hub.Gateways(ctx) {
		u, err := url.Parse(g.URL)
		if err != nil || !g.Live || (u.Scheme != "ws" && u.Scheme != "wss") || !cspHostRE.MatchString(u.Host) {
			continue // the local gateway's "/gateway/ws" is 'self'
		}
		if o := u.Scheme + "://" + u.Host; !slices.Contains(src, o) {
			src = append(src, o)
		}
	}
	return pageCSP + "; connect-src " + strings.Join(src, " ")
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
	pp := b.cfg.ProtocolPlans[pol.ProtocolPlan]
	pd := portalDesktop{Pool: pol.Pool, Policy: pol.Name, Protocol: pp.Protocol, Port: pp.Port, State: "not assigned yet", Viewer: viewerFor(pp)}
	if d, err := b.st.UserDesktop(ctx, pol.Pool, user); err == nil && d != nil {
		pd.WorkspaceID, pd.State = d.ID, d.State
	}
	if s, err := b.st.OpenSession(ctx, user); err == nil && s != nil {
		pd.Session = s.State
		pd.Connection = "DISCONNECTED"
		if b.hub.sessionConnected(ctx, b, s) {
			pd.Connection = "CONNECTED"
		}
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
