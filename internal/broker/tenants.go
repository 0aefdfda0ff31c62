package broker

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deskplane/deskplane/internal/safego"
)

// Tenant is one customer of a broker that serves several: its own account
// (reached through its role and ExternalId), region, directories, pools,
// plans, policies and api tokens. Any member of the top-level configuration
// that a tenant leaves empty is inherited from it (endpoint, the partner's
// own access keys, session name, retries, prices, named plans), except the
// process-wide ones (listen, tls*, allowed_hosts, data_dir), which a tenant
// may not set. Each tenant's state lives in its own store under
// data_dir/tenants/<name>, its credentials and caches are its own, and its
// api tokens reach only it.
type Tenant struct {
	// Name identifies the tenant in the API (/v1/tenants/{name}/…), the
	// metrics (tenant label) and the data dir.
	Name string `json:"name"`
	Config
}

// DefaultTenant is the name of the one tenant of a configuration that
// declares none.
const DefaultTenant = "default"

var tenantNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// TenantConfigs returns one complete configuration per tenant, in file
// order: the tenants declared, each with the top level's members where it
// leaves them empty and its store in data_dir/tenants/<name>; or, when none
// is declared, the top level itself as the tenant "default" (its store in
// data_dir, as before tenants existed).
func (c *Config) TenantConfigs() ([]string, []*Config, error) {
	if len(c.Tenants) == 0 {
		return []string{DefaultTenant}, []*Config{c}, nil
	}
	if len(c.Pools) > 0 || len(c.Policies) > 0 {
		return nil, nil, fmt.Errorf("broker config: with tenants declared, pools and policies belong to the tenants, not the top level")
	}
	var names []string
	var out []*Config
	seen, externalIDs := map[string]bool{}, map[string]string{}
	for i := range c.Tenants {
		t := c.Tenants[i]
		if !tenantNameRe.MatchString(t.Name) {
			return nil, nil, fmt.Errorf("broker config: tenant name %q must be lower-case letters, digits and dashes, starting with a letter", t.Name)
		}
		if seen[t.Name] {
			return nil, nil, fmt.Errorf("broker config: tenant %q declared twice", t.Name)
		}
		seen[t.Name] = true
		tc := t.Config
		if tc.Listen != "" || tc.TLS != "" || tc.TLSCert != "" || tc.TLSKey != "" || len(tc.AllowedHosts) > 0 || tc.DataDir != "" || len(tc.Tenants) > 0 || tc.ReconcileInterval != "" {
			return nil, nil, fmt.Errorf("broker config: tenant %q: listen, tls, tls_cert, tls_key, allowed_hosts, data_dir, reconcile_interval and tenants are the process's, set them at the top level", t.Name)
		}
		if tc.GatewaySecret != "" || tc.Gateway != (GatewayConfig{}) {
			return nil, nil, fmt.Errorf("broker config: tenant %q: gateway_secret and gateway are the process's (its gateways serve every tenant), set them at the top level", t.Name)
		}
		tc.Gateway = c.Gateway
		inherit(&tc.Endpoint, c.Endpoint)
		inherit(&tc.DeskplaneAdminToken, c.DeskplaneAdminToken)
		inherit(&tc.Region, c.Region)
		inherit(&tc.SessionName, c.SessionName)
		if tc.AccessKeyID == "" && tc.SecretAccessKey == "" {
			tc.AccessKeyID, tc.SecretAccessKey = c.AccessKeyID, c.SecretAccessKey
		}
		if tc.MaxAttempts == 0 {
			tc.MaxAttempts = c.MaxAttempts
		}
		inherit(&tc.MaxBackoff, c.MaxBackoff)
		if tc.MaxRequestsPerSecond == 0 {
			tc.MaxRequestsPerSecond = c.MaxRequestsPerSecond
		}
		tc.ReconcileInterval = c.ReconcileInterval
		if tc.Prices == (Prices{}) {
			tc.Prices = c.Prices
		}
		tc.ProtocolPlans = mergePlans(c.ProtocolPlans, tc.ProtocolPlans)
		tc.PowerPlans = mergePlans(c.PowerPlans, tc.PowerPlans)
		tc.ReleasePlans = mergePlans(c.ReleasePlans, tc.ReleasePlans)
		tc.DataDir = filepath.Join(c.DataDir, "tenants", t.Name)
		if tc.Store != "" {
			return nil, nil, fmt.Errorf("broker config: tenant %q: store is the process's, set it at the top level", t.Name)
		}
		tc.Store = c.Store
		tc.storeSchema = schemaFor(t.Name, "")
		tc.Listen = c.Listen
		tc.applyDefaults()
		if err := tc.Validate(); err != nil {
			return nil, nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		// The confused-deputy guidance: a partner gives every customer an
		// ExternalId of its own, so one customer's role cannot be reached
		// with another's.
		if tc.RoleARN != "" {
			if tc.ExternalID == "" {
				return nil, nil, fmt.Errorf("broker config: tenant %q: a role needs an external_id of the tenant's own (confused-deputy protection)", t.Name)
			}
			if other, dup := externalIDs[tc.ExternalID]; dup {
				return nil, nil, fmt.Errorf("broker config: tenants %q and %q share an external_id; each customer needs its own", other, t.Name)
			}
			externalIDs[tc.ExternalID] = t.Name
		}
		names = append(names, t.Name)
		out = append(out, &tc)
	}
	return names, out, nil
}

func inherit(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// mergePlans returns the top level's named plans overlaid with the tenant's.
func mergePlans[V any](top, own map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range top {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// Fleet is a broker for several tenants: one Broker per tenant, each with
// its own clients, store and reconcile loop, behind one HTTP API.
type Fleet struct {
	names   []string
	brokers map[string]*Broker
	// admin are the top-level api tokens: every tenant, /metrics, /v1/tenants.
	admin []string
	reg   *prometheus.Registry
	cfg   *Config
	// standbys are the tenants' standby-region brokers.
	standbys []*Broker
	// hub is the gateway hub every tenant's broker shares.
	hub *GatewayHub
}

// Hub returns the fleet's gateway hub.
func (f *Fleet) Hub() *GatewayHub { return f.hub }

// NewFleet builds every tenant's clients and broker. timeout bounds each
// call to the service.
func NewFleet(ctx context.Context, cfg *Config, timeout time.Duration, o Options) (*Fleet, error) {
	names, cfgs, err := cfg.TenantConfigs()
	if err != nil {
		return nil, err
	}
	f := &Fleet{names: names, brokers: map[string]*Broker{}, admin: cfg.APITokens, reg: prometheus.NewRegistry(), cfg: cfg}
	if o.Hub == nil {
		clock, log := o.Clock, o.Log
		if clock == nil {
			clock = RealClock{}
		}
		if log == nil {
			log = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
		o.Hub = NewGatewayHub(clock, cfg.GatewaySecret, cfg.ticketTTL(), log)
	}
	f.hub = o.Hub
	for i, name := range names {
		tc := cfgs[i]
		if tc != cfg {
			// A tenant's own tokens, and the administrators'.
			tc.APITokens = append(append([]string(nil), tc.APITokens...), cfg.APITokens...)
		}
		awsCfg, err := NewAWSConfig(ctx, tc, timeout)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("tenant %s: %w", name, err)
		}
		to := o
		if o.Log != nil {
			to.Log = o.Log.With("tenant", name)
		}
		b, err := New(tc, NewClients(awsCfg, tc.Endpoint), to)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("tenant %s: %w", name, err)
		}
		b.tenant = name
		f.brokers[name] = b
		if err := b.metrics.registerWith(prometheus.WrapRegistererWith(prometheus.Labels{"tenant": name, "region": tc.Region}, f.reg)); err != nil {
			f.Close()
			return nil, fmt.Errorf("tenant %s: metrics: %w", name, err)
		}
		sc, err := standbyConfig(tc)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("tenant %s: %w", name, err)
		}
		if sc == nil {
			continue
		}
		sCfg, err := NewAWSConfig(ctx, sc, timeout)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("tenant %s: standby %s: %w", name, sc.Region, err)
		}
		slog := to.Log
		if slog != nil {
			slog = slog.With("region", sc.Region)
		}
		so := to
		so.Log = slog
		sb, err := New(sc, NewClients(sCfg, sc.Endpoint), so)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("tenant %s: standby %s: %w", name, sc.Region, err)
		}
		sb.tenant = name
		f.standbys = append(f.standbys, sb)
		b.attachStandby(sb)
		if err := sb.metrics.registerWith(prometheus.WrapRegistererWith(prometheus.Labels{"tenant": name, "region": sc.Region}, f.reg)); err != nil {
			f.Close()
			return nil, fmt.Errorf("tenant %s: standby metrics: %w", name, err)
		}
	}
	return f, nil
}

