package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	smithymw "github.com/aws/smithy-go/middleware"
	_ "modernc.org/sqlite" // PRAGMA integrity_check on the killed server's files

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/sdkhttp"
	"github.com/deskplane/deskplane/internal/testserver"
)

// The kill -9 campaign: a mixed workload (desktop creates and power
// operations, KMS keys, encryptions and grants, IAM users, inline policies
// and access keys) runs against the real binary while a node is killed with
// SIGKILL at a random (seeded) moment, round after round. After every kill
// the store's files must pass PRAGMA integrity_check (SQLite), and after the
// restart every change that was acknowledged with a 2xx must be there, every
// desktop must reach the state its last acknowledged operation promised, and
// no desktop's history may show a lifecycle step lost or run twice.
//
// DESKPLANE_CRASH_SEED replays a campaign; DESKPLANE_CRASH_ROUNDS changes the
// number of rounds (default 20).

const crashWorkers = 3

// crashMaxDesktops bounds the desktops the campaign creates (the verification
// of every round reads all of them).
const crashMaxDesktops = 90

// crashDesk is what the workload did to one desktop.
type crashDesk struct {
	owner int
	// attempts counts the operations sent (answered or not); acks those
	// answered with success for this desktop, by operation.
	attempts, acks map[string]int
	// expect is the state the last operation promises: AVAILABLE or
	// STOPPED, or "" when that operation got no answer (either is right).
	expect string
	// unsure is set while an operation that got no answer may still land:
	// on PostgreSQL a killed node's COMMIT, sent before the kill, can run
	// after the worker has moved on, so a later DescribeWorkspaces may see
	// the state before it and the next operation be refused by the state
	// after it. The next answer for the desktop comes after it (its
	// transaction waited for the row the unanswered one had locked).
	unsure bool
	// ops are the power operations sent to this desktop and their answers:
	// the operation, the round and node it went to, the state it was seen
	// in, and what came back (a failure says why expect is what it is).
	ops []string
}

type crashCipher struct {
	key, plain string
	blob       []byte
}

type crashGrant struct{ key, id string }

type crashPolicy struct{ user, name, doc string }

type crashAccessKey struct{ user, id, secret string }

// crashLedger records every call of the workload that got a 2xx answer.
type crashLedger struct {
	mu       sync.Mutex
	desks    map[string]*crashDesk
	order    []string
	keys     []string
	ciphers  []crashCipher
	grants   []crashGrant
	users    []string
	policies []crashPolicy
	akeys    []crashAccessKey
	calls    map[string]int // acknowledged calls by operation
	sent     map[string]int // calls sent by operation
	created  int            // desktops asked for (acknowledged or not)
	// encrypted counts the desktops with encrypted volumes (last verified).
	encrypted int
	// lateRefusals lists the refusals that came after an unanswered
	// operation on the same desktop (crashDesk.unsure), with its history.
	lateRefusals []string
}

func newCrashLedger() *crashLedger {
	return &crashLedger{desks: map[string]*crashDesk{}, calls: map[string]int{}, sent: map[string]int{}}
}

// owned returns the desktops a worker may act on.
func (l *crashLedger) owned(w int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, id := range l.order {
		if l.desks[id].owner == w {
			out = append(out, id)
		}
	}
	return out
}

func (l *crashLedger) addDesk(id string, owner int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.desks[id] == nil {
		l.desks[id] = &crashDesk{owner: owner, attempts: map[string]int{}, acks: map[string]int{}, expect: "AVAILABLE"}
		l.order = append(l.order, id)
	}
}

func (l *crashLedger) count(op string, acked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent[op]++
	if acked {
		l.calls[op]++
	}
}

// crashCluster is the nodes under test: one on an embedded store, three on
// PostgreSQL.
type crashCluster struct {
	t     *testing.T
	nodes []*proc
	dirs  []string
	args  []string
	// sqlite is set when the nodes use the embedded SQLite store (their
	// data dirs are integrity-checked after each kill).
	sqlite bool
}

func (c *crashCluster) restart(i int) {
	c.nodes[i] = startProc(c.t, c.dirs[i], c.args...)
}

// nopConfig is a client configuration whose calls are never retried: a call
// is acknowledged exactly when the one request sent was answered with 2xx.
func nopConfig(url, akid, secret string) aws.Config {
	cfg := testserver.ConfigFor(url, akid, secret, "")
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.HTTPClient = sdkhttp.Client(&http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}})
	return cfg
}

