package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/readcache"
)

var _ store.CommittedScanner = (*DB)(nil)

// scanKeysChunk is how many keys ScanCommitted reads per statement.
const scanKeysChunk = 64

// ScanCommitted lists committed records (store.CommittedScanner) with the
// shared key listings and read cache (readcache.Committed). A key read
// touches only the B-tree's leaf cells (a record larger than a cell's local
// payload, as a desktop is, keeps the rest on overflow pages that a key
// read does not read).
func (db *DB) ScanCommitted(ctx context.Context, table, prefix, after string, limit int, fn func(string, []byte) error) error {
	return db.committed.ScanCommitted(ctx, table, prefix, after, limit, fn)
}

// ReadCache returns the store's read cache (for tests and measurements).
func (db *DB) ReadCache() *readcache.Cache { return db.cache }

// Listings returns ScanCommitted's key listings (for tests and
// measurements).
func (db *DB) Listings() *readcache.Committed { return db.committed }

// committedSource reads keys and committed values for readcache.Committed.
type committedSource struct{ db *DB }

// ScanKeys implements readcache.Source.
func (s committedSource) ScanKeys(ctx context.Context, table, prefix, after string, n int) ([]string, error) {
	return s.db.scanKeys(ctx, table, prefix, after, n)
}

// ReadValues implements readcache.Source.
func (s committedSource) ReadValues(ctx context.Context, table string, keys []string) ([][]byte, error) {
	return s.db.committedValues(ctx, table, keys)
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
// order, in batch statements (nil: the record does not exist, an empty
// value is non-nil).
func (db *DB) committedValues(ctx context.Context, table string, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	for off := 0; off < len(keys); {
		c := chunk(len(keys) - off)
		args := make([]any, 0, c+1)
		args = append(args, table)
		at := make(map[string]int, c)
		for i := off; i < off+c; i++ {
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
		off += c
	}
	return vals, nil
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
