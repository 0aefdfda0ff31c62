package broker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/deskplane/deskplane/internal/testserver"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/runtime"
)

// The kill -9 test runs the broker as a child process of the test binary
// (re-exec): TestMain turns the child into "deskplane broker serve" with a
// clock that follows the server's virtual clock.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "x11-session" && os.Args[2] == "--" {
		// A desktop's session of deskplane serve --runtime x11 (what a
		// built deskplane's "x11-session" runs), started by the runtime
		// with this test binary; its guest command is this binary again
		// (BROKER_TEST_GUEST, below).
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		err := runtime.RunX11Session(ctx, os.Args[3:], os.Getenv, os.Stdout, 3*time.Second)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "x11 session:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("BROKER_TEST_GUEST") == "1" && os.Getenv("DESKPLANE_WORKSPACE_ID") != "" {
		// A desktop's guest of deskplane serve --runtime process (the
		// built-in guest), started by the runtime with this test binary.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		err := runtime.RunGuest(ctx, os.Getenv, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "guest:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("BROKER_CHILD") == "1" {
		clk := &serverClock{url: os.Getenv("BROKER_CHILD_SERVER"), token: os.Getenv("BROKER_CHILD_TOKEN")}
		os.Exit(MainWith(strings.Fields(os.Getenv("BROKER_CHILD_ARGS")), nil, os.Stdout, os.Stderr, Options{Clock: clk}))
	}
	os.Exit(m.Run())
}

// serverClock reads deskplane's GET /_deskplane/clock (test-only: the real
// service has no such endpoint).
type serverClock struct {
	url, token string
}

