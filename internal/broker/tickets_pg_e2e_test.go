package broker

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/broker/gateway"
)

// TestTicketsSharedAcrossPostgresBrokers: two brokers on one PostgreSQL
// state, each with its own hub. A gateway registered with both (as behind a
// load balancer) is given a ticket by one broker and redeems it at the
// other over the gateways' HTTP API; the ticket is then spent at both;
// raced at both at once, each ticket is redeemed exactly once.
func TestTicketsSharedAcrossPostgresBrokers(t *testing.T) {
	ctx := context.Background()
	e, ba, bb, atA, atB := postgresBrokerPair(t)

	// One gateway, gw-1, whose calls land at either broker.
	desk := echoDesktop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := gateway.Registration{ID: "gw-1", URL: "ws://unused/gateway/ws", TCPAddr: ln.Addr().String()}
	for _, c := range []*gateway.Client{atA, atB} {
		if err := c.Heartbeat(ctx, reg); err != nil {
			t.Fatal(err)
		}
	}
	viaB := &gateway.Gateway{ID: "gw-1", Broker: clientAt{atB, desk}}
	gctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go viaB.ServeTCP(gctx, ln)

	// Broker A grants alice's session; the gateway redeems at broker B.
	v, err := ba.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() || v.Ticket == "" || v.Gateway != "gw-1" {
		t.Fatalf("alice at broker A: %+v %v", v, err)
	}
	if n := ticketRows(t, ba); n != 1 {
		t.Fatalf("%d ticket rows in the database, want 1", n)
	}
	c, r, line := tcpConnect(t, v.GatewayTCP, v.Ticket)
	if line != "DESKTOP READY" {
		t.Fatalf("broker A's ticket at broker B: %q", line)
	}
	c.Write([]byte("hi\n"))
	if got, _ := r.ReadString('\n'); got != "hi\n" {
		t.Fatalf("echo %q", got)
	}
	// Spent: neither broker redeems it again.
	for name, cl := range map[string]*gateway.Client{"A": atA, "B": atB} {
		if _, err := cl.Redeem(ctx, "gw-1", v.Ticket); !errors.Is(err, gateway.ErrDenied) || !strings.Contains(err.Error(), "already used") {
			t.Fatalf("spent ticket at broker %s: %v", name, err)
		}
	}
	// The other way round: B issues, A redeems, B refuses.
	v2, err := bb.SessionWithTicket(ctx, v.SessionID)
	if err != nil || v2.Ticket == "" {
		t.Fatalf("a ticket from broker B: %+v %v", v2, err)
	}
	if tg, err := atA.Redeem(ctx, "gw-1", v2.Ticket); err != nil || tg.SessionID != v.SessionID {
		t.Fatalf("broker B's ticket at broker A: %+v %v", tg, err)
	}
	if _, err := atB.Redeem(ctx, "gw-1", v2.Ticket); !errors.Is(err, gateway.ErrDenied) {
		t.Fatalf("broker B's ticket, spent at A, at B: %v", err)
	}

	// Raced at both brokers at once: each ticket is redeemed once.
	for i := 0; i < 10; i++ {
		vi, err := ba.SessionWithTicket(ctx, v.SessionID)
		if err != nil || vi.Ticket == "" {
			t.Fatalf("ticket %d: %+v %v", i, vi, err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for _, cl := range []*gateway.Client{atA, atB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := cl.Redeem(ctx, "gw-1", vi.Ticket)
				if err != nil && !errors.Is(err, gateway.ErrDenied) {
					t.Errorf("redeem: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("ticket %d redeemed %d times", i, wins)
		}
	}
	// Expired rows are purged (a minute after the last purge, on the
	// broker's clock) once their tickets expire.
	if _, err := ba.SessionWithTicket(ctx, v.SessionID); err != nil {
		t.Fatal(err)
	}
	e.advance(2 * e.cfg.ticketTTL())
	if _, err := ba.SessionWithTicket(ctx, v.SessionID); err != nil {
		t.Fatal(err)
	}
	if n := ticketRows(t, ba); n != 1 {
		t.Fatalf("%d ticket rows after the expired ones were purged, want the new one", n)
	}
}

func ticketRows(t *testing.T, b *Broker) int {
	t.Helper()
	var n int
	if err := b.Store().queryRow(context.Background(), `SELECT count(*) FROM tickets`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// clientAt is a gateway's client of a broker whose redeemed targets are
// redirected to a stand-in desktop (the broker resolves the desktop's real
// address, which no test desktop listens on).
type clientAt struct {
	*gateway.Client
	desk string
}

func (c clientAt) Redeem(ctx context.Context, gatewayID, tk string) (gateway.Target, error) {
	t, err := c.Client.Redeem(ctx, gatewayID, tk)
	if err == nil {
		t.Address = c.desk
	}
	return t, err
}

// postgresBrokerPair starts two brokers on one fresh PostgreSQL state with
// the gateway secret "gw-secret": A holds the reconcile lease and has
// settled three pools; each is served over HTTP, with a gateway client for
// each.
func postgresBrokerPair(t *testing.T) (e *testEnv, ba, bb *Broker, atA, atB *gateway.Client) {
	t.Helper()
	dsn := freshDatabase(t)
	e = startEnv(t)
	e.withPools(1, 3, 1)
	e.cfg.Store = dsn
	e.cfg.GatewaySecret = "gw-secret"
	ba, bb = e.broker(), e.broker()
	if !ba.campaign(context.Background()) {
		t.Fatal("broker A did not take the reconcile lease")
	}
	reconcileUntil(t, ba, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "pools settle")
	srvA, srvB := httptest.NewServer(ba.Handler()), httptest.NewServer(bb.Handler())
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	return e, ba, bb, &gateway.Client{URL: srvA.URL, Secret: "gw-secret"}, &gateway.Client{URL: srvB.URL, Secret: "gw-secret"}
}