// crashClients are one node's clients.
type crashClients struct {
	ws  *workspaces.Client
	kms *kms.Client
	iam *iam.Client
}

func clientsFor(url string) crashClients {
	cfg := nopConfig(url, config.AdminKeyID, config.AdminSecret)
	return crashClients{ws: workspaces.NewFromConfig(cfg), kms: kms.NewFromConfig(cfg), iam: iam.NewFromConfig(cfg)}
}

// crashSeed returns the campaign's seed (printed, so a failure replays).
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("DESKPLANE_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("DESKPLANE_CRASH_SEED: %v", err)
		}
		return v
	}
	var b [8]byte
	rand.Read(b[:])
	v := uint64(0)
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v >> 1
}

func crashRounds(t *testing.T) int {
	if s := os.Getenv("DESKPLANE_CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("DESKPLANE_CRASH_ROUNDS=%q", s)
		}
		return n
	}
	return 20
}

// TestKillNineCampaign runs the campaign against one node on each embedded
// store: Pebble (serve's default for a new data dir) and SQLite, whose
// files are integrity-checked after every kill.
func TestKillNineCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 campaign skipped in -short mode")
	}
	t.Parallel() // its own servers and data dirs
	for _, kind := range []string{"pebble", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			c := &crashCluster{t: t, dirs: []string{dir}, args: []string{"--timing", "instant", "--clock", "virtual", "--store", kind}, sqlite: kind == "sqlite"}
			c.nodes = []*proc{startProc(t, dir, c.args...)}
			runCampaign(t, c)
		})
	}
}

// TestKillNineCampaignPostgres runs the campaign against three nodes sharing
// one PostgreSQL database, killing one of them each round.
func TestKillNineCampaignPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 campaign skipped in -short mode")
	}
	dsn := freshDatabase(t)
	mk := make([]byte, 32)
	rand.Read(mk)
	t.Setenv("DESKPLANE_MASTER_KEY", base64.StdEncoding.EncodeToString(mk))
	c := &crashCluster{t: t, args: []string{"--store", dsn, "--timing", "instant", "--clock", "virtual"}}
	for i := 0; i < 3; i++ {
		c.dirs = append(c.dirs, t.TempDir())
		c.nodes = append(c.nodes, startProc(t, c.dirs[i], c.args...))
	}
	runCampaign(t, c)
}

// runCampaign prepares the account as the partner guide does, then runs the
// rounds: workload, SIGKILL of one node at a seeded call, integrity check of
// its SQLite files, restart, verification of everything acknowledged so far.
func runCampaign(t *testing.T, c *crashCluster) {
	seed, rounds := crashSeed(t), crashRounds(t)
	t.Logf("kill -9 campaign: seed %d (DESKPLANE_CRASH_SEED=%d replays it), %d rounds, %d node(s)", seed, seed, rounds, len(c.nodes))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	e := setupAt(t, c.nodes[0].URL)
	l := newCrashLedger()
	rng := mrand.New(mrand.NewPCG(seed, 0))
	start := time.Now()
	for r := 0; r < rounds; r++ {
		victim := rng.IntN(len(c.nodes))
		// The kill point: the killAt-th call the workers send, while the
		// other workers' calls and the scheduler's jobs are in flight.
		killAt := int64(5 + rng.IntN(60))
		var sent atomic.Int64
		stop := make(chan struct{})
		var once sync.Once
		kill := func() {
			if sent.Add(1) == killAt {
				once.Do(func() {
					c.nodes[victim].kill()
					close(stop)
				})
			}
		}
		var wg sync.WaitGroup
		for w := 0; w < crashWorkers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				crashWorker(ctx, c, e, l, mrand.New(mrand.NewPCG(seed, uint64(r*crashWorkers+w+1))), r, w, stop, kill)
			}(w)
		}
		wg.Wait()
		if c.sqlite {
			for _, f := range []string{"deskplane.db", "cloudtrail.db"} {
				integrityCheck(t, filepath.Join(c.dirs[victim], f))
			}
		}
		c.restart(victim)
		verifyCampaign(t, ctx, c, e, l, r)
		t.Logf("round %d: node %d killed at call %d; %d desktops (%d encrypted), %d keys, %d ciphertexts, %d grants, %d users, %d policies, %d access keys verified",
			r, victim, killAt, len(l.order), l.encrypted, len(l.keys), len(l.ciphers), len(l.grants), len(l.users), len(l.policies), len(l.akeys))
		if t.Failed() {
			t.FailNow()
		}
	}
	var ops []string
	for op := range l.sent {
		ops = append(ops, fmt.Sprintf("%s %d/%d", op, l.calls[op], l.sent[op]))
	}
	slices.Sort(ops)
	t.Logf("campaign done in %v; acknowledged/sent: %s", time.Since(start).Round(time.Millisecond), strings.Join(ops, ", "))
	for _, r := range l.lateRefusals {
		t.Logf("refused after an operation that got no answer: %s", r)
	}
}

