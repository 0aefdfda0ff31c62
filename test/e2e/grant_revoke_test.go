package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestRevokedWorkSpacesGrantStopsKeyUse: once the customer revokes (or
// retires) the grant WorkSpaces holds on a customer managed key, WorkSpaces
// mints no more EBS grants and attaches no volume under it: a start,
// rebuild or restore of the encrypted desktop leaves it in ERROR, and a new
// encrypted desktop whose grant is retired before it is provisioned ends in
// ERROR too — with no EBS grant created.
func TestRevokedWorkSpacesGrantStopsKeyUse(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	s := testserver.Start(t, testserver.Timing("fast"), testserver.VirtualClock())
	e := setup(t, s)
	ctx := ctxT(t)
	k := kms.NewFromConfig(s.Admin())
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("WorkSpaces volumes")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyARN := *key.KeyMetadata.Arn
	e.bundleID = sharedBundle(t, e)
	e.dirID = registerShared(t, s, e)
	e.optOutMaintenance(t, true)
	create := func(user string) string {
		t.Helper()
		out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
			DirectoryId: aws.String(e.dirID), UserName: aws.String(user), BundleId: aws.String(e.bundleID),
			VolumeEncryptionKey: aws.String(keyARN), RootVolumeEncryptionEnabled: aws.Bool(true), UserVolumeEncryptionEnabled: aws.Bool(true),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop}}}})
		if err != nil || len(out.FailedRequests) > 0 {
			t.Fatalf("CreateWorkspaces: %v %+v", err, out)
		}
		return *out.PendingRequests[0].WorkspaceId
	}
	// grants lists the key's grants: WorkSpaces' (named after the desktop)
	// and the EBS grants (constrained to a volume).
	grants := func() (ws map[string]string, ebs int) {
		t.Helper()
		out, err := k.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyARN)})
		if err != nil {
			t.Fatalf("ListGrants: %v", err)
		}
		ws = map[string]string{}
		for _, g := range out.Grants {
			if _, ok := g.Constraints.EncryptionContextSubset["aws:ebs:id"]; ok {
				ebs++
			} else {
				ws[aws.ToString(g.Name)] = aws.ToString(g.GrantId)
			}
		}
		return ws, ebs
	}
	wantError := func(id, step string) {
		t.Helper()
		s.Advance(time.Minute)
		e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateError)
		w := e.describe(t, id)
		if !strings.Contains(aws.ToString(w.ErrorCode), "AccessDenied") || aws.ToString(w.ErrorMessage) == "" {
			t.Fatalf("%s with the WorkSpaces grant revoked: error %q %q", step, aws.ToString(w.ErrorCode), aws.ToString(w.ErrorMessage))
		}
	}

	id := create("alice")
	s.Advance(time.Minute)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	s.Advance(7 * time.Hour) // the rebuild and restore snapshots
	if e.describe(t, id).State == wstypes.WorkspaceStateAvailable {
		e.stop(t, ctx, id)
		s.Advance(time.Minute)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	wsGrants, ebsBefore := grants()
	if wsGrants[id] == "" || ebsBefore != 2 {
		t.Fatalf("grants before the revoke: WorkSpaces %v, %d EBS", wsGrants, ebsBefore)
	}
	if _, err := k.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(keyARN), GrantId: aws.String(wsGrants[id])}); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}

	e.start(t, ctx, id)
	wantError(id, "start")

	out, err := e.ws.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []wstypes.RebuildRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil || len(out.FailedRequests) != 0 {
		t.Fatalf("rebuild: %v %+v", err, out)
	}
	wantError(id, "rebuild")
	if _, ebs := grants(); ebs != ebsBefore {
		t.Fatalf("%d EBS grants after the rebuild, %d before: WorkSpaces minted grants without its own", ebs, ebsBefore)
	}

	if _, err := e.ws.RestoreWorkspace(ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(id)}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	wantError(id, "restore")

	// A new encrypted desktop whose WorkSpaces grant is retired before it
	// is provisioned: no EBS grant, ERROR.
	id2 := create("bob")
	wsGrants, _ = grants()
	if wsGrants[id2] == "" {
		t.Fatalf("no WorkSpaces grant for the new desktop: %v", wsGrants)
	}
	if _, err := k.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(keyARN), GrantId: aws.String(wsGrants[id2])}); err != nil {
		t.Fatalf("RetireGrant: %v", err)
	}
	wantError(id2, "create")
	if _, ebs := grants(); ebs != ebsBefore {
		t.Fatalf("%d EBS grants after the failed create, %d before", ebs, ebsBefore)
	}
}
