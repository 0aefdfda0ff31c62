package workspaces

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// TestDescribeWorkspacesByIDsOwnAnswers checks DescribeWorkspaces by ids,
// whose answer is allocated for the ids asked: one id found or not, and
// several with a missing one and repeats, each desktop answered with its
// own properties and encryption flags, in the order asked, and an empty
// list (not null) when none is found.
func TestDescribeWorkspacesByIDsOwnAnswers(t *testing.T) {
	ctx := context.Background()
	ids := []string{"ws-desc00001", "ws-desc00002", "ws-desc00003"}
	sizes := map[string]int{ids[0]: 80, ids[1]: 175, ids[2]: 200}
	ws := oneUserClient(t, brokenAuthz{}, func(tx store.Tx, now time.Time) error {
		for i, id := range ids {
			w := &desktopRec{WorkspaceID: id, DirectoryID: "d-0123456789", UserName: UndefinedUser, BundleID: "wsb-0123456789",
				Properties:    WorkspaceProperties{RunningMode: ptr.To("MANUAL"), RootVolumeSizeGib: ptr.To(sizes[id])},
				RootEncrypted: i%2 == 0, UserEncrypted: i == 1,
				State: "STOPPED", Created: now, StateSince: now}
			if err := insertDesktop(ctx, tx, config.CustomerAccount, "us-east-1", w); err != nil {
				return err
			}
		}
		return nil
	})

	for _, tc := range []struct {
		ask, want []string
	}{
		{[]string{ids[1]}, []string{ids[1]}},
		{[]string{"ws-desc00009"}, nil},
		{[]string{ids[2], "ws-desc00009", ids[0], ids[1], ids[0]}, []string{ids[2], ids[0], ids[1], ids[0]}},
	} {
		d, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: tc.ask})
		if err != nil {
			t.Fatalf("DescribeWorkspaces %v: %v", tc.ask, err)
		}
		if d.Workspaces == nil || len(d.Workspaces) != len(tc.want) {
			t.Fatalf("DescribeWorkspaces %v: %d desktops (nil: %v), want %v", tc.ask, len(d.Workspaces), d.Workspaces == nil, tc.want)
		}
		for i, w := range d.Workspaces {
			id := aws.ToString(w.WorkspaceId)
			n := 0
			for j := range ids {
				if ids[j] == id {
					n = j
				}
			}
			if id != tc.want[i] || w.WorkspaceProperties == nil || int(aws.ToInt32(w.WorkspaceProperties.RootVolumeSizeGib)) != sizes[id] ||
				aws.ToBool(w.RootVolumeEncryptionEnabled) != (n%2 == 0) || aws.ToBool(w.UserVolumeEncryptionEnabled) != (n == 1) {
				t.Errorf("DescribeWorkspaces %v, desktop %d: %s root %d GiB, encrypted root %v user %v; want %s with its own",
					tc.ask, i, id, aws.ToInt32(w.WorkspaceProperties.RootVolumeSizeGib), aws.ToBool(w.RootVolumeEncryptionEnabled),
					aws.ToBool(w.UserVolumeEncryptionEnabled), tc.want[i])
			}
		}
	}
}
