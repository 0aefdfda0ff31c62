// Package readcache is the embedded stores' read cache (store/sqlite and
// store/pebble): the committed records that Get read and that write groups
// wrote, and keys found absent, so that a record read again and again (a
// desktop polled by DescribeWorkspaces) costs a map lookup instead of a
// read of the database; and ScanCommitted's key listings (Committed), which
// list a prefix's records from memory while its table is unchanged.
//
// It is sound only while one process owns the store's files (LockFile): a
// write by another process would never reach the cache.
package readcache

import (
	"fmt"
	"iter"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// Cache keeps records read by Get and written by the writer, and keys Get
// found absent (held as a nil value; a present record, even an empty one,
// is never nil), under Key(table, key). Every write group updates the keys
// it wrote and bumps seq; a reader fills the cache only if no write group
// finished since it looked, so it never puts back a stale value.
type Cache struct {
	mu sync.RWMutex
	// m holds each entry's value with its key: Update of borrowed keys writes a
	// held key again under the key string the map holds, without making
	// its own (BorrowKeys).
	m map[string]entry
	// nils holds the keys m holds as absent (a nil value): a key an update
	// created (Uncached) is in m only if it is here, so its write needs no
	// probe of m, a cache miss, while nils is empty or lacks it.
	nils map[string]struct{}
	seq  uint64
	max  int // entries
	// bytes is the size of the keys and values held, at most maxBytes: the
	// cache starts over when an entry would take it past either bound.
	bytes, maxBytes int
	// tables counts the write groups that wrote each table (the key
	// listings of Committed hold while it does not change), by pointer so
	// that a count is bumped without writing the map, whose write would
	// hold the (possibly borrowed) key given to it.
	tables map[string]*uint64
	// borrowed is whether the written maps' keys given to Update are
	// borrowed (BorrowKeys).
	borrowed bool
	// last is the table of the key Update counted last (wroteTable),
	// empty outside Update.
	last tableCount
}

// MaxWrittenValue is the largest value a write leaves in the cache; a
// larger one is dropped and read back from the database when needed.
const MaxWrittenValue = 16 << 10

// New returns a cache of at most max entries and maxBytes bytes of keys
// and values.
//
// Its map is made with room for max entries (up to presizeEntries): grown
// one insert at a time, it rehashed every entry at each doubling of its
// tables, on the store's single writer (the first 40,000 desktops created
// spent about 1 µs each in the rehashes). When the cache starts over, the
// map keeps its room (clear does not shrink it), so this is the room it
// reaches anyway once full.
func New(max, maxBytes int) *Cache {
	return &Cache{m: make(map[string]entry, min(max, presizeEntries)), nils: map[string]struct{}{}, max: max, maxBytes: maxBytes, tables: map[string]*uint64{}}
}

// presizeEntries bounds the room New makes in a cache's map (the embedded
// stores' default bound, 100,000 entries, is under it: about 5 MiB).
const presizeEntries = 1 << 17

// entry is a value held and the key it is held under (the map's own key
// string).
type entry struct {
	k string
	v []byte
}

// Key is the cache key of a record: table, a NUL byte, key.
func Key(table, key string) string { return table + "\x00" + key }

// put holds v under k (the caller holds mu).
func (c *Cache) put(k string, v []byte) {
	old, held := c.m[k]
	c.putOver(k, old, held, v)
}

// putOver is put of a key looked up already: old is its entry when held.
// A held key's entry is written over where it is, not deleted and inserted
// again (a provisioning batch rewrites its 25 desktops: a probe of the map
// each, not three).
func (c *Cache) putOver(k string, old entry, held bool, v []byte) {
	n := len(c.m)
	if held {
		n--
		c.bytes -= len(k) + len(old.v)
		if old.v == nil {
			delete(c.nils, k)
		}
	}
	if n >= c.max || c.bytes+len(k)+len(v) > c.maxBytes {
		c.clearAll()
	}
	c.m[k] = entry{k, v}
	if v == nil {
		c.nils[k] = struct{}{}
	}
	c.bytes += len(k) + len(v)
}

// del drops k (the caller holds mu).
func (c *Cache) del(k string) {
	if e, ok := c.m[k]; ok {
		old := e.v
		c.bytes -= len(k) + len(old)
		delete(c.m, k)
		if old == nil {
			delete(c.nils, k)
		}
	}
}

// clearAll empties the cache (the caller holds mu).
func (c *Cache) clearAll() {
	clear(c.m)
	clear(c.nils)
	c.bytes = 0
}

// uncachedMark is the array of Uncached's value: a value is the mark when
// it starts here (no other value can).
var uncachedMark [1]byte

// Uncached is what an update notes as the value of a record it created
// (the store did not hold its key) and that the cache need not keep: a
// record read back rarely, whose entry would cost the writer a probe of
// the cache's map (a cache miss of the CPU's) and take room from records
// read again and again. The cache may hold such a key only as absent (a
// Get that found no record), and Update drops it then; otherwise Update
// leaves the map as it is. A read of the record finds it in the database
// and fills the cache as any read does.
func Uncached() []byte { return uncachedMark[:0:0] }

// IsUncached reports whether v is Uncached's value.
func IsUncached(v []byte) bool {
	return v != nil && cap(v) == 0 && unsafe.SliceData(v) == &uncachedMark[0]
}

// Lookup returns a record from the cache for a writer's transaction when
// the writer's group has not written it (dirty holds the keys it wrote, so
// the others read as committed), and the cache key to fill on a miss (""
// when the cache must not be used or filled). A nil cache is never used.
//
// The cache key is built in a buffer on the stack and looked up as is
// (a map index by string(bytes) does not allocate); only a miss allocates
// it as the string it returns, so a hit, the common case of the writer's
// reads, allocates nothing.
func (c *Cache) Lookup(dirty map[string]bool, table, key string) (v []byte, ok bool, ck string, seq uint64) {
	return c.LookupWritten(dirty, nil, table, key)
}

// LookupWritten is Lookup for a transaction that keeps its own writes
// apart from its group's: the group has written the keys in dirty (the
// earlier updates' writes) and in written (the update's own, by Key), so
// that an update's write is one map insert, not one into each.
func (c *Cache) LookupWritten(dirty map[string]bool, written map[string][]byte, table, key string) (v []byte, ok bool, ck string, seq uint64) {
	if c == nil {
		return nil, false, "", 0
	}
	var buf [128]byte
	kb := append(append(append(buf[:0], table...), 0), key...)
	if isDirty(dirty, written, kb) {
		return nil, false, "", 0
	}
	c.mu.RLock()
	e, ok := c.m[string(kb)]
	seq = c.seq
	c.mu.RUnlock()
	if ok {
		return e.v, true, "", seq
	}
	return nil, false, string(kb), seq
}

// isDirty reports whether the group wrote kb: the earlier updates' keys
// are in dirty, the running update's in written.
func isDirty(dirty map[string]bool, written map[string][]byte, kb []byte) bool {
	if len(dirty) > 0 && dirty[string(kb)] {
		return true
	}
	if len(written) > 0 {
		if _, ok := written[string(kb)]; ok {
			return true
		}
	}
	return false
}

// Peek returns a record from the cache for a writer's transaction when the
// writer's group has not written it (as LookupWritten: dirty and written
// hold the keys it wrote), for a caller that does not fill the cache on a
// miss: it allocates nothing, hit or miss.
func (c *Cache) Peek(dirty map[string]bool, written map[string][]byte, table, key string) (v []byte, ok bool) {
	if c == nil {
		return nil, false
	}
	var buf [128]byte
	kb := append(append(append(buf[:0], table...), 0), key...)
	if isDirty(dirty, written, kb) {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[string(kb)]
	c.mu.RUnlock()
	return e.v, ok
}

// Get returns the value cached under k (nil: cached as absent), whether
// the cache holds k, and the write sequence to pass to Fill after a miss.
func (c *Cache) Get(k string) ([]byte, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.m[k]
	return e.v, ok, c.seq
}

// GetRecord is Get of Key(table, key) without making the key a string:
// the key is spelled in a stack buffer and looked up as it is, so a hit
// (a record read again and again) allocates nothing. On a miss it returns
// the key, made a string, for Fill.
func (c *Cache) GetRecord(table, key string) (v []byte, ok bool, seq uint64, ck string) {
	var buf [128]byte
	kb := append(append(append(buf[:0], table...), 0), key...)
	c.mu.RLock()
	e, ok := c.m[string(kb)]
	v, seq = e.v, c.seq
	c.mu.RUnlock()
	if !ok {
		ck = string(kb)
	}
	return v, ok, seq, ck
}

// Fill caches v (nil: absent) under k, read from the database after a Get
// that returned seq, unless a write group finished since.
func (c *Cache) Fill(k string, v []byte, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq {
		return
	}
	c.put(k, v)
}

// FillRoom caches v under k as Fill does, but only while the cache has room
// for it: a listing never starts the cache over.
func (c *Cache) FillRoom(k string, v []byte, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq {
		return
	}
	if _, ok := c.m[k]; !ok && (len(c.m) >= c.max || c.bytes+len(k)+len(v) > c.maxBytes) {
		return
	}
	c.put(k, v)
}

// Put caches v under k unconditionally (tests set up the cache with it).
func (c *Cache) Put(k string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.put(k, v)
}

// Drop forgets k: the next read of it goes to the database.
func (c *Cache) Drop(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.del(k)
}

// Clear empties the cache, as when it starts over.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearAll()
}

// Len returns the number of entries held.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Bytes returns the size of the keys and values held.
func (c *Cache) Bytes() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bytes
}

