package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/config"
)

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
