// Package sqlite is the embedded store backend: pure-Go SQLite
// (modernc.org/sqlite) in WAL mode. Every acknowledged transaction has been
// synced to disk (fdatasync of the WAL), so it survives kill -9 and power
// loss. One connection writes; a pool of connections reads concurrently from
// WAL snapshots.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/group"
	"github.com/deskplane/deskplane/internal/store/readcache"
	sqlitedrv "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is the SQLite backend.
type DB struct {
	w      *sql.DB          // single writer connection
	r      *sql.DB          // reader pool
	wc, rc *stmtCache       // prepared statements of the writer and the readers
	cache  *readcache.Cache // records read by Get, updated by every write group
	lock   *os.File         // holds the database's lock file: one process per file
	ckpt   *sql.DB          // checkpoints the WAL off the writer's path
	// walFrames is the WAL's length in frames at the last checkpoint.
	walFrames     atomic.Int64
	restartFrames int64 // restartFrames, lowered by tests
	// guarded counts the groups still to run with a savepoint per update
	// after a group whose updates ran without them had a failure (writer
	// only).
	guarded int
	// dirty is the writer's map of the keys written by a group's earlier
	// updates (runGroup), emptied for each group: it keeps the room it
	// grew to instead of growing a new map for every group.
	dirty   map[string]bool
	wal     *os.File // the WAL file, synced by the flusher
	kick    chan struct{}
	queue   *group.Queue[*tx]
	flushes chan []*writeReq // committed groups waiting for their fdatasync
	stopped chan struct{}    // the writer ended
	ckDone  chan struct{}    // the checkpointer ended
	flDone  chan struct{}    // the flusher ended

	broken group.Broken // a failed fdatasync: nothing more is acknowledged

	observe   atomic.Pointer[func(time.Duration)] // ObserveCommits
	committed *readcache.Committed                // ScanCommitted's key listings
}

// checkpointEvery is the least time between two WAL checkpoints. The writer
// never checkpoints itself (wal_autocheckpoint=0): a checkpointer goroutine
// on its own connection copies committed frames into the database file
// while the writer goes on committing.
const checkpointEvery = 100 * time.Millisecond

var _ store.Backend = (*DB)(nil)

// migrations are applied in order; each entry is one schema version.
var migrations = []string{
	`CREATE TABLE kv (tbl TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (tbl, k)) WITHOUT ROWID;
	 CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, due INTEGER NOT NULL, payload BLOB, owner TEXT, claim_until INTEGER) WITHOUT ROWID;
	 CREATE INDEX jobs_due ON jobs (due);`,
	// Failed runs, the last failure, and jobs set aside after too many.
	`ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE jobs ADD COLUMN last_error TEXT;
	 ALTER TABLE jobs ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;`,
}

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data dir: %w", err)
	}
	lock, err := readcache.LockFile("sqlite", path+".lock")
	if err != nil {
		return nil, err
	}
	// Created private before SQLite opens it: its WAL and shared-memory
	// files take the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	f.Close()
	// dsn builds a connection string: WAL, a busy timeout, and
	// temp_store=MEMORY so the savepoints' sub-journals stay in memory
	// instead of spilling to temporary files.
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(ON)", "temp_store(MEMORY)"} {
			q.Add("_pragma", p)
		}
		for _, p := range extra {
			if k, v, ok := strings.Cut(p, "="); ok {
				q.Set(k, v)
				continue
			}
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode()
	}
	var conns []*sql.DB
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		lock.Close()
	}
	open := func(name string, maxConns int) (*sql.DB, error) {
		c, err := sql.Open("sqlite", name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		c.SetMaxOpenConns(maxConns)
		c.SetMaxIdleConns(maxConns)
		c.SetConnMaxLifetime(0)
		c.SetConnMaxIdleTime(0)
		conns = append(conns, c)
		return c, nil
	}
	// The writer commits without syncing (synchronous=NORMAL) and never
	// checkpoints (wal_autocheckpoint=0): the flusher makes each group
	// durable with fdatasync of the WAL while the writer goes on, and the
	// checkpointer copies frames into the database file on its own
	// connection. The writer reads what it updates: it maps the file and
	// keeps a large page cache, as the readers do.
	w, err := open(dsn("_txlock=immediate", "synchronous(NORMAL)", "wal_autocheckpoint(0)", "mmap_size(1073741824)", "cache_size(-16384)"), 1)
	if err != nil {
		closeAll()
		return nil, err
	}
	// A checkpoint on a FULL connection syncs the WAL before copying it and
	// the database file after.
	ck, err := open(dsn("synchronous(FULL)"), 1)
	if err != nil {
		closeAll()
		return nil, err
	}
	// Readers do not map the database file: each connection's mapping is its
	// own, and the process's resident size counts a page once per mapping
	// that touched it, so eight readers mapping a 1 GiB window of a large
	// database held several GiB of file pages resident (2.2 GiB in all at a
	// million desktops, docs/benchmarks.md). They read pages with pread
	// from the kernel's page cache into their own page cache; the writer
	// keeps its mapping.
	r, err := open(dsn("query_only(true)", "mmap_size(0)", "cache_size(-4096)"), 8)
	if err != nil {
		closeAll()
		return nil, err
	}
	db := &DB{w: w, r: r, ckpt: ck, kick: make(chan struct{}, 1), queue: group.NewQueue[*tx]("sqlite", maxGroup), dirty: map[string]bool{},
		flushes: make(chan []*writeReq, maxGroup), stopped: make(chan struct{}),
		ckDone: make(chan struct{}), flDone: make(chan struct{}), cache: readcache.New(100000, 64<<20), lock: lock,
		restartFrames: restartFrames}
	db.committed = &readcache.Committed{Cache: db.cache, Source: committedSource{db}}
	if err := db.migrate(ctx); err != nil {
		closeAll()
		return nil, err
	}
	// The migration committed a transaction, so the WAL file exists; the
	// writer's connection keeps it in place until the store closes.
	if db.wal, err = os.OpenFile(path+"-wal", os.O_RDWR, 0); err != nil {
		closeAll()
		return nil, fmt.Errorf("sqlite: open the WAL for syncing: %w", err)
	}
	if err := syncFile(db.wal); err != nil { // the migration itself
		db.wal.Close()
		closeAll()
		return nil, fmt.Errorf("sqlite: sync the WAL: %w", err)
	}
	if db.wc, err = newStmtCache(ctx, w, false); err != nil {
		db.wal.Close()
		closeAll()
		return nil, err
	}
	if db.rc, err = newStmtCache(ctx, r, true); err != nil {
		db.wc.close()
		db.wal.Close()
		closeAll()
		return nil, err
	}
	// The store's goroutines outlive every request: a panic in one is logged
	// with its stack and the goroutine goes on (safego.Go restarts it; the
	// writer and the checkpointer also recover per group and per pass).
	bg := context.Background()
	safego.Go(bg, nil, "sqlite writer", func(context.Context) { db.writer() }, func() {
		close(db.flushes)
		close(db.stopped)
	})
	safego.Go(bg, nil, "sqlite flusher", func(context.Context) { group.Flush(db.flushes, db.sync, &db.observe) }, func() { close(db.flDone) })
	safego.Go(bg, nil, "sqlite checkpointer", func(context.Context) { db.checkpointer() }, func() { close(db.ckDone) })
	return db, nil
}

