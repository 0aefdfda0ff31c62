package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// RunGuest is the built-in guest ("deskplane guest"): it reads its identity
// from the environment (Environment), listens on DESKPLANE_ADDRESS on each
// port of DESKPLANE_PORTS, and speaks the control protocol on file
// descriptors 3 and 4 (see the package documentation).
//
// Each protocol port serves a small line protocol: on connect the guest
// writes one banner line
//
//	DESKPLANE <workspace-id> <protocol> user=<user-name> computer=<computer-name>
//
// then echoes every line the client sends, until the client closes. Each
// connection is reported to the runtime as a session (connect, disconnect).
// The guest ends on SIGTERM (ctx) or when the runtime's control pipe closes.
func RunGuest(ctx context.Context, getenv func(string) string, log io.Writer) error {
	id := getenv("DESKPLANE_WORKSPACE_ID")
	addr := getenv("DESKPLANE_ADDRESS")
	if id == "" || addr == "" {
		return errors.New("guest: DESKPLANE_WORKSPACE_ID and DESKPLANE_ADDRESS must be set (the runtime starts guests)")
	}
	events := io.Writer(io.Discard)
	var control io.Reader
	if fd := getenv("DESKPLANE_EVENTS_FD"); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return fmt.Errorf("guest: DESKPLANE_EVENTS_FD %q: %w", fd, err)
		}
		events = os.NewFile(uintptr(n), "events")
	}
	if fd := getenv("DESKPLANE_CONTROL_FD"); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return fmt.Errorf("guest: DESKPLANE_CONTROL_FD %q: %w", fd, err)
		}
		control = os.NewFile(uintptr(n), "control")
	}
	var evMu sync.Mutex
	emit := func(format string, a ...any) {
		evMu.Lock()
		fmt.Fprintf(events, format+"\n", a...)
		evMu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	user, computer := getenv("DESKPLANE_USER_NAME"), getenv("DESKPLANE_COMPUTER_NAME")
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var wg sync.WaitGroup
	for _, pp := range strings.Split(getenv("DESKPLANE_PORTS"), ",") {
		if pp == "" {
			continue
		}
		proto, port, ok := strings.Cut(pp, "=")
		if !ok {
			return fmt.Errorf("guest: bad DESKPLANE_PORTS entry %q", pp)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(addr, port))
		if err != nil {
			return fmt.Errorf("guest: listen for %s: %w", proto, err)
		}
		lns = append(lns, l)
		fmt.Fprintf(log, "guest %s: %s listening on %s\n", id, proto, l.Addr())
		banner := fmt.Sprintf("DESKPLANE %s %s user=%s computer=%s\n", id, proto, user, computer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go serveSession(c, banner, port, emit, log, id)
			}
		}()
	}
	emit("ready")
	fmt.Fprintf(log, "guest %s: ready (user %s, computer %s, root %s)\n", id, user, computer, getenv("DESKPLANE_ROOT_VOLUME"))
	if control != nil {
		go func() {
			sc := bufio.NewScanner(control)
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == "ping" {
					emit("%s", strings.Join(append([]string{"pong"}, f[1:]...), " "))
				}
			}
			cancel() // the runtime went away
		}()
	}
	<-ctx.Done()
	fmt.Fprintf(log, "guest %s: shutting down\n", id)
	for _, l := range lns {
		l.Close()
	}
	wg.Wait()
	return nil
}

func serveSession(c net.Conn, banner, port string, emit func(string, ...any), log io.Writer, id string) {
	remote := c.RemoteAddr().String()
	emit("connect %s %s", port, remote)
	fmt.Fprintf(log, "guest %s: session from %s on port %s\n", id, remote, port)
	defer func() {
		c.Close()
		emit("disconnect %s %s", port, remote)
		fmt.Fprintf(log, "guest %s: session from %s on port %s ended\n", id, remote, port)
	}()
	if _, err := io.WriteString(c, banner); err != nil {
		return
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := fmt.Fprintf(c, "%s\n", sc.Text()); err != nil {
			return
		}
	}
}
