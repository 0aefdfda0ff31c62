package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testDSNEnv names the environment variable holding the DSN of a database
// the tests may create schemas in, e.g. as printed by scripts/pg-start.sh.
const testDSNEnv = "DESKPLANE_TEST_POSTGRES"

// testDSN returns the test database DSN or skips the test.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(testDSNEnv)
	if dsn == "" {
		t.Skipf("%s is not set; start a throwaway server with: eval \"$(scripts/pg-start.sh)\"", testDSNEnv)
	}
	return dsn
}

// withSearchPath returns dsn with search_path set to schema, for URL and
// key=value DSNs alike.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", testDSNEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns a DSN whose connections use it.
func freshSchema(t testing.TB) (dsn string, admin *pgxpool.Pool) {
	t.Helper()
	base := testDSN(t)
	admin, err := pgxpool.New(t.Context(), base)
	if err != nil {
		t.Fatalf("connect to %s: %v", testDSNEnv, err)
	}
	t.Cleanup(admin.Close)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "deskplane_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	// Registered after admin.Close, so it runs before it (cleanups are LIFO)
	// and after the cleanups registered later by the test (closing the DB).
	t.Cleanup(func() {
		if _, err := admin.Exec(context.WithoutCancel(t.Context()), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema), admin
}

func openDB(t testing.TB, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Backend {
		dsn, _ := freshSchema(t)
		return openDB(t, dsn)
	})
}

// TestConcurrentOpenMigratesOnce starts several nodes at once on a fresh
// schema: every Open must succeed and each migration be applied once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn, admin := freshSchema(t)
	const nodes = 5
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		dbs   [nodes]*DB
		errs  [nodes]error
	)
	for i := range nodes {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		} else {
			t.Cleanup(func() { dbs[i].Close() })
		}
	}
	if t.Failed() {
		return
	}
	schema := schemaOf(t, dsn)
	var versions []int
	rows, err := admin.Query(t.Context(), "SELECT version FROM "+schema+".schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(migrations) {
		t.Errorf("schema_migrations = %v, want versions 1..%d once each", versions, len(migrations))
	}
	for i, v := range versions {
		if v != i+1 {
			t.Errorf("schema_migrations = %v, want 1..%d", versions, len(migrations))
			break
		}
	}
	// Every node works on the shared schema.
	ctx := t.Context()
	for i, db := range dbs {
		if err := db.Update(ctx, func(tx store.Tx) error { return tx.Create(ctx, "t", "k", []byte{byte(i)}) }); err != nil && (i == 0 || !errors.Is(err, store.ErrExists)) {
			t.Errorf("node %d: Create = %v", i, err)
		}
	}
	// Reopening applies nothing new.
	openDB(t, dsn)
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+schema+".schema_migrations").Scan(&n); err != nil || n != len(migrations) {
		t.Errorf("after reopen: %d migration rows, %v; want %d", n, err, len(migrations))
	}
}

