package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Lookup returns the secret for an access key id; found=false for unknown keys. It may do I/O.
type Lookup func(ctx context.Context, accessKeyID string) (secret string, found bool, err error)

const unsignedPayload = "UNSIGNED-PAYLOAD"

// Verify checks r (whose body bytes are given) against now (server clock) and
// returns the caller's identity.
//
// Authentication failures are reported as *Error. An error returned by lookup
// is returned wrapped (not as *Error); the caller should treat it as an
// internal failure.
//
// The expected signature is computed by aws-sdk-go-v2's v4 signer over a
// request rebuilt from r with only the headers named in SignedHeaders, and
// compared with the provided one in constant time.
//
// Verify does not validate SessionToken: for temporary credentials the caller
// must check that Result.SessionToken belongs to Result.AccessKeyID.
func Verify(ctx context.Context, r *http.Request, body []byte, now time.Time, lookup Lookup) (*Result, error) {
	p, perr := parseDated(r, now, nil)
	if perr != nil {
		return nil, perr
	}
	return verifyParsed(ctx, r, p, body, lookup)
}

// Checked is a request that passed CheckParsed: its authentication parsed
// once, for VerifyChecked.
type Checked struct {
	r   *http.Request
	p   *parsed // &pv
	pv  parsed
	res Result // CheckParsed's result
}

// CheckParsed is Check that also returns the request as parsed, so that
// VerifyChecked verifies it once its body is read without parsing its
// Authorization header (or presign parameters) again.
func CheckParsed(ctx context.Context, r *http.Request, now time.Time, lookup Lookup) (*Checked, *Result, error) {
	// The request is parsed into the Checked: one allocation for both.
	ck := &Checked{}
	if err := CheckParsedInto(ctx, r, now, lookup, ck); err != nil {
		return nil, nil, err
	}
	return ck, &ck.res, nil
}

// CheckParsedInto is CheckParsed into a Checked of the caller's (which
// may then be part of a larger allocation of its own). ck is overwritten;
// it is for VerifyChecked only when CheckParsedInto returned no error.
func CheckParsedInto(ctx context.Context, r *http.Request, now time.Time, lookup Lookup, ck *Checked) error {
	*ck = Checked{r: r}
	p, perr := parseDated(r, now, &ck.pv)
	if perr != nil {
		ck.r = nil
		return perr
	}
	ck.p = p
	_, found, err := lookup(ctx, p.AccessKeyID)
	if err != nil {
		ck.r = nil
		return fmt.Errorf("sigv4: looking up access key: %w", err)
	}
	if !found {
		ck.r = nil
		return newError(KindUnknownKey, msgUnknownKey)
	}
	ck.res = p.Result
	return nil
}

// VerifyChecked is Verify of a request that passed CheckParsed: the same
// checks with the same errors, its dates checked again against now. ck
// must come from CheckParsed of this very request (else it is verified
// from scratch).
func VerifyChecked(ctx context.Context, r *http.Request, body []byte, ck *Checked, now time.Time, lookup Lookup) (*Result, error) {
	if ck == nil || ck.r != r {
		return Verify(ctx, r, body, now, lookup)
	}
	if err := checkTime(ck.p, now); err != nil {
		return nil, err
	}
	return verifyParsed(ctx, r, ck.p, body, lookup)
}

// verifyParsed is Verify after the parse and the date checks.
func verifyParsed(ctx context.Context, r *http.Request, p *parsed, body []byte, lookup Lookup) (*Result, error) {
	var payload payloadSum
	if perr := payloadHash(r, p, body, &payload); perr != nil {
		return nil, perr
	}

	secret, found, err := lookup(ctx, p.AccessKeyID)
	if err != nil {
		return nil, fmt.Errorf("sigv4: looking up access key: %w", err)
	}
	if !found {
		return nil, newError(KindUnknownKey, msgUnknownKey)
	}

	var want [32]byte
	var perr *Error
	if p.Presigned {
		want, perr = sdkSignature(ctx, r, p, payload.String(), secret)
	} else {
		want, perr = headerSignature(r, p, &payload, secret)
	}
	if perr != nil {
		return nil, perr
	}
	if !hmac.Equal(want[:], p.signature[:]) {
		return nil, newError(KindMismatch, msgMismatch)
	}
	return &p.Result, nil // p is this call's (or its Checked's): no copy
}

