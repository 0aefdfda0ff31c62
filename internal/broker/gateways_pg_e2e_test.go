package broker

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/broker/gateway"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestGatewaysSharedAcrossPostgresBrokers: two brokers on one PostgreSQL
// state, each with its own hub and no gateway of its own. gw-1 registers
// (heartbeats) only with broker A, gw-2 only with broker B. Broker B grants
// alice a session on gw-1, whose user connects through it (gw-1 redeems
// at A, where it registered) and reaches the desktop; broker B sees the
// connection live from the store, and both brokers list both gateways as
// live. Sessions spread over the two by their reported
// load, in turn when equal. A gateway whose heartbeats stop drops out of
// every broker's choice after gatewayLiveFor and comes back with its next
// heartbeat; the brokers' own id "local" cannot be registered.
func TestGatewaysSharedAcrossPostgresBrokers(t *testing.T) {
	ctx := context.Background()
	e, ba, bb, atA, atB := postgresBrokerPair(t)

	// gw-1 runs against broker A only.
	desk := echoDesktop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg1 := gateway.Registration{ID: "gw-1", URL: "ws://gw-1.example:8443/gateway/ws", TCPAddr: ln.Addr().String()}
	reg2 := gateway.Registration{ID: "gw-2", URL: "ws://gw-2.example:8443/gateway/ws", TCPAddr: "127.0.0.1:9"}
	beat := func(c *gateway.Client, r gateway.Registration, active int64) {
		t.Helper()
		r.Active = active
		if err := c.Heartbeat(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	beat(atA, reg1, 0)
	gw1 := &gateway.Gateway{ID: "gw-1", Broker: clientAt{atA, desk}}
	gctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go gw1.ServeTCP(gctx, ln)

	// Broker B, which gw-1 never told about itself, grants on gw-1.
	v, err := bb.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() || v.Ticket == "" {
		t.Fatalf("alice at broker B: %+v %v", v, err)
	}
	if v.Gateway != "gw-1" || v.GatewayURL != reg1.URL || v.GatewayTCP != reg1.TCPAddr {
		t.Fatalf("broker B's session is on gateway %q (%s, %s), want gw-1 registered at broker A", v.Gateway, v.GatewayURL, v.GatewayTCP)
	}
	c, r, line := tcpConnect(t, v.GatewayTCP, v.Ticket)
	if line != "DESKTOP READY" {
		t.Fatalf("broker B's ticket through gw-1: %q", line)
	}
	c.Write([]byte("hi\n"))
	if got, _ := r.ReadString('\n'); got != "hi\n" {
		t.Fatalf("echo %q", got)
	}
	testserver.Eventually(t, 10*time.Second, func() bool { return len(ba.Hub().Connections()) == 1 }, "gw-1 reports the connection to broker A")
	// Broker B, to which nothing was reported, sees the live connection
	// (console, GET /v1/gateways, the portal's CONNECTED) from the store.
	sess, err := bb.Store().Session(ctx, v.SessionID)
	if err != nil || sess == nil {
		t.Fatal(sess, err)
	}
	if cs := bb.Hub().ConnectionsOf(ctx, bb); len(bb.Hub().Connections()) != 0 || len(cs) != 1 || cs[0].SessionID != v.SessionID || cs[0].Gateway != "gw-1" {
		t.Fatalf("broker B's view of the connections: %+v", cs)
	}
	if !bb.Hub().sessionConnected(ctx, bb, sess) {
		t.Fatal("broker B does not see alice's session connected")
	}
	c.Close()
	testserver.Eventually(t, 10*time.Second, func() bool {
		s, err := bb.GetSession(ctx, v.SessionID)
		return err == nil && s.State == SessDisconnected
	}, "the disconnect gw-1 reported to A is broker B's session's")
	if cs := bb.Hub().ConnectionsOf(ctx, bb); len(cs) != 0 || bb.Hub().sessionConnected(ctx, bb, sess) {
		t.Fatalf("broker B's connections after the disconnect: %+v", cs)
	}

	// gw-2 registers with broker B; each broker lists both, live.
	beat(atB, reg2, 0)
	for name, b := range map[string]*Broker{"A": ba, "B": bb} {
		gws := b.Hub().Gateways(ctx)
		if len(gws) != 2 || gws[0].ID != "gw-1" || gws[1].ID != "gw-2" || !gws[0].Live || !gws[1].Live || gws[0].URL != reg1.URL {
			t.Fatalf("broker %s's gateways: %+v", name, gws)
		}
	}

	// Spreading: the less loaded gateway by the heartbeats' counts, in
	// turn when equal — at both brokers.
	if _, err := ba.RequestSession(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	pickAt := func(b *Broker) string {
		t.Helper()
		x, err := b.SessionWithTicket(ctx, v.SessionID)
		if err != nil || x.Ticket == "" {
			t.Fatalf("ticket: %+v %v", x, err)
		}
		return x.Gateway
	}
	beat(atA, reg1, 3)
	beat(atB, reg2, 0)
	for _, b := range []*Broker{ba, bb, ba, bb} {
		if g := pickAt(b); g != "gw-2" {
			t.Fatalf("gw-1 carries 3 connections, gw-2 none: picked %s", g)
		}
	}
	beat(atB, reg2, 5)
	for _, b := range []*Broker{ba, bb} {
		if g := pickAt(b); g != "gw-1" {
			t.Fatalf("gw-1 carries 3 connections, gw-2 5: picked %s", g)
		}
	}
	beat(atA, reg1, 0)
	beat(atB, reg2, 0)
	seen := map[string]int{}
	for range 4 {
		seen[pickAt(bb)]++
	}
	if seen["gw-1"] != 2 || seen["gw-2"] != 2 {
		t.Fatalf("equal load, four sessions at broker B: %v", seen)
	}

	// gw-1 falls silent: after gatewayLiveFor neither broker picks it, and
	// both show it not live; its next heartbeat brings it back.
	e.advance(gatewayLiveFor / 2)
	beat(atB, reg2, 0)
	e.advance(gatewayLiveFor/2 + time.Second)
	for _, b := range []*Broker{ba, bb, ba, bb} {
		if g := pickAt(b); g != "gw-2" {
			t.Fatalf("gw-1 silent for %s: picked %s", gatewayLiveFor+time.Second, g)
		}
	}
	for name, b := range map[string]*Broker{"A": ba, "B": bb} {
		gws := b.Hub().Gateways(ctx)
		if len(gws) != 2 || gws[0].Live || !gws[1].Live {
			t.Fatalf("broker %s's gateways with gw-1 silent: %+v", name, gws)
		}
	}
	beat(atA, reg1, 0)
	seen = map[string]int{}
	for range 2 {
		seen[pickAt(bb)]++
	}
	if seen["gw-1"] != 1 {
		t.Fatalf("gw-1 heartbeats again: picks %v", seen)
	}
	// Both silent: no ticket, no gateway.
	e.advance(gatewayLiveFor + time.Second)
	if x, err := bb.SessionWithTicket(ctx, v.SessionID); err != nil || x.Ticket != "" || x.Gateway != "" {
		t.Fatalf("no live gateway, yet: %+v %v", x, err)
	}

	// The brokers' in-process gateways' id is not a remote gateway's.
	err = atA.Heartbeat(ctx, gateway.Registration{ID: LocalGatewayID, URL: "ws://x/gateway/ws"})
	if err == nil || errors.Is(err, gateway.ErrDenied) || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a remote gateway named %q: %v", LocalGatewayID, err)
	}
}