func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.w.BeginTx(ctx, nil) // immediate: holds the write lock, so one process migrates at a time
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("sqlite: database schema version %d is newer than this binary (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return tx.Commit()
}

// Close stops the writer and closes both connection pools.
func (db *DB) Close() error {
	db.queue.Close()
	<-db.stopped
	<-db.flDone
	<-db.ckDone
	db.wc.close()
	db.rc.close()
	err1 := db.r.Close()
	err2 := db.w.Close()
	err3 := db.ckpt.Close() // the last connection to close checkpoints the WAL
	return errors.Join(err1, err2, err3, db.wal.Close(), db.lock.Close())
}

// sync makes committed groups durable, for the flusher (group.Flush):
// fdatasync covers every frame written before it started. The writer
// meanwhile runs and commits the next group, so the sync's latency is not
// paid by the writer. A committed group is visible to readers before its
// sync completes; any write that depends on it comes later in the WAL, so
// it is never acknowledged without it.
func (db *DB) sync() error {
	if err := db.broken.Err(); err != nil {
		return err
	}
	if err := syncFile(db.wal); err != nil {
		// After a failed fsync the kernel may have dropped the dirty
		// pages: acknowledge nothing from now on.
		err = fmt.Errorf("sqlite: sync the WAL: %w", err)
		db.broken.Set(err)
		return err
	}
	return nil
}

// checkpointer copies committed WAL frames into the database file, at most
// once per checkpointEvery, whenever the writer has committed since. A
// PASSIVE checkpoint never blocks the writer or the readers.
func (db *DB) checkpointer() {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-db.kick:
		case <-db.queue.Closed():
			return
		}
		// A failed checkpoint is not fatal: the frames stay in the WAL,
		// which readers and recovery use, and the next kick tries again.
		safego.Call(nil, "sqlite checkpoint", func() { _, _ = db.checkpoint() })
		t.Reset(checkpointEvery)
		select {
		case <-t.C:
		case <-db.queue.Closed():
			return
		}
	}
}

// restartFrames is the WAL length (in frames, 4 KiB each) past which the
// writer lets the WAL start over.
const restartFrames = 16384

// checkpoint runs a passive checkpoint on the checkpointer's connection and
// records (and returns) the WAL's length in frames.
func (db *DB) checkpoint() (int64, error) {
	logFrames, err := passiveCheckpoint(db.ckpt)
	if err != nil {
		return 0, err
	}
	db.walFrames.Store(logFrames)
	return logFrames, nil
}

