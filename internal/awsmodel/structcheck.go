package awsmodel

import (
	"encoding"
	"encoding/json"
	"encoding/xml"
	"reflect"
	"strings"
	"time"
	"unicode"
)

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	xmlMarshalerType  = reflect.TypeFor[xml.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// CheckStructFields checks a Go struct type against a named shape. tag
// selects the struct tag that carries wire names: "json" (the JSON key,
// which for JSON protocols is the member name), "xml" (the element name:
// the member's locationName or name; "a>b" paths are accepted when a is a
// list/map member and b its wrapper element), or any other key such as
// "query" (the query key: for the query protocol the member's locationName
// or name, for ec2 its queryName, else its capitalized locationName, else
// its name; only the part before the first "." is compared). Untagged
// exported fields use the field name, as encoding/json and encoding/xml do;
// "-" and unexported fields are skipped and embedded structs are inlined.
//
// It verifies that every field maps to a member of the shape and that the
// field's Go kind fits the member's type (string, bool, integers,
// floats, time.Time or string or number for timestamps, []byte or string for
// blobs, slices for lists, maps for maps, structs for structures), recursing
// through pointers, slices, arrays and maps into nested structs. Types with
// their own Marshal/MarshalText method are not kind-checked. For
// rest-json it also reports json-tagged fields whose member is bound to a
// header, uri or querystring.
func (m *Model) CheckStructFields(shape string, t reflect.Type, tag string) []string {
	c := &checker{m: m}
	s := c.shape(t.String(), shape)
	if s == nil {
		return c.out
	}
	sc := &structChecker{checker: c, tag: tag, seen: map[seenKey]bool{}}
	sc.value(t.String(), s, t)
	return c.out
}

type seenKey struct {
	shape string
	t     reflect.Type
}

type structChecker struct {
	*checker
	tag  string
	seen map[seenKey]bool
	// complete: also report members of a structure that no field decodes
	// (a decoder drops them silently).
	complete bool
}

// CheckStructComplete is CheckStructFields that also reports every member
// of the shape, at any depth, that no field of the Go type carries: what a
// request may send and the JSON or query decoder would drop without a
// word. Structures stood in for by maps and custom-decoded types are not
// looked into.
func (m *Model) CheckStructComplete(shape string, t reflect.Type, tag string) []string {
	c := &checker{m: m}
	s := c.shape(t.String(), shape)
	if s == nil {
		return c.out
	}
	sc := &structChecker{checker: c, tag: tag, seen: map[seenKey]bool{}, complete: true}
	sc.value(t.String(), s, t)
	return c.out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func (sc *structChecker) customEncoded(t reflect.Type) bool {
	if t == timeType {
		return false
	}
	pt := reflect.PointerTo(t)
	impl := func(i reflect.Type) bool { return t.Implements(i) || pt.Implements(i) }
	switch sc.tag {
	case "json":
		if impl(jsonMarshalerType) {
			return true
		}
	case "xml":
		if impl(xmlMarshalerType) {
			return true
		}
	}
	return impl(textMarshalerType)
}

func (sc *structChecker) value(path string, s *Shape, t reflect.Type) {
	t = deref(t)
	if t.Kind() == reflect.Interface || sc.customEncoded(t) {
		return
	}
	k := seenKey{s.Name, t}
	if sc.seen[k] {
		return
	}
	sc.seen[k] = true
	bad := func(want string) {
		sc.add(path, "Go type %s does not fit %s %s (want %s)", t, s.Type, s.Name, want)
	}
	switch s.Type {
	case "structure":
		switch t.Kind() {
		case reflect.Struct:
			sc.fields(path, s, t)
		case reflect.Map:
			// a free-form map standing in for a structure: names unchecked
		default:
			bad("struct")
		}
	case "list":
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			bad("slice")
			return
		}
		if ms, ok := sc.m.Shapes[s.Member.Target]; ok {
			sc.value(path+"[]", ms, t.Elem())
		}
	case "map":
		if t.Kind() != reflect.Map {
			bad("map")
			return
		}
		if s.Value == nil {
			return
		}
		if vs, ok := sc.m.Shapes[s.Value.Target]; ok {
			sc.value(path+"[key]", vs, t.Elem())
		}
	case "string":
		if t.Kind() != reflect.String {
			bad("string")
		}
	case "boolean":
		if t.Kind() != reflect.Bool {
			bad("bool")
		}
	case "integer", "long", "bigInteger":
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			bad("integer")
		}
	case "float", "double", "bigDecimal":
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
		default:
			bad("float")
		}
	case "timestamp":
		switch t.Kind() {
		case reflect.String, reflect.Int, reflect.Int64, reflect.Float64:
		default:
			if t != timeType {
				bad("time.Time, string or number")
			}
		}
	case "blob":
		if t.Kind() != reflect.String && !(t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) {
			bad("[]byte or string")
		}
	case "document":
	default:
		sc.add(path, "unsupported shape type %q (%s)", s.Type, s.Name)
	}
}

