package workspaces

import (
	"context"
	"fmt"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// TestUserIndexBuiltFromOlderStores: desktops stored before the user index
// existed are found by the one-desktop-per-user check, and later desktops
// are listed as they are made.
func TestUserIndexBuiltFromOlderStores(t *testing.T) {
	ctx := context.Background()
	_, update := openTestStore(t)
	old := []*desktopRec{
		{WorkspaceID: "ws-000000001", DirectoryID: "d-1", UserName: "alice", State: "AVAILABLE"},
		{WorkspaceID: "ws-000000002", DirectoryID: "d-1", UserName: "bob", State: "TERMINATED"},
		{WorkspaceID: "ws-000000003", DirectoryID: "d-2", UserName: "Alice", State: "STOPPED"},
		{WorkspaceID: "ws-000000004", DirectoryID: "d-1", UserName: UndefinedUser, WorkspaceName: "x", State: "AVAILABLE"},
	}
	update(func(tx store.Tx) error {
		for _, w := range old {
			if err := putRec(ctx, tx, tDesktops, key("1", "r", w.WorkspaceID), w); err != nil {
				return err
			}
		}
		return nil
	})
	live := func(dir, user string) string {
		t.Helper()
		var ids []string
		update(func(tx store.Tx) error {
			var err error
			ids, err = userDesktops(ctx, tx, "1", "r", dir, user)
			return err
		})
		return fmt.Sprint(ids)
	}
	for _, c := range []struct{ dir, user, want string }{
		{"d-1", "ALICE", "[ws-000000001]"}, {"d-1", "bob", "[]"}, {"d-2", "alice", "[ws-000000003]"}, {"d-1", "carol", "[]"},
	} {
		if got := live(c.dir, c.user); got != c.want {
			t.Errorf("%s/%s: %s, want %s", c.dir, c.user, got, c.want)
		}
	}
	// A new desktop for bob is listed; terminating alice's frees her.
	update(func(tx store.Tx) error {
		w := &desktopRec{WorkspaceID: "ws-000000005", DirectoryID: "d-1", UserName: "bob", State: "PENDING"}
		if err := putRec(ctx, tx, tDesktops, key("1", "r", w.WorkspaceID), w); err != nil {
			return err
		}
		live, err := userDesktops(ctx, tx, "1", "r", w.DirectoryID, w.UserName)
		if err != nil {
			return err
		}
		if err := addUserDesktop(ctx, tx, "1", "r", w, live); err != nil {
			return err
		}
		old[0].State = "TERMINATING"
		return putRec(ctx, tx, tDesktops, key("1", "r", old[0].WorkspaceID), old[0])
	})
	if got := live("d-1", "bob"); got != "[ws-000000005]" {
		t.Errorf("bob after his new desktop: %s", got)
	}
	if got := live("d-1", "alice"); got != "[]" {
		t.Errorf("alice after terminating: %s", got)
	}
}
