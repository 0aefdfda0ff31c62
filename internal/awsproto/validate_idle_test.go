package awsproto

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

type (
	idleInner struct {
		Name  *string `json:"Name" v:"required,min=2,max=5,pattern=^[a-c]+$"`
		Note  *string
		Count *int `v:"min=1,max=3"`
		Free  *int
		On    *bool
		Plain string `v:"enum=a|bb"`
		Any   any
		Code  *string `v:"pattern=^[ab]+$"`
		Must  *bool   `v:"required"`
		Empty *string `v:"nonempty"`
	}
	idleOuter struct {
		Items  []idleInner `v:"required,min=1,max=3"`
		ID     string      `v:"required,pattern=^d-[0-9]+$"`
		Label  string
		Ptr    *idleInner
		Tags   map[string]idleInner
		Names  []string `v:"mmin=1,mmax=3,enum=a|b|ccc"`
		Weight float64  `v:"max=2"`
		Flag   bool
		N      int64 `v:"min=-1"`
	}
)

// fillIdle sets v to a random value of its type, often nil or empty.
func fillIdle(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if depth < 4 && r.IntN(3) > 0 {
			p := reflect.New(v.Type().Elem())
			fillIdle(r, p.Elem(), depth+1)
			v.Set(p)
		}
	case reflect.Interface:
		if depth < 4 && r.IntN(2) == 0 {
			var in idleInner
			fillIdle(r, reflect.ValueOf(&in).Elem(), depth+1)
			v.Set(reflect.ValueOf(&in))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fillIdle(r, v.Field(i), depth+1)
		}
	case reflect.Slice:
		if n := r.IntN(5); depth < 4 && n > 0 {
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := 0; i < n; i++ {
				fillIdle(r, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		if depth < 4 && r.IntN(2) == 0 { // one entry: Validate visits a map's in any order
			n := 1
			m := reflect.MakeMap(v.Type())
			for ; n > 0; n-- {
				k := reflect.New(v.Type().Key()).Elem()
				fillIdle(r, k, depth+1)
				e := reflect.New(v.Type().Elem()).Elem()
				fillIdle(r, e, depth+1)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.String:
		strs := []string{"", "a", "bb", "ccc", "abcabc", "d-1", "d-x", "b", "zz"}
		v.SetString(strs[r.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		v.SetInt(r.Int64N(6) - 2)
	case reflect.Float64:
		v.SetFloat(r.Float64() * 3)
	}
}

// TestValidateIdleSkipAsBefore: Validate, skipping members without
// constraints and not looking inside strings, bools and numbers, gives
// the message it gave when it checked every member, on random values
// (failing at many members) of types with constrained, idle and nested members.
func TestValidateIdleSkipAsBefore(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 3))
	msgs := map[string]bool{}
	for range 20000 {
		var v idleOuter
		fillIdle(r, reflect.ValueOf(&v).Elem(), 0)
		got := Validate(&v)
		keepIdle = true
		want := Validate(&v)
		keepIdle = false
		if got != want {
			t.Fatalf("seed %d: %+v: skipping %q, checking all %q", seed, v, got, want)
		}
		msgs[got] = true
	}
	if len(msgs) < 20 {
		t.Fatalf("seed %d: %d distinct answers: the values do not reach the members' checks", seed, len(msgs))
	}
}
