// Package postgres is the shared store backend: several deskplane nodes use
// one PostgreSQL database through a pgx connection pool.
//
// # Schema
//
// It mirrors store/sqlite: kv(tbl, k, v) with PRIMARY KEY (tbl, k), and
// jobs(id, kind, due, payload, owner, claim_until) with due and claim_until
// in Unix nanoseconds. Keys are stored as bytea rather than text so that
// their order is plain byte order (exactly SQLite's BINARY order, which
// `text COLLATE "C"` also gives) and so that every Go string is a valid key,
// as in SQLite: PostgreSQL text rejects NUL bytes and invalid UTF-8 (such as
// a 0xff byte), and a byte-incremented prefix bound may itself be invalid
// UTF-8.
//
// Migrations are numbered and applied by Open in one transaction holding a
// transaction-level advisory lock, so nodes starting together migrate once.
//
// # Isolation
//
// Update runs at READ COMMITTED and locks what it touches instead of using
// SERIALIZABLE: Get takes the row lock (SELECT … FOR UPDATE), and every
// Get/Put/Create/Delete in an Update first takes a transaction-level
// advisory lock on a 64-bit hash of (schema, table, key) (DB.lockID; the
// schema public hashes table and key alone, see lockSeedOf). The advisory lock also
// covers keys that do not exist yet, which a row lock cannot: two updates
// that both read "not found" and then write the key serialize instead of
// one overwriting the other. With these locks, read-modify-write of records
// serializes just like SQLite's single writer, without the serialization
// failures that SERIALIZABLE raises under contention on one hot record
// (every loser would have to be retried; a handful of retries is not enough
// for a counter updated by many workers). Deadlocks (40P01) and
// serialization failures (40001) are still mapped to store.ErrConflict and
// retried by Update a few times. Hash collisions only make unrelated keys
// wait for one another.
//
// A read marked store.SharedReads (a store.ReadSet's validation: records
// the transaction only checks) takes its keys' advisory locks shared and no
// row lock, so transactions that check the same records (every creation of
// an account and Region checks its directory, bundle and image) overlap
// instead of queueing; writers still wait. A key so read and written later
// in the transaction is upgraded without waiting (deskplane_upgrade_locks):
// if another transaction holds it shared too, the transaction fails with a
// serialization failure (store.ErrConflict), its retry reads exclusive, and
// the node reads that key exclusive from then on (DB.upgraded).
//
// View runs in a REPEATABLE READ, READ ONLY transaction: one snapshot.
// Claim uses FOR UPDATE SKIP LOCKED, so concurrent schedulers claim
// disjoint jobs without waiting for one another.
package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is the PostgreSQL backend. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// writers bounds concurrent write transactions to half the pool, so a
	// read that runs while a write transaction is open (authorization,
	// lookups) always finds a free connection: no pool deadlock.
	writers chan struct{}

	observe atomic.Pointer[func(time.Duration)] // ObserveCommits

	// upgraded holds the lock ids of keys that an update read shared
	// (store.SharedReads) and then wrote: this node reads them exclusive
	// from then on, so a read-modify-write through shared reads conflicts
	// once, not on every contended run.
	upMu     sync.Mutex
	upgraded map[int64]struct{}

	// lockSeed starts the hash of every key's advisory lock id (lockID):
	// the store's schema mixed in (lockSeedOf), 0 for the schema public.
	lockSeed uint64
}

// maxUpgraded bounds DB.upgraded (it starts over when full).
const maxUpgraded = 4096

// noteUpgrades remembers ids as upgraded (DB.upgraded).
func (db *DB) noteUpgrades(ids []int64) {
	db.upMu.Lock()
	defer db.upMu.Unlock()
	if db.upgraded == nil || len(db.upgraded)+len(ids) > maxUpgraded {
		db.upgraded = make(map[int64]struct{})
	}
	for _, id := range ids {
		db.upgraded[id] = struct{}{}
	}
}

// anyUpgraded reports whether one of ids is in DB.upgraded.
func (db *DB) anyUpgraded(ids []int64) bool {
	db.upMu.Lock()
	defer db.upMu.Unlock()
	for _, id := range ids {
		if _, ok := db.upgraded[id]; ok {
			return true
		}
	}
	return false
}

var _ store.Backend = (*DB)(nil)

// migrations are applied in order; entry i is schema version i+1. Never edit
// an applied entry: append a new one.
var migrations = []string{
	`CREATE TABLE kv (
		tbl text NOT NULL,
		k   bytea NOT NULL,
		v   bytea NOT NULL,
		PRIMARY KEY (tbl, k)
	);
	CREATE TABLE jobs (
		id          text PRIMARY KEY,
		kind        text NOT NULL,
		due         bigint NOT NULL,
		payload     bytea,
		owner       text,
		claim_until bigint
	);
	CREATE INDEX jobs_due ON jobs (due);`,
	// Failed runs, the last failure, and jobs set aside after too many.
	`ALTER TABLE jobs
		ADD COLUMN attempts integer NOT NULL DEFAULT 0,
		ADD COLUMN last_error text,
		ADD COLUMN parked boolean NOT NULL DEFAULT false;`,
	// The upgrade of keys' advisory locks from shared to exclusive
	// (txImpl.send): it does not wait, since two transactions that both
	// hold a key shared and both upgrade it would deadlock (PostgreSQL
	// breaks that only after deadlock_timeout, a second by default).
	`CREATE FUNCTION deskplane_upgrade_locks(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
	DECLARE x bigint;
	BEGIN
		FOREACH x IN ARRAY ids LOOP
			IF NOT pg_try_advisory_xact_lock(x) THEN
				RAISE EXCEPTION 'another transaction holds the lock of a key read shared' USING ERRCODE = '40001';
			END IF;
		END LOOP;
	END $$;`,
	// NextDue without a scan of the queue: the earliest unclaimed job
	// from an index, and the claimed ones (a few: those running) from
	// another. Every CreateWorkspaces leaves a maintenance job due much
	// later, so the queue grows with the desktops (40,000 jobs: 9.4 ms a
	// scan, 0.2-0.4 ms with these).
	`CREATE INDEX jobs_unclaimed_due ON jobs (due) WHERE owner IS NULL AND NOT parked;
	CREATE INDEX jobs_claimed ON jobs (claim_until) WHERE owner IS NOT NULL;`,
}

