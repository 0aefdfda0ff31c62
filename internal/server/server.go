// Package server assembles deskplane serve: the store, the clock, the
// lifecycle engine, every service module, the request gateway and the
// /_deskplane/ administration endpoints.
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/cloudtrail"
	"github.com/deskplane/deskplane/internal/cloudwatch"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/ldapd"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/loopback"
	"github.com/deskplane/deskplane/internal/runtime"
	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/secrets"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
	"github.com/deskplane/deskplane/internal/store/sqlite"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// Options are the command-line settings of deskplane serve.
type Options struct {
	Listen     string
	DataDir    string
	ConfigFile string
	Timing     string // instant, fast, realistic
	Clock      string // real or virtual
	Store      string // "" or "sqlite" (embedded SQLite), "pebble" (embedded Pebble), or a postgres:// URL
	Log        *slog.Logger
	// TLS serves HTTPS: a certificate and key, or Auto for one generated
	// into DataDir/tls (its Dir and Hosts are filled in by Start).
	TLS httpguard.TLSOptions
	// Limits bound slow and stalled clients (zero members: the defaults).
	Limits httpguard.Limits
	// Runtime is the guest runtime behind desktops: "" or none (records
	// only), or process (internal/runtime); RuntimeMax bounds the guests
	// running at once (0: DefaultRuntimeMax).
	Runtime    string
	RuntimeMax int
	// GuestCommand replaces the built-in guest command (tests: a built
	// binary); GuestEnv is added to the guests' environment.
	GuestCommand []string
	GuestEnv     []string
	// SessionCommand replaces the x11 session's command (default: this
	// executable's "x11-session"; tests: a built binary's).
	SessionCommand []string
	// LDAP makes directories answer LDAP on their loopback DNS addresses.
	LDAP LDAPOptions
}

// LDAPOptions are the settings of the directories' LDAP service.
type LDAPOptions struct {
	Enabled       bool
	Port, TLSPort int // 0: 389 and 636
}

// Module is one service (or group of services) of the server.
type Module interface {
	// Services returns the module's operation tables.
	Services() []*gateway.Service
	// Seed writes the module's part of the configured environment; it must
	// be idempotent (it runs at every start).
	Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error
}

// Deps is what modules are built from.
type Deps struct {
	Config *config.Config
	Store  store.Backend
	// AuditStore keeps the CloudTrail events: with the embedded SQLite
	// store, a database file of its own (its steady appends then never
	// contend with the desktops' reads and writes); with the embedded
	// Pebble store and with PostgreSQL, the main store.
	AuditStore store.Store
	// Shared is true when several nodes share the store (PostgreSQL).
	Shared  bool
	Clock   clock.Clock
	Engine  *lifecycle.Engine
	Faults  *Faults
	DataDir string
	Log     *slog.Logger
	// Runtime, RuntimeMax, GuestCommand and GuestEnv are Options'.
	Runtime        string
	RuntimeMax     int
	GuestCommand   []string
	GuestEnv       []string
	SessionCommand []string
}

// Server is a running deskplane.
type Server struct {
	Opts       Options
	Deps       Deps
	Gateway    *gateway.Gateway
	AdminToken string
	// AdminTokenFile is the file the admin token is kept in; empty when the
	// configuration sets the token.
	AdminTokenFile string
	Modules        []Module
	virtual        *clock.Virtual
	usage          UsageReporter
	http           *http.Server
	ln             net.Listener
	// CAFile is the certificate clients should trust when serving TLS.
	CAFile string
	// Metrics are served at GET /metrics (admin token).
	Metrics *Metrics
	// runtime runs the desktops' guests (nil with --runtime none).
	runtime *runtime.Manager
	resume  func(ctx context.Context) error
	// applyFaults applies newly set faults to the running desktops.
	applyFaults func(ctx context.Context, f config.Faults) error
	// Loopback hands out the loopback addresses of directories (and
	// desktops) by the internal/loopback rule.
	Loopback *loopback.Allocator
	// LDAP serves the directories' LDAP when Opts.LDAP.Enabled (nil
	// otherwise); its CA file is in DataDir/ldap-tls.
	LDAP *ldapd.Server
}

