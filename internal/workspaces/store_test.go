package workspaces

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// openTestStore opens an embedded store in a temporary directory, closed
// when the test ends, and returns it with an update that fails the test
// when the transaction does.
func openTestStore(t *testing.T) (*sqlite.DB, func(fn func(tx store.Tx) error)) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := db.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
}

// testEngine returns a virtual clock frozen at start, a logger that
// discards, and a lifecycle engine on b with the timing profile named.
func testEngine(t testing.TB, b store.Backend, start time.Time, profile string) (*clock.Virtual, *lifecycle.Engine, *slog.Logger) {
	t.Helper()
	clk := clock.NewVirtual(start, true)
	timing, err := lifecycle.Profile(profile)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return clk, lifecycle.New(b, clk, timing, log), log
}