func (c *serverClock) Now() time.Time {
	req, _ := http.NewRequest(http.MethodGet, c.url+"/_deskplane/clock", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Now().UTC()
	}
	defer resp.Body.Close()
	var out struct {
		Now time.Time `json:"now"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil {
		return time.Now().UTC()
	}
	return out.Now
}

type child struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func startChild(t *testing.T, e *testEnv, configPath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BROKER_CHILD=1", "BROKER_CHILD_SERVER="+e.s.URL, "BROKER_CHILD_TOKEN="+e.s.AdminToken,
		"BROKER_CHILD_ARGS=serve --config "+configPath+" --listen 127.0.0.1:0 --log-level warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stderr = &lockedWriter{c.mu, c.logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("child said %q", line)
	}
	go io.Copy(io.Discard, stdout)
	c.url = url
	return c
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

// post calls the child's API; it returns the status and decoded session.
func (c *child) post(path string, body any) (int, *SessionView, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var v SessionView
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, &v, nil
}

func TestKill9MidDay(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	e := startEnv(t)
	e.withPools(1, 5, 1)
	e.cfg.Pools = []Pool{
		{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 2, Max: 30, Warm: 2},
		{Name: "fin", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 2, Max: 30, Warm: 2},
	}
	e.cfg.Policies = e.cfg.Policies[:2]
	e.cfg.ReconcileInterval = "20ms"
	group := e.createUsers(45)
	e.usePartnerRole()
	var users []string
	for u, g := range group {
		if g != "Operations" {
			users = append(users, u)
		}
	}
	cfgPath := filepath.Join(t.TempDir(), "broker.json")
	b, _ := json.MarshalIndent(e.cfg, "", "  ")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	sessions := map[string]string{}  // user -> session id
	desktopOf := map[string]string{} // engineer -> desktop (keep plan)
	var mu sync.Mutex
	for round := 0; round < 4; round++ {
		c := startChild(t, e, cfgPath)
		// A burst of logins; kill the broker while it is busy with them.
		var wg sync.WaitGroup
		var answered atomic.Int64
		for _, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, v, err := c.post("/v1/sessions", map[string]string{"user": u})
				if err == nil && v.SessionID != "" {
					mu.Lock()
					sessions[u] = v.SessionID
					mu.Unlock()
				}
				answered.Add(1)
			}()
		}
		// Kill once the child has answered a few logins (more each round)
		// while the rest are still in flight.
		testserver.Eventually(t, 30*time.Second, func() bool { return answered.Load() > int64(2+round*3) }, "the child answers logins")
		c.kill(t)
		wg.Wait()
		e.checkStoreAfterCrash(t)

		// Restart on the same data dir and let everyone in.
		c = startChild(t, e, cfgPath)
		testserver.Eventually(t, 60*time.Second, func() bool {
			ready := 0
			for _, u := range users {
				code, v, err := c.post("/v1/sessions", map[string]string{"user": u})
				if err != nil {
					return false
				}
				if code == http.StatusOK && v.Ready() {
					ready++
					if group[u] == "Engineering" {
						if prev, ok := desktopOf[u]; ok && prev != v.WorkspaceID {
							t.Fatalf("round %d: %s moved from %s to %s (keep plan)", round, u, prev, v.WorkspaceID)
						}
						desktopOf[u] = v.WorkspaceID
					}
					sessions[u] = v.SessionID
				}
			}
			return ready == len(users)
		}, "all users ready after restart")
		// Half of them log out, the clock moves, then a kill mid-reconcile.
		for i, u := range users {
			if i%2 == round%2 {
				c.post("/v1/sessions/"+sessions[u]+"/logout", nil)
			}
		}
		e.s.Advance(40 * time.Minute)
		// Kill once the child's loop has begun acting on the logouts (a
		// desktop of the pools is stopping).
		testserver.Eventually(t, 30*time.Second, func() bool {
			for _, pool := range []string{"eng", "fin"} {
				for _, st := range e.serverDesktops(pool) {
					if st == "STOPPING" || st == "STOPPED" {
						return true
					}
				}
			}
			return false
		}, "the child stops an idle desktop")
		c.kill(t)
		e.checkStoreAfterCrash(t)
	}
}

// checkStoreAfterCrash opens the dead broker's store and checks it against
// the server: no desktop name twice on the server, pools within max, every
// user at most one desktop, every desktop at most one user.
func (e *testEnv) checkStoreAfterCrash(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	names := map[string]int{}
	ids := map[string]string{}
	p := workspaces.NewDescribeWorkspacesPaginator(e.c.WorkSpaces, &workspaces.DescribeWorkspacesInput{})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range pg.Workspaces {
			if w.State != "TERMINATED" && w.State != "TERMINATING" {
				names[aws.ToString(w.WorkspaceName)]++
				ids[aws.ToString(w.WorkspaceName)] = aws.ToString(w.WorkspaceId)
			}
		}
	}
	perPool := map[string]int{}
	for n, k := range names {
		if k > 1 {
			t.Fatalf("desktop %s exists %d times on the server", n, k)
		}
		pool, _, _ := strings.Cut(n, "-")
		perPool[pool]++
	}
	for _, pl := range e.cfg.Pools {
		if perPool[pl.Name] > pl.Max {
			t.Fatalf("pool %s: %d desktops > max %d", pl.Name, perPool[pl.Name], pl.Max)
		}
	}
	st, err := OpenStoreShared(e.cfg.DataDir) // it only reads, beside the broker
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.AllDesktops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every desktop on the server is known to the broker: recorded, or
	// covered by an intent of the same name (killed between the call and
	// its record) that the next pass will match.
	known := map[string]bool{}
	for _, d := range all {
		if d.GoneAt.IsZero() {
			known[d.Name] = true
		}
	}
	for _, pl := range e.cfg.Pools {
		in, err := st.Intents(ctx, pl.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range in {
			known[x.Name] = true
		}
	}
	for n, id := range ids {
		if !known[n] {
			t.Fatalf("desktop %s (%s) on the server is unknown to the broker", n, id)
		}
	}
	users := map[string]string{}
	for _, d := range all {
		if d.GoneAt.IsZero() && d.User != "" {
			if prev, ok := users[d.User]; ok {
				t.Fatalf("user %s assigned %s and %s", d.User, prev, d.ID)
			}
			users[d.User] = d.ID
		}
	}
	t.Logf("after crash: %d desktops on the server (%v), %d assigned", len(names), perPool, len(users))
	_ = fmt.Sprint
}
