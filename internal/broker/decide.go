package broker

import (
	"slices"
	"time"
)

// PoolView is what the reconciler knows about one pool at the start of a
// pass: the observed desktops that have not terminated (joined with the
// broker's records), the create intents not yet matched to a desktop, and
// the sessions waiting for a free desktop.
type PoolView struct {
	Pool     Pool
	Desktops []DesktopView
	// Pending counts create intents not yet seen as desktops; they count
	// against the pool's maximum.
	Pending int
	// Waiting counts sessions waiting for a desktop.
	Waiting int
}

// DesktopView is one observed desktop.
type DesktopView struct {
	ID, Name, State string
	// User is the assigned user, "" when free.
	User string
	// InUse: a session is active, starting or waiting on this desktop.
	InUse bool
	// StopAt is a power-plan deadline (zero: none).
	StopAt time.Time
	// Release is the release state (ReleaseNone, ReleaseNeedsRebuild,
	// ReleaseRebuilding).
	Release int
}

// Actions are the changes one reconcile pass makes to a pool.
type Actions struct {
	// Create is the number of new desktops to request.
	Create int
	// Start, Stop, Terminate and Rebuild list workspace ids.
	Start, Stop, Terminate, Rebuild []string
}

// Empty reports whether there is nothing to do.
func (a Actions) Empty() bool {
	return a.Create == 0 && len(a.Start)+len(a.Stop)+len(a.Terminate)+len(a.Rebuild) == 0
}

func isRunning(state string) bool {
	switch state {
	case "AVAILABLE", "PENDING", "STARTING", "REBOOTING", "REBUILDING", "RESTORING", "UPDATING":
		return true
	}
	return false
}

// isBad reports states in which a desktop is replaced.
func isBad(state string) bool { return state == "ERROR" || state == "UNHEALTHY" }

// Decide is the reconciler's pure core: from one pool's observed state it
// computes the actions that move the pool toward its spec. It is
// level-triggered: it looks only at the present, so running it again after
// a crash or a lost reply computes the remaining work, not a repeat.
//
//   - desktops in ERROR or UNHEALTHY are terminated (and so replaced);
//   - the pool is grown to max(min, assigned + releasing + warm + waiting)
//     healthy desktops, never above max counting every desktop that has
//     not terminated and every pending create;
//   - free desktops are started until warm + waiting of them run;
//     for MANUAL pools free running desktops beyond that are stopped, and
//     assigned desktops whose power-plan deadline passed, with no session
//     in use, are stopped; ALWAYS_ON pools start every stopped desktop;
//   - released desktops are rebuilt before they serve anyone else;
//   - if the pool is above max (its max was lowered) free desktops are
//     terminated, stopped ones first.
func Decide(v PoolView, now time.Time) Actions {
	var a Actions
	p := v.Pool
	total := v.Pending
	healthy := v.Pending // pending creates will become healthy desktops
	assignedOrReleasing := 0
	var freeRunning, freeStopped []DesktopView
	for _, d := range v.Desktops {
		if d.State == "TERMINATED" {
			continue
		}
		total++
		switch {
		case isBad(d.State):
			a.Terminate = append(a.Terminate, d.ID)
			continue
		case d.State == "TERMINATING":
			continue
		}
		healthy++
		if d.User != "" || d.Release != ReleaseNone {
			assignedOrReleasing++
		}
		if d.Release == ReleaseNeedsRebuild && (d.State == "AVAILABLE" || d.State == "STOPPED") {
			a.Rebuild = append(a.Rebuild, d.ID)
		}
		if d.User != "" {
			if p.RunningMode == "MANUAL" && d.State == "AVAILABLE" && !d.InUse && !d.StopAt.IsZero() && !now.Before(d.StopAt) {
				a.Stop = append(a.Stop, d.ID)
			}
			if p.RunningMode == "ALWAYS_ON" && d.State == "STOPPED" {
				a.Start = append(a.Start, d.ID)
			}
			continue
		}
		if d.Release != ReleaseNone {
			continue
		}
		switch {
		case isRunning(d.State):
			freeRunning = append(freeRunning, d)
		case d.State == "STOPPED":
			freeStopped = append(freeStopped, d)
		}
	}

	// Above max (max lowered): shed free desktops, stopped ones first.
	if over := total - p.Max; over > 0 {
		victims := append(slices.Clone(freeStopped), freeRunning...)
		for _, d := range victims[:min(over, len(victims))] {
			a.Terminate = append(a.Terminate, d.ID)
		}
		return finish(a)
	}

	want := max(p.Min, assignedOrReleasing+p.Warm+v.Waiting)
	if want > p.Max {
		want = p.Max
	}
	if n := min(want-healthy, p.Max-total); n > 0 {
		a.Create = n
	}

	wantRunning := p.Warm + v.Waiting
	if p.RunningMode == "ALWAYS_ON" {
		wantRunning = len(freeRunning) + len(freeStopped)
	}
	if short := wantRunning - len(freeRunning); short > 0 {
		for _, d := range freeStopped[:min(short, len(freeStopped))] {
			a.Start = append(a.Start, d.ID)
		}
	} else if p.RunningMode == "MANUAL" && short < 0 {
		// Stop the surplus free desktops that are AVAILABLE (the others
		// are on their way and cannot be stopped yet), newest names last.
		surplus := -short
		for i := len(freeRunning) - 1; i >= 0 && surplus > 0; i-- {
			if freeRunning[i].State == "AVAILABLE" {
				a.Stop = append(a.Stop, freeRunning[i].ID)
				surplus--
			}
		}
	}
	return finish(a)
}

func finish(a Actions) Actions {
	for _, l := range []*[]string{&a.Start, &a.Stop, &a.Terminate, &a.Rebuild} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return a
}
