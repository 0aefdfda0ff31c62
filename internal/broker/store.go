package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the embedded store's driver

	"github.com/deskplane/deskplane/internal/secrets"
)

// Store is the broker's durable state in an embedded SQLite database
// (broker.db in the data directory, WAL, synchronous=FULL): desktops and
// their assignments, sessions, create intents, usage intervals and events.
// Every write is committed before the broker acts on it or answers, so a
// kill -9 loses nothing that was acknowledged.
type Store struct {
	db      *sql.DB
	dialect dialect
	// lock holds an exclusive flock on broker.lock for the store's life:
	// one broker process per data dir (two would make every decision
	// twice).
	lock *os.File
	// writeFault, when set (by tests), is asked before every write
	// statement and transaction; an error it returns fails that write.
	writeFault atomic.Pointer[func(query string) error]
	// batch, in the store Batch hands its function, runs every statement
	// in the batch's transaction; parent is the store it came from.
	batch  *batchTx
	parent *Store
}

// batchTx is the transaction of a Batch, with its prepared statements.
type batchTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// Batch runs f with a store whose statements all run in one transaction,
// committed when f returns nil and rolled back otherwise: a reconcile pass
// records what it observed of a pool in one commit (one fsync) instead of
// one per statement, before it acts. f must use only the store it is
// given: the transaction holds the SQLite store's one connection until f
// returns. Within a batch, Batch and the store's own transactions run in
// the batch's transaction.
func (s *Store) Batch(ctx context.Context, f func(*Store) error) error {
	if s.batch != nil {
		return f(s)
	}
	if err := s.fault("BEGIN"); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("broker store: begin: %w", err)
	}
	bs := &Store{db: s.db, dialect: s.dialect, batch: &batchTx{tx: tx, stmts: map[string]*sql.Stmt{}}, parent: s}
	defer func() {
		for _, st := range bs.batch.stmts {
			st.Close()
		}
	}()
	if err := f(bs); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("broker store: commit: %w", err)
	}
	return nil
}

// Desktop is the broker's record of one pool desktop.
type Desktop struct {
	ID, Pool, Name, Directory string
	// State is the last observed WorkSpaces state.
	State      string
	StateSince time.Time
	IP         string
	// User is the assigned user ("" when free).
	User       string
	AssignedAt time.Time
	// StopAt is a power-plan deadline (zero: none).
	StopAt time.Time
	// StopRequested and StartRequested are set when the broker asked for a
	// state change, to tell its own stops from the service's.
	StopRequested  time.Time
	StartRequested time.Time
	// Release is 0, ReleaseNeedsRebuild or ReleaseRebuilding.
	Release     int
	RebuildPass int64
	CreatedAt   time.Time
	GoneAt      time.Time
}

// Release states of a desktop being returned to its pool.
const (
	ReleaseNone         = 0
	ReleaseNeedsRebuild = 1
	ReleaseRebuilding   = 2
)

