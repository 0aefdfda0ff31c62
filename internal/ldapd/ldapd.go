// Package ldapd makes every directory answer LDAP, as a domain controller
// of the real service does: each Simple AD and Managed Microsoft AD
// directory's DNS addresses map, by the internal/loopback rule, to loopback
// addresses where LDAP (389) and LDAPS (636) are served for the directory's
// users and groups as the Directory Service Data API sees them. Simple bind
// authenticates directory users (by user principal name, down-level
// DOMAIN\name, DN or sAMAccountName) against the password set with
// Directory Service ResetUserPassword; search covers users and groups by
// the usual AD attributes and filters. LDAPS uses a certificate signed by a
// CA generated into the data dir, so clients can trust it.
//
// The protocol is github.com/jimlambrt/gldap's; this package holds the
// directory side: which directories listen where, binds and searches.
package ldapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/deskplane/deskplane/internal/ds"
	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/loopback"
	"github.com/deskplane/deskplane/internal/safego"
)

// Source is what the LDAP server reads: the directories and their users,
// groups and passwords. The ds module implements it.
type Source interface {
	LDAPDirectories(ctx context.Context) ([]ds.LDAPDirectory, error)
	LDAPEntries(ctx context.Context, account, region, id string) ([]ds.LDAPUser, []ds.LDAPGroup, error)
	CheckPassword(ctx context.Context, account, region, id, sam, password string) error
}

// Default ports: LDAP's and LDAPS's own.
const (
	DefaultPort    = 389
	DefaultTLSPort = 636
)

// Options configure the server.
type Options struct {
	Port, TLSPort int                 // 0: 389 and 636
	TLSDir        string              // where the CA and certificate are generated
	Alloc         *loopback.Allocator // loopback addresses (shared with the desktops' runtime)
	Log           *slog.Logger
}

// Endpoint is one directory address that answers LDAP.
type Endpoint struct {
	Account     string `json:"account"`
	Region      string `json:"region"`
	DirectoryID string `json:"directory_id"`
	DNSIP       string `json:"dns_ip"`
	Address     string `json:"address"`
	LDAPPort    int    `json:"ldap_port"`
	LDAPSPort   int    `json:"ldaps_port"`
}

// Server serves LDAP for every directory of a Source.
type Server struct {
	src  Source
	opts Options

	mu      sync.Mutex
	running map[string]*dc // by owner, "d-…/dns0"
	cert    *tls.Certificate
	names   []string // the names the certificate covers
	caFile  string
}

// dc is one directory address: a plain and a TLS listener.
type dc struct {
	ep            Endpoint
	plain, secure *gldap.Server
}

// New returns a server; Reconcile starts its listeners.
func New(src Source, o Options) *Server {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.TLSPort == 0 {
		o.TLSPort = DefaultTLSPort
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Alloc == nil {
		o.Alloc = loopback.NewAllocator()
		if err := o.Alloc.ClaimAcross(loopback.MachineClaimDir()); err != nil {
			o.Log.Warn("ldap: loopback addresses are not claimed across processes", "err", err)
		}
	}
	return &Server{src: src, opts: o, running: map[string]*dc{}}
}

// CAFile is the CA certificate (PEM) LDAPS clients should trust; empty
// before the first Reconcile.
func (s *Server) CAFile() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caFile
}

// Endpoints lists the addresses that answer LDAP, sorted.
func (s *Server) Endpoints() []Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Endpoint, 0, len(s.running))
	for _, d := range s.running {
		out = append(out, d.ep)
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.DirectoryID+a.DNSIP, b.DirectoryID+b.DNSIP) })
	return out
}

