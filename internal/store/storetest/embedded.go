package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// Embedded is an embedded backend as RunEmbedded tests it: one process
// owns its files, and UpdateEach queues several updates at once.
type Embedded interface {
	store.Backend
	UpdateEach(ctx context.Context, fns []func(tx store.Tx) error) []error
}

// Opener opens (creating if needed) the embedded store at path: a file or
// a directory of the backend's choice under a fresh temporary directory.
type Opener func(ctx context.Context, path string) (Embedded, error)

// RunEmbedded runs the tests of an embedded store's behaviour beyond the
// conformance suite: data kept across a reopen, a failing or panicking
// update inside a group commit, one process per store, reads of every
// acknowledged write, UpdateEach. Crash durability needs a test of its own
// (CrashDurability).
func RunEmbedded(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"ReopenKeepsData", testReopenKeepsData},
		{"GroupCommitIsolatesFailures", testGroupCommitIsolatesFailures},
		{"OneProcessPerStore", testOneProcessPerStore},
		{"GetSeesEveryAcknowledgedWrite", testGetSeesEveryAcknowledgedWrite},
		{"UpdateEachRunsInOrderAndFailsAlone", testUpdateEachRunsInOrderAndFailsAlone},
		{"UpdateEachAfterCancel", testUpdateEachAfterCancel},
		{"ScanCommittedMatchesScan", testScanCommittedMatchesScan},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// openEmbedded opens the store at path, closed when the test ends.
func openEmbedded(t *testing.T, open Opener, path string) Embedded {
	t.Helper()
	db, err := open(t.Context(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func testReopenKeepsData(t *testing.T, open Opener) {
	path := filepath.Join(t.TempDir(), "store")
	db, err := open(t.Context(), path)
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
	db = openEmbedded(t, open, path) // opening again must find it as it was
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
const crashChildEnv = "DESKPLANE_STORE_CRASH_CHILD"

// CrashDurability runs a child process (the test binary again, running the
// test named test, which calls CrashDurability) that commits records one by
// one and prints the key of each record after Update returned, kills it
// with SIGKILL mid-stream, and checks that every acknowledged key survived.
func CrashDurability(t *testing.T, test string, open Opener) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path, open)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "store")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.v=false")
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
	db := openEmbedded(t, open, path)
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
func crashChild(path string, open Opener) {
	ctx := context.Background()
	db, err := open(ctx, path)
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

// testGroupCommitIsolatesFailures runs many concurrent updates (which the
// writer groups into shared commits) where every other one fails after
// writing: only the successful ones' writes are visible, each complete.
func testGroupCommitIsolatesFailures(t *testing.T, open Opener) {
	db := openEmbedded(t, open, filepath.Join(t.TempDir(), "store"))
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

// testOneProcessPerStore: a second open of the same store fails while the
// first holds it (the read cache relies on one owner), and works after Close.
func testOneProcessPerStore(t *testing.T, open Opener) {
	path := filepath.Join(t.TempDir(), "store")
	db, err := open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(context.Background(), path); err == nil {
		t.Fatal("a second Open of the same file succeeded")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

// testGetSeesEveryAcknowledgedWrite: with writers updating records
// concurrently, a Get made after an Update returned always sees that
// update or a later one (the read cache never serves a stale value).
func testGetSeesEveryAcknowledgedWrite(t *testing.T, open Opener) {
	db := openEmbedded(t, open, filepath.Join(t.TempDir(), "store"))
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

// testUpdateEachRunsInOrderAndFailsAlone: UpdateEach applies its functions
// in order (each sees the ones before), a failing one rolls back only its
// own changes, and every success is durable: it reads back after the store
// is reopened.
func testUpdateEachRunsInOrderAndFailsAlone(t *testing.T, open Opener) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store")
	db, err := open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	const n = 300 // more than one group (the embedded stores group at most 128)
	var fns []func(store.Tx) error
	for i := range n {
		fns = append(fns, func(tx store.Tx) error {
			// Each function increments the counter the previous one wrote.
			c := 0
			if v, err := tx.Get(ctx, "t", "counter"); err == nil {
				c, _ = strconv.Atoi(string(v))
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.Put(ctx, "t", "counter", []byte(strconv.Itoa(c+1))); err != nil {
				return err
			}
			if err := tx.Put(ctx, "t", fmt.Sprintf("k%03d", i), []byte(strconv.Itoa(c))); err != nil {
				return err
			}
			if i%10 == 9 {
				return boom // rolled back: its writes vanish, the next one sees c
			}
			return nil
		})
	}
	errs := db.UpdateEach(ctx, fns)
	if len(errs) != n {
		t.Fatalf("%d errors for %d functions", len(errs), n)
	}
	for i, err := range errs {
		if want := i%10 == 9; want != errors.Is(err, boom) || (!want && err != nil) {
			t.Fatalf("function %d: error %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openEmbedded(t, open, path)
	want := 0
	for i := range n {
		v, err := db.Get(ctx, "t", fmt.Sprintf("k%03d", i))
		if i%10 == 9 {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("k%03d of a failed function: %q, %v; want not found", i, v, err)
			}
			continue
		}
		if err != nil || string(v) != strconv.Itoa(want) {
			t.Fatalf("k%03d = %q, %v; want %d (the functions in order)", i, v, err, want)
		}
		want++
	}
	if v, err := db.Get(ctx, "t", "counter"); err != nil || string(v) != strconv.Itoa(want) {
		t.Fatalf("counter = %q, %v; want %d", v, err, want)
	}
}

// testUpdateEachAfterCancel: functions not yet queued when the context ends
// report its error and run not at all.
func testUpdateEachAfterCancel(t *testing.T, open Opener) {
	db := openEmbedded(t, open, filepath.Join(t.TempDir(), "store"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	errs := db.UpdateEach(ctx, []func(store.Tx) error{func(store.Tx) error { ran = true; return nil }})
	if !errors.Is(errs[0], context.Canceled) || ran {
		t.Fatalf("after cancel: %v, ran %v", errs[0], ran)
	}
}
