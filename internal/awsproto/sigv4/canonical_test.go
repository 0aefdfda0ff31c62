package sigv4

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// diffCase is a request as a server received it, with the headers its
// Authorization header names as signed.
type diffCase struct {
	method, host, path, rawPath, rawQuery string
	headers                               http.Header
	signed                                []string
	contentLength                         int64
	transferEncoding                      []string
	at                                    time.Time
	region, service                       string
}

// request builds the server-side request and its parse, with a placeholder
// signature.
func (c *diffCase) request(t testing.TB) (*http.Request, *parsed) {
	t.Helper()
	r := &http.Request{Method: c.method, Host: c.host, URL: &url.URL{Path: c.path, RawPath: c.rawPath, RawQuery: c.rawQuery},
		Header: c.headers.Clone(), ContentLength: c.contentLength, TransferEncoding: c.transferEncoding}
	amzDate := c.at.Format(amzDateLayout)
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/"+amzDate[:8]+"/"+c.region+"/"+c.service+
		"/aws4_request, SignedHeaders="+strings.Join(c.signed, ";")+", Signature="+strings.Repeat("0", 64))
	p, err := parse(r, nil)
	if err != nil {
		t.Fatalf("parse %+v: %v", c, err)
	}
	return r, p
}

// agree checks that headerSignature and the SDK signer (sdkSignature) give
// the same signature, or the same refusal, for the case.
func (c *diffCase) agree(t testing.TB) {
	t.Helper()
	r, p := c.request(t)
	// The body's own hash (as computed when none is declared) and a
	// declared UNSIGNED-PAYLOAD.
	computed := payloadSum{}
	copy(computed.computed[:], hashHex([]byte(c.rawQuery)))
	declared := payloadSum{declared: unsignedPayload, useDeclared: true}
	for _, ps := range []*payloadSum{&computed, &declared} {
		payload := ps.String()
		got, gerr := headerSignature(r, p, ps, testSecret)
		want, werr := sdkSignature(context.Background(), r, p, payload, testSecret)
		if (gerr == nil) != (werr == nil) || (gerr != nil && (gerr.Kind != werr.Kind || gerr.Message != werr.Message)) {
			t.Fatalf("case %+v: errors differ: fast %v, SDK %v", c, gerr, werr)
		}
		if got != want {
			t.Fatalf("case %+v: signatures differ: fast %x, SDK %x", c, got, want)
		}
	}
}

// pieces random requests are made of: what clients send, and what hostile
// ones do (runs of spaces, tabs, escapes, empty and repeated values).
var (
	diffMethods = []string{"POST", "GET", "PUT", "DELETE", "", "PATCH"}
	diffHosts   = []string{"workspaces.us-east-1.amazonaws.com", "127.0.0.1:4566", "localhost:443", "h:80", "[::1]:8080",
		"[::1]", "[::1]:", "host:", " spaced  host ", "", "UPPER.example.com"}
	diffPaths = [][2]string{{"", ""}, {"/", ""}, {"/2015-04-08/workspaces", ""}, {"/a b/c", ""}, {"/a/b%2Fc", "/a/b%252Fc"},
		{"/a/b/c", "/a/b%2Fc"}, {"/ü/~x", ""}, {"//double//", ""}, {"/a+b", ""}, {"/%", ""}, {"/x", "/x%2G"}}
	diffQueries = []string{"", "Action=DescribeRegions&Version=2016-11-15", "b=2&a=1&a=0", "a=%20b%2Fc&a=a-b&a=a/b",
		"x", "x=", "=y", "a=1;b=2", "k=%zz&ok=1", "Filter.1.Value.1=a+b", "e=%E2%82%AC&%7E=~", "dup=b&dup=a&dup=b"}
	diffNames = []string{"content-type", "x-amz-target", "x-amz-content-sha256", "x-amz-security-token", "user-agent",
		"authorization", "x-amz-user-agent", "amz-sdk-invocation-id", "accept", "x-custom", "expect", "x-amzn-trace-id"}
	diffValues = []string{"application/x-amz-json-1.1", "  lead", "trail  ", "a  b   c", "\ttab\t", "x\t  y",
		"", " ", "v", "a,b", "caf\u00e9", "\u00a0nbsp\u00a0", "  a  \t  b  "}
)

func randomCase(rng *rand.Rand) diffCase {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	path := diffPaths[rng.IntN(len(diffPaths))]
	c := diffCase{method: pick(diffMethods), host: pick(diffHosts), path: path[0], rawPath: path[1], rawQuery: pick(diffQueries),
		headers: http.Header{}, at: time.Date(2024+rng.IntN(3), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC),
		region: pick([]string{"us-east-1", "eu-west-3", "x"}), service: pick([]string{"workspaces", "kms", "sts", "ec2"})}
	signed := map[string]bool{"host": true, "x-amz-date": true}
	for range rng.IntN(5) {
		name := pick(diffNames)
		n := 1 + rng.IntN(3)
		if name == "x-amz-security-token" || name == "x-amz-content-sha256" {
			n = 1 // parse allows one
			c.headers.Del(name)
		}
		for range n {
			c.headers.Add(name, pick(diffValues))
		}
		if rng.IntN(4) > 0 {
			signed[name] = true
		}
	}
	if rng.IntN(6) == 0 {
		signed["x-missing"] = true // a signed header the request does not carry
	}
	switch rng.IntN(5) {
	case 0:
		c.contentLength = int64(rng.IntN(3))
		c.headers.Set("Content-Length", strconv.FormatInt(c.contentLength, 10))
		signed["content-length"] = true
	case 1:
		c.contentLength = 17
		c.headers.Set("Content-Length", " 17 ")
		signed["content-length"] = true
	case 2:
		c.contentLength = -1
		c.transferEncoding = []string{"chunked"}
		signed["transfer-encoding"] = rng.IntN(2) == 0
	}
	for k, ok := range signed {
		if ok {
			c.signed = append(c.signed, k)
		}
	}
	sort.Strings(c.signed)
	return c
}

