package awsproto

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Validate checks a decoded input value against its `v` struct tags, the
// constraints of the AWS model: `v:"required,min=1,max=25,enum=A|B,pattern=^d-"`.
// min/max bound a string's length, a number's value and a list's, map's or
// blob's size; nonempty refuses an empty list or string ("Member must not be
// empty"). On a list of strings, enum and pattern hold each member, and
// mmin/mmax bound each member's length. A plain (non-pointer) string or
// number that is zero counts as absent. It returns a message naming the
// member path the way AWS's validation does (each member name's first letter
// lower-cased, a list's element as "N.member", a map's value by its key), or
// "" when valid.
func Validate(in any) string {
	st := vstates.Get().(*vstate)
	f := validateAny(reflect.ValueOf(in), st)
	*st = vstate{} // holds no value of the request past the call
	vstates.Put(st)
	if f == nil {
		return ""
	}
	slices.Reverse(f.path)
	return f.msg(strings.Join(f.path, "."))
}

// failure is a constraint a member fails. Its path is gathered on the way
// back up from the member (innermost first) and its message written at the
// top, so valid input, the usual case, builds no strings.
type failure struct {
	path []string
	msg  func(path string) string
}

func fail(msg func(path string) string) *failure { return &failure{msg: msg} }

type rule struct {
	pointer  bool // the field is a pointer (absent is nil, not "")
	index    int
	name     string
	required bool
	nonempty bool
	min, max *float64
	// mmin and mmax bound the length of each member of a list of strings.
	mmin, mmax *float64
	enum       map[string]bool
	enumList   string
	pattern    *regexp.Regexp
	// runs is pattern matched without the regexp engine, when it is of
	// that form (compileRuns), else nil.
	runs *runPattern
	// slot is the rule's entry in vstate.passed.
	slot uint8
}

// parseRules reads the v tags of struct type t's exported members, in
// order. A member without a tag has a rule that checks nothing.
func parseRules(t reflect.Type) []rule {
	var rules []rule
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := lowerFirst(memberName(f))
		r := rule{index: i, name: name, pointer: f.Type.Kind() == reflect.Pointer, slot: uint8(ruleSlots.Add(1) % 16)}
		for _, part := range splitTag(f.Tag.Get("v")) {
			k, val, _ := strings.Cut(part, "=")
			switch k {
			case "required":
				r.required = true
			case "nonempty":
				r.nonempty = true
			case "min", "max", "mmin", "mmax":
				x, err := strconv.ParseFloat(val, 64)
				if err != nil {
					panic(fmt.Sprintf("awsproto: %s.%s: v tag %q: %v", t, f.Name, part, err))
				}
				switch k {
				case "min":
					r.min = &x
				case "max":
					r.max = &x
				case "mmin":
					r.mmin = &x
				default:
					r.mmax = &x
				}
			case "enum":
				r.enum = map[string]bool{}
				for _, e := range strings.Split(val, "|") {
					r.enum[e] = true
				}
				r.enumList = strings.ReplaceAll(val, "|", ", ")
			case "pattern":
				r.pattern = regexp.MustCompile(val)
				r.runs = compileRuns(val)
			default:
				// A misspelt constraint would otherwise go unchecked.
				panic(fmt.Sprintf("awsproto: %s.%s: unknown v tag %q", t, f.Name, part))
			}
		}
		rules = append(rules, r)
	}
	return rules
}

// splitTag splits on commas that are not inside a pattern (pattern= must be last).
func splitTag(tag string) []string {
	if tag == "" {
		return nil
	}
	var out []string
	for tag != "" {
		if strings.HasPrefix(tag, "pattern=") {
			out = append(out, tag)
			break
		}
		part, rest, _ := strings.Cut(tag, ",")
		out = append(out, part)
		tag = rest
	}
	return out
}

func memberName(f reflect.StructField) string {
	for _, key := range []string{"json", "query", "xml"} {
		if tag := f.Tag.Get(key); tag != "" && tag != "-" {
			n, _, _ := strings.Cut(tag, ",")
			if n != "" {
				return n
			}
		}
	}
	return f.Name
}

// vstate is one Validate call's memory: the last value each of a few
// patterns matched. A request's list members usually repeat the same
// directory and bundle ids, so each pattern runs once per distinct value
// in a row, not once per member.
type vstate struct {
	matched [4]struct {
		re *regexp.Regexp
		s  string
	}
	next int
	// passed holds the last string each of a few rules (by rule.slot)
	// passed: a request's list members repeat the same ids, names and
	// enums, and a string a rule passed passes it again.
	passed [16]struct {
		r *rule
		s string
	}
}

// ruleSlots numbers the rules parsed, for their slots in vstate.passed:
// a struct's rules take consecutive slots.
var ruleSlots atomic.Uint32

