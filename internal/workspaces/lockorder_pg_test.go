package workspaces

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deskplane/deskplane/internal/store/postgres"
)

// TestMigrateBesideCreateOnPostgres runs MigrateWorkspace and
// CreateWorkspaces of one desktop side by side on PostgreSQL, with
// deadlock_timeout raised to a minute: two transactions that lock the
// Region's count and a subnet's address counter in opposite orders wait on
// each other until the test's deadline instead of being broken after a
// second and retried. TestLockOrder checks the order itself.
func TestMigrateBesideCreateOnPostgres(t *testing.T) {
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
	params := map[string]string{"search_path": schema, "deadlock_timeout": "60s"}
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
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newLockEnv(t, db)

	const workers, rounds = 16, 8
	var users []string
	for i := range workers * rounds {
		users = append(users, fmt.Sprintf("m%d", i))
	}
	var ids []string
	for len(users) > 0 {
		n := min(25, len(users))
		got, err := e.create(ctx, users[:n]...)
		if err != nil {
			t.Fatal(err)
		}
		ids, users = append(ids, got...), users[n:]
	}
	e.run()
	e.clk.Advance(time.Hour) // the first user volume snapshots
	// The new desktops of another bundle than the migrations' two: a
	// migration locks both bundles (and their images) before it takes a
	// subnet, and a creation checks its bundle first, which would keep
	// the two apart.
	e.bundle = e.bundles[2]

	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if err := e.migrate(dctx, ids[w*rounds+r]); err != nil {
					errs <- err
				}
				if _, err := e.create(dctx, fmt.Sprintf("c%d-%d", w, r)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if dctx.Err() != nil {
		t.Errorf("the migrations and creations stalled until the test's deadline: transactions wait on each other's locks (a deadlock, left unbroken for deadlock_timeout)")
	}
	for err := range errs {
		t.Error(err)
	}
}