// passiveCheckpoint runs a passive checkpoint on c's connection and returns
// the WAL's length in frames.
func passiveCheckpoint(c *sql.DB) (int64, error) {
	var busy, logFrames, done int64
	if err := c.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done); err != nil {
		return 0, err
	}
	if logFrames < 0 { // another checkpoint was running
		return 0, errors.New("sqlite: checkpoint busy")
	}
	return logFrames, nil
}

// restartWAL keeps the WAL from growing without end. The checkpointer's
// passive checkpoints copy frames into the database file while the writer
// goes on appending, so under a steady stream of writes the WAL is never
// completely copied when the writer begins its next transaction, which is
// the moment SQLite starts the WAL over. When the WAL has grown past
// restartFrames, the writer, between two groups, copies the last frames
// itself (a passive checkpoint: it never waits for readers), so that its
// next transaction finds the WAL copied and starts it over. A reader still
// on old frames only postpones that to a later report.
func (db *DB) restartWAL() {
	if db.walFrames.Load() < db.restartFrames {
		return
	}
	if _, err := passiveCheckpoint(db.w); err != nil {
		return // the checkpointer was at it: try again after the next group
	}
	db.walFrames.Store(0) // the checkpointer reports the length again
}

// Update runs fn in a write transaction. SQLite has one writer, so
// transactions never conflict. Concurrent updates are group-committed: the
// writer runs the queued fns one after the other in one transaction and
// commits the group; the flusher syncs the WAL and then answers every
// caller. A failing fn rolls back only its own changes: when one fails in a
// group that ran without savepoints, the group is rolled back and run again
// with each fn in its own SAVEPOINT, so a fn may be called a second time
// (as Store.Update allows). Each caller is answered only after its commit
// is on disk, so nothing acknowledged is lost.
func (db *DB) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return db.queue.Update(ctx, fn)
}

// UpdateEach runs fns in order, each as its own Update would (as if in its own
// savepoint: a failing fn rolls back only its own changes; answered only
// once its commit is on disk), and returns their errors in the same order.
// It queues them all before it waits, so the writer commits them in as few
// groups as it can: the lifecycle engine runs a pass of due jobs this way,
// several jobs to a transaction and one WAL sync for all, instead of one
// commit and one sync per job. Each fn sees the effects of those before it.
func (db *DB) UpdateEach(ctx context.Context, fns []func(tx store.Tx) error) []error {
	return db.queue.UpdateEach(ctx, fns)
}

// writeReq is one queued Update.
type writeReq = group.Req[*tx]

// maxGroup bounds how many updates share one commit.
const maxGroup = 128

// writer serializes all write transactions and commits them in groups.
func (db *DB) writer() {
	for batch := db.queue.Next(); batch != nil; batch = db.queue.Next() {
		db.commitGroup(batch)
		db.restartWAL()
	}
}

func (db *DB) commitGroup(batch []*writeReq) {
	ctx := context.Background()
	if err := db.broken.Err(); err != nil {
		for _, r := range batch {
			r.Done <- err
		}
		return
	}
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.Done <- fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	// A panic here is a bug outside the update functions (runFn recovers
	// theirs): the group fails and is rolled back, its callers are
	// answered, and the writer goes on with the next group.
	defer func() {
		if p := recover(); p != nil {
			safego.LogPanic(nil, "sqlite writer", p)
			sqlTx.Rollback()
			db.cache.Update(false, group.Writes(batch))
			for _, r := range batch {
				select { // done holds one answer: a caller already answered keeps its own
				case r.Done <- fmt.Errorf("sqlite: write group failed: %v", p):
				default:
				}
			}
		}
	}()
	if testHookGroup != nil {
		testHookGroup(batch)
	}
	// A group of several updates first runs them without savepoints: a
	// savepoint copies every page an update changes into a sub-journal
	// first (about a tenth of a create's CPU), only to undo a failure,
	// and updates seldom fail. When one does fail, the whole group is
	// rolled back and run again, each update in its own savepoint (an
	// update function may be called again, as Store.Update says), and the
	// next guardedGroups groups take savepoints from the start.
	// A group of one update needs no savepoint: when it fails, the whole
	// transaction is rolled back.
	savepoints := len(batch) > 1 && db.guarded > 0
	if db.guarded > 0 {
		db.guarded--
	}
	applied, failed := db.runGroup(ctx, sqlTx, batch, savepoints)
	if failed && len(batch) > 1 && !savepoints {
		db.guarded = guardedGroups
		if err := sqlTx.Rollback(); err != nil {
			db.failGroup(batch, fmt.Errorf("sqlite: roll back a group to run it again: %w", err))
			return
		}
		for _, r := range batch {
			r.Err, r.Tx = nil, nil
		}
		if sqlTx, err = db.w.BeginTx(ctx, nil); err != nil {
			db.failGroup(batch, fmt.Errorf("sqlite: begin: %w", err))
			return
		}
		applied, _ = db.runGroup(ctx, sqlTx, batch, true)
	}
	if applied < 0 { // a savepoint could not be rolled back
		return
	}
	var commitErr error
	if applied > 0 {
		commitErr = sqlTx.Commit()
		select {
		case db.kick <- struct{}{}:
		default:
		}
	} else {
		sqlTx.Rollback()
	}
	// Bring the read cache up to date before anyone is answered: a caller
	// that reads after its Update returned reads its own write.
	db.cache.Update(applied > 0 && commitErr == nil, group.Writes(batch))
	if applied == 0 || commitErr != nil {
		for _, r := range batch {
			if r.Err == nil && commitErr != nil {
				r.Err = fmt.Errorf("sqlite: commit: %w", commitErr)
			}
			r.Done <- r.Err
		}
		return
	}
	db.flushes <- batch // answered once the WAL is synced
}

