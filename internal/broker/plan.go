package broker

import (
	"slices"
	"strings"
	"time"
)

// MatchPolicy returns the first policy (in configuration order) that names
// the user or one of the user's groups, or nil. Names compare
// case-insensitively, as Active Directory's sAMAccountName does.
func MatchPolicy(policies []Policy, user string, groups []string) *Policy {
	for i := range policies {
		p := &policies[i]
		for _, u := range p.Users {
			if strings.EqualFold(u, user) {
				return p
			}
		}
		for _, g := range p.Groups {
			if slices.ContainsFunc(groups, func(x string) bool { return strings.EqualFold(x, g) }) {
				return p
			}
		}
	}
	return nil
}

// PowerDecision is the outcome of a power control plan for one event.
type PowerDecision struct {
	// StopNow asks for StopWorkspaces now.
	StopNow bool
	// StopAt, when not zero, is when the desktop should be stopped if the
	// user has not come back.
	StopAt time.Time
}

// DecidePower applies a power action at now for a desktop in the given
// running mode. ALWAYS_ON desktops are never stopped.
func DecidePower(a PowerAction, runningMode string, now time.Time) PowerDecision {
	if runningMode == "ALWAYS_ON" {
		return PowerDecision{}
	}
	switch a.Action {
	case PowerStopNow:
		return PowerDecision{StopNow: true}
	case PowerStopAfter:
		if a.Minutes <= 0 {
			return PowerDecision{StopNow: true}
		}
		return PowerDecision{StopAt: now.Add(time.Duration(a.Minutes) * time.Minute)}
	}
	return PowerDecision{}
}

// LogoutDecision is what happens to a desktop when its user logs out.
type LogoutDecision struct {
	// Release: unassign the desktop and rebuild it before it serves anyone
	// else. The power action is then left to the pool's warm-buffer rule.
	Release bool
	Power   PowerDecision
}

// DecideLogout applies the release and power plans on logout.
func DecideLogout(rp ReleasePlan, pp PowerPlan, runningMode string, now time.Time) LogoutDecision {
	if rp.OnLogout == ReleaseRebuild {
		return LogoutDecision{Release: true}
	}
	return LogoutDecision{Power: DecidePower(pp.OnLogout, runningMode, now)}
}
