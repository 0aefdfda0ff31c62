package workspaces

import (
	"bytes"
	"sync"
)

// freshRecs hands the desktop records a CreateWorkspaces request has just
// committed to the provisioning job that moves them on, so that the job
// does not decode again the records the request built. An entry is a
// request's records with the bytes stored for each, in the order of its
// job's refs, under the first ref's key (the job's); the job takes the
// entry once, and uses a record only when its read of the record returned
// those very bytes (anything written since, or a write that did not commit,
// makes the job decode what it read). The request gives up its records
// when it puts them here (after its commit, with its answer already
// rendered from them).
//
// One entry per request, not per desktop: a map entry put and taken for
// each desktop cost the map's inserts, deletes and the rehashes their
// churn brings (about 0.35 µs per desktop created).
//
// It holds at most max records; when full, it starts over (records of
// desktops whose provisioning waits longer than max creations are decoded
// by their job, as without it).
type freshRecs struct {
	max int
	mu  sync.Mutex
	m   map[string][]storedRec
	n   int // records held
}

func newFreshRecs(max int) *freshRecs {
	return &freshRecs{max: max, m: map[string][]storedRec{}}
}

// put hands over a request's stored records under its job's first key.
func (f *freshRecs) put(first string, recs []storedRec) {
	if len(recs) == 0 {
		return
	}
	f.mu.Lock()
	if f.n+len(recs) > f.max {
		f.m = make(map[string][]storedRec, len(f.m))
		f.n = 0
	}
	if old, ok := f.m[first]; ok {
		f.n -= len(old)
	}
	f.m[first] = recs
	f.n += len(recs)
	f.mu.Unlock()
}

// take returns the records put under first, and forgets them.
func (f *freshRecs) take(first string) []storedRec {
	f.mu.Lock()
	recs, ok := f.m[first]
	if ok {
		delete(f.m, first)
		f.n -= len(recs)
	}
	f.mu.Unlock()
	return recs
}

// version returns s's record if raw is the version stored with it.
func (s storedRec) version(raw []byte) *desktopRec {
	if len(s.raw) != len(raw) {
		return nil
	}
	// The read cache usually hands back the very bytes put (a value is
	// never changed once written): the same array needs no comparison.
	if len(raw) > 0 && &s.raw[0] == &raw[0] {
		return s.w
	}
	if !bytes.Equal(s.raw, raw) {
		return nil
	}
	return s.w
}
