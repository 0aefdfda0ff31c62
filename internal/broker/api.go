package broker

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/safego"
)

// Handler returns the session API (JSON over HTTP). Every endpoint except
// GET /v1/health needs "Authorization: Bearer <token>" with one of the
// configured api_tokens:
//
//	POST /v1/sessions                  {"user":"alice"} → 200 ready, 202 starting/waiting (Retry-After)
//	GET  /v1/sessions/{id}             the session (moves a starting one forward)
//	POST /v1/sessions/{id}/disconnect  apply the power plan's on_disconnect
//	POST /v1/sessions/{id}/logout      apply the release plan (and on_logout)
//	GET  /v1/pools                     pool states (runs no actions)
//	POST /v1/reconcile                 run one reconcile pass now
//	GET  /v1/cost?from=&to=            cost report (RFC 3339 or YYYY-MM-DD)
//	GET  /metrics                      Prometheus text format (metrics.go)
//	GET  /v1/regions                   primary and standby region, which is active, and why (regions.go)
//	GET  /v1/gateways                  gateways, their health and live connections (gateways.go)
//	GET  /v1/onboarding                each onboarding step, done or not (onboard_status.go)
//	POST /v1/gateway/…                 the gateways' own endpoints (gateway_secret; gateways.go)
func (b *Broker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", b.auth(b.metrics.Handler().ServeHTTP))
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /v1/sessions", b.auth(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			User string `json:"user"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.User == "" {
			writeJSON(w, http.StatusBadRequest, errBody("BadRequest", `body must be {"user":"<sAMAccountName>"}`))
			return
		}
		v, err := b.RequestSession(r.Context(), req.User)
		writeSession(w, v, err)
	}))
	mux.HandleFunc("GET /v1/sessions/{id}", b.auth(func(w http.ResponseWriter, r *http.Request) {
		v, err := b.SessionWithTicket(r.Context(), r.PathValue("id"))
		writeSession(w, v, err)
	}))
	mux.HandleFunc("POST /v1/sessions/{id}/disconnect", b.auth(func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Disconnect(r.Context(), r.PathValue("id"))
		writeSession(w, v, err)
	}))
	mux.HandleFunc("POST /v1/sessions/{id}/logout", b.auth(func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Logout(r.Context(), r.PathValue("id"))
		writeSession(w, v, err)
	}))
	mux.HandleFunc("GET /v1/gateways", b.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"gateways": b.hub.Gateways(r.Context()), "connections": b.hub.ConnectionsOf(r.Context(), b)})
	}))
	b.hub.routes(mux)
	b.operatorRoutes(mux)
	b.onboardingRoutes(mux)
	mux.HandleFunc("GET /v1/regions", b.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Failover())
	}))
	mux.HandleFunc("GET /v1/pools", b.auth(func(w http.ResponseWriter, r *http.Request) {
		out, err := b.PoolStatus(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}))
	mux.HandleFunc("POST /v1/reconcile", b.auth(func(w http.ResponseWriter, r *http.Request) {
		rep, err := b.Reconcile(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}))
	mux.HandleFunc("GET /v1/cost", b.auth(func(w http.ResponseWriter, r *http.Request) {
		from, err1 := ParseTime(r.URL.Query().Get("from"))
		to, err2 := ParseTime(r.URL.Query().Get("to"))
		if err := errors.Join(err1, err2); err != nil {
			writeJSON(w, http.StatusBadRequest, errBody("BadRequest", err.Error()))
			return
		}
		rep, err := b.Cost(r.Context(), from, to)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}))
	return mux
}

// ParseTime parses RFC 3339 or YYYY-MM-DD; empty is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

func (b *Broker) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		valid := false
		for _, t := range b.cfg.APITokens {
			if ok && t != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(t)) == 1 {
				valid = true
			}
		}
		if !valid {
			w.Header().Set("WWW-Authenticate", `Bearer realm="deskplane-broker"`)
			writeJSON(w, http.StatusUnauthorized, errBody("Unauthorized", "a valid bearer token is required"))
			return
		}
		h(w, r)
	}
}

func errBody(code, msg string) map[string]string {
	return map[string]string{"error": code, "message": msg}
}

func writeSession(w http.ResponseWriter, v *SessionView, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	if v.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(v.RetryAfter))
		writeJSON(w, http.StatusAccepted, v)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownUser):
		writeJSON(w, http.StatusNotFound, errBody("UnknownUser", err.Error()))
	case errors.Is(err, ErrNoSession):
		writeJSON(w, http.StatusNotFound, errBody("NoSuchSession", err.Error()))
	case errors.Is(err, ErrNoPolicy):
		writeJSON(w, http.StatusForbidden, errBody("NoPolicy", err.Error()))
	case errors.Is(err, ErrNotLeader):
		writeJSON(w, http.StatusConflict, errBody("NotLeader", err.Error()))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusServiceUnavailable, errBody("Unavailable", err.Error()))
	default:
		writeJSON(w, http.StatusBadGateway, errBody("UpstreamError", err.Error()))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// PoolStatus summarises each pool from the broker's records.
func (b *Broker) PoolStatus(ctx context.Context) (map[string]PoolReport, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]PoolReport{}
	for _, p := range b.cfg.Pools {
		ds, err := b.st.PoolDesktops(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		in, err := b.st.Intents(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		pr := PoolReport{States: map[string]int{}, Desktops: len(ds), Pending: len(in)}
		for _, d := range ds {
			pr.States[d.State]++
			if d.User != "" {
				pr.Assigned++
			}
			if isRunning(d.State) {
				pr.Running++
			}
		}
		out[p.Name] = pr
	}
	if sb := b.Standby(); sb != nil {
		more, err := sb.PoolStatus(ctx)
		if err != nil {
			return nil, err
		}
		for name, pr := range more {
			out[name+"@"+sb.cfg.Region] = pr
		}
	}
	return out, nil
}

// testHookPass, when set (by tests), is called before every pass of Run.
var testHookPass func()

// Run runs the reconcile loop until ctx ends: a pass every interval, and
// soon after a Kick (a session waiting for a desktop, a failed call).
func (b *Broker) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	// On a shared store only the lease holder reconciles; the lease is
	// renewed (or taken over) every LeaseRenew.
	var renew <-chan time.Time
	if b.shared() {
		lt := time.NewTicker(LeaseRenew)
		defer lt.Stop()
		renew = lt.C
		defer b.resign()
	}
	for {
		if b.campaign(ctx) {
			b.pass1(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.kick:
		case <-renew:
			// A follower that takes the lease over reconciles at once; a
			// leader renews and waits for its next tick.
			if b.IsLeader() || !b.campaign(ctx) {
				continue
			}
		}
	}
}

// pass1 runs one reconcile pass of Run, logging what it did.
func (b *Broker) pass1(ctx context.Context) {
	// A panicking pass is logged with its stack; the loop goes on.
	var rep *PassReport
	var err error
	if safego.Call(b.log, "broker reconcile", func() {
		if testHookPass != nil {
			testHookPass()
		}
		rep, err = b.Reconcile(ctx)
	}) {
		err = errors.New("reconcile pass panicked")
	}
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("reconcile", "err", err)
		}
		return
	}
	for name, p := range rep.Pools {
		if len(p.Created)+len(p.Started)+len(p.Stopped)+len(p.Replaced)+len(p.Rebuilt)+len(p.Errors) > 0 {
			b.log.Info("reconciled", "pool", name, "created", len(p.Created), "started", len(p.Started),
				"stopped", len(p.Stopped), "terminated", len(p.Replaced), "rebuilt", len(p.Rebuilt), "errors", p.Errors)
		}
	}
}
