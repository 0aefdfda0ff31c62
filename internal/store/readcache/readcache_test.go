package readcache

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

// TestReadCacheBounds: the cache holds at most its entries and bytes (it
// starts over past either), counts replaced and dropped values right, and
// a write leaves no large value in it.
func TestReadCacheBounds(t *testing.T) {
	c := New(4, 100)
	total := func() int {
		n := 0
		for k, e := range c.m {
			n += len(k) + len(e.v)
		}
		return n
	}
	c.put("a", make([]byte, 30))
	c.put("b", make([]byte, 30))
	c.put("a", make([]byte, 10)) // replaced: 11 + 31
	if c.bytes != total() || c.bytes != 42 {
		t.Fatalf("bytes %d, held %d, want 42", c.bytes, total())
	}
	c.del("b")
	if c.bytes != 11 || len(c.m) != 1 {
		t.Fatalf("after a drop: bytes %d, %d entries", c.bytes, len(c.m))
	}
	c.put("c", make([]byte, 95)) // 11 + 96 > 100: starts over
	if _, ok := c.m["a"]; ok || c.bytes != 96 || total() != 96 {
		t.Fatalf("past the byte bound: %d entries, bytes %d", len(c.m), c.bytes)
	}
	c = New(2, 1<<20)
	for _, k := range []string{"x", "y", "z"} {
		c.put(k, []byte("v"))
	}
	if len(c.m) != 1 || c.bytes != total() {
		t.Fatalf("past the entry bound: %d entries, bytes %d", len(c.m), c.bytes)
	}
	// Replacing a key of a full cache keeps the others.
	c = New(2, 1<<20)
	c.put("x", []byte("v"))
	c.put("y", []byte("v"))
	c.put("x", []byte("vv"))
	if len(c.m) != 2 || string(c.m["x"].v) != "vv" || c.bytes != total() || c.bytes != 5 {
		t.Fatalf("a replaced key of a full cache: %d entries, bytes %d / %d", len(c.m), c.bytes, total())
	}
	// A committed write of a large value drops the key instead of caching it.
	c = New(10, 1<<20)
	c.put("t\x00big", []byte("old"))
	written := map[string][]byte{"t\x00big": make([]byte, MaxWrittenValue+1), "t\x00small": []byte("s")}
	c.Update(true, func(yield func(map[string][]byte, bool) bool) { yield(written, true) })
	if _, ok := c.m["t\x00big"]; ok {
		t.Fatal("a large written value is cached")
	}
	if v := c.m["t\x00small"].v; string(v) != "s" || c.bytes != total() {
		t.Fatalf("small written value %q, bytes %d / %d", v, c.bytes, total())
	}
}

// TestLookup: a hit returns the value and allocates nothing, a miss
// returns the key to fill, and a key the writer's group wrote is not read
// from the cache.
func TestLookup(t *testing.T) {
	c := New(10, 1<<20)
	c.Put(Key("desktops", "a/b/ws-1"), []byte("v1"))
	c.Put(Key("desktops", "a/b/gone"), nil)
	if v, ok, ck, _ := c.Lookup(nil, "desktops", "a/b/ws-1"); !ok || string(v) != "v1" || ck != "" {
		t.Fatalf("hit: %q %v %q", v, ok, ck)
	}
	if v, ok, _, _ := c.Lookup(nil, "desktops", "a/b/gone"); !ok || v != nil {
		t.Fatalf("absent: %q %v", v, ok)
	}
	if _, ok, ck, _ := c.Lookup(nil, "desktops", "a/b/ws-2"); ok || ck != Key("desktops", "a/b/ws-2") {
		t.Fatalf("miss: %v %q", ok, ck)
	}
	dirty := map[string]bool{Key("desktops", "a/b/ws-1"): true}
	if _, ok, ck, _ := c.Lookup(dirty, "desktops", "a/b/ws-1"); ok || ck != "" {
		t.Fatalf("written by the group: %v %q", ok, ck)
	}
	own := map[string][]byte{Key("desktops", "a/b/ws-1"): nil}
	if _, ok, ck, _ := c.LookupWritten(nil, own, "desktops", "a/b/ws-1"); ok || ck != "" {
		t.Fatalf("written by the update: %v %q", ok, ck)
	}
	if v, ok, _, _ := c.LookupWritten(dirty, own, "desktops", "a/b/gone"); !ok || v != nil {
		t.Fatalf("not written by the group: %q %v", v, ok)
	}
	long := string(make([]byte, 300)) // past the key buffer on the stack
	c.Put(Key("t", long), []byte("x"))
	if v, ok, _, _ := c.Lookup(nil, "t", long); !ok || string(v) != "x" {
		t.Fatalf("long key: %q %v", v, ok)
	}
	if n := testing.AllocsPerRun(100, func() { c.Lookup(dirty, "desktops", "a/b/gone") }); n != 0 {
		t.Fatalf("a hit allocates %v times", n)
	}
}

