package workspaces

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
)

// BenchmarkCreateAllocs counts what creating a desktop allocates, its
// provisioning included, on the embedded Pebble store: each op is one
// CreateWorkspaces of 25 desktops (bench/peer's create: user-decoupled
// WorkSpaces Core desktops, named, MANUAL, one tag) through the gateway's
// pipeline, then the engine's run of their provisioning job. It reports
// allocs/desktop (testing.AllocsPerRun) and B/desktop (runtime.MemStats
// over the same runs), the figures of bench/peer profile -only create
// without the HTTP server, the CloudTrail writer and the machine's noise.
//
//	go test -run '^$' -bench CreateAllocs -benchtime 400x ./internal/workspaces
func BenchmarkCreateAllocs(b *testing.B) {
	ctx := context.Background()
	e, _ := newCreateEnv(b)
	var bodies [][]byte
	for i := range b.N + 11 {
		bodies = append(bodies, e.body(25, fmt.Sprintf("b%d-", i)))
	}
	n := 0
	op := func() {
		out, err := e.gw.Invoke(ctx, e.inv, "workspaces", "CreateWorkspaces", bodies[n])
		n++
		if err != nil {
			b.Fatal(err)
		}
		if o := out.(*createWorkspacesOut); len(o.FailedRequests) != 0 || len(o.PendingRequests) != 25 {
			b.Fatalf("created %d, refused %d: %+v", len(o.PendingRequests), len(o.FailedRequests), o.FailedRequests)
		}
		if got, err := e.eng.RunDue(ctx); err != nil || got != 1 {
			b.Fatalf("RunDue = %d, %v; want the provisioning job run", got, err)
		}
	}
	for range 10 { // the store's and the caches' first use
		op()
	}
	b.ResetTimer()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	allocs := testing.AllocsPerRun(b.N, op) // b.N runs and one more
	runtime.ReadMemStats(&ms1)
	b.StopTimer()
	b.ReportMetric(allocs/25, "allocs/desktop")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N+1)/25, "B/desktop")
}

// createEnv is a lockEnv on Pebble with bench/peer's setup: a BYOP image
// and bundle, the directory registered DEDICATED.
type createEnv struct {
	*lockEnv
	inv    gateway.Invocation
	bundle string
}

