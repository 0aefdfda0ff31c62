package awsproto

import (
	"regexp"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// simplePattern is a pattern of the usual id shape, `^wsb-[0-9a-z]{8,63}$`:
// anchored at both ends, a run of characters of a set each, each run with
// a count. It matches as its regexp does, without the regexp machine. A
// pattern is taken only when each run's length is forced, so matching
// needs no backtracking: a run whose count varies is followed by a
// run of at least one character from a set it shares none with.
type simplePattern []patRun

type patRun struct {
	ascii    [2]uint64 // the set's characters below 128
	ranges   []rune    // all of the set, as lo, hi pairs
	min, max int       // max < 0: no bound
}

func (p *patRun) has(r rune) bool {
	if r < utf8.RuneSelf {
		return p.ascii[r>>6]&(1<<(r&63)) != 0
	}
	for i := 0; i+1 < len(p.ranges); i += 2 {
		if r < p.ranges[i] {
			return false
		}
		if r <= p.ranges[i+1] {
			return true
		}
	}
	return false
}

// match reports whether s matches the pattern.
func (p simplePattern) match(s string) bool {
	pos := 0
	for i := range p {
		run := &p[i]
		n := 0
		for (run.max < 0 || n < run.max) && pos < len(s) {
			r, w := rune(s[pos]), 1
			if r >= utf8.RuneSelf {
				r, w = utf8.DecodeRuneInString(s[pos:])
			}
			if !run.has(r) {
				break
			}
			pos += w
			n++
		}
		if n < run.min {
			return false
		}
	}
	return pos == len(s)
}

// compileSimple is re as a simplePattern, or nil when it is not of that
// shape.
func compileSimple(re *regexp.Regexp) simplePattern {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil || t.Op != syntax.OpConcat || len(t.Sub) < 2 {
		return nil
	}
	subs := t.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil
	}
	var p simplePattern
	if !flatten(subs[1:len(subs)-1], &p) {
		return nil
	}
	for i := 0; i+1 < len(p); i++ {
		if p[i].min != p[i].max && (p[i+1].min < 1 || overlap(p[i].ranges, p[i+1].ranges)) {
			return nil
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

func flatten(subs []*syntax.Regexp, p *simplePattern) bool {
	for _, s := range subs {
		switch s.Op {
		case syntax.OpConcat:
			if !flatten(s.Sub, p) {
				return false
			}
		case syntax.OpCapture:
			if !flatten(s.Sub, p) {
				return false
			}
		case syntax.OpLiteral:
			if s.Flags&syntax.FoldCase != 0 {
				return false
			}
			for _, r := range s.Rune {
				*p = append(*p, newRun([]rune{r, r}, 1, 1))
			}
		case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
			set, ok := charSet(s)
			if !ok {
				return false
			}
			*p = append(*p, newRun(set, 1, 1))
		case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
			set, ok := charSet(s.Sub[0])
			if !ok {
				return false
			}
			lo, hi := s.Min, s.Max
			switch s.Op {
			case syntax.OpStar:
				lo, hi = 0, -1
			case syntax.OpPlus:
				lo, hi = 1, -1
			case syntax.OpQuest:
				lo, hi = 0, 1
			}
			*p = append(*p, newRun(set, lo, hi))
		default:
			return false
		}
	}
	return true
}

// charSet is the set of a one-character expression, as lo, hi pairs.
func charSet(s *syntax.Regexp) ([]rune, bool) {
	switch s.Op {
	case syntax.OpLiteral:
		if len(s.Rune) != 1 || s.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []rune{s.Rune[0], s.Rune[0]}, true
	case syntax.OpCharClass:
		return s.Rune, len(s.Rune)%2 == 0
	case syntax.OpAnyCharNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}, true
	case syntax.OpAnyChar:
		return []rune{0, unicode.MaxRune}, true
	}
	return nil, false
}

func newRun(set []rune, lo, hi int) patRun {
	run := patRun{ranges: set, min: lo, max: hi}
	for i := 0; i+1 < len(set); i += 2 {
		for r := set[i]; r <= set[i+1] && r < utf8.RuneSelf; r++ {
			run.ascii[r>>6] |= 1 << (r & 63)
		}
	}
	return run
}

func overlap(a, b []rune) bool {
	for i := 0; i+1 < len(a); i += 2 {
		for j := 0; j+1 < len(b); j += 2 {
			if a[i] <= b[j+1] && b[j] <= a[i+1] {
				return true
			}
		}
	}
	return false
}
