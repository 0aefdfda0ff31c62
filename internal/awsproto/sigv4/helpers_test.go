package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testToken  = "FQoGZXIvYXdzEXAMPLEtoken//with+chars="
	testHost   = "workspaces.us-east-1.amazonaws.com"
)

var testNow = time.Date(2024, 5, 17, 12, 30, 45, 0, time.UTC)

func testLookup(keys map[string]string) Lookup {
	return func(_ context.Context, akid string) (string, bool, error) {
		s, ok := keys[akid]
		return s, ok, nil
	}
}

var defaultLookup = testLookup(map[string]string{testAKID: testSecret, "AKIDOTHER": "otherSecretKey0123456789"})

// toServer serializes a client request and parses it back the way net/http's
// server does (Host moved to r.Host, canonical header keys, Content-Length),
// returning the server-side request and its body.
func toServer(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatalf("write request: %v", err)
	}
	sreq, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("read request: %v", err)
	}
	body, err := io.ReadAll(sreq.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return sreq, body
}

type reqSpec struct {
	method  string
	url     string
	body    string
	headers map[string]string
	service string
	region  string
	token   string
	at      time.Time
	akid    string
	secret  string
}

func (s reqSpec) defaults() reqSpec {
	if s.method == "" {
		s.method = http.MethodPost
	}
	if s.url == "" {
		s.url = "https://" + testHost + "/"
	}
	if s.service == "" {
		s.service = "workspaces"
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.at.IsZero() {
		s.at = testNow
	}
	if s.akid == "" {
		s.akid = testAKID
	}
	if s.secret == "" {
		s.secret = testSecret
	}
	return s
}

func (s reqSpec) newClientRequest(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequest(s.method, s.url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	return req
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sdkSign signs with aws-sdk-go-v2's signer (Authorization header) and
// returns the request as the server would see it.
func sdkSign(t testing.TB, s reqSpec) (*http.Request, []byte) {
	t.Helper()
	s = s.defaults()
	req := s.newClientRequest(t)
	payload := hashHex([]byte(s.body))
	if v := req.Header.Get("X-Amz-Content-Sha256"); v != "" {
		payload = v
	}
	creds := aws.Credentials{AccessKeyID: s.akid, SecretAccessKey: s.secret, SessionToken: s.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
	return toServer(t, req)
}

// sdkPresign presigns with aws-sdk-go-v2's signer and returns the request as
// the server would see it.
func sdkPresign(t testing.TB, s reqSpec, expires string) (*http.Request, []byte) {
	t.Helper()
	s = s.defaults()
	req := s.newClientRequest(t)
	if expires != "" {
		q := req.URL.Query()
		q.Set("X-Amz-Expires", expires)
		req.URL.RawQuery = q.Encode()
	}
	creds := aws.Credentials{AccessKeyID: s.akid, SecretAccessKey: s.secret, SessionToken: s.token}
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, hashHex([]byte(s.body)), s.service, s.region, s.at)
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest(s.method, u, strings.NewReader(s.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if strings.EqualFold(k, "host") {
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	if s.body == "" {
		out.Body, out.ContentLength = nil, 0
	}
	return toServer(t, out)
}

// refSign is a test-only, independent SigV4 implementation written from the
// AWS specification. It signs exactly the headers given (including ones the
// SDK signer ignores) and is used to model clients such as aws-sdk-java v1
// that sign User-Agent.
func refSign(method, path, rawQuery string, headers [][2]string, payloadHash, amzDate, region, service, secret string) (signedHeaders, signature string) {
	enc := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
				b.WriteByte(c)
			} else {
				b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
			}
		}
		return b.String()
	}
	q, _ := url.ParseQuery(rawQuery)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, enc(k)+"="+enc(v))
		}
	}
	sort.Strings(pairs)
	segs := strings.Split(path, "/")
	for i := range segs {
		segs[i] = enc(segs[i])
	}
	canonURI := strings.Join(segs, "/")
	if canonURI == "" {
		canonURI = "/"
	}
	sort.Slice(headers, func(i, j int) bool { return headers[i][0] < headers[j][0] })
	var ch, names []string
	for _, h := range headers {
		ch = append(ch, h[0]+":"+strings.Join(strings.Fields(h[1]), " "))
		names = append(names, h[0])
	}
	signedHeaders = strings.Join(names, ";")
	creq := strings.Join([]string{method, canonURI, strings.Join(pairs, "&"), strings.Join(ch, "\n") + "\n", signedHeaders, payloadHash}, "\n")
	scope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hashHex([]byte(creq))
	mac := func(k []byte, d string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(d)); return h.Sum(nil) }
	k := mac(mac(mac(mac([]byte("AWS4"+secret), amzDate[:8]), region), service), "aws4_request")
	return signedHeaders, hex.EncodeToString(mac(k, sts))
}

func wantKind(t *testing.T, err error, kind Kind) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error of kind %v, got %v", kind, err)
	}
	if e.Kind != kind {
		t.Fatalf("want kind %v, got %v (%s)", kind, e.Kind, e.Message)
	}
	if strings.Contains(e.Error(), testSecret) || strings.Contains(e.Error(), testToken) {
		t.Fatalf("error message leaks a credential: %s", e.Error())
	}
	return e
}

func setAuthParam(t testing.TB, r *http.Request, param, value string) {
	t.Helper()
	a := r.Header.Get("Authorization")
	i := strings.Index(a, param+"=")
	if i < 0 {
		t.Fatalf("no %s in %q", param, a)
	}
	j := strings.Index(a[i:], ",")
	if j < 0 {
		j = len(a) - i
	}
	r.Header.Set("Authorization", a[:i]+param+"="+value+a[i+j:])
}
