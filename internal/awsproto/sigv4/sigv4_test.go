package sigv4

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func jsonSpec() reqSpec {
	return reqSpec{
		body: `{"Limit":5}`,
		headers: map[string]string{
			"X-Amz-Target": "WorkspacesService.DescribeWorkspaces",
			"Content-Type": "application/x-amz-json-1.1",
		},
	}
}

func TestVerifySDKSigned(t *testing.T) {
	cases := []struct {
		name string
		spec reqSpec
	}{
		{"json", jsonSpec()},
		{"json session token", func() reqSpec { s := jsonSpec(); s.token = testToken; s.service = "kms"; return s }()},
		{"query form", reqSpec{
			url: "https://sts.amazonaws.com/", service: "sts",
			body:    "Action=GetCallerIdentity&Version=2011-06-15",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
		}},
		{"ec2 GET query params", reqSpec{
			method: http.MethodGet, service: "ec2", region: "eu-west-1",
			url: "https://ec2.eu-west-1.amazonaws.com/?Action=DescribeRegions&Version=2016-11-15&Filter.1.Name=region-name&Filter.1.Value.1=a%20b%2Fc~%2A&Empty=",
		}},
		{"restjson path and query", reqSpec{
			service: "ds-data", url: "https://ds-data.us-east-1.amazonaws.com/Users/ListUsers?DirectoryId=d-1234567890",
			body: `{}`, headers: map[string]string{"Content-Type": "application/json"},
		}},
		{"escaped path", reqSpec{
			method: http.MethodGet, service: "ds-data",
			url: "https://ds-data.us-east-1.amazonaws.com/Users/Jane%20Doe%2Fx/a~b",
		}},
		{"content sha256 header", func() reqSpec {
			s := jsonSpec()
			s.headers["X-Amz-Content-Sha256"] = hashHex([]byte(s.body))
			return s
		}()},
		{"unsigned payload", func() reqSpec {
			s := jsonSpec()
			s.headers["X-Amz-Content-Sha256"] = "UNSIGNED-PAYLOAD"
			return s
		}()},
		{"extra amz headers with spaces", func() reqSpec {
			s := jsonSpec()
			s.headers["Amz-Sdk-Invocation-Id"] = "e3a1b2c3"
			s.headers["X-Custom"] = "  a   b  c "
			return s
		}()},
		{"non-default port host", func() reqSpec { s := jsonSpec(); s.url = "http://127.0.0.1:4566/"; return s }()},
		{"empty body GET", reqSpec{method: http.MethodGet, service: "iam", url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := sdkSign(t, tc.spec)
			res, err := Verify(context.Background(), r, body, testNow.Add(time.Minute), defaultLookup)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			spec := tc.spec.defaults()
			want := Result{AccessKeyID: testAKID, Region: spec.region, Service: spec.service, SessionToken: spec.token, SignedAt: testNow}
			if *res != want {
				t.Fatalf("result = %+v, want %+v", *res, want)
			}
			pres, err := Parse(r)
			if err != nil || *pres != want {
				t.Fatalf("Parse = %+v, %v; want %+v", pres, err, want)
			}
		})
	}
}