// guardedGroups is how many groups run with savepoints after a group
// without them had a failing update.
const guardedGroups = 32

// runGroup runs the group's update functions in sqlTx, each in its own
// savepoint when savepoints is set, and returns how many succeeded and
// whether any failed. When a savepoint cannot be rolled back the
// transaction is unusable: runGroup rolls it back, answers every caller,
// and returns -1.
func (db *DB) runGroup(ctx context.Context, sqlTx *sql.Tx, batch []*writeReq, savepoints bool) (applied int, failed bool) {
	// dirty holds the keys written by the group's earlier updates, failed
	// or not (an update's own are in its tx's written map, so a write is
	// one map insert; a group of one update never fills dirty).
	dirty := db.dirty
	clear(dirty)
	var prev *tx // the last update that ran, whose writes dirty lacks
	for _, r := range batch {
		if err := r.Ctx.Err(); err != nil {
			r.Err = err
			continue
		}
		if prev != nil {
			for k := range prev.written {
				dirty[k] = true
			}
		}
		r.Tx = &tx{q: sqlTx, cache: db.wc, written: map[string][]byte{}, dirty: dirty, reads: db.cache}
		prev = r.Tx
		if testHookRun != nil {
			testHookRun(r, savepoints)
		}
		if !savepoints {
			if r.Err = runFn(r.Fn, r.Tx); r.Err == nil {
				applied++
			} else {
				failed = true
			}
			continue
		}
		if _, err := sqlTx.StmtContext(ctx, db.wc.m["SAVEPOINT u"]).ExecContext(ctx); err != nil {
			r.Err = fmt.Errorf("sqlite: savepoint: %w", err)
			failed = true
			continue
		}
		r.Err = runFn(r.Fn, r.Tx)
		if r.Err != nil {
			failed = true
			if _, err := sqlTx.StmtContext(ctx, db.wc.m["ROLLBACK TO u"]).ExecContext(ctx); err != nil {
				// The transaction is unusable: fail the whole group.
				sqlTx.Rollback()
				db.cache.Update(false, group.Writes(batch))
				for _, q := range batch {
					if q.Err == nil {
						q.Err = fmt.Errorf("sqlite: rollback to savepoint: %w", err)
					}
					q.Done <- q.Err
				}
				return -1, true
			}
		} else {
			applied++
		}
		if _, err := sqlTx.StmtContext(ctx, db.wc.m["RELEASE u"]).ExecContext(ctx); err != nil && r.Err == nil {
			r.Err = fmt.Errorf("sqlite: release savepoint: %w", err)
		}
	}
	return applied, failed
}

// failGroup answers every caller of a group that could not run with err.
func (db *DB) failGroup(batch []*writeReq, err error) {
	db.cache.Update(false, group.Writes(batch))
	for _, r := range batch {
		r.Done <- err
	}
}

// testHookRun, when set (by tests), is called before each update function
// runs, with whether it runs in its own savepoint.
var testHookRun func(r *writeReq, savepoint bool)

// testHookGroup, when set (by tests), is called with every group the
// writer commits, inside its transaction.
var testHookGroup func(batch []*writeReq)

// runFn runs one update function, turning a panic into an error (its stack
// logged) so that one bad request cannot stop the writer.
func runFn(fn func(tx store.Tx) error, t *tx) error {
	return safego.Try(nil, "sqlite: update", func() error { return fn(t) })
}

// Get reads one committed record: from the read cache when it holds it
// (or holds that it is absent), else with one autocommit statement (no
// BEGIN and COMMIT around it).
func (db *DB) Get(ctx context.Context, table, key string) ([]byte, error) {
	ck := readcache.Key(table, key)
	v, ok, seq := db.cache.Get(ck)
	if ok {
		if v == nil {
			return nil, store.ErrNotFound
		}
		return v, nil
	}
	err := db.rc.m[getSQL].QueryRowContext(ctx, table, key).Scan(&v)
	if err == nil {
		if v == nil {
			v = []byte{} // an empty value; nil in the cache means absent
		}
		db.cache.Fill(ck, v, seq)
	}
	if errors.Is(err, sql.ErrNoRows) {
		// Absent records are cached too: a key looked up again and again
		// that does not exist (a marker record, an unknown id) costs a
		// map lookup, not a statement, until a write group writes it.
		db.cache.Fill(ck, nil, seq)
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %s/%s: %w", table, key, err)
	}
	return v, nil
}

