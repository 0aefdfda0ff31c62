package runtime

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/safego"
)

// KindX11 is --runtime x11: every guest is a real Linux desktop (see
// RunX11Session).
const KindX11 = "x11"

// VNCPort is the port of the x11 runtime's VNC (RFB) server on a desktop's
// loopback address, and VNCProtocol the name its port carries in Spec.Ports
// and GET /_deskplane/runtime.
const (
	VNCPort     = 5900
	VNCProtocol = "VNC"
)

// x11Programs are the programs of an x11 session and the Debian packages
// that bring them.
var x11Programs = []struct{ program, pkg string }{
	{"Xvfb", "xvfb"}, {"x11vnc", "x11vnc"}, {"openbox", "openbox"}, {"xterm", "xterm"},
}

// X11Packages are the Debian packages --runtime x11 needs (x11-utils and
// xdotool only for the tests' xwininfo and xdotool).
const X11Packages = "xvfb x11vnc openbox xterm"

// CheckX11 reports an error naming the missing programs and their Debian
// packages when an x11 session cannot run on this machine.
func CheckX11() error {
	var missing, pkgs []string
	for _, p := range x11Programs {
		if _, err := exec.LookPath(p.program); err != nil {
			missing = append(missing, p.program)
			pkgs = append(pkgs, p.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("runtime x11 needs %s, not found on PATH: install the Debian packages (apt-get install -y %s)",
		strings.Join(missing, ", "), strings.Join(pkgs, " "))
}

// X11Geometry is the screen of every x11 desktop.
const X11Geometry = "1280x800x24"

// RunX11Session is an x11 guest ("deskplane x11-session -- GUEST-COMMAND"),
// the leader of the guest's process group: it starts an X server (Xvfb, on
// the first free display, -displayfd), a window manager (openbox), an
// xterm titled with the workspace id, and, when DESKPLANE_VNC is set
// (ADDRESS:5900, the desktop's security groups allow 5900 inbound), a VNC
// server (x11vnc) there; then the image's guest command with DISPLAY set,
// which inherits file descriptors 3 and 4 and so speaks the control
// protocol with the runtime itself. Before that the session reports
//
//	x11 display=:N xvfb=PID wm=PID xterm=PID x11vnc=PID
//
// on the events pipe. Every process stays in the session's process group.
// When the X server, the VNC server or the guest command exits, or on
// SIGTERM (ctx), the session ends all the others (SIGTERM, SIGKILL after
// grace) and returns; an unexpected exit is an error.
func RunX11Session(ctx context.Context, guest []string, getenv func(string) string, log io.Writer, grace time.Duration) error {
	id := getenv("DESKPLANE_WORKSPACE_ID")
	if id == "" {
		return errors.New("x11 session: DESKPLANE_WORKSPACE_ID must be set (the runtime starts sessions)")
	}
	if len(guest) == 0 {
		return errors.New("x11 session: no guest command (usage: deskplane x11-session -- COMMAND...)")
	}
	if err := CheckX11(); err != nil {
		return err
	}
	events := io.Writer(io.Discard)
	var evFile, ctlFile *os.File
	if fd := getenv("DESKPLANE_EVENTS_FD"); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return fmt.Errorf("x11 session: DESKPLANE_EVENTS_FD %q: %w", fd, err)
		}
		syscall.CloseOnExec(n) // only the guest command inherits it
		evFile = os.NewFile(uintptr(n), "events")
		events = evFile
	}
	if fd := getenv("DESKPLANE_CONTROL_FD"); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return fmt.Errorf("x11 session: DESKPLANE_CONTROL_FD %q: %w", fd, err)
		}
		syscall.CloseOnExec(n)
		ctlFile = os.NewFile(uintptr(n), "control")
	}
	s := &x11Session{log: log, slog: slog.New(slog.NewTextHandler(log, nil)), exits: make(chan x11Exit, 8)}
	defer s.end(grace)

	// The X server writes its display number on fd 3 once it accepts
	// connections.
	dr, dw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("x11 session: display pipe: %w", err)
	}
	xvfb := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", X11Geometry, "-br", "-nolisten", "tcp")
	xvfb.ExtraFiles = []*os.File{dw}
	err = s.start("xvfb", xvfb, true)
	dw.Close()
	if err != nil {
		dr.Close()
		return err
	}
	display, err := readDisplay(ctx, s.slog, dr, s.exits)
	dr.Close()
	if err != nil {
		return fmt.Errorf("x11 session: the X server: %w", err)
	}
	fmt.Fprintf(log, "x11 session %s: X server on %s\n", id, display)
	env := append(os.Environ(), "DISPLAY="+display)
	wm := exec.Command("openbox")
	wm.Env = env
	if err := s.start("wm", wm, false); err != nil {
		return err
	}
	term := exec.Command("xterm", "-T", id, "-n", id, "-geometry", "100x30+60+60", "-xrm", "XTerm*allowTitleOps: false",
		"-e", "/bin/sh", "-c", `echo "deskplane desktop $DESKPLANE_WORKSPACE_ID: user $DESKPLANE_USER_NAME, computer $DESKPLANE_COMPUTER_NAME, $DESKPLANE_ADDRESS"; exec /bin/sh`)
	term.Env = env
	if err := s.start("xterm", term, false); err != nil {
		return err
	}
	if vnc := getenv("DESKPLANE_VNC"); vnc != "" {
		host, port, err := net.SplitHostPort(vnc)
		if err != nil {
			return fmt.Errorf("x11 session: DESKPLANE_VNC %q: %w", vnc, err)
		}
		// -shared: a portal and a test may watch at once.
		x := exec.Command("x11vnc", "-display", display, "-rfbport", port, "-listen", host, "-noipv6",
			"-forever", "-shared", "-nopw", "-norc", "-quiet")
		x.Env = env
		if err := s.start("x11vnc", x, true); err != nil {
			return err
		}
		if evFile != nil {
			safego.Go(ctx, s.slog, "x11 session: VNC clients", func(ctx context.Context) { watchVNCClients(ctx, evFile, vnc, port) }, nil)
		}
	}
	line := "x11 display=" + display
	for _, name := range []string{"xvfb", "wm", "xterm", "x11vnc"} {
		if c := s.cmds[name]; c != nil {
			line += " " + name + "=" + strconv.Itoa(c.Process.Pid)
		}
	}
	fmt.Fprintln(events, line)
	g := exec.Command(guest[0], guest[1:]...)
	g.Env = env
	if evFile != nil && ctlFile != nil {
		g.ExtraFiles = []*os.File{evFile, ctlFile}
	}
	if err := s.start("guest", g, true); err != nil {
		return err
	}
	// The guest holds the control pipe now: the session closes its copy.
	// It keeps the events pipe for the VNC clients' sessions.
	if ctlFile != nil {
		ctlFile.Close()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintf(log, "x11 session %s: stopping\n", id)
		return nil
	case e := <-s.exits:
		return fmt.Errorf("x11 session %s: %s exited (%v): ending the desktop", id, e.name, e.err)
	}
}

