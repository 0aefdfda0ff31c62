package broker

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// connsSchema is the store's record of each desktop's last connection
// through a gateway, from the gateways' connect and disconnect reports
// (both dialects).
const connsSchema = `
CREATE TABLE IF NOT EXISTS desktop_conns(workspace_id TEXT PRIMARY KEY, "user" TEXT NOT NULL DEFAULT '', session TEXT NOT NULL DEFAULT '',
  gateway TEXT NOT NULL DEFAULT '', remote TEXT NOT NULL DEFAULT '', connected_at INTEGER NOT NULL DEFAULT 0,
  disconnected_at INTEGER NOT NULL DEFAULT 0, bytes_in INTEGER NOT NULL DEFAULT 0, bytes_out INTEGER NOT NULL DEFAULT 0);
`

// Connection event kinds in the broker's event log.
const (
	EventGatewayConnect    = "gateway_connect"
	EventGatewayDisconnect = "gateway_disconnect"
)

// LastConnection is a desktop's last connection through a gateway.
type LastConnection struct {
	User      string    `json:"user"`
	SessionID string    `json:"session_id"`
	Gateway   string    `json:"gateway"`
	Remote    string    `json:"remote,omitempty"`
	At        time.Time `json:"connected_at"`
	// Ended is when it closed (zero while it is open).
	Ended    time.Time `json:"disconnected_at,omitzero"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
}

// PutConnect records a connection to a desktop opening at.
func (s *Store) PutConnect(ctx context.Context, ws, user, session, gateway, remote string, at time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO desktop_conns(workspace_id,"user",session,gateway,remote,connected_at,disconnected_at,bytes_in,bytes_out) VALUES(?,?,?,?,?,?,0,0,0)
ON CONFLICT(workspace_id) DO UPDATE SET "user"=excluded."user", session=excluded.session, gateway=excluded.gateway, remote=excluded.remote,
  connected_at=excluded.connected_at, disconnected_at=0,
  bytes_in=CASE WHEN desktop_conns.disconnected_at=0 THEN desktop_conns.bytes_in ELSE 0 END,
  bytes_out=CASE WHEN desktop_conns.disconnected_at=0 THEN desktop_conns.bytes_out ELSE 0 END`, ws, user, session, gateway, remote, ms(at)); err != nil {
		return fmt.Errorf("record connection to %s: %w", ws, err)
	}
	return nil
}

// PutDisconnect adds the bytes a closed connection to the desktop carried
// each way; when it was the session's last (closed), the desktop's last
// connection ended at.
func (s *Store) PutDisconnect(ctx context.Context, ws string, at time.Time, in, out int64, closed bool) error {
	q := `UPDATE desktop_conns SET bytes_in=bytes_in+?, bytes_out=bytes_out+? WHERE workspace_id=?`
	args := []any{max(in, 0), max(out, 0), ws}
	if closed {
		q = `UPDATE desktop_conns SET disconnected_at=?, bytes_in=bytes_in+?, bytes_out=bytes_out+? WHERE workspace_id=?`
		args = append([]any{ms(at)}, args...)
	}
	if _, err := s.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("record disconnection from %s: %w", ws, err)
	}
	return nil
}

// LastConnections returns every desktop's last connection, by workspace id.
func (s *Store) LastConnections(ctx context.Context) (map[string]LastConnection, error) {
	return s.lastConnections(ctx, "")
}

// LastConnectionOf returns a desktop's last connection (nil: none).
func (s *Store) LastConnectionOf(ctx context.Context, ws string) (*LastConnection, error) {
	m, err := s.lastConnections(ctx, ws)
	if err != nil {
		return nil, err
	}
	if c, ok := m[ws]; ok {
		return &c, nil
	}
	return nil, nil
}

// lastConnections reads desktop_conns: every row, or the desktop ws's.
func (s *Store) lastConnections(ctx context.Context, ws string) (map[string]LastConnection, error) {
	q, args := `SELECT workspace_id,"user",session,gateway,remote,connected_at,disconnected_at,bytes_in,bytes_out FROM desktop_conns`, []any(nil)
	if ws != "" {
		q, args = q+` WHERE workspace_id=?`, []any{ws}
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("last connections: %w", err)
	}
	defer rows.Close()
	out := map[string]LastConnection{}
	for rows.Next() {
		var ws string
		var c LastConnection
		var at, ended int64
		if err := rows.Scan(&ws, &c.User, &c.SessionID, &c.Gateway, &c.Remote, &at, &ended, &c.BytesIn, &c.BytesOut); err != nil {
			return nil, fmt.Errorf("last connections: %w", err)
		}
		c.At, c.Ended = tm(at), tm(ended)
		out[ws] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last connections: %w", err)
	}
	return out, nil
}

