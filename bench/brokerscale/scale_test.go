// Package brokerscale measures one broker reconciling many desktops: 5
// tenants (five customer accounts, each reached through its own role and
// ExternalId) × 2 regions (each pool with a standby region holding as many
// desktops), 1,000 desktops per tenant and region, 10,000 in all, against
// an in-process deskplane.
//
//	go test ./bench/brokerscale -run '^$' -bench . -benchtime 5x
//	go test ./bench/brokerscale -run '^$' -bench . -benchtime 1x -passes 5 -passprofile cpu.pprof
//
// -passprofile writes a CPU profile of the timed passes only (broker and
// server share the process, so both sides are in it).
//
// It reports the wall time of one reconcile pass of every tenant and
// region at once (as broker serve runs them), the slowest single pass, and
// the median and 95th percentile of the single tenant-region passes (-passes
// 5: fifty of them). Setting up the 10,000 desktops takes a minute or
// two; it is not part of the measurement.
package brokerscale

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/broker"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

var (
	passProfile = flag.String("passprofile", "", "write a CPU profile of the timed reconcile passes to this file")
	passLog     = flag.Bool("passlog", false, "log the slowest tenant-region pass of every timed pass")
	passes      = flag.Int("passes", 1, "timed passes per benchmark iteration (the 10,000 desktops are set up once per iteration count the benchmark tries; -benchtime 1x -passes 5 sets them up once)")
)

const (
	tenants   = 5
	perRegion = 1000
)