// WALPages reports how many pages (4 KiB each, plus a 24-byte frame
// header) the writer's connection has written to the write-ahead log since
// the store opened: SQLite's SQLITE_DBSTATUS_CACHE_WRITE counter. Benchmarks
// divide it by the records written to find the log bytes per record. It
// waits for the writer's connection, so it is for measurements, not for a
// request's path.
func (db *DB) WALPages(ctx context.Context) (int64, error) {
	c, err := db.w.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: WAL pages: %w", err)
	}
	defer c.Close()
	var n int
	err = c.Raw(func(dc any) error {
		st, ok := dc.(sqlitedrv.DBStatus)
		if !ok {
			return errors.New("the driver has no status counters")
		}
		var err error
		n, _, err = st.Status(sqlitedrv.DBStatusCacheWrite, false)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: WAL pages: %w", err)
	}
	return int64(n), nil
}

// Tables lists the tables that hold records, sorted (store.TableLister).
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT tbl FROM kv ORDER BY tbl`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tables: %w", err)
	}
	var out []string
	err = eachRow(rows, func() error {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tables: %w", err)
	}
	return out, nil
}

// View runs fn in a read-only snapshot.
func (db *DB) View(ctx context.Context, fn func(tx store.Tx) error) error {
	sqlTx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer sqlTx.Rollback()
	return fn(&tx{q: sqlTx, ro: true, cache: db.rc})
}

type tx struct {
	q     *sql.Tx
	ro    bool
	cache *stmtCache
	// written holds, by table\x00key, every record this update wrote: its
	// value, or nil when it was deleted or is not known (a create that found
	// the record there).
	written map[string][]byte
	// dirty holds the keys the earlier updates of the writer's group
	// wrote (its own are in written); the others read as committed, so
	// from the read cache.
	dirty map[string]bool
	reads *readcache.Cache // the store's read cache (writer only)
}

// Written reports what the update wrote (group.Writer).
func (t *tx) Written() (map[string][]byte, bool) {
	if t == nil {
		return nil, false
	}
	return t.written, true
}

// wrote notes that the update wrote value (nil: deleted or not known) under
// table and key.
func (t *tx) wrote(table, key string, value []byte) {
	if t.written != nil {
		ck := readcache.Key(table, key)
		t.written[ck] = value // fitted (compact, capacity = length) when cached
	}
}

// cached returns a record from the read cache when the writer's group has
// not written it (so it reads as committed), and the cache key to fill on a
// miss ("" when the cache must not be used or filled).
func (t *tx) cached(table, key string) (v []byte, ok bool, ck string, seq uint64) {
	return t.reads.LookupWritten(t.dirty, t.written, table, key)
}

// stmtCache keeps prepared statements of one connection pool, so each
// statement is parsed once per connection instead of once per call. All
// statements are prepared when the store opens: preparing later would need
// a free connection, and the writer's only connection is busy inside its
// transaction. A query that is not in the cache runs unprepared.
type stmtCache struct {
	m map[string]*sql.Stmt
}

// cachedQueries are the statements the store runs.
func cachedQueries() []string {
	qs := []string{
		getSQL,
		`INSERT INTO kv (tbl, k, v) VALUES (?, ?, ?) ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v`,
		`INSERT INTO kv (tbl, k, v) VALUES (?, ?, ?) ON CONFLICT (tbl, k) DO NOTHING`,
		`DELETE FROM kv WHERE tbl = ? AND k = ?`,
		`DELETE FROM jobs WHERE id = ?`,
		`DELETE FROM jobs WHERE id = ? AND owner = ?`,
		enqueueSQL,
		"SAVEPOINT u", "RELEASE u", "ROLLBACK TO u",
		"SAVEPOINT cm", "RELEASE cm", "ROLLBACK TO cm",
	}
	for _, op := range []string{">=", ">"} {
		qs = append(qs, scanSQL(op, false), scanSQL(op, true))
	}
	qs = append(qs, scanKeysFromSQL, scanKeysAfterSQL)
	for _, n := range batchSizes {
		b := batchSQL[n]
		qs = append(qs, b.get, b.put, b.create, b.insert)
	}
	return append(qs, countSQL(false), countSQL(true))
}

func newStmtCache(ctx context.Context, db *sql.DB, readOnly bool) (*stmtCache, error) {
	c := &stmtCache{m: map[string]*sql.Stmt{}}
	for _, q := range cachedQueries() {
		if readOnly && !strings.HasPrefix(q, "SELECT") {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
		c.m[q] = st
	}
	return c, nil
}

func (c *stmtCache) close() {
	for _, st := range c.m {
		st.Close()
	}
}

// stmtCtx is the context a statement runs with. The writer's statements
// run without the caller's cancellation: an update that has started runs
// to its end (a canceled caller is refused before its update starts), and
// the driver then has no watcher goroutine to start for every statement.
// Readers keep it, so that a long read ends with its caller.
func (t *tx) stmtCtx(ctx context.Context) context.Context {
	if t.ro {
		return ctx
	}
	return context.Background()
}

// stmt returns the cached statement bound to this transaction.
func (t *tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := t.cache.m[query]; ok {
		return t.q.StmtContext(ctx, st)
	}
	return nil
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = t.stmtCtx(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, query, args...)
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.stmtCtx(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, query, args...)
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = t.stmtCtx(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, query, args...)
}

func (t *tx) Get(ctx context.Context, table, key string) ([]byte, error) {
	v, ok, ck, seq := t.cached(table, key)
	if ok {
		if v == nil {
			return nil, store.ErrNotFound
		}
		return v, nil
	}
	err := t.queryRow(ctx, getSQL, table, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %s/%s: %w", table, key, err)
	}
	if v == nil {
		v = []byte{} // nil in the cache means absent
	}
	if ck != "" {
		t.reads.Fill(ck, v, seq)
	}
	return v, nil
}

func (t *tx) Put(ctx context.Context, table, key string, value []byte) error {
	t.wrote(table, key, value)
	_, err := t.exec(ctx, `INSERT INTO kv (tbl, k, v) VALUES (?, ?, ?) ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v`, table, key, value)
	if err != nil {
		return fmt.Errorf("sqlite: put %s/%s: %w", table, key, err)
	}
	return nil
}

func (t *tx) Create(ctx context.Context, table, key string, value []byte) error {
	t.wrote(table, key, nil)
	res, err := t.exec(ctx, `INSERT INTO kv (tbl, k, v) VALUES (?, ?, ?) ON CONFLICT (tbl, k) DO NOTHING`, table, key, value)
	if err != nil {
		return fmt.Errorf("sqlite: create %s/%s: %w", table, key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrExists
	}
	t.wrote(table, key, value)
	return nil
}

func (t *tx) Delete(ctx context.Context, table, key string) error {
	t.wrote(table, key, nil)
	res, err := t.exec(ctx, `DELETE FROM kv WHERE tbl = ? AND k = ?`, table, key)
	if err != nil {
		return fmt.Errorf("sqlite: delete %s/%s: %w", table, key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// batchSizes are the row counts of the prepared batch statements; a batch
// runs as the fewest of them (30 rows: 25 + 4 + 1). 25 is there because
// it is the most CreateWorkspaces accepts at once.
var batchSizes = []int{64, 32, 25, 16, 8, 4, 2, 1}

// batchSQL holds the batch statements of each size.
var batchSQL = func() map[int]struct{ get, put, create, insert string } {
	m := map[int]struct{ get, put, create, insert string }{}
	for _, n := range batchSizes {
		in := strings.TrimSuffix(strings.Repeat("?,", n), ",")
		vals := strings.TrimSuffix(strings.Repeat("(?, ?, ?),", n), ",")
		m[n] = struct{ get, put, create, insert string }{
			get:    `SELECT k, v FROM kv WHERE tbl = ? AND k IN (` + in + `)`,
			put:    `INSERT INTO kv (tbl, k, v) VALUES ` + vals + ` ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v`,
			create: `INSERT INTO kv (tbl, k, v) VALUES ` + vals + ` ON CONFLICT (tbl, k) DO NOTHING RETURNING k`,
			insert: `INSERT INTO kv (tbl, k, v) VALUES ` + vals + ` ON CONFLICT (tbl, k) DO NOTHING`,
		}
	}
	return m
}()

// chunk returns the largest batch size not above n.
func chunk(n int) int {
	for _, s := range batchSizes {
		if s <= n {
			return s
		}
	}
	return 1
}

func (t *tx) GetMany(ctx context.Context, table string, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if t.reads != nil { // the writer: committed records from the read cache
		var miss []string
		for _, k := range keys {
			if v, ok, _, _ := t.cached(table, k); ok {
				if v != nil { // nil: cached as absent
					out[k] = v
				}
			} else {
				miss = append(miss, k)
			}
		}
		keys = miss
	}
	for len(keys) > 0 {
		n := chunk(len(keys))
		args := make([]any, 0, n+1)
		args = append(args, table)
		for _, k := range keys[:n] {
			args = append(args, k)
		}
		rows, err := t.query(ctx, batchSQL[n].get, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: get %d records of %s: %w", n, table, err)
		}
		err = eachRow(rows, func() error {
			var k string
			var v []byte
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			out[k] = v
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sqlite: get records of %s: %w", table, err)
		}
		keys = keys[n:]
	}
	return out, nil
}

// eachRow calls scan for every row of rows, then closes them; an error
// from scan or from reading the rows ends it.
func eachRow(rows *sql.Rows, scan func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// batchArgs is the (table, key, value) arguments of a multi-row write of
// recs, each key noted as written (with its value when cached: a put's,
// not under store.Uncached; else not known).
func (t *tx) batchArgs(table string, recs []store.KV, cached bool) []any {
	args := make([]any, 0, 3*len(recs))
	for _, r := range recs {
		var v []byte
		if cached {
			v = r.Value
		}
		t.wrote(table, r.Key, v)
		args = append(args, table, r.Key, r.Value)
	}
	return args
}

func (t *tx) PutMany(ctx context.Context, table string, recs []store.KV) error {
	recs = store.Dedupe(recs, true)
	cached := !store.IsUncached(ctx)
	for len(recs) > 0 {
		n := chunk(len(recs))
		if _, err := t.exec(ctx, batchSQL[n].put, t.batchArgs(table, recs[:n], cached)...); err != nil {
			return fmt.Errorf("sqlite: put %d records of %s: %w", n, table, err)
		}
		recs = recs[n:]
	}
	return nil
}

func (t *tx) CreateMany(ctx context.Context, table string, recs []store.KV) ([]string, error) {
	rest := store.Dedupe(recs, false)
	if len(rest) == len(recs) {
		// Usually no key exists yet: insert without reading back which
		// rows were created (RETURNING costs a row per record), inside a
		// savepoint that is undone when a key turns out to exist.
		ok, err := t.insertAll(ctx, table, rest)
		if err != nil {
			return nil, err
		}
		if ok {
			for _, r := range rest {
				t.wrote(table, r.Key, r.Value)
			}
			return nil, nil
		}
	}
	created := make(map[string]bool, len(recs))
	for len(rest) > 0 {
		n := chunk(len(rest))
		rows, err := t.query(ctx, batchSQL[n].create, t.batchArgs(table, rest[:n], false)...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: create %d records of %s: %w", n, table, err)
		}
		err = eachRow(rows, func() error {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			created[k] = true
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sqlite: create records of %s: %w", table, err)
		}
		rest = rest[n:]
	}
	for _, r := range store.Dedupe(recs, false) { // the first of a key is the one inserted
		if created[r.Key] {
			t.wrote(table, r.Key, r.Value)
		}
	}
	return store.Existing(recs, created), nil
}

// insertAll inserts recs (distinct keys) if none of them exists, and
// reports whether it did; when one exists it writes nothing.
func (t *tx) insertAll(ctx context.Context, table string, recs []store.KV) (bool, error) {
	if _, err := t.exec(ctx, "SAVEPOINT cm"); err != nil {
		return false, fmt.Errorf("sqlite: savepoint: %w", err)
	}
	all := true
	for rest := recs; len(rest) > 0 && all; {
		n := chunk(len(rest))
		res, err := t.exec(ctx, batchSQL[n].insert, t.batchArgs(table, rest[:n], false)...)
		if err != nil {
			return false, fmt.Errorf("sqlite: create %d records of %s: %w", n, table, err)
		}
		if got, err := res.RowsAffected(); err != nil || got != int64(n) {
			all = false
		}
		rest = rest[n:]
	}
	if !all {
		if _, err := t.exec(ctx, "ROLLBACK TO cm"); err != nil {
			return false, fmt.Errorf("sqlite: rollback to savepoint: %w", err)
		}
	}
	if _, err := t.exec(ctx, "RELEASE cm"); err != nil {
		return false, fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return all, nil
}

func (t *tx) Scan(ctx context.Context, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	lo := prefix
	op := ">="
	if after != "" && after >= prefix {
		lo, op = after, ">"
	}
	args := []any{table, lo}
	end, bounded := store.PrefixEnd(prefix)
	bounded = bounded && prefix != ""
	if bounded {
		args = append(args, end)
	}
	if limit <= 0 {
		limit = -1 // no limit
	}
	args = append(args, limit)
	query := scanSQL(op, bounded)
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: scan %s/%s: %w", table, prefix, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("sqlite: scan %s: %w", table, err)
		}
		if err := fn(k, v); err != nil {
			if errors.Is(err, store.ErrStop) {
				return nil
			}
			return err
		}
	}
	return rows.Err()
}

func (t *tx) Count(ctx context.Context, table, prefix string) (int, error) {
	args := []any{table, prefix}
	end, bounded := store.PrefixEnd(prefix)
	bounded = bounded && prefix != ""
	if bounded {
		args = append(args, end)
	}
	query := countSQL(bounded)
	var n int
	if err := t.queryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count %s/%s: %w", table, prefix, err)
	}
	return n, nil
}

const getSQL = `SELECT v FROM kv WHERE tbl = ? AND k = ?`

const enqueueSQL = `INSERT INTO jobs (id, kind, due, payload, owner, claim_until) VALUES (?, ?, ?, ?, NULL, NULL)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, due = excluded.due, payload = excluded.payload, owner = NULL, claim_until = NULL,
			attempts = 0, last_error = NULL, parked = 0`

func scanSQL(op string, bounded bool) string {
	q := `SELECT k, v FROM kv WHERE tbl = ? AND k ` + op + ` ?`
	if bounded {
		q += ` AND k < ?`
	}
	return q + ` ORDER BY k LIMIT ?`
}

func countSQL(bounded bool) string {
	q := `SELECT count(*) FROM kv WHERE tbl = ? AND k >= ?`
	if bounded {
		q += ` AND k < ?`
	}
	return q
}

func (t *tx) Enqueue(ctx context.Context, j store.Job) error {
	_, err := t.exec(ctx, enqueueSQL, j.ID, j.Kind, j.Due.UnixNano(), j.Payload)
	if err != nil {
		return fmt.Errorf("sqlite: enqueue %s: %w", j.ID, err)
	}
	return nil
}

func (t *tx) CancelJob(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM jobs WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlite: cancel job %s: %w", id, err)
	}
	return nil
}

func (t *tx) FinishJob(ctx context.Context, id, owner string) error {
	res, err := t.exec(ctx, `DELETE FROM jobs WHERE id = ? AND owner = ?`, id, owner)
	if err != nil {
		return fmt.Errorf("sqlite: finish job %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrConflict
	}
	return nil
}

// Claim claims due jobs for owner.
func (db *DB) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Claimed, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []store.Claimed
	err := db.Update(ctx, func(stx store.Tx) error {
		out = out[:0]
		t := stx.(*tx)
		rows, err := t.query(ctx, `SELECT id, kind, due, payload, attempts FROM jobs WHERE due <= ? AND parked = 0 AND (owner IS NULL OR claim_until <= ?) ORDER BY due LIMIT ?`,
			now.UnixNano(), now.UnixNano(), limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		err = eachRow(rows, func() error {
			var c store.Claimed
			var due int64
			if err := rows.Scan(&c.ID, &c.Kind, &due, &c.Payload, &c.Attempts); err != nil {
				return err
			}
			c.Due = time.Unix(0, due).UTC()
			c.Owner = owner
			out = append(out, c)
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]string, len(out))
		args := []any{owner, now.Add(lease).UnixNano()}
		for i, c := range out {
			ids[i] = "?"
			args = append(args, c.ID)
		}
		_, err = t.exec(ctx, `UPDATE jobs SET owner = ?, claim_until = ? WHERE id IN (`+strings.Join(ids, ",")+`)`, args...)
		if err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		return nil
	})
	return out, err
}

// NextDue returns the earliest due time of claimable jobs.
func (db *DB) NextDue(ctx context.Context, now time.Time) (time.Time, bool, error) {
	var due sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT min(CASE WHEN owner IS NULL THEN due ELSE max(due, claim_until) END) FROM jobs WHERE parked = 0`).Scan(&due)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: next due: %w", err)
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, due.Int64).UTC(), true, nil
}

