package store

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// appendRec is a record with its own encoder, as desktop records have.
type appendRec struct {
	Name string `json:"name"`
	fail bool
}

func (r appendRec) AppendJSON(b []byte) ([]byte, error) {
	if r.fail {
		return append(b, "partial"...), errors.New("cannot encode")
	}
	out, err := json.Marshal(r)
	return append(b, out...), err
}

// TestEncodeJSONCopiesOutOfItsScratch: a record encoded with its
// AppendJSON comes back at its size (capacity = length, so the read cache
// keeps it without copying), and later encodings, which reuse the scratch
// buffer, never change it; a failed encoding returns no bytes.
func TestEncodeJSONCopiesOutOfItsScratch(t *testing.T) {
	first, err := EncodeJSON(appendRec{Name: strings.Repeat("a", 700)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"` + strings.Repeat("a", 700) + `"}`
	if string(first) != want || cap(first) != len(first) {
		t.Fatalf("first: %d bytes, capacity %d; want %d bytes at capacity", len(first), cap(first), len(want))
	}
	for i := range 4 {
		if _, err := EncodeJSON(appendRec{Name: strings.Repeat("b", 100*i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := EncodeJSON(appendRec{Name: strings.Repeat("c", 70000)}); err != nil { // past the pooled size
			t.Fatal(err)
		}
	}
	if string(first) != want {
		t.Fatalf("a later encoding changed an earlier one: %.40s", first)
	}
	if b, err := EncodeJSON(appendRec{fail: true}); err == nil || b != nil {
		t.Fatalf("failed encoding: %q, %v", b, err)
	}
	// A record without AppendJSON goes through encoding/json.
	if b, err := EncodeJSON(map[string]int{"n": 1}); err != nil || string(b) != `{"n":1}` {
		t.Fatalf("plain record: %s, %v", b, err)
	}
}
