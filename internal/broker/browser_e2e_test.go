package broker

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/chromedp/chromedp"

	"github.com/deskplane/deskplane/internal/testserver"
)

// screenshotDir is where the browser tests save their screenshots
// (gitignored).
const screenshotDir = "../../test/artifacts/screenshots"

// browser starts headless Chromium (Debian's chromium package). Without it
// the test is skipped, unless DESKPLANE_REQUIRE_CHROMIUM=1 (scripts/test.sh
// installs it and sets that) or CI=true, when it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if x, err := exec.LookPath(p); err == nil {
			path = x
			break
		}
	}
	if path == "" {
		if os.Getenv("DESKPLANE_REQUIRE_CHROMIUM") == "1" || os.Getenv("CI") == "true" {
			t.Fatal("chromium is required (apt-get install -y chromium)")
		}
		t.Skip("chromium not installed")
	}
	// Chromium keeps its singleton socket in a directory of its own under
	// TMPDIR and removes it only on a clean exit; the test ends it by
	// killing it, so that directory goes in the test's own.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.Env("TMPDIR="+t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConsoleBrowser(t *testing.T) {
	e, _, b, srv := fleetEnv(t)
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "test-token"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("pool-chart")),
	); err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#pool-chart rect").length`))
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("pool chart has %d bars", n)
	}
	screenshot(t, ctx, "console-pools")
	ds, _ := b.Desktops(context.Background())
	var id string
	for _, d := range ds {
		if d.Pool == "eng" && d.State == "AVAILABLE" {
			id = d.ID
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/console/desktops"),
		chromedp.WaitVisible(chromedp.ID("d-"+id)),
	); err != nil {
		t.Fatal(err)
	}
	// The button posts a form answered by a redirect to the page: wait for
	// that page to load (a Navigate while it loads aborts one of the two:
	// net::ERR_ABORTED).
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#d-"+id+" button.act-stop"))); err != nil {
		t.Fatal(err)
	} else if resp.Status != http.StatusOK {
		t.Fatalf("Stop in the browser: the page after it answered %d", resp.Status)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("desktops"))); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 20*time.Second, func() bool {
		d, _ := b.Store().Desktop(context.Background(), id)
		return d != nil && !d.StopRequested.IsZero()
	}, "Stop in the browser did not stop %s", id)
	// The service stops it (the SDK's DescribeWorkspaces, not the
	// broker's record).
	testserver.Eventually(t, 20*time.Second, func() bool {
		out, err := b.Clients().WorkSpaces.DescribeWorkspaces(context.Background(), &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
		return err == nil && len(out.Workspaces) == 1 && (out.Workspaces[0].State == types.WorkspaceStateStopping || out.Workspaces[0].State == types.WorkspaceStateStopped)
	}, "the service does not stop %s after Stop in the browser", id)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/desktops"), chromedp.WaitVisible(chromedp.ID("d-"+id))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "console-desktops")
	// The cost chart: a day's AVAILABLE bar beside its ALWAYS_ON bar,
	// drawn (its rendered box has height) after hours of running.
	e.advance(3 * time.Hour)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") }, "a pass after three hours")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/cost"), chromedp.WaitVisible(chromedp.ID("cost-chart"))); err != nil {
		t.Fatal(err)
	}
	h, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.max(...[...document.querySelectorAll("#cost-chart rect")].filter(r => r.textContent.includes("AVAILABLE:")).map(r => r.getBoundingClientRect().height))`))
	if err != nil || h <= 0 {
		t.Fatalf("the cost chart's AVAILABLE bars are %v px high (%v)", h, err)
	}
	for _, page := range []string{"cost", "sessions", "gateways", "events", "onboarding", "regions"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/"+page), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "console-"+page)
	}
}

func TestPortalBrowser(t *testing.T) {
	pe := startPortalEnv(t)
	srv := pe.srv.URL
	signIn := func(ctx context.Context, user, pw string) error {
		return chromedp.Do(ctx,
			chromedp.Navigate(srv+"/portal/"),
			chromedp.WaitVisible(chromedp.ID("user-name")),
			chromedp.SendKeys(chromedp.ID("user-name"), user),
			chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Click(chromedp.ID("signin")),
		)
	}
	ctx := browser(t)
	// A wrong password is refused.
	var msg string
	if err := signIn(ctx, "alice", "wrong"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("error"))); err != nil {
		t.Fatal(err)
	}
	msg = text(t, ctx, "error")
	if !strings.Contains(msg, "Wrong user name or password") {
		t.Fatalf("wrong password: %q", msg)
	}
	screenshot(t, ctx, "portal-signin-refused")
	// alice signs in, connects, and sees her guest's banner, then its echo.
	var term string
	if err := signIn(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("connect")),
		chromedp.Click(chromedp.ID("connect")),
	); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, `document.getElementById("terminal").textContent.includes("ready")`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("line"), "hello from the browser\n")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, `document.getElementById("terminal").textContent.includes("hello from the browser")`)
	term = text(t, ctx, "terminal")
	alice, _ := pe.b.Store().OpenSession(context.Background(), "alice")
	if alice == nil || !strings.Contains(term, "deskplane guest "+alice.WorkspaceID+" ready") {
		t.Fatalf("terminal %q (alice's session %+v)", term, alice)
	}
	screenshot(t, ctx, "portal-terminal")
	// The address bar names her session.
	aliceURL := srv + "/portal/sessions/" + alice.ID
	if loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)); err != nil || loc != aliceURL {
		t.Fatalf("alice's address bar: %q %v, want %s", loc, err, aliceURL)
	}

	pe.settle(t) // the warm buffer refills, with a guest
	// bob, in another browser, connects to his own desktop, never alice's.
	bctx := browser(t)
	if err := signIn(bctx, "bob", "bob-pw"); err != nil {
		t.Fatal(err)
	}
	var bterm string
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.ID("connect")),
		chromedp.Click(chromedp.ID("connect")),
	); err != nil {
		t.Fatal(err)
	}
	poll(t, bctx, `document.getElementById("terminal").textContent.includes("ready")`)
	bterm = text(t, bctx, "terminal")
	bob, _ := pe.b.Store().OpenSession(context.Background(), "bob")
	if bob == nil || bob.WorkspaceID == alice.WorkspaceID || strings.Contains(bterm, alice.WorkspaceID) || !strings.Contains(bterm, bob.WorkspaceID) {
		t.Fatalf("bob's terminal %q (bob %+v, alice %s)", bterm, bob, alice.WorkspaceID)
	}
	// bob opens alice's session URL: no such session, nothing connects,
	// and alice's desktop appears nowhere on his page.
	if err := chromedp.Do(bctx, chromedp.Navigate(aliceURL), chromedp.WaitVisible(chromedp.ID("error"))); err != nil {
		t.Fatal(err)
	}
	if msg := text(t, bctx, "error"); !strings.Contains(msg, "No such session") {
		t.Fatalf("bob on alice's session URL: %q", msg)
	}
	if body := text(t, bctx, "desktops") + text(t, bctx, "terminal") + text(t, bctx, "status"); strings.Contains(body, alice.WorkspaceID) {
		t.Fatalf("bob's page on alice's session URL shows her desktop: %q", body)
	}
	screenshot(t, bctx, "portal-session-refused")
	if n := connsOf(pe.b, alice.ID); n != 1 {
		t.Fatalf("alice's session has %d connections after bob opened its URL, want her own 1", n)
	}
	// bob's page lists only his own desktop.
	var page string
	if err := chromedp.Do(bctx, chromedp.Navigate(srv+"/portal/"), chromedp.WaitVisible(chromedp.ID("desktops"))); err != nil {
		t.Fatal(err)
	}
	page = text(t, bctx, "desktops")
	if strings.Contains(page, alice.WorkspaceID) {
		t.Fatalf("bob sees alice's desktop: %q", page)
	}
	// alice presses Disconnect: the power plan applies.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("disconnect"))); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		s, _ := pe.b.Store().Session(context.Background(), alice.ID)
		return s.State == SessDisconnected
	}, "alice's session disconnected after Disconnect")
	// The Disconnect form's redirect may still be loading: a navigation
	// started over it is aborted by the browser, so it is tried again.
	for i := 0; ; i++ {
		err := chromedp.Do(ctx, chromedp.Navigate(srv+"/portal/"), chromedp.WaitVisible(chromedp.ID("desktops")))
		if err == nil {
			break
		}
		if i == 4 || !strings.Contains(err.Error(), "ERR_ABORTED") {
			t.Fatal(err)
		}
	}
	// The page left holds no connection: the table says so by itself.
	poll(t, ctx, `document.querySelector("#desktops .connection").textContent === "DISCONNECTED"`)
	screenshot(t, ctx, "portal-home")

	// 31 minutes later (virtual clock) the power plan has stopped her
	// desktop. Connect starts it: the page says so while it starts, then
	// opens it.
	pe.e.advance(31 * time.Minute)
	reconcileUntil(t, pe.b, func(*PassReport) bool {
		d, _ := pe.b.Store().Desktop(context.Background(), alice.WorkspaceID)
		return d != nil && d.State == "STOPPED"
	}, "the power plan stops alice's desktop", lastPass(func() string {
		d, _ := pe.b.Store().Desktop(context.Background(), alice.WorkspaceID)
		live, _ := pe.b.Store().LiveSessions(context.Background())
		out := fmt.Sprintf("now %s; alice's desktop %+v; live sessions:", pe.e.clock.Now().Format(time.RFC3339), d)
		for _, s := range live {
			out += fmt.Sprintf(" %+v", *s)
		}
		return out
	}))
	poll(t, ctx, `document.querySelector("#desktops .state").textContent === "STOPPED"`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("connect"))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, `/Your desktop is (STOPPED|STARTING|PENDING|starting)[^;]*; waiting/.test(document.getElementById("status").textContent)`)
	screenshot(t, ctx, "portal-starting")
	poll(t, ctx, `document.getElementById("terminal").textContent.includes("deskplane guest `+alice.WorkspaceID+` ready")`)
	if d, _ := pe.b.Store().Desktop(context.Background(), alice.WorkspaceID); d == nil || d.State != "AVAILABLE" {
		t.Fatalf("alice's desktop after Connect started it: %+v", d)
	}
}

// connsOf counts the gateway connections of a session.
func connsOf(b *Broker, session string) int {
	n := 0
	for _, c := range b.Hub().Connections() {
		if c.SessionID == session {
			n++
		}
	}
	return n
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return s
}

func poll(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		// What the page showed instead: its status line, or the start of
		// its text when it has none.
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
			const s = document.getElementById("status");
			return location.pathname + ": " + (s ? "status " + JSON.stringify(s.textContent) : (document.body ? document.body.innerText : "").slice(0, 400));
		})()`))
		t.Fatalf("waiting for %s: %v (the page: %s)", expr, err, shown)
	}
}
