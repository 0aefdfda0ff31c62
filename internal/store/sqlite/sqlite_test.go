package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
	"github.com/deskplane/deskplane/internal/store/storetest"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		return open(t, filepath.Join(t.TempDir(), "deskplane.db"))
	})
}

func opener(ctx context.Context, path string) (storetest.Embedded, error) {
	return sqlite.Open(ctx, path)
}

func TestEmbedded(t *testing.T) {
	storetest.RunEmbedded(t, opener)
}

// TestCrashDurability: every acknowledged update survives SIGKILL.
func TestCrashDurability(t *testing.T) {
	storetest.CrashDurability(t, "TestCrashDurability", opener)
}