// integrityCheck opens a SQLite file read-only and runs PRAGMA
// integrity_check on it.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check %s: %v", path, err)
	}
	defer rows.Close()
	var res []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("integrity_check %s: %v", path, err)
		}
		res = append(res, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("integrity_check %s: %v", path, err)
	}
	if len(res) != 1 || res[0] != "ok" {
		t.Fatalf("integrity_check %s: %v", path, res)
	}
}

// crashWorker runs random operations until stop is closed. Each worker acts
// only on the desktops it owns, so it knows which operation came last.
func crashWorker(ctx context.Context, c *crashCluster, e *env, l *crashLedger, rng *mrand.Rand, round, w int, stop chan struct{}, kill func()) {
	n := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		n++
		kill()
		node := rng.IntN(len(c.nodes))
		cl := clientsFor(c.nodes[node].URL)
		switch p := rng.IntN(100); {
		case p < 15:
			l.mu.Lock()
			full := l.created >= crashMaxDesktops
			if !full {
				l.created += 2
			}
			l.mu.Unlock()
			if !full {
				crashCreate(ctx, cl, e, l, rng, w, fmt.Sprintf("c%d-%d-%d-", round, w, n))
			}
		case p < 55:
			crashPower(ctx, cl, l, rng, w, fmt.Sprintf("round %d node %d", round, node))
		case p < 75:
			crashKMS(ctx, cl, l, rng)
		default:
			crashIAM(ctx, cl, l, rng, w, fmt.Sprintf("crash-%d-%d-%d", round, w, n))
		}
	}
}

// crashCreate creates two desktops, half of the time with both volumes
// encrypted under one of the campaign's keys (provisioning then creates
// one WorkSpaces grant and two EBS grants per desktop: a job run twice would
// add grants, a lost one would leave them missing).
func crashCreate(ctx context.Context, cl crashClients, e *env, l *crashLedger, rng *mrand.Rand, w int, prefix string) {
	l.mu.Lock()
	key := ""
	if len(l.keys) > 0 && rng.IntN(2) == 0 {
		key = l.keys[rng.IntN(len(l.keys))]
	}
	l.mu.Unlock()
	var reqs []wstypes.WorkspaceRequest
	for j := 0; j < 2; j++ {
		r := wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"),
			BundleId: aws.String(e.bundleID), WorkspaceName: aws.String(fmt.Sprintf("%s%d", prefix, j)),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}}
		if key != "" {
			r.VolumeEncryptionKey, r.RootVolumeEncryptionEnabled, r.UserVolumeEncryptionEnabled = aws.String(key), aws.Bool(true), aws.Bool(true)
		}
		reqs = append(reqs, r)
	}
	out, err := cl.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
	l.count("CreateWorkspaces", err == nil)
	if err != nil {
		return
	}
	for _, p := range out.PendingRequests {
		l.addDesk(aws.ToString(p.WorkspaceId), w)
	}
}

