package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/deskplane/deskplane/internal/broker/gateway"
	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/testserver"
)

// echoDesktop stands in for a desktop: a banner line, then an echo.
func echoDesktop(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		defer safego.Recover(nil, "echo desktop")
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer safego.Recover(nil, "echo conn")
				defer c.Close()
				io.WriteString(c, "DESKTOP READY\n")
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// gatewayEnv is a broker with pools, an in-process gateway (WebSocket on an
// httptest server, TCP on a listener) and an echo server as every desktop.
type gatewayEnv struct {
	*testEnv
	b       *Broker
	gw      *gateway.Gateway
	wsURL   string
	tcpAddr string
	dialed  chan string // desktop addresses the broker resolved
}

// redirectBroker is the hub as a gateway sees it, recording the address
// the broker resolved for each redeemed ticket and sending the gateway to
// the echo desktop instead.
type redirectBroker struct {
	*GatewayHub
	dialed chan string
	desk   string
}

func (r redirectBroker) Redeem(ctx context.Context, gatewayID, tk string) (gateway.Target, error) {
	t, err := r.GatewayHub.Redeem(ctx, gatewayID, tk)
	if err == nil {
		select {
		case r.dialed <- t.Address:
		default:
		}
		t.Address = r.desk
	}
	return t, err
}

func startGatewayEnv(t *testing.T) *gatewayEnv {
	t.Helper()
	e := startEnv(t)
	e.withPools(1, 3, 1)
	b := e.broker()
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "pools settle")
	desk := echoDesktop(t)
	g := &gatewayEnv{testEnv: e, b: b, dialed: make(chan string, 16)}
	g.gw = &gateway.Gateway{ID: LocalGatewayID, Broker: redirectBroker{b.Hub(), g.dialed, desk}}
	srv := httptest.NewServer(g.gw)
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go g.gw.ServeTCP(ctx, ln)
	g.wsURL, g.tcpAddr = "ws"+strings.TrimPrefix(srv.URL, "http"), ln.Addr().String()
	b.Hub().RegisterLocal(gateway.Registration{ID: LocalGatewayID, URL: g.wsURL, TCPAddr: g.tcpAddr})
	return g
}

// tcpConnect opens a native connection with the ticket as the first line
// and returns the connection and the first line it answers.
func tcpConnect(t *testing.T, addr, tk string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, tk+"\n")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return c, r, "EOF"
	}
	return c, r, strings.TrimSpace(line)
}

