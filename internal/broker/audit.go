package broker

import (
	"context"
	"fmt"
	"time"
)

// EventDecision is the event log's kind for a reconciler decision: what a
// pass decided to do to a pool and why, recorded before it acts.
const EventDecision = "decision"

// Decision is one action of a reconcile pass with its reason.
type Decision struct {
	// Action is create, start, stop, terminate or rebuild.
	Action string
	// ID is the desktop's workspace id ("" for create).
	ID string
	// Why says what in the pool's state called for it.
	Why string
}

// Explain gives each of the actions Decide chose for a pool its reason,
// from the same view (see Decide for the rules).
func Explain(v PoolView, a Actions, now time.Time) []Decision {
	p := v.Pool
	byID := map[string]DesktopView{}
	total, healthy, assignedOrReleasing, freeRunning := v.Pending, v.Pending, 0, 0
	for _, d := range v.Desktops {
		if d.State == "TERMINATED" {
			continue
		}
		byID[d.ID] = d
		total++
		if isBad(d.State) || d.State == "TERMINATING" {
			continue
		}
		healthy++
		if d.User != "" || d.Release != ReleaseNone {
			assignedOrReleasing++
		} else if isRunning(d.State) {
			freeRunning++
		}
	}
	wantRunning := p.Warm + v.Waiting
	var out []Decision
	for _, id := range a.Terminate {
		d := byID[id]
		why := fmt.Sprintf("the pool holds %d desktops (pending creates included), above its max %d: a free %s desktop goes", total, p.Max, d.State)
		if isBad(d.State) {
			why = fmt.Sprintf("replace: the desktop is %s", d.State)
		}
		out = append(out, Decision{"terminate", id, why})
	}
	if a.Create > 0 {
		want := min(max(p.Min, assignedOrReleasing+p.Warm+v.Waiting), p.Max)
		out = append(out, Decision{"create", "", fmt.Sprintf("grow by %d: %d healthy desktops (pending creates included), want %d = max(min %d, assigned or releasing %d + warm %d + waiting %d) within max %d",
			a.Create, healthy, want, p.Min, assignedOrReleasing, p.Warm, v.Waiting, p.Max)})
	}
	for _, id := range a.Start {
		d := byID[id]
		why := fmt.Sprintf("warm buffer: %d free desktops running, want %d (warm %d + waiting sessions %d)", freeRunning, wantRunning, p.Warm, v.Waiting)
		switch {
		case d.User != "":
			why = fmt.Sprintf("ALWAYS_ON pool: %s's desktop is STOPPED", d.User)
		case p.RunningMode == "ALWAYS_ON":
			why = "ALWAYS_ON pool: a free desktop is STOPPED"
		}
		out = append(out, Decision{"start", id, why})
	}
	for _, id := range a.Stop {
		d := byID[id]
		why := fmt.Sprintf("surplus: %d free desktops running, want %d (warm %d + waiting sessions %d)", freeRunning, wantRunning, p.Warm, v.Waiting)
		if d.User != "" {
			why = fmt.Sprintf("power plan: %s's desktop passed its stop deadline %s (%s ago) with no session in use",
				d.User, d.StopAt.Format(time.RFC3339), now.Sub(d.StopAt).Round(time.Second))
		}
		out = append(out, Decision{"stop", id, why})
	}
	for _, id := range a.Rebuild {
		out = append(out, Decision{"rebuild", id, "release plan: the desktop was released and is rebuilt before it serves anyone else"})
	}
	return out
}

// recordDecisions writes a pass's decisions for a pool to the event log in
// one transaction, before the pass acts on them: the audit log says what
// the broker did and why. A failed write fails the pass (nothing is done
// that is not recorded).
func (b *Broker) recordDecisions(ctx context.Context, pool string, v PoolView, a Actions, now time.Time) error {
	if a.Empty() {
		return nil
	}
	ds := Explain(v, a, now)
	return b.st.Batch(ctx, func(st *Store) error {
		for _, d := range ds {
			if err := st.Event(ctx, now, EventDecision, d.ID, fmt.Sprintf("pool %s: %s: %s", pool, d.Action, d.Why)); err != nil {
				return fmt.Errorf("record the decision to %s: %w", d.Action, err)
			}
		}
		return nil
	})
}
