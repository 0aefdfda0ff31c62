// Package pebble is an embedded store backend on Pebble
// (github.com/cockroachdb/pebble/v2), CockroachDB's log-structured
// key-value engine. Records live under a key of their table and key, jobs
// as one record each plus an index by the time each is next claimable.
//
// It keeps the embedded SQLite backend's semantics: one writer goroutine
// runs update functions one at a time, each in its own batch
// committed without a sync when it succeeds (a failing function leaves
// nothing written); a flusher makes the writer's committed groups durable
// with one sync of Pebble's write-ahead log and only then answers their
// callers, so every acknowledged update survives kill -9 and power loss.
// A failed sync breaks the store: nothing more is acknowledged. Reads
// outside a transaction (Get, ScanCommitted) go through the shared read
// cache (store/readcache); View reads one Pebble snapshot.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/group"
	"github.com/deskplane/deskplane/internal/store/readcache"
)

// Options size the store's memory. Zero fields take the defaults.
type Options struct {
	// CacheBytes is Pebble's block cache (default 256 MiB: at 100,000
	// desktops a 64 MiB cache missed the tables' index blocks on every
	// create's check that its keys are new, a third of the create's CPU;
	// docs/benchmarks.md).
	CacheBytes int64
	// MemTableBytes is the size of one memtable (default 8 MiB); at most
	// four are held (the one written and three being flushed). Pebble
	// reuses the memory of one flushed memtable for the next, and a
	// memtable's first write to each page of fresh memory costs a page
	// fault: at 32 MiB, memtables were flushed too slowly for the reuse to
	// take and every byte a create wrote faulted a fresh page (on this VM
	// most of the memtable insert's CPU; docs/benchmarks.md, session 6).
	MemTableBytes uint64
	// ReadCacheEntries and ReadCacheBytes bound the read cache of
	// committed records (default 100,000 and 64 MiB).
	ReadCacheEntries, ReadCacheBytes int
}

func (o Options) withDefaults() Options {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 256 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 8 << 20
	}
	if o.ReadCacheEntries <= 0 {
		o.ReadCacheEntries = 100000
	}
	if o.ReadCacheBytes <= 0 {
		o.ReadCacheBytes = 64 << 20
	}
	return o
}

// DB is the Pebble backend.
type DB struct {
	pdb       *pebble.DB
	cache     *readcache.Cache     // records read by Get, updated by every write group
	committed *readcache.Committed // ScanCommitted's key listings
	lock      *os.File             // one process per store

	queue   *group.Queue[*tx]
	flushes chan []*writeReq // committed groups waiting for their sync
	stopped chan struct{}    // the writer ended
	flDone  chan struct{}    // the flusher ended

	closeOnce sync.Once
	closeErr  error

	// commits counts the batches the writer committed; the flusher syncs
	// only when it passed synced (a group of reads needs no sync of its
	// own: what it read was committed by a group synced before it).
	commits atomic.Uint64
	synced  uint64 // flusher only

	// groups, updates and syncs count the writer's groups, the updates it
	// ran in them and the flusher's syncs of the WAL (WriterCounts).
	groups, updates, syncs atomic.Uint64
	wal                    *walCounts // the WAL files' writes and syncs

	broken group.Broken // a failed sync: nothing more is acknowledged

	observe atomic.Pointer[func(time.Duration)] // ObserveCommits

	dirty map[string]bool // the writer's keys written by its group (commitGroup)
	// wkeys spells the read cache keys of the writer's group's writes
	// (tx.wrote): the written maps' and dirty's keys are strings into it,
	// borrowed until the cache took what the group wrote
	// (readcache's Update of borrowed keys copies what it keeps) and the maps were
	// emptied; the next group writes over them. A key that does not fit
	// goes into a new array: the strings into the old one keep their bytes.
	wkeys []byte
	// jkb is the writer's buffer for the job keys its updates read
	// (tx.scratchKey).
	jkb []byte
	// kb is the writer's scratch for record keys (tx.kb), kept with the
	// room it grew to for the next update (Pebble keeps no key it is
	// given: a batch copies what it writes).
	kb  []byte
	due dueFloor // no entry of the due index is before it (Claim)

	// found is the writer's list of the keys an update's GetMany found
	// (tx.found), kept with its room for the next update.
	found []foundKey

	// spare holds the written maps of updates whose group is done,
	// emptied, for the writer's next updates (commitGroup).
	spare []writtenMap

	keys     keyFilter          // the record keys the store may hold
	stopKeys context.CancelFunc // ends the reading of the keys at Open
	keysDone chan struct{}      // the reading of the keys at Open ended
}

