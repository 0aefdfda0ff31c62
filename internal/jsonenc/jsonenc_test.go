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

// TestPlainWordAsTheTable: plainWord is true exactly when the table holds
// all eight bytes plain, over words of random bytes, of plain bytes with
// one byte changed to each of the 256, and of the bytes around each edge
// (0x1f/0x20, 0x7f/0x80, the five escaped).
func TestPlainWordAsTheTable(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 8))
	want := func(x uint64) bool {
		for i := range 8 {
			if !plain[byte(x>>(8*i))] {
				return false
			}
		}
		return true
	}
	edges := []byte{0x00, 0x1f, 0x20, 0x21, '"', '!', '#', '\\', '[', ']', '<', '=', '>', '?', '&', '%', '\'', 0x7e, 0x7f, 0x80, 0x81, 0xff, 'a'}
	check := func(x uint64) {
		if got := plainWord(x); got != want(x) {
			t.Fatalf("plainWord(%#016x) = %v", x, got)
		}
	}
	for range 200000 {
		check(r.Uint64())
		var x uint64
		for i := range 8 {
			x |= uint64(edges[r.IntN(len(edges))]) << (8 * i)
		}
		check(x)
	}
	const base = 0x6162636465666768 // "abcdefgh"
	for i := range 8 {
		for c := range 256 {
			check(base&^(0xff<<(8*i)) | uint64(c)<<(8*i))
		}
	}
}

// stringBytewise is String as it was before plainWord: the plain run found
// one table lookup per byte (the benchmark's reference).
func stringBytewise(b []byte, s string) []byte {
	i := 0
	for i < len(s) && plain[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return String(b, s)
}

// BenchmarkStringRecord encodes the strings of a created desktop's record
// (bench/peer's), with String and with the bytewise scan.
func BenchmarkStringRecord(b *testing.B) {
	strs := []string{"ws-0btcdwqoo", "d-0123456789", "[UNDEFINED]", "b12-24", "wsb-bench0001", "PENDING", "subnet-0a", "10.0.1.4",
		"MANUAL", "PERFORMANCE", "WINDOWS_10", "vol-2a488264c4ecbfca7", "wsi-bench0001", "vol-6f19095ec5e4848fe",
		"PartnerManaged", "true", "mwg/0pdt9pe8rumn4m7ts7xv", "PENDING"}
	buf := make([]byte, 0, 512)
	b.Run("bytewise", func(b *testing.B) {
		for b.Loop() {
			buf = buf[:0]
			for _, s := range strs {
				buf = stringBytewise(buf, s)
			}
		}
	})
	b.Run("String", func(b *testing.B) {
		for b.Loop() {
			buf = buf[:0]
			for _, s := range strs {
				buf = String(buf, s)
			}
		}
	})
}
