// Package loopback maps the private addresses of simulated resources (a
// desktop's VPC address, a directory's DNS addresses) to addresses in
// 127.0.0.0/8, where this machine can actually listen on them: on Linux the
// whole range is routed to the loopback interface, so every desktop and every
// directory can have an address of its own, on its protocols' real port
// numbers.
//
// The rule: an IPv4 address a.b.c.d maps to 127.b.c.d — it keeps its last
// three octets, whatever private range it is in (10.0.1.4 → 127.0.1.4,
// 172.16.5.9 → 127.16.5.9, 192.168.1.20 → 127.168.1.20). Addresses in
// 127.0.0.0/24 (where servers usually listen) and those ending in .0 or .255
// are never handed out. When the preferred address is unusable or already held
// by another owner (two accounts may use the same VPC range) or, with
// AssignFree, by another program on this machine (or, with ClaimAcross,
// claimed by another deskplane process), the Allocator gives the
// first free address counting down from 127.255.255.254.
package loopback

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Preferred returns the loopback address a private IPv4 address maps to
// before collisions are considered.
func Preferred(ip netip.Addr) (netip.Addr, error) {
	ip = ip.Unmap()
	if !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("loopback: %s is not an IPv4 address", ip)
	}
	b := ip.As4()
	return netip.AddrFrom4([4]byte{127, b[1], b[2], b[3]}), nil
}

// usable reports whether a loopback address may be handed to an owner.
func usable(a netip.Addr) bool {
	b := a.As4()
	if b[0] != 127 || (b[1] == 0 && b[2] == 0) {
		return false
	}
	return b[3] != 0 && b[3] != 255
}

// Allocator hands out loopback addresses to owners (desktop ids, directory
// ids) by the package's rule, resolving collisions. It is safe for
// concurrent use.
type Allocator struct {
	mu       sync.Mutex
	byAddr   map[netip.Addr]string
	byOwner  map[string]netip.Addr
	claimDir string                  // "" claims nothing outside the process
	claims   map[netip.Addr]*os.File // the locked claim file of each held address
}

// NewAllocator returns an empty allocator.
func NewAllocator() *Allocator {
	return &Allocator{byAddr: map[netip.Addr]string{}, byOwner: map[string]netip.Addr{}, claims: map[netip.Addr]*os.File{}}
}

// MachineClaimDir is the directory where the allocators of this user's
// deskplane processes claim addresses (see ClaimAcross).
func MachineClaimDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("deskplane-loopback-%d", os.Getuid()))
}

// ClaimAcross makes the addresses this allocator holds exclusive among the
// processes whose allocators claim in the same directory: holding an
// address takes an exclusive lock on a file named for it there, which the
// kernel drops when the address is released or the process dies. Probing
// a port only shows a program already listening; a guest that is still
// starting has not bound its ports yet, so two servers on one machine (two
// test packages, a test and a developer's server) would otherwise hand it
// out twice.
func (a *Allocator) ClaimAcross(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("loopback: the claim directory: %w", err)
	}
	a.mu.Lock()
	a.claimDir = dir
	a.mu.Unlock()
	return nil
}

// claim locks c's claim file; false when another holder has it. When the
// file cannot be opened or locked for another reason (no descriptors left,
// the directory gone), c is taken unclaimed, as without ClaimAcross,
// rather than every address being refused in turn.
func (a *Allocator) claim(c netip.Addr) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(a.claimDir, c.String()+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, !errors.Is(err, syscall.EWOULDBLOCK)
	}
	return f, true
}

// Assign returns owner's loopback address for the private address ip: the
// address it already holds, else the preferred one if free, else the first
// free address counting down from 127.255.255.254.
func (a *Allocator) Assign(owner string, ip netip.Addr) (netip.Addr, error) {
	return a.AssignFree(owner, ip, nil)
}

// AssignFree is Assign skipping the addresses free reports as taken by
// something outside this allocator (another program listening on the
// ports the owner needs there); nil free skips none.
func (a *Allocator) AssignFree(owner string, ip netip.Addr, free func(netip.Addr) bool) (netip.Addr, error) {
	pref, err := Preferred(ip)
	if err != nil {
		return netip.Addr{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if have, ok := a.byOwner[owner]; ok {
		return have, nil
	}
	ok := func(c netip.Addr) bool {
		if _, taken := a.byAddr[c]; taken || !usable(c) {
			return false
		}
		var f *os.File
		if a.claimDir != "" {
			var claimed bool
			if f, claimed = a.claim(c); !claimed {
				return false
			}
		}
		if free != nil && !free(c) {
			if f != nil {
				f.Close()
			}
			return false
		}
		if f != nil {
			a.claims[c] = f
		}
		return true
	}
	if ok(pref) {
		a.hold(owner, pref)
		return pref, nil
	}
	for n := uint32(0xFFFFFE); n > 0x00FFFF; n-- {
		c := netip.AddrFrom4([4]byte{127, byte(n >> 16), byte(n >> 8), byte(n)})
		if ok(c) {
			a.hold(owner, c)
			return c, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("loopback: no free address for %s", owner)
}

func (a *Allocator) hold(owner string, addr netip.Addr) {
	a.byAddr[addr] = owner
	a.byOwner[owner] = addr
}

// Lookup returns the address owner holds.
func (a *Allocator) Lookup(owner string) (netip.Addr, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	addr, ok := a.byOwner[owner]
	return addr, ok
}

// Release frees owner's address.
func (a *Allocator) Release(owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if addr, ok := a.byOwner[owner]; ok {
		delete(a.byOwner, owner)
		delete(a.byAddr, addr)
		if f := a.claims[addr]; f != nil {
			f.Close() // drops the lock; the file stays, so no other holder's lock is on a removed name
			delete(a.claims, addr)
		}
	}
}

// Close releases every address's claim outside the process, for a server
// that is done with its addresses (its guests and LDAP listeners closed).
func (a *Allocator) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for addr, f := range a.claims {
		f.Close()
		delete(a.claims, addr)
	}
}
