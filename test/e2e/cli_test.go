package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeProcessHygiene runs the binary as the README says to run it in
// the background: serve writes its pid to DATA_DIR/deskplane.pid, and a
// SIGTERM to that pid stops it cleanly with one line on stdout, exit status
// 0, and the pid file removed.
func TestServeProcessHygiene(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(binary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--timing", "instant")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			sc := bufio.NewScanner(stdout)
			for sc.Scan() && !strings.Contains(sc.Text(), "listening on") {
			}
			pidFile := filepath.Join(dir, "deskplane.pid")
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("no pid file once listening: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid != cmd.Process.Pid {
				t.Fatalf("pid file holds %q, the process is %d", b, cmd.Process.Pid)
			}
			if err := syscall.Kill(pid, sig); err != nil {
				t.Fatal(err)
			}
			var rest []string
			for sc.Scan() {
				rest = append(rest, sc.Text())
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve exited with %v after %s; stderr:\n%s", err, sig, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("serve did not stop on %s", sig)
			}
			var stops []string
			for _, l := range rest {
				if strings.Contains(l, "stopped") {
					stops = append(stops, l)
				}
			}
			if len(stops) != 1 {
				t.Fatalf("want one line saying serve stopped, got stdout after start %q", rest)
			}
			if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
				t.Fatalf("pid file left behind: %v", err)
			}
		})
	}
}

// TestCLISubcommands runs version, serve --help and config through the
// binary.
func TestCLISubcommands(t *testing.T) {
	bin := binary(t)
	run := func(stdin string, args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := run("", "version"); code != 0 || !strings.HasPrefix(out, "deskplane ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %d %q", code, out)
	}
	for _, h := range []string{"--help", "-h"} {
		if out, code := run("", "serve", h); code != 0 || !strings.Contains(out, "-log-format") {
			t.Errorf("serve %s: exit %d %q", h, code, out)
		}
	}
	example, code := run("", "config", "example")
	if code != 0 {
		t.Fatalf("config example: %d %s", code, example)
	}
	if out, code := run(example, "config", "check", "-"); code != 0 {
		t.Fatalf("config example | config check -: %d %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{\n  \"acounts\": [{\"id\": \"111122223333\"}]\n}\n"), 0o600)
	if out, code := run("", "config", "check", bad); code == 0 || !strings.Contains(out, bad+":2:") || !strings.Contains(out, `unknown key "acounts"`) {
		t.Errorf("config check of a misspelled key: %d %q", code, out)
	}
	// serve refuses it too, naming the key and line.
	if out, code := run("", "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--config", bad); code == 0 || !strings.Contains(out, `unknown key "acounts"`) {
		t.Errorf("serve with a misspelled key: %d %q", code, out)
	}
}
