package broker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dsvc "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/deskplane/deskplane/internal/ldapd"
	"github.com/deskplane/deskplane/internal/loopback"
	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/testserver"
)

// ldapTestServer answers LDAP simple binds (and unbinds) for the given
// bind names and passwords: a directory for the portal's sign-in until
// deskplane's own directories answer LDAP on this branch.
func ldapTestServer(t *testing.T, users map[string]string) (string, *[]string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	binds := &[]string{}
	go func() {
		defer safego.Recover(nil, "ldap test server")
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer safego.Recover(nil, "ldap test conn")
				defer c.Close()
				for {
					p, err := ber.ReadPacket(c)
					if err != nil || len(p.Children) < 2 {
						return
					}
					id := p.Children[0].Value.(int64)
					op := p.Children[1]
					if op.ClassType != ber.ClassApplication || op.Tag != 0 || len(op.Children) < 3 {
						return // unbind or anything else: close
					}
					name := op.Children[1].Value.(string)
					pw := op.Children[2].Data.String()
					mu.Lock()
					*binds = append(*binds, name)
					mu.Unlock()
					code := int64(49) // invalidCredentials
					if want, ok := users[name]; ok && pw != "" && pw == want {
						code = 0
					}
					resp := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
					resp.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
					br := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 1, nil, "")
					br.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
					br.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
					br.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
					resp.AppendChild(br)
					if _, err := c.Write(resp.Bytes()); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "ldap://" + ln.Addr().String(), binds
}

// portalEnv is a fleet with pools, a directory answering LDAP binds, the
// in-process gateway (loopback address map) and guests listening on their
// desktops' loopback addresses with a banner and an echo.
type portalEnv struct {
	guests map[string]bool
	e      *testEnv
	f      *Fleet
	b      *Broker
	srv    *httptest.Server
}

func startPortalEnv(t *testing.T, configure ...func(*testEnv)) *portalEnv {
	t.Helper()
	e := startEnv(t)
	e.withPools(1, 3, 1)
	u, _ := ldapTestServer(t, map[string]string{"alice@corp.example.com": "alice-pw", "bob@corp.example.com": "bob-pw"})
	e.cfg.Portal.LDAP = map[string]string{"corp.example.com": u}
	for _, c := range configure {
		c(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f, err := NewFleet(ctx, e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	b := f.Broker(DefaultTenant)
	h, _, err := startLocalGateway(ctx, e.cfg, "127.0.0.1:0", f.Hub(), slogDiscard(), f.Handler())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	pe := &portalEnv{e: e, f: f, b: b, srv: srv, guests: map[string]bool{}}
	pe.settle(t)
	return pe
}

// settle reconciles until the pools settle, giving every desktop a guest
// as it appears.
func (pe *portalEnv) settle(t *testing.T) {
	t.Helper()
	reconcileUntil(t, pe.b, func(r *PassReport) bool {
		ds, _ := pe.b.Desktops(context.Background())
		for _, d := range ds {
			if d.IP != "" && !pe.guests[d.ID] {
				pe.guests[d.ID] = true
				startGuest(t, pe.b, d.IP, d.ID)
			}
		}
		return settled(r, "eng", "fin", "ops") && r.Pools["eng"].States["AVAILABLE"] > r.Pools["eng"].Assigned
	}, "pools settle with a free running eng desktop")
}

// startGuest listens like the process runtime's built-in guest, at the DCV
// and RDP ports, with a banner line and an echo (see guestListen for where).
func startGuest(t *testing.T, b *Broker, ip, id string) {
	for _, ln := range guestListen(t, b, ip, id, 8443, 3389) {
		go func() {
			defer safego.Recover(nil, "guest")
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer safego.Recover(nil, "guest conn")
					defer c.Close()
					io.WriteString(c, "deskplane guest "+id+" ready\r\n")
					io.Copy(c, c)
				}()
			}
		}()
	}
}

// guestListen listens at ports where a test's stand-in guest of desktop id
// can: on the loopback address its VPC address ip maps to or, when another
// process holds that one (a runtime's guest in another test package), on
// one claimed as the runtime claims them; the broker dials the desktop
// there. The listeners close when the test ends.
func guestListen(t *testing.T, b *Broker, ip, id string, ports ...int) []net.Listener {
	t.Helper()
	vpc, err := netip.ParseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	al := loopback.NewAllocator()
	if err := al.ClaimAcross(loopback.MachineClaimDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(al.Close)
	var lns []net.Listener
	addr, err := al.AssignFree(id, vpc, func(a netip.Addr) bool {
		for _, p := range ports {
			ln, err := net.Listen("tcp", netip.AddrPortFrom(a, uint16(p)).String())
			if err != nil {
				for _, l := range lns {
					l.Close()
				}
				lns = nil
				return false
			}
			lns = append(lns, ln)
		}
		return true
	})
	if err != nil {
		t.Fatalf("guest %s: %v", id, err)
	}
	for _, ln := range lns {
		t.Cleanup(func() { ln.Close() })
	}
	b.reach.pin(id, addr)
	return lns
}

func portalSignIn(t *testing.T, srv, user, pw string) (*http.Client, string, int) {
	t.Helper()
	c := browserClient(t)
	_, body := getBody(t, c, srv+"/portal/")
	csrf := csrfRE.FindStringSubmatch(body)[1]
	resp, err := c.PostForm(srv+"/portal/login", url.Values{"user": {user}, "password": {pw}, "csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(string(b))
	if m == nil {
		return c, "", resp.StatusCode
	}
	return c, m[1], resp.StatusCode
}

func portalConnect(t *testing.T, c *http.Client, srv, csrf string) (*SessionView, int) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv+"/portal/connect", nil)
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v SessionView
	json.NewDecoder(resp.Body).Decode(&v)
	return &v, resp.StatusCode
}

func TestPortalSignInConnectIsolation(t *testing.T) {
	pe := startPortalEnv(t)
	srv := pe.srv.URL
	// A wrong password, an empty one and an unknown user are refused.
	for _, up := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"mallory", "x"}, {"alice)(cn=*", "alice-pw"}} {
		if _, _, code := portalSignIn(t, srv, up[0], up[1]); code != http.StatusUnauthorized {
			t.Fatalf("sign-in %q/%q: %d", up[0], up[1], code)
		}
	}
	// Sign-in is rate-limited per address and account: five, then one
	// every two seconds.
	for i := 0; i < 5; i++ {
		portalSignIn(t, srv, "carol", "guess")
	}
	if _, _, code := portalSignIn(t, srv, "carol", "guess"); code != http.StatusTooManyRequests {
		t.Fatalf("sixth attempt: %d", code)
	}
	ca, csrfA, code := portalSignIn(t, srv, "alice", "alice-pw")
	if code != 200 || csrfA == "" {
		t.Fatalf("alice sign-in: %d", code)
	}
	_, body := getBody(t, ca, srv+"/portal/")
	if !strings.Contains(body, `id="connect"`) || !strings.Contains(body, "eng") {
		t.Fatalf("alice's page: %s", body)
	}
	// Connect without the CSRF token: refused.
	if _, code := portalConnect(t, ca, srv, "nope"); code != http.StatusForbidden {
		t.Fatalf("connect with a wrong csrf: %d", code)
	}
	va, code := portalConnect(t, ca, srv, csrfA)
	if code != 200 || va.State != SessActive || va.Ticket == "" || va.GatewayURL != "/gateway/ws" || va.User != "alice" {
		t.Fatalf("alice connect: %d %+v", code, va)
	}
	// bob signs in and gets his own desktop, never alice's.
	cb, csrfB, code := portalSignIn(t, srv, "bob", "bob-pw")
	if code != 200 {
		t.Fatalf("bob sign-in: %d", code)
	}
	vb, code := portalConnect(t, cb, srv, csrfB)
	if code != 200 || vb.User != "bob" || vb.WorkspaceID == va.WorkspaceID || vb.SessionID == va.SessionID {
		t.Fatalf("bob connect: %d %+v (alice %s)", code, vb, va.WorkspaceID)
	}
	// alice's session has its own page; bob, signed in, is told no such
	// session exists (as for one that never did), and anonymous visitors
	// get the sign-in form.
	aliceURL := srv + "/portal/sessions/" + va.SessionID
	if code, body := getBody(t, ca, aliceURL); code != 200 || !strings.Contains(body, `data-session="`+va.SessionID+`"`) {
		t.Fatalf("alice's session page: %d %s", code, body)
	}
	for name, u := range map[string]string{"alice's": aliceURL, "a made-up": srv + "/portal/sessions/s-0000000000000000"} {
		code, body := getBody(t, cb, u)
		if code != http.StatusNotFound || !strings.Contains(body, "No such session") || strings.Contains(body, "data-session") || strings.Contains(body, va.WorkspaceID) {
			t.Fatalf("bob opens %s session page: %d %s", name, code, body)
		}
	}
	if code, body := getBody(t, browserClient(t), aliceURL); code != 200 || !strings.Contains(body, `id="login"`) || strings.Contains(body, va.SessionID) {
		t.Fatalf("anonymous on alice's session page: %d %s", code, body)
	}
	// bob's Disconnect ends bob's session only.
	resp, _ := cb.PostForm(srv+"/portal/disconnect", url.Values{"csrf": {csrfB}})
	resp.Body.Close()
	if s, _ := pe.b.Store().Session(context.Background(), va.SessionID); s.State != SessActive {
		t.Fatalf("alice's session %s after bob's disconnect", s.State)
	}
	if s, _ := pe.b.Store().Session(context.Background(), vb.SessionID); s.State != SessDisconnected {
		t.Fatalf("bob's session %s after his disconnect", s.State)
	}
	// Without a cookie, nothing.
	if _, code := portalConnect(t, browserClient(t), srv, csrfA); code != http.StatusUnauthorized {
		t.Fatalf("anonymous connect: %d", code)
	}
	// Log out applies the release plan and ends the web session.
	resp, _ = ca.PostForm(srv+"/portal/logout", url.Values{"csrf": {csrfA}})
	resp.Body.Close()
	if s, _ := pe.b.Store().Session(context.Background(), va.SessionID); s.State != SessEnded {
		t.Fatalf("alice's session %s after log out", s.State)
	}
	if _, code := portalConnect(t, ca, srv, csrfA); code != http.StatusUnauthorized {
		t.Fatalf("connect after log out: %d", code)
	}
}

func TestPortalLDAPAddressFromDirectory(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 3, 1)
	b := e.broker()
	ctx := context.Background()
	u, domain, err := b.directoryLDAP(ctx, "eng")
	if err != nil {
		t.Fatal(err)
	}
	if domain != "corp.example.com" || !strings.HasPrefix(u, "ldap://127.") || !strings.HasSuffix(u, ":389") {
		t.Fatalf("derived ldap url %q, domain %q", u, domain)
	}
	// Configured per directory (by name), it wins.
	e.cfg.Portal.LDAP = map[string]string{"corp.example.com": "ldaps://dc.corp.example.com:636"}
	if u, _, _ := b.directoryLDAP(ctx, "eng"); u != "ldaps://dc.corp.example.com:636" {
		t.Fatalf("configured url: %q", u)
	}
}