// migrationLock is the advisory lock key that serializes migrations across
// nodes ("deskplan" in ASCII). It is the same in every schema (unlike the
// keys' ids, lockSeedOf): a migration takes it first and waits on no key
// lock while it holds it, so it cannot close a wait across schemas; it only
// makes stores opening in two schemas at once migrate one after the other,
// and old and new nodes of one deployment keep excluding each other.
const migrationLock int64 = 0x6465736b706c616e

// updateAttempts is how many times Update runs fn when it conflicts.
const updateAttempts = 4

// Open connects to the database named by dsn (a libpq URL or key=value
// string; pgxpool options such as pool_max_conns and runtime parameters such
// as search_path are honored) and applies pending migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// A request holds one connection for its transaction and may read
		// through another (authorization caches, audit); the pgx default
		// (max(4, CPUs)) starves under concurrent requests.
		cfg.MaxConns = 24
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool, writers: make(chan struct{}, max(1, int(cfg.MaxConns)/2))}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// FNV-1a, 64 bits (hash/fnv's New64a), inline so that a key's lock id
// can continue from a store's seed (DB.lockSeed).
const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
)

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// lockSeedOf returns the seed of the advisory lock ids of a store whose
// tables are in schema (DB.lockSeed; 0 stands for fnvOffset64).
//
// PostgreSQL's advisory locks belong to the database, not to a schema:
// with ids hashed from (table, key) alone, two deployments (or two test
// stores) in two schemas of one database took the same ids for the same
// account, Region, directory or name. Each keeps its own lock order, but
// the two orders interleave: a transaction of one could wait on a lock a
// transaction of the other held while that one waited on it, a deadlock
// across schemas (session 14: 8 of 18 OnPostgres test runs stalled, three
// test processes side by side, each waiting on sessions of another
// process), and with no deadlock they still slowed each other down. So the
// schema is mixed in: every node of one deployment reads the same
// current_schema() and computes the same ids.
//
// The schema public keeps the ids of the builds before (the hash of table
// and key alone): a deployment there, the usual one, may upgrade node by
// node, old and new nodes excluding each other as before. In any other
// schema the ids change with this build, so its nodes must not run beside
// nodes of an older build: stop them all, then start the new ones (the
// README's PostgreSQL notes). Fencing by a migration would not do: a node
// already running never reads the schema's version again.
func lockSeedOf(schema string) uint64 {
	if schema == "public" {
		return 0
	}
	return fnvAdd(fnvOffset64, schema+"\x00")
}

// lockID is the advisory lock id of table/key in this store (lockSeed):
// FNV-1a of the store's schema (none for public), table, a 0 byte and key.
func (db *DB) lockID(table, key string) int64 {
	h := db.lockSeed
	if h == 0 {
		h = fnvOffset64
	}
	h = fnvAdd(h, table)
	h ^= 0
	h *= fnvPrime64
	return int64(fnvAdd(h, key))
}

// migrate applies pending migrations in one transaction under an advisory
// lock, so concurrent Opens apply each migration exactly once.
func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: migrate: begin: %w", err)
	}
	defer rollback(ctx, tx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("postgres: migrate: create schema_migrations: %w", err)
	}
	var v int
	var schema string
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0), current_schema() FROM schema_migrations`).Scan(&v, &schema); err != nil {
		return fmt.Errorf("postgres: migrate: read version: %w", err)
	}
	db.lockSeed = lockSeedOf(schema)
	if v > len(migrations) {
		return fmt.Errorf("postgres: database schema version %d is newer than this binary (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.Exec(ctx, migrations[i]); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1); err != nil {
			return fmt.Errorf("postgres: migration %d: record version: %w", i+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}

// rollback ends tx if it is still open. It runs even when ctx is done, so
// the connection goes back to the pool clean (or is closed by pgx).
func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(rctx) // ErrTxClosed after Commit; other errors close the conn
}

// Close closes the connection pool, waiting for connections in use.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// wrap adds context to err and marks serialization failures and deadlocks
// as store.ErrConflict so Update retries them.
func wrap(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01") {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrConflict, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// Update runs fn in a READ COMMITTED transaction and commits it. It runs fn
// again (a few times) when the transaction ends in store.ErrConflict.
func (db *DB) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	start := time.Now() // a performance figure (ObserveCommits), not domain time
	for attempt := 1; ; attempt++ {
		err := db.update(ctx, fn, attempt > 1)
		if errors.Is(err, store.ErrConflict) && attempt < updateAttempts && ctx.Err() == nil {
			continue
		}
		if f := db.observe.Load(); f != nil && err == nil {
			(*f)(time.Since(start))
		}
		return err
	}
}

var _ store.CommitObserver = (*DB)(nil)

// ObserveCommits implements store.CommitObserver: f is called with the
// duration of every Update that committed, its retries after conflicts
// included.
func (db *DB) ObserveCommits(f func(time.Duration)) {
	if f == nil {
		db.observe.Store(nil)
		return
	}
	db.observe.Store(&f)
}

// update runs fn once in a transaction; exclusive makes every read take
// its keys' locks exclusive (a retry after a conflict, which may have been
// an upgrade from shared).
func (db *DB) update(ctx context.Context, fn func(tx store.Tx) error, exclusive bool) error {
	select {
	case db.writers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.writers }()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return wrap("begin", err)
	}
	defer conn.Release() // a connection left inside a transaction is closed
	t := &txImpl{q: conn, db: db, noShared: exclusive, own: true}
	if err := fn(t); err != nil {
		t.abort(ctx)
		return err
	}
	if err := t.commit(ctx); err != nil {
		t.abort(ctx)
		return wrap("commit", err)
	}
	return nil
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction, so every read
// sees the same snapshot.
// Get reads one committed record outside any transaction.
func (db *DB) Get(ctx context.Context, table, key string) ([]byte, error) {
	var v []byte
	err := db.pool.QueryRow(ctx, `SELECT v FROM kv WHERE tbl = $1 AND k = $2`, table, []byte(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	return v, nil
}

// Tables lists the tables that hold records, sorted (store.TableLister).
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT tbl FROM kv ORDER BY tbl`)
	if err != nil {
		return nil, wrap("list tables", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("list tables", err)
	}
	return out, nil
}

