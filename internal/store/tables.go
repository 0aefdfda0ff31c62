package store

import "context"

// TableKeys are keys of one table: one of the reads of GetTables.
// Shared reads them as under a context marked by SharedReads (the others
// of the call as their context says): a transaction can so read records it
// acts on and records it only checks in one call.
type TableKeys struct {
	Table  string
	Keys   []string
	Shared bool
}

// TableRecs are records of one table: one of the creations of
// CreateTables. Uncached marks them as Create and CreateMany do under a
// context marked by Uncached (the others of the call are not).
type TableRecs struct {
	Table    string
	Recs     []KV
	Uncached bool
}

// TablesTx is a Tx that reads, or creates, records of several tables in
// one round trip to its server (store/postgres): a transaction that holds a
// hot record's lock then waits for one answer instead of one per table.
// Use it through GetTables and CreateTables, which do the same on any Tx.
type TablesTx interface {
	// GetTables is GetMany of each read, in order.
	GetTables(ctx context.Context, reads []TableKeys) ([]map[string][]byte, error)
	// CreateTables is CreateMany of each creation, in order.
	CreateTables(ctx context.Context, creates []TableRecs) ([][]string, error)
}

// GetTables reads keys of several tables: out[i] holds the records of
// reads[i] that exist, as GetMany returns them (an empty read gets an
// empty map). It is GetMany of each read in order, and takes the keys'
// locks in that order (so a caller keeps its lock order by the order of
// reads); a TablesTx does it in one round trip.
func GetTables(ctx context.Context, tx Tx, reads []TableKeys) ([]map[string][]byte, error) {
	if m, ok := tx.(TablesTx); ok {
		return m.GetTables(ctx, reads)
	}
	out := make([]map[string][]byte, len(reads))
	for i, r := range reads {
		if len(r.Keys) == 0 {
			out[i] = map[string][]byte{}
			continue
		}
		rctx := ctx
		if r.Shared {
			rctx = SharedReads(ctx)
		}
		got, err := tx.GetMany(rctx, r.Table, r.Keys)
		if err != nil {
			return nil, err
		}
		out[i] = got
	}
	return out, nil
}

// CreateTables creates records of several tables: existing[i] lists, in
// order, the keys of creates[i] that were not created, as CreateMany
// returns them. It is CreateMany of each creation in order (locks taken in
// that order); a TablesTx does it in one round trip. Each table's records
// are created or not on their own: a key that exists in one table leaves
// the records of the others created (the caller withdraws what it must,
// as after separate CreateMany calls).
func CreateTables(ctx context.Context, tx Tx, creates []TableRecs) ([][]string, error) {
	if m, ok := tx.(TablesTx); ok {
		return m.CreateTables(ctx, creates)
	}
	out := make([][]string, len(creates))
	for i, c := range creates {
		if len(c.Recs) == 0 {
			continue
		}
		cctx := ctx
		if c.Uncached {
			cctx = Uncached(ctx)
		}
		existing, err := tx.CreateMany(cctx, c.Table, c.Recs)
		if err != nil {
			return nil, err
		}
		out[i] = existing
	}
	return out, nil
}
