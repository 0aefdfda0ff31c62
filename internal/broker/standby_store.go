package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The store's standby_ws table (both dialects; CREATE TABLE IF NOT EXISTS
// in the schema adds it to a store made before it existed) records each
// primary desktop's standby WorkSpace: its id and Region.

// StandbyWS is a primary desktop's standby WorkSpace.
type StandbyWS struct {
	WorkspaceID string // the primary desktop
	StandbyID   string
	Region      string
	CreatedAt   time.Time
}

// PutStandby records (or replaces) a primary desktop's standby WorkSpace.
func (s *Store) PutStandby(ctx context.Context, x StandbyWS) error {
	_, err := s.exec(ctx, `INSERT INTO standby_ws(workspace_id,standby_id,region,created_at) VALUES(?,?,?,?)
ON CONFLICT(workspace_id) DO UPDATE SET standby_id=excluded.standby_id, region=excluded.region, created_at=excluded.created_at`,
		x.WorkspaceID, x.StandbyID, x.Region, ms(x.CreatedAt))
	if err != nil {
		return fmt.Errorf("broker store: record standby of %s: %w", x.WorkspaceID, err)
	}
	return nil
}

// DropStandby forgets a primary desktop's standby WorkSpace.
func (s *Store) DropStandby(ctx context.Context, workspaceID string) error {
	if _, err := s.exec(ctx, `DELETE FROM standby_ws WHERE workspace_id=?`, workspaceID); err != nil {
		return fmt.Errorf("broker store: drop standby of %s: %w", workspaceID, err)
	}
	return nil
}

// Standby returns a primary desktop's standby WorkSpace (nil: none).
func (s *Store) Standby(ctx context.Context, workspaceID string) (*StandbyWS, error) {
	x := StandbyWS{WorkspaceID: workspaceID}
	var c int64
	err := s.queryRow(ctx, `SELECT standby_id,region,created_at FROM standby_ws WHERE workspace_id=?`, workspaceID).Scan(&x.StandbyID, &x.Region, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("broker store: standby of %s: %w", workspaceID, err)
	}
	x.CreatedAt = tm(c)
	return &x, nil
}

// Standbys lists every recorded standby WorkSpace by primary desktop id.
func (s *Store) Standbys(ctx context.Context) (map[string]StandbyWS, error) {
	rows, err := s.query(ctx, `SELECT workspace_id,standby_id,region,created_at FROM standby_ws`)
	if err != nil {
		return nil, fmt.Errorf("broker store: standbys: %w", err)
	}
	defer rows.Close()
	out := map[string]StandbyWS{}
	for rows.Next() {
		var x StandbyWS
		var c int64
		if err := rows.Scan(&x.WorkspaceID, &x.StandbyID, &x.Region, &c); err != nil {
			return nil, fmt.Errorf("broker store: standbys: %w", err)
		}
		x.CreatedAt = tm(c)
		out[x.WorkspaceID] = x
	}
	return out, rows.Err()
}
