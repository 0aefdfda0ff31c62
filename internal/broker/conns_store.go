package broker

import (
	"context"
	"fmt"
	"time"
)

// connsSchema is the store's record of each desktop's last connection
// through a gateway, from the gateways' connect and disconnect reports
// (both dialects).
const connsSchema = `
CREATE TABLE IF NOT EXISTS desktop_conns(workspace_id TEXT PRIMARY KEY, "user" TEXT NOT NULL DEFAULT '',
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
	User    string    `json:"user"`
	Gateway string    `json:"gateway"`
	Remote  string    `json:"remote,omitempty"`
	At      time.Time `json:"connected_at"`
	// Ended is when it closed (zero while it is open).
	Ended    time.Time `json:"disconnected_at,omitzero"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
}

// PutConnect records a connection to a desktop opening at.
func (s *Store) PutConnect(ctx context.Context, ws, user, gateway, remote string, at time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO desktop_conns(workspace_id,"user",gateway,remote,connected_at,disconnected_at,bytes_in,bytes_out) VALUES(?,?,?,?,?,0,0,0)
ON CONFLICT(workspace_id) DO UPDATE SET "user"=excluded."user", gateway=excluded.gateway, remote=excluded.remote,
  connected_at=excluded.connected_at, disconnected_at=0,
  bytes_in=CASE WHEN desktop_conns.disconnected_at=0 THEN desktop_conns.bytes_in ELSE 0 END,
  bytes_out=CASE WHEN desktop_conns.disconnected_at=0 THEN desktop_conns.bytes_out ELSE 0 END`, ws, user, gateway, remote, ms(at)); err != nil {
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
	rows, err := s.query(ctx, `SELECT workspace_id,"user",gateway,remote,connected_at,disconnected_at,bytes_in,bytes_out FROM desktop_conns`)
	if err != nil {
		return nil, fmt.Errorf("last connections: %w", err)
	}
	defer rows.Close()
	out := map[string]LastConnection{}
	for rows.Next() {
		var ws string
		var c LastConnection
		var at, ended int64
		if err := rows.Scan(&ws, &c.User, &c.Gateway, &c.Remote, &at, &ended, &c.BytesIn, &c.BytesOut); err != nil {
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
		err = b.st.PutConnect(ctx, s.WorkspaceID, s.User, gatewayID, remote, now)
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