// sdkSignature computes the expected signature with the SDK signer over the
// request rebuilt from r: presigned URLs are verified with it, and it is
// the reference headerSignature is tested against.
func sdkSignature(ctx context.Context, r *http.Request, p *parsed, payloadHash, secret string) ([32]byte, *Error) {
	var sig [32]byte
	req, perr := rebuild(r, p)
	if perr != nil {
		return sig, perr
	}
	signer := signers.get(p.AccessKeyID, secret)
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: secret}
	var want string
	if p.Presigned {
		u, _, err := signer.PresignHTTP(ctx, creds, req, payloadHash, p.Service, p.Region, p.SignedAt, disableHoisting)
		if err != nil {
			return sig, newError(KindMismatch, msgMismatch)
		}
		want = signatureSuffix(u, "X-Amz-Signature=")
	} else {
		if err := signer.SignHTTP(ctx, creds, req, payloadHash, p.Service, p.Region, p.SignedAt); err != nil {
			return sig, newError(KindMismatch, msgMismatch)
		}
		want = signatureSuffix(req.Header.Get(hdrAuthorization), "Signature=")
	}
	if len(want) != 64 {
		return sig, newError(KindMismatch, msgMismatch)
	}
	if _, err := hex.Decode(sig[:], []byte(want)); err != nil {
		return sig, newError(KindMismatch, msgMismatch)
	}
	return sig, nil
}

// Check runs the checks of Verify that need no request body: the
// Authorization header or presign parameters, the dates, and whether lookup
// knows the access key. A server calls it before reading the body, so a
// request that cannot authenticate is refused without its body being
// read; a request that passes must still be verified with Verify. Errors
// are those Verify would return for the same request (a payload hash that
// does not match the body is found by Verify alone).
func Check(ctx context.Context, r *http.Request, now time.Time, lookup Lookup) (*Result, error) {
	_, res, err := CheckParsed(ctx, r, now, lookup)
	return res, err
}

// parseDated parses the request's authentication and checks its dates.
func parseDated(r *http.Request, now time.Time, dst *parsed) (*parsed, *Error) {
	p, perr := parse(r, dst)
	if perr != nil {
		return nil, perr
	}
	if p.amzDate[:8] != p.scopeDate {
		return nil, newError(KindMismatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '"+
			p.scopeDate+"' != '"+p.amzDate[:8]+"', from '"+p.amzDate+"'.")
	}
	if err := checkTime(p, now); err != nil {
		return nil, err
	}
	return p, nil
}

func disableHoisting(o *v4.SignerOptions) { o.DisableHeaderHoisting = true }

// signatureSuffix returns what follows the last occurrence of marker in s.
func signatureSuffix(s, marker string) string {
	i := strings.LastIndex(s, marker)
	if i < 0 {
		return ""
	}
	return s[i+len(marker):]
}

// checkTime enforces MaxSkew on X-Amz-Date and X-Amz-Expires on presigned
// URLs, with AWS's messages.
func checkTime(p *parsed, now time.Time) *Error {
	now = now.UTC()
	// The messages' times are formatted only for a refusal.
	nowStr := func() string { return now.Format(amzDateLayout) }
	if p.SignedAt.Sub(now) > MaxSkew {
		return newError(KindExpired, "Signature not yet current: "+p.amzDate+" is still later than "+
			now.Add(MaxSkew).Format(amzDateLayout)+" ("+nowStr()+" + 15 min.)")
	}
	if p.Presigned {
		if now.Sub(p.SignedAt) > p.expires {
			return newError(KindExpired, "Request has expired: "+p.amzDate+" + X-Amz-Expires "+
				strconv.FormatInt(int64(p.expires/time.Second), 10)+"s is now earlier than "+nowStr()+".")
		}
		return nil
	}
	if now.Sub(p.SignedAt) > MaxSkew {
		return newError(KindExpired, "Signature expired: "+p.amzDate+" is now earlier than "+
			now.Add(-MaxSkew).Format(amzDateLayout)+" ("+nowStr()+" - 15 min.)")
	}
	return nil
}

// payloadSum is the payload hash a request is signed with: the declared
// X-Amz-Content-Sha256 or, when none is declared, the body's SHA-256 in hex
// (kept in the array, so that verifying a request allocates no string).
type payloadSum struct {
	declared    string
	useDeclared bool
	computed    [64]byte
}

// appendTo appends the hash as it goes into the canonical request.
func (s *payloadSum) appendTo(b []byte) []byte {
	if s.useDeclared {
		return append(b, s.declared...)
	}
	return append(b, s.computed[:]...)
}

// String returns the hash.
func (s *payloadSum) String() string {
	if s.useDeclared {
		return s.declared
	}
	return string(s.computed[:])
}

