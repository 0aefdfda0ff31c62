package workspaces

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

func TestOrderedIDsSortAndStayDistinct(t *testing.T) {
	prev := newOrderedID("ws-")
	names := map[string]bool{computerName(prev): true}
	for range 10000 {
		id := newOrderedID("ws-")
		if len(id) != len("ws-")+9 || id <= prev {
			t.Fatalf("id %q after %q: want 9 digits, sorting after the previous", id, prev)
		}
		n := computerName(id)
		if names[n] {
			t.Fatalf("computer name %s handed out twice", n)
		}
		names[n] = true
		prev = id
	}
}

func TestInsertDesktopFallsBackOnATakenID(t *testing.T) {
	ctx := context.Background()
	db, update := openTestStore(t)
	// The id the next desktop would get is taken (another node, at the same
	// instant): the desktop gets another id and both records survive.
	// Move the counter a day ahead of the clock, so the value handed out
	// next does not depend on how much time passes.
	base := uint64(time.Since(orderedIDEpoch)/(100*time.Microsecond)) + 864_000_000
	orderedIDs.Store(base)
	taken := newOrderedID("ws-")
	orderedIDs.Store(base) // hand the same value out again
	w := &desktopRec{WorkspaceID: newOrderedID("ws-"), State: "PENDING"}
	if w.WorkspaceID != taken {
		t.Fatalf("setup: %s, want %s again", w.WorkspaceID, taken)
	}
	w.ComputerName = computerName(w.WorkspaceID)
	update(func(tx store.Tx) error {
		if err := store.CreateJSON(ctx, tx, tDesktops, key("1", "r", taken), &desktopRec{WorkspaceID: taken, State: "AVAILABLE"}); err != nil {
			return err
		}
		return insertDesktop(ctx, tx, "1", "r", w)
	})
	if w.WorkspaceID == taken || w.ComputerName != computerName(w.WorkspaceID) {
		t.Fatalf("desktop kept the taken id: %s (%s)", w.WorkspaceID, w.ComputerName)
	}
	wantStates(t, db, map[string]string{taken: "AVAILABLE", w.WorkspaceID: "PENDING"})
}

func TestVolumeIDsLookLikeEBS(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := volumeID()
		if !regexp.MustCompile(`^vol-[0-9a-f]{17}$`).MatchString(id) || id[13:] == id[4:12] || seen[id] {
			t.Fatalf("volume id %s: want vol- and 17 random hex digits, each once", id)
		}
		seen[id] = true
	}
}

// TestSplitKeyAsSplitN: splitKey splits as strings.SplitN(k, "/", 3) into
// three parts (missing ones empty).
func TestSplitKeyAsSplitN(t *testing.T) {
	for _, k := range []string{"", "a", "a/", "/", "//", "a/b", "a/b/", "111122223333/us-east-1/ws-0bst0hl6x", "a/b/c/d", "a//c"} {
		var want [3]string
		copy(want[:], strings.SplitN(k, "/", 3))
		if got := splitKey(k); got != want {
			t.Errorf("splitKey(%q) = %q, want %q", k, got, want)
		}
	}
}

