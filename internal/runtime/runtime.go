// Package runtime holds the guests behind desktops: with deskplane serve
// --runtime process, every desktop in a running state has a real process
// (its image's guest command, by default the built-in "deskplane guest")
// listening on the desktop's own loopback address (internal/loopback) on the
// real port numbers of its protocols, with a root and a user volume kept as
// directories in the data dir. With --runtime x11 every guest is a real
// Linux desktop (an X server, a window manager, an xterm and a VNC server on
// port 5900, see RunX11Session) and the image's guest command runs inside
// it.
//
// The runtime never blocks its callers: Ensure and Stop start the work and
// return the guest's current status; when a guest becomes ready, fails its
// health check, or exits, the runtime calls Options.Notify with the
// desktop's key, and the lifecycle (internal/workspaces) looks again.
//
// # The control protocol
//
// A guest gets two pipes besides its standard streams: file descriptor 3
// (DESKPLANE_EVENTS_FD) is written by the guest, one event per line; file
// descriptor 4 (DESKPLANE_CONTROL_FD) is read by it, one command per line.
//
//	guest → runtime: "ready"                      listening on every port; the readiness check passed
//	guest → runtime: "pong N"                     answer to "ping N" (a bare "pong" answers the last ping)
//	guest → runtime: "connect PORT REMOTE"        a client connected to a protocol port
//	guest → runtime: "disconnect PORT REMOTE"     that client went away
//	runtime → guest: "ping N"                     health check N, every HealthInterval
//
// A guest that is not ready within ReadyTimeout, or misses HealthMisses
// health checks in a row (a ping left unanswered for HealthTimeout), is
// unhealthy; one that exits is exited. One slow answer on a loaded machine
// is not a failure: the next answered check clears the count. Stop sends
// SIGTERM (and SIGCONT, for a frozen guest) to the guest's process group
// and SIGKILL after StopGrace.
//
// Freeze stops a guest's whole process group (SIGSTOP): its ports still
// accept connections in the kernel but nothing answers, and its health
// checks are not run. The lifecycle freezes the guest of a desktop that is
// UNHEALTHY or IMPAIRED; a reboot, stop, rebuild or restore ends the frozen
// guest and the next boot starts a fresh one.
//
// Under x11 the process started (the group's leader) is the session
// (RunX11Session), which starts the guest command with the pipes; it adds
// one event, "x11 display=:N xvfb=PID ...", and the readiness and health
// checks also need the VNC server's RFB version on ADDRESS:5900 when the
// desktop's security groups allow 5900.
package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/loopback"
	"github.com/deskplane/deskplane/internal/safego"
)

// Kinds of runtime accepted by --runtime.
const (
	KindNone    = "none"
	KindProcess = "process"
)

// Guest states.
const (
	StateStarting  = "starting"
	StateReady     = "ready"
	StateUnhealthy = "unhealthy"
	StateStopping  = "stopping"
	StateExited    = "exited"
	StateFailed    = "failed" // the command could not be started
)

// ProtocolPorts are the port numbers a desktop's guest listens on for each
// streaming protocol: PCoIP's 4172, DCV's (WSP) 8443, and for images that
// bring their own protocol (BYOP) 3389 (RDP, the port partners' agents and
// brokers use unless the image's configuration names others).
var ProtocolPorts = map[string]int{"PCOIP": 4172, "WSP": 8443, "BYOP": 3389}

// DefaultHealthMisses is how many health checks in a row a guest must
// miss before it is unhealthy: 3 checks of 1 s with 5 s to answer, so a
// guest that hangs is found within about 18 s, while one slow answer on a
// loaded machine does not make its desktop UNHEALTHY.
const DefaultHealthMisses = 3

// ErrLimit is returned by Admit when --runtime-max guests run already.
var ErrLimit = errors.New("runtime: the limit of running guests is reached")

// Port is one protocol port of a desktop and whether its security groups
// allow it inbound (a port not allowed is not listened on).
type Port struct {
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Allowed  bool   `json:"allowed"`
}

// Spec is what a desktop's guest is started from.
type Spec struct {
	Key          string // ACCOUNT/REGION/ID
	WorkspaceID  string
	UserName     string
	ComputerName string
	DirectoryID  string
	VPCAddress   string
	Ports        []Port
	// Boot identifies this start (the desktop's state sequence): a guest
	// running for another boot is stopped and started again.
	Boot int64
	// Command is the image's guest command; empty for the default.
	Command []string
	// RootImage is the directory the root volume is created from when it
	// does not exist yet (a captured image), or "" for an empty one.
	RootImage string
	// Keys are the plaintext EBS data keys of the encrypted volumes
	// ("root", "user"): those volumes are sealed at rest (see sealed.go).
	Keys map[string][]byte
}

