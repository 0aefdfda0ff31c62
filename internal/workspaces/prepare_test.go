package workspaces

import (
	"context"
	"errors"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// TestPreparedPlansHoldOnlyWhileTheirRecordsDo: a plan made from records
// read through a readTracker is current in a later transaction only while
// every one of them holds what it held (present or absent); the tracker
// refuses anything but reads.
func TestPreparedPlansHoldOnlyWhileTheirRecordsDo(t *testing.T) {
	ctx := context.Background()
	db, update := openTestStore(t)
	put := func(table, k, v string) {
		update(func(tx store.Tx) error { return tx.Put(ctx, table, k, []byte(v)) })
	}
	put(tDirs, "d", `{"id":"d-1"}`)
	put(tBundles, "b", `{"id":"wsb-1"}`)
	plan := func() *preparedCreate {
		rt := &readTracker{s: db}
		for _, k := range []struct{ table, key string }{{tDirs, "d"}, {tBundles, "b"}, {tImages, "absent"}} {
			if _, err := rt.Get(ctx, k.table, k.key); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if err := rt.Put(ctx, tDirs, "d", nil); !errors.Is(err, errNotARead) {
			t.Fatalf("a tracker's Put: %v", err)
		}
		return &preparedCreate{reads: rt.reads}
	}
	current := func(p *preparedCreate) bool {
		t.Helper()
		var ok bool
		update(func(tx store.Tx) error {
			var err error
			ok, err = p.current(ctx, tx)
			return err
		})
		return ok
	}
	p := plan()
	if !current(p) {
		t.Fatal("a plan whose records are unchanged is not current")
	}
	put(tBundles, "b", `{"id":"wsb-1","state":"ERROR"}`) // changed
	if current(p) {
		t.Fatal("a plan is current after its bundle changed")
	}
	p = plan()
	put(tImages, "absent", `{}`) // appeared
	if current(p) {
		t.Fatal("a plan is current after a record it found absent appeared")
	}
	p = plan()
	update(func(tx store.Tx) error { return tx.Delete(ctx, tDirs, "d") }) // gone
	if current(p) {
		t.Fatal("a plan is current after its directory was deleted")
	}
}

// TestSameChecks: two requested desktops share their authorization checks
// only when they name the same directory, bundle and tags.
func TestSameChecks(t *testing.T) {
	s := func(v string) *string { return &v }
	base := WorkspaceRequest{DirectoryId: "d-1", BundleId: "wsb-1", UserName: "[UNDEFINED]", WorkspaceName: s("a"),
		Tags: []Tag{{Key: "k", Value: s("v")}}}
	same := base
	same.WorkspaceName = s("b") // names and users do not matter
	same.Tags = []Tag{{Key: "k", Value: s("v")}}
	if !sameChecks(base, same) {
		t.Fatal("desktops of the same directory, bundle and tags must share their checks")
	}
	for i, edit := range []func(r *WorkspaceRequest){
		func(r *WorkspaceRequest) { r.DirectoryId = "d-2" },
		func(r *WorkspaceRequest) { r.BundleId = "wsb-2" },
		func(r *WorkspaceRequest) { r.Tags = nil },
		func(r *WorkspaceRequest) { r.Tags = []Tag{{Key: "k", Value: s("w")}} },
		func(r *WorkspaceRequest) { r.Tags = []Tag{{Key: "k"}} },
		func(r *WorkspaceRequest) { r.Tags = append(r.Tags, Tag{Key: "x", Value: s("y")}) },
	} {
		other := base
		other.Tags = append([]Tag(nil), base.Tags...)
		edit(&other)
		if sameChecks(base, other) {
			t.Errorf("case %d: %+v shares the checks of %+v", i, other, base)
		}
	}
}
