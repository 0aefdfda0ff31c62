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
	ctx := context.Background()
	e := newLockEnvOnPostgres(t)

	const workers, rounds = 16, 8
	ids := e.provisioned(t, "m", workers*rounds, e.create)
	// The new desktops of another bundle than the migrations' two: a
	// migration used to lock both bundles (and their images) exclusive
	// before it took a subnet, and a creation checks its bundle first,
	// which kept the two apart. They are read shared now; with a third
	// bundle the test does not depend on it.
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

// TestRebuildBesideEncryptedCreateOnPostgres runs the rebuilds of
// encrypted desktops (their jobs) and creations of encrypted desktops of
// the same KMS key side by side on PostgreSQL, deadlock_timeout raised to a
// minute: a rebuild that took the subnet's address counter before the key
// waited on a creation that holds the key and waits for the counter.
func TestRebuildBesideEncryptedCreateOnPostgres(t *testing.T) {
	ctx := context.Background()
	e := newLockEnvOnPostgres(t)

	const workers, rounds = 16, 16
	ids := e.provisioned(t, "r", workers*rounds, e.createEncrypted)
	// The new desktops of another bundle: a rebuild used to read its
	// desktop's bundle exclusive before the counter, and a creation checks
	// its bundle before the key, which kept the two apart. It is read
	// shared now; with another bundle the test does not depend on it.
	e.bundle = e.bundles[2]

	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers*rounds)
	for w := range workers {
		wg.Add(2)
		go func() { // rebuilds, and their jobs
			defer wg.Done()
			for r := range rounds {
				id := ids[w*rounds+r]
				if out, err := e.call(dctx, "RebuildWorkspaces", fmt.Sprintf(`{"RebuildWorkspaceRequests":[{"WorkspaceId":%q}]}`, id)); err != nil {
					errs <- err
				} else if f, _ := out["FailedRequests"].([]any); len(f) > 0 {
					errs <- fmt.Errorf("RebuildWorkspaces %s: %v", id, f)
				}
				if _, err := e.eng.RunDue(dctx); err != nil {
					errs <- err
				}
			}
		}()
		go func() { // creations of one encrypted desktop
			defer wg.Done()
			for r := range rounds {
				if _, err := e.createEncrypted(dctx, fmt.Sprintf("c%d-%d", w, r)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if dctx.Err() != nil {
		t.Errorf("the rebuilds and creations stalled until the test's deadline: transactions wait on each other's locks (a deadlock, left unbroken for deadlock_timeout)")
	}
	for err := range errs {
		t.Error(err)
	}
	// Every rebuild ran: the desktops are AVAILABLE with a new address.
	e.run()
	out, err := e.call(ctx, "DescribeWorkspaces", fmt.Sprintf(`{"WorkspaceIds":[%q]}`, ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if ws, _ := out["Workspaces"].([]any); len(ws) != 1 || ws[0].(map[string]any)["State"] != "AVAILABLE" {
		t.Errorf("after its rebuild: %v", out)
	}
}

// newLockEnvOnPostgres is newLockEnv on a fresh schema of
// DESKPLANE_TEST_POSTGRES, with deadlock_timeout at a minute: a deadlock
// stalls until the test's deadline instead of being broken and retried.
// provisioned creates n desktops with create, 25 to a call, of users
// prefix0, prefix1…, runs their jobs and moves the clock on an hour (their
// user volumes' first snapshots), and returns their ids.
func (e *lockEnv) provisioned(t *testing.T, prefix string, n int, create func(context.Context, ...string) ([]string, error)) []string {
	t.Helper()
	var users, ids []string
	for i := range n {
		users = append(users, fmt.Sprintf("%s%d", prefix, i))
	}
	for len(users) > 0 {
		k := min(25, len(users))
		got, err := create(context.Background(), users[:k]...)
		if err != nil {
			t.Fatal(err)
		}
		ids, users = append(ids, got...), users[k:]
	}
	e.run()
	e.clk.Advance(time.Hour)
	return ids
}

func newLockEnvOnPostgres(t *testing.T) *lockEnv {
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
	return newLockEnv(t, db)
}
