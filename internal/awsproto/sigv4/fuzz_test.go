package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary Authorization headers, query strings and
// X-Amz-Date values to the parser: it must never panic, must fail only with
// *Error of a known kind, and must return a complete scope on success.
func FuzzParse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240517/us-east-1/workspaces/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "", "20240517T123045Z")
	f.Add("", "Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240517%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20240517T123045Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=", "X-Amz-Credential=%zz", "x")
	f.Add("AWS a:b", "X-Amz-Signature=1&X-Amz-Signature=2", "20241341T000000Z")
	f.Add("AWS4-HMAC-SHA256 ,,, =, Credential==", "X%2DAmz%2DAlgorithm=AWS4-HMAC-SHA256", "")
	// CI's fuzzing found this one: the first instant of year 1 is the zero
	// time.Time, and a valid X-Amz-Date.
	f.Add("AWS4-HMAC-SHA256 Credential=0/00010101/0/0/aws4_request,SignedHeaders=host;x-amz-date,Signature=0000000000000000000000000000000000000000000000000000000000000000", "", "00010101T000000Z")
	f.Fuzz(func(t *testing.T, authz, rawQuery, amzDate string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: rawQuery}, Host: "h", Header: http.Header{}}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		res, err := Parse(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind < KindMissing || e.Kind > KindExpired || e.Message == "" {
				t.Fatalf("bad error %#v", err)
			}
			if res != nil {
				t.Fatal("result with error")
			}
			return
		}
		if res.AccessKeyID == "" || res.Region == "" || res.Service == "" {
			t.Fatalf("incomplete result %+v", res)
		}
		// The time is the one time.Parse reads from the X-Amz-Date the
		// request carried (0001-01-01T00:00:00Z is a valid date and the
		// zero time.Time: a zero check cannot tell it from a missing one).
		date := amzDate
		if res.Presigned {
			date = r.URL.Query().Get("X-Amz-Date")
		}
		want, perr := time.Parse("20060102T150405Z", date)
		if perr != nil || !res.SignedAt.Equal(want) {
			t.Fatalf("SignedAt %v from X-Amz-Date %q (time.Parse: %v, %v)", res.SignedAt, date, want, perr)
		}
	})
}
