package sigv4

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
	"unsafe"
)

// TestParseCacheAsParse holds the parse with its caches (the last
// credential, signed headers and date it accepted) to the parse without
// them: a run of requests, good and bad, each sharing parts with the ones
// before it, parses to the same result or the same error either way. It
// fails with a cache that ignores the header that must be signed (a
// presigned request's "host" accepted, then a header-signed one's), or
// that keeps a value it refused.
func TestParseCacheAsParse(t *testing.T) {
	spec := jsonSpec()
	base, _ := sdkSign(t, spec)
	other := spec
	other.region, other.service, other.akid = "eu-west-1", "sts", "AKIDOTHER"
	later := spec
	later.at = testNow.Add(time.Second)
	with := func(r *http.Request, param, value string) *http.Request {
		r = r.Clone(context.Background())
		setAuthParam(t, r, param, value)
		return r
	}
	withDate := func(r *http.Request, d string) *http.Request {
		r = r.Clone(context.Background())
		r.Header.Set("X-Amz-Date", d)
		return r
	}
	b2, _ := sdkSign(t, other)
	b3, _ := sdkSign(t, later)
	pre, _ := sdkPresign(t, spec, "60")
	preOther, _ := sdkPresign(t, other, "")
	seq := []*http.Request{
		base, base, b2, base, b3, b3, base,
		// The presigned requests sign what they sign without X-Amz-Date:
		// a header-signed request that signs the same must be refused.
		pre, with(base, "SignedHeaders", "content-length;content-type;host"), preOther, pre,
		with(base, "SignedHeaders", "host"),
		with(base, "SignedHeaders", "host;x-amz-date"), with(base, "SignedHeaders", "host;x-amz-date"),
		with(base, "SignedHeaders", "x-amz-date;host"), base,
		with(base, "Credential", "AKIDEXAMPLE/20240517/us-east-1/workspaces/aws4_requesT"),
		with(base, "Credential", "AKIDEXAMPLE/20240517/us-east-1/workspaces/aws4_requesT"),
		with(base, "Credential", "AKIDEXAMPLE/20240517//workspaces/aws4_request"), base,
		with(base, "Credential", "AKIDEXAMPLE/20240231/us-east-1/workspaces/aws4_request"),
		with(base, "Credential", "AKIDEXAMPLE/20240518/us-east-1/workspaces/aws4_request"),
		with(base, "Credential", "AKIDEXAMPLE/20240518/us-east-1/workspaces/aws4_request"),
		withDate(base, "20240517T123045"), withDate(base, "20240517T123045"), base,
		withDate(base, "20240517T246045Z"), withDate(base, "20240518T123045Z"), withDate(base, "20240518T123045Z"),
		withDate(base, "20240517T123046Z"), base,
	}
	outcomes := func() []string {
		var out []string
		for i, r := range seq {
			o := ""
			if p, err := parse(r, nil); err != nil {
				o = fmt.Sprintf("error %v %q", err.Kind, err.Message)
			} else {
				o = fmt.Sprintf("ok %+v %q %q %v %x", p.Result, p.scopeDate, p.amzDate, p.signedHeaders, p.signature)
			}
			out = append(out, fmt.Sprintf("%d: %s", i, o))
		}
		return out
	}
	parseCacheOff.Store(true)
	want := outcomes()
	parseCacheOff.Store(false)
	lastScope.Store(nil)
	lastHeaders.Store(nil)
	lastDate.Store(nil)
	got := outcomes()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("with the caches:\n got %s\nwant %s", got[i], want[i])
		}
	}

	// The caches are used: a request like the last one takes its strings.
	p, err := parse(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := lastScope.Load(); e == nil || unsafe.StringData(p.Region) != unsafe.StringData(e.region) {
		t.Error("the credential's region is not the cached one")
	}
	if e := lastHeaders.Load(); e == nil || &p.signedHeaders[0] != &e.hs[0] {
		t.Error("the signed headers are not the cached ones")
	}
	if e := lastDate.Load(); e == nil || unsafe.StringData(p.amzDate) != unsafe.StringData(e.s) {
		t.Error("the date is not the cached one")
	}
}
