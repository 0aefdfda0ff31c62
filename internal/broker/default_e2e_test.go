package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestExampleConfigForTheDefaultServer runs the README's broker sequence in
// process: examples/broker-default.json against a server with the default
// environment, onboarding without a prompt (no terminal, --no-prompt) as
// the default PartnerRole, then a session for alice.
func TestExampleConfigForTheDefaultServer(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "broker-default.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["endpoint"], doc["data_dir"] = s.URL, t.TempDir()
	raw, _ = json.Marshal(doc)
	path := filepath.Join(t.TempDir(), "broker.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxBackoff, cfg.MaxAttempts = "50ms", 20
	onboard := func() string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := MainWith([]string{"onboard", "--config", path, "--no-prompt", "--poll", "10ms"}, nil, &out, &errb, Options{}); code != 0 {
			t.Fatalf("onboard: exit %d\n%s\n%s", code, out.String(), errb.String())
		}
		return out.String()
	}
	if out := onboard(); strings.Count(out, "✓") != 5 || strings.Contains(out, "skipped") {
		t.Fatalf("first onboard:\n%s", out)
	}
	if out := onboard(); strings.Count(out, "skipped") != 5 {
		t.Fatalf("second onboard:\n%s", out)
	}

	awsCfg, err := NewAWSConfig(context.Background(), cfg, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, NewClients(awsCfg, cfg.Endpoint), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin") && r.Pools["eng"].Desktops == 1 }, "the pools settle as PartnerRole")
	var v *SessionView
	testserver.Eventually(t, 30*time.Second, func() bool {
		v, err = b.RequestSession(context.Background(), "alice")
		if err != nil {
			t.Fatalf("alice: %v", err)
		}
		return v.Ready()
	}, "a desktop for alice")
	if v.IP == "" || v.Port != 8443 || v.Protocol != "DCV" {
		t.Fatalf("alice's session: %+v", v)
	}
}