// crashPower sends one power operation (a batch of one to three desktops,
// each committed on its own) to some of the worker's desktops that are in a
// state accepting it.
func crashPower(ctx context.Context, cl crashClients, l *crashLedger, rng *mrand.Rand, w int, where string) {
	ids := l.owned(w)
	if len(ids) == 0 {
		return
	}
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ids = ids[:min(len(ids), 6)]
	d, err := cl.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: ids})
	if err != nil || len(d.Workspaces) == 0 {
		return
	}
	var op string
	switch st := d.Workspaces[0].State; {
	case st == wstypes.WorkspaceStateStopped:
		op = "start"
	case st == wstypes.WorkspaceStateAvailable && rng.IntN(3) == 0:
		op = "reboot"
	case st == wstypes.WorkspaceStateAvailable:
		op = "stop"
	default:
		return
	}
	seen := map[string]wstypes.WorkspaceState{}
	var batch []string
	for _, x := range d.Workspaces {
		if x.State == d.Workspaces[0].State && len(batch) < 1+rng.IntN(3) {
			batch = append(batch, aws.ToString(x.WorkspaceId))
			seen[aws.ToString(x.WorkspaceId)] = x.State
		}
	}
	l.mu.Lock()
	for _, id := range batch {
		l.desks[id].attempts[op]++
		l.desks[id].expect = "" // until the answer says otherwise
	}
	l.mu.Unlock()
	var failed []wstypes.FailedWorkspaceChangeRequest
	var md smithymw.Metadata // the answer's request id, to find it in the server's log
	switch op {
	case "start":
		var reqs []wstypes.StartRequest
		for _, id := range batch {
			reqs = append(reqs, wstypes.StartRequest{WorkspaceId: aws.String(id)})
		}
		var out *workspaces.StartWorkspacesOutput
		if out, err = cl.ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: reqs}); err == nil {
			failed, md = out.FailedRequests, out.ResultMetadata
		}
	case "stop":
		var reqs []wstypes.StopRequest
		for _, id := range batch {
			reqs = append(reqs, wstypes.StopRequest{WorkspaceId: aws.String(id)})
		}
		var out *workspaces.StopWorkspacesOutput
		if out, err = cl.ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: reqs}); err == nil {
			failed, md = out.FailedRequests, out.ResultMetadata
		}
	case "reboot":
		var reqs []wstypes.RebootRequest
		for _, id := range batch {
			reqs = append(reqs, wstypes.RebootRequest{WorkspaceId: aws.String(id)})
		}
		var out *workspaces.RebootWorkspacesOutput
		if out, err = cl.ws.RebootWorkspaces(ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: reqs}); err == nil {
			failed, md = out.FailedRequests, out.ResultMetadata
		}
	}
	refused := failedIDs(failed)
	reasons := map[string]string{}
	for _, f := range failed {
		reasons[aws.ToString(f.WorkspaceId)] = aws.ToString(f.ErrorCode) + ": " + aws.ToString(f.ErrorMessage)
	}
	rid, _ := awsmw.GetRequestIDMetadata(md)
	l.count(op, err == nil)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range batch {
		desk := l.desks[id]
		what := fmt.Sprintf("%s to %s (request %s), seen %s: ", op, where, rid, seen[id])
		switch {
		case err != nil:
			// No answer: each desktop of the batch may or may not have
			// been committed, now or a little later.
			what += fmt.Sprintf("no answer (%v)", err)
			desk.unsure = true
		case refused[id]:
			what += "refused (" + reasons[id] + ")"
			// Refused for this desktop: nothing changed (the state it was
			// seen in is the one to expect again), unless an unanswered
			// operation landed between the DescribeWorkspaces and this
			// one (it is what the refusal saw: either state may follow).
			desk.attempts[op]--
			desk.expect = string(seen[id])
			if desk.unsure {
				desk.expect = ""
				l.lateRefusals = append(l.lateRefusals, id+": "+strings.Join(desk.ops, "; ")+"; "+what)
			}
			desk.unsure = false
		default:
			what += "acknowledged"
			desk.unsure = false
			desk.acks[op]++
			desk.expect = "AVAILABLE"
			if op == "stop" {
				desk.expect = "STOPPED"
			}
		}
		desk.ops = append(desk.ops, what)
	}
}

// failedIDs is the set of desktops a batch reported failed.
func failedIDs(fs []wstypes.FailedWorkspaceChangeRequest) map[string]bool {
	out := map[string]bool{}
	for _, f := range fs {
		out[aws.ToString(f.WorkspaceId)] = true
	}
	return out
}

