package cloudtrail

import (
	"bytes"
	"context"
	"fmt"

	"github.com/deskplane/deskplane/internal/store"
)

// migrateChunk is how many stored segments MigrateEvents copies in one
// update of the destination (a segment holds one batch's events of an
// account and region: up to a few hundred KB).
const migrateChunk = 256

// MigrateEvents copies every stored event of from (a store the trail wrote
// to, such as the embedded Pebble store's former pebble/cloudtrail) into
// to, segment by segment under the same keys and values, in updates of
// migrateChunk segments, and returns how many segments it copied. A copy
// cut short (a crash, kill -9) loses nothing as long as from is kept, and
// copying again duplicates nothing: a segment's key is its newest event's
// (ACCOUNT/REGION/INVTIME/EVENTID, unique), so a second copy writes the
// same record over itself. Every update it made is durable when it
// returns. Call it before the trail that writes to to starts.
func MigrateEvents(ctx context.Context, from, to store.Store) (int, error) {
	uncached := store.Uncached(ctx)
	after, n := "", 0
	for {
		var recs []store.KV
		err := from.View(ctx, func(tx store.Tx) error {
			return tx.Scan(ctx, tEvents, "", after, migrateChunk, func(k string, v []byte) error {
				recs = append(recs, store.KV{Key: k, Value: bytes.Clone(v)})
				return nil
			})
		})
		if err != nil {
			return n, fmt.Errorf("cloudtrail: read the events to migrate after %q: %w", after, err)
		}
		if len(recs) == 0 {
			return n, nil
		}
		if err := to.Update(uncached, func(tx store.Tx) error {
			return tx.PutMany(uncached, tEvents, recs)
		}); err != nil {
			return n, fmt.Errorf("cloudtrail: write the migrated events after %q: %w", after, err)
		}
		n += len(recs)
		after = recs[len(recs)-1].Key
	}
}
