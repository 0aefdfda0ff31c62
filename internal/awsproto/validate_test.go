package awsproto

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestValidateNamesTheMemberPath: a message names the failing member by
// its path (its first letter lower-cased), list elements by 1-based index
// and map values by key.
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
		{input{Workspaces: []item{{BundleId: s("b")}, {}}}, "Value null at 'workspaces.2.BundleId'"},
		{input{Workspaces: []item{{BundleId: s("b"), Props: &props{Mode: s("C")}}}}, "Value 'C' at 'workspaces.1.Props.Mode'"},
		{input{Workspaces: []item{{BundleId: s("b"), Labels: map[string]props{"k1": {Mode: s("Z")}}}}}, "Value 'Z' at 'workspaces.1.Labels.k1.Mode'"},
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
// member to it, and the message names the list (DirectoryIds).
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
		{[]string{"d-0123456789", "d-nope"}, "1 validation error detected: Value 'd-nope' at 'directoryIds' failed to satisfy constraint: Member must satisfy regular expression pattern: ^d-[0-9a-f]{10}$"},
		{[]string{"x", "y", "z"}, "Member must have length less than or equal to 2"},
	} {
		got := Validate(&input{DirectoryIds: c.ids})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%q: Validate = %q, want a message with %q", c.ids, got, c.want)
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
