package workspaces

import (
	"context"
	"path/filepath"
	"testing"

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
