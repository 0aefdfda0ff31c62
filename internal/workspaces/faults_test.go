package workspaces

import (
	"context"
	"fmt"
	"testing"

	"github.com/deskplane/deskplane/internal/config"
)

type fixedFaults config.Faults

func (f fixedFaults) Get(context.Context) (config.Faults, error) { return config.Faults(f), nil }

// TestSeededFaultRatesAreDeterministic: with a seed, a rate fault fires for
// the same desktops every run, for about its share of them, and another
// seed picks others; without a seed the module's random source decides.
func TestSeededFaultRatesAreDeterministic(t *testing.T) {
	fired := func(seed uint64) map[string]bool {
		m := &Module{faults: fixedFaults{Seed: seed, OperationFaults: map[string]config.OperationFault{"StartWorkspaces": {Rate: 0.3}}},
			rand: func() float64 { t.Fatal("a seeded draw used the random source"); return 0 }}
		out := map[string]bool{}
		for i := range 2000 {
			id := fmt.Sprintf("ws-%09d", i)
			ff, err := m.opFault(context.Background(), "StartWorkspaces", 4, id)
			if err != nil {
				t.Fatal(err)
			}
			if ff != nil {
				if ff.outcome != "error" || ff.code != "StartFailure" {
					t.Fatalf("fault %+v", ff)
				}
				out[id] = true
			}
		}
		return out
	}
	a, b, other := fired(42), fired(42), fired(43)
	if len(a) < 500 || len(a) > 700 {
		t.Fatalf("a rate of 0.3 fired for %d of 2000", len(a))
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("the same seed fired for other desktops")
	}
	if fmt.Sprint(a) == fmt.Sprint(other) {
		t.Fatal("another seed fired for the very same desktops")
	}
	draws := 0
	m := &Module{faults: fixedFaults{OperationFaults: map[string]config.OperationFault{"StopWorkspaces": {Rate: 0.5, Outcome: "request"}}},
		rand: func() float64 { draws++; return 0.49 }}
	if err := m.requestFault(context.Background(), "StopWorkspaces", 1, "ws-000000001"); err == nil || draws != 1 {
		t.Fatalf("unseeded draw: %v after %d draws", err, draws)
	}
}
