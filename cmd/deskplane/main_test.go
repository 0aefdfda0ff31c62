package main

import (
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
