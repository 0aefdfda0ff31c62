package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/deskplane/deskplane/internal/testserver"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIAndSessionAPI drives the command line (onboard with flags,
// reconcile, cost) and the HTTP session API.
func TestCLIAndSessionAPI(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	imgs, err := ListImportableImages(ctx, e.c.EC2)
	if err != nil {
		t.Fatal(err)
	}
	ami := ""
	for _, im := range imgs {
		if *im.Name == "win10-ent-22h2-byol" {
			ami = *im.ImageId
		}
	}
	e.cfg.Pools = []Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "cli-bundle", RunningMode: "MANUAL", Min: 1, Max: 3, Warm: 1}}
	e.cfg.Policies = []Policy{{Name: "eng", Groups: []string{"Engineering"}, Pool: "eng", ProtocolPlan: "dcv", PowerPlan: "stop-now", ReleasePlan: "keep"}}
	path := filepath.Join(t.TempDir(), "broker.json")
	raw, _ := json.Marshal(e.cfg)
	os.WriteFile(path, raw, 0o600)
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := MainWith(args, strings.NewReader(""), &out, &errb, Options{Clock: e.clock}); code != 0 {
			t.Fatalf("broker %v: exit %d\n%s\n%s", args, code, out.String(), errb.String())
		}
		return out.String()
	}
	onboard := []string{"onboard", "--config", path, "--cidr", "10.7.0.0/16", "--ami", ami, "--image-name", "cli-image",
		"--bundle-name", "cli-bundle", "--no-prompt", "--poll", "10ms"}
	out := run(onboard...)
	if strings.Count(out, "✓") != 5 || strings.Contains(out, "skipped") {
		t.Fatalf("first onboard:\n%s", out)
	}
	if out := run(onboard...); strings.Count(out, "skipped") != 5 {
		t.Fatalf("second onboard:\n%s", out)
	}
	// Missing choices without a prompt fail with the options listed.
	var errb bytes.Buffer
	if code := MainWith([]string{"onboard", "--config", path, "--image-name", "other", "--no-prompt", "--poll", "10ms"}, nil, &bytes.Buffer{}, &errb, Options{}); code == 0 || !strings.Contains(errb.String(), "ami-") {
		t.Fatalf("onboard without --ami: %d %s", code, errb.String())
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		var rep PassReport
		json.Unmarshal([]byte(run("reconcile", "--config", path)), &rep)
		return settled(&rep, "eng") && rep.Pools["eng"].Desktops == 1
	}, "cli reconcile")

	// The session API, on the same store.
	b := e.broker()
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	call := func(method, path, token string, body any) (int, map[string]any) {
		var rd *bytes.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := call("POST", "/v1/sessions", "", map[string]string{"user": "alice"}); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := call("POST", "/v1/sessions", "wrong", map[string]string{"user": "alice"}); code != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", code)
	}
	if code, _ := call("POST", "/v1/sessions", "test-token", map[string]string{"user": "nobody"}); code != http.StatusNotFound {
		t.Fatalf("unknown user: %d", code)
	}
	if code, m := call("POST", "/v1/sessions", "test-token", map[string]string{"user": "carol"}); code != http.StatusForbidden {
		t.Fatalf("carol has no policy here: %d %v", code, m)
	}
	code, m := call("POST", "/v1/sessions", "test-token", map[string]string{"user": "alice"})
	if code != http.StatusOK || m["protocol"] != "DCV" || m["port"].(float64) != 8443 || m["ip"] == "" {
		t.Fatalf("alice: %d %v", code, m)
	}
	id := m["session_id"].(string)
	// bob waits while the pool grows (202 + Retry-After), then connects.
	code, m = call("POST", "/v1/sessions", "test-token", map[string]string{"user": "bob"})
	if code != http.StatusAccepted && code != http.StatusOK {
		t.Fatalf("bob: %d %v", code, m)
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		b.Reconcile(ctx)
		code, m = call("POST", "/v1/sessions", "test-token", map[string]string{"user": "bob"})
		return code == http.StatusOK
	}, "bob connects")
	if code, m := call("POST", "/v1/sessions/"+id+"/logout", "test-token", nil); code != http.StatusOK || m["state"] != SessEnded {
		t.Fatalf("logout: %d %v", code, m)
	}
	if code, _ := call("POST", "/v1/sessions/nope/logout", "test-token", nil); code != http.StatusNotFound {
		t.Fatalf("unknown session: %d", code)
	}
	e.advance(2 * time.Hour)
	if code, m := call("GET", "/v1/cost", "test-token", nil); code != http.StatusOK || m["total"] == nil {
		t.Fatalf("cost: %d %v", code, m)
	}
	if code, m := call("GET", "/v1/pools", "test-token", nil); code != http.StatusOK || m["eng"] == nil {
		t.Fatalf("pools: %d %v", code, m)
	}
	b.Close()
	out = run("cost", "--config", path)
	if !strings.Contains(out, "alice") || !strings.Contains(out, "ALWAYS_ON") {
		t.Fatalf("cost:\n%s", out)
	}
	t.Logf("cost:\n%s", out)
}
