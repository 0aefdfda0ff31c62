package readcache

import "testing"

// TestReadCacheBounds: the cache holds at most its entries and bytes (it
// starts over past either), counts replaced and dropped values right, and
// a write leaves no large value in it.
func TestReadCacheBounds(t *testing.T) {
	c := New(4, 100)
	total := func() int {
		n := 0
		for k, v := range c.m {
			n += len(k) + len(v)
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
	if len(c.m) != 2 || string(c.m["x"]) != "vv" || c.bytes != total() || c.bytes != 5 {
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
	if v := c.m["t\x00small"]; string(v) != "s" || c.bytes != total() {
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
	if v, ok := c.Peek(nil, "desktops", "a/b/ws-1"); !ok || string(v) != "v1" {
		t.Fatalf("hit: %q %v", v, ok)
	}
	if v, ok := c.Peek(nil, "desktops", "a/b/gone"); !ok || v != nil {
		t.Fatalf("absent: %q %v", v, ok)
	}
	if _, ok := c.Peek(nil, "desktops", "a/b/ws-2"); ok {
		t.Fatal("miss reported as held")
	}
	dirty := map[string]bool{Key("desktops", "a/b/ws-1"): true}
	if _, ok := c.Peek(dirty, "desktops", "a/b/ws-1"); ok {
		t.Fatal("a key the group wrote is read from the cache")
	}
	long := string(make([]byte, 300)) // past the key buffer on the stack
	c.Put(Key("t", long), []byte("x"))
	if v, ok := c.Peek(nil, "t", long); !ok || string(v) != "x" {
		t.Fatalf("long key: %q %v", v, ok)
	}
	var nilCache *Cache
	if _, ok := nilCache.Peek(nil, "t", "k"); ok {
		t.Fatal("a nil cache answered")
	}
	for _, key := range []string{"a/b/ws-1", "a/b/ws-2"} {
		if n := testing.AllocsPerRun(100, func() { c.Peek(dirty, "desktops", key) }); n != 0 {
			t.Fatalf("Peek of %s allocates %v times", key, n)
		}
	}
}

// TestTableVersion: a write group moves the version of each table it
// wrote by one, however many records of it and in whatever order, failed
// updates and failed groups included, and leaves the other tables alone;
// past the short list of a group's tables, the others count as well.
func TestTableVersion(t *testing.T) {
	c := New(100, 1<<20)
	w1 := map[string][]byte{Key("a", "1"): []byte("x"), Key("b", "1"): []byte("x"), Key("a", "2"): nil}
	w2 := map[string][]byte{Key("a", "3"): []byte("x"), Key("c", "1"): []byte("x")}
	group := func(committed bool, ws ...map[string][]byte) {
		c.Update(committed, func(yield func(map[string][]byte, bool) bool) {
			for i, w := range ws {
				if !yield(w, i%2 == 0) {
					return
				}
			}
		})
	}
	group(true, w1, w2)
	want := map[string]uint64{"a": 1, "b": 1, "c": 1, "d": 0}
	for tb, v := range want {
		if got := c.TableVersion(tb); got != v {
			t.Fatalf("after one group: table %s at %d, want %d", tb, got, v)
		}
	}
	group(false, w2)
	want["a"], want["c"] = 2, 2
	for tb, v := range want {
		if got := c.TableVersion(tb); got != v {
			t.Fatalf("after a failed group: table %s at %d, want %d", tb, got, v)
		}
	}
	many := map[string][]byte{}
	for i := range 2 * maxTableNames {
		many[Key(string(rune('k'+i)), "x")] = []byte("v")
	}
	group(true, many)
	for i := range 2 * maxTableNames {
		if got := c.TableVersion(string(rune('k' + i))); got != 1 {
			t.Fatalf("table %d of %d in one group at %d, want 1", i, len(many), got)
		}
	}
	if c.group.n != 0 || len(c.group.more) != 0 {
		t.Fatal("the group's tables outlive Update")
	}
}

// BenchmarkUpdate is a create's write group as the cache brings it in:
// 25 new desktops and their jobs (two tables), then the same keys
// rewritten (the provisioning's writes of the desktops).
func BenchmarkUpdate(b *testing.B) {
	c := New(1<<20, 1<<30)
	v := make([]byte, 300)
	var keys []string
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if len(keys) == 0 || i%2 == 0 {
			keys = keys[:0]
			for j := range 25 {
				id := "123456789012/us-east-1/ws-" + string(rune('a'+j)) + itoa(i)
				keys = append(keys, Key("desktops", id), Key("jobs", id))
			}
		}
		w := make(map[string][]byte, len(keys))
		for _, k := range keys {
			w[k] = v
		}
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
			c.Peek(nil, "desktops", "123456789012/us-east-1/ws-0123456789")
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