func crashKMS(ctx context.Context, cl crashClients, l *crashLedger, rng *mrand.Rand) {
	l.mu.Lock()
	keys := slices.Clone(l.keys)
	l.mu.Unlock()
	switch p := rng.IntN(3); {
	case len(keys) == 0 || p == 0:
		out, err := cl.kms.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("crash campaign")})
		l.count("CreateKey", err == nil)
		if err == nil {
			l.mu.Lock()
			l.keys = append(l.keys, aws.ToString(out.KeyMetadata.Arn))
			l.mu.Unlock()
		}
	case p == 1:
		key := keys[rng.IntN(len(keys))]
		plain := fmt.Sprintf("secret %d", rng.Uint64())
		out, err := cl.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte(plain)})
		l.count("Encrypt", err == nil)
		if err == nil {
			l.mu.Lock()
			l.ciphers = append(l.ciphers, crashCipher{key: key, plain: plain, blob: out.CiphertextBlob})
			l.mu.Unlock()
		}
	default:
		key := keys[rng.IntN(len(keys))]
		out, err := cl.kms.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(key),
			GranteePrincipal: aws.String("arn:aws:iam::" + config.CustomerAccount + ":user/admin"),
			Operations:       []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt}})
		l.count("CreateGrant", err == nil)
		if err == nil {
			l.mu.Lock()
			l.grants = append(l.grants, crashGrant{key: key, id: aws.ToString(out.GrantId)})
			l.mu.Unlock()
		}
	}
}

