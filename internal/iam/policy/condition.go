package policy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type family uint8

const (
	fString family = iota + 1
	fNumeric
	fDate
	fBool
	fBinary
	fIP
	fARN
	fNull
)

type cmpKind uint8

const (
	cmpEq cmpKind = iota
	cmpLT
	cmpLE
	cmpGT
	cmpGE
)

// opInfo describes a base condition operator (without IfExists or a set
// qualifier).
type opInfo struct {
	family     family
	negated    bool
	ignoreCase bool
	like       bool
	cmp        cmpKind
	vars       bool // policy variables allowed in values (2012-10-17 only)
}

// operators lists every base condition operator of the IAM reference
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
// Operator names are matched case-sensitively.
var operators = map[string]opInfo{
	"StringEquals":              {family: fString, vars: true},
	"StringNotEquals":           {family: fString, negated: true, vars: true},
	"StringEqualsIgnoreCase":    {family: fString, ignoreCase: true, vars: true},
	"StringNotEqualsIgnoreCase": {family: fString, ignoreCase: true, negated: true, vars: true},
	"StringLike":                {family: fString, like: true, vars: true},
	"StringNotLike":             {family: fString, like: true, negated: true, vars: true},
	"NumericEquals":             {family: fNumeric},
	"NumericNotEquals":          {family: fNumeric, negated: true},
	"NumericLessThan":           {family: fNumeric, cmp: cmpLT},
	"NumericLessThanEquals":     {family: fNumeric, cmp: cmpLE},
	"NumericGreaterThan":        {family: fNumeric, cmp: cmpGT},
	"NumericGreaterThanEquals":  {family: fNumeric, cmp: cmpGE},
	"DateEquals":                {family: fDate},
	"DateNotEquals":             {family: fDate, negated: true},
	"DateLessThan":              {family: fDate, cmp: cmpLT},
	"DateLessThanEquals":        {family: fDate, cmp: cmpLE},
	"DateGreaterThan":           {family: fDate, cmp: cmpGT},
	"DateGreaterThanEquals":     {family: fDate, cmp: cmpGE},
	"Bool":                      {family: fBool},
	"BinaryEquals":              {family: fBinary},
	"IpAddress":                 {family: fIP},
	"NotIpAddress":              {family: fIP, negated: true},
	"ArnEquals":                 {family: fARN, vars: true},
	"ArnLike":                   {family: fARN, vars: true},
	"ArnNotEquals":              {family: fARN, negated: true, vars: true},
	"ArnNotLike":                {family: fARN, negated: true, vars: true},
	"Null":                      {family: fNull},
}

type qualifier uint8

const (
	qNone qualifier = iota
	qForAll
	qForAny
)

type condValue struct {
	str    pattern
	arn    arnPattern
	num    float64
	t      time.Time
	bin    []byte
	prefix netip.Prefix
	b      bool
}

// condition is one (operator, key) pair of a Condition block with its
// precompiled values.
type condition struct {
	operator string // as written, e.g. "ForAllValues:StringEqualsIfExists"
	op       opInfo
	qual     qualifier
	ifExists bool
	key      string // lower-case
	keyOrig  string
	values   []condValue
}

func parseOperator(name string) (opInfo, qualifier, bool, error) {
	q := qNone
	base := name
	switch {
	case strings.HasPrefix(base, "ForAllValues:"):
		q, base = qForAll, base[len("ForAllValues:"):]
	case strings.HasPrefix(base, "ForAnyValue:"):
		q, base = qForAny, base[len("ForAnyValue:"):]
	}
	ifExists := false
	if strings.HasSuffix(base, "IfExists") {
		ifExists, base = true, strings.TrimSuffix(base, "IfExists")
	}
	op, ok := operators[base]
	if !ok {
		return op, q, false, fmt.Errorf("unknown condition operator %q", name)
	}
	if op.family == fNull && (ifExists || q != qNone) {
		return op, q, false, fmt.Errorf("condition operator %q is not allowed: Null cannot be combined with IfExists or a set qualifier", name)
	}
	return op, q, ifExists, nil
}

// parseNumber accepts an optional sign, digits and an optional fraction.
// Exponents, NaN and Inf are refused.
func parseNumber(s string) (float64, bool) {
	t := s
	if t != "" && (t[0] == '-' || t[0] == '+') {
		t = t[1:]
	}
	if t == "" {
		return 0, false
	}
	digits, dot := 0, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z",
}

