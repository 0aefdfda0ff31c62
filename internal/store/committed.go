package store

import (
	"context"
	"time"
)

// CommittedScanner is a Store that lists committed records outside any
// transaction, as Get reads one: each record as some committed write left
// it, with no snapshot across records (a record written during the listing
// may be seen before or after the write). The embedded store implements it
// with the keys from its table and the values from its read cache, so that
// a listing read again and again (DescribeWorkspaces paged by a broker
// every reconcile pass) does not copy every record out of the database.
type CommittedScanner interface {
	// ScanCommitted calls fn for committed records of table whose key
	// starts with prefix and is greater than after, in key order, at most
	// limit of them (0: no limit). fn returning ErrStop ends the scan
	// without error. The values may be shared with other readers and must
	// not be modified.
	ScanCommitted(ctx context.Context, table, prefix, after string, limit int, fn func(key string, value []byte) error) error
}

// ScanCommitted lists committed records of table as CommittedScanner does
// when s implements it, else in a read transaction (View and Scan).
func ScanCommitted(ctx context.Context, s Store, table, prefix, after string, limit int, fn func(key string, value []byte) error) error {
	if cs, ok := s.(CommittedScanner); ok {
		return cs.ScanCommitted(ctx, table, prefix, after, limit, fn)
	}
	return s.View(ctx, func(tx Tx) error { return tx.Scan(ctx, table, prefix, after, limit, fn) })
}

// CommitObserver is a Store that reports how long each of its updates took
// to commit durably: from the call to Update (or one function of
// UpdateEach) until its commit was on disk and the caller answered (the
// wait for the writer, the transaction, the commit and the sync: on the
// embedded store a group commit's WAL sync). The server's /metrics shows
// it as deskplane_store_commit_seconds.
type CommitObserver interface {
	// ObserveCommits makes the store call f with the duration of every
	// update that committed (nil: none). f must be cheap and must not
	// block: it runs on the store's commit path.
	ObserveCommits(f func(d time.Duration))
}
