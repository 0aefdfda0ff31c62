package gateway

import (
	"errors"
	"testing"
)

func TestIPAccessAdmits(t *testing.T) {
	open := IPAccess{}
	if err := open.Admits("203.0.113.9:5000"); err != nil {
		t.Fatalf("no groups must allow all: %v", err)
	}
	acc := IPAccess{Groups: []string{"wsipg-1", "wsipg-2"}, Rules: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "not a rule"}}
	for remote, ok := range map[string]bool{
		"10.1.2.3:4000":        true,
		"192.0.2.7:1":          true,
		"192.0.2.8:1":          false,
		"[::ffff:10.9.9.9]:80": true, // an IPv4-mapped source matches IPv4 rules
		"[2001:db8::1]:443":    true,
		"[2001:db9::1]:443":    false,
		"127.0.0.1:9":          false,
		"127.0.0.1":            false,
		"no-address-here:1":    false,
		"10.0.0.1":             true,
	} {
		err := acc.Admits(remote)
		if ok != (err == nil) {
			t.Errorf("%s: admitted=%v, err %v", remote, err == nil, err)
		}
		if err != nil && !errors.Is(err, ErrDenied) {
			t.Errorf("%s: %v is not a refusal", remote, err)
		}
	}
	// Groups without any rule allow nobody.
	if err := (IPAccess{Groups: []string{"wsipg-empty"}}).Admits("10.0.0.1:1"); err == nil {
		t.Fatal("a group with no rules admitted a source")
	}
}
