package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/broker/gateway"
	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestGatewayAsItsOwnProcess runs "deskplane broker gateway --config FILE"
// as an operating-system process of its own (this test binary re-executed
// as the command): it registers with the broker by the shared secret, the
// broker hands alice's session to it, her native client's ticket line
// reaches her desktop through it, and its disconnect report ends her
// session. Killed -9, it stops heartbeating: after gatewayLiveFor the
// broker lists it as not live and hands out no ticket for it.
func TestGatewayAsItsOwnProcess(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 3, 1)
	e.cfg.GatewaySecret = "gw-secret"
	e.cfg.Gateway.Disabled = true
	ctx := context.Background()
	f, err := NewFleet(ctx, e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	b := f.Broker(DefaultTenant)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "pools settle")
	api := httptest.NewServer(f.Handler())
	t.Cleanup(api.Close)
	v, err := b.RequestSession(ctx, "alice")
	if err != nil || !v.Ready() {
		t.Fatalf("alice %+v %v", v, err)
	}
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

	cfgPath := filepath.Join(t.TempDir(), "gateway.json")
	raw, _ := json.Marshal(gateway.Config{ID: "gw-proc", BrokerURL: api.URL, Secret: "gw-secret",
		Listen: "127.0.0.1:0", ListenTCP: "127.0.0.1:0", AddressMap: "loopback"})
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BROKER_CHILD=1", "BROKER_CHILD_SERVER="+e.s.URL, "BROKER_CHILD_TOKEN="+e.s.AdminToken,
		"BROKER_CHILD_ARGS=gateway --config "+cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("gateway process: %v", err)
	}
	m := regexp.MustCompile(`^deskplane broker gateway gw-proc: websocket (\S+), tcp (\S+)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("gateway process said %q", line)
	}
	go io.Copy(io.Discard, stdout)

	v, err = b.SessionWithTicket(ctx, v.SessionID)
	if err != nil || v.Gateway != "gw-proc" || v.GatewayURL != m[1] || v.GatewayTCP != m[2] || v.Ticket == "" {
		t.Fatalf("alice's session through the gateway process: %+v %v", v, err)
	}
	c, r, banner := tcpConnect(t, v.GatewayTCP, v.Ticket)
	if banner != "GUEST "+v.WorkspaceID {
		t.Fatalf("banner %q", banner)
	}
	io.WriteString(c, "ping\n")
	if got, _ := r.ReadString('\n'); got != "ping\n" {
		t.Fatalf("echo %q", got)
	}
	testserver.Eventually(t, 10*time.Second, func() bool { return len(f.Hub().Connections()) == 1 }, "the process reports the connection")
	c.Close()
	testserver.Eventually(t, 10*time.Second, func() bool {
		s, _ := b.Store().Session(ctx, v.SessionID)
		return s != nil && s.State == SessDisconnected
	}, "the process's disconnect report ends alice's session")

	// kill -9: no more heartbeats.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	e.advance(gatewayLiveFor + time.Second)
	gws := f.Hub().Gateways(ctx)
	if len(gws) != 1 || gws[0].ID != "gw-proc" || gws[0].Live {
		t.Fatalf("gateways after the process died: %+v", gws)
	}
	if _, err := b.RequestSession(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if v, err := b.SessionWithTicket(ctx, v.SessionID); err != nil || v.Ticket != "" || v.Gateway != "" {
		t.Fatalf("a ticket for a dead gateway: %+v %v", v, err)
	}
}
