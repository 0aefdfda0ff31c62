package pebble

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/readcache"
)

// tx implements store.TablesTx (GetTables, CreateTables).
var _ store.TablesTx = (*tx)(nil)

// errReadOnly is returned by a write in View.
var errReadOnly = errors.New("pebble: write in a read-only transaction")

// tx is one transaction: an update function's batch (reads see the batch
// over the committed database) or a View's snapshot.
type tx struct {
	db *DB
	// r is what the transaction reads (reader): a View's snapshot; in an
	// update, the database while its batch holds no write (an unindexed
	// batch), then the batch once indexed.
	r reader
	b *pebble.Batch // nil in View
	// indexed is whether b is indexed: an update's batch is indexed
	// (reader) only when it reads from Pebble after it wrote, which most
	// updates never do (their reads are answered before they write, or
	// by the read cache and the update's written records), so most
	// batches are committed without the index Pebble would build of
	// every key written.
	indexed bool
	// written holds, by readcache.Key, every record this update wrote: its
	// value, nil when it was deleted or is not known, or
	// readcache.Uncached when it was created under store.Uncached.
	written map[string][]byte
	room    int // the records written can hold without growing
	// dirty holds the keys the earlier updates of the writer's group
	// wrote (its own are in written); the others read as committed, so
	// from the read cache.
	dirty map[string]bool
	reads *readcache.Cache // the store's read cache (writer only)
	kb    []byte           // scratch for keys
	// rewrote is whether a record was written twice: the batch holds
	// both writes, and is compacted to the last before it is committed.
	rewrote bool
	// found lists, in order, the keys this update's GetMany found (a
	// writer update's only); put has written the first nextFound of them
	// since. A key found is in the key filter (every key the store holds
	// is), so put writes the next of them without adding it to the filter,
	// where the filter's check whether it holds the key cost a cache miss:
	// a provisioning batch reads its desktops, then writes them in the same
	// order. A key written out of that order is added as any other. It is
	// the writer's one list (DB.found), emptied for each update, so an
	// update's small reads (a creation's) add no allocation of their own.
	found     []foundKey
	nextFound int
}

// foundKey is a key an update's Get found.
type foundKey struct{ table, key string }

// reader returns what the transaction reads from Pebble: in an update,
// the database itself while the batch is empty, else the batch indexed
// (its writes are copied into an indexed batch the first time, which the
// update writes to from then on), so a read sees the update's own writes.
func (t *tx) reader() (reader, error) {
	if t.b == nil || t.indexed || t.b.Empty() {
		return t.r, nil
	}
	ib := t.db.pdb.NewIndexedBatch()
	if err := ib.Apply(t.b, nil); err != nil {
		ib.Close()
		return nil, fmt.Errorf("pebble: index the update's batch: %w", err)
	}
	t.b.Close()
	t.b, t.r, t.indexed = ib, ib, true
	return ib, nil
}

// key returns the record key of table/key in the scratch buffer (valid
// until the next call).
func (t *tx) key(table, key string) []byte {
	t.kb = recordKey(t.kb[:0], table, key)
	return t.kb
}

// Written reports what the update wrote (group.Writer).
func (t *tx) Written() (map[string][]byte, bool) {
	if t == nil {
		return nil, false
	}
	return t.written, true
}

// wrote notes that the update wrote value (nil: deleted or not known) under
// table and key.
func (t *tx) wrote(table, key string, value []byte) {
	if t.written != nil {
		n := len(t.written)
		k := t.db.groupKey(table, key) // borrowed: see DB.wkeys
		t.written[k] = value
		if len(t.written) == n { // the key was there: written again
			t.rewrote = true
			if readcache.IsUncached(value) {
				// Created after this update deleted it: the cache may
				// still hold its old value, which the delete's note (now
				// overwritten) would have dropped. Unknown drops it.
				t.written[k] = nil
			}
		}
	}
}

// cached returns a record from the read cache when the writer's group has
// not written it (so it reads as committed), and the cache key to fill on a
// miss ("" when the cache must not be used or filled).
func (t *tx) cached(table, key string) (v []byte, ok bool, ck string, seq uint64) {
	return t.reads.LookupWritten(t.dirty, t.written, table, key)
}

