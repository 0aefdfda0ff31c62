package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/group"
	"github.com/deskplane/deskplane/internal/store/readcache"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, _ := openTestDir(t)
	return db
}

// openTestDir is openTest, with the store's directory.
func openTestDir(t *testing.T) (*DB, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pebble")
	db, err := Open(t.Context(), dir, Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

// A panic in the writer outside any update function (a bug in the group
// commit) fails that group and the writer goes on with the next one; a
// panicking update function fails only its own update, its writes never
// committed.
func TestWriterSurvivesPanics(t *testing.T) {
	var groups atomic.Int32
	testHookGroup = func(batch []*writeReq) {
		if groups.Add(1) == 1 {
			panic("a bug in the group commit")
		}
	}
	t.Cleanup(func() { testHookGroup = nil })
	db := openTest(t)
	ctx := t.Context()
	put := func(k string) error {
		return db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", k, []byte(k)) })
	}
	if err := put("first"); err == nil || !strings.Contains(err.Error(), "a bug in the group commit") {
		t.Fatalf("Update in the panicking group = %v, want its failure", err)
	}
	if _, err := db.Get(ctx, "t", "first"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed group's write is visible: %v", err)
	}
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "t", "half", []byte("x")); err != nil {
			return err
		}
		panic("a bug in an update")
	})
	if err == nil || !strings.Contains(err.Error(), "a bug in an update") {
		t.Fatalf("panicking Update = %v", err)
	}
	if err := put("second"); err != nil {
		t.Fatalf("the writer stopped after the panics: %v", err)
	}
	if v, err := db.Get(ctx, "t", "second"); err != nil || string(v) != "second" {
		t.Errorf("Get(second) = %q, %v", v, err)
	}
	if _, err := db.Get(ctx, "t", "half"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the panicking update's write is visible: %v", err)
	}
}