// UsageReporter serves GET /_deskplane/usage.
type UsageReporter interface {
	Usage(ctx context.Context, account, region string, from, to time.Time) (any, error)
}

// Check reports the first option New would refuse without looking at the
// data dir or the store (an unknown timing profile, clock or store kind),
// so that callers can refuse before changing anything (serve --reset).
func (o Options) Check() error {
	if _, err := lifecycle.Profile(o.Timing); err != nil {
		return err
	}
	switch o.Clock {
	case "", "real", "virtual":
	default:
		return fmt.Errorf("unknown clock %q (want real or virtual)", o.Clock)
	}
	if !o.Embedded() && !strings.HasPrefix(o.Store, "postgres://") && !strings.HasPrefix(o.Store, "postgresql://") {
		return fmt.Errorf("unknown store %q (want sqlite, pebble or a postgres:// URL)", o.Store)
	}
	return o.checkRuntime()
}

// New opens the store, seeds the environment and builds every module.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	cfg := config.Default()
	if o.ConfigFile != "" {
		c, err := config.Load(o.ConfigFile)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	timing, err := lifecycle.Profile(o.Timing)
	if err != nil {
		return nil, err
	}
	if err := secrets.PrivateDir(o.DataDir); err != nil {
		return nil, err
	}
	backend, err := openStore(ctx, o)
	if err != nil {
		return nil, err
	}
	s := &Server{Opts: o, Loopback: loopback.NewAllocator()}
	// Guests and directories on this machine's loopback addresses are
	// claimed across processes, so two servers never hand out one address.
	if err := s.Loopback.ClaimAcross(loopback.MachineClaimDir()); err != nil {
		o.Log.Warn("loopback addresses are not claimed across processes", "err", err)
	}
	var clk clock.Clock = clock.Real{}
	switch o.Clock {
	case "", "real":
	case "virtual":
		s.virtual = clock.NewVirtual(time.Now(), false)
		if err := s.loadClock(ctx, backend); err != nil {
			backend.Close()
			return nil, err
		}
		clk = s.virtual
	default:
		backend.Close()
		return nil, fmt.Errorf("unknown clock %q (want real or virtual)", o.Clock)
	}
	engine := lifecycle.New(backend, clk, timing, o.Log)
	s.Metrics = NewMetrics()
	engine.Observe = s.Metrics
	if co, ok := backend.(store.CommitObserver); ok {
		co.ObserveCommits(s.Metrics.ObserveCommit)
	}
	var auditStore store.Store = backend
	if o.EmbeddedKind() == "pebble" {
		if err := migrateAuditStore(ctx, o, backend); err != nil {
			backend.Close()
			return nil, err
		}
	} else if o.Embedded() {
		adb, err := openAuditStore(ctx, o)
		if err != nil {
			backend.Close()
			return nil, fmt.Errorf("open the audit store: %w", err)
		}
		auditStore = adb
	}
	s.Deps = Deps{Config: cfg, Store: backend, AuditStore: auditStore, Shared: !o.Embedded(), Clock: clk, Engine: engine, Faults: NewFaults(backend), DataDir: o.DataDir, Log: o.Log,
		Runtime: o.Runtime, RuntimeMax: o.RuntimeMax, GuestCommand: o.GuestCommand, GuestEnv: o.GuestEnv, SessionCommand: o.SessionCommand}
	s.AdminToken = cfg.AdminToken
	if s.AdminToken == "" {
		s.AdminToken = loadOrCreateToken(o.DataDir)
		s.AdminTokenFile = filepath.Join(o.DataDir, "admin-token")
	}
	if cfg.Faults != nil {
		if err := s.Deps.Faults.Set(ctx, *cfg.Faults); err != nil {
			s.closeStores()
			return nil, err
		}
	}
	mods, auth, authz, audit, usage, err := buildModules(s.Deps)
	if err != nil {
		s.closeStores()
		return nil, err
	}
	for _, m := range mods {
		if wsm, ok := m.(*workspaces.Module); ok {
			var ec2m workspaces.SecurityGroups
			for _, e := range mods {
				if g, ok := e.(workspaces.SecurityGroups); ok {
					ec2m = g
				}
			}
			var rec cloudwatch.SessionRecorder
			for _, e := range mods {
				if r, ok := e.(cloudwatch.SessionRecorder); ok {
					rec = r
				}
			}
			if s.runtime, err = newRuntime(s.Deps, wsm, ec2m, s.Loopback, rec); err != nil {
				s.closeStores()
				return nil, err
			}
			if s.runtime != nil {
				s.resume = wsm.ResumeGuests
			}
			s.applyFaults = wsm.ApplyFaults
			if cfg.Faults != nil {
				if err := wsm.ApplyFaults(ctx, *cfg.Faults); err != nil {
					s.closeStores()
					return nil, fmt.Errorf("apply the configured faults: %w", err)
				}
			}
		}
	}
	s.Modules = mods
	s.usage = usage
	var svcs []*gateway.Service
	for _, m := range mods {
		svcs = append(svcs, m.Services()...)
	}
	g := gateway.New(svcs...)
	g.Auth, g.Authz, g.Audit, g.Clock, g.Log = auth, authz, audit, clk, o.Log
	g.Throttle = NewThrottle(s.Deps.Faults, cfg.Quotas.RequestsPerSecond)
	g.Observe = s.Metrics
	g.Regions = map[string]bool{}
	for _, r := range cfg.Regions {
		g.Regions[r] = true
	}
	s.Gateway = g
	now := clk.Now()
	err = backend.Update(ctx, func(tx store.Tx) error {
		for _, m := range mods {
			if err := m.Seed(ctx, tx, cfg, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.closeStores()
		return nil, fmt.Errorf("seed default environment: %w", err)
	}
	return s, nil
}

func openStore(ctx context.Context, o Options) (store.Backend, error) {
	switch {
	case o.EmbeddedKind() == "sqlite":
		return sqlite.Open(ctx, filepath.Join(o.DataDir, "deskplane.db"))
	case o.EmbeddedKind() == "pebble":
		return pebble.Open(ctx, filepath.Join(o.DataDir, "pebble", "deskplane"), pebble.Options{})
	case strings.HasPrefix(o.Store, "postgres://") || strings.HasPrefix(o.Store, "postgresql://"):
		return openPostgres(ctx, o.Store)
	}
	return nil, fmt.Errorf("unknown store %q (want sqlite, pebble or a postgres:// URL)", o.Store)
}

// Embedded reports whether the store is an embedded one (SQLite or Pebble
// in the data dir), owned by this process alone.
func (o Options) Embedded() bool {
	return o.Store == "" || o.Store == "sqlite" || o.Store == "pebble"
}

// EmbeddedKind is the embedded store a server of these options opens:
// "sqlite" or "pebble" as --store names it; with no --store, SQLite for a
// data dir that already holds its database (made by an earlier version,
// whose default it was) and Pebble otherwise (faster per write and smaller
// on disk: docs/benchmarks.md). "" when the store is not embedded.
func (o Options) EmbeddedKind() string {
	switch o.Store {
	case "sqlite", "pebble":
		return o.Store
	case "":
		if _, err := os.Stat(filepath.Join(o.DataDir, "deskplane.db")); err == nil {
			return "sqlite"
		}
		return "pebble"
	}
	return ""
}

// openAuditStore opens the embedded SQLite store's database of the
// CloudTrail events, cloudtrail.db beside the main one: its writes never
// wait behind the API's (SQLite's writer holds its lock for a whole
// transaction).
//
// The embedded Pebble store keeps them itself (migrateAuditStore): a
// second Pebble store, with its own WAL, memtables, commit pipeline and
// syncs, cost about 4 µs of CPU per desktop created and 5 per describe
// call (docs/benchmarks.md, sessions 16 and 17), and in the main store an
// audit batch is a few puts of segments encoded beforehand, committed in
// the writer's groups with the API's updates and made durable by their
// syncs.
func openAuditStore(ctx context.Context, o Options) (store.Store, error) {
	return sqlite.Open(ctx, filepath.Join(o.DataDir, "cloudtrail.db"))
}

// migrateAuditStore moves the CloudTrail events of a data dir written
// before the embedded Pebble store kept them itself, from their own store
// (pebble/cloudtrail) into the main one, once, before the trail starts.
// The copy is idempotent (cloudtrail.MigrateEvents): a crash during it
// leaves pebble/cloudtrail whole, and the next start copies again. Once
// every event is durable in the main store, the old store is renamed
// (atomically) to pebble/cloudtrail.migrated and removed; a removal cut
// short is finished at the next start. Migrating, rather than reading the
// old store beside the main one, keeps LookupEvents on one store and
// frees the old store's memory and files.
func migrateAuditStore(ctx context.Context, o Options, main store.Store) error {
	old := filepath.Join(o.DataDir, "pebble", "cloudtrail")
	done := old + ".migrated"
	if err := os.RemoveAll(done); err != nil {
		return fmt.Errorf("remove the migrated audit store %s: %w", done, err)
	}
	if _, err := os.Stat(old); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("the former audit store %s: %w", old, err)
	}
	adb, err := pebble.Open(ctx, old, pebble.Options{CacheBytes: 16 << 20, MemTableBytes: 4 << 20, ReadCacheEntries: 64, ReadCacheBytes: 1 << 20})
	if err != nil {
		return fmt.Errorf("open the former audit store %s: %w", old, err)
	}
	n, err := cloudtrail.MigrateEvents(ctx, adb, main)
	if cerr := adb.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the former audit store %s: %w", old, cerr)
	}
	if err != nil {
		return fmt.Errorf("migrate the CloudTrail events into the main store: %w", err)
	}
	if err := os.Rename(old, done); err != nil {
		return fmt.Errorf("retire the former audit store %s: %w", old, err)
	}
	if err := syncDir(filepath.Dir(old)); err != nil {
		return err
	}
	o.Log.Info("CloudTrail events moved into the main store", "from", old, "segments", n)
	if err := os.RemoveAll(done); err != nil {
		return fmt.Errorf("remove the migrated audit store %s: %w", done, err)
	}
	return nil
}

// syncDir makes a directory's entries (a rename in it) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func loadOrCreateToken(dir string) string {
	p := filepath.Join(dir, "admin-token")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b))
	}
	tok := ids.Hex(48)
	os.WriteFile(p, []byte(tok+"\n"), 0o600)
	return tok
}