// fieldName returns the wire name of a struct field for sc.tag, whether to
// skip it, and whether it is inlined (embedded struct without a name).
func (sc *structChecker) fieldName(f reflect.StructField) (name string, skip, inline bool) {
	if sc.tag == "xml" && f.Name == "XMLName" {
		return "", true, false
	}
	tv, has := f.Tag.Lookup(sc.tag)
	if tv == "-" {
		return "", true, false
	}
	name, opts, _ := strings.Cut(tv, ",")
	if sc.tag == "xml" {
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "attr", "chardata", "cdata", "innerxml", "comment", "any":
				return "", true, false
			}
		}
	}
	if f.Anonymous && name == "" {
		if deref(f.Type).Kind() == reflect.Struct {
			return "", false, true
		}
	}
	if !f.IsExported() {
		return "", true, false
	}
	if !has || name == "" {
		name = f.Name
	}
	return name, false, false
}

func (sc *structChecker) fields(path string, s *Shape, t reflect.Type) {
	seen := map[string]bool{}
	sc.fieldsInto(path, s, t, seen)
	if !sc.complete {
		return
	}
	for _, mn := range s.MemberNames() {
		if !seen[mn] {
			sc.add(path, "member %s of %s has no field (it would be dropped)", mn, s.Name)
		}
	}
}

// fieldsInto checks t's fields against s and marks in seen the members
// they carry.
func (sc *structChecker) fieldsInto(path string, s *Shape, t reflect.Type, seen map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, skip, inline := sc.fieldName(f)
		if skip {
			continue
		}
		if inline {
			sc.fieldsInto(path, s, deref(f.Type), seen)
			continue
		}
		fp := joinPath(path, f.Name)
		var rest string
		switch sc.tag {
		case "json":
		case "xml":
			name, rest, _ = strings.Cut(name, ">")
		default:
			name, _, _ = strings.Cut(name, ".")
		}
		ref := sc.lookup(s, name)
		if ref == nil {
			sc.add(fp, "%s name %q is not a member of %s (members: %s)", sc.tag, name, s.Name, strings.Join(sc.wireNames(s), ", "))
			continue
		}
		seen[ref.Name] = true
		if sc.tag == "json" && sc.m.Protocol() == "rest-json" && ref.Location != "" {
			sc.add(fp, "json name %q: member %s of %s is bound to %s, not the body", name, ref.Name, s.Name, ref.Location)
		}
		ms, ok := sc.m.Shapes[ref.Target]
		if !ok {
			sc.add(fp, "model has no shape %q", ref.Target)
			continue
		}
		if rest != "" {
			sc.checkXMLPath(fp, ms, rest)
		}
		sc.value(fp, ms, f.Type)
	}
}

// checkXMLPath checks the ">b" part of an xml tag "a>b".
func (sc *structChecker) checkXMLPath(path string, s *Shape, rest string) {
	want := ""
	switch s.Type {
	case "list":
		want = "member"
		if s.Member != nil && s.Member.LocationName != "" {
			want = s.Member.LocationName
		}
	case "map":
		want = "entry"
	}
	if want == "" || rest != want {
		sc.add(path, "xml path element %q does not fit %s %s (want %q)", rest, s.Type, s.Name, want)
	}
}

func (sc *structChecker) lookup(s *Shape, name string) *Ref {
	for _, mn := range s.MemberNames() {
		ref := s.Members[mn]
		for _, w := range sc.names(ref) {
			if w == name {
				return ref
			}
		}
	}
	return nil
}

// names returns the wire names a member may use under sc.tag.
func (sc *structChecker) names(ref *Ref) []string {
	switch sc.tag {
	case "json":
		return []string{ref.Name}
	case "xml":
		return []string{sc.m.xmlMemberName(ref), firstNonEmpty(ref.LocationName, ref.Name)}
	default:
		return []string{QueryName(sc.m.Protocol(), ref)}
	}
}

func (sc *structChecker) wireNames(s *Shape) []string {
	var out []string
	for _, n := range s.MemberNames() {
		out = append(out, sc.names(s.Members[n])[0])
	}
	return out
}

// QueryName returns the query-string key prefix of a structure member for
// a protocol: for "ec2" the member's queryName, else its locationName with
// the first letter upper-cased, else its name; for other protocols its
// locationName, else its name.
func QueryName(protocol string, ref *Ref) string {
	if protocol == "ec2" {
		if ref.QueryName != "" {
			return ref.QueryName
		}
		if ref.LocationName != "" {
			r := []rune(ref.LocationName)
			r[0] = unicode.ToUpper(r[0])
			return string(r)
		}
		return ref.Name
	}
	return firstNonEmpty(ref.LocationName, ref.Name)
}