func newCreateEnv(t testing.TB) (*createEnv, *pebble.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := pebble.Open(ctx, t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newLockEnv(t, db)
	const image, bundle = "wsi-bench0001", "wsb-bench0001"
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := putRec(ctx, tx, tImages, key(lockAcct, lockRegion, image), imageRec{ImageID: image, Name: "bench", OwnerAccountID: lockAcct,
			State: "AVAILABLE", RequiredTenancy: "DEDICATED", OperatingSystem: "WINDOWS", OSName: "WINDOWS_10", Protocol: "BYOP"}); err != nil {
			return err
		}
		if err := putRec(ctx, tx, tBundles, key(lockAcct, lockRegion, bundle), bundleRec{BundleID: bundle, Name: "bench", Owner: lockAcct, ImageID: image,
			ComputeType: "PERFORMANCE", RootCapacity: "80", UserCapacity: "50", State: "AVAILABLE", BundleType: "REGULAR"}); err != nil {
			return err
		}
		return putRec(ctx, tx, tDirs, key(lockAcct, lockRegion, lockDir), directoryRec{DirectoryID: lockDir, State: "REGISTERED", Tenancy: "DEDICATED",
			SubnetIDs: []string{"subnet-0a", "subnet-0b"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	inv := gateway.Invocation{Principal: &gateway.Principal{Type: "IAMUser", Account: lockAcct, ARN: "arn:aws:iam::" + lockAcct + ":user/tester", UserName: "tester"}, Region: lockRegion}
	return &createEnv{lockEnv: e, inv: inv, bundle: bundle}, db
}

// body is a CreateWorkspaces request of n desktops named prefix0, prefix1...
func (e *createEnv) body(n int, prefix string) []byte {
	reqs := make([]string, n)
	for j := range reqs {
		reqs[j] = fmt.Sprintf(`{"DirectoryId":%q,"UserName":"[UNDEFINED]","BundleId":%q,"WorkspaceName":"%s%d","WorkspaceProperties":{"RunningMode":"MANUAL"},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}`,
			lockDir, e.bundle, prefix, j)
	}
	return []byte(`{"Workspaces":[` + strings.Join(reqs, ",") + `]}`)
}

// TestCreatedRecordsKeepTheirBytes: the bytes a creation writes for its
// desktops and their names (encoded in buffers shared by the request's
// records, one of them reused from request to request) are not changed by
// the requests after it. The read cache keeps a value as written: a Get of
// the first request's records returns the very arrays written, and they
// must still hold what the records decode from after other creations
// (and, once provisioned, after other provisionings).
func TestCreatedRecordsKeepTheirBytes(t *testing.T) {
	ctx := context.Background()
	e, db := newCreateEnv(t)
	create := func(prefix string) []string {
		out, err := e.gw.Invoke(ctx, e.inv, "workspaces", "CreateWorkspaces", e.body(25, prefix))
		if err != nil {
			t.Fatal(err)
		}
		o := out.(*createWorkspacesOut)
		if len(o.PendingRequests) != 25 {
			t.Fatalf("created %d of 25: %+v", len(o.PendingRequests), o.FailedRequests)
		}
		var keys []string
		for _, w := range o.PendingRequests {
			keys = append(keys, key(lockAcct, lockRegion, w.WorkspaceId))
		}
		return keys
	}
	// held reads the records and names of keys as the store holds them,
	// and a copy of each.
	type held struct{ got, copy []byte }
	read := func(keys []string) []held {
		var hs []held
		for _, k := range keys {
			b, err := db.Get(ctx, tDesktops, k)
			if err != nil {
				t.Fatal(err)
			}
			var w desktopRec
			if err := store.DecodeJSON(b, &w); err != nil {
				t.Fatal(err)
			}
			n, err := db.Get(ctx, tIdem, nameKey(lockAcct, lockRegion, "name", w.WorkspaceName))
			if err != nil {
				t.Fatal(err)
			}
			if string(n) != `"`+w.WorkspaceID+`"` {
				t.Fatalf("name %s holds %s; want %s", w.WorkspaceName, n, w.WorkspaceID)
			}
			hs = append(hs, held{b, bytes.Clone(b)}, held{n, bytes.Clone(n)})
		}
		return hs
	}
	check := func(when string, hs []held) {
		t.Helper()
		for _, h := range hs {
			if !bytes.Equal(h.got, h.copy) {
				t.Fatalf("%s: bytes read before changed:\n%s\nwere\n%s", when, h.got, h.copy)
			}
		}
	}
	keys := create("a")
	first := read(keys)
	create("b")
	check("after another creation", first)
	e.run()
	check("after the provisionings", first)
	after := read(keys)
	create("c")
	e.run()
	check("after another creation and provisioning", after)
}

// TestStrArenaKeepsWhatItHandedOut: the arena's strings keep their bytes
// while it hands out more (past several blocks), desktop ids made in it
// have newDesktopIDs' form, and an address appended is hostAddress's.
func TestStrArenaKeepsWhatItHandedOut(t *testing.T) {
	a := strArena{room: 3 * desktopIDsLen}
	var got, want []string
	for i := range 40 {
		id, root, user, computer := a.desktopIDs()
		if !strings.HasPrefix(id, "ws-") || len(id) != desktopIDLen || computer != computerName(id) ||
			!strings.HasPrefix(root, "vol-") || !strings.HasPrefix(user, "vol-") || len(root) != volIDLen || len(user) != volIDLen || root == user {
			t.Fatalf("ids %q %q %q %q", id, root, user, computer)
		}
		s := a.add([]byte(fmt.Sprintf("s%d", i)))
		got = append(got, id, root, user, computer, s)
		want = append(want, strings.Clone(id), strings.Clone(root), strings.Clone(user), strings.Clone(computer), fmt.Sprintf("s%d", i))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d is %q; was %q", i, got[i], want[i])
		}
	}
	for _, p := range []string{"10.0.1.0/24", "10.0.0.0/16", "192.168.7.8/30", "10.1.2.0/28"} {
		pfx := netip.MustParsePrefix(p)
		for n := range 300 {
			if got, want := string(appendHostAddress([]byte("x"), pfx, n)), "x"+hostAddress(pfx, n); got != want {
				t.Fatalf("appendHostAddress(%s, %d) = %q; want %q", p, n, got, want)
			}
		}
	}
}

// TestTimersAtHandsOutTimesOfTheirOwn: a provisioning batch's instants
// (timers.at) are each a time of its own holding the instant asked for,
// past the batch's room too, and unchanged by those handed out after it.
func TestTimersAtHandsOutTimesOfTheirOwn(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tm := range []*timers{nil, {}, {room: 3}} {
		var got []*time.Time
		for i := range 10 {
			p := tm.at(start.Add(time.Duration(i) * time.Second))
			for _, q := range got {
				if p == q {
					t.Fatalf("room %v: instant %d shares a time handed out before", tm, i)
				}
			}
			got = append(got, p)
		}
		for i, p := range got {
			if want := start.Add(time.Duration(i) * time.Second); !p.Equal(want) {
				t.Fatalf("room %v: instant %d is %v; want %v", tm, i, p, want)
			}
		}
	}
}

// TestSharedRecFollowsItsBytes: the directory, bundle and image a creation
// reads decoded once per version (sharedRec) are what getRec reads, after
// each change of the record too, and a record gone reads as none; a
// creation after its bundle was changed sees the change.
func TestSharedRecFollowsItsBytes(t *testing.T) {
	ctx := context.Background()
	e, db := newCreateEnv(t)
	k := key(lockAcct, lockRegion, e.bundle)
	read := func() (*bundleRec, *bundleRec) {
		var shared, plain *bundleRec
		err := db.Update(ctx, func(tx store.Tx) error {
			var err error
			if shared, err = sharedRec(ctx, tx, e.m.bundlesDecoded, tBundles, k); err != nil {
				return err
			}
			plain, err = getRec[bundleRec](ctx, tx, tBundles, k)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(shared, plain) {
			t.Fatalf("sharedRec read %+v; getRec %+v", shared, plain)
		}
		return shared, plain
	}
	first, _ := read()
	if again, _ := read(); again != first {
		t.Fatal("the same bytes were decoded again")
	}
	for _, state := range []string{"PENDING", "AVAILABLE", "ERROR"} {
		b := *first
		b.State = state
		if err := db.Update(ctx, func(tx store.Tx) error { return putRec(ctx, tx, tBundles, k, b) }); err != nil {
			t.Fatal(err)
		}
		if got, _ := read(); got.State != state {
			t.Fatalf("read state %s after it was changed to %s", got.State, state)
		}
	}
	out, err := e.gw.Invoke(ctx, e.inv, "workspaces", "CreateWorkspaces", e.body(2, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if o := out.(*createWorkspacesOut); len(o.FailedRequests) != 2 || o.FailedRequests[0].ErrorCode != "InvalidResourceStateException" {
		t.Fatalf("created from a bundle in ERROR: %+v", o)
	}
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, tBundles, k) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(); got != nil {
		t.Fatalf("read %+v after the record was deleted", got)
	}
}

// TestPlanSubnetsAsBefore: planSubnets lists what its earlier form (a map
// of desktops per directory) listed, over random plans of up to six
// directories sharing subnets, some desktops refused, some directories
// not read.
func TestPlanSubnetsAsBefore(t *testing.T) {
	before := func(p *createPlan) (all, sure []string) {
		n := map[string]int{}
		for _, it := range p.items {
			if it.tagsErr == nil && it.err == nil && it.w != nil {
				n[it.w.DirectoryID]++
			}
		}
		for id, k := range n {
			d := p.rc.dirs[id]
			if d == nil {
				continue
			}
			for _, s := range d.SubnetIDs {
				if !slices.Contains(all, s) {
					all = append(all, s)
				}
				if k >= len(d.SubnetIDs) && !slices.Contains(sure, s) {
					sure = append(sure, s)
				}
			}
		}
		slices.Sort(all)
		slices.Sort(sure)
		return all, sure
	}
	rng := rand.New(rand.NewPCG(3, 19))
	for range 2000 {
		p := &createPlan{rc: &createCache{dirs: map[string]*directoryRec{}}}
		dirs := 1 + rng.IntN(6)
		for d := range dirs {
			if rng.IntN(8) == 0 {
				continue // not read
			}
			var subnets []string
			for range 1 + rng.IntN(3) {
				subnets = append(subnets, fmt.Sprintf("subnet-%d", rng.IntN(6)))
			}
			p.rc.dirs[fmt.Sprintf("d-%d", d)] = &directoryRec{SubnetIDs: subnets}
		}
		for range rng.IntN(26) {
			it := plannedDesktop{w: &desktopRec{DirectoryID: fmt.Sprintf("d-%d", rng.IntN(dirs))}}
			switch rng.IntN(6) {
			case 0:
				it.err = errors.New("refused")
			case 1:
				it.tagsErr = errors.New("refused")
			case 2:
				it.w = nil
			}
			p.items = append(p.items, it)
		}
		all, sure := p.planSubnets()
		wantAll, wantSure := before(p)
		if !slices.Equal(all, wantAll) || !slices.Equal(sure, wantSure) || (sure == nil) != (wantSure == nil) || (all == nil) != (wantAll == nil) {
			t.Fatalf("planSubnets = %q, %q; before %q, %q", all, sure, wantAll, wantSure)
		}
	}
}

// TestPutIntAsPutRec: putInt writes the bytes putRec writes for an int
// (the live-desktop count, the subnets' address counters).
func TestPutIntAsPutRec(t *testing.T) {
	ctx := context.Background()
	db, update := openTestStore(t)
	for _, n := range []int{0, 1, 9, 10, 255, 256, 4096, 123456789, -1, -300, math.MaxInt, math.MinInt} {
		update(func(tx store.Tx) error {
			if err := putRec(ctx, tx, tIdem, "a", n); err != nil {
				return err
			}
			return putInt(ctx, tx, tIdem, "b", n)
		})
		a, errA := db.Get(ctx, tIdem, "a")
		b, errB := db.Get(ctx, tIdem, "b")
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("%d: putRec wrote %q (%v), putInt %q (%v)", n, a, errA, b, errB)
		}
	}
}

// TestCheckTagsAsResourceTags: the tags CreateWorkspaces' checks read of
// its directory and bundle (checkTags, from the records decoded once per
// version) are resourceTags', as their tags are set, changed and removed
// and the records deleted, for a bundle not stored, and for an id of
// another kind.
func TestCheckTagsAsResourceTags(t *testing.T) {
	ctx := context.Background()
	e, db := newCreateEnv(t)
	same := func(step, id string) {
		t.Helper()
		got, gerr := e.m.checkTags(ctx, lockAcct, lockRegion, id)
		want, werr := e.m.resourceTags(ctx, lockAcct, lockRegion, id)
		if gerr != nil || werr != nil || !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("%s, %s: checkTags %#v, %v; resourceTags %#v, %v", step, id, got, gerr, want, werr)
		}
	}
	dk, bk := key(lockAcct, lockRegion, lockDir), key(lockAcct, lockRegion, e.bundle)
	retag := func(tags Tags) {
		t.Helper()
		err := db.Update(ctx, func(tx store.Tx) error {
			d, err := getRec[directoryRec](ctx, tx, tDirs, dk)
			if err != nil {
				return err
			}
			b, err := getRec[bundleRec](ctx, tx, tBundles, bk)
			if err != nil {
				return err
			}
			d.Tags, b.Tags = tags, maps.Clone(tags)
			if tags != nil {
				b.Tags["bundle"] = "yes"
			}
			if err := putRec(ctx, tx, tDirs, dk, *d); err != nil {
				return err
			}
			return putRec(ctx, tx, tBundles, bk, *b)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, tags := range []Tags{nil, {"team": "a"}, {"team": "b", "empty": ""}, {}, nil} {
		retag(tags)
		for range 2 { // read, then read again from the decoded record
			same(fmt.Sprintf("tags %d", i), lockDir)
			same(fmt.Sprintf("tags %d", i), e.bundle)
		}
	}
	same("public bundle", "wsb-clj85qzj1")
	same("another kind", "ws-notthere1")
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(ctx, tDirs, dk); err != nil {
			return err
		}
		return tx.Delete(ctx, tBundles, bk)
	}); err != nil {
		t.Fatal(err)
	}
	same("deleted", lockDir)
	same("deleted", e.bundle)
}
