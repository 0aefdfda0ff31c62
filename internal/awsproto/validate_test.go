package awsproto

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestValidateNamesTheMemberPath: a message names the failing member by
// its path as AWS does (each member's first letter lower-cased, a list
// element as "N.member" with N 1-based, a map value by its key).
func TestValidateNamesTheMemberPath(t *testing.T) {
	type props struct {
		Mode *string `json:"Mode" v:"enum=A|B"`
	}
	type item struct {
		BundleId *string          `json:"BundleId" v:"required"`
		Props    *props           `json:"Props"`
		Labels   map[string]props `json:"Labels"`
	}
	type input struct {
		Workspaces []item `json:"Workspaces" v:"required,min=1,max=3"`
	}
	s := func(v string) *string { return &v }
	cases := []struct {
		in   input
		want string
	}{
		{input{Workspaces: []item{{BundleId: s("b")}}}, ""},
		{input{}, "Value null at 'workspaces'"},
		{input{Workspaces: []item{{BundleId: s("b")}, {}}}, "Value null at 'workspaces.2.member.bundleId'"},
		{input{Workspaces: []item{{BundleId: s("b"), Props: &props{Mode: s("C")}}}}, "Value 'C' at 'workspaces.1.member.props.mode'"},
		{input{Workspaces: []item{{BundleId: s("b"), Labels: map[string]props{"k1": {Mode: s("Z")}}}}}, "Value 'Z' at 'workspaces.1.member.labels.k1.mode'"},
		{input{Workspaces: make([]item, 4)}, "Value at 'workspaces' failed to satisfy constraint: Member must have length less than or equal to 3"},
	}
	for i, c := range cases {
		got := Validate(&c.in)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("case %d: Validate = %q, want a message with %q", i, got, c.want)
		}
	}
}

// TestValidatePatternOnAList: a pattern on a list of strings holds each
// member to it, and the message names the member (directoryIds.2.member).
func TestValidatePatternOnAList(t *testing.T) {
	type input struct {
		DirectoryIds []string `json:"DirectoryIds" v:"max=2,pattern=^d-[0-9a-f]{10}$"`
	}
	for _, c := range []struct {
		ids  []string
		want string
	}{
		{nil, ""},
		{[]string{"d-0123456789", "d-abcdefabcd"}, ""},
		{[]string{"d-0123456789", "d-nope"}, "1 validation error detected: Value 'd-nope' at 'directoryIds.2.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ^d-[0-9a-f]{10}$"},
		{[]string{"x", "y", "z"}, "Member must have length less than or equal to 2"},
	} {
		got := Validate(&input{DirectoryIds: c.ids})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%q: Validate = %q, want a message with %q", c.ids, got, c.want)
		}
	}
}

// TestValidateRepeatedValuesStillChecked: a Validate call remembers the
// last value each pattern matched (the members of a request repeat their
// directory and bundle ids); a member whose value differs is still held to
// the pattern, with more patterns than the memory has places and with
// fewer (each then remembered between members), and a later
// call does not take an earlier call's match.
func TestValidateRepeatedValuesStillChecked(t *testing.T) {
	type item struct {
		A string `json:"A" v:"pattern=^a+$"`
		B string `json:"B" v:"pattern=^b+$"`
		C string `json:"C" v:"pattern=^c+$"`
		D string `json:"D" v:"pattern=^d+$"`
		E string `json:"E" v:"pattern=^e+$"`
	}
	type input struct {
		Items []item `json:"Items"`
	}
	ok := item{"aa", "bb", "cc", "dd", "ee"}
	for _, c := range []struct {
		items []item
		want  string
	}{
		{[]item{ok, ok, ok}, ""},
		{[]item{ok, ok, {"aa", "bb", "cc", "dd", "ex"}}, "Value 'ex' at 'items.3.member.e'"},
		{[]item{ok, {"aa", "bx", "cc", "dd", "ee"}}, "Value 'bx' at 'items.2.member.b'"},
		{[]item{ok, {"a", "b", "c", "d", "e"}, {"ax", "b", "c", "d", "e"}}, "Value 'ax' at 'items.3.member.a'"},
		{[]item{{"xa", "bb", "cc", "dd", "ee"}}, "Value 'xa' at 'items.1.member.a'"},
	} {
		got := Validate(&input{Items: c.items})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%v: Validate = %q, want a message with %q", c.items, got, c.want)
		}
	}
	// Fewer patterns than places: each is remembered between members.
	type pair struct {
		A string `json:"A" v:"pattern=^a+$"`
		B string `json:"B" v:"pattern=^b+$"`
	}
	type pairs struct {
		Items []pair `json:"Items"`
	}
	for _, c := range []struct {
		items []pair
		want  string
	}{
		{[]pair{{"aa", "bb"}, {"aa", "bb"}, {"a", "bb"}}, ""},
		{[]pair{{"aa", "bb"}, {"aa", "bb"}, {"ax", "bb"}}, "Value 'ax' at 'items.3.member.a'"},
		{[]pair{{"aa", "bb"}, {"aa", "bx"}}, "Value 'bx' at 'items.2.member.b'"},
		{[]pair{{"a", "b"}, {"aa", "bb"}, {"a", "xb"}}, "Value 'xb' at 'items.3.member.b'"},
	} {
		got := Validate(&pairs{Items: c.items})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%v: Validate = %q, want a message with %q", c.items, got, c.want)
		}
	}
}