// SetMaxEntries changes the bound on entries (from the next entry added).
func (c *Cache) SetMaxEntries(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = n
}

// Update brings the cache up to date with a write group and bumps seq.
// updates yields, for each update function of the group that ran, what it
// wrote (by Key: the value, or nil when it deleted the record or does not
// know its value; Uncached: it created the record, which the cache need
// not keep) and whether it succeeded. When the group committed, each
// update that succeeded leaves the values it wrote in the cache (deleted,
// unknown and large ones are dropped), in the group's order, so the writer
// and readers read them back from memory; everything else the group touched
// is dropped. Values are cached as written, so a caller must not change a
// value after writing it.
func (c *Cache) Update(committed bool, updates iter.Seq2[map[string][]byte, bool]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	// last is the table of the last key (most keys of a group are of one
	// table), in the cache (a local captured by the loop's body would be
	// an allocation per Update), emptied after: it may be a borrowed key's.
	last := &c.last
	*last = tableCount{}
	defer func() { *last = tableCount{} }()
	for written, ok := range updates {
		keep := committed && ok
		for k, v := range written {
			c.wroteTable(k, last)
			if IsUncached(v) {
				// The store did not hold k: the cache holds it only as
				// absent, which nils tells without a probe of m.
				if _, ok := c.nils[k]; ok {
					c.del(k)
				}
				continue
			}
			if keep && v != nil && len(v) <= MaxWrittenValue {
				e, held := c.m[k]
				if c.borrowed {
					if held {
						k = e.k // the map's own string
					} else {
						k = strings.Clone(k)
					}
				}
				c.putOver(k, e, held, fit(v))
				continue
			}
			c.del(k)
		}
	}
}

