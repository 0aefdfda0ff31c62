package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// ErrReadOnly is returned by a ReadSet for anything but a read of records
// by key: planning that needs more (a write, a scan, a count, a job) is
// done inside the transaction instead.
var ErrReadOnly = errors.New("store: a read set only reads records by key")

// ReadSet plans work ahead of a write transaction: it is a Tx over a
// Store's committed records (Store.Get, the store's cheapest read, off its
// writer) that remembers every record it read, present or absent. The
// transaction the plan is for then calls Valid: when every record still
// holds what the plan read, the plan is what the transaction would have
// made itself, and since Valid reads the records inside the transaction
// (locking them where the backend locks reads), they hold until it
// commits. When Valid reports false, the transaction plans again itself,
// through its own Tx.
//
// Anything but Get and GetMany fails with ErrReadOnly. A ReadSet is used by
// one goroutine.
type ReadSet struct {
	s     Store
	reads []readRec
	at    map[tableKey]int // the index in reads of each record read
	stale bool             // a record read twice held different values
}

type tableKey struct{ table, key string }

// readRec is one record read: its value, or that it was absent.
type readRec struct {
	table, key string
	found      bool
	value      []byte
}

// NewReadSet returns an empty read set over s's committed records.
func NewReadSet(s Store) *ReadSet {
	return &ReadSet{s: s, at: map[tableKey]int{}}
}

// Len returns the number of distinct records read.
func (r *ReadSet) Len() int { return len(r.reads) }

// note remembers a read (the first of a record; a later one that differs
// makes the set stale: the plan saw two versions of one record).
func (r *ReadSet) note(table, key string, found bool, v []byte) {
	tk := tableKey{table, key}
	if i, ok := r.at[tk]; ok {
		if p := r.reads[i]; p.found != found || !bytes.Equal(p.value, v) {
			r.stale = true
		}
		return
	}
	r.at[tk] = len(r.reads)
	r.reads = append(r.reads, readRec{table: table, key: key, found: found, value: v})
}

// Get implements Tx: the committed record, remembered.
func (r *ReadSet) Get(ctx context.Context, table, key string) ([]byte, error) {
	v, err := r.s.Get(ctx, table, key)
	switch {
	case errors.Is(err, ErrNotFound):
		r.note(table, key, false, nil)
	case err == nil:
		r.note(table, key, true, v)
	}
	return v, err
}

