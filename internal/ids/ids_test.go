package ids

import (
	"regexp"
	"testing"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func() string
		re   string
	}{
		{"Hex 17", func() string { return Hex(17) }, `^[0-9a-f]{17}$`},
		{"Hex 16", func() string { return Hex(16) }, `^[0-9a-f]{16}$`},
		{"Hex 64", func() string { return Hex(64) }, `^[0-9a-f]{64}$`},
		{"Hex 1", func() string { return Hex(1) }, `^[0-9a-f]$`},
		{"UUID", UUID, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		{"RequestID", RequestID, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		{"Base36 9", func() string { return FromAlphabet(Base36, 9) }, `^[0-9a-z]{9}$`},
		{"access key", func() string { return FromAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) }, `^[A-Z2-7]{16}$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := regexp.MustCompile(tc.re)
			seen := map[string]bool{}
			for range 200 {
				id := tc.gen()
				if !re.MatchString(id) {
					t.Fatalf("%q does not match %s", id, tc.re)
				}
				seen[id] = true
			}
			// Random, not constant: 200 draws give many values.
			if len(seen) < 10 {
				t.Fatalf("%d distinct values in 200 draws", len(seen))
			}
		})
	}
}

// TestRequestIDUsesEveryDigit: every digit but the version's varies over
// many request ids (a half of the 16 bytes left unset would keep 16 of
// them constant), and the variant digit takes all of 8, 9, a and b.
func TestRequestIDUsesEveryDigit(t *testing.T) {
	seen := make([]map[byte]bool, 36)
	for i := range seen {
		seen[i] = map[byte]bool{}
	}
	for range 2000 {
		id := RequestID()
		for i := range len(id) {
			seen[i][id[i]] = true
		}
	}
	for i, s := range seen {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23: // dashes
		case i == 14: // the version
			if len(s) != 1 || !s['4'] {
				t.Fatalf("version digit took %v", s)
			}
		case i == 19: // the variant
			if len(s) != 4 {
				t.Fatalf("variant digit took %v", s)
			}
		case len(s) < 12:
			t.Fatalf("digit %d took only %d values in 2000 ids", i, len(s))
		}
	}
}

func BenchmarkUUID(b *testing.B) {
	for b.Loop() {
		UUID()
	}
}

func BenchmarkRequestID(b *testing.B) {
	for b.Loop() {
		RequestID()
	}
}
