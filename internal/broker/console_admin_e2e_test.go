package broker

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dsvc "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/chromedp/chromedp"

	"github.com/deskplane/deskplane/internal/testserver"
)

// twoFreePorts returns two different free TCP ports.
func twoFreePorts(t *testing.T) (int, int) {
	t.Helper()
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}

// consoleLogin posts the console's directory sign-in form and returns the
// status and the page.
func consoleLogin(t *testing.T, c *http.Client, base string, form url.Values) (int, string) {
	t.Helper()
	_, body := getBody(t, c, base+"/console/login")
	form.Set("csrf", csrfRE.FindStringSubmatch(body)[1])
	resp, err := c.PostForm(base+"/console/login", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// adminConsoleEnv is a fleet whose directory answers LDAP, carol (in
// Finance, nested in the console's admin group ConsoleAdmins) and alice
// (not in it) with passwords, served over httptest.
func adminConsoleEnv(t *testing.T) (*testEnv, *httptest.Server) {
	t.Helper()
	e := startEnv(t, testserver.LDAP(twoFreePorts(t)))
	e.withPools(1, 3, 1)
	ctx := context.Background()
	ds := dsvc.NewFromConfig(e.s.Admin())
	dirs, err := ds.DescribeDirectories(ctx, &dsvc.DescribeDirectoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	dirID := ""
	for _, d := range dirs.DirectoryDescriptions {
		if aws.ToString(d.Name) == "corp.example.com" {
			dirID = aws.ToString(d.DirectoryId)
		}
	}
	for _, ep := range e.s.LDAP.Endpoints() {
		if ep.DirectoryID == dirID && ep.Region == "us-east-1" {
			e.cfg.Portal.LDAP = map[string]string{"corp.example.com": "ldap://" + net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPPort))}
		}
	}
	if e.cfg.Portal.LDAP == nil {
		t.Fatalf("directory %s answers no LDAP", dirID)
	}
	// carol is in Finance, alice in Engineering.
	for user, pw := range map[string]string{"carol": "Carol-Adm1n!", "alice": "Alice-Us3r!"} {
		if _, err := ds.ResetUserPassword(ctx, &dsvc.ResetUserPasswordInput{DirectoryId: aws.String(dirID), UserName: aws.String(user), NewPassword: aws.String(pw)}); err != nil {
			t.Fatalf("ResetUserPassword %s: %v", user, err)
		}
	}
	// The admin group holds Finance as a nested group: carol is a member
	// through it.
	if _, err := e.c.DSData.CreateGroup(ctx, dirID, "ConsoleAdmins"); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if err := e.c.DSData.AddGroupMember(ctx, dirID, "ConsoleAdmins", "Finance"); err != nil {
		t.Fatalf("AddGroupMember: %v", err)
	}
	e.cfg.Console.AdminGroup = "ConsoleAdmins"
	f, err := NewFleet(ctx, e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return e, srv
}

// Members of the configured directory admin group sign in to the console
// with their directory password (an LDAP bind as the user against
// deskplane's directory, then a memberOf check, nested groups included); a
// non-member with the right password and anyone with a wrong one are
// refused; the api token still signs in.
func TestConsoleDirectoryAdminGroupSignIn(t *testing.T) {
	e, srv := adminConsoleEnv(t)
	ctx := context.Background()
	// A member of the group (through Finance): signed in, the console's
	// pages open.
	carol := browserClient(t)
	code, body := consoleLogin(t, carol, srv.URL, url.Values{"user": {"carol"}, "password": {"Carol-Adm1n!"}})
	if code != 200 || !strings.Contains(body, `id="pool-chart"`) || strings.Contains(body, `id="login"`) {
		t.Fatalf("carol (Finance, in ConsoleAdmins): %d %s", code, body)
	}
	if code, body := getBody(t, carol, srv.URL+"/console/desktops"); code != 200 || strings.Contains(body, `id="login"`) {
		t.Fatalf("carol's desktops page: %d %s", code, body)
	}
	// Not a member: the right password is not enough.
	alice := browserClient(t)
	code, body = consoleLogin(t, alice, srv.URL, url.Values{"user": {"alice"}, "password": {"Alice-Us3r!"}})
	if code != http.StatusForbidden || !strings.Contains(body, "not a member of the console&#39;s admin group") {
		t.Fatalf("alice (Engineering): %d %s", code, body)
	}
	if _, body := getBody(t, alice, srv.URL+"/console/desktops"); !strings.Contains(body, `id="login"`) {
		t.Fatal("alice got in")
	}
	// A member with a wrong password, an unknown user, an empty password,
	// a name that would change the filter.
	for _, up := range [][2]string{{"carol", "wrong"}, {"mallory", "Carol-Adm1n!"}, {"carol", ""}, {"carol)(cn=*", "Carol-Adm1n!"}} {
		code, body := consoleLogin(t, browserClient(t), srv.URL, url.Values{"user": {up[0]}, "password": {up[1]}})
		if code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
			t.Fatalf("%q/%q: %d %s", up[0], up[1], code, body)
		}
	}
	// The api token still signs in.
	code, body = consoleLogin(t, browserClient(t), srv.URL, url.Values{"token": {"test-token"}})
	if code != 200 || !strings.Contains(body, `id="pool-chart"`) {
		t.Fatalf("token sign-in: %d %s", code, body)
	}
	// Without an admin group configured, directory sign-in is refused.
	e.cfg.Console.AdminGroup = ""
	e.cfg.DataDir = t.TempDir()
	f2, err := NewFleet(ctx, e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f2.Close() })
	srv2 := httptest.NewServer(f2.Handler())
	t.Cleanup(srv2.Close)
	if code, _ := consoleLogin(t, browserClient(t), srv2.URL, url.Values{"user": {"carol"}, "password": {"Carol-Adm1n!"}}); code != http.StatusUnauthorized {
		t.Fatalf("no admin group configured: carol got %d", code)
	}
}

// TestConsoleDirectoryAdminBrowser: in Chromium, carol signs in to the
// console with the directory form and sees the pool chart; alice is told
// she is not a member.
func TestConsoleDirectoryAdminBrowser(t *testing.T) {
	_, srv := adminConsoleEnv(t)
	for _, tc := range []struct{ user, pw, wait string }{
		{"alice", "Alice-Us3r!", "error"},
		{"carol", "Carol-Adm1n!", "pool-chart"},
	} {
		ctx := browser(t)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/console/"),
			chromedp.WaitVisible(chromedp.ID("user")),
			chromedp.SendKeys(chromedp.ID("user"), tc.user),
			chromedp.SendKeys(chromedp.ID("password"), tc.pw),
			chromedp.Click(chromedp.ID("signin-directory")),
			chromedp.WaitVisible(chromedp.ID(tc.wait)),
		); err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		if tc.user == "alice" {
			msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("error").textContent`))
			if err != nil || !strings.Contains(msg, "not a member") {
				t.Fatalf("alice's error %q %v", msg, err)
			}
			screenshot(t, ctx, "console-login-directory")
		}
	}
}