// TestFit: a value is kept as is when its slack is what the allocator's
// size class adds, and copied at its size when it sits in a larger buffer.
func TestFit(t *testing.T) {
	small := append([]byte(nil), "0123456789012345678901234567890123456789012345678901234567890123456789"...) // 70 bytes, cap 80
	if v := fit(small); &v[0] != &small[0] || cap(v) != len(v) {
		t.Fatalf("a value in its size class was copied (cap %d of %d)", cap(small), len(small))
	}
	big := append(make([]byte, 0, 1024), make([]byte, 532)...)
	if v := fit(big); &v[0] == &big[0] || cap(v) != 532 {
		t.Fatalf("a value in a 1 KiB buffer was kept (cap %d)", cap(v))
	}
}

// TestPeek: Peek answers as Lookup does for the writer's transaction (a
// hit, a key cached as absent, a miss, a key its group wrote) and
// allocates nothing, hit or miss.
func TestPeek(t *testing.T) {
	c := New(10, 1<<20)
	c.Put(Key("desktops", "a/b/ws-1"), []byte("v1"))
	c.Put(Key("desktops", "a/b/gone"), nil)
	if v, ok := c.Peek(nil, nil, "desktops", "a/b/ws-1"); !ok || string(v) != "v1" {
		t.Fatalf("hit: %q %v", v, ok)
	}
	if v, ok := c.Peek(nil, nil, "desktops", "a/b/gone"); !ok || v != nil {
		t.Fatalf("absent: %q %v", v, ok)
	}
	if _, ok := c.Peek(nil, nil, "desktops", "a/b/ws-2"); ok {
		t.Fatal("miss reported as held")
	}
	dirty := map[string]bool{Key("desktops", "a/b/ws-1"): true}
	if _, ok := c.Peek(dirty, nil, "desktops", "a/b/ws-1"); ok {
		t.Fatal("a key the group wrote is read from the cache")
	}
	own := map[string][]byte{Key("desktops", "a/b/ws-1"): []byte("v2")}
	if _, ok := c.Peek(nil, own, "desktops", "a/b/ws-1"); ok {
		t.Fatal("a key the update wrote is read from the cache")
	}
	if v, ok := c.Peek(dirty, own, "desktops", "a/b/gone"); !ok || v != nil {
		t.Fatalf("a key the group did not write: %q %v", v, ok)
	}
	long := string(make([]byte, 300)) // past the key buffer on the stack
	c.Put(Key("t", long), []byte("x"))
	if v, ok := c.Peek(nil, nil, "t", long); !ok || string(v) != "x" {
		t.Fatalf("long key: %q %v", v, ok)
	}
	var nilCache *Cache
	if _, ok := nilCache.Peek(nil, nil, "t", "k"); ok {
		t.Fatal("a nil cache answered")
	}
	for _, key := range []string{"a/b/ws-1", "a/b/ws-2"} {
		if n := testing.AllocsPerRun(100, func() { c.Peek(dirty, nil, "desktops", key) }); n != 0 {
			t.Fatalf("Peek of %s allocates %v times", key, n)
		}
	}
}

// BenchmarkUpdate is the cache bringing in create groups: 25 desktops and
// their jobs each (two tables, values of 300 bytes), the groups' maps built
// beforehand. Each group is brought in twice in a row (a create's new keys,
// then the provisioning's rewrites of them); the cache's entry bound makes
// it start over now and then, as it does in a long run.
func BenchmarkUpdate(b *testing.B) {
	c := New(5000, 1<<30)
	v := make([]byte, 300)
	groups := make([]map[string][]byte, 200)
	for i := range groups {
		groups[i] = map[string][]byte{}
		for j := range 25 {
			id := "123456789012/us-east-1/ws-" + itoa(i*100+j)
			groups[i][Key("desktops", id)] = v
			groups[i][Key("jobs", id)] = v
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w := groups[(i/2)%len(groups)]
		c.Update(true, func(yield func(map[string][]byte, bool) bool) { yield(w, true) })
	}
}

// BenchmarkPeekMiss is an existence check of a key the cache does not
// hold (Lookup's miss builds the key string to fill; Peek does not).
func BenchmarkPeekMiss(b *testing.B) {
	c := New(1000, 1<<20)
	b.ReportAllocs()
	b.Run("Lookup", func(b *testing.B) {
		for b.Loop() {
			c.Lookup(nil, "desktops", "123456789012/us-east-1/ws-0123456789")
		}
	})
	b.Run("Peek", func(b *testing.B) {
		for b.Loop() {
			c.Peek(nil, nil, "desktops", "123456789012/us-east-1/ws-0123456789")
		}
	})
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(buf[n:])
		}
	}
}

