// Command peer benchmarks deskplane side by side with moto_server (the peer)
// and a trivial Go HTTP handler (this machine's ceiling), with one Go load
// generator for all of them so that the client is never what differs.
//
// bench/run.sh starts the servers and runs it; see docs/benchmarks.md.
//
//	peer trivial -listen 127.0.0.1:0        # the ceiling: a fixed body, nothing else
//	peer profile -cpuprofile FILE -only describe  # deskplane in a child process under the CPU profiler
//	peer profile -only list -warmup 200000      # a page of DescribeWorkspaces by directory: server CPU per page
//	peer ceiling -rows 10000 -concurrency 8  # what the embedded stores alone commit (SQLite and Pebble)
//	peer run -deskplane URL -deskplane-pid N -moto URL -moto-pid N -trivial URL -trivial-pid N
//
// Workloads (each bounded in requests and time, loopback only):
//
//  1. describe: DescribeWorkspaces of one desktop by id, signed once with the
//     SigV4 signer and replayed raw at high concurrency.
//  2. create: CreateWorkspaces in batches of 25 until -desktops desktops
//     exist, then a paginated DescribeWorkspaces over all of them.
//  3. power: Stop then Start of -power MANUAL desktops (batches of 25) until
//     all are back AVAILABLE (deskplane only: moto has no Start/Stop).
//
// For each: requests/s, p50/p99 latency and the server's peak RSS (VmHWM from
// /proc/PID/status, reset before each workload through /proc/PID/clear_refs).
//
// Side by side (-interleave 1): describe and create run interleaved, in
// rounds in which each server runs one slice in turn (the first rotating), so
// that each is measured across the same moments of a machine whose speed
// drifts; each figure is a server's items over its time in all its slices,
// and the per-round ratios show how far the ratio moves within a run. Each
// server's CPU per item is its process's CPU (/proc/PID/stat) over its own
// slices; what it used during the others' slices is reported apart.
// -interleave 0 measures each server's workload in one block after the
// other (the method before session 7). See slices.go.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"

	"log/slog"
	"runtime/debug"
	"runtime/pprof"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	dstypes "github.com/aws/aws-sdk-go-v2/service/directoryservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/logbuf"
	"github.com/deskplane/deskplane/internal/sdkhttp"
	"github.com/deskplane/deskplane/internal/server"
)

