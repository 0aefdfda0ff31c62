package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dsvc "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/chromedp/chromedp"

	"github.com/deskplane/deskplane/internal/broker/gateway"
	"github.com/deskplane/deskplane/internal/runtime"
	"github.com/deskplane/deskplane/internal/testserver"
)

// vncPolicy gives the eng pool's users (alice) the VNC protocol plan.
func vncPolicy(e *testEnv) {
	for i := range e.cfg.Policies {
		if e.cfg.Policies[i].Pool == "eng" {
			e.cfg.Policies[i].ProtocolPlan = "vnc"
		}
	}
	// The broker asks deskplane where each desktop answers.
	e.cfg.DeskplaneAdminToken = e.s.AdminToken
}

// requireNoVNC skips without Debian's novnc package, or fails in CI
// (CI=true or DESKPLANE_REQUIRE_X11=1, which scripts/test.sh sets after
// installing it).
func requireNoVNC(t *testing.T) {
	t.Helper()
	if msg := noVNCMissing(DefaultNoVNCDir); msg != "" {
		if mustHaveX11() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// requireX11 skips without the x11 runtime's programs (Debian: xvfb,
// x11vnc, openbox, xterm), or fails in CI (CI=true), where scripts/test.sh
// installs them and sets DESKPLANE_REQUIRE_X11=1.
func requireX11(t *testing.T) {
	t.Helper()
	if err := runtime.CheckX11(); err != nil {
		if mustHaveX11() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// mustHaveX11 reports whether missing X11 or noVNC packages fail a test
// rather than skip it.
func mustHaveX11() bool {
	return os.Getenv("CI") == "true" || os.Getenv("DESKPLANE_REQUIRE_X11") == "1"
}

// startX11PortalEnv is a portal over deskplane serve --runtime x11 with
// LDAP on: every desktop is a real X desktop (Xvfb, openbox, an xterm
// titled with its workspace id) whose x11vnc answers at its reachable
// address only when its security groups allow TCP 5900. Onboarding (the
// Onboarder of broker onboard, with the protocol plans' ports, the vnc
// plan's 5900 among them) creates the directory's custom security group
// before any desktop exists. One pool, eng (alice's, the vnc protocol plan
// and stop-after-30); alice signs in to the portal against the directory's
// own LDAP with the password ResetUserPassword set.
func startX11PortalEnv(t *testing.T) *portalEnv {
	t.Helper()
	requireX11(t)
	// The sessions' guest command is this test binary: see TestMain.
	os.Setenv("BROKER_TEST_GUEST", "1")
	t.Cleanup(func() { os.Unsetenv("BROKER_TEST_GUEST") })
	e := startEnv(t, testserver.Runtime("x11", 3, os.Args[0], "-test.run=^$"), testserver.X11Session(os.Args[0], "x11-session"),
		testserver.LDAP(twoFreePorts(t)))
	ctx := context.Background()
	r, out := e.onboard()
	if r.SecurityGroupID == "" || !slices.Contains(r.Done, "security-group") || !strings.Contains(out, "5900") {
		t.Fatalf("onboarding's security-group step does not allow 5900: %+v\n%s", r, out)
	}
	e.cfg.Pools = []Pool{{Name: "eng", Directory: r.DirectoryID, Bundle: r.BundleID, RunningMode: "MANUAL", Min: 1, Max: 2, Warm: 1}}
	e.cfg.Policies = []Policy{{Name: "engineers", Groups: []string{"Engineering"}, Pool: "eng", ProtocolPlan: "vnc", PowerPlan: "stop-after-30", ReleasePlan: "keep"}}
	// The broker asks deskplane where each desktop answers.
	e.cfg.DeskplaneAdminToken = e.s.AdminToken
	for _, ep := range e.s.LDAP.Endpoints() {
		if ep.DirectoryID == r.DirectoryID && ep.Region == "us-east-1" {
			e.cfg.Portal.LDAP = map[string]string{"corp.example.com": "ldap://" + net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPPort))}
		}
	}
	if e.cfg.Portal.LDAP == nil {
		t.Fatalf("directory %s answers no LDAP", r.DirectoryID)
	}
	ds := dsvc.NewFromConfig(e.s.Admin())
	if _, err := ds.ResetUserPassword(ctx, &dsvc.ResetUserPasswordInput{DirectoryId: aws.String(r.DirectoryID), UserName: aws.String("alice"), NewPassword: aws.String("Alice-Us3r!")}); err != nil {
		t.Fatalf("ResetUserPassword alice: %v", err)
	}
	if err := e.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	f, err := NewFleet(fctx, e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	b := f.Broker(DefaultTenant)
	h, _, err := startLocalGateway(fctx, e.cfg, "127.0.0.1:0", f.Hub(), slogDiscard(), f.Handler())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	reconcileUntil(t, b, func(r *PassReport) bool {
		return settled(r, "eng") && r.Pools["eng"].States["AVAILABLE"] > r.Pools["eng"].Assigned
	}, "eng settles with a free running desktop")
	return &portalEnv{e: e, f: f, b: b, srv: srv, guests: map[string]bool{}}
}

// x11Guest reads the x11 runtime's guest of a desktop from deskplane's
// GET /_deskplane/runtime: its X display and the address its x11vnc
// listens on ("" when its security groups do not allow 5900).
func x11Guest(t *testing.T, s *testserver.Server, id string) (display, vnc string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/_deskplane/runtime", nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Runtime  string `json:"runtime"`
		Desktops []struct {
			WorkspaceID string `json:"workspace_id"`
			Display     string `json:"display"`
			VNC         string `json:"vnc"`
		} `json:"desktops"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Runtime != "x11" {
		t.Fatalf("GET /_deskplane/runtime: %d, runtime %q, %v", resp.StatusCode, out.Runtime, err)
	}
	for _, d := range out.Desktops {
		if d.WorkspaceID == id {
			return d.Display, d.VNC
		}
	}
	t.Fatalf("no x11 guest for %s in GET /_deskplane/runtime", id)
	return "", ""
}

// xtermRegion checks the pixels of a page screenshot inside rect (the
// noVNC canvas): the remote root window is black and the xterm is a white
// window with black text. It returns a description of what it found and
// whether that is the desktop.
func xtermRegion(img image.Image, rect image.Rectangle) (string, bool) {
	rect = rect.Intersect(img.Bounds())
	if rect.Dx() < 300 || rect.Dy() < 200 {
		return fmt.Sprintf("canvas %v too small", rect), false
	}
	white, black, total := 0, 0, 0
	wbox := image.Rectangle{}
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			total++
			switch {
			case r >= 235 && g >= 235 && b >= 235:
				white++
				wbox = wbox.Union(image.Rect(x, y, x+1, y+1))
			case r <= 20 && g <= 20 && b <= 20:
				black++
			}
		}
	}
	// Black text inside the white window.
	text := 0
	for y := wbox.Min.Y; y < wbox.Max.Y; y++ {
		for x := wbox.Min.X; x < wbox.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r>>8 <= 128 && g>>8 <= 128 && b>>8 <= 128 { // scaled text is grey
				text++
			}
		}
	}
	desc := fmt.Sprintf("canvas %v: %d%% white (window %v), %d%% black, %d dark pixels in the window",
		rect, 100*white/total, wbox, 100*black/total, text)
	ok := white*100 >= total*8 && black*100 >= total*30 && wbox.Dx() >= 300 && wbox.Dy() >= 150 && text >= 60
	return desc, ok
}

// TestPortalNoVNCBrowser: against deskplane serve --runtime x11 (with its
// directories' LDAP) and a broker onboarded with the security-group step
// (its group lets the vnc plan's 5900 in), alice signs in with her
// directory password, presses Connect on her VNC desktop, and the page
// shows the x11 guest in noVNC through the gateway's WebSocket with her
// ticket: the canvas's pixels hold the guest's xterm (a white window with
// black text) on the black root window. The table follows without a
// reload: her desktop, AVAILABLE, active, CONNECTED; deskplane says
// CONNECTED too (DescribeWorkspacesConnectionStatus, the SDK). Closing the
// page disconnects, and the power plan stops the desktop on the virtual
// clock.
func TestPortalNoVNCBrowser(t *testing.T) {
	requireNoVNC(t)
	pe := startX11PortalEnv(t)
	srv := pe.srv.URL
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv+"/portal/"),
		chromedp.WaitVisible(chromedp.ID("user-name")),
		chromedp.SendKeys(chromedp.ID("user-name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "Alice-Us3r!"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("connect")),
	); err != nil {
		t.Fatal(err)
	}
	if s := text(t, ctx, "desktops"); !strings.Contains(s, "VNC") || !strings.Contains(s, "not assigned yet") {
		t.Fatalf("alice's table before Connect: %q", s)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("connect"))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, `document.getElementById("screen").dataset.connected === "1"`)
	// The table moves on by itself (GET /portal/api/desktops).
	poll(t, ctx, `document.querySelector("#desktops .connection").textContent === "CONNECTED"`)
	bg := context.Background()
	alice, _ := pe.b.Store().OpenSession(bg, "alice")
	if alice == nil {
		t.Fatal("alice has no open session")
	}
	row, err := chromedp.Run(ctx, chromedp.Evaluate[string](`["desktop","state","session"].map(c => document.querySelector("#desktops ."+c).textContent).join(" ")`))
	if err != nil {
		t.Fatal(err)
	}
	if want := alice.WorkspaceID + " AVAILABLE active"; row != want {
		t.Fatalf("alice's row %q, want %q", row, want)
	}
	if st := text(t, ctx, "status"); !strings.Contains(st, alice.WorkspaceID) || !strings.Contains(st, "VNC") {
		t.Fatalf("status %q", st)
	}
	// Her desktop is an x11 guest whose x11vnc listens (its groups allow
	// 5900), and deskplane sees the gateway's connection as a user session.
	display, vncAddr := x11Guest(t, pe.e.s, alice.WorkspaceID)
	if display == "" || !strings.HasSuffix(vncAddr, ":5900") {
		t.Fatalf("alice's x11 guest: display %q, VNC %q", display, vncAddr)
	}
	ws := workspaces.NewFromConfig(pe.e.s.Admin())
	connState := func() wstypes.ConnectionState {
		o, err := ws.DescribeWorkspacesConnectionStatus(bg, &workspaces.DescribeWorkspacesConnectionStatusInput{WorkspaceIds: []string{alice.WorkspaceID}})
		if err != nil || len(o.WorkspacesConnectionStatus) != 1 {
			t.Fatalf("DescribeWorkspacesConnectionStatus: %v", err)
		}
		return o.WorkspacesConnectionStatus[0].ConnectionState
	}
	testserver.Eventually(t, 20*time.Second, func() bool { return connState() == wstypes.ConnectionStateConnected },
		"DescribeWorkspacesConnectionStatus: alice's desktop is not CONNECTED while the page shows it")
	// The canvas is the remote screen's size (shown scaled to the box); its
	// pixels show the desktop (noVNC draws the first full update right
	// after connecting; the xterm maps a little after the desktop is
	// ready: poll).
	size, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const c = document.querySelector("#screen canvas"); const r = c.getBoundingClientRect();
		return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height, c.width, c.height]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if size[4] != 1280 || size[5] != 800 {
		t.Fatalf("canvas %vx%v, want the remote 1280x800", size[4], size[5])
	}
	rect := image.Rect(int(size[0]), int(size[1]), int(size[0]+size[2]), int(size[1]+size[3]))
	var desc string
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(45 * time.Second)
	for {
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		if desc, ok = xtermRegion(img, rect); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screenshot does not show the desktop: %s", desc)
		}
		<-tick.C
	}
	t.Logf("noVNC: %s", desc)
	screenshot(t, ctx, "portal-novnc")
	// The white window is the guest's terminal, titled with alice's
	// workspace id, on the guest's display.
	if _, err := exec.LookPath("xdotool"); err == nil {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^"+alice.WorkspaceID+"$")
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) == "" {
			t.Fatalf("no window titled %s on %s: %q %v", alice.WorkspaceID, display, out, err)
		}
	}
	if n := len(pe.b.Hub().Connections()); n != 1 {
		t.Fatalf("%d live gateway connections, want alice's one", n)
	}
	// Closing the page disconnects: the gateway reports it, the session is
	// disconnected and the power plan (stop-after-30) stops the desktop
	// on the virtual clock.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 20*time.Second, func() bool {
		s, _ := pe.b.Store().Session(bg, alice.ID)
		d, _ := pe.b.Store().Desktop(bg, alice.WorkspaceID)
		return s.State == SessDisconnected && d != nil && !d.StopAt.IsZero() && len(pe.b.Hub().Connections()) == 0
	}, "closing the page disconnects alice's session")
	testserver.Eventually(t, 20*time.Second, func() bool { return connState() == wstypes.ConnectionStateDisconnected },
		"DescribeWorkspacesConnectionStatus: alice's desktop is not DISCONNECTED after the page closed")
	pe.e.advance(31 * time.Minute)
	reconcileUntil(t, pe.b, func(r *PassReport) bool {
		d, _ := pe.b.Store().Desktop(bg, alice.WorkspaceID)
		return d != nil && !d.StopRequested.IsZero()
	}, "the power plan stops alice's desktop")
	testserver.Eventually(t, 30*time.Second, func() bool {
		o, err := ws.DescribeWorkspaces(bg, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{alice.WorkspaceID}})
		return err == nil && len(o.Workspaces) == 1 && o.Workspaces[0].State == wstypes.WorkspaceStateStopped
	}, "alice's desktop does not reach STOPPED")
	// The stopped desktop's session is gone: nothing answers VNC there.
	testserver.Eventually(t, 20*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", vncAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, "the stopped desktop's x11vnc still answers at %s", vncAddr)
}

// TestPortalNoVNCServed: the portal serves noVNC's modules from the
// configured directory (no listings), and a missing directory is said in
// the desktops API and on the module's URL.
func TestPortalNoVNCServed(t *testing.T) {
	requireNoVNC(t)
	missing := t.TempDir()
	for _, dir := range []string{"", missing} {
		t.Run("novnc_dir="+dir, func(t *testing.T) { checkNoVNCServed(t, dir, missing) })
	}
}

func checkNoVNCServed(t *testing.T, dir, missing string) {
	t.Helper()
	pe := startPortalEnv(t, vncPolicy, func(e *testEnv) { e.cfg.Portal.NoVNCDir = dir })
	c, _, code := portalSignIn(t, pe.srv.URL, "alice", "alice-pw")
	if code != http.StatusOK {
		t.Fatalf("sign-in: %d", code)
	}
	var api portalAPI
	resp, err := c.Get(pe.srv.URL + "/portal/api/desktops")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&api)
	resp.Body.Close()
	if len(api.Desktops) != 1 || api.Desktops[0].Viewer != "novnc" || api.Desktops[0].Port != 5900 || api.User != "alice" {
		t.Fatalf("desktops API: %+v", api)
	}
	code, body := getBody(t, c, pe.srv.URL+"/portal/novnc/core/rfb.js")
	if dir == missing {
		if !strings.Contains(api.NoVNC, "not installed at "+missing) {
			t.Fatalf("novnc_error %q", api.NoVNC)
		}
		if code != http.StatusNotFound || !strings.Contains(body, "not installed at "+missing) {
			t.Fatalf("rfb.js without noVNC: %d %q", code, body)
		}
		return
	}
	if api.NoVNC != "" || code != http.StatusOK || !strings.Contains(body, "export default class RFB") {
		t.Fatalf("rfb.js: %d, novnc_error %q", code, api.NoVNC)
	}
	if code, _ := getBody(t, c, pe.srv.URL+"/portal/novnc/core/"); code != http.StatusNotFound {
		t.Fatalf("directory listing: %d", code)
	}
	// Signed out, the API answers nothing.
	if code, _ := getBody(t, browserClient(t), pe.srv.URL+"/portal/api/desktops"); code != http.StatusUnauthorized {
		t.Fatalf("anonymous desktops API: %d", code)
	}
}

// TestPortalNoVNCMissingBrowser: without noVNC installed where the
// configuration says, Connect on a VNC desktop says so on the page.
func TestPortalNoVNCMissingBrowser(t *testing.T) {
	missing := t.TempDir()
	pe := startPortalEnv(t, vncPolicy, func(e *testEnv) { e.cfg.Portal.NoVNCDir = missing })
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(pe.srv.URL+"/portal/"),
		chromedp.WaitVisible(chromedp.ID("user-name")),
		chromedp.SendKeys(chromedp.ID("user-name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-pw"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("connect")),
		chromedp.Click(chromedp.ID("connect")),
	); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, `document.getElementById("status").textContent.includes("not installed at `+missing+`")`)
	if st := text(t, ctx, "status"); !strings.HasPrefix(st, "Cannot open the VNC desktop: noVNC is not installed") {
		t.Fatalf("status %q", st)
	}
	// Nothing was opened.
	if n := len(pe.b.Hub().Connections()); n != 0 {
		t.Fatalf("%d gateway connections", n)
	}
}

// TestPortalCSPAllowsRemoteGateways: the portal's page may open WebSockets
// to the live gateways that run as their own processes (other origins),
// and nowhere else.
func TestPortalCSPAllowsRemoteGateways(t *testing.T) {
	pe := startPortalEnv(t)
	hub := pe.f.Hub()
	for _, r := range []gateway.Registration{
		{ID: "gw-1", URL: "ws://127.0.0.1:4710/gateway/ws"},
		{ID: "gw-2", URL: "wss://gw.example.com/gateway/ws"},
		{ID: "gw-bad", URL: "ws://evil;script-src *"},
	} {
		if err := hub.Heartbeat(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	c, _, code := portalSignIn(t, pe.srv.URL, "alice", "alice-pw")
	if code != http.StatusOK {
		t.Fatalf("sign-in: %d", code)
	}
	resp, err := c.Get(pe.srv.URL + "/portal/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasSuffix(csp, "; connect-src 'self' ws://127.0.0.1:4710 wss://gw.example.com") || !strings.HasPrefix(csp, pageCSP) {
		t.Fatalf("CSP %q", csp)
	}
}
