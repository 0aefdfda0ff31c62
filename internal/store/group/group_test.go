package group

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flusher runs FlushWaiting on a channel of its own with a sync that counts
// its calls, and taken as the writer's count of groups taken.
func flusher(t *testing.T, taken func() uint64) (chan []*Req[int], *atomic.Int32) {
	t.Helper()
	groups := make(chan []*Req[int], 8)
	var syncs atomic.Int32
	var observe atomic.Pointer[func(time.Duration)]
	done := make(chan struct{})
	go func() {
		defer close(done)
		FlushWaiting(groups, func() error { syncs.Add(1); return nil }, &observe, taken)
	}()
	t.Cleanup(func() { close(groups); <-done })
	return groups, &syncs
}

func req() *Req[int] { return &Req[int]{Done: make(chan error, 1)} }

// A group handed over while the writer runs another is synced with that
// one: one sync for both.
func TestFlushWaitsForTheGroupTheWriterRuns(t *testing.T) {
	checked := make(chan struct{})
	var taken atomic.Uint64
	taken.Store(2) // the writer took a second group, not handed over yet
	var once sync.Once
	groups, syncs := flusher(t, func() uint64 {
		once.Do(func() { checked <- struct{}{} }) // the flusher looks, then the writer hands it over
		return taken.Load()
	})
	a, b := req(), req()
	groups <- []*Req[int]{a}
	<-checked
	groups <- []*Req[int]{b}
	for _, r := range []*Req[int]{a, b} {
		if err := <-r.Done; err != nil {
			t.Fatal(err)
		}
	}
	if n := syncs.Load(); n != 1 {
		t.Errorf("%d syncs for a group and the one the writer was running, want 1", n)
	}
}

// A lone group (the writer took no other) is synced at once; a nil group
// (the writer committed nothing) counts as handed over.
func TestFlushSyncsALoneGroup(t *testing.T) {
	var taken atomic.Uint64
	groups, syncs := flusher(t, taken.Load)
	taken.Add(1)
	groups <- nil
	a := req()
	taken.Add(1)
	groups <- []*Req[int]{a}
	if err := <-a.Done; err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load(); n < 1 || n > 2 {
		t.Errorf("%d syncs, want 1 or 2", n)
	}
}