// parseDate accepts W3C ISO 8601 date/times (UTC when no offset is given)
// and epoch seconds (integer or decimal).
func parseDate(s string) (time.Time, bool) {
	if f, ok := parseNumber(s); ok {
		if f > 1e13 || f < -1e13 {
			return time.Time{}, false
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, false
		}
		if p.Addr().Is4In6() {
			return p, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

func compileValue(op opInfo, s string, vars bool) (condValue, error) {
	var v condValue
	var err error
	switch op.family {
	case fString:
		v.str, err = compilePattern(s, vars && op.vars, op.like)
	case fARN:
		v.arn, err = compileARNPattern(s, vars && op.vars, false)
		if err != nil {
			// AWS does not validate ARN condition values; a value that is not
			// a six-part ARN (or "*") can never match.
			v.arn, err = arnPattern{raw: s, never: true}, nil
		}
	case fNumeric:
		var ok bool
		if v.num, ok = parseNumber(s); !ok {
			err = fmt.Errorf("%q is not a valid number", s)
		}
	case fDate:
		var ok bool
		if v.t, ok = parseDate(s); !ok {
			err = fmt.Errorf("%q is not a valid date (use ISO 8601, e.g. 2024-01-31T12:00:00Z, or epoch seconds)", s)
		}
	case fBool, fNull:
		var ok bool
		if v.b, ok = parseBool(s); !ok {
			err = fmt.Errorf("%q is not a valid boolean (use \"true\" or \"false\")", s)
		}
	case fBinary:
		if v.bin, err = base64.StdEncoding.DecodeString(s); err != nil {
			err = fmt.Errorf("%q is not valid base64", s)
		}
	case fIP:
		var ok bool
		if v.prefix, ok = parseCIDR(s); !ok {
			err = fmt.Errorf("%q is not a valid IP address or CIDR block", s)
		}
	}
	return v, err
}

// matchOne reports whether the request value rv matches the policy value pv
// under the positive form of the operator. Unparsable request values and
// unresolved policy variables never match.
func (c *condition) matchOne(rv string, pv *condValue, r resolver) bool {
	switch c.op.family {
	case fString:
		switch {
		case c.op.like:
			m, err := pv.str.match(rv, false, r)
			return err == nil && m
		case c.op.ignoreCase:
			s, ok := pv.str.resolveString(r)
			return ok && strings.EqualFold(rv, s)
		default:
			if pv.str.isLit {
				return rv == pv.str.raw
			}
			m, err := pv.str.match(rv, false, r)
			return err == nil && m
		}
	case fARN:
		m, err := pv.arn.match(rv, r)
		return err == nil && m
	case fNumeric:
		f, ok := parseNumber(rv)
		return ok && compare(cmpFloat(f, pv.num), c.op.cmp)
	case fDate:
		t, ok := parseDate(rv)
		return ok && compare(t.Compare(pv.t), c.op.cmp)
	case fBool:
		b, ok := parseBool(rv)
		return ok && b == pv.b
	case fBinary:
		b, err := base64.StdEncoding.DecodeString(rv)
		return err == nil && bytes.Equal(b, pv.bin)
	case fIP:
		a, err := netip.ParseAddr(rv)
		if err != nil {
			return false
		}
		return pv.prefix.Contains(a.Unmap())
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(c int, k cmpKind) bool {
	switch k {
	case cmpEq:
		return c == 0
	case cmpLT:
		return c < 0
	case cmpLE:
		return c <= 0
	case cmpGT:
		return c > 0
	case cmpGE:
		return c >= 0
	}
	return false
}

func (c *condition) anyValue(rv string, r resolver) bool {
	for i := range c.values {
		if c.matchOne(rv, &c.values[i], r) {
			return true
		}
	}
	return false
}

// eval evaluates the condition against the request context.
//
// A key that is present with zero values is treated exactly like a missing
// key (AWS calls both a "null data set"): ForAllValues is true, ForAnyValue
// is false, Null:"true" matches, IfExists yields true, plain positive
// operators are false and plain negated operators are true.
func (c *condition) eval(cv *ctxView) bool {
	vals, present := cv.lookup(c.key)
	present = present && len(vals) > 0
	if c.op.family == fNull {
		for i := range c.values {
			if c.values[i].b == !present {
				return true
			}
		}
		return false
	}
	switch c.qual {
	case qForAll:
		// True when absent/empty; otherwise every request value must be
		// matched (positive) or match no policy value (negated).
		if !present {
			return true
		}
		for _, rv := range vals {
			if c.anyValue(rv, cv) == c.op.negated {
				return false
			}
		}
		return true
	case qForAny:
		// False when absent/empty; otherwise at least one request value must
		// be matched (positive) or match no policy value (negated).
		if !present {
			return false
		}
		for _, rv := range vals {
			if c.anyValue(rv, cv) != c.op.negated {
				return true
			}
		}
		return false
	}
	if !present {
		return c.ifExists || c.op.negated
	}
	m := false
	for _, rv := range vals {
		if c.anyValue(rv, cv) {
			m = true
			break
		}
	}
	return m != c.op.negated
}