var (
	_ store.Backend          = (*DB)(nil)
	_ store.TableLister      = (*DB)(nil)
	_ store.CommittedScanner = (*DB)(nil)
	_ store.CommitObserver   = (*DB)(nil)
)

// Key layout: a record is recordPrefix, its table, a NUL byte and its key;
// a job is jobPrefix and its id; a job's claim is claimPrefix and its id;
// the due index is duePrefix, the 8-byte time the job is next claimable
// and its id.
const (
	recordPrefix = 'r'
	jobPrefix    = 'j'
	claimPrefix  = 'c'
	duePrefix    = 'q'
)

// l0TargetFileSize is the target size of a flushed table (Open).
const l0TargetFileSize = 512 << 10

// maxGroup bounds how many updates share one sync.
const maxGroup = 128

// testHookOptions, when set (by benchmarks), changes Pebble's options
// before the store opens.
var testHookOptions func(*pebble.Options)

// testHookFS, when set (by tests), wraps the file system Pebble uses.
var testHookFS func(vfs.FS) vfs.FS

// Open opens (creating if needed) the store in directory dir. The
// directory is private (0700) and so are the files in it; a second process
// cannot open it while one holds it.
func Open(ctx context.Context, dir string, o Options) (*DB, error) {
	o = o.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pebble: create data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pebble: make the data dir private: %w", err)
	}
	lock, err := readcache.LockFile("pebble", filepath.Join(dir, "deskplane.lock"))
	if err != nil {
		return nil, err
	}
	wal := &walCounts{}
	var fs vfs.FS = privateFS{FS: vfs.Default, wal: wal}
	if testHookFS != nil {
		fs = testHookFS(fs)
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref() // the store holds its own reference
	opts := &pebble.Options{
		FS:                          fs,
		Cache:                       cache,
		MemTableSize:                o.MemTableBytes,
		MemTableStopWritesThreshold: 4,
		// Smaller memtables flush more often: compact level 0 into the
		// level below after sixteen flushed tables rather than four, so
		// each compaction rewrites the (random) keys below it a quarter as
		// often. The cost, more tables to probe for a key, falls mostly
		// on keys the read cache and the key filter do not answer.
		L0CompactionThreshold: 16,
		L0StopWritesThreshold: 32,
		FormatMajorVersion:    pebble.FormatNewest,
		Logger:                logger{},
	}
	// A flushed table is split where what it spans of the base level
	// passes ten times level 0's target file size. At 2 MiB (Pebble's
	// default) a flush was one table from the jobs' keys to the newest
	// desktop's, so every compaction of level 0 rewrote every desktop of
	// the base level, though the new desktops (their ids are ordered) all
	// sort after them: a store's compactions grew with its size (at
	// 150,000 desktops they rewrote 48 MB, 3 times the tables' size;
	// docs/benchmarks.md, session 12). At 512 KiB a flush is split before
	// the new desktops once the older ones pass 5 MiB, and the base
	// level's desktops are left alone. The other levels keep Pebble's
	// default sizes (4 MiB for the base level, doubling below).
	opts.TargetFileSizes[0] = l0TargetFileSize
	for i := 1; i < len(opts.TargetFileSizes); i++ {
		opts.TargetFileSizes[i] = 2 << 20 << i
	}
	// No compaction for a table's share of deletions (Pebble's
	// "tombstone-density" compactions, on by default). With flushes split
	// as above, the table of a flush below the desktops holds mostly the
	// jobs, claims and due entries deleted since the last flush, so
	// Pebble compacted it on its own as soon as it was flushed, each time
	// with what it spans of the level below: at 1,000,000 desktops 80
	// such compactions wrote 328 MB of the compactions' 456 MB (350 MB
	// before the split; 236 MB with them off). The deletions still go
	// with the level-0 compactions, as every key does.
	opts.Experimental.TombstoneDenseCompactionThreshold = -1
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		// Pebble's fastest block compression (MinLZ; Snappy on arm64,
		// where MinLZ has no assembly): it compresses a flushed table's
		// blocks in about half Snappy's samples (docs/benchmarks.md,
		// session 8). Tables written with Snappy before read as they are.
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.FastestCompression }
	}
	if testHookOptions != nil {
		testHookOptions(opts)
	}
	pdb, err := pebble.Open(dir, opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	db := &DB{pdb: pdb, lock: lock, cache: readcache.New(o.ReadCacheEntries, o.ReadCacheBytes),
		queue: group.NewQueue[*tx]("pebble", maxGroup), flushes: make(chan []*writeReq, maxGroup),
		stopped: make(chan struct{}), flDone: make(chan struct{}), dirty: map[string]bool{}, wal: wal}
	db.cache.BorrowKeys() // the writer's keys are in DB.wkeys
	db.committed = &readcache.Committed{Cache: db.cache, Source: committedSource{db}}
	// The store's goroutines outlive every request: a panic in one is logged
	// with its stack and the goroutine goes on (safego.Go restarts it; the
	// writer also recovers per group).
	bg := context.Background()
	// The key filter reads the keys the database holds now from a snapshot
	// taken before the writer starts; the writer adds every key it writes.
	snap := pdb.NewSnapshot()
	keysCtx, stopKeys := context.WithCancel(bg)
	db.stopKeys, db.keysDone = stopKeys, make(chan struct{})
	safego.Go(keysCtx, nil, "pebble key filter", func(ctx context.Context) {
		err := safego.Try(nil, "pebble key filter", func() error { return db.keys.readKeys(ctx, snap) })
		if err != nil && ctx.Err() == nil {
			slog.Error("pebble: the key filter is not used: every new key is looked up", "err", err)
		}
	}, func() {
		snap.Close()
		close(db.keysDone)
	})
	safego.Go(bg, nil, "pebble writer", func(context.Context) { db.writer() }, func() {
		close(db.flushes)
		close(db.stopped)
	})
	safego.Go(bg, nil, "pebble flusher", func(context.Context) { group.Flush(db.flushes, db.sync, &db.observe) }, func() { close(db.flDone) })
	_ = ctx
	return db, nil
}

