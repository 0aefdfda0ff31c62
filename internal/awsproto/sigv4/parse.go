package sigv4

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted (SigV4 with HMAC-SHA256).
const Algorithm = "AWS4-HMAC-SHA256"

// Limits applied by Verify.
const (
	// MaxSkew is how far X-Amz-Date may be from the server clock.
	MaxSkew = 15 * time.Minute
	// MaxPresignExpires is the largest X-Amz-Expires accepted (7 days).
	MaxPresignExpires = 7 * 24 * time.Hour
	// DefaultPresignExpires is the validity of a presigned URL that carries
	// no X-Amz-Expires (STS presigned URLs work this way).
	DefaultPresignExpires = MaxSkew
)

const (
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	scopeTerminator = "aws4_request"

	hdrAuthorization = "Authorization"
	hdrAmzDate       = "X-Amz-Date"
	hdrSecurityToken = "X-Amz-Security-Token"
	hdrContentSHA256 = "X-Amz-Content-Sha256"

	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
	qSecurityToken = "X-Amz-Security-Token"
	qContentSHA256 = "X-Amz-Content-Sha256"
)

// Result is the caller identity and credential scope of a SigV4 request.
type Result struct {
	AccessKeyID, Region, Service, SessionToken string // SessionToken from X-Amz-Security-Token (header or query), "" if none
	SignedAt                                   time.Time
	Presigned                                  bool
}

// parsed is everything extracted from the request before verification.
type parsed struct {
	Result
	scopeDate     string    // YYYYMMDD from the credential scope
	amzDate       string    // raw X-Amz-Date
	signedHeaders []string  // lowercase, sorted, contains "host"
	headerBuf     [8]string // signedHeaders' array when they are few
	signature     [32]byte
	expires       time.Duration // presign only
	query         url.Values    // parsed query (presign only)
}

// Parse extracts the credential scope without verifying (the server uses it
// to route by service before verifying). It fails with *Error of kind
// KindMissing or KindIncomplete.
func Parse(r *http.Request) (*Result, error) {
	p, err := parse(r, nil)
	if err != nil {
		return nil, err
	}
	res := p.Result
	return &res, nil
}

