package pebble_test

import (
	"context"
	"fmt"
	"os"
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

func opener(ctx context.Context, path string) (storetest.Embedded, error) {
	return pebble.Open(ctx, path, pebble.Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
}

func TestEmbedded(t *testing.T) {
	storetest.RunEmbedded(t, opener)
}

// TestCrashDurability: every acknowledged update survives SIGKILL.
func TestCrashDurability(t *testing.T) {
	storetest.CrashDurability(t, "TestCrashDurability", opener)
}

// TestPrivateFiles: the store's directory is 0700 and every file in it is
// readable by its owner only.
func TestPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pebble")
	db := open(t, dir)
	ctx := t.Context()
	for i := range 100 {
		if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", fmt.Sprint(i), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want private", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCloseTwice: a second Close is harmless (the server closes its stores
// on every path out).
func TestCloseTwice(t *testing.T) {
	db, err := pebble.Open(t.Context(), filepath.Join(t.TempDir(), "pebble"), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