// Close stops the writer and the flusher and closes the database. A
// second Close does nothing and returns the first one's error.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.queue.Close()
		<-db.stopped
		<-db.flDone
		db.stopKeys()
		<-db.keysDone
		db.closeErr = errors.Join(db.pdb.Close(), db.lock.Close())
	})
	return db.closeErr
}

// privateFS creates files readable and writable by their owner only, and
// counts the writes and syncs of the WAL's files in wal.
type privateFS struct {
	vfs.FS
	wal *walCounts
}

// walCounts counts the write and sync calls Pebble made on its WAL's files
// (WALCounts).
type walCounts struct{ writes, syncs atomic.Uint64 }

// walFile is a WAL file whose writes and syncs are counted.
type walFile struct {
	vfs.File
	c *walCounts
}

func (f walFile) Write(p []byte) (int, error) {
	f.c.writes.Add(1)
	return f.File.Write(p)
}

func (f walFile) Sync() error {
	f.c.syncs.Add(1)
	return f.File.Sync()
}

func (f walFile) SyncData() error {
	f.c.syncs.Add(1)
	return f.File.SyncData()
}

// countWAL wraps f, when it is a WAL file (name ends in .log), to count
// its writes and syncs.
func (fs privateFS) countWAL(name string, f vfs.File) vfs.File {
	if fs.wal == nil || !strings.HasSuffix(name, ".log") {
		return f
	}
	return walFile{File: f, c: fs.wal}
}

