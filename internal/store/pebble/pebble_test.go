package pebble_test

import (
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
	"github.com/deskplane/deskplane/internal/store/storetest"
)

func open(t *testing.T, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(t.Context(), dir, pebble.Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
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
		return open(t, filepath.Join(t.TempDir(), "pebble"))
	})
}
