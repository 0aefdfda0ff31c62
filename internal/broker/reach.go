package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/loopback"
)

// Kinds of resource reachable reports on.
const (
	reachDesktop   = "desktop"
	reachDirectory = "directory"
)

// reacher answers where this machine dials a desktop or a directory whose
// private address the service reports (a desktop's IpAddress, a
// directory's DnsIpAddrs). See reachable.
type reacher struct {
	endpoint string
	token    string
	mode     string
	hc       *http.Client
	clock    Clock

	mu sync.Mutex
	// deskplane is whether endpoint answered GET /_deskplane/health (set
	// once known; a failed probe is tried again).
	deskplane *bool
	// lists are deskplane's last listings by kind (see listed).
	lists map[string]*reachList
	// pinned are desktops' reachable addresses set outright by pin (a
	// test's stand-in guest, which listens where it could claim an
	// address, not where a runtime would list it).
	pinned map[string]netip.Addr
	// fetchMu serialises fetching a listing: callers that miss together
	// wait for one fetch instead of each making their own.
	fetchMu sync.Mutex
}

// reachListTTL is how long a listing of deskplane's serves lookups before
// it is fetched again. A lookup that misses (a desktop the listing does not
// hold, or holds at another VPC address) fetches it again at once: a
// desktop started since the listing was fetched is found on first use.
const reachListTTL = 5 * time.Second

// reachList is one fetched listing: a desktop's (workspace id) or a
// directory endpoint's (directory id + "/" + DNS address) reachable
// address, with the VPC address it was listed for.
type reachList struct {
	at    time.Time
	addrs map[string]reachEntry
	// ca is the CA file LDAPS clients trust (directories' listing).
	ca string
}

type reachEntry struct {
	vpc  string
	addr netip.Addr
	// ldap and ldaps are a directory endpoint's ports (0: not listed).
	ldap, ldaps int
}

func newReacher(c *Config, clock Clock) *reacher {
	if clock == nil {
		clock = RealClock{}
	}
	return &reacher{endpoint: strings.TrimRight(c.Endpoint, "/"), token: c.DeskplaneAdminToken, mode: c.Gateway.AddressMap,
		hc: &http.Client{Timeout: 10 * time.Second}, clock: clock, lists: map[string]*reachList{}}
}

// reachable returns the address to dial for a desktop (kind reachDesktop,
// id its workspace id) or a directory (reachDirectory, id its directory
// id) whose service-reported private address is ip. It is the one rule the
// gateway (through GatewayHub.Redeem) and the portal's LDAP sign-in both
// use:
//
//   - gateway.address_map "direct": ip itself; "loopback": the loopback
//     address internal/loopback prefers for ip.
//   - otherwise ("auto", the default), when the endpoint is deskplane (it
//     answers GET /_deskplane/health): the address deskplane reports —
//     GET /_deskplane/runtime's address of the desktop, GET /_deskplane/ldap's
//     of the directory — with deskplane_admin_token; the preferred loopback
//     address when deskplane does not list it (no runtime, no LDAP, or no
//     token configured). The runtime moves a desktop off its preferred
//     address on a collision, so the listing is what counts. A listing
//     serves lookups for reachListTTL and is fetched again on a miss.
//   - against AWS (no endpoint) or another endpoint: ip itself, as a
//     gateway in the desktops' VPC dials it.
func (b *Broker) reachable(ctx context.Context, kind, id, ip string) (netip.Addr, error) {
	return b.reach.reachable(ctx, b.log, kind, id, ip)
}

func (r *reacher) reachable(ctx context.Context, log *slog.Logger, kind, id, ip string) (netip.Addr, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s %s address %q: %w", kind, id, ip, err)
	}
	if kind == reachDesktop {
		r.mu.Lock()
		p, ok := r.pinned[id]
		r.mu.Unlock()
		if ok {
			return p, nil
		}
	}
	switch r.mode {
	case "direct":
		return a, nil
	case "loopback":
		return loopback.Preferred(a)
	}
	if r.endpoint == "" || !r.isDeskplane(ctx) {
		return a, nil
	}
	got, err := r.listed(ctx, kind, id, ip)
	if err != nil {
		log.Warn("reachable: deskplane's listing failed; using the preferred loopback address", "kind", kind, "id", id, "err", err)
	}
	if got.IsValid() {
		return got, nil
	}
	return loopback.Preferred(a)
}

// isDeskplane probes GET /_deskplane/health once (again after no answer or
// a 5xx).
func (r *reacher) isDeskplane(ctx context.Context) bool {
	r.mu.Lock()
	known := r.deskplane
	r.mu.Unlock()
	if known != nil {
		return *known
	}
	var health struct {
		Status string `json:"status"`
	}
	code, err := r.get(ctx, "/_deskplane/health", &health)
	if err != nil && (code == 0 || code >= 500) {
		return false // unreachable or failing now: ask again next time
	}
	is := code == http.StatusOK && health.Status == "ok"
	r.mu.Lock()
	r.deskplane = &is
	r.mu.Unlock()
	return is
}

