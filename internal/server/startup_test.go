package server_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/deskplane/deskplane/internal/server"
	"github.com/deskplane/deskplane/internal/testserver"
)

// options returns test options on dir, changed by f.
func options(dir string, f func(*server.Options)) server.Options {
	o := server.Options{Listen: "127.0.0.1:0", DataDir: dir, Timing: "instant", Clock: "real",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if f != nil {
		f(&o)
	}
	return o
}

// newServer builds a server on dir with the options changed by f, closing
// it when the test ends if it started.
func newServer(t *testing.T, dir string, f func(*server.Options)) (*server.Server, error) {
	t.Helper()
	s, err := server.New(context.Background(), options(dir, f))
	if err == nil {
		t.Cleanup(func() { s.Shutdown(context.Background()) })
	}
	return s, err
}

func TestBadOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*server.Options)
		want string // in the error
	}{
		{"unknown timing", func(o *server.Options) { o.Timing = "slow" }, `unknown timing profile "slow" (want instant, fast or realistic)`},
		{"empty timing", func(o *server.Options) { o.Timing = "" }, `unknown timing profile ""`},
		{"timing in capitals", func(o *server.Options) { o.Timing = "FAST" }, `unknown timing profile "FAST"`},
		{"unknown clock", func(o *server.Options) { o.Clock = "wall" }, `unknown clock "wall" (want real or virtual)`},
		{"unknown store", func(o *server.Options) { o.Store = "mysql://db" }, `unknown store "mysql://db" (want sqlite, pebble or a postgres:// URL)`},
		{"unknown runtime", func(o *server.Options) { o.Runtime = "vm" }, `unknown runtime "vm" (want none, process or x11)`},
		{"negative runtime max", func(o *server.Options) { o.Runtime, o.RuntimeMax = "process", -1 }, "--runtime-max must not be negative"},
		{"missing config file", func(o *server.Options) { o.ConfigFile = "/nonexistent/deskplane.json" }, "/nonexistent/deskplane.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			s, err := newServer(t, dir, tc.set)
			if err == nil {
				t.Fatalf("started (%v), want an error with %q", s.Opts, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
			// Refused before touching the disk: no data dir left behind.
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a refused start left the data dir: %v", err)
			}
			// Options.Check refuses the same without a data dir (it does
			// not read the configuration file).
			err = options(dir, tc.set).Check()
			if tc.set != nil && tc.name != "missing config file" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Options.Check: %v, want %q", err, tc.want)
			}
		})
	}
	// Every valid pair starts.
	for _, timing := range []string{"instant", "fast", "realistic"} {
		for _, clk := range []string{"real", "virtual", ""} {
			if err := options("", func(o *server.Options) { o.Timing, o.Clock = timing, clk }).Check(); err != nil {
				t.Errorf("Check --timing %s --clock %q: %v", timing, clk, err)
			}
			if _, err := newServer(t, t.TempDir(), func(o *server.Options) { o.Timing, o.Clock = timing, clk }); err != nil {
				t.Errorf("--timing %s --clock %q: %v", timing, clk, err)
			}
		}
	}
}

// TestX11RuntimeRefusedWithoutPackages: --runtime x11 on a machine without
// Xvfb, x11vnc, openbox and xterm refuses to start and names the Debian
// packages.
func TestX11RuntimeRefusedWithoutPackages(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := filepath.Join(t.TempDir(), "data")
	_, err := newServer(t, dir, func(o *server.Options) { o.Runtime = "x11" })
	want := "--runtime x11: runtime x11 needs Xvfb, x11vnc, openbox, xterm, not found on PATH: install the Debian packages (apt-get install -y xvfb x11vnc openbox xterm)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start with --runtime x11 and no X programs: %v, want %q", err, want)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused start left the data dir: %v", err)
	}
}

func TestDataDirCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet", "there")
	s := testserver.Start(t, testserver.DataDir(dir))
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("data dir: %v", err)
	}
	for _, f := range []string{"pebble/deskplane", "admin-token"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil || strings.TrimSpace(string(tok)) != s.AdminToken || len(s.AdminToken) != 48 {
		t.Fatalf("admin-token file %q (%v), server's token %q", tok, err, s.AdminToken)
	}
	// The server answers on it.
	if _, err := iam.NewFromConfig(s.Admin()).ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
}

func TestSecondServerOnTheSameDirRefused(t *testing.T) {
	dir := t.TempDir()
	first := testserver.Start(t, testserver.DataDir(dir))
	_, err := newServer(t, dir, nil)
	if err == nil || !strings.Contains(err.Error(), "another deskplane serving this data dir") {
		t.Fatalf("a second server on the same data dir: %v", err)
	}
	// The refusal did not disturb the first server.
	if _, err := iam.NewFromConfig(first.Admin()).ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
		t.Fatalf("the first server after the refusal: %v", err)
	}
	// Once the first has stopped, the dir can be served again.
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := newServer(t, dir, nil); err != nil {
		t.Fatalf("after the first server stopped: %v", err)
	}
}

func TestRestartKeepsState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := testserver.Start(t, testserver.DataDir(dir), testserver.VirtualClock())
	c := iam.NewFromConfig(s.Admin())
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("survivor")}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	s.Advance(48 * time.Hour)
	advanced, token := s.Now(), s.AdminToken
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	s = testserver.Start(t, testserver.DataDir(dir), testserver.VirtualClock())
	if s.AdminToken != token {
		t.Errorf("admin token %q after restart, was %q", s.AdminToken, token)
	}
	if now := s.Now(); now.Before(advanced) {
		t.Errorf("virtual clock %s after restart, was advanced to %s", now, advanced)
	}
	u, err := iam.NewFromConfig(s.Admin()).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("survivor")})
	if err != nil {
		t.Fatalf("GetUser after restart: %v", err)
	}
	if got := aws.ToString(u.User.UserName); got != "survivor" {
		t.Fatalf("user %q after restart", got)
	}
	// The environment is seeded once: a second start adds no second copy
	// of the default users.
	list, err := iam.NewFromConfig(s.Admin()).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	seen := map[string]int{}
	for _, u := range list.Users {
		seen[aws.ToString(u.UserName)]++
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("user %s listed %d times", name, n)
		}
	}
}