type x11Exit struct {
	name string
	err  error
}

type x11Session struct {
	log   io.Writer
	slog  *slog.Logger
	cmds  map[string]*exec.Cmd
	order []string
	done  map[string]chan struct{}
	exits chan x11Exit // essential processes that exited
}

// start starts one process of the session, in the session's process group,
// killed if the session dies; an essential one ending ends the session.
func (s *x11Session) start(name string, c *exec.Cmd, essential bool) error {
	c.Stdout, c.Stderr = s.log, s.log
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return fmt.Errorf("x11 session: start %s: %w", c.Path, err)
	}
	if s.cmds == nil {
		s.cmds, s.done = map[string]*exec.Cmd{}, map[string]chan struct{}{}
	}
	s.cmds[name] = c
	s.order = append(s.order, name)
	done := make(chan struct{})
	s.done[name] = done
	safego.Go(context.Background(), s.slog, "x11 session: wait for "+name, func(context.Context) {
		err := c.Wait()
		close(done)
		if essential {
			s.exits <- x11Exit{name, err}
		}
	}, nil)
	return nil
}

// end stops the processes in the reverse order of their start: SIGTERM,
// then SIGKILL to those still running after grace.
func (s *x11Session) end(grace time.Duration) {
	for i := len(s.order) - 1; i >= 0; i-- {
		s.cmds[s.order[i]].Process.Signal(syscall.SIGTERM)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	for i := len(s.order) - 1; i >= 0; i-- {
		name := s.order[i]
		select {
		case <-s.done[name]:
		case <-t.C:
			for _, n := range s.order {
				s.cmds[n].Process.Kill()
			}
			for _, n := range s.order {
				<-s.done[n]
			}
			return
		}
	}
}

// readDisplay reads the display number the X server writes (-displayfd).
func readDisplay(ctx context.Context, log *slog.Logger, r io.Reader, exits <-chan x11Exit) (string, error) {
	got := make(chan string, 1)
	safego.Go(ctx, log, "x11 session: read the display", func(context.Context) {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}, nil)
	t := time.NewTimer(20 * time.Second)
	defer t.Stop()
	select {
	case n := <-got:
		if _, err := strconv.Atoi(n); err != nil {
			return "", fmt.Errorf("no display number (read %q)", n)
		}
		return ":" + n, nil
	case e := <-exits:
		return "", fmt.Errorf("exited before it was ready: %v", e.err)
	case <-ctx.Done():
		return "", ctx.Err()
	case <-t.C:
		return "", errors.New("no display after 20 s")
	}
}

// vncClientPoll is how often the session looks for the VNC server's
// clients; a connection is a client (a user session) once it has been
// seen twice, so the runtime's RFB health checks, which last
// milliseconds, are not.
const vncClientPoll = time.Second

// watchVNCClients reports each client of the VNC server at addr (the TCP
// connections established to it, from the kernel's tables, IPv4 and IPv6:
// x11vnc's own -afteraccept hook misses clients that come as a health
// check leaves) as a user session on events: "connect PORT REMOTE" once it
// has lasted a poll, "disconnect PORT REMOTE" when it is gone.
func watchVNCClients(ctx context.Context, events io.Writer, addr, port string) {
	local, err := netip.ParseAddrPort(addr)
	if err != nil {
		return
	}
	seen := map[netip.AddrPort]int{} // remote -> polls seen in a row
	open := map[netip.AddrPort]bool{}
	t := time.NewTicker(vncClientPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := establishedTo(local, procNetTCP...)
		if err != nil {
			continue
		}
		for r := range now {
			seen[r]++
			if seen[r] == 2 {
				open[r] = true
				fmt.Fprintf(events, "connect %s %s\n", port, r)
			}
		}
		for r := range seen {
			if now[r] {
				continue
			}
			delete(seen, r)
			if open[r] {
				delete(open, r)
				fmt.Fprintf(events, "disconnect %s %s\n", port, r)
			}
		}
	}
}

// procNetTCP are the kernel's tables of TCP sockets: IPv4, and IPv6 (where
// a dual-stack socket's IPv4 peers show as ::ffff:a.b.c.d).
var procNetTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// parseProcNetAddr reads an address and port as /proc/net/tcp and tcp6
// write them: the address's 4 bytes (IPv4) or 16 bytes (IPv6) as
// native-endian 32-bit words in hex, a colon, the port in hex. An
// IPv4-mapped IPv6 address is returned as the IPv4 address.
func parseProcNetAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || (len(a) != 8 && len(a) != 32) {
		return netip.AddrPort{}, fmt.Errorf("not a /proc/net/tcp address: %q", s)
	}
	var b [16]byte
	for i := 0; i < len(a)/8; i++ {
		w, err := strconv.ParseUint(a[i*8:i*8+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("not a /proc/net/tcp address: %q", s)
		}
		binary.NativeEndian.PutUint32(b[i*4:], uint32(w))
	}
	ip := netip.AddrFrom16(b)
	if len(a) == 8 {
		ip = netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}

// establishedTo lists the remote ends of the established TCP connections
// to local in the kernel's tables (files; a table that cannot be read,
// such as tcp6 without IPv6, is skipped unless none can).
func establishedTo(local netip.AddrPort, files ...string) (map[netip.AddrPort]bool, error) {
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	out := map[netip.AddrPort]bool{}
	var errs []error
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = scanEstablished(f, local, out)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
		}
	}
	if len(errs) == len(files) && len(files) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// scanEstablished adds to out the remote ends of the established
// connections to local in one table.
func scanEstablished(r io.Reader, local netip.AddrPort, out map[netip.AddrPort]bool) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// sl local_address rem_address st ...; 01 is ESTABLISHED.
		if len(fl) < 4 || fl[3] != "01" {
			continue
		}
		l, err := parseProcNetAddr(fl[1])
		if err != nil || l != local {
			continue
		}
		if rem, err := parseProcNetAddr(fl[2]); err == nil {
			out[rem] = true
		}
	}
	return sc.Err()
}

// probeRFB reports whether a VNC server answers at addr with its RFB
// protocol version (the x11 runtime's readiness and health check).
func probeRFB(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return fmt.Errorf("connect to the VNC server: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 12)
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("read the RFB version: %w", err)
	}
	if !strings.HasPrefix(string(buf), "RFB ") {
		return fmt.Errorf("not an RFB server: %q", buf)
	}
	return nil
}
