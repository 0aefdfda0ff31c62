package sigv4

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAuthorizationParts holds parseHeader's loop over the Authorization
// header's comma-separated parts to strings.Split: a header with its parts
// spaced, emptied or repeated in any way parses as the same header written
// with its non-empty parts joined by ", " (what strings.Split finds), to
// the same result or the same error.
func TestAuthorizationParts(t *testing.T) {
	base, _ := sdkSign(t, jsonSpec())
	good := base.Header.Get("Authorization")
	alg, rest, _ := strings.Cut(good, " ")
	var parts []string
	for _, p := range strings.Split(rest, ",") {
		parts = append(parts, strings.Trim(p, " \t"))
	}
	if len(parts) != 3 {
		t.Fatalf("signed header has %d parts: %q", len(parts), good)
	}
	seps := []string{",", ", ", " ,", ",\t", ",,", ", ,", ",\t, ", " , , "}
	var headers []string
	for _, a := range seps {
		for _, b := range seps {
			for _, lead := range []string{"", ",", " , "} {
				for _, trail := range []string{"", ",", ", ", ",,"} {
					headers = append(headers, alg+" "+lead+parts[0]+a+parts[1]+b+parts[2]+trail)
					// One part left out, one doubled, one empty value.
					headers = append(headers, alg+" "+lead+parts[0]+a+parts[2]+trail)
					headers = append(headers, alg+" "+lead+parts[0]+a+parts[1]+b+parts[1]+trail)
					headers = append(headers, alg+" "+lead+parts[0]+a+"Signature="+b+parts[1]+trail)
				}
			}
		}
	}
	headers = append(headers, alg+" ", alg+" ,", alg+" , ,", alg+" "+parts[0]+"="+parts[1])
	ok := 0
	for _, h := range headers {
		var kept []string
		_, rest, _ := strings.Cut(h, " ")
		for _, p := range strings.Split(rest, ",") {
			if p = strings.Trim(p, " \t"); p != "" {
				kept = append(kept, p)
			}
		}
		want := parseOutcome(t, base, alg+" "+strings.Join(kept, ", "))
		got := parseOutcome(t, base, h)
		if got != want {
			t.Errorf("Authorization %q:\n got %s\nwant %s", h, got, want)
		}
		if strings.HasPrefix(got, "ok") {
			ok++
		}
	}
	if ok == 0 {
		t.Fatal("no header parsed")
	}
}

func parseOutcome(t *testing.T, base *http.Request, authz string) string {
	t.Helper()
	r := base.Clone(context.Background())
	r.Header.Set("Authorization", authz)
	p, err := parse(r, nil)
	if err != nil {
		return fmt.Sprintf("error %v %q", err.Kind, err.Message)
	}
	return fmt.Sprintf("ok %+v %q %q %v %x", p.Result, p.scopeDate, p.amzDate, p.signedHeaders, p.signature)
}
