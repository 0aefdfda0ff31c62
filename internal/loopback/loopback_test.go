package loopback

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestPreferredKeepsTheLastThreeOctets(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.1.4":     "127.0.1.4",
		"172.16.5.9":   "127.16.5.9",
		"192.168.1.20": "127.168.1.20",
	} {
		got, err := Preferred(netip.MustParseAddr(in))
		if err != nil || got.String() != want {
			t.Errorf("Preferred(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := Preferred(netip.MustParseAddr("fd00::1")); err == nil {
		t.Error("an IPv6 address was mapped")
	}
}

func TestAllocatorResolvesCollisions(t *testing.T) {
	a := NewAllocator()
	ip := netip.MustParseAddr("10.0.1.4")
	first, err := a.Assign("ws-a", ip)
	if err != nil || first.String() != "127.0.1.4" {
		t.Fatalf("first = %v, %v", first, err)
	}
	if again, _ := a.Assign("ws-a", ip); again != first {
		t.Fatalf("the same owner got a second address %v", again)
	}
	second, err := a.Assign("ws-b", ip)
	if err != nil || second.String() != "127.255.255.254" {
		t.Fatalf("colliding owner got %v, %v", second, err)
	}
	third, _ := a.Assign("ws-c", netip.MustParseAddr("10.0.0.7")) // 127.0.0.x is never handed out
	if third.String() != "127.255.255.253" {
		t.Fatalf("reserved range gave %v", third)
	}
	a.Release("ws-a")
	if got, _ := a.Assign("ws-d", ip); got != first {
		t.Fatalf("released address not reused: %v", got)
	}
	if got, ok := a.Lookup("ws-b"); !ok || got != second {
		t.Fatalf("Lookup = %v, %v", got, ok)
	}
}

func TestTheAddressIsListenable(t *testing.T) {
	addr, err := NewAllocator().Assign("ws", netip.MustParseAddr("10.9.8.7"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	l.Close()
}

func TestAssignFreeSkipsAddressesInUseElsewhere(t *testing.T) {
	a := NewAllocator()
	busy := netip.MustParseAddr("127.0.1.4")
	got, err := a.AssignFree("ws-a", netip.MustParseAddr("10.0.1.4"), func(c netip.Addr) bool { return c != busy })
	if err != nil || got.String() != "127.255.255.254" {
		t.Fatalf("AssignFree with the preferred address busy = %v, %v", got, err)
	}
	if again, _ := a.AssignFree("ws-a", netip.MustParseAddr("10.0.1.4"), func(netip.Addr) bool { return false }); again != got {
		t.Fatalf("an owner's address changed: %v", again)
	}
}

// TestClaimAcrossAllocators: two allocators claiming in one directory (two
// processes on one machine) never hold the same address, and an address
// released by one, or by a closed allocator, is the other's to take.
func TestClaimAcrossAllocators(t *testing.T) {
	dir := t.TempDir()
	a, b := NewAllocator(), NewAllocator()
	for _, al := range []*Allocator{a, b} {
		if err := al.ClaimAcross(dir); err != nil {
			t.Fatal(err)
		}
	}
	vpc := netip.MustParseAddr("10.0.1.4")
	want := netip.MustParseAddr("127.0.1.4")
	got, err := a.AssignFree("ws-a", vpc, nil)
	if err != nil || got != want {
		t.Fatalf("first allocator: %v %v, want %v", got, err, want)
	}
	other, err := b.AssignFree("ws-b", vpc, nil)
	if err != nil || other == want {
		t.Fatalf("second allocator: %v %v, want an address other than %v", other, err, want)
	}
	a.Release("ws-a")
	if got, err := b.AssignFree("ws-c", vpc, nil); err != nil || got != want {
		t.Fatalf("after release: %v %v, want %v", got, err, want)
	}
	b.Close()
	if got, err := a.AssignFree("ws-d", netip.MustParseAddr("10.0.1.4"), nil); err != nil || got != want {
		t.Fatalf("after the other closed: %v %v, want %v", got, err, want)
	}
	// Without ClaimAcross an allocator claims nothing outside itself.
	if got, err := NewAllocator().AssignFree("ws-e", vpc, nil); err != nil || got != want {
		t.Fatalf("unclaimed allocator: %v %v, want %v", got, err, want)
	}
}

// TestClaimDirGoneFallsBackToUnclaimed: when the claim directory cannot be
// used any more, addresses are handed out as without ClaimAcross rather
// than every one being refused.
func TestClaimDirGoneFallsBackToUnclaimed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "claims")
	a := NewAllocator()
	if err := a.ClaimAcross(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddr("127.0.1.4")
	if got, err := a.AssignFree("ws-a", netip.MustParseAddr("10.0.1.4"), nil); err != nil || got != want {
		t.Fatalf("with the claim directory gone: %v %v, want %v", got, err, want)
	}
}
