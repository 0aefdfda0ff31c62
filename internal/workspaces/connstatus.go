package workspaces

import (
	"context"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// tConn holds what a streaming runtime reports about a desktop's user
// connection: ACCOUNT/REGION/WSID -> connRec. Nothing writes it until a
// runtime does (SetConnection), so every desktop reads as never connected.
const tConn = "ws_conn_status"

// connRec is a desktop's last reported user connection.
type connRec struct {
	Connected     bool      `json:"connected"`
	CheckedAt     time.Time `json:"checked"`
	LastConnected time.Time `json:"last,omitzero"`
}

type connStatusIn struct {
	WorkspaceIDs []string `json:"WorkspaceIds,omitempty" v:"min=1,max=25"`
	NextToken    *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

type connStatusItem struct {
	WorkspaceID                      string         `json:"WorkspaceId"`
	ConnectionState                  string         `json:"ConnectionState"`
	ConnectionStateCheckTimestamp    *awsproto.Time `json:"ConnectionStateCheckTimestamp,omitempty"`
	LastKnownUserConnectionTimestamp *awsproto.Time `json:"LastKnownUserConnectionTimestamp,omitempty"`
}

type connStatusOut struct {
	WorkspacesConnectionStatus []connStatusItem `json:"WorkspacesConnectionStatus"`
	NextToken                  *string          `json:"NextToken,omitempty"`
}

// SetConnection records a user connecting to (connected=true) or leaving
// a desktop, as a streaming runtime observes it at time at.
func (m *Module) SetConnection(ctx context.Context, account, region, workspaceID string, connected bool, at time.Time) error {
	return m.store.Update(ctx, func(tx store.Tx) error {
		k := key(account, region, workspaceID)
		w, err := getRec[desktopRec](ctx, tx, tDesktops, k)
		if err != nil {
			return err
		}
		if w == nil || w.State == "TERMINATED" {
			return errNotFound("The WorkSpace %s could not be found.", workspaceID)
		}
		r, err := getRec[connRec](ctx, tx, tConn, k)
		if err != nil {
			return err
		}
		if r == nil {
			r = &connRec{}
		}
		r.Connected, r.CheckedAt = connected, at
		if connected || r.LastConnected.IsZero() {
			r.LastConnected = at
		}
		return putRec(ctx, tx, tConn, k, r)
	})
}

// DirectoryOf returns a desktop's directory id ("" when unknown), for
// reports keyed by directory (CloudWatch's DirectoryId dimension).
func (m *Module) DirectoryOf(ctx context.Context, account, region, workspaceID string) string {
	var dir string
	_ = m.store.View(ctx, func(tx store.Tx) error {
		w, err := getRec[desktopRec](ctx, tx, tDesktops, key(account, region, workspaceID))
		if err == nil && w != nil {
			dir = w.DirectoryID
		}
		return err
	})
	return dir
}

// runningForConn reports whether a desktop's connection state is known:
// only while it runs (the state of a stopped desktop is UNKNOWN).
func runningForConn(w *desktopRec) bool {
	return isIn(w.State, "AVAILABLE", "IMPAIRED", "UNHEALTHY", "REBOOTING", "ADMIN_MAINTENANCE", "UPDATING", "MAINTENANCE")
}

// connStateObserved is a desktop's connection state under a runtime: the
// sessions it observed, checked now.
func connStateObserved(w *desktopRec, rc Connection, now time.Time) connStatusItem {
	it := connStatusItem{WorkspaceID: w.WorkspaceID, ConnectionState: "UNKNOWN", ConnectionStateCheckTimestamp: awsproto.NewTime(now)}
	if runningForConn(w) {
		it.ConnectionState = "DISCONNECTED"
		if rc.State == "CONNECTED" && w.State != "ADMIN_MAINTENANCE" {
			it.ConnectionState = "CONNECTED"
		}
	}
	if !rc.LastConnect.IsZero() {
		it.LastKnownUserConnectionTimestamp = awsproto.NewTime(rc.LastConnect)
	}
	return it
}

// connState is a desktop's connection state: UNKNOWN unless it is running
// (the state of a stopped desktop is unknown), CONNECTED while a runtime
// reports a user on it, DISCONNECTED otherwise.
func connState(w *desktopRec, r *connRec) connStatusItem {
	it := connStatusItem{WorkspaceID: w.WorkspaceID, ConnectionState: "UNKNOWN"}
	if runningForConn(w) {
		it.ConnectionState = "DISCONNECTED"
		if r != nil && r.Connected && w.State != "ADMIN_MAINTENANCE" {
			it.ConnectionState = "CONNECTED"
		}
	}
	if r != nil {
		it.ConnectionStateCheckTimestamp = awsproto.NewTime(r.CheckedAt)
		if !r.LastConnected.IsZero() {
			it.LastKnownUserConnectionTimestamp = awsproto.NewTime(r.LastConnected)
		}
	}
	return it
}

func (m *Module) describeConnStatus(ctx context.Context, c *gateway.Call, in *connStatusIn) (*connStatusOut, error) {
	for _, id := range in.WorkspaceIDs {
		if !wsIDRe.MatchString(id) {
			return nil, errInvalid("The WorkSpace id %q is not valid.", id)
		}
	}
	if in.NextToken != nil && len(in.WorkspaceIDs) > 0 {
		return nil, errInvalid("NextToken pages a listing of all WorkSpaces; it cannot be given with WorkspaceIds.")
	}
	p := prefix(c.Account, c.Region)
	after, err := parseToken(in.NextToken, p)
	if err != nil {
		return nil, err
	}
	out := &connStatusOut{WorkspacesConnectionStatus: []connStatusItem{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		add := func(k string, w *desktopRec) error {
			// Under a runtime the observed sessions decide; otherwise
			// what SetConnection recorded.
			if rc, ok := m.ConnectionStatus(w.WorkspaceID); ok {
				out.WorkspacesConnectionStatus = append(out.WorkspacesConnectionStatus, connStateObserved(w, rc, c.Now))
				return nil
			}
			r, err := getRec[connRec](ctx, tx, tConn, k)
			if err != nil {
				return err
			}
			out.WorkspacesConnectionStatus = append(out.WorkspacesConnectionStatus, connState(w, r))
			return nil
		}
		if len(in.WorkspaceIDs) > 0 {
			for _, id := range in.WorkspaceIDs {
				k := key(c.Account, c.Region, id)
				w, err := getRec[desktopRec](ctx, tx, tDesktops, k)
				if err != nil {
					return err
				}
				if w == nil || w.State == "TERMINATED" {
					continue
				}
				if err := add(k, w); err != nil {
					return err
				}
			}
			return nil
		}
		const page = 25
		last := ""
		return store.ScanJSON[desktopRec](ctx, tx, tDesktops, p, after, 0, func(k string, w *desktopRec) error {
			if w.State == "TERMINATED" {
				return nil
			}
			if len(out.WorkspacesConnectionStatus) == page {
				out.NextToken = pageToken(last)
				return store.ErrStop
			}
			last = k
			return add(k, w)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var wsIDRe = mustRe(`^ws-[0-9a-z]{8,63}$`)
