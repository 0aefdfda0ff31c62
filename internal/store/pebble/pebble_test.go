package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// TestOverwrittenValueNeverWritten: a record an update writes twice reaches
// the disk at its last value only (as a SQLite transaction writes only its
// final pages): a secret stored and then sealed in one update is nowhere in
// the store's files, while what the update left reads back, and a record
// deleted after its write stays deleted.
func TestOverwrittenValueNeverWritten(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pebble")
	db, err := pebble.Open(ctx, dir, pebble.Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "plaintext-secret-0123456789"
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "keys", "k1", []byte(secret)); err != nil {
			return err
		}
		if err := tx.Put(ctx, "keys", "k2", []byte(secret+"-2")); err != nil {
			return err
		}
		if err := tx.Put(ctx, "keys", "k1", []byte("sealed:1")); err != nil {
			return err
		}
		if err := tx.Put(ctx, "other", "a", []byte("kept")); err != nil {
			return err
		}
		return tx.Delete(ctx, "keys", "k2")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files++
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds a value the update overwrote", p)
		}
		return nil
	})
	if files == 0 {
		t.Fatal("no files scanned")
	}
	db = open(t, dir)
	got := map[string]string{}
	err = db.View(ctx, func(tx store.Tx) error {
		for _, tk := range [][2]string{{"keys", "k1"}, {"keys", "k2"}, {"other", "a"}} {
			v, err := tx.Get(ctx, tk[0], tk[1])
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			got[tk[0]+"/"+tk[1]] = string(v)
		}
		return nil
	})
	if err != nil || len(got) != 2 || got["keys/k1"] != "sealed:1" || got["other/a"] != "kept" {
		t.Fatalf("after reopening: %v %v", got, err)
	}
}
