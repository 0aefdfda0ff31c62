package broker

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"crypto/rand"

	"github.com/deskplane/deskplane/internal/broker/gateway"
)

// GatewayConfig configures the gateway "broker serve" runs in process and
// the tickets the broker issues.
type GatewayConfig struct {
	// Disabled: no gateway in process (remote gateways only).
	Disabled bool `json:"disabled,omitempty"`
	// ListenTCP is the in-process gateway's address for native clients
	// (default: the session API's host, a free port).
	ListenTCP string `json:"listen_tcp,omitempty"`
	// AddressMap is how the gateway reaches a desktop: "auto" (the
	// default: the address deskplane's runtime lists for the desktop when
	// the endpoint is deskplane, else the desktop's IpAddress; see
	// Broker.reachable), "loopback" (always the loopback address
	// internal/loopback prefers for the desktop's VPC address) or "direct"
	// (always the IpAddress). The broker resolves it when a ticket is
	// redeemed and gives the gateway the address to dial.
	AddressMap string `json:"address_map,omitempty"`
	// TicketTTL is a connection ticket's lifetime (Go duration, default
	// 60s, on the broker's clock).
	TicketTTL string `json:"ticket_ttl,omitempty"`
}

// addressMap returns the configured address map's name.
func (c *Config) addressMap() string {
	if c.Gateway.AddressMap != "" {
		return c.Gateway.AddressMap
	}
	return "auto"
}

func (c *Config) ticketTTL() time.Duration {
	if d, err := time.ParseDuration(c.Gateway.TicketTTL); err == nil && d > 0 {
		return d
	}
	return time.Minute
}

// gatewayLiveFor is how long a remote gateway counts as live after its last
// heartbeat (it sends one every 10 seconds).
const gatewayLiveFor = 30 * time.Second

// GatewayHub is the broker's side of its gateways: the registry of live
// gateways, the connection tickets, and the live connections the gateways
// report. A Fleet's brokers share one hub. It implements gateway.Broker for
// a gateway in the same process.
type GatewayHub struct {
	clock  Clock
	secret string
	ttl    time.Duration
	log    *slog.Logger

	mu       sync.Mutex
	tickets  map[string]*ticket // by SHA-256 of the ticket
	gateways map[string]*gatewayState
	// grants: gateway → session → broker, for redeemed tickets whose
	// connection is not closed yet.
	grants map[string]map[string]*Broker
	conns  map[string]*liveConn // gateway + "/" + conn
	rr     int
	// shared are the brokers on a shared (PostgreSQL) store: their
	// tickets live in the database, where any broker of the cluster
	// redeems them (tickets_store.go).
	shared []*Broker
	// purged is when each shared broker last purged expired tickets.
	purged map[*Broker]time.Time
}

type ticket struct {
	b       *Broker
	session string
	gateway string
	expires time.Time
}

type gatewayState struct {
	reg      gateway.Registration
	lastSeen time.Time
	local    bool
}

type liveConn struct {
	b       *Broker
	gateway string
	conn    string
	session string
	remote  string
	since   time.Time
}

// NewGatewayHub returns a hub. secret authenticates remote gateways (empty:
// none may register); ttl is a ticket's lifetime.
func NewGatewayHub(clock Clock, secret string, ttl time.Duration, log *slog.Logger) *GatewayHub {
	return &GatewayHub{clock: clock, secret: secret, ttl: ttl, log: log,
		tickets: map[string]*ticket{}, gateways: map[string]*gatewayState{},
		grants: map[string]map[string]*Broker{}, conns: map[string]*liveConn{}}
}