// Status is a guest's state as the lifecycle sees it.
type Status struct {
	State string
	Boot  int64
}

// Running reports whether a process is (or may still be) alive.
func (s Status) Running() bool {
	return s.State == StateStarting || s.State == StateReady || s.State == StateUnhealthy || s.State == StateStopping
}

// Options configure a Manager.
type Options struct {
	// Kind is KindProcess (or "") or KindX11.
	Kind string
	// SessionCommand starts an x11 session (default: this executable's
	// "x11-session"); the guest command follows it after "--".
	SessionCommand []string
	// Dir is where volumes, consoles and images live (DATA/runtime).
	Dir string
	// Max bounds the guests running at once.
	Max int
	// Command is the default guest command (the built-in guest).
	Command []string
	// Env is added to every guest's environment (tests).
	Env []string
	// Addrs hands out the guests' loopback addresses; share one allocator
	// with everything else that listens on 127/8 for private addresses
	// (directories' LDAP), so that no two owners get the same address
	// (nil: the runtime's own).
	Addrs *loopback.Allocator
	// Now is the server's clock, for session times (nil: time.Now).
	Now func() time.Time
	// Notify is called, from a goroutine of the runtime, with a desktop's
	// key whenever its guest's state changes.
	Notify func(key string)
	// OnSession, when set, is told of every user connecting to (connect)
	// or leaving one of a desktop's protocol ports, from a goroutine of the
	// runtime, with the time on the server's clock.
	OnSession func(key string, connect bool, at time.Time)
	Log       *slog.Logger
	// ReadyTimeout, HealthInterval, HealthTimeout and StopGrace are
	// durations on HealthClock (zero: 30 s (x11: 60 s), 1 s, 5 s, 5 s;
	// StopGrace is always real time).
	ReadyTimeout, HealthInterval, HealthTimeout, StopGrace time.Duration
	// HealthMisses is how many health checks in a row a guest must miss to
	// be unhealthy (zero: DefaultHealthMisses); the VNC server's checks of
	// an x11 guest are counted apart from the guest's pings.
	HealthMisses int
	// HealthClock is the clock the readiness and health checks are timed
	// on (nil: the wall clock); a test injects a virtual one and advances
	// it instead of waiting.
	HealthClock clock.Clock
	// VNCHealthInterval is how often an x11 guest's VNC server must answer
	// with its RFB version (zero: 10 s; each check costs x11vnc about 25 ms
	// of CPU, and the session ends the guest at once if x11vnc exits).
	VNCHealthInterval time.Duration
}

// Manager runs the guests of one server.
type Manager struct {
	o      Options
	addrs  *loopback.Allocator
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	guests map[string]*guest
	// reserved are the desktops admitted (Admit) whose guest has not
	// been started yet.
	reserved map[string]bool
	sessions map[string]*sessions
	wg       sync.WaitGroup
	// closing silences Notify while Close stops every guest (a server
	// shutting down does not make its desktops UNHEALTHY).
	closing bool
}

type sessions struct {
	open           int
	last           time.Time // last connect
	lastDisconnect time.Time
}

// guest is one desktop's guest process.
type guest struct {
	spec    Spec
	addr    netip.Addr
	state   string
	pid     int
	started time.Time
	readyAt time.Time
	cmd     *exec.Cmd
	ctl     io.WriteCloser
	pong    chan int64 // the number a pong answers (0: any)
	exited  chan struct{}
	// next is started once this guest has exited (Ensure of a new boot).
	next *Spec
	err  string
	// work are the working copies of encrypted volumes, by volume.
	work map[string]string
	// Under x11: the X display, the session's processes by role, the
	// VNC server's address ("" when the groups do not allow 5900), and
	// whether the guest command reported ready (the desktop is ready when
	// the VNC server answers too).
	display    string
	procs      map[string]int
	vnc        string
	guestReady chan struct{}
	// frozen: the process group is stopped (Freeze); checks counts the
	// health checks sent, misses those missed in a row (pings, and the
	// VNC server's).
	frozen            bool
	checks            int
	misses, vncMisses int
}

