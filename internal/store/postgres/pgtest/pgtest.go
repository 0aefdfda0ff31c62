// Package pgtest opens throwaway PostgreSQL stores for tests: each on a
// schema of its own in the database DESKPLANE_TEST_POSTGRES names, dropped
// when the test ends.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deskplane/deskplane/internal/store/postgres"
)

// Open returns a store on a new schema of DESKPLANE_TEST_POSTGRES (see
// DSN), closed when the test ends.
func Open(t testing.TB, settings map[string]string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), DSN(t, settings))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// DSN makes a new schema of DESKPLANE_TEST_POSTGRES, dropped when the test
// ends, and returns a DSN whose connections use it, with settings
// (PostgreSQL run-time parameters such as deadlock_timeout) set on them. It
// skips the test when the variable is not set.
func DSN(t testing.TB, settings map[string]string) string {
	t.Helper()
	dsn := os.Getenv("DESKPLANE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("DESKPLANE_TEST_POSTGRES is not set (eval \"$(scripts/pg-start.sh)\")")
	}
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "deskplane_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.WithoutCancel(ctx), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	// application_name names the schema and the test process, so a stall's
	// dump (serverSessions) says whose session holds a lock.
	params := map[string]string{"search_path": schema, "application_name": fmt.Sprintf("%s/%d", schema, os.Getpid())}
	for k, v := range settings {
		params[k] = v
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		for k, v := range params {
			dsn += " " + k + "=" + v
		}
	}
	return dsn
}

// Beside runs every loop once for each of workers, each in a goroutine of
// its own, under a 30 s deadline, and fails the test with every error the
// loops report. With deadlock_timeout raised (see Open), two transactions
// that wait on each other's locks keep waiting: a stall shows as the
// deadline passing. what names the operations in that failure. It reports
// whether they stalled.
func Beside(t testing.TB, what string, workers int, loops ...func(ctx context.Context, w int, report func(error))) (stalled bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var errs []error
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	// At the deadline, before the loops see it and unwind, every
	// goroutine's stack: where a stall waits (a lock in the process, the
	// pool, or PostgreSQL).
	done := make(chan struct{})
	var stacks bytes.Buffer
	dumped := make(chan struct{})
	go func() {
		defer close(dumped)
		select {
		case <-ctx.Done():
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			serverSessions(&stacks)
		case <-done:
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		for _, loop := range loops {
			wg.Go(func() { loop(ctx, w, report) })
		}
	}
	wg.Wait()
	close(done)
	<-dumped
	if ctx.Err() != nil {
		t.Logf("goroutines at the deadline:\n%s", stacks.String())
	}
	if ctx.Err() != nil {
		t.Errorf("the %s stalled until the test's deadline: transactions wait on each other's locks (a deadlock, left unbroken for deadlock_timeout)", what)
	}
	for _, err := range errs {
		t.Error(err)
	}
	return ctx.Err() != nil
}

// serverSessions writes the sessions of DESKPLANE_TEST_POSTGRES's server
// that are not idle, with the sessions that block each and the advisory
// locks each holds or waits for: with the goroutines' stacks, where a
// stall waits.
func serverSessions(w *bytes.Buffer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv("DESKPLANE_TEST_POSTGRES"))
	if err != nil {
		fmt.Fprintf(w, "sessions: %v\n", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT a.pid, a.application_name, a.state, pg_blocking_pids(a.pid)::text, coalesce(a.wait_event_type, ''),
		(SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted),
		(SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND NOT l.granted),
		left(regexp_replace(a.query, '\s+', ' ', 'g'), 160)
		FROM pg_stat_activity a WHERE a.state <> 'idle' AND a.pid <> pg_backend_pid() ORDER BY a.pid`)
	if err != nil {
		fmt.Fprintf(w, "sessions: %v\n", err)
		return
	}
	defer rows.Close()
	fmt.Fprintf(w, "sessions (pid, application (schema/process; this process is %d), state, blocked by, wait, advisory locks held, waited for, last statement):\n", os.Getpid())
	for rows.Next() {
		var pid int32
		var app, state, blockers, wait, query string
		var held, waiting int64
		if err := rows.Scan(&pid, &app, &state, &blockers, &wait, &held, &waiting, &query); err != nil {
			fmt.Fprintf(w, "sessions: %v\n", err)
			return
		}
		fmt.Fprintf(w, "  %d %s %s %s %s %d %d %s\n", pid, app, state, blockers, wait, held, waiting, query)
	}
}
