package broker

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestServeRunsGatewayInProcess runs "broker serve": its gateway answers
// WebSockets at /gateway/ws through the server's guards (hosts, limits) and
// TCP on its own listener, refusing a forged ticket on both.
func TestServeRunsGatewayInProcess(t *testing.T) {
	e := startEnv(t)
	e.cfg.Listen = "127.0.0.1:0"
	path := filepath.Join(t.TempDir(), "broker.json")
	raw, _ := json.Marshal(e.cfg)
	os.WriteFile(path, raw, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- MainWith([]string{"serve", "--config", path}, nil, &out, &errb, Options{Context: ctx, Clock: e.clock})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("broker serve exited %d: %s", code, errb.String())
		}
	}()
	re := regexp.MustCompile(`listening on http://(\S+)\ndeskplane broker gateway: websocket /gateway/ws, tcp (\S+) \(address map auto\)`)
	var m []string
	testserver.Eventually(t, 30*time.Second, func() bool {
		m = re.FindStringSubmatch(out.String())
		return m != nil
	}, "broker serve prints its gateway and URL")
	ws, _, err := websocket.Dial(ctx, "ws://"+m[1]+"/gateway/ws", nil)
	if err != nil {
		t.Fatalf("websocket through broker serve: %v", err)
	}
	ws.Write(ctx, websocket.MessageText, []byte("forged"))
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("forged ticket over websocket: %v", err)
	}
	_, _, line := tcpConnect(t, m[2], "forged")
	if !strings.HasPrefix(line, "DENIED") {
		t.Fatalf("forged ticket over tcp: %q", line)
	}
}