// New returns a manager.
func New(o Options) (*Manager, error) {
	if o.Max <= 0 {
		o.Max = 50
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
		if o.Kind == KindX11 {
			// An X server and a VNC server take seconds each to start
			// when many desktops start at once on a busy machine.
			o.ReadyTimeout = time.Minute
		}
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = time.Second
	}
	if o.HealthTimeout == 0 {
		o.HealthTimeout = 5 * time.Second
	}
	if o.StopGrace == 0 {
		o.StopGrace = 5 * time.Second
	}
	if o.VNCHealthInterval == 0 {
		o.VNCHealthInterval = 10 * time.Second
	}
	if o.HealthMisses <= 0 {
		o.HealthMisses = DefaultHealthMisses
	}
	if o.HealthClock == nil {
		o.HealthClock = clock.Real{}
	}
	switch o.Kind {
	case "", KindProcess:
	case KindX11:
		if err := CheckX11(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("runtime: unknown kind %q", o.Kind)
	}
	if len(o.Command) == 0 || (o.Kind == KindX11 && len(o.SessionCommand) == 0) {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("runtime: find the deskplane executable for the built-in guest: %w", err)
		}
		if len(o.Command) == 0 {
			o.Command = []string{exe, "guest"}
		}
		if len(o.SessionCommand) == 0 {
			o.SessionCommand = []string{exe, "x11-session"}
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("runtime: create %s: %w", o.Dir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := o.Addrs
	if addrs == nil {
		addrs = loopback.NewAllocator()
		if err := addrs.ClaimAcross(loopback.MachineClaimDir()); err != nil {
			o.Log.Warn("runtime: loopback addresses are not claimed across processes", "err", err)
		}
	}
	return &Manager{o: o, addrs: addrs, ctx: ctx, cancel: cancel,
		guests: map[string]*guest{}, reserved: map[string]bool{}, sessions: map[string]*sessions{}}, nil
}

// Max is the limit of guests running at once.
func (m *Manager) Max() int { return m.o.Max }

func (m *Manager) running() int {
	n := len(m.reserved)
	for k, g := range m.guests {
		if g.state != StateExited && g.state != StateFailed && !m.reserved[k] {
			n++
		}
	}
	return n
}

// Admit reserves a guest for a desktop about to start; it fails with
// ErrLimit when Max guests run or are reserved already.
func (m *Manager) Admit(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.guests[key]; m.reserved[key] || (g != nil && g.state != StateExited && g.state != StateFailed) {
		return nil
	}
	if m.running() >= m.o.Max {
		return ErrLimit
	}
	m.reserved[key] = true
	return nil
}

// Room is how many more guests may start now.
func (m *Manager) Room() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.o.Max-m.running(), 0)
}

// Release drops a reservation made by Admit (the start was abandoned).
func (m *Manager) Release(key string) {
	m.mu.Lock()
	delete(m.reserved, key)
	m.mu.Unlock()
}

// Status returns a desktop's guest status (State "" when it has none).
func (m *Manager) Status(key string) Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.guests[key]
	if g == nil {
		return Status{}
	}
	return Status{State: g.state, Boot: g.spec.Boot}
}

// Ensure makes a guest for spec run: it returns at once with the status of
// the guest for spec.Boot (starting, ready...). A guest of another boot is
// stopped first and the new one started when it has exited.
func (m *Manager) Ensure(spec Spec) Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reserved, spec.Key)
	g := m.guests[spec.Key]
	if g != nil && g.spec.Boot == spec.Boot && g.state != StateExited {
		return Status{State: g.state, Boot: g.spec.Boot}
	}
	if g != nil && g.state != StateExited && g.state != StateFailed {
		s := spec
		g.next = &s
		m.stopLocked(g)
		return Status{State: StateStarting, Boot: spec.Boot}
	}
	g = m.startLocked(spec)
	return Status{State: g.state, Boot: spec.Boot}
}

// Stop ends a desktop's guest (SIGTERM, then SIGKILL after StopGrace); it
// reports whether no guest runs any more.
func (m *Manager) Stop(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reserved, key)
	g := m.guests[key]
	if g == nil || g.state == StateExited || g.state == StateFailed {
		return true
	}
	g.next = nil
	m.stopLocked(g)
	return false
}

// Remove forgets a desktop whose guest has stopped and deletes its volumes,
// console and snapshots (Terminate).
func (m *Manager) Remove(key string) error {
	m.mu.Lock()
	g := m.guests[key]
	if g != nil && g.state != StateExited && g.state != StateFailed {
		m.mu.Unlock()
		return fmt.Errorf("runtime: the guest of %s still runs", key)
	}
	delete(m.guests, key)
	delete(m.reserved, key)
	delete(m.sessions, key)
	m.addrs.Release(key)
	m.mu.Unlock()
	if err := os.RemoveAll(m.desktopDir(key)); err != nil {
		return fmt.Errorf("runtime: remove the volumes of %s: %w", key, err)
	}
	return nil
}

