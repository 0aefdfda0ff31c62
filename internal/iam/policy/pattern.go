package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

type atomKind uint8

const (
	aLit  atomKind = iota // literal text
	aOne                  // ? : exactly one character
	aStar                 // * : any run of characters
	aVar                  // ${key} or ${key, 'default'}
)

// variable is a policy variable reference, e.g. ${aws:PrincipalTag/team, 'x'}.
type variable struct {
	key    string // lower-case context key
	orig   string // key as written
	def    string
	hasDef bool
}

type atom struct {
	kind atomKind
	lit  string
	v    *variable
}

// pattern is a precompiled string pattern: literal text, optionally with
// glob wildcards (* and ?) and policy variables. Variable values are always
// inserted literally (they never act as wildcards).
type pattern struct {
	raw    string
	chunks [][]atom // pattern = chunks[0] * chunks[1] * ... * chunks[n-1]
	star0  bool     // pattern starts with *
	starN  bool     // pattern ends with *
	hasVar bool
	isLit  bool // no wildcards and no variables: raw is the literal
	any    bool // the pattern is exactly "*" (matches everything)
}

// errUnresolved is never returned to callers; it marks an unresolved variable.
var errUnresolved = errors.New("unresolved policy variable")

// compilePattern compiles s. With vars, ${...} is a policy variable; with
// glob, * and ? are wildcards.
func compilePattern(s string, vars, glob bool) (pattern, error) {
	p := pattern{raw: s}
	var cur []atom
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			cur = append(cur, atom{kind: aLit, lit: lit.String()})
			lit.Reset()
		}
	}
	hasWild := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return p, fmt.Errorf("unterminated policy variable in %q", s)
			}
			body := s[i+2 : i+2+end]
			i += 3 + end
			switch body {
			case "*", "?", "$":
				lit.WriteString(body)
				continue
			}
			v, err := parseVariable(body)
			if err != nil {
				return p, fmt.Errorf("%v in %q", err, s)
			}
			flush()
			cur = append(cur, atom{kind: aVar, v: v})
			p.hasVar = true
		case glob && c == '*':
			flush()
			hasWild = true
			if len(cur) == 0 && len(p.chunks) == 0 {
				p.star0 = true
			} else {
				p.chunks = append(p.chunks, cur)
			}
			cur = nil
			for i < len(s) && s[i] == '*' {
				i++
			}
			if i == len(s) {
				p.starN = true
			}
			continue
		case glob && c == '?':
			flush()
			hasWild = true
			cur = append(cur, atom{kind: aOne})
			i++
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	if !p.starN || len(p.chunks) == 0 {
		p.chunks = append(p.chunks, cur)
	}
	p.isLit = !hasWild && !p.hasVar
	if p.isLit {
		// Literal text may differ from raw when ${*} and friends were used.
		var b strings.Builder
		for _, c := range p.chunks {
			for _, a := range c {
				b.WriteString(a.lit)
			}
		}
		p.raw = b.String()
	}
	p.any = p.star0 && len(p.chunks) == 1 && len(p.chunks[0]) == 0
	return p, nil
}

func parseVariable(body string) (*variable, error) {
	v := &variable{}
	key := body
	if i := strings.IndexByte(body, ','); i >= 0 {
		key = body[:i]
		d := strings.TrimSpace(body[i+1:])
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return nil, fmt.Errorf("policy variable default value must be in single quotes, e.g. ${aws:username, 'default'}")
		}
		v.def, v.hasDef = d[1:len(d)-1], true
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, errors.New("empty policy variable name")
	}
	if strings.ContainsAny(key, "${}'") {
		return nil, fmt.Errorf("invalid policy variable name %q", key)
	}
	v.orig, v.key = key, strings.ToLower(key)
	return v, nil
}

// resolver resolves policy variables against a request context.
type resolver interface {
	resolve(v *variable) (string, bool)
}

// atomsMatchAt matches the chunk c at s[i:] and returns the end offset.
func atomsMatchAt(c []atom, s string, i int, fold bool, r resolver) (int, bool, error) {
	for _, a := range c {
		switch a.kind {
		case aLit:
			if len(s)-i < len(a.lit) || !eqMaybeFold(s[i:i+len(a.lit)], a.lit, fold) {
				return 0, false, nil
			}
			i += len(a.lit)
		case aOne:
			if i >= len(s) {
				return 0, false, nil
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		case aVar:
			val, ok := r.resolve(a.v)
			if !ok {
				return 0, false, errUnresolved
			}
			if len(s)-i < len(val) || !eqMaybeFold(s[i:i+len(val)], val, fold) {
				return 0, false, nil
			}
			i += len(val)
		}
	}
	return i, true, nil
}

func eqMaybeFold(a, b string, fold bool) bool {
	if !fold {
		return a == b
	}
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x != y {
			if 'A' <= x && x <= 'Z' {
				x += 'a' - 'A'
			}
			if 'A' <= y && y <= 'Z' {
				y += 'a' - 'A'
			}
			if x != y {
				return false
			}
		}
	}
	return true
}

