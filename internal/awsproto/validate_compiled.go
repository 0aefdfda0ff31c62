package awsproto

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Validate's checks are compiled once per type (validatorOf): a struct's
// checker visits only the members that have a constraint or hold one, at
// their offsets, with the tag parsed, the enum set and the pattern built
// beforehand, and a function for the member's shape (a string, a pointer
// to one, a number, a list of strings...). The order of the checks, and so
// the first violation found, is the walk's: each member in order, its own
// constraint, then what it holds. TestCompiledValidateAsTheWalk holds it to
// that walk, kept in validate_oracle_test.go.

// checkFn checks the value at p, of the type it was compiled for.
type checkFn func(p unsafe.Pointer, st *vstate) *failure

// validator is a type's compiled checks. fn is nil when the type holds no
// constraint anywhere (nothing to visit); while a recursive type is being
// compiled, fn is set once it is built and callers reach it through v.
type validator struct {
	fn   checkFn
	done bool         // built; a validator not done is its own type's member
	t    reflect.Type // the type it checks
}

var validators sync.Map // reflect.Type -> *validator, complete

// lastValidator is the last type validatorOf found in validators, and its
// checks: a run of calls of one operation finds its input's without a
// hash of the type (the map's lookup was 0.1 µs of a describe's).
var lastValidator atomic.Pointer[validator]

// validatorOf is t's compiled checks, built on first use.
func validatorOf(t reflect.Type) *validator {
	if l := lastValidator.Load(); l != nil && l.t == t {
		return l
	}
	if v, ok := validators.Load(t); ok {
		lastValidator.Store(v.(*validator))
		return v.(*validator)
	}
	// One compilation at a time: the first requests of a server, arriving
	// together, would otherwise each compile the same types (thousands of
	// objects each, which made a benchmark's allocation count vary from
	// run to run), and all but one would be thrown away.
	compileMu.Lock()
	defer compileMu.Unlock()
	if v, ok := validators.Load(t); ok {
		return v.(*validator)
	}
	building := map[reflect.Type]*validator{}
	v := compileType(t, building)
	for bt, bv := range building {
		validators.LoadOrStore(bt, bv)
	}
	return v
}

// compileMu serializes validatorOf's compilations.
var compileMu sync.Mutex

// validateAny checks the value v holds (as the walk took it: through any
// pointers and interfaces).
func validateAny(v reflect.Value, st *vstate) *failure {
	for v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return nil
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		val := validatorOf(v.Type().Elem())
		if val.fn == nil {
			return nil
		}
		return val.fn(v.UnsafePointer(), st)
	}
	val := validatorOf(v.Type())
	if val.fn == nil {
		return nil
	}
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	return val.fn(c.UnsafePointer(), st)
}

// compileType builds t's validator. building holds the types being built,
// so that a recursive type refers to itself; such a type counts as
// holding constraints.
func compileType(t reflect.Type, building map[reflect.Type]*validator) *validator {
	if v, ok := validators.Load(t); ok {
		return v.(*validator)
	}
	if v, ok := building[t]; ok {
		return v
	}
	v := &validator{t: t}
	building[t] = v
	v.fn = compileFn(t, building)
	v.done = true
	return v
}

// call is a checkFn that runs v's checks, or nil when v has none. A
// validator still being built (a recursive type) is called through v, so
// it is taken as having checks.
func call(v *validator, building map[reflect.Type]*validator) checkFn {
	if v.fn != nil {
		return v.fn
	}
	if v.done {
		return nil
	}
	return func(p unsafe.Pointer, st *vstate) *failure {
		if v.fn == nil {
			return nil
		}
		return v.fn(p, st)
	}
}

func compileFn(t reflect.Type, building map[reflect.Type]*validator) checkFn {
	switch t.Kind() {
	case reflect.Pointer:
		elem := call(compileType(t.Elem(), building), building)
		if elem == nil {
			return nil
		}
		return func(p unsafe.Pointer, st *vstate) *failure {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return nil
			}
			return elem(q, st)
		}
	case reflect.Interface:
		return func(p unsafe.Pointer, st *vstate) *failure {
			return validateAny(reflect.NewAt(t, p).Elem(), st)
		}
	case reflect.Struct:
		return compileStruct(t, building)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		elem := call(compileType(t.Elem(), building), building)
		if elem == nil {
			return nil
		}
		size := t.Elem().Size()
		return func(p unsafe.Pointer, st *vstate) *failure {
			s := (*sliceHeader)(p)
			for i := 0; i < s.len; i++ {
				if f := elem(unsafe.Add(s.data, uintptr(i)*size), st); f != nil {
					return memberOf(f, i)
				}
			}
			return nil
		}
	case reflect.Map:
		elem := call(compileType(t.Elem(), building), building)
		if elem == nil {
			return nil
		}
		et := t.Elem()
		return func(p unsafe.Pointer, st *vstate) *failure {
			m := reflect.NewAt(t, p).Elem()
			if m.Len() == 0 {
				return nil
			}
			val := reflect.New(et).Elem()
			it := m.MapRange()
			for it.Next() {
				val.SetIterValue(it)
				if f := elem(val.Addr().UnsafePointer(), st); f != nil {
					f.path = append(f.path, fmt.Sprint(it.Key().Interface()))
					return f
				}
			}
			return nil
		}
	}
	return nil
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// member is one struct member that has a constraint (check) or holds one
// (inner).
type member struct {
	off   uintptr
	name  string
	check checkFn
	inner checkFn
}

