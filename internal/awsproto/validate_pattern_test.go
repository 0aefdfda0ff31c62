package awsproto

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// modelPatterns are the patterns of the v tags in internal/, and a few
// more shapes.
var modelPatterns = []string{
	`(^([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\.([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\.0\.0)(\/(16$))$`,
	`[^:].*`,
	`[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}`,
	`^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])(\/(3[0-2]|[1-2][0-9]|[0-9]))$`,
	`^(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(\.(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)){3}$`,
	`^([a-z0-9-]+)\.([a-z0-9]+)$`,
	`^([a-zA-Z0-9]+[\.-])+([a-zA-Z0-9])+$`,
	`^([a-zA-Z0-9_])[\\a-zA-Z0-9_@#%*+=:?./!\s-]*$`,
	`^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)`,
	`^(http|https)\://\S+`,
	`^(http|https)\://\S+$`,
	`^(sg-([0-9a-f]{8}|[0-9a-f]{17}))$`,
	`^(vpc-[0-9a-f]{8}|vpc-[0-9a-f]{17})$`,
	`^.{1,64}$`,
	`^[-0-9a-z]{1,31}$`,
	`^[.0-9a-zA-Z\-]{1,255}$`,
	`^[A-Za-z0-9][A-Za-z0-9_.-]+$`,
	`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`,
	`^[A-Za-z0-9_+=,.@-]*$`,
	`^[A-Za-z0-9_+=,.@-]+$`,
	`^[A-Za-z0-9_+=,.@-]+$`,
	`^[A-Za-z0-9_+=,.@:/-]*$`,
	`^[A-Za-z0-9_./()!*'-]+$`,
	`^[A-Za-z0-9_]+$`,
	`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`,
	`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`,
	`^[\w+=,.@:/-]+$`,
	`^[\w\-.]+$`,
	`^[\w]+$`,
	`^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,4}$`,
	`^[a-zA-Z0-9._-]+$`,
	`^[a-zA-Z0-9:/_-]+$`,
	`^[a-zA-Z0-9\_\-]{1,1000}$`,
	`^[a-zA-Z0-9][a-zA-Z0-9_.\s-]{1,64}$`,
	`^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`,
	`^[a-zA-Z0-9_./() -]+$`,
	`^[a-zA-Z0-9_./()\\-]+$`,
	`^[a-z]+$`,
	`^[a-z]{2}-[a-z]+-\d(?:[a-z]|-[a-z]+-\d[a-z])$`,
	`^[ab]+$`,
	`^[d]-[0-9a-f]{10}$`,
	`^\\d{12}$`,
	`^\\d{12}|AMAZON$`,
	`^a+$`,
	`^ami-[0-9a-zA-Z]{1,63}$`,
	`^ami\\-([a-f0-9]{8}|[a-f0-9]{17})$`,
	`^arn:.*$`,
	`^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws(?:-[a-z-]+)?):image/[a-z0-9-_]+/(?:(?:([0-9]+|x)\\.([0-9]+|x)\\.([0-9]+|x))|(?:[0-9]+\\.[0-9]+\\.[0-9]+/[0-9]+))$`,
	`^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws):infrastructure-configuration/[a-z0-9-_]+$`,
	`^b+$`,
	`^c+$`,
	`^d+$`,
	`^d-`,
	`^d-[0-9a-f]{10}$`,
	`^e+$`,
	`^eni-[0-9a-zA-Z]{1,63}$`,
	`^ephemeral(0|[1-9][0-9]{0,2})$`,
	`^h-[0-9a-zA-Z]{1,63}$`,
	`^import-ami\\-([a-zA-Z0-9]{8}|[a-zA-Z0-9]{17})$`,
	`^link-.{8,24}$`,
	`^pg-[0-9a-zA-Z]{1,63}$`,
	`^sg-[0-9a-zA-Z]{1,63}$`,
	`^snap-[0-9a-zA-Z]{1,63}$`,
	`^subnet-[0-9a-zA-Z]{1,63}$`,
	`^v[1-9][0-9]*([.][A-Za-z0-9-]*)?$`,
	`^vol-[0-9a-zA-Z]{1,63}$`,
	`^ws-[0-9a-z]{8,63}$`,
	`^wsa-[0-9a-z]{8,63}$`,
	`^wsb-[0-9a-z]{8,63}$`,
	`^wsca-[0-9a-z]{8,63}$`,
	`^wsinst-[0-9a-zA-Z]{8,63}$`,
	`^wspool-[0-9a-z]{9}$`,
	`wsi-[0-9a-z]{9,63}$`,
	`wsipg-[0-9a-z]{8,63}$`,
	`^[ab]+$`, `^a+$`, `^d-[0-9a-f]{10}$`, `^x?y*z+$`, `^[a-z]{1,3}[0-9]$`, `^(ab)$`, `^.{2,3}$`, `^\S{1,4}$`,
	`^[\p{L}\p{N}]{1,5}$`, `^a{2}b?$`, `^[a-z]*[0-9]*$`, `^(?i)abc$`, `^[^a-z]{0,3}$`, `^\d{12}$`,
}