// TestGetRecord: GetRecord answers as Get of Key(table, key) does (a hit,
// a key cached as absent, a miss, a key longer than its stack buffer),
// returns the key for Fill on a miss, and allocates nothing on a hit.
func TestGetRecord(t *testing.T) {
	c := New(10, 1<<20)
	c.Put(Key("desktops", "a/b/ws-1"), []byte("v1"))
	c.Put(Key("desktops", "a/b/gone"), nil)
	long := string(make([]byte, 300))
	c.Put(Key("t", long), []byte("x"))
	for _, k := range [][2]string{{"desktops", "a/b/ws-1"}, {"desktops", "a/b/gone"}, {"desktops", "a/b/ws-2"}, {"t", long}, {"t", long + "y"}, {"desktops\x00a", "b/ws-1"}} {
		v, ok, seq, ck := c.GetRecord(k[0], k[1])
		wv, wok, wseq := c.Get(Key(k[0], k[1]))
		if string(v) != string(wv) || (v == nil) != (wv == nil) || ok != wok || seq != wseq {
			t.Fatalf("%q: GetRecord %q %v %d, Get %q %v %d", k, v, ok, seq, wv, wok, wseq)
		}
		if want := Key(k[0], k[1]); !ok && ck != want {
			t.Fatalf("%q: miss returned the key %q, not %q", k, ck, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { c.GetRecord("desktops", "a/b/ws-1") }); n != 0 {
		t.Fatalf("a hit allocates %v times", n)
	}
}

// TestFilledWithoutGrowing: a cache's map has room for its bound on
// entries from the start, so filling it up to the bound never grows it
// (growing allocates new tables and rehashes every entry, on the writer).
func TestFilledWithoutGrowing(t *testing.T) {
	const n = 20000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = Key("desktops", fmt.Sprintf("111122223333/us-east-1/ws-%09d", i))
	}
	v := []byte("v")
	c := New(n, 1<<30)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, k := range keys {
		c.Put(k, v)
	}
	runtime.ReadMemStats(&after)
	if c.Len() != n {
		t.Fatalf("the cache holds %d entries, want %d", c.Len(), n)
	}
	// Growing a map to 20,000 entries one insert at a time allocates its
	// tables over and over (about 150 times). The count is the whole
	// process's: the runtime and the testing package allocate now and then
	// beside the loop (6 seen once with the machine loaded), so the bound
	// leaves room for them and still tells the growth apart.
	if allocs := after.Mallocs - before.Mallocs; allocs > 30 {
		t.Fatalf("filling a cache to its bound made %d allocations", allocs)
	}
}

// TestUncachedAsDropped: an update's Uncached write of a key the cache
// does not hold as present (a created record) leaves the cache as a drop
// of the key does, and nils is always the keys m holds as absent. 20,000
// random operations (puts, absent fills, drops, write groups with kept,
// dropped and Uncached writes, bounds that start the cache over) against a
// cache whose Uncached writes are drops.
func TestUncachedAsDropped(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 19))
	c, ref := New(24, 400), New(24, 400)
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = Key("t", fmt.Sprint("k", i))
	}
	dropped := 0
	for i := range 20000 {
		k := keys[rng.IntN(len(keys))]
		switch op := rng.IntN(10); {
		case op < 3:
			v := make([]byte, rng.IntN(20))
			c.Put(k, v)
			ref.Put(k, v)
		case op < 5:
			c.Put(k, nil) // a Get found it absent
			ref.Put(k, nil)
		case op < 6:
			c.Drop(k)
			ref.Drop(k)
		default:
			// A write group: some updates, each writing one key (the
			// order of a map's writes would decide where a full cache
			// starts over, differently in the two caches).
			var ups, refUps []map[string][]byte
			var oks []bool
			wrote := map[string]bool{} // keys the group wrote present: no longer absent
			for range 1 + rng.IntN(6) {
				w, rw := map[string][]byte{}, map[string][]byte{}
				k := keys[rng.IntN(len(keys))]
				if e, ok := c.m[k]; (!ok || e.v == nil) && !wrote[k] && rng.IntN(2) == 0 {
					if _, held := c.m[k]; held {
						dropped++
					}
					w[k], rw[k] = Uncached(), nil // created: absent before
				} else {
					v := []byte(fmt.Sprint("v", i))
					if rng.IntN(5) == 0 {
						v = nil
					}
					wrote[k] = wrote[k] || v != nil
					w[k], rw[k] = v, v
				}
				ups, refUps, oks = append(ups, w), append(refUps, rw), append(oks, rng.IntN(4) > 0)
			}
			committed := rng.IntN(8) > 0
			c.Update(committed, func(yield func(map[string][]byte, bool) bool) {
				for j, w := range ups {
					if !yield(w, oks[j]) {
						return
					}
				}
			})
			ref.Update(committed, func(yield func(map[string][]byte, bool) bool) {
				for j, w := range refUps {
					if !yield(w, oks[j]) {
						return
					}
				}
			})
		}
		if len(c.m) != len(ref.m) || c.bytes != ref.bytes {
			t.Fatalf("op %d: %d entries, %d bytes; as drops: %d, %d", i, len(c.m), c.bytes, len(ref.m), ref.bytes)
		}
		nils := 0
		for k, re := range ref.m {
			v := re.v
			ge, ok := c.m[k]
			got := ge.v
			if !ok || (got == nil) != (v == nil) || string(got) != string(v) {
				t.Fatalf("op %d: %q is %q (%v); as drops: %q", i, k, got, ok, v)
			}
			if _, ok := c.nils[k]; ok != (v == nil) {
				t.Fatalf("op %d: %q in nils: %v, value %q", i, k, ok, v)
			}
			if v == nil {
				nils++
			}
		}
		if len(c.nils) != nils {
			t.Fatalf("op %d: nils holds %d keys, m %d absent", i, len(c.nils), nils)
		}
	}
	if dropped < 100 {
		t.Fatalf("only %d Uncached writes of keys held as absent", dropped)
	}
}

