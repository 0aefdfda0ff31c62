// Command guests measures the guest runtimes: how long a desktop's guest
// takes from start to passing its readiness check, and the memory each
// guest holds (every process of the guest: under x11 the session, Xvfb,
// openbox, xterm and its shell, x11vnc and the guest command), for n
// guests running at once; with -ramp, the largest number of guests that
// run at once, adding -step guests until one fails to start or is not ready
// within -ready-timeout.
//
//	go build -o bin/deskplane ./cmd/deskplane
//	go run ./bench/guests -bin bin/deskplane -n 50
//	go run ./bench/guests -bin bin/deskplane -runtime x11 -n 10
//	go run ./bench/guests -bin bin/deskplane -runtime x11 -ramp -step 10 -n 200
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/runtime"
)

func main() {
	bin := flag.String("bin", "bin/deskplane", "the deskplane binary (its built-in guest and x11 session are measured)")
	kind := flag.String("runtime", runtime.KindProcess, "process or x11")
	n := flag.Int("n", 50, "guests to run at once (with -ramp, the most to try)")
	ramp := flag.Bool("ramp", false, "add -step guests at a time until one does not start or is not ready in time")
	step := flag.Int("step", 10, "with -ramp, guests added at a time")
	readyTimeout := flag.Duration("ready-timeout", time.Minute, "how long a guest may take to be ready")
	flag.DurationVar(&hold, "hold", 0, "keep the guests running this long once ready and report the CPU time each used meanwhile")
	flag.Parse()
	if err := run(*bin, *kind, *n, *ramp, *step, *readyTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "guests:", err)
		os.Exit(1)
	}
}

var hold time.Duration

func run(bin, kind string, n int, ramp bool, step int, readyTimeout time.Duration) error {
	dir, err := os.MkdirTemp("", "deskplane-guests")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	m, err := runtime.New(runtime.Options{Kind: kind, Dir: dir, Max: n, Command: []string{abs, "guest"}, SessionCommand: []string{abs, "x11-session"},
		Log: slog.New(slog.DiscardHandler), ReadyTimeout: readyTimeout})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Printf("runtime %s, load average at the start: %s\n", kind, loadavg())
	if !ramp {
		if err := batch(m, kind, 0, n, readyTimeout); err != nil {
			return err
		}
		if hold > 0 {
			idleCPU(m, hold)
		}
		return nil
	}
	largest := 0
	for have := 0; have < n; have += step {
		add := min(step, n-have)
		if err := batch(m, kind, have, add, readyTimeout); err != nil {
			fmt.Printf("at %d guests: %v\n", have+add, err)
			break
		}
		largest = have + add
	}
	fmt.Printf("largest number of %s guests all ready at once: %d (tried up to %d), load average now: %s\n", kind, largest, n, loadavg())
	return nil
}