// listed asks deskplane where the resource answers; the zero address when
// it does not list it. The listing is cached for reachListTTL on the
// broker's clock and fetched again when the lookup misses.
func (r *reacher) listed(ctx context.Context, kind, id, ip string) (netip.Addr, error) {
	if r.token == "" {
		return netip.Addr{}, nil
	}
	key := id
	if kind == reachDirectory {
		key = id + "/" + ip
	}
	r.mu.Lock()
	l := r.lists[kind]
	if l != nil && r.clock.Now().Sub(l.at) < reachListTTL {
		if e, ok := l.addrs[key]; ok && (e.vpc == ip || e.vpc == "") {
			r.mu.Unlock()
			return e.addr, nil
		}
	}
	r.mu.Unlock()

	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	r.mu.Lock()
	if nl := r.lists[kind]; nl != l && nl != nil {
		// Fetched while this caller waited: that listing is as new as
		// one fetched now.
		r.mu.Unlock()
		return nl.lookup(key, ip), nil
	}
	r.mu.Unlock()
	nl, err := r.fetch(ctx, kind)
	if err != nil {
		return netip.Addr{}, err
	}
	r.mu.Lock()
	r.lists[kind] = nl
	r.mu.Unlock()
	return nl.lookup(key, ip), nil
}

func (l *reachList) lookup(key, ip string) netip.Addr {
	if e, ok := l.addrs[key]; ok && (e.vpc == ip || e.vpc == "") {
		return e.addr
	}
	return netip.Addr{}
}

// fetch reads deskplane's listing of a kind whole.
func (r *reacher) fetch(ctx context.Context, kind string) (*reachList, error) {
	l := &reachList{at: r.clock.Now(), addrs: map[string]reachEntry{}}
	add := func(key, vpc, addr string, ldap, ldaps int) error {
		if addr == "" {
			return nil
		}
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return fmt.Errorf("deskplane lists %s at %q: %w", key, addr, err)
		}
		l.addrs[key] = reachEntry{vpc: vpc, addr: a, ldap: ldap, ldaps: ldaps}
		return nil
	}
	switch kind {
	case reachDesktop:
		var out struct {
			Desktops []struct {
				WorkspaceID string `json:"workspace_id"`
				VPCAddress  string `json:"vpc_address"`
				Address     string `json:"address"`
			} `json:"desktops"`
		}
		if _, err := r.get(ctx, "/_deskplane/runtime", &out); err != nil {
			return nil, err
		}
		for _, d := range out.Desktops {
			if err := add(d.WorkspaceID, d.VPCAddress, d.Address, 0, 0); err != nil {
				return nil, err
			}
		}
	case reachDirectory:
		var out struct {
			CAFile    string `json:"ca_file"`
			Endpoints []struct {
				DirectoryID string `json:"directory_id"`
				DNSIP       string `json:"dns_ip"`
				Address     string `json:"address"`
				LDAPPort    int    `json:"ldap_port"`
				LDAPSPort   int    `json:"ldaps_port"`
			} `json:"endpoints"`
		}
		if _, err := r.get(ctx, "/_deskplane/ldap", &out); err != nil {
			return nil, err
		}
		l.ca = out.CAFile
		for _, e := range out.Endpoints {
			if err := add(e.DirectoryID+"/"+e.DNSIP, e.DNSIP, e.Address, e.LDAPPort, e.LDAPSPort); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("reachable: unknown kind %q", kind)
	}
	return l, nil
}

// directoryPorts returns the LDAP and LDAPS ports deskplane's cached
// listing gives a directory address, and the CA file its LDAPS
// certificates chain to; zeros when it lists none (ask reachable first).
func (r *reacher) directoryPorts(id, ip string) (ldap, ldaps int, ca string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lists[reachDirectory]
	if l == nil {
		return 0, 0, ""
	}
	e, ok := l.addrs[id+"/"+ip]
	if !ok || e.vpc != ip {
		return 0, 0, ""
	}
	return e.ldap, e.ldaps, l.ca
}

// get fetches a deskplane admin endpoint as JSON; code is 0 when no answer
// came.
func (r *reacher) get(ctx context.Context, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.endpoint+path, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, errors.Join(fmt.Errorf("GET %s: decode", path), err)
	}
	return resp.StatusCode, nil
}

// pin makes a desktop reachable at addr whatever its reported address.
func (r *reacher) pin(id string, addr netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pinned == nil {
		r.pinned = map[string]netip.Addr{}
	}
	r.pinned[id] = addr
}