func TestVerifySDKPresigned(t *testing.T) {
	cases := []struct {
		name    string
		spec    reqSpec
		expires string
	}{
		{"sts get caller identity", reqSpec{method: http.MethodGet, service: "sts", url: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"}, "900"},
		{"session token and signed header (EKS style)", reqSpec{
			method: http.MethodGet, service: "sts", token: testToken,
			url:     "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
			headers: map[string]string{"X-K8s-Aws-Id": "my-cluster"},
		}, "60"},
		{"no X-Amz-Expires", reqSpec{method: http.MethodGet, service: "ec2", url: "https://ec2.amazonaws.com/?Action=DescribeRegions"}, ""},
		{"week", reqSpec{method: http.MethodGet, service: "iam", url: "https://iam.amazonaws.com/?Action=ListUsers"}, "604800"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := sdkPresign(t, tc.spec, tc.expires)
			res, err := Verify(context.Background(), r, body, testNow.Add(30*time.Second), defaultLookup)
			if err != nil {
				t.Fatalf("Verify: %v (url %s)", err, r.URL)
			}
			spec := tc.spec.defaults()
			want := Result{AccessKeyID: testAKID, Region: spec.region, Service: spec.service, SessionToken: spec.token, SignedAt: testNow, Presigned: true}
			if *res != want {
				t.Fatalf("result = %+v, want %+v", *res, want)
			}
		})
	}
}

// TestSignedIgnoredHeaders covers clients that sign headers the SDK signer
// deliberately ignores (aws-sdk-java v1 signs User-Agent, for instance).
func TestSignedIgnoredHeaders(t *testing.T) {
	amzDate := testNow.Format(amzDateLayout)
	body := []byte(`{"KeyId":"x"}`)
	for _, extra := range [][][2]string{
		{{"user-agent", "aws-sdk-java/1.12.0 Linux/6.1"}},
		{{"user-agent", "ua"}, {"x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793"}},
		{{"expect", "100-continue"}},
		{{"connection", "keep-alive"}, {"content-type", "application/x-amz-json-1.1"}},
	} {
		t.Run(extra[0][0], func(t *testing.T) {
			hs := [][2]string{{"host", "kms.us-east-1.amazonaws.com"}, {"x-amz-date", amzDate}, {"x-amz-target", "TrentService.DescribeKey"}}
			hs = append(hs, extra...)
			signed, sig := refSign("POST", "/", "", hs, hashHex(body), amzDate, "us-east-1", "kms", testSecret)
			r, _ := http.NewRequest("POST", "https://kms.us-east-1.amazonaws.com/", strings.NewReader(string(body)))
			for _, h := range hs {
				if h[0] != "host" {
					r.Header.Set(h[0], h[1])
				}
			}
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/"+amzDate[:8]+"/us-east-1/kms/aws4_request, SignedHeaders="+signed+", Signature="+sig)
			sr, sb := toServer(t, r)
			if _, err := Verify(context.Background(), sr, sb, testNow, defaultLookup); err != nil {
				t.Fatalf("Verify: %v (signed %s)", err, signed)
			}
			// The ignored-by-the-SDK header is really covered by the signature.
			sr.Header.Set(extra[0][0], "tampered")
			_, err := Verify(context.Background(), sr, sb, testNow, defaultLookup)
			wantKind(t, err, KindMismatch)
		})
	}
}

// TestReferenceSignerAgrees cross-checks the test reference signer against
// the verifier for ordinary requests (guards the reference itself).
func TestReferenceSignerAgrees(t *testing.T) {
	amzDate := testNow.Format(amzDateLayout)
	hs := [][2]string{{"host", "ec2.amazonaws.com"}, {"x-amz-date", amzDate}}
	rawQuery := "Action=DescribeRegions&Filter.1.Value.1=a%20b%2Fc&Version=2016-11-15"
	signed, sig := refSign("GET", "/", rawQuery, hs, hashHex(nil), amzDate, "us-east-1", "ec2", testSecret)
	r, _ := http.NewRequest("GET", "https://ec2.amazonaws.com/?"+rawQuery, nil)
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/"+amzDate[:8]+"/us-east-1/ec2/aws4_request, SignedHeaders="+signed+", Signature="+sig)
	sr, sb := toServer(t, r)
	if _, err := Verify(context.Background(), sr, sb, testNow, defaultLookup); err != nil {
		t.Fatal(err)
	}
}

func TestRejections(t *testing.T) {
	ctx := context.Background()
	signedJSON := func(t *testing.T) (*http.Request, []byte) { return sdkSign(t, jsonSpec()) }
	ec2GET := reqSpec{method: http.MethodGet, service: "ec2", url: "https://ec2.amazonaws.com/?Action=DescribeRegions&Version=2016-11-15"}

	cases := []struct {
		name string
		kind Kind
		make func(t *testing.T) (*http.Request, []byte, time.Time)
	}{
		{"unsigned", KindMissing, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := toServer(t, jsonSpec().defaults().newClientRequest(t))
			return r, b, testNow
		}},
		{"unknown key", KindUnknownKey, func(t *testing.T) (*http.Request, []byte, time.Time) {
			s := jsonSpec()
			s.akid = "AKIDUNKNOWN"
			r, b := sdkSign(t, s)
			return r, b, testNow
		}},
		{"wrong secret", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			s := jsonSpec()
			s.secret = "not-the-secret"
			r, b := sdkSign(t, s)
			return r, b, testNow
		}},
		{"tampered body", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, _ := signedJSON(t)
			return r, []byte(`{"Limit":6}`), testNow
		}},
		{"tampered signed header", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			r.Header.Set("X-Amz-Target", "WorkspacesService.TerminateWorkspaces")
			return r, b, testNow
		}},
		{"signed header removed", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			r.Header.Del("X-Amz-Target")
			return r, b, testNow
		}},
		{"extra value for signed header", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			r.Header.Add("X-Amz-Target", "WorkspacesService.TerminateWorkspaces")
			return r, b, testNow
		}},
		{"tampered host", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			r.Host = "evil.example.com"
			return r, b, testNow
		}},
		{"tampered method", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			r.Method = http.MethodPut
			return r, b, testNow
		}},
		{"tampered path", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			r.URL.Path = "/other"
			return r, b, testNow
		}},
		{"tampered query value", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkSign(t, ec2GET)
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "DescribeRegions", "TerminateInstances", 1)
			return r, b, testNow
		}},
		{"added query param", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkSign(t, ec2GET)
			r.URL.RawQuery += "&DryRun=false"
			return r, b, testNow
		}},
		{"content sha256 not matching body", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			s := jsonSpec()
			s.headers["X-Amz-Content-Sha256"] = hashHex([]byte("something else"))
			r, b := sdkSign(t, s)
			return r, b, testNow
		}},
		{"tampered session token", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			s := jsonSpec()
			s.token = testToken
			r, b := sdkSign(t, s)
			r.Header.Set("X-Amz-Security-Token", "other-token")
			return r, b, testNow
		}},
		{"scope date differs from X-Amz-Date", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			setAuthParam(t, r, "Credential", testAKID+"/20240516/us-east-1/workspaces/aws4_request")
			return r, b, testNow
		}},
		{"scope region changed", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			setAuthParam(t, r, "Credential", testAKID+"/20240517/us-west-2/workspaces/aws4_request")
			return r, b, testNow
		}},
		{"scope service changed", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			setAuthParam(t, r, "Credential", testAKID+"/20240517/us-east-1/kms/aws4_request")
			return r, b, testNow
		}},
		{"signed header list changed", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			setAuthParam(t, r, "SignedHeaders", "content-length;host;x-amz-date")
			return r, b, testNow
		}},
		{"X-Amz-Date changed within skew", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			r.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format(amzDateLayout))
			return r, b, testNow
		}},
		{"skew past 15m1s", KindExpired, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			return r, b, testNow.Add(15*time.Minute + time.Second)
		}},
		{"skew future 15m1s", KindExpired, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := signedJSON(t)
			return r, b, testNow.Add(-15*time.Minute - time.Second)
		}},
		{"presign expired", KindExpired, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "60")
			return r, b, testNow.Add(61 * time.Second)
		}},
		{"presign without expires after 15m", KindExpired, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "")
			return r, b, testNow.Add(15*time.Minute + time.Second)
		}},
		{"presign in the future", KindExpired, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "3600")
			return r, b, testNow.Add(-16 * time.Minute)
		}},
		{"presign tampered query", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "60")
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "DescribeRegions", "RunInstances", 1)
			return r, b, testNow
		}},
		{"presign extended expiry", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "60")
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=60", "X-Amz-Expires=600", 1)
			return r, b, testNow.Add(2 * time.Minute)
		}},
		{"presign body added", KindMismatch, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, _ := sdkPresign(t, ec2GET, "60")
			return r, []byte("Action=RunInstances"), testNow
		}},
		{"presign expires too large", KindIncomplete, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "604801")
			return r, b, testNow
		}},
		{"presign expires zero", KindIncomplete, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "0")
			return r, b, testNow
		}},
		{"presign wrong algorithm", KindIncomplete, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "60")
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256", 1)
			return r, b, testNow
		}},
		{"presign missing signature", KindIncomplete, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "60")
			q := r.URL.Query()
			q.Del("X-Amz-Signature")
			r.URL.RawQuery = q.Encode()
			return r, b, testNow
		}},
		{"presign duplicate credential", KindIncomplete, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "60")
			r.URL.RawQuery += "&X-Amz-Credential=x"
			return r, b, testNow
		}},
		{"header and presign together", KindIncomplete, func(t *testing.T) (*http.Request, []byte, time.Time) {
			r, b := sdkPresign(t, ec2GET, "60")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
			return r, b, testNow
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, b, now := tc.make(t)
			res, err := Verify(ctx, r, b, now, defaultLookup)
			if res != nil {
				t.Fatalf("got result %+v", res)
			}
			wantKind(t, err, tc.kind)
		})
	}
}