// batch starts guests [from, from+n) and waits for all guests to be ready.
func batch(m *runtime.Manager, kind string, from, n int, readyTimeout time.Duration) error {
	start := time.Now()
	ports := []runtime.Port{{Protocol: "WSP", Port: 8443, Allowed: true}, {Protocol: "BYOP", Port: 3389, Allowed: true}}
	if kind == runtime.KindX11 {
		ports = append(ports, runtime.Port{Protocol: runtime.VNCProtocol, Port: runtime.VNCPort, Allowed: true})
	}
	for i := from; i < from+n; i++ {
		id := benchID(i)
		key := "111122223333/us-east-1/" + id
		if err := m.Admit(key); err != nil {
			return err
		}
		m.Ensure(runtime.Spec{Key: key, WorkspaceID: id,
			UserName: "alice", ComputerName: "WSAMZN-BENCH", DirectoryID: "d-bench", VPCAddress: fmt.Sprintf("10.9.%d.%d", i/250, i%250+1),
			Ports: ports})
	}
	deadline := time.Now().Add(readyTimeout + 10*time.Second)
	total := from + n
	for {
		ready := 0
		for _, g := range m.List() {
			switch g.State {
			case runtime.StateReady:
				ready++
			case runtime.StateExited, runtime.StateFailed, runtime.StateUnhealthy:
				console, _ := m.Console(g.Key, 1500) // why: the end of its console
				return fmt.Errorf("guest %s is %s (%s); the end of its console:\n%s", g.WorkspaceID, g.State, g.Error, console)
			}
		}
		if ready == total {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d guests ready after %s", ready, total, readyTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(start)
	var readyAfter []time.Duration
	var rss, pss []int
	procs := guestProcesses()
	for _, g := range m.List() {
		if g.WorkspaceID < benchID(from) {
			continue // measured in an earlier batch
		}
		d, _ := time.ParseDuration(g.ReadyAfter)
		readyAfter = append(readyAfter, d)
		r, p := 0, 0
		for _, pid := range procs[g.WorkspaceID] {
			r += procKiB(pid, "status", "VmRSS:")
			p += procKiB(pid, "smaps_rollup", "Pss:")
		}
		rss = append(rss, r)
		pss = append(pss, p)
	}
	if len(readyAfter) == 0 {
		return errors.New("no guest measured")
	}
	k := len(readyAfter)
	sort.Slice(readyAfter, func(i, j int) bool { return readyAfter[i] < readyAfter[j] })
	sort.Ints(rss)
	sort.Ints(pss)
	sumRSS, sumPSS := 0, 0
	for i := range rss {
		sumRSS += rss[i]
		sumPSS += pss[i]
	}
	fmt.Printf("guests %d..%d (%d running): all ready after %s, load average %s\n", from+1, total, total, all.Round(time.Millisecond), loadavg())
	fmt.Printf("  start to ready: p50 %s, p95 %s, max %s\n", readyAfter[k/2].Round(time.Millisecond), readyAfter[k*95/100].Round(time.Millisecond), readyAfter[k-1].Round(time.Millisecond))
	fmt.Printf("  RSS per guest (all its processes): p50 %d KiB, max %d KiB, sum %d MiB\n", rss[k/2], rss[k-1], sumRSS/1024)
	fmt.Printf("  PSS per guest (shared pages split): p50 %d KiB, max %d KiB, sum %d MiB\n", pss[k/2], pss[k-1], sumPSS/1024)
	var parts []string
	for _, pid := range procs[benchID(from)] {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		parts = append(parts, fmt.Sprintf("%s %d/%d", strings.TrimSpace(string(comm)), procKiB(pid, "status", "VmRSS:"), procKiB(pid, "smaps_rollup", "Pss:")))
	}
	fmt.Printf("  processes of %s (RSS/PSS KiB): %s\n", benchID(from), strings.Join(parts, ", "))
	return nil
}

// benchID is the workspace id of the i-th guest (this run's pid in it:
// guestProcesses finds a guest's processes by it).
func benchID(i int) string { return fmt.Sprintf("ws-bench%d-%04d", os.Getpid(), i) }

// guestProcesses maps each workspace id to the pids of the processes whose
// environment names it: every process a guest starts inherits its identity
// (the process group, and xterm's shell, which xterm puts in a session of
// its own).
func guestProcesses() map[string][]int {
	out := map[string][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if id, ok := strings.CutPrefix(kv, "DESKPLANE_WORKSPACE_ID="); ok {
				out[id] = append(out[id], pid)
				break
			}
		}
	}
	return out
}

// idleCPU reports the CPU time the guests' processes use while idle.
func idleCPU(m *runtime.Manager, d time.Duration) {
	ticks := func() map[string]int {
		out := map[string]int{}
		for id, pids := range guestProcesses() {
			for _, pid := range pids {
				b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				if err != nil {
					continue
				}
				s := string(b)
				f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
				comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
				u, _ := strconv.Atoi(f[11])
				st, _ := strconv.Atoi(f[12])
				out[id+" "+strings.TrimSpace(string(comm))+" "+strconv.Itoa(pid)] = u + st
			}
		}
		return out
	}
	before := ticks()
	time.Sleep(d)
	after := ticks()
	byComm := map[string]float64{}
	total := 0
	for k, v := range after {
		f := strings.Fields(k)
		byComm[f[1]] += float64(v-before[k]) / 100 // clock ticks
		total += v - before[k]
	}
	guests := len(m.List())
	var parts []string
	for c, v := range byComm {
		parts = append(parts, fmt.Sprintf("%s %.2f", c, v))
	}
	sort.Strings(parts)
	fmt.Printf("  CPU of %d idle guests over %s: %.2f s in all (%.1f%% of one core per guest); by program (s): %s\n",
		guests, d, float64(total)/100, float64(total)/100/d.Seconds()/float64(guests)*100, strings.Join(parts, ", "))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// procKiB reads a field in KiB from /proc/PID/file (Linux).
func procKiB(pid int, file, field string) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	return 0
}
