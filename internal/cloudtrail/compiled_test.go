package cloudtrail

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/jsonenc"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// walkParams and walkValue are the reflect walk that wrote the parameters
// before the compiled encoders (record.go at babd321), kept as they were:
// TestCompiledAsTheWalk holds the compiled encoders to it.
func walkParams(b []byte, v any) (_ []byte, ok bool) {
	if v == nil {
		return b, false
	}
	n := len(b)
	b, ok = walkValue(b, reflect.ValueOf(v))
	if !ok || string(b[n:]) == "{}" {
		return b[:n], false
	}
	return b, true
}

func walkValue(b []byte, v reflect.Value) ([]byte, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return b, false
		}
		v = v.Elem()
	}
	switch v.Type() {
	case timeType:
		return jsonenc.String(b, v.Interface().(time.Time).UTC().Format(isoSeconds)), true
	case awsTimeType:
		return jsonenc.String(b, v.Interface().(awsproto.Time).UTC().Format(isoSeconds)), true
	}
	switch v.Kind() {
	case reflect.Struct:
		b = append(b, '{')
		first := true
		for _, f := range plan(v.Type()) {
			fv := v.Field(f.index)
			if walkAbsent(fv) {
				continue
			}
			mark := len(b)
			if !first {
				b = append(b, ',')
			}
			b = append(b, f.name...)
			var ok bool
			if b, ok = walkValue(b, fv); !ok {
				b = b[:mark]
				continue
			}
			first = false
		}
		return append(b, '}'), true
	case reflect.Map:
		if v.Len() == 0 {
			return b, false
		}
		type kv struct {
			k string
			v reflect.Value
		}
		entries := make([]kv, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			entries = append(entries, kv{toString(it.Key()), it.Value()})
		}
		slices.SortFunc(entries, func(x, y kv) int { return strings.Compare(x.k, y.k) })
		b = append(b, '{')
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(jsonenc.String(b, e.k), ':')
			var ok bool
			if b, ok = walkValue(b, e.v); !ok {
				b = append(b, "null"...)
			}
		}
		return append(b, '}'), true
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return b, false
		}
		if v.Len() == 0 {
			return b, false
		}
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = walkValue(b, v.Index(i)); !ok {
				b = append(b, "null"...)
			}
		}
		return append(b, ']'), true
	case reflect.String:
		return jsonenc.String(b, v.String()), true
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), true
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10), true
	}
	j, err := json.Marshal(v.Interface())
	if err != nil {
		return append(b, "null"...), true
	}
	return append(b, j...), true
}

func walkAbsent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return v.IsNil()
	}
	return false
}

// Types for TestCompiledAsTheWalk: every kind the encoders handle.
type (
	cName  string
	cInner struct {
		A        string
		B        *int
		C        []string `json:"cees,omitempty"`
		Password *string  // a secret: left out
		hidden   string
		Skip     string `json:"-"`
		T        time.Time
		AT       *awsproto.Time
	}
	cTree struct {
		Name     cName
		Children []*cTree
		Next     *cTree
	}
	cNumbers struct {
		I   int
		I8  int8
		I16 int16
		I32 int32
		I64 int64
		U   uint
		U8  uint8
		U16 uint16
		U32 uint32
		U64 uint64
		UP  uintptr
		F32 float32
		F64 float64
		Ok  bool
		PI  *int64
		PF  *float64
	}
	cAll struct {
		Inner     cInner
		PInner    *cInner
		PPInner   **cInner
		Inners    []cInner
		PInners   []*cInner
		Arr       [3]string
		ArrP      [2]*string
		Blob      []byte
		BlobArr   [4]byte
		Tags      map[string]string
		IntKeys   map[int]*cInner
		NameKeys  map[cName][]string
		AnyMap    map[string]any
		Any       any
		Anys      []any
		Err       error
		Tree      *cTree
		Nums      cNumbers
		Strs      [][]string
		Ch        chan int
		Fn        func()
		Cx        complex128
		Embedded  cEmbed
		Raw       json.RawMessage
		Marshaler cMarsh
	}
	cEmbed struct {
		cInner
		X string `query:"ex"`
		Y string `xml:"Why"`
	}
	cMarsh float64
)

func (m cMarsh) MarshalJSON() ([]byte, error) {
	if m < 0 {
		return nil, errMarsh
	}
	return []byte(strconv.Quote(strconv.FormatFloat(float64(m), 'g', -1, 64))), nil
}

var errMarsh = &json.UnsupportedValueError{Str: "negative"}