func (db *DB) View(ctx context.Context, fn func(tx store.Tx) error) error {
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return wrap("begin read", err)
	}
	defer rollback(ctx, ptx)
	return fn(&txImpl{q: ptx, ro: true})
}

// txImpl implements store.Tx on one pgx transaction. It is not safe for
// concurrent use (nor is a store.Tx in general).
type txImpl struct {
	q        querier
	ro       bool
	db       *DB            // the store (Update's transactions)
	noShared bool           // reads marked store.SharedReads are exclusive all the same
	locked   map[int64]int8 // advisory key locks held by this transaction: lockShared or lockExclusive

	// Update's transactions (own): q is a pooled connection, and this
	// txImpl begins and commits the transaction itself. Its BEGIN and its
	// writes that need no answer (Put, PutMany, Enqueue, CancelJob, each
	// with its locks) wait in pre and go to the server ahead of the next
	// statement, in the same round trip, or with the COMMIT: a read after
	// a write still sees it, and a transaction's last writes cost no
	// round trip of their own while it holds its locks.
	own   bool
	begun bool     // BEGIN was sent
	pre   []queued // statements not sent yet, in order
}

// querier is what txImpl runs statements on: a pgx.Tx (View) or a pooled
// connection (Update).
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// queued is a statement waiting in txImpl.pre; op, table and key name it in
// an error.
type queued struct {
	op, table, key string
	sql            string
	args           []any
	// put is set on a Put's or PutMany's upsert: prelude sends a run of
	// them as one lock statement and one upsert per table (coalesce).
	put *queuedPut
	// oneRow: FinishJob's DELETE (finishQueuedSQL), whose failure when it
	// deletes no row is store.ErrConflict.
	oneRow bool
}

// queuedPut is what coalesce needs of a queued Put or PutMany: the
// advisory locks it takes first (exclusive, not held before: its lock
// statement is made by prelude) and its records.
type queuedPut struct {
	ids        []int64
	keys, vals [][]byte
}

func (q *queued) err(err error) error {
	if q.table == "" && q.key == "" {
		return wrap(q.op, err)
	}
	if q.key == "" {
		return wrap(q.op+" "+q.table, err)
	}
	return wrap(fmt.Sprintf("%s %s/%q", q.op, q.table, q.key), err)
}

// beginSQL starts an Update's transaction.
const beginSQL = `begin isolation level read committed read write`

// prelude queues on b what must run before the next statement: BEGIN if
// it was not sent, then pre. It returns how many statements it queued and
// the ones of pre, for their errors; the caller sends b and calls sent.
func (t *txImpl) prelude(b *pgx.Batch) (int, []queued) {
	if !t.own {
		return 0, nil
	}
	n := 0
	if !t.begun {
		b.Queue(beginSQL)
		n++
	}
	pre := coalesce(t.pre)
	for _, q := range pre {
		b.Queue(q.sql, q.args...)
	}
	return n + len(pre), pre
}

// coalesce returns the statements that run pre: each queued statement as
// it is, but each Put and PutMany after its lock statement, and a run of
// two or more consecutive ones as one lock statement (every key's lock, in
// the order of the run, as the separate statements took them) followed by
// one upsert per table (in the order the tables first appear; a key put
// more than once gets its last value). Anything else queued between them
// (an enqueue, a lock upgrade) ends a run and keeps its place.
//
// Taking the run's locks before its upserts instead of between them adds
// no wait: a row of kv is written or locked (FOR UPDATE) only under its
// key's advisory lock, so no other transaction holds a row of the run
// without holding a lock the run takes first. Upserts of different
// tables touch different rows, so their order does not matter.
func coalesce(pre []queued) []queued {
	if !slices.ContainsFunc(pre, func(q queued) bool { return q.put != nil }) {
		return pre
	}
	out := make([]queued, 0, len(pre)+1)
	for i := 0; i < len(pre); {
		if pre[i].put == nil {
			out = append(out, pre[i])
			i++
			continue
		}
		j := i + 1
		for j < len(pre) && pre[j].put != nil {
			j++
		}
		if j == i+1 {
			q := pre[i]
			if len(q.put.ids) > 0 {
				out = append(out, lockStatement(lockExclusive, q.put.ids, q.table, q.key))
			}
			out = append(out, q)
		} else {
			out = coalesceRun(out, pre[i:j])
		}
		i = j
	}
	return out
}

