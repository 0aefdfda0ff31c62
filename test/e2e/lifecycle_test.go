package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestRebuildRestoreMigrateModify drives the day-two operations with the
// virtual clock (snapshots exist 30 minutes after a desktop first became
// AVAILABLE; volume and compute changes wait 6 hours after creation) and
// observes their intermediate states.
func TestRebuildRestoreMigrateModify(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("realistic"), testserver.VirtualClock())
	e := setup(t, s)
	e.optOutMaintenance(t, true)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 2, "day2")
	s.Advance(25 * time.Minute)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	id := ids[0]

	// Too early: no snapshot yet.
	out, err := e.ws.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []wstypes.RebuildRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil || len(out.FailedRequests) != 1 {
		t.Fatalf("rebuild before the first snapshot: %v %+v", err, out)
	}
	s.Advance(7 * time.Hour)
	snaps, err := e.ws.DescribeWorkspaceSnapshots(ctx, &workspaces.DescribeWorkspaceSnapshotsInput{WorkspaceId: aws.String(id)})
	if err != nil || len(snaps.RebuildSnapshots) == 0 || len(snaps.RestoreSnapshots) == 0 {
		t.Fatalf("snapshots: %v %+v", err, snaps)
	}
	before := e.describe(t, id)
	out, err = e.ws.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []wstypes.RebuildRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil || len(out.FailedRequests) != 0 {
		t.Fatalf("rebuild: %v %+v", err, out)
	}
	if st := e.describe(t, id).State; st != wstypes.WorkspaceStateRebuilding {
		t.Fatalf("after rebuild: %s", st)
	}
	s.Advance(25 * time.Minute)
	after := e.describe(t, id)
	if after.State != wstypes.WorkspaceStateAvailable || aws.ToString(after.IpAddress) == aws.ToString(before.IpAddress) {
		t.Fatalf("rebuilt desktop %s with IP %s (was %s); want AVAILABLE with a new IP", after.State, aws.ToString(after.IpAddress), aws.ToString(before.IpAddress))
	}

	if _, err := e.ws.RestoreWorkspace(ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(id)}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if st := e.describe(t, id).State; st != wstypes.WorkspaceStateRestoring {
		t.Fatalf("after restore: %s", st)
	}
	s.Advance(25 * time.Minute)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)

	// Compute type: UPDATING, then back, with the new type.
	if _, err := e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(id),
		WorkspaceProperties: &wstypes.WorkspaceProperties{ComputeTypeName: wstypes.ComputePerformance}}); err != nil {
		t.Fatalf("modify compute: %v", err)
	}
	w := e.describe(t, id)
	if w.State != wstypes.WorkspaceStateUpdating || len(w.ModificationStates) != 1 || w.ModificationStates[0].Resource != wstypes.ModificationResourceEnumComputeType {
		t.Fatalf("after compute change: %s %+v", w.State, w.ModificationStates)
	}
	// A second change while one is in progress is refused.
	_, err = e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(id),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAlwaysOn}})
	if c := apiCode(err); c != "InvalidResourceStateException" && c != "OperationInProgressException" {
		t.Fatalf("modify during an update: %v", err)
	}
	s.Advance(25 * time.Minute)
	w = e.describe(t, id)
	if w.State != wstypes.WorkspaceStateAvailable || w.WorkspaceProperties.ComputeTypeName != wstypes.ComputePerformance || len(w.ModificationStates) != 0 {
		t.Fatalf("after the compute update: %s %s %+v", w.State, w.WorkspaceProperties.ComputeTypeName, w.ModificationStates)
	}
	// Volumes: only increases, in the documented combinations.
	_, err = e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(ids[1]),
		WorkspaceProperties: &wstypes.WorkspaceProperties{UserVolumeSizeGib: aws.Int32(10)}})
	if apiCode(err) != "InvalidParameterValuesException" {
		t.Fatalf("shrinking the user volume: %v", err)
	}
	if _, err := e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(ids[1]),
		WorkspaceProperties: &wstypes.WorkspaceProperties{UserVolumeSizeGib: aws.Int32(100)}}); err != nil {
		t.Fatalf("growing the user volume: %v", err)
	}

	// Migrate to another bundle: a new desktop, then the source terminates.
	b2, err := e.ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("byop-power"), BundleDescription: aws.String("BYOP power"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputePower}, ImageId: aws.String(e.imageID),
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("175")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("100")}})
	if err != nil {
		t.Fatalf("second bundle: %v", err)
	}
	mig, err := e.ws.MigrateWorkspace(ctx, &workspaces.MigrateWorkspaceInput{SourceWorkspaceId: aws.String(id), BundleId: b2.WorkspaceBundle.BundleId})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	target := aws.ToString(mig.TargetWorkspaceId)
	if target == "" || target == id || e.describe(t, target).State != wstypes.WorkspaceStatePending {
		t.Fatalf("migration target %q", target)
	}
	s.Advance(25 * time.Minute)
	e.waitAll(t, ctx, []string{target}, wstypes.WorkspaceStateAvailable)
	s.Advance(25 * time.Minute)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateTerminated)
	if tw := e.describe(t, target); aws.ToString(tw.BundleId) != aws.ToString(b2.WorkspaceBundle.BundleId) || aws.ToString(tw.WorkspaceName) != "day20" {
		t.Fatalf("migrated desktop: bundle %s name %s", aws.ToString(tw.BundleId), aws.ToString(tw.WorkspaceName))
	}
}

