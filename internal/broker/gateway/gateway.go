// Package gateway is the broker's connection gateway: the only path from a
// user to a desktop. A session the broker grants carries a short-lived,
// single-use ticket for one desktop and one protocol; the gateway accepts
// the user's connection, redeems the ticket with the broker and proxies
// bytes to the desktop's reachable address and the protocol's port.
//
// Two transports are accepted:
//
//   - WebSocket (browsers), at the gateway's HTTP handler: the first message
//     is the ticket (text); after it, every message is binary and carries
//     bytes in either direction. A refused ticket closes the socket with
//     status 1008 (policy violation) and the reason.
//   - Plain TCP (native clients): the first line (at most 512 bytes, within
//     10 seconds) is the ticket; after it the connection is the desktop's.
//     A refused ticket gets one line "DENIED <reason>" and the connection
//     closes.
//
// The gateway reports each connection's connect and disconnect (with the
// bytes each way) to the broker, which applies the power plan's
// on_disconnect when a session's last connection ends.
package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/loopback"
	"github.com/deskplane/deskplane/internal/safego"
)

// Target is what a redeemed ticket opens: one desktop, one protocol.
type Target struct {
	SessionID   string `json:"session_id"`
	User        string `json:"user"`
	WorkspaceID string `json:"workspace_id"`
	// IP is the desktop's address as the service reports it (its VPC
	// address); the gateway's AddressMap turns it into a reachable one
	// when the broker gives no Address.
	IP string `json:"ip"`
	// Address is host:port the broker resolved for this gateway to dial
	// (deskplane's runtime may move a desktop off its preferred loopback
	// address); empty: the gateway's AddressMap of IP and Port.
	Address  string `json:"address,omitempty"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	// Access is the IP access control of the desktop's directory, checked
	// on the user's source address before the desktop is dialed.
	Access IPAccess `json:"ip_access,omitzero"`
}

// Event kinds reported to the broker.
const (
	EventConnect    = "connect"
	EventDisconnect = "disconnect"
)

// Event is one connection's connect or disconnect.
type Event struct {
	// Conn identifies the connection within its gateway.
	Conn      string `json:"conn"`
	SessionID string `json:"session_id"`
	Kind      string `json:"kind"`
	// BytesIn are the bytes from the user to the desktop, BytesOut the
	// bytes back (totals at disconnect).
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// Remote is the user's address.
	Remote string `json:"remote,omitempty"`
	// Reason says why a connection was refused (EventRefused).
	Reason string `json:"reason,omitempty"`
}

// ErrDenied wraps every refusal of a ticket.
var ErrDenied = errors.New("ticket refused")

// Broker is the gateway's view of its broker: in process (the broker's
// hub) or over HTTP (Client).
type Broker interface {
	// Redeem checks and consumes a ticket issued for this gateway; errors
	// wrapping ErrDenied are refusals.
	Redeem(ctx context.Context, gatewayID, ticket string) (Target, error)
	// Report tells the broker about a connection.
	Report(ctx context.Context, gatewayID string, ev Event) error
}

// AddressMap turns a desktop's reported address into one this gateway can
// dial.
type AddressMap func(ip string, port int) (string, error)

// Direct dials the desktop's address as reported (AWS: the gateway runs in
// the desktops' VPC).
func Direct(ip string, port int) (string, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", fmt.Errorf("desktop address %q: %w", ip, err)
	}
	return netip.AddrPortFrom(a, uint16(port)).String(), nil
}

// Loopback dials the loopback address internal/loopback's rule derives from
// the desktop's VPC address (deskplane's process runtime, where each guest
// listens on its own 127.b.c.d).
func Loopback(ip string, port int) (string, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", fmt.Errorf("desktop address %q: %w", ip, err)
	}
	l, err := loopback.Preferred(a)
	if err != nil {
		return "", err
	}
	return netip.AddrPortFrom(l, uint16(port)).String(), nil
}

// MapByName returns the address map named in a configuration: "loopback"
// or "direct".
func MapByName(name string) (AddressMap, error) {
	switch name {
	case "loopback":
		return Loopback, nil
	case "direct":
		return Direct, nil
	}
	return nil, fmt.Errorf("address_map %q: want loopback or direct", name)
}

// Gateway proxies ticketed connections to desktops.
type Gateway struct {
	// ID names this gateway to the broker (tickets are bound to it).
	ID     string
	Broker Broker
	// Map resolves desktop addresses (default Direct).
	Map AddressMap
	Log *slog.Logger
	// DialTimeout bounds the dial to a desktop (default 10s).
	DialTimeout time.Duration
	// OriginPatterns are extra host patterns allowed as WebSocket origins
	// besides the request's own host.
	OriginPatterns []string

	active atomic.Int64
}

// Active returns the number of proxied connections open now.
func (g *Gateway) Active() int64 { return g.active.Load() }

func (g *Gateway) log() *slog.Logger {
	if g.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return g.Log
}

func (g *Gateway) addr(t Target) (string, error) {
	if t.Address != "" {
		if _, err := netip.ParseAddrPort(t.Address); err != nil {
			return "", fmt.Errorf("session %s: desktop address %q: %w", t.SessionID, t.Address, err)
		}
		return t.Address, nil
	}
	m := g.Map
	if m == nil {
		m = Direct
	}
	if t.IP == "" || t.Port <= 0 || t.Port > 65535 {
		return "", fmt.Errorf("session %s has no desktop address", t.SessionID)
	}
	return m(t.IP, t.Port)
}

func (g *Gateway) dial(ctx context.Context, t Target) (net.Conn, error) {
	addr, err := g.addr(t)
	if err != nil {
		return nil, err
	}
	to := g.DialTimeout
	if to == 0 {
		to = 10 * time.Second
	}
	d := net.Dialer{Timeout: to}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial desktop %s at %s: %w", t.WorkspaceID, addr, err)
	}
	return c, nil
}

// ServeHTTP accepts a WebSocket whose first message is the ticket.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Subprotocol "binary" is what websockify clients (and noVNC before
	// 1.3, which asks for none by default) request: accepted, and the
	// socket is the same either way.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: g.OriginPatterns, Subprotocols: []string{"binary"}})
	if err != nil {
		g.log().Info("gateway: websocket refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	ctx := r.Context()
	ws.SetReadLimit(1 << 20)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	typ, msg, err := ws.Read(rctx)
	cancel()
	if err != nil || typ != websocket.MessageText || len(msg) > 512 {
		ws.Close(websocket.StatusPolicyViolation, "the first message must be the ticket")
		return
	}
	t, desk, err := g.open(ctx, strings.TrimSpace(string(msg)), r.RemoteAddr)
	if err != nil {
		ws.Close(websocket.StatusPolicyViolation, reason(err))
		return
	}
	user := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	g.proxy(ctx, t, user, desk, r.RemoteAddr)
	ws.Close(websocket.StatusNormalClosure, "")
}

// ServeTCP accepts native clients on ln until ctx ends or ln closes.
func (g *Gateway) ServeTCP(ctx context.Context, ln net.Listener) error {
	safego.Go(ctx, g.log(), "gateway tcp close", func(ctx context.Context) {
		<-ctx.Done()
		ln.Close()
	}, nil)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("gateway accept: %w", err)
		}
		safego.Go(ctx, g.log(), "gateway tcp conn", func(ctx context.Context) { g.serveConn(ctx, c) }, nil)
	}
}

func (g *Gateway) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 512)
	line, err := br.ReadSlice('\n')
	if err != nil {
		io.WriteString(c, "DENIED the first line must be the ticket\n")
		return
	}
	c.SetReadDeadline(time.Time{})
	t, desk, err := g.open(ctx, strings.TrimSpace(string(line)), c.RemoteAddr().String())
	if err != nil {
		io.WriteString(c, "DENIED "+reason(err)+"\n")
		return
	}
	// Bytes the client sent after the ticket line are already buffered.
	user := &bufConn{Conn: c, r: br}
	g.proxy(ctx, t, user, desk, c.RemoteAddr().String())
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// open redeems the ticket, checks the user's source address remote against
// the directory's IP access control and dials the desktop.
func (g *Gateway) open(ctx context.Context, ticket, remote string) (Target, net.Conn, error) {
	if ticket == "" {
		return Target{}, nil, fmt.Errorf("%w: empty ticket", ErrDenied)
	}
	t, err := g.Broker.Redeem(ctx, g.ID, ticket)
	if err != nil {
		g.log().Info("gateway: ticket refused", "err", err)
		return Target{}, nil, err
	}
	if err := g.admit(ctx, t, remote); err != nil {
		return Target{}, nil, err
	}
	desk, err := g.dial(ctx, t)
	if err != nil {
		g.log().Warn("gateway: desktop unreachable", "session", t.SessionID, "err", err)
		return Target{}, nil, err
	}
	return t, desk, nil
}

func reason(err error) string {
	if errors.Is(err, ErrDenied) {
		s := err.Error()
		if len(s) > 120 {
			s = s[:120]
		}
		return s
	}
	return "the desktop is unreachable"
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// proxy copies bytes both ways until either side closes, reporting
// connect and disconnect.
func (g *Gateway) proxy(ctx context.Context, t Target, user, desk net.Conn, remote string) {
	conn := "c-" + ids.Hex(12)
	g.active.Add(1)
	defer g.active.Add(-1)
	g.report(ctx, Event{Conn: conn, SessionID: t.SessionID, Kind: EventConnect, Remote: remote})
	g.log().Info("gateway: connected", "session", t.SessionID, "user", t.User, "workspace", t.WorkspaceID, "protocol", t.Protocol, "remote", remote)
	var in, out atomic.Int64
	done := make(chan struct{}, 2)
	safego.Go(ctx, g.log(), "gateway copy in", func(context.Context) {
		io.Copy(countWriter{desk, &in}, user)
		if tc, ok := desk.(*net.TCPConn); ok {
			tc.CloseWrite()
		} else {
			desk.Close()
		}
	}, func() { done <- struct{}{} })
	safego.Go(ctx, g.log(), "gateway copy out", func(context.Context) {
		io.Copy(countWriter{user, &out}, desk)
		user.Close()
	}, func() { done <- struct{}{} })
	<-done
	// One direction ended: the session ends when the desktop or the user
	// goes away.
	user.Close()
	desk.Close()
	<-done
	ev := Event{Conn: conn, SessionID: t.SessionID, Kind: EventDisconnect, BytesIn: in.Load(), BytesOut: out.Load(), Remote: remote}
	// The report outlives the user's request context.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	g.report(rctx, ev)
	g.log().Info("gateway: disconnected", "session", t.SessionID, "bytes_in", ev.BytesIn, "bytes_out", ev.BytesOut)
}

func (g *Gateway) report(ctx context.Context, ev Event) {
	if err := g.Broker.Report(ctx, g.ID, ev); err != nil {
		g.log().Warn("gateway: report to the broker failed", "kind", ev.Kind, "session", ev.SessionID, "err", err)
	}
}
