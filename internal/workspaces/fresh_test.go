package workspaces

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/store"
)

// TestFreshRecsTakeOnlyTheirVersionOnce: a request's records put are
// taken once, by their job's first key; a record is used only for a read
// that returned the bytes put with it; when full, the handoff starts over.
func TestFreshRecsTakeOnlyTheirVersionOnce(t *testing.T) {
	f := newFreshRecs(3)
	w1, w2 := &desktopRec{WorkspaceID: "ws-1"}, &desktopRec{WorkspaceID: "ws-2"}
	raw := []byte(`{"id":"ws-1"}`)
	f.put("k1", []storedRec{{key: "k1", raw: raw, w: w1}, {key: "k2", raw: []byte(`{"id":"ws-2"}`), w: w2}})
	if got := f.take("k2"); got != nil {
		t.Fatal("took a request's records by a key other than its first")
	}
	got := f.take("k1")
	if len(got) != 2 || got[0].w != w1 || got[1].w != w2 {
		t.Fatalf("take = %v; want the records put", got)
	}
	if f.take("k1") != nil || f.n != 0 {
		t.Fatalf("took the records twice (or left %d held)", f.n)
	}
	s := got[0]
	if s.version(raw) != w1 {
		t.Fatal("the very bytes put are not its version")
	}
	if s.version([]byte(`{"id":"ws-1"}`)) != w1 {
		t.Fatal("equal bytes are not its version")
	}
	if s.version([]byte(`{"id":"ws-3"}`)) != nil || s.version([]byte(`{"id":"ws-1","seq":1}`)) != nil {
		t.Fatal("other bytes taken as its version")
	}
	f.put("a", []storedRec{{key: "a", raw: []byte("1"), w: w1}, {key: "b", raw: []byte("2"), w: w1}})
	f.put("c", []storedRec{{key: "c", raw: []byte("3"), w: w2}, {key: "d", raw: []byte("4"), w: w2}}) // past 3: starts over
	if f.take("a") != nil || len(f.take("c")) != 2 {
		t.Fatal("a full handoff did not start over")
	}
}