// match reports whether s matches the pattern. fold selects ASCII
// case-insensitive comparison. An unresolved variable returns errUnresolved.
func (p *pattern) match(s string, fold bool, r resolver) (bool, error) {
	if p.any {
		return true, nil
	}
	if p.isLit {
		return eqMaybeFold(s, p.raw, fold), nil
	}
	if p.hasVar && !p.resolvable(r) {
		return false, errUnresolved
	}
	n := len(p.chunks)
	if !p.star0 && !p.starN && n == 1 {
		end, ok, err := atomsMatchAt(p.chunks[0], s, 0, fold, r)
		return ok && end == len(s), err
	}
	pos, first, last := 0, 0, n
	if !p.star0 {
		end, ok, err := atomsMatchAt(p.chunks[0], s, 0, fold, r)
		if err != nil || !ok {
			return false, err
		}
		pos, first = end, 1
	}
	limit := len(s)
	if !p.starN {
		last = n - 1
		if last < first {
			return false, nil
		}
		found := false
		for j := len(s); j >= pos; j-- {
			end, ok, err := atomsMatchAt(p.chunks[last], s, j, fold, r)
			if err != nil {
				return false, err
			}
			if ok && end == len(s) {
				limit, found = j, true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	for k := first; k < last; k++ {
		found := false
		for j := pos; j <= limit; j++ {
			end, ok, err := atomsMatchAt(p.chunks[k], s, j, fold, r)
			if err != nil {
				return false, err
			}
			if ok && end <= limit {
				pos, found = end, true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// resolvable reports whether every variable of the pattern resolves.
func (p *pattern) resolvable(r resolver) bool {
	for _, c := range p.chunks {
		for _, a := range c {
			if a.kind == aVar {
				if _, ok := r.resolve(a.v); !ok {
					return false
				}
			}
		}
	}
	return true
}

// resolveString concatenates the pattern with variables resolved. Only valid
// for patterns compiled without glob.
func (p *pattern) resolveString(r resolver) (string, bool) {
	if p.isLit {
		return p.raw, true
	}
	var b strings.Builder
	for _, c := range p.chunks {
		for _, a := range c {
			switch a.kind {
			case aLit:
				b.WriteString(a.lit)
			case aVar:
				v, ok := r.resolve(a.v)
				if !ok {
					return "", false
				}
				b.WriteString(v)
			}
		}
	}
	return b.String(), true
}

// variables returns the variables referenced by the pattern.
func (p *pattern) variables(fn func(*variable)) {
	for _, c := range p.chunks {
		for _, a := range c {
			if a.kind == aVar {
				fn(a.v)
			}
		}
	}
}

// splitARN splits s into its six ARN parts (the sixth holds everything after
// the fifth colon). With vars, colons inside ${...} do not split.
func splitARN(s string, vars bool) ([6]string, bool) {
	var parts [6]string
	n, start := 0, 0
	for i := 0; i < len(s) && n < 5; i++ {
		if vars && s[i] == '$' && i+1 < len(s) && s[i+1] == '{' {
			if end := strings.IndexByte(s[i:], '}'); end > 0 {
				i += end
				continue
			}
		}
		if s[i] == ':' {
			parts[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	if n < 5 {
		return parts, false
	}
	parts[5] = s[start:]
	return parts, true
}

// arnPattern is a compiled ARN pattern matched part by part: a wildcard in
// one of the first five parts cannot cross a colon; in the resource part it
// can span anything (including / and :).
type arnPattern struct {
	raw   string
	any   bool // "*"
	never bool // not an ARN: matches nothing (Arn* condition values only)
	parts [6]pattern
}

func compileARNPattern(s string, vars bool, varsOnlyInResource bool) (arnPattern, error) {
	ap := arnPattern{raw: s}
	if s == "*" {
		ap.any = true
		return ap, nil
	}
	parts, ok := splitARN(s, vars)
	if !ok || parts[0] != "arn" {
		return ap, fmt.Errorf("%q is not a valid ARN (expected arn:partition:service:region:account:resource)", s)
	}
	for i, part := range parts {
		pv := vars
		if varsOnlyInResource && i < 5 {
			if vars && strings.Contains(part, "${") {
				return ap, fmt.Errorf("policy variables are only allowed in the resource part of an ARN (after the fifth colon): %q", s)
			}
			pv = false
		}
		p, err := compilePattern(part, pv, true)
		if err != nil {
			return ap, err
		}
		ap.parts[i] = p
	}
	return ap, nil
}

func (ap *arnPattern) match(s string, r resolver) (bool, error) {
	if ap.any {
		return true, nil
	}
	if ap.never {
		return false, nil
	}
	parts, ok := splitARN(s, false)
	if !ok {
		return false, nil
	}
	for i := range ap.parts {
		if ap.parts[i].hasVar && !ap.parts[i].resolvable(r) {
			return false, errUnresolved
		}
	}
	for i := range ap.parts {
		if m, _ := ap.parts[i].match(parts[i], false, r); !m {
			return false, nil
		}
	}
	return true, nil
}