// ReuseForWrite implements vfs.FS: a recycled WAL file is counted too.
func (fs privateFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil {
		return nil, err
	}
	return fs.countWAL(newname, f), nil
}

// Create implements vfs.FS: the file is made private.
func (fs privateFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err == nil {
		err = os.Chmod(name, 0o600)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("pebble: make %s private: %w", name, err)
		}
		f = fs.countWAL(name, f)
	}
	return f, err
}

// Lock implements vfs.FS: the lock file is made private.
func (fs privateFS) Lock(name string) (io.Closer, error) {
	c, err := fs.FS.Lock(name)
	if err == nil {
		if err := os.Chmod(name, 0o600); err != nil {
			c.Close()
			return nil, fmt.Errorf("pebble: make %s private: %w", name, err)
		}
	}
	return c, err
}

// OpenReadWrite implements vfs.FS: a file it creates is made private.
func (fs privateFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	if err == nil {
		if err := os.Chmod(name, 0o600); err != nil {
			f.Close()
			return nil, fmt.Errorf("pebble: make %s private: %w", name, err)
		}
	}
	return f, err
}

// logger routes Pebble's log lines to slog: its informational lines at
// debug level.
type logger struct{}

func (logger) Infof(format string, args ...any) {
	slog.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (logger) Errorf(format string, args ...any) {
	slog.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf panics with a fatalError: Pebble calls it when a commit fails
// (a failed WAL sync), and the flusher turns that into a broken store
// (nothing more acknowledged) rather than the end of the process. Raised
// in one of Pebble's own goroutines, it ends the process.
func (logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	slog.Error("pebble: fatal: " + msg)
	panic(fatalError(msg))
}

// fatalError is a fatal error Pebble reported (logger.Fatalf).
type fatalError string

func (e fatalError) Error() string { return string(e) }

// syncWAL makes every committed batch durable: a synced record of no data
// in Pebble's WAL.
func (db *DB) syncWAL() (err error) {
	defer func() {
		if p := recover(); p != nil {
			fe, ok := p.(fatalError)
			if !ok {
				panic(p)
			}
			err = fe
		}
	}()
	return db.pdb.LogData(nil, pebble.Sync)
}

// writeReq is one queued Update.
type writeReq = group.Req[*tx]

// Update runs fn in a write transaction: the writer runs update functions
// one at a time, each in its own batch, commits the batch of each that
// succeeded, and hands the group to the flusher, which syncs the WAL once
// for the group and only then answers its callers. A failing fn leaves
// nothing written.
func (db *DB) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return db.queue.Update(ctx, fn)
}

// UpdateEach runs fns in order, each as its own Update would (a failing fn
// leaves nothing written; answered only once its commit is durable), and
// returns their errors in the same order. It queues them all before it
// waits, so the writer commits them in as few groups as it can, with one
// sync for all. Each fn sees the effects of those before it.
func (db *DB) UpdateEach(ctx context.Context, fns []func(tx store.Tx) error) []error {
	return db.queue.UpdateEach(ctx, fns)
}

// writer serializes all write transactions and commits them in groups.
func (db *DB) writer() {
	for batch := db.queue.Next(); batch != nil; batch = db.queue.Next() {
		db.commitGroup(batch)
	}
}

// commitGroup runs a group's update functions, each in its own batch
// (indexed only if the update reads after it writes: tx.reader) committed without a sync when it succeeds, brings the read cache up
// to date, and hands the group to the flusher.
func (db *DB) commitGroup(batch []*writeReq) {
	if err := db.broken.Err(); err != nil {
		for _, r := range batch {
			r.Done <- err
		}
		return
	}
	answered := false
	// A panic here is a bug outside the update functions (runFn recovers
	// theirs): the group's callers are answered with an error (what was
	// committed before it stays, as after a timeout), the cache drops what
	// the group touched, and the writer goes on with the next group.
	defer func() {
		if p := recover(); p != nil {
			safego.LogPanic(nil, "pebble writer", p)
			if fe, ok := p.(fatalError); ok { // Pebble's commit pipeline failed
				db.broken.Set(fmt.Errorf("pebble: commit: %w", fe))
			}
			if answered {
				return
			}
			db.cache.Update(false, group.Writes(batch))
			for _, r := range batch {
				select { // done holds one answer: a caller already answered keeps its own
				case r.Done <- fmt.Errorf("pebble: write group failed: %v", p):
				default:
				}
			}
		}
	}()
	if testHookGroup != nil {
		testHookGroup(batch)
	}
	db.groups.Add(1)
	db.updates.Add(uint64(len(batch)))
	// dirty holds the keys written by the group's earlier updates (an
	// update's own are in its tx's written map; a write is one insert, and
	// a group of one update, the common case, never fills dirty): the
	// writer's one map, emptied for each group, keeps the room it grew to
	// instead of growing a new map, rehash by rehash, for every group.
	dirty := db.dirty
	clear(dirty)
	db.resetKeys() // after dirty's keys, the last group's, were cleared
	var prev *tx   // the last update that ran, whose writes dirty lacks
	for _, r := range batch {
		if err := r.Ctx.Err(); err != nil {
			r.Err = err
			continue
		}
		if prev != nil { // failed or not: the cache does not hold its writes yet
			for k := range prev.written {
				dirty[k] = true
			}
		}
		w := db.takeWritten()
		r.Tx = &tx{db: db, r: db.pdb, b: db.pdb.NewBatch(), written: w.m, room: w.room, dirty: dirty, reads: db.cache, found: db.found[:0], kb: db.kb[:0]}
		prev = r.Tx
		r.Err = runFn(r.Fn, r.Tx)
		b := r.Tx.b // indexed by the update if it read after it wrote
		db.keepFound(r.Tx)
		if cap(r.Tx.kb) <= maxKeyBuf { // the record keys' scratch, for the next update
			db.kb = r.Tx.kb
		}
		if r.Err == nil && !b.Empty() {
			cb := b
			if r.Tx.rewrote {
				cb, r.Err = lastWrites(db.pdb, b)
			}
			if r.Err == nil {
				if err := cb.Commit(pebble.NoSync); err != nil {
					r.Err = fmt.Errorf("pebble: commit: %w", err)
				} else {
					db.commits.Add(1)
				}
			}
			if cb != b && cb != nil {
				cb.Close()
			}
		}
		r.Tx.r, r.Tx.b = nil, nil
		b.Close()
	}
	// Bring the read cache up to date before anyone is answered: a caller
	// that reads after its Update returned reads its own write.
	db.cache.Update(true, group.Writes(batch))
	answered = true
	db.keepWritten(batch)
	db.flushes <- batch // answered once the WAL is synced
}

// maxKeyBuf bounds the room of the group key buffer the writer keeps.
const maxKeyBuf = 64 << 10

// resetKeys lets the group key buffer be written over (commitGroup, once
// no map holds a string into it).
func (db *DB) resetKeys() {
	if cap(db.wkeys) > maxKeyBuf {
		db.wkeys = nil
		return
	}
	db.wkeys = db.wkeys[:0]
}

// groupKey returns readcache.Key(table, key) spelled in the group key
// buffer: valid until the writer's next group.
func (db *DB) groupKey(table, key string) string {
	n := len(table) + 1 + len(key)
	if cap(db.wkeys)-len(db.wkeys) < n {
		db.wkeys = make([]byte, 0, max(4096, 2*cap(db.wkeys), n))
	}
	start := len(db.wkeys)
	db.wkeys = append(append(append(db.wkeys, table...), 0), key...)
	return unsafe.String(&db.wkeys[start], n)
}

// maxSpareFound bounds the room of the found list the writer keeps for
// its next update (a provisioning batch reads 25 desktops at a time).
const maxSpareFound = 1024

// keepFound keeps t's found list, emptied, for the writer's next update
// (its keys cleared: the list holds no key of a done update alive).
func (db *DB) keepFound(t *tx) {
	f := t.found
	t.found, t.nextFound = nil, 0
	if cap(f) > maxSpareFound {
		db.found = nil
		return
	}
	clear(f)
	db.found = f[:0]
}

// writtenMap is an update's map of written records (tx.written) and the
// most records it held: room for as many without growing.
type writtenMap struct {
	m    map[string][]byte
	room int
}

// maxSpareWritten bounds the records of a written map kept for reuse: a
// map that grew larger (an update of many records, rare) is left to the
// collector rather than cleared again by every update that takes it.
const maxSpareWritten = 1024

// takeWritten returns an empty written map for an update: a done update's
// when there is one (its room kept: an update of as many records fills it
// without growing it, rehash by rehash), else a new one.
func (db *DB) takeWritten() writtenMap {
	if n := len(db.spare); n > 0 {
		w := db.spare[n-1]
		db.spare = db.spare[:n-1]
		return w
	}
	return writtenMap{m: map[string][]byte{}}
}

// keepWritten keeps the written maps of a group's updates for the next
// updates, emptied, once the read cache took what they wrote: nothing
// reads them after it (the flusher answers the group's callers from its
// requests' errors alone).
func (db *DB) keepWritten(batch []*writeReq) {
	for _, r := range batch {
		t := r.Tx
		if t == nil || t.written == nil {
			continue
		}
		m, n := t.written, len(t.written)
		t.written = nil
		if n > maxSpareWritten || len(db.spare) >= maxGroup {
			continue
		}
		clear(m)
		db.spare = append(db.spare, writtenMap{m: m, room: max(t.room, n)})
	}
}

// lastWrites returns a batch of b's last write of each key, in b's order. A
// batch is a log of its writes: committed as it is, a record an update
// wrote twice would reach the WAL at both values, where SQLite writes only
// a transaction's final pages. No state an update went through on its way
// reaches the disk (an access key's secret before it was sealed).
func lastWrites(pdb *pebble.DB, b *pebble.Batch) (*pebble.Batch, error) {
	type op struct {
		kind       pebble.InternalKeyKind
		key, value []byte
	}
	var ops []op
	last := map[string]int{}
	r := b.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("pebble: read the update's batch: %w", err)
		}
		if !ok {
			break
		}
		if kind != pebble.InternalKeyKindSet && kind != pebble.InternalKeyKindDelete {
			return nil, fmt.Errorf("pebble: unexpected write kind %v in an update's batch", kind)
		}
		last[string(k)] = len(ops)
		ops = append(ops, op{kind, k, v})
	}
	out := pdb.NewBatch()
	for i, o := range ops {
		if last[string(o.key)] != i {
			continue
		}
		var err error
		if o.kind == pebble.InternalKeyKindSet {
			err = out.Set(o.key, o.value, nil)
		} else {
			err = out.Delete(o.key, nil)
		}
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("pebble: compact the update's batch: %w", err)
		}
	}
	return out, nil
}

