package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Connection tickets on a shared (PostgreSQL) store: every broker of the
// cluster writes the tickets it issues to the database, and a gateway may
// redeem one at any of them. The ticket's row is deleted by the redeeming
// statement itself, so the database enforces single use: of two brokers
// redeeming the same ticket at once, one gets the row and the other
// nothing. Rows hold the ticket's SHA-256, never the ticket.

// sharedTickets reports whether the store keeps connection tickets (a
// shared store: PostgreSQL).
func (s *Store) sharedTickets() bool { return s.dialect == dialectPostgres }

// PutTicket records an issued ticket (by its hash).
func (s *Store) PutTicket(ctx context.Context, key, session, gateway string, expires time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO tickets(key,session,gateway,expires) VALUES(?,?,?,?)`, key, session, gateway, ms(expires)); err != nil {
		return fmt.Errorf("store ticket: %w", err)
	}
	return nil
}

// TakeTicket consumes a ticket: its row is deleted and returned, or nil
// when no such ticket is (still) stored.
func (s *Store) TakeTicket(ctx context.Context, key string) (*storedTicket, error) {
	var t storedTicket
	var exp int64
	err := s.queryRow(ctx, `DELETE FROM tickets WHERE key=? RETURNING session, gateway, expires`, key).Scan(&t.session, &t.gateway, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("take ticket: %w", err)
	}
	t.expires = tm(exp)
	return &t, nil
}

// PurgeTickets deletes the tickets that expired before now.
func (s *Store) PurgeTickets(ctx context.Context, now time.Time) error {
	if _, err := s.exec(ctx, `DELETE FROM tickets WHERE expires < ?`, ms(now)); err != nil {
		return fmt.Errorf("purge tickets: %w", err)
	}
	return nil
}

type storedTicket struct {
	session, gateway string
	expires          time.Time
}
