package sigv4

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseDigitsDate checks the dates' own reader against time.Parse of
// their layouts: the same answer for valid dates, edge days, mutated
// digits and stray characters (but a signed year, which time.Parse takes
// and the reader refuses), and what it accepts formats back to itself
// (the canonical request and the string to sign use the header's text).
func TestParseDigitsDate(t *testing.T) {
	cases := []string{
		"20261206T155000Z", "20240229T000000Z", "20230229T000000Z", "20261231T235959Z", "20260101T000000Z",
		"20261301T000000Z", "20260001T000000Z", "20260100T000000Z", "20260431T000000Z", "20260430T240000Z",
		"20260430T236000Z", "20260430T235960Z", "20260430 235959Z", "20260430T235959z", "2026043T235959Z",
		"20260430T235959ZZ", "2026-04-30T23:59:59Z", "00000101T000000Z", "99991231T235959Z", "",
		"20261206", "20240229", "20230229", "20261306", "2026120a", "+0261206", "-0261206T155000Z",
	}
	r := rand.New(rand.NewPCG(1, 2))
	const digits = "0123456789T Z+-:a"
	for range 20000 {
		base := time.Unix(r.Int64N(1<<35), 0).UTC().Format(amzDateLayout)
		b := []byte(base)
		for range r.IntN(3) {
			b[r.IntN(len(b))] = digits[r.IntN(len(digits))]
		}
		cases = append(cases, string(b), string(b[:8]))
	}
	for _, s := range cases {
		layout := amzDateLayout
		if len(s) <= len(scopeDateLayout) {
			layout = scopeDateLayout
		}
		want, err := time.Parse(layout, s)
		wantOK := err == nil && len(s) == len(layout) && !strings.ContainsAny(s[:4], "+-")
		got, ok := parseDigitsDate(s, len(layout))
		if ok != wantOK || (ok && !got.Equal(want)) {
			t.Fatalf("%q: got %v %v, time.Parse %v %v", s, got, ok, want, err)
		}
		if ok && got.Format(layout) != s {
			t.Fatalf("%q formats back as %q", s, got.Format(layout))
		}
	}
}

// TestHeaderValues finds a signed header's values under the key net/http
// stores it by, as Header.Values does.
func TestHeaderValues(t *testing.T) {
	h := http.Header{}
	names := []string{"x-amz-target", "amz-sdk-invocation-id", "content-type", "x-a", "a", "x--b", "-x", "x_y-z", "x.y-1a",
		"x-amz-meta-" + strings.Repeat("a", 60), "accept-encoding", "x-amz-security-token"}
	for i, n := range names {
		h.Add(n, fmt.Sprint("v", i))
		h.Add(n, fmt.Sprint("w", i))
	}
	for _, n := range append(names, "x-amz-absent", "host") {
		if got, want := headerValues(h, n), h.Values(n); !slices.Equal(got, want) {
			t.Errorf("%q: %q, Values %q", n, got, want)
		}
	}
}

// TestDaysIn holds the month lengths to time.Date's for every month of
// the years a date's four digits can spell.
func TestDaysIn(t *testing.T) {
	for y := 0; y <= 9999; y++ {
		for m := 1; m <= 12; m++ {
			if got, want := daysIn(m, y), time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("%04d-%02d: %d days, time.Date %d", y, m, got, want)
			}
		}
	}
}

// TestValidHeaderName holds the table to RFC 7230's token characters,
// lowercase: every byte alone, and at each place of a longer name.
func TestValidHeaderName(t *testing.T) {
	want := func(s string) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
			default:
				return false
			}
		}
		return true
	}
	for _, base := range []string{"", "x-amz-date", "a"} {
		for i := 0; i <= len(base); i++ {
			for c := range 256 {
				s := base[:i] + string([]byte{byte(c)}) + base[i:]
				if got := validHeaderName(s); got != want(s) {
					t.Fatalf("%q: %v, want %v", s, got, want(s))
				}
			}
		}
	}
	if validHeaderName("") {
		t.Fatal(`"" is a header name`)
	}
}