// TestOpenRefusesNewerSchema checks that a binary does not run against a
// schema migrated by a newer one.
func TestOpenRefusesNewerSchema(t *testing.T) {
	dsn, admin := freshSchema(t)
	openDB(t, dsn)
	schema := schemaOf(t, dsn)
	if _, err := admin.Exec(t.Context(), "INSERT INTO "+schema+".schema_migrations (version) VALUES ($1)", len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), dsn)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a schema newer than the binary")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open error = %v, want a 'newer' schema error", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	testDSN(t)
	for _, dsn := range []string{"postgres://%zz", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=5"} {
		if db, err := Open(t.Context(), dsn); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

// TestConflictMapping checks that serialization failures and deadlocks
// surface as store.ErrConflict (and are retried by Update).
func TestConflictMapping(t *testing.T) {
	dsn, _ := freshSchema(t)
	db := openDB(t, dsn)
	ctx := t.Context()
	calls := 0
	err := db.Update(ctx, func(tx store.Tx) error {
		calls++
		_, err := tx.(*txImpl).q.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'synthetic' USING ERRCODE = '40001'; END $$`)
		return wrap("synthetic", err)
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Update = %v, want ErrConflict", err)
	}
	if calls != updateAttempts {
		t.Errorf("fn ran %d times, want %d (retried)", calls, updateAttempts)
	}
	if err := wrap("x", errors.New("plain")); errors.Is(err, store.ErrConflict) {
		t.Errorf("plain error mapped to ErrConflict")
	}
}

func schemaOf(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RuntimeParams["search_path"]
}

// TestWritesHoldKeyLocks checks that every read and write of an Update holds
// its keys' advisory locks once it returns, present and absent keys alike
// (the lock goes to the server in one round trip with the statement): a
// second connection cannot take them until the transaction ends. Put and
// PutMany wait for the next statement (txImpl.pre): they hold theirs once
// it returns.
func TestWritesHoldKeyLocks(t *testing.T) {
	dsn, admin := freshSchema(t)
	db := openDB(t, dsn)
	ctx := t.Context()
	b := make([]byte, 4)
	rand.Read(b)
	tbl := "locks_" + hex.EncodeToString(b) // advisory locks are database-wide
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.PutMany(ctx, tbl, []store.KV{{Key: "there", Value: []byte("1")}, {Key: "there2", Value: []byte("2")}})
	}); err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		keys []string
		op   func(tx store.Tx) error
	}{
		{"Get present", []string{"there"}, func(tx store.Tx) error { _, err := tx.Get(ctx, tbl, "there"); return err }},
		{"Get absent", []string{"a1"}, func(tx store.Tx) error {
			if _, err := tx.Get(ctx, tbl, "a1"); !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		}},
		{"GetMany", []string{"there", "there2", "a2"}, func(tx store.Tx) error {
			_, err := tx.GetMany(ctx, tbl, []string{"there", "there2", "a2"})
			return err
		}},
		{"Put", []string{"a3"}, func(tx store.Tx) error {
			if err := tx.Put(ctx, tbl, "a3", []byte("x")); err != nil {
				return err
			}
			_, err := tx.Count(ctx, tbl, "none")
			return err
		}},
		{"Create", []string{"a4"}, func(tx store.Tx) error { return tx.Create(ctx, tbl, "a4", []byte("x")) }},
		{"Delete", []string{"there"}, func(tx store.Tx) error { return tx.Delete(ctx, tbl, "there") }},
		{"PutMany", []string{"a5", "a6"}, func(tx store.Tx) error {
			if err := tx.PutMany(ctx, tbl, []store.KV{{Key: "a5", Value: []byte("x")}, {Key: "a6", Value: []byte("y")}}); err != nil {
				return err
			}
			_, err := tx.Get(ctx, tbl, "none")
			if errors.Is(err, store.ErrNotFound) {
				err = nil
			}
			return err
		}},
		{"CreateMany", []string{"a7", "a8"}, func(tx store.Tx) error {
			_, err := tx.CreateMany(ctx, tbl, []store.KV{{Key: "a7", Value: []byte("x")}, {Key: "a8", Value: []byte("y")}})
			return err
		}},
	}
	for _, o := range ops {
		errRollback := errors.New("roll back")
		err := db.Update(ctx, func(tx store.Tx) error {
			if err := o.op(tx); err != nil {
				return err
			}
			for _, k := range o.keys {
				var got bool
				if err := admin.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, db.lockID(tbl, k)).Scan(&got); err != nil {
					return err
				}
				if got {
					t.Errorf("%s: another connection took the lock of %s while the transaction ran", o.name, k)
				}
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Errorf("%s: %v", o.name, err)
		}
	}
}

// tryLock reports whether another connection may take the advisory lock of
// tbl/key now, exclusive or shared (the lock is released at once).
func tryLock(t *testing.T, db *DB, admin *pgxpool.Pool, tbl, key string, shared bool) bool {
	t.Helper()
	q := `SELECT pg_try_advisory_xact_lock($1)`
	if shared {
		q = `SELECT pg_try_advisory_xact_lock_shared($1)`
	}
	var got bool
	if err := admin.QueryRow(t.Context(), q, db.lockID(tbl, key)).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSharedReadsLockShared checks that a read marked store.SharedReads
// holds its key's advisory lock shared until the transaction ends: another
// transaction may read the key so too, but not write it; an unmarked read
// holds it exclusive.
func TestSharedReadsLockShared(t *testing.T) {
	dsn, admin := freshSchema(t)
	db := openDB(t, dsn)
	ctx := t.Context()
	b := make([]byte, 4)
	rand.Read(b)
	tbl := "shared_" + hex.EncodeToString(b)
	// A key each: the upgrade at the end makes this node read its key
	// exclusive from then on.
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.PutMany(ctx, tbl, []store.KV{{Key: "k1", Value: []byte("1")}, {Key: "k2", Value: []byte("1")}})
	}); err != nil {
		t.Fatal(err)
	}
	errRollback := errors.New("roll back")
	for _, read := range []struct {
		name, k string
		get     func(ctx context.Context, tx store.Tx, k string) error
	}{
		{"Get", "k1", func(ctx context.Context, tx store.Tx, k string) error { _, err := tx.Get(ctx, tbl, k); return err }},
		{"GetMany", "k2", func(ctx context.Context, tx store.Tx, k string) error {
			_, err := tx.GetMany(ctx, tbl, []string{k})
			return err
		}},
	} {
		err := db.Update(ctx, func(tx store.Tx) error {
			if err := read.get(store.SharedReads(ctx), tx, read.k); err != nil {
				return err
			}
			if tryLock(t, db, admin, tbl, read.k, false) {
				t.Errorf("shared %s: another connection took the key's lock exclusive", read.name)
			}
			if !tryLock(t, db, admin, tbl, read.k, true) {
				t.Errorf("shared %s: another connection could not take the key's lock shared", read.name)
			}
			// Another update reads it shared meanwhile.
			if err := db.Update(ctx, func(tx2 store.Tx) error {
				v, err := tx2.Get(store.SharedReads(ctx), tbl, read.k)
				if err == nil && string(v) != "1" {
					t.Errorf("shared %s: the other update read %q", read.name, v)
				}
				return err
			}); err != nil {
				t.Errorf("shared %s: the other update: %v", read.name, err)
			}
			// An unmarked read takes it exclusive (an upgrade).
			if err := read.get(ctx, tx, read.k); err != nil {
				return err
			}
			if tryLock(t, db, admin, tbl, read.k, true) {
				t.Errorf("%s after the shared one: another connection took the key's lock shared", read.name)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Errorf("%s: %v", read.name, err)
		}
	}
}

// TestSharedReadUpgrades runs two updates that both read one key shared and
// then both write it, so each waits for the other's shared lock: PostgreSQL
// breaks the deadlock, Update retries the loser (store.ErrConflict), and
// neither write is lost.
func TestSharedReadUpgrades(t *testing.T) {
	dsn, _ := freshSchema(t)
	db := openDB(t, dsn)
	ctx := t.Context()
	b := make([]byte, 4)
	rand.Read(b)
	tbl := "upgrade_" + hex.EncodeToString(b)
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, tbl, "n", []byte{0}) }); err != nil {
		t.Fatal(err)
	}
	var read sync.WaitGroup // both first attempts have read before either writes
	read.Add(2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			first := true
			err := db.Update(ctx, func(tx store.Tx) error {
				v, err := tx.Get(store.SharedReads(ctx), tbl, "n")
				if err != nil {
					return err
				}
				if first {
					first = false
					read.Done()
					read.Wait()
				}
				return tx.Put(ctx, tbl, "n", []byte{v[0] + 1})
			})
			if err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	v, err := db.Get(ctx, tbl, "n")
	if err != nil || len(v) != 1 || v[0] != 2 {
		t.Errorf("after two increments: %v, %v; want [2]", v, err)
	}
}

// TestConcurrentIncrements runs read-modify-writes of one existing key from
// many goroutines: none may be lost.
func TestConcurrentIncrements(t *testing.T) {
	dsn, _ := freshSchema(t)
	db := openDB(t, dsn)
	ctx := t.Context()
	b := make([]byte, 4)
	rand.Read(b)
	tbl := "incr_" + hex.EncodeToString(b)
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, tbl, "n", []byte("0")) }); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := db.Update(ctx, func(tx store.Tx) error {
					v, err := tx.Get(ctx, tbl, "n")
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(v))
					if err != nil {
						return err
					}
					return tx.Put(ctx, tbl, "n", []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, err := db.Get(ctx, tbl, "n"); err != nil || string(v) != strconv.Itoa(workers*each) {
		t.Errorf("after %d increments: %q, %v", workers*each, v, err)
	}
}

// TestQueuedWrites checks the writes an Update sends with its next
// statement or its COMMIT (txImpl.pre): later reads of the transaction see
// them, Create still reports a key they made, a value changed by the caller
// after Put is not what is written, and a queued write that fails at the
// COMMIT fails the Update and writes nothing.
func TestQueuedWrites(t *testing.T) {
	dsn, _ := freshSchema(t)
	db := openDB(t, dsn)
	ctx := t.Context()
	err := db.Update(ctx, func(tx store.Tx) error {
		v := []byte("1")
		if err := tx.Put(ctx, "q", "a", v); err != nil {
			return err
		}
		v[0] = 'x' // the caller's buffer, reused
		if got, err := tx.Get(ctx, "q", "a"); err != nil || string(got) != "1" {
			t.Errorf("Get after Put = %q, %v", got, err)
		}
		if err := tx.Put(ctx, "q", "b", []byte("2")); err != nil {
			return err
		}
		if err := tx.Create(ctx, "q", "b", []byte("3")); !errors.Is(err, store.ErrExists) {
			t.Errorf("Create after Put = %v, want ErrExists", err)
		}
		if err := tx.PutMany(ctx, "q", []store.KV{{Key: "c", Value: []byte("4")}, {Key: "d", Value: []byte("5")}}); err != nil {
			return err
		}
		if n, err := tx.Count(ctx, "q", ""); err != nil || n != 4 {
			t.Errorf("Count after PutMany = %d, %v, want 4", n, err)
		}
		if err := tx.Put(ctx, "q", "e", []byte("6")); err != nil {
			return err
		}
		var keys []string
		if err := tx.Scan(ctx, "q", "", "", 0, func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		if strings.Join(keys, ",") != "a,b,c,d,e" {
			t.Errorf("Scan after Put = %v", keys)
		}
		if err := tx.Enqueue(ctx, store.Job{ID: "j1", Kind: "k"}); err != nil {
			return err
		}
		return tx.Put(ctx, "q", "f", []byte("7")) // sent with the COMMIT
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"a": "1", "b": "2", "c": "4", "d": "5", "e": "6", "f": "7"} {
		if v, err := db.Get(ctx, "q", k); err != nil || string(v) != want {
			t.Errorf("after commit: %s = %q, %v; want %q", k, v, err, want)
		}
	}
	if jobs, err := db.ListJobs(ctx, "", 10); err != nil || len(jobs) != 1 || jobs[0].ID != "j1" {
		t.Errorf("jobs after commit = %v, %v", jobs, err)
	}
	// A queued write the server refuses (text with a NUL byte) fails the
	// COMMIT's round trip: nothing of the transaction is written.
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "q", "g", []byte("8")); err != nil {
			return err
		}
		return tx.Enqueue(ctx, store.Job{ID: "bad\x00id", Kind: "k"})
	})
	if err == nil {
		t.Error("Update with a refused queued write succeeded")
	}
	if _, err := db.Get(ctx, "q", "g"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the failed Update: g: %v, want ErrNotFound", err)
	}
	// The connection is usable again.
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "q", "h", []byte("9")) }); err != nil {
		t.Errorf("Update after the failed one: %v", err)
	}
}

// TestQueuedPutsCoalesce checks the statements a transaction's queued
// writes go out as: a run of Puts and PutMany as one lock statement, its
// ids in the order of the run, and one upsert per table, a key put twice
// with its last value; a lock upgrade and an Enqueue between them keep
// their places.
func TestQueuedPutsCoalesce(t *testing.T) {
	ctx := t.Context()
	tx := &txImpl{db: &DB{}, own: true, begun: true}
	put := func(table, key, v string) {
		if err := tx.Put(ctx, table, key, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	put("q", "a", "1")
	put("q", "b", "2")
	if err := tx.PutMany(ctx, "r", []store.KV{{Key: "c", Value: []byte("3")}, {Key: "d", Value: []byte("4")}}); err != nil {
		t.Fatal(err)
	}
	put("q", "a", "5") // held: no lock; its value wins
	put("q", "e", "6")
	tx.locked[tx.db.lockID("q", "u")] = lockShared // read shared: its put upgrades it first
	put("q", "u", "8")
	if err := tx.Enqueue(ctx, store.Job{ID: "j", Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	put("q", "f", "7")
	b := &pgx.Batch{}
	n, stmts := tx.prelude(b)
	if n != len(b.QueuedQueries) || n != len(stmts) {
		t.Fatalf("prelude: %d statements, %d queued, %d named", n, len(b.QueuedQueries), len(stmts))
	}
	var got []string
	for _, q := range stmts {
		switch q.sql {
		case lockSQL[lockExclusive][1]:
			var ks []string
			for _, id := range q.args[0].([]int64) {
				ks = append(ks, map[int64]string{tx.db.lockID("q", "a"): "q/a", tx.db.lockID("q", "b"): "q/b", tx.db.lockID("r", "c"): "r/c", tx.db.lockID("r", "d"): "r/d", tx.db.lockID("q", "e"): "q/e"}[id])
			}
			got = append(got, "lock "+strings.Join(ks, ","))
		case lockSQL[lockExclusive][0]:
			got = append(got, fmt.Sprintf("lock1 %v", q.args[0] == tx.db.lockID("q", "f")))
		case putManySQL:
			var kv []string
			for i, k := range q.args[1].([][]byte) {
				kv = append(kv, string(k)+"="+string(q.args[2].([][]byte)[i]))
			}
			got = append(got, fmt.Sprintf("putmany %s %s", q.args[0], strings.Join(kv, ",")))
		case putSQL:
			got = append(got, fmt.Sprintf("put %s %s=%s", q.args[0], q.args[1], q.args[2]))
		case enqueueSQL:
			got = append(got, "enqueue")
		case upgradeSQL:
			got = append(got, fmt.Sprintf("upgrade %v", q.args[0].([]int64)[0] == tx.db.lockID("q", "u")))
		default:
			got = append(got, q.sql)
		}
	}
	want := []string{
		"lock q/a,q/b,r/c,r/d,q/e", // r's ids sorted by PutMany (pending): c, d or d, c
		"putmany q a=5,b=2,e=6",
		"putmany r c=3,d=4",
		"upgrade true",
		"put q u=8",
		"enqueue",
		"lock1 true",
		"put q f=7",
	}
	if tx.db.lockID("r", "d") < tx.db.lockID("r", "c") {
		want[0] = "lock q/a,q/b,r/d,r/c,q/e"
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestQueuedPutsCommit checks coalesced puts on the server: the last value
// of a key put twice is the one committed, and an upsert that fails names
// its table (and its key when it is one).
func TestQueuedPutsCommit(t *testing.T) {
	dsn, _ := freshSchema(t)
	db := openDB(t, dsn)
	ctx := t.Context()
	err := db.Update(ctx, func(tx store.Tx) error {
		for i, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}} {
			if err := tx.Put(ctx, "p", kv[0], []byte(kv[1])); err != nil {
				return err
			}
			if i == 1 {
				if err := tx.PutMany(ctx, "p", []store.KV{{Key: "b", Value: []byte("5")}, {Key: "d", Value: []byte("6")}}); err != nil {
					return err
				}
			}
		}
		return tx.Put(ctx, "p2", "a", []byte("7"))
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"p/a": "3", "p/b": "5", "p/c": "4", "p/d": "6", "p2/a": "7"} {
		tk := strings.SplitN(k, "/", 2)
		if v, err := db.Get(ctx, tk[0], tk[1]); err != nil || string(v) != want {
			t.Errorf("%s = %q, %v; want %q", k, v, err, want)
		}
	}
	// A table name PostgreSQL's text refuses (a NUL byte) fails its upsert.
	for _, c := range []struct {
		keys []string
		want string
	}{
		{[]string{"x"}, `put bad` + "\x00" + `t/"x"`},
		{[]string{"x", "y"}, "put 2 records of bad\x00t"},
	} {
		err := db.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put(ctx, "p", "e", []byte("8")); err != nil {
				return err
			}
			for _, k := range c.keys {
				if err := tx.Put(ctx, "bad\x00t", k, []byte("9")); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Update with a bad table = %v, want an error naming %q", err, c.want)
		}
		if _, err := db.Get(ctx, "p", "e"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after the failed Update: p/e: %v, want ErrNotFound", err)
		}
	}
}

// BenchmarkQueuedPuts: one Update of 25 Puts (an encrypted creation's
// grants), sent with the COMMIT, on one connection. pg-µs/op is the CPU of
// the server's backend per Update when the server runs on this machine
// (its /proc is readable).
func BenchmarkQueuedPuts(b *testing.B) {
	dsn, _ := freshSchema(b)
	if strings.Contains(dsn, "://") {
		dsn += "&pool_max_conns=1"
	} else {
		dsn += " pool_max_conns=1"
	}
	db := openDB(b, dsn)
	ctx := b.Context()
	var pid int
	if err := db.pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	cpu := func() (time.Duration, bool) { // utime + stime, at 100 ticks a second
		s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:]))
		u, err1 := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of proc(5)
		y, err2 := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(u+y) * 10 * time.Millisecond, err1 == nil && err2 == nil
	}
	val := bytes.Repeat([]byte("v"), 600)
	n := 0
	b.ReportAllocs()
	c0, ok := cpu()
	b.ResetTimer()
	for range b.N {
		err := db.Update(ctx, func(tx store.Tx) error {
			for range 25 {
				n++
				if err := tx.Put(ctx, "kms_grants", fmt.Sprintf("111122223333/us-east-1/f77d65d6-e13a-4053-a659-9a845657f5d5/%064d", n), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if c1, ok1 := cpu(); ok && ok1 {
		b.ReportMetric(float64((c1-c0).Microseconds())/float64(b.N), "pg-µs/op")
	}
}