// TestWriteDesktopsFallsBackOnATakenID: a request's desktop whose id is
// taken already gets another, its key and record follow it (its bytes are
// left unknown, so its job decodes them), and the others keep theirs.
func TestWriteDesktopsFallsBackOnATakenID(t *testing.T) {
	ctx := context.Background()
	db, update := openTestStore(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	mk := func(id string) *desktopRec {
		return &desktopRec{WorkspaceID: id, ComputerName: computerName(id), State: "PENDING", Created: now, StateSince: now}
	}
	taken, free := newOrderedID("ws-"), newOrderedID("ws-")
	as := []acceptedDesktop{{w: mk(free)}, {w: mk(taken), index: 1}}
	c := &gateway.Call{Account: "1", Region: "r", Now: now}
	var refused []error
	update(func(tx store.Tx) error {
		if err := store.CreateJSON(ctx, tx, tDesktops, key("1", "r", taken), &desktopRec{WorkspaceID: taken, State: "AVAILABLE"}); err != nil {
			return err
		}
		var err error
		refused, err = (&Module{}).writeDesktops(ctx, tx, c, as)
		return err
	})
	if refused[0] != nil || refused[1] != nil {
		t.Fatalf("refused: %v", refused)
	}
	moved := as[1].w
	if moved.WorkspaceID == taken || as[1].key != key("1", "r", moved.WorkspaceID) || as[1].raw != nil {
		t.Fatalf("taken id: now %s, key %s, raw %d bytes", moved.WorkspaceID, as[1].key, len(as[1].raw))
	}
	if as[0].w.WorkspaceID != free || as[0].key != key("1", "r", free) || as[0].raw == nil {
		t.Fatalf("free id: %s, key %s, raw %d bytes", as[0].w.WorkspaceID, as[0].key, len(as[0].raw))
	}
	wantStates(t, db, map[string]string{taken: "AVAILABLE", moved.WorkspaceID: "PENDING", free: "PENDING"})
}

// wantStates fails t unless each desktop of account "1", region "r" is
// stored in its state.
func wantStates(t *testing.T, db store.Store, states map[string]string) {
	t.Helper()
	ctx := context.Background()
	for id, state := range states {
		var got *desktopRec
		err := db.View(ctx, func(tx store.Tx) error {
			var err error
			got, err = getRec[desktopRec](ctx, tx, tDesktops, key("1", "r", id))
			return err
		})
		if err != nil || got == nil || got.State != state {
			t.Fatalf("record %s: %+v, %v; want state %s", id, got, err, state)
		}
	}
}

// TestDesktopIDsAsMadeApart: newDesktopIDs gives what newOrderedID,
// volumeIDs and computerName give one by one: an ordered id sorting after
// the last one handed out, two distinct volume ids of their form, and the
// id's computer name. (The counter is set to values whose digits hold
// every letter, so the upper-casing of each is checked.)
func TestDesktopIDsAsMadeApart(t *testing.T) {
	vol := regexp.MustCompile(`^vol-[0-9a-f]{17}$`)
	seen := map[string]bool{}
	prev := newOrderedID("ws-")
	for i := range 3000 {
		if i%100 == 0 {
			// a counter ahead of the clock: its digits follow it (z, y, ... a, 9 ...)
			orderedIDs.Store(uint64(time.Since(orderedIDEpoch)/(100*time.Microsecond)) + 864_000_000 + uint64(i)*1_234_567_891)
			prev = newOrderedID("ws-")
		}
		id, root, user, computer := newDesktopIDs()
		if len(id) != len(prev) || !strings.HasPrefix(id, "ws-") || id <= prev {
			t.Fatalf("id %q after %q: want ws- and 9 digits, sorting after the previous", id, prev)
		}
		if computer != computerName(id) {
			t.Fatalf("computer name of %s: %q, want %q", id, computer, computerName(id))
		}
		for _, v := range []string{root, user} {
			if !vol.MatchString(v) || seen[v] {
				t.Fatalf("volume id %q: not of the form vol- and 17 hex digits, or made twice", v)
			}
			seen[v] = true
		}
		prev = id
	}
}

// TestWriteDesktopsTakenIDWithName: the desktops and their names are
// created together (store.CreateTables), before the taken ids are replaced,
// all in one CreateMany (no Create per desktop). A named desktop whose id
// was taken keeps its name, and the name's record holds the new id; one
// whose id was taken and whose name is taken too is refused, and the
// desktop that held the id is left as it was.
func TestWriteDesktopsTakenIDWithName(t *testing.T) {
	ctx := context.Background()
	db, update := openTestStore(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	mk := func(id, name string) *desktopRec {
		return &desktopRec{WorkspaceID: id, ComputerName: computerName(id), WorkspaceName: name, State: "PENDING", Created: now, StateSince: now}
	}
	taken1, taken2, taken3, free, other := newOrderedID("ws-"), newOrderedID("ws-"), newOrderedID("ws-"), newOrderedID("ws-"), newOrderedID("ws-")
	as := []acceptedDesktop{{w: mk(free, "n-free")}, {w: mk(taken1, "n-mine"), index: 1}, {w: mk(taken2, "n-taken"), index: 2}, {w: mk(taken3, "n-mine3"), index: 3}}
	c := &gateway.Call{Account: "1", Region: "r", Now: now}
	var refused []error
	calls := &countingTx{}
	update(func(tx store.Tx) error {
		for _, id := range []string{taken1, taken2, taken3} {
			if err := store.CreateJSON(ctx, tx, tDesktops, key("1", "r", id), &desktopRec{WorkspaceID: id, State: "AVAILABLE"}); err != nil {
				return err
			}
		}
		if err := tx.Put(ctx, tIdem, nameKey("1", "r", "name", "n-taken"), []byte(`"`+other+`"`)); err != nil {
			return err
		}
		calls.Tx = tx
		var err error
		refused, err = (&Module{}).writeDesktops(ctx, calls, c, as)
		return err
	})
	if refused[0] != nil || refused[1] != nil || refused[2] == nil || refused[3] != nil {
		t.Fatalf("refused: %v", refused)
	}
	if calls.create != 0 || calls.createMany != 3 {
		t.Fatalf("Create called %d times, CreateMany %d; want 0 and 3 (the desktops, the names, the desktops whose ids were taken)", calls.create, calls.createMany)
	}
	names := map[string]string{"n-free": free, "n-taken": other}
	states := map[string]string{taken1: "AVAILABLE", taken2: "AVAILABLE", taken3: "AVAILABLE", free: "PENDING"}
	for _, i := range []int{1, 3} {
		moved := as[i].w
		if moved.WorkspaceID == taken1 || moved.WorkspaceID == taken3 || as[i].key != key("1", "r", moved.WorkspaceID) {
			t.Fatalf("taken id: now %s, key %s", moved.WorkspaceID, as[i].key)
		}
		states[moved.WorkspaceID] = "PENDING"
		names[moved.WorkspaceName] = moved.WorkspaceID
	}
	wantStates(t, db, states)
	for name, id := range names {
		var got string
		if err := db.View(ctx, func(tx store.Tx) error {
			b, err := tx.Get(ctx, tIdem, nameKey("1", "r", "name", name))
			got = string(b)
			return err
		}); err != nil || got != `"`+id+`"` {
			t.Fatalf("name %s: %s, %v; want %q", name, got, err, id)
		}
	}
}

// countingTx counts a transaction's Create and CreateMany calls.
type countingTx struct {
	store.Tx
	create, createMany int
}

func (t *countingTx) Create(ctx context.Context, table, key string, value []byte) error {
	t.create++
	return t.Tx.Create(ctx, table, key, value)
}

func (t *countingTx) CreateMany(ctx context.Context, table string, recs []store.KV) ([]string, error) {
	t.createMany++
	return t.Tx.CreateMany(ctx, table, recs)
}

// TestArenaIDRunsOrderedAndDistinct: desktop ids made in arenas that take
// runs of ordered values and random bytes (strArena.ids), interleaved with
// each other and with newOrderedID, are all distinct, each arena's in
// order, and the first id of each run sorts after every id made before it
// was taken; no volume id repeats.
func TestArenaIDRunsOrderedAndDistinct(t *testing.T) {
	a, b, c := strArena{room: 64, ids: 5}, strArena{room: 64, ids: 25}, strArena{room: 64, ids: 40}
	seen := map[string]bool{}
	last := map[*strArena]string{}
	for i := range 60 {
		for _, ar := range []*strArena{&a, &b, &c} {
			before := newOrderedID("ws-")
			id, root, user, computer := ar.desktopIDs()
			if len(id) != desktopIDLen || computer != computerName(id) || len(root) != volIDLen || len(user) != volIDLen {
				t.Fatalf("ids %q %q %q %q", id, root, user, computer)
			}
			if id <= last[ar] {
				t.Fatalf("desktop %d: id %s not after the arena's last %s", i, id, last[ar])
			}
			last[ar] = id
			if ar.runLeft == min(ar.ids, idsRun)-1 && id <= before {
				t.Fatalf("desktop %d: the first id of a run %s is not after %s, made before it", i, id, before)
			}
			for _, s := range []string{id, root, user, before} {
				if seen[s] {
					t.Fatalf("desktop %d: %s handed out twice", i, s)
				}
				seen[s] = true
			}
		}
	}
}
