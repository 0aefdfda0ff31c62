package runtime

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
)

// TestMain runs the built-in guest when the test binary is started as one
// (the manager's command in these tests is the test binary itself).
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "x11-session" && os.Args[2] == "--" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if err := RunX11Session(ctx, os.Args[3:], os.Getenv, os.Stdout, 2*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("DESKPLANE_RUNTIME_TEST_GUEST") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if err := RunGuest(ctx, os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newTestManager(t *testing.T) (*Manager, chan string) {
	t.Helper()
	events := make(chan string, 64)
	m, err := New(Options{Dir: t.TempDir(), Max: 2, Command: []string{os.Args[0]}, Env: []string{"DESKPLANE_RUNTIME_TEST_GUEST=1"},
		Log: slog.New(slog.DiscardHandler), StopGrace: 2 * time.Second, HealthInterval: 100 * time.Millisecond, HealthTimeout: time.Second,
		Notify: func(k string) {
			select {
			case events <- k:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, events
}

// poll checks cond every 20 ms (real processes: no clock to advance) until
// it holds or d passes.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// waitState polls the guest's state until want or the deadline.
func waitState(t *testing.T, m *Manager, key, want string) {
	t.Helper()
	if !poll(15*time.Second, func() bool { return m.Status(key).State == want }) {
		t.Fatalf("guest %s: state %q, want %q", key, m.Status(key).State, want)
	}
}

func testSpec(key, ip string, boot int64) Spec {
	return Spec{Key: key, WorkspaceID: key[strings.LastIndex(key, "/")+1:], UserName: "alice", ComputerName: "WSAMZN-1", DirectoryID: "d-1",
		VPCAddress: ip, Boot: boot, Ports: []Port{{"WSP", 8443, true}, {"BYOP", 3389, false}}}
}

func TestGuestBannerEchoSessionsAndStop(t *testing.T) {
	m, _ := newTestManager(t)
	key := "111/us-east-1/ws-a"
	m.Ensure(testSpec(key, "10.9.8.7", 1))
	waitState(t, m, key, StateReady)
	c, err := net.DialTimeout("tcp", "127.9.8.7:8443", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	banner, _ := r.ReadString('\n')
	if want := "DESKPLANE ws-a WSP user=alice computer=WSAMZN-1\n"; banner != want {
		t.Fatalf("banner %q, want %q", banner, want)
	}
	fmt.Fprintf(c, "hello\n")
	if echo, _ := r.ReadString('\n'); echo != "hello\n" {
		t.Fatalf("echo %q", echo)
	}
	waitConn(t, m, key, "CONNECTED")
	c.Close()
	waitConn(t, m, key, "DISCONNECTED")
	if _, err := net.DialTimeout("tcp", "127.9.8.7:3389", time.Second); err == nil {
		t.Fatal("a port the security groups do not allow accepted a connection")
	}
	if m.Stop(key) {
		t.Fatal("Stop reported no guest while one runs")
	}
	waitState(t, m, key, StateExited)
	if _, err := net.DialTimeout("tcp", "127.9.8.7:8443", time.Second); err == nil {
		t.Fatal("a stopped guest still accepts connections")
	}
	out, err := m.Console(key, 1<<20)
	if err != nil || !strings.Contains(string(out), "guest ws-a: ready") || !strings.Contains(string(out), "shutting down") {
		t.Fatalf("console %q, %v", out, err)
	}
}

func waitConn(t *testing.T, m *Manager, key, want string) {
	t.Helper()
	id := key[strings.LastIndex(key, "/")+1:]
	if !poll(10*time.Second, func() bool { c, _ := m.ConnectionState(id); return c.State == want }) {
		c, _ := m.ConnectionState(id)
		t.Fatalf("connection state %q, want %q", c.State, want)
	}
}

func TestGuestKilledIsExitedAndNewBootRestarts(t *testing.T) {
	m, _ := newTestManager(t)
	key := "111/us-east-1/ws-b"
	m.Ensure(testSpec(key, "10.9.8.8", 1))
	waitState(t, m, key, StateReady)
	pid := m.List()[0].PID
	syscall.Kill(pid, syscall.SIGKILL)
	waitState(t, m, key, StateExited)
	if s := m.Ensure(testSpec(key, "10.9.8.8", 2)); s.Boot != 2 {
		t.Fatalf("boot %d", s.Boot)
	}
	waitState(t, m, key, StateReady)
	// A third boot while the second runs: stopped, then started again.
	m.Ensure(testSpec(key, "10.9.8.8", 3))
	if !poll(15*time.Second, func() bool { s := m.Status(key); return s.Boot == 3 && s.State == StateReady }) {
		t.Fatalf("third boot never ready: %+v", m.Status(key))
	}
}

func TestAdmitLimit(t *testing.T) {
	m, _ := newTestManager(t)
	if err := m.Admit("a/b/ws-1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Admit("a/b/ws-2"); err != nil {
		t.Fatal(err)
	}
	if err := m.Admit("a/b/ws-3"); err != ErrLimit {
		t.Fatalf("third admit: %v, want ErrLimit", err)
	}
	m.Release("a/b/ws-1")
	if err := m.Admit("a/b/ws-3"); err != nil {
		t.Fatal(err)
	}
}

func TestVolumesSnapshotRestoreRebuildCapture(t *testing.T) {
	m, _ := newTestManager(t)
	key := "111/us-east-1/ws-v"
	os.MkdirAll(m.RootDir(key), 0o700)
	os.MkdirAll(m.UserDir(key), 0o700)
	os.WriteFile(m.UserDir(key)+"/a.txt", []byte("one"), 0o600)
	os.WriteFile(m.RootDir(key)+"/agent", []byte("v1"), 0o600)
	if err := m.Snapshot(key, "0001", 2); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(m.UserDir(key)+"/b.txt", []byte("two"), 0o600)
	if err := m.Snapshot(key, "0002", 2); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(m.UserDir(key)+"/c.txt", []byte("three"), 0o600)
	if err := m.Capture(key, "111", "us-east-1", "wsi-1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Rebuild(key, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.UserDir(key) + "/b.txt"); err != nil {
		t.Fatal("rebuild lost the latest snapshot's file")
	}
	if _, err := os.Stat(m.RootDir(key) + "/agent"); err == nil {
		t.Fatal("rebuild kept the old root volume")
	}
	if err := m.Restore(key, "0001"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.UserDir(key) + "/b.txt"); err == nil {
		t.Fatal("restore to the first snapshot kept a later file")
	}
	if b, _ := os.ReadFile(m.RootDir(key) + "/agent"); string(b) != "v1" {
		t.Fatalf("restored root: %q", b)
	}
	if b, _ := os.ReadFile(m.ImageDir("111", "us-east-1", "wsi-1") + "/agent"); string(b) != "v1" {
		t.Fatalf("captured image: %q", b)
	}
}

func TestEncryptedVolumesSealedAtRest(t *testing.T) {
	m, _ := newTestManager(t)
	key := "111/us-east-1/ws-e"
	dk := bytes.Repeat([]byte{7}, 64)
	spec := testSpec(key, "10.9.8.9", 1)
	spec.Keys = map[string][]byte{"user": bytes.Clone(dk)}
	m.Ensure(spec)
	waitState(t, m, key, StateReady)
	g := m.List()[0]
	if len(g.Encrypted) != 1 || !strings.HasPrefix(g.UserVolume, tmpfsRoot()) {
		t.Fatalf("encrypted user volume at %s (%v), want a working copy in %s", g.UserVolume, g.Encrypted, tmpfsRoot())
	}
	marker := "MARKER-" + strings.Repeat("x", 20)
	os.WriteFile(g.UserVolume+"/secret.txt", []byte(marker), 0o600)
	if err := m.Snapshot(key, "0001", 3); err != nil {
		t.Fatal(err)
	}
	m.Stop(key)
	waitState(t, m, key, StateExited)
	enc, err := os.ReadFile(m.desktopDir(key) + "/user.enc")
	if err != nil || bytes.Contains(enc, []byte(marker)) {
		t.Fatalf("user.enc: %v, plaintext inside: %v", err, bytes.Contains(enc, []byte(marker)))
	}
	snap, _ := os.ReadFile(m.snapshotDir(key, "0001") + "/user.enc")
	if len(snap) == 0 || bytes.Contains(snap, []byte(marker)) {
		t.Fatal("the snapshot of an encrypted volume is missing or holds plaintext")
	}
	if _, err := os.Stat(g.UserVolume); err == nil {
		t.Fatal("the working copy outlived the guest")
	}
	if _, err := os.Stat(m.UserDir(key)); err == nil {
		t.Fatal("a plaintext user volume is in the data dir")
	}
	spec.Boot, spec.Keys = 2, map[string][]byte{"user": bytes.Clone(dk)}
	m.Ensure(spec)
	waitState(t, m, key, StateReady)
	if b, err := os.ReadFile(m.List()[0].UserVolume + "/secret.txt"); err != nil || string(b) != marker {
		t.Fatalf("marker after a restart: %q %v", b, err)
	}
	m.Stop(key)
	waitState(t, m, key, StateExited)
	spec.Boot, spec.Keys = 3, map[string][]byte{"user": bytes.Repeat([]byte{8}, 64)}
	m.Ensure(spec)
	waitState(t, m, key, StateFailed)
}

// guestInfo returns the runtime's listing of one guest.
func guestInfo(t *testing.T, m *Manager, key string) Info {
	t.Helper()
	for _, in := range m.List() {
		if in.Key == key {
			return in
		}
	}
	t.Fatalf("no guest %s", key)
	return Info{}
}

// TestHealthNeedsMissesInARow drives the health checks by an injected,
// frozen clock: a guest that stops answering (SIGSTOP) misses one check
// after another, each HealthTimeout after its ping; an answer clears the
// count; only HealthMisses misses in a row make it unhealthy.
func TestHealthNeedsMissesInARow(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true)
	events := make(chan string, 64)
	m, err := New(Options{Dir: t.TempDir(), Max: 2, Command: []string{os.Args[0]}, Env: []string{"DESKPLANE_RUNTIME_TEST_GUEST=1"},
		Log: slog.New(slog.DiscardHandler), StopGrace: 2 * time.Second, HealthInterval: time.Second, HealthTimeout: 5 * time.Second,
		HealthClock: clk, Notify: func(k string) {
			select {
			case events <- k:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if m.o.HealthMisses != DefaultHealthMisses || DefaultHealthMisses < 2 {
		t.Fatalf("HealthMisses %d, default %d: want at least 2", m.o.HealthMisses, DefaultHealthMisses)
	}
	key := "111/us-east-1/ws-h"
	m.Ensure(testSpec(key, "10.9.8.20", 1))
	waitState(t, m, key, StateReady)
	pid := guestInfo(t, m, key).PID
	// check sends the next ping (the clock moves one interval) and returns
	// the count of pings sent.
	checks := guestInfo(t, m, key).HealthChecks
	check := func() {
		t.Helper()
		clk.Advance(time.Second)
		want := checks + 1
		if !poll(10*time.Second, func() bool { return guestInfo(t, m, key).HealthChecks >= want }) {
			t.Fatalf("no health check after the interval (sent %d)", guestInfo(t, m, key).HealthChecks)
		}
		checks = want
	}
	missed := func(want int) {
		t.Helper()
		clk.Advance(5 * time.Second)
		if !poll(10*time.Second, func() bool { return guestInfo(t, m, key).MissedChecks == want }) {
			t.Fatalf("missed checks %d, want %d", guestInfo(t, m, key).MissedChecks, want)
		}
	}

	// signal stops or continues the guest and waits for the kernel to have done it.
	signal := func(sig syscall.Signal) {
		t.Helper()
		syscall.Kill(pid, sig)
		if !poll(5*time.Second, func() bool { return (procState(t, pid) == "T") == (sig == syscall.SIGSTOP) }) {
			t.Fatalf("guest state %s after %v", procState(t, pid), sig)
		}
	}
	// One miss, then the guest answers again: the count is cleared.
	signal(syscall.SIGSTOP)
	check()
	missed(1)
	if st := m.Status(key).State; st != StateReady {
		t.Fatalf("one missed check made the guest %s", st)
	}
	signal(syscall.SIGCONT)
	check()
	if !poll(10*time.Second, func() bool { return guestInfo(t, m, key).MissedChecks == 0 }) {
		t.Fatalf("an answered check did not clear the misses (%d)", guestInfo(t, m, key).MissedChecks)
	}

	// HealthMisses in a row: unhealthy at the last one, not before.
	signal(syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGCONT)
	for i := 1; i <= DefaultHealthMisses; i++ {
		check()
		if st := m.Status(key).State; st != StateReady {
			t.Fatalf("after %d missed checks the guest is %s", i-1, st)
		}
		if i < DefaultHealthMisses {
			missed(i)
		} else {
			clk.Advance(5 * time.Second)
		}
	}
	waitState(t, m, key, StateUnhealthy)
	if in := guestInfo(t, m, key); !strings.Contains(in.Error, "3 pings in a row") {
		t.Fatalf("error %q", in.Error)
	}
}

// TestFreezeStopsAnsweringAndStopEnds: a frozen guest accepts no session
// (its banner never comes), misses no health check (none is sent), and its
// open sessions end; Stop still ends it (continued, then SIGTERM), and a
// new boot answers again.
func TestFreezeStopsAnsweringAndStopEnds(t *testing.T) {
	m, _ := newTestManager(t)
	key := "111/us-east-1/ws-f"
	m.Ensure(testSpec(key, "10.9.8.21", 1))
	waitState(t, m, key, StateReady)
	c, err := net.DialTimeout("tcp", "127.9.8.21:8443", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bufio.NewReader(c).ReadString('\n')
	waitConn(t, m, key, "CONNECTED")
	if !m.Freeze(key) {
		t.Fatal("Freeze of a running guest reported none")
	}
	if m.Freeze(key) {
		t.Fatal("a second Freeze reported a guest frozen again")
	}
	in := guestInfo(t, m, key)
	if !in.Frozen || in.Sessions != 0 {
		t.Fatalf("frozen guest %+v: want frozen with no session", in)
	}
	if conn, _ := m.ConnectionState("ws-f"); conn.State != "DISCONNECTED" {
		t.Fatalf("connection of a frozen guest %q", conn.State)
	}
	if !poll(5*time.Second, func() bool { return procState(t, in.PID) == "T" }) {
		t.Fatalf("process state of a frozen guest %q, want T (stopped)", procState(t, in.PID))
	}
	// The kernel completes the handshake; the guest never writes its banner.
	c2, err := net.DialTimeout("tcp", "127.9.8.21:8443", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	if line, err := bufio.NewReader(c2).ReadString('\n'); err == nil {
		t.Fatalf("a frozen guest answered %q", line)
	}
	checks := guestInfo(t, m, key).HealthChecks
	if poll(time.Second, func() bool { return guestInfo(t, m, key).HealthChecks > checks }) {
		t.Fatal("a frozen guest was health-checked")
	}
	if st := m.Status(key).State; st != StateReady {
		t.Fatalf("the runtime made a frozen guest %s", st)
	}
	m.Stop(key)
	waitState(t, m, key, StateExited)
	out, _ := m.Console(key, 1<<20)
	if !strings.Contains(string(out), "shutting down") {
		t.Fatalf("a frozen guest was killed, not stopped:\n%s", out)
	}
	m.Ensure(testSpec(key, "10.9.8.21", 2))
	waitState(t, m, key, StateReady)
	if guestInfo(t, m, key).Frozen {
		t.Fatal("the new boot is frozen")
	}
}

// procState is the state letter of a process (/proc/PID/stat).
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	return f[0]
}

// TestFrozenGuestOpensNoSession: a guest's "connect" line written before it
// was frozen and read after it (the control pipe is read on its own) does
// not make its desktop CONNECTED again: Freeze ended its sessions.
func TestFrozenGuestOpensNoSession(t *testing.T) {
	m, _ := newTestManager(t)
	const key = "k-frozen"
	m.mu.Lock()
	m.guests[key] = &guest{spec: Spec{Key: key, WorkspaceID: "ws-frozen"}, frozen: true}
	m.mu.Unlock()
	m.session(key, true)
	if c, ok := m.ConnectionState("ws-frozen"); ok && c.State == "CONNECTED" {
		t.Fatalf("a frozen guest's late connect counted: %+v", c)
	}
	m.mu.Lock()
	m.guests[key].frozen = false
	m.mu.Unlock()
	m.session(key, true)
	if c, ok := m.ConnectionState("ws-frozen"); !ok || c.State != "CONNECTED" {
		t.Fatalf("a running guest's connect: %+v %v", c, ok)
	}
	m.mu.Lock()
	delete(m.guests, key)
	m.mu.Unlock()
}
