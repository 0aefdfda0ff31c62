package workspaces

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/store"
)

// TestFreshRecsTakeOnlyTheirVersionOnce: a record put is taken once, and
// only by a read that returned the bytes put with it; when full, the
// handoff starts over.
func TestFreshRecsTakeOnlyTheirVersionOnce(t *testing.T) {
	f := newFreshRecs(2)
	w := &desktopRec{WorkspaceID: "ws-1"}
	f.put("k1", []byte(`{"id":"ws-1"}`), w)
	if got := f.take("k1", []byte(`{"id":"ws-1","seq":1}`)); got != nil {
		t.Fatal("took a record for bytes that are not its version")
	}
	if got := f.take("k1", []byte(`{"id":"ws-1"}`)); got != nil {
		t.Fatal("took a record a read of other bytes had already dropped")
	}
	f.put("k1", []byte(`{"id":"ws-1"}`), w)
	if got := f.take("k1", []byte(`{"id":"ws-1"}`)); got != w {
		t.Fatalf("take = %v; want the record put", got)
	}
	if got := f.take("k1", []byte(`{"id":"ws-1"}`)); got != nil {
		t.Fatal("took a record twice")
	}
	// The very bytes put (the read cache's usual answer) are taken; other
	// bytes of the same length are not.
	raw := []byte(`{"id":"ws-1"}`)
	f.put("k1", raw, w)
	if got := f.take("k1", raw); got != w {
		t.Fatalf("take of the bytes put = %v; want the record put", got)
	}
	f.put("k1", raw, w)
	if got := f.take("k1", []byte(`{"id":"ws-2"}`)); got != nil {
		t.Fatal("took a record for other bytes of the same length")
	}
	f.put("a", []byte("1"), w)
	f.put("b", []byte("2"), w)
	f.put("c", []byte("3"), w) // full: starts over
	if f.take("a", []byte("1")) != nil || f.take("c", []byte("3")) != w {
		t.Fatal("a full handoff did not start over")
	}
}

// TestProvisioningFromTheHandoffWritesWhatDecodingWrites: a new desktop's
// provisioning job, given the record its creation built (freshRecs), stores
// the very bytes it stores when it decodes the record it reads; it uses the
// handed record (a record handed with a mark its bytes do not have comes
// out marked) only when the bytes handed with it are those it read.
func TestProvisioningFromTheHandoffWritesWhatDecodingWrites(t *testing.T) {
	ctx := context.Background()
	const acct, region = config.CustomerAccount, "us-east-1"
	const (
		none = iota
		same
		marked      // the handed record differs from its bytes (by its maintenance group)
		markedStale // and is handed with other bytes than those stored
	)
	provision := func(handoff int) []byte {
		db, update := openTestStore(t)
		clk := clock.NewVirtual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), true)
		timing, err := lifecycle.Profile("instant")
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		eng := lifecycle.New(db, clk, timing, log)
		m := New(Options{Config: config.Default(), Store: db, Engine: eng, Log: log})
		w := benchDesktop()
		now := clk.Now()
		w.State, w.AvailableSince, w.SnapshotBase, w.Seq = "PENDING", nil, nil, 0
		w.Created, w.StateSince, w.History = now, now, []Transition{{State: "PENDING", Time: now}}
		k := key(acct, region, w.WorkspaceID)
		var raw []byte
		update(func(tx store.Tx) error {
			if raw, err = store.EncodeJSON(w); err != nil {
				return err
			}
			if err := tx.Put(ctx, tDesktops, k, raw); err != nil {
				return err
			}
			return m.engine.Schedule(ctx, tx, "tb/"+k, jobTransitionBatch, now, jobRefs{{Key: k}})
		})
		switch handoff {
		case same:
			m.fresh.put(k, raw, w)
		case marked:
			// A member the provisioning writes anew: the handed record's
			// other members are those its bytes hold (freshRecs), and the
			// batch copies them from the bytes (patchProvisioned).
			w.MaintGroup = "handed"
			m.fresh.put(k, raw, w)
		case markedStale:
			w.UserName = "handed"
			m.fresh.put(k, append(bytes.Clone(raw), ' '), w)
		}
		if n, err := eng.RunDue(ctx); err != nil || n != 1 {
			t.Fatalf("RunDue = %d, %v; want the provisioning job run", n, err)
		}
		if len(m.fresh.m) != 0 {
			t.Fatal("the provisioning job left the handed record")
		}
		var got []byte
		if err := db.View(ctx, func(tx store.Tx) error {
			got, err = tx.Get(ctx, tDesktops, k)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(got, []byte(`"state":"AVAILABLE"`)) {
			t.Fatalf("after provisioning: %s", got)
		}
		return got
	}
	decoded := provision(none)
	if handed := provision(same); !bytes.Equal(decoded, handed) {
		t.Fatalf("provisioned from the handoff:\n%s\nfrom its decoded read:\n%s", handed, decoded)
	}
	if got := provision(marked); !bytes.Contains(got, []byte(`"mg":"handed"`)) { // the compact form's maintenance group
		t.Fatalf("the job did not use the record handed with the bytes it read: %s", got)
	}
	if got := provision(markedStale); !bytes.Equal(got, decoded) {
		t.Fatalf("the job used a record handed with other bytes than those it read: %s", got)
	}
}
