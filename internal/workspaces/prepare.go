package workspaces

import (
	"bytes"
	"context"
	"errors"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// On the embedded store (one writer, reads served from memory), a
// CreateWorkspaces request of user-decoupled desktops without volume
// encryption (WorkSpaces Core's pattern, and the bulk of a partner's
// creations) is checked, and its records made, before its write
// transaction: planDesktop runs on the committed directory, bundle and image
// records. The transaction then only verifies that every record the plans
// were made from is still the same (when one is not, it checks the request
// again itself) and gives each desktop its place: the quota, a subnet and
// an address, which depend on the desktops created meanwhile. The store's
// single writer so spends its time on what only it can do.

// preparedCreate is a request's desktops planned before its transaction.
type preparedCreate struct {
	reads   []readRec // every record the plans were made from
	dirs    map[string]*directoryRec
	bundles map[string]*bundleInfo
	items   []preparedItem // one per requested desktop, in order
}

// preparedItem is one planned desktop: its checks' outcome and its record.
type preparedItem struct {
	tagsErr error       // its tags are refused (checked before the quota)
	err     error       // planDesktop refused it
	w       *desktopRec // its record but for subnet and address, when neither
}

// readRec is one record read: its value, or that it was absent.
type readRec struct {
	table, key string
	found      bool
	value      []byte
}

// prepareCreate plans a request's desktops from committed records, or
// returns nil when the store is not one it pays on (m.prepare), the request
// is not one that is planned ahead (named users, encryption) or planning
// hit anything but a desktop's refusal.
func (m *Module) prepareCreate(ctx context.Context, c *gateway.Call, in *createWorkspacesIn) *preparedCreate {
	if !m.prepare || anyEncrypted(in.Workspaces) {
		return nil
	}
	for _, r := range in.Workspaces {
		if r.UserName != UndefinedUser {
			return nil // the user checks read what the transaction writes
		}
	}
	rt := &readTracker{s: m.store}
	rc := m.newCreateCache(c, in)
	p := &preparedCreate{items: make([]preparedItem, len(in.Workspaces))}
	for i, r := range in.Workspaces {
		tags, err := tagsFromList(r.Tags)
		if err != nil {
			if _, ok := toItemError(err); !ok {
				return nil
			}
			p.items[i].tagsErr = err
			continue
		}
		w, _, err := m.planDesktop(ctx, rt, c, r, tags, rc)
		if err != nil {
			if _, ok := toItemError(err); !ok {
				return nil
			}
			p.items[i].err = err
			continue
		}
		p.items[i].w = w
	}
	p.reads, p.dirs, p.bundles = rt.reads, rc.dirs, rc.bundles
	return p
}

// current reports whether every record the plans were made from still
// holds what it held then, as tx reads it.
func (p *preparedCreate) current(ctx context.Context, tx store.Tx) (bool, error) {
	for _, r := range p.reads {
		v, err := tx.Get(ctx, r.table, r.key)
		if errors.Is(err, store.ErrNotFound) {
			if r.found {
				return false, nil
			}
			continue
		}
		if err != nil {
			return false, err
		}
		if !r.found || !bytes.Equal(v, r.value) {
			return false, nil
		}
	}
	return true, nil
}

// createPrepared is createOne for a planned desktop: the same checks in the
// same order (tags, quota, the plan's), then its place.
func (m *Module) createPrepared(ctx context.Context, tx store.Tx, c *gateway.Call, it preparedItem, count int, rc *createCache) (*desktopRec, error) {
	if it.tagsErr != nil {
		return nil, it.tagsErr
	}
	if err := m.checkQuota(c, count); err != nil {
		return nil, err
	}
	if it.err != nil {
		return nil, it.err
	}
	return m.placeDesktop(ctx, tx, c, it.w, nil, count, rc)
}

// errNotARead ends a preparation that would do more than read.
var errNotARead = errors.New("workspaces: a prepared request only reads")

// readTracker is the store.Tx a request is planned through: Get reads the
// committed record (through the store's read cache) and notes what it held;
// anything else fails with errNotARead.
type readTracker struct {
	s     store.Store
	reads []readRec
}

func (t *readTracker) Get(ctx context.Context, table, key string) ([]byte, error) {
	v, err := t.s.Get(ctx, table, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.reads = append(t.reads, readRec{table: table, key: key})
	case err == nil:
		t.reads = append(t.reads, readRec{table: table, key: key, found: true, value: v})
	}
	return v, err
}

func (t *readTracker) Put(context.Context, string, string, []byte) error    { return errNotARead }
func (t *readTracker) Create(context.Context, string, string, []byte) error { return errNotARead }
func (t *readTracker) Delete(context.Context, string, string) error         { return errNotARead }
func (t *readTracker) Scan(context.Context, string, string, string, int, func(string, []byte) error) error {
	return errNotARead
}
func (t *readTracker) Count(context.Context, string, string) (int, error) { return 0, errNotARead }
func (t *readTracker) GetMany(context.Context, string, []string) (map[string][]byte, error) {
	return nil, errNotARead
}
func (t *readTracker) PutMany(context.Context, string, []store.KV) error { return errNotARead }
func (t *readTracker) CreateMany(context.Context, string, []store.KV) ([]string, error) {
	return nil, errNotARead
}
func (t *readTracker) Enqueue(context.Context, store.Job) error        { return errNotARead }
func (t *readTracker) CancelJob(context.Context, string) error         { return errNotARead }
func (t *readTracker) FinishJob(context.Context, string, string) error { return errNotARead }
