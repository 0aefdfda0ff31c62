// Command nodes measures deskplane's DescribeWorkspaces and CreateWorkspaces
// throughput with 1, 2 and 3 serve nodes sharing one PostgreSQL database,
// against one node on the embedded SQLite store, with one load generator.
//
//	go build -o bin/deskplane ./cmd/deskplane
//	eval "$(scripts/pg-start.sh)"
//	go run ./bench/nodes -bin bin/deskplane -pg "$DESKPLANE_TEST_POSTGRES"
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/jackc/pgx/v5"
)

const (
	akid   = "AKIAIOSFODNN7EXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var (
	bin         = flag.String("bin", "bin/deskplane", "deskplane binary")
	pgDSN       = flag.String("pg", os.Getenv("DESKPLANE_TEST_POSTGRES"), "PostgreSQL DSN (a server where databases may be created)")
	desktops    = flag.Int("desktops", 2000, "desktops to create per configuration")
	warmup      = flag.Int("warmup", 1000, "desktops to create per configuration before measuring (opens the nodes' connections)")
	concurrency = flag.Int("c", 32, "concurrent clients")
	describeFor = flag.Duration("describe", 5*time.Second, "how long to run the DescribeWorkspaces phase")
	pgPID       = flag.Int("pg-pid", 0, "the PostgreSQL postmaster's pid (first line of its postmaster.pid): the CPU its processes use while creating is reported per desktop")
	configs     = flag.String("configs", "sqlite,1,2,3", "configurations to run, in order: sqlite (one node on SQLite) and numbers of nodes on PostgreSQL")
	keepDB      = flag.Bool("keep-db", false, "do not drop a PostgreSQL configuration's database at its end (its name is logged), so pg_stat_database can be read after the nodes' backends have exited")
	drain       = flag.Bool("drain", true, "after the measured creations, wait until the nodes have run every job due by then (the desktops' provisioning) and count its CPU per desktop too; the rate is the creations' own")
	encrypted   = flag.Bool("encrypted", false, "create the desktops with encrypted root and user volumes under one customer managed KMS key per Region (made once per configuration, with the default key policy, as the KMS guide's e2e test does): every creation then makes WorkSpaces' grant on that key, and every provisioning EBS's grants and data keys")
	regions     = flag.Int("regions", 1, "spread the creations over this many Regions (of the default seeded ones), round robin by batch: each Region has its own quota count and subnet allocation")
)

// cpuOf is the CPU time (user and system) the processes pids have used so
// far, from /proc; a process that is gone counts nothing.
func cpuOf(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis; utime and
		// stime are the 14th and 15th of the line.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// pgPIDs lists the postmaster and its children (the backends).
func pgPIDs() []int {
	if *pgPID == 0 {
		return nil
	}
	out := []int{*pgPID}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || bytes.LastIndexByte(b, ')') < 0 {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(f) > 1 && f[1] == strconv.Itoa(*pgPID) {
			out = append(out, pid)
		}
	}
	return out
}

type node struct {
	cmd *exec.Cmd
	url string
}

var listenRe = regexp.MustCompile(`listening on (http://\S+)`)

func start(dataDir string, args ...string) *node {
	cmd := exec.Command(*bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--timing", "instant", "--log-level", "error"}, args...)...)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, out)
			return &node{cmd: cmd, url: m[1]}
		}
	}
	log.Fatal("node did not start")
	return nil
}

func (n *node) stop() { n.cmd.Process.Kill(); n.cmd.Wait() }

// seededRegions are the first Regions deskplane seeds by default
// (config.DefaultRegions).
var seededRegions = []string{"us-east-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}

func cfg(u string, region ...string) aws.Config {
	r := "us-east-1"
	if len(region) > 0 {
		r = region[0]
	}
	return aws.Config{Region: r, Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint: aws.String(u), HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}}}
}

// setup runs the partner guide's setup and returns the directory and bundle.
func setup(ctx context.Context, u, region string) (string, string) {
	ws := workspaces.NewFromConfig(cfg(u, region))
	e := ec2.NewFromConfig(cfg(u, region))
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	_, err := ws.ModifyAccount(ctx, &workspaces.ModifyAccountInput{DedicatedTenancySupport: wstypes.DedicatedTenancySupportEnumEnabled, DedicatedTenancyManagementCidrRange: aws.String("192.168.0.0/16")})
	must(err)
	wait(func() bool {
		a, err := ws.DescribeAccount(ctx, &workspaces.DescribeAccountInput{})
		return err == nil && a.DedicatedTenancySupport == wstypes.DedicatedTenancySupportResultEnumEnabled
	})
	imgs, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"win10-*"}}}})
	must(err)
	imp, err := ws.ImportWorkspaceImage(ctx, &workspaces.ImportWorkspaceImageInput{Ec2ImageId: imgs.Images[0].ImageId,
		IngestionProcess: wstypes.WorkspaceImageIngestionProcessByolRegularByop, ImageName: aws.String("img"), ImageDescription: aws.String("img")})
	must(err)
	wait(func() bool {
		d, err := ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{*imp.ImageId}})
		return err == nil && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
	})
	dirs, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{})
	must(err)
	dir := *dirs.Directories[0].DirectoryId
	_, err = ws.RegisterWorkspaceDirectory(ctx, &workspaces.RegisterWorkspaceDirectoryInput{DirectoryId: &dir, Tenancy: wstypes.TenancyDedicated})
	must(err)
	wait(func() bool {
		d, err := ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{dir}})
		return err == nil && d.Directories[0].State == wstypes.WorkspaceDirectoryStateRegistered
	})
	b, err := ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("b"), BundleDescription: aws.String("b"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeStandard}, ImageId: imp.ImageId,
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("80")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("50")}})
	must(err)
	return dir, *b.WorkspaceBundle.BundleId
}