func crashIAM(ctx context.Context, cl crashClients, l *crashLedger, rng *mrand.Rand, w int, name string) {
	l.mu.Lock()
	users := slices.Clone(l.users)
	keysOf := map[string]int{}
	for _, k := range l.akeys {
		keysOf[k.user]++
	}
	l.mu.Unlock()
	switch p := rng.IntN(3); {
	case len(users) == 0 || p == 0:
		_, err := cl.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
		l.count("CreateUser", err == nil)
		if err == nil {
			l.mu.Lock()
			l.users = append(l.users, name)
			l.mu.Unlock()
		}
	case p == 1:
		user := users[rng.IntN(len(users))]
		// Each document allows one action on a resource of its own, so a
		// simulation tells the stored document from any earlier one.
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"workspaces:RebootWorkspaces","Resource":%q}]}`, crashPolicyResource(rng.Uint64()))
		// Each worker writes policies of its own names: its writes of one
		// name are sequential, so the last acknowledged is the one stored.
		pname := fmt.Sprintf("w%d-p%d", w, rng.IntN(3))
		_, err := cl.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(pname), PolicyDocument: aws.String(doc)})
		l.count("PutUserPolicy", err == nil)
		l.mu.Lock()
		defer l.mu.Unlock()
		// A later write of the same policy replaces an earlier one: keep
		// only the last acknowledged document, and forget it when a later
		// write got no answer (either may be stored).
		l.policies = slices.DeleteFunc(l.policies, func(x crashPolicy) bool { return x.user == user && x.name == pname })
		if err == nil {
			l.policies = append(l.policies, crashPolicy{user: user, name: pname, doc: doc})
		}
	default:
		user := users[rng.IntN(len(users))]
		if keysOf[user] >= 1 {
			return // at most two keys per user: leave room for one unacknowledged
		}
		out, err := cl.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		l.count("CreateAccessKey", err == nil)
		if err == nil {
			l.mu.Lock()
			l.akeys = append(l.akeys, crashAccessKey{user: user, id: aws.ToString(out.AccessKey.AccessKeyId), secret: aws.ToString(out.AccessKey.SecretAccessKey)})
			l.mu.Unlock()
		}
	}
}

// verifyCampaign checks, after a restart, every acknowledged change through
// the API, waits for every desktop to settle and checks its history.
func verifyCampaign(t *testing.T, ctx context.Context, c *crashCluster, e *env, l *crashLedger, round int) {
	t.Helper()
	node := c.nodes[round%len(c.nodes)]
	// Reads go through the tests' usual retryer (it sends again a call whose
	// answer the client's own closed connection lost).
	vcfg := testserver.ConfigFor(node.URL, config.AdminKeyID, config.AdminSecret, "")
	cl := crashClients{ws: workspaces.NewFromConfig(vcfg), kms: kms.NewFromConfig(vcfg), iam: iam.NewFromConfig(vcfg)}
	l.mu.Lock()
	defer l.mu.Unlock()

	for _, k := range l.keys {
		out, err := cl.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k)})
		if err != nil || !out.KeyMetadata.Enabled {
			t.Errorf("round %d: acknowledged key %s: %v", round, k, err)
		}
	}
	for _, x := range l.ciphers {
		out, err := cl.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: x.blob})
		if err != nil || string(out.Plaintext) != x.plain || aws.ToString(out.KeyId) != x.key {
			t.Errorf("round %d: acknowledged ciphertext under %s does not decrypt: %v", round, x.key, err)
		}
	}
	grantsOf := map[string]map[string]bool{}
	named := map[string]map[string]int{} // key -> grant name -> grants
	service := map[string][]string{}     // key -> the services' grants
	listGrants := func(key string) {
		grantsOf[key], named[key] = map[string]bool{}, map[string]int{}
		p := kms.NewListGrantsPaginator(cl.kms, &kms.ListGrantsInput{KeyId: aws.String(key)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("round %d: ListGrants %s: %v", round, key, err)
			}
			for _, x := range out.Grants {
				grantsOf[key][aws.ToString(x.GrantId)] = true
				if n := aws.ToString(x.Name); n != "" {
					named[key][n]++
				}
				if strings.HasPrefix(aws.ToString(x.GranteePrincipal), "ebs.") || strings.HasPrefix(aws.ToString(x.GranteePrincipal), "workspaces.") {
					service[key] = append(service[key], aws.ToString(x.GranteePrincipal)+"/"+aws.ToString(x.Name))
				}
			}
		}
	}
	for _, g := range l.grants {
		if grantsOf[g.key] == nil {
			listGrants(g.key)
		}
		if !grantsOf[g.key][g.id] {
			t.Errorf("round %d: acknowledged grant %s on %s is gone", round, g.id, g.key)
		}
	}
	for _, u := range l.users {
		if _, err := cl.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(u)}); err != nil {
			t.Errorf("round %d: acknowledged user %s: %v", round, u, err)
		}
	}
	for _, p := range l.policies {
		var d struct{ Statement []struct{ Resource string } }
		if err := json.Unmarshal([]byte(p.doc), &d); err != nil || len(d.Statement) != 1 {
			t.Fatalf("policy document %s: %v", p.doc, err)
		}
		out, err := cl.iam.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::" + config.CustomerAccount + ":user/" + p.user),
			ActionNames:     []string{"workspaces:RebootWorkspaces"}, ResourceArns: []string{d.Statement[0].Resource}})
		if err != nil || len(out.EvaluationResults) != 1 || out.EvaluationResults[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed {
			t.Errorf("round %d: acknowledged policy %s/%s does not allow what it says: %v %+v", round, p.user, p.name, err, out)
		}
	}
	for _, k := range l.akeys {
		s := sts.NewFromConfig(testserver.ConfigFor(node.URL, k.id, k.secret, ""))
		out, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || !strings.HasSuffix(aws.ToString(out.Arn), ":user/"+k.user) {
			t.Errorf("round %d: acknowledged access key %s of %s does not sign: %v", round, k.id, k.user, err)
		}
	}

	// Every desktop in the directory, acknowledged or not, settles: a
	// create or power change that was committed but not answered still
	// runs to its end. Claims the killed node held expire after the
	// scheduler's lease (10 s on the virtual clock).
	advance(t, node, 11*time.Second)
	var listed map[string]wstypes.WorkspaceState
	var keyOf map[string]string
	deadline := time.Now().Add(30 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond) // poll until settled or the deadline
	defer poll.Stop()
	for {
		listed, keyOf = map[string]wstypes.WorkspaceState{}, map[string]string{}
		var token *string
		for {
			out, err := cl.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(e.dirID), NextToken: token})
			if err != nil {
				t.Fatalf("round %d: DescribeWorkspaces: %v", round, err)
			}
			for _, w := range out.Workspaces {
				listed[aws.ToString(w.WorkspaceId)] = w.State
				if k := aws.ToString(w.VolumeEncryptionKey); k != "" {
					keyOf[aws.ToString(w.WorkspaceId)] = k
				}
			}
			if token = out.NextToken; token == nil {
				break
			}
		}
		settled := true
		for id, st := range listed {
			d := l.desks[id]
			want := st == wstypes.WorkspaceStateAvailable || st == wstypes.WorkspaceStateStopped
			if d != nil && d.expect != "" {
				want = string(st) == d.expect
			}
			settled = settled && want
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			var bad []string
			for id, st := range listed {
				if d := l.desks[id]; d != nil && d.expect != "" && string(st) != d.expect || d == nil && st != wstypes.WorkspaceStateAvailable {
					desc := "not in the ledger"
					if d != nil {
						desc = fmt.Sprintf("expected %q, attempts %v, acks %v, operations: %s", d.expect, d.attempts, d.acks, strings.Join(d.ops, "; "))
					}
					bad = append(bad, fmt.Sprintf("%s %s (%s; %s)", id, st, history(t, node, id), desc))
				}
			}
			t.Fatalf("round %d: desktops never settled: %v", round, bad)
		}
		<-poll.C
	}
	for _, id := range l.order {
		if _, ok := listed[id]; !ok {
			t.Errorf("round %d: acknowledged desktop %s is gone", round, id)
		}
	}
	// Desktops whose create was committed but not answered join the
	// ledger (owned round-robin) and the workload.
	var extra []string
	for id := range listed {
		if l.desks[id] == nil {
			extra = append(extra, id)
		}
	}
	slices.Sort(extra)
	for i, id := range extra {
		l.desks[id] = &crashDesk{owner: i % crashWorkers, attempts: map[string]int{}, acks: map[string]int{}, expect: "AVAILABLE"}
		l.order = append(l.order, id)
	}
	// Each encrypted desktop holds exactly one WorkSpaces grant (named by
	// the desktop) and one EBS grant per volume (named by the volume) on its
	// key: provisioning ran once.
	// (Listed afresh: the grants listed above were read before the
	// desktops settled.)
	perKey := map[string]int{}
	relisted := map[string]bool{}
	for id, k := range keyOf {
		perKey[k]++
		if !relisted[k] {
			listGrants(k)
			relisted[k] = true
		}
		if n := named[k][id]; n != 1 {
			t.Errorf("round %d: encrypted desktop %s has %d WorkSpaces grants on %s", round, id, n, k)
		}
	}
	l.encrypted = len(keyOf)
	for k, n := range perKey {
		total := 0
		for name, c := range named[k] {
			total += c
			if c != 1 {
				t.Errorf("round %d: %d grants named %s on %s", round, c, name, k)
			}
		}
		if total != 3*n {
			var ds []string
			for id, kk := range keyOf {
				if kk == k {
					ds = append(ds, fmt.Sprintf("%s %s (%s)", id, listed[id], history(t, node, id)))
				}
			}
			t.Errorf("round %d: %d named grants on %s for %d encrypted desktops, want %d: grants %v, desktops %v", round, total, k, n, 3*n, service[k], ds)
		}
	}
	for _, id := range l.order {
		d := l.desks[id]
		d.expect = string(listed[id])
		checkCrashHistory(t, round, id, history(t, node, id), d)
	}
}

// crashSteps are the transitions a desktop of the campaign may make.
var crashSteps = map[string]bool{
	"PENDING AVAILABLE": true, "AVAILABLE STOPPING": true, "STOPPING STOPPED": true,
	"STOPPED STARTING": true, "STARTING AVAILABLE": true, "AVAILABLE REBOOTING": true, "REBOOTING AVAILABLE": true,
}

// checkCrashHistory checks a desktop's transitions: it was provisioned once,
// each step is one the model makes, no state repeats, and each kind of
// operation ran at least as often as it was acknowledged and at most as
// often as it was sent.
func checkCrashHistory(t *testing.T, round int, id, h string, d *crashDesk) {
	t.Helper()
	states := strings.Fields(h)
	full := len(states) >= 64 // the history keeps the last 64 transitions
	if len(states) == 0 || (!full && states[0] != "PENDING") {
		t.Errorf("round %d: %s history %q does not start PENDING", round, id, h)
		return
	}
	n := map[string]int{}
	for i, s := range states {
		n[s]++
		if i > 0 && !crashSteps[states[i-1]+" "+s] {
			t.Errorf("round %d: %s made the step %s -> %s: %s", round, id, states[i-1], s, h)
		}
	}
	if full {
		return
	}
	for op, st := range map[string]string{"start": "STARTING", "stop": "STOPPING", "reboot": "REBOOTING"} {
		if n[st] < d.acks[op] || n[st] > d.attempts[op] {
			t.Errorf("round %d: %s went %s %d times; %d %s acknowledged, %d sent: %s", round, id, st, n[st], d.acks[op], op, d.attempts[op], h)
		}
	}
	if n["PENDING"] != 1 {
		t.Errorf("round %d: %s was provisioned %d times: %s", round, id, n["PENDING"], h)
	}
}

// crashPolicyResource is a desktop ARN no desktop has, named by n.
func crashPolicyResource(n uint64) string {
	return fmt.Sprintf("arn:aws:workspaces:us-east-1:%s:workspace/ws-crash%d", config.CustomerAccount, n)
}