// Tenants lists the tenants in configuration order.
func (f *Fleet) Tenants() []string { return f.names }

// Broker returns a tenant's broker.
func (f *Fleet) Broker(name string) *Broker { return f.brokers[name] }

// Close closes every tenant's store.
func (f *Fleet) Close() error {
	var errs []error
	for _, b := range f.brokers {
		errs = append(errs, b.Close())
	}
	for _, b := range f.standbys {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// Run runs every tenant's reconcile loop until ctx ends.
func (f *Fleet) Run(ctx context.Context, interval time.Duration) {
	all := append([]*Broker(nil), f.standbys...)
	for _, name := range f.names {
		all = append(all, f.brokers[name])
	}
	done := make(chan struct{}, len(all))
	for _, b := range all {
		safego.Go(ctx, b.log, "broker reconcile loop", func(ctx context.Context) { b.Run(ctx, interval) },
			func() { done <- struct{}{} })
	}
	for range all {
		<-done
	}
}

// tokenTenant returns the tenant a bearer token belongs to: "" with admin
// for an administrator's token, "" without for an unknown one.
func (f *Fleet) tokenTenant(r *http.Request) (tenant string, admin bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", false
	}
	match := func(list []string) bool {
		found := false
		for _, t := range list {
			if t != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(t)) == 1 {
				found = true
			}
		}
		return found
	}
	if match(f.admin) {
		return "", true
	}
	if len(f.cfg.Tenants) == 0 {
		return "", false
	}
	for i, name := range f.names {
		if match(f.cfg.Tenants[i].APITokens) {
			return name, false
		}
	}
	return "", false
}

