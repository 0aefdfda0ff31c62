package awsproto

import (
	"regexp/syntax"
	"unicode/utf8"
)

// simplePattern matches, without regexp, a pattern of the shape most
// model patterns have: anchored at both ends, a run of literals and single
// character classes, and at most one repeated class, last
// (`^wsb-[0-9a-z]{8,63}$`, `^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`). As
// nothing follows the repeated class, matching it greedily is exactly what
// regexp does. TestSimplePatternAsRegexp holds the two equal.
type simplePattern struct {
	items []simpleItem
	// rep is the last, repeated class (nil without one); it matches from
	// min to max runes (max < 0: no bound).
	rep      *simpleItem
	min, max int
}

// simpleItem is one rune: lit, or a rune in ranges (pairs lo, hi).
type simpleItem struct {
	lit    rune
	ranges []rune
}

func (it *simpleItem) has(r rune) bool {
	if it.ranges == nil {
		return r == it.lit
	}
	for i := 0; i+1 < len(it.ranges); i += 2 {
		if r >= it.ranges[i] && r <= it.ranges[i+1] {
			return true
		}
	}
	return false
}

// compileSimple returns pattern's simplePattern, or nil when pattern has
// another shape (regexp matches it then).
func compileSimple(pattern string) *simplePattern {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil
	}
	subs = subs[1 : len(subs)-1]
	p := &simplePattern{}
	for i, sub := range subs {
		switch sub.Op {
		case syntax.OpLiteral:
			if sub.Flags&syntax.FoldCase != 0 {
				return nil
			}
			for _, r := range sub.Rune {
				p.items = append(p.items, simpleItem{lit: r})
			}
		case syntax.OpCharClass:
			p.items = append(p.items, simpleItem{ranges: sub.Rune})
		case syntax.OpRepeat, syntax.OpPlus, syntax.OpStar:
			if i != len(subs)-1 || sub.Flags&syntax.NonGreedy != 0 || len(sub.Sub) != 1 || sub.Sub[0].Op != syntax.OpCharClass {
				return nil
			}
			p.rep = &simpleItem{ranges: sub.Sub[0].Rune}
			switch sub.Op {
			case syntax.OpRepeat:
				p.min, p.max = sub.Min, sub.Max
			case syntax.OpPlus:
				p.min, p.max = 1, -1
			default:
				p.min, p.max = 0, -1
			}
		default:
			return nil
		}
	}
	return p
}

// match reports whether s matches the pattern. A byte that is not valid
// UTF-8 is read as utf8.RuneError, as regexp reads it.
func (p *simplePattern) match(s string) bool {
	i := 0
	for k := range p.items {
		if i >= len(s) {
			return false
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !p.items[k].has(r) {
			return false
		}
		i += n
	}
	if p.rep == nil {
		return i == len(s)
	}
	count := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !p.rep.has(r) {
			return false
		}
		i += n
		count++
	}
	return count >= p.min && (p.max < 0 || count <= p.max)
}