// TestSimplePatternAsRegexp: a pattern taken as a simplePattern matches
// what its regexp matches, on strings made to fit it and changed by a
// character or two (invalid UTF-8, a newline and letters beyond ASCII
// among them); the id patterns of the model are taken.
func TestSimplePatternAsRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 10))
	extra := []string{"a", "Z", "0", "9", "-", ".", "_", " ", "\n", "\xff", "é", "日", "\\", ":", "@", "(", ")"}
	taken := 0
	for _, pat := range modelPatterns {
		re := regexp.MustCompile(pat)
		p := compileSimple(re)
		if p == nil {
			continue
		}
		taken++
		matched := 0
		for range 2000 {
			var b strings.Builder
			for _, run := range p {
				n := run.min + r.IntN(3)
				if run.max >= 0 && n > run.max {
					n = run.max
				}
				if r.IntN(20) == 0 {
					n = run.min + r.IntN(70)
				}
				for range n {
					k := r.IntN(len(run.ranges) / 2)
					lo, hi := run.ranges[2*k], run.ranges[2*k+1]
					if hi-lo > 300 {
						hi = lo + 300
					}
					c := lo + rune(r.IntN(int(hi-lo+1)))
					if !utf8.ValidRune(c) {
						c = 'a'
					}
					b.WriteRune(c)
				}
			}
			s := b.String()
			for range r.IntN(3) {
				i := 0
				if len(s) > 0 {
					i = r.IntN(len(s) + 1)
				}
				switch e := extra[r.IntN(len(extra))]; r.IntN(3) {
				case 0:
					s = s[:i] + e + s[i:]
				case 1:
					if i < len(s) {
						s = s[:i] + s[i+1:]
					}
				default:
					if i < len(s) {
						s = s[:i] + e + s[i+1:]
					}
				}
			}
			got, want := p.match(s), re.MatchString(s)
			if got != want {
				t.Fatalf("%s on %q: simple %v, regexp %v", pat, s, got, want)
			}
			if want {
				matched++
			}
		}
		if matched < 200 || matched > 1900 {
			t.Errorf("%s: %d of 2000 strings matched: the strings do not reach both answers", pat, matched)
		}
	}
	t.Logf("%d of %d patterns taken", taken, len(modelPatterns))
	for _, pat := range []string{`^wsb-[0-9a-z]{8,63}$`, `^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`, `^ws-[0-9a-z]{8,63}$`, `^d-[0-9a-f]{10}$`} {
		if compileSimple(regexp.MustCompile(pat)) == nil {
			t.Errorf("%s is not taken", pat)
		}
	}
	for _, pat := range []string{`^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)`, `^d-`, `wsi-[0-9a-z]{9,63}$`, `^[a-z]{1,3}[a-z]$`, `^(?i)abc$`, `^[a-z]*[0-9]*$`} {
		if compileSimple(regexp.MustCompile(pat)) != nil {
			t.Errorf("%s is taken", pat)
		}
	}
}