// testHookGroup, when set (by tests), is called with every group the
// writer runs, before its update functions.
var testHookGroup func(batch []*writeReq)

// runFn runs one update function, turning a panic into an error (its stack
// logged) so that one bad request cannot stop the writer.
func runFn(fn func(tx store.Tx) error, t *tx) error {
	return safego.Try(nil, "pebble: update", func() error { return fn(t) })
}

// sync makes every batch the writer committed durable, for the flusher
// (group.Flush): one sync of Pebble's WAL covers every record written
// before it. A committed batch is visible to readers before its sync; any
// write that depends on it comes later in the WAL, so it is never
// acknowledged without it. When nothing was committed since the last sync
// there is nothing to sync.
func (db *DB) sync() error {
	if err := db.broken.Err(); err != nil {
		return err
	}
	target := db.commits.Load()
	if target == db.synced {
		return nil
	}
	db.syncs.Add(1)
	if err := db.syncWAL(); err != nil {
		// After a failed sync the kernel may have dropped the dirty
		// pages: acknowledge nothing from now on.
		err = fmt.Errorf("pebble: sync the WAL: %w", err)
		db.broken.Set(err)
		return err
	}
	db.synced = target
	return nil
}

// ObserveCommits implements store.CommitObserver: the flusher calls f for
// every update it answers as committed, once the WAL sync made it durable.
func (db *DB) ObserveCommits(f func(time.Duration)) {
	if f == nil {
		db.observe.Store(nil)
		return
	}
	db.observe.Store(&f)
}