// Close stops every guest and waits (up to StopGrace and a little more)
// for them to exit; the server calls it on shutdown.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closing = true
	for _, g := range m.guests {
		g.next = nil
		if g.state != StateExited && g.state != StateFailed {
			m.stopLocked(g)
		}
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(m.o.StopGrace + 2*time.Second):
	}
	m.cancel()
	if m.o.Addrs == nil {
		m.addrs.Close() // its own allocator's claims; a shared one is its owner's to close
	}
	return nil
}

func (m *Manager) desktopDir(key string) string {
	return filepath.Join(m.o.Dir, "desktops", filepath.FromSlash(key))
}

// RootDir and UserDir are a desktop's volumes.
func (m *Manager) RootDir(key string) string { return filepath.Join(m.desktopDir(key), "root") }

// UserDir is a desktop's user volume.
func (m *Manager) UserDir(key string) string { return filepath.Join(m.desktopDir(key), "user") }

func (m *Manager) consolePath(key string) string {
	return filepath.Join(m.desktopDir(key), "console.log")
}

func (m *Manager) notify(key string) {
	m.mu.Lock()
	closing := m.closing
	m.mu.Unlock()
	if m.o.Notify != nil && !closing {
		safego.Call(m.o.Log, "runtime notify", func() { m.o.Notify(key) })
	}
}

// startLocked starts spec's guest; m.mu is held.
func (m *Manager) startLocked(spec Spec) *guest {
	if old := m.guests[spec.Key]; old != nil && old.spec.VPCAddress != spec.VPCAddress {
		m.addrs.Release(spec.Key) // rebuilt with a new address
	}
	g := &guest{spec: spec, state: StateStarting, started: time.Now(), pong: make(chan int64, 8), exited: make(chan struct{}),
		guestReady: make(chan struct{}, 1)}
	m.guests[spec.Key] = g
	if err := m.launch(g); err != nil {
		m.o.Log.Error("runtime: start guest", "workspace_id", spec.WorkspaceID, "err", err)
		g.state, g.err = StateFailed, err.Error()
		close(g.exited)
		go m.notify(spec.Key)
	}
	return g
}

func (m *Manager) launch(g *guest) error {
	spec := g.spec
	vpc, err := netip.ParseAddr(spec.VPCAddress)
	if err != nil {
		return fmt.Errorf("the desktop's address %q: %w", spec.VPCAddress, err)
	}
	// An address where another program already listens on one of the
	// desktop's ports (another deskplane, a test) is skipped for the next
	// free one, as a collision between two desktops is.
	addr, err := m.addrs.AssignFree(spec.Key, vpc, func(a netip.Addr) bool {
		for _, p := range spec.Ports {
			l, err := net.Listen("tcp", netip.AddrPortFrom(a, uint16(p.Port)).String())
			if err != nil {
				return false
			}
			l.Close()
		}
		return true
	})
	if err != nil {
		return err
	}
	g.addr = addr
	root, user := m.RootDir(spec.Key), m.UserDir(spec.Key)
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) && !m.sealed(spec.Key, "root") {
		if err := os.MkdirAll(filepath.Dir(root), 0o700); err != nil {
			return fmt.Errorf("create the volumes of %s: %w", spec.WorkspaceID, err)
		}
		if spec.RootImage != "" {
			if err := copyTree(spec.RootImage, root); err != nil {
				return fmt.Errorf("create the root volume of %s from its image: %w", spec.WorkspaceID, err)
			}
		}
	}
	for vol, d := range map[string]string{"root": root, "user": user} {
		if m.sealed(spec.Key, vol) {
			continue
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create the volumes of %s: %w", spec.WorkspaceID, err)
		}
	}
	if len(spec.Keys) > 0 {
		if root, user, err = m.openVolumes(g, root, user); err != nil {
			return fmt.Errorf("attach the encrypted volumes of %s: %w", spec.WorkspaceID, err)
		}
	}
	console, err := os.OpenFile(m.consolePath(spec.Key), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the console of %s: %w", spec.WorkspaceID, err)
	}
	defer console.Close()
	fmt.Fprintf(console, "deskplane: %s starting the guest of %s (boot %d)\n", time.Now().UTC().Format(time.RFC3339), spec.WorkspaceID, spec.Boot)
	evR, evW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("guest event pipe: %w", err)
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		evR.Close()
		evW.Close()
		return fmt.Errorf("guest control pipe: %w", err)
	}
	command := spec.Command
	if len(command) == 0 {
		command = m.o.Command
	}
	env := append(append(os.Environ(), m.o.Env...), Environment(spec, addr, root, user)...)
	if m.o.Kind == KindX11 {
		command = append(append(append([]string{}, m.o.SessionCommand...), "--"), command...)
		env = append(env, "DESKPLANE_RUNTIME=x11")
		for _, p := range spec.Ports {
			if p.Protocol == VNCProtocol && p.Allowed {
				g.vnc = netip.AddrPortFrom(addr, uint16(p.Port)).String()
				env = append(env, "DESKPLANE_VNC="+g.vnc)
			}
		}
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Dir = root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = console, console
	cmd.ExtraFiles = []*os.File{evW, ctlR}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		evR.Close()
		evW.Close()
		ctlR.Close()
		ctlW.Close()
		return fmt.Errorf("run %s: %w", command[0], err)
	}
	evW.Close()
	ctlR.Close()
	g.cmd, g.ctl, g.pid = cmd, ctlW, cmd.Process.Pid
	m.wg.Add(3)
	safego.Go(m.ctx, m.o.Log, "guest events", func(context.Context) { m.readEvents(g, evR) }, m.wg.Done)
	safego.Go(m.ctx, m.o.Log, "guest wait", func(context.Context) { m.wait(g) }, m.wg.Done)
	safego.Go(m.ctx, m.o.Log, "guest health", func(ctx context.Context) { m.health(ctx, g) }, m.wg.Done)
	return nil
}