// noteConnection records a gateway's connect or disconnect of a session's
// desktop: the desktop's last connection and an entry of the event log.
// last is whether a disconnect closed the session's last connection.
// A failed write is logged; the connection itself stands.
func (b *Broker) noteConnection(ctx context.Context, gatewayID, session, remote string, connect, last bool, in, out int64) {
	s, err := b.st.Session(ctx, session)
	if err != nil || s == nil || s.WorkspaceID == "" {
		if err != nil {
			b.log.Warn("gateway report: session unreadable", "session", session, "err", err)
		}
		return
	}
	now := b.clock.Now()
	kind, detail := EventGatewayConnect, fmt.Sprintf("%s connected through gateway %s from %s (session %s)", s.User, gatewayID, remote, session)
	if connect {
		err = b.st.PutConnect(ctx, s.WorkspaceID, s.User, session, gatewayID, remote, now)
	} else {
		kind, detail = EventGatewayDisconnect, fmt.Sprintf("%s disconnected from gateway %s (session %s): %d bytes in, %d out", s.User, gatewayID, session, in, out)
		err = b.st.PutDisconnect(ctx, s.WorkspaceID, now, in, out, last)
	}
	if err == nil {
		err = b.st.Event(ctx, now, kind, s.WorkspaceID, detail)
	}
	if err != nil {
		b.log.Warn("gateway report not recorded", "session", session, "kind", kind, "err", err)
	}
}

// ConnectionsOf lists the live connections a broker's sessions have: those
// reported to this hub and, on a shared store, those the database records
// as open through a live gateway running as its own process (reported to
// another broker of the cluster). A broker's in-process gateway's
// connections are its own process's only.
func (h *GatewayHub) ConnectionsOf(ctx context.Context, b *Broker) []ConnView {
	out := h.Connections()
	if !b.st.sharedTickets() {
		return out
	}
	last, err := b.st.LastConnections(ctx)
	if err != nil {
		b.log.Warn("shared connections unreadable; listing this broker's own", "err", err)
		return out
	}
	gws := h.known(ctx, []*Broker{b})
	now := h.clock.Now()
	for _, c := range last {
		if !h.openElsewhere(c, gws, now) {
			continue
		}
		if slices.ContainsFunc(out, func(o ConnView) bool { return o.SessionID == c.SessionID && o.Gateway == c.Gateway }) {
			continue
		}
		out = append(out, ConnView{Gateway: c.Gateway, SessionID: c.SessionID, Remote: c.Remote, Since: c.At})
	}
	slices.SortFunc(out, func(a, b ConnView) int { return a.Since.Compare(b.Since) })
	return out
}

// openElsewhere reports whether a recorded connection is open through a
// live gateway that runs as its own process.
func (h *GatewayHub) openElsewhere(c LastConnection, gws map[string]*gatewayState, now time.Time) bool {
	g := gws[c.Gateway]
	return c.Ended.IsZero() && c.Gateway != LocalGatewayID && g != nil && !g.local && h.live(g, now)
}

// sessionConnected reports whether a gateway carries a connection of the
// broker's session s now: one reported to this hub, or on a shared store
// one the database records on its desktop (see ConnectionsOf).
func (h *GatewayHub) sessionConnected(ctx context.Context, b *Broker, s *Session) bool {
	h.mu.Lock()
	for _, c := range h.conns {
		if c.session == s.ID {
			h.mu.Unlock()
			return true
		}
	}
	h.mu.Unlock()
	if !b.st.sharedTickets() || s.WorkspaceID == "" {
		return false
	}
	c, err := b.st.LastConnectionOf(ctx, s.WorkspaceID)
	if err != nil || c == nil || c.SessionID != s.ID {
		return false
	}
	return h.openElsewhere(*c, h.known(ctx, []*Broker{b}), h.clock.Now())
}
