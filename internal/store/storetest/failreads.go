package storetest

import (
	"context"

	"github.com/deskplane/deskplane/internal/store"
)

// FailReads wraps a store so that every read fails with Err: Store.Get, and
// Get, Scan, Count and GetMany inside View and Update transactions. Writes
// pass through. Tests use it to hold code that reads before it decides
// (authorization on tags, say) to failing closed.
type FailReads struct {
	store.Store
	Err error
}

// Get implements store.Store.
func (s FailReads) Get(ctx context.Context, table, key string) ([]byte, error) { return nil, s.Err }

// View implements store.Store.
func (s FailReads) View(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(failTx{Tx: tx, err: s.Err}) })
}

// Update implements store.Store.
func (s FailReads) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(failTx{Tx: tx, err: s.Err}) })
}

type failTx struct {
	store.Tx
	err error
}

func (t failTx) Get(context.Context, string, string) ([]byte, error) { return nil, t.err }

func (t failTx) Scan(context.Context, string, string, string, int, func(string, []byte) error) error {
	return t.err
}

func (t failTx) Count(context.Context, string, string) (int, error) { return 0, t.err }

func (t failTx) GetMany(context.Context, string, []string) (map[string][]byte, error) {
	return nil, t.err
}