// parse parses the request's authentication into dst, or into a new
// parsed when dst is nil.
func parse(r *http.Request, dst *parsed) (*parsed, *Error) {
	authz, hasAuthz := r.Header[hdrAuthorization]
	rawQuery := ""
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	presign := rawQuery != "" && hasPresignParam(rawQuery)

	switch {
	case hasAuthz && presign:
		return nil, newError(KindIncomplete, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case hasAuthz:
		if len(authz) != 1 {
			return nil, newError(KindIncomplete, "Only one Authorization header is allowed.")
		}
		return parseHeader(r, authz[0], dst)
	case presign:
		return parseQuery(r, rawQuery, dst)
	}
	return nil, newError(KindMissing, msgMissing)
}

// hasPresignParam reports whether the raw query has a SigV4 query
// authentication parameter name (X-Amz-Algorithm, X-Amz-Credential or
// X-Amz-Signature). A substring pre-check keeps the common case cheap.
func hasPresignParam(rawQuery string) bool {
	if !strings.Contains(rawQuery, "X-Amz-") && !strings.Contains(rawQuery, "X%2DAmz%2D") && !strings.Contains(rawQuery, "X%2dAmz%2d") {
		return false
	}
	for pair := range strings.SplitSeq(rawQuery, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		switch k {
		case qAlgorithm, qCredential, qSignature:
			return true
		}
	}
	return false
}

func parseHeader(r *http.Request, authz string, dst *parsed) (*parsed, *Error) {
	alg, rest, _ := strings.Cut(strings.TrimLeft(authz, " "), " ")
	if alg == "" {
		return nil, newError(KindIncomplete, "Authorization header is empty.")
	}
	if alg != Algorithm {
		return nil, newError(KindIncomplete, "Unsupported AWS 'algorithm': '"+truncate(alg)+"'. Only "+Algorithm+" is supported.")
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = trimBlanks(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, newError(KindIncomplete, "'"+truncate(part)+"' not a valid key=value pair (missing equal-sign) in Authorization header.")
		}
		var dst *string
		var seen *bool
		switch k {
		case "Credential":
			dst, seen = &cred, &haveCred
		case "SignedHeaders":
			dst, seen = &signed, &haveSigned
		case "Signature":
			dst, seen = &sig, &haveSig
		default:
			return nil, newError(KindIncomplete, "Unknown Authorization header parameter '"+truncate(k)+"'.")
		}
		if *seen {
			return nil, newError(KindIncomplete, "Authorization header has a duplicate '"+k+"' parameter.")
		}
		*dst, *seen = v, true
	}
	var missing []string
	if !haveCred {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSig {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSigned {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	dates := r.Header[hdrAmzDate]
	if len(dates) == 0 {
		missing = append(missing, "Authorization header requires existence of a 'X-Amz-Date' header.")
	}
	if len(missing) > 0 {
		return nil, newError(KindIncomplete, strings.Join(missing, " "))
	}
	if len(dates) != 1 {
		return nil, newError(KindIncomplete, "Only one X-Amz-Date header is allowed.")
	}

	p := dst
	if p == nil {
		p = &parsed{}
	}
	if err := p.setCredential(cred); err != nil {
		return nil, err
	}
	if err := p.setSignedHeaders(signed, "x-amz-date"); err != nil {
		return nil, err
	}
	if err := p.setSignature(sig); err != nil {
		return nil, err
	}
	if err := p.setDate(dates[0]); err != nil {
		return nil, err
	}
	if toks := r.Header[hdrSecurityToken]; len(toks) > 0 {
		if len(toks) != 1 {
			return nil, newError(KindIncomplete, "Only one X-Amz-Security-Token header is allowed.")
		}
		p.SessionToken = toks[0]
	}
	return p, nil
}

func parseQuery(r *http.Request, rawQuery string, dst *parsed) (*parsed, *Error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, newError(KindIncomplete, "The query string is malformed.")
	}
	one := func(name string, required bool) (string, *Error) {
		vs := q[name]
		switch {
		case len(vs) > 1:
			return "", newError(KindIncomplete, "Query parameter "+name+" must appear only once.")
		case len(vs) == 0 && required:
			return "", newError(KindIncomplete, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date and X-Amz-SignedHeaders parameters.")
		case len(vs) == 0:
			return "", nil
		}
		return vs[0], nil
	}
	var vals [7]string
	for i, name := range [...]string{qAlgorithm, qCredential, qDate, qSignedHeaders, qSignature} {
		v, e := one(name, true)
		if e != nil {
			return nil, e
		}
		vals[i] = v
	}
	expires, e := one(qExpires, false)
	if e != nil {
		return nil, e
	}
	token, e := one(qSecurityToken, false)
	if e != nil {
		return nil, e
	}
	if _, e := one(qContentSHA256, false); e != nil {
		return nil, e
	}
	if vals[0] != Algorithm {
		return nil, newError(KindIncomplete, "X-Amz-Algorithm only supports \""+Algorithm+"\".")
	}
	p := dst
	if p == nil {
		p = &parsed{}
	}
	p.query = q
	p.Presigned = true
	if err := p.setCredential(vals[1]); err != nil {
		return nil, err
	}
	if err := p.setDate(vals[2]); err != nil {
		return nil, err
	}
	if err := p.setSignedHeaders(vals[3], ""); err != nil {
		return nil, err
	}
	if err := p.setSignature(vals[4]); err != nil {
		return nil, err
	}
	p.expires = DefaultPresignExpires
	if expires != "" {
		n, err := strconv.ParseInt(expires, 10, 64)
		if err != nil || n < 1 || expires[0] == '+' {
			return nil, newError(KindIncomplete, "X-Amz-Expires should be a number of seconds greater than 0.")
		}
		if n > int64(MaxPresignExpires/time.Second) {
			return nil, newError(KindIncomplete, "X-Amz-Expires must be less than a week (in seconds) that is 604800.")
		}
		p.expires = time.Duration(n) * time.Second
	}
	p.SessionToken = token
	return p, nil
}

// trimBlanks is strings.Trim(s, " \t") without building the cutset's
// table on every call (once per part of every Authorization header).
func trimBlanks(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// setCredential parses "AKID/YYYYMMDD/region/service/aws4_request".
func (p *parsed) setCredential(cred string) *Error {
	if p.cachedCredential(cred) {
		return nil
	}
	// Five parts, cut without allocating a slice of them.
	if strings.Count(cred, "/") != 4 {
		return newError(KindIncomplete, "Credential should be of the form <access-key-id>/<YYYYMMDD>/<region>/<service>/aws4_request, got '"+truncate(cred)+"'.")
	}
	akid, rest, _ := strings.Cut(cred, "/")
	date, rest, _ := strings.Cut(rest, "/")
	region, rest, _ := strings.Cut(rest, "/")
	service, term, _ := strings.Cut(rest, "/")
	switch {
	case akid == "":
		return newError(KindIncomplete, "Credential is missing the access key id.")
	case !validScopeDate(date):
		return newError(KindIncomplete, "Credential should be scoped to a valid date (YYYYMMDD), not '"+truncate(date)+"'.")
	case region == "":
		return newError(KindIncomplete, "Credential should be scoped to a valid region.")
	case service == "":
		return newError(KindIncomplete, "Credential should be scoped to a valid service.")
	case term != scopeTerminator:
		return newError(KindIncomplete, "Credential should be scoped with a valid terminator: 'aws4_request', not '"+truncate(term)+"'.")
	}
	p.AccessKeyID, p.scopeDate, p.Region, p.Service = akid, date, region, service
	p.keepCredential(cred)
	return nil
}

func validScopeDate(s string) bool {
	_, _, _, _, _, _, ok := digitsDate(s, len(scopeDateLayout))
	return ok
}

// parseDigitsDate reads s, n bytes long, whose first 8 are a date as
// YYYYMMDD and, when n is 16, the rest a time as 'T'HHMMSS'Z' (the layouts
// scopeDateLayout and amzDateLayout): what time.Parse accepts of those
// layouts at that length, but for a signed year, without its cost (every
// request's date is read).
func parseDigitsDate(s string, n int) (time.Time, bool) {
	y, mo, d, h, mi, sec, ok := digitsDate(s, n)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC), true
}

// digitsDate is parseDigitsDate's check and its fields, without making the
// time (the credential scope's date is only checked).
func digitsDate(s string, n int) (y, mo, d, h, mi, sec int, ok bool) {
	if len(s) != n || (n != 8 && n != 16) {
		return
	}
	num := func(i, w int) int {
		v := 0
		for _, c := range []byte(s[i : i+w]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d = num(0, 4), num(4, 2), num(6, 2)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) {
		return
	}
	if n == 16 {
		if s[8] != 'T' || s[15] != 'Z' {
			return
		}
		h, mi, sec = num(9, 2), num(11, 2), num(13, 2)
		if h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
			return
		}
	}
	return y, mo, d, h, mi, sec, true
}

// daysIn is the number of days of month m (1 to 12) in year y (0 to 9999)
// of the proleptic Gregorian calendar, as time.Date counts them (without
// its cost: it ran twice for every request's dates).
func daysIn(m, y int) int {
	if m == 2 {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return int(monthDays[m])
}

// monthDays holds the days of each month but February (1 to 12).
var monthDays = [13]uint8{0, 31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// setSignedHeaders parses "a;b;c": lowercase, sorted, unique, with "host" and
// (for header auth) the required header.
func (p *parsed) setSignedHeaders(s string, required string) *Error {
	if p.cachedSignedHeaders(s, required) {
		return nil
	}
	if s == "" {
		return newError(KindIncomplete, "SignedHeaders must not be empty.")
	}
	var hs []string
	if n := strings.Count(s, ";") + 1; n <= len(p.headerBuf) {
		hs = p.headerBuf[:0]
		for h := range strings.SplitSeq(s, ";") {
			hs = append(hs, h)
		}
	} else {
		hs = strings.Split(s, ";")
	}
	hasHost, hasReq := false, required == ""
	for i, h := range hs {
		if !validHeaderName(h) {
			return newError(KindIncomplete, "SignedHeaders contains an invalid header name '"+truncate(h)+"'; names must be lowercase HTTP tokens.")
		}
		if i > 0 && hs[i-1] >= h {
			return newError(KindIncomplete, "SignedHeaders must be sorted and must not contain duplicates.")
		}
		hasHost = hasHost || h == "host"
		hasReq = hasReq || h == required
	}
	if !hasHost {
		return newError(KindIncomplete, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !hasReq {
		return newError(KindIncomplete, "'"+required+"' must be a 'SignedHeader' in the AWS Authorization.")
	}
	p.signedHeaders = hs
	p.keepSignedHeaders(s, required)
	return nil
}

// validHeaderName reports whether h is a non-empty lowercase RFC 7230 token.
func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !headerNameByte[h[i]] {
			return false
		}
	}
	return true
}

// headerNameByte is true for the bytes of a lowercase token: a lowercase
// letter, a digit or one of "!#$%&'*+-.^_`|~" (one lookup per byte: every
// signed header's name of every request is checked).
var headerNameByte = func() (t [256]bool) {
	for c := range t {
		b := byte(c)
		t[c] = b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
	}
	return t
}()

func (p *parsed) setSignature(sig string) *Error {
	if len(sig) != 64 {
		return newError(KindIncomplete, "Signature must be 64 hexadecimal characters.")
	}
	if _, err := hex.Decode(p.signature[:], []byte(sig)); err != nil {
		return newError(KindIncomplete, "Signature must be 64 hexadecimal characters.")
	}
	return nil
}

func (p *parsed) setDate(s string) *Error {
	if p.cachedDate(s) {
		return nil
	}
	t, ok := parseDigitsDate(s, len(amzDateLayout))
	if !ok {
		return newError(KindIncomplete, "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '"+truncate(s)+"'.")
	}
	p.amzDate, p.SignedAt = s, t
	p.keepDate(s)
	return nil
}

// truncate bounds client-supplied text echoed in error messages.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return strconvQuoteFree(s)
	}
	return strconvQuoteFree(s[:max]) + "..."
}

// strconvQuoteFree drops control characters so messages stay single-line.
func strconvQuoteFree(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f {
					return -1
				}
				return r
			}, s)
		}
	}
	return s
}
