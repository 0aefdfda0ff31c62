package awsproto

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// A flat input is a struct whose JSON members are strings, lists of
// strings, integers and booleans (or pointers to them): most read calls'
// inputs (a describe by id is {"WorkspaceIds":["ws-…"]}). decodeFlat
// decodes such a body in one pass over its bytes, without reflection per
// call (the fields' offsets are compiled once per type), where the general
// path (goccy/go-json, then encoding/json) costs about 0.4 µs more. It
// refuses anything it does not expect — a key that is not exactly a
// field's (unknown, differently cased or repeated), a member of another
// type, null, a string with an escape or invalid UTF-8, a number other
// than a plain integer in range, any other syntax — and leaves the value
// zero for the general path to decode or to tell what is wrong.
// TestDecodeFlatAsTheDecoder and FuzzDecodeFlatAgrees hold what it accepts
// to encoding/json's values.

// Kinds of a flat field.
const (
	flatUnsupported uint8 = iota // present in the body: refused
	flatString
	flatStringPtr
	flatStrings
	flatBool
	flatBoolPtr
	flatInt // int, int32 or int64 (bits), or a pointer to one (ptr)
)

type flatField struct {
	name string
	off  uintptr
	kind uint8
	bits uint8 // flatInt: 32 or 64
	ptr  bool  // flatInt: a pointer to the integer
}

// flatDecoder is a type's compiled fields (nil fields: not flat).
type flatDecoder struct {
	typ    reflect.Type // the pointer type decoded into
	fields []flatField
}

var (
	flatTypes sync.Map // reflect.Type (a pointer type) -> *flatDecoder
	// flatLast is the decoder of the last type looked up in flatTypes:
	// the type of a run of calls of one operation is found without a
	// hash of it.
	flatLast atomic.Pointer[flatDecoder]
	// flatOff turns decodeFlat off (tests: the general path).
	flatOff atomic.Bool
)

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// flatOf returns the flat decoder of t (a pointer type), or nil when t
// is not a pointer to a flat struct.
func flatOf(t reflect.Type) *flatDecoder {
	if d := flatLast.Load(); d != nil && d.typ == t {
		return d
	}
	v, ok := flatTypes.Load(t)
	if !ok {
		v, _ = flatTypes.LoadOrStore(t, compileFlat(t))
	}
	d := v.(*flatDecoder)
	flatLast.Store(d)
	return d
}

// compileFlat compiles the fields of *t's struct, or returns a decoder
// without fields when it is not flat: a struct that decodes itself, an
// embedded field, two fields whose names differ only in case, a field
// option other than omitempty.
func compileFlat(t reflect.Type) *flatDecoder {
	d := &flatDecoder{typ: t}
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct ||
		t.Implements(jsonUnmarshaler) || t.Implements(textUnmarshaler) {
		return d
	}
	st := t.Elem()
	var fields []flatField
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Anonymous {
			return d
		}
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, opts, _ := strings.Cut(tag, ",")
			if n == "-" && opts == "" {
				continue
			}
			if opts != "" && opts != "omitempty" {
				return d
			}
			if n != "" {
				name = n
			}
		}
		for _, g := range fields {
			if strings.EqualFold(g.name, name) {
				return d
			}
		}
		fields = append(fields, flatField{name: name, off: f.Offset, kind: flatKind(f.Type)})
		ff := &fields[len(fields)-1]
		if ff.kind == flatInt {
			it := f.Type
			if it.Kind() == reflect.Pointer {
				ff.ptr, it = true, it.Elem()
			}
			ff.bits = uint8(it.Bits())
		}
	}
	if len(fields) == 0 || len(fields) > 64 {
		return d
	}
	d.fields = fields
	return d
}

var (
	typString  = reflect.TypeFor[string]()
	typStrings = reflect.TypeFor[[]string]()
	typBool    = reflect.TypeFor[bool]()
	typInt     = reflect.TypeFor[int]()
	typInt32   = reflect.TypeFor[int32]()
	typInt64   = reflect.TypeFor[int64]()
)