// Environment is the identity a guest finds in its environment.
func Environment(spec Spec, addr netip.Addr, root, user string) []string {
	var ports, all []string
	for _, p := range spec.Ports {
		if p.Protocol == VNCProtocol {
			continue // the x11 session's VNC server, not the guest, listens there
		}
		all = append(all, p.Protocol+"="+strconv.Itoa(p.Port))
		if p.Allowed {
			ports = append(ports, p.Protocol+"="+strconv.Itoa(p.Port))
		}
	}
	return []string{
		"DESKPLANE_WORKSPACE_ID=" + spec.WorkspaceID,
		"DESKPLANE_USER_NAME=" + spec.UserName,
		"DESKPLANE_COMPUTER_NAME=" + spec.ComputerName,
		"DESKPLANE_DIRECTORY_ID=" + spec.DirectoryID,
		"DESKPLANE_VPC_ADDRESS=" + spec.VPCAddress,
		"DESKPLANE_ADDRESS=" + addr.String(),
		"DESKPLANE_PORTS=" + strings.Join(ports, ","),
		"DESKPLANE_PROTOCOL_PORTS=" + strings.Join(all, ","),
		"DESKPLANE_ROOT_VOLUME=" + root,
		"DESKPLANE_USER_VOLUME=" + user,
		"DESKPLANE_EVENTS_FD=3",
		"DESKPLANE_CONTROL_FD=4",
	}
}

func (m *Manager) setState(g *guest, state string) { m.setStateWhy(g, state, "") }

// setStateWhy sets a guest's state, with the reason in its error when the
// guest becomes unhealthy.
func (m *Manager) setStateWhy(g *guest, state, why string) {
	m.mu.Lock()
	if g.state == state || g.state == StateExited || (g.state == StateStopping && state != StateExited) {
		m.mu.Unlock()
		return
	}
	g.state = state
	if why != "" {
		g.err = why
	}
	if state == StateReady {
		g.readyAt = time.Now()
	}
	m.mu.Unlock()
	m.notify(g.spec.Key)
}

func (m *Manager) readEvents(g *guest, r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ready":
			if g.vnc == "" {
				m.setState(g, StateReady)
				continue
			}
			select { // the health loop checks the VNC server
			case g.guestReady <- struct{}{}:
			default:
			}
		case "x11":
			procs := map[string]int{}
			display := ""
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				if k == "display" {
					display = v
				} else if n, err := strconv.Atoi(v); err == nil {
					procs[k] = n
				}
			}
			m.mu.Lock()
			g.display, g.procs = display, procs
			m.mu.Unlock()
		case "pong":
			var n int64
			if len(f) > 1 {
				n, _ = strconv.ParseInt(f[1], 10, 64)
			}
			select {
			case g.pong <- n:
			default:
			}
		case "connect", "disconnect":
			m.session(g.spec.Key, f[0] == "connect")
		}
	}
}

