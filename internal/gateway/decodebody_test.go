package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unsafe"
)

// nameIn is an input with a FastJSON decoder of one form,
// {"Name":"..."}, whose string it slices from the body it is given.
type nameIn struct {
	Name string `json:"Name"`
}

func (n *nameIn) DecodeJSONFast(body string) bool {
	const head, tail = `{"Name":"`, `"}`
	if !strings.HasPrefix(body, head) || !strings.HasSuffix(body, tail) {
		return false
	}
	n.Name = body[len(head) : len(body)-len(tail)]
	return true
}

// TestDecodeJSONBodySharesOnlyItsOwnBuffer: a body readBody read into a
// buffer of its own is handed over (the decoded strings are slices of it),
// a small one in the call's array is copied (strings of it would keep the
// call's state alive).
func TestDecodeJSONBodySharesOnlyItsOwnBuffer(t *testing.T) {
	within := func(s string, b []byte) bool {
		p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		return p >= lo && p < lo+uintptr(cap(b))
	}
	doc := `{"Name":"` + strings.Repeat("x", 300) + `"}`
	st := &callState{}
	for _, c := range []struct {
		name  string
		body  string
		share bool
	}{{"small", `{"Name":"abc"}`, false}, {"large", doc, true}} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
		body, err := readBody(r, 1<<20, st.body[:])
		if err != nil {
			t.Fatal(err)
		}
		var in nameIn
		if err := decodeJSONBody(body, &in, "ValidationException"); err != nil {
			t.Fatal(err)
		}
		if want := c.body[9 : len(c.body)-2]; in.Name != want {
			t.Fatalf("%s: Name = %q, want %q", c.name, in.Name, want)
		}
		if got := within(in.Name, body); got != c.share {
			t.Errorf("%s: the decoded string in the body's buffer = %v, want %v", c.name, got, c.share)
		}
		if within(in.Name, st.body[:]) {
			t.Errorf("%s: the decoded string is in the call's array", c.name)
		}
	}
}