// coalesceRun appends to out the statements of a run of queued puts (see
// coalesce).
func coalesceRun(out []queued, run []queued) []queued {
	var ids []int64
	var tables []string      // in the order they first appear
	by := map[string][]int{} // each table's puts, indices in run
	lockers := 0             // puts that take locks
	var locker *queued
	for i := range run {
		q := &run[i]
		if len(q.put.ids) > 0 {
			ids = append(ids, q.put.ids...)
			lockers++
			locker = q
		}
		if _, ok := by[q.table]; !ok {
			tables = append(tables, q.table)
		}
		by[q.table] = append(by[q.table], i)
	}
	switch {
	case lockers == 1:
		out = append(out, lockStatement(lockExclusive, ids, locker.table, locker.key))
	case lockers > 1:
		l := lockStatement(lockExclusive, ids, "", "")
		if len(tables) == 1 {
			l.op, l.table = fmt.Sprintf("lock %d keys of", len(ids)), tables[0]
		} else {
			l.op = fmt.Sprintf("lock %d keys of %d tables", len(ids), len(tables))
		}
		out = append(out, l)
	}
	for _, table := range tables {
		puts := by[table]
		if len(puts) == 1 {
			out = append(out, run[puts[0]]) // one Put or PutMany (deduplicated)
			continue
		}
		n := 0
		for _, i := range puts {
			n += len(run[i].put.keys)
		}
		ks, vs := make([][]byte, 0, n), make([][]byte, 0, n)
		pos := make(map[string]int, n)
		for _, i := range puts {
			p := run[i].put
			for x, k := range p.keys {
				if at, ok := pos[string(k)]; ok {
					vs[at] = p.vals[x] // the last value wins
					continue
				}
				pos[string(k)] = len(ks)
				ks, vs = append(ks, k), append(vs, p.vals[x])
			}
		}
		if len(ks) == 1 {
			out = append(out, queued{op: "put", table: table, key: string(ks[0]), sql: putSQL, args: []any{table, ks[0], vs[0]}})
			continue
		}
		out = append(out, queued{op: fmt.Sprintf("put %d records of", len(ks)), table: table, sql: putManySQL, args: []any{table, ks, vs}})
	}
	return out
}

// readPrelude reads the results of the n statements prelude queued (the
// BEGIN, if any, then pre) from br. It closes br on an error.
func (t *txImpl) readPrelude(br pgx.BatchResults, n int, pre []queued) error {
	t.begun = t.begun || t.own // sent: abort rolls it back
	t.pre = nil
	begin := n - len(pre)
	for i := range n {
		_, err := br.Exec()
		var pgErr *pgconn.PgError
		if i >= begin && pre[i-begin].oneRow && errors.As(err, &pgErr) && pgErr.Code == "22012" {
			err = store.ErrConflict
		}
		if err != nil {
			br.Close()
			if i < begin {
				return wrap("begin", err)
			}
			return pre[i-begin].err(err)
		}
	}
	return nil
}

// flush sends what prelude would (BEGIN and pre) on its own, for a
// statement that is not sent through send (Scan, Count).
func (t *txImpl) flush(ctx context.Context) error {
	b := &pgx.Batch{}
	n, pre := t.prelude(b)
	if n == 0 {
		return nil
	}
	br := t.q.SendBatch(ctx, b)
	if err := t.readPrelude(br, n, pre); err != nil {
		return err
	}
	return br.Close()
}

// queue adds a write that needs no answer to pre, after its locks ids
// (exclusive). A put's (q.put set) lock statement is made by prelude
// (coalesce); an upgrade of its keys held shared is queued before it.
func (t *txImpl) queue(ids []int64, q queued) {
	if q.put != nil {
		up, rest := t.takeLocks(lockExclusive, ids)
		if len(up) > 0 {
			t.pre = append(t.pre, queued{op: "lock", table: q.table, key: q.key, sql: upgradeSQL, args: []any{up}})
		}
		q.put.ids = rest
		t.pre = append(t.pre, q)
		return
	}
	for _, l := range t.lockStatements(lockExclusive, ids) {
		t.pre = append(t.pre, queued{op: "lock", table: q.table, key: q.key, sql: l.sql, args: l.args})
	}
	t.pre = append(t.pre, q)
}

// commit sends pre and the COMMIT in one round trip. A transaction that
// sent nothing has nothing to commit.
func (t *txImpl) commit(ctx context.Context) error {
	if !t.begun && len(t.pre) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	n, pre := t.prelude(b)
	b.Queue(`commit`)
	br := t.q.SendBatch(ctx, b)
	if err := t.readPrelude(br, n, pre); err != nil {
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("the transaction was rolled back (%s)", tag)
	}
	t.begun = false
	return nil
}

