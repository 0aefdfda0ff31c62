package awsproto

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

// Validate checks a decoded input value against its `v` struct tags, the
// constraints of the AWS model: `v:"required,min=1,max=25,enum=A|B,pattern=^d-"`.
// min/max bound a string's length, a number's value and a list's or map's
// size. It returns a message naming the member path, or "" when valid.
func Validate(in any) string {
	f := validateValue(reflect.ValueOf(in))
	if f == nil {
		return ""
	}
	slices.Reverse(f.path)
	return f.msg(lowerFirst(strings.Join(f.path, ".")))
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
	min, max *float64
	enum     map[string]bool
	enumList string
	pattern  *regexp.Regexp
}

var plans sync.Map // reflect.Type -> []rule

func planFor(t reflect.Type) []rule {
	if p, ok := plans.Load(t); ok {
		return p.([]rule)
	}
	var rules []rule
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := memberName(f)
		r := rule{index: i, name: name, pointer: f.Type.Kind() == reflect.Pointer}
		for _, part := range splitTag(f.Tag.Get("v")) {
			k, val, _ := strings.Cut(part, "=")
			switch k {
			case "required":
				r.required = true
			case "min":
				x, _ := strconv.ParseFloat(val, 64)
				r.min = &x
			case "max":
				x, _ := strconv.ParseFloat(val, 64)
				r.max = &x
			case "enum":
				r.enum = map[string]bool{}
				for _, e := range strings.Split(val, "|") {
					r.enum[e] = true
				}
				r.enumList = strings.ReplaceAll(val, "|", ", ")
			case "pattern":
				r.pattern = regexp.MustCompile(val)
			}
		}
		rules = append(rules, r)
	}
	plans.Store(t, rules)
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

func validateValue(v reflect.Value) *failure {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		for _, r := range planFor(v.Type()) {
			fv := v.Field(r.index)
			f := checkRule(r, fv)
			if f == nil {
				f = validateValue(fv)
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
			if f := validateValue(v.Index(i)); f != nil {
				f.path = append(f.path, strconv.Itoa(i+1))
				return f
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if f := validateValue(it.Value()); f != nil {
				f.path = append(f.path, fmt.Sprint(it.Key().Interface()))
				return f
			}
		}
	}
	return nil
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

// checkRule returns the failure of v to satisfy r, or nil.
func checkRule(r rule, v reflect.Value) *failure {
	if isEmpty(v) {
		if r.required {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", path)
			})
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
				return fail(func(path string) string {
					return fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", path)
				})
			}
			return nil
		}
		n := float64(utf8.RuneCountInString(s))
		if r.min != nil && n < *r.min {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %v", clip(s), path, *r.min)
			})
		}
		if r.max != nil && n > *r.max {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %v", clip(s), path, *r.max)
			})
		}
		if r.enum != nil && !r.enum[s] {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", clip(s), path, r.enumList)
			})
		}
		if r.pattern != nil && !r.pattern.MatchString(s) {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", clip(s), path, r.pattern.String())
			})
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		n := float64(v.Int())
		if r.min != nil && n < *r.min {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %v", v.Int(), path, *r.min)
			})
		}
		if r.max != nil && n > *r.max {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %v", v.Int(), path, *r.max)
			})
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
		if r.min != nil && n < *r.min {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %v", path, *r.min)
			})
		}
		if r.max != nil && n > *r.max {
			return fail(func(path string) string {
				return fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %v", path, *r.max)
			})
		}
		if r.enum != nil && v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
			for i := 0; i < v.Len(); i++ {
				if s := v.Index(i).String(); !r.enum[s] {
					return fail(func(path string) string {
						return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", clip(s), path, r.enumList)
					})
				}
			}
		}
		// A pattern on a list of strings is each member's (DirectoryIds).
		if r.pattern != nil && v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
			for i := 0; i < v.Len(); i++ {
				if s := v.Index(i).String(); !r.pattern.MatchString(s) {
					return fail(func(path string) string {
						return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", clip(s), path, r.pattern.String())
					})
				}
			}
		}
	}
	return nil
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
