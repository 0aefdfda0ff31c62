package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/deskplane/deskplane/internal/broker/gateway"
)

// Gateway registrations on a shared (PostgreSQL) store: a gateway runs as
// its own process and heartbeats to one broker of the cluster, which
// records the heartbeat in the database; every broker of the cluster then
// spreads the sessions it grants over the gateways the database lists as
// live, whichever broker they registered with. Liveness is the last
// heartbeat's time on the recording broker's clock (a gateway heartbeats
// every 10 seconds and counts as live for gatewayLiveFor, which absorbs the
// brokers' clock skew). The brokers' in-process gateways are not recorded:
// their WebSocket URL is relative to their own broker.

// gatewaysSchema is the shared store's table of gateway registrations
// (PostgreSQL only: an embedded store has one broker).
const gatewaysSchema = `
CREATE TABLE IF NOT EXISTS gateways(id TEXT PRIMARY KEY, url TEXT NOT NULL, tcp_addr TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL);
`

// gatewayForgetAfter is how long a gateway that stopped heartbeating stays
// listed (as not live) in a shared store.
const gatewayForgetAfter = 24 * time.Hour

// storedGateway is a gateway's row in a shared store.
type storedGateway struct {
	reg      gateway.Registration
	lastSeen time.Time
}

// PutGateway records a gateway's heartbeat at now, and forgets the
// gateways silent for gatewayForgetAfter.
func (s *Store) PutGateway(ctx context.Context, r gateway.Registration, now time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO gateways(id,url,tcp_addr,active,last_seen) VALUES(?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET url=excluded.url, tcp_addr=excluded.tcp_addr, active=excluded.active, last_seen=excluded.last_seen`,
		r.ID, r.URL, r.TCPAddr, r.Active, ms(now)); err != nil {
		return fmt.Errorf("store gateway %s: %w", r.ID, err)
	}
	if _, err := s.exec(ctx, `DELETE FROM gateways WHERE last_seen < ?`, ms(now.Add(-gatewayForgetAfter))); err != nil {
		return fmt.Errorf("forget silent gateways: %w", err)
	}
	return nil
}

// StoredGateways lists the gateways a shared store records.
func (s *Store) StoredGateways(ctx context.Context) ([]storedGateway, error) {
	rows, err := s.query(ctx, `SELECT id, url, tcp_addr, active, last_seen FROM gateways ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list gateways: %w", err)
	}
	defer rows.Close()
	var out []storedGateway
	for rows.Next() {
		var g storedGateway
		var seen int64
		if err := rows.Scan(&g.reg.ID, &g.reg.URL, &g.reg.TCPAddr, &g.reg.Active, &seen); err != nil {
			return nil, fmt.Errorf("list gateways: %w", err)
		}
		g.lastSeen = tm(seen)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list gateways: %w", err)
	}
	return out, nil
}
