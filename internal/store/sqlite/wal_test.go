package sqlite

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// TestWALStartsOverUnderSteadyWrites: passive checkpoints alone never let a
// busy WAL start over; once it is past the limit, the writer finishes the
// checkpoint between two groups and the WAL is written from the start again.
func TestWALStartsOverUnderSteadyWrites(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.restartFrames = 32
	val := bytes.Repeat([]byte("x"), 3000)
	write := func(i int) {
		t.Helper()
		if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "t", fmt.Sprintf("k%06d", i), val) }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 200; i++ {
		write(i)
	}
	// A reader on an old snapshot while writes go on: the passive
	// checkpoint cannot copy what came after it, as under a steady load.
	inView, release, viewDone := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		viewDone <- db.View(ctx, func(tx store.Tx) error {
			if _, err := tx.Get(ctx, "t", "k000000"); err != nil {
				return err
			}
			close(inView)
			<-release
			return nil
		})
	}()
	<-inView
	for i := 200; i < 250; i++ {
		write(i)
	}
	// The WAL cannot start over while the reader is there: it holds at
	// least the 50 writes made since.
	n, err := checkpoint(db)
	if err != nil || n < 50 {
		t.Fatalf("WAL after 50 writes under a reader: %d frames, %v", n, err)
	}
	close(release)
	if err := <-viewDone; err != nil {
		t.Fatal(err)
	}
	// After a group or two the writer has finished the checkpoint (the
	// background checkpointer may be at it at the same moment) and the WAL
	// is written from its start again.
	for i := 1000; i < 1004; i++ {
		write(i)
	}
	n, err = checkpoint(db)
	if err != nil || n >= 32 {
		t.Fatalf("WAL after the restart: %d frames, %v (want it started over)", n, err)
	}
	// Nothing was lost on the way.
	for _, i := range []int{0, 199, 249, 1000, 1003} {
		if v, err := db.Get(ctx, "t", fmt.Sprintf("k%06d", i)); err != nil || len(v) != len(val) {
			t.Fatalf("k%06d after the restart: %d bytes, %v", i, len(v), err)
		}
	}
}

// checkpoint runs db.checkpoint, again if the background checkpointer was
// running one at the same moment.
func checkpoint(db *DB) (int64, error) {
	for attempt := 0; ; attempt++ {
		n, err := db.checkpoint()
		if err == nil || attempt == 100 {
			return n, err
		}
	}
}