func ticketKey(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// RegisterLocal registers a gateway in this process: live as long as the
// process.
func (h *GatewayHub) RegisterLocal(r gateway.Registration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gateways[r.ID] = &gatewayState{reg: r, lastSeen: h.clock.Now(), local: true}
}

// errBadRegistration marks a heartbeat the broker refuses as malformed.
var errBadRegistration = errors.New("bad gateway registration")

// Heartbeat registers a remote gateway or renews its registration. On a
// shared store each shared broker's database records it too, so that every
// broker of the cluster spreads sessions over it (gateways_store.go).
func (h *GatewayHub) Heartbeat(ctx context.Context, r gateway.Registration) error {
	if r.ID == "" || r.URL == "" {
		return fmt.Errorf("%w: a gateway registers with an id and a url", errBadRegistration)
	}
	h.mu.Lock()
	if g, ok := h.gateways[r.ID]; ok && g.local || r.ID == LocalGatewayID && len(h.shared) > 0 {
		h.mu.Unlock()
		return fmt.Errorf("%w: gateway id %q is the brokers' own", errBadRegistration, r.ID)
	}
	if _, ok := h.gateways[r.ID]; !ok {
		h.log.Info("gateway registered", "gateway", r.ID, "url", r.URL, "tcp", r.TCPAddr)
	}
	now := h.clock.Now()
	h.gateways[r.ID] = &gatewayState{reg: r, lastSeen: now}
	shared := slices.Clone(h.shared)
	h.mu.Unlock()
	var errs []error
	for _, b := range shared {
		if err := b.st.PutGateway(ctx, r, now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway %s: heartbeat not shared: %w", r.ID, err)
	}
	return nil
}

func (h *GatewayHub) live(g *gatewayState, now time.Time) bool {
	return g.local || now.Sub(g.lastSeen) < gatewayLiveFor
}

// activeLocked counts a gateway's open connections: those reported to this
// hub, or the gateway's own count from its last heartbeat when larger (it
// carries connections other brokers granted).
func (h *GatewayHub) activeLocked(id string, g *gatewayState) int64 {
	n := int64(0)
	for _, c := range h.conns {
		if c.gateway == id {
			n++
		}
	}
	if g != nil && !g.local && g.reg.Active > n {
		n = g.reg.Active
	}
	return n
}

// known returns the gateways this hub holds merged with those the shared
// stores of brokers record (the latest heartbeat wins; the hub's own
// in-process gateway always does). A store that cannot be read is logged
// and skipped: the hub's own registrations still serve.
func (h *GatewayHub) known(ctx context.Context, brokers []*Broker) map[string]*gatewayState {
	var stored []storedGateway
	for _, b := range brokers {
		gs, err := b.st.StoredGateways(ctx)
		if err != nil {
			b.log.Warn("shared gateway registrations unreadable; using this broker's own", "err", err)
			continue
		}
		stored = append(stored, gs...)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]*gatewayState, len(h.gateways)+len(stored))
	for id, g := range h.gateways {
		out[id] = g
	}
	for _, sg := range stored {
		if g, ok := out[sg.reg.ID]; ok && (g.local || !sg.lastSeen.After(g.lastSeen)) {
			continue
		}
		out[sg.reg.ID] = &gatewayState{reg: sg.reg, lastSeen: sg.lastSeen}
	}
	return out
}

// sharedOf returns b in a list when its store is shared, for known.
func sharedOf(b *Broker) []*Broker {
	if b.st.sharedTickets() {
		return []*Broker{b}
	}
	return nil
}

// pickLocked spreads sessions over live gateways: the least loaded, ties
// in turn.
func (h *GatewayHub) pickLocked(gws map[string]*gatewayState, now time.Time) *gatewayState {
	var ids []string
	for id, g := range gws {
		if h.live(g, now) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	h.rr++
	best, bestN := "", int64(0)
	for i := range ids {
		id := ids[(h.rr+i)%len(ids)]
		if n := h.activeLocked(id, gws[id]); best == "" || n < bestN {
			best, bestN = id, n
		}
	}
	return gws[best]
}

// attach adds a connection ticket and a gateway to an active session's
// view; without a live gateway the view has none. A broker on a shared
// store keeps the ticket in its database (any broker of the cluster
// redeems it); the others keep it in the hub.
func (h *GatewayHub) attach(ctx context.Context, b *Broker, v *SessionView) {
	if h == nil || v == nil || v.State != SessActive {
		return
	}
	gws := h.known(ctx, sharedOf(b))
	h.mu.Lock()
	now := h.clock.Now()
	for k, t := range h.tickets {
		if !now.Before(t.expires) {
			delete(h.tickets, k)
		}
	}
	g := h.pickLocked(gws, now)
	if g == nil {
		h.mu.Unlock()
		return
	}
	reg := g.reg
	var raw [32]byte
	rand.Read(raw[:])
	tk := base64.RawURLEncoding.EncodeToString(raw[:])
	exp := now.Add(h.ttl)
	shared := b.st.sharedTickets()
	purge := false
	if shared {
		if h.purged == nil {
			h.purged = map[*Broker]time.Time{}
		}
		if now.Sub(h.purged[b]) >= time.Minute {
			h.purged[b], purge = now, true
		}
	} else {
		h.tickets[ticketKey(tk)] = &ticket{b: b, session: v.SessionID, gateway: reg.ID, expires: exp}
	}
	h.mu.Unlock()
	if shared {
		if purge {
			if err := b.st.PurgeTickets(ctx, now); err != nil {
				b.log.Warn("purging expired tickets failed", "err", err)
			}
		}
		if err := b.st.PutTicket(ctx, ticketKey(tk), v.SessionID, reg.ID, exp); err != nil {
			// No ticket: the client asks again (GET /v1/sessions/{id}).
			b.log.Warn("no connection ticket: the store refused it", "session", v.SessionID, "err", err)
			return
		}
	}
	v.Ticket, v.TicketExpires = tk, exp
	v.Gateway, v.GatewayURL, v.GatewayTCP = reg.ID, reg.URL, reg.TCPAddr
}

// share makes the hub redeem the tickets a broker on a shared store keeps
// in its database.
func (h *GatewayHub) share(b *Broker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shared = append(h.shared, b)
}

// takeShared consumes a ticket from the shared brokers' databases.
func (h *GatewayHub) takeShared(ctx context.Context, key string) (*ticket, error) {
	h.mu.Lock()
	shared := slices.Clone(h.shared)
	h.mu.Unlock()
	var errs []error
	for _, b := range shared {
		st, err := b.st.TakeTicket(ctx, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st != nil {
			return &ticket{b: b, session: st.session, gateway: st.gateway, expires: st.expires}, nil
		}
	}
	return nil, errors.Join(errs...)
}

func denied(format string, a ...any) error {
	return fmt.Errorf("%w: %s", gateway.ErrDenied, fmt.Sprintf(format, a...))
}

// Redeem consumes a ticket (single use) for the gateway it was issued for,
// before its expiry on the broker's clock, for a session still active.
func (h *GatewayHub) Redeem(ctx context.Context, gatewayID, tk string) (gateway.Target, error) {
	h.mu.Lock()
	key := ticketKey(tk)
	t, ok := h.tickets[key]
	delete(h.tickets, key)
	now := h.clock.Now()
	h.mu.Unlock()
	if !ok {
		st, err := h.takeShared(ctx, key)
		if err != nil {
			return gateway.Target{}, fmt.Errorf("redeem: %w", err)
		}
		t, ok = st, st != nil
	}
	switch {
	case !ok:
		return gateway.Target{}, denied("unknown or already used ticket")
	case t.gateway != gatewayID:
		return gateway.Target{}, denied("the ticket is for another gateway")
	case !now.Before(t.expires):
		return gateway.Target{}, denied("the ticket expired at %s", t.expires.Format(time.RFC3339))
	}
	v, err := t.b.GetSession(ctx, t.session)
	if err != nil {
		return gateway.Target{}, fmt.Errorf("redeem: session %s: %w", t.session, err)
	}
	if v.State != SessActive || v.IP == "" {
		return gateway.Target{}, denied("session %s is %s", v.SessionID, v.State)
	}
	acc, err := t.b.IPAccess(ctx, v.Pool)
	if err != nil {
		// Without the directory's IP access control the gateway cannot
		// enforce it: refuse rather than let everyone in.
		t.b.log.Warn("gateway: IP access control unreadable; ticket refused", "session", t.session, "err", err)
		detail := fmt.Sprintf("gateway %s: %s's ticket (session %s) refused: the directory's IP access control groups could not be read: %v", gatewayID, v.User, t.session, err)
		if e := t.b.st.Event(ctx, now, EventGatewayRefused, v.WorkspaceID, detail); e != nil {
			t.b.log.Warn("record refusal", "err", e)
		}
		return gateway.Target{}, denied("the directory's IP access control groups could not be read")
	}
	h.mu.Lock()
	if h.grants[gatewayID] == nil {
		h.grants[gatewayID] = map[string]*Broker{}
	}
	h.grants[gatewayID][t.session] = t.b
	h.mu.Unlock()
	addr, err := t.b.reachable(ctx, reachDesktop, v.WorkspaceID, v.IP)
	if err != nil {
		return gateway.Target{}, fmt.Errorf("redeem: session %s: %w", t.session, err)
	}
	t.b.metrics.gatewayConns.WithLabelValues("redeemed").Inc()
	return gateway.Target{SessionID: v.SessionID, User: v.User, WorkspaceID: v.WorkspaceID, IP: v.IP, Port: v.Port, Protocol: v.Protocol,
		Address: netip.AddrPortFrom(addr, uint16(v.Port)).String(), Access: acc}, nil
}

// Report records a gateway's connect or disconnect. When a session's last
// connection closes, the power plan's on_disconnect applies.
func (h *GatewayHub) Report(ctx context.Context, gatewayID string, ev gateway.Event) error {
	key := gatewayID + "/" + ev.Conn
	h.mu.Lock()
	switch ev.Kind {
	case gateway.EventConnect:
		b := h.grants[gatewayID][ev.SessionID]
		if b == nil {
			h.mu.Unlock()
			return denied("no ticket of session %s was redeemed by gateway %s", ev.SessionID, gatewayID)
		}
		h.conns[key] = &liveConn{b: b, gateway: gatewayID, conn: ev.Conn, session: ev.SessionID, remote: ev.Remote, since: h.clock.Now()}
		h.mu.Unlock()
		b.metrics.gatewayConns.WithLabelValues("connect").Inc()
		b.log.Info("gateway connect", "gateway", gatewayID, "session", ev.SessionID, "remote", ev.Remote)
		b.noteConnection(ctx, gatewayID, ev.SessionID, ev.Remote, true, false, 0, 0)
		return nil
	case gateway.EventDisconnect:
		c := h.conns[key]
		if c == nil || c.session != ev.SessionID {
			h.mu.Unlock()
			return denied("no connection %s on gateway %s", ev.Conn, gatewayID)
		}
		h.mu.Unlock()
		return c.b.gatewayDisconnect(ctx, h, gatewayID, key, ev)
	case gateway.EventRefused:
		b := h.grants[gatewayID][ev.SessionID]
		if b == nil {
			h.mu.Unlock()
			return denied("no ticket of session %s was redeemed by gateway %s", ev.SessionID, gatewayID)
		}
		open := false
		for _, o := range h.conns {
			if o.gateway == gatewayID && o.session == ev.SessionID {
				open = true
			}
		}
		if !open {
			delete(h.grants[gatewayID], ev.SessionID)
		}
		h.mu.Unlock()
		return b.refused(ctx, gatewayID, ev)
	}
	h.mu.Unlock()
	return fmt.Errorf("unknown event kind %q", ev.Kind)
}

// gatewayDisconnect drops a connection a gateway reported closed; when it
// was its session's last, the power plan's on_disconnect applies. The
// broker's lock is held from dropping the connection until the plan has
// applied, so a session requested again meanwhile (the user reconnecting
// as the old connection closes) is granted after the disconnect, not
// before it and then ended by it.
func (b *Broker) gatewayDisconnect(ctx context.Context, h *GatewayHub, gatewayID, key string, ev gateway.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	h.mu.Lock()
	c := h.conns[key]
	if c == nil || c.session != ev.SessionID {
		h.mu.Unlock()
		return denied("no connection %s on gateway %s", ev.Conn, gatewayID)
	}
	delete(h.conns, key)
	last := true
	for _, o := range h.conns {
		if o.session == c.session {
			last = false
		}
	}
	if last {
		delete(h.grants[gatewayID], c.session)
	}
	h.mu.Unlock()
	b.metrics.gatewayConns.WithLabelValues("disconnect").Inc()
	b.metrics.gatewayBytes.WithLabelValues("in").Add(float64(max(ev.BytesIn, 0)))
	b.metrics.gatewayBytes.WithLabelValues("out").Add(float64(max(ev.BytesOut, 0)))
	b.log.Info("gateway disconnect", "gateway", gatewayID, "session", c.session, "bytes_in", ev.BytesIn, "bytes_out", ev.BytesOut)
	b.noteConnection(ctx, gatewayID, c.session, c.remote, false, last, ev.BytesIn, ev.BytesOut)
	if !last {
		return nil
	}
	if _, err := b.endSessionLocked(ctx, c.session, false); err != nil {
		return fmt.Errorf("disconnect session %s: %w", c.session, err)
	}
	return nil
}

// GatewayView is a gateway as GET /v1/gateways shows it.
type GatewayView struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	TCPAddr  string    `json:"tcp_addr,omitempty"`
	Local    bool      `json:"local"`
	Live     bool      `json:"live"`
	LastSeen time.Time `json:"last_seen"`
	Active   int64     `json:"active_connections"`
}

// ConnView is a live connection through a gateway.
type ConnView struct {
	Gateway   string    `json:"gateway"`
	Conn      string    `json:"conn"`
	SessionID string    `json:"session_id"`
	Remote    string    `json:"remote,omitempty"`
	Since     time.Time `json:"since"`
}

// Gateways lists the registered gateways: this hub's, and those the
// shared stores record (registered with any broker of the cluster).
func (h *GatewayHub) Gateways(ctx context.Context) []GatewayView {
	h.mu.Lock()
	shared := slices.Clone(h.shared)
	h.mu.Unlock()
	gws := h.known(ctx, shared)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	out := []GatewayView{}
	for id, g := range gws {
		out = append(out, GatewayView{ID: id, URL: g.reg.URL, TCPAddr: g.reg.TCPAddr, Local: g.local,
			Live: h.live(g, now), LastSeen: g.lastSeen, Active: h.activeLocked(id, g)})
	}
	slices.SortFunc(out, func(a, b GatewayView) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Connections lists the live connections.
func (h *GatewayHub) Connections() []ConnView {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []ConnView{}
	for _, c := range h.conns {
		out = append(out, ConnView{Gateway: c.gateway, Conn: c.conn, SessionID: c.session, Remote: c.remote, Since: c.since})
	}
	slices.SortFunc(out, func(a, b ConnView) int { return a.Since.Compare(b.Since) })
	return out
}

// gatewayAuth admits a remote gateway by the shared secret.
func (h *GatewayHub) gatewayAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || h.secret == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(h.secret)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="deskplane-gateway"`)
			writeJSON(w, http.StatusUnauthorized, errBody("Unauthorized", "a gateway authenticates with the broker's gateway_secret"))
			return
		}
		next(w, r)
	}
}

// routes adds the gateways' endpoints (shared-secret auth):
//
//	POST /v1/gateway/heartbeat {id, url, tcp_addr, active}   register / renew
//	POST /v1/gateway/redeem    {gateway, ticket}             → target, or 403
//	POST /v1/gateway/events    {gateway, conn, session_id, kind, bytes_in, bytes_out}
func (h *GatewayHub) routes(mux *http.ServeMux) {
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(v); err != nil {
			writeJSON(w, http.StatusBadRequest, errBody("BadRequest", "invalid JSON body: "+err.Error()))
			return false
		}
		return true
	}
	refuse := func(w http.ResponseWriter, err error) {
		if errors.Is(err, gateway.ErrDenied) {
			writeJSON(w, http.StatusForbidden, errBody("TicketRefused", err.Error()))
			return
		}
		writeError(w, err)
	}
	mux.HandleFunc("POST /v1/gateway/heartbeat", h.gatewayAuth(func(w http.ResponseWriter, r *http.Request) {
		var reg gateway.Registration
		if !decode(w, r, &reg) {
			return
		}
		if err := h.Heartbeat(r.Context(), reg); err != nil {
			if errors.Is(err, errBadRegistration) {
				writeJSON(w, http.StatusBadRequest, errBody("BadRequest", err.Error()))
				return
			}
			writeJSON(w, http.StatusServiceUnavailable, errBody("Unavailable", err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"live_for_seconds": int(gatewayLiveFor / time.Second)})
	}))
	mux.HandleFunc("POST /v1/gateway/redeem", h.gatewayAuth(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Gateway, Ticket string }
		if !decode(w, r, &req) {
			return
		}
		t, err := h.Redeem(r.Context(), req.Gateway, req.Ticket)
		if err != nil {
			refuse(w, err)
			return
		}
		writeJSON(w, http.StatusOK, t)
	}))
	mux.HandleFunc("POST /v1/gateway/events", h.gatewayAuth(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Gateway string `json:"gateway"`
			gateway.Event
		}
		if !decode(w, r, &req) {
			return
		}
		if err := h.Report(r.Context(), req.Gateway, req.Event); err != nil {
			refuse(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}
