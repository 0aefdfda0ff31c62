package broker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/deskplane/deskplane/internal/ldapd"
	"github.com/deskplane/deskplane/internal/runtime"
	"github.com/deskplane/deskplane/internal/testserver"
)

// fakeDeskplane answers deskplane's health, runtime and LDAP listings (in
// their own types) with a desktop and a directory the runtime moved off
// their preferred loopback addresses, for the admin token "tok".
func fakeDeskplane(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_deskplane/health", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	admin := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok" {
				http.Error(w, `{"error":"a valid admin bearer token is required"}`, http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(v)
		}
	}
	mux.HandleFunc("GET /_deskplane/runtime", admin(map[string]any{"runtime": "process", "desktops": []runtime.Info{
		{WorkspaceID: "ws-moved", VPCAddress: "10.0.1.4", Address: "127.255.255.254", State: "ready"},
		{WorkspaceID: "ws-home", VPCAddress: "10.0.1.6", Address: "127.0.1.6", State: "ready"},
	}}))
	mux.HandleFunc("GET /_deskplane/ldap", admin(map[string]any{"enabled": true, "endpoints": []ldapd.Endpoint{
		{DirectoryID: "d-1", DNSIP: "10.0.2.22", Address: "127.255.255.253", LDAPPort: 389},
		{DirectoryID: "d-1", DNSIP: "10.0.3.22", Address: "127.0.3.22", LDAPPort: 389},
	}}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestReachable(t *testing.T) {
	ctx := context.Background()
	dp := fakeDeskplane(t)
	other := httptest.NewServer(http.NotFoundHandler()) // an endpoint that is not deskplane
	t.Cleanup(other.Close)
	real := testserver.Start(t)
	cases := []struct {
		name                  string
		endpoint, token, mode string
		kind, id, ip, want    string
	}{
		// deskplane with its admin token: where the runtime put it.
		{"moved desktop", dp.URL, "tok", "", reachDesktop, "ws-moved", "10.0.1.4", "127.255.255.254"},
		{"desktop at home", dp.URL, "tok", "auto", reachDesktop, "ws-home", "10.0.1.6", "127.0.1.6"},
		{"unlisted desktop", dp.URL, "tok", "", reachDesktop, "ws-gone", "10.0.1.5", "127.0.1.5"},
		{"moved directory", dp.URL, "tok", "", reachDirectory, "d-1", "10.0.2.22", "127.255.255.253"},
		{"directory's other address", dp.URL, "tok", "", reachDirectory, "d-1", "10.0.3.22", "127.0.3.22"},
		// deskplane without (or with a wrong) token: the preferred address.
		{"no token", dp.URL, "", "", reachDesktop, "ws-moved", "10.0.1.4", "127.0.1.4"},
		{"wrong token", dp.URL, "nope", "", reachDesktop, "ws-moved", "10.0.1.4", "127.0.1.4"},
		// A real deskplane without a runtime lists nothing.
		{"deskplane, no runtime", real.URL, real.AdminToken, "", reachDesktop, "ws-x", "10.0.1.4", "127.0.1.4"},
		// AWS, or an endpoint that is not deskplane: the address itself.
		{"aws", "", "", "", reachDesktop, "ws-moved", "10.0.1.4", "10.0.1.4"},
		{"not deskplane", other.URL, "tok", "", reachDirectory, "d-1", "10.0.2.22", "10.0.2.22"},
		// An explicit address_map wins.
		{"direct", dp.URL, "tok", "direct", reachDesktop, "ws-moved", "10.0.1.4", "10.0.1.4"},
		{"loopback", "", "", "loopback", reachDesktop, "ws-moved", "10.0.1.4", "127.0.1.4"},
	}
	for _, c := range cases {
		r := newReacher(&Config{Endpoint: c.endpoint, DeskplaneAdminToken: c.token, Gateway: GatewayConfig{AddressMap: c.mode}})
		got, err := r.reachable(ctx, slogDiscard(), c.kind, c.id, c.ip)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: %v %v, want %s", c.name, got, err, c.want)
		}
	}
	r := newReacher(&Config{Endpoint: dp.URL})
	if _, err := r.reachable(ctx, slogDiscard(), reachDesktop, "ws-1", "not-an-ip"); err == nil {
		t.Error("a bad address resolved")
	}
}
