package cloudwatch

import (
	"context"
	"fmt"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// TableSessions holds the session events a guest runtime reported.
const TableSessions = "cloudwatch_sessions"

// The kinds of session event.
const (
	// SessionConnected: a user connected (a connection attempt that
	// succeeded); LaunchTime is how long the session took to start.
	SessionConnected = "connected"
	// SessionFailed: a connection attempt failed.
	SessionFailed = "failed"
	// SessionDisconnected: the user's session ended.
	SessionDisconnected = "disconnected"
)

// SessionEvent is a user connection to a desktop as the runtime observed it.
type SessionEvent struct {
	Account     string        `json:"account"`
	Region      string        `json:"region"`
	WorkspaceID string        `json:"workspace_id"`
	DirectoryID string        `json:"directory_id"`
	Kind        string        `json:"kind"`
	Time        time.Time     `json:"time"`
	LaunchTime  time.Duration `json:"launch_time,omitempty"`
}

// SessionRecorder is what a guest runtime feeds connection events into;
// the Module implements it.
type SessionRecorder interface {
	RecordSession(ctx context.Context, ev SessionEvent) error
}

var _ SessionRecorder = (*Module)(nil)

// RecordSession stores a session event; the connection metrics
// (ConnectionAttempt, ConnectionSuccess, ConnectionFailure,
// SessionLaunchTime, UserConnected) derive from them. A zero Time is the
// clock's now.
func (m *Module) RecordSession(ctx context.Context, ev SessionEvent) error {
	switch ev.Kind {
	case SessionConnected, SessionFailed, SessionDisconnected:
	default:
		return fmt.Errorf("cloudwatch: unknown session event kind %q", ev.Kind)
	}
	if ev.Account == "" || ev.Region == "" || ev.WorkspaceID == "" {
		return fmt.Errorf("cloudwatch: a session event needs an account, a region and a workspace id")
	}
	if ev.Time.IsZero() {
		ev.Time = m.clock.Now()
	}
	ev.Time = ev.Time.UTC()
	k := sessionPrefix(ev.Account, ev.Region) + ev.WorkspaceID + "/" + fmt.Sprintf("%020d", ev.Time.UnixNano()) + "/" + ev.Kind
	err := m.store.Update(ctx, func(tx store.Tx) error { return store.PutJSON(ctx, tx, TableSessions, k, &ev) })
	if err != nil {
		return fmt.Errorf("cloudwatch: record session event: %w", err)
	}
	return nil
}

func sessionPrefix(account, region string) string { return account + "/" + region + "/" }

// sessions returns the session events of an account and region by desktop,
// in time order.
func (m *Module) sessions(ctx context.Context, account, region string) (map[string][]SessionEvent, error) {
	out := map[string][]SessionEvent{}
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, TableSessions, sessionPrefix(account, region), "", 0, func(_ string, ev *SessionEvent) error {
			out[ev.WorkspaceID] = append(out[ev.WorkspaceID], *ev)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("cloudwatch: read session events: %w", err)
	}
	return out, nil
}
