package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A workload measured side by side is cut into rounds; in each round every
// server runs one slice of it, one server after the other, and which server
// goes first rotates from round to round. Each server is then measured across
// the same moments of the machine, whose speed drifts (a shared virtual
// machine): its figure is its total items over its total measured time, and
// each round gives one ratio between two servers measured moments apart.
// The old method, each server's whole workload in one block after the other,
// is one round of one slice per server (peer run -interleave 0).

// slice is what one server did in one slice of a workload.
type slice struct {
	round            int
	requests, errors int64
	items            int64
	elapsed          time.Duration
	lat              []time.Duration // per request
	cpu              time.Duration   // the server's CPU over this slice
	clientCPU        time.Duration   // this process's (the load generator's) CPU over this slice
	peakRSS          int64           // VmHWM at the end of the slice (since the workload's reset)
}

func (s slice) itemsPerSec() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.items) / s.elapsed.Seconds()
}

// aggregate sums one server's slices of a workload into its result: the
// totals of requests, errors, items, time and CPU, latency percentiles over
// every request of every slice, and the highest peak RSS seen.
func aggregate(workload, target string, ss []slice) result {
	r := result{workload: workload, target: target, slices: len(ss)}
	var lat []time.Duration
	for _, s := range ss {
		r.requests += s.requests
		r.errors += s.errors
		r.items += s.items
		r.elapsed += s.elapsed
		r.cpu += s.cpu
		r.clientCPU += s.clientCPU
		r.peakRSS = max(r.peakRSS, s.peakRSS)
		lat = append(lat, s.lat...)
	}
	r.p50, r.p99 = percentiles(lat)
	return r
}

// roundRatios is, for each round both servers ran, a's items per second
// over b's in that round: how far apart two servers are when measured at
// (nearly) the same moment.
func roundRatios(a, b []slice) []float64 {
	byRound := make(map[int]slice, len(b))
	for _, s := range b {
		byRound[s.round] = s
	}
	var out []float64
	for _, s := range a {
		o, ok := byRound[s.round]
		if !ok || o.itemsPerSec() == 0 {
			continue
		}
		out = append(out, s.itemsPerSec()/o.itemsPerSec())
	}
	return out
}

// spread is the lowest, median and highest of xs.
func spread(xs []float64) (lo, med, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[0], med, s[len(s)-1]
}

// splitTotal cuts total into parts shares that differ by at most one and
// add up to total (the first ones take the remainder).
func splitTotal(total, parts int) []int {
	if parts < 1 {
		parts = 1
	}
	out := make([]int, parts)
	for i := range out {
		out[i] = total / parts
		if i < total%parts {
			out[i]++
		}
	}
	return out
}

// rotation is the order in which n servers run their slices in a round:
// 0..n-1 rotated by the round, so that each goes first in turn.
func rotation(round, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (round + i) % n
	}
	return out
}

// runner is one server's share of an interleaved workload: do runs its
// slice of a round.
type runner struct {
	name string
	pid  int
	do   func(round int) (slice, error)
}

// meter runs slices and attributes CPU: each slice's server gets the CPU
// its process used over the slice; what each server's process used during
// the other servers' slices (work spilling over from its own, such as
// deskplane provisioning desktops it answered for) is counted apart.
type meter struct {
	cpuOf func(pid int) time.Duration
	self  func() time.Duration
	rss   func(pid int) int64
	other map[int]time.Duration // by pid: CPU used during the others' slices
}

func newMeter() *meter {
	return &meter{cpuOf: pidCPU, self: processCPU, rss: peakRSS, other: map[int]time.Duration{}}
}

// run runs one slice of r, with pids the processes of every server of the
// workload (r's among them).
func (m *meter) run(r runner, round int, pids []int) (slice, error) {
	before := make([]time.Duration, len(pids))
	for i, p := range pids {
		before[i] = m.cpuOf(p)
	}
	c0 := m.self()
	s, err := r.do(round)
	c1 := m.self()
	for i, p := range pids {
		d := m.cpuOf(p) - before[i]
		if p == r.pid {
			s.cpu = d
		} else if p > 0 {
			m.other[p] += d
		}
	}
	s.round, s.clientCPU = round, c1-c0
	s.peakRSS = m.rss(r.pid)
	return s, err
}

// interleave runs rounds rounds of the runners' slices, in rotation, and
// returns each runner's slices in round order.
func (m *meter) interleave(rounds int, rs []runner) ([][]slice, error) {
	pids := make([]int, len(rs))
	for i, r := range rs {
		pids[i] = r.pid
	}
	out := make([][]slice, len(rs))
	for round := 0; round < rounds; round++ {
		for _, i := range rotation(round, len(rs)) {
			s, err := m.run(rs[i], round, pids)
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", rs[i].name, round, err)
			}
			out[i] = append(out[i], s)
		}
	}
	return out, nil
}

