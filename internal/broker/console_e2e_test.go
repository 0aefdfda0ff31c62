package broker

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fleetEnv is a fleet (one tenant) with pools, served over httptest.
func fleetEnv(t *testing.T) (*testEnv, *Fleet, *Broker, *httptest.Server) {
	t.Helper()
	e := startEnv(t)
	e.withPools(1, 3, 1)
	f, err := NewFleet(context.Background(), e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	b := f.Broker(DefaultTenant)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "pools settle")
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return e, f, b, srv
}

func browserClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func getBody(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestConsoleSignInChartsAndActions(t *testing.T) {
	_, _, b, srv := fleetEnv(t)
	c := browserClient(t)
	// Unsigned: every page leads to the sign-in form.
	code, body := getBody(t, c, srv.URL+"/console/desktops")
	if code != 200 || !strings.Contains(body, `id="login"`) {
		t.Fatalf("unsigned desktops page: %d %s", code, body)
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]
	// Without the form's CSRF token, and with a wrong token, sign-in fails.
	resp, _ := c.PostForm(srv.URL+"/console/login", url.Values{"token": {"test-token"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without csrf: %d", resp.StatusCode)
	}
	resp, _ = c.PostForm(srv.URL+"/console/login", url.Values{"token": {"nope"}, "csrf": {csrf}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with a wrong token: %d", resp.StatusCode)
	}
	resp, err := c.PostForm(srv.URL+"/console/login", url.Values{"token": {"test-token"}, "csrf": {csrf}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", resp.StatusCode, err)
	}
	body2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body2), `id="pool-chart"`) || !strings.Contains(string(body2), "eng: 1 AVAILABLE") {
		t.Fatalf("pools page: %s", body2)
	}
	u, _ := url.Parse(srv.URL + "/console/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "dp_console" && ck.Value == "" {
			t.Fatal("empty session cookie")
		}
	}
	// Cookies are HttpOnly and SameSite=Strict.
	r0, _ := http.Get(srv.URL + "/console/login")
	r0.Body.Close()
	if sc := r0.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Fatalf("cookie %q", sc)
	}
	for _, page := range []string{"sessions", "gateways", "cost", "regions", "events", "desktops", "onboarding"} {
		code, body := getBody(t, c, srv.URL+"/console/"+page)
		if code != 200 || strings.Contains(body, `id="login"`) || strings.Contains(body, "template error") {
			t.Fatalf("%s: %d %s", page, code, body)
		}
	}
	// Onboarding status: the pools' "partner" protocol plan (port 2598)
	// was added after onboarding, so its security group lacks the port.
	_, body = getBody(t, c, srv.URL+"/console/onboarding")
	if !regexp.MustCompile(`id="step-security-group"><td>security-group</td><td>✗</td><td>the custom security group sg-\w+ of d-\w+ does not let TCP 2598 in`).MatchString(body) ||
		strings.Count(body, "✓") != 4 {
		t.Fatalf("onboarding page: %s", body)
	}
	_, body = getBody(t, c, srv.URL+"/console/cost")
	if !strings.Contains(body, `id="cost-chart"`) || !strings.Contains(body, "AVAILABLE:") {
		t.Fatalf("cost page: %s", body)
	}
	// Stop the eng desktop: refused without the session's CSRF token.
	ds, _ := b.Desktops(context.Background())
	var id string
	for _, d := range ds {
		if d.Pool == "eng" && d.State == "AVAILABLE" {
			id = d.ID
		}
	}
	resp, _ = c.PostForm(srv.URL+"/console/desktops/"+id+"/stop", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stop with the sign-in form's token: %d", resp.StatusCode)
	}
	_, body = getBody(t, c, srv.URL+"/console/desktops")
	scsrf := csrfRE.FindStringSubmatch(body)[1]
	resp, _ = c.PostForm(srv.URL+"/console/desktops/"+id+"/stop", url.Values{"csrf": {scsrf}})
	if resp.StatusCode != 200 {
		t.Fatalf("stop: %d", resp.StatusCode)
	}
	d, _ := b.Store().Desktop(context.Background(), id)
	if d.StopRequested.IsZero() {
		t.Fatalf("desktop %+v not stopped", d)
	}
	ev, _ := b.Events(context.Background(), 10)
	if len(ev) == 0 || ev[0].Kind != "operator-stop" || ev[0].WorkspaceID != id {
		t.Fatalf("events %+v", ev)
	}
	// Sign out: the cookie no longer works.
	resp, _ = c.PostForm(srv.URL+"/console/logout", url.Values{"csrf": {scsrf}})
	resp.Body.Close()
	if _, body := getBody(t, c, srv.URL+"/console/"); !strings.Contains(body, `id="login"`) {
		t.Fatal("signed out, still in")
	}
}
