package hostile

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// javaEscape matches the Java \uXXXX escapes of botocore's patterns.
var javaEscape = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)

// fromPattern generates a string matching a model pattern, or false when
// the pattern is not one Go's regexp/syntax can parse. Repetitions are kept
// short (the length bounds are the model's min and max, applied after).
func fromPattern(r *rand.Rand, pattern string) (string, bool) {
	re, err := syntax.Parse(javaEscape.ReplaceAllString(pattern, `\x{$1}`), syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	genRegexp(r, &b, re.Simplify(), 0)
	return b.String(), utf8.ValidString(b.String())
}

func genRegexp(r *rand.Rand, b *strings.Builder, re *syntax.Regexp, depth int) {
	if depth > 30 {
		return
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, c := range re.Rune {
			b.WriteRune(c)
		}
	case syntax.OpCharClass:
		if len(re.Rune) >= 2 {
			i := 2 * r.IntN(len(re.Rune)/2)
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > 1000 {
				hi = lo + 1000
			}
			c := lo + rune(r.IntN(int(hi-lo)+1))
			if c >= 0xd800 && c <= 0xdfff {
				c = 'a'
			}
			b.WriteRune(c)
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a' + byte(r.IntN(26)))
	case syntax.OpCapture:
		genRegexp(r, b, re.Sub[0], depth+1)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			genRegexp(r, b, s, depth+1)
		}
	case syntax.OpAlternate:
		genRegexp(r, b, re.Sub[r.IntN(len(re.Sub))], depth+1)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 3
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 || hi > lo+3 {
				hi = lo + 3
			}
		}
		if lo > 64 {
			lo = 64
		}
		if hi < lo {
			hi = lo
		}
		n := lo + r.IntN(hi-lo+1)
		for i := 0; i < n; i++ {
			genRegexp(r, b, re.Sub[0], depth+1)
		}
	}
}
