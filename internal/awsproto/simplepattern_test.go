package awsproto

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestSimplePatternAsRegexp: every pattern compileSimple takes matches
// what regexp matches, over random strings near and far from it.
func TestSimplePatternAsRegexp(t *testing.T) {
	patterns := []string{
		`^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`, `^wsb-[0-9a-z]{8,63}$`, `^ws-[0-9a-z]{8,63}$`, `^d-[0-9a-f]{10}$`,
		`^[A-Za-z0-9_+=,.@-]+$`, `^wsinst-[0-9a-zA-Z]{8,63}$`, `^wspool-[0-9a-z]{9}$`, `^\d{12}$`, `^[\w\-.]+$`,
		`^[d]-[0-9a-f]{10}$`, `^[a-zA-Z0-9:/_-]+$`, `^b+$`, `^[^:]*$`, `^x[^a]{0,3}$`, `^é[é-ü]{2,}$`, `^$`, `^ab$`,
		// Shapes it refuses:
		`^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)`, `wsi-[0-9a-z]{9,63}$`, `^arn:.*$`, `^(?i)ab$`, `^[a-z]{1,3}[a-z]$`,
		`^link-.{8,24}$`, `^[a-z]+?$`, `^([a-zA-Z0-9_])[a-z]*$`,
	}
	simple := map[string]bool{}
	for _, p := range patterns {
		simple[p] = compileSimple(p) != nil
	}
	for _, p := range []string{`^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`, `^wsb-[0-9a-z]{8,63}$`, `^ws-[0-9a-z]{8,63}$`, `^[A-Za-z0-9_+=,.@-]+$`} {
		if !simple[p] {
			t.Errorf("%s is not matched without regexp", p)
		}
	}
	for _, p := range []string{`^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)`, `wsi-[0-9a-z]{9,63}$`, `^arn:.*$`, `^(?i)ab$`, `^[a-z]{1,3}[a-z]$`, `^[a-z]+?$`} {
		if simple[p] {
			t.Errorf("%s taken, but its shape is not the simple one", p)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "z", "A", "0", "9", "_", "(", ")", ".", "-", "d", "w", "s", "b", "i", "n", "t", "p", "o", "l", "x",
		"ws-", "wsb-", "d-", ":", "/", "@", " ", "é", "ü", "\xff", "日", "\n", "+", "=", ","}
	for _, p := range patterns {
		sp := compileSimple(p)
		if sp == nil {
			continue
		}
		re := regexp.MustCompile(p)
		for range 20000 {
			var b strings.Builder
			if r.IntN(2) == 0 { // start like the pattern's literal prefix
				b.WriteString(strings.TrimPrefix(p[:strings.IndexAny(p+"[", "[")], "^"))
			}
			for range r.IntN(70) {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
			s := b.String()
			if sp.match(s) != re.MatchString(s) {
				t.Fatalf("%s on %q: simple %v, regexp %v", p, s, sp.match(s), re.MatchString(s))
			}
		}
	}
}
