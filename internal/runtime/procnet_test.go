package runtime

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// procNetForm writes an address as the kernel's tables do (native-endian
// 32-bit words), the inverse of parseProcNetAddr.
func procNetForm(ap netip.AddrPort, six bool) string {
	var b []byte
	if six {
		a := ap.Addr().As16()
		b = a[:]
	} else {
		a := ap.Addr().As4()
		b = a[:]
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(b[i:]))
	}
	return fmt.Sprintf("%s:%04X", sb.String(), ap.Port())
}

func TestParseProcNetAddr(t *testing.T) {
	for _, c := range []struct {
		in   netip.AddrPort
		six  bool
		want string
	}{
		{netip.MustParseAddrPort("127.9.8.7:5900"), false, "127.9.8.7:5900"},
		{netip.MustParseAddrPort("[::ffff:127.9.8.7]:5900"), true, "127.9.8.7:5900"},
		{netip.MustParseAddrPort("[::1]:40000"), true, "[::1]:40000"},
		{netip.MustParseAddrPort("[fd00::12]:3389"), true, "[fd00::12]:3389"},
	} {
		got, err := parseProcNetAddr(procNetForm(c.in, c.six))
		if err != nil || got.String() != c.want {
			t.Errorf("%s: %v %v, want %s", procNetForm(c.in, c.six), got, err, c.want)
		}
	}
	// On little-endian machines the kernel's own spelling of 127.0.0.1:5900.
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		if got, _ := parseProcNetAddr("0100007F:170C"); got.String() != "127.0.0.1:5900" {
			t.Errorf("0100007F:170C: %v", got)
		}
		if got, _ := parseProcNetAddr("0000000000000000FFFF00000100007F:170C"); got.String() != "127.0.0.1:5900" {
			t.Errorf("mapped: %v", got)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:XYZ", "0100:170C", "G100007F:170C"} {
		if _, err := parseProcNetAddr(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestEstablishedToReadsIPv4AndIPv6 finds, in the kernel's real tables,
// clients of a server listening on IPv4, on IPv6's ::1, and on a
// dual-stack socket reached over IPv4 (the server's end listed in tcp6 as
// ::ffff:127.0.0.1).
func TestEstablishedToReadsIPv4AndIPv6(t *testing.T) {
	for _, c := range []struct{ listen, dial string }{
		{"127.0.0.1:0", "127.0.0.1"},
		{"[::1]:0", "::1"},
		{"[::]:0", "127.0.0.1"},
	} {
		t.Run(c.listen, func(t *testing.T) {
			l, err := net.Listen("tcp", c.listen)
			if err != nil {
				t.Skipf("listen on %s: %v (no IPv6 here?)", c.listen, err)
			}
			defer l.Close()
			port := l.Addr().(*net.TCPAddr).Port
			cl, err := net.Dial("tcp", net.JoinHostPort(c.dial, fmt.Sprint(port)))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			sc, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			local := netip.AddrPortFrom(netip.MustParseAddr(c.dial), uint16(port))
			client := cl.LocalAddr().(*net.TCPAddr).AddrPort()
			client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
			var got map[netip.AddrPort]bool
			if !poll(5*time.Second, func() bool {
				got, err = establishedTo(local, procNetTCP...)
				return err == nil && got[client]
			}) {
				t.Fatalf("clients of %s: %v %v, want %s", local, got, err, client)
			}
			if only, _ := establishedTo(local, "/proc/net/tcp"); c.listen != "127.0.0.1:0" && only[client] {
				t.Fatalf("the IPv4 table alone listed an IPv6 socket's client")
			}
		})
	}
	if _, err := establishedTo(netip.MustParseAddrPort("127.0.0.1:1"), "/nonexistent/tcp"); err == nil {
		t.Fatal("no readable table and no error")
	}
}