// Session is one user session handed to a gateway.
type Session struct {
	ID, User, Pool, Policy, WorkspaceID string
	// State is waiting (no desktop yet), starting, active, disconnected,
	// ended or interrupted (the service stopped the desktop).
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Session states.
const (
	SessWaiting      = "waiting"
	SessStarting     = "starting"
	SessActive       = "active"
	SessDisconnected = "disconnected"
	SessEnded        = "ended"
	SessInterrupted  = "interrupted"
)

// Intent is a recorded CreateWorkspaces request not yet matched to a desktop.
type Intent struct {
	Name, Pool string
	CreatedAt  time.Time
	SentAt     time.Time
	Sends      int
}

const schema = `
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents(name TEXT PRIMARY KEY, pool TEXT NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER NOT NULL DEFAULT 0, sends INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS desktops(id TEXT PRIMARY KEY, pool TEXT NOT NULL, name TEXT NOT NULL, directory TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL, state_since INTEGER NOT NULL DEFAULT 0, ip TEXT NOT NULL DEFAULT '', "user" TEXT NOT NULL DEFAULT '',
  assigned_at INTEGER NOT NULL DEFAULT 0, stop_at INTEGER NOT NULL DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0,
  start_requested INTEGER NOT NULL DEFAULT 0, release INTEGER NOT NULL DEFAULT 0, rebuild_pass INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL DEFAULT 0, gone_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS desktops_pool ON desktops(pool, gone_at);
CREATE INDEX IF NOT EXISTS desktops_user ON desktops("user", gone_at);
CREATE TABLE IF NOT EXISTS foreign_ws(id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, "user" TEXT NOT NULL, pool TEXT NOT NULL, policy TEXT NOT NULL,
  workspace_id TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions("user", state);
CREATE INDEX IF NOT EXISTS sessions_ws ON sessions(workspace_id, state);
CREATE TABLE IF NOT EXISTS usage(id INTEGER PRIMARY KEY AUTOINCREMENT, workspace_id TEXT NOT NULL, pool TEXT NOT NULL,
  "user" TEXT NOT NULL DEFAULT '', start INTEGER NOT NULL, "end" INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS usage_open ON usage(workspace_id, "end");
CREATE TABLE IF NOT EXISTS assignments(id INTEGER PRIMARY KEY AUTOINCREMENT, workspace_id TEXT NOT NULL, pool TEXT NOT NULL,
  "user" TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS assignments_open ON assignments(workspace_id, "end");
CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL,
  workspace_id TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX IF NOT EXISTS sessions_live_user ON sessions("user") WHERE state IN ('waiting','starting','active','disconnected');
CREATE TABLE IF NOT EXISTS leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tickets(key TEXT PRIMARY KEY, session TEXT NOT NULL, gateway TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS standby_ws(workspace_id TEXT PRIMARY KEY, standby_id TEXT NOT NULL, region TEXT NOT NULL, created_at INTEGER NOT NULL DEFAULT 0);
`

// OpenStore opens (creating if needed) the store in dir, holding the data
// dir's lock: one broker that acts per data dir.
func OpenStore(dir string) (*Store, error) { return openStore(dir, true) }

// OpenStoreShared opens the store without the data dir's lock, for readers
// (the cost report) beside a running broker; it must not be used to act.
func OpenStoreShared(dir string) (*Store, error) { return openStore(dir, false) }

func openStore(dir string, exclusive bool) (*Store, error) {
	if err := secrets.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("broker store: %w", err)
	}
	var lock *os.File
	if exclusive {
		l, err := lockDir(dir)
		if err != nil {
			return nil, err
		}
		lock = l
	}
	release := func() {
		if lock != nil {
			lock.Close()
		}
	}
	// Created private before SQLite opens it: its WAL and shared-memory
	// files take the database file's mode.
	f, err := os.OpenFile(filepath.Join(dir, "broker.db"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		release()
		return nil, fmt.Errorf("broker store: %w", err)
	}
	f.Close()
	dsn := "file:" + filepath.Join(dir, "broker.db") +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		release()
		return nil, fmt.Errorf("broker store: %w", err)
	}
	// One connection: the broker serialises its decisions anyway, and a
	// single writer never meets SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema + connsSchema); err != nil {
		db.Close()
		release()
		return nil, fmt.Errorf("broker store: schema: %w", err)
	}
	return &Store{db: db, lock: lock}, nil
}