// volumeKey makes the customer managed key of a Region's encrypted desktops
// (-encrypted) as the KMS guide's e2e test does (TestEncryptedDesktopKMSGuide:
// CreateKey with the default key policy, which lets the account's IAM
// policies allow kms:CreateGrant) and returns its ARN.
func volumeKey(ctx context.Context, u, region string) *string {
	k, err := kms.NewFromConfig(cfg(u, region)).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("WorkSpaces volumes")})
	if err != nil {
		log.Fatalf("CreateKey: %v", err)
	}
	return k.KeyMetadata.Arn
}

func wait(cond func() bool) {
	for i := 0; i < 1200 && !cond(); i++ {
		time.Sleep(25 * time.Millisecond)
	}
}

type result struct {
	name           string
	createPerSec   float64
	readyPerSec    float64       // desktops over the creations' time and the drain's (their provisioning done)
	nodeCPU, pgCPU time.Duration // per desktop created
	describePerSec float64
	p50, p99       time.Duration
}

// drainJobs waits until the database dsn holds no job due by now that is
// not parked (the provisioning the creations scheduled), at most a minute.
func drainJobs(ctx context.Context, dsn string) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	until := time.Now().UnixNano()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE due <= $1 AND NOT parked`, until).Scan(&n); err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	log.Print("drain: jobs still due after a minute")
}

func run(ctx context.Context, name string, urls []string, nodePIDs []int, dsn string) result {
	nr := max(1, min(*regions, len(seededRegions)))
	dirs, bundles, keys := make([]string, nr), make([]string, nr), make([]*string, nr)
	for r := range nr {
		dirs[r], bundles[r] = setup(ctx, urls[0], seededRegions[r])
		if *encrypted {
			keys[r] = volumeKey(ctx, urls[0], seededRegions[r])
		}
	}
	// clients[region][node]
	clients := make([][]*workspaces.Client, nr)
	for r := range nr {
		for _, u := range urls {
			clients[r] = append(clients[r], workspaces.NewFromConfig(cfg(u, seededRegions[r])))
		}
	}
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	// creates makes the batches [from, to) of 25 desktops each.
	creates := func(from, to int) {
		batches := make(chan int, to-from)
		for b := from; b < to; b++ {
			batches <- b
		}
		close(batches)
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					var reqs []wstypes.WorkspaceRequest
					ri := b % nr
					dir, bundle := dirs[ri], bundles[ri]
					for j := 0; j < 25; j++ {
						reqs = append(reqs, wstypes.WorkspaceRequest{DirectoryId: &dir, UserName: aws.String("[UNDEFINED]"), BundleId: &bundle,
							WorkspaceName: aws.String(fmt.Sprintf("d%d-%d", b, j)), WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}})
						if k := keys[ri]; k != nil {
							reqs[j].VolumeEncryptionKey, reqs[j].RootVolumeEncryptionEnabled, reqs[j].UserVolumeEncryptionEnabled = k, aws.Bool(true), aws.Bool(true)
						}
					}
					out, err := clients[ri][(b/nr)%len(urls)].CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
					if err != nil {
						log.Fatalf("create: %v", err)
					}
					if len(out.FailedRequests) > 0 {
						f := out.FailedRequests[0]
						log.Fatalf("create: %d of 25 failed: %s %s", len(out.FailedRequests), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage))
					}
					mu.Lock()
					for _, p := range out.PendingRequests {
						ids = append(ids, *p.WorkspaceId)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	// The warm-up opens the pools' connections (PostgreSQL forks a
	// backend for each) and is not measured.
	warm := *warmup / 25
	creates(0, warm)
	warmIDs := len(ids)
	node0, pg0 := cpuOf(nodePIDs), cpuOf(pgPIDs())
	t0 := time.Now()
	creates(warm, warm+*desktops/25)
	made := len(ids) - warmIDs
	create := float64(made) / time.Since(t0).Seconds()
	var ready float64
	if *drain && dsn != "" {
		t := time.Now()
		drainJobs(ctx, dsn)
		ready = float64(made) / time.Since(t0).Seconds()
		log.Printf("%s: the jobs due drained in %v", name, time.Since(t).Round(time.Millisecond))
	}
	// The backends are listed again: the nodes' pools open connections
	// as the load needs them, and a backend forked during the run used
	// all of its CPU in it.
	nodeCPU, pgCPU := (cpuOf(nodePIDs)-node0)/time.Duration(made), (cpuOf(pgPIDs())-pg0)/time.Duration(made)
	if !strings.Contains(name, "PostgreSQL") {
		pgCPU = 0
	}

	// DescribeWorkspaces by id: one signed request per node, replayed.
	type signed struct {
		url  string
		hdr  http.Header
		body []byte
	}
	var reqs []signed
	for i, u := range urls {
		body := []byte(fmt.Sprintf(`{"WorkspaceIds":[%q]}`, ids[i%len(ids)]))
		r, _ := http.NewRequest(http.MethodPost, u+"/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "WorkspacesService.DescribeWorkspaces")
		sum := sha256.Sum256(body)
		v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "workspaces", "us-east-1", time.Now())
		reqs = append(reqs, signed{u, r.Header, body})
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}
	hc := &http.Client{Transport: tr}
	var n atomic.Int64
	lat := make([][]time.Duration, *concurrency)
	deadline := time.Now().Add(*describeFor)
	t1 := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := reqs[w%len(reqs)]
			for time.Now().Before(deadline) {
				st := time.Now()
				r, _ := http.NewRequest(http.MethodPost, s.url+"/", bytes.NewReader(s.body))
				r.Header = s.hdr.Clone()
				resp, err := hc.Do(r)
				if err != nil {
					log.Fatalf("describe: %v", err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					log.Fatalf("describe: %s", resp.Status)
				}
				lat[w] = append(lat[w], time.Since(st))
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return result{name: name, createPerSec: create, readyPerSec: ready, nodeCPU: nodeCPU, pgCPU: pgCPU, describePerSec: float64(n.Load()) / time.Since(t1).Seconds(),
		p50: all[len(all)/2], p99: all[len(all)*99/100]}
}

func freshDB(dsn string) (string, func()) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	u.Path = "/" + name
	return u.String(), func() {
		if *keepDB {
			log.Printf("-keep-db: database %s kept", name)
		} else {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
		conn.Close(ctx)
	}
}

func main() {
	flag.Parse()
	ctx := context.Background()
	mk := make([]byte, 32)
	rand.Read(mk)
	os.Setenv("DESKPLANE_MASTER_KEY", base64.StdEncoding.EncodeToString(mk))
	var results []result
	dir, _ := os.MkdirTemp("", "bench-nodes")
	defer os.RemoveAll(dir)
	for _, conf := range strings.Split(*configs, ",") {
		if conf == "sqlite" {
			n := start(dir + "/sqlite")
			results = append(results, run(ctx, "1 node, SQLite", []string{n.url}, []int{n.cmd.Process.Pid}, ""))
			n.stop()
			continue
		}
		k, err := strconv.Atoi(conf)
		if err != nil || k < 1 {
			log.Fatalf("-configs: %q is neither sqlite nor a number of nodes", conf)
		}
		if *pgDSN == "" {
			log.Print("no -pg DSN: skipping the PostgreSQL configurations")
			continue
		}
		dsn, drop := freshDB(*pgDSN)
		var nodes []*node
		var urls []string
		var pids []int
		for i := 0; i < k; i++ {
			nd := start(fmt.Sprintf("%s/pg%d-%d", dir, k, i), "--store", dsn)
			nodes = append(nodes, nd)
			urls = append(urls, nd.url)
			pids = append(pids, nd.cmd.Process.Pid)
		}
		results = append(results, run(ctx, fmt.Sprintf("%d node(s), PostgreSQL", k), urls, pids, dsn))
		for _, nd := range nodes {
			nd.stop()
		}
		drop()
	}
	fmt.Printf("| configuration | CreateWorkspaces desktops/s | provisioned too: desktops/s | nodes' CPU per desktop | PostgreSQL's CPU per desktop | DescribeWorkspaces req/s | p50 | p99 |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		pg := "n/a"
		if r.pgCPU > 0 || *pgPID != 0 && strings.Contains(r.name, "PostgreSQL") {
			pg = fmt.Sprintf("%.0f µs", float64(r.pgCPU.Nanoseconds())/1e3)
		}
		ready := "n/a"
		if r.readyPerSec > 0 {
			ready = fmt.Sprintf("%.0f", r.readyPerSec)
		}
		fmt.Printf("| %s | %.0f | %s | %.0f µs | %s | %.0f | %s | %s |\n", r.name, r.createPerSec, ready, float64(r.nodeCPU.Nanoseconds())/1e3, pg,
			r.describePerSec, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	}
}
