package broker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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
		r := newReacher(&Config{Endpoint: c.endpoint, DeskplaneAdminToken: c.token, Gateway: GatewayConfig{AddressMap: c.mode}}, nil)
		got, err := r.reachable(ctx, slogDiscard(), c.kind, c.id, c.ip)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: %v %v, want %s", c.name, got, err, c.want)
		}
	}
	r := newReacher(&Config{Endpoint: dp.URL}, nil)
	if _, err := r.reachable(ctx, slogDiscard(), reachDesktop, "ws-1", "not-an-ip"); err == nil {
		t.Error("a bad address resolved")
	}
}

// TestReachableCachesRuntimeListing: deskplane's runtime listing is
// fetched once for many lookups within reachListTTL (on the broker's
// clock), again after it; a desktop the cached listing does not hold (or
// holds at another VPC address) fetches it again at once and is found;
// a desktop deskplane does not list at all costs one fetch per lookup and
// resolves to the preferred loopback address. Concurrent misses share one
// fetch.
func TestReachableCachesRuntimeListing(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	fetched := 0
	desktops := []runtime.Info{{WorkspaceID: "ws-a", VPCAddress: "10.0.1.4", Address: "127.255.255.254", State: "ready"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_deskplane/health", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /_deskplane/runtime", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "{}", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fetched++
		json.NewEncoder(w).Encode(map[string]any{"runtime": "x11", "desktops": desktops})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clock := NewFakeClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), true)
	r := newReacher(&Config{Endpoint: srv.URL, DeskplaneAdminToken: "tok"}, clock)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return fetched
	}
	resolve := func(id, ip, want string) {
		t.Helper()
		got, err := r.reachable(ctx, slogDiscard(), reachDesktop, id, ip)
		if err != nil || got.String() != want {
			t.Fatalf("%s at %s: %v %v, want %s", id, ip, got, err, want)
		}
	}
	for range 20 {
		resolve("ws-a", "10.0.1.4", "127.255.255.254")
	}
	if n := count(); n != 1 {
		t.Fatalf("20 lookups within the TTL fetched the listing %d times, want 1", n)
	}
	// A desktop started since: the miss fetches again and finds it.
	mu.Lock()
	desktops = append(desktops, runtime.Info{WorkspaceID: "ws-b", VPCAddress: "10.0.1.5", Address: "127.255.255.253", State: "ready"})
	mu.Unlock()
	resolve("ws-b", "10.0.1.5", "127.255.255.253")
	resolve("ws-a", "10.0.1.4", "127.255.255.254")
	if n := count(); n != 2 {
		t.Fatalf("a miss then a hit fetched %d times in all, want 2", n)
	}
	// Rebuilt at another VPC address and moved: the cached entry is for
	// the old address, so the lookup misses and fetches.
	mu.Lock()
	desktops[0] = runtime.Info{WorkspaceID: "ws-a", VPCAddress: "10.0.1.9", Address: "127.255.255.252", State: "ready"}
	mu.Unlock()
	resolve("ws-a", "10.0.1.9", "127.255.255.252")
	if n := count(); n != 3 {
		t.Fatalf("fetched %d times, want 3", n)
	}
	// Moved at the same VPC address: seen once the TTL has passed.
	mu.Lock()
	desktops[1].Address = "127.255.255.251"
	mu.Unlock()
	resolve("ws-b", "10.0.1.5", "127.255.255.253")
	clock.Advance(reachListTTL)
	resolve("ws-b", "10.0.1.5", "127.255.255.251")
	if n := count(); n != 4 {
		t.Fatalf("fetched %d times, want 4", n)
	}
	// Not listed at all: every lookup asks, none finds it.
	resolve("ws-gone", "10.0.1.7", "127.0.1.7")
	resolve("ws-gone", "10.0.1.7", "127.0.1.7")
	if n := count(); n != 6 {
		t.Fatalf("fetched %d times, want 6", n)
	}
	// Concurrent misses share a fetch.
	clock.Advance(reachListTTL)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := r.reachable(ctx, slogDiscard(), reachDesktop, "ws-a", "10.0.1.9")
			if err != nil || got.String() != "127.255.255.252" {
				t.Errorf("concurrent lookup: %v %v", got, err)
			}
		}()
	}
	wg.Wait()
	if n := count(); n != 7 {
		t.Fatalf("8 concurrent lookups after the TTL fetched %d times in all, want 7", n)
	}
}