// fill sets v (settable) to a random value: nil or empty often, so every
// absent case comes up.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Unix(r.Int64N(1<<34)-1<<33, r.Int64N(1e9)).In(time.FixedZone("z", 3600))))
		return
	}
	if v.Type() == awsTimeType {
		v.Set(reflect.ValueOf(awsproto.Time{Time: time.Unix(r.Int64N(1<<33), 0).In(time.FixedZone("y", -7200))}))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if depth > 4 || r.IntN(4) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Interface:
		if depth > 4 || r.IntN(4) == 0 {
			return
		}
		if v.Type() == reflect.TypeFor[error]() {
			if r.IntN(2) == 0 {
				v.Set(reflect.ValueOf(errMarsh))
			}
			return
		}
		choices := []func() any{
			func() any { return randString(r) },
			func() any { return r.Float64() * 1e6 },
			func() any { return r.IntN(2) == 0 },
			func() any { var in cInner; fill(r, reflect.ValueOf(&in).Elem(), depth+1); return in },
			func() any { var in *cInner; fill(r, reflect.ValueOf(&in).Elem(), depth+1); return in },
			func() any { var m map[string]any; fill(r, reflect.ValueOf(&m).Elem(), depth+1); return m },
			func() any { return []byte("blob") },
			func() any { var s []any; fill(r, reflect.ValueOf(&s).Elem(), depth+1); return s },
			func() any { return (*cInner)(nil) },
			func() any { return map[string]string{} },
			func() any { return math.NaN() },
			func() any { return time.Unix(r.Int64N(1<<31), 0) },
		}
		v.Set(reflect.ValueOf(choices[r.IntN(len(choices))]()))
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth+1)
			} else if v.Field(i).Kind() == reflect.String {
				reflect.NewAt(v.Field(i).Type(), v.Field(i).Addr().UnsafePointer()).Elem().SetString(randString(r))
			}
		}
	case reflect.Slice:
		if depth > 5 || r.IntN(4) == 0 {
			return
		}
		n := r.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			fill(r, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(r, v.Index(i), depth+1)
		}
	case reflect.Map:
		if depth > 5 || r.IntN(4) == 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for n := r.IntN(4); n > 0; n-- {
			k := reflect.New(v.Type().Key()).Elem()
			fill(r, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(r, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString(randString(r))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := int64(r.Uint64())
		if r.IntN(2) == 0 {
			x = r.Int64N(200) - 100
		}
		v.SetInt(x) // truncated to the kind's size
		if v.Int() != x {
			v.SetInt(x >> (64 - v.Type().Bits()))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x := r.Uint64() >> (64 - v.Type().Bits())
		v.SetUint(x)
	case reflect.Float32, reflect.Float64:
		switch r.IntN(5) {
		case 0:
			v.SetFloat(math.Inf(1))
		case 1:
			v.SetFloat(-r.Float64())
		default:
			v.SetFloat(r.NormFloat64() * 1e3)
		}
	case reflect.Complex128:
		v.SetComplex(complex(r.Float64(), 1))
	case reflect.Chan:
		if r.IntN(2) == 0 {
			v.Set(reflect.MakeChan(v.Type(), 0))
		}
	case reflect.Func:
		if r.IntN(2) == 0 {
			v.Set(reflect.ValueOf(func() {}))
		}
	}
}

func randString(r *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", "-", "\"", "\\", "\n", "\x00", "<", "&", "é", "\u2028", "\xff", " ", "ws-", "{}"}
	var sb strings.Builder
	for n := r.IntN(8); n > 0; n-- {
		sb.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

// TestCompiledAsTheWalk: the compiled encoders write the reflect walk's
// bytes, and the same ok, on random values of many types (every kind,
// nil and empty ones, secrets, blobs, maps of several key types,
// interfaces, a recursive type), on CreateWorkspaces' request and answer,
// and on the values at top level not behind a pointer.
func TestCompiledAsTheWalk(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 7))
	types := []reflect.Type{
		reflect.TypeFor[cAll](), reflect.TypeFor[cInner](), reflect.TypeFor[cTree](), reflect.TypeFor[cNumbers](),
		reflect.TypeFor[cEmbed](), reflect.TypeFor[[]cInner](), reflect.TypeFor[map[string]any](),
		reflect.TypeFor[workspaces.WorkspaceRequest](), reflect.TypeFor[workspaces.Workspace](),
		reflect.TypeFor[struct{ Workspaces []workspaces.WorkspaceRequest }](),
		reflect.TypeFor[struct {
			FailedRequests []struct {
				WorkspaceRequest        workspaces.WorkspaceRequest
				ErrorCode, ErrorMessage string
			}
			PendingRequests []workspaces.Workspace
		}](),
		reflect.TypeFor[struct{}](), reflect.TypeFor[struct{ Blob []byte }](), reflect.TypeFor[*cInner](),
	}
	for i := 0; i < 6000; i++ {
		typ := types[i%len(types)]
		p := reflect.New(typ)
		fill(r, p.Elem(), 0)
		for _, v := range []any{p.Interface(), p.Elem().Interface()} {
			want, wok := walkParams(nil, v)
			got, gok := appendParams(nil, v)
			if string(got) != string(want) || gok != wok {
				t.Fatalf("seed %d, %v: compiled %v %s\nwalk %v %s", seed, typ, gok, got, wok, want)
			}
		}
	}
	for _, v := range []any{nil, (*cInner)(nil), 3, "s", []byte("x"), map[string]int{}, &cTree{}, newCreateRequest()} {
		want, wok := walkParams(nil, v)
		got, gok := appendParams(nil, v)
		if string(got) != string(want) || gok != wok {
			t.Fatalf("%#v: compiled %v %s\nwalk %v %s", v, gok, got, wok, want)
		}
	}
}

// createCall is a CreateWorkspaces call of 25 desktops as the benchmark
// client makes it: its request and its answer, of the module's own types.
func createCall() (in, out any) {
	type request struct{ Workspaces []workspaces.WorkspaceRequest }
	type answer struct {
		FailedRequests  []struct{}
		PendingRequests []workspaces.Workspace
	}
	str := func(s string) *string { return &s }
	var req request
	var ans answer
	for i := range 25 {
		req.Workspaces = append(req.Workspaces, workspaces.WorkspaceRequest{DirectoryId: "d-bb55269ea9", UserName: "[UNDEFINED]",
			BundleId: "wsb-pbu7vl0vg", WorkspaceName: str("bench-" + strconv.Itoa(i)),
			WorkspaceProperties: &workspaces.WorkspaceProperties{RunningMode: str("MANUAL")},
			Tags:                []workspaces.Tag{{Key: "PartnerManaged", Value: str("true")}}})
		ans.PendingRequests = append(ans.PendingRequests, workspaces.Workspace{WorkspaceId: "ws-0123456789abc" + strconv.Itoa(i),
			DirectoryId: "d-bb55269ea9", UserName: "[UNDEFINED]", State: "PENDING", BundleId: "wsb-pbu7vl0vg",
			WorkspaceName: "bench-" + strconv.Itoa(i), WorkspaceProperties: &workspaces.WorkspaceProperties{RunningMode: str("MANUAL")}})
	}
	return &req, &ans
}

// BenchmarkParamsCreateCall: the request parameters and response elements
// of a 25-desktop CreateWorkspaces call, as the writer renders them (into
// a reused buffer: params' copy out is left out).
func BenchmarkParamsCreateCall(b *testing.B) {
	in, out := createCall()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendParams(buf[:0], in)
		buf, _ = appendParams(buf[:0], out)
	}
}

