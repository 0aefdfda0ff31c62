// Package pgtest opens throwaway PostgreSQL stores for tests: each on a
// schema of its own in the database DESKPLANE_TEST_POSTGRES names, dropped
// when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

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
	params := map[string]string{"search_path": schema}
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
	var wg sync.WaitGroup
	for w := range workers {
		for _, loop := range loops {
			wg.Go(func() { loop(ctx, w, report) })
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Errorf("the %s stalled until the test's deadline: transactions wait on each other's locks (a deadlock, left unbroken for deadlock_timeout)", what)
	}
	for _, err := range errs {
		t.Error(err)
	}
	return ctx.Err() != nil
}