func (s *Server) loadClock(ctx context.Context, b store.Store) error {
	return b.View(ctx, func(tx store.Tx) error {
		v, err := store.GetJSON[int64](ctx, tx, tableSettings, keyClock)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		s.virtual.SetOffset(time.Duration(*v))
		return nil
	})
}

// closeStores closes the audit store (when separate) and the main store.
func (s *Server) closeStores() error {
	var err error
	if s.Deps.AuditStore != nil && s.Deps.AuditStore != store.Store(s.Deps.Store) {
		err = s.Deps.AuditStore.Close()
	}
	return errors.Join(err, s.Deps.Store.Close())
}

// Handler returns the HTTP handler: AWS APIs plus /_deskplane/.
func (s *Server) Handler() http.Handler {
	return apiFirst{mux: s.routes(), api: s.Gateway}
}

// routes is the server's mux: /_deskplane/, /metrics and, for everything
// else, the gateway.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_deskplane/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "time": s.Deps.Clock.Now().Format(time.RFC3339Nano), "timing": s.Opts.Timing})
	})
	mux.HandleFunc("GET /_deskplane/clock", s.admin(s.getClock))
	mux.HandleFunc("POST /_deskplane/clock", s.admin(s.postClock))
	mux.HandleFunc("GET /_deskplane/faults", s.admin(s.getFaults))
	mux.HandleFunc("POST /_deskplane/faults", s.admin(s.postFaults))
	mux.HandleFunc("GET /_deskplane/usage", s.admin(s.getUsage))
	mux.HandleFunc("GET /_deskplane/history", s.admin(s.getHistory))
	mux.HandleFunc("GET /_deskplane/jobs", s.admin(s.getJobs))
	mux.HandleFunc("GET /_deskplane/digest", s.admin(s.getDigest))
	mux.Handle("GET /metrics", s.admin(s.Metrics.Handler().ServeHTTP))
	mux.HandleFunc("GET /_deskplane/runtime", s.admin(s.getRuntime))
	mux.HandleFunc("GET /_deskplane/runtime/{id}/console", s.admin(s.getConsole))
	mux.HandleFunc("GET /_deskplane/ldap", s.admin(s.getLDAP))
	mux.HandleFunc("/_deskplane/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint"})
	})
	mux.Handle("/", s.Gateway)
	return mux
}

