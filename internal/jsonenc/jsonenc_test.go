package jsonenc

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

func TestStringEscapesAsEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", "<script>&amp;</script>", "quote\" back\\slash", "\x00\x01\x1f\x7f", "tab\tcr\rnl\n",
		"é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8", "\xe2\x82", "mixed \x00é\xff<"}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestBytesAndTimeAsEncodingJSON(t *testing.T) {
	for _, p := range [][]byte{nil, {}, {0}, []byte("hello, world"), {0xff, 0xfe, 0xfd, 0xfc}} {
		want, _ := json.Marshal(p)
		if got := Bytes(nil, p); string(got) != string(want) {
			t.Errorf("Bytes(%v) = %s, want %s", p, got, want)
		}
	}
	east := time.FixedZone("east", 5*3600+30*60)
	for _, tm := range []time.Time{{}, time.Date(2026, 11, 28, 22, 5, 30, 589814384, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, east),
		time.Date(1999, 12, 31, 23, 59, 59, 100, time.UTC), time.Now()} {
		want, _ := json.Marshal(tm)
		got, err := Time(nil, tm)
		if err != nil || string(got) != string(want) {
			t.Errorf("Time(%v) = %s, %v; want %s", tm, got, err, want)
		}
	}
	if _, err := Time(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("a year past 9999 must fail, as encoding/json does")
	}
	if got := string(Field(Field(nil, "a", true), "b", false)); got != `"a":,"b":` {
		t.Errorf("Field = %s", got)
	}
}

// TestStringRandomAsEncodingJSON holds String to encoding/json over random
// strings: plain runs of every length before, between and after bytes
// that need escaping, multi-byte and invalid UTF-8.
func TestStringRandomAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "ws-0bst0hl6x", "\"", "\\", "<", ">", "&", "\x00", "\x1f", "\n", "\x7f", "é", "日", "\u2028", "\xff", "\xe2\x82", " "}
	for range 20000 {
		var s string
		for n := r.IntN(8); n > 0; n-- {
			s += pieces[r.IntN(len(pieces))]
		}
		want, _ := json.Marshal(s)
		if got := String([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("String(%q) = %s, want x%s", s, got, want)
		}
	}
}

// BenchmarkString encodes a desktop id, the commonest string of a record.
func BenchmarkString(b *testing.B) {
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = String(buf[:0], "111122223333/us-east-1/ws-0bst0hl6x")
	}
}
