package e2e

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
	ws "github.com/deskplane/deskplane/internal/workspaces"
)

// optOutMaintenance turns the monthly maintenance off for the directory.
func (e *env) optOutMaintenance(t *testing.T, off bool) {
	t.Helper()
	_, err := e.ws.ModifyWorkspaceCreationProperties(ctxT(t), &workspaces.ModifyWorkspaceCreationPropertiesInput{
		ResourceId: aws.String(e.dirID), WorkspaceCreationProperties: &wstypes.WorkspaceCreationProperties{EnableMaintenanceMode: aws.Bool(!off)}})
	if err != nil {
		t.Fatalf("ModifyWorkspaceCreationProperties: %v", err)
	}
}

func TestManualAutoStopAfter48Hours(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"), testserver.VirtualClock())
	e := setup(t, s)
	e.optOutMaintenance(t, true)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 2, "auto")
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	// An ALWAYS_ON desktop is never stopped.
	if _, err := e.ws.ModifyWorkspaceProperties(ctx, &workspaces.ModifyWorkspacePropertiesInput{WorkspaceId: aws.String(ids[1]),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAlwaysOn}}); err != nil {
		t.Fatal(err)
	}
	s.Advance(47 * time.Hour)
	if st := e.states(t, ctx, ids); st[ids[0]] != wstypes.WorkspaceStateAvailable {
		t.Fatalf("after 47h: %v", st)
	}
	s.Advance(90 * time.Minute)
	st := e.states(t, ctx, ids)
	if st[ids[0]] != wstypes.WorkspaceStateStopped || st[ids[1]] != wstypes.WorkspaceStateAvailable {
		t.Fatalf("after 48.5h: %v (want MANUAL stopped, ALWAYS_ON available)", st)
	}
	// Starting it again restarts the 48-hour count.
	e.start(t, ctx, ids[0])
	e.waitAll(t, ctx, ids[:1], wstypes.WorkspaceStateAvailable)
	s.Advance(24 * time.Hour)
	if st := e.states(t, ctx, ids[:1]); st[ids[0]] != wstypes.WorkspaceStateAvailable {
		t.Fatalf("24h after restart: %v", st)
	}
	s.Advance(25 * time.Hour)
	if st := e.states(t, ctx, ids[:1]); st[ids[0]] != wstypes.WorkspaceStateStopped {
		t.Fatalf("49h after restart: %v", st)
	}
}

func TestMaintenanceWindow(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("realistic"), testserver.VirtualClock())
	e := setup(t, s)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 1, "mw")
	s.Advance(3 * time.Hour)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	// Keep it from the 48-hour stop by running it ALWAYS_ON? No: maintenance
	// applies to MANUAL desktops, so stop it instead; maintenance reaches
	// stopped desktops too.
	e.stop(t, ctx, ids[0])
	s.Advance(3 * time.Hour)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateStopped)
	start := ws.MaintenanceWindow(ids[0], s.Now())
	if !inMaintenanceWindow(start) {
		t.Fatalf("window %s is not in the two weeks from a month's third Monday", start)
	}
	s.AdvanceTo(start.Add(time.Second))
	if st := e.states(t, ctx, ids); st[ids[0]] != wstypes.WorkspaceStateMaintenance {
		t.Fatalf("at the window (%s): %v", start, st)
	}
	s.Advance(3 * time.Hour)
	if st := e.states(t, ctx, ids); st[ids[0]] != wstypes.WorkspaceStateStopped {
		t.Fatalf("after maintenance: %v, want back to STOPPED", st)
	}
	// Opting out: the next month's window passes without maintenance.
	e.optOutMaintenance(t, true)
	next := ws.MaintenanceWindow(ids[0], s.Now().Add(24*time.Hour))
	s.AdvanceTo(next.Add(time.Second))
	if st := e.states(t, ctx, ids); st[ids[0]] != wstypes.WorkspaceStateStopped {
		t.Fatalf("opted out, at the window: %v", st)
	}
}

// inMaintenanceWindow reports whether t falls in the two weeks from the
// third Monday of its month or of the month before (a window opened late
// in a month runs into the next one: December 2026's third Monday is the
// 21st, so its window ends on 3 January).
func inMaintenanceWindow(t time.Time) bool {
	for back := 0; back < 2; back++ {
		first := time.Date(t.Year(), t.Month()-time.Month(back), 1, 0, 0, 0, 0, time.UTC)
		third := first.AddDate(0, 0, (int(time.Monday)-int(first.Weekday())+7)%7+14)
		if !t.Before(third) && t.Before(third.AddDate(0, 0, 14)) {
			return true
		}
	}
	return false
}