// TestWriterCacheWithinAGroup drives one write group by hand (the writer
// goroutine sits idle meanwhile): an update reads what an earlier update of
// its group wrote, never the cached committed value; a failed update's
// writes never reach the cache nor the database; after the group the cache
// holds what the group left, for readers and for the writer's next group.
func TestWriterCacheWithinAGroup(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	put := func(k, v string) func(store.Tx) error {
		return func(tx store.Tx) error { return tx.Put(ctx, "t", k, []byte(v)) }
	}
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := put("a", "old")(tx); err != nil {
			return err
		}
		return put("b", "old")(tx)
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} { // both cached as committed
		if v, err := db.Get(ctx, "t", k); err != nil || string(v) != "old" {
			t.Fatalf("get %s: %q %v", k, v, err)
		}
	}
	errBoom := errors.New("boom")
	var sawA, sawMany, sawB string
	req := func(fn func(store.Tx) error) *writeReq {
		return group.NewReq[*tx](context.Background(), fn)
	}
	batch := []*writeReq{
		req(put("a", "new")),
		req(func(tx store.Tx) error {
			v, err := tx.Get(ctx, "t", "a")
			sawA = string(v)
			if err != nil {
				return err
			}
			m, err := tx.GetMany(ctx, "t", []string{"a", "b"})
			sawMany = string(m["a"]) + "," + string(m["b"])
			return err
		}),
		req(func(tx store.Tx) error { // fails: b stays old
			if err := put("b", "rolled back")(tx); err != nil {
				return err
			}
			return errBoom
		}),
		req(func(tx store.Tx) error { // reads b as committed, not the failed write
			v, err := tx.Get(ctx, "t", "b")
			sawB = string(v)
			return err
		}),
		req(func(tx store.Tx) error { // created, then deleted: not cached
			if err := tx.Create(ctx, "t", "c", []byte("c")); err != nil {
				return err
			}
			return tx.Delete(ctx, "t", "c")
		}),
	}
	db.commitGroup(batch)
	for i, r := range batch {
		if err := <-r.Done; (i == 2) != errors.Is(err, errBoom) || (i != 2 && err != nil) {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if sawA != "new" || sawMany != "new,old" || sawB != "old" {
		t.Fatalf("inside the group: Get a = %q, GetMany a,b = %q, Get b = %q; want new, new,old and old", sawA, sawMany, sawB)
	}
	want := map[string]string{"a": "new", "b": "old"}
	for k, w := range want {
		v, ok, _ := db.cache.Get("t\x00" + k)
		if ok && string(v) != w {
			t.Fatalf("cache holds %s = %q, want %q", k, v, w)
		}
		if got, err := db.Get(ctx, "t", k); err != nil || string(got) != w {
			t.Fatalf("get %s after the group: %q %v", k, got, err)
		}
	}
	if v, ok, _ := db.cache.Get("t\x00a"); !ok || string(v) != "new" {
		t.Fatalf("the committed write of a is not cached: %q %v", v, ok)
	}
	if _, ok, _ := db.cache.Get("t\x00c"); ok {
		t.Fatal("a deleted record is cached")
	}
	if _, err := db.Get(ctx, "t", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get c: %v", err)
	}
	// The database agrees with the cache: read through a snapshot.
	if err := db.View(ctx, func(tx store.Tx) error {
		m, err := tx.GetMany(ctx, "t", []string{"a", "b", "c"})
		if err == nil && (len(m) != 2 || string(m["a"]) != "new" || string(m["b"]) != "old") {
			t.Errorf("the database holds %q", m)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// failSyncFS fails every sync of a WAL file once fail is set.
type failSyncFS struct {
	vfs.FS
	fail *atomic.Bool
}

func (fs failSyncFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return failSyncFile{File: f, fail: fs.fail}, nil
}

func (fs failSyncFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs failSyncFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

type failSyncFile struct {
	vfs.File
	fail *atomic.Bool
}

var errSync = errors.New("injected sync failure")

func (f failSyncFile) Sync() error {
	if f.fail.Load() {
		return errSync
	}
	return f.File.Sync()
}

func (f failSyncFile) SyncData() error {
	if f.fail.Load() {
		return errSync
	}
	return f.File.SyncData()
}

func (f failSyncFile) SyncTo(n int64) (bool, error) {
	if f.fail.Load() {
		return false, errSync
	}
	return f.File.SyncTo(n)
}

// TestSyncFailureBreaksTheStore: when the WAL sync fails, the updates it
// was to make durable fail, and so does every update after it (after a
// failed sync the kernel may have dropped the written pages: nothing more
// is acknowledged).
func TestSyncFailureBreaksTheStore(t *testing.T) {
	var fail atomic.Bool
	testHookFS = func(fs vfs.FS) vfs.FS { return failSyncFS{FS: fs, fail: &fail} }
	t.Cleanup(func() { testHookFS = nil })
	db := openTest(t)
	ctx := t.Context()
	put := func(k string) error {
		return db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", k, []byte(k)) })
	}
	if err := put("before"); err != nil {
		t.Fatalf("update before the failure: %v", err)
	}
	fail.Store(true)
	if err := put("during"); err == nil || !strings.Contains(err.Error(), "sync") {
		t.Fatalf("update whose sync failed = %v, want a sync error", err)
	}
	fail.Store(false)
	if err := put("after"); err == nil {
		t.Fatal("an update after a failed sync was acknowledged")
	}
	if err := db.Update(ctx, func(tx store.Tx) error { return nil }); err == nil {
		t.Fatal("an empty update after a failed sync was acknowledged")
	}
	if v, err := db.Get(ctx, "t", "before"); err != nil || string(v) != "before" {
		t.Errorf("Get(before) = %q, %v", v, err)
	}
}

// CreateMany refuses every key that exists wherever it lives: in a table
// on disk (flushed and compacted), in the memtable, written earlier in the
// same update, or in the read cache; it creates the rest. The keys on disk
// and in the memtable were there when the store opened, so its key filter
// read them from its snapshot at Open (the test waits until it has).
func TestCreateManySeesEveryLevel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pebble")
	db, err := Open(t.Context(), dir, Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	put := func(keys ...string) { // past the store, as a previous run left them
		t.Helper()
		for _, k := range keys {
			if err := db.pdb.Set(recordKey(nil, "d", k), []byte("old "+k), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("k10", "k30", "k50")
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.pdb.Compact(ctx, []byte{recordPrefix}, []byte{recordPrefix + 1}, true); err != nil {
		t.Fatal(err)
	}
	put("k20", "k40") // in the log, so in the memtable once reopened
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, dir, Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	<-db.keysDone
	if db.keys.base.Load() == nil {
		t.Fatal("the key filter did not read the keys at Open")
	}
	if _, err := db.Get(ctx, "d", "k40"); err != nil { // and in the read cache
		t.Fatal(err)
	}
	var existing []string
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "d", "k35", []byte("same update")); err != nil {
			return err
		}
		var err error
		existing, err = tx.CreateMany(ctx, "d", []store.KV{
			{Key: "k60", Value: []byte("new")}, {Key: "k50", Value: []byte("x")}, {Key: "k05", Value: []byte("new")},
			{Key: "k35", Value: []byte("x")}, {Key: "k10", Value: []byte("x")}, {Key: "k40", Value: []byte("x")},
			{Key: "k20", Value: []byte("x")}, {Key: "k45", Value: []byte("new")}, {Key: "k30", Value: []byte("x")},
			{Key: "k05", Value: []byte("second")},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k50", "k35", "k10", "k40", "k20", "k30", "k05"}
	if strings.Join(existing, ",") != strings.Join(want, ",") {
		t.Errorf("CreateMany existing = %v, want %v", existing, want)
	}
	for k, v := range map[string]string{"k05": "new", "k45": "new", "k60": "new", "k10": "old k10", "k20": "old k20", "k35": "same update", "k50": "old k50"} {
		got, err := db.Get(ctx, "d", k)
		if err != nil || string(got) != v {
			t.Errorf("Get(%s) = %q, %v, want %q", k, got, err, v)
		}
	}
}

// The key filter never says absent for a key it was given, through the
// growth of its layers, and says present for few keys it was not given.
func TestKeyFilter(t *testing.T) {
	var l bloomLayers
	const n = 5*firstLayerKeys + 123
	key := func(i int) []byte { return recordKey(nil, "t", fmt.Sprintf("key-%d", i)) }
	for i := range n {
		l.add(maphash.Bytes(filterSeed, key(i)))
	}
	if len(l.layers) < 2 {
		t.Fatalf("%d layers after %d keys, want the filter grown", len(l.layers), n)
	}
	for i := range n {
		if !l.has(maphash.Bytes(filterSeed, key(i))) {
			t.Fatalf("key %d added but not held", i)
		}
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if l.has(maphash.Bytes(filterSeed, key(i))) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.01 {
		t.Errorf("false positives %.4f of absent keys, want under 1%%", rate)
	} else {
		t.Logf("false positives: %d of %d absent keys (%d layers)", fp, n, len(l.layers))
	}
}

// A key written since the store opened is held by the key filter as soon
// as it is written (before its commit), so a Create in the same update or
// a later one is refused; a key the filter was never given is answered
// absent without a lookup.
func TestKeyFilterSeesWritesSinceOpen(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "d", "a", []byte("1")); err != nil {
			return err
		}
		if !db.keys.mayHold(recordKey(nil, "d", "a")) {
			t.Error("a key written in this update is not in the filter")
		}
		if err := tx.Create(ctx, "d", "a", []byte("2")); !errors.Is(err, store.ErrExists) {
			t.Errorf("Create of a key written in the same update = %v, want ErrExists", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.ReadCache().SetMaxEntries(0) // the next write group's entry drops "a" from the cache
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "d", "b", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.ReadCache().Get(readcache.Key("d", "a")); ok {
		t.Fatal("the read cache still holds a")
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(ctx, "d", "a", []byte("3")); !errors.Is(err, store.ErrExists) {
			t.Errorf("Create of a committed key = %v, want ErrExists", err)
		}
		if db.keys.mayHold(recordKey(nil, "d", "never")) {
			t.Log("a false positive for a key never written (rare)")
		}
		return tx.Create(ctx, "d", "never", []byte("new"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A job enqueued in a previous run is in the key filter once the store
// reopened, so enqueueing it again replaces it (its old due time leaves the
// due index) rather than adding a second.
func TestKeyFilterHoldsJobsAtOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pebble")
	ctx := t.Context()
	db, err := Open(ctx, dir, Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_000_000, 0)
	enqueue := func(db *DB, due time.Time) {
		t.Helper()
		err := db.Update(ctx, func(tx store.Tx) error {
			return tx.Enqueue(ctx, store.Job{ID: "job-1", Kind: "k", Due: due})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	enqueue(db, t0)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, dir, Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	<-db.keysDone
	if !db.keys.mayHold(jobKey("job-1")) {
		t.Fatal("the key filter does not hold the job enqueued before the store reopened")
	}
	enqueue(db, t0.Add(time.Hour))
	next, ok, err := db.NextDue(ctx, t0)
	if err != nil || !ok || !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextDue = %v, %v, %v, want the job's new due time %v only", next, ok, err, t0.Add(time.Hour))
	}
	claimed, err := db.Claim(ctx, "owner", t0.Add(time.Minute), time.Minute, 10)
	if err != nil || len(claimed) != 0 {
		t.Errorf("Claim before the new due time = %v, %v, want nothing", claimed, err)
	}
}

// Claim reads the due index from the floor the claims before it found
// (dueFloor), so a job made claimable before that floor must lower it: one
// enqueued with an earlier due time, one released to an earlier time, one
// whose claim expired before the floor. Each is claimed, in due order.
func TestClaimAfterTheDueFloor(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	t0 := time.Unix(1_000_000, 0)
	enqueue := func(id string, due time.Time) {
		t.Helper()
		err := db.Update(ctx, func(tx store.Tx) error {
			return tx.Enqueue(ctx, store.Job{ID: id, Kind: "k", Due: due})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	claim := func(now time.Time, lease time.Duration, want ...string) []store.Claimed {
		t.Helper()
		got, err := db.Claim(ctx, "owner", now, lease, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("Claim at %v = %v, want %v", now.Sub(t0), ids, want)
		}
		return got
	}
	finish := func(id string) {
		t.Helper()
		if err := db.Update(ctx, func(tx store.Tx) error { return tx.FinishJob(ctx, id, "owner") }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		enqueue(fmt.Sprintf("a%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	claim(t0.Add(10*time.Second), time.Hour, "a0", "a1", "a2", "a3", "a4")
	for i := range 5 {
		finish(fmt.Sprintf("a%d", i))
	}
	claim(t0.Add(20*time.Second), time.Hour) // nothing: the floor is past 20 s
	if !db.due.known || db.due.at <= t0.Add(20*time.Second).UnixNano() {
		t.Fatalf("the floor after an empty claim: %+v", db.due)
	}
	// Enqueued due before the floor.
	enqueue("b", t0.Add(5*time.Second))
	claim(t0.Add(30*time.Second), 0, "b") // a lease of 0: its claim expires at once
	// A claim that expired before the floor: b is claimable again at 30 s.
	claim(t0.Add(40*time.Second), time.Hour, "b")
	// Released to a time before the floor.
	if err := db.Release(ctx, "b", "owner", t0.Add(time.Second), "failed"); err != nil {
		t.Fatal(err)
	}
	enqueue("c", t0.Add(2*time.Second))
	claim(t0.Add(50*time.Second), time.Hour, "b", "c")
}

// A flushed table's blocks are compressed with Pebble's fastest
// compression (MinLZ, Snappy on arm64), not its default (Snappy).
func TestTablesCompression(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	v := []byte(strings.Repeat("a desktop record, compressible. ", 30))
	err := db.Update(ctx, func(tx store.Tx) error {
		for i := range 200 {
			if err := tx.Put(ctx, "d", fmt.Sprintf("k%04d", i), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	levels, err := db.pdb.SSTables(pebble.WithProperties())
	if err != nil {
		t.Fatal(err)
	}
	want := "MinLZ" // the stats name each algorithm: "MinLZ1:compressed/raw,…"
	if runtime.GOARCH == "arm64" {
		want = "Snappy"
	}
	n := 0
	for _, tables := range levels {
		for _, tb := range tables {
			n++
			if stats := tb.Properties.CompressionStats; !strings.HasPrefix(stats, want) {
				t.Errorf("table %s: compression %q, %q, want %s", tb.FileNum, tb.Properties.CompressionName, stats, want)
			}
		}
	}
	if n == 0 {
		t.Fatal("no table after a flush")
	}
}

// rawKeys returns the store's keys under prefix, with their values.
func rawKeys(t *testing.T, db *DB, prefix byte) map[string][]byte {
	t.Helper()
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for ok := it.First(); ok; ok = it.Next() {
		out[string(it.Key())] = slices.Clone(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A claim is written apart from its job's record: Claim leaves the record
// (and its payload) as it was and writes the owner and the claim's end
// under the claim key; Release and FinishJob drop the claim key; nothing
// of the job is left once it is finished.
func TestClaimLeavesTheJobRecord(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	t0 := time.Unix(1_000_000, 0)
	payload := bytes.Repeat([]byte("ref,"), 200)
	update := func(fn func(tx store.Tx) error) error { return db.Update(ctx, fn) }
	if err := update(func(tx store.Tx) error {
		return tx.Enqueue(ctx, store.Job{ID: "j1", Kind: "k", Due: t0, Payload: payload})
	}); err != nil {
		t.Fatal(err)
	}
	record := rawKeys(t, db, jobPrefix)[string(jobKey("j1"))]
	claim := func(owner string, now time.Time) {
		t.Helper()
		got, err := db.Claim(ctx, owner, now, time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != "j1" || !bytes.Equal(got[0].Payload, payload) || got[0].Owner != owner {
			t.Fatalf("Claim = %+v, %v, want j1 and its payload for %s", got, err, owner)
		}
	}
	claim("a", t0)
	if got := rawKeys(t, db, jobPrefix)[string(jobKey("j1"))]; !bytes.Equal(got, record) {
		t.Fatalf("Claim rewrote the job's record:\n got %q\nwant %q", got, record)
	}
	claims := rawKeys(t, db, claimPrefix)
	if len(claims) != 1 || len(claims[string(claimKey("j1"))]) > 24 {
		t.Fatalf("claim keys after Claim: %q", claims)
	}
	// Claimed: not claimable again until the claim's end, nor finished by another owner.
	if got, err := db.Claim(ctx, "b", t0.Add(time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("Claim of a claimed job = %+v, %v", got, err)
	}
	if err := update(func(tx store.Tx) error { return tx.FinishJob(ctx, "j1", "b") }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("FinishJob by another owner = %v, want ErrConflict", err)
	}
	if err := db.Release(ctx, "j1", "a", t0.Add(time.Second), "failed"); err != nil {
		t.Fatal(err)
	}
	if claims := rawKeys(t, db, claimPrefix); len(claims) != 0 {
		t.Fatalf("claim keys after Release: %q", claims)
	}
	if jobs, err := db.ListJobs(ctx, "", 10); err != nil || len(jobs) != 1 || jobs[0].Attempts != 1 || jobs[0].LastError != "failed" {
		t.Fatalf("ListJobs after Release = %+v, %v", jobs, err)
	}
	claim("b", t0.Add(2*time.Second))
	if err := update(func(tx store.Tx) error { return tx.FinishJob(ctx, "j1", "b") }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []byte{jobPrefix, claimPrefix, duePrefix} {
		if left := rawKeys(t, db, p); len(left) != 0 {
			t.Errorf("keys under %q after FinishJob: %q", p, left)
		}
	}
}

// A job record claimed by an older version (the owner and the claim's end
// in the record, no claim key) still reads as claimed by it: its owner
// finishes it, another does not, and once its claim has expired a new
// claim (a claim key) takes it over.
func TestOlderClaimedRecordReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pebble")
	ctx := t.Context()
	opts := Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20}
	db, err := Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_000_000, 0)
	until := t0.Add(time.Minute).UnixNano()
	for _, id := range []string{"old1", "old2"} {
		j := &job{kind: "k", due: t0.UnixNano(), payload: []byte("p-" + id), owner: "old", claimUntil: until}
		if err := db.pdb.Set(jobKey(id), j.encode(), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.pdb.Set(dueKey(until, id), nil, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	// And one claimed in a claim key before the store reopened (the key
	// filter must hold the claim keys at Open).
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.Enqueue(ctx, store.Job{ID: "new1", Kind: "k", Due: t0.Add(-time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Claim(ctx, "c", t0.Add(-time.Hour), time.Hour, 1); err != nil || len(got) != 1 {
		t.Fatalf("Claim = %+v, %v", got, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	<-db.keysDone
	finish := func(id, owner string) error {
		return db.Update(ctx, func(tx store.Tx) error { return tx.FinishJob(ctx, id, owner) })
	}
	if err := finish("new1", "c"); err != nil {
		t.Fatalf("FinishJob of a claim made before the store reopened = %v", err)
	}
	if err := finish("old1", "new"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("FinishJob of an older claim by another owner = %v, want ErrConflict", err)
	}
	if err := finish("old1", "old"); err != nil {
		t.Fatalf("FinishJob of an older claim by its owner = %v", err)
	}
	if got, err := db.Claim(ctx, "new", t0.Add(30*time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("Claim before the older claim's end = %+v, %v", got, err)
	}
	got, err := db.Claim(ctx, "new", t0.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != "old2" || string(got[0].Payload) != "p-old2" {
		t.Fatalf("Claim after the older claim's end = %+v, %v", got, err)
	}
	if err := finish("old2", "old"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("FinishJob by the expired owner = %v, want ErrConflict", err)
	}
	if err := finish("old2", "new"); err != nil {
		t.Fatalf("FinishJob by the new owner = %v", err)
	}
	for _, p := range []byte{jobPrefix, claimPrefix, duePrefix} {
		if left := rawKeys(t, db, p); len(left) != 0 {
			t.Errorf("keys under %q after FinishJob: %q", p, left)
		}
	}
}

// TestUncachedCreates: records created under store.Uncached (Create and
// CreateMany) are not put in the read cache, a key the cache held as
// absent is dropped from it (a read finds the record), and the records read
// as written; a record created and then written again in the same update
// is cached as that write.
func TestUncachedCreates(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	// "b" is read before it exists: the cache holds it as absent.
	if _, err := db.Get(ctx, "n", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of b before it exists = %v", err)
	}
	if v, ok, _ := db.ReadCache().Get(readcache.Key("n", "b")); !ok || v != nil {
		t.Fatalf("b not cached as absent: %q %v", v, ok)
	}
	uc := store.Uncached(ctx)
	err := db.Update(ctx, func(tx store.Tx) error {
		existing, err := tx.CreateMany(uc, "n", []store.KV{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("3")}})
		if err != nil || len(existing) != 0 {
			return fmt.Errorf("CreateMany: %v %v", existing, err)
		}
		if err := tx.Create(uc, "n", "d", []byte("4")); err != nil {
			return err
		}
		if v, err := tx.Get(ctx, "n", "b"); err != nil || string(v) != "2" {
			return fmt.Errorf("b in its update: %q %v", v, err)
		}
		return tx.Put(ctx, "n", "c", []byte("5")) // written again: cached as this write
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "d"} {
		if v, ok, _ := db.ReadCache().Get(readcache.Key("n", k)); ok {
			t.Errorf("%s created uncached is in the cache: %q", k, v)
		}
	}
	if v, ok, _ := db.ReadCache().Get(readcache.Key("n", "c")); !ok || string(v) != "5" {
		t.Errorf("c written again is cached as %q %v, want 5", v, ok)
	}
	for k, want := range map[string]string{"a": "1", "b": "2", "c": "5", "d": "4"} {
		if v, err := db.Get(ctx, "n", k); err != nil || string(v) != want {
			t.Errorf("Get %s = %q %v, want %s", k, v, err, want)
		}
	}
	// A creation without the mark caches its record, as before.
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Create(ctx, "n", "e", []byte("6")) }); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := db.ReadCache().Get(readcache.Key("n", "e")); !ok || string(v) != "6" {
		t.Errorf("e created is cached as %q %v, want 6", v, ok)
	}
}

// CreateTables (store.TablesTx) creates a creation marked Uncached as
// CreateMany under store.Uncached does, and the others as cached; a
// context marked Uncached marks them all, as store.CreateTables' general
// path does.
func TestCreateTablesUncached(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	create := func(ctx context.Context, creates []store.TableRecs) {
		t.Helper()
		err := db.Update(ctx, func(tx store.Tx) error {
			existing, err := store.CreateTables(ctx, tx, creates)
			if err != nil {
				return err
			}
			for i, e := range existing {
				if len(e) != 0 {
					return fmt.Errorf("creation %d found %q existing", i, e)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cached := func(table, key string) bool {
		_, ok, _ := db.ReadCache().Get(readcache.Key(table, key))
		return ok
	}
	create(ctx, []store.TableRecs{
		{Table: "a", Recs: []store.KV{{Key: "1", Value: []byte("x")}}},
		{Table: "b", Recs: []store.KV{{Key: "1", Value: []byte("y")}}, Uncached: true},
		{Table: "c"},
	})
	if !cached("a", "1") || cached("b", "1") {
		t.Errorf("cached: a/1 %v (want true), b/1 %v (created uncached, want false)", cached("a", "1"), cached("b", "1"))
	}
	create(store.Uncached(ctx), []store.TableRecs{{Table: "a", Recs: []store.KV{{Key: "2", Value: []byte("x")}}}})
	if cached("a", "2") {
		t.Error("a/2, created under an Uncached context, is in the cache")
	}
	for _, k := range [][2]string{{"a", "1"}, {"b", "1"}, {"a", "2"}} {
		if _, err := db.Get(ctx, k[0], k[1]); err != nil {
			t.Errorf("Get %s/%s: %v", k[0], k[1], err)
		}
	}
}

// TestUncachedCreateAfterDeleteInOneUpdate: a record deleted and created
// again under store.Uncached in one update is not read back as its old
// value from the cache (the update's note of the key is its last write, so
// the delete's must not be lost with it).
func TestUncachedCreateAfterDeleteInOneUpdate(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "n", "x", []byte("old")) }); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := db.ReadCache().Get(readcache.Key("n", "x")); !ok || string(v) != "old" {
		t.Fatalf("x not cached: %q %v", v, ok)
	}
	uc := store.Uncached(ctx)
	for i, create := range []func(tx store.Tx) error{
		func(tx store.Tx) error { return tx.Create(uc, "n", "x", []byte("new")) },
		func(tx store.Tx) error {
			_, err := tx.CreateMany(uc, "n", []store.KV{{Key: "x", Value: []byte("new")}})
			return err
		},
	} {
		if i == 1 {
			if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "n", "x", []byte("old")) }); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Update(ctx, func(tx store.Tx) error {
			if err := tx.Delete(ctx, "n", "x"); err != nil {
				return err
			}
			return create(tx)
		}); err != nil {
			t.Fatal(err)
		}
		if v, err := db.Get(ctx, "n", "x"); err != nil || string(v) != "new" {
			t.Errorf("case %d: Get x = %q %v, want new", i, v, err)
		}
	}
}

// A key created (Create, CreateMany) is held by the key filter as soon as
// it is written, as a Put's is, though the create adds it without checking
// the filter again (addAbsent): a second create of it, in the same update
// or a later one, is refused, and it is counted in the filter once.
func TestKeyFilterHoldsCreatedKeys(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	keys := func() int {
		n := 0
		for _, l := range db.keys.recent.layers {
			n += l.keys
		}
		return n
	}
	before := keys()
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(ctx, "d", "a", []byte("1")); err != nil {
			return err
		}
		if !db.keys.mayHold(recordKey(nil, "d", "a")) {
			t.Error("a key created in this update is not in the filter")
		}
		if err := tx.Create(ctx, "d", "a", []byte("2")); !errors.Is(err, store.ErrExists) {
			t.Errorf("Create of a key created in the same update = %v, want ErrExists", err)
		}
		existing, err := tx.CreateMany(ctx, "d", []store.KV{{Key: "b", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("3")}})
		if err != nil {
			return err
		}
		if !slices.Equal(existing, []string{"b", "a"}) {
			t.Errorf("CreateMany found %q existing, want b (given twice) and a", existing)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := keys() - before; n != 2 {
		t.Errorf("the filter counted %d keys for 2 created", n)
	}
	refusesCreates(t, db, "a", "b")
}

// refusesCreates checks that a Create of each of keys (of table "d"),
// committed before, is refused once the read cache no longer holds them:
// the key filter and the store answer.
func refusesCreates(t *testing.T, db *DB, keys ...string) {
	t.Helper()
	ctx := t.Context()
	db.ReadCache().SetMaxEntries(0) // the next write group's entry drops the keys from the cache
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "d", "c", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	err := db.Update(ctx, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.Create(ctx, "d", k, []byte("4")); !errors.Is(err, store.ErrExists) {
				t.Errorf("Create of committed key %s = %v, want ErrExists", k, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A key an update's GetMany found is written without adding it to the key
// filter again (it is there), but only that key, in the order found: a key
// written between (not found) is added, and a later Create of either is
// refused.
func TestKeyFilterAfterGetMany(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	put := func(k string) {
		if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "d", k, []byte("1")) }); err != nil {
			t.Fatal(err)
		}
	}
	put("a")
	put("b")
	err := db.Update(ctx, func(tx store.Tx) error {
		got, err := tx.GetMany(ctx, "d", []string{"a", "none", "b"})
		if err != nil || len(got) != 2 {
			t.Fatalf("GetMany: %v, %v", got, err)
		}
		for _, k := range []string{"x", "a", "y", "b", "z"} {
			if err := tx.Put(ctx, "d", k, []byte("2")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"x", "y", "z", "none"} {
		if k != "none" && !db.keys.mayHold(recordKey(nil, "d", k)) {
			t.Errorf("%s, written after a GetMany, is not in the key filter", k)
		}
	}
	refusesCreates(t, db, "a", "b", "x", "y", "z")
}

// The writer keeps one list of found keys for its updates: an update
// starts with it empty, at the room an earlier one grew it to, so a
// creation's small reads allocate none; a done update's keys are cleared
// from it.
func TestFoundListKept(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	for _, k := range []string{"a", "b"} {
		if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "d", k, []byte("1")) }); err != nil {
			t.Fatal(err)
		}
	}
	var first *foundKey
	err := db.Update(ctx, func(stx store.Tx) error {
		if _, err := stx.GetMany(ctx, "d", []string{"a", "b"}); err != nil {
			return err
		}
		tx := stx.(*tx)
		if len(tx.found) != 2 {
			t.Fatalf("found %v, want a and b", tx.found)
		}
		first = &tx.found[0]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(db.found) != 0 || cap(db.found) < 2 || db.found[:2][0] != (foundKey{}) {
		t.Errorf("the writer kept %d found keys of room %d (first %v), want none of room 2 or more, cleared", len(db.found), cap(db.found), db.found[:cap(db.found)])
	}
	err = db.Update(ctx, func(stx store.Tx) error {
		tx := stx.(*tx)
		if len(tx.found) != 0 || tx.nextFound != 0 {
			t.Errorf("an update starts with %d found keys (next %d), want none", len(tx.found), tx.nextFound)
		}
		if _, err := stx.GetMany(ctx, "d", []string{"b"}); err != nil {
			return err
		}
		if &tx.found[0] != first {
			t.Error("the second update's found list is a new one, not the writer's")
		}
		return tx.Put(ctx, "d", "b", []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	refusesCreates(t, db, "a", "b")
}

// A full layer of many keys (as a store of 500,000 desktops has) says
// present for as few absent keys as a small one: its probes' steps do not
// repeat its block's bits.
func TestBloomLayerOfManyKeys(t *testing.T) {
	const n = 1 << 20
	b := newBloom(n)
	key := func(i int) uint64 { return maphash.Bytes(filterSeed, recordKey(nil, "t", fmt.Sprintf("key-%d", i))) }
	for i := range n {
		b.add(key(i))
	}
	for i := 0; i < n; i += 97 {
		if !b.has(key(i)) {
			t.Fatalf("key %d added but not held", i)
		}
	}
	fp := 0
	const absent = n / 4
	for i := n; i < n+absent; i++ {
		if b.has(key(i)) {
			fp++
		}
	}
	if rate := float64(fp) / absent; rate > 0.006 {
		t.Errorf("false positives %.4f of absent keys in a full layer of %d keys, want under 0.6%%", rate, n)
	} else {
		t.Logf("false positives: %d of %d absent keys", fp, absent)
	}
}

// DiskBytes is the WAL's bytes and the tables flushed: after one flush it
// exceeds the WAL's bytes by the tables' sizes on disk (not by the WAL's
// bytes again, as a sum over Metrics.Total did).
func TestDiskBytesCountsTheWALOnce(t *testing.T) {
	db, dir := openTestDir(t)
	ctx := t.Context()
	v := bytes.Repeat([]byte("x"), 500)
	for i := range 20 {
		err := db.Update(ctx, func(tx store.Tx) error {
			for j := range 100 {
				if err := tx.Put(ctx, "d", fmt.Sprintf("k%04d", i*100+j), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	wal, _ := db.WALBytes(ctx)
	disk, _ := db.DiskBytes(ctx)
	var tables int64
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".sst") {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			tables += fi.Size()
		}
	}
	if wal < 1_000_000 || tables == 0 || disk != wal+tables {
		t.Fatalf("DiskBytes %d, want the WAL's %d and the tables' %d (%d)", disk, wal, tables, wal+tables)
	}
	// TableCounts: the one flush and its tables' bytes, no compaction.
	flushes, compactions, flushed, compacted := db.TableCounts()
	if flushes != 1 || compactions != 0 || flushed != tables || compacted != 0 {
		t.Fatalf("TableCounts = %d flushes, %d compactions, %d and %d bytes; want 1, 0, %d and 0", flushes, compactions, flushed, compacted, tables)
	}
}

// A flush that holds new keys of a table whose keys are appended (the
// desktops: ordered ids) and keys spread over another table (their names)
// is split before the new appended keys once the base level holds more of
// the older ones than ten flushed tables' target size: no flushed table
// spans the older keys, so compacting level 0 leaves them alone. With
// Pebble's default target (2 MiB) the flush is one table over them all.
func TestFlushLeavesOlderAppendedKeysAlone(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	value := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	put := func(table string, keys []string, size int) {
		t.Helper()
		err := db.Update(ctx, func(tx store.Tx) error {
			for _, k := range keys {
				if err := tx.Put(ctx, table, k, value(size)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	const older = 8000 // 8 MB of incompressible values, over 10 × 512 KiB
	for i := 0; i < older; i += 100 {
		var keys []string
		for j := i; j < i+100; j++ {
			keys = append(keys, fmt.Sprintf("ws-%06d", j))
		}
		put("ws", keys, 1000)
	}
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	var names, newer []string
	for i := range 200 {
		names = append(names, fmt.Sprintf("name-%08x", rng.Uint32()))
		newer = append(newer, fmt.Sprintf("ws-%06d", older+i))
	}
	put("names", names, 20)
	put("ws", newer, 1000)
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	levels, err := db.pdb.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	lastOlder := recordKey(nil, "ws", fmt.Sprintf("ws-%06d", older-1))
	firstNewer := recordKey(nil, "ws", newer[0])
	if len(levels[0]) == 0 {
		t.Fatal("no flushed table in level 0")
	}
	for _, tb := range levels[0] {
		if bytes.Compare(tb.Smallest.UserKey, lastOlder) <= 0 && bytes.Compare(tb.Largest.UserKey, firstNewer) >= 0 {
			t.Fatalf("flushed table %v (%d B) spans %q..%q, over the older keys of the appended table",
				tb.FileNum, tb.Size, tb.Smallest.UserKey, tb.Largest.UserKey)
		}
	}
}

// Open turns Pebble's tombstone-density compactions off (see Open): a
// flushed table of deleted jobs was compacted alone, each time with what
// it spans of the level below.
func TestOpenWithoutTombstoneDensityCompactions(t *testing.T) {
	var got float64
	testHookOptions = func(o *pebble.Options) { got = o.Experimental.TombstoneDenseCompactionThreshold }
	defer func() { testHookOptions = nil }()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "pebble"), Options{CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got >= 0 {
		t.Fatalf("TombstoneDenseCompactionThreshold %v, want it off (0 takes Pebble's default, 0.10)", got)
	}
}

// WriterCounts and WALCounts count what the writer and Pebble's WAL did:
// an Update is one group of one update and one sync, a WAL file write and a
// WAL file sync; a View adds none.
func TestWriterCounts(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	g0, u0, s0 := db.WriterCounts()
	w0, f0 := db.WALCounts()
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "d", "a", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.View(ctx, func(tx store.Tx) error { _, err := tx.Get(ctx, "d", "a"); return err }); err != nil {
		t.Fatal(err)
	}
	g, u, s := db.WriterCounts()
	w, f := db.WALCounts()
	if g-g0 != 1 || u-u0 != 1 || s-s0 != 1 {
		t.Errorf("writer counts after one Update: %d groups, %d updates, %d syncs, want 1 each", g-g0, u-u0, s-s0)
	}
	if w-w0 < 1 || f-f0 < 1 {
		t.Errorf("WAL file counts after one Update: %d writes, %d syncs, want 1 or more each", w-w0, f-f0)
	}
}

// TestCacheKeysOutliveTheGroupKeyBuffer holds the read cache's keys to
// strings of their own: the writer spells its groups' keys in one buffer
// that the next group writes over (DB.wkeys), so a key the cache kept from
// it (a record written, written again, a table first written) would change
// under the cache's map and its record would no longer be found.
func TestCacheKeysOutliveTheGroupKeyBuffer(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	write := func(table string, keys []string, v string) {
		t.Helper()
		if err := db.Update(ctx, func(tx store.Tx) error {
			for _, k := range keys {
				if err := tx.Put(ctx, table, k, []byte(v+k)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var first, other []string
	for i := range 50 {
		first = append(first, fmt.Sprintf("k%03d", i))
		other = append(other, fmt.Sprintf("zz-%d-other", i))
	}
	write("t", first, "v1-")
	write("u", first[:1], "u-")   // table u: first written in this group
	write("t", first[:10], "v2-") // written again: held under the map's key
	for range 3 {                 // groups that write over the buffer
		write("w", other, "x-")
	}
	for i, k := range first {
		want := "v1-" + k
		if i < 10 {
			want = "v2-" + k
		}
		v, ok, _ := db.cache.Get(readcache.Key("t", k))
		if !ok || string(v) != want {
			t.Fatalf("cache %s: %q %v, want %q", k, v, ok, want)
		}
	}
	if n := db.cache.TableVersion("u"); n != 1 {
		t.Fatalf("table u's version %d, want 1", n)
	}
	if n := db.cache.TableVersion("t"); n != 60 { // a count per record written
		t.Fatalf("table t's version %d, want 60", n)
	}
}

// An update's batch is indexed only when the update reads from Pebble
// after it wrote (tx.reader): an update that only writes, or reads before
// it writes, commits an unindexed batch, and a read after a write (a scan,
// a count, a get the read cache cannot answer, a job's claim) sees every
// write before it, those written to the batch before it was indexed and
// after.
func TestUpdateBatchIndexedWhenItReadsItsWrites(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	<-db.keysDone
	if err := db.Update(ctx, func(stx store.Tx) error { return stx.Put(ctx, "n", "old", []byte("0")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(stx store.Tx) error {
		tx := stx.(*tx)
		if _, err := tx.Get(ctx, "n", "absent"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get absent: %v", err)
		}
		if err := tx.Put(ctx, "n", "a", []byte("1")); err != nil {
			return err
		}
		if err := tx.Create(ctx, "n", "b", []byte("2")); err != nil {
			return err
		}
		if tx.indexed {
			t.Error("the batch is indexed before any read after a write")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(stx store.Tx) error {
		tx := stx.(*tx)
		if err := tx.Put(ctx, "n", "c", []byte("3")); err != nil {
			return err
		}
		if err := tx.Delete(ctx, "n", "a"); err != nil {
			return err
		}
		var keys []string
		if err := tx.Scan(ctx, "n", "", "", 0, func(k string, v []byte) error {
			keys = append(keys, k+"="+string(v))
			return nil
		}); err != nil {
			return err
		}
		if got, want := strings.Join(keys, ","), "b=2,c=3,old=0"; got != want {
			t.Errorf("scan after writes: %s, want %s", got, want)
		}
		if !tx.indexed {
			t.Error("the batch is not indexed after a read of its writes")
		}
		if err := tx.Put(ctx, "n", "d", []byte("4")); err != nil { // into the indexed batch
			return err
		}
		if n, err := tx.Count(ctx, "n", ""); err != nil || n != 4 {
			t.Errorf("count after writes: %d %v, want 4", n, err)
		}
		if err := tx.Enqueue(ctx, store.Job{ID: "j1", Kind: "k", Payload: []byte("p"), Due: time.Unix(1, 0)}); err != nil {
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"a": "", "b": "2", "c": "3", "d": "4", "old": "0"} {
		v, err := db.Get(ctx, "n", k)
		if want == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get %s after the delete: %q %v", k, v, err)
			}
			continue
		}
		if err != nil || string(v) != want {
			t.Errorf("Get %s = %q %v, want %s", k, v, err, want)
		}
	}
	claimed, err := db.Claim(ctx, "w", time.Unix(2, 0), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != "j1" {
		t.Errorf("claim the job enqueued after the index: %+v %v", claimed, err)
	}
}

// A writer update's GetMany answers each key as Get does, from the read
// cache's answers for all its keys at once (LookupMany): a cached record,
// a record the cache does not hold (read from Pebble and filled), one the
// update wrote itself (its own write, not the cache's older value), one
// the cache holds as absent, and one the store does not hold.
func TestGetManyAsGets(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	err := db.Update(ctx, func(tx store.Tx) error {
		for _, k := range []string{"a", "b", "c"} {
			if err := tx.Put(ctx, "t", k, []byte("v1 "+k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rc := db.ReadCache()
	rc.Drop(readcache.Key("t", "b")) // b: a miss
	rc.Put(readcache.Key("t", "e"), nil)
	keys := []string{"a", "b", "c", "e", "f", "a"}
	want := map[string][]byte{"a": []byte("v1 a"), "b": []byte("v1 b"), "c": []byte("v2 c")}
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "t", "c", []byte("v2 c")); err != nil {
			return err
		}
		got, err := tx.GetMany(ctx, "t", keys)
		if err != nil {
			return err
		}
		if v, ok, _ := rc.Get(readcache.Key("t", "b")); !ok || string(v) != "v1 b" {
			t.Errorf("the miss of b left %q (%v) in the cache, want its record", v, ok)
		}
		if len(got) != len(want) {
			t.Errorf("GetMany found %d records, want %d: %q", len(got), len(want), got)
		}
		for _, k := range keys {
			v, err := tx.Get(ctx, "t", k)
			if w, ok := want[k]; ok != (err == nil) || string(v) != string(w) || string(got[k]) != string(w) {
				t.Errorf("%s: GetMany %q, Get %q (%v), want %q", k, got[k], v, err, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
