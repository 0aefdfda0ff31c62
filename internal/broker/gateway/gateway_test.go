package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

func TestAddressMaps(t *testing.T) {
	for _, c := range []struct{ m, ip, want string }{
		{"loopback", "10.0.1.4", "127.0.1.4:3389"},
		{"loopback", "172.16.5.9", "127.16.5.9:3389"},
		{"direct", "10.0.1.4", "10.0.1.4:3389"},
	} {
		m, err := MapByName(c.m)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m(c.ip, 3389); err != nil || got != c.want {
			t.Errorf("%s(%s) = %s, %v; want %s", c.m, c.ip, got, err, c.want)
		}
	}
	if _, err := MapByName("nat"); err == nil {
		t.Error("unknown map accepted")
	}
	if _, err := Loopback("not-an-ip", 1); err == nil {
		t.Error("bad address accepted")
	}
}

// oneTicket is a broker that knows a single ticket, once.
type oneTicket struct {
	mu     sync.Mutex
	ticket string
	target Target
	events []Event
}

func (o *oneTicket) Redeem(_ context.Context, gw, tk string) (Target, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if tk == "" || tk != o.ticket {
		return Target{}, ErrDenied
	}
	o.ticket = ""
	return o.target, nil
}

func (o *oneTicket) Report(_ context.Context, gw string, ev Event) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, ev)
	return nil
}

func TestTCPTicketOnceAndBytesAfterTicketLine(t *testing.T) {
	desk, _ := net.Listen("tcp", "127.0.0.1:0")
	defer desk.Close()
	go func() {
		c, err := desk.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	_, port, _ := net.SplitHostPort(desk.Addr().String())
	b := &oneTicket{ticket: "T1", target: Target{SessionID: "s-1", IP: "127.0.0.1", Port: atoi(port)}}
	g := &Gateway{ID: "g", Broker: b}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.ServeTCP(ctx, ln)

	// The ticket line and the first bytes in one write: nothing is lost.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "T1\nping\n")
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo %q %v", line, err)
	}
	c.Close()
	// Used once: refused.
	c2, _ := net.Dial("tcp", ln.Addr().String())
	defer c2.Close()
	io.WriteString(c2, "T1\n")
	if line, _ := bufio.NewReader(c2).ReadString('\n'); !strings.HasPrefix(line, "DENIED") {
		t.Fatalf("second use: %q", line)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestWebSocketBinarySubprotocolAndBrokerAddress: a browser asking for
// subprotocol "binary" (websockify clients, older noVNC) gets it, and the
// gateway dials the address the broker resolved, not its own map of IP.
func TestWebSocketBinarySubprotocolAndBrokerAddress(t *testing.T) {
	desk, _ := net.Listen("tcp", "127.0.0.1:0")
	defer desk.Close()
	go func() {
		c, err := desk.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "RFB 003.008\n")
		io.Copy(c, c)
	}()
	// IP maps (Loopback) to somewhere nothing listens; Address is the desktop.
	b := &oneTicket{ticket: "T2", target: Target{SessionID: "s-2", IP: "10.0.250.250", Port: 5900, Address: desk.Addr().String()}}
	g := &Gateway{ID: "g", Broker: b, Map: Loopback}
	srv := httptest.NewServer(g)
	defer srv.Close()
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != "binary" {
		t.Fatalf("subprotocol %q, want binary", ws.Subprotocol())
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("T2")); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || string(msg) != "RFB 003.008\n" {
		t.Fatalf("first message %v %q %v", typ, msg, err)
	}
	// A malformed address from the broker is refused, never dialled.
	g2 := &Gateway{ID: "g", Broker: &oneTicket{ticket: "T3", target: Target{SessionID: "s-3", IP: "127.0.0.1", Port: 5900, Address: "desk:5900"}}}
	if _, _, err := g2.open(ctx, "T3", "127.0.0.1:50000"); err == nil || !strings.Contains(err.Error(), "desktop address") {
		t.Fatalf("bad broker address: %v", err)
	}
}