// lockDir takes the data dir's broker.lock (an exclusive, non-blocking
// flock, released by the kernel when the process dies) and writes the
// holder's pid into it, so a second broker on the same dir is told which
// process holds it.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "broker.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("broker store: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		} else {
			who = "process " + who
		}
		return nil, fmt.Errorf("broker store: data dir %s is in use by %s: one broker per data dir (stop it, or give this broker its own data_dir; a running broker reconciles on POST /v1/reconcile): %w", dir, who, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// Close closes the database and releases the data dir.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.lock != nil {
		s.lock.Close()
	}
	return err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func tm(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// fault asks the test's write fault, if any, about a write.
func (s *Store) fault(query string) error {
	if s.parent != nil {
		return s.parent.fault(query)
	}
	if f := s.writeFault.Load(); f != nil {
		return (*f)(query)
	}
	return nil
}

// writer is the store's database as an execer whose writes pass the fault
// hook first.
type writer struct{ s *Store }

// ExecContext runs a write statement.
func (w writer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := w.s.fault(q); err != nil {
		return nil, err
	}
	if bt := w.s.batch; bt != nil {
		// A statement a batch runs again and again (one per desktop) is
		// prepared once.
		st, ok := bt.stmts[q]
		if !ok {
			var err error
			if st, err = bt.tx.PrepareContext(ctx, w.s.dialect.rebind(q)); err != nil {
				return nil, err
			}
			bt.stmts[q] = st
		}
		return st.ExecContext(ctx, args...)
	}
	return w.s.db.ExecContext(ctx, w.s.dialect.rebind(q), args...)
}

// exec runs a write statement outside a transaction.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return writer{s}.ExecContext(ctx, q, args...)
}

// tx runs f in a transaction.
func (s *Store) tx(ctx context.Context, f func(sqlTx) error) error {
	if s.batch != nil {
		return f(sqlTx{s.batch.tx, s.dialect})
	}
	if err := s.fault("BEGIN"); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(sqlTx{tx, s.dialect}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// query runs a read statement in the store's dialect.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.batch != nil {
		return s.batch.tx.QueryContext(ctx, s.dialect.rebind(q), args...)
	}
	return s.db.QueryContext(ctx, s.dialect.rebind(q), args...)
}

// queryRow runs a one-row read statement in the store's dialect.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s.batch != nil {
		return s.batch.tx.QueryRowContext(ctx, s.dialect.rebind(q), args...)
	}
	return s.db.QueryRowContext(ctx, s.dialect.rebind(q), args...)
}

// sqlTx is a transaction that speaks the store's dialect.
type sqlTx struct {
	tx *sql.Tx
	d  dialect
}

