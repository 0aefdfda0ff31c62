package workspaces

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// TestDecodeListedRendersAsDecode: a page's decoding of a stored desktop
// (decodeListed: the compact form's members a page reads) gives the same
// Workspace, and the same state, state time, directory, user and bundle
// the page filters on, as the general decoding, over random records in
// both forms, with the decoded cache full (each record decoded for the
// page alone) and with room; a record the decoded cache holds is taken
// from it.
func TestDecodeListedRendersAsDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 8))
	recs := randomDesktops(r, 3000)
	m := &Module{decoded: store.NewDecoded[desktopRec](1)}
	compact := 0
	for i := range recs {
		b, err := store.EncodeJSON(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		if recs[i].compactable() {
			compact++
		}
		var want desktopRec
		if err := store.DecodeJSON(b, &want); err != nil {
			t.Fatal(err)
		}
		var scratch desktopRec
		got, err := m.decodeListed("k", b, &scratch)
		if err != nil {
			t.Fatalf("record %d %s: %v", i, b, err)
		}
		if g, w := m.render(got), m.render(&want); !reflect.DeepEqual(g, w) {
			t.Fatalf("record %d %s:\nrendered %+v\nwant     %+v", i, b, g, w)
		}
		if got.State != want.State || !got.StateSince.Equal(want.StateSince) || got.DirectoryID != want.DirectoryID ||
			got.UserName != want.UserName || got.BundleID != want.BundleID {
			t.Fatalf("record %d %s: state %s %v, directory %s, user %s, bundle %s; want %s %v, %s, %s, %s", i, b,
				got.State, got.StateSince, got.DirectoryID, got.UserName, got.BundleID,
				want.State, want.StateSince, want.DirectoryID, want.UserName, want.BundleID)
		}
		if got == &scratch && m.decoded.Room() {
			t.Fatalf("record %d: decoded for the page alone while the cache has room", i)
		}
		cached, err := m.decoded.Decode(tDesktops, "k", b)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := m.decodeListed("k", b, &scratch); again != cached {
			t.Fatalf("record %d: not taken from the decoded cache", i)
		}
		if roomy := (&Module{decoded: store.NewDecoded[desktopRec](10)}); true {
			if got, _ := roomy.decodeListed("k", b, &scratch); got == &scratch {
				t.Fatalf("record %d: not decoded whole and cached while the cache has room", i)
			} else if again, _ := roomy.decodeListed("k", b, &scratch); again != got {
				t.Fatalf("record %d: not cached while the cache has room", i)
			}
		}
	}
	if compact < 500 || compact == len(recs) {
		t.Fatalf("%d of %d records in the compact form", compact, len(recs))
	}
}

// BenchmarkDecodeListed: a typical provisioned desktop decoded for a page,
// against the general decoding.
func BenchmarkDecodeListed(b *testing.B) {
	rec, err := store.EncodeJSON(benchDesktop())
	if err != nil {
		b.Fatal(err)
	}
	m := &Module{decoded: store.NewDecoded[desktopRec](0)} // full: decoded for the page alone
	b.Run("listed", func(b *testing.B) {
		b.ReportAllocs()
		var scratch desktopRec
		for b.Loop() {
			if _, err := m.decodeListed("k", rec, &scratch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var w desktopRec
			if err := store.DecodeJSON(rec, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}