// checkRuleString is checkString with the rule's own bounds, answering a
// string the rule passed last in its slot at once.
func (st *vstate) checkRuleString(r *rule, s string) *failure {
	m := &st.passed[r.slot]
	if m.r == r && m.s == s {
		return nil
	}
	if f := checkString(r, s, r.min, r.max, st); f != nil {
		return f
	}
	m.r, m.s = r, s
	return nil
}

// vstates keeps the calls' vstates: the compiled checks take it through
// function values, so one on the stack would escape to the heap.
var vstates = sync.Pool{New: func() any { return new(vstate) }}

// matches reports whether re matches s, remembering the last match of re.
func (st *vstate) matches(re *regexp.Regexp, s string) bool {
	slot := -1
	for i := range st.matched {
		if st.matched[i].re == re {
			if st.matched[i].s == s {
				return true
			}
			slot = i
			break
		}
	}
	if !re.MatchString(s) {
		return false
	}
	if slot < 0 {
		slot = st.next
		st.next = (st.next + 1) % len(st.matched)
		st.matched[slot].re = re
	}
	st.matched[slot].s = s
	return true
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.String:
		return false // presence of strings is tracked by pointers when it matters
	}
	return false
}

const (
	nullMsg     = "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null"
	emptyMsg    = "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must not be empty"
	patternMsg  = "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s"
	enumMsg     = "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]"
	listEnumMsg = "1 validation error detected: Value '[%s]' at '%s' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [%s]]"
	minLenMsg   = "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %v"
	maxLenMsg   = "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %v"
	minSizeMsg  = "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %v"
	maxSizeMsg  = "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %v"
	minValueMsg = "1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %v"
	maxValueMsg = "1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %v"
)

// pathMsg is a failure whose message names only the path.
func pathMsg(format string, args ...any) *failure {
	return fail(func(path string) string {
		return fmt.Sprintf(format, append([]any{path}, args...)...)
	})
}

// valueMsg is a failure whose message names the value, then the path.
func valueMsg(format, value string, args ...any) *failure {
	return fail(func(path string) string {
		return fmt.Sprintf(format, append([]any{clip(value), path}, args...)...)
	})
}

// memberOf is a failure of the i-th (0-based) member of a list: its path
// is the list's followed by "N.member".
func memberOf(f *failure, i int) *failure {
	f.path = append(f.path, "member", strconv.Itoa(i+1))
	return f
}

// checkRule returns the failure of v to satisfy r, or nil. Compiled
// checks run it, through reflect, on members of the shapes they have no
// function of their own for (a float, a map, a pointer to a list...).
func checkRule(r *rule, v reflect.Value, st *vstate) *failure {
	if isEmpty(v) {
		if r.required {
			return pathMsg(nullMsg)
		}
		return nil
	}
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if s == "" && !r.pointer {
			// A plain string field cannot tell absent from empty: absent
			// optional members are valid, absent required ones are null.
			if r.required {
				return pathMsg(nullMsg)
			}
			return nil
		}
		if s == "" && r.nonempty {
			return pathMsg(emptyMsg)
		}
		return checkString(r, s, r.min, r.max, st)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n == 0 && !r.pointer {
			// As with plain strings, a plain number's zero is absent.
			if r.required {
				return pathMsg(nullMsg)
			}
			return nil
		}
		return checkInt(r, n)
	case reflect.Float64:
		n := v.Float()
		if r.min != nil && n < *r.min || r.max != nil && n > *r.max {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: Member must be within range", n, path)
			})
		}
	case reflect.Slice, reflect.Map:
		if f := checkSize(r, v.Len()); f != nil {
			return f
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
			return checkMembers(r, v, st)
		}
	}
	return nil
}

// checkString holds a string to its length bounds, enum and pattern.
func checkString(r *rule, s string, lo, hi *float64, st *vstate) *failure {
	n := float64(utf8.RuneCountInString(s))
	if lo != nil && n < *lo {
		return valueMsg(minLenMsg, s, *lo)
	}
	if hi != nil && n > *hi {
		return valueMsg(maxLenMsg, s, *hi)
	}
	if r.enum != nil && !r.enum[s] {
		return valueMsg(enumMsg, s, r.enumList)
	}
	if r.pattern != nil && !r.matchPattern(s, st) {
		return valueMsg(patternMsg, s, r.pattern.String())
	}
	return nil
}

// matchPattern reports whether s matches r's pattern: by its runs when it
// has them, else by the regexp (remembered in st).
func (r *rule) matchPattern(s string, st *vstate) bool {
	if r.runs != nil {
		return r.runs.match(s)
	}
	return st.matches(r.pattern, s)
}

// checkMembers is checkStrings on a list of strings read through reflect.
func checkMembers(r *rule, v reflect.Value, st *vstate) *failure {
	list := make([]string, v.Len())
	for i := range list {
		list[i] = v.Index(i).String()
	}
	return checkStrings(r, list, st)
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