// TestUpdateCountsEachTable: a write group counts each key's write to its
// own table, a key of a table whose name begins with another's ("ab" after
// "a") included, whatever the key before it.
func TestUpdateCountsEachTable(t *testing.T) {
	c := New(100, 1<<20)
	c.BorrowKeys()
	seq := []string{"a\x00x", "ab\x00y", "ab\x00z", "a\x00w", "b\x00a", "a\x00ab", "nokey"}
	c.Update(true, func(yield func(map[string][]byte, bool) bool) {
		for _, k := range seq { // a map each: their order is seq's
			if !yield(map[string][]byte{k: []byte("v")}, true) {
				return
			}
		}
	})
	for table, want := range map[string]uint64{"a": 3, "ab": 2, "b": 1, "nokey": 0, "": 0} {
		if got := c.TableVersion(table); got != want {
			t.Errorf("table %q counted %d writes, want %d", table, got, want)
		}
	}
	// The names kept are the cache's own strings, not the borrowed keys'.
	buf := []byte("c\x00k")
	c.Update(true, func(yield func(map[string][]byte, bool) bool) {
		yield(map[string][]byte{unsafe.String(&buf[0], len(buf)): []byte("v")}, true)
	})
	buf[0] = 'd'
	if c.TableVersion("c") != 1 || c.TableVersion("d") != 0 {
		t.Errorf("table c %d, d %d: want 1, 0", c.TableVersion("c"), c.TableVersion("d"))
	}
}

// BenchmarkUpdateGroup is Update of a write group as a creation and its
// provisioning leave it, in a cache of 100,000 entries: 25 desktops
// created (new keys kept), 25 names created Uncached, and 25 desktops
// written again (held keys), under borrowed keys.
func BenchmarkUpdateGroup(b *testing.B) {
	const held = 100000
	c := New(held+1<<20, 1<<30)
	c.BorrowKeys()
	for i := range held {
		c.Put(Key("desktops", fmt.Sprintf("123456789012/us-east-1/ws-%09d", i)), make([]byte, 450))
	}
	v := make([]byte, 450)
	rng := rand.New(rand.NewPCG(1, 2))
	next := held
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		w := map[string][]byte{}
		for range 25 {
			w[Key("desktops", fmt.Sprintf("123456789012/us-east-1/ws-%09d", next))] = v
			w[Key("names", fmt.Sprintf("123456789012/us-east-1/name/n-%09d", next))] = Uncached()
			w[Key("desktops", fmt.Sprintf("123456789012/us-east-1/ws-%09d", rng.IntN(held)))] = v
			next++
		}
		b.StartTimer()
		c.Update(true, func(yield func(map[string][]byte, bool) bool) { yield(w, true) })
	}
}
