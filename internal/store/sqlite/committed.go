package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

var _ store.CommittedScanner = (*DB)(nil)

// scanKeysChunk is how many keys ScanCommitted reads per statement.
const scanKeysChunk = 64

// ScanCommitted lists committed records (store.CommittedScanner). Keys
// come from a listing of the prefix held in memory while no write group
// has written the table since it was read, else from the table: a listing
// that starts at the prefix's first key reads the whole prefix's keys
// (up to maxListingKeys) and keeps them, so that the pages after it (a
// broker paging a directory's desktops every pass) read no key from the
// database; a larger prefix, or a page whose listing no longer holds, reads
// its keys chunk by chunk. A key read touches only the B-tree's leaf cells
// (a record larger than a cell's local payload, as a desktop is, keeps the
// rest on overflow pages that a key read does not read). Values come from
// the read cache; those it does not hold are read in one batch statement
// per chunk of keys and cached while the cache has room (a listing of more
// records than the cache holds never starts it over). A key whose record
// was deleted after its keys were read is skipped.
func (db *DB) ScanCommitted(ctx context.Context, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	listed, err := db.listing(ctx, table, prefix, after)
	if err != nil {
		return err
	}
	if listed != nil && after >= prefix {
		listed = listed[sort.SearchStrings(listed, after):]
		if len(listed) > 0 && listed[0] == after {
			listed = listed[1:]
		}
	}
	n := 0
	for {
		var keys []string
		if listed != nil {
			keys = listed[:min(len(listed), scanKeysChunk)]
			listed = listed[len(keys):]
		} else if keys, err = db.scanKeys(ctx, table, prefix, after, scanKeysChunk); err != nil {
			return err
		}
		vals, err := db.committedValues(ctx, table, keys)
		if err != nil {
			return err
		}
		for i, k := range keys {
			if vals[i] == nil { // deleted since its key was read
				continue
			}
			if limit > 0 && n == limit {
				return nil
			}
			n++
			if err := fn(k, vals[i]); err != nil {
				if errors.Is(err, store.ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(keys) < scanKeysChunk {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// maxListingKeys bounds the keys of one kept listing (a variable for the
// tests); maxListings and maxListedKeys bound the listings kept and the
// keys they hold in all (when either is reached, they start over).
var maxListingKeys = 5000

const (
	maxListings   = 256
	maxListedKeys = 100000
)

// listings are ScanCommitted's key listings by table and prefix.
type listings struct {
	mu sync.Mutex
	m  map[string]keyListing // by table\x00prefix
	n  int                   // keys held in m
	// large marks prefixes found to hold more than maxListingKeys keys:
	// they are listed chunk by chunk.
	large map[string]bool
}

// keyListing is the keys of one table under one prefix, in order, as of a
// version of the table (readCache.tables).
type keyListing struct {
	version uint64
	keys    []string
}

// listing returns the keys of table under prefix when a listing of them
// holds, reading it when the scan starts at the prefix's first key (after
// before the prefix); nil when the keys are to be read chunk by chunk (the
// returned slice is shared: read only). A listing holds while no write
// group has written the table since before it was read, so it is never
// older than the values the read cache gives for its keys.
func (db *DB) listing(ctx context.Context, table, prefix, after string) ([]string, error) {
	lk := table + "\x00" + prefix
	version := db.cache.tableVersion(table)
	db.lists.mu.Lock()
	l, ok := db.lists.m[lk]
	large := db.lists.large[lk]
	db.lists.mu.Unlock()
	if ok && l.version == version {
		return l.keys, nil
	}
	if large || (after != "" && after >= prefix) {
		return nil, nil
	}
	keys, err := db.scanKeys(ctx, table, prefix, "", maxListingKeys+1)
	if err != nil {
		return nil, err
	}
	db.lists.mu.Lock()
	defer db.lists.mu.Unlock()
	if db.lists.m == nil || len(db.lists.m)+len(db.lists.large) >= maxListings || db.lists.n+len(keys) > maxListedKeys {
		db.lists.m, db.lists.large, db.lists.n = map[string]keyListing{}, map[string]bool{}, 0
	}
	if len(keys) > maxListingKeys {
		db.lists.large[lk] = true
		return nil, nil
	}
	if db.cache.tableVersion(table) == version {
		if old, ok := db.lists.m[lk]; ok {
			db.lists.n -= len(old.keys)
		}
		db.lists.m[lk] = keyListing{version: version, keys: keys}
		db.lists.n += len(keys)
	}
	return keys, nil
}

// tableVersion is how many write groups have written table so far.
func (c *readCache) tableVersion(table string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tables[table]
}

// wroteTable counts a write group's write of a record (key table\x00key)
// of its table (the caller holds mu).
func (c *readCache) wroteTable(k string) {
	if i := strings.IndexByte(k, 0); i >= 0 {
		c.tables[k[:i]]++
	}
}

// scanKeys reads up to n keys of table under prefix after after, in order.
// The statement has no upper bound: SQLite checks a bound on an index's
// key (the kv table is one) by reading the whole record of every row, its
// overflow pages included, while a row-value lower bound only seeks; the
// keys past the prefix are cut off here (the first ends the listing).
func (db *DB) scanKeys(ctx context.Context, table, prefix, after string, n int) ([]string, error) {
	lo, q := prefix, scanKeysFromSQL
	if after != "" && after >= prefix {
		lo, q = after, scanKeysAfterSQL
	}
	rows, err := db.rc.m[q].QueryContext(ctx, table, lo, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: scan keys %s/%s: %w", table, prefix, err)
	}
	keys := make([]string, 0, n)
	err = eachRow(rows, func() error {
		var t, k string
		if err := rows.Scan(&t, &k); err != nil {
			return err
		}
		if t == table && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: scan keys %s/%s: %w", table, prefix, err)
	}
	return keys, nil
}

// committedValues returns the committed values of keys of table, in their
// order: from the read cache, the others in batch statements (nil: the
// record does not exist, an empty value is non-nil).
func (db *DB) committedValues(ctx context.Context, table string, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	var miss []int
	var seq uint64
	for i, k := range keys {
		v, ok, s := db.cache.get(table + "\x00" + k)
		if ok {
			vals[i] = v
			continue
		}
		if len(miss) == 0 {
			seq = s // the earliest: a write group after it refuses the fills
		}
		miss = append(miss, i)
	}
	for len(miss) > 0 {
		c := chunk(len(miss))
		args := make([]any, 0, c+1)
		args = append(args, table)
		at := make(map[string]int, c)
		for _, i := range miss[:c] {
			args = append(args, keys[i])
			at[keys[i]] = i
		}
		rows, err := db.rc.m[batchSQL[c].get].QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: get %d records of %s: %w", c, table, err)
		}
		err = eachRow(rows, func() error {
			var k string
			var v []byte
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			if v == nil {
				v = []byte{}
			}
			if i, ok := at[k]; ok {
				vals[i] = v
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sqlite: get records of %s: %w", table, err)
		}
		for _, i := range miss[:c] {
			db.cache.fillRoom(table+"\x00"+keys[i], vals[i], seq)
		}
		miss = miss[c:]
	}
	return vals, nil
}

// fillRoom caches v under k as fill does, but only while the cache has room
// for it: a listing never starts the cache over.
func (c *readCache) fillRoom(k string, v []byte, seq uint64) {
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

// The key listings of scanKeys, from a key on and after it.
const (
	scanKeysFromSQL  = `SELECT tbl, k FROM kv WHERE (tbl, k) >= (?, ?) ORDER BY tbl, k LIMIT ?`
	scanKeysAfterSQL = `SELECT tbl, k FROM kv WHERE (tbl, k) > (?, ?) ORDER BY tbl, k LIMIT ?`
)

var _ store.CommitObserver = (*DB)(nil)

// ObserveCommits implements store.CommitObserver: the flusher calls f for
// every update it answers as committed, once the WAL sync made it durable.
func (db *DB) ObserveCommits(f func(time.Duration)) {
	if f == nil {
		db.observe.Store(nil)
		return
	}
	db.observe.Store(&f)
}
