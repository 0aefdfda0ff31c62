package sigv4

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestVerifyCheckedAgreesWithVerify: a request parsed once by CheckParsed
// and verified by VerifyChecked gets the same answer as Verify gives it,
// for good requests (header-signed and presigned) and for each way of
// failing after the parse: a tampered body, a time past the skew when the
// body arrives, an unknown key; a Checked of another request is not used.
func TestVerifyCheckedAgreesWithVerify(t *testing.T) {
	ctx := context.Background()
	now := testNow.Add(time.Minute)
	signed := func() (*http.Request, []byte) { return sdkSign(t, jsonSpec()) }
	presigned := func() (*http.Request, []byte) {
		return sdkPresign(t, reqSpec{method: http.MethodGet, service: "sts", url: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"}, "900")
	}
	answer := func(res *Result, err error) string {
		if err != nil {
			if e, ok := err.(*Error); ok {
				return fmt.Sprintf("error %v: %s", e.Kind, e.Message)
			}
			return "error " + err.Error()
		}
		return fmt.Sprintf("ok %+v", *res)
	}
	for _, tc := range []struct {
		name   string
		req    func() (*http.Request, []byte)
		body   func([]byte) []byte
		later  time.Duration // between the check and the verification
		lookup Lookup
	}{
		{name: "signed", req: signed},
		{name: "presigned", req: presigned},
		{name: "tampered body", req: signed, body: func(b []byte) []byte { return append(append([]byte{}, b...), ' ') }},
		{name: "expired while the body came", req: signed, later: MaxSkew + time.Minute},
		{name: "presigned expired while the body came", req: presigned, later: 20 * time.Minute},
		{name: "key gone while the body came", req: signed, lookup: testLookup(map[string]string{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, body := tc.req()
			ck, res, err := CheckParsed(ctx, r, now, defaultLookup)
			if err != nil {
				t.Fatalf("CheckParsed: %v", err)
			}
			if want, got := answer(Check(ctx, r, now, defaultLookup)), answer(res, nil); want != got {
				t.Fatalf("CheckParsed's result %s, Check's %s", got, want)
			}
			if tc.body != nil {
				body = tc.body(body)
			}
			lookup := defaultLookup
			if tc.lookup != nil {
				lookup = tc.lookup
			}
			at := now.Add(tc.later)
			want := answer(Verify(ctx, r, body, at, lookup))
			if got := answer(VerifyChecked(ctx, r, body, ck, at, lookup)); got != want {
				t.Fatalf("VerifyChecked: %s\nVerify:        %s", got, want)
			}
			// A Checked of another request is not taken for this one.
			other, _ := signed()
			ckOther, _, err := CheckParsed(ctx, other, now, defaultLookup)
			if err != nil {
				t.Fatal(err)
			}
			if got := answer(VerifyChecked(ctx, r, body, ckOther, at, lookup)); got != want {
				t.Fatalf("VerifyChecked with another request's Checked: %s, want %s", got, want)
			}
		})
	}
	// CheckParsed refuses what Check refuses.
	r, _ := signed()
	if _, _, err := CheckParsed(ctx, r, now.Add(time.Hour), defaultLookup); err == nil {
		t.Fatal("CheckParsed accepted a request signed an hour before")
	}
	if _, _, err := CheckParsed(ctx, r, now, testLookup(map[string]string{})); err == nil {
		t.Fatal("CheckParsed accepted an unknown key")
	}
}

// BenchmarkCheckThenVerify is the gateway's authentication of a request:
// the checks before the body (Check) and the verification after (Verify),
// parsing the request twice.
func BenchmarkCheckThenVerify(b *testing.B) {
	r, body := sdkSign(b, jsonSpec())
	ctx := context.Background()
	now := testNow.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Check(ctx, r, now, defaultLookup); err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(ctx, r, body, now, defaultLookup); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckParsedThenVerifyChecked is the same parsing once.
func BenchmarkCheckParsedThenVerifyChecked(b *testing.B) {
	r, body := sdkSign(b, jsonSpec())
	ctx := context.Background()
	now := testNow.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		ck, _, err := CheckParsed(ctx, r, now, defaultLookup)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := VerifyChecked(ctx, r, body, ck, now, defaultLookup); err != nil {
			b.Fatal(err)
		}
	}
}
