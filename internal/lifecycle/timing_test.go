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

// TestTerminatedBriefly pins that under every profile a terminated desktop
// leaves DescribeWorkspaces well within the 10 minutes Terraform's AWS
// provider waits for it by default (its delete waits until the desktop is
// no longer listed: "the TERMINATED state is returned only briefly").
func TestTerminatedBriefly(t *testing.T) {
	const providerDeleteTimeout = 10 * time.Minute
	for _, name := range []string{"instant", "fast", "realistic"} {
		p, err := Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		gone := p.Duration(Terminate) + p.Duration(TerminatedTTL)
		if gone >= providerDeleteTimeout*9/10 || p.Duration(TerminatedTTL) <= 0 {
			t.Errorf("%s: a desktop is listed for %s after TerminateWorkspaces (TERMINATED for %s); want visible but gone well within %s",
				name, gone, p.Duration(TerminatedTTL), providerDeleteTimeout)
		}
	}
}
