package cloudtrail

import (
	"bytes"
	"testing"
	"unsafe"
)

// TestAdvance drops every count of bytes from vectors of several lengths
// (an empty one among them): what is left is the rest of their bytes.
func TestAdvance(t *testing.T) {
	parts := [][]byte{[]byte("abc"), []byte("\n"), []byte("defgh"), {}, []byte("ij")}
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	for n := 0; n <= len(all); n++ {
		var v []iovec
		for _, p := range parts {
			var x iovec
			if len(p) > 0 {
				x.Base = &p[0]
			}
			x.SetLen(len(p))
			v = append(v, x)
		}
		var got []byte
		for _, x := range advance(v, n) {
			if x.Len > 0 {
				got = append(got, unsafe.Slice(x.Base, x.Len)...)
			}
		}
		if !bytes.Equal(got, all[n:]) {
			t.Fatalf("advance by %d: %q, want %q", n, got, all[n:])
		}
	}
}
