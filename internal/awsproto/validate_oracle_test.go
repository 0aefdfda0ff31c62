package awsproto

// The walk Validate was before it was compiled per type, kept as the
// oracle that TestCompiledValidateAsTheWalk holds the compiled checks to.

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

func oracleValidate(in any) string {
	var st ostate
	f := oracleValue(reflect.ValueOf(in), &st)
	if f == nil {
		return ""
	}
	slices.Reverse(f.path)
	return f.msg(strings.Join(f.path, "."))
}

type orule struct {
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
}

var oplans sync.Map // reflect.Type -> []orule

func oraclePlanFor(t reflect.Type) []orule {
	if p, ok := oplans.Load(t); ok {
		return p.([]orule)
	}
	var rules []orule
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := lowerFirst(memberName(f))
		r := orule{index: i, name: name, pointer: f.Type.Kind() == reflect.Pointer}
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
			default:
				// A misspelt constraint would otherwise go unchecked.
				panic(fmt.Sprintf("awsproto: %s.%s: unknown v tag %q", t, f.Name, part))
			}
		}
		rules = append(rules, r)
	}
	oplans.Store(t, rules)
	return rules
}

// ostate is one Validate call's memory: the last value each of a few
// patterns matched. A request's list members usually repeat the same
// directory and bundle ids, so each pattern runs once per distinct value
// in a row, not once per member.
type ostate struct {
	matched [4]struct {
		re *regexp.Regexp
		s  string
	}
	next int
}

// matches reports whether re matches s, remembering the last match of re.
func (st *ostate) omatches(re *regexp.Regexp, s string) bool {
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

func oracleValue(v reflect.Value, st *ostate) *failure {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		rules := oraclePlanFor(v.Type())
		for i := range rules {
			r := &rules[i]
			fv := v.Field(r.index)
			f := oracleRule(r, fv, st)
			if f == nil {
				f = oracleValue(fv, st)
			}
			if f != nil {
				f.path = append(f.path, r.name)
				return f
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if f := oracleValue(v.Index(i), st); f != nil {
				return memberOf(f, i)
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if f := oracleValue(it.Value(), st); f != nil {
				f.path = append(f.path, fmt.Sprint(it.Key().Interface()))
				return f
			}
		}
	}
	return nil
}

func oracleIsEmpty(v reflect.Value) bool {
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

// oracleRule returns the failure of v to satisfy r, or nil.
func oracleRule(r *orule, v reflect.Value, st *ostate) *failure {
	if oracleIsEmpty(v) {
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
		return oracleString(r, s, r.min, r.max, st)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n == 0 && !r.pointer {
			// As with plain strings, a plain number's zero is absent.
			if r.required {
				return pathMsg(nullMsg)
			}
			return nil
		}
		if r.min != nil && float64(n) < *r.min {
			return fail(func(path string) string { return fmt.Sprintf(minValueMsg, n, path, *r.min) })
		}
		if r.max != nil && float64(n) > *r.max {
			return fail(func(path string) string { return fmt.Sprintf(maxValueMsg, n, path, *r.max) })
		}
	case reflect.Float64:
		n := v.Float()
		if r.min != nil && n < *r.min || r.max != nil && n > *r.max {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: Member must be within range", n, path)
			})
		}
	case reflect.Slice, reflect.Map:
		n := float64(v.Len())
		if n == 0 && r.nonempty {
			return pathMsg(emptyMsg)
		}
		if r.min != nil && n < *r.min {
			return pathMsg(minSizeMsg, *r.min)
		}
		if r.max != nil && n > *r.max {
			return pathMsg(maxSizeMsg, *r.max)
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
			return oracleMembers(r, v, st)
		}
	}
	return nil
}

// oracleString holds a string to its length bounds, enum and pattern.
func oracleString(r *orule, s string, lo, hi *float64, st *ostate) *failure {
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
	if r.pattern != nil && !st.omatches(r.pattern, s) {
		return valueMsg(patternMsg, s, r.pattern.String())
	}
	return nil
}

// oracleMembers holds each member of a list of strings to the rule's enum
// (one message naming the whole list, as AWS words it), member lengths and
// pattern (a message naming the member).
func oracleMembers(r *orule, v reflect.Value, st *ostate) *failure {
	if r.enum != nil {
		for i := 0; i < v.Len(); i++ {
			if !r.enum[v.Index(i).String()] {
				list := make([]string, v.Len())
				for j := range list {
					list[j] = v.Index(j).String()
				}
				return valueMsg(listEnumMsg, strings.Join(list, ", "), r.enumList)
			}
		}
	}
	if r.pattern == nil && r.mmin == nil && r.mmax == nil {
		return nil
	}
	each := orule{pattern: r.pattern}
	for i := 0; i < v.Len(); i++ {
		if f := oracleString(&each, v.Index(i).String(), r.mmin, r.mmax, st); f != nil {
			return memberOf(f, i)
		}
	}
	return nil
}
