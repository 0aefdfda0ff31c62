package workspaces

import (
	"bytes"
	"sync"
)

// freshRecs hands the desktop records a CreateWorkspaces request has just
// committed to the provisioning job that moves them on, so that the job
// does not decode again the records the request built. An entry is the
// record and the bytes stored for it; the job takes it only when its read
// of the record returned those very bytes (anything written since, or a
// write that did not commit, makes the job decode what it read), and
// takes it once: the record is the job's from then on. The request gives
// up its records when it puts them here (after its commit, with its
// answer already rendered from them).
//
// It holds at most max entries; when full, it starts over (records of
// desktops whose provisioning waits longer than max creations are decoded
// by their job, as without it).
type freshRecs struct {
	max int
	mu  sync.Mutex
	m   map[string]freshRec
}

type freshRec struct {
	raw []byte
	w   *desktopRec
}

func newFreshRecs(max int) *freshRecs {
	return &freshRecs{max: max, m: map[string]freshRec{}}
}

// put hands over the record stored under k as raw.
func (f *freshRecs) put(k string, raw []byte, w *desktopRec) {
	f.mu.Lock()
	if len(f.m) >= f.max {
		f.m = make(map[string]freshRec, len(f.m))
	}
	f.m[k] = freshRec{raw: raw, w: w}
	f.mu.Unlock()
}

// take returns the record put under k if raw is the version put with it,
// and forgets it either way.
func (f *freshRecs) take(k string, raw []byte) *desktopRec {
	f.mu.Lock()
	e, ok := f.m[k]
	if ok {
		delete(f.m, k)
	}
	f.mu.Unlock()
	if !ok || len(e.raw) != len(raw) {
		return nil
	}
	// The read cache usually hands back the very bytes put (a value is
	// never changed once written): the same array needs no comparison.
	if len(raw) > 0 && &e.raw[0] == &raw[0] {
		return e.w
	}
	if !bytes.Equal(e.raw, raw) {
		return nil
	}
	return e.w
}
