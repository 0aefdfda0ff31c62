package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
)

// Decoded caches records decoded from their stored bytes, keyed by table,
// key and version, so that a record read again and again (a desktop polled
// by DescribeWorkspaces) is decoded once per version. A record's version is
// its stored bytes: an entry answers only a read that returned the very
// bytes it was decoded from (the embedded store hands back the same slice
// for an unchanged record, so the check is a pointer compare; PostgreSQL
// hands back a copy, compared byte for byte, still far cheaper than a
// decode). Records from it are shared and must not be modified.
//
// It holds at most max records; when full, it starts over.
type Decoded[T any] struct {
	max int
	mu  sync.Mutex
	m   map[tableKey]decodedRec[T]
}

type decodedRec[T any] struct {
	raw []byte
	v   *T
}

// NewDecoded returns a cache of at most max decoded records.
func NewDecoded[T any](max int) *Decoded[T] {
	return &Decoded[T]{max: max, m: map[tableKey]decodedRec[T]{}}
}

// Decode returns the record stored under table/key as b, decoded (with
// DecodeJSON) or from the cache when b is the version it was decoded from.
func (d *Decoded[T]) Decode(table, key string, b []byte) (*T, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("store: decode %s/%s: %w", table, key, errors.New("empty record"))
	}
	tk := tableKey{table, key}
	d.mu.Lock()
	e, ok := d.m[tk]
	d.mu.Unlock()
	if ok && bytes.Equal(e.raw, b) {
		return e.v, nil
	}
	v := new(T)
	if err := DecodeJSON(b, v); err != nil {
		return nil, fmt.Errorf("store: decode %s/%s: %w", table, key, err)
	}
	d.mu.Lock()
	if len(d.m) >= d.max {
		d.m = map[tableKey]decodedRec[T]{}
	}
	d.m[tk] = decodedRec[T]{raw: b, v: v}
	d.mu.Unlock()
	return v, nil
}

// Cached returns the record stored under table/key as b when the cache
// holds it decoded from b (a read that neither decodes nor caches).
func (d *Decoded[T]) Cached(table, key string, b []byte) (*T, bool) {
	d.mu.Lock()
	e, ok := d.m[tableKey{table, key}]
	d.mu.Unlock()
	if ok && bytes.Equal(e.raw, b) {
		return e.v, true
	}
	return nil, false
}

// Room reports whether the cache has room for another record (Decode
// would add one without starting over).
func (d *Decoded[T]) Room() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m) < d.max
}