// TestCanonicalAgreesWithSDK holds the hand-written canonical request to
// the SDK signer's: over random requests (odd hosts, paths, queries,
// repeated and space-padded header values, missing signed headers), both
// compute the same signature or refuse alike.
func TestCanonicalAgreesWithSDK(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 4))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		c := randomCase(rng)
		c.agree(t)
	}
}

// FuzzCanonicalAgreesWithSDK is TestCanonicalAgreesWithSDK over arbitrary
// header values, paths and queries.
func FuzzCanonicalAgreesWithSDK(f *testing.F) {
	f.Add("POST", "h:1", "/", "", "a=1", "x-amz-target", "  a  b ", int64(0))
	f.Add("GET", "[::1]:", "/a b", "/a%20b", "k=%zz", "content-type", "\t", int64(3))
	f.Fuzz(func(t *testing.T, method, host, path, rawPath, rawQuery, name, value string, length int64) {
		if !validHeaderName(name) || name == "host" || name == "x-amz-date" || name == "authorization" {
			return
		}
		c := diffCase{method: method, host: host, path: path, rawPath: rawPath, rawQuery: rawQuery, headers: http.Header{},
			at: testNow, region: "us-east-1", service: "workspaces", contentLength: length}
		c.headers.Add(name, value)
		c.signed = []string{"host", "x-amz-date", name}
		sort.Strings(c.signed)
		c.agree(t)
	})
}

// TestSigningKeyCache holds the cached key to the derivation: per day,
// region, service and secret.
func TestSigningKeyCache(t *testing.T) {
	d1 := time.Date(2024, 5, 17, 23, 59, 59, 0, time.UTC)
	d2 := d1.Add(time.Second)
	k1 := signingKeys.get("AKIDK", "s1", d1, "us-east-1", "kms")
	if k1 != deriveKey("s1", d1, "us-east-1", "kms") {
		t.Fatal("cached key differs from the derivation")
	}
	for _, k := range [][32]byte{
		signingKeys.get("AKIDK", "s1", d2, "us-east-1", "kms"),
		signingKeys.get("AKIDK", "s2", d1, "us-east-1", "kms"),
		signingKeys.get("AKIDK", "s1", d1, "us-east-2", "kms"),
		signingKeys.get("AKIDK", "s1", d1, "us-east-1", "sts"),
	} {
		if k == k1 {
			t.Fatal("a different day, secret, region or service got the same key")
		}
	}
	if signingKeys.get("AKIDK", "s1", d1.Add(-time.Hour), "us-east-1", "kms") != k1 {
		t.Fatal("the same day got another key")
	}
	// A secret rotated back, and names whose fields end at other places,
	// get their own keys.
	if signingKeys.get("AKIDK", "s1", d1, "us-east-1", "kms") != k1 {
		t.Fatal("the first secret again got another key")
	}
	for _, n := range []struct{ akid, region, service string }{
		{"AKID", "Kus-east-1", "kms"}, {"AKIDKu", "s-east-1", "kms"}, {"AKIDK", "us-east-1k", "ms"}, {"AKIDK", "us-east-", "1kms"},
	} {
		signingKeys.get(n.akid, "s1", d1, n.region, n.service)
		if signingKeys.get("AKIDK", "s1", d1, "us-east-1", "kms") != k1 {
			t.Fatalf("after %v: another key", n)
		}
		if got := signingKeys.get(n.akid, "s1", d1, n.region, n.service); got != deriveKey("s1", d1, n.region, n.service) {
			t.Fatalf("%v: the cached key differs from the derivation", n)
		}
	}
}

// TestSigningKeyLast: a key asked right after another that differs from it
// in one part only (the cache's last entry, found by a compare) is its own.
// It fails when the last entry's compare leaves out the secret, the day,
// the region or the service (the access key id does not enter the key).
func TestSigningKeyLast(t *testing.T) {
	d1 := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	type scope struct {
		akid, secret string
		at           time.Time
		region, svc  string
	}
	base := scope{"AKIDL", "s1", d1, "eu-west-1", "kms"}
	for _, v := range []scope{
		{"AKIDL", "s2", d1, "eu-west-1", "kms"}, {"AKIDL", "s1", d1.AddDate(0, 0, 1), "eu-west-1", "kms"},
		{"AKIDM", "s1", d1, "eu-west-1", "kms"}, {"AKIDL", "s1", d1, "eu-west-2", "kms"}, {"AKIDL", "s1", d1, "eu-west-1", "sts"},
	} {
		for _, sc := range []scope{base, v, base, v} {
			if got := signingKeys.get(sc.akid, sc.secret, sc.at, sc.region, sc.svc); got != deriveKey(sc.secret, sc.at, sc.region, sc.svc) {
				t.Fatalf("%+v after another: not its own key", sc)
			}
		}
	}
}

// BenchmarkSigningKeyCache is a request's lookup of its day's key.
func BenchmarkSigningKeyCache(b *testing.B) {
	at := time.Date(2026, 12, 7, 3, 4, 5, 0, time.UTC)
	signingKeys.get("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", at, "us-east-1", "workspaces")
	b.ReportAllocs()
	for b.Loop() {
		signingKeys.get("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", at, "us-east-1", "workspaces")
	}
}
