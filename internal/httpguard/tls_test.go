package httpguard

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The generated authority is kept across starts; the server certificate is
// made again only when the names change or it nears expiry.
func TestAutoCertReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, _, _, err := AutoCert(dir, []string{"0.0.0.0", "desk.example"}, now); err != nil {
		t.Fatal(err)
	}
	ca, cert := read("ca.pem"), read("cert.pem")
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %04o", fi.Mode().Perm())
	}
	if _, _, _, err := AutoCert(dir, []string{"desk.example"}, now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, read("ca.pem")) || !bytes.Equal(cert, read("cert.pem")) {
		t.Fatal("same names: the certificate was made again")
	}
	if _, _, _, err := AutoCert(dir, []string{"other.example"}, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, read("ca.pem")) || bytes.Equal(cert, read("cert.pem")) {
		t.Fatal("new names: want a new certificate from the same authority")
	}
	cert = read("cert.pem")
	if _, _, _, err := AutoCert(dir, []string{"other.example"}, now.Add(380*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, read("ca.pem")) || bytes.Equal(cert, read("cert.pem")) {
		t.Fatal("near expiry: want a new certificate from the same authority")
	}
	tl, err := TLSOptions{Auto: true, Dir: dir, Hosts: []string{"other.example"}}.Load(now.Add(380 * 24 * time.Hour))
	if err != nil || tl.CAFile != filepath.Join(dir, "ca.pem") {
		t.Fatalf("load: %v %+v", err, tl)
	}
	if _, err := (TLSOptions{CertFile: filepath.Join(dir, "cert.pem")}).Load(now); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
}

func TestHostsAndLoopback(t *testing.T) {
	h := NewHosts("desk.internal:4599", []string{"Extra.Example."})
	for host, want := range map[string]bool{
		"desk.internal:4599": true, "extra.example": true, "EXTRA.EXAMPLE:1": true, "[::1]:4599": true,
		"10.0.0.1": true, "a.localhost": true, "evil.example": false, "desk.internal.evil.example": false,
		"[::ffff:10.0.0.1]:80": true, "[fe80::1%25eth0]:80": false, "fe80::1%eth0": false, "010.0.0.1": false,
	} {
		if got := h.Allowed(host); got != want {
			t.Errorf("Allowed(%q) = %v", host, got)
		}
	}
	// The same answers again, in another order and each twice: the last
	// name allowed is remembered, and a refused one is never.
	names := []string{"evil.example", "desk.internal:4599", "desk.internal:4599", "evil.example", "evil.example",
		"10.0.0.1", "desk.internal.evil.example", "desk.internal.evil.example", "a.localhost", "010.0.0.1", "010.0.0.1"}
	for _, host := range names {
		if got, want := h.Allowed(host), h.allowed(host); got != want {
			t.Errorf("after the others, Allowed(%q) = %v, want %v", host, got, want)
		}
	}
	if !NewHosts("0.0.0.0:1", []string{"*"}).Allowed("anything.example") {
		t.Error(`"*" does not allow any name`)
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "0.0.0.0:1": false, ":1": false, "[::]:1": false, "192.0.2.1:1": false} {
		if Loopback(addr) != want {
			t.Errorf("Loopback(%q) != %v", addr, want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	h := NewHosts("desk.internal:4599", []string{"console.example"})
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"", "127.0.0.1:4599", true},
		{"http://127.0.0.1:8080", "127.0.0.1:4599", true},
		{"http://[::1]:3000", "127.0.0.1:4599", true},
		{"http://localhost:3000", "127.0.0.1:4599", true},
		{"https://app.localhost", "127.0.0.1:4599", true},
		{"https://console.example", "127.0.0.1:4599", true},
		{"http://desk.internal:4599", "desk.internal:4599", true},
		{"http://10.9.8.7:4599", "10.9.8.7:4599", true}, // the server's own page
		{"http://203.0.113.5", "127.0.0.1:4599", false},
		{"http://evil.example", "127.0.0.1:4599", false},
		{"null", "127.0.0.1:4599", false},
		{"file://", "127.0.0.1:4599", false},
	} {
		if got := h.OriginAllowed(c.origin, c.host); got != c.want {
			t.Errorf("OriginAllowed(%q, %q) = %v, want %v", c.origin, c.host, got, c.want)
		}
	}
}

// BenchmarkHostsAllowed is a request's Host check: the full check
// (allowed) and Allowed, which remembers the last name allowed.
func BenchmarkHostsAllowed(b *testing.B) {
	h := NewHosts("127.0.0.1:4599", nil)
	for _, bc := range []struct {
		name string
		f    func(string) bool
	}{{"full", h.allowed}, {"Allowed", h.Allowed}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if !bc.f("127.0.0.1:4599") {
					b.Fatal("refused")
				}
			}
		})
	}
}
