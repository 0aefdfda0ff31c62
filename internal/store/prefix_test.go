package store

import "testing"

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		p, want string
		ok      bool
	}{
		{"", "", false},
		{"\xff\xff", "", false},
		{"a", "b", true},
		{"1/us-east-1/", "1/us-east-10", true},
		{"ab\xff", "ac", true},
		{"a\xff\xff", "b", true},
	} {
		got, ok := PrefixEnd(tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", tc.p, got, ok, tc.want, tc.ok)
		}
	}
}