// TestValidateListMembers: a list of strings' members are held to their
// lengths (mmin/mmax) and pattern one by one, named by "N.member" inside
// nested lists; an enum on a list is worded as KMS words Operations (the
// whole list named); nonempty refuses an empty list.
func TestValidateListMembers(t *testing.T) {
	type filter struct {
		Values []string `json:"Values" v:"required,min=1,max=2,mmin=1,mmax=5,pattern=^[a-z]+$"`
	}
	type input struct {
		Filters    []filter `json:"Filters"`
		Operations []string `json:"Operations" v:"nonempty,enum=Encrypt|Decrypt"`
	}
	for i, c := range []struct {
		in   input
		want string
	}{
		{input{Filters: []filter{{Values: []string{"abc"}}}, Operations: []string{"Decrypt"}}, ""},
		{input{Filters: []filter{{Values: []string{"abc"}}, {Values: []string{"ok", "toolong"}}}},
			"1 validation error detected: Value 'toolong' at 'filters.2.member.values.2.member' failed to satisfy constraint: Member must have length less than or equal to 5"},
		{input{Filters: []filter{{Values: []string{"AB"}}}},
			"1 validation error detected: Value 'AB' at 'filters.1.member.values.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z]+$"},
		{input{Filters: []filter{{Values: []string{""}}}},
			"1 validation error detected: Value '' at 'filters.1.member.values.1.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{input{Operations: []string{"Encrypt", "Sing"}},
			"1 validation error detected: Value '[Encrypt, Sing]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [Encrypt, Decrypt]]"},
		{input{Operations: []string{}},
			"1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must not be empty"},
	} {
		if got := Validate(&c.in); got != c.want {
			t.Errorf("case %d: Validate = %q, want %q", i, got, c.want)
		}
	}
}