// Run reconciles at once and then every interval until ctx ends, when it
// stops every listener. Directories appear (created, Active) and disappear
// (deleted) while the server runs; Run follows them.
func (s *Server) Run(ctx context.Context, interval time.Duration) {
	defer s.stopAll()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.opts.Log.Warn("ldap reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reconcile makes the listeners match the directories: it starts LDAP and
// LDAPS on the loopback address of each DNS address of each Active
// directory, and stops those of directories gone.
func (s *Server) Reconcile(ctx context.Context) error {
	dirs, err := s.src.LDAPDirectories(ctx)
	if err != nil {
		return err
	}
	type want struct {
		dir   ds.LDAPDirectory
		dnsIP string
	}
	wanted := map[string]want{}
	for _, d := range dirs {
		for i, ip := range d.DNSIPs {
			wanted[d.ID+"/dns"+strconv.Itoa(i)] = want{d, ip}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for owner, d := range s.running {
		if w, ok := wanted[owner]; !ok || w.dir.Account != d.ep.Account || w.dir.Region != d.ep.Region {
			d.stop(s.opts.Log)
			delete(s.running, owner)
			s.opts.Alloc.Release(owner)
		}
	}
	var fresh []string
	addrs := map[string]netip.Addr{}
	// Owners ask in a stable order, so collisions resolve the same way at
	// every start.
	for _, owner := range slices.Sorted(maps.Keys(wanted)) {
		w := wanted[owner]
		ip, err := netip.ParseAddr(w.dnsIP)
		if err != nil {
			errs = append(errs, fmt.Errorf("directory %s: DNS address %q: %w", w.dir.ID, w.dnsIP, err))
			continue
		}
		// An address where another program already listens on the LDAP
		// or LDAPS port is skipped for the next free one, as a collision
		// between two owners is.
		a, err := s.opts.Alloc.AssignFree(owner, ip, func(c netip.Addr) bool {
			for _, port := range []int{s.opts.Port, s.opts.TLSPort} {
				ln, err := net.Listen("tcp", netip.AddrPortFrom(c, uint16(port)).String())
				if err != nil {
					return false
				}
				ln.Close()
			}
			return true
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		addrs[owner] = a
		if _, ok := s.running[owner]; !ok {
			fresh = append(fresh, owner)
		}
	}
	if len(fresh) == 0 {
		return errors.Join(errs...)
	}
	if err := s.ensureCert(wanted2names(dirs, addrs)); err != nil {
		return errors.Join(append(errs, err)...)
	}
	slices.Sort(fresh)
	for _, owner := range fresh {
		w := wanted[owner]
		ep := Endpoint{Account: w.dir.Account, Region: w.dir.Region, DirectoryID: w.dir.ID, DNSIP: w.dnsIP,
			Address: addrs[owner].String(), LDAPPort: s.opts.Port, LDAPSPort: s.opts.TLSPort}
		d, err := s.start(ctx, w.dir, ep)
		if err != nil {
			errs = append(errs, err)
			s.opts.Alloc.Release(owner)
			continue
		}
		s.running[owner] = d
		s.opts.Log.Info("directory answers LDAP", "directory", w.dir.ID, "dns_ip", w.dnsIP, "address", ep.Address, "ldap_port", ep.LDAPPort, "ldaps_port", ep.LDAPSPort)
	}
	return errors.Join(errs...)
}

func wanted2names(dirs []ds.LDAPDirectory, addrs map[string]netip.Addr) []string {
	var names []string
	for _, d := range dirs {
		names = append(names, strings.ToLower(d.Name))
		names = append(names, d.DNSIPs...)
	}
	for _, a := range addrs {
		names = append(names, a.String())
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// ensureCert makes the LDAPS certificate cover names (every directory's
// name and addresses), generating the CA on first use. s.mu is held.
func (s *Server) ensureCert(names []string) error {
	if s.cert != nil && !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(s.names, n) }) {
		return nil
	}
	all := append(slices.Clone(s.names), names...)
	slices.Sort(all)
	all = slices.Compact(all)
	certFile, keyFile, caFile, err := httpguard.AutoCert(s.opts.TLSDir, all, time.Now())
	if err != nil {
		return fmt.Errorf("ldaps certificate: %w", err)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("ldaps certificate: %w", err)
	}
	s.cert, s.names, s.caFile = &c, all, caFile
	return nil
}

func (s *Server) getCert(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert, nil
}

// start listens on ep's address: LDAP and LDAPS. s.mu is held.
func (s *Server) start(ctx context.Context, dir ds.LDAPDirectory, ep Endpoint) (*dc, error) {
	d := &dc{ep: ep}
	var err error
	d.plain, err = s.listen(ctx, dir, net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPPort)), nil)
	if err != nil {
		return nil, err
	}
	d.secure, err = s.listen(ctx, dir, net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPSPort)),
		&tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.getCert})
	if err != nil {
		d.plain.Stop()
		return nil, err
	}
	return d, nil
}

func (s *Server) listen(ctx context.Context, dir ds.LDAPDirectory, addr string, tc *tls.Config) (*gldap.Server, error) {
	// gldap listens inside Run: the address is tried first, so that a
	// port in use is an error here rather than in the background.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ldap: directory %s: %w", dir.ID, err)
	}
	ln.Close()
	h := &handler{s: s, ctx: ctx, dir: dir, bound: map[int]string{}}
	gs, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(h.closed))
	if err != nil {
		return nil, fmt.Errorf("ldap: %w", err)
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, fmt.Errorf("ldap: %w", err)
	}
	for _, e := range []error{mux.Bind(h.bind), mux.Search(h.search), mux.Unbind(h.unbind), mux.DefaultRoute(h.unwilling)} {
		if e != nil {
			return nil, fmt.Errorf("ldap: %w", e)
		}
	}
	if err := gs.Router(mux); err != nil {
		return nil, fmt.Errorf("ldap: %w", err)
	}
	var opts []gldap.Option
	if tc != nil {
		opts = append(opts, gldap.WithTLSConfig(tc))
	}
	safego.Go(ctx, s.opts.Log, "ldap "+addr, func(context.Context) {
		if err := gs.Run(addr, opts...); err != nil {
			s.opts.Log.Error("ldap listener", "addr", addr, "err", err)
		}
	}, nil)
	// Stop is only safe once Run has its listener.
	for deadline := time.Now().Add(5 * time.Second); !gs.Ready(); {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("ldap: %s did not start listening", addr)
		}
		time.Sleep(time.Millisecond)
	}
	return gs, nil
}

// stop stops both listeners. gldap's Stop closes the listener at once but
// then waits for its clients to hang up; a client idle on a connection is
// not waited for longer than a moment (its connection ends when it next
// sends, or with the process).
func (d *dc) stop(log *slog.Logger) {
	done := make(chan struct{}, 2)
	for _, gs := range []*gldap.Server{d.plain, d.secure} {
		safego.Go(context.Background(), log, "ldap stop", func(context.Context) {
			if err := gs.Stop(); err != nil {
				log.Warn("ldap stop", "err", err)
			}
		}, func() { done <- struct{}{} })
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	for range 2 {
		select {
		case <-done:
		case <-t.C:
			return
		}
	}
}

func (s *Server) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for owner, d := range s.running {
		d.stop(s.opts.Log)
		delete(s.running, owner)
		s.opts.Alloc.Release(owner)
	}
}