// pidCPU is the CPU time (user and system) process pid has used so far, all
// its threads, those ended included, from /proc/PID/stat (in clock ticks of
// 10 ms; 0 for pid 0 or a process that is gone).
func pidCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0
	}
	// The fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the line.
	f := strings.Fields(string(b[i+2:]))
	if len(f) <= 12 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// ratioLine renders per-round ratios: lowest, median and highest.
func ratioLine(xs []float64, format string) string {
	if len(xs) == 0 {
		return "none"
	}
	lo, med, hi := spread(xs)
	if len(xs) == 1 {
		return fmt.Sprintf(format+" (one round)", med)
	}
	return fmt.Sprintf(format+" / "+format+" / "+format+" (lowest / median / highest of %d rounds)", lo, med, hi, len(xs))
}

// ratioSet is one server's per-round ratios against another in a workload.
type ratioSet struct {
	workload, target, versus string
	ratios                   []float64
}

func method(interleaved bool) string {
	if interleaved {
		return "interleaved"
	}
	return "blocks"
}

func perItem(d time.Duration, items int64) float64 {
	if items == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1e3 / float64(items)
}

// describeSideBySide measures DescribeWorkspaces by id on every target and
// the trivial handler (if trivURL is set): in blocks, each for dur after the
// other (deskplane, moto, trivial), or interleaved in rounds of slices of
// about sliceDur each, the same dur and maxReq per server in all.
func describeSideBySide(ctx context.Context, targets []*target, trivURL string, trivPID, conc int, dur time.Duration, maxReq int,
	interleaved bool, sliceDur time.Duration) ([]result, []ratioSet, error) {
	type server struct {
		name, url string
		pid       int
		t         *target
	}
	var servers []server
	for _, t := range targets {
		servers = append(servers, server{t.name, t.url, t.pid, t})
	}
	if trivURL != "" {
		servers = append(servers, server{"trivial", trivURL, trivPID, nil})
	}
	pids := make([]int, len(servers))
	for i, s := range servers {
		pids[i] = s.pid
	}
	m := newMeter()
	// probe: the desktop the server's describer asks for.
	probe := func(s server) (string, error) {
		if s.t == nil {
			return "ws-0123456789", nil
		}
		ids, err := createDesktops(ctx, s.t, 1, 1, "probe")
		if err != nil {
			return "", err
		}
		return ids[0], nil
	}
	perServer := make([][]slice, len(servers))
	var workload string
	if !interleaved {
		for i, s := range servers {
			id, err := probe(s)
			if err != nil {
				return nil, nil, err
			}
			resetPeak(s.pid)
			d, err := newDescriber(ctx, s.name, s.url, s.pid, id, conc)
			if err != nil {
				return nil, nil, err
			}
			sl, err := m.run(runner{name: s.name, pid: s.pid, do: func(int) (slice, error) { return d.slice(dur, maxReq), nil }}, 0, pids)
			d.close()
			if err != nil {
				return nil, nil, err
			}
			perServer[i], workload = []slice{sl}, d.workload()
			printResult(aggregate(workload, s.name, perServer[i]))
		}
	} else {
		ds := make([]*describer, len(servers))
		for i, s := range servers {
			id, err := probe(s)
			if err != nil {
				return nil, nil, err
			}
			if ds[i], err = newDescriber(ctx, s.name, s.url, s.pid, id, conc); err != nil {
				return nil, nil, err
			}
			defer ds[i].close()
			workload = ds[i].workload()
		}
		rounds := max(1, int((dur+sliceDur/2)/sliceDur))
		each := dur / time.Duration(rounds)
		runners := make([]runner, len(servers))
		for i, s := range servers {
			d := ds[i]
			runners[i] = runner{name: s.name, pid: s.pid, do: func(int) (slice, error) { return d.slice(each, maxReq), nil }}
			resetPeak(s.pid)
		}
		var err error
		if perServer, err = m.interleave(rounds, runners); err != nil {
			return nil, nil, err
		}
		fmt.Printf("describe: %d rounds of %v per server, interleaved\n", rounds, each)
	}
	var results []result
	for i, s := range servers {
		r := aggregate(workload, s.name, perServer[i])
		r.otherCPU = m.other[s.pid]
		results = append(results, r)
		if interleaved {
			printResult(r)
		}
	}
	var ratios []ratioSet
	for j := 1; j < len(servers); j++ {
		ratios = append(ratios, ratioSet{workload: workload, target: servers[0].name, versus: servers[j].name, ratios: roundRatios(perServer[0], perServer[j])})
	}
	return results, ratios, nil
}