// payloadHash finds the payload hash to sign with: X-Amz-Content-Sha256
// (query for presigned URLs, else header) when present, which must match the
// body unless it is UNSIGNED-PAYLOAD; otherwise the SHA-256 of body.
func payloadHash(r *http.Request, p *parsed, body []byte, out *payloadSum) *Error {
	var declared string
	var have bool
	if p.Presigned {
		if vs := p.query[qContentSHA256]; len(vs) == 1 {
			declared, have = vs[0], true
		}
	}
	if !have {
		if vs := r.Header[hdrContentSHA256]; len(vs) > 0 {
			if len(vs) != 1 {
				return newError(KindIncomplete, "Only one X-Amz-Content-Sha256 header is allowed.")
			}
			declared, have = vs[0], true
		}
	}
	sum := sha256.Sum256(body)
	hex.Encode(out.computed[:], sum[:])
	if !have {
		return nil
	}
	if declared != unsignedPayload && !equalFoldHex(declared, &out.computed) {
		return newError(KindMismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	out.declared, out.useDeclared = declared, true
	return nil
}

// equalFoldHex reports whether s is the lowercase hex h in any case
// (strings.EqualFold of the two, for ASCII hex).
func equalFoldHex(s string, h *[64]byte) bool {
	if len(s) != len(h) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != h[i] {
			return false
		}
	}
	return true
}

// rebuild makes the request the SDK signer signs: same method, path, query
// (minus X-Amz-Signature when presigned) and Host, and exactly the headers
// named in SignedHeaders.
//
// Headers are stored under their lowercase names. The SDK signer skips a
// fixed list of headers (Authorization, User-Agent, X-Amzn-Trace-Id, Expect,
// Transfer-Encoding) by exact, canonical-case map lookup, and lowercases
// every name it signs; lowercase keys therefore let a header the client chose
// to sign (botocore signs everything but a blacklist) into the canonical
// request while producing exactly the canonical line the client computed.
// Two names are special: X-Amz-Date is set by the signer itself from the
// signing time (so it is left to it), and Content-Length is taken from
// req.ContentLength (the signer signs it only when > 0).
func rebuild(r *http.Request, p *parsed) (*http.Request, *Error) {
	u := &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if p.Presigned {
		q := make(url.Values, len(p.query))
		for k, v := range p.query {
			if k != qSignature {
				q[k] = v
			}
		}
		u.RawQuery = q.Encode()
	}
	req := &http.Request{
		Method: r.Method,
		URL:    u,
		Host:   r.Host,
		Header: make(http.Header, len(p.signedHeaders)),
	}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	for _, h := range p.signedHeaders {
		switch h {
		case "host":
			// The signer takes it from req.Host (URL has no scheme, so no
			// default-port stripping: the wire Host is what clients sign).
			continue
		case "x-amz-date":
			if !p.Presigned {
				continue // set by SignHTTP from p.SignedAt; equal to the header
			}
		case "content-length":
			n, ok := contentLength(r)
			if !ok || n == 0 {
				// The SDK signer cannot sign "content-length:0" (see package doc).
				return nil, newError(KindMismatch, msgMismatch)
			}
			req.ContentLength = n
			continue
		case "transfer-encoding":
			if len(r.TransferEncoding) > 0 {
				req.Header[h] = []string{strings.Join(r.TransferEncoding, ",")}
				continue
			}
		}
		vs := r.Header.Values(h)
		if len(vs) == 0 {
			// A signed header the request does not carry.
			return nil, newError(KindMismatch, msgMismatch)
		}
		req.Header[h] = vs
	}
	return req, nil
}

func contentLength(r *http.Request) (int64, bool) {
	if vs := r.Header["Content-Length"]; len(vs) == 1 {
		n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64)
		return n, err == nil && n >= 0
	}
	if r.ContentLength >= 0 && len(r.TransferEncoding) == 0 {
		return r.ContentLength, true
	}
	return 0, false
}

// signerCache holds one SDK signer per (access key id, secret). The SDK signer
// caches derived signing keys per region/service for the current day, keyed
// by access key id only, so sharing one signer across keys would thrash its
// cache, and would return a stale key if a secret changed for the same id.
// The secret itself is not retained: entries are keyed by its SHA-256.
type signerCache struct {
	mu sync.RWMutex
	m  map[string]signerEntry
}

type signerEntry struct {
	secretSum [32]byte
	signer    *v4.Signer
}

// maxSigners bounds the cache; past it an arbitrary entry is evicted.
const maxSigners = 4096

var signers = &signerCache{m: make(map[string]signerEntry)}

func (c *signerCache) get(akid, secret string) *v4.Signer {
	sum := sha256.Sum256([]byte(secret))
	c.mu.RLock()
	e, ok := c.m[akid]
	c.mu.RUnlock()
	if ok && hmac.Equal(e.secretSum[:], sum[:]) {
		return e.signer
	}
	s := v4.NewSigner()
	c.mu.Lock()
	if len(c.m) >= maxSigners {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[akid] = signerEntry{secretSum: sum, signer: s}
	c.mu.Unlock()
	return s
}