// Release returns a claimed job to the queue after a failure.
func (db *DB) Release(ctx context.Context, id, owner string, due time.Time, lastErr string) error {
	_, err := db.w.ExecContext(ctx, `UPDATE jobs SET owner = NULL, claim_until = NULL, due = ?, attempts = attempts + 1, last_error = ?
		WHERE id = ? AND owner = ?`, due.UnixNano(), store.JobError(lastErr), id, owner)
	if err != nil {
		return fmt.Errorf("sqlite: release %s: %w", id, err)
	}
	return nil
}

// Park sets a claimed job aside after its last failure.
func (db *DB) Park(ctx context.Context, id, owner string, at time.Time, lastErr string) error {
	_, err := db.w.ExecContext(ctx, `UPDATE jobs SET owner = NULL, claim_until = NULL, due = ?, attempts = attempts + 1, last_error = ?, parked = 1
		WHERE id = ? AND owner = ?`, at.UnixNano(), store.JobError(lastErr), id, owner)
	if err != nil {
		return fmt.Errorf("sqlite: park %s: %w", id, err)
	}
	return nil
}

// ListJobs lists jobs in id order.
func (db *DB) ListJobs(ctx context.Context, after string, limit int) ([]store.JobStatus, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, kind, due, attempts, coalesce(last_error, ''), parked FROM jobs WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list jobs: %w", err)
	}
	var out []store.JobStatus
	err = eachRow(rows, func() error {
		var j store.JobStatus
		var due int64
		if err := rows.Scan(&j.ID, &j.Kind, &due, &j.Attempts, &j.LastError, &j.Parked); err != nil {
			return err
		}
		j.Due = time.Unix(0, due).UTC()
		out = append(out, j)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list jobs: %w", err)
	}
	return out, nil
}