func TestSkewBoundaries(t *testing.T) {
	r, b := sdkSign(t, jsonSpec())
	for _, d := range []time.Duration{15 * time.Minute, -15 * time.Minute, 15*time.Minute + 999*time.Millisecond - time.Second} {
		if _, err := Verify(context.Background(), r, b, testNow.Add(d), defaultLookup); err != nil {
			t.Errorf("skew %v: %v", d, err)
		}
	}
	_, err := Verify(context.Background(), r, b, testNow.Add(15*time.Minute+time.Second), defaultLookup)
	e := wantKind(t, err, KindExpired)
	want := "Signature expired: 20240517T123045Z is now earlier than 20240517T123046Z (20240517T124546Z - 15 min.)"
	if e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}
	_, err = Verify(context.Background(), r, b, testNow.Add(-15*time.Minute-time.Second), defaultLookup)
	e = wantKind(t, err, KindExpired)
	want = "Signature not yet current: 20240517T123045Z is still later than 20240517T123044Z (20240517T121544Z + 15 min.)"
	if e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}

	pr, pb := sdkPresign(t, reqSpec{method: http.MethodGet, service: "sts", url: "https://sts.amazonaws.com/?Action=GetCallerIdentity"}, "60")
	if _, err := Verify(context.Background(), pr, pb, testNow.Add(60*time.Second), defaultLookup); err != nil {
		t.Errorf("presign at expiry: %v", err)
	}
}

