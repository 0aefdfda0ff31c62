package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/jackc/pgx/v5"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/server"
	"github.com/deskplane/deskplane/internal/testserver"
)

// freshDatabase creates an empty database on the test PostgreSQL server and
// returns its DSN; it is dropped when the test ends.
func freshDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("DESKPLANE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("DESKPLANE_TEST_POSTGRES is not set; start one with: eval \"$(scripts/pg-start.sh)\"")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "dp_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// mnStatusRecorder counts 5xx answers seen by the clients.
type mnStatusRecorder struct {
	next   http.RoundTripper
	fivexx atomic.Int64
}

func (s *mnStatusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if err == nil && resp.StatusCode >= 500 {
		s.fivexx.Add(1)
	}
	return resp, err
}

// TestThreeNodesOnPostgres runs three serve nodes on one PostgreSQL database,
// spreads 2,000 desktops' create, stop, start and terminate over them, kills
// one node with SIGKILL mid-run, and checks that every acknowledged desktop
// exists exactly once, that no desktop went through a state twice in a row
// (no doubled job), and that no request got a 5xx.
func TestThreeNodesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node test skipped in -short mode")
	}
	dsn := freshDatabase(t)
	mk := make([]byte, 32)
	rand.Read(mk)
	t.Setenv("DESKPLANE_MASTER_KEY", base64.StdEncoding.EncodeToString(mk))
	var nodes []*proc
	for i := 0; i < 3; i++ {
		nodes = append(nodes, startProc(t, t.TempDir(), "--store", dsn, "--timing", "fast"))
	}
	e := setupAt(t, nodes[0].URL)
	rec := &mnStatusRecorder{next: &http.Transport{MaxIdleConnsPerHost: 64}}
	clients := make([]*workspaces.Client, 3)
	for i, n := range nodes {
		cfg := testserver.ConfigFor(n.URL, config.AdminKeyID, config.AdminSecret, "")
		cfg.HTTPClient = &http.Client{Transport: rec}
		clients[i] = workspaces.NewFromConfig(cfg)
	}
	var killed atomic.Bool
	alive := func(i int) bool { return i != 2 || !killed.Load() }
	// call runs f on node i, falling over to the next live node when a node
	// is gone (connection refused is not a 5xx: nothing was acknowledged).
	// failedOver says a node failed without an answer first: a node killed
	// while it served the call may have committed it all the same.
	call := func(i int, f func(c *workspaces.Client) error) (failedOver bool, err error) {
		for k := 0; k < 3; k++ {
			j := (i + k) % 3
			if !alive(j) {
				continue
			}
			if err = f(clients[j]); err == nil || apiCode(err) != "" {
				return failedOver, err
			}
			failedOver = true
		}
		return failedOver, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// The first batches are encrypted: each of their desktops gets exactly
	// one WorkSpaces grant and one EBS grant per volume, however the jobs
	// were spread over the nodes (a job run twice would add grants).
	kmsc := kms.NewFromConfig(testserver.ConfigFor(nodes[0].URL, config.AdminKeyID, config.AdminSecret, ""))
	key, err := kmsc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("multi-node volumes")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	const encryptedBatches = 4
	const total = 2000
	var mu sync.Mutex
	var acked []string
	// lost are the names of desktops a killed node created without
	// answering: the call's retry on another node finds every name of its
	// batch taken (one transaction: all or none of a batch was committed).
	var lost []string
	var wg sync.WaitGroup
	batches := make(chan int, total/25)
	for b := 0; b < total/25; b++ {
		batches <- b
	}
	close(batches)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := range batches {
				var reqs []wstypes.WorkspaceRequest
				for j := 0; j < 25; j++ {
					r := wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"),
						BundleId: aws.String(e.bundleID), WorkspaceName: aws.String(fmt.Sprintf("mn%d-%d", b, j)),
						WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}}
					if b < encryptedBatches {
						r.VolumeEncryptionKey, r.RootVolumeEncryptionEnabled, r.UserVolumeEncryptionEnabled = aws.String(keyARN), aws.Bool(true), aws.Bool(true)
					}
					reqs = append(reqs, r)
				}
				var out *workspaces.CreateWorkspacesOutput
				failedOver, err := call(b%3, func(c *workspaces.Client) error {
					var err error
					out, err = c.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
					return err
				})
				if err != nil {
					t.Errorf("CreateWorkspaces batch %d: %v", b, err)
					continue
				}
				if n := len(out.FailedRequests); n > 0 && (!failedOver || n != len(reqs)) {
					t.Errorf("CreateWorkspaces batch %d: %d of %d failed (failed over: %v), first %s: %s", b, n, len(reqs),
						failedOver, aws.ToString(out.FailedRequests[0].ErrorCode), aws.ToString(out.FailedRequests[0].ErrorMessage))
					continue
				}
				mu.Lock()
				for _, p := range out.PendingRequests {
					acked = append(acked, *p.WorkspaceId)
				}
				for _, f := range out.FailedRequests {
					if code := aws.ToString(f.ErrorCode); code != "ResourceAlreadyExistsException" {
						t.Errorf("CreateWorkspaces batch %d after a fail-over: %s: %s", b, code, aws.ToString(f.ErrorMessage))
					}
					lost = append(lost, aws.ToString(f.WorkspaceRequest.WorkspaceName))
				}
				mu.Unlock()
				if b == total/25/2 && w == 0 {
					killed.Store(true)
					nodes[2].kill() // SIGKILL one node halfway through
				}
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(acked)+len(lost) != total {
		t.Fatalf("%d desktops acknowledged and %d created by the killed node, want %d", len(acked), len(lost), total)
	}
	if len(lost) > 0 {
		t.Logf("%d desktops were created by the killed node without an answer", len(lost))
	}
	// Reads poll through a client with the SDK's standard retryer: under this
	// load a pooled connection occasionally fails in the client ("use of
	// closed network connection") and a retry is what real clients do.
	rcfg := testserver.ConfigFor(nodes[0].URL, config.AdminKeyID, config.AdminSecret, "")
	readTransport := &http.Transport{MaxIdleConnsPerHost: 16}
	rcfg.HTTPClient = &http.Client{Transport: readTransport}
	rcfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 6
			// A retry starts from fresh connections.
			o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(func(error) aws.Ternary {
				readTransport.CloseIdleConnections()
				return aws.UnknownTernary
			}))
		})
	}
	e.ws = workspaces.NewFromConfig(rcfg)
	// Every acknowledged desktop exists exactly once.
	seen := map[string]int{}
	byName := map[string][]string{}
	var token *string
	for {
		out, err := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(e.dirID), NextToken: token})
		if err != nil {
			t.Fatalf("DescribeWorkspaces: %v", err)
		}
		for _, w := range out.Workspaces {
			seen[*w.WorkspaceId]++
			byName[aws.ToString(w.WorkspaceName)] = append(byName[aws.ToString(w.WorkspaceName)], *w.WorkspaceId)
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	for _, id := range acked {
		if seen[id] != 1 {
			t.Fatalf("acknowledged desktop %s listed %d times", id, seen[id])
		}
	}
	if len(seen) != total {
		t.Fatalf("%d desktops listed, want %d", len(seen), total)
	}
	// Every desktop a killed node created without answering exists once,
	// and goes through the phases below with the acknowledged ones.
	created := slices.Clone(acked)
	for _, name := range lost {
		if ids := byName[name]; len(ids) != 1 {
			t.Fatalf("desktop %s, created by the killed node, listed %d times", name, len(ids))
		}
		created = append(created, byName[name][0])
	}
	acked = created
	// Jobs claimed by the killed node resume elsewhere after their lease.
	e.waitAllLong(t, ctx, acked, wstypes.WorkspaceStateAvailable, 3*time.Minute)
	if n, dup := grantCount(t, kmsc, keyARN); n != encryptedBatches*25*3 || dup != "" {
		t.Fatalf("%d grants (duplicate name %q), want exactly %d: one WorkSpaces grant and two EBS grants per encrypted desktop", n, dup, encryptedBatches*25*3)
	}

	// Stop, start and terminate concurrently over the two live nodes.
	phase := func(name string, f func(c *workspaces.Client, ids []string) error, all []string) {
		var wg sync.WaitGroup
		for i := 0; i < len(all); i += 25 {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ids := all[i:min(i+25, len(all))]
				if _, err := call(i/25%2, func(c *workspaces.Client) error { return f(c, ids) }); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}(i)
		}
		wg.Wait()
	}
	phase("stop", func(c *workspaces.Client, ids []string) error {
		var reqs []wstypes.StopRequest
		for _, id := range ids {
			reqs = append(reqs, wstypes.StopRequest{WorkspaceId: aws.String(id)})
		}
		out, err := c.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: reqs})
		if err == nil && len(out.FailedRequests) > 0 {
			err = fmt.Errorf("%s", aws.ToString(out.FailedRequests[0].ErrorMessage))
		}
		return err
	}, acked)
	e.waitAllLong(t, ctx, acked, wstypes.WorkspaceStateStopped, 2*time.Minute)
	phase("start", func(c *workspaces.Client, ids []string) error {
		var reqs []wstypes.StartRequest
		for _, id := range ids {
			reqs = append(reqs, wstypes.StartRequest{WorkspaceId: aws.String(id)})
		}
		out, err := c.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: reqs})
		if err == nil && len(out.FailedRequests) > 0 {
			err = fmt.Errorf("%s", aws.ToString(out.FailedRequests[0].ErrorMessage))
		}
		return err
	}, acked)
	e.waitAllLong(t, ctx, acked, wstypes.WorkspaceStateAvailable, 2*time.Minute)
	// Stop and terminate race for the same desktops on different nodes:
	// every desktop ends TERMINATED, and a losing stop fails with the state
	// error, never a lost update.
	racing := acked[:100]
	var rw sync.WaitGroup
	for i := 0; i < len(racing); i += 25 {
		ids := racing[i : i+25]
		rw.Add(2)
		go func() {
			defer rw.Done()
			var reqs []wstypes.StopRequest
			for _, id := range ids {
				reqs = append(reqs, wstypes.StopRequest{WorkspaceId: aws.String(id)})
			}
			out, err := clients[0].StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: reqs})
			if err != nil {
				t.Errorf("racing stop: %v", err)
				return
			}
			for _, f := range out.FailedRequests {
				if aws.ToString(f.ErrorCode) != "InvalidResourceStateException" {
					t.Errorf("racing stop failed with %s", aws.ToString(f.ErrorCode))
				}
			}
		}()
		go func() {
			defer rw.Done()
			var reqs []wstypes.TerminateRequest
			for _, id := range ids {
				reqs = append(reqs, wstypes.TerminateRequest{WorkspaceId: aws.String(id)})
			}
			out, err := clients[1].TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: reqs})
			if err != nil || len(out.FailedRequests) > 0 {
				t.Errorf("racing terminate: %v %+v", err, out)
			}
		}()
	}
	rw.Wait()
	// A terminated desktop and its history are forgotten 20 s after it
	// terminated (under fast): the histories checked below are read as
	// each desktop is first seen TERMINATED, not after all 2,000 are.
	hist := map[string]string{}
	record := func(id string) {
		if _, ok := hist[id]; !ok {
			hist[id] = history(t, nodes[0], id)
		}
	}
	e.waitAllLong(t, ctx, acked[:100], wstypes.WorkspaceStateTerminated, 2*time.Minute, record)
	rest := acked[100:]
	phase("terminate", func(c *workspaces.Client, ids []string) error {
		var reqs []wstypes.TerminateRequest
		for _, id := range ids {
			reqs = append(reqs, wstypes.TerminateRequest{WorkspaceId: aws.String(id)})
		}
		out, err := c.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: reqs})
		if err == nil && len(out.FailedRequests) > 0 {
			err = fmt.Errorf("%s", aws.ToString(out.FailedRequests[0].ErrorMessage))
		}
		return err
	}, rest)
	e.waitAllLong(t, ctx, acked, wstypes.WorkspaceStateTerminated, 4*time.Minute, func(id string) {
		if slices.Contains(acked[:300], id) {
			record(id)
		}
	})
	if n, _ := grantCount(t, kmsc, keyARN); n != 0 {
		t.Fatalf("%d grants left after every desktop terminated", n)
	}
	if n := rec.fivexx.Load(); n != 0 {
		t.Fatalf("%d requests got a 5xx", n)
	}
	// No doubled transitions: each desktop went exactly through the sequence.
	base := "PENDING AVAILABLE STOPPING STOPPED STARTING AVAILABLE"
	for i, id := range acked[:300] {
		h, seen := hist[id]
		if !seen {
			t.Fatalf("%s was never seen TERMINATED before it was forgotten: no history", id)
		}
		ok := h == base+" TERMINATING TERMINATED"
		if i < 100 { // raced: the stop may have gone first
			ok = ok || h == base+" STOPPING TERMINATING TERMINATED"
		}
		if !ok {
			t.Fatalf("%s went %s", id, h)
		}
	}
}

