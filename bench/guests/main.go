// Command guests measures the process runtime: how long a desktop's guest
// takes from start to passing its readiness check, and the memory (RSS)
// each guest holds, for n guests running at once.
//
//	go build -o bin/deskplane ./cmd/deskplane
//	go run ./bench/guests -bin bin/deskplane -n 50
package main

import (
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
	bin := flag.String("bin", "bin/deskplane", "the deskplane binary (its built-in guest is measured)")
	n := flag.Int("n", 50, "guests to run at once")
	flag.Parse()
	if err := run(*bin, *n); err != nil {
		fmt.Fprintln(os.Stderr, "guests:", err)
		os.Exit(1)
	}
}

func run(bin string, n int) error {
	dir, err := os.MkdirTemp("", "deskplane-guests")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	m, err := runtime.New(runtime.Options{Dir: dir, Max: n, Command: []string{abs, "guest"}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer m.Close()
	start := time.Now()
	for i := 0; i < n; i++ {
		m.Ensure(runtime.Spec{Key: fmt.Sprintf("111122223333/us-east-1/ws-bench%04d", i), WorkspaceID: fmt.Sprintf("ws-bench%04d", i),
			UserName: "alice", ComputerName: "WSAMZN-BENCH", DirectoryID: "d-bench", VPCAddress: fmt.Sprintf("10.9.%d.%d", i/250, i%250+1),
			Ports: []runtime.Port{{Protocol: "WSP", Port: 8443, Allowed: true}, {Protocol: "BYOP", Port: 3389, Allowed: true}}})
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ready := 0
		for _, g := range m.List() {
			if g.State == runtime.StateReady {
				ready++
			}
		}
		if ready == n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d guests ready after 2 minutes", ready, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	all := time.Since(start)
	var readyAfter []time.Duration
	var rss, pss []int
	for _, g := range m.List() {
		d, _ := time.ParseDuration(g.ReadyAfter)
		readyAfter = append(readyAfter, d)
		rss = append(rss, procKiB(g.PID, "status", "VmRSS:"))
		pss = append(pss, procKiB(g.PID, "smaps_rollup", "Pss:"))
	}
	sort.Slice(readyAfter, func(i, j int) bool { return readyAfter[i] < readyAfter[j] })
	sort.Ints(rss)
	sort.Ints(pss)
	total, totalPSS := 0, 0
	for i := range rss {
		total += rss[i]
		totalPSS += pss[i]
	}
	fmt.Printf("guests: %d, all ready after %s\n", n, all.Round(time.Millisecond))
	fmt.Printf("start to ready: p50 %s, p95 %s, max %s\n", readyAfter[n/2].Round(time.Millisecond), readyAfter[n*95/100].Round(time.Millisecond), readyAfter[n-1].Round(time.Millisecond))
	fmt.Printf("RSS per guest: p50 %d KiB, max %d KiB, sum %d MiB\n", rss[n/2], rss[n-1], total/1024)
	fmt.Printf("PSS per guest (shared pages split): p50 %d KiB, max %d KiB, sum %d MiB\n", pss[n/2], pss[n-1], totalPSS/1024)
	return nil
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