func (e *env) describe(t *testing.T, id string) wstypes.Workspace {
	t.Helper()
	d, err := e.ws.DescribeWorkspaces(ctxT(t), &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
	if err != nil || len(d.Workspaces) != 1 {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d.Workspaces[0]
}

// TestFaultInjection: a chosen desktop fails provisioning, a share becomes
// UNHEALTHY, and a chosen operation is throttled with the AWS code.
func TestFaultInjection(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"))
	e := setup(t, s)
	ctx := ctxT(t)
	if _, err := s.AdminPost("/_deskplane/faults", map[string]any{"unhealthy_rate": 1.0}); err != nil {
		t.Fatal(err)
	}
	sick := e.create(t, ctx, 2, "sick")
	e.waitAll(t, ctx, sick, wstypes.WorkspaceStateUnhealthy)
	if _, err := s.AdminPost("/_deskplane/faults", map[string]any{"provision_fail_rate": 1.0}); err != nil {
		t.Fatal(err)
	}
	bad := e.create(t, ctx, 1, "bad")
	e.waitAll(t, ctx, bad, wstypes.WorkspaceStateError)
	if w := e.describe(t, bad[0]); aws.ToString(w.ErrorCode) == "" || aws.ToString(w.ErrorMessage) == "" {
		t.Fatalf("failed desktop without a reason: %+v", w)
	}
	if _, err := s.AdminPost("/_deskplane/faults", map[string]any{"throttle": []string{"StartWorkspaces"}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []wstypes.StartRequest{{WorkspaceId: aws.String(sick[0])}}})
	if apiCode(err) != "ThrottlingException" {
		t.Fatalf("throttled start: %v", err)
	}
	if _, err := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
		t.Fatalf("other operations are not throttled: %v", err)
	}
	// The fault endpoints refuse anonymous callers.
	if _, err := s.AdminGetNoAuth(s.URL + "/_deskplane/faults"); err == nil {
		t.Fatal("faults answered without the admin token")
	}
}

// TestQuotasFromConfig: quotas come from the configuration file and are
// enforced with ResourceLimitExceededException.
func TestQuotasFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	cfg := `{"accounts":[{"id":"111122223333","byol_eligible":true,
	  "users":[{"name":"admin","access_keys":[{"id":"AKIAIOSFODNN7EXAMPLE","secret":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}],
	    "policies":{"all":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}}}],
	  "directories":[{"name":"corp.example.com","users":[{"name":"alice"}]}],
	  "vpcs":[{"cidr":"10.0.0.0/16","subnets":[{"cidr":"10.0.1.0/24","az":"a"},{"cidr":"10.0.2.0/24","az":"b"}]}],
	  "images":[{"name":"win10-ent-22h2-byol","os_version":"Windows 10 Enterprise 22H2","platform_details":"Windows BYOL","volume_size":80}]}],
	  "regions":["us-east-1"],
	  "quotas":{"workspaces":3,"bundles":1}}`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testserver.Start(t, testserver.ConfigFile(cfgPath))
	e := setup(t, s)
	ctx := ctxT(t)
	_, err := e.ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{BundleName: aws.String("second"), BundleDescription: aws.String("second"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeValue}, ImageId: aws.String(e.imageID),
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("80")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("10")}})
	if apiCode(err) != "ResourceLimitExceededException" {
		t.Fatalf("second bundle over a quota of 1: %v", err)
	}
	var reqs []wstypes.WorkspaceRequest
	for i := 0; i < 4; i++ {
		reqs = append(reqs, wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"),
			BundleId: aws.String(e.bundleID), WorkspaceName: aws.String("q" + string(rune('a'+i)))})
	}
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.PendingRequests) != 3 || len(out.FailedRequests) != 1 || aws.ToString(out.FailedRequests[0].ErrorCode) != "ResourceLimitExceededException" {
		t.Fatalf("4 desktops over a quota of 3: %d pending, %+v", len(out.PendingRequests), out.FailedRequests)
	}
}
