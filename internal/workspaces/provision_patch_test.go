package workspaces

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/store"
)

// TestProvisionedPatchIsTheEncoding holds the provisioning batch's patched
// record (patchProvisioned) to EncodeJSON of the record it transitioned,
// over random records: PENDING desktops, most of them of the shape a
// creation writes, some with strings that spell the members the patch
// looks for, the transition run by setStateIn (the batch's) at times
// equal to the record's and after them. A record the patch declines is
// encoded in full; enough are patched for the test to mean something.
func TestProvisionedPatchIsTheEncoding(t *testing.T) {
	ctx := context.Background()
	const acct, region = config.CustomerAccount, "us-east-1"
	db, update := openTestStore(t)
	_, eng, log := testEngine(t, db, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), "instant")
	m := New(Options{Config: config.Default(), Store: db, Engine: eng, Log: log})
	r := rand.New(rand.NewPCG(19, 12))
	spelled := []string{`,"state":"PENDING"`, `,"c":1`, `"},"c":2,"ss":`, `\",\"c\":`}
	patched, declined := 0, 0
	for i, w := range randomDesktops(r, 8000) {
		// The shape of a desktop just created, in most records.
		if r.IntN(8) > 0 {
			w.State = "PENDING"
			// Each member the patch needs unset, unset in most of them.
			if r.IntN(6) > 0 {
				w.ErrorCode = ""
			}
			if r.IntN(6) > 0 {
				w.ErrorMessage = ""
			}
			if r.IntN(6) > 0 {
				w.UnhealthySince = nil
			}
			if r.IntN(6) > 0 {
				w.SnapshotBase = nil
			}
			if r.IntN(6) > 0 {
				w.AwaitGuest = false
			}
			if r.IntN(6) > 0 {
				w.VolumeKey, w.MigratedFrom = "", ""
			}
			if r.IntN(2) == 0 {
				w.AvailableSince = nil
			}
			if r.IntN(2) == 0 {
				w.StateSince = w.Created
				w.History = []Transition{{State: "PENDING", Time: w.Created}}
			}
		}
		if r.IntN(4) == 0 {
			w.WorkspaceName = spelled[r.IntN(len(spelled))]
			w.Tags = Tags{spelled[r.IntN(len(spelled))]: spelled[r.IntN(len(spelled))]}
			w.MaintGroup = spelled[r.IntN(len(spelled))]
		}
		if !w.compactable() {
			continue
		}
		raw, err := store.EncodeJSON(&w)
		if err != nil {
			t.Fatal(err)
		}
		// The marks of the encoding point where the patch would look.
		marked, mk, err := w.appendJSONMarks(nil)
		if err != nil || !bytes.Equal(marked, raw) {
			t.Fatalf("record %d: appendJSONMarks = %s, %v; want %s", i, marked, err, raw)
		}
		if w.State == "PENDING" {
			if want := (recMarks{int32(bytes.Index(raw, []byte(`,"state":`))), int32(tailAt(raw))}); mk != want {
				t.Fatalf("record %d: marks %+v; want %+v in\n%s", i, mk, want, raw)
			}
		}
		// Marks that point elsewhere, which the patch must not use (a
		// tag that spells the state after it cannot be told from it:
		// the marks handed to the patch are its encoding's, above).
		wrong := []recMarks{{}, {mk.state + 1, mk.tail}, {mk.state, mk.tail - 1}, {mk.tail, mk.state}, {mk.state, int32(len(raw))}, {-1, 1 << 30}}
		if n := bytes.Index(raw, []byte(`,"c":`)); n >= 0 && n < int(mk.tail) {
			wrong = append(wrong, recMarks{mk.state, int32(n)}) // a string spelling the tail
		}
		ok := provisionPatchable(&w)
		var now time.Time
		switch r.IntN(5) {
		case 0:
			now = w.StateSince
		case 1:
			now = w.Created
		case 2:
			now = w.StateSince.Add(time.Duration(r.Int64N(int64(100 * 24 * time.Hour))))
		case 3:
			now = time.Date(2026, 12, 6, 12, 0, 0, r.IntN(1e9), time.UTC)
		default: // a time the compact form cannot hold: declined
			now = time.Date(2026, 12, 6, 12, 0, 0, r.IntN(1e9), time.FixedZone("X", 3600))
		}
		tm := &timers{recs: map[string]*desktopRec{}}
		update(func(tx store.Tx) error {
			return m.setStateIn(ctx, tx, acct, region, &w, "AVAILABLE", now, tm)
		})
		want, err := store.EncodeJSON(&w)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		got := w.patchProvisioned(raw)
		if at := w.patchProvisionedAt(raw, mk); !bytes.Equal(at, got) {
			t.Fatalf("record %d, marks %+v, patched:\n%s\nwithout them:\n%s", i, mk, at, got)
		}
		// Appended after other bytes (the batch's buffer), the same
		// bytes; declined, nothing appended.
		prev := []byte("previous record")
		app, appOK := w.appendProvisioned(prev, raw, mk)
		if appOK != (got != nil) || !bytes.Equal(app[:len(prev)], prev) || !bytes.Equal(app[len(prev):], got) {
			t.Fatalf("record %d: appended (%v):\n%s\npatched:\n%s", i, appOK, app, got)
		}
		if got == nil {
			declined++
			continue
		}
		// The batch sizes its array by the parts (size) before it copies.
		if pp, ok := w.provisionedParts(raw, mk); !ok || pp.size(len(w.appendV2Tail(nil, pp.eq))) != len(got) {
			t.Fatalf("record %d: parts found %v, size %d, patched %d bytes", i, ok, pp.size(len(w.appendV2Tail(nil, pp.eq))), len(got))
		}
		patched++
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d, before:\n%s\npatched:\n%s\nencoded:\n%s", i, raw, got, want)
		}
		for _, bad := range wrong {
			if at := w.patchProvisionedAt(raw, bad); !bytes.Equal(at, want) {
				t.Fatalf("record %d, marks %+v (right %+v), patched:\n%s\nencoded:\n%s", i, bad, mk, at, want)
			}
		}
	}
	if patched < 1000 || declined < 200 {
		t.Fatalf("only %d records were patched (%d declined)", patched, declined)
	}
	t.Logf("%d records patched, %d declined", patched, declined)
}

// BenchmarkProvisionedRecord: a provisioned desktop's record written by
// encoding it in full (EncodeJSON) and by patching its bytes as created.
func BenchmarkProvisionedRecord(b *testing.B) {
	w := benchDesktop()
	created := w.Created
	w.State, w.AvailableSince, w.SnapshotBase, w.Seq = "PENDING", nil, nil, 0
	w.StateSince, w.History = created, []Transition{{State: "PENDING", Time: created}}
	raw, err := store.EncodeJSON(w)
	if err != nil {
		b.Fatal(err)
	}
	now := created.Add(time.Second)
	w.State, w.StateSince, w.AvailableSince, w.SnapshotBase, w.Seq = "AVAILABLE", now, &now, &now, 1
	w.History = append(w.History, Transition{State: "AVAILABLE", Time: now})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			store.EncodeJSON(w)
		}
	})
	b.Run("patch", func(b *testing.B) {
		for b.Loop() {
			w.patchProvisioned(raw)
		}
	})
	w.State = "PENDING"
	_, mk, _ := w.appendJSONMarks(nil)
	w.State = "AVAILABLE"
	b.Run("patchAt", func(b *testing.B) {
		for b.Loop() {
			w.patchProvisionedAt(raw, mk)
		}
	})
}
