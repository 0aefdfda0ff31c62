package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
	ws "github.com/deskplane/deskplane/internal/workspaces"
)

// TestFastTimingScalesSchedules checks that --timing fast runs the
// service's schedules 360 times faster (an hour is 10 seconds): the first
// snapshot 30 minutes (5 s) after AVAILABLE, then every 12 hours (2
// minutes), the 6-hour wait before a larger compute type (1 minute), the
// auto-stop of a MANUAL desktop after 48 hours (8 minutes), and the monthly
// maintenance (within hours, instead of a month).
func TestFastTimingScalesSchedules(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	s := testserver.Start(t, testserver.Timing("fast"), testserver.VirtualClock())
	e := setup(t, s)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 2, "fast")
	s.Advance(5 * time.Second)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	e.optOutMaintenance(t, true)

	// Snapshots: none yet, one 6 s later, a second one 2 minutes after that.
	snaps := func() int {
		out, err := e.ws.DescribeWorkspaceSnapshots(ctx, &workspaces.DescribeWorkspaceSnapshotsInput{WorkspaceId: aws.String(ids[0])})
		if err != nil {
			t.Fatalf("DescribeWorkspaceSnapshots: %v", err)
		}
		return len(out.RestoreSnapshots)
	}
	if n := snaps(); n != 0 {
		t.Fatalf("%d snapshots right after AVAILABLE", n)
	}
	s.Advance(6 * time.Second)
	if n := snaps(); n != 1 {
		t.Fatalf("%d snapshots 30 scaled minutes after AVAILABLE, want 1", n)
	}
	s.Advance(121 * time.Second)
	if n := snaps(); n != 2 {
		t.Fatalf("%d snapshots 12 scaled hours later, want 2", n)
	}

	// More than 6 scaled hours (1 minute) after creation, the compute type may grow.
	if _, err := e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(ids[1]),
		WorkspaceProperties: &wstypes.WorkspaceProperties{ComputeTypeName: wstypes.ComputePerformance}}); err != nil {
		t.Fatalf("a larger compute type 6 scaled hours after creation: %v", err)
	}

	// 48 scaled hours (8 minutes) after AVAILABLE, the MANUAL desktop stops.
	s.Advance(5 * time.Minute) // about 7 minutes after AVAILABLE
	if st := e.states(t, ctx, ids[:1]); st[ids[0]] != wstypes.WorkspaceStateAvailable {
		t.Fatalf("after about 7 minutes: %v", st)
	}
	s.Advance(time.Minute)
	s.Advance(2 * time.Second) // the stop itself
	if st := e.states(t, ctx, ids[:1]); st[ids[0]] != wstypes.WorkspaceStateStopped {
		t.Fatalf("after 48 scaled hours: %v, want STOPPED", st)
	}
}

// TestFastTimingMaintenance checks that the monthly maintenance window of a
// MANUAL desktop comes within a scaled month (about two hours) under fast.
func TestFastTimingMaintenance(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	s := testserver.Start(t, testserver.Timing("fast"), testserver.VirtualClock())
	e := setup(t, s)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 1, "maint")
	s.Advance(5 * time.Second)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	seen := false
	for i := 0; i < 2*24 && !seen; i++ { // two scaled months, 10 minutes at a time
		s.Advance(10 * time.Minute)
		h, err := s.AdminGet("/_deskplane/history?workspace_id=" + ids[0])
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		seen = strings.Contains(fmt.Sprint(h), "MAINTENANCE")
	}
	if !seen {
		t.Fatalf("no MAINTENANCE within two scaled months")
	}
}

// TestFastTimingMaintenanceNotAtOnce: under fast, desktops created while
// the month's maintenance period is open do not enter MAINTENANCE within
// 48 scaled hours (8 minutes) of their creation, even those whose window
// opens within hours (which, scaled, would be seconds away).
func TestFastTimingMaintenanceNotAtOnce(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	s := testserver.Start(t, testserver.Timing("fast"), testserver.VirtualClock())
	e := setup(t, s)
	ctx := ctxT(t)
	// The third Monday of next month, when the maintenance period opens.
	now := s.Now()
	first := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	third := first.AddDate(0, 0, (int(time.Monday)-int(first.Weekday())+7)%7+14)
	s.AdvanceTo(third.Add(time.Minute))
	ids := e.create(t, ctx, 50, "soon")
	created := s.Now()
	soon := 0
	for _, id := range ids {
		if ws.MaintenanceWindow(id, created).Sub(created) < 42*time.Hour {
			soon++
		}
	}
	if soon == 0 {
		t.Skip("no desktop's window is within 42 hours of its creation")
	}
	s.Advance(7 * time.Minute)
	for _, id := range ids {
		h, err := s.AdminGet("/_deskplane/history?workspace_id=" + id)
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		if strings.Contains(fmt.Sprint(h), "MAINTENANCE") {
			t.Fatalf("%s entered MAINTENANCE within 7 minutes of its creation (window %s, created %s): %v", id, ws.MaintenanceWindow(id, created), created, h)
		}
	}
}
