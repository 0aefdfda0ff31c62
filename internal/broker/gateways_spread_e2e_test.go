package broker

import (
	"context"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/broker/gateway"
)

// TestSessionsSpreadOverLiveGateways: one broker on its embedded store
// with its in-process gateway and two gateway processes' registrations.
// Tickets go to the least loaded live gateway (the processes' load is
// what their heartbeats report, the in-process one's its open
// connections), in turn when equal; a gateway silent for gatewayLiveFor
// gets none until it heartbeats again.
func TestSessionsSpreadOverLiveGateways(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 3, 1)
	ctx := context.Background()
	b := e.broker()
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") }, "pools settle")
	hub := b.Hub()
	hub.RegisterLocal(gateway.Registration{ID: LocalGatewayID, URL: "/gateway/ws", TCPAddr: "127.0.0.1:9"})
	beat := func(id string, active int64) {
		t.Helper()
		if err := hub.Heartbeat(ctx, gateway.Registration{ID: id, URL: "wss://" + id + ".example/gateway/ws", TCPAddr: id + ".example:7000", Active: active}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := b.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() {
		t.Fatalf("alice %+v %v", v, err)
	}
	picks := func(n int) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for range n {
			x, err := b.SessionWithTicket(ctx, v.SessionID)
			if err != nil || x.Ticket == "" {
				t.Fatalf("ticket: %+v %v", x, err)
			}
			seen[x.Gateway]++
		}
		return seen
	}
	beat("gw-a", 0)
	beat("gw-b", 0)
	if got := picks(6); got[LocalGatewayID] != 2 || got["gw-a"] != 2 || got["gw-b"] != 2 {
		t.Fatalf("three idle gateways, six tickets: %v", got)
	}
	beat("gw-a", 4)
	beat("gw-b", 2)
	// The in-process gateway carries nothing: it wins while the others
	// report load.
	if got := picks(3); got[LocalGatewayID] != 3 {
		t.Fatalf("local idle, gw-a 4, gw-b 2: %v", got)
	}
	// Silent for gatewayLiveFor: gw-b drops out; gw-a heartbeats.
	e.advance(gatewayLiveFor / 2)
	beat("gw-a", 0)
	e.advance(gatewayLiveFor/2 + time.Second)
	if got := picks(4); got["gw-b"] != 0 || got["gw-a"] != 2 || got[LocalGatewayID] != 2 {
		t.Fatalf("gw-b silent: %v", got)
	}
	for _, g := range hub.Gateways(ctx) {
		if g.Live != (g.ID != "gw-b") {
			t.Fatalf("gateway %s live %v", g.ID, g.Live)
		}
	}
	beat("gw-b", 0)
	if got := picks(3); got["gw-b"] != 1 {
		t.Fatalf("gw-b back: %v", got)
	}
}
