package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/config"
)

func TestExposureWarning(t *testing.T) {
	own := &config.Config{Accounts: []config.Account{{ID: "111122223333", Users: []config.User{{Name: "ops",
		AccessKeys: []config.AccessKey{{ID: "AKIAOWNKEY0000000001", Secret: "own"}}}}}}}
	for _, tc := range []struct {
		addr string
		cfg  *config.Config
		warn bool
	}{
		{"0.0.0.0:4599", config.Default(), true},
		{"[::]:4599", config.Default(), true},
		{"192.0.2.10:4599", config.Default(), true},
		{"127.0.0.1:4599", config.Default(), false},
		{"[::1]:4599", config.Default(), false},
		{"localhost:4599", config.Default(), false},
		{"0.0.0.0:4599", own, false},
	} {
		w := exposureWarning(tc.addr, tc.cfg)
		if (w != "") != tc.warn {
			t.Errorf("%s: warning %q, want one: %v", tc.addr, w, tc.warn)
		}
		if tc.warn && !strings.Contains(w, "published") {
			t.Errorf("%s: the warning does not say the credentials are published: %s", tc.addr, w)
		}
	}
}

func TestDescribeBuild(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/deskplane/deskplane", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := describeBuild(bi)
	want := "deskplane v1.2.3 (revision 0123abcd, 2026-12-01T10:00:00Z, modified) go1.26.0"
	if got != want {
		t.Fatalf("describeBuild = %q, want %q", got, want)
	}
	bi.Settings = nil
	if got := describeBuild(bi); !strings.Contains(got, "no VCS revision") {
		t.Fatalf("without VCS settings: %q", got)
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"config", "-h"}, {"help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Errorf("deskplane %v exited %d: %s", args, code, errb.String())
		}
	}
}

func TestConfigCheck(t *testing.T) {
	var out, errb bytes.Buffer
	if code := configMain([]string{"check", "-"}, bytes.NewReader(config.Example), &out, &errb); code != 0 {
		t.Fatalf("the example does not check: %d %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := configMain([]string{"check", "-"}, strings.NewReader("{\n \"acounts\": []}"), &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), `config -:2: unknown key "acounts"`) {
		t.Fatalf("a misspelled key: exit %d, %q", code, errb.String())
	}
}

func TestServeRefusesBadTimingAndClock(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--timing", "slow"}, `deskplane serve: unknown timing profile "slow" (want instant, fast or realistic)`},
		{[]string{"--clock", "wall"}, `deskplane serve: unknown clock "wall" (want real or virtual)`},
		{[]string{"--timing", "fast", "--clock", "frozen"}, `deskplane serve: unknown clock "frozen"`},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "data")}, tc.args...)
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("deskplane %v exited 0", args)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("deskplane %v: stderr %q, want %q", args, errb.String(), tc.want)
		}
	}
}

// A serve that is going to refuse its options must not wipe the data dir
// first: --reset only takes effect for a start that can go ahead.
func TestResetWithBadOptionsKeepsState(t *testing.T) {
	for _, bad := range [][]string{{"--timing", "slow"}, {"--clock", "wall"}} {
		dir := t.TempDir()
		state := filepath.Join(dir, "deskplane.db")
		if err := os.WriteFile(state, []byte("state"), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		args := append([]string{"serve", "--reset", "--listen", "127.0.0.1:0", "--data-dir", dir}, bad...)
		if code := run(args, &out, &errb); code == 0 {
			t.Fatalf("deskplane %v exited 0", args)
		}
		if _, err := os.Stat(state); err != nil {
			t.Errorf("deskplane %v (refused: %s) wiped the data dir: %v", args, strings.TrimSpace(errb.String()), err)
		}
	}
}
