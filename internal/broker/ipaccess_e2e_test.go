package broker

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/coder/websocket"

	"github.com/deskplane/deskplane/internal/broker/gateway"
	"github.com/deskplane/deskplane/internal/testserver"
)

// The directory's IP access control groups are enforced at the gateway on
// the user's source address (127.0.0.1 here): a group whose rules exclude it
// refuses the connection (recorded in the event log with the reason);
// adding a rule for it lets the next connection in; the groups are cached
// for ipAccessTTL on the broker's clock.
func TestGatewayEnforcesDirectoryIPGroups(t *testing.T) {
	g := startGatewayEnv(t)
	ctx := context.Background()
	ws := workspaces.NewFromConfig(g.s.Admin())

	// No group: everyone is allowed.
	v, err := g.b.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() || v.Ticket == "" {
		t.Fatalf("alice: %+v %v", v, err)
	}
	c, _, line := tcpConnect(t, g.tcpAddr, v.Ticket)
	if line != "DESKTOP READY" {
		t.Fatalf("without IP groups: %q", line)
	}
	c.Close()
	testserver.Eventually(t, 10*time.Second, func() bool { return len(g.b.Hub().Connections()) == 0 }, "disconnect reported")

	// A group that allows only 10.0.0.0/8, on the pool's directory.
	grp, err := ws.CreateIpGroup(ctx, &workspaces.CreateIpGroupInput{GroupName: aws.String("office"),
		UserRules: []types.IpRuleItem{{IpRule: aws.String("10.0.0.0/8"), RuleDesc: aws.String("office")}}})
	if err != nil {
		t.Fatal(err)
	}
	gid := aws.ToString(grp.GroupId)
	dir, err := g.b.poolDirectory(ctx, "eng")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.AssociateIpGroups(ctx, &workspaces.AssociateIpGroupsInput{DirectoryId: aws.String(dir), GroupIds: []string{gid}}); err != nil {
		t.Fatal(err)
	}
	// The broker read "no groups" a moment ago: that stays true for the TTL.
	g.advance(ipAccessTTL)

	v, err = g.b.RequestSession(ctx, "alice")
	if err != nil || v.Ticket == "" {
		t.Fatalf("ticket: %+v %v", v, err)
	}
	_, _, line = tcpConnect(t, g.tcpAddr, v.Ticket)
	if !strings.HasPrefix(line, "DENIED") || !strings.Contains(line, "127.0.0.1") || !strings.Contains(line, gid) {
		t.Fatalf("outside the group's rules, tcp: %q", line)
	}
	// Over WebSocket too.
	v, _ = g.b.RequestSession(ctx, "alice")
	conn, _, err := websocket.Dial(ctx, v.GatewayURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(ctx, websocket.MessageText, []byte(v.Ticket))
	_, _, err = conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "IP access control") {
		t.Fatalf("outside the group's rules, websocket: %v", err)
	}
	conn.CloseNow()
	// And at a gateway that talks to the broker over HTTP (a gateway
	// process): the groups travel with the redeemed ticket, the refusal
	// back as an event.
	g.b.Hub().secret = "gw-secret"
	api := httptest.NewServer(g.b.Handler())
	t.Cleanup(api.Close)
	remote := &gateway.Gateway{ID: LocalGatewayID, Broker: &gateway.Client{URL: api.URL, Secret: "gw-secret"},
		Map: func(string, int) (string, error) { return "127.0.0.1:1", nil }}
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go remote.ServeTCP(rctx, rln)
	v, _ = g.b.RequestSession(ctx, "alice")
	_, _, line = tcpConnect(t, rln.Addr().String(), v.Ticket)
	if !strings.HasPrefix(line, "DENIED") || !strings.Contains(line, "IP access control") {
		t.Fatalf("outside the group's rules, remote gateway: %q", line)
	}
	// The three refusals are in the broker's event log, with the reason.
	testserver.Eventually(t, 10*time.Second, func() bool {
		n, _ := g.b.Store().CountEvents(ctx, EventGatewayRefused)
		return n == 3
	}, "refusals recorded")
	evs, err := g.b.Events(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if e.Kind == EventGatewayRefused && e.WorkspaceID == v.WorkspaceID && strings.Contains(e.Detail, "alice") &&
			strings.Contains(e.Detail, "127.0.0.1") && strings.Contains(e.Detail, gid) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no refusal with the reason in %+v", evs)
	}
	if len(g.b.Hub().Connections()) != 0 {
		t.Fatalf("refused connections listed: %+v", g.b.Hub().Connections())
	}

	// A rule for 127.0.0.1 lets the next connection in at once (a refusal
	// drops the cached groups).
	if _, err := ws.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: aws.String(gid),
		UserRules: []types.IpRuleItem{{IpRule: aws.String("127.0.0.1/32")}}}); err != nil {
		t.Fatal(err)
	}
	v, _ = g.b.RequestSession(ctx, "alice")
	c, _, line = tcpConnect(t, g.tcpAddr, v.Ticket)
	if line != "DESKTOP READY" {
		t.Fatalf("with a rule for 127.0.0.1: %q", line)
	}
	c.Close()
	testserver.Eventually(t, 10*time.Second, func() bool { return len(g.b.Hub().Connections()) == 0 }, "disconnect reported")

	// Revoking it takes effect when the cached groups expire.
	if _, err := ws.RevokeIpRules(ctx, &workspaces.RevokeIpRulesInput{GroupId: aws.String(gid), UserRules: []string{"127.0.0.1/32"}}); err != nil {
		t.Fatal(err)
	}
	v, _ = g.b.RequestSession(ctx, "alice")
	c, _, line = tcpConnect(t, g.tcpAddr, v.Ticket)
	if line != "DESKTOP READY" {
		t.Fatalf("within the cache's TTL: %q", line)
	}
	c.Close()
	testserver.Eventually(t, 10*time.Second, func() bool { return len(g.b.Hub().Connections()) == 0 }, "disconnect reported")
	g.advance(ipAccessTTL)
	v, _ = g.b.RequestSession(ctx, "alice")
	_, _, line = tcpConnect(t, g.tcpAddr, v.Ticket)
	if !strings.HasPrefix(line, "DENIED") {
		t.Fatalf("after the TTL, the revoked rule still admits: %q", line)
	}

	// The groups cannot be read (DescribeIpGroups throttled until the
	// broker gives up): the ticket is refused, not waved through.
	if _, err := ws.AuthorizeIpRules(ctx, &workspaces.AuthorizeIpRulesInput{GroupId: aws.String(gid),
		UserRules: []types.IpRuleItem{{IpRule: aws.String("127.0.0.0/8")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.s.AdminPost("/_deskplane/faults", map[string]any{"throttle": []string{"DescribeIpGroups"}, "throttle_rate": 1.0}); err != nil {
		t.Fatal(err)
	}
	g.advance(ipAccessTTL)
	v, _ = g.b.RequestSession(ctx, "alice")
	_, _, line = tcpConnect(t, g.tcpAddr, v.Ticket)
	if !strings.HasPrefix(line, "DENIED") || !strings.Contains(line, "could not be read") {
		t.Fatalf("with the groups unreadable: %q", line)
	}
	if n, _ := g.b.Store().CountEvents(ctx, EventGatewayRefused); n != 5 {
		t.Fatalf("%d refusals recorded, want 5", n)
	}
}