func (m *Manager) session(key string, connect bool) {
	m.mu.Lock()
	if g := m.guests[key]; g != nil && g.frozen {
		// Written before the guest was frozen and read after: Freeze
		// ended its sessions, and a frozen guest opens none.
		m.mu.Unlock()
		return
	}
	s := m.sessions[key]
	if s == nil {
		s = &sessions{}
		m.sessions[key] = s
	}
	now := m.o.Now()
	if connect {
		s.open++
		s.last = now
	} else if s.open > 0 {
		s.open--
		if s.open == 0 {
			s.lastDisconnect = now
		}
	}
	m.mu.Unlock()
	m.notify(key)
	if m.o.OnSession != nil {
		safego.Call(m.o.Log, "runtime session report", func() { m.o.OnSession(key, connect, now) })
	}
}

func (m *Manager) wait(g *guest) {
	err := g.cmd.Wait()
	g.ctl.Close()
	if serr := m.sealVolumes(g); serr != nil {
		m.o.Log.Error("runtime: seal the encrypted volumes", "workspace_id", g.spec.WorkspaceID, "err", serr)
	}
	m.mu.Lock()
	g.state = StateExited
	if err != nil {
		g.err = err.Error()
	}
	close(g.exited)
	var cut time.Time // sessions the guest's exit ended
	if s := m.sessions[g.spec.Key]; s != nil && s.open > 0 {
		s.open = 0
		s.lastDisconnect = m.o.Now()
		cut = s.lastDisconnect
	}
	if !cut.IsZero() && m.o.OnSession != nil {
		defer safego.Call(m.o.Log, "runtime session report", func() { m.o.OnSession(g.spec.Key, false, cut) })
	}
	next := g.next
	g.next = nil
	if next != nil && m.guests[g.spec.Key] == g {
		m.startLocked(*next)
	}
	m.mu.Unlock()
	if f, err := os.OpenFile(m.consolePath(g.spec.Key), os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		fmt.Fprintf(f, "deskplane: %s the guest of %s exited: %s\n", time.Now().UTC().Format(time.RFC3339), g.spec.WorkspaceID, g.cmd.ProcessState)
		f.Close()
	}
	m.notify(g.spec.Key)
}

// health waits for readiness, then checks the guest every HealthInterval
// (on HealthClock): a ping it must answer within HealthTimeout, and under
// x11 every VNCHealthInterval the VNC server's RFB version. HealthMisses
// misses in a row make the guest unhealthy; an answer clears the count.
// A frozen guest is not checked.
func (m *Manager) health(ctx context.Context, g *guest) {
	clk := m.o.HealthClock
	start := clk.Now()
	readyBy := start.Add(m.o.ReadyTimeout)
	nextCheck := start.Add(m.o.HealthInterval)
	var pingDeadline time.Time // zero: no ping outstanding
	pinged := 0                // the number of the last ping
	var vncChecked time.Time
	guestReady := false // x11: the guest command reported ready
	checkVNC := func() {
		m.mu.Lock()
		starting := g.state == StateStarting
		m.mu.Unlock()
		if !guestReady || !starting {
			return
		}
		if err := probeRFB(g.vnc, 2*time.Second); err == nil {
			m.setState(g, StateReady)
		}
	}
	timer := time.NewTimer(m.o.HealthInterval)
	defer timer.Stop()
	for {
		now := clk.Now()
		wake := nextCheck
		if !pingDeadline.IsZero() {
			wake = pingDeadline
		}
		m.mu.Lock()
		starting := g.state == StateStarting
		m.mu.Unlock()
		if starting && readyBy.Before(wake) {
			wake = readyBy
		}
		timer.Reset(max(wake.Sub(now), 0))
		select {
		case <-ctx.Done():
			return
		case <-g.exited:
			return
		case <-g.guestReady:
			guestReady = true
			checkVNC()
			continue
		case n := <-g.pong:
			if !pingDeadline.IsZero() && (n == 0 || n == int64(pinged)) {
				pingDeadline = time.Time{}
				m.mu.Lock()
				g.misses = 0
				m.mu.Unlock()
			}
			continue
		case <-timer.C:
		case <-clk.Changed():
		}
		now = clk.Now()
		m.mu.Lock()
		state, frozen := g.state, g.frozen
		m.mu.Unlock()
		if state == StateStarting && !now.Before(readyBy) {
			m.o.Log.Warn("runtime: guest not ready in time", "workspace_id", g.spec.WorkspaceID, "timeout", m.o.ReadyTimeout)
			m.setStateWhy(g, StateUnhealthy, fmt.Sprintf("not ready within %s", m.o.ReadyTimeout))
			continue
		}
		if frozen || (state != StateReady && state != StateStarting) {
			pingDeadline = time.Time{}
			nextCheck = now.Add(m.o.HealthInterval)
			continue
		}
		if !pingDeadline.IsZero() {
			if now.Before(pingDeadline) {
				continue
			}
			pingDeadline = time.Time{}
			nextCheck = now.Add(m.o.HealthInterval) // an interval after the miss
			m.o.Log.Warn("runtime: guest missed a health check", "workspace_id", g.spec.WorkspaceID)
			if m.miss(g, &g.misses) {
				m.setStateWhy(g, StateUnhealthy, fmt.Sprintf("health check: no answer to %d pings in a row within %s", m.o.HealthMisses, m.o.HealthTimeout))
			}
			continue
		}
		if now.Before(nextCheck) {
			continue
		}
		nextCheck = now.Add(m.o.HealthInterval)
		if state == StateStarting {
			if g.vnc != "" {
				checkVNC()
			}
			continue
		}
		if g.vnc != "" && !now.Before(vncChecked.Add(m.o.VNCHealthInterval)) {
			vncChecked = now
			if err := probeRFB(g.vnc, m.o.HealthTimeout); err != nil {
				m.o.Log.Warn("runtime: the desktop's VNC server missed a health check", "workspace_id", g.spec.WorkspaceID, "err", err)
				if m.miss(g, &g.vncMisses) {
					m.setStateWhy(g, StateUnhealthy, fmt.Sprintf("health check: the VNC server, %d times in a row: %v", m.o.HealthMisses, err))
					continue
				}
			} else {
				m.mu.Lock()
				g.vncMisses = 0
				m.mu.Unlock()
			}
		}
		for drained := false; !drained; { // late answers to missed pings
			select {
			case <-g.pong:
			default:
				drained = true
			}
		}
		pinged++
		if _, err := fmt.Fprintf(g.ctl, "ping %d\n", pinged); err != nil {
			m.setStateWhy(g, StateUnhealthy, "health check: ping: "+err.Error())
			continue
		}
		m.mu.Lock()
		g.checks = pinged
		m.mu.Unlock()
		pingDeadline = clk.Now().Add(m.o.HealthTimeout)
	}
}