func (t *tx) Get(ctx context.Context, table, key string) ([]byte, error) {
	v, ok, ck, seq := t.cached(table, key)
	if ok {
		if v == nil {
			return nil, store.ErrNotFound
		}
		return v, nil
	}
	r, err := t.reader()
	if err != nil {
		return nil, err
	}
	v, err = getCopy(r, t.key(table, key))
	if errors.Is(err, pebble.ErrNotFound) {
		if ck != "" {
			t.reads.Fill(ck, nil, seq)
		}
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pebble: get %s/%s: %w", table, key, err)
	}
	if ck != "" {
		t.reads.Fill(ck, v, seq)
	}
	return v, nil
}

// wasFound reports whether table/key is the next key found and not yet
// written (found), and moves past it.
func (t *tx) wasFound(table, key string) bool {
	if t.nextFound < len(t.found) && t.found[t.nextFound] == (foundKey{table, key}) {
		t.nextFound++
		return true
	}
	return false
}

// exists reports whether table/key holds a record, as this update sees it.
// The key filter is asked first: a new key (a create's) is answered by it
// alone, without the read cache's key string, its lock and its miss; an
// existing key is looked up in the cache without building its key string
// (Peek), as a miss here fills nothing. fresh is true when the filter
// answered (h is then the key's hash in it, for put's addAbsent).
func (t *tx) exists(table, key string) (ok, fresh bool, h uint64, err error) {
	k := t.key(table, key)
	if t.b != nil {
		if h, absent := t.db.keys.absent(k); absent {
			return false, true, h, nil // the filter knows every key the store may hold
		}
	}
	if v, ok := t.reads.Peek(t.dirty, t.written, table, key); ok {
		return v != nil, false, 0, nil
	}
	r, err := t.reader()
	if err != nil {
		return false, false, 0, err
	}
	_, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, false, 0, nil
	}
	if err != nil {
		return false, false, 0, fmt.Errorf("pebble: get %s/%s: %w", table, key, err)
	}
	return true, false, 0, closer.Close()
}

func (t *tx) Put(ctx context.Context, table, key string, value []byte) error {
	return t.put(table, key, value, value)
}

// put writes value under table/key and notes cached as what the read
// cache is to make of it (value, or readcache.Uncached for a record
// created under store.Uncached).
func (t *tx) put(table, key string, value, cached []byte) error {
	return t.putFresh(table, key, value, cached, false, 0)
}

// putFresh is put of a key exists has just found absent by the key filter
// alone when fresh (h its hash): it is added to the filter without the
// filter's check whether it holds it.
func (t *tx) putFresh(table, key string, value, cached []byte, fresh bool, h uint64) error {
	if t.b == nil {
		return errReadOnly
	}
	k := t.key(table, key)
	switch { // before the batch can be committed
	case fresh:
		t.db.keys.addAbsent(h)
	case t.wasFound(table, key): // the filter holds it
	default:
		t.db.keys.add(k)
	}
	if err := t.b.Set(k, value, nil); err != nil {
		return fmt.Errorf("pebble: put %s/%s: %w", table, key, err)
	}
	t.wrote(table, key, cached)
	return nil
}

// createdValue is what the read cache is to make of a record created
// under ctx: value, or readcache.Uncached under store.Uncached.
func createdValue(ctx context.Context, value []byte) []byte {
	if store.IsUncached(ctx) {
		return readcache.Uncached()
	}
	return value
}

func (t *tx) Create(ctx context.Context, table, key string, value []byte) error {
	if t.b == nil {
		return errReadOnly
	}
	ok, fresh, h, err := t.exists(table, key)
	if err != nil {
		return err
	}
	if ok {
		return store.ErrExists
	}
	return t.putFresh(table, key, value, createdValue(ctx, value), fresh, h)
}

func (t *tx) Delete(ctx context.Context, table, key string) error {
	if t.b == nil {
		return errReadOnly
	}
	ok, _, _, err := t.exists(table, key)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	if err := t.b.Delete(t.key(table, key), nil); err != nil {
		return fmt.Errorf("pebble: delete %s/%s: %w", table, key, err)
	}
	t.wrote(table, key, nil)
	return nil
}

func (t *tx) GetMany(ctx context.Context, table string, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		v, err := t.Get(ctx, table, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = v
		if t.b != nil {
			t.found = append(t.found, foundKey{table, k})
		}
	}
	return out, nil
}

