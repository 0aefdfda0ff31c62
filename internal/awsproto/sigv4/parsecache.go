package sigv4

import (
	"strings"
	"sync/atomic"
	"time"
)

// A client signs request after request with the same credential scope,
// the same signed headers and, within a second, the same X-Amz-Date. The
// parse keeps the last of each that it found good and, when a request
// carries the same text, takes the result from it instead of parsing it
// again (a compare of the bytes against the checks and the cuts). The
// caches hold immutable values behind atomic pointers: a request that
// misses parses as before, and anything it does not accept is never kept,
// so every refusal (and its message) comes from the general path.
// TestParseCacheAsParse holds the two equal.

// scopeEntry is a credential that setCredential accepted, and its parts
// (substrings of cred).
type scopeEntry struct {
	cred, akid, date, region, service string
}

// headersEntry is a SignedHeaders value that setSignedHeaders accepted
// with required, and its names (read only: every parse that hits shares
// them).
type headersEntry struct {
	s, required string
	hs          []string
}

// dateEntry is an X-Amz-Date that setDate accepted, and its time.
type dateEntry struct {
	s string
	t time.Time
}

var (
	lastScope   atomic.Pointer[scopeEntry]
	lastHeaders atomic.Pointer[headersEntry]
	lastDate    atomic.Pointer[dateEntry]
	// parseCacheOff turns the caches off (tests: the general path).
	parseCacheOff atomic.Bool
)

// cachedCredential sets p's scope from the last accepted credential when
// cred is the same, and reports whether it did.
func (p *parsed) cachedCredential(cred string) bool {
	e := lastScope.Load()
	if e == nil || e.cred != cred || parseCacheOff.Load() {
		return false
	}
	p.AccessKeyID, p.scopeDate, p.Region, p.Service = e.akid, e.date, e.region, e.service
	return true
}

// keepCredential remembers p's scope, accepted from cred, in one string
// of its own (not the request's header, which it would keep alive).
func (p *parsed) keepCredential(cred string) {
	if parseCacheOff.Load() {
		return
	}
	c := strings.Clone(cred)
	a := len(p.AccessKeyID) + 1
	d := a + len(p.scopeDate) + 1
	r := d + len(p.Region) + 1
	lastScope.Store(&scopeEntry{cred: c, akid: c[:a-1], date: c[a : a+len(p.scopeDate)],
		region: c[d : d+len(p.Region)], service: c[r : r+len(p.Service)]})
}

// cachedSignedHeaders sets p's signed headers from the last accepted
// value when s and required are the same, and reports whether it did.
func (p *parsed) cachedSignedHeaders(s, required string) bool {
	e := lastHeaders.Load()
	if e == nil || e.s != s || e.required != required || parseCacheOff.Load() {
		return false
	}
	p.signedHeaders = e.hs
	return true
}

// keepSignedHeaders remembers p's signed headers, accepted from s with
// required, in a slice of their own.
func (p *parsed) keepSignedHeaders(s, required string) {
	if parseCacheOff.Load() {
		return
	}
	c := strings.Clone(s)
	hs := make([]string, 0, len(p.signedHeaders))
	off := 0
	for _, h := range p.signedHeaders {
		hs = append(hs, c[off:off+len(h)])
		off += len(h) + 1
	}
	lastHeaders.Store(&headersEntry{s: c, required: required, hs: hs})
}

// cachedDate sets p's date from the last accepted X-Amz-Date when s is
// the same, and reports whether it did.
func (p *parsed) cachedDate(s string) bool {
	e := lastDate.Load()
	if e == nil || e.s != s || parseCacheOff.Load() {
		return false
	}
	p.amzDate, p.SignedAt = e.s, e.t
	return true
}

// keepDate remembers p's date, accepted from s.
func (p *parsed) keepDate(s string) {
	if parseCacheOff.Load() {
		return
	}
	lastDate.Store(&dateEntry{s: strings.Clone(s), t: p.SignedAt})
}
