package awsproto

import (
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// CreateWorkspaces' input as internal/workspaces declares it (desktops.go,
// model.go), with the same v tags.
type cwIn struct {
	Workspaces []cwRequest `json:"Workspaces" v:"required,min=1,max=25"`
}

type cwRequest struct {
	DirectoryId                 string        `json:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	UserName                    string        `json:"UserName" v:"required,min=1,max=63"`
	BundleId                    string        `json:"BundleId" v:"required,pattern=^wsb-[0-9a-z]{8,63}$"`
	VolumeEncryptionKey         *string       `json:"VolumeEncryptionKey,omitempty"`
	UserVolumeEncryptionEnabled *bool         `json:"UserVolumeEncryptionEnabled,omitempty"`
	RootVolumeEncryptionEnabled *bool         `json:"RootVolumeEncryptionEnabled,omitempty"`
	WorkspaceProperties         *cwProperties `json:"WorkspaceProperties,omitempty"`
	Tags                        []cwTag       `json:"Tags,omitempty"`
	WorkspaceName               *string       `json:"WorkspaceName,omitempty" v:"pattern=^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$"`
	Ipv6Address                 *string       `json:"Ipv6Address,omitempty"`
}

type cwProperties struct {
	RunningMode                         *string  `json:"RunningMode,omitempty" v:"enum=AUTO_STOP|ALWAYS_ON|MANUAL"`
	RunningModeAutoStopTimeoutInMinutes *int     `json:"RunningModeAutoStopTimeoutInMinutes,omitempty"`
	RootVolumeSizeGib                   *int     `json:"RootVolumeSizeGib,omitempty"`
	ComputeTypeName                     *string  `json:"ComputeTypeName,omitempty" v:"enum=VALUE|STANDARD|PERFORMANCE|POWER|GRAPHICS"`
	Protocols                           []string `json:"Protocols,omitempty" v:"enum=PCOIP|WSP"`
	OperatingSystemName                 *string  `json:"OperatingSystemName,omitempty" v:"enum=AMAZON_LINUX_2|UBUNTU_22_04|WINDOWS_10"`
	GlobalAccelerator                   *cwGA    `json:"GlobalAccelerator,omitempty"`
}

type cwGA struct {
	Mode              *string `json:"Mode,omitempty" v:"enum=ENABLED_AUTO|DISABLED|INHERITED"`
	PreferredProtocol *string `json:"PreferredProtocol,omitempty" v:"enum=TCP|NONE|INHERITED"`
}

type cwTag struct {
	Key   string  `json:"Key" v:"required,min=1,max=127"`
	Value *string `json:"Value,omitempty" v:"max=255"`
}

// describeIn is DescribeWorkspaces' input.
type describeIn struct {
	WorkspaceIds  []string `json:"WorkspaceIds,omitempty" v:"min=1,max=25"`
	DirectoryId   *string  `json:"DirectoryId,omitempty" v:"min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	UserName      *string  `json:"UserName,omitempty" v:"min=1,max=63"`
	BundleId      *string  `json:"BundleId,omitempty" v:"pattern=^wsb-[0-9a-z]{8,63}$"`
	Limit         *int     `json:"Limit,omitempty" v:"min=1,max=25"`
	NextToken     *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
	WorkspaceName *string  `json:"WorkspaceName,omitempty" v:"pattern=^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$"`
}

type shapeName string

// shapesIn has a member of every shape the checks tell apart: plain and
// pointer strings, numbers of three sizes, floats, lists of strings with
// an enum, member lengths and a pattern, lists of lists, maps of structs
// and of pointers, blobs, interfaces, a recursive type, and members whose
// tag is not checked (an int8, a bool, an unexported member).
type shapesIn struct {
	Name      shapeName              `json:"Name" v:"required,min=2,max=4"`
	Count     int64                  `json:"Count" v:"required,min=1,max=9"`
	Small     int32                  `json:"Small" v:"min=-3,max=3"`
	PSmall    *int32                 `json:"PSmall" v:"required,min=-3,max=3"`
	Ratio     float64                `json:"Ratio" v:"min=0.5,max=2"`
	PRatio    *float64               `json:"PRatio" v:"min=0.5,max=2"`
	Tiny      int8                   `json:"Tiny" v:"min=1"`
	Flag      bool                   `json:"Flag" v:"required"`
	PFlag     *bool                  `json:"PFlag" v:"required"`
	Ids       []shapeName            `json:"Ids" v:"nonempty,max=3,mmin=2,mmax=3,pattern=^[ab]+$"`
	Modes     []string               `json:"Modes" v:"nonempty,enum=A|B"`
	PList     *[]string              `json:"PList" v:"required,max=2"`
	Empty     *string                `json:"Empty" v:"nonempty"`
	Blob      []byte                 `json:"Blob" v:"min=1,max=3"`
	Grid      [][]shapeLeaf          `json:"Grid" v:"max=3"`
	ByKey     map[string]shapeLeaf   `json:"ByKey" v:"max=2"`
	PByKey    map[string]*shapeLeaf  `json:"PByKey"`
	Lists     map[string][]shapeLeaf `json:"Lists"`
	Any       any                    `json:"Any" v:"required"`
	Tree      *shapeTree             `json:"Tree"`
	Leaf      shapeLeaf              `json:"Leaf"`
	Arr       [2]shapeLeaf           `json:"Arr"`
	hidden    string                 `v:"required"`
	Untouched string                 `json:"Untouched"`
}

type shapeLeaf struct {
	Mode *string `json:"Mode" v:"enum=X|Y"`
	Len  string  `json:"Len" v:"max=2"`
}

type shapeTree struct {
	Label string       `json:"Label" v:"required,max=3"`
	Kids  []*shapeTree `json:"Kids" v:"max=2"`
}

// gen makes random values of a type: each leaf is more often one its tag
// takes than not, so that violations turn up deep in a value as well as
// near its top.
type gen struct {
	r     *rand.Rand
	depth int
	bad   int // in 1,000: how often a choice is one the tag may refuse
}

// ok is true unless this choice is to be one the tag may refuse.
func (g *gen) ok() bool { return g.r.IntN(1000) >= g.bad }

// bounds are a tag's min and max, or lo and hi.
func bounds(tag string, lo, hi int) (int, int) {
	for _, part := range splitTag(tag) {
		k, val, _ := strings.Cut(part, "=")
		x, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch k {
		case "min":
			lo = int(x)
		case "max":
			hi = int(x)
		}
	}
	return lo, hi
}

func between(r *rand.Rand, lo, hi int) int {
	if hi < lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

// memberTag is the tag a list of strings holds each member to: its mmin
// and mmax as min and max, its enum and pattern.
func memberTag(tag string) string {
	var parts []string
	for _, part := range splitTag(tag) {
		k, _, _ := strings.Cut(part, "=")
		switch k {
		case "mmin", "mmax":
			parts = append(parts, part[1:])
		case "enum", "pattern":
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, ",")
}

func required(tag string) bool {
	return strings.Contains(tag, "required") || strings.Contains(tag, "nonempty")
}

var genStrings = []string{
	"", "a", "b", "ab", "aab", "abc", "ba", "abba", "X", "Y", "Z", "A", "B", "C", "x",
	"MANUAL", "AUTO_STOP", "ALWAYS_ON", "manual", "VALUE", "POWER", "GRAPHICS", "PCOIP", "WSP",
	"WINDOWS_10", "ENABLED_AUTO", "DISABLED", "INHERITED", "TCP", "NONE",
	"d-1234567890", "d-12345678", "d-1234567", "d-abcdefab", "d-ABCDEF12", "wsd-abcdefgh", "wsd-abc",
	"xd-1234567890", "d-1234567890 ", "wsb-12345678", "wsb-1234567", "wsb-ABCDEFGH", "wsb-bundle99",
	"ws-abcdef12", "w-1", "w_2", "(x)", ".bad", "user", "[UNDEFINED]", "é", "日本語",
	strings.Repeat("u", 63), strings.Repeat("u", 64), strings.Repeat("k", 127), strings.Repeat("k", 128),
	strings.Repeat("v", 255), strings.Repeat("v", 256), "d-" + strings.Repeat("a", 63), "d-" + strings.Repeat("a", 64),
	strings.Repeat("n", 2048), strings.Repeat("n", 2049), strings.Repeat("é", 4), strings.Repeat("é", 5),
}

// good is a string a tag takes, when one of genStrings is.
func (g *gen) good(tag string) (string, bool) {
	var r rule
	for _, part := range splitTag(tag) {
		k, val, _ := strings.Cut(part, "=")
		switch k {
		case "min", "max":
			x, _ := strconv.ParseFloat(val, 64)
			switch k {
			case "min":
				r.min = &x
			default:
				r.max = &x
			}
		case "enum":
			r.enum = map[string]bool{}
			for _, e := range strings.Split(val, "|") {
				r.enum[e] = true
			}
		case "pattern":
			r.pattern = regexp.MustCompile(val)
		}
	}
	var ok []string
	for _, s := range genStrings {
		n := float64(len([]rune(s)))
		if s == "" || r.min != nil && n < *r.min || r.max != nil && n > *r.max ||
			r.enum != nil && !r.enum[s] || r.pattern != nil && !r.pattern.MatchString(s) {
			continue
		}
		ok = append(ok, s)
	}
	if len(ok) == 0 {
		return "", false
	}
	return ok[g.r.IntN(len(ok))], true
}

func (g *gen) str(tag string) string {
	if g.ok() {
		if s, ok := g.good(tag); ok {
			return s
		}
	} else if g.r.IntN(4) == 0 {
		return ""
	}
	return genStrings[g.r.IntN(len(genStrings))]
}

func (g *gen) num(tag string) int64 {
	if g.ok() {
		lo, hi := bounds(tag, 1, 5)
		return int64(between(g.r, lo, min(hi, lo+8)))
	}
	return int64(g.r.IntN(14)) - 4
}

// fill sets v (settable) to a random value; tag is the v tag of the
// member v is, or of the list it is a member of.
func (g *gen) fill(v reflect.Value, tag string) {
	g.depth++
	defer func() { g.depth-- }()
	switch v.Kind() {
	case reflect.String:
		v.SetString(g.str(tag))
	case reflect.Int, reflect.Int8, reflect.Int32, reflect.Int64:
		v.SetInt(g.num(tag))
	case reflect.Float64:
		if g.ok() {
			v.SetFloat(1)
		} else {
			v.SetFloat(float64(g.r.IntN(6)) / 2)
		}
	case reflect.Bool:
		v.SetBool(g.r.IntN(2) == 0)
	case reflect.Pointer:
		if !g.ok() || !required(tag) && g.r.IntN(4) == 0 || g.depth > 6 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		g.fill(v.Elem(), tag)
	case reflect.Interface:
		switch g.r.IntN(4) {
		case 0:
			if required(tag) && g.ok() {
				v.Set(reflect.ValueOf("plain"))
			}
		case 1:
			v.Set(reflect.ValueOf("plain"))
		case 2:
			l := shapeLeaf{}
			g.fill(reflect.ValueOf(&l).Elem(), "")
			v.Set(reflect.ValueOf(l))
		default:
			l := &shapeTree{}
			g.fill(reflect.ValueOf(l).Elem(), "")
			v.Set(reflect.ValueOf(l))
		}
	case reflect.Slice:
		if !g.ok() || !required(tag) && g.r.IntN(6) == 0 {
			if g.r.IntN(2) == 0 {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return // nil or empty
		}
		lo, hi := bounds(tag, 1, 4)
		n := between(g.r, max(lo, 1), min(hi, 4))
		if !g.ok() {
			n = g.r.IntN(6)
		}
		if g.depth > 6 {
			n = g.r.IntN(2)
		}
		if v.Type().Elem().Kind() == reflect.String {
			tag = memberTag(tag)
		}
		if v.Type().Elem().Kind() == reflect.Struct && g.r.IntN(8) == 0 {
			n = 1 + g.r.IntN(30) // a request's size
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			g.fill(s.Index(i), tag)
		}
		v.Set(s)
	case reflect.Map:
		if g.r.IntN(4) == 0 {
			return
		}
		n := g.r.IntN(4)
		m := reflect.MakeMapWithSize(v.Type(), n)
		for i := range n {
			e := reflect.New(v.Type().Elem()).Elem()
			g.fill(e, "")
			m.SetMapIndex(reflect.ValueOf("k"+strconv.Itoa(i)), e)
		}
		v.Set(m)
	case reflect.Array:
		for i := range v.Len() {
			g.fill(v.Index(i), tag)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				if f.Type.Kind() == reflect.String && g.r.IntN(2) == 0 {
					reflect.NewAt(f.Type, v.Field(i).Addr().UnsafePointer()).Elem().SetString("x")
				}
				continue
			}
			if !g.ok() || !required(f.Tag.Get("v")) && g.r.IntN(6) == 0 {
				continue // left zero
			}
			g.fill(v.Field(i), f.Tag.Get("v"))
		}
	}
}

// mutate changes one leaf of v (settable) at random, following a random
// path into it.
func (g *gen) mutate(v reflect.Value, tag string) {
	for range 12 {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || g.r.IntN(8) == 0 {
				g.fill(v, tag)
				return
			}
			v = v.Elem()
			continue
		case reflect.Struct:
			t := v.Type()
			i := g.r.IntN(t.NumField())
			if !t.Field(i).IsExported() {
				return
			}
			tag = t.Field(i).Tag.Get("v")
			v = v.Field(i)
			continue
		case reflect.Slice:
			if v.Len() == 0 || g.r.IntN(6) == 0 || v.Type().Elem().Kind() == reflect.Uint8 {
				g.fill(v, tag)
				return
			}
			v = v.Index(g.r.IntN(v.Len()))
			continue
		case reflect.Array:
			v = v.Index(g.r.IntN(v.Len()))
			continue
		}
		g.fill(v, tag)
		return
	}
}

// sameAnswer reports whether Validate answers in as the walk does. A map
// is walked in random order, so when it differs the walk is asked again:
// with two members of a map failing, either may be the one named.
func sameAnswer(in any) (got, want string, ok bool) {
	got = Validate(in)
	for range 64 {
		if want = oracleValidate(in); want == got {
			return got, want, true
		}
	}
	return got, want, false
}

// TestCompiledValidateAsTheWalk: Validate, compiled per type, answers as
// the walk it replaced (validate_oracle_test.go) on thousands of random
// values of CreateWorkspaces' and DescribeWorkspaces' inputs, the fuzz
// inputs and a type of every shape, and on a mutation of each: the same
// first violation in the same words, or "" for both.
func TestCompiledValidateAsTheWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 9))
	g := &gen{r: r}
	types := []reflect.Type{
		reflect.TypeFor[cwIn](), reflect.TypeFor[describeIn](), reflect.TypeFor[shapesIn](),
		reflect.TypeFor[fuzzRequest](), reflect.TypeFor[fuzzInput](), reflect.TypeFor[shapeTree](),
	}
	n := 2000
	if testing.Short() {
		n = 500
	}
	for _, typ := range types {
		valid, messages := 0, map[string]bool{}
		for i := range n {
			g.bad = []int{0, 5, 20, 100, 300}[i%5]
			p := reflect.New(typ)
			g.fill(p.Elem(), "")
			for m := range 2 {
				if m == 1 {
					g.mutate(p.Elem(), "")
				}
				in := p.Interface()
				if i%7 == 0 {
					in = p.Elem().Interface() // a value, not a pointer
				}
				got, want, ok := sameAnswer(in)
				if !ok {
					t.Fatalf("%v #%d.%d: Validate = %q, the walk %q", typ, i, m, got, want)
				}
				if got == "" {
					valid++
				} else {
					messages[got[:strings.Index(got, " failed")]] = true
				}
			}
		}
		t.Logf("%v: %d of %d valid, %d distinct violations", typ, valid, 2*n, len(messages))
		if valid < n/20 || len(messages) < 20 {
			t.Errorf("%v: %d valid, %d distinct violations: the values do not reach both answers", typ, valid, len(messages))
		}
	}
}