// TestPortalSignInOverListedLDAPS: with no LDAP URL configured, against
// deskplane whose directories answer LDAP and LDAPS (on ports other than
// 389 and 636), the portal's sign-in binds over LDAPS at the address and
// port GET /_deskplane/ldap lists, its certificate checked against the CA
// file deskplane names; a wrong password is refused there. When the CA
// cannot be read, sign-in falls back to plain LDAP on the listed port.
func TestPortalSignInOverListedLDAPS(t *testing.T) {
	e := startEnv(t, testserver.LDAP(twoFreePorts(t)))
	e.withPools(1, 3, 1)
	e.cfg.DeskplaneAdminToken = e.s.AdminToken
	ctx := context.Background()
	ds := dsvc.NewFromConfig(e.s.Admin())
	dirs, err := ds.DescribeDirectories(ctx, &dsvc.DescribeDirectoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	dirID, dnsIP := "", ""
	for _, d := range dirs.DirectoryDescriptions {
		if aws.ToString(d.Name) == "corp.example.com" {
			dirID, dnsIP = aws.ToString(d.DirectoryId), d.DnsIpAddrs[0]
		}
	}
	var ep ldapd.Endpoint
	for _, x := range e.s.LDAP.Endpoints() {
		if x.DirectoryID == dirID && x.DNSIP == dnsIP {
			ep = x
		}
	}
	if ep.LDAPSPort == 0 {
		t.Fatalf("directory %s (%s) lists no LDAPS", dirID, dnsIP)
	}
	if _, err := ds.ResetUserPassword(ctx, &dsvc.ResetUserPasswordInput{DirectoryId: aws.String(dirID), UserName: aws.String("alice"), NewPassword: aws.String("Alice-Us3r!")}); err != nil {
		t.Fatal(err)
	}
	b := e.broker()
	u, _, err := b.directoryLDAP(ctx, "eng")
	if want := "ldaps://" + net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPSPort)); err != nil || u != want {
		t.Fatalf("derived URL %q %v, want %s", u, err, want)
	}
	if err := b.Authenticate(ctx, "alice", "Alice-Us3r!"); err != nil {
		t.Fatalf("alice over LDAPS: %v", err)
	}
	if err := b.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, errBadCredentials) {
		t.Fatalf("a wrong password over LDAPS: %v", err)
	}
	// A CA the broker cannot read: LDAP, on the listed port.
	e.cfg.Portal.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	u, _, err = b.directoryLDAP(ctx, "eng")
	if want := "ldap://" + net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPPort)); err != nil || u != want {
		t.Fatalf("derived URL without a readable CA %q %v, want %s", u, err, want)
	}
	if err := b.Authenticate(ctx, "alice", "Alice-Us3r!"); err != nil {
		t.Fatalf("alice over LDAP: %v", err)
	}
}