func TestGatewayProxiesWebSocketAndTCP(t *testing.T) {
	g := startGatewayEnv(t)
	ctx := context.Background()
	v, err := g.b.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() {
		t.Fatalf("alice: %+v %v", v, err)
	}
	if v.Ticket == "" || v.Gateway != LocalGatewayID || v.GatewayURL != g.wsURL || v.GatewayTCP != g.tcpAddr {
		t.Fatalf("no ticket/gateway in %+v", v)
	}
	if !v.TicketExpires.After(g.clock.Now()) {
		t.Fatalf("ticket expires %v", v.TicketExpires)
	}

	// WebSocket: the ticket, then bytes both ways.
	ws, _, err := websocket.Dial(ctx, v.GatewayURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(v.Ticket)); err != nil {
		t.Fatal(err)
	}
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	br := bufio.NewReader(nc)
	if line, err := br.ReadString('\n'); err != nil || line != "DESKTOP READY\n" {
		t.Fatalf("banner %q %v", line, err)
	}
	io.WriteString(nc, "hello over websocket\n")
	if line, err := br.ReadString('\n'); err != nil || line != "hello over websocket\n" {
		t.Fatalf("echo %q %v", line, err)
	}
	// The gateway was sent to alice's desktop at its DCV port, on the
	// loopback address its VPC address maps to (deskplane without a
	// runtime listing it).
	lo, _ := gateway.Loopback(v.IP, 8443)
	if got := <-g.dialed; got != lo {
		t.Fatalf("sent to %s, want alice's desktop at %s", got, lo)
	}
	testserver.Eventually(t, 10*time.Second, func() bool { return len(g.b.Hub().Connections()) == 1 }, "connect reported")

	// The same ticket again is refused, over TCP too.
	_, _, line := tcpConnect(t, g.tcpAddr, v.Ticket)
	if !strings.HasPrefix(line, "DENIED") {
		t.Fatalf("reused ticket: %q", line)
	}

	// A second ticket, over TCP.
	v2, err := g.b.SessionWithTicket(ctx, v.SessionID)
	if err != nil || v2.Ticket == "" || v2.Ticket == v.Ticket {
		t.Fatalf("second ticket %+v %v", v2, err)
	}
	c, r, line := tcpConnect(t, g.tcpAddr, v2.Ticket)
	if line != "DESKTOP READY" {
		t.Fatalf("tcp banner %q", line)
	}
	io.WriteString(c, "hello over tcp\n")
	if got, _ := r.ReadString('\n'); got != "hello over tcp\n" {
		t.Fatalf("tcp echo %q", got)
	}
	testserver.Eventually(t, 10*time.Second, func() bool { return len(g.b.Hub().Connections()) == 2 }, "second connect")

	// GET /v1/gateways lists the gateway and both connections.
	api := httptest.NewServer(g.b.Handler())
	defer api.Close()
	req, _ := http.NewRequest("GET", api.URL+"/v1/gateways", nil)
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Gateways    []GatewayView `json:"gateways"`
		Connections []ConnView    `json:"connections"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Gateways) != 1 || !list.Gateways[0].Live || list.Gateways[0].Active != 2 || len(list.Connections) != 2 {
		t.Fatalf("GET /v1/gateways %+v", list)
	}

	// Closing one connection is not yet a disconnect of the session.
	ws.Close(websocket.StatusNormalClosure, "")
	testserver.Eventually(t, 10*time.Second, func() bool { return len(g.b.Hub().Connections()) == 1 }, "ws disconnect reported")
	if s, _ := g.b.Store().Session(ctx, v.SessionID); s.State != SessActive {
		t.Fatalf("session %s after one of two connections closed", s.State)
	}
}

func TestGatewayRefusesForgedExpiredAndForeignTickets(t *testing.T) {
	g := startGatewayEnv(t)
	ctx := context.Background()
	hub := g.b.Hub()
	// Forged: never issued.
	if _, err := hub.Redeem(ctx, LocalGatewayID, "Zm9yZ2VkLXRpY2tldC1mb3JnZWQtdGlja2V0LWZvcmdlZA"); err == nil {
		t.Fatal("forged ticket redeemed")
	}
	_, _, line := tcpConnect(t, g.tcpAddr, "forged")
	if !strings.HasPrefix(line, "DENIED") {
		t.Fatalf("forged over tcp: %q", line)
	}
	// WebSocket with a forged ticket: closed with a policy violation.
	ws, _, err := websocket.Dial(ctx, g.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Write(ctx, websocket.MessageText, []byte("forged"))
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("forged over websocket: %v", err)
	}

	v, err := g.b.RequestSession(ctx, "alice")
	if err != nil || v.Ticket == "" {
		t.Fatalf("alice %+v %v", v, err)
	}
	// Expired: a ticket lives a minute on the broker's clock.
	g.advance(61 * time.Second)
	_, _, line = tcpConnect(t, g.tcpAddr, v.Ticket)
	if !strings.Contains(line, "expired") {
		t.Fatalf("expired ticket: %q", line)
	}
	// Issued for another gateway: refused by this one.
	hub.RegisterLocal(gateway.Registration{ID: "other", URL: "ws://other"})
	hub.mu.Lock()
	delete(hub.gateways, LocalGatewayID)
	hub.mu.Unlock()
	v2, err := g.b.SessionWithTicket(ctx, v.SessionID)
	if err != nil || v2.Gateway != "other" {
		t.Fatalf("ticket for other: %+v %v", v2, err)
	}
	if _, err := hub.Redeem(ctx, LocalGatewayID, v2.Ticket); err == nil || !strings.Contains(err.Error(), "another gateway") {
		t.Fatalf("foreign ticket: %v", err)
	}
	// Nothing was ever dialled.
	select {
	case a := <-g.dialed:
		t.Fatalf("a refused ticket reached desktop %s", a)
	default:
	}
	// A gateway cannot report a connection for a session it redeemed no
	// ticket of.
	if err := hub.Report(ctx, "other", gateway.Event{Conn: "c-x", SessionID: v.SessionID, Kind: gateway.EventConnect}); err == nil {
		t.Fatal("connect without a redeemed ticket accepted")
	}
}

func TestGatewayDisconnectAppliesPowerPlan(t *testing.T) {
	g := startGatewayEnv(t)
	ctx := context.Background()
	v, err := g.b.RequestSession(ctx, "alice") // engineers: stop-after-30
	if err != nil || v.Ticket == "" {
		t.Fatalf("alice %+v %v", v, err)
	}
	c, _, line := tcpConnect(t, g.tcpAddr, v.Ticket)
	if line != "DESKTOP READY" {
		t.Fatalf("banner %q", line)
	}
	testserver.Eventually(t, 10*time.Second, func() bool { return len(g.b.Hub().Connections()) == 1 }, "connect")
	// The desktop's last connection (the console's and GET /v1/desktops')
	// and the event log come from the gateway's report.
	last := func() *LastConnection {
		ds, err := g.b.Desktops(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.ID == v.WorkspaceID {
				return d.LastConnection
			}
		}
		return nil
	}
	connectedAt := g.clock.Now()
	if lc := last(); lc == nil || lc.User != "alice" || lc.Gateway != LocalGatewayID || !lc.Ended.IsZero() || lc.At.Sub(connectedAt).Abs() > time.Minute {
		t.Fatalf("last connection while connected: %+v", lc)
	}
	c.Close() // the user goes away
	var d *Desktop
	testserver.Eventually(t, 10*time.Second, func() bool {
		s, _ := g.b.Store().Session(ctx, v.SessionID)
		d, _ = g.b.Store().Desktop(ctx, v.WorkspaceID)
		return s.State == SessDisconnected && !d.StopAt.IsZero()
	}, "the gateway's disconnect ends the session and sets the power plan's deadline")
	if lc := last(); lc == nil || lc.Ended.IsZero() || lc.BytesOut == 0 {
		t.Fatalf("last connection after the disconnect: %+v", lc)
	}
	evs, err := g.b.Events(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range evs {
		if e.WorkspaceID == v.WorkspaceID {
			kinds[e.Kind]++
		}
	}
	if kinds[EventGatewayConnect] != 1 || kinds[EventGatewayDisconnect] != 1 {
		t.Fatalf("event log of %s: %v", v.WorkspaceID, kinds)
	}
	if want := g.clock.Now().Add(30 * time.Minute); d.StopAt.IsZero() || d.StopAt.After(want) || d.StopAt.Before(want.Add(-time.Minute)) {
		t.Fatalf("stop_at %v, want about %v", d.StopAt, want)
	}
	g.advance(20 * time.Minute)
	reconcileUntil(t, g.b, func(r *PassReport) bool { return settled(r, "eng") }, "no stop before 30m")
	g.advance(15 * time.Minute)
	reconcileUntil(t, g.b, func(r *PassReport) bool { return len(r.Pools["eng"].Stopped) == 1 }, "stop after 30m")
	// The audit log says why: the reconciler's decision, with its rule.
	evs, err = g.b.Events(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	why := ""
	for _, e := range evs {
		if e.Kind == EventDecision && e.WorkspaceID == v.WorkspaceID {
			why = e.Detail
		}
	}
	if !strings.Contains(why, "pool eng: stop: power plan: alice's desktop passed its stop deadline") {
		t.Fatalf("the stop's decision in the event log: %q", why)
	}
}

func TestGatewayProcessRegistersWithSecretAndProxies(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 3, 1)
	e.cfg.GatewaySecret = "gw-secret"
	f, err := NewFleet(context.Background(), e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	b := f.Broker(DefaultTenant)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "pools settle")
	api := httptest.NewServer(f.Handler())
	t.Cleanup(api.Close)

	// A wrong secret is refused.
	bad := &gateway.Client{URL: api.URL, Secret: "wrong"}
	if err := bad.Heartbeat(context.Background(), gateway.Registration{ID: "gw-x", URL: "ws://x"}); err == nil {
		t.Fatal("heartbeat with a wrong secret accepted")
	}
	// No gateway is live: an active session carries no ticket.
	v, err := b.RequestSession(context.Background(), "alice")
	if err != nil || !v.Ready() || v.Ticket != "" {
		t.Fatalf("alice without gateways %+v %v", v, err)
	}

	// The desktop's guest listens on a loopback address, as the process
	// runtime's guests do, on the protocol's port.
	ln := guestListen(t, b, v.IP, v.WorkspaceID, v.Port)[0]
	wsID := v.WorkspaceID
	go func() {
		defer safego.Recover(nil, "guest")
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "GUEST "+wsID+"\n")
		io.Copy(c, c)
	}()

	cfg := &gateway.Config{ID: "gw-1", BrokerURL: api.URL, Secret: "gw-secret", Listen: "127.0.0.1:0", ListenTCP: "127.0.0.1:0", AddressMap: "loopback"}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan gateway.Registration, 1)
	done := make(chan error, 1)
	go func() { done <- gateway.Run(ctx, cfg, slogDiscard(), func(r gateway.Registration) { ready <- r }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway run: %v", err)
		}
	}()
	var reg gateway.Registration
	select {
	case reg = <-ready:
	case err := <-done:
		t.Fatalf("gateway: %v", err)
	}
	v, err = b.SessionWithTicket(context.Background(), v.SessionID)
	if err != nil || v.Gateway != "gw-1" || v.GatewayTCP != reg.TCPAddr || v.Ticket == "" {
		t.Fatalf("session through gw-1 %+v %v", v, err)
	}
	c, r, line := tcpConnect(t, reg.TCPAddr, v.Ticket)
	if line != "GUEST "+v.WorkspaceID {
		t.Fatalf("banner %q", line)
	}
	io.WriteString(c, "ping\n")
	if got, _ := r.ReadString('\n'); got != "ping\n" {
		t.Fatalf("echo %q", got)
	}
	c.Close()
	testserver.Eventually(t, 10*time.Second, func() bool {
		s, _ := b.Store().Session(context.Background(), v.SessionID)
		return s.State == SessDisconnected
	}, "remote gateway's disconnect reaches the broker")
	// Without heartbeats the gateway stops being live after 30 seconds.
	e.advance(31 * time.Second)
	gws := f.Hub().Gateways(context.Background())
	if len(gws) != 1 || gws[0].Live {
		t.Fatalf("gateways after silence %+v", gws)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestGatewayConfigIsTheProcesss(t *testing.T) {
	c := &Config{DataDir: t.TempDir(), Tenants: []Tenant{{Name: "acme", Config: Config{GatewaySecret: "s"}}}}
	if _, _, err := c.TenantConfigs(); err == nil || !strings.Contains(err.Error(), "gateway_secret") {
		t.Fatalf("a tenant's gateway_secret: %v", err)
	}
	c = &Config{Gateway: GatewayConfig{AddressMap: "nat"}}
	c.applyDefaults()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "address_map") {
		t.Fatalf("address_map nat: %v", err)
	}
	c = &Config{Gateway: GatewayConfig{TicketTTL: "-1s"}}
	c.applyDefaults()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ticket_ttl") {
		t.Fatalf("ticket_ttl -1s: %v", err)
	}
}
