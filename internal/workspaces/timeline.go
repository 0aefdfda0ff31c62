package workspaces

import (
	"context"
	"fmt"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// Timeline is a desktop's state over time, as monitoring (CloudWatch's
// AWS/WorkSpaces metrics) reads it: its state transitions in order (the
// latest maxHistory of them), the first at its creation.
type Timeline struct {
	WorkspaceID string
	DirectoryID string
	Created     time.Time
	Transitions []Transition
}

// Timelines returns the timelines of the desktops of an account in a region
// (terminated desktops while their records are kept).
func (m *Module) Timelines(ctx context.Context, account, region string) ([]Timeline, error) {
	var out []Timeline
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON[desktopRec](ctx, tx, tDesktops, prefix(account, region), "", 0, func(_ string, w *desktopRec) error {
			out = append(out, Timeline{WorkspaceID: w.WorkspaceID, DirectoryID: w.DirectoryID, Created: w.Created,
				Transitions: append([]Transition(nil), w.History...)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("workspaces: read desktop timelines: %w", err)
	}
	return out, nil
}
