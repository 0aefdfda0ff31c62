package runtime

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	vnc "github.com/mitchellh/go-vnc"
)

// needX11 skips a test without the x11 runtime's programs, unless CI=true,
// where scripts/test.sh installs them and the test fails instead.
func needX11(t *testing.T) {
	t.Helper()
	if err := CheckX11(); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("DESKPLANE_REQUIRE_X11") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func newX11Manager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(Options{Kind: KindX11, Dir: t.TempDir(), Max: 3, Command: []string{os.Args[0]}, SessionCommand: []string{os.Args[0], "x11-session"},
		Env: []string{"DESKPLANE_RUNTIME_TEST_GUEST=1"}, Log: slog.New(slog.DiscardHandler), StopGrace: 4 * time.Second,
		HealthInterval: 100 * time.Millisecond, HealthTimeout: 2 * time.Second, VNCHealthInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// groupProcesses lists the processes whose environment names the
// workspace: everything a guest starts inherits its identity.
func groupProcesses(t *testing.T, id string) []string {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		if strings.Contains(string(env), "\x00DESKPLANE_WORKSPACE_ID="+id+"\x00") {
			comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
			out = append(out, e.Name()+" "+strings.TrimSpace(string(comm)))
		}
	}
	return out
}

func x11Spec(key, ip string, boot int64, vnc bool) Spec {
	s := testSpec(key, ip, boot)
	s.Ports = append(s.Ports, Port{VNCProtocol, VNCPort, vnc})
	return s
}

func TestX11SessionVNCStopAndKilledServer(t *testing.T) {
	needX11(t)
	m := newX11Manager(t)
	key := "111/us-east-1/ws-x11a"
	m.Ensure(x11Spec(key, "10.9.7.1", 1, true))
	waitState(t, m, key, StateReady)
	g := m.List()[0]
	if g.Display == "" || g.VNC != "127.9.7.1:5900" || g.Processes["xvfb"] == 0 || g.Processes["x11vnc"] == 0 || g.Processes["xterm"] == 0 || g.Processes["wm"] == 0 {
		t.Fatalf("x11 guest %+v: want a display, the VNC address and the session's pids", g)
	}
	if err := probeRFB("127.9.7.1:5900", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// The guest command runs inside the session, on its protocol port.
	c, err := net.DialTimeout("tcp", "127.9.7.1:8443", 2*time.Second)
	if err != nil {
		t.Fatalf("the guest command inside the session: %v", err)
	}
	c.Close()
	if _, err := exec.LookPath("xdotool"); err == nil {
		cmd := exec.Command("xdotool", "search", "--name", "ws-x11a")
		cmd.Env = append(os.Environ(), "DISPLAY="+g.Display)
		if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) == "" {
			t.Fatalf("no window titled ws-x11a on %s: %q %v", g.Display, out, err)
		}
	}
	if procs := groupProcesses(t, "ws-x11a"); len(procs) < 6 {
		t.Fatalf("session processes %v: want the session, Xvfb, openbox, xterm, x11vnc and the guest", procs)
	}

	// The health checks (every 200 ms here) are not user sessions; a VNC
	// client that passed the handshake is one, until it leaves.
	waitConn(t, m, key, "DISCONNECTED") // the connection to 8443 above
	before, _ := m.ConnectionState("ws-x11a")
	// Watched over a second of real health checks (every 200 ms; real
	// processes, no clock to advance): the state never moves.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(time.Second); time.Now().Before(end); <-tick.C {
		if c, _ := m.ConnectionState("ws-x11a"); c != before {
			t.Fatalf("the VNC health checks made sessions: %+v, before %+v", c, before)
		}
	}
	nc, err := net.DialTimeout("tcp", "127.9.7.1:5900", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := vnc.Client(nc, &vnc.ClientConfig{})
	if err != nil {
		t.Fatalf("VNC handshake: %v", err)
	}
	waitConn(t, m, key, "CONNECTED")
	vc.Close()
	waitConn(t, m, key, "DISCONNECTED")

	// A VNC server that stops answering fails the health check.
	if err := syscall.Kill(g.Processes["x11vnc"], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, key, StateUnhealthy)
	// A killed VNC server ends the session: exited (the lifecycle's
	// UNHEALTHY), nothing left behind.
	if err := syscall.Kill(g.Processes["x11vnc"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, key, StateExited)
	if !poll(5*time.Second, func() bool { return len(groupProcesses(t, "ws-x11a")) == 0 }) {
		t.Fatalf("processes left after the session ended: %v", groupProcesses(t, "ws-x11a"))
	}
	// A new boot heals it; Stop ends every process.
	m.Ensure(x11Spec(key, "10.9.7.1", 2, true))
	waitState(t, m, key, StateReady)
	if m.Stop(key) {
		t.Fatal("Stop reported no guest while one runs")
	}
	waitState(t, m, key, StateExited)
	if procs := groupProcesses(t, "ws-x11a"); len(procs) != 0 {
		t.Fatalf("processes left after Stop: %v", procs)
	}
	if _, err := net.DialTimeout("tcp", "127.9.7.1:5900", time.Second); err == nil {
		t.Fatal("the VNC port of a stopped desktop accepts connections")
	}
	console, _ := m.Console(key, 1<<20)
	if !strings.Contains(string(console), "X server on :") || !strings.Contains(string(console), "x11vnc exited") {
		t.Fatalf("console:\n%s", console)
	}
}

func TestX11VNCNotAllowedIsNotListening(t *testing.T) {
	needX11(t)
	m := newX11Manager(t)
	key := "111/us-east-1/ws-x11b"
	m.Ensure(x11Spec(key, "10.9.7.2", 1, false))
	waitState(t, m, key, StateReady)
	g := m.List()[0]
	if g.VNC != "" || g.Processes["x11vnc"] != 0 || g.Processes["xvfb"] == 0 {
		t.Fatalf("guest %+v: want an X server and no VNC server", g)
	}
	if c, err := net.DialTimeout("tcp", "127.9.7.2:5900", time.Second); err == nil {
		c.Close()
		t.Fatal("5900 accepts connections though the security groups do not allow it")
	}
	// Xvfb killed: the session ends.
	syscall.Kill(g.Processes["xvfb"], syscall.SIGKILL)
	waitState(t, m, key, StateExited)
	if !poll(5*time.Second, func() bool { return len(groupProcesses(t, "ws-x11b")) == 0 }) {
		t.Fatalf("processes left after Xvfb died: %v", groupProcesses(t, "ws-x11b"))
	}
}

// TestX11FrozenDesktopStopsCleanly: a frozen x11 guest (its desktop
// UNHEALTHY or IMPAIRED) stops every process of its session, so its VNC
// server answers no RFB version; Stop still ends the whole session (the
// group is continued to act on SIGTERM), leaving no process.
func TestX11FrozenDesktopStopsCleanly(t *testing.T) {
	needX11(t)
	m := newX11Manager(t)
	key := "111/us-east-1/ws-x11c"
	m.Ensure(x11Spec(key, "10.9.7.3", 1, true))
	waitState(t, m, key, StateReady)
	g := m.List()[0]
	if err := probeRFB(g.VNC, 2*time.Second); err != nil {
		t.Fatalf("VNC before the freeze: %v", err)
	}
	if !m.Freeze(key) {
		t.Fatal("Freeze reported no guest")
	}
	for role, pid := range g.Processes {
		if !poll(5*time.Second, func() bool { return procState(t, pid) == "T" }) {
			t.Fatalf("%s (%d) is %s, want stopped", role, pid, procState(t, pid))
		}
	}
	if err := probeRFB(g.VNC, time.Second); err == nil {
		t.Fatal("the VNC server of a frozen desktop answered")
	}
	m.Stop(key)
	waitState(t, m, key, StateExited)
	if !poll(10*time.Second, func() bool { return len(groupProcesses(t, "ws-x11c")) == 0 }) {
		t.Fatalf("processes left after a frozen desktop stopped: %v", groupProcesses(t, "ws-x11c"))
	}
	console, _ := m.Console(key, 1<<20)
	if !strings.Contains(string(console), "stopping") {
		t.Fatalf("the frozen session was killed, not stopped:\n%s", console)
	}
}
