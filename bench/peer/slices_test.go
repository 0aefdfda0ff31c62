package main

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestAggregateSumsEverySlice(t *testing.T) {
	ss := []slice{
		{round: 0, requests: 40, errors: 1, items: 1000, elapsed: 500 * time.Millisecond, cpu: 300 * time.Millisecond, clientCPU: 20 * time.Millisecond, peakRSS: 100,
			lat: []time.Duration{1, 2, 3}},
		{round: 1, requests: 40, errors: 0, items: 1000, elapsed: 1500 * time.Millisecond, cpu: 700 * time.Millisecond, clientCPU: 30 * time.Millisecond, peakRSS: 300,
			lat: []time.Duration{4, 5, 6}},
		{round: 2, requests: 20, errors: 2, items: 500, elapsed: 1000 * time.Millisecond, cpu: 500 * time.Millisecond, clientCPU: 50 * time.Millisecond, peakRSS: 200,
			lat: []time.Duration{7, 8, 9, 10}},
	}
	r := aggregate("w", "deskplane", ss)
	if r.slices != 3 || r.requests != 100 || r.errors != 3 || r.items != 2500 || r.elapsed != 3*time.Second ||
		r.cpu != 1500*time.Millisecond || r.clientCPU != 100*time.Millisecond || r.peakRSS != 300 {
		t.Fatalf("aggregate = %+v", r)
	}
	// The figure is the total items over the total time (2,500 / 3 s), not
	// the mean of the slices' rates (2,000, 667, 500 a second: 1,056).
	if got := r.itemsPerSec(); math.Abs(got-2500.0/3) > 1e-9 {
		t.Fatalf("items/s = %v, want %v", got, 2500.0/3)
	}
	if got := perItem(r.cpu, r.items); got != 600 {
		t.Fatalf("CPU per item = %v µs, want 600", got)
	}
	// Percentiles over every request of every slice.
	if r.p50 != 6 || r.p99 != 10 {
		t.Fatalf("p50, p99 = %v, %v; want 6, 10", r.p50, r.p99)
	}
}

func TestRoundRatios(t *testing.T) {
	a := []slice{{round: 0, items: 300, elapsed: time.Second}, {round: 1, items: 600, elapsed: 2 * time.Second}, {round: 2, items: 100, elapsed: time.Second}}
	b := []slice{{round: 1, items: 50, elapsed: time.Second}, {round: 0, items: 100, elapsed: 2 * time.Second}}
	// Matched by round, not by position; round 2 has no slice of b's.
	if got, want := roundRatios(a, b), []float64{6, 6}; !reflect.DeepEqual(got, want) {
		t.Fatalf("roundRatios = %v, want %v", got, want)
	}
	lo, med, hi := spread([]float64{5, 1, 4, 2})
	if lo != 1 || med != 3 || hi != 5 {
		t.Fatalf("spread = %v %v %v", lo, med, hi)
	}
}

func TestSplitTotal(t *testing.T) {
	for _, c := range []struct{ total, parts int }{{10000, 8}, {10001, 8}, {7, 3}, {5, 1}, {100000, 7}} {
		got := splitTotal(c.total, c.parts)
		sum := 0
		for _, n := range got {
			sum += n
			if n < c.total/c.parts || n > c.total/c.parts+1 {
				t.Errorf("splitTotal(%d, %d) = %v: uneven", c.total, c.parts, got)
			}
		}
		if len(got) != c.parts || sum != c.total {
			t.Errorf("splitTotal(%d, %d) = %v: %d parts adding up to %d", c.total, c.parts, got, len(got), sum)
		}
	}
}

// TestInterleave drives three fake servers through an interleaved workload:
// each runs one slice a round, the first rotating, and is charged the CPU
// its process used over its own slices only; what it used during the
// others' (its spill-over) is counted apart. The totals then add up to what
// the servers did, each slice once.
func TestInterleave(t *testing.T) {
	cpu := map[int]time.Duration{}
	var order []string
	m := &meter{cpuOf: func(pid int) time.Duration { return cpu[pid] }, self: func() time.Duration { return 0 },
		rss: func(pid int) int64 { return int64(pid) }, other: map[int]time.Duration{}}
	pids := map[string]int{"deskplane": 11, "moto": 12, "trivial": 13}
	rate := map[string]int64{"deskplane": 900, "moto": 10, "trivial": 1000}
	var rs []runner
	for _, name := range []string{"deskplane", "moto", "trivial"} {
		pid := pids[name]
		rs = append(rs, runner{name: name, pid: pid, do: func(round int) (slice, error) {
			order = append(order, fmt.Sprintf("%d:%s", round, name))
			cpu[pid] += 100 * time.Millisecond
			// Every server's process also works a little during the others'
			// slices: deskplane 7 ms (its engine provisioning), the rest none.
			for other, p := range pids {
				if other != name && other == "deskplane" {
					cpu[p] += 7 * time.Millisecond
				}
			}
			// Slower rounds for everyone in round 1: the machine's drift.
			el := time.Second
			if round == 1 {
				el = 2 * time.Second
			}
			return slice{requests: rate[name], items: rate[name] * (int64(round) + 1), elapsed: el}, nil
		}})
	}
	out, err := m.interleave(3, rs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0:deskplane", "0:moto", "0:trivial", "1:moto", "1:trivial", "1:deskplane", "2:trivial", "2:deskplane", "2:moto"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
	for i, name := range []string{"deskplane", "moto", "trivial"} {
		if len(out[i]) != 3 {
			t.Fatalf("%s: %d slices, want 3", name, len(out[i]))
		}
		r := aggregate("w", name, out[i])
		if r.items != rate[name]*6 || r.requests != rate[name]*3 || r.elapsed != 4*time.Second {
			t.Errorf("%s: %d items, %d requests in %v; want %d, %d in 4s", name, r.items, r.requests, r.elapsed, rate[name]*6, rate[name]*3)
		}
		if r.cpu != 300*time.Millisecond {
			t.Errorf("%s: CPU over its own slices %v, want 300ms", name, r.cpu)
		}
		if r.peakRSS != int64(pids[name]) {
			t.Errorf("%s: peak RSS %d, want %d", name, r.peakRSS, pids[name])
		}
		for j, s := range out[i] {
			if s.round != j {
				t.Errorf("%s: slice %d is of round %d", name, j, s.round)
			}
		}
	}
	// deskplane's 7 ms in each of the 6 slices of the others.
	if m.other[11] != 42*time.Millisecond || m.other[12] != 0 || m.other[13] != 0 {
		t.Errorf("CPU in the others' slices = %v", m.other)
	}
	// Per round, deskplane/moto is 90 whatever the round's speed.
	for _, x := range roundRatios(out[0], out[1]) {
		if math.Abs(x-90) > 1e-9 {
			t.Errorf("deskplane/moto ratio %v, want 90", x)
		}
	}
}

// TestResultsMarshal: a result that measured nothing (moto's power row)
// must not make the -json file unwritable with a NaN rate.
func TestResultsMarshal(t *testing.T) {
	r := result{workload: "power", target: "moto", note: "not supported"}
	if _, err := json.Marshal(map[string]any{"rps": r.rps(), "items_per_sec": r.itemsPerSec()}); err != nil {
		t.Fatal(err)
	}
}