// TestProvisioningTakesTheHandedRecordsOfItsRefs: a provisioning job of
// several desktops takes the records handed for it in the order of its
// refs, where some desktops were not handed (a record stored again under
// another key): each handed desktop's provisioned record is the one built
// from its handed record (marked), the others' are decoded from what was
// read.
func TestProvisioningTakesTheHandedRecordsOfItsRefs(t *testing.T) {
	ctx := context.Background()
	const acct, region = config.CustomerAccount, "us-east-1"
	db, update := openTestStore(t)
	clk, eng, log := testEngine(t, db, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), "instant")
	m := New(Options{Config: config.Default(), Store: db, Engine: eng, Log: log})
	now := clk.Now()
	var refs jobRefs
	var handed []storedRec
	var keys []string
	for i := range 6 {
		w := benchDesktop()
		w.WorkspaceID = fmt.Sprintf("ws-%08x", i+1)
		w.State, w.AvailableSince, w.SnapshotBase, w.Seq = "PENDING", nil, nil, 0
		w.Created, w.StateSince, w.History = now, now, []Transition{{State: "PENDING", Time: now}}
		k := key(acct, region, w.WorkspaceID)
		raw, err := store.EncodeJSON(w)
		if err != nil {
			t.Fatal(err)
		}
		update(func(tx store.Tx) error { return tx.Put(ctx, tDesktops, k, raw) })
		refs, keys = append(refs, jobRef{Key: k}), append(keys, k)
		if i != 0 && i != 3 { // desktops 0 and 3 were not handed
			w.MaintGroup = "handed"
			handed = append(handed, storedRec{key: k, raw: raw, w: w})
		}
	}
	update(func(tx store.Tx) error {
		return m.engine.Schedule(ctx, tx, "tb/"+keys[0], jobTransitionBatch, now, refs)
	})
	m.fresh.put(keys[0], handed)
	if n, err := eng.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("RunDue = %d, %v; want the provisioning job run", n, err)
	}
	if len(m.fresh.m) != 0 {
		t.Fatal("the provisioning job left the handed records")
	}
	for i, k := range keys {
		got, err := db.Get(ctx, tDesktops, k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(got, []byte(`"state":"AVAILABLE"`)) {
			t.Fatalf("desktop %d after provisioning: %s", i, got)
		}
		if want := i != 0 && i != 3; bytes.Contains(got, []byte(`"mg":"handed"`)) != want {
			t.Fatalf("desktop %d: built from the handed record: %v, want %v: %s", i, !want, want, got)
		}
		// Each is its own record, as its encoding writes it (the batch
		// patches the handed ones into one array, encodes the others).
		var d desktopRec
		if err := store.DecodeJSON(got, &d); err != nil {
			t.Fatalf("desktop %d: %v: %s", i, err, got)
		}
		if want := key(acct, region, d.WorkspaceID); want != k || d.State != "AVAILABLE" {
			t.Fatalf("desktop %d: read %s (%s) under %s", i, want, d.State, k)
		}
		if enc, err := store.EncodeJSON(&d); err != nil || !bytes.Equal(enc, got) {
			t.Fatalf("desktop %d: stored\n%s\nits encoding\n%s (%v)", i, got, enc, err)
		}
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
		clk, eng, log := testEngine(t, db, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), "instant")
		m := New(Options{Config: config.Default(), Store: db, Engine: eng, Log: log})
		var err error
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
			m.fresh.put(k, []storedRec{{key: k, raw: raw, w: w}})
		case marked:
			// A member the provisioning writes anew: the handed record's
			// other members are those its bytes hold (freshRecs), and the
			// batch copies them from the bytes (patchProvisioned).
			w.MaintGroup = "handed"
			m.fresh.put(k, []storedRec{{key: k, raw: raw, w: w}})
		case markedStale:
			w.UserName = "handed"
			m.fresh.put(k, []storedRec{{key: k, raw: append(bytes.Clone(raw), ' '), w: w}})
		}
		if n, err := eng.RunDue(ctx); err != nil || n != 1 {
			t.Fatalf("RunDue = %d, %v; want the provisioning job run", n, err)
		}
		if len(m.fresh.m) != 0 {
			t.Fatal("the provisioning job left the handed record")
		}
		got, err := db.Get(ctx, tDesktops, k)
		if err != nil {
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

// TestNameRecsAsNameKey: nameRecs makes each named desktop's record as
// nameKey and the id quoted make it, in order, skipping the unnamed; and
// repeatsKey tells a repeated key as a set of keys does (300 random
// requests of up to 40 desktops, names drawn from a few so that they
// repeat).
func TestNameRecsAsNameKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 7))
	pool := []string{"a", "bb", "desk-é", "x_(1)", "long-name-of-a-desktop", "Z"}
	for range 300 {
		as := make([]acceptedDesktop, rng.IntN(40))
		var want []store.KV
		var wantIdx []int
		for i := range as {
			w := &desktopRec{WorkspaceID: fmt.Sprintf("ws-%09x", rng.Uint32())}
			if rng.IntN(4) > 0 {
				w.WorkspaceName = pool[rng.IntN(len(pool))]
				want = append(want, store.KV{Key: nameKey("111122223333", "eu-west-1", "name", w.WorkspaceName), Value: []byte(`"` + w.WorkspaceID + `"`)})
				wantIdx = append(wantIdx, i)
			}
			as[i].w = w
		}
		got, idx := nameRecs("111122223333", "eu-west-1", as)
		if len(got) != len(want) || !slices.Equal(idx, wantIdx) {
			t.Fatalf("%d records at %v; want %d at %v", len(got), idx, len(want), wantIdx)
		}
		seen := map[string]bool{}
		repeats := false
		for j := range want {
			if got[j].Key != want[j].Key || !bytes.Equal(got[j].Value, want[j].Value) {
				t.Fatalf("record %d: %q=%s; want %q=%s", j, got[j].Key, got[j].Value, want[j].Key, want[j].Value)
			}
			repeats = repeats || seen[want[j].Key]
			seen[want[j].Key] = true
		}
		if repeatsKey(got) != repeats {
			t.Fatalf("repeatsKey = %v; want %v (%d records)", !repeats, repeats, len(got))
		}
	}
}

// TestRepeatsKeyAsASet: repeatsKey answers as a set of the keys does, over
// random sets of up to 40 keys (the table and the map) that share a prefix,
// end alike (same last bytes, other heads: the table's slots collide) or
// differ only in length, with and without a repeat.
func TestRepeatsKeyAsASet(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 14))
	heads := []string{"111122223333/us-east-1/name/", "111122223333/us-east-1/name/x", "9/eu/name/", ""}
	tails := []string{"desk-1", "desk-10", "esk-10", "0", "", "é", "a-long-name-of-a-desktop", "b-long-name-of-a-desktop"}
	for range 20000 {
		n := rng.IntN(41)
		recs := make([]store.KV, 0, n)
		seen := map[string]bool{}
		repeats := false
		for range n {
			k := heads[rng.IntN(len(heads))] + tails[rng.IntN(len(tails))]
			if rng.IntN(3) == 0 {
				k += fmt.Sprint(rng.IntN(50))
			}
			repeats = repeats || seen[k]
			seen[k] = true
			recs = append(recs, store.KV{Key: k})
		}
		if repeatsKey(recs) != repeats {
			t.Fatalf("repeatsKey = %v; want %v for %d keys %v", !repeats, repeats, len(recs), recs)
		}
	}
}

// BenchmarkRepeatsKey: the name keys of a request of 25 named desktops.
func BenchmarkRepeatsKey(b *testing.B) {
	as := make([]acceptedDesktop, 25)
	for i := range as {
		as[i].w = &desktopRec{WorkspaceID: fmt.Sprintf("ws-%09d", i), WorkspaceName: fmt.Sprintf("b12-%d", i)}
	}
	names, _ := nameRecs("111122223333", "us-east-1", as)
	for b.Loop() {
		if repeatsKey(names) {
			b.Fatal("repeats")
		}
	}
}