// abort rolls back a transaction whose BEGIN was sent. It runs even when
// ctx is done; if it fails, the connection is closed when released.
func (t *txImpl) abort(ctx context.Context) {
	t.pre = nil
	if !t.begun {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = t.q.Exec(rctx, `rollback`)
	t.begun = false
}

// Lock modes of a key's advisory lock (txImpl.locked).
const (
	lockShared    = 1 // pg_advisory_xact_lock_shared: a read marked store.SharedReads
	lockExclusive = 2 // pg_advisory_xact_lock: every other read and write
)

// pending lists the advisory lock ids of table's keys that this
// transaction does not hold yet in mode (or a stronger one), sorted and
// without duplicates (so two transactions never wait on each other in
// opposite orders). It is nil in read-only transactions, which take no
// locks. A key held shared and now needed exclusive is listed: PostgreSQL
// upgrades the lock (waiting for other holders of the shared lock; two
// transactions upgrading one key deadlock, and PostgreSQL breaks it with
// 40P01, store.ErrConflict).
func (t *txImpl) pending(mode int8, table string, keys ...string) []int64 {
	if t.ro || len(keys) == 0 {
		return nil
	}
	var ids []int64
	for _, k := range keys {
		if id := t.db.lockID(table, k); t.locked[id] < mode {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// readLocks returns the lock mode of a read of table's keys and the ids it
// has yet to take (pending): shared when ctx is marked by
// store.SharedReads, unless this is a retry or one of the keys was
// upgraded before (DB.upgraded).
func (t *txImpl) readLocks(ctx context.Context, table string, keys ...string) (int8, []int64) {
	return t.readLocksIn(store.ReadsShared(ctx), table, keys...)
}

// readLocksIn is readLocks of a read that is shared or not.
func (t *txImpl) readLocksIn(shared bool, table string, keys ...string) (int8, []int64) {
	if t.ro || t.noShared || !shared {
		return lockExclusive, t.pending(lockExclusive, table, keys...)
	}
	ids := t.pending(lockShared, table, keys...)
	if t.db.anyUpgraded(ids) {
		return lockExclusive, t.pending(lockExclusive, table, keys...)
	}
	return lockShared, ids
}

// Lock statements, by mode, for one key and for several (taken in the
// array's order, which pending sorts).
var lockSQL = [...][2]string{
	lockShared:    {`SELECT pg_advisory_xact_lock_shared($1)`, `SELECT pg_advisory_xact_lock_shared(x) FROM (SELECT x FROM unnest($1::bigint[]) WITH ORDINALITY AS u(x, i) ORDER BY i) s`},
	lockExclusive: {`SELECT pg_advisory_xact_lock($1)`, `SELECT pg_advisory_xact_lock(x) FROM (SELECT x FROM unnest($1::bigint[]) WITH ORDINALITY AS u(x, i) ORDER BY i) s`},
}

// send takes the advisory locks ids (see pending) in mode and runs one
// statement after them in a single round trip to the server (a pipelined
// batch: the server runs the statement only once it holds every lock, and
// skips it if a lock fails). Every Get/Put/Create/Delete of an Update so
// waits for its keys and does its work in one round trip instead of two,
// which shortens the time a transaction holds the locks it took before.
// The caller reads the statement's result from the returned BatchResults
// and closes them.
func (t *txImpl) send(ctx context.Context, mode int8, ids []int64, sql string, args ...any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	n, pre := t.prelude(b)
	locks := t.lockStatements(mode, ids)
	for _, l := range locks {
		b.Queue(l.sql, l.args...)
	}
	b.Queue(sql, args...)
	br := t.q.SendBatch(ctx, b)
	if err := t.readPrelude(br, n, pre); err != nil {
		return nil, err
	}
	for range locks {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

// lockStatements returns the statements that take the advisory locks ids
// (see pending) in mode, and counts them as held. Keys held shared and now
// needed exclusive are upgraded first, by deskplane_upgrade_locks: without
// waiting (a conflict when another transaction holds one shared; the retry
// reads exclusive).
func (t *txImpl) lockStatements(mode int8, ids []int64) []queued {
	up, ids := t.takeLocks(mode, ids)
	var out []queued
	if len(up) > 0 {
		out = append(out, queued{op: "lock", sql: upgradeSQL, args: []any{up}})
	}
	if len(ids) > 0 {
		out = append(out, lockStatement(mode, ids, "", ""))
	}
	return out
}

// upgradeSQL upgrades keys' advisory locks from shared to exclusive.
const upgradeSQL = `SELECT deskplane_upgrade_locks($1)`

// takeLocks counts the advisory locks ids (see pending) as held in mode
// and returns those to upgrade (held shared, needed exclusive) and the
// others, to take, in the order of ids.
func (t *txImpl) takeLocks(mode int8, ids []int64) (up, rest []int64) {
	if len(ids) == 0 {
		return nil, nil
	}
	if mode == lockExclusive {
		for _, id := range ids {
			if t.locked[id] == lockShared {
				up = append(up, id)
			}
		}
		if len(up) > 0 {
			ids = slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return t.locked[id] == lockShared })
			t.db.noteUpgrades(up)
			for _, id := range up {
				t.locked[id] = lockExclusive
			}
		}
	}
	if t.locked == nil {
		t.locked = make(map[int64]int8)
	}
	for _, id := range ids {
		t.locked[id] = max(t.locked[id], mode)
	}
	return up, ids
}

// lockStatement is the statement that takes the advisory locks ids (at
// least one) in mode, in the order of ids; table and key name it in an
// error.
func lockStatement(mode int8, ids []int64, table, key string) queued {
	if len(ids) == 1 {
		return queued{op: "lock", table: table, key: key, sql: lockSQL[mode][0], args: []any{ids[0]}}
	}
	return queued{op: "lock", table: table, key: key, sql: lockSQL[mode][1], args: []any{ids}}
}

// exec runs sql after taking ids (send) and returns its command tag.
func (t *txImpl) exec(ctx context.Context, ids []int64, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := t.send(ctx, lockExclusive, ids, sql, args...)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *txImpl) Get(ctx context.Context, table, key string) ([]byte, error) {
	q := `SELECT v FROM kv WHERE tbl = $1 AND k = $2`
	mode, ids := t.readLocks(ctx, table, key)
	if !t.ro && mode == lockExclusive {
		q += ` FOR UPDATE`
	}
	var v []byte
	br, err := t.send(ctx, mode, ids, q, table, []byte(key))
	if err == nil {
		err = br.QueryRow().Scan(&v)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("get %s/%q", table, key), err)
	}
	return v, nil
}

const putSQL = `INSERT INTO kv (tbl, k, v) VALUES ($1, $2, $3)
		ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v`

func (t *txImpl) Put(ctx context.Context, table, key string, value []byte) error {
	ids := t.pending(lockExclusive, table, key)
	if t.own {
		// The value is copied: it is sent later, and the caller may reuse it.
		k, v := []byte(key), bytes.Clone(value)
		t.queue(ids, queued{op: "put", table: table, key: key, sql: putSQL, args: []any{table, k, v},
			put: &queuedPut{keys: [][]byte{k}, vals: [][]byte{v}}})
		return nil
	}
	_, err := t.exec(ctx, ids, putSQL, table, []byte(key), value)
	if err != nil {
		return wrap(fmt.Sprintf("put %s/%q", table, key), err)
	}
	return nil
}

func (t *txImpl) Create(ctx context.Context, table, key string, value []byte) error {
	tag, err := t.exec(ctx, t.pending(lockExclusive, table, key), `INSERT INTO kv (tbl, k, v) VALUES ($1, $2, $3)
		ON CONFLICT (tbl, k) DO NOTHING`, table, []byte(key), value)
	if err != nil {
		return wrap(fmt.Sprintf("create %s/%q", table, key), err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return nil
}

func (t *txImpl) Delete(ctx context.Context, table, key string) error {
	tag, err := t.exec(ctx, t.pending(lockExclusive, table, key), `DELETE FROM kv WHERE tbl = $1 AND k = $2`, table, []byte(key))
	if err != nil {
		return wrap(fmt.Sprintf("delete %s/%q", table, key), err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func byteKeys(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

func (t *txImpl) GetMany(ctx context.Context, table string, keys []string) (map[string][]byte, error) {
	q := `SELECT k, v FROM kv WHERE tbl = $1 AND k = ANY($2::bytea[])`
	mode, ids := t.readLocks(ctx, table, keys...)
	if !t.ro && mode == lockExclusive {
		q += ` FOR UPDATE`
	}
	br, err := t.send(ctx, mode, ids, q, table, byteKeys(keys))
	if err != nil {
		return nil, wrap(fmt.Sprintf("get %d records of %s", len(keys), table), err)
	}
	defer br.Close()
	out := make(map[string][]byte, len(keys))
	if err := readRecords(br, out); err != nil {
		return nil, wrap(fmt.Sprintf("get %d records of %s", len(keys), table), err)
	}
	return out, nil
}

// readRecords reads the rows (k, v) of br's next statement into out.
func readRecords(br pgx.BatchResults, out map[string][]byte) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		out[string(k)] = v
	}
	return rows.Err()
}

// readCreated reads the keys (k) br's next statement returned: those an
// INSERT … RETURNING k created.
func readCreated(br pgx.BatchResults, n int) (map[string]bool, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	created := make(map[string]bool, n)
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		created[string(k)] = true
	}
	return created, rows.Err()
}

func kvArrays(recs []store.KV) ([]string, [][]byte, [][]byte) {
	keys := make([]string, len(recs))
	ks := make([][]byte, len(recs))
	vs := make([][]byte, len(recs))
	for i, r := range recs {
		keys[i], ks[i], vs[i] = r.Key, []byte(r.Key), r.Value
	}
	return keys, ks, vs
}

const putManySQL = `INSERT INTO kv (tbl, k, v) SELECT $1, u.k, u.v FROM unnest($2::bytea[], $3::bytea[]) AS u(k, v)
		ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v`

func (t *txImpl) PutMany(ctx context.Context, table string, recs []store.KV) error {
	recs = store.Dedupe(recs, true) // one row may not be updated twice by one statement
	keys, ks, vs := kvArrays(recs)
	ids := t.pending(lockExclusive, table, keys...)
	if t.own {
		for i, v := range vs {
			vs[i] = bytes.Clone(v) // sent later: the caller may reuse them
		}
		t.queue(ids, queued{op: fmt.Sprintf("put %d records of", len(recs)), table: table, sql: putManySQL, args: []any{table, ks, vs},
			put: &queuedPut{keys: ks, vals: vs}})
		return nil
	}
	_, err := t.exec(ctx, ids, putManySQL, table, ks, vs)
	if err != nil {
		return wrap(fmt.Sprintf("put %d records of %s", len(recs), table), err)
	}
	return nil
}

func (t *txImpl) CreateMany(ctx context.Context, table string, recs []store.KV) ([]string, error) {
	keys, ks, vs := kvArrays(store.Dedupe(recs, false))
	br, err := t.send(ctx, lockExclusive, t.pending(lockExclusive, table, keys...), createManySQL, table, ks, vs)
	if err != nil {
		return nil, wrap(fmt.Sprintf("create %d records of %s", len(keys), table), err)
	}
	defer br.Close()
	created, err := readCreated(br, len(keys))
	if err != nil {
		return nil, wrap(fmt.Sprintf("create %d records of %s", len(keys), table), err)
	}
	return store.Existing(recs, created), nil
}

var _ store.TablesTx = (*txImpl)(nil)

// part is one statement of a batch sent by sendParts, after its locks.
type part struct {
	locks []queued
	sql   string
	args  []any
}

// sendParts sends every part (each statement after its locks, as send
// does for one) in one round trip, and calls read for each part in order
// with the results, positioned at its statement (after its locks). A
// statement whose lock or a statement before it failed is not run: the
// first error is returned.
func (t *txImpl) sendParts(ctx context.Context, parts []part, read func(i int, br pgx.BatchResults) error) error {
	b := &pgx.Batch{}
	n, pre := t.prelude(b)
	for _, p := range parts {
		for _, l := range p.locks {
			b.Queue(l.sql, l.args...)
		}
		b.Queue(p.sql, p.args...)
	}
	br := t.q.SendBatch(ctx, b)
	if err := t.readPrelude(br, n, pre); err != nil {
		return err
	}
	for i, p := range parts {
		for range p.locks {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		if err := read(i, br); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// GetTables implements store.TablesTx: the reads' locks and SELECTs in one
// round trip, each as GetMany sends it (shared when the read is marked
// Shared or ctx by store.SharedReads), in the order of reads.
func (t *txImpl) GetTables(ctx context.Context, reads []store.TableKeys) ([]map[string][]byte, error) {
	out := make([]map[string][]byte, len(reads))
	parts := make([]part, 0, len(reads))
	at := make([]int, 0, len(reads)) // the read of each part
	for i, r := range reads {
		out[i] = make(map[string][]byte, len(r.Keys))
		if len(r.Keys) == 0 {
			continue
		}
		q := `SELECT k, v FROM kv WHERE tbl = $1 AND k = ANY($2::bytea[])`
		mode, ids := t.readLocksIn(r.Shared || store.ReadsShared(ctx), r.Table, r.Keys...)
		if !t.ro && mode == lockExclusive {
			q += ` FOR UPDATE`
		}
		parts = append(parts, part{locks: t.lockStatements(mode, ids), sql: q, args: []any{r.Table, byteKeys(r.Keys)}})
		at = append(at, i)
	}
	if len(parts) == 0 {
		return out, nil
	}
	err := t.sendParts(ctx, parts, func(j int, br pgx.BatchResults) error {
		return readRecords(br, out[at[j]])
	})
	if err != nil {
		return nil, wrap(fmt.Sprintf("get records of %d tables", len(parts)), err)
	}
	return out, nil
}

const createManySQL = `INSERT INTO kv (tbl, k, v) SELECT $1, u.k, u.v FROM unnest($2::bytea[], $3::bytea[]) AS u(k, v)
		ON CONFLICT (tbl, k) DO NOTHING RETURNING k`

// CreateTables implements store.TablesTx: the creations' locks and
// INSERTs in one round trip, each as CreateMany sends it, in order.
func (t *txImpl) CreateTables(ctx context.Context, creates []store.TableRecs) ([][]string, error) {
	out := make([][]string, len(creates))
	parts := make([]part, 0, len(creates))
	at := make([]int, 0, len(creates))
	keys := make([][]string, 0, len(creates))
	for i, c := range creates {
		if len(c.Recs) == 0 {
			continue
		}
		ks, kb, vs := kvArrays(store.Dedupe(c.Recs, false))
		parts = append(parts, part{locks: t.lockStatements(lockExclusive, t.pending(lockExclusive, c.Table, ks...)), sql: createManySQL, args: []any{c.Table, kb, vs}})
		at = append(at, i)
		keys = append(keys, ks)
	}
	if len(parts) == 0 {
		return out, nil
	}
	err := t.sendParts(ctx, parts, func(j int, br pgx.BatchResults) error {
		created, err := readCreated(br, len(keys[j]))
		if err != nil {
			return err
		}
		out[at[j]] = store.Existing(creates[at[j]].Recs, created)
		return nil
	})
	if err != nil {
		return nil, wrap(fmt.Sprintf("create records of %d tables", len(parts)), err)
	}
	return out, nil
}

// keyRange returns the WHERE clause (after tbl = $1) and arguments that
// select keys with prefix and greater than after.
func keyRange(table, prefix, after string) (string, []any) {
	args := []any{table}
	cond := ""
	if after != "" && after >= prefix {
		args = append(args, []byte(after))
		cond += fmt.Sprintf(` AND k > $%d`, len(args))
	} else if prefix != "" {
		args = append(args, []byte(prefix))
		cond += fmt.Sprintf(` AND k >= $%d`, len(args))
	}
	if end, ok := store.PrefixEnd(prefix); ok {
		args = append(args, []byte(end))
		cond += fmt.Sprintf(` AND k < $%d`, len(args))
	}
	return cond, args
}

// scanPage is how many records Scan fetches per query. Scan buffers one page
// before calling fn, so fn may use the transaction (a pgx connection cannot
// run a query while another one's rows are open).
const scanPage = 256

func (t *txImpl) Scan(ctx context.Context, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	type rec struct {
		k string
		v []byte
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	page := make([]rec, 0, scanPage)
	for {
		n := scanPage
		if limit > 0 && limit < n {
			n = limit
		}
		cond, args := keyRange(table, prefix, after)
		args = append(args, n)
		rows, err := t.q.Query(ctx, `SELECT k, v FROM kv WHERE tbl = $1`+cond+
			fmt.Sprintf(` ORDER BY k LIMIT $%d`, len(args)), args...)
		if err != nil {
			return wrap(fmt.Sprintf("scan %s/%q", table, prefix), err)
		}
		page = page[:0]
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return wrap(fmt.Sprintf("scan %s/%q", table, prefix), err)
			}
			page = append(page, rec{string(k), v})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap(fmt.Sprintf("scan %s/%q", table, prefix), err)
		}
		for _, r := range page {
			if err := fn(r.k, r.v); err != nil {
				if errors.Is(err, store.ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(page) < n {
			return nil
		}
		if limit > 0 {
			limit -= len(page)
			if limit == 0 {
				return nil
			}
		}
		after = page[len(page)-1].k
	}
}

func (t *txImpl) Count(ctx context.Context, table, prefix string) (int, error) {
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	cond, args := keyRange(table, prefix, "")
	var n int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM kv WHERE tbl = $1`+cond, args...).Scan(&n); err != nil {
		return 0, wrap(fmt.Sprintf("count %s/%q", table, prefix), err)
	}
	return n, nil
}

const enqueueSQL = `INSERT INTO jobs (id, kind, due, payload, owner, claim_until)
		VALUES ($1, $2, $3, $4, NULL, NULL)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, due = excluded.due,
			payload = excluded.payload, owner = NULL, claim_until = NULL,
			attempts = 0, last_error = NULL, parked = false`

func (t *txImpl) Enqueue(ctx context.Context, j store.Job) error {
	args := []any{j.ID, j.Kind, j.Due.UnixNano(), bytes.Clone(j.Payload)}
	if t.own {
		t.queue(nil, queued{op: "enqueue " + j.ID, sql: enqueueSQL, args: args})
		return nil
	}
	_, err := t.exec(ctx, nil, enqueueSQL, args...)
	if err != nil {
		return wrap("enqueue "+j.ID, err)
	}
	return nil
}

func (t *txImpl) CancelJob(ctx context.Context, id string) error {
	if t.own {
		t.queue(nil, queued{op: "cancel job " + id, sql: `DELETE FROM jobs WHERE id = $1`, args: []any{id}})
		return nil
	}
	if _, err := t.exec(ctx, nil, `DELETE FROM jobs WHERE id = $1`, id); err != nil {
		return wrap("cancel job "+id, err)
	}
	return nil
}

// finishQueuedSQL deletes a claimed job and fails, on the server, when it
// deleted no row (a division by zero, SQLSTATE 22012): the server then
// skips what was sent after it in the batch, a COMMIT too, and the
// transaction is rolled back (readPrelude reports store.ErrConflict).
const finishQueuedSQL = `WITH d AS (DELETE FROM jobs WHERE id = $1 AND owner = $2 RETURNING 1) SELECT 1 / (SELECT count(*) FROM d)::int`

// FinishJob deletes the job if owner still holds its claim, and reports
// store.ErrConflict otherwise. In an Update it is queued, as a write that
// needs no answer: the DELETE goes to the server with the transaction's
// next statement (a job's handler starts with a read: its desktops, its
// record) or its COMMIT, and a DELETE of no row fails there
// (finishQueuedSQL), before the statements after it run: that statement
// returns store.ErrConflict. The handler so sees nothing of the store
// before the claim is checked, and its effect is rolled back with the
// claim's failure, as when FinishJob answered on its own round trip (the
// first of every job's transaction until session 13).
func (t *txImpl) FinishJob(ctx context.Context, id, owner string) error {
	if t.own {
		t.queue(nil, queued{op: "finish job " + id, sql: finishQueuedSQL, args: []any{id, owner}, oneRow: true})
		return nil
	}
	tag, err := t.exec(ctx, nil, `DELETE FROM jobs WHERE id = $1 AND owner = $2`, id, owner)
	if err != nil {
		return wrap("finish job "+id, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrConflict
	}
	return nil
}

// Claim claims up to limit due jobs for owner in one statement. Rows locked
// by concurrent claims or finishes are skipped rather than waited for.
// A claim expires strictly after claim_until, as in store/sqlite.
func (db *DB) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Claimed, error) {
	if limit <= 0 {
		return nil, nil
	}
	n := now.UnixNano()
	rows, err := db.pool.Query(ctx, `WITH c AS (
			SELECT id FROM jobs
			WHERE due <= $1 AND NOT parked AND (owner IS NULL OR claim_until <= $1)
			ORDER BY due, id
			LIMIT $4
			FOR UPDATE SKIP LOCKED
		)
		UPDATE jobs j SET owner = $2, claim_until = $3
		FROM c WHERE j.id = c.id
		RETURNING j.id, j.kind, j.due, j.payload, j.attempts`,
		n, owner, now.Add(lease).UnixNano(), limit)
	if err != nil {
		return nil, wrap("claim", err)
	}
	defer rows.Close()
	var out []store.Claimed
	for rows.Next() {
		var c store.Claimed
		var due int64
		if err := rows.Scan(&c.ID, &c.Kind, &due, &c.Payload, &c.Attempts); err != nil {
			return nil, wrap("claim", err)
		}
		c.Due = time.Unix(0, due).UTC()
		c.Owner = owner
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("claim", err)
	}
	// RETURNING has no defined order.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// NextDue returns the earliest time at which a job is or becomes claimable:
// its due time, or for a claimed job the later of due and claim_until.
func (db *DB) NextDue(ctx context.Context, now time.Time) (time.Time, bool, error) {
	var due *int64
	err := db.pool.QueryRow(ctx, `SELECT least(
		(SELECT min(due) FROM jobs WHERE owner IS NULL AND NOT parked),
		(SELECT min(greatest(due, claim_until)) FROM jobs WHERE owner IS NOT NULL AND NOT parked))`).Scan(&due)
	if err != nil {
		return time.Time{}, false, wrap("next due", err)
	}
	if due == nil {
		return time.Time{}, false, nil
	}
	return time.Unix(0, *due).UTC(), true, nil
}

// Release returns a job claimed by owner to the queue after a failure, due
// at due. It does nothing if owner no longer holds the claim.
func (db *DB) Release(ctx context.Context, id, owner string, due time.Time, lastErr string) error {
	_, err := db.pool.Exec(ctx, `UPDATE jobs SET owner = NULL, claim_until = NULL, due = $1, attempts = attempts + 1, last_error = $2
		WHERE id = $3 AND owner = $4`, due.UnixNano(), store.JobError(lastErr), id, owner)
	if err != nil {
		return wrap("release "+id, err)
	}
	return nil
}

// Park sets a job claimed by owner aside after its last failure. It does
// nothing if owner no longer holds the claim.
func (db *DB) Park(ctx context.Context, id, owner string, at time.Time, lastErr string) error {
	_, err := db.pool.Exec(ctx, `UPDATE jobs SET owner = NULL, claim_until = NULL, due = $1, attempts = attempts + 1, last_error = $2, parked = true
		WHERE id = $3 AND owner = $4`, at.UnixNano(), store.JobError(lastErr), id, owner)
	if err != nil {
		return wrap("park "+id, err)
	}
	return nil
}

// ListJobs lists jobs in id order (text ordered bytewise, as in SQLite).
func (db *DB) ListJobs(ctx context.Context, after string, limit int) ([]store.JobStatus, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, kind, due, attempts, coalesce(last_error, ''), parked FROM jobs
		WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`, after, limit)
	if err != nil {
		return nil, wrap("list jobs", err)
	}
	defer rows.Close()
	var out []store.JobStatus
	for rows.Next() {
		var j store.JobStatus
		var due int64
		if err := rows.Scan(&j.ID, &j.Kind, &due, &j.Attempts, &j.LastError, &j.Parked); err != nil {
			return nil, wrap("list jobs", err)
		}
		j.Due = time.Unix(0, due).UTC()
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list jobs", err)
	}
	return out, nil
}