// WriterCounts reports, since the store opened, the groups the writer
// ran, the updates in them and the syncs of the WAL that made them durable
// (benchmarks divide them by the desktops created).
func (db *DB) WriterCounts() (groups, updates, syncs uint64) {
	return db.groups.Load(), db.updates.Load(), db.syncs.Load()
}

// WALCounts reports the write and sync calls Pebble made on its WAL's
// files since the store opened (its LogWriter's flushes and fsyncs).
func (db *DB) WALCounts() (writes, syncs uint64) {
	return db.wal.writes.Load(), db.wal.syncs.Load()
}

// WALBytes reports the bytes Pebble has written to its write-ahead log
// since the store opened. Benchmarks divide it by the records written.
func (db *DB) WALBytes(context.Context) (int64, error) {
	return int64(db.pdb.Metrics().WAL.BytesWritten), nil
}

// DiskBytes reports the bytes Pebble has written to disk since the store
// opened: its WAL, and the tables (and blob files) of its flushes and
// compactions. The levels are summed here: Metrics.Total adds the WAL's
// bytes to its TableBytesFlushed (as bytes into level 0), so a sum over
// Total counted the WAL twice (until session 12: about 1,213 B of its
// 2,602 B per desktop created).
func (db *DB) DiskBytes(context.Context) (int64, error) {
	m := db.pdb.Metrics()
	n := m.WAL.BytesWritten
	for _, l := range m.Levels {
		n += l.TableBytesFlushed + l.TableBytesCompacted + l.BlobBytesFlushed + l.BlobBytesCompacted
	}
	return int64(n), nil
}