// expect makes room in the update's map of written records for n more,
// when it wrote nothing yet and has not the room: a map grown one write at
// a time rehashes at every doubling.
func (t *tx) expect(n int) {
	if t.written != nil && len(t.written) == 0 && n > 8 && n > t.room {
		t.written = make(map[string][]byte, n)
		t.room = n
	}
}

// PutMany writes recs in order, so the last of a key is the value kept (a
// key written twice is compacted to its last write at the commit, as any
// rewrite is).
func (t *tx) PutMany(ctx context.Context, table string, recs []store.KV) error {
	t.expect(len(recs))
	uncached := store.IsUncached(ctx)
	for _, r := range recs {
		cached := r.Value
		if uncached {
			cached = nil // not known: the cache drops the key
		}
		if err := t.put(table, r.Key, r.Value, cached); err != nil {
			return err
		}
	}
	return nil
}

// CreateMany creates each record of recs whose key is absent and returns
// the keys of the others, in recs' order. A key given twice is created at
// its first value: its second occurrence finds the first one's write.
func (t *tx) CreateMany(ctx context.Context, table string, recs []store.KV) ([]string, error) {
	return t.createMany(table, recs, store.IsUncached(ctx))
}

// GetTables implements store.TablesTx: GetMany of each read, in order, as
// store.GetTables does on any Tx (Pebble has no round trip to save).
func (t *tx) GetTables(ctx context.Context, reads []store.TableKeys) ([]map[string][]byte, error) {
	out := make([]map[string][]byte, len(reads))
	for i, r := range reads {
		got, err := t.GetMany(ctx, r.Table, r.Keys)
		if err != nil {
			return nil, err
		}
		out[i] = got
	}
	return out, nil
}

// CreateTables implements store.TablesTx: CreateMany of each creation, in
// order, as store.CreateTables does on any Tx, without a context marked
// Uncached for a creation marked so.
func (t *tx) CreateTables(ctx context.Context, creates []store.TableRecs) ([][]string, error) {
	out := make([][]string, len(creates))
	uncached := store.IsUncached(ctx)
	for i, c := range creates {
		if len(c.Recs) == 0 {
			continue
		}
		existing, err := t.createMany(c.Table, c.Recs, uncached || c.Uncached)
		if err != nil {
			return nil, err
		}
		out[i] = existing
	}
	return out, nil
}

// createMany is CreateMany, its records created as under store.Uncached
// when uncached is true.
func (t *tx) createMany(table string, recs []store.KV, uncached bool) ([]string, error) {
	if t.b == nil {
		return nil, errReadOnly
	}
	t.expect(len(recs))
	var existing []string
	for _, r := range recs {
		ok, fresh, h, err := t.exists(table, r.Key)
		if err != nil {
			return nil, err
		}
		if ok {
			existing = append(existing, r.Key)
			continue
		}
		cached := r.Value
		if uncached {
			cached = readcache.Uncached()
		}
		if err := t.putFresh(table, r.Key, r.Value, cached, fresh, h); err != nil {
			return nil, err
		}
	}
	return existing, nil
}

func (t *tx) Scan(ctx context.Context, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	r, err := t.reader()
	if err != nil {
		return err
	}
	n := 0
	err = scanRange(r, table, prefix, after, func(k string, it *pebble.Iterator) (bool, error) {
		v, err := it.ValueAndErr()
		if err != nil {
			return false, err
		}
		// The callback may keep the value and may use the transaction.
		if err := fn(k, append(make([]byte, 0, len(v)), v...)); err != nil {
			if errors.Is(err, store.ErrStop) {
				return false, nil
			}
			return false, err
		}
		n++
		return limit <= 0 || n < limit, nil
	})
	if err != nil {
		return fmt.Errorf("pebble: scan %s/%s: %w", table, prefix, err)
	}
	return nil
}

func (t *tx) Count(ctx context.Context, table, prefix string) (int, error) {
	r, err := t.reader()
	if err != nil {
		return 0, err
	}
	n := 0
	err = scanRange(r, table, prefix, "", func(string, *pebble.Iterator) (bool, error) {
		n++
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("pebble: count %s/%s: %w", table, prefix, err)
	}
	return n, nil
}
