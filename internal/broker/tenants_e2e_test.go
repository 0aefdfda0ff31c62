package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// twoCustomerServer starts deskplane with the default environment plus, by
// configuration alone, the second account made a customer: a directory
// (corp2.example.com, whose users include another alice), the Windows
// images, BYOL, and a role the partner assumes with an ExternalId of its own.
func twoCustomerServer(t *testing.T) *testserver.Server {
	t.Helper()
	cfg := config.Default()
	acct := &cfg.Accounts[1]
	acct.BYOLEligible = true
	acct.Images = config.DefaultImages()
	acct.Directories = []config.Directory{{
		Name: "corp2.example.com", ShortName: "CORP2", Type: "MicrosoftAD", Edition: "Standard",
		Users:  []config.DirectoryUser{{Name: "alice", GivenName: "Alice", Surname: "Other"}, {Name: "erin", GivenName: "Erin"}},
		Groups: map[string][]string{"Engineering": {"alice", "erin"}},
	}}
	acct.Roles = []config.Role{{Name: "CustomerRole",
		TrustPolicy: map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + config.PartnerAccount + ":root"},
			"Action": "sts:AssumeRole", "Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": "Customer-5678"}},
		}}},
		Policies: map[string]any{"PartnerManaged": config.PartnerRolePolicy()}}}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "deskplane.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, testserver.VirtualClock(), testserver.ConfigFile(path))
}

func tenantsConfig(s *testserver.Server, dataDir string) *Config {
	pool := func() []Pool {
		return []Pool{{Name: "eng", Directory: "", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 1, Max: 2, Warm: 1}}
	}
	policies := []Policy{{Name: "engineers", Groups: []string{"Engineering"}, Pool: "eng", ProtocolPlan: "dcv"}}
	acme := Tenant{Name: "acme", Config: Config{
		RoleARN: config.PartnerRoleARN, ExternalID: config.PartnerExternalID, APITokens: []string{"acme-token"},
		Onboarding: Onboarding{Directory: "corp.example.com", ImageName: "win11-byol", BundleName: "win11-bundle"},
		Pools:      pool(), Policies: policies,
	}}
	acme.Pools[0].Directory = "corp.example.com"
	globex := Tenant{Name: "globex", Config: Config{
		RoleARN: "arn:aws:iam::" + config.PartnerAccount + ":role/CustomerRole", ExternalID: "Customer-5678", APITokens: []string{"globex-token"},
		Onboarding: Onboarding{Directory: "corp2.example.com", ImageName: "win11-byol", BundleName: "win11-bundle"},
		Pools:      pool(), Policies: policies,
	}}
	globex.Pools[0].Directory = "corp2.example.com"
	c := &Config{
		Endpoint: s.URL, Region: "us-east-1",
		AccessKeyID: config.PartnerKeyID, SecretAccessKey: config.PartnerSecret,
		DataDir: dataDir, APITokens: []string{"admin-token"},
		MaxAttempts: 20, MaxBackoff: "50ms",
		Tenants: []Tenant{acme, globex},
	}
	c.applyDefaults()
	return c
}