// BenchmarkWalkCreateCall is BenchmarkParamsCreateCall by the reflect walk.
func BenchmarkWalkCreateCall(b *testing.B) {
	in, out := createCall()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = walkParams(buf[:0], in)
		buf, _ = walkParams(buf[:0], out)
	}
}

// resourceTypeBefore is resourceType as it was before it remembered its
// answers (record.go at babd321).
func resourceTypeBefore(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ""
	}
	svc := parts[2]
	res := parts[5]
	if svc == "" || res == "" {
		return ""
	}
	typ, _, found := strings.Cut(res, "/")
	if !found {
		typ, _, _ = strings.Cut(res, ":")
	}
	svcName := serviceNames[svc]
	if svcName == "" {
		svcName = mapFirst(svc, unicode.ToUpper)
	}
	return "AWS::" + svcName + "::" + camel(typ)
}

// TestResourceTypeAsBefore: resourceType answers as it did before, on
// random ARN-like strings (each asked twice: built, then remembered), on
// the hostile ones, and past the number of types it remembers.
func TestResourceTypeAsBefore(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 11))
	pieces := []string{"arn", "aws", ":", ":", ":", "/", "-", "_", "workspaces", "kms", "iam", "ec2", "ws", "é", "ü-ß", "\xff", "key", "user/a", "x", ""}
	arns := append([]string{}, hostileARNs...)
	for range 5000 {
		var sb strings.Builder
		if r.IntN(3) > 0 {
			sb.WriteString("arn:")
		}
		for n := r.IntN(12); n > 0; n-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		arns = append(arns, sb.String())
	}
	for _, arn := range arns {
		want := resourceTypeBefore(arn)
		for range 2 {
			if got := resourceType(arn); got != want {
				t.Fatalf("seed %d: resourceType(%q) = %q, want %q", seed, arn, got, want)
			}
		}
	}
	if n := resourceTypeCount.Load(); n > maxResourceTypes {
		t.Fatalf("%d resource types remembered, over %d", n, maxResourceTypes)
	}
}