// TestPortalCookiesOverTLS: served over TLS, the portal's cookies (the
// sign-in form's and the session's) are Secure as well as HttpOnly and
// SameSite=Strict; over plain HTTP they are not Secure.
func TestPortalCookiesOverTLS(t *testing.T) {
	pe := startPortalEnv(t)
	tsrv := httptest.NewTLSServer(pe.srv.Config.Handler)
	t.Cleanup(tsrv.Close)
	for _, c := range []struct {
		base   string
		client *http.Client
		secure bool
	}{{tsrv.URL, tsrv.Client(), true}, {pe.srv.URL, &http.Client{}, false}} {
		jar, _ := cookiejar.New(nil)
		c.client.Jar = jar
		c.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.client.Get(c.base + "/portal/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cookies := resp.Header.Values("Set-Cookie")
		resp, err = c.client.PostForm(c.base+"/portal/login", url.Values{"user": {"alice"}, "password": {"alice-pw"}, "csrf": {csrfRE.FindStringSubmatch(string(body))[1]}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: sign-in %d", c.base, resp.StatusCode)
		}
		cookies = append(cookies, resp.Header.Values("Set-Cookie")...)
		if len(cookies) < 2 {
			t.Fatalf("%s: cookies %q", c.base, cookies)
		}
		for _, ck := range cookies {
			if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || strings.Contains(ck, "; Secure") != c.secure {
				t.Fatalf("%s: cookie %q (Secure wanted: %v)", c.base, ck, c.secure)
			}
		}
	}
}