// TestValidateNumbersAndBlobs: a number's bounds are worded as values, a
// plain number's zero is absent, a pointer's zero is checked, and a blob's
// bounds are its length with no value quoted.
func TestValidateNumbersAndBlobs(t *testing.T) {
	type input struct {
		Days     *int   `json:"PendingWindowInDays" v:"min=7,max=30"`
		Duration int    `query:"MaxSessionDuration" v:"min=3600,max=43200"`
		Blob     []byte `json:"CiphertextBlob" v:"required,min=1,max=4"`
	}
	n := func(v int) *int { return &v }
	blob := []byte("ab")
	for i, c := range []struct {
		in   input
		want string
	}{
		{input{Blob: blob}, ""},
		{input{Blob: blob, Days: n(7), Duration: 3600}, ""},
		{input{Blob: blob, Days: n(0)}, "1 validation error detected: Value '0' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7"},
		{input{Blob: blob, Days: n(31)}, "1 validation error detected: Value '31' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30"},
		{input{Blob: blob, Duration: 60}, "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"},
		{input{}, "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"},
		{input{Blob: []byte{}}, "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{input{Blob: []byte("abcde")}, "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 4"},
	} {
		if got := Validate(&c.in); got != c.want {
			t.Errorf("case %d: Validate = %q, want %q", i, got, c.want)
		}
	}
}

// TestFastDecodableTypes: the fast JSON path is for input types without a
// member of interface type, at any depth (recursive types included).
func TestFastDecodableTypes(t *testing.T) {
	type node struct {
		Next     *node
		Children []node
		Tags     map[string]string
	}
	type withAny struct {
		Config any
	}
	type nestedAny struct {
		Items []map[string]withAny
	}
	for _, c := range []struct {
		v    any
		want bool
	}{{node{}, true}, {fuzzInput{}, true}, {withAny{}, false}, {nestedAny{}, false}, {struct{}{}, true}} {
		if got := fastDecodable(reflect.TypeOf(c.v)); got != c.want {
			t.Errorf("%T: fastDecodable = %v, want %v", c.v, got, c.want)
		}
	}
	var v withAny
	if decodeFast([]byte(`{"Config":{"n":1}}`), &v) || v.Config != nil {
		t.Fatal("a type with an interface member took the fast path")
	}
	if err := DecodeJSON([]byte(`{"Config":{"n":1}}`), &v, "ValidationException"); err != nil || v.Config.(map[string]any)["n"] != json.Number("1") {
		t.Fatalf("interface members decode with encoding/json's numbers: %v %#v", err, v.Config)
	}
}

// TestValidateRememberedPerRule: a string a rule passed passes that rule
// again at once (vstate.passed), never another rule, even one sharing its
// slot (a struct of more rules than slots), and a changed string is checked
// again.
func TestValidateRememberedPerRule(t *testing.T) {
	type wide struct {
		A  string  `json:"A" v:"pattern=^a+$"`
		F1 string  `json:"F1" v:"max=3"`
		F2 string  `json:"F2" v:"max=3"`
		F3 string  `json:"F3" v:"max=3"`
		F4 string  `json:"F4" v:"max=3"`
		F5 string  `json:"F5" v:"max=3"`
		F6 string  `json:"F6" v:"max=3"`
		F7 string  `json:"F7" v:"max=3"`
		F8 string  `json:"F8" v:"max=3"`
		F9 string  `json:"F9" v:"max=3"`
		G1 string  `json:"G1" v:"max=3"`
		G2 string  `json:"G2" v:"max=3"`
		G3 string  `json:"G3" v:"max=3"`
		G4 string  `json:"G4" v:"max=3"`
		G5 string  `json:"G5" v:"max=3"`
		G6 string  `json:"G6" v:"max=3"`
		B  *string `json:"B" v:"pattern=^b+$"`
		C  string  `json:"C" v:"enum=aa|bb"`
	}
	type input struct {
		Items []wide `json:"Items"`
	}
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		items []wide
		want  string
	}{
		{[]wide{{A: "aa", B: s("bb"), C: "aa"}, {A: "aa", B: s("bb"), C: "aa"}}, ""},
		{[]wide{{A: "aa", B: s("bb")}, {A: "aa", B: s("aa")}}, "Value 'aa' at 'items.2.member.b'"},
		{[]wide{{A: "aa", B: s("bb")}, {A: "bb", B: s("bb")}}, "Value 'bb' at 'items.2.member.a'"},
		{[]wide{{A: "aa", B: s("bb")}, {A: "ab", B: s("bb")}}, "Value 'ab' at 'items.2.member.a'"},
		{[]wide{{A: "aa", F1: "abc"}, {A: "aa", F1: "abcd"}}, "Value 'abcd' at 'items.2.member.f1'"},
		{[]wide{{A: "aa", F1: "abc", G6: "abc"}, {A: "aa", F1: "abc", G6: "abcd"}}, "Value 'abcd' at 'items.2.member.g6'"},
		{[]wide{{A: "aa", C: "aa"}, {A: "aa", C: "ab"}}, "Value 'ab' at 'items.2.member.c'"},
	} {
		got := Validate(&input{Items: c.items})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%+v: Validate = %q, want a message with %q", c.items, got, c.want)
		}
		if want := oracleValidate(&input{Items: c.items}); got != want {
			t.Errorf("%+v: Validate = %q, the walk %q", c.items, got, want)
		}
	}
}