func TestTenantConfigValidation(t *testing.T) {
	s := &testserver.Server{URL: "http://127.0.0.1:1"}
	c := tenantsConfig(s, t.TempDir())
	names, cfgs, err := c.TenantConfigs()
	if err != nil || len(names) != 2 || cfgs[1].DataDir != filepath.Join(c.DataDir, "tenants", "globex") || cfgs[1].Endpoint != s.URL || cfgs[1].AccessKeyID != config.PartnerKeyID {
		t.Fatalf("TenantConfigs = %v %+v %v", names, cfgs, err)
	}
	for name, mutate := range map[string]func(c *Config){
		"shared external id":       func(c *Config) { c.Tenants[1].ExternalID = c.Tenants[0].ExternalID },
		"role without external id": func(c *Config) { c.Tenants[1].ExternalID = "" },
		"duplicate name":           func(c *Config) { c.Tenants[1].Name = "acme" },
		"tenant sets listen":       func(c *Config) { c.Tenants[0].Listen = "0.0.0.0:1" },
		"top-level pools":          func(c *Config) { c.Pools = c.Tenants[0].Pools },
		"bad name":                 func(c *Config) { c.Tenants[0].Name = "Acme Corp" },
	} {
		c := tenantsConfig(s, t.TempDir())
		mutate(c)
		if _, _, err := c.TenantConfigs(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestTwoTenantsNoLeakage runs one broker for two customers in two accounts
// of one deskplane: each tenant's alice gets a desktop in her own
// customer's account, and no token reaches the other tenant's pools,
// sessions, cost or metrics.
func TestTwoTenantsNoLeakage(t *testing.T) {
	s := twoCustomerServer(t)
	cfg := tenantsConfig(s, t.TempDir())
	ctx := context.Background()
	clock := NewFakeClock(time.Now(), false)
	names, tcfgs, err := cfg.TenantConfigs()
	if err != nil {
		t.Fatal(err)
	}
	// Onboard each tenant as the partner, through its own role.
	for i, name := range names {
		awsCfg, err := NewAWSConfig(ctx, tcfgs[i], 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c := NewClients(awsCfg, tcfgs[i].Endpoint)
		var out bytes.Buffer
		on := &Onboarder{C: c, Cfg: tcfgs[i].Onboarding, Out: &out, Poll: 10 * time.Millisecond, Timeout: 30 * time.Second, In: bufioReader("1\n"),
			Ports: tcfgs[i].ProtocolPorts()}
		on.Cfg.AMI = "win11-ent-23h2-byol"
		if _, err := on.Run(ctx); err != nil {
			t.Fatalf("onboard %s: %v\n%s", name, err, out.String())
		}
	}
	fleet, err := NewFleet(ctx, cfg, 30*time.Second, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	for _, name := range names {
		reconcileUntil(t, fleet.Broker(name), func(r *PassReport) bool { return settled(r, "eng") }, "tenant "+name+" settles")
	}
	srv := httptest.NewServer(fleet.Handler())
	defer srv.Close()
	call := func(method, path, token string, body any) (int, map[string]any) {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}

	// Each tenant's alice gets her own customer's desktop.
	code, acmeSess := call("POST", "/v1/sessions", "acme-token", map[string]string{"user": "alice"})
	if code != http.StatusOK {
		t.Fatalf("acme alice: %d %v", code, acmeSess)
	}
	code, globexSess := call("POST", "/v1/tenants/globex/sessions", "globex-token", map[string]string{"user": "alice"})
	if code != http.StatusOK {
		t.Fatalf("globex alice: %d %v", code, globexSess)
	}
	owner := func(keyID, secret, id string) int {
		out, err := workspaces.NewFromConfig(s.Config(keyID, secret)).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Workspaces)
	}
	acmeWS, globexWS := acmeSess["workspace_id"].(string), globexSess["workspace_id"].(string)
	if owner(config.AdminKeyID, config.AdminSecret, acmeWS) != 1 || owner(config.AdminKeyID, config.AdminSecret, globexWS) != 0 {
		t.Fatalf("acme's desktop %s is not (only) in the customer account", acmeWS)
	}
	if owner(config.PartnerKeyID, config.PartnerSecret, globexWS) != 1 || owner(config.PartnerKeyID, config.PartnerSecret, acmeWS) != 0 {
		t.Fatalf("globex's desktop %s is not (only) in the second account", globexWS)
	}

	// No tenant's token reaches the other tenant.
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/v1/tenants/acme/pools", "globex-token", http.StatusUnauthorized},
		{"GET", "/v1/tenants/acme/sessions/" + acmeSess["session_id"].(string), "globex-token", http.StatusUnauthorized},
		{"GET", "/v1/sessions/" + acmeSess["session_id"].(string), "globex-token", http.StatusNotFound},
		{"GET", "/v1/tenants/nosuch/pools", "globex-token", http.StatusUnauthorized},
		{"GET", "/v1/tenants", "acme-token", http.StatusUnauthorized},
		{"GET", "/v1/sessions/" + acmeSess["session_id"].(string), "acme-token", http.StatusOK},
		{"GET", "/v1/tenants/globex/sessions/" + globexSess["session_id"].(string), "admin-token", http.StatusOK},
		{"GET", "/v1/tenants/nosuch/pools", "admin-token", http.StatusNotFound},
		{"GET", "/v1/pools", "admin-token", http.StatusBadRequest},
		{"GET", "/v1/pools", "nobody", http.StatusUnauthorized},
	} {
		if code, body := call(c.method, c.path, c.token, nil); code != c.want {
			t.Errorf("%s %s with %s: %d %v, want %d", c.method, c.path, c.token, code, body, c.want)
		}
	}
	code, tenants := call("GET", "/v1/tenants", "admin-token", nil)
	if code != http.StatusOK || len(tenants["tenants"].([]any)) != 2 {
		t.Fatalf("GET /v1/tenants: %d %v", code, tenants)
	}

	// Cost: each tenant sees its own desktops only.
	clock.Advance(2 * time.Hour)
	s.Advance(2 * time.Hour)
	for tok, ws := range map[string]string{"acme-token": acmeWS, "globex-token": globexWS} {
		code, cost := call("GET", "/v1/cost", tok, nil)
		raw, _ := json.Marshal(cost)
		other := globexWS
		if ws == globexWS {
			other = acmeWS
		}
		if code != http.StatusOK || strings.Contains(string(raw), other) {
			t.Errorf("cost with %s: %d, mentions the other tenant's desktop: %s", tok, code, raw)
		}
	}

	// Console: globex's operator sees globex's desktops, sessions, cost and
	// events only, cannot open acme's pages, and cannot act on acme's
	// desktop; an administrator opens either tenant.
	acmeSID, globexSID := acmeSess["session_id"].(string), globexSess["session_id"].(string)
	bc := browserClient(t)
	_, body := getBody(t, bc, srv.URL+"/console/login")
	resp, err := bc.PostForm(srv.URL+"/console/login", url.Values{"token": {"globex-token"}, "csrf": {csrfRE.FindStringSubmatch(body)[1]}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("console sign-in as globex: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, page := range []string{"", "desktops", "sessions", "cost", "events", "regions", "gateways", "onboarding"} {
		code, body := getBody(t, bc, srv.URL+"/console/"+page)
		if code != http.StatusOK || strings.Contains(body, `id="login"`) || strings.Contains(body, acmeWS) || strings.Contains(body, acmeSID) || strings.Contains(body, "acme") {
			t.Errorf("globex's console page %q: %d, shows acme's desktop, session or name:\n%s", page, code, body)
		}
		if code, _ := getBody(t, bc, srv.URL+"/console/"+page+"?tenant=acme"); code != http.StatusNotFound {
			t.Errorf("globex's console page %q of tenant acme: %d, want 404", page, code)
		}
	}
	if _, body := getBody(t, bc, srv.URL+"/console/desktops"); !strings.Contains(body, globexWS) {
		t.Errorf("globex's console desktops page does not list its desktop %s", globexWS)
	}
	if _, body := getBody(t, bc, srv.URL+"/console/sessions"); !strings.Contains(body, globexSID) {
		t.Errorf("globex's console sessions page does not list its session %s", globexSID)
	}
	_, body = getBody(t, bc, srv.URL+"/console/desktops")
	scsrf := csrfRE.FindStringSubmatch(body)[1]
	for _, path := range []string{"/console/desktops/" + acmeWS + "/stop?tenant=acme", "/console/desktops/" + acmeWS + "/stop"} {
		resp, err := bc.PostForm(srv.URL+path, url.Values{"csrf": {scsrf}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && !strings.Contains(string(b), "no such desktop") {
			t.Errorf("globex's console stopping acme's desktop (%s): %d without the no-such-desktop error", path, resp.StatusCode)
		}
	}
	if d, err := fleet.Broker("acme").Store().Desktop(ctx, acmeWS); err != nil || d == nil || !d.StopRequested.IsZero() {
		t.Errorf("acme's desktop after globex's console tried to stop it: %+v %v", d, err)
	}
	ac := browserClient(t)
	_, body = getBody(t, ac, srv.URL+"/console/login")
	if resp, err := ac.PostForm(srv.URL+"/console/login", url.Values{"token": {"admin-token"}, "csrf": {csrfRE.FindStringSubmatch(body)[1]}}); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("console sign-in as the administrator: %v %v", resp, err)
	}
	for tenant, ws := range map[string]string{"acme": acmeWS, "globex": globexWS} {
		if code, body := getBody(t, ac, srv.URL+"/console/desktops?tenant="+tenant); code != http.StatusOK || !strings.Contains(body, ws) {
			t.Errorf("the administrator's console desktops page of %s: %d, without %s", tenant, code, ws)
		}
	}

	// Metrics: an administrator sees both tenants, labelled; a tenant sees
	// its own only.
	all := scrape(t, srv.URL, "admin-token")
	for _, name := range names {
		if value(all, "deskplane_broker_sessions", map[string]string{"tenant": name, "state": "active"}) != 1 {
			t.Errorf("admin metrics: tenant %s has no active session", name)
		}
	}
	own := scrape(t, srv.URL, "globex-token")
	if value(own, "deskplane_broker_sessions", map[string]string{"state": "active"}) != 1 {
		t.Errorf("globex metrics: active sessions != 1")
	}
	for _, f := range own {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "tenant" {
					t.Fatalf("a tenant's metrics carry tenant labels: %v", m)
				}
			}
		}
	}
}
