package ds

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
	"github.com/deskplane/deskplane/internal/store/storetest"
)

// TestTagLookupFailsClosed: the directory's tags feed tag conditions, so a
// store that cannot read them fails the authorization (DeleteDirectory and
// the ds-data operations) instead of evaluating it with no tags.
func TestTagLookupFailsClosed(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	errRead := errors.New("injected read failure")
	c := &gateway.Call{Account: "111122223333", Region: "us-east-1"}
	dir := "d-0123456789"
	for _, tc := range []struct {
		name    string
		st      store.Store
		wantErr error
	}{{"readable, no such directory", db, nil}, {"failing reads", storetest.FailReads{Store: db, Err: errRead}, errRead}} {
		m := New(tc.st, nil, nil, 0)
		for svc, in := range map[*gateway.Service]struct {
			op string
			in any
		}{m.ds: {"DeleteDirectory", &DeleteDirectoryInput{DirectoryID: &dir}}, m.data: {"ListUsers", &ListUsersInput{DirectoryID: &dir}}} {
			op, ok := svc.Operation(in.op)
			if !ok || op.Resources == nil {
				t.Fatalf("%s has no resource resolver", in.op)
			}
			checks, err := op.Resources(ctx, c, in.in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && len(checks) == 0) {
				t.Fatalf("%s, %s: checks %+v, error %v; want error %v", tc.name, in.op, checks, err, tc.wantErr)
			}
		}
	}
}