// TableCounts reports Pebble's flushes and compactions since the store
// opened, and the bytes of the tables (and blob files) each wrote.
// Benchmarks divide them by the desktops created (bench/peer's profile).
func (db *DB) TableCounts() (flushes, compactions, flushed, compacted int64) {
	m := db.pdb.Metrics()
	for _, l := range m.Levels {
		flushed += int64(l.TableBytesFlushed + l.BlobBytesFlushed)
		compacted += int64(l.TableBytesCompacted + l.BlobBytesCompacted)
	}
	return m.Flush.Count, m.Compact.Count, flushed, compacted
}

// Get reads one committed record: from the read cache when it holds it
// (or holds that it is absent), else from the database.
func (db *DB) Get(ctx context.Context, table, key string) ([]byte, error) {
	v, ok, seq, ck := db.cache.GetRecord(table, key)
	if ok {
		if v == nil {
			return nil, store.ErrNotFound
		}
		return v, nil
	}
	var kb [128]byte
	v, err := getCopy(db.pdb, recordKey(kb[:0], table, key))
	if errors.Is(err, pebble.ErrNotFound) {
		// Absent records are cached too, until a write group writes them.
		db.cache.Fill(ck, nil, seq)
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pebble: get %s/%s: %w", table, key, err)
	}
	db.cache.Fill(ck, v, seq)
	return v, nil
}

// reader is what a transaction reads from: a batch (which reads through to
// the database), a snapshot or the database.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// getCopy reads key from r into a new slice (never nil when found).
func getCopy(r reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(v))
	copy(out, v)
	return out, closer.Close()
}