// Handler is the HTTP API of every tenant:
//
//	/v1/tenants/{tenant}/…  the session API of one tenant (its tokens or an administrator's);
//	                        /v1/tenants/{tenant}/metrics its metrics alone
//	/v1/…                   the session API of the token's tenant (the only tenant without tenants declared)
//	GET /v1/tenants         the tenants (administrators)
//	GET /metrics            every tenant's metrics with a tenant label (administrators)
//	GET /v1/health
func (f *Fleet) Handler() http.Handler {
	mux := http.NewServeMux()
	handlers := map[string]http.Handler{}
	for _, name := range f.names {
		handlers[name] = f.brokers[name].Handler()
	}
	unauthorized := func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="deskplane-broker"`)
		writeJSON(w, http.StatusUnauthorized, errBody("Unauthorized", "a valid bearer token is required"))
	}
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		// reconciling lists the tenants whose reconcile lease this process
		// holds (all of them on the embedded store).
		leads := []string{}
		for _, name := range f.names {
			if f.brokers[name].IsLeader() {
				leads = append(leads, name)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "reconciling": leads})
	})
	f.hub.routes(mux)
	(&console{f: f, ws: newWebSessions("dp_console", "/console/")}).routes(mux)
	(&portal{f: f, ws: newWebSessions("dp_portal", "/portal/"), novncDir: f.cfg.Portal.noVNCDir()}).routes(mux)
	metrics := promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		tenant, admin := f.tokenTenant(r)
		switch {
		case admin:
			metrics.ServeHTTP(w, r)
		case tenant != "":
			handlers[tenant].ServeHTTP(w, r) // the tenant's own, unlabelled
		default:
			unauthorized(w)
		}
	})
	mux.HandleFunc("GET /v1/tenants", func(w http.ResponseWriter, r *http.Request) {
		if _, admin := f.tokenTenant(r); !admin {
			unauthorized(w)
			return
		}
		type view struct {
			Name   string   `json:"name"`
			Region string   `json:"region"`
			Role   string   `json:"role_arn,omitempty"`
			Pools  []string `json:"pools"`
		}
		out := []view{}
		for _, name := range f.names {
			c := f.brokers[name].cfg
			v := view{Name: name, Region: c.Region, Role: c.RoleARN, Pools: []string{}}
			for _, p := range c.Pools {
				v.Pools = append(v.Pools, p.Name)
			}
			sort.Strings(v.Pools)
			out = append(out, v)
		}
		writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
	})
	mux.HandleFunc("/v1/tenants/{tenant}/", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("tenant")
		h, ok := handlers[name]
		tenant, admin := f.tokenTenant(r)
		if !admin && (tenant == "" || tenant != name) {
			// Another tenant's token and an unknown tenant look alike: a
			// token learns nothing about the tenants it cannot reach.
			unauthorized(w)
			return
		}
		if !ok {
			writeJSON(w, http.StatusNotFound, errBody("NotFound", fmt.Sprintf("no tenant %q", name)))
			return
		}
		// /v1/tenants/{tenant}/x is the tenant's /v1/x; /metrics is its own.
		rest := strings.TrimPrefix(r.URL.Path, "/v1/tenants/"+name)
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/v1"+rest, ""
		if rest == "/metrics" {
			r2.URL.Path = "/metrics"
		}
		h.ServeHTTP(w, r2)
	})
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if len(f.cfg.Tenants) == 0 {
			handlers[DefaultTenant].ServeHTTP(w, r)
			return
		}
		tenant, admin := f.tokenTenant(r)
		switch {
		case tenant != "":
			handlers[tenant].ServeHTTP(w, r)
		case admin:
			writeJSON(w, http.StatusBadRequest, errBody("TenantRequired",
				"this broker serves several tenants: an administrator names one, /v1/tenants/{tenant}"+r.URL.Path[len("/v1"):]))
		default:
			unauthorized(w)
		}
	})
	return changesComplete(mux)
}

// changeTimeout bounds a state-changing request once its client is gone.
const changeTimeout = 2 * time.Minute

// changesComplete runs state-changing requests (every method but GET, HEAD
// and OPTIONS) under a context that the client's going away does not
// cancel: a browser that navigates away while its form's POST is being
// served (the portal's Disconnect, then a new page) would otherwise cut
// the change short between two of its writes. A change once begun is
// carried through, bounded by changeTimeout.
func changesComplete(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), changeTimeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
