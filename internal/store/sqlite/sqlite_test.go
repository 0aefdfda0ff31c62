package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deskplane.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", "k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path) // migrations must be a no-op the second time
	if err := db.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(ctx, "t", "k")
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("got %q", v)
		}
		return err
	}); err != nil {
		t.Errorf("after reopen: %v", err)
	}
}

// crashChildEnv names the database file the re-executed test binary writes
// to in TestCrashDurability.
const crashChildEnv = "DESKPLANE_SQLITE_CRASH_CHILD"

// TestCrashDurability runs a child process that commits records one by one
// and prints the key of each record after Update returned, kills it with
// SIGKILL mid-stream, and checks that every acknowledged key survived.
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "deskplane.db")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashDurability$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 300 // acknowledgements before SIGKILL
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		key, ok := strings.CutPrefix(line, "ACK ")
		if !ok {
			continue // stray output of the test framework
		}
		acked = append(acked, key)
		if len(acked) == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill child: %v", err)
			}
		}
	}
	// Keys acknowledged between the kill and the child's death are still
	// in the pipe and were read above.
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v (acknowledged %d keys)", err, len(acked))
	}
	if len(acked) < killAfter {
		t.Fatalf("child acknowledged only %d keys", len(acked))
	}
	db := open(t, path)
	missing := 0
	if err := db.View(t.Context(), func(tx store.Tx) error {
		for _, k := range acked {
			v, err := tx.Get(t.Context(), "crash", k)
			if err != nil || string(v) != "value of "+k {
				missing++
				if missing <= 10 {
					t.Errorf("acknowledged key %s: %q, %v", k, v, err)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged keys lost", missing, len(acked))
	}
	t.Logf("%d acknowledged keys survived SIGKILL", len(acked))
}

// crashChild commits records until it is killed, acknowledging each one on
// stdout only after Update returned. If the parent goes away, the write to
// the closed pipe kills it (SIGPIPE); the iteration cap is a second guard.
func crashChild(path string) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	for i := range 1_000_000 {
		key := fmt.Sprintf("k%08d", i)
		err := db.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put(ctx, "crash", key, []byte("value of "+key)); err != nil {
				return err
			}
			// A second record in the same transaction: both or neither.
			return tx.Put(ctx, "crash-pair", key, []byte("x"))
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		if _, err := fmt.Fprintf(os.Stdout, "ACK %s\n", key); err != nil {
			os.Exit(3)
		}
	}
	os.Exit(4) // never killed: the parent reports it
}

// TestGroupCommitIsolatesFailures runs many concurrent updates (which the
// writer groups into shared commits) where every other one fails after
// writing: only the successful ones' writes are visible, each complete.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "g.db"))
	ctx := context.Background()
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := db.Update(ctx, func(tx store.Tx) error {
				for j := 0; j < 3; j++ {
					if err := tx.Put(ctx, "t", fmt.Sprintf("%03d/%d", i, j), []byte("v")); err != nil {
						return err
					}
				}
				if i%2 == 1 {
					return errBoom
				}
				return nil
			})
			if (i%2 == 1) != errors.Is(err, errBoom) || (i%2 == 0 && err != nil) {
				t.Errorf("update %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	err := db.View(ctx, func(tx store.Tx) error {
		n, err := tx.Count(ctx, "t", "")
		if err != nil {
			return err
		}
		if n != 300 {
			t.Errorf("%d records, want 300 (3 for each of the 100 successful updates)", n)
		}
		return tx.Scan(ctx, "t", "", "", 0, func(k string, _ []byte) error {
			var i, j int
			fmt.Sscanf(k, "%d/%d", &i, &j)
			if i%2 == 1 {
				t.Errorf("record %s of a failed update is visible", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// A panicking update fails alone; the writer goes on.
	err = db.Update(ctx, func(tx store.Tx) error { panic("bad handler") })
	if err == nil {
		t.Fatal("a panicking update succeeded")
	}
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", "after", []byte("v")) }); err != nil {
		t.Fatalf("update after a panic: %v", err)
	}
}

// TestOneProcessPerFile: a second Open of the same database fails while the
// first holds it (the read cache relies on one owner), and works after Close.
func TestOneProcessPerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(context.Background(), path); err == nil {
		t.Fatal("a second Open of the same file succeeded")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

// TestGetSeesEveryAcknowledgedWrite: with writers updating records
// concurrently, a Get made after an Update returned always sees that
// update or a later one (the read cache never serves a stale value).
func TestGetSeesEveryAcknowledgedWrite(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "c.db"))
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			k := fmt.Sprintf("k%d", w)
			for i := 1; i <= 200; i++ {
				v := []byte(fmt.Sprintf("%06d", i))
				if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", k, v) }); err != nil {
					t.Error(err)
					return
				}
				got, err := db.Get(ctx, "t", k)
				if err != nil || string(got) < string(v) {
					t.Errorf("after writing %s, Get = %s, %v", v, got, err)
					return
				}
				// Other readers fill the cache concurrently.
				db.Get(ctx, "t", fmt.Sprintf("k%d", (w+1)%4))
			}
		}(w)
	}
	wg.Wait()
}
