package lifecycle

import (
	"testing"
	"time"
)

func TestScale(t *testing.T) {
	for _, c := range []struct {
		profile string
		in, out time.Duration
	}{
		{"realistic", 48 * time.Hour, 48 * time.Hour},
		{"instant", 48 * time.Hour, 48 * time.Hour},
		{"fast", 48 * time.Hour, 8 * time.Minute},
		{"fast", time.Hour, 10 * time.Second},
		{"fast", 30 * time.Minute, 5 * time.Second},
	} {
		p, err := Profile(c.profile)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Scale(c.in); got != c.out {
			t.Errorf("%s: Scale(%s) = %s, want %s", c.profile, c.in, got, c.out)
		}
	}
}