// GetMany implements Tx: each record by Get.
func (r *ReadSet) GetMany(ctx context.Context, table string, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		v, err := r.Get(ctx, table, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// Valid reports whether every record the set read still holds, as tx reads
// it, what it held then (an absent one is still absent). It reads them with
// GetTables (a GetMany per table, in one round trip where the store can),
// marked as shared reads (SharedReads): the plan only
// read them, so a backend that locks what an update reads may let other
// transactions read them meanwhile.
func (r *ReadSet) Valid(ctx context.Context, tx Tx) (bool, error) {
	if r.stale {
		return false, nil
	}
	ctx = SharedReads(ctx)
	// The reads of each table, tables in the order first read, built
	// without a map: a plan reads a few tables (a linear search finds
	// one; room for four, a creation's three, without growing), and every
	// key goes into one slice, cut table by table.
	reads := make([]TableKeys, 0, 4)
	var counts []int
	for _, rd := range r.reads {
		i := tableIndex(reads, rd.table)
		if i == len(reads) {
			reads = append(reads, TableKeys{Table: rd.table})
			counts = append(counts, 0)
		}
		counts[i]++
	}
	keys := make([]string, len(r.reads))
	off := 0
	for i, n := range counts {
		reads[i].Keys = keys[off : off : off+n]
		off += n
	}
	for _, rd := range r.reads {
		i := tableIndex(reads, rd.table)
		reads[i].Keys = append(reads[i].Keys, rd.key)
	}
	got, err := GetTables(ctx, tx, reads) // one round trip where the store can
	if err != nil {
		return false, fmt.Errorf("store: validate reads of %d tables: %w", len(reads), err)
	}
	for _, rd := range r.reads {
		v, found := got[tableIndex(reads, rd.table)][rd.key]
		if found != rd.found || !bytes.Equal(v, rd.value) {
			return false, nil
		}
	}
	return true, nil
}

// tableIndex returns the index of table's read in reads, len(reads) when
// there is none.
func tableIndex(reads []TableKeys, table string) int {
	for i := range reads {
		if reads[i].Table == table {
			return i
		}
	}
	return len(reads)
}

// uncachedKey marks a context whose created records a read cache need not
// keep.
type uncachedKey struct{}

// Uncached returns ctx marked so that the records a backend creates under
// it (Create, CreateMany: records whose keys it did not hold) or writes
// with PutMany under it are not put in its read cache (PutMany's keys are
// dropped from it, whatever it held). It is for records read back rarely, such as a
// desktop's name record (read when the name is asked for again or the
// desktop is terminated): an embedded store's writer saves the cache
// entry's write, and the cache's room goes to records read again and
// again. A read of such a record finds it in the database, as after the
// cache started over. Backends without a read cache ignore it.
func Uncached(ctx context.Context) context.Context {
	return context.WithValue(ctx, uncachedKey{}, true)
}

// IsUncached reports whether ctx is marked by Uncached.
func IsUncached(ctx context.Context) bool {
	v, _ := ctx.Value(uncachedKey{}).(bool)
	return v
}

// sharedReadsKey marks a context whose reads are shared reads.
type sharedReadsKey struct{}

// SharedReads returns ctx marked for reads of records the transaction reads
// to check them and is not expected to write. A backend that locks what an
// update reads (store/postgres) takes a shared lock for such a read instead
// of an exclusive one: writers wait, other readers do not. A transaction
// that writes such a record later still may: the backend upgrades its lock,
// or reports ErrConflict when another transaction holds it shared too
// (Update retries it). Other backends ignore it.
func SharedReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, sharedReadsKey{}, true)
}

// ReadsShared reports whether ctx is marked by SharedReads.
func ReadsShared(ctx context.Context) bool {
	v, _ := ctx.Value(sharedReadsKey{}).(bool)
	return v
}

// Put implements Tx: ErrReadOnly.
func (r *ReadSet) Put(context.Context, string, string, []byte) error { return ErrReadOnly }

// Create implements Tx: ErrReadOnly.
func (r *ReadSet) Create(context.Context, string, string, []byte) error { return ErrReadOnly }

// Delete implements Tx: ErrReadOnly.
func (r *ReadSet) Delete(context.Context, string, string) error { return ErrReadOnly }

// Scan implements Tx: ErrReadOnly (a range is not a record to validate).
func (r *ReadSet) Scan(context.Context, string, string, string, int, func(string, []byte) error) error {
	return ErrReadOnly
}

// Count implements Tx: ErrReadOnly.
func (r *ReadSet) Count(context.Context, string, string) (int, error) { return 0, ErrReadOnly }

// PutMany implements Tx: ErrReadOnly.
func (r *ReadSet) PutMany(context.Context, string, []KV) error { return ErrReadOnly }

// CreateMany implements Tx: ErrReadOnly.
func (r *ReadSet) CreateMany(context.Context, string, []KV) ([]string, error) {
	return nil, ErrReadOnly
}

// Enqueue implements Tx: ErrReadOnly.
func (r *ReadSet) Enqueue(context.Context, Job) error { return ErrReadOnly }

// CancelJob implements Tx: ErrReadOnly.
func (r *ReadSet) CancelJob(context.Context, string) error { return ErrReadOnly }

// FinishJob implements Tx: ErrReadOnly.
func (r *ReadSet) FinishJob(context.Context, string, string) error { return ErrReadOnly }