// flatKind is the kind of a field of type t: only Go's own (unnamed)
// types, which decode no other way.
func flatKind(t reflect.Type) uint8 {
	switch t {
	case typString:
		return flatString
	case reflect.PointerTo(typString):
		return flatStringPtr
	case typStrings:
		return flatStrings
	case typBool:
		return flatBool
	case reflect.PointerTo(typBool):
		return flatBoolPtr
	case typInt, typInt32, typInt64, reflect.PointerTo(typInt), reflect.PointerTo(typInt32), reflect.PointerTo(typInt64):
		return flatInt
	}
	return flatUnsupported
}

// decodeFlat decodes body (without surrounding white space) into in and
// reports whether it did; when it did not, in is left zero.
func decodeFlat(body []byte, in any) bool {
	if in == nil || flatOff.Load() {
		return false
	}
	d := flatOf(reflect.TypeOf(in))
	if d.fields == nil {
		return false
	}
	p := reflect.ValueOf(in).UnsafePointer()
	if p == nil {
		return false
	}
	fd := flatDec{s: string(body), base: p}
	if !fd.object(d) {
		reflect.ValueOf(in).Elem().SetZero()
		return false
	}
	return true
}

// flatDec reads s from i into the struct at base.
type flatDec struct {
	s    string
	i    int
	base unsafe.Pointer
}

func (d *flatDec) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the byte there is c, taking
// it if so.
func (d *flatDec) next(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string without escapes, of valid UTF-8.
func (d *flatDec) str() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	start := d.i
	ascii := true
	for j := start; j < len(d.s); j++ {
		c := d.s[j]
		switch {
		case c == '"':
			v := d.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			d.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// integer reads a JSON integer (no fraction or exponent) that fits bits.
func (d *flatDec) integer(bits int) (int64, bool) {
	d.ws()
	start := d.i
	j := start
	if j < len(d.s) && d.s[j] == '-' {
		j++
	}
	digits := j
	for j < len(d.s) && d.s[j] >= '0' && d.s[j] <= '9' {
		j++
	}
	if j == digits || (d.s[digits] == '0' && j > digits+1) {
		return 0, false
	}
	if j < len(d.s) {
		switch d.s[j] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.ParseInt(d.s[start:j], 10, bits)
	if err != nil {
		return 0, false
	}
	d.i = j
	return n, true
}

// boolean reads true or false.
func (d *flatDec) boolean() (bool, bool) {
	d.ws()
	switch {
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return true, true
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return false, true
	}
	return false, false
}

// object reads the body's object and nothing after it.
func (d *flatDec) object(fd *flatDecoder) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		d.ws()
		return d.i == len(d.s)
	}
	var seen uint64
	for {
		key, ok := d.str()
		if !ok {
			return false
		}
		k := -1
		for i := range fd.fields {
			if fd.fields[i].name == key {
				k = i
				break
			}
		}
		if k < 0 || seen&(1<<k) != 0 || !d.next(':') {
			return false
		}
		seen |= 1 << k
		if !d.value(&fd.fields[k]) {
			return false
		}
		if d.next(',') {
			continue
		}
		if !d.next('}') {
			return false
		}
		d.ws()
		return d.i == len(d.s)
	}
}

// value reads a member of f's kind into its field.
func (d *flatDec) value(f *flatField) bool {
	at := unsafe.Add(d.base, f.off)
	switch f.kind {
	case flatString:
		v, ok := d.str()
		*(*string)(at) = v
		return ok
	case flatStringPtr:
		v, ok := d.str()
		if ok {
			*(**string)(at) = &v
		}
		return ok
	case flatStrings:
		if !d.next('[') {
			return false
		}
		list := []string{}
		if !d.next(']') {
			for {
				v, ok := d.str()
				if !ok {
					return false
				}
				list = append(list, v)
				if d.next(',') {
					continue
				}
				if !d.next(']') {
					return false
				}
				break
			}
		}
		*(*[]string)(at) = list
		return true
	case flatBool, flatBoolPtr:
		v, ok := d.boolean()
		if !ok {
			return false
		}
		if f.kind == flatBool {
			*(*bool)(at) = v
		} else {
			*(**bool)(at) = &v
		}
		return true
	case flatInt:
		n, ok := d.integer(int(f.bits))
		if !ok {
			return false
		}
		switch {
		case f.bits == 32 && f.ptr:
			v := int32(n)
			*(**int32)(at) = &v
		case f.bits == 32:
			*(*int32)(at) = int32(n)
		case f.ptr:
			v := n
			*(**int64)(at) = &v
		default:
			*(*int64)(at) = n
		}
		return true
	}
	return false
}