// grantCount lists a key's grants and reports their number and a grant
// name that occurs twice ("" when none does).
func grantCount(t *testing.T, c *kms.Client, keyARN string) (int, string) {
	t.Helper()
	seen := map[string]bool{}
	dup, n := "", 0
	p := kms.NewListGrantsPaginator(c, &kms.ListGrantsInput{KeyId: aws.String(keyARN)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListGrants: %v", err)
		}
		for _, g := range out.Grants {
			n++
			name := aws.ToString(g.Name)
			if seen[name] {
				dup = name
			}
			seen[name] = true
		}
	}
	return n, dup
}

func history(t *testing.T, p *proc, id string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/_deskplane/history?workspace_id="+id, nil)
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Transitions []struct{ State string } `json:"transitions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("history %s: %s %v", id, resp.Status, err)
	}
	var s []string
	for _, tr := range out.Transitions {
		s = append(s, tr.State)
	}
	return strings.Join(s, " ")
}

// waitAllLong waits up to d for every desktop to be in state want.
// waitAllLong waits until every desktop of ids is in state want; seen, if
// given, is called with each desktop listed in that state, as it is.
func (e *env) waitAllLong(t *testing.T, ctx context.Context, ids []string, want wstypes.WorkspaceState, d time.Duration, seen ...func(id string)) {
	t.Helper()
	left := map[wstypes.WorkspaceState]int{}
	testserver.Eventually(t, d, func() bool {
		st := e.states(t, ctx, ids)
		clear(left)
		for _, id := range ids {
			if st[id] == want {
				for _, f := range seen {
					f(id)
				}
			}
			// A terminated desktop is listed only briefly (20 s under
			// fast), so one no longer listed has been TERMINATED.
			if st[id] != want && (want != wstypes.WorkspaceStateTerminated || st[id] != "") {
				left[st[id]]++
			}
		}
		return len(left) == 0
	}, "desktops never all %s; the others by state: %v", want, stringer(func() string { return fmt.Sprint(left) }))
}

// stringer formats when printed, so a failure message shows the last value.
type stringer func() string

func (s stringer) String() string { return s() }

// TestPostgresNeedsSharedMasterKey: a node on PostgreSQL refuses to start
// without a KMS master key that all nodes share.
func TestPostgresNeedsSharedMasterKey(t *testing.T) {
	dsn := freshDatabase(t)
	t.Setenv("DESKPLANE_MASTER_KEY", "")
	_, err := server.New(context.Background(), server.Options{Store: dsn, DataDir: t.TempDir(), Timing: "instant", Listen: "127.0.0.1:0",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "DESKPLANE_MASTER_KEY") {
		t.Fatalf("start without a shared master key: %v", err)
	}
}
