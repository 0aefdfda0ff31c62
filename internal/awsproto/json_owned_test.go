package awsproto

import (
	"strings"
	"testing"
	"unsafe"
)

// ownedIn is an input with a FastJSON decoder of one form,
// {"Name":"..."}, whose string it slices from the body it is given.
type ownedIn struct {
	Name string `json:"Name"`
}

func (o *ownedIn) DecodeJSONFast(body string) bool {
	const head, tail = `{"Name":"`, `"}`
	if !strings.HasPrefix(body, head) || !strings.HasSuffix(body, tail) {
		return false
	}
	o.Name = body[len(head) : len(body)-len(tail)]
	return true
}

// TestDecodeJSONCopiesTheBody: DecodeJSON's caller may write its body
// again, so a FastJSON input's strings must not share it.
func TestDecodeJSONCopiesTheBody(t *testing.T) {
	body := []byte(` {"Name":"abc"}` + "\n")
	var in ownedIn
	if err := DecodeJSON(body, &in, "ValidationException"); err != nil {
		t.Fatal(err)
	}
	copy(body, ` {"Name":"xyz"}`)
	if in.Name != "abc" {
		t.Fatalf("Name after the body was written = %q, want abc", in.Name)
	}
}

// TestDecodeJSONOwnedSharesTheBody: DecodeJSONOwned's FastJSON input
// slices its strings from the body itself (no copy of it), and a body the
// fast decoder refuses is decoded by the general decoder as DecodeJSON's.
func TestDecodeJSONOwnedSharesTheBody(t *testing.T) {
	body := []byte(` {"Name":"abc"}` + "\n")
	var in ownedIn
	if err := DecodeJSONOwned(body, &in, "ValidationException"); err != nil {
		t.Fatal(err)
	}
	if in.Name != "abc" {
		t.Fatalf("Name = %q, want abc", in.Name)
	}
	if unsafe.StringData(in.Name) != &body[10] {
		t.Fatal("Name is not a slice of the body")
	}
	for _, b := range []string{`{"Name": "abc"}`, `{"Name":"a\u0062c"}`, `{}`, ""} {
		var owned, copied ownedIn
		errO := DecodeJSONOwned([]byte(b), &owned, "ValidationException")
		errC := DecodeJSON([]byte(b), &copied, "ValidationException")
		if (errO == nil) != (errC == nil) || owned != copied {
			t.Errorf("%s: owned %+v, %v; DecodeJSON %+v, %v", b, owned, errO, copied, errC)
		}
	}
}
