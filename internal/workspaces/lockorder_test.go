package workspaces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/store"
)

// orderStore records, for every run of an Update's function (retries
// included), the keys its transaction touched, in the order it first
// touched each: on store/postgres, the order in which it takes their
// locks.
type orderStore struct {
	store.Backend
	mu  sync.Mutex
	txs []orderedTx
}

// orderedTx is what one run of an Update's function touched.
type orderedTx struct {
	keys []string        // "table key", in the order first touched
	excl map[string]bool // the keys it read or wrote not as a shared read (store.SharedReads)
}

func (s *orderStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Backend.Update(ctx, func(tx store.Tx) error {
		ot := &orderTx{Tx: tx, seen: map[string]bool{}, excl: map[string]bool{}}
		err := fn(ot)
		s.mu.Lock()
		s.txs = append(s.txs, orderedTx{ot.keys, ot.excl})
		s.mu.Unlock()
		return err
	})
}

// since returns the transactions recorded from the n-th on.
func (s *orderStore) since(n int) []orderedTx {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.txs[n:])
}

func (s *orderStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.txs)
}

// orderTx notes each key its transaction reads or writes, the first time.
type orderTx struct {
	store.Tx
	seen map[string]bool
	excl map[string]bool
	keys []string
}

func (t *orderTx) note(ctx context.Context, table string, keys ...string) {
	var fresh []string
	shared := store.ReadsShared(ctx)
	for _, k := range keys {
		tk := table + " " + k
		if !shared {
			t.excl[tk] = true
		}
		if !t.seen[tk] {
			t.seen[tk] = true
			fresh = append(fresh, tk)
		}
	}
	slices.Sort(fresh) // one statement takes its keys' locks together
	t.keys = append(t.keys, fresh...)
}

func (t *orderTx) Get(ctx context.Context, table, key string) ([]byte, error) {
	t.note(ctx, table, key)
	return t.Tx.Get(ctx, table, key)
}

func (t *orderTx) GetMany(ctx context.Context, table string, keys []string) (map[string][]byte, error) {
	t.note(ctx, table, keys...)
	return t.Tx.GetMany(ctx, table, keys)
}

func (t *orderTx) Put(ctx context.Context, table, key string, v []byte) error {
	t.note(ctx, table, key)
	return t.Tx.Put(ctx, table, key, v)
}

func (t *orderTx) Create(ctx context.Context, table, key string, v []byte) error {
	t.note(ctx, table, key)
	return t.Tx.Create(ctx, table, key, v)
}

func (t *orderTx) Delete(ctx context.Context, table, key string) error {
	t.note(ctx, table, key)
	return t.Tx.Delete(ctx, table, key)
}

func (t *orderTx) PutMany(ctx context.Context, table string, recs []store.KV) error {
	for _, r := range recs {
		t.note(ctx, table, r.Key)
	}
	return t.Tx.PutMany(ctx, table, recs)
}

func (t *orderTx) CreateMany(ctx context.Context, table string, recs []store.KV) ([]string, error) {
	for _, r := range recs {
		t.note(ctx, table, r.Key)
	}
	return t.Tx.CreateMany(ctx, table, recs)
}

// tSubnetsFake is where storeEC2 keeps its subnets.
const tSubnetsFake = "test_subnets"

// storeEC2 serves subnets from records of the transaction's store, so
// that reading one shows in orderStore.
type storeEC2 struct{ EC2 }

func (storeEC2) Subnet(ctx context.Context, tx store.Tx, account, region, id string) (*Subnet, error) {
	return getSubnetFake(ctx, tx, account, region, id)
}

