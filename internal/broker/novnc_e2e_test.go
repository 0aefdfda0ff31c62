package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deskplane/deskplane/internal/broker/gateway"
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

// requireNoVNC skips without Debian's novnc package, or fails in CI.
func requireNoVNC(t *testing.T) {
	t.Helper()
	if msg := noVNCMissing(DefaultNoVNCDir); msg != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// startFreeVNCDesktops gives every running, unassigned desktop of pool a
// real VNC desktop at its reachable address (the one the gateway is sent
// to), with an xterm titled with its workspace id.
func startFreeVNCDesktops(t *testing.T, b *Broker, pool string) int {
	t.Helper()
	ctx := context.Background()
	ds, err := b.Desktops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		if d.Pool != pool || d.State != "AVAILABLE" || d.IP == "" || d.User != "" {
			continue
		}
		a, err := b.reachable(ctx, reachDesktop, d.ID, d.IP)
		if err != nil {
			t.Fatal(err)
		}
		startVNCDesktop(t, netip.AddrPortFrom(a, 5900).String(), d.ID)
		n++
	}
	if n == 0 {
		t.Fatalf("no running free desktop in pool %s", pool)
	}
	return n
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

// TestPortalNoVNCBrowser: alice's policy gives her a VNC desktop; she
// signs in, presses Connect, and the page shows the remote desktop in
// noVNC (the canvas's pixels hold the xterm's white window with black text
// on the black root window), through the gateway's WebSocket with her
// ticket. The table follows without a reload: her desktop, AVAILABLE,
// active, CONNECTED. Closing the page disconnects, and the power plan
// stops the desktop on the virtual clock.
func TestPortalNoVNCBrowser(t *testing.T) {
	requirePrograms(t, vncPrograms...)
	requireNoVNC(t)
	pe := startPortalEnv(t, vncPolicy)
	startFreeVNCDesktops(t, pe.b, "eng")
	srv := pe.srv.URL
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv+"/portal/"),
		chromedp.WaitVisible(chromedp.ID("user-name")),
		chromedp.SendKeys(chromedp.ID("user-name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-pw"),
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
	alice, _ := pe.b.Store().OpenSession(context.Background(), "alice")
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
	// The canvas is the remote screen's size (shown scaled to the box); its
	// pixels show the desktop (noVNC draws the first full update right
	// after connecting: poll).
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
	deadline := time.Now().Add(30 * time.Second)
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
	if n := len(pe.b.Hub().Connections()); n != 1 {
		t.Fatalf("%d live gateway connections, want alice's one", n)
	}
	// Closing the page disconnects: the gateway reports it, the session is
	// disconnected and the power plan (stop-after-30) stops the desktop
	// on the virtual clock.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	testserver.Eventually(t, 20*time.Second, func() bool {
		s, _ := pe.b.Store().Session(bg, alice.ID)
		d, _ := pe.b.Store().Desktop(bg, alice.WorkspaceID)
		return s.State == SessDisconnected && d != nil && !d.StopAt.IsZero() && len(pe.b.Hub().Connections()) == 0
	}, "closing the page disconnects alice's session")
	pe.e.advance(31 * time.Minute)
	reconcileUntil(t, pe.b, func(r *PassReport) bool {
		d, _ := pe.b.Store().Desktop(bg, alice.WorkspaceID)
		return d != nil && !d.StopRequested.IsZero()
	}, "the power plan stops alice's desktop")
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
		if err := hub.Heartbeat(r); err != nil {
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
