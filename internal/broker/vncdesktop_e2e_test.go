package broker

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/testserver"
)

// vncPrograms are what a real VNC desktop needs (Debian: xvfb, openbox,
// xterm, x11vnc).
var vncPrograms = []string{"Xvfb", "openbox", "xterm", "x11vnc"}

// requirePrograms skips the test when a program is missing, or fails it in
// CI (CI=true), where scripts/test.sh installs them.
func requirePrograms(t *testing.T, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing %s (apt-get install -y xvfb openbox xterm x11vnc novnc chromium)", strings.Join(missing, ", "))
	}
	t.Skipf("missing %s", strings.Join(missing, ", "))
}

// startVNCDesktop runs a real X desktop that answers VNC at addr (host:port):
// Xvfb (1280x800 like the x11 runtime's, a free display), openbox, an xterm titled title (white
// background, black text) and x11vnc listening on addr without a password.
// It returns once the VNC server greets, and kills everything it started at
// cleanup.
func startVNCDesktop(t *testing.T, addr, title string) {
	t.Helper()
	requirePrograms(t, vncPrograms...)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	start := func(env []string, name string, args ...string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd
	}
	run := func(cmd *exec.Cmd) {
		t.Helper()
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", cmd.Path, err)
		}
		t.Cleanup(func() {
			// The process group: everything this program started.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		})
	}
	// Xvfb picks a free display and writes its number to fd 3.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	xvfb := start(nil, "Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	xvfb.ExtraFiles = []*os.File{pw}
	run(xvfb)
	pw.Close()
	num := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		pr.Close()
		num <- strings.TrimSpace(line)
	}()
	var display string
	select {
	case n := <-num:
		if n == "" {
			t.Fatal("Xvfb did not report its display")
		}
		display = ":" + n
	case <-time.After(30 * time.Second):
		t.Fatal("Xvfb did not start in 30s")
	}
	env := []string{"DISPLAY=" + display}
	run(start(env, "openbox", "--sm-disable"))
	run(start(env, "xterm", "-T", title, "-bg", "white", "-fg", "black", "-geometry", "80x24+40+40",
		"-e", "sh", "-c", "echo deskplane desktop "+title+"; exec cat"))
	run(start(env, "x11vnc", "-display", display, "-listen", host, "-rfbport", port, "-nopw", "-forever", "-shared", "-noipv6", "-quiet"))
	testserver.Eventually(t, 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 12)
		_, err = io.ReadFull(c, buf)
		return err == nil && strings.HasPrefix(string(buf), "RFB ")
	}, "x11vnc greets at %s", addr)
}
