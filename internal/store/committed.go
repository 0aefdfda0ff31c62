package store

import "context"

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