func TestInMaintenanceWindow(t *testing.T) {
	for _, c := range []struct {
		at   string
		want bool
	}{
		{"2026-12-21T00:00:00Z", true},  // December's third Monday
		{"2027-01-03T03:15:00Z", true},  // its window's last day, in January
		{"2027-01-04T00:00:00Z", false}, // the day after it
		{"2026-12-20T23:59:00Z", false}, // the day before it
		{"2027-01-18T04:00:00Z", true},  // January's third Monday
	} {
		at, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := inMaintenanceWindow(at); got != c.want {
			t.Errorf("inMaintenanceWindow(%s) = %v, want %v", c.at, got, c.want)
		}
	}
}

// TestMaintenanceGroupEachOnItsDay: the desktops of one CreateWorkspaces
// request share one maintenance job, yet each enters MAINTENANCE on its own
// window, and a terminated one leaves the group.
func TestMaintenanceGroupEachOnItsDay(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("realistic"), testserver.VirtualClock())
	e := setup(t, s)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 3, "mwg")
	s.Advance(3 * time.Hour)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	e.stop(t, ctx, ids[:2]...)
	if out, err := e.ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{{WorkspaceId: aws.String(ids[2])}}}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("terminate: %v %+v", err, out)
	}
	s.Advance(3 * time.Hour)
	e.waitAll(t, ctx, ids[:2], wstypes.WorkspaceStateStopped)
	first, second := ids[0], ids[1]
	if ws.MaintenanceWindow(second, s.Now()).Before(ws.MaintenanceWindow(first, s.Now())) {
		first, second = second, first
	}
	w1, w2 := ws.MaintenanceWindow(first, s.Now()), ws.MaintenanceWindow(second, s.Now())
	s.AdvanceTo(w1.Add(time.Second))
	st := e.states(t, ctx, ids[:2])
	if st[first] != wstypes.WorkspaceStateMaintenance {
		t.Fatalf("at %s's window (%s): %v", first, w1, st)
	}
	if w2.Sub(w1) > time.Minute && st[second] != wstypes.WorkspaceStateStopped {
		t.Fatalf("%s entered maintenance at %s, before its window %s: %v", second, w1, w2, st)
	}
	s.AdvanceTo(w2.Add(time.Second))
	if st := e.states(t, ctx, ids[:2]); st[second] != wstypes.WorkspaceStateMaintenance {
		t.Fatalf("at %s's window (%s): %v", second, w2, st)
	}
	s.Advance(3 * time.Hour)
	if st := e.states(t, ctx, ids[:2]); st[first] != wstypes.WorkspaceStateStopped || st[second] != wstypes.WorkspaceStateStopped {
		t.Fatalf("after maintenance: %v, want both back to STOPPED", st)
	}
	// Next month: each again, on its window a month on.
	n1 := ws.MaintenanceWindow(first, w1.Add(24*time.Hour))
	if !n1.After(w2) {
		t.Fatalf("next window %s of %s is not after this month's", n1, first)
	}
	s.AdvanceTo(n1.Add(time.Second))
	if st := e.states(t, ctx, []string{first}); st[first] != wstypes.WorkspaceStateMaintenance {
		t.Fatalf("next month at %s: %v", n1, st)
	}
}

func TestMeteringAvailableHours(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("instant"), testserver.VirtualClock())
	e := setup(t, s)
	e.optOutMaintenance(t, true)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 1, "meter")
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	s.Advance(5 * time.Hour)
	e.ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []wstypes.StopRequest{{WorkspaceId: aws.String(ids[0])}}})
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateStopped)
	s.Advance(10 * time.Hour)
	e.ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []wstypes.StartRequest{{WorkspaceId: aws.String(ids[0])}}})
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	s.Advance(3 * time.Hour)
	out, err := s.AdminGet("/_deskplane/usage?account=111122223333&region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	var rep ws.UsageReport
	b, _ := json.Marshal(out)
	json.Unmarshal(b, &rep)
	if len(rep.Workspaces) != 1 || rep.Workspaces[0].WorkspaceID != ids[0] {
		t.Fatalf("usage: %s", b)
	}
	// 5 h + 3 h AVAILABLE; the stopped 10 h are not billed. Wall time that
	// passed during the test adds seconds at most.
	if h := rep.Workspaces[0].TotalHours; math.Abs(h-8) > 0.05 {
		t.Fatalf("AVAILABLE hours = %.3f, want 8", h)
	}
	if _, err := (&testserver.Server{}).AdminGetNoAuth(s.URL + "/_deskplane/usage"); err == nil {
		t.Fatalf("usage without the admin token was answered")
	}
}
