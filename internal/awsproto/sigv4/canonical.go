package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"hash/maphash"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The expected signature of a request signed with an Authorization header
// is computed here, without the SDK signer: the canonical request is
// written into a reused buffer exactly as aws-sdk-go-v2's v4 signer writes
// it for the request rebuild makes (same URI escaping, query encoding,
// header order, value trimming and Host handling), and the day's signing
// key comes from a cache. The SDK signer stays the reference:
// TestCanonicalAgreesWithSDK and FuzzCanonicalAgreesWithSDK hold the two
// byte-equal in their signatures over random requests, and presigned URLs
// (rare, and with the SDK's query hoisting rules) are still verified by it.

// canonBuf holds a canonical request and its string to sign while they are
// written; pooled so that a verification allocates neither.
type canonBuf struct {
	b   []byte
	sts []byte
	h   sha256State // the HMAC's hash (nil until first used)
	sum [32]byte    // the HMAC's inner hash
}

var canonPool = sync.Pool{New: func() any { return &canonBuf{b: make([]byte, 0, 1024), sts: make([]byte, 0, 256)} }}

// headerSignature computes the signature the SDK signer would put in the
// Authorization header of the request rebuilt from r (see rebuild), with
// secret, in constant time compared by the caller. Errors are those rebuild
// returns.
func headerSignature(r *http.Request, p *parsed, payload *payloadSum, secret string) ([32]byte, *Error) {
	cb := canonPool.Get().(*canonBuf)
	defer func() {
		if cap(cb.b) <= 64<<10 {
			canonPool.Put(cb)
		}
	}()
	b := cb.b[:0]
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	b = append(b, method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, r.URL)
	b = append(b, '\n')
	if r.URL != nil {
		b = appendCanonicalQuery(b, r.URL.RawQuery)
	}
	b = append(b, '\n')
	var perr *Error
	if b, perr = appendCanonicalHeaders(b, r, p); perr != nil {
		cb.b = b
		return [32]byte{}, perr
	}
	b = append(b, '\n')
	for i, h := range p.signedHeaders {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	b = payload.appendTo(b)
	cb.b = b
	crHash := sha256.Sum256(b)

	at := p.SignedAt.UTC()
	s := cb.sts[:0]
	s = append(s, Algorithm...)
	s = append(s, '\n')
	s = appendAmzDate(s, p)
	s = append(s, '\n')
	s = append(s, p.amzDate[:len(scopeDateLayout)]...)
	s = append(s, '/')
	s = append(s, p.Region...)
	s = append(s, '/')
	s = append(s, p.Service...)
	s = append(s, "/"+scopeTerminator+"\n"...)
	s = hex.AppendEncode(s, crHash[:])
	cb.sts = s

	ke := signingKeys.entry(p.AccessKeyID, secret, at, p.Region, p.Service)
	// HMAC-SHA256(key, s): SHA-256 goes on from the states the key's
	// padded blocks leave (kept with the key), not from the blocks.
	h := cb.hmacHash()
	h.UnmarshalBinary(ke.inner[:])
	h.Write(s)
	inner := h.Sum(cb.sum[:0])
	h.UnmarshalBinary(ke.outer[:])
	h.Write(inner)
	// The sums go to the pooled buffer: a slice of a local array handed
	// to the interface's Sum would move the array to the heap.
	return [32]byte(h.Sum(cb.sum[:0])), nil
}

// sha256State is a SHA-256 hash whose state can be saved and restored.
type sha256State interface {
	hash.Hash
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// hmacHash returns the buffer's SHA-256 hash (made on first use).
func (cb *canonBuf) hmacHash() sha256State {
	if cb.h == nil {
		cb.h = sha256.New().(sha256State)
	}
	return cb.h
}

// padState returns the state of SHA-256 after HMAC's 64-byte block of key
// XORed with pad.
func padState(key *[32]byte, pad byte) (st [sha256StateLen]byte) {
	h := sha256.New().(sha256State)
	h.Write(appendPad(nil, key, pad))
	b, err := h.MarshalBinary()
	if err != nil || len(b) != sha256StateLen {
		panic("sigv4: SHA-256's saved state is not what it was")
	}
	copy(st[:], b)
	return st
}

// sha256StateLen is the length of a saved SHA-256 state (crypto/sha256's
// MarshalBinary: a magic of 4 bytes, the 8 words, a block, the length).
const sha256StateLen = 4 + 32 + 64 + 8

// appendAmzDate appends the request's X-Amz-Date as SignedAt formats in
// amzDateLayout: the header's own text (setDate accepts only what formats
// back to itself).
func appendAmzDate(b []byte, p *parsed) []byte {
	return append(b, p.amzDate...)
}

// appendPad appends HMAC's 64-byte block of key XORed with pad.
func appendPad(b []byte, key *[32]byte, pad byte) []byte {
	for _, c := range key {
		b = append(b, c^pad)
	}
	for range 64 - len(key) {
		b = append(b, pad)
	}
	return b
}

// appendCanonicalURI appends the canonical URI as the SDK signer writes it
// for a URL holding only u's Path and RawPath: the escaped path ("/" when
// empty), escaped again but for '/' (httpbinding.EscapePath).
func appendCanonicalURI(b []byte, u *url.URL) []byte {
	if u == nil || (u.RawPath == "" && (u.Path == "" || u.Path == "/")) {
		return append(b, '/')
	}
	p := (&url.URL{Path: u.Path, RawPath: u.RawPath}).EscapedPath()
	if p == "" {
		return append(b, '/')
	}
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved(c) || c == '/' {
			b = append(b, c)
		} else {
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return b
}

// unreserved reports whether c is an RFC 3986 unreserved character.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// appendCanonicalQuery appends the canonical query string as the SDK signer
// writes it (the parameters url.URL.Query keeps, each name and value
// encoded, sorted by encoded name then value).
func appendCanonicalQuery(b []byte, rawQuery string) []byte {
	if rawQuery == "" {
		return b
	}
	q, _ := url.ParseQuery(rawQuery)
	type param struct{ k, v string }
	ps := make([]param, 0, len(q))
	for k, vs := range q {
		ek := encodeQueryComponent(k)
		for _, v := range vs {
			ps = append(ps, param{ek, encodeQueryComponent(v)})
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	for i, p := range ps {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return b
}

// encodeQueryComponent is url.QueryEscape with a space as %20.
func encodeQueryComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// appendCanonicalHeaders appends the canonical headers (each line ending in
// a newline) of the headers named in SignedHeaders, with the values the
// request rebuilt by rebuild gives the SDK signer: Host from r.Host,
// Content-Length from the request's length, X-Amz-Date from the signing
// time, Transfer-Encoding from r.TransferEncoding, every other one from
// r.Header. It fails as rebuild does.
func appendCanonicalHeaders(b []byte, r *http.Request, p *parsed) ([]byte, *Error) {
	for _, h := range p.signedHeaders {
		b = append(b, h...)
		b = append(b, ':')
		switch h {
		case "host":
			// The SDK signer takes it from req.Host; with no scheme in the
			// URL its default-port rule never applies.
			b = appendTrimmed(b, r.Host, false)
			b = append(b, '\n')
			continue
		case "x-amz-date":
			b = appendAmzDate(b, p)
			b = append(b, '\n')
			continue
		case "content-length":
			n, ok := contentLength(r)
			if !ok || n == 0 {
				return b, newError(KindMismatch, msgMismatch)
			}
			b = strconv.AppendInt(b, n, 10)
			b = append(b, '\n')
			continue
		case "transfer-encoding":
			if len(r.TransferEncoding) > 0 {
				b = appendTrimmed(b, strings.Join(r.TransferEncoding, ","), true)
				b = append(b, '\n')
				continue
			}
		}
		vs := headerValues(r.Header, h)
		if len(vs) == 0 {
			return b, newError(KindMismatch, msgMismatch)
		}
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTrimmed(b, v, true)
		}
		b = append(b, '\n')
	}
	return b, nil
}

// headerValues is h.Values(name) for a signed header's name (a lowercase
// HTTP token, see validHeaderName), its canonical form spelled in a stack
// buffer: Values would allocate it for every name outside net/textproto's
// table of common headers (x-amz-target, amz-sdk-invocation-id, ...), on
// every request.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) > len(buf) {
		return h.Values(name)
	}
	k := buf[:len(name)]
	upper := true
	for i := range len(name) {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		k[i] = c
		upper = c == '-'
	}
	return h[string(k)]
}

// appendTrimmed appends v as the SDK signer writes a header value: leading
// and trailing spaces dropped, each run of spaces made one
// (StripExcessSpaces), then, when trim is set, strings.TrimSpace.
func appendTrimmed(b []byte, v string, trim bool) []byte {
	j := len(v) - 1
	for j >= 0 && v[j] == ' ' {
		j--
	}
	k := 0
	for k < j && v[k] == ' ' {
		k++
	}
	v = v[k : j+1]
	if strings.Contains(v, "  ") {
		start := len(b)
		space := false
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c == ' ' {
				if space {
					continue
				}
				space = true
			} else {
				space = false
			}
			b = append(b, c)
		}
		if !trim {
			return b
		}
		t := strings.TrimSpace(string(b[start:]))
		return append(b[:start], t...)
	}
	if trim {
		v = strings.TrimSpace(v)
	}
	return append(b, v...)
}

// keyCache holds the day's signing key per access key, date, region and
// service. The secret itself is not retained: an entry is found by the
// access key id and the scope, and holds a hash of the secret it was
// derived from (hash/maphash, seeded at random when the process starts:
// nothing outside the process can compute it), so a rotated secret derives
// a new key. The hash is a map's hash, not SHA-256 (which cost a block
// per request): a new secret of the same access key whose 64-bit hash
// equals the old one's is as likely as a random guess of the hash.
type keyCache struct {
	mu sync.RWMutex
	m  map[string]*keyEntry // by keyID's bytes (an entry is never changed)
	// last is the entry entry last returned: a run of requests signed
	// with one key, on one day, finds it by a compare of its scope's
	// strings (the parse's cached ones) without building the name and
	// looking it up.
	last atomic.Pointer[keyEntry]
}

type keyEntry struct {
	secretSum uint64
	// The scope the key was derived for.
	akid, region, service string
	date                  uint32 // y*10000+mo*100+d
	key                   [32]byte
	// SHA-256's states after HMAC's inner and outer padded blocks of key:
	// an HMAC with the key goes on from them (two blocks fewer per HMAC).
	inner, outer [sha256StateLen]byte
}

// maxKeys bounds the cache; past it, it is emptied.
const maxKeys = 4096

var signingKeys = &keyCache{m: make(map[string]*keyEntry)}

// secretSeed seeds the secrets' hashes.
var secretSeed = maphash.MakeSeed()

// keyID appends an entry's name: the access key id, the region and the
// service, each after its length, and the date.
func keyID(b []byte, akid string, y int, mo time.Month, d int, region, service string) []byte {
	for _, s := range [...]string{akid, region, service} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.BigEndian.AppendUint32(b, uint32(y*10000+int(mo)*100+d))
}

func (c *keyCache) get(akid, secret string, at time.Time, region, service string) [32]byte {
	return c.entry(akid, secret, at, region, service).key
}

// entry returns the cache's entry for the key, made when missing.
func (c *keyCache) entry(akid, secret string, at time.Time, region, service string) *keyEntry {
	y, mo, d := at.Date()
	date := uint32(y*10000 + int(mo)*100 + d)
	sum := maphash.String(secretSeed, secret)
	if e := c.last.Load(); e != nil && e.secretSum == sum && e.date == date && e.akid == akid && e.region == region && e.service == service {
		return e
	}
	// The name is written in a stack buffer: the lookup allocates nothing.
	var nb [128]byte
	id := keyID(nb[:0], akid, y, mo, d, region, service)
	c.mu.RLock()
	e := c.m[string(id)]
	c.mu.RUnlock()
	if e != nil && e.secretSum == sum {
		c.last.Store(e)
		return e
	}
	e = &keyEntry{secretSum: sum, akid: strings.Clone(akid), region: strings.Clone(region), service: strings.Clone(service), date: date,
		key: deriveKey(secret, at, region, service)}
	e.inner, e.outer = padState(&e.key, 0x36), padState(&e.key, 0x5c)
	c.mu.Lock()
	if len(c.m) >= maxKeys {
		clear(c.m)
	}
	c.m[string(id)] = e
	c.mu.Unlock()
	c.last.Store(e)
	return e
}

// deriveKey derives the SigV4 signing key: HMAC chains of "AWS4"+secret over
// the date, region, service and "aws4_request".
func deriveKey(secret string, at time.Time, region, service string) [32]byte {
	mac := func(key, data []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(data)
		return m.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), at.AppendFormat(nil, scopeDateLayout))
	k = mac(k, []byte(region))
	k = mac(k, []byte(service))
	k = mac(k, []byte(scopeTerminator))
	var out [32]byte
	copy(out[:], k)
	return out
}
