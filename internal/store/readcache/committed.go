package readcache

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/deskplane/deskplane/internal/store"
)

// Source is what Committed reads from the database: keys in order and
// committed values, both outside any transaction.
type Source interface {
	// ScanKeys returns up to n keys of table under prefix, greater than
	// after when after is not before the prefix, in order.
	ScanKeys(ctx context.Context, table, prefix, after string, n int) ([]string, error)
	// ReadValues returns the committed values of keys of table, in their
	// order (nil: the record does not exist; an empty value is non-nil).
	ReadValues(ctx context.Context, table string, keys []string) ([][]byte, error)
}

// ValueScanner is a Source that also lists keys and committed values in
// one pass (an iterator over the database: a key read with its value). A
// listing read chunk by chunk (a prefix larger than a kept listing, or a
// page after a listing no longer held) uses it instead of ScanKeys and
// ReadValues: a page of 25 desktops of a directory of a million reads its
// 26 records once, not 64 keys with their records and then 64 records again
// by key. fn is called with each key and its value (a copy the callee may
// keep) until it returns false or an error.
type ValueScanner interface {
	ScanValues(ctx context.Context, table, prefix, after string, fn func(key string, value []byte) (bool, error)) error
}

// Committed implements store.CommittedScanner over a Source and a Cache.
type Committed struct {
	Cache  *Cache
	Source Source
	// MaxListingKeys bounds the keys of one kept listing (0: 5000).
	MaxListingKeys int

	mu sync.Mutex
	m  map[string]keyListing // by table\x00prefix
	n  int                   // keys held in m
	// large marks prefixes found to hold more than MaxListingKeys keys:
	// they are listed chunk by chunk.
	large map[string]bool
}

// ScanChunk is how many keys ScanCommitted reads at a time.
const ScanChunk = 64

// maxListings and maxListedKeys bound the listings kept and the keys they
// hold in all (when either is reached, they start over).
const (
	maxListings   = 256
	maxListedKeys = 100000
)

// keyListing is the keys of one table under one prefix, in order, as of a
// version of the table (Cache.TableVersion).
type keyListing struct {
	version uint64
	keys    []string
}

// ForgetListings drops every kept listing (and what is known of large
// prefixes).
func (c *Committed) ForgetListings() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m, c.large, c.n = nil, nil, 0
}

// Listings returns the number of key listings kept.
func (c *Committed) Listings() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Committed) maxKeys() int {
	if c.MaxListingKeys > 0 {
		return c.MaxListingKeys
	}
	return 5000
}

// ScanCommitted lists committed records (store.CommittedScanner). Keys
// come from a listing of the prefix held in memory while no write group
// has written the table since it was read, else from the Source: a listing
// that starts at the prefix's first key reads the whole prefix's keys (up
// to MaxListingKeys) and keeps them, so that the pages after it (a broker
// paging a directory's desktops every pass) read no key from the database;
// a larger prefix, or a page whose listing no longer holds, reads its keys
// chunk by chunk. Values come from the read cache; those it does not hold
// are read in one batch per chunk of keys and cached while the cache has
// room (a listing of more records than the cache holds never starts it
// over). A key whose record was deleted after its keys were read is
// skipped.
func (c *Committed) ScanCommitted(ctx context.Context, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	listed, err := c.listing(ctx, table, prefix, after)
	if err != nil {
		return err
	}
	if vs, ok := c.Source.(ValueScanner); ok && listed == nil {
		return c.scanValues(ctx, vs, table, prefix, after, limit, fn)
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
			keys = listed[:min(len(listed), ScanChunk)]
			listed = listed[len(keys):]
		} else if keys, err = c.Source.ScanKeys(ctx, table, prefix, after, ScanChunk); err != nil {
			return err
		}
		vals, err := c.values(ctx, table, keys)
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
		if len(keys) < ScanChunk {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// scanValues is ScanCommitted's listing chunk by chunk, from a
// ValueScanner: the values come from the database with their keys, not
// from the read cache (a listing of more records than the cache holds
// would miss it anyway, and the database's value is never older than the
// cache's: a write group commits before it updates the cache).
func (c *Committed) scanValues(ctx context.Context, vs ValueScanner, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	n := 0
	var ferr error
	err := vs.ScanValues(ctx, table, prefix, after, func(k string, v []byte) (bool, error) {
		if limit > 0 && n == limit {
			return false, nil
		}
		n++
		if ferr = fn(k, v); ferr != nil {
			if errors.Is(ferr, store.ErrStop) {
				ferr = nil
				return false, nil
			}
			return false, ferr
		}
		return true, nil
	})
	if err != nil && ferr == nil {
		return err
	}
	return ferr
}

// listing returns the keys of table under prefix when a listing of them
// holds, reading it when the scan starts at the prefix's first key (after
// before the prefix); nil when the keys are to be read chunk by chunk (the
// returned slice is shared: read only). A listing holds while no write
// group has written the table since before it was read, so it is never
// older than the values the read cache gives for its keys.
func (c *Committed) listing(ctx context.Context, table, prefix, after string) ([]string, error) {
	lk := Key(table, prefix)
	version := c.Cache.TableVersion(table)
	c.mu.Lock()
	l, ok := c.m[lk]
	large := c.large[lk]
	c.mu.Unlock()
	if ok && l.version == version {
		return l.keys, nil
	}
	if large || (after != "" && after >= prefix) {
		return nil, nil
	}
	maxKeys := c.maxKeys()
	keys, err := c.Source.ScanKeys(ctx, table, prefix, "", maxKeys+1)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(c.large) >= maxListings || c.n+len(keys) > maxListedKeys {
		c.m, c.large, c.n = map[string]keyListing{}, map[string]bool{}, 0
	}
	if len(keys) > maxKeys {
		c.large[lk] = true
		return nil, nil
	}
	if c.Cache.TableVersion(table) == version {
		if old, ok := c.m[lk]; ok {
			c.n -= len(old.keys)
		}
		c.m[lk] = keyListing{version: version, keys: keys}
		c.n += len(keys)
	}
	return keys, nil
}

// values returns the committed values of keys of table, in their order:
// from the read cache, the others from the Source (nil: the record does
// not exist, an empty value is non-nil), cached while the cache has room.
func (c *Committed) values(ctx context.Context, table string, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	var miss []string
	var at []int
	var seq uint64
	for i, k := range keys {
		v, ok, s := c.Cache.Get(Key(table, k))
		if ok {
			vals[i] = v
			continue
		}
		if len(miss) == 0 {
			seq = s // the earliest: a write group after it refuses the fills
		}
		miss = append(miss, k)
		at = append(at, i)
	}
	if len(miss) == 0 {
		return vals, nil
	}
	got, err := c.Source.ReadValues(ctx, table, miss)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		vals[i] = got[j]
		c.Cache.FillRoom(Key(table, miss[j]), got[j], seq)
	}
	return vals, nil
}
