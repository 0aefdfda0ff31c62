package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// versionString describes the running binary (see describeBuild).
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "deskplane " + version
	}
	return describeBuild(bi)
}

// describeBuild describes a binary from its build information: the module
// version, and the VCS revision, commit time and modified flag that go build
// stamps in (absent when built outside a repository or with
// -buildvcs=false).
func describeBuild(bi *debug.BuildInfo) string {
	v := version
	if v == "dev" && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deskplane %s", v)
	if rev != "" {
		fmt.Fprintf(&b, " (revision %s", rev)
		if at != "" {
			fmt.Fprintf(&b, ", %s", at)
		}
		if modified == "true" {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	} else {
		b.WriteString(" (no VCS revision: built outside a repository or with -buildvcs=false)")
	}
	if bi.GoVersion != "" {
		fmt.Fprintf(&b, " %s", bi.GoVersion)
	}
	return b.String()
}