// miss counts one missed health check in *n (g.misses or g.vncMisses) and
// reports whether the guest has now missed HealthMisses in a row.
func (m *Manager) miss(g *guest, n *int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	*n++
	return *n >= m.o.HealthMisses
}

// Freeze stops a desktop's guest's process group (SIGSTOP) and ends its
// user sessions: the desktop stops answering on every port, as an
// UNHEALTHY or IMPAIRED desktop does, until the guest is stopped (Stop
// continues it first, so it ends normally). It reports whether a guest was
// frozen.
func (m *Manager) Freeze(key string) bool {
	m.mu.Lock()
	g := m.guests[key]
	if g == nil || g.frozen || g.pid == 0 || g.state == StateExited || g.state == StateFailed || g.state == StateStopping {
		m.mu.Unlock()
		return false
	}
	g.frozen = true
	signalGroup(g.pid, syscall.SIGSTOP)
	var cut time.Time
	if s := m.sessions[key]; s != nil && s.open > 0 {
		s.open = 0
		s.lastDisconnect = m.o.Now()
		cut = s.lastDisconnect
	}
	m.mu.Unlock()
	m.o.Log.Info("runtime: guest frozen", "workspace_id", g.spec.WorkspaceID, "pid", g.pid)
	if !cut.IsZero() && m.o.OnSession != nil {
		// Reported from a goroutine: the caller (the lifecycle) holds a
		// store transaction that the report's own would wait for.
		m.wg.Add(1)
		safego.Go(m.ctx, m.o.Log, "runtime session report", func(context.Context) { m.o.OnSession(key, false, cut) }, m.wg.Done)
	}
	return true
}

// stopLocked signals a guest to end; m.mu is held.
func (m *Manager) stopLocked(g *guest) {
	if g.state == StateStopping || g.state == StateExited || g.state == StateFailed {
		return
	}
	g.state = StateStopping
	signalGroup(g.pid, syscall.SIGTERM)
	if g.frozen { // a stopped process acts on SIGTERM once continued
		signalGroup(g.pid, syscall.SIGCONT)
	}
	m.wg.Add(1)
	safego.Go(m.ctx, m.o.Log, "guest stop", func(ctx context.Context) {
		t := time.NewTimer(m.o.StopGrace)
		defer t.Stop()
		select {
		case <-g.exited:
		case <-t.C:
			signalGroup(g.pid, syscall.SIGKILL)
		}
	}, m.wg.Done)
}

