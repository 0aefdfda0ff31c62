package awsproto

import "regexp/syntax"

// runPattern is a pattern of the model's commonest form, matched without
// the regexp engine: anchored at both ends (^...$), a sequence of runs,
// each an ASCII character class (or one character) repeated between min
// and max times, such that each run's length is told by the string alone:
// a run of varying length ends at the end or before a run that needs at
// least one character of a class it does not share. An id's pattern
// (^wsb-[0-9a-z]{8,63}$) or a name's (^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$)
// is such a pattern: each of a request's desktops names one, and the
// regexp engine took about 0.5 µs a desktop for it. compileRuns builds one
// only for a pattern it is sure of; any other stays with package regexp.
// TestRunPatternAsRegexp holds the two equal on every pattern of the model.
type runPattern struct {
	runs []charRun
}

// charRun is one run: its characters' set (ASCII) and its length's bounds
// (max -1: unbounded).
type charRun struct {
	set      [2]uint64
	min, max int
}

func (r *charRun) has(c byte) bool { return c < 128 && r.set[c>>6]&(1<<(c&63)) != 0 }

// match reports whether s matches the pattern, as regexp's MatchString
// would. A byte past ASCII is in no run's set, so a string holding one
// does not match (nor does it the regexp: every character of s must fall
// in an ASCII class).
func (p *runPattern) match(s string) bool {
	i := 0
	for k := range p.runs {
		r := &p.runs[k]
		n := 0
		for i < len(s) && (r.max < 0 || n < r.max) && r.has(s[i]) {
			i++
			n++
		}
		if n < r.min {
			return false
		}
	}
	return i == len(s)
}

// compileRuns is expr's runPattern, or nil when expr is not of its form
// (regexp then matches it).
func compileRuns(expr string) *runPattern {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	var nodes []*syntax.Regexp
	var flatten func(n *syntax.Regexp)
	flatten = func(n *syntax.Regexp) {
		switch n.Op {
		case syntax.OpConcat:
			for _, s := range n.Sub {
				flatten(s)
			}
		case syntax.OpCapture:
			flatten(n.Sub[0])
		case syntax.OpLiteral:
			// One node per character, each a run of one.
			for _, c := range n.Rune {
				nodes = append(nodes, &syntax.Regexp{Op: syntax.OpLiteral, Flags: n.Flags, Rune: []rune{c}})
			}
		default:
			nodes = append(nodes, n)
		}
	}
	flatten(re)
	if len(nodes) < 2 || nodes[0].Op != syntax.OpBeginText || nodes[len(nodes)-1].Op != syntax.OpEndText {
		return nil
	}
	p := &runPattern{}
	for _, n := range nodes[1 : len(nodes)-1] {
		r, ok := runOf(n)
		if !ok {
			return nil
		}
		p.runs = append(p.runs, r)
	}
	// Each run of varying length must end where the string says: at the
	// end, or before a run that needs a character it cannot take.
	for k := range p.runs {
		r := &p.runs[k]
		if r.min == r.max || k == len(p.runs)-1 {
			continue
		}
		next := &p.runs[k+1]
		if next.min < 1 || r.set[0]&next.set[0] != 0 || r.set[1]&next.set[1] != 0 {
			return nil
		}
	}
	return p
}

// runOf is node n as a run, if it is one: a character class or a
// character, alone or repeated.
func runOf(n *syntax.Regexp) (charRun, bool) {
	r := charRun{min: 1, max: 1}
	sub := n
	switch n.Op {
	case syntax.OpRepeat:
		r.min, r.max = n.Min, n.Max
		sub = n.Sub[0]
	case syntax.OpPlus:
		r.min, r.max = 1, -1
		sub = n.Sub[0]
	case syntax.OpStar:
		r.min, r.max = 0, -1
		sub = n.Sub[0]
	case syntax.OpQuest:
		r.min, r.max = 0, 1
		sub = n.Sub[0]
	}
	if r.min < 0 || r.max >= 0 && r.max < r.min {
		return r, false
	}
	switch sub.Op {
	case syntax.OpLiteral:
		if len(sub.Rune) != 1 || sub.Flags&syntax.FoldCase != 0 || sub.Rune[0] >= 128 {
			return r, false
		}
		c := sub.Rune[0]
		r.set[c>>6] |= 1 << (c & 63)
	case syntax.OpCharClass:
		for i := 0; i+1 < len(sub.Rune); i += 2 {
			lo, hi := sub.Rune[i], sub.Rune[i+1]
			if lo < 0 || hi >= 128 || lo > hi {
				return r, false
			}
			for c := lo; c <= hi; c++ {
				r.set[c>>6] |= 1 << (c & 63)
			}
		}
	default:
		return r, false
	}
	return r, true
}
