package workspaces

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store/postgres/pgtest"
)

// TestMigrateBesideCreateOnPostgres runs MigrateWorkspace and
// CreateWorkspaces of one desktop side by side on PostgreSQL, with
// deadlock_timeout raised to a minute: two transactions that lock the
// Region's count and a subnet's address counter in opposite orders wait on
// each other until the test's deadline instead of being broken after a
// second and retried. TestLockOrder checks the order itself.
func TestMigrateBesideCreateOnPostgres(t *testing.T) {
	e := newLockEnvOnPostgres(t)

	const workers, rounds = 16, 8
	ids := e.provisioned(t, "m", workers*rounds, e.create)
	// The new desktops of another bundle than the migrations' two: a
	// migration used to lock both bundles (and their images) exclusive
	// before it took a subnet, and a creation checks its bundle first,
	// which kept the two apart. They are read shared now; with a third
	// bundle the test does not depend on it.
	e.bundle = e.bundles[2]

	pgtest.Beside(t, "migrations and creations", workers, func(ctx context.Context, w int, report func(error)) {
		for r := range rounds {
			if err := e.migrate(ctx, ids[w*rounds+r]); err != nil {
				report(err)
			}
			if _, err := e.create(ctx, fmt.Sprintf("c%d-%d", w, r)); err != nil {
				report(err)
			}
		}
	})
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

	pgtest.Beside(t, "rebuilds and creations", workers, func(ctx context.Context, w int, report func(error)) { // rebuilds, and their jobs
		for r := range rounds {
			id := ids[w*rounds+r]
			if out, err := e.call(ctx, "RebuildWorkspaces", fmt.Sprintf(`{"RebuildWorkspaceRequests":[{"WorkspaceId":%q}]}`, id)); err != nil {
				report(err)
			} else if f, _ := out["FailedRequests"].([]any); len(f) > 0 {
				report(fmt.Errorf("RebuildWorkspaces %s: %v", id, f))
			}
			if _, err := e.eng.RunDue(ctx); err != nil {
				report(err)
			}
		}
	}, func(ctx context.Context, w int, report func(error)) { // creations of one encrypted desktop
		for r := range rounds {
			if _, err := e.createEncrypted(ctx, fmt.Sprintf("c%d-%d", w, r)); err != nil {
				report(err)
			}
		}
	})
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

// newLockEnvOnPostgres is newLockEnv on a fresh schema of
// DESKPLANE_TEST_POSTGRES, with deadlock_timeout at a minute: a deadlock
// stalls until the test's deadline instead of being broken and retried.
func newLockEnvOnPostgres(t *testing.T) *lockEnv {
	t.Helper()
	return newLockEnv(t, pgtest.Open(t, map[string]string{"deadlock_timeout": "60s"}))
}