// Info is one guest as GET /_deskplane/runtime lists it.
type Info struct {
	WorkspaceID string    `json:"workspace_id"`
	Key         string    `json:"key"`
	VPCAddress  string    `json:"vpc_address"`
	Address     string    `json:"address"`
	Ports       []Port    `json:"ports"`
	State       string    `json:"state"`
	PID         int       `json:"pid,omitempty"`
	Boot        int64     `json:"boot"`
	Started     time.Time `json:"started"`
	ReadyAfter  string    `json:"ready_after,omitempty"`
	Sessions    int       `json:"sessions"`
	RootVolume  string    `json:"root_volume"`
	UserVolume  string    `json:"user_volume"`
	// Encrypted lists the volumes sealed at rest; their paths above are
	// the working copies in a tmpfs while the guest runs.
	Encrypted []string `json:"encrypted,omitempty"`
	Error     string   `json:"error,omitempty"`
	// Frozen: the guest's processes are stopped (its desktop is UNHEALTHY
	// or IMPAIRED). HealthChecks counts the pings sent, MissedChecks those
	// missed in a row (with the VNC server's under x11).
	Frozen       bool `json:"frozen,omitempty"`
	HealthChecks int  `json:"health_checks"`
	MissedChecks int  `json:"missed_checks,omitempty"`
	// Under x11: the X display, the VNC server's address (when the
	// security groups allow 5900) and the session's processes by role
	// (xvfb, wm, xterm, x11vnc; PID above is the session, the leader of
	// the process group).
	Display   string         `json:"display,omitempty"`
	VNC       string         `json:"vnc,omitempty"`
	Processes map[string]int `json:"processes,omitempty"`
}

// List returns every guest the runtime knows, by workspace id.
func (m *Manager) List() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Info, 0, len(m.guests))
	for k, g := range m.guests {
		in := Info{WorkspaceID: g.spec.WorkspaceID, Key: k, VPCAddress: g.spec.VPCAddress, Ports: g.spec.Ports,
			State: g.state, PID: g.pid, Boot: g.spec.Boot, Started: g.started, RootVolume: m.RootDir(k), UserVolume: m.UserDir(k), Error: g.err,
			Frozen: g.frozen && g.state != StateExited, HealthChecks: g.checks, MissedChecks: max(g.misses, g.vncMisses)}
		if w := g.work["root"]; w != "" {
			in.RootVolume = w
			in.Encrypted = append(in.Encrypted, "root")
		}
		if w := g.work["user"]; w != "" {
			in.UserVolume = w
			in.Encrypted = append(in.Encrypted, "user")
		}
		if g.addr.IsValid() {
			in.Address = g.addr.String()
		}
		if g.display != "" && g.state != StateExited {
			in.Display, in.VNC, in.Processes = g.display, g.vnc, g.procs
		}
		if !g.readyAt.IsZero() {
			in.ReadyAfter = g.readyAt.Sub(g.started).String()
		}
		if s := m.sessions[k]; s != nil {
			in.Sessions = s.open
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].WorkspaceID < out[j].WorkspaceID })
	return out
}

// Find returns the key of a workspace id's guest.
func (m *Manager) Find(workspaceID string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, g := range m.guests {
		if g.spec.WorkspaceID == workspaceID {
			return k, true
		}
	}
	return "", false
}

// Console returns the last max bytes of a desktop's console log.
func (m *Manager) Console(key string, max int64) ([]byte, error) {
	f, err := os.Open(m.consolePath(key))
	if err != nil {
		return nil, fmt.Errorf("runtime: open the console of %s: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("runtime: console of %s: %w", key, err)
	}
	if off := st.Size() - max; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return nil, fmt.Errorf("runtime: console of %s: %w", key, err)
		}
	}
	return io.ReadAll(f)
}

// Connection is what the runtime observed of a desktop's user sessions
// (connections to its protocol ports) since the server started.
type Connection struct {
	// State is CONNECTED while a client holds a connection, DISCONNECTED
	// after one has (and before any: ok is false then).
	State          string
	Open           int
	LastConnect    time.Time
	LastDisconnect time.Time
}

// ConnectionState reports a desktop's sessions by workspace id; ok is
// false when no client connected to it since the server started.
func (m *Manager) ConnectionState(workspaceID string) (c Connection, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, g := range m.guests {
		if g.spec.WorkspaceID != workspaceID {
			continue
		}
		s := m.sessions[k]
		if s == nil {
			return Connection{}, false
		}
		c = Connection{State: "DISCONNECTED", Open: s.open, LastConnect: s.last, LastDisconnect: s.lastDisconnect}
		if s.open > 0 {
			c.State = "CONNECTED"
		}
		return c, true
	}
	return Connection{}, false
}
