package cloudwatch

import (
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/workspaces"
)

func TestStat(t *testing.T) {
	vals := []float64{4, 1, 3, 2}
	for name, want := range map[string]float64{"SampleCount": 4, "Sum": 10, "Average": 2.5, "Minimum": 1, "Maximum": 4,
		"p50": 2, "p75": 3, "p100": 4, "p0": 1, "p99.9": 4} {
		if got, ok := stat(vals, name); !ok || got != want {
			t.Errorf("%s = %v %v, want %v", name, got, ok, want)
		}
	}
	for _, bad := range []string{"p101", "pXX", "Median", "p-1"} {
		if _, ok := stat(vals, bad); ok {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, ok := stat(nil, "Sum"); ok {
		t.Error("a statistic of no samples")
	}
}

// TestSamplesFollowTheTimeline: one sample a minute of the desktop's life,
// 1 while it is in the metric's state; a directory sums its desktops.
func TestSamplesFollowTheTimeline(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 30, 0, time.UTC)
	d1 := workspaces.Timeline{WorkspaceID: "ws-1", DirectoryID: "d-1", Created: t0, Transitions: []workspaces.Transition{
		{State: "PENDING", Time: t0}, {State: "AVAILABLE", Time: t0.Add(20 * time.Minute)},
		{State: "STOPPED", Time: t0.Add(50 * time.Minute)}, {State: "TERMINATED", Time: t0.Add(60 * time.Minute)}}}
	d2 := workspaces.Timeline{WorkspaceID: "ws-2", DirectoryID: "d-1", Created: t0.Add(30 * time.Minute), Transitions: []workspaces.Transition{
		{State: "AVAILABLE", Time: t0.Add(30 * time.Minute)}}}
	src := &source{now: t0.Add(90 * time.Minute), desktops: []workspaces.Timeline{d1, d2}, directory: map[string]string{"ws-1": "d-1", "ws-2": "d-1"},
		sessions: map[string][]SessionEvent{"ws-2": {
			{Kind: SessionConnected, Time: t0.Add(40 * time.Minute), LaunchTime: 9 * time.Second},
			{Kind: SessionDisconnected, Time: t0.Add(45 * time.Minute)}}}}
	sum := func(ss []sample) (n int, s float64) {
		for _, x := range ss {
			s += x.v
		}
		return len(ss), s
	}
	from, to := t0.Add(-time.Hour), t0.Add(2*time.Hour)
	if n, s := sum(src.samples("Available", metrics["Available"], dimWorkspace, "ws-1", from, to)); n != 60 || s != 30 {
		t.Errorf("ws-1 Available: %d samples sum %v, want 60 and 30", n, s)
	}
	if n, s := sum(src.samples("Stopped", metrics["Stopped"], dimWorkspace, "ws-1", from, to)); n != 60 || s != 10 {
		t.Errorf("ws-1 Stopped: %d samples sum %v, want 60 and 10", n, s)
	}
	// ws-2 is AVAILABLE from minute 30 to now (minute 90): 60 minutes.
	if n, s := sum(src.samples("Available", metrics["Available"], dimDirectory, "d-1", from, to)); n != 90 || s != 90 {
		t.Errorf("d-1 Available: %d samples sum %v, want 90 and 90", n, s)
	}
	if _, s := sum(src.samples("UserConnected", metrics["UserConnected"], dimDirectory, "d-1", from, to)); s != 5 {
		t.Errorf("UserConnected: %v minutes, want 5", s)
	}
	if n, s := sum(src.samples("SessionLaunchTime", metrics["SessionLaunchTime"], dimWorkspace, "ws-2", from, to)); n != 1 || s != 9 {
		t.Errorf("SessionLaunchTime: %d, %v", n, s)
	}
	if n, _ := sum(src.samples("ConnectionAttempt", metrics["ConnectionAttempt"], dimWorkspace, "ws-1", from, to)); n != 0 {
		t.Errorf("ws-1 has no sessions, %d attempts", n)
	}
	// Buckets of an hour from a start rounded to the minute.
	bs := buckets(src.samples("Available", metrics["Available"], dimWorkspace, "ws-1", from, to), from.Truncate(time.Minute), time.Hour)
	if len(bs) != 2 || len(bs[0].vals)+len(bs[1].vals) != 60 {
		t.Errorf("buckets %+v", bs)
	}
}
