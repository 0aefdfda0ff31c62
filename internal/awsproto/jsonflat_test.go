package awsproto

import (
	"bytes"
	"reflect"
	"testing"
)

// flatIn has a member of every flat kind, and one that is not.
type flatIn struct {
	IDs      []string `json:"WorkspaceIds,omitempty" v:"min=1,max=25"`
	Dir      *string  `json:"DirectoryId,omitempty"`
	Name     string   `json:"Name"`
	Limit    *int     `json:"Limit,omitempty"`
	Small    *int32   `json:"Small,omitempty"`
	Big      int64    `json:"Big"`
	Count    int      `json:"Count"`
	Count32  int32    `json:"Count32"`
	Big64    *int64   `json:"Big64"`
	DryRun   *bool    `json:"DryRun,omitempty"`
	Force    bool     `json:"Force"`
	NoTag    string
	Skipped  string            `json:"-"`
	Other    map[string]string `json:"Other,omitempty"`
	internal string
}

var flatBodies = []string{
	`{}`, ` { } `, `{"WorkspaceIds":["ws-abcdefgh1"]}`, `{"WorkspaceIds":["ws-1","ws-2"],"Limit":25}`,
	`{"WorkspaceIds":[]}`, `{"WorkspaceIds":[ "a" , "b" ]}`, "{\n\t\"WorkspaceIds\" :\r[\"a\"]\n}",
	`{"DirectoryId":"d-1234567890","Name":"x","NoTag":"y"}`, `{"Name":"é ünïcödé"}`,
	`{"Limit":0}`, `{"Limit":-0}`, `{"Limit":-5}`, `{"Limit":01}`, `{"Limit":1.0}`, `{"Limit":1e2}`, `{"Limit":-}`,
	`{"Small":2147483647}`, `{"Small":2147483648}`, `{"Small":-2147483648}`, `{"Small":-2147483649}`,
	`{"Big":9223372036854775807}`, `{"Big":9223372036854775808}`, `{"Count":-9223372036854775808}`, `{"Count32":7,"Big64":-8}`,
	`{"DryRun":true}`, `{"DryRun":false}`, `{"Force":true}`, `{"Force":tru}`, `{"Force":"true"}`, `{"Force":null}`,
	`{"WorkspaceIds":null}`, `{"DirectoryId":null}`, `{"Name":null}`, `{"Limit":null}`,
	`{"workspaceids":["a"]}`, `{"WORKSPACEIDS":["a"]}`, `{"Unknown":1}`, `{"Skipped":"x"}`, `{"-":"x"}`, `{"internal":"x"}`,
	`{"Other":{"a":"b"}}`, `{"WorkspaceIds":["a"],"WorkspaceIds":["b"]}`, `{"Name":"a","Name":"b"}`,
	`{"Name":"a\"b"}`, `{"Name":"a\\u0041"}`, `{"Name":"a\nb"}`, "{\"Name\":\"\xff\"}", "{\"Name\":\"a\tb\"}",
	`{"WorkspaceIds":["a",]}`, `{"WorkspaceIds":["a" "b"]}`, `{"WorkspaceIds":[1]}`, `{"WorkspaceIds":"a"}`,
	`{"Name":"a",}`, `{"Name":"a"} x`, `{"Name":"a"}}`, `{"Name":"a"`, `{"Name"}`, `{"Name":}`, `{,}`, `{`, `}`,
	`[]`, `null`, `"x"`, `{"Name":"a" "Limit":1}`, `{"Limit":1}{}`, `{'Name':'a'}`,
}

// TestDecodeFlatAsTheDecoder: what decodeFlat accepts, encoding/json
// decodes to the same value; what it refuses it leaves zero; and
// DecodeJSON with it gives the values and the errors it gives without it.
// It fails with an integer's range not checked, a leading zero, an escape
// taken as it is, or content after the object accepted.
func TestDecodeFlatAsTheDecoder(t *testing.T) {
	accepted := 0
	types := append(fuzzTypes(), func() any { return &flatIn{} })
	for _, body := range flatBodies {
		for _, mk := range types {
			if flatAgree(t, []byte(body), mk) {
				accepted++
			}
		}
	}
	if accepted < 20 {
		t.Fatalf("only %d bodies decoded flat", accepted)
	}
	if d := flatOf(reflect.TypeOf(&fuzzInput{})); d.fields == nil {
		t.Error("fuzzInput has flat members but no flat decoder")
	}
	if d := flatOf(reflect.TypeOf(&fuzzTag{})); d.fields == nil {
		t.Error("fuzzTag is flat")
	}
}

// flatAgree checks one body and type, and reports whether decodeFlat took
// it.
func flatAgree(t *testing.T, body []byte, mk func() any) bool {
	t.Helper()
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return false
	}
	flat, std := mk(), mk()
	stdErr := decodeStd(body, std, "ValidationException")
	took := decodeFlat(body, flat)
	if !took {
		if !reflect.DeepEqual(flat, mk()) {
			t.Fatalf("%T %q: a refused body left %+v", flat, body, flat)
		}
	} else {
		if stdErr != nil {
			t.Fatalf("%T %q: decoded flat what encoding/json refuses (%v)", flat, body, stdErr)
		}
		if !reflect.DeepEqual(flat, std) {
			t.Fatalf("%T %q: values differ:\n flat %+v\n  std %+v", flat, body, flat, std)
		}
	}
	// DecodeJSON as a whole, with the flat path and without it.
	with, without := mk(), mk()
	errWith := DecodeJSON(body, with, "ValidationException")
	flatOff.Store(true)
	errWithout := DecodeJSON(body, without, "ValidationException")
	flatOff.Store(false)
	if (errWith == nil) != (errWithout == nil) || (errWith != nil && errWith.Error() != errWithout.Error()) {
		t.Fatalf("%T %q: DecodeJSON's error %v, without the flat path %v", with, body, errWith, errWithout)
	}
	if !reflect.DeepEqual(with, without) {
		t.Fatalf("%T %q: DecodeJSON's value %+v, without the flat path %+v", with, body, with, without)
	}
	return took
}

// FuzzDecodeFlatAgrees is TestDecodeFlatAsTheDecoder's check on any body.
func FuzzDecodeFlatAgrees(f *testing.F) {
	for _, s := range flatBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range append(fuzzTypes(), func() any { return &flatIn{} }) {
			flatAgree(t, body, mk)
		}
	})
}

// TestDecodeFlatNotFlat: types that decode themselves, embed a struct,
// have two fields named alike in another case or a field option other than
// omitempty are not decoded flat.
func TestDecodeFlatNotFlat(t *testing.T) {
	type embedded struct{ fuzzTag }
	type cased struct {
		A string `json:"Name"`
		B string `json:"name"`
	}
	type quoted struct {
		N int `json:"N,string"`
	}
	for _, v := range []any{&Time{}, &embedded{}, &cased{}, &quoted{}, &struct{}{}, new(string)} {
		if d := flatOf(reflect.TypeOf(v)); d.fields != nil {
			t.Errorf("%T: decoded flat", v)
		}
	}
}