func compileStruct(t reflect.Type, building map[reflect.Type]*validator) checkFn {
	rules := parseRules(t)
	var members []member
	for i := range rules {
		r := &rules[i]
		f := t.Field(r.index)
		m := member{off: f.Offset, name: r.name, check: compileRule(r, f.Type)}
		m.inner = call(compileType(f.Type, building), building)
		if m.check == nil && m.inner == nil {
			continue
		}
		members = append(members, m)
	}
	if len(members) == 0 {
		return nil
	}
	return func(p unsafe.Pointer, st *vstate) *failure {
		for i := range members {
			m := &members[i]
			q := unsafe.Add(p, m.off)
			var f *failure
			if m.check != nil {
				f = m.check(q, st)
			}
			if f == nil && m.inner != nil {
				f = m.inner(q, st)
			}
			if f != nil {
				f.path = append(f.path, m.name)
				return f
			}
		}
		return nil
	}
}

// constrains reports whether r checks anything: a rule without it never
// fails.
func (r *rule) constrains() bool {
	return r.required || r.nonempty || r.min != nil || r.max != nil || r.mmin != nil || r.mmax != nil ||
		r.enum != nil || r.pattern != nil
}

// compileRule is the check of rule r on a member of type t, or nil when
// it checks nothing. The usual shapes have a function of their own; any
// other runs checkRule on the member through reflect.
func compileRule(r *rule, t reflect.Type) checkFn {
	if !r.constrains() {
		return nil
	}
	null := func() *failure {
		if r.required {
			return pathMsg(nullMsg)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		return func(p unsafe.Pointer, st *vstate) *failure {
			s := *(*string)(p)
			if s == "" {
				return null()
			}
			return st.checkRuleString(r, s)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		read := intReader(t.Kind())
		return func(p unsafe.Pointer, st *vstate) *failure {
			n := read(p)
			if n == 0 {
				return null()
			}
			return checkInt(r, n)
		}
	case reflect.Slice:
		strs := t.Elem().Kind() == reflect.String
		return func(p unsafe.Pointer, st *vstate) *failure {
			s := (*sliceHeader)(p)
			if s.data == nil {
				return null()
			}
			if f := checkSize(r, s.len); f != nil || !strs {
				return f
			}
			return checkStrings(r, unsafe.Slice((*string)(s.data), s.len), st)
		}
	case reflect.Pointer:
		elem := t.Elem()
		switch elem.Kind() {
		case reflect.String:
			return func(p unsafe.Pointer, st *vstate) *failure {
				q := *(*unsafe.Pointer)(p)
				if q == nil {
					return null()
				}
				s := *(*string)(q)
				if s == "" && r.nonempty {
					return pathMsg(emptyMsg)
				}
				return st.checkRuleString(r, s)
			}
		case reflect.Int, reflect.Int32, reflect.Int64:
			read := intReader(elem.Kind())
			return func(p unsafe.Pointer, st *vstate) *failure {
				q := *(*unsafe.Pointer)(p)
				if q == nil {
					return null()
				}
				return checkInt(r, read(q))
			}
		case reflect.Struct, reflect.Bool:
			// Only presence is checked.
			return func(p unsafe.Pointer, st *vstate) *failure {
				if *(*unsafe.Pointer)(p) == nil {
					return null()
				}
				return nil
			}
		}
	}
	return func(p unsafe.Pointer, st *vstate) *failure {
		return checkRule(r, reflect.NewAt(t, p).Elem(), st)
	}
}

func intReader(k reflect.Kind) func(p unsafe.Pointer) int64 {
	switch k {
	case reflect.Int32:
		return func(p unsafe.Pointer) int64 { return int64(*(*int32)(p)) }
	case reflect.Int64:
		return func(p unsafe.Pointer) int64 { return *(*int64)(p) }
	}
	return func(p unsafe.Pointer) int64 { return int64(*(*int)(p)) }
}

// checkInt holds a present number to the rule's bounds.
func checkInt(r *rule, n int64) *failure {
	if r.min != nil && float64(n) < *r.min {
		return fail(func(path string) string { return fmt.Sprintf(minValueMsg, n, path, *r.min) })
	}
	if r.max != nil && float64(n) > *r.max {
		return fail(func(path string) string { return fmt.Sprintf(maxValueMsg, n, path, *r.max) })
	}
	return nil
}

// checkSize holds a present list's or map's size to the rule.
func checkSize(r *rule, size int) *failure {
	n := float64(size)
	if n == 0 && r.nonempty {
		return pathMsg(emptyMsg)
	}
	if r.min != nil && n < *r.min {
		return pathMsg(minSizeMsg, *r.min)
	}
	if r.max != nil && n > *r.max {
		return pathMsg(maxSizeMsg, *r.max)
	}
	return nil
}

// checkStrings holds each member of a list of strings to the rule's enum
// (one message naming the whole list, as AWS words it), member lengths and
// pattern (a message naming the member).
func checkStrings(r *rule, list []string, st *vstate) *failure {
	if r.enum != nil {
		for _, s := range list {
			if !r.enum[s] {
				return valueMsg(listEnumMsg, strings.Join(list, ", "), r.enumList)
			}
		}
	}
	if r.pattern == nil && r.mmin == nil && r.mmax == nil {
		return nil
	}
	each := rule{pattern: r.pattern, runs: r.runs}
	for i, s := range list {
		if f := checkString(&each, s, r.mmin, r.mmax, st); f != nil {
			return memberOf(f, i)
		}
	}
	return nil
}
