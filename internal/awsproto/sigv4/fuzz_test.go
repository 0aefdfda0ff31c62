package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
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
		if res.AccessKeyID == "" || res.Region == "" || res.Service == "" || res.SignedAt.IsZero() {
			t.Fatalf("incomplete result %+v", res)
		}
	})
}
