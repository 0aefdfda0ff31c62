package broker

import (
	"strings"
	"testing"
	"time"
)

// TestExplainGivesEachActionItsReason: every action Decide chooses gets one
// decision naming the rule and the numbers that called for it.
func TestExplainGivesEachActionItsReason(t *testing.T) {
	due := PoolView{Pool: manual(0, 10, 1), Desktops: desks("a:AVAILABLE:alice", "b:AVAILABLE", "c:AVAILABLE", "r:STOPPED")}
	due.Desktops[0].StopAt = t0.Add(-2 * time.Minute)
	due.Desktops[3].Release = ReleaseNeedsRebuild
	cases := []struct {
		name string
		v    PoolView
		want []string // "action id: part of the reason"
	}{
		{"grow", PoolView{Pool: manual(3, 10, 1), Pending: 1},
			[]string{"create : grow by 2: 1 healthy desktops (pending creates included), want 3 = max(min 3, assigned or releasing 0 + warm 1 + waiting 0) within max 10"}},
		{"replace", PoolView{Pool: manual(1, 10, 0), Desktops: desks("a:ERROR", "b:STOPPED")},
			[]string{"terminate a: replace: the desktop is ERROR"}},
		{"warm start", PoolView{Pool: manual(2, 10, 1), Desktops: desks("a:STOPPED", "b:STOPPED")},
			[]string{"start a: warm buffer: 0 free desktops running, want 1 (warm 1 + waiting sessions 0)"}},
		{"always on", PoolView{Pool: Pool{Name: "p", RunningMode: "ALWAYS_ON", Min: 1, Max: 5}, Desktops: desks("a:STOPPED:alice")},
			[]string{"start a: ALWAYS_ON pool: alice's desktop is STOPPED"}},
		{"power plan, surplus and release", due, []string{
			"stop a: power plan: alice's desktop passed its stop deadline 2026-01-05T08:58:00Z (2m0s ago) with no session in use",
			"stop c: surplus: 2 free desktops running, want 1 (warm 1 + waiting sessions 0)",
			"rebuild r: release plan: the desktop was released",
		}},
		{"above max", PoolView{Pool: manual(0, 1, 0), Desktops: desks("a:AVAILABLE:alice", "b:STOPPED")},
			[]string{"terminate b: the pool holds 2 desktops (pending creates included), above its max 1: a free STOPPED desktop goes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Decide(c.v, t0)
			ds := Explain(c.v, a, t0)
			n := a.Create
			if n > 0 {
				n = 1
			}
			if len(ds) != n+len(a.Start)+len(a.Stop)+len(a.Terminate)+len(a.Rebuild) {
				t.Fatalf("%d decisions for %+v: %+v", len(ds), a, ds)
			}
			for _, w := range c.want {
				found := false
				for _, d := range ds {
					if strings.HasPrefix(d.Action+" "+d.ID+": "+d.Why, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no decision %q in %+v", w, ds)
				}
			}
		})
	}
}
