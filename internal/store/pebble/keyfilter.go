package pebble

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/bits"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// keyFilter is an in-memory bloom filter of the record, job and claim keys
// the store holds: when it says a key is absent, the key is absent, and
// Create, CreateMany, Delete and Enqueue skip the lookup in the database
// (a Pebble Get walks the batch, every memtable and every level: about 7
// µs for a key that is not there). A positive answer is only a maybe,
// checked in the database. Deleted keys stay in the filter (a false
// positive, checked).
//
// It is two parts. The keys the database held when the store opened are
// read from a snapshot by a goroutine at Open (base, nil until it is done:
// until then every check goes to the database). The keys written since
// are added by the writer as it writes them (recent), before the write's
// batch is committed. Together they hold every key the database can hold.
// Both are layers of bloom filters, each layer twice the keys of the one
// before, so they grow with the store without being rebuilt.
type keyFilter struct {
	base   atomic.Pointer[bloomLayers] // the keys at Open, once read
	recent bloomLayers                 // the keys written since (writer only)
}

// mayHold reports whether the store may hold key (a record key, as
// recordKey builds it, a job key, as jobKey does, or a claim key, as
// claimKey does); false is certain.
// Writer only.
func (f *keyFilter) mayHold(key []byte) bool {
	base := f.base.Load()
	if base == nil {
		return true // still reading the keys at Open
	}
	h := filterHash(key)
	return base.has(h) || f.recent.has(h)
}

// absent reports whether the store certainly does not hold key (mayHold's
// false) and, when it does not, the key's hash for addAbsent. Writer only.
func (f *keyFilter) absent(key []byte) (h uint64, ok bool) {
	base := f.base.Load()
	if base == nil {
		return 0, false // still reading the keys at Open
	}
	h = filterHash(key)
	return h, !base.has(h) && !f.recent.has(h)
}

// add notes a record, job or claim key the writer is writing. Writer only.
func (f *keyFilter) add(key []byte) {
	f.recent.add(filterHash(key))
}

// addAbsent notes a key absent answered for (its hash h) and that nothing
// was added since: it skips add's check of every layer for the key (and
// the key's hash again), which absent has just made. A create writes such
// keys, two per desktop. Writer only.
func (f *keyFilter) addAbsent(h uint64) {
	f.recent.addNew(h)
}

// filterHash is a key's hash in the filter.
func filterHash(key []byte) uint64 { return maphash.Bytes(filterSeed, key) }

// filterSeed hashes the filter's keys (the filter lives in memory only).
var filterSeed = maphash.MakeSeed()

// readKeys reads every record, job and claim key of snapshot s into a new filter
// and publishes it as f's base; it gives up (the filter stays unused) when
// ctx ends or the read fails.
func (f *keyFilter) readKeys(ctx context.Context, s *pebble.Snapshot) error {
	base := &bloomLayers{}
	n := 0
	for _, prefix := range []byte{recordPrefix, jobPrefix, claimPrefix} {
		it, err := s.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
		if err != nil {
			return fmt.Errorf("pebble: read the keys: %w", err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			if n++; n%4096 == 0 && ctx.Err() != nil {
				it.Close()
				return ctx.Err()
			}
			base.add(maphash.Bytes(filterSeed, it.Key()))
		}
		if err := it.Close(); err != nil {
			return fmt.Errorf("pebble: read the keys: %w", err)
		}
	}
	f.base.Store(base)
	slog.Debug("pebble: record keys read into the key filter", "keys", n)
	return nil
}

// bloomLayers is a bloom filter that grows: a key is added to the last
// layer, and a new layer of twice the keys starts when the last is full.
// A key may be present when any layer may hold it.
type bloomLayers struct {
	layers []*bloomFilter
}

// firstLayerKeys is the number of keys of the first layer.
const firstLayerKeys = 1 << 16

// has probes the newest layer first: a key written again soon after its
// first write (a created desktop rewritten by its provisioning) is there,
// and each layer's probe is a cache miss.
func (l *bloomLayers) has(h uint64) bool {
	for i := len(l.layers) - 1; i >= 0; i-- {
		if l.layers[i].has(h) {
			return true
		}
	}
	return false
}

// add adds a key by its hash; a key the filter may already hold is not
// counted again, so rewriting records does not grow it.
func (l *bloomLayers) add(h uint64) {
	if l.has(h) {
		return
	}
	l.addNew(h)
}

// addNew adds a key by its hash, which the filter does not hold.
func (l *bloomLayers) addNew(h uint64) {
	if len(l.layers) == 0 || l.layers[len(l.layers)-1].full() {
		n := firstLayerKeys
		if len(l.layers) > 0 {
			n = 2 * l.layers[len(l.layers)-1].capacity
		}
		l.layers = append(l.layers, newBloom(n))
	}
	l.layers[len(l.layers)-1].add(h)
}

// bloomFilter is one bloom filter of 16 bits per key and 8 probes, the
// probes of a key within one 512-bit block (one cache line): a few tenths
// of a percent of false positives when full (TestKeyFilter: 0.42% over
// three layers).
type bloomFilter struct {
	blocks         [][8]uint64
	keys, capacity int
	blockMask      uint64
}

// newBloom returns an empty filter for capacity keys.
func newBloom(capacity int) *bloomFilter {
	nblocks := 1 << bits.Len(uint(capacity*16/512-1)) // a power of two
	return &bloomFilter{blocks: make([][8]uint64, nblocks), capacity: capacity, blockMask: uint64(nblocks - 1)}
}

func (b *bloomFilter) full() bool { return b.keys >= b.capacity }

// block returns the 512-bit block of hash h (from its bits 32 on); add and
// has probe 8 bits of it, from the hash's low 32 bits in steps of its bits
// 55-63. The steps' bits are apart from the block's up to 2^23 blocks:
// taken from bits 41 on, as before session 12, they overlapped them in
// every layer of over 512 blocks, so the keys of one block shared their
// steps: a full layer of 1,048,576 keys (32,768 blocks) said present for
// 2.0% of absent keys, where it says 0.2% now (TestBloomLayerOfManyKeys).
func (b *bloomFilter) block(h uint64) *[8]uint64 { return &b.blocks[(h>>32)&b.blockMask] }

func (b *bloomFilter) add(h uint64) {
	blk := b.block(h)
	x := uint32(h)
	d := uint32(h>>55) | 1
	for range 8 {
		blk[(x>>6)&7] |= 1 << (x & 63)
		x += d
	}
	b.keys++
}

func (b *bloomFilter) has(h uint64) bool {
	blk := b.block(h)
	x := uint32(h)
	d := uint32(h>>55) | 1
	for range 8 {
		if blk[(x>>6)&7]&(1<<(x&63)) == 0 {
			return false
		}
		x += d
	}
	return true
}