// BorrowKeys tells the cache that the keys of the written maps given to
// Update are borrowed: spelled in a buffer the writer reuses once Update
// returned (store/pebble's group key buffer), so that a key the cache does
// not keep (a record created Uncached, a deletion) costs no allocation.
// Update then holds a key it keeps under the key string it already holds
// for it (a record written again: a provisioning batch's desktops), else
// under a copy; it keeps no borrowed string. Call it before the first
// Update.
func (c *Cache) BorrowKeys() { c.borrowed = true }

// TableVersion is how many write groups have written table so far.
func (c *Cache) TableVersion(table string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if n := c.tables[table]; n != nil {
		return *n
	}
	return 0
}

// tableCount is a table's name and its count of writes (Cache.tables).
type tableCount struct {
	name string
	n    *uint64
}

// wroteTable counts a write group's write of a record (key table\x00key)
// of its table (the caller holds mu). last is the table of the key before
// (its name may be borrowed: it lives as long as the Update): a key of the
// same table is counted without looking for its NUL and its table in the
// map. wroteTable sets it to k's table.
func (c *Cache) wroteTable(k string, last *tableCount) {
	if t := last.name; last.n != nil && len(k) > len(t) && k[len(t)] == 0 && k[:len(t)] == t {
		*last.n++
		return
	}
	if i := strings.IndexByte(k, 0); i >= 0 {
		n := c.tables[k[:i]]
		if n == nil {
			n = new(uint64)
			c.tables[strings.Clone(k[:i])] = n
		}
		*n++
		*last = tableCount{k[:i], n}
	}
}

// fit returns v as the cache keeps it: with capacity equal to its length,
// so that an append to a cached value copies it, and copied when its array
// is much larger than it. The cache's byte bound counts lengths; a value
// encoded into a larger buffer (a record's encoder starts at 1 KiB, a
// compressed CloudTrail segment's at the size of its input) would
// otherwise hold that buffer whole, several times what the bound counts
// (at a million desktops the live heap passed the soft memory limit).
//
// A slack of up to 16 bytes more than an eighth is kept: a small value
// appended into a fresh slice (encoding/json's output, an int record) has
// its capacity rounded up to the allocator's size class, up to 16 bytes
// over its length below 128 bytes, and a copy would take the same size
// class again.
func fit(v []byte) []byte {
	if cap(v)-len(v) > len(v)/8+16 {
		return append(make([]byte, 0, len(v)), v...)
	}
	return v[:len(v):len(v)]
}

// LockFile takes an exclusive lock on path, so that two processes never
// open the same store (the read cache relies on it). what names the store
// in errors ("sqlite", "pebble").
func LockFile(what, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: lock file: %w", what, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %s is in use by another process (is another deskplane serving this data dir?): %w", what, path, err)
	}
	return f, nil
}