// apiFirst hands a request for "/" (every awsJson and query-protocol call)
// straight to the gateway, the handler the mux picks for it (its pattern
// "/", TestAPIFirstAsTheMux), without the mux's matching on every call;
// any other request goes through the mux.
type apiFirst struct {
	mux *http.ServeMux
	api http.Handler
}

func (h apiFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if apiPath(r) {
		h.api.ServeHTTP(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// apiPath reports whether r is for "/" exactly, by a method the mux
// matches by its path (not CONNECT, whose target is a host).
func apiPath(r *http.Request) bool {
	return r.URL.Path == "/" && r.URL.RawPath == "" && r.Method != http.MethodConnect && r.RequestURI != "*"
}

func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="deskplane"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid admin bearer token is required"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		h(w, r)
	}
}

func (s *Server) getClock(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"now": s.Deps.Clock.Now().Format(time.RFC3339Nano), "virtual": s.virtual != nil}
	if s.virtual != nil {
		out["offset"] = s.virtual.Offset().String()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postClock(w http.ResponseWriter, r *http.Request) {
	if s.virtual == nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the clock is real; start the server with --clock virtual"})
		return
	}
	var req struct {
		Advance string `json:"advance"`
		To      string `json:"to"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || (req.Advance == "") == (req.To == "") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON like {\"advance\":\"48h\"} or {\"to\":\"2027-03-15T00:00:00Z\"}"})
		return
	}
	var d time.Duration
	if req.To != "" {
		to, err := time.Parse(time.RFC3339, req.To)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "to must be an RFC 3339 time"})
			return
		}
		d = to.Sub(s.Deps.Clock.Now())
		if d < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the clock only moves forward; to is in the past"})
			return
		}
	} else {
		var err error
		d, err = time.ParseDuration(req.Advance)
		if err != nil || d < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "advance must be a non-negative Go duration such as 90m or 48h"})
			return
		}
	}
	var offset time.Duration
	err := s.Deps.Store.Update(r.Context(), func(tx store.Tx) error {
		cur := int64(0)
		if v, err := store.GetJSON[int64](r.Context(), tx, tableSettings, keyClock); err == nil {
			cur = *v
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		offset = time.Duration(cur) + d
		return store.PutJSON(r.Context(), tx, tableSettings, keyClock, int64(offset))
	})
	if err != nil {
		s.Opts.Log.Error("advance clock", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not store the clock"})
		return
	}
	s.virtual.SetOffset(offset)
	s.Deps.Engine.Kick()
	// Run what became due before answering, so a client that advances the
	// clock observes the consequences on its next call.
	for {
		n, err := s.Deps.Engine.RunDue(r.Context())
		if err != nil || n == 0 {
			break
		}
	}
	s.getClock(w, r)
}

func (s *Server) getFaults(w http.ResponseWriter, r *http.Request) {
	f, err := s.Deps.Faults.Get(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read faults"})
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) postFaults(w http.ResponseWriter, r *http.Request) {
	var f config.Faults
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid faults document: " + err.Error()})
		return
	}
	if err := f.Check(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err := f.CheckRegionOutages(s.Deps.Config.Regions); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err := s.Deps.Faults.Set(r.Context(), f); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not store faults"})
		return
	}
	if s.applyFaults != nil {
		if err := s.applyFaults(r.Context(), f); err != nil {
			if s.Deps.Log != nil {
				s.Deps.Log.ErrorContext(r.Context(), "apply faults", "err", err)
			}
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not apply the faults to the running desktops"})
			return
		}
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	account := q.Get("account")
	if account == "" {
		account = config.CustomerAccount
	}
	region := q.Get("region")
	if region == "" {
		region = "us-east-1"
	}
	var from, to time.Time
	var err error
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse("2006-01-02", v); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "from must be YYYY-MM-DD"})
			return
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse("2006-01-02", v); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "to must be YYYY-MM-DD"})
			return
		}
	}
	if s.usage == nil {
		writeJSON(w, http.StatusOK, map[string]any{"workspaces": []any{}})
		return
	}
	out, err := s.usage.Usage(r.Context(), account, region, from, to)
	if err != nil {
		s.Opts.Log.Error("usage", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not compute usage"})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	account, region, id := q.Get("account"), q.Get("region"), q.Get("workspace_id")
	if account == "" {
		account = config.CustomerAccount
	}
	if region == "" {
		region = "us-east-1"
	}
	h, ok := s.usage.(interface {
		History(ctx context.Context, account, region, id string) (any, error)
	})
	if id == "" || !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "workspace_id is required"})
		return
	}
	out, err := h.History(r.Context(), account, region, id)
	if err != nil {
		s.Opts.Log.Error("history", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the history"})
		return
	}
	if out == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such workspace"})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Start listens and serves in the background, and starts the scheduler.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Opts.Listen, err)
	}
	if o := s.Opts.TLS; o.Enabled() {
		if o.Dir == "" {
			o.Dir = filepath.Join(s.Opts.DataDir, "tls")
		}
		if host, _, err := net.SplitHostPort(s.Opts.Listen); err == nil {
			o.Hosts = append([]string{host}, s.Deps.Config.AllowedHosts...)
		}
		if name, err := os.Hostname(); err == nil {
			o.Hosts = append(o.Hosts, name)
		}
		t, err := o.Load(time.Now())
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, t.Config)
		s.CAFile = t.CAFile
	}
	s.ln = ln
	// Idle connections are kept longer than clients keep theirs (Go and
	// the AWS SDKs drop theirs after 90 s), so a client never reuses one
	// the server is closing; see httpguard.DefaultLimits.
	s.http = s.Opts.Limits.Server(httpguard.NewHosts(s.Opts.Listen, s.Deps.Config.AllowedHosts).Wrap(s.Handler()))
	if err := s.startLDAP(ctx); err != nil {
		ln.Close()
		return err
	}
	safego.Go(ctx, s.Opts.Log, "lifecycle scheduler", s.Deps.Engine.Run, nil)
	if s.resume != nil {
		if err := s.resume(ctx); err != nil {
			s.Opts.Log.Error("runtime: resume the guests of running desktops", "err", err)
		}
	}
	if s.virtual != nil {
		safego.Go(ctx, s.Opts.Log, "clock follower", s.followClock, nil)
	}
	safego.Go(ctx, s.Opts.Log, "http server", func(context.Context) {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Opts.Log.Error("http server", "err", err)
		}
	}, nil)
	return nil
}

// followClock keeps the virtual clock equal to the shared one (other nodes
// may advance it).
func (s *Server) followClock(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			safego.Call(s.Opts.Log, "clock follower", func() { s.loadClock(ctx, s.Deps.Store) })
		}
	}
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// BaseURL is the server's base URL (https when serving TLS).
func (s *Server) BaseURL() string {
	if s.Opts.TLS.Enabled() {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Shutdown stops serving and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.http != nil {
		err = s.http.Shutdown(ctx)
	}
	if s.runtime != nil {
		err = errors.Join(err, s.runtime.Close())
	}
	// Modules that buffer (the CloudTrail writer) flush before the store closes.
	for _, m := range s.Modules {
		if c, ok := m.(io.Closer); ok {
			err = errors.Join(err, c.Close())
		}
	}
	s.Loopback.Close()
	return errors.Join(err, s.closeStores())
}