// ExecContext runs a write statement in the transaction.
func (t sqlTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

// QueryRowContext runs a one-row read in the transaction.
func (t sqlTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// upsertSet is the SET list of an upsert of cols on their first column.
func upsertSet(cols string) string {
	parts := strings.Split(cols, ",")
	out := make([]string, 0, len(parts)-1)
	for _, c := range parts[1:] {
		out = append(out, c+"=excluded."+c)
	}
	return strings.Join(out, ",")
}

// NextNames reserves n desktop names for pool and records a create intent
// for each, in one transaction, before CreateWorkspaces is called.
func (s *Store) NextNames(ctx context.Context, pool string, n int, now time.Time) ([]string, error) {
	return s.NextNamesFrom(ctx, pool, n, 0, now)
}

// NextNamesFrom is NextNames for a pool whose desktops are numbered from
// base+1 (<pool>-<base+n>).
func (s *Store) NextNamesFrom(ctx context.Context, pool string, n, base int, now time.Time) ([]string, error) {
	var names []string
	err := s.tx(ctx, func(tx sqlTx) error {
		names = names[:0]
		var v string
		seq := 0
		err := tx.QueryRowContext(ctx, `SELECT v FROM meta WHERE k=?`, "seq/"+pool).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if v != "" {
			seq, _ = strconv.Atoi(v)
		}
		for i := 0; i < n; i++ {
			seq++
			name := fmt.Sprintf("%s-%d", pool, base+seq)
			if _, err := tx.ExecContext(ctx, `INSERT INTO intents(name,pool,created_at,sent_at,sends) VALUES(?,?,?,?,1)`, name, pool, ms(now), ms(now)); err != nil {
				return err
			}
			names = append(names, name)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO meta(k,v) VALUES(?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, "seq/"+pool, strconv.Itoa(seq))
		return err
	})
	return names, err
}

// Intents returns the unresolved create intents of a pool.
func (s *Store) Intents(ctx context.Context, pool string) ([]Intent, error) {
	rows, err := s.query(ctx, `SELECT name,pool,created_at,sent_at,sends FROM intents WHERE pool=? ORDER BY name`, pool)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var in Intent
		var c, st int64
		if err := rows.Scan(&in.Name, &in.Pool, &c, &st, &in.Sends); err != nil {
			return nil, err
		}
		in.CreatedAt, in.SentAt = tm(c), tm(st)
		out = append(out, in)
	}
	return out, rows.Err()
}

// MarkIntentSent records another CreateWorkspaces attempt for an intent.
func (s *Store) MarkIntentSent(ctx context.Context, name string, now time.Time) error {
	_, err := s.exec(ctx, `UPDATE intents SET sent_at=?, sends=sends+1 WHERE name=?`, ms(now), name)
	return err
}

// DropIntent forgets an intent (its desktop was recorded, or the service
// refused the request).
func (s *Store) DropIntent(ctx context.Context, name string) error {
	_, err := s.exec(ctx, `DELETE FROM intents WHERE name=?`, name)
	return err
}

const desktopCols = `id,pool,name,directory,state,state_since,ip,"user",assigned_at,stop_at,stop_requested,start_requested,release,rebuild_pass,created_at,gone_at`

func scanDesktop(sc interface{ Scan(...any) error }) (*Desktop, error) {
	d := &Desktop{}
	var ss, aa, sa, sr, str, ca, ga int64
	if err := sc.Scan(&d.ID, &d.Pool, &d.Name, &d.Directory, &d.State, &ss, &d.IP, &d.User, &aa, &sa, &sr, &str, &d.Release, &d.RebuildPass, &ca, &ga); err != nil {
		return nil, err
	}
	d.StateSince, d.AssignedAt, d.StopAt, d.StopRequested, d.StartRequested, d.CreatedAt, d.GoneAt = tm(ss), tm(aa), tm(sa), tm(sr), tm(str), tm(ca), tm(ga)
	return d, nil
}

func (s *Store) queryDesktops(ctx context.Context, where string, args ...any) ([]*Desktop, error) {
	rows, err := s.query(ctx, `SELECT `+desktopCols+` FROM desktops WHERE `+where+` ORDER BY pool, name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Desktop
	for rows.Next() {
		d, err := scanDesktop(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Desktop returns a desktop by id, or nil.
func (s *Store) Desktop(ctx context.Context, id string) (*Desktop, error) {
	ds, err := s.queryDesktops(ctx, `id=?`, id)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[0], nil
}

// PoolDesktops returns the pool's desktops that have not gone.
func (s *Store) PoolDesktops(ctx context.Context, pool string) ([]*Desktop, error) {
	return s.queryDesktops(ctx, `pool=? AND gone_at=0`, pool)
}

// AllDesktops returns every desktop ever recorded.
func (s *Store) AllDesktops(ctx context.Context) ([]*Desktop, error) {
	return s.queryDesktops(ctx, `1=1`)
}

// UserDesktop returns the user's assigned desktop in pool, or nil.
func (s *Store) UserDesktop(ctx context.Context, pool, user string) (*Desktop, error) {
	ds, err := s.queryDesktops(ctx, `pool=? AND "user"=? AND gone_at=0`, pool, user)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[0], nil
}

// PutDesktop inserts or replaces a desktop record.
func (s *Store) PutDesktop(ctx context.Context, d *Desktop) error {
	return putDesktop(ctx, writer{s}, d)
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func putDesktop(ctx context.Context, x execer, d *Desktop) error {
	_, err := x.ExecContext(ctx, `INSERT INTO desktops(`+desktopCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET `+upsertSet(desktopCols),
		d.ID, d.Pool, d.Name, d.Directory, d.State, ms(d.StateSince), d.IP, d.User, ms(d.AssignedAt), ms(d.StopAt),
		ms(d.StopRequested), ms(d.StartRequested), d.Release, d.RebuildPass, ms(d.CreatedAt), ms(d.GoneAt))
	return err
}

// IsForeign reports whether a workspace id was found not to carry the
// partner tag.
func (s *Store) IsForeign(ctx context.Context, id string) (bool, error) {
	var x string
	err := s.queryRow(ctx, `SELECT id FROM foreign_ws WHERE id=?`, id).Scan(&x)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// MarkForeign remembers that a workspace is not partner-managed.
func (s *Store) MarkForeign(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `INSERT INTO foreign_ws(id) VALUES(?) ON CONFLICT(id) DO NOTHING`, id)
	return err
}

// OpenUsageIDs returns the desktops with an open AVAILABLE interval.
func (s *Store) OpenUsageIDs(ctx context.Context) (map[string]bool, error) {
	rows, err := s.query(ctx, `SELECT workspace_id FROM usage WHERE "end"=0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// OpenUsage starts an AVAILABLE interval unless one is open.
func (s *Store) OpenUsage(ctx context.Context, d *Desktop, at time.Time) error {
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM usage WHERE workspace_id=? AND "end"=0`, d.ID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err := s.exec(ctx, `INSERT INTO usage(workspace_id,pool,"user",start) VALUES(?,?,?,?)`, d.ID, d.Pool, d.User, ms(at))
	return err
}

// CloseUsage ends the open AVAILABLE interval of a desktop, if any.
func (s *Store) CloseUsage(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE usage SET "end"=max(start,?) WHERE workspace_id=? AND "end"=0`, ms(at), id)
	return err
}

// Assign assigns a free desktop to user; it reports false if the desktop
// was not free.
func (s *Store) Assign(ctx context.Context, id, user string, now time.Time) (bool, error) {
	ok := false
	err := s.tx(ctx, func(tx sqlTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE desktops SET "user"=?, assigned_at=?, stop_at=0 WHERE id=? AND "user"='' AND gone_at=0 AND release=0`, user, ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		ok = true
		var pool, state string
		if err := tx.QueryRowContext(ctx, `SELECT pool,state FROM desktops WHERE id=?`, id).Scan(&pool, &state); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO assignments(workspace_id,pool,"user",start) VALUES(?,?,?,?)`, id, pool, user, ms(now)); err != nil {
			return err
		}
		// An AVAILABLE interval is attributed to whoever holds the desktop:
		// split it at the assignment.
		if state == "AVAILABLE" {
			if _, err := tx.ExecContext(ctx, `UPDATE usage SET "end"=max(start,?) WHERE workspace_id=? AND "end"=0`, ms(now), id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO usage(workspace_id,pool,"user",start) VALUES(?,?,?,?)`, id, pool, user, ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	return ok, err
}

// Unassign frees a desktop, with release (ReleaseNeedsRebuild to rebuild it
// first, ReleaseNone when it is gone or being replaced).
func (s *Store) Unassign(ctx context.Context, id string, release int, now time.Time) error {
	return s.tx(ctx, func(tx sqlTx) error {
		var pool, state, user string
		err := tx.QueryRowContext(ctx, `SELECT pool,state,"user" FROM desktops WHERE id=?`, id).Scan(&pool, &state, &user)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE desktops SET "user"='', assigned_at=0, stop_at=0, release=? WHERE id=?`, release, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE assignments SET "end"=max(start,?) WHERE workspace_id=? AND "end"=0`, ms(now), id); err != nil {
			return err
		}
		if user != "" && state == "AVAILABLE" {
			if _, err := tx.ExecContext(ctx, `UPDATE usage SET "end"=max(start,?) WHERE workspace_id=? AND "end"=0`, ms(now), id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO usage(workspace_id,pool,"user",start) VALUES(?,?,'',?)`, id, pool, ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// CloseAssignments ends the open assignment interval of a desktop.
func (s *Store) CloseAssignments(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE assignments SET "end"=max(start,?) WHERE workspace_id=? AND "end"=0`, ms(at), id)
	return err
}

// Event records something worth telling the operator.
func (s *Store) Event(ctx context.Context, at time.Time, kind, id, detail string) error {
	_, err := s.exec(ctx, `INSERT INTO events(at,kind,workspace_id,detail) VALUES(?,?,?,?)`, ms(at), kind, id, detail)
	return err
}

// CountEvents counts events of a kind.
func (s *Store) CountEvents(ctx context.Context, kind string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM events WHERE kind=?`, kind).Scan(&n)
	return n, err
}

const sessionCols = `id,"user",pool,policy,workspace_id,state,created_at,updated_at`

func (s *Store) querySessions(ctx context.Context, where string, args ...any) ([]*Session, error) {
	rows, err := s.query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Session
	for rows.Next() {
		x := &Session{}
		var c, u int64
		if err := rows.Scan(&x.ID, &x.User, &x.Pool, &x.Policy, &x.WorkspaceID, &x.State, &c, &u); err != nil {
			return nil, err
		}
		x.CreatedAt, x.UpdatedAt = tm(c), tm(u)
		out = append(out, x)
	}
	return out, rows.Err()
}

// Session returns a session by id, or nil.
func (s *Store) Session(ctx context.Context, id string) (*Session, error) {
	xs, err := s.querySessions(ctx, `id=?`, id)
	if err != nil || len(xs) == 0 {
		return nil, err
	}
	return xs[0], nil
}

// OpenSession returns the user's session that has not ended, or nil.
func (s *Store) OpenSession(ctx context.Context, user string) (*Session, error) {
	xs, err := s.querySessions(ctx, `"user"=? AND state IN ('waiting','starting','active','disconnected')`, user)
	if err != nil || len(xs) == 0 {
		return nil, err
	}
	return xs[len(xs)-1], nil
}

// LiveSessions returns the sessions that have not ended.
func (s *Store) LiveSessions(ctx context.Context) ([]*Session, error) {
	return s.querySessions(ctx, `state IN ('waiting','starting','active','disconnected')`)
}

// PutSession inserts or replaces a session.
func (s *Store) PutSession(ctx context.Context, x *Session) error {
	_, err := s.exec(ctx, `INSERT INTO sessions(`+sessionCols+`) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET `+upsertSet(sessionCols),
		x.ID, x.User, x.Pool, x.Policy, x.WorkspaceID, x.State, ms(x.CreatedAt), ms(x.UpdatedAt))
	return err
}

// EndDesktopSessions moves the live sessions on a desktop to state.
func (s *Store) EndDesktopSessions(ctx context.Context, id, state string, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `UPDATE sessions SET state=?, updated_at=? WHERE workspace_id=? AND state IN ('waiting','starting','active','disconnected')`, state, ms(now), id)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Interval is a closed or open time interval of a desktop.
type Interval struct {
	WorkspaceID, Pool, User string
	Start, End              time.Time // End zero: still open
}

func (s *Store) intervals(ctx context.Context, table string) ([]Interval, error) {
	rows, err := s.query(ctx, `SELECT workspace_id,pool,"user",start,"end" FROM `+table+` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Interval
	for rows.Next() {
		var iv Interval
		var a, b int64
		if err := rows.Scan(&iv.WorkspaceID, &iv.Pool, &iv.User, &a, &b); err != nil {
			return nil, err
		}
		iv.Start, iv.End = tm(a), tm(b)
		out = append(out, iv)
	}
	return out, rows.Err()
}

// Usage returns the AVAILABLE intervals.
func (s *Store) Usage(ctx context.Context) ([]Interval, error) { return s.intervals(ctx, "usage") }

// Assignments returns the assignment intervals.
func (s *Store) Assignments(ctx context.Context) ([]Interval, error) {
	return s.intervals(ctx, "assignments")
}

// Events returns the newest limit events, newest first.
func (s *Store) Events(ctx context.Context, limit int) ([]EventRecord, error) {
	rows, err := s.query(ctx, `SELECT at,kind,workspace_id,detail FROM events ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []EventRecord{}
	for rows.Next() {
		var e EventRecord
		var at int64
		if err := rows.Scan(&at, &e.Kind, &e.WorkspaceID, &e.Detail); err != nil {
			return nil, err
		}
		e.At = tm(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