const (
	keyID  = "AKIAIOSFODNN7EXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	region = "us-east-1"
	// A public WorkSpaces bundle id; moto accepts any bundle id.
	motoBundle = "wsb-bh8rsxt14"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peer trivial|run|profile [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "trivial":
		trivial(os.Args[2:])
	case "ceiling":
		if err := ceilingCmd(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(1)
		}
	case "profile":
		if err := profile(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(1)
		}
	case "run":
		if err := run(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: peer trivial|run [flags]")
		os.Exit(2)
	}
}

// trivial serves a fixed awsJson-looking body for every request.
func trivial(args []string) {
	fs := flag.NewFlagSet("trivial", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("trivial listening on http://%s\n", ln.Addr())
	http.Serve(ln, trivialHandler())
}

// trivialHandler answers every request with a fixed awsJson-looking body.
func trivialHandler() http.Handler {
	body := []byte(`{"Workspaces":[{"WorkspaceId":"ws-0123456789","State":"AVAILABLE"}]}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write(body)
	})
}

// target is one server under test.
type target struct {
	name string
	url  string
	pid  int
	ws   *workspaces.Client
	// set up by prepare
	dirID, bundleID string
}

type result struct {
	workload, target string
	requests, errors int64
	items            int64 // desktops created / listed / cycled
	elapsed          time.Duration
	p50, p99         time.Duration
	peakRSS          int64 // bytes
	note             string
	// Side by side (peer run): the slices the figures add up, the server's
	// CPU over them, the load generator's, and the server's CPU during the
	// other servers' slices of the same workload.
	slices                   int
	cpu, clientCPU, otherCPU time.Duration
}

// rps and itemsPerSec are 0 for a result that measured nothing (a
// workload a server does not support): never NaN, which JSON cannot hold.
func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func (r result) itemsPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.items) / r.elapsed.Seconds()
}

var transport = &http.Transport{
	Proxy:               nil,
	DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:        4096,
	MaxIdleConnsPerHost: 4096,
	IdleConnTimeout:     90 * time.Second,
	DisableCompression:  true,
}
var httpClient = &http.Client{Transport: transport, Timeout: 120 * time.Second}

func sdkConfig(url string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		BaseEndpoint: aws.String(url),
		// The standard retryer (no rate limit) so that the rare transport
		// error seen after heavy load (see docs/benchmarks.md) is retried;
		// throttling never happens on deskplane or moto here.
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
		},
		// Through sdkhttp, as the broker's and the tests' clients: without
		// it the SDK's race with net/http (internal/sdkhttp) closes the
		// connection under an answer longer than one read, and the SDK
		// retries that page after a wait (session 8: 227–518 of 40,000
		// pages at 1,000,000 desktops, the listing's p99 in them).
		HTTPClient: sdkhttp.Client(httpClient),
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dpURL := fs.String("deskplane", "", "deskplane endpoint")
	dpPID := fs.Int("deskplane-pid", 0, "deskplane pid (peak RSS)")
	motoURL := fs.String("moto", "", "moto_server endpoint (empty: skip)")
	motoPID := fs.Int("moto-pid", 0, "moto_server pid")
	trivURL := fs.String("trivial", "", "trivial handler endpoint (empty: skip)")
	trivPID := fs.Int("trivial-pid", 0, "trivial handler pid")
	conc := fs.Int("concurrency", 64, "concurrent requests for the describe workload")
	dur := fs.Duration("duration", 5*time.Second, "duration of the describe workload per target")
	maxReq := fs.Int("max-requests", 500000, "request cap of the describe workload per target")
	desktops := fs.Int("desktops", 10000, "desktops to create in the create workload")
	createConc := fs.Int("create-concurrency", 8, "concurrent CreateWorkspaces batches")
	createClient := fs.String("create-client", "raw", "client of the create workload: raw (signed requests over raw keep-alive connections, as wrk does) or sdk (aws-sdk-go-v2)")
	power := fs.Int("power", 1000, "MANUAL desktops to stop and start (deskplane only; 0 skips)")
	only := fs.String("only", "describe,create,power", "workloads to run")
	out := fs.String("json", "", "write the results as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this client (the load generator) to this file")
	ceilingRows := fs.Int("ceiling", 10000, "with the create workload: rows for the embedded store's ceiling, measured in this process after the workloads (0 skips)")
	storeName := fs.String("store", "pebble", "the embedded store deskplane serves from (sqlite or pebble; serve's default for a new data dir is pebble): whose ceiling is measured")
	interleave := fs.Int("interleave", 0, "1: the servers side by side in slices that alternate (describe: slices of -slice, the servers in turn, which goes first rotating; create: -create-slices slices per server, alternating), each server's figure its total items over its total measured time; 0: each server's whole workload in one block after the other")
	sliceDur := fs.Duration("slice", time.Second, "with -interleave 1: the describe workload's slice (each server's -duration is cut into slices of about this length)")
	createSlices := fs.Int("create-slices", 8, "with -interleave 1: slices each server's -desktops are created in")
	fs.Parse(args)
	if *dpURL == "" {
		return errors.New("-deskplane is required")
	}
	ctx := context.Background()
	// The load generator shares the machine with the servers it measures:
	// collect its garbage less often (it keeps little), so that it takes
	// less of the CPU from whichever server it drives.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	dp := &target{name: "deskplane", url: *dpURL, pid: *dpPID, ws: workspaces.NewFromConfig(sdkConfig(*dpURL))}
	targets := []*target{dp}
	var moto *target
	if *motoURL != "" {
		moto = &target{name: "moto", url: *motoURL, pid: *motoPID, ws: workspaces.NewFromConfig(sdkConfig(*motoURL))}
		targets = append(targets, moto)
	}
	var results []result
	for _, t := range targets {
		start := time.Now()
		if err := prepare(ctx, t); err != nil {
			return fmt.Errorf("%s setup: %w", t.name, err)
		}
		fmt.Printf("%s: directory %s, bundle %s (setup %v)\n", t.name, t.dirID, t.bundleID, time.Since(start).Round(time.Millisecond))
	}
	has := func(w string) bool { return strings.Contains(","+*only+",", ","+w+",") }

	var ratios []ratioSet
	if has("describe") {
		rs, rr, err := describeSideBySide(ctx, targets, *trivURL, *trivPID, *conc, *dur, *maxReq, *interleave != 0, *sliceDur)
		if err != nil {
			return err
		}
		results, ratios = append(results, rs...), append(ratios, rr...)
	}
	if has("create") {
		transport.CloseIdleConnections()
		rs, rr, err := createSideBySide(ctx, targets, *desktops, *createConc, *createClient == "raw", *interleave != 0, *createSlices)
		if err != nil {
			return err
		}
		results, ratios = append(results, rs...), append(ratios, rr...)
	}
	if has("power") && *power > 0 {
		r, err := powerWorkload(ctx, dp, *power)
		if err != nil {
			return err
		}
		results = append(results, r)
		printResult(r)
		if moto != nil {
			results = append(results, result{workload: "power", target: "moto", note: "not supported: moto's WorkSpaces backend has no StartWorkspaces/StopWorkspaces"})
		}
	}
	var ceil *ceilingResult
	if has("create") && *ceilingRows > 0 {
		c, err := storeCeiling(ctx, *storeName, *ceilingRows, *createConc, 760, nil)
		if err != nil {
			return err
		}
		ceil = &c
	}
	fmt.Println()
	fmt.Print(table(results))
	fmt.Print(sideBySideLines(results, ratios, *interleave != 0))
	if ceil != nil {
		fmt.Printf("- %s\n", ceil)
		for _, r := range results {
			if r.target == "deskplane" && strings.HasPrefix(r.workload, "create") {
				fmt.Printf("- deskplane's creates: %.0f desktops/s = %.0f%% of the store's ceiling\n", r.itemsPerSec(), 100*r.itemsPerSec()/ceil.rowsPerSec())
			}
		}
	}
	if *out != "" {
		rows := make([]map[string]any, 0, len(results))
		for _, r := range results {
			rows = append(rows, map[string]any{"workload": r.workload, "target": r.target, "requests": r.requests, "errors": r.errors,
				"items": r.items, "seconds": r.elapsed.Seconds(), "rps": r.rps(), "items_per_sec": r.itemsPerSec(),
				"p50_ms": ms(r.p50), "p99_ms": ms(r.p99), "peak_rss_mib": float64(r.peakRSS) / (1 << 20), "note": r.note})
			row := rows[len(rows)-1]
			if r.slices > 0 {
				row["method"] = method(*interleave != 0)
				row["slices"] = r.slices
				row["server_cpu_seconds"] = r.cpu.Seconds()
				row["server_cpu_us_per_item"] = perItem(r.cpu, r.items)
				row["client_cpu_us_per_item"] = perItem(r.clientCPU, r.items)
				row["server_cpu_seconds_in_others_slices"] = r.otherCPU.Seconds()
			}
			for _, rr := range ratios {
				if rr.workload == r.workload && rr.target == r.target {
					row["round_ratios_vs_"+rr.versus] = rr.ratios
				}
			}
		}
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return fmt.Errorf("-json: %w", err)
		}
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// prepare makes the target able to create desktops: deskplane the partner
// guide's way, moto the way its backend supports.
func prepare(ctx context.Context, t *target) error {
	cfg := sdkConfig(t.url)
	if t.name == "moto" {
		ec := ec2.NewFromConfig(cfg)
		vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
		if err != nil {
			return fmt.Errorf("CreateVpc: %w", err)
		}
		var subnets []string
		for i, az := range []string{"us-east-1a", "us-east-1b"} {
			sn, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", i+1)), AvailabilityZone: aws.String(az)})
			if err != nil {
				return fmt.Errorf("CreateSubnet: %w", err)
			}
			subnets = append(subnets, *sn.Subnet.SubnetId)
		}
		d, err := directoryservice.NewFromConfig(cfg).CreateDirectory(ctx, &directoryservice.CreateDirectoryInput{
			Name: aws.String("corp.example.com"), Password: aws.String("Passw0rd!Passw0rd"), Size: dstypes.DirectorySizeSmall,
			VpcSettings: &dstypes.DirectoryVpcSettings{VpcId: vpc.Vpc.VpcId, SubnetIds: subnets}})
		if err != nil {
			return fmt.Errorf("ds CreateDirectory: %w", err)
		}
		if _, err := t.ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: d.DirectoryId, SubnetIds: subnets}); err != nil {
			return fmt.Errorf("RegisterWorkspaceDirectory: %w", err)
		}
		t.dirID, t.bundleID = *d.DirectoryId, motoBundle
		return nil
	}
	// deskplane: BYOL, image import, directory registration, bundle.
	if _, err := t.ws.ModifyAccount(ctx, &workspaces.ModifyAccountInput{DedicatedTenancySupport: wstypes.DedicatedTenancySupportEnumEnabled,
		DedicatedTenancyManagementCidrRange: aws.String("192.168.0.0/16")}); err != nil {
		return fmt.Errorf("ModifyAccount: %w", err)
	}
	if err := waitFor(ctx, func() (bool, error) {
		a, err := t.ws.DescribeAccount(ctx, &workspaces.DescribeAccountInput{})
		return err == nil && a.DedicatedTenancySupport == wstypes.DedicatedTenancySupportResultEnumEnabled, err
	}); err != nil {
		return err
	}
	imgs, err := ec2.NewFromConfig(cfg).DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"win10-*"}}}})
	if err != nil || len(imgs.Images) == 0 {
		return fmt.Errorf("DescribeImages: %v", err)
	}
	imp, err := t.ws.ImportWorkspaceImage(ctx, &workspaces.ImportWorkspaceImageInput{Ec2ImageId: imgs.Images[0].ImageId,
		IngestionProcess: wstypes.WorkspaceImageIngestionProcessByolRegularByop, ImageName: aws.String("bench"), ImageDescription: aws.String("bench")})
	if err != nil {
		return fmt.Errorf("ImportWorkspaceImage: %w", err)
	}
	if err := waitFor(ctx, func() (bool, error) {
		d, err := t.ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{*imp.ImageId}})
		return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable, err
	}); err != nil {
		return err
	}
	dirs, err := t.ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
	if err != nil || len(dirs.Directories) == 0 {
		return fmt.Errorf("DescribeWorkspaceDirectories: %v", err)
	}
	t.dirID = *dirs.Directories[0].DirectoryId
	if _, err := t.ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: aws.String(t.dirID), Tenancy: wstypes.TenancyDedicated}); err != nil {
		return fmt.Errorf("RegisterWorkspaceDirectory: %w", err)
	}
	if err := waitFor(ctx, func() (bool, error) {
		d, err := t.ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{t.dirID}})
		return err == nil && len(d.Directories) == 1 && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered, err
	}); err != nil {
		return err
	}
	b, err := t.ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("bench"), BundleDescription: aws.String("bench"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeStandard}, ImageId: imp.ImageId,
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("80")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("50")}})
	if err != nil {
		return fmt.Errorf("CreateWorkspaceBundle: %w", err)
	}
	t.bundleID = *b.WorkspaceBundle.BundleId
	return nil
}

// waitFor polls cond for at most 60 s.
func waitFor(ctx context.Context, cond func() (bool, error)) error {
	var last error
	for i := 0; i < 1200; i++ {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out waiting (last error %v)", last)
}

func createBatch(ctx context.Context, t *target, n int, prefix string) ([]string, error) {
	reqs := make([]wstypes.WorkspaceRequest, 0, n)
	for j := 0; j < n; j++ {
		reqs = append(reqs, wstypes.WorkspaceRequest{
			DirectoryId: aws.String(t.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: aws.String(t.bundleID),
			WorkspaceName:       aws.String(fmt.Sprintf("%s-%d", prefix, j)),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual},
			Tags:                []wstypes.Tag{{Key: aws.String("PartnerManaged"), Value: aws.String("true")}},
		})
	}
	out, err := t.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
	if err != nil {
		return nil, err
	}
	if len(out.FailedRequests) > 0 {
		f := out.FailedRequests[0]
		return nil, fmt.Errorf("CreateWorkspaces: %d failed: %s %s", len(out.FailedRequests), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage))
	}
	ids := make([]string, 0, n)
	for _, p := range out.PendingRequests {
		ids = append(ids, *p.WorkspaceId)
	}
	return ids, nil
}

func createDesktops(ctx context.Context, t *target, n, conc int, prefix string) ([]string, error) {
	ids, _, _, err := createParallel(ctx, t, n, conc, prefix, false, nil)
	return ids, err
}

// createParallel creates n desktops in batches of 25 from conc workers,
// through the SDK client or (raw) each worker's rawCreator: pool's, kept
// open from one call to the next, or (pool nil) one of its own.
func createParallel(ctx context.Context, t *target, n, conc int, prefix string, raw bool, pool []*rawCreator) ([]string, []time.Duration, int64, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var ids []string
	var lat []time.Duration
	var errs atomic.Int64
	var firstErr error
	batches := (n + 24) / 25
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var rc *rawCreator
			if raw && pool != nil {
				rc = pool[w]
			} else if raw {
				rc = newRawCreator(t)
				defer rc.conn.close()
			}
			for {
				b := int(next.Add(1)) - 1
				if b >= batches {
					return
				}
				size := min(25, n-b*25)
				st := time.Now()
				var got []string
				var err error
				if rc != nil {
					got, err = rc.create(ctx, size, fmt.Sprintf("%s%d", prefix, b))
				} else {
					got, err = createBatch(ctx, t, size, fmt.Sprintf("%s%d", prefix, b))
				}
				d := time.Since(st)
				mu.Lock()
				if err != nil {
					errs.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				}
				ids = append(ids, got...)
				lat = append(lat, d)
				mu.Unlock()
				if errs.Load() > 10 {
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if len(ids) < n {
		return ids, lat, errs.Load(), fmt.Errorf("%s: created %d of %d desktops (%d errors, first: %v)", t.name, len(ids), n, errs.Load(), firstErr)
	}
	return ids, lat, errs.Load(), nil
}

// createWorkload creates n desktops in one block.
func createWorkload(ctx context.Context, t *target, n, conc int, raw bool) (result, error) {
	c := newCreator(ctx, t, conc, raw, 1)
	defer c.close()
	s, err := newMeter().run(runner{name: t.name, pid: t.pid, do: func(int) (slice, error) { return c.slice(n) }}, 0, []int{t.pid})
	if err != nil {
		return result{}, err
	}
	return aggregate(c.workload(n), t.name, []slice{s}), nil
}

// creator creates desktops on one server in slices, from conc workers whose
// raw connections stay open from one slice to the next.
type creator struct {
	ctx    context.Context
	t      *target
	conc   int
	raw    bool
	pool   []*rawCreator
	slices int // slices of the workload: 1 names the desktops as before slices existed
	done   int // slices run so far
}

func newCreator(ctx context.Context, t *target, conc int, raw bool, slices int) *creator {
	c := &creator{ctx: ctx, t: t, conc: conc, raw: raw, slices: slices}
	if raw {
		for w := 0; w < conc; w++ {
			c.pool = append(c.pool, newRawCreator(t))
		}
	}
	return c
}

func (c *creator) workload(n int) string {
	return fmt.Sprintf("create %d (batches of 25, %d in flight)", n, c.conc)
}

// slice creates n desktops.
func (c *creator) slice(n int) (slice, error) {
	prefix := "bench"
	if c.slices > 1 {
		prefix = fmt.Sprintf("bench%d.", c.done)
	}
	c.done++
	st := time.Now()
	ids, lat, errs, err := createParallel(c.ctx, c.t, n, c.conc, prefix, c.raw, c.pool)
	el := time.Since(st)
	if err != nil {
		return slice{}, err
	}
	return slice{requests: int64(len(lat)), errors: errs, items: int64(len(ids)), elapsed: el, lat: lat}, nil
}

func (c *creator) close() {
	for _, rc := range c.pool {
		rc.conn.close()
	}
}

// listWorkload pages through every desktop of the directory.
func listWorkload(ctx context.Context, t *target) (result, error) {
	st := time.Now()
	var lat []time.Duration
	var starts []time.Time
	// Whether the load generator's own GC ran during each page (a cycle
	// counted between its start and end): on the quiet machine the slow
	// pages were as many as the client's GC cycles (docs/benchmarks.md,
	// session 8, the slow pages).
	var clientGC []bool
	gcs := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(gcs)
	var n, errs, retried int64
	var retriedLat []time.Duration
	retryErrs := map[string]int{}
	var token *string
	for page := 0; page < 100000; page++ {
		ps := time.Now()
		starts = append(starts, ps)
		out, err := t.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(t.dirID), NextToken: token})
		for retry := 0; err != nil && retry < 3; retry++ {
			// Retries of a call the SDK gave up on, counted as errors. A
			// page whose body was lost to "use of closed network
			// connection" (the SDK's race with net/http that sdkConfig's
			// client works around; docs/benchmarks.md, "Known issue")
			// should no longer reach here.
			fmt.Printf("%s: page %d failed, retrying: %v\n", t.name, page, err)
			errs++
			out, err = t.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(t.dirID), NextToken: token})
		}
		lat = append(lat, time.Since(ps))
		if err == nil {
			// The SDK retries a failed attempt itself (after a backoff):
			// count the pages that took more than one.
			if ar, ok := retry.GetAttemptResults(out.ResultMetadata); ok && len(ar.Results) > 1 {
				retried++
				retriedLat = append(retriedLat, lat[len(lat)-1])
				if e := ar.Results[0].Err; e != nil && len(retryErrs) < 3 {
					retryErrs[e.Error()]++
				}
			}
		}
		before := gcs[0].Value.Uint64()
		metrics.Read(gcs)
		clientGC = append(clientGC, gcs[0].Value.Uint64() != before)
		if err != nil {
			return result{}, fmt.Errorf("%s DescribeWorkspaces page %d: %w", t.name, page, err)
		}
		n += int64(len(out.Workspaces))
		token = out.NextToken
		if token == nil {
			break
		}
	}
	el := time.Since(st)
	p50, p99 := percentiles(lat)
	note := fmt.Sprintf("%d pages", len(lat))
	if len(lat) >= 100 {
		// Whether the store's background work after the creates (flushes,
		// compactions) moves the page: p50 of each fifth of the pages.
		note += "; p50 by fifths (ms):"
		for i := range 5 {
			q, _ := percentiles(lat[i*len(lat)/5 : (i+1)*len(lat)/5])
			note += fmt.Sprintf(" %.2f", float64(q.Microseconds())/1000)
		}
	}
	if t.name != "moto" && len(lat) >= 100 {
		note += listTail(lat, starts, clientGC)
		r50, r99 := percentiles(retriedLat)
		note += fmt.Sprintf("; pages the SDK retried: %d (p50/p99 %.2f/%.2f ms)", retried, float64(r50.Microseconds())/1000, float64(r99.Microseconds())/1000)
		for e := range retryErrs {
			note += "; a first attempt's error: " + e
		}
	}
	if t.name == "moto" && len(lat) == 1 {
		note = "1 page: moto does not paginate DescribeWorkspaces"
	}
	return result{workload: "list all (paginated DescribeWorkspaces)", target: t.name, requests: int64(len(lat)), errors: errs, items: n, elapsed: el,
		p50: p50, p99: p99, peakRSS: peakRSS(t.pid), note: note}, nil
}

// listTail describes a listing's slow pages: how many took over 2, 5, 10
// and 20 ms, the p50/p90 of the pages during which the load generator's
// GC ran and of the others, and the ten slowest pages with their offset
// from the first page.
// With PEER_LIST_TRACE set to a file name, every page's start (Unix
// nanoseconds) and latency (ns) is written there, to be laid beside the
// server's gctrace and the store's file events.
func listTail(lat []time.Duration, starts []time.Time, clientGC []bool) string {
	if f := os.Getenv("PEER_LIST_TRACE"); f != "" {
		var b bytes.Buffer
		for i, d := range lat {
			fmt.Fprintf(&b, "%d %d\n", starts[i].UnixNano(), d.Nanoseconds())
		}
		os.WriteFile(f, b.Bytes(), 0o644)
	}
	var over [4]int
	for _, d := range lat {
		for i, ms := range []time.Duration{2, 5, 10, 20} {
			if d > ms*time.Millisecond {
				over[i]++
			}
		}
	}
	var withGC, without []time.Duration
	for i, d := range lat {
		if clientGC[i] {
			withGC = append(withGC, d)
		} else {
			without = append(without, d)
		}
	}
	p90 := func(d []time.Duration) float64 {
		if len(d) == 0 {
			return 0
		}
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return float64(s[len(s)*90/100].Microseconds()) / 1000
	}
	g50, _ := percentiles(withGC)
	o50, o99 := percentiles(without)
	idx := make([]int, len(lat))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return lat[idx[a]] > lat[idx[b]] })
	s := fmt.Sprintf("; pages over 2/5/10/20 ms: %d/%d/%d/%d; %d pages with a client GC p50/p90 %.2f/%.2f ms, the others p50/p90/p99 %.2f/%.2f/%.2f ms; slowest (ms at s):",
		over[0], over[1], over[2], over[3], len(withGC), float64(g50.Microseconds())/1000, p90(withGC),
		float64(o50.Microseconds())/1000, p90(without), float64(o99.Microseconds())/1000)
	for _, i := range idx[:min(10, len(idx))] {
		s += fmt.Sprintf(" %.1f@%.2f", float64(lat[i].Microseconds())/1000, starts[i].Sub(starts[0]).Seconds())
	}
	return s
}

// powerWorkload stops and starts n MANUAL desktops until all are AVAILABLE.
func powerWorkload(ctx context.Context, t *target, n int) (result, error) {
	ids, err := createDesktops(ctx, t, n, 8, "power")
	if err != nil {
		return result{}, err
	}
	if err := waitStates(ctx, t, ids, wstypes.WorkspaceStateAvailable, nil); err != nil {
		return result{}, err
	}
	resetPeak(t.pid)
	var lat []time.Duration
	var reqs int64
	st := time.Now()
	for _, stop := range []bool{true, false} {
		for i := 0; i < len(ids); i += 25 {
			chunk := ids[i:min(i+25, len(ids))]
			ps := time.Now()
			var failed int
			if stop {
				rs := make([]wstypes.StopRequest, 0, len(chunk))
				for _, id := range chunk {
					rs = append(rs, wstypes.StopRequest{WorkspaceId: aws.String(id)})
				}
				out, err := t.ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: rs})
				if err != nil {
					return result{}, fmt.Errorf("StopWorkspaces: %w", err)
				}
				failed = len(out.FailedRequests)
			} else {
				rs := make([]wstypes.StartRequest, 0, len(chunk))
				for _, id := range chunk {
					rs = append(rs, wstypes.StartRequest{WorkspaceId: aws.String(id)})
				}
				out, err := t.ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: rs})
				if err != nil {
					return result{}, fmt.Errorf("StartWorkspaces: %w", err)
				}
				failed = len(out.FailedRequests)
			}
			lat = append(lat, time.Since(ps))
			reqs++
			if failed > 0 {
				return result{}, fmt.Errorf("%d of %d power requests failed", failed, len(chunk))
			}
		}
		want := wstypes.WorkspaceStateStopped
		if !stop {
			want = wstypes.WorkspaceStateAvailable
		}
		if err := waitStates(ctx, t, ids, want, &reqs); err != nil {
			return result{}, err
		}
	}
	el := time.Since(st)
	p50, p99 := percentiles(lat)
	return result{workload: fmt.Sprintf("stop+start %d MANUAL desktops until AVAILABLE", n), target: t.name, requests: reqs, items: int64(n),
		elapsed: el, p50: p50, p99: p99, peakRSS: peakRSS(t.pid), note: "p50/p99 of Stop/StartWorkspaces calls; requests include state polls"}, nil
}

func waitStates(ctx context.Context, t *target, ids []string, want wstypes.WorkspaceState, reqs *int64) error {
	for round := 0; round < 600; round++ {
		done := true
		for i := 0; i < len(ids) && done; i += 25 {
			out, err := t.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: ids[i:min(i+25, len(ids))]})
			if reqs != nil {
				*reqs++
			}
			if err != nil {
				return err
			}
			for _, w := range out.Workspaces {
				if w.State != want {
					done = false
				}
			}
		}
		if done {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: desktops never all %s", t.name, want)
}

// replayDescribe signs one DescribeWorkspaces request and replays it raw,
// in one block of dur.
func replayDescribe(ctx context.Context, name, url string, pid int, id string, conc int, dur time.Duration, maxReq int) (result, error) {
	d, err := newDescriber(ctx, name, url, pid, id, conc)
	if err != nil {
		return result{}, err
	}
	defer d.close()
	s, err := newMeter().run(runner{name: name, pid: pid, do: func(int) (slice, error) { return d.slice(dur, maxReq), nil }}, 0, []int{pid})
	if err != nil {
		return result{}, err
	}
	return aggregate(d.workload(), name, []slice{s}), nil
}

// describer replays one signed DescribeWorkspaces request to one server from
// conc connections of its own, kept open from one slice to the next.
type describer struct {
	name  string
	conc  int
	conns []*rawConn
	sent  int64 // requests sent so far, in all slices
}

// newDescriber signs the request once and checks that the server answers it
// as the SDK would expect.
func newDescriber(ctx context.Context, name, url string, pid int, id string, conc int) (*describer, error) {
	body := []byte(fmt.Sprintf(`{"WorkspaceIds":[%q]}`, id))
	req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "WorkspacesService.DescribeWorkspaces")
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, "workspaces", region, time.Now()); err != nil {
		return nil, err
	}
	hdr := req.Header.Clone()
	// One check that the replayed request is answered as the SDK would expect.
	if code, b, err := send(url, hdr, body); err != nil || code != 200 || !bytes.Contains(b, []byte(id)) {
		return nil, fmt.Errorf("%s: signed DescribeWorkspaces: HTTP %d %v %.200s", name, code, err, b)
	}
	// The replayed request, as bytes on the wire (HTTP/1.1, keep-alive).
	var wire bytes.Buffer
	req.Header = hdr.Clone()
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	if err := req.Write(&wire); err != nil {
		return nil, err
	}
	d := &describer{name: name, conc: conc}
	addr := strings.TrimPrefix(url, "http://")
	for w := 0; w < conc; w++ {
		d.conns = append(d.conns, &rawConn{addr: addr, req: wire.Bytes()})
	}
	return d, nil
}

func (d *describer) workload() string {
	return fmt.Sprintf("DescribeWorkspaces by id, signed once, replayed (%d in flight)", d.conc)
}

// slice replays the request for dur, or until maxReq requests have been
// sent in all slices, from every connection at once.
func (d *describer) slice(dur time.Duration, maxReq int) slice {
	var count, errs atomic.Int64
	count.Store(d.sent)
	lats := make([][]time.Duration, d.conc)
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	st := time.Now()
	for w := 0; w < d.conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rc := d.conns[w]
			l := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && count.Add(1) <= int64(maxReq) {
				rs := time.Now()
				code, err := rc.roundTrip()
				l = append(l, time.Since(rs))
				if err != nil || code != 200 {
					errs.Add(1)
				}
			}
			lats[w] = l
		}(w)
	}
	wg.Wait()
	el := time.Since(st)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	d.sent += int64(len(all))
	return slice{requests: int64(len(all)), errors: errs.Load(), items: int64(len(all)), elapsed: el, lat: all}
}

func (d *describer) close() {
	for _, c := range d.conns {
		c.close()
	}
}

// rawConn replays one request's bytes over a keep-alive connection of its
// own and reads each response with http.ReadResponse, as wrk does: none of
// http.Transport's pooling, goroutines and header copying, so the load
// generator spends as little of the machine as it can.
type rawConn struct {
	addr string
	req  []byte
	c    net.Conn
	br   *bufio.Reader
}

func (r *rawConn) roundTrip() (int, error) {
	code, _, err := r.exchange(r.req, false)
	return code, err
}

// exchange sends req and reads the response, keeping its body if asked.
func (r *rawConn) exchange(req []byte, keep bool) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		if r.c == nil {
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				return 0, nil, err
			}
			r.c, r.br = c, bufio.NewReaderSize(c, 16<<10)
		}
		code, body, err := r.once(req, keep)
		if err == nil || attempt == 1 {
			return code, body, err
		}
		r.close() // the server closed an idle connection: dial again once
	}
}

func (r *rawConn) once(req []byte, keep bool) (int, []byte, error) {
	if _, err := r.c.Write(req); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		return 0, nil, err
	}
	var body []byte
	if keep {
		body, err = io.ReadAll(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	if resp.Close {
		r.close()
	}
	return resp.StatusCode, body, err
}

// rawCreator sends CreateWorkspaces requests over a rawConn: the body the
// SDK would send, signed afresh with the SDK's v4 signer for each request,
// and only the ids read back from the response.
type rawCreator struct {
	t      *target
	conn   *rawConn
	signer *v4.Signer
}

func newRawCreator(t *target) *rawCreator {
	return &rawCreator{t: t, conn: &rawConn{addr: strings.TrimPrefix(t.url, "http://")}, signer: v4.NewSigner()}
}

func (c *rawCreator) create(ctx context.Context, n int, prefix string) ([]string, error) {
	var body bytes.Buffer
	body.WriteString(`{"Workspaces":[`)
	for j := 0; j < n; j++ {
		if j > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"DirectoryId":%q,"UserName":"[UNDEFINED]","BundleId":%q,"WorkspaceName":"%s-%d",`+
			`"WorkspaceProperties":{"RunningMode":"MANUAL"},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}`, c.t.dirID, c.t.bundleID, prefix, j)
	}
	body.WriteString(`]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.t.url+"/", bytes.NewReader(body.Bytes()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "WorkspacesService.CreateWorkspaces")
	sum := sha256.Sum256(body.Bytes())
	if err := c.signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "workspaces", region, time.Now()); err != nil {
		return nil, err
	}
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		return nil, err
	}
	code, resp, err := c.conn.exchange(wire.Bytes(), true)
	if err != nil {
		return nil, err
	}
	var out struct {
		PendingRequests []struct{ WorkspaceId string }
		FailedRequests  []struct{ ErrorCode, ErrorMessage string }
	}
	if code != http.StatusOK || gojson.Unmarshal(resp, &out) != nil {
		return nil, fmt.Errorf("CreateWorkspaces: HTTP %d: %.300s", code, resp)
	}
	if len(out.FailedRequests) > 0 {
		f := out.FailedRequests[0]
		return nil, fmt.Errorf("CreateWorkspaces: %d failed: %s %s", len(out.FailedRequests), f.ErrorCode, f.ErrorMessage)
	}
	ids := make([]string, 0, n)
	for _, p := range out.PendingRequests {
		ids = append(ids, p.WorkspaceId)
	}
	if len(ids) != n {
		return nil, fmt.Errorf("CreateWorkspaces: %d of %d desktops pending", len(ids), n)
	}
	return ids, nil
}

func (r *rawConn) close() {
	if r.c != nil {
		r.c.Close()
		r.c, r.br = nil, nil
	}
}

func send(url string, hdr http.Header, body []byte) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	req.Header = hdr.Clone()
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, err
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)*50/100], s[min(len(s)-1, len(s)*99/100)]
}

// resetPeak resets a process's peak RSS (Linux: "5" > /proc/PID/clear_refs).
func resetPeak(pid int) {
	if pid > 0 {
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}

// peakRSS reads VmHWM from /proc/PID/status, in bytes.
func peakRSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printResult(r result) {
	fmt.Printf("%-10s %-60s %9.0f req/s %9.0f items/s p50 %8.2f ms p99 %8.2f ms peak RSS %6.0f MiB errors %d %s\n",
		r.target, r.workload, r.rps(), r.itemsPerSec(), ms(r.p50), ms(r.p99), float64(r.peakRSS)/(1<<20), r.errors, r.note)
}

// table renders the results as a Markdown table with the ratios.
func table(rs []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "machine: %d CPUs (load generator GOMAXPROCS %d; deskplane serve on an embedded store runs with one P more than its CPUs unless GOMAXPROCS is set)\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	b.WriteString("| workload | server | requests | req/s | items/s | p50 ms | p99 ms | peak RSS MiB | errors | notes |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		if r.requests == 0 {
			fmt.Fprintf(&b, "| %s | %s | – | – | – | – | – | – | – | %s |\n", r.workload, r.target, r.note)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %.0f | %.2f | %.2f | %.0f | %d | %s |\n", r.workload, r.target, r.requests, r.rps(),
			r.itemsPerSec(), ms(r.p50), ms(r.p99), float64(r.peakRSS)/(1<<20), r.errors, r.note)
	}
	find := func(prefix, target string) *result {
		for i := range rs {
			if strings.HasPrefix(rs[i].workload, prefix) && rs[i].target == target && rs[i].requests > 0 {
				return &rs[i]
			}
		}
		return nil
	}
	b.WriteString("\n")
	dpD, moD, trD := find("DescribeWorkspaces by id", "deskplane"), find("DescribeWorkspaces by id", "moto"), find("DescribeWorkspaces by id", "trivial")
	if dpD != nil && moD != nil {
		x := dpD.rps() / moD.rps()
		fmt.Fprintf(&b, "- DescribeWorkspaces by id: deskplane/moto = %.1fx (target >= 100x: %s)\n", x, met(x >= 100))
	}
	if dpD != nil && trD != nil {
		x := dpD.rps() / trD.rps()
		fmt.Fprintf(&b, "- DescribeWorkspaces by id: deskplane/trivial handler = %.0f%% (target >= 65%%: %s)\n", 100*x, met(x >= 0.65))
	}
	if trD != nil && moD != nil {
		// The trivial handler bounds what any server on this machine and
		// load generator reaches, so its own ratio to moto says what share
		// of it the 100x target asks of deskplane in this run.
		x := trD.rps() / moD.rps()
		fmt.Fprintf(&b, "- DescribeWorkspaces by id: trivial handler/moto = %.1fx, so >= 100x moto needs deskplane at >= %.0f%% of the trivial handler here\n", x, 100*100/x)
	}
	dpC, moC := find("create", "deskplane"), find("create", "moto")
	if dpC != nil && moC != nil {
		x := dpC.itemsPerSec() / moC.itemsPerSec()
		fmt.Fprintf(&b, "- CreateWorkspaces: deskplane/moto desktops/s = %.1fx (target >= 5x: %s)\n", x, met(x >= 5))
	}
	if dpC != nil {
		fmt.Fprintf(&b, "- deskplane peak RSS while creating %d desktops: %.0f MiB (target < 1024 MiB at 100,000 desktops: %s)\n",
			dpC.items, float64(dpC.peakRSS)/(1<<20), func() string {
				if dpC.items < 100000 {
					return "run with -desktops 100000"
				}
				return met(dpC.peakRSS < 1<<30)
			}())
	}
	return b.String()
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// profileServerEnv marks the child process of `peer profile` that serves:
// the same command line, run again with this variable set.
const profileServerEnv = "DESKPLANE_PEER_PROFILE_SERVER"

// profile measures deskplane's CPU per request with its server in a process
// of its own: `peer profile` runs itself again as a child (the same flags,
// profileServerEnv set) that serves the unmodified server package under the
// CPU profiler, and drives one workload at it from this process. The
// server's CPU is the child's own getrusage (the kernel's accounting of that
// process: its request handling, store, lifecycle engine, garbage collector
// and runtime, and nothing of the load generator), its allocations the
// child's runtime.MemStats, and the profile holds the server's samples only.
// The load generator's CPU is this process's getrusage; both are reported,
// and their sum as the process CPU earlier sessions measured in one process.
func profile(args []string) error {
	fs := flag.NewFlagSet("profile", flag.ExitOnError)
	out := fs.String("cpuprofile", "cpu.pprof", "CPU profile of the server process")
	only := fs.String("only", "describe", "workload: describe, create, list, or trivial (the describe workload against the trivial handler served by the child process: what Go's HTTP server and the sockets cost per call); list pages one client through every desktop of the directory (DescribeWorkspaces by DirectoryId, 25 a page, as peer run's list), the desktops created first by -warmup")
	conc := fs.Int("concurrency", 64, "concurrent requests (describe)")
	dur := fs.Duration("duration", 5*time.Second, "duration (describe)")
	desktops := fs.Int("desktops", 5000, "desktops (create)")
	memProfile := fs.String("memprofile", "", "write a memory profile of the server process to this file: what it allocated during the workload, and what is live after a collection at its end")
	memRate := fs.Int("memprofilerate", 4096, "with -memprofile: runtime.MemProfileRate of the server process (1 records every allocation: exact counts by function, at a cost in CPU)")
	ceilingRows := fs.Int("ceiling", 10000, "create: rows for the store's ceiling measured after the workload (0 skips)")
	top := fs.Int("top", 25, "server-side profile entries to print (flat and cumulative, through go tool pprof; 0 skips)")
	storeName := fs.String("store", "pebble", "embedded store: sqlite or pebble (serve's default for a new data dir)")
	warmup := fs.Int("warmup", 0, "desktops to create (and provision) before the measured window, so that it sees a server in its steady state: heap, store memtables and files already grown")
	fs.Parse(args)
	if os.Getenv(profileServerEnv) != "" {
		return profileServe(*out, *memProfile, *memRate, *storeName, *only)
	}
	if *only != "describe" && *only != "create" && *only != "trivial" && *only != "list" {
		return fmt.Errorf("unknown workload %q", *only)
	}
	if *only == "list" && *warmup == 0 {
		return errors.New("-only list lists the desktops -warmup creates: give -warmup N")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := startProfileServer(args)
	if err != nil {
		return err
	}
	defer srv.close()
	url := "http://" + srv.addr
	t := &target{name: "deskplane", url: url, pid: srv.cmd.Process.Pid, ws: workspaces.NewFromConfig(sdkConfig(url))}
	if *only == "trivial" {
		t.name = "trivial"
	} else if err := prepare(ctx, t); err != nil {
		return err
	}
	var probe []string
	if *only == "describe" {
		if probe, err = createDesktops(ctx, t, 1, 1, "probe"); err != nil {
			return err
		}
	}
	if *warmup > 0 {
		if _, err := createDesktops(ctx, t, *warmup, 8, "warmup"); err != nil {
			return err
		}
		if err := srv.quiet(); err != nil {
			return err
		}
		fmt.Printf("warm-up: %d desktops created and provisioned before the measured window\n", *warmup)
	}
	var r result
	st0, err := srv.stats()
	if err != nil {
		return err
	}
	load0 := processCPU()
	if err := srv.do("start"); err != nil {
		return err
	}
	switch *only {
	case "describe":
		r, err = replayDescribe(ctx, t.name, url, t.pid, probe[0], *conc, *dur, 1<<30)
	case "trivial":
		// The same signed request, to a handler that does nothing with it:
		// the HTTP server's and the sockets' share of a call.
		r, err = replayDescribe(ctx, t.name, url, t.pid, "ws-0123456789", *conc, *dur, 1<<30)
	case "create":
		r, err = createWorkload(ctx, t, *desktops, 8, true)
		if err == nil {
			// The engine provisions the desktops after the answers: the
			// figures include that work.
			err = srv.quiet()
		}
	case "list":
		r, err = listWorkload(ctx, t)
	}
	loadCPU := processCPU() - load0
	if serr := srv.do("stop"); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	st1, err := srv.stats()
	if err != nil {
		return err
	}
	printResult(r)
	n := float64(r.items)
	serverCPU := time.Duration(st1.CPU - st0.CPU)
	fmt.Printf("server CPU (the server's process alone, its getrusage; creates: until the provisioning is done): %.1f µs per item; allocations: %.2f objects, %.0f bytes per item; page faults: %.2f per item\n",
		float64(serverCPU.Microseconds())/n, float64(st1.Mallocs-st0.Mallocs)/n, float64(st1.TotalAlloc-st0.TotalAlloc)/n, float64(st1.Faults-st0.Faults)/n)
	fmt.Printf("load generator CPU (this process): %.1f µs per item\n", float64(loadCPU.Microseconds())/n)
	if *only == "list" {
		pages := float64(r.requests)
		fmt.Printf("per page (%d pages): server CPU %.1f µs, allocations %.0f objects, %.0f bytes; load generator CPU %.1f µs\n", r.requests,
			float64(serverCPU.Microseconds())/pages, float64(st1.Mallocs-st0.Mallocs)/pages, float64(st1.TotalAlloc-st0.TotalAlloc)/pages, float64(loadCPU.Microseconds())/pages)
	}
	fmt.Printf("process CPU (server and load generator, as one process measured before): %.1f µs per item\n",
		float64((serverCPU+loadCPU).Microseconds())/n)
	if *only == "create" {
		fmt.Printf("WAL bytes written (%s): store %d (%.0f per desktop), audit %d (%.0f per desktop)\n",
			*storeName, st1.WAL-st0.WAL, float64(st1.WAL-st0.WAL)/n, st1.AuditWAL-st0.AuditWAL, float64(st1.AuditWAL-st0.AuditWAL)/n)
		if g := st1.Groups - st0.Groups; g > 0 {
			u, y := st1.Updates-st0.Updates, st1.Syncs-st0.Syncs
			fmt.Printf("store writer: %d groups (%.3f per desktop, %.2f updates per group), %d updates (%.3f per desktop), %d WAL syncs (%.3f per desktop, %.2f desktops per sync)\n",
				g, float64(g)/n, float64(u)/float64(g), u, float64(u)/n, y, float64(y)/n, n/float64(y))
		}
		if w := st1.WALWrites - st0.WALWrites; w > 0 {
			y := st1.WALSyncs - st0.WALSyncs
			fmt.Printf("store WAL files: %d writes (%.3f per desktop, %.0f bytes per write), %d syncs (%.3f per desktop)\n",
				w, float64(w)/n, float64(st1.WAL-st0.WAL)/float64(w), y, float64(y)/n)
		}
		if st1.Disk > 0 {
			fmt.Printf("disk bytes written by the store (WAL, flushes, compactions): %d (%.0f per desktop)\n", st1.Disk-st0.Disk, float64(st1.Disk-st0.Disk)/n)
		}
		if f, c := st1.Flushes-st0.Flushes, st1.Compactions-st0.Compactions; f+c > 0 {
			fl, co := st1.Flushed-st0.Flushed, st1.Compacted-st0.Compacted
			fmt.Printf("store tables: %d flushes wrote %d bytes (%.0f per desktop), %d compactions wrote %d bytes (%.0f per desktop)\n",
				f, fl, float64(fl)/n, c, co, float64(co)/n)
		}
	}
	if *memProfile != "" {
		if err := srv.do("mem"); err != nil {
			return err
		}
		fmt.Printf("memory profile of the server in %s: go tool pprof -sample_index=alloc_space -top %s (allocated), -sample_index=inuse_space (live at the end)\n", *memProfile, *memProfile)
	}
	fmt.Printf("CPU profile of the server in %s: go tool pprof -top %s\n", *out, *out)
	if *top > 0 {
		printTop(*out, *top)
	}
	if *only == "create" && *ceilingRows > 0 {
		c, err := storeCeiling(ctx, *storeName, *ceilingRows, 8, 760, nil)
		if err != nil {
			return err
		}
		fmt.Println(c)
		fmt.Printf("deskplane creates: %.0f desktops/s = %.0f%% of the store's ceiling\n", r.itemsPerSec(), 100*r.itemsPerSec()/c.rowsPerSec())
	}
	return nil
}

// printTop prints a profile's top entries, flat and cumulative, through
// go tool pprof (skipped, with a note, where the go command is missing).
func printTop(file string, n int) {
	for _, mode := range [][]string{{"-top"}, {"-top", "-cum"}} {
		args := append([]string{"tool", "pprof"}, mode...)
		args = append(args, fmt.Sprintf("-nodecount=%d", n), file)
		b, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			fmt.Printf("go %s: %v\n", strings.Join(args, " "), err)
			return
		}
		fmt.Printf("server-side entries (go %s):\n", strings.Join(args, " "))
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasPrefix(line, "File:") && !strings.HasPrefix(line, "Build ID:") && !strings.HasPrefix(line, "Time:") {
				fmt.Print(line)
			}
		}
	}
}

// profileStats is what the server's process reports of itself.
type profileStats struct {
	CPU        int64  // getrusage user+system, ns
	Faults     int64  // getrusage minor and major page faults
	Mallocs    uint64 // runtime.MemStats
	TotalAlloc uint64
	WAL        int64 // bytes the store wrote to its WAL
	AuditWAL   int64 // bytes the audit store wrote to its WAL, if it is another
	Disk       int64 // bytes the store wrote to disk in all (Pebble: WAL, flushes, compactions; 0: not reported)
	// Groups, Updates and Syncs are the store writer's groups, the
	// updates it ran in them and its WAL syncs (Pebble; 0: not reported).
	Groups, Updates, Syncs uint64
	// WALWrites and WALSyncs are the write and sync calls on the store's
	// WAL files (Pebble; 0: not reported).
	WALWrites, WALSyncs uint64
	// Flushes and Compactions count the store's flushes and compactions,
	// Flushed and Compacted the bytes of the tables they wrote (Pebble;
	// 0: not reported).
	Flushes, Compactions, Flushed, Compacted int64
}

// profileServer is the child process serving deskplane, driven over its
// standard input and output one line at a time.
type profileServer struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
}

// startProfileServer runs this command again as the server's process.
func startProfileServer(args []string) (*profileServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("profile: own executable: %w", err)
	}
	cmd := exec.Command(exe, append([]string{"profile"}, args...)...)
	cmd.Env = append(os.Environ(), profileServerEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("profile: start the server's process: %w", err)
	}
	p := &profileServer{cmd: cmd, in: in, out: bufio.NewScanner(outp)}
	line, err := p.reply()
	if err != nil {
		p.close()
		return nil, err
	}
	p.addr = line
	return p, nil
}

func (p *profileServer) reply() (string, error) {
	if !p.out.Scan() {
		if err := p.out.Err(); err != nil {
			return "", fmt.Errorf("profile: server's process: %w", err)
		}
		return "", errors.New("profile: the server's process ended")
	}
	line := p.out.Text()
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return "", fmt.Errorf("profile: server's process: %s", msg)
	}
	return line, nil
}

// do sends one command and waits for its answer.
func (p *profileServer) do(cmd string) error {
	_, err := p.ask(cmd)
	return err
}

func (p *profileServer) ask(cmd string) (string, error) {
	if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
		return "", fmt.Errorf("profile: server's process: %w", err)
	}
	return p.reply()
}

func (p *profileServer) stats() (profileStats, error) {
	var st profileStats
	line, err := p.ask("stats")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		return st, fmt.Errorf("profile: server's stats %q: %w", line, err)
	}
	return st, nil
}

// quiet waits until the server's store goes quiet (no WAL byte written for
// 400 ms): the lifecycle engine has provisioned what was created.
func (p *profileServer) quiet() error {
	last, err := p.stats()
	if err != nil {
		return err
	}
	for quiet := 0; quiet < 2; {
		time.Sleep(200 * time.Millisecond)
		now, err := p.stats()
		if err != nil {
			return err
		}
		if now.WAL == last.WAL {
			quiet++
		} else {
			quiet = 0
		}
		last = now
	}
	return nil
}

// close ends the server's process (its input closes: it shuts down).
func (p *profileServer) close() {
	p.in.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// profileServe is the server's process: deskplane in this process, its
// address on the first line of standard output, then one answer line per
// command line read from standard input (start, stop: the CPU profile;
// stats: a profileStats in JSON; mem: the memory profile), until it closes.
func profileServe(out, memProfile string, memRate int, store, only string) error {
	if memProfile != "" {
		runtime.MemProfileRate = memRate
	}
	if only == "trivial" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go http.Serve(ln, trivialHandler())
		return profileCommands(ln.Addr().String(), out, memProfile, func() (int64, int64) { return 0, 0 }, func() int64 { return 0 }, func(*profileStats) {})
	}
	dir, err := os.MkdirTemp("", "deskplane-profile")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server logs as deskplane serve does (cmd/deskplane: the request
	// log's lines through logbuf's text handler, written in batches), here
	// into io.Discard: the log line's cost is serve's, not slog's own
	// TextHandler's.
	logw := logbuf.New(io.Discard, logbuf.Interval, logbuf.Limit)
	defer logw.Close()
	log := slog.New(logbuf.NewHandler(logbuf.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}), logw, slog.LevelWarn))
	opts := server.Options{Listen: "127.0.0.1:0", DataDir: dir, Timing: "instant", Clock: "real", Store: store, Log: log}
	// The runtime as serve sets it (its collector and Ps, unless GOGC,
	// GOMEMLIMIT or GOMAXPROCS say otherwise): until session 12 this
	// process ran at Go's default GOGC=100 unless the command line set
	// GOGC, so a describe's CPU per call held about four times serve's
	// collection work (docs/benchmarks.md).
	server.TuneRuntime(opts)
	s, err := server.New(ctx, opts)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	defer s.Shutdown(context.Background())
	type disk interface {
		DiskBytes(context.Context) (int64, error)
	}
	walWritten := func() (main, audit int64) {
		main = walBytes(ctx, s.Deps.Store)
		if s.Deps.AuditStore != s.Deps.Store {
			audit = walBytes(ctx, s.Deps.AuditStore)
		}
		return main, audit
	}
	type writerCounts interface {
		WriterCounts() (groups, updates, syncs uint64)
	}
	counts := func(st *profileStats) {
		if w, ok := s.Deps.Store.(writerCounts); ok {
			st.Groups, st.Updates, st.Syncs = w.WriterCounts()
		}
		if w, ok := s.Deps.Store.(interface{ WALCounts() (uint64, uint64) }); ok {
			st.WALWrites, st.WALSyncs = w.WALCounts()
		}
		if w, ok := s.Deps.Store.(interface {
			TableCounts() (int64, int64, int64, int64)
		}); ok {
			st.Flushes, st.Compactions, st.Flushed, st.Compacted = w.TableCounts()
		}
	}
	diskWritten := func() int64 {
		if d, ok := s.Deps.Store.(disk); ok {
			n, _ := d.DiskBytes(ctx)
			return n
		}
		return 0
	}
	return profileCommands(s.Addr(), out, memProfile, walWritten, diskWritten, counts)
}

// profileCommands answers the profile's parent: the server's address,
// then one answer per command line, until standard input closes.
func profileCommands(addr, out, memProfile string, walWritten func() (int64, int64), diskWritten func() int64, counts func(*profileStats)) error {
	var err error
	w := bufio.NewWriter(os.Stdout)
	answer := func(format string, a ...any) {
		fmt.Fprintf(w, format+"\n", a...)
		w.Flush()
	}
	answer("%s", addr)
	var f *os.File
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "start":
			if f, err = os.Create(out); err == nil {
				err = pprof.StartCPUProfile(f)
			}
		case "stop":
			pprof.StopCPUProfile()
			if f != nil {
				err = f.Close()
			}
		case "stats":
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			st := profileStats{CPU: int64(processCPU()), Faults: pageFaults(), Mallocs: ms.Mallocs, TotalAlloc: ms.TotalAlloc}
			st.WAL, st.AuditWAL = walWritten()
			st.Disk = diskWritten()
			counts(&st)
			b, _ := json.Marshal(st)
			answer("%s", b)
			continue
		case "mem":
			// One heap profile holds both: allocations since the start
			// (alloc_space) and what a collection leaves live (inuse_space).
			runtime.GC()
			var mf *os.File
			if mf, err = os.Create(memProfile); err == nil {
				err = pprof.Lookup("heap").WriteTo(mf, 0)
				if cerr := mf.Close(); err == nil {
					err = cerr
				}
			}
		default:
			err = fmt.Errorf("unknown command %q", in.Text())
		}
		if err != nil {
			answer("error %v", err)
			err = nil
			continue
		}
		answer("ok")
	}
	return in.Err()
}