func TestMalformedAuthorization(t *testing.T) {
	base, body := sdkSign(t, jsonSpec())
	good := base.Header.Get("Authorization")
	cred := testAKID + "/20240517/us-east-1/workspaces/aws4_request"
	sig := strings.Repeat("ab", 32)
	cases := []struct {
		name, authz string
		mutate      func(r *http.Request)
	}{
		{"empty", "", nil},
		{"algorithm only", "AWS4-HMAC-SHA256", nil},
		{"wrong algorithm", strings.Replace(good, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1), nil},
		{"sigv4a", strings.Replace(good, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1), nil},
		{"sigv2", "AWS " + testAKID + ":c2lnbmF0dXJl", nil},
		{"bearer", "Bearer abc", nil},
		{"lowercase algorithm", strings.Replace(good, "AWS4-HMAC-SHA256", "aws4-hmac-sha256", 1), nil},
		{"missing credential", "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"missing signed headers", "AWS4-HMAC-SHA256 Credential=" + cred + ", Signature=" + sig, nil},
		{"missing signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date", nil},
		{"no equal sign", "AWS4-HMAC-SHA256 Credential" + cred + ", SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"duplicate param", "AWS4-HMAC-SHA256 Credential=" + cred + ", Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"unknown param", "AWS4-HMAC-SHA256 Credential=" + cred + ", Foo=bar, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential 4 parts", "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20240517/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential 6 parts", "AWS4-HMAC-SHA256 Credential=" + cred + "/x, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential empty akid", "AWS4-HMAC-SHA256 Credential=/20240517/us-east-1/workspaces/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential bad date", "AWS4-HMAC-SHA256 Credential=" + testAKID + "/2024-05-17/us-east-1/workspaces/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential impossible date", "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20241341/us-east-1/workspaces/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential empty region", "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20240517//workspaces/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential empty service", "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20240517/us-east-1//aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"credential bad terminator", "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20240517/us-east-1/workspaces/aws5_request, SignedHeaders=host;x-amz-date, Signature=" + sig, nil},
		{"signed headers without host", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=x-amz-date, Signature=" + sig, nil},
		{"signed headers without x-amz-date", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, nil},
		{"signed headers unsorted", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=x-amz-date;host, Signature=" + sig, nil},
		{"signed headers duplicate", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;host;x-amz-date, Signature=" + sig, nil},
		{"signed headers uppercase", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=Host;x-amz-date, Signature=" + sig, nil},
		{"signed headers empty name", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig, nil},
		{"signed headers empty", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=, Signature=" + sig, nil},
		{"signature short", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=abcd", nil},
		{"signature not hex", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("zz", 32), nil},
		{"missing X-Amz-Date", good, func(r *http.Request) { r.Header.Del("X-Amz-Date") }},
		{"bad X-Amz-Date", good, func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-05-17T12:30:45Z") }},
		{"two X-Amz-Date", good, func(r *http.Request) { r.Header.Add("X-Amz-Date", "20240517T123045Z") }},
		{"two Authorization headers", good, func(r *http.Request) { r.Header.Add("Authorization", good) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base.Clone(context.Background())
			r.Header.Set("Authorization", tc.authz)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			_, err := Parse(r)
			e := wantKind(t, err, KindIncomplete)
			if e.Message == "" {
				t.Fatal("empty message")
			}
			_, err = Verify(context.Background(), r, body, testNow, defaultLookup)
			wantKind(t, err, KindIncomplete)
		})
	}
}

func TestLookupError(t *testing.T) {
	r, b := sdkSign(t, jsonSpec())
	boom := errors.New("db down")
	_, err := Verify(context.Background(), r, b, testNow, func(context.Context, string) (string, bool, error) { return "", false, boom })
	var e *Error
	if errors.As(err, &e) || !errors.Is(err, boom) {
		t.Fatalf("want wrapped lookup error, got %v", err)
	}
}

func TestSecretRotation(t *testing.T) {
	keys := map[string]string{"AKIDROTATE": "secret-one"}
	var mu sync.Mutex
	lookup := func(_ context.Context, akid string) (string, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		s, ok := keys[akid]
		return s, ok, nil
	}
	s := jsonSpec()
	s.akid, s.secret = "AKIDROTATE", "secret-one"
	r1, b1 := sdkSign(t, s)
	if _, err := Verify(context.Background(), r1, b1, testNow, lookup); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	keys["AKIDROTATE"] = "secret-two"
	mu.Unlock()
	_, err := Verify(context.Background(), r1, b1, testNow, lookup)
	wantKind(t, err, KindMismatch)
	s.secret = "secret-two"
	r2, b2 := sdkSign(t, s)
	if _, err := Verify(context.Background(), r2, b2, testNow, lookup); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentVerify(t *testing.T) {
	keys := map[string]string{}
	for i := range 8 {
		keys[fmt.Sprintf("AKIDCONC%d", i)] = fmt.Sprintf("secret-%d", i)
	}
	lookup := testLookup(keys)
	type signed struct {
		r    *http.Request
		body []byte
	}
	var reqs []signed
	for i := range 8 {
		for _, svc := range []string{"workspaces", "kms", "ds"} {
			s := jsonSpec()
			s.akid, s.secret, s.service = fmt.Sprintf("AKIDCONC%d", i), fmt.Sprintf("secret-%d", i), svc
			r, b := sdkSign(t, s)
			reqs = append(reqs, signed{r, b})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				sr := reqs[(g+i)%len(reqs)]
				if _, err := Verify(context.Background(), sr.r, sr.body, testNow, lookup); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParseWithoutURLQuery(t *testing.T) {
	// A query value that looks like a presign parameter name does not make
	// the request presigned.
	s := reqSpec{method: http.MethodGet, service: "ds-data", url: "https://ds-data.us-east-1.amazonaws.com/Users?Filter=" + url.QueryEscape("X-Amz-Credential")}
	r, b := sdkSign(t, s)
	if _, err := Verify(context.Background(), r, b, testNow, defaultLookup); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	r, body := sdkSign(b, jsonSpec())
	ctx := context.Background()
	now := testNow.Add(time.Minute)
	if _, err := Verify(ctx, r, body, now, defaultLookup); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(ctx, r, body, now, defaultLookup); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPresigned(b *testing.B) {
	r, body := sdkPresign(b, reqSpec{method: http.MethodGet, service: "sts", url: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"}, "900")
	ctx := context.Background()
	now := testNow.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(ctx, r, body, now, defaultLookup); err != nil {
			b.Fatal(err)
		}
	}
}