// createSideBySide creates n desktops on every target, then lists them all
// (paginated): in blocks, each target's creates and list after the
// other's, or with the creates interleaved in slices (n cut into slices
// shares per target, the targets alternating, which goes first rotating)
// and the lists after them.
func createSideBySide(ctx context.Context, targets []*target, n, conc int, raw, interleaved bool, slices int) ([]result, []ratioSet, error) {
	pids := make([]int, len(targets))
	for i, t := range targets {
		pids[i] = t.pid
	}
	m := newMeter()
	perServer := make([][]slice, len(targets))
	var results []result
	var workload string
	if !interleaved {
		for i, t := range targets {
			resetPeak(t.pid)
			c := newCreator(ctx, t, conc, raw, 1)
			sl, err := m.run(runner{name: t.name, pid: t.pid, do: func(int) (slice, error) { return c.slice(n) }}, 0, pids)
			c.close()
			if err != nil {
				return nil, nil, err
			}
			perServer[i], workload = []slice{sl}, c.workload(n)
			r := aggregate(workload, t.name, perServer[i])
			printResult(r)
			lr, err := listWorkload(ctx, t)
			if err != nil {
				return nil, nil, err
			}
			printResult(lr)
			results = append(results, r, lr)
		}
	} else {
		sizes := splitTotal(n, slices)
		runners := make([]runner, len(targets))
		for i, t := range targets {
			c := newCreator(ctx, t, conc, raw, len(sizes))
			defer c.close()
			workload = c.workload(n)
			runners[i] = runner{name: t.name, pid: t.pid, do: func(round int) (slice, error) { return c.slice(sizes[round]) }}
			resetPeak(t.pid)
		}
		var err error
		if perServer, err = m.interleave(len(sizes), runners); err != nil {
			return nil, nil, err
		}
		fmt.Printf("create: %d slices per server (%d desktops and so on), interleaved\n", len(sizes), sizes[0])
		for i, t := range targets {
			r := aggregate(workload, t.name, perServer[i])
			printResult(r)
			results = append(results, r)
		}
		for _, t := range targets {
			lr, err := listWorkload(ctx, t)
			if err != nil {
				return nil, nil, err
			}
			printResult(lr)
			results = append(results, lr)
		}
		// The table's order, as in blocks: each target's creates, then its list.
		ordered := make([]result, 0, len(results))
		for i := range targets {
			ordered = append(ordered, results[i], results[len(targets)+i])
		}
		results = ordered
	}
	for i := range results {
		for j, t := range targets {
			if results[i].target == t.name && results[i].slices > 0 {
				results[i].otherCPU = m.other[pids[j]]
			}
		}
	}
	var ratios []ratioSet
	for j := 1; j < len(targets); j++ {
		ratios = append(ratios, ratioSet{workload: workload, target: targets[0].name, versus: targets[j].name, ratios: roundRatios(perServer[0], perServer[j])})
	}
	return results, ratios, nil
}

// sideBySideLines renders, below the table, how the servers were measured
// side by side, the spread of the per-round ratios, and each server's CPU
// per item over its own slices.
func sideBySideLines(rs []result, ratios []ratioSet, interleaved bool) string {
	var b strings.Builder
	if interleaved {
		b.WriteString("- method: interleaved (each workload in rounds; in each round every server runs one slice, which goes first rotating; each figure is a server's items over its measured time in all its slices)\n")
	} else {
		b.WriteString("- method: blocks (each server's workload in one block after the other)\n")
	}
	for _, rr := range ratios {
		name := "CreateWorkspaces desktops/s"
		if strings.HasPrefix(rr.workload, "DescribeWorkspaces") {
			name = "DescribeWorkspaces by id calls/s"
		}
		fmt.Fprintf(&b, "- per-round ratio, %s %s/%s: %s\n", name, rr.target, rr.versus, ratioLine(rr.ratios, "%.2fx"))
	}
	var parts []string
	for _, r := range rs {
		if r.slices == 0 || r.items == 0 {
			continue
		}
		w := "create"
		if strings.HasPrefix(r.workload, "DescribeWorkspaces") {
			w = "describe"
		}
		parts = append(parts, fmt.Sprintf("%s %s %.1f µs (load generator %.1f µs; %.2f s of its CPU in the others' slices)",
			w, r.target, perItem(r.cpu, r.items), perItem(r.clientCPU, r.items), r.otherCPU.Seconds()))
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "- server CPU per item over its own slices (/proc/PID/stat, 10 ms ticks): %s\n", strings.Join(parts, "; "))
	}
	return b.String()
}
