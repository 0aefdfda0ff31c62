package workspaces

import (
	"testing"
	"time"
)

func TestCheckIPRule(t *testing.T) {
	for rule, ok := range map[string]bool{
		"203.0.113.0/24": true, "198.51.100.7": true, "0.0.0.0/0": true, "10.0.0.1/32": true,
		"10.0.0.1/24": false, "2001:db8::/32": false, "::1": false, "300.1.1.0/24": false, "office": false, "": false,
	} {
		if got := checkIPRule(rule) == nil; got != ok {
			t.Errorf("checkIPRule(%q) ok=%v, want %v", rule, got, ok)
		}
	}
	if checkIPRules([]IPRule{{IPRule: "10.0.0.0/8"}, {IPRule: "10.0.0.0/8"}}) == nil {
		t.Error("a repeated rule was accepted")
	}
}

func TestConnState(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		state string
		rec   *connRec
		want  string
		last  bool
	}{
		{"AVAILABLE", nil, "DISCONNECTED", false},
		{"STOPPED", nil, "UNKNOWN", false},
		{"PENDING", nil, "UNKNOWN", false},
		{"AVAILABLE", &connRec{Connected: true, CheckedAt: at, LastConnected: at}, "CONNECTED", true},
		{"ADMIN_MAINTENANCE", &connRec{Connected: true, CheckedAt: at, LastConnected: at}, "DISCONNECTED", true},
		{"AVAILABLE", &connRec{Connected: false, CheckedAt: at, LastConnected: at}, "DISCONNECTED", true},
		{"STOPPED", &connRec{Connected: true, CheckedAt: at, LastConnected: at}, "UNKNOWN", true},
	}
	for _, c := range cases {
		it := connState(&desktopRec{WorkspaceID: "ws-012345678", State: c.state}, c.rec)
		if it.ConnectionState != c.want || (it.LastKnownUserConnectionTimestamp != nil) != c.last {
			t.Errorf("%s %+v: %+v, want %s (last known %v)", c.state, c.rec, it, c.want, c.last)
		}
	}
}

func TestOSFamilyMoves(t *testing.T) {
	w := &desktopRec{WorkspaceID: "ws-012345678", Properties: WorkspaceProperties{OperatingSystemName: strp("WINDOWS_10")}}
	if err := applyOSAndAccelerator(w, &WorkspaceProperties{OperatingSystemName: strp("WINDOWS_11")}); err != nil || *w.Properties.OperatingSystemName != "WINDOWS_11" {
		t.Fatalf("10 to 11: %v", err)
	}
	for _, to := range []string{"WINDOWS_SERVER_2022", "UBUNTU_22_04", "UNKNOWN"} {
		if err := applyOSAndAccelerator(w, &WorkspaceProperties{OperatingSystemName: strp(to)}); err == nil {
			t.Errorf("WINDOWS_11 to %s accepted", to)
		}
	}
}

func strp(s string) *string { return &s }