func (storeEC2) SubnetsByID(ctx context.Context, tx store.Tx, account, region string, ids []string) ([]*Subnet, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = key(account, region, id)
	}
	vals, err := tx.GetMany(ctx, tSubnetsFake, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*Subnet, len(ids))
	for i, k := range keys {
		if b, ok := vals[k]; ok {
			out[i] = new(Subnet)
			if err := json.Unmarshal(b, out[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func getSubnetFake(ctx context.Context, tx store.Tx, account, region, id string) (*Subnet, error) {
	b, err := tx.Get(ctx, tSubnetsFake, key(account, region, id))
	if err != nil {
		return nil, err
	}
	var s Subnet
	return &s, json.Unmarshal(b, &s)
}

// tKeysFake and tGrantsFake are where storeKeys keeps its one key and the
// grants on it.
const tKeysFake, tGrantsFake = "test_kms_keys", "test_kms_grants"

// lockKeyARN is storeKeys' one key.
const lockKeyARN = "arn:aws:kms:" + lockRegion + ":" + lockAcct + ":key/k1"

// storeKeys is KMS with one key whose record every call reads, shared, as
// internal/kms does (checkKey), so that the key's lock shows in orderStore;
// its grants are records too.
type storeKeys struct{}

func (storeKeys) key(ctx context.Context, tx store.Tx, account, region, keyARN string) error {
	if keyARN != lockKeyARN && keyARN != "" {
		return awsproto.Errorf("NotFoundException", "Key '%s' does not exist", keyARN)
	}
	_, err := tx.Get(store.SharedReads(ctx), tKeysFake, key(account, region, "k1"))
	return err
}

func (k storeKeys) ResolveKey(ctx context.Context, tx store.Tx, account, region, keyRef string) (string, error) {
	return lockKeyARN, k.key(ctx, tx, account, region, keyRef)
}

func (k storeKeys) CreateGrant(ctx context.Context, tx store.Tx, g GrantRequest) (string, error) {
	if err := k.key(ctx, tx, g.Account, g.Region, g.KeyARN); err != nil {
		return "", err
	}
	id := newOrderedID("g-")
	return id, tx.Put(ctx, tGrantsFake, key(g.Account, g.Region, "k1/"+id), []byte("{}"))
}

func (k storeKeys) GenerateDataKeyWithoutPlaintext(ctx context.Context, tx store.Tx, account, region, keyARN string, _ map[string]string, _ string) ([]byte, error) {
	return []byte("edk"), k.key(ctx, tx, account, region, keyARN)
}

func (k storeKeys) Decrypt(ctx context.Context, tx store.Tx, account, region, keyARN string, _ []byte, _ map[string]string, _ string) error {
	return k.key(ctx, tx, account, region, keyARN)
}

func (k storeKeys) DecryptVolumeKey(ctx context.Context, tx store.Tx, account, region, keyARN string, _ []byte, _ map[string]string, _ string) ([]byte, error) {
	return make([]byte, 32), k.key(ctx, tx, account, region, keyARN)
}

func (k storeKeys) RetireGrant(ctx context.Context, tx store.Tx, account, region, keyARN, grantID string) error {
	if err := k.key(ctx, tx, account, region, keyARN); err != nil {
		return err
	}
	return tx.Delete(ctx, tGrantsFake, key(account, region, "k1/"+grantID))
}

func (k storeKeys) DescribeKey(ctx context.Context, tx store.Tx, account, region, keyARN, grantID string) error {
	if err := k.key(ctx, tx, account, region, keyARN); err != nil {
		return err
	}
	if _, err := tx.Get(ctx, tGrantsFake, key(account, region, "k1/"+grantID)); errors.Is(err, store.ErrNotFound) {
		return awsproto.Errorf("AccessDeniedException", "the grant %s was retired", grantID)
	} else if err != nil {
		return err
	}
	return nil
}

// allowAll allows every check (safe for concurrent calls).
type allowAll struct{}

func (allowAll) Authorize(context.Context, *gateway.Principal, string, gateway.Check, gateway.Env) (gateway.Decision, error) {
	return gateway.Decision{Allowed: true}, nil
}

// allUsers finds every user, enabled.
type allUsers struct{ imgFakeDirs }

func (allUsers) User(_ context.Context, _ store.Tx, _, _, _, name string) (*DirectoryUser, error) {
	return &DirectoryUser{SAMAccountName: name, SID: "S-1-5-21-" + name, Enabled: true}, nil
}

// lockRank is the place of a key in the order every transaction takes the
// locks of a Region's shared records (see countKey): 1 a KMS key, 2 a
// subnet, 3 the Region's live-desktop count, 4 an address counter; 0 for
// other keys.
func lockRank(tk string) int {
	table, k, _ := strings.Cut(tk, " ")
	switch {
	case table == tKeysFake:
		return 1
	case table == tSubnetsFake:
		return 2
	case table == tIdem && strings.HasSuffix(k, "/count/workspaces"):
		return 3
	case table == tIPAlloc:
		return 4
	}
	return 0
}

// lockEnv is a WorkSpaces module on a store, with one registered
// directory of two subnets, a frozen virtual clock and the instant timing.
type lockEnv struct {
	t       testing.TB
	m       *Module
	gw      *gateway.Gateway
	eng     *lifecycle.Engine
	clk     *clock.Virtual
	bundles []string // public bundles of one tenancy (three at least)
	// the bundle of the desktops create makes (bundles[0] unless set);
	// MigrateWorkspace moves them to bundles[1]
	bundle string
}

const lockAcct, lockRegion, lockDir = config.CustomerAccount, "us-east-1", "d-0123456789"

func newLockEnv(t testing.TB, b store.Backend) *lockEnv {
	t.Helper()
	ctx := context.Background()
	clk, eng, log := testEngine(t, b, time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC), "instant")
	m := New(Options{Config: config.Default(), Store: b, Engine: eng, EC2: storeEC2{}, Directories: allUsers{}, Log: log})
	m.SetKeys(storeKeys{})
	gw := gateway.New(m.svc)
	gw.Clock, gw.Log = clk, log
	gw.Authz = allowAll{}
	e := &lockEnv{t: t, m: m, gw: gw, eng: eng, clk: clk}
	for id, bu := range publicCatalog.bundles {
		if img := publicCatalog.images[bu.ImageID]; img != nil && img.Protocol != "BYOP" && img.RequiredTenancy != "DEDICATED" && bu.State == "AVAILABLE" {
			e.bundles = append(e.bundles, id)
		}
	}
	slices.Sort(e.bundles)
	if len(e.bundles) < 3 {
		t.Fatalf("public bundles: %v; want three", e.bundles)
	}
	e.bundle = e.bundles[0]
	subnets := []string{"subnet-0a", "subnet-0b"}
	err := b.Update(ctx, func(tx store.Tx) error {
		for i, id := range subnets {
			b, _ := json.Marshal(Subnet{SubnetID: id, VPCID: "vpc-1", CIDR: fmt.Sprintf("10.0.%d.0/24", i+1), AZ: lockRegion + "a"})
			if err := tx.Put(ctx, tSubnetsFake, key(lockAcct, lockRegion, id), b); err != nil {
				return err
			}
		}
		if err := tx.Put(ctx, tKeysFake, key(lockAcct, lockRegion, "k1"), []byte("{}")); err != nil {
			return err
		}
		return putRec(ctx, tx, tDirs, key(lockAcct, lockRegion, lockDir), directoryRec{DirectoryID: lockDir, State: "REGISTERED", Tenancy: "SHARED", SubnetIDs: subnets})
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// call runs an operation through the gateway's pipeline.
func (e *lockEnv) call(ctx context.Context, op, input string) (map[string]any, error) {
	p := &gateway.Principal{Type: "IAMUser", Account: lockAcct, ARN: "arn:aws:iam::" + lockAcct + ":user/tester", UserName: "tester"}
	out, err := e.gw.Invoke(ctx, gateway.Invocation{Principal: p, Region: lockRegion}, "workspaces", op, []byte(input))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, input, err)
	}
	b, _ := json.Marshal(out)
	var res map[string]any
	return res, json.Unmarshal(b, &res)
}

// run runs the due lifecycle jobs.
func (e *lockEnv) run() {
	e.t.Helper()
	for range 4 {
		if _, err := e.eng.RunDue(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
}

// create creates a desktop of each user and returns their ids.
func (e *lockEnv) create(ctx context.Context, users ...string) ([]string, error) {
	return e.createWith(ctx, "", users...)
}

// createEncrypted creates a desktop of each user whose volumes are
// encrypted under storeKeys' key.
func (e *lockEnv) createEncrypted(ctx context.Context, users ...string) ([]string, error) {
	return e.createWith(ctx, fmt.Sprintf(`,"RootVolumeEncryptionEnabled":true,"UserVolumeEncryptionEnabled":true,"VolumeEncryptionKey":%q`, lockKeyARN), users...)
}

func (e *lockEnv) createWith(ctx context.Context, extra string, users ...string) ([]string, error) {
	var reqs []string
	for _, u := range users {
		reqs = append(reqs, fmt.Sprintf(`{"DirectoryId":%q,"UserName":%q,"BundleId":%q%s}`, lockDir, u, e.bundle, extra))
	}
	out, err := e.call(ctx, "CreateWorkspaces", `{"Workspaces":[`+strings.Join(reqs, ",")+`]}`)
	if err != nil {
		return nil, err
	}
	var ids []string
	pending, _ := out["PendingRequests"].([]any)
	for _, p := range pending {
		ids = append(ids, p.(map[string]any)["WorkspaceId"].(string))
	}
	if len(ids) != len(users) {
		return nil, fmt.Errorf("CreateWorkspaces: %v", out)
	}
	return ids, nil
}

func (e *lockEnv) migrate(ctx context.Context, id string) error {
	_, err := e.call(ctx, "MigrateWorkspace", fmt.Sprintf(`{"SourceWorkspaceId":%q,"BundleId":%q}`, id, e.bundles[1]))
	return err
}

// TestLockOrder: every transaction of the operations that take more than
// one of a Region's subnets, its live-desktop count and its address
// counters takes them in the one order countKey declares: the subnets, then
// the count, then the counters. Two transactions taking them in opposite
// orders deadlock on store/postgres (broken after deadlock_timeout).
func TestLockOrder(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestStore(t)
	os := &orderStore{Backend: db}
	e := newLockEnv(t, os)
	must := func(ids []string, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	call := func(op, input string) {
		t.Helper()
		if _, err := e.call(ctx, op, input); err != nil {
			t.Fatal(err)
		}
	}

	// Each step and the transactions it ran.
	type step struct {
		name string
		txs  []orderedTx
	}
	var steps []step
	do := func(name string, f func()) {
		t.Helper()
		n := os.len()
		f()
		steps = append(steps, step{name, os.since(n)})
	}
	var ids []string
	do("CreateWorkspaces of 4 desktops (every subnet used)", func() { ids = must(e.create(ctx, "u1", "u2", "u3", "u4")) })
	do("CreateWorkspaces of 1 desktop (fewer than the subnets)", func() { ids = append(ids, must(e.create(ctx, "u5"))...) })
	do("provisioning", e.run)
	e.clk.Advance(time.Hour) // the first user volume snapshots
	do("MigrateWorkspace", func() {
		if err := e.migrate(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
	})
	do("RebuildWorkspaces", func() {
		call("RebuildWorkspaces", fmt.Sprintf(`{"RebuildWorkspaceRequests":[{"WorkspaceId":%q}]}`, ids[1]))
	})
	do("TerminateWorkspaces", func() {
		call("TerminateWorkspaces", fmt.Sprintf(`{"TerminateWorkspaceRequests":[{"WorkspaceId":%q}]}`, ids[2]))
	})
	jobs := func() {
		for range 3 {
			e.clk.Advance(time.Minute)
			e.run()
		}
	}
	do("the jobs: migration, rebuild, termination", jobs)
	// The same of encrypted desktops: their KMS key is taken with the
	// records they act on, before the subnet, the count and the counters.
	var enc []string
	do("CreateWorkspaces of 3 encrypted desktops", func() { enc = must(e.createEncrypted(ctx, "e1", "e2", "e3")) })
	do("provisioning of the encrypted desktops", e.run)
	e.clk.Advance(time.Hour)
	do("MigrateWorkspace of an encrypted desktop", func() {
		if err := e.migrate(ctx, enc[0]); err != nil {
			t.Fatal(err)
		}
	})
	do("RebuildWorkspaces of an encrypted desktop", func() {
		call("RebuildWorkspaces", fmt.Sprintf(`{"RebuildWorkspaceRequests":[{"WorkspaceId":%q}]}`, enc[1]))
	})
	do("TerminateWorkspaces of an encrypted desktop", func() {
		call("TerminateWorkspaces", fmt.Sprintf(`{"TerminateWorkspaceRequests":[{"WorkspaceId":%q}]}`, enc[2]))
	})
	do("the jobs of the encrypted desktops", jobs)

	// Which ranks each step took in one transaction, to show that the
	// test covers what it checks.
	together := map[string]bool{}
	for _, s := range steps {
		for _, tx := range s.txs {
			keys := tx.keys
			var taken []string // the ranked keys, in order
			for _, k := range keys {
				if lockRank(k) > 0 {
					taken = append(taken, k)
				}
			}
			for i := 1; i < len(taken); i++ {
				if lockRank(taken[i]) < lockRank(taken[i-1]) {
					t.Errorf("%s: a transaction takes %s after %s (the order: the KMS key, subnets, the count, the counters); its keys in order:\n  %s",
						s.name, taken[i], taken[i-1], strings.Join(keys, "\n  "))
					break
				}
			}
			var ranks []int
			for _, k := range taken {
				if r := lockRank(k); !slices.Contains(ranks, r) {
					ranks = append(ranks, r)
				}
			}
			slices.Sort(ranks)
			together[s.name+" "+fmt.Sprint(ranks)] = true
		}
	}
	for _, want := range []string{
		"CreateWorkspaces of 4 desktops (every subnet used) [2 3 4]",
		"CreateWorkspaces of 1 desktop (fewer than the subnets) [2 3 4]",
		"MigrateWorkspace [2 3 4]",
		"the jobs: migration, rebuild, termination [2 4]", // the rebuild
		"the jobs: migration, rebuild, termination [3]",   // a termination
		"CreateWorkspaces of 3 encrypted desktops [1 2 3 4]",
		"MigrateWorkspace of an encrypted desktop [1 2 3 4]",
		"the jobs of the encrypted desktops [1 2 4]", // the rebuild
		"the jobs of the encrypted desktops [1 3]",   // the termination
	} {
		if !together[want] {
			t.Errorf("no transaction of %s; seen: %v", want, together)
		}
	}

	// A migration only checks its two bundles, their images and the user
	// index's marker, and a rebuild its bundle, which every creation checks
	// too: they read them shared, so they overlap.
	for _, s := range steps {
		rebuilds := strings.HasPrefix(s.name, "the jobs")
		if !strings.HasPrefix(s.name, "MigrateWorkspace") && !rebuilds {
			continue
		}
		bundles := 0
		for _, tx := range s.txs {
			if rebuilds && !slices.ContainsFunc(tx.keys, func(k string) bool { return lockRank(k) == 4 }) {
				continue // not the rebuild's (it alone takes a counter)
			}
			for _, k := range tx.keys {
				table, rk, _ := strings.Cut(k, " ")
				if table != tBundles && table != tImages && table != tImageShare && table != tImagePerm && rk != userIndexKey(lockAcct, lockRegion) {
					continue
				}
				if table == tBundles {
					bundles++
				}
				if tx.excl[k] {
					t.Errorf("%s: reads %s exclusive; it only checks it (store.SharedReads)", s.name, k)
				}
			}
		}
		if want := map[bool]int{false: 2, true: 1}[rebuilds]; bundles < want {
			t.Errorf("%s: read %d bundle records; want %d", s.name, bundles, want)
		}
	}
}