func serverConfig(b *testing.B) string {
	cfg := config.Default()
	for i := 1; i < tenants; i++ {
		cfg.Accounts = append(cfg.Accounts, config.Account{ID: fmt.Sprintf("1000000000%02d", i), BYOLEligible: true})
	}
	for i := range cfg.Accounts {
		a := &cfg.Accounts[i]
		if a.ID == config.PartnerAccount {
			continue
		}
		a.BYOLEligible = true
		a.Images = config.DefaultImages()
		a.Directories = []config.Directory{{Name: "corp.example.com", ShortName: "CORP",
			Users: []config.DirectoryUser{{Name: "alice"}}, Groups: map[string][]string{"Engineering": {"alice"}}}}
		a.VPCs = []config.VPC{{CIDR: "10.0.0.0/16", Subnets: []config.Subnet{{CIDR: "10.0.0.0/20", AZ: "a"}, {CIDR: "10.0.16.0/20", AZ: "b"}}}}
		a.Roles = []config.Role{{Name: "PartnerRole", Policies: map[string]any{"PartnerManaged": config.PartnerRolePolicy()},
			TrustPolicy: map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + config.PartnerAccount + ":root"},
				"Action": "sts:AssumeRole", "Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": "Customer-" + a.ID}},
			}}}}}
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "deskplane.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func BenchmarkReconcile10k(b *testing.B) {
	s := testserver.Start(b, testserver.ConfigFile(serverConfig(b)), testserver.Timing("instant"))
	ctx := context.Background()
	c := &broker.Config{Endpoint: s.URL, Region: "us-east-1", AccessKeyID: config.PartnerKeyID, SecretAccessKey: config.PartnerSecret,
		DataDir: b.TempDir(), APITokens: []string{"admin-token"}, MaxAttempts: 20, MaxBackoff: "200ms"}
	for i, a := range []string{config.CustomerAccount, "100000000001", "100000000002", "100000000003", "100000000004"} {
		c.Tenants = append(c.Tenants, broker.Tenant{Name: fmt.Sprintf("t%d", i), Config: broker.Config{
			RoleARN: "arn:aws:iam::" + a + ":role/PartnerRole", ExternalID: "Customer-" + a,
			Onboarding: broker.Onboarding{Directory: "corp.example.com", ImageName: "win11-byol", BundleName: "win11-bundle", AMI: "win11-ent-23h2-byol"},
			Pools: []broker.Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL",
				Min: perRegion, Max: perRegion, Standby: &broker.StandbyPool{Region: "us-west-2", Min: perRegion}}},
			Policies: []broker.Policy{{Name: "eng", Groups: []string{"Engineering"}, Pool: "eng"}},
		}})
	}
	if err := c.Validate(); err != nil {
		b.Fatal(err)
	}
	fleet, err := broker.NewFleet(ctx, c, time.Minute, broker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Close()
	var all []*broker.Broker
	for _, name := range fleet.Tenants() {
		all = append(all, fleet.Broker(name), fleet.Broker(name).Standby())
	}
	// Onboard every tenant and region, then let the pools fill.
	for _, br := range all {
		on := &broker.Onboarder{C: br.Clients(), Cfg: br.Config().Onboarding, Out: io.Discard, Poll: 10 * time.Millisecond,
			Timeout: time.Minute, In: bufio.NewReader(strings.NewReader("1\n"))}
		if _, err := on.Run(ctx); err != nil {
			b.Fatalf("onboard %s: %v", br.Config().Region, err)
		}
	}
	settle := time.Now()
	for _, br := range all {
		for pass := 0; ; pass++ {
			rep, err := br.Reconcile(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p := rep.Pools["eng"]
			if p.Desktops == perRegion && steady(p) {
				break
			}
			if pass > 200 {
				b.Fatalf("the pool does not settle: %+v", p)
			}
		}
	}
	b.Logf("10,000 desktops settled in %v", time.Since(settle).Round(time.Millisecond))

	if *passProfile != "" {
		f, err := os.Create(*passProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := processCPU(b)
	b.ResetTimer()
	var slowest time.Duration
	var each []time.Duration // every single tenant-region pass
	n := b.N * *passes
	for i := 0; i < n; i++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		unsteady := 0
		for _, br := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				rep, err := br.Reconcile(ctx)
				d := time.Since(t0)
				if err != nil || rep.Pools["eng"].Desktops != perRegion {
					b.Errorf("pass: %v %+v", err, rep)
				}
				mu.Lock()
				slowest = max(slowest, d)
				each = append(each, d)
				if rep != nil && !steady(rep.Pools["eng"]) {
					unsteady++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if *passLog {
			b.Logf("pass %d: slowest tenant-region %v", i, slices.Max(each[len(each)-len(all):]).Round(time.Millisecond))
		}
		if unsteady > 0 {
			b.Logf("pass %d: %d of %d tenant-regions acted or saw desktops change state", i, unsteady, len(all))
		}
	}
	b.StopTimer()
	// The CPU time of a pass (broker and server, both in this process) does
	// not grow when other processes take the machine's cores; wall time does.
	b.ReportMetric(float64((processCPU(b)-cpu0).Milliseconds())/float64(n), "cpu-ms/pass")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(n), "wall-ms/pass")
	b.ReportMetric(float64(slowest.Milliseconds()), "slowest-pass-ms")
	slices.Sort(each)
	b.ReportMetric(float64(quantile(each, 0.50).Milliseconds()), "p50-pass-ms")
	b.ReportMetric(float64(quantile(each, 0.95).Milliseconds()), "p95-pass-ms")
}

// quantile is the q-quantile (nearest rank) of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// steady reports a pool pass that took no action and saw every desktop
// AVAILABLE or STOPPED: the pass the benchmark times is one over a fleet
// at rest (a pool's MANUAL desktops come up AVAILABLE and are then
// stopped down to the warm count, which takes passes after the last
// create).
func steady(p broker.PoolReport) bool {
	if len(p.Created)+len(p.Started)+len(p.Stopped)+len(p.Replaced)+len(p.Rebuilt)+len(p.Resent)+p.Pending+p.Requested > 0 || len(p.Errors) > 0 {
		return false
	}
	for st := range p.States {
		if st != "AVAILABLE" && st != "STOPPED" {
			return false
		}
	}
	return true
}