// recordKey appends the key of a record to b.
func recordKey(b []byte, table, key string) []byte {
	b = append(b, recordPrefix)
	b = append(b, table...)
	b = append(b, 0)
	return append(b, key...)
}

// View runs fn in a read-only transaction over one snapshot.
func (db *DB) View(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := db.pdb.NewSnapshot()
	defer s.Close()
	return fn(&tx{db: db, r: s})
}

// Tables lists the tables that hold records, sorted (store.TableLister).
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{recordPrefix}, UpperBound: []byte{recordPrefix + 1}})
	if err != nil {
		return nil, fmt.Errorf("pebble: list tables: %w", err)
	}
	var out []string
	for ok := it.First(); ok; {
		k := it.Key()[1:]
		i := 0
		for i < len(k) && k[i] != 0 {
			i++
		}
		t := string(k[:i])
		out = append(out, t)
		seek := append([]byte{recordPrefix}, t...)
		ok = it.SeekGE(append(seek, 1))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("pebble: list tables: %w", err)
	}
	return out, nil
}

// ScanCommitted lists committed records (store.CommittedScanner) with the
// shared key listings and read cache (readcache.Committed).
func (db *DB) ScanCommitted(ctx context.Context, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	return db.committed.ScanCommitted(ctx, table, prefix, after, limit, fn)
}

// ReadCache returns the store's read cache (for tests and measurements).
func (db *DB) ReadCache() *readcache.Cache { return db.cache }

// Listings returns ScanCommitted's key listings (for tests and
// measurements).
func (db *DB) Listings() *readcache.Committed { return db.committed }

// committedSource reads keys and committed values for readcache.Committed.
type committedSource struct{ db *DB }

// ScanKeys implements readcache.Source.
func (s committedSource) ScanKeys(ctx context.Context, table, prefix, after string, n int) ([]string, error) {
	keys := make([]string, 0, min(n, 1024))
	err := scanRange(s.db.pdb, table, prefix, after, func(k string, _ *pebble.Iterator) (bool, error) {
		keys = append(keys, k)
		return len(keys) < n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: scan keys %s/%s: %w", table, prefix, err)
	}
	return keys, nil
}

// ScanValues implements readcache.ValueScanner: one iterator, each value
// copied out of it.
func (s committedSource) ScanValues(ctx context.Context, table, prefix, after string, fn func(string, []byte) (bool, error)) error {
	return scanRange(s.db.pdb, table, prefix, after, func(k string, it *pebble.Iterator) (bool, error) {
		v, err := it.ValueAndErr()
		if err != nil {
			return false, fmt.Errorf("pebble: scan %s/%s: %w", table, k, err)
		}
		return fn(k, append(make([]byte, 0, len(v)), v...))
	})
}

// ReadValues implements readcache.Source.
func (s committedSource) ReadValues(ctx context.Context, table string, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	var kb []byte
	for i, k := range keys {
		kb = recordKey(kb[:0], table, k)
		v, err := getCopy(s.db.pdb, kb)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pebble: get %s/%s: %w", table, k, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// scanRange iterates r's records of table under prefix whose key is
// greater than after (when after is not before prefix), in key order,
// calling fn with each key and the iterator on it until fn returns false
// or an error.
func scanRange(r reader, table, prefix, after string, fn func(key string, it *pebble.Iterator) (bool, error)) error {
	lo := recordKey(nil, table, prefix)
	// The table's key space ends before its NUL becomes a 1.
	hi, _ := store.PrefixEnd(string(lo))
	if after != "" && after >= prefix {
		lo = append(recordKey(nil, table, after), 0) // the least key after it
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: []byte(hi)})
	if err != nil {
		return err
	}
	skip := len(table) + 2
	for ok := it.First(); ok; ok = it.Next() {
		more, err := fn(string(it.Key()[skip:]), it)
		if err != nil {
			it.Close()
			return err
		}
		if !more {
			break
		}
	}
	return errors.Join(it.Error(), it.Close())
}