// TestCompiledValidateShapes: values a random fill seldom makes. A nil
// value, a nil pointer and a pointer to a pointer are valid or checked as
// the walk does.
func TestCompiledValidateShapes(t *testing.T) {
	s := func(v string) *string { return &v }
	var nilIn *cwIn
	ok := &cwIn{Workspaces: []cwRequest{{DirectoryId: "d-1234567890", UserName: "u", BundleId: "wsb-12345678"}}}
	bad := &cwIn{Workspaces: []cwRequest{{DirectoryId: "d-1234567890", UserName: "u", BundleId: "wsb-12345678",
		WorkspaceProperties: &cwProperties{GlobalAccelerator: &cwGA{Mode: s("ON")}}}}}
	var anyNil any
	for i, in := range []any{nil, nilIn, ok, &ok, bad, &bad, *bad, anyNil, &anyNil, &shapeTree{}, map[string]cwIn{"a": *bad}, []cwIn{*ok, *bad}} {
		if got, want, same := sameAnswer(in); !same {
			t.Errorf("case %d: Validate = %q, the walk %q", i, got, want)
		}
	}
	if got := Validate(bad); !strings.Contains(got, "'workspaces.1.member.workspaceProperties.globalAccelerator.mode'") {
		t.Errorf("Validate = %q", got)
	}
}

// TestValidatorCompiledOnce: requests that arrive together with a type
// not compiled yet all get one validator, compiled once. It fails (in
// most runs) when each caller compiles the type itself: the callers
// that lose the race get validators of their own.
func TestValidatorCompiledOnce(t *testing.T) {
	for round := range 20 {
		// A type no other test compiles, with checks that take a while
		// to build (patterns), one per round.
		fields := make([]reflect.StructField, 12)
		for i := range fields {
			fields[i] = reflect.StructField{
				Name: "F" + strconv.Itoa(round) + "x" + strconv.Itoa(i), Type: reflect.TypeFor[*string](),
				Tag: reflect.StructTag(`json:"f` + strconv.Itoa(i) + `" v:"min=1,max=63,pattern=^[a-z]{1,` + strconv.Itoa(10+i) + `}$"`),
			}
		}
		typ := reflect.StructOf(fields)
		const callers = 8
		got := make(chan *validator, callers)
		start := make(chan struct{})
		for range callers {
			go func() { <-start; got <- validatorOf(typ) }()
		}
		close(start)
		first := <-got
		for range callers - 1 {
			if v := <-got; v != first {
				t.Fatalf("round %d: callers got different validators of one type (each compiled it)", round)
			}
		}
	}
}
