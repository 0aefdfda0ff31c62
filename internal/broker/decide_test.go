package broker

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func manual(min, max, warm int) Pool {
	return Pool{Name: "p", RunningMode: "MANUAL", Min: min, Max: max, Warm: warm}
}

func desks(spec ...string) []DesktopView {
	// spec: "id:STATE[:user]"
	var out []DesktopView
	for _, s := range spec {
		var d DesktopView
		parts := splitN(s, ':')
		d.ID, d.Name, d.State = parts[0], "p-"+parts[0], parts[1]
		if len(parts) > 2 {
			d.User = parts[2]
		}
		out = append(out, d)
	}
	return out
}

func splitN(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		v    PoolView
		want Actions
	}{
		{"empty pool grows to min", PoolView{Pool: manual(3, 10, 1)}, Actions{Create: 3}},
		{"warm buffer beyond min", PoolView{Pool: manual(0, 10, 2)}, Actions{Create: 2}},
		{"pending creates count", PoolView{Pool: manual(3, 10, 1), Pending: 2}, Actions{Create: 1}},
		{"assigned plus warm", PoolView{Pool: manual(1, 10, 1), Desktops: desks("a:AVAILABLE:alice", "b:AVAILABLE:bob")}, Actions{Create: 1}},
		{"never above max", PoolView{Pool: manual(1, 3, 2), Desktops: desks("a:AVAILABLE:alice", "b:AVAILABLE:bob"), Pending: 1}, Actions{}},
		{"waiting sessions grow the pool up to max", PoolView{Pool: manual(0, 4, 0), Desktops: desks("a:AVAILABLE:alice"), Waiting: 5}, Actions{Create: 3}},
		{"start stopped free desktops for the warm buffer", PoolView{Pool: manual(2, 10, 1), Desktops: desks("a:STOPPED", "b:STOPPED")}, Actions{Start: []string{"a"}}},
		{"stop surplus warm desktops", PoolView{Pool: manual(3, 10, 1), Desktops: desks("a:AVAILABLE", "b:AVAILABLE", "c:AVAILABLE")}, Actions{Stop: []string{"b", "c"}}},
		{"do not stop desktops on their way up", PoolView{Pool: manual(2, 10, 0), Desktops: desks("a:PENDING", "b:STARTING")}, Actions{}},
		{"replace ERROR and UNHEALTHY", PoolView{Pool: manual(2, 10, 0), Desktops: desks("a:ERROR", "b:UNHEALTHY", "c:STOPPED")}, Actions{Create: 1, Terminate: []string{"a", "b"}}},
		{"replacement waits for terminated desktops at max", PoolView{Pool: manual(2, 2, 0), Desktops: desks("a:ERROR", "c:STOPPED")}, Actions{Terminate: []string{"a"}}},
		{"terminating desktops count against max", PoolView{Pool: manual(2, 2, 0), Desktops: desks("a:TERMINATING", "c:STOPPED")}, Actions{}},
		{"shed free desktops above max, stopped first", PoolView{Pool: manual(0, 2, 0), Desktops: desks("a:AVAILABLE:alice", "b:AVAILABLE", "c:STOPPED", "d:STOPPED")}, Actions{Terminate: []string{"c", "d"}}},
		{"ALWAYS_ON starts everything", PoolView{Pool: Pool{Name: "p", RunningMode: "ALWAYS_ON", Min: 2, Max: 5, Warm: 0}, Desktops: desks("a:STOPPED:alice", "b:STOPPED")}, Actions{Start: []string{"a", "b"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.v, t0)
			if got.Create != c.want.Create || !slices.Equal(got.Start, c.want.Start) || !slices.Equal(got.Stop, c.want.Stop) ||
				!slices.Equal(got.Terminate, c.want.Terminate) || !slices.Equal(got.Rebuild, c.want.Rebuild) {
				t.Fatalf("Decide = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestDecidePowerDeadlines(t *testing.T) {
	v := PoolView{Pool: manual(0, 10, 0), Desktops: desks("a:AVAILABLE:alice", "b:AVAILABLE:bob", "c:AVAILABLE:carol", "d:STOPPED:dave")}
	v.Desktops[0].StopAt = t0.Add(-time.Minute) // due
	v.Desktops[1].StopAt = t0.Add(time.Minute)  // not yet
	v.Desktops[2].StopAt = t0.Add(-time.Minute) // due, but back in use
	v.Desktops[2].InUse = true
	v.Desktops[3].StopAt = t0.Add(-time.Minute) // already stopped
	got := Decide(v, t0)
	if !slices.Equal(got.Stop, []string{"a"}) || got.Create != 0 || len(got.Start) != 0 {
		t.Fatalf("Decide = %+v", got)
	}
	// ALWAYS_ON ignores deadlines.
	v.Pool.RunningMode = "ALWAYS_ON"
	if got := Decide(v, t0); len(got.Stop) != 0 {
		t.Fatalf("ALWAYS_ON stopped %v", got.Stop)
	}
}

func TestDecideRelease(t *testing.T) {
	v := PoolView{Pool: manual(0, 10, 1), Desktops: desks("a:AVAILABLE", "b:STOPPED", "c:REBUILDING")}
	v.Desktops[0].Release = ReleaseNeedsRebuild
	v.Desktops[1].Release = ReleaseNeedsRebuild
	v.Desktops[2].Release = ReleaseRebuilding
	got := Decide(v, t0)
	if !slices.Equal(got.Rebuild, []string{"a", "b"}) {
		t.Fatalf("rebuild %v", got.Rebuild)
	}
	// Releasing desktops are not free: the warm buffer needs a new one.
	if got.Create != 1 {
		t.Fatalf("create %d, want 1", got.Create)
	}
}

// Property: whatever the observed state, Decide never plans to exceed max.
func TestDecideNeverExceedsMax(t *testing.T) {
	states := []string{"PENDING", "AVAILABLE", "STOPPED", "ERROR", "UNHEALTHY", "TERMINATING", "STARTING", "STOPPING", "REBUILDING"}
	for seed := 0; seed < 2000; seed++ {
		r := seed
		next := func(n int) int { r = (r*1103515245 + 12345) & 0x7fffffff; return r % n }
		p := Pool{Name: "p", RunningMode: []string{"MANUAL", "ALWAYS_ON"}[next(2)], Max: 1 + next(8)}
		p.Min, p.Warm = next(p.Max+1), next(p.Max+1)
		v := PoolView{Pool: p, Pending: next(3), Waiting: next(4)}
		for i := next(10); i > 0; i-- {
			d := DesktopView{ID: string(rune('a' + i)), State: states[next(len(states))]}
			if next(2) == 0 {
				d.User = "u"
			}
			v.Desktops = append(v.Desktops, d)
		}
		a := Decide(v, t0)
		total := len(v.Desktops) + v.Pending
		if a.Create > 0 && total+a.Create > p.Max {
			t.Fatalf("seed %d: %d desktops + %d pending + create %d > max %d", seed, len(v.Desktops), v.Pending, a.Create, p.Max)
		}
		if a.Create < 0 {
			t.Fatalf("negative create")
		}
	}
}
