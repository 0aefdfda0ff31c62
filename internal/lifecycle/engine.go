// Package lifecycle is the asynchronous engine: durable jobs written in the
// same transaction as the state change that caused them, a scheduler that
// claims and runs due jobs exactly once (across nodes too), and the timing
// profiles that decide how long each step takes.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/store"
)

// Handler applies one job inside the transaction that also finishes it.
// Returning an error (or panicking) rolls back its effect; the job is
// retried later, with a growing delay, and set aside (parked) after
// Engine.MaxAttempts failures.
type Handler func(ctx context.Context, tx store.Tx, job store.Job, now time.Time) error

// Engine schedules and runs jobs.
type Engine struct {
	backend  store.Backend
	clock    clock.Clock
	timing   Timing
	owner    string
	log      *slog.Logger
	mu       sync.RWMutex
	runMu    sync.Mutex // one pass of due jobs at a time in this process
	handlers map[string]Handler
	wake     chan struct{}
	// Lease is how long a claim lasts before another node may take the job.
	Lease time.Duration
	// Poll bounds how long the scheduler waits before looking again (other
	// nodes may have added jobs).
	Poll time.Duration
	// Retry is the delay before a failed job first runs again; it doubles
	// with each further failure, up to MaxRetry.
	Retry time.Duration
	// MaxRetry caps the delay between two runs of a failing job.
	MaxRetry time.Duration
	// MaxAttempts is how many failed runs park a job: it is set aside,
	// listed by GET /_deskplane/jobs, and never run again unless enqueued
	// anew.
	MaxAttempts int
	// Observe, when set, is told about every claim and every run (metrics).
	Observe Observer
}

// Observer is told what the scheduler does: how many jobs each claim took
// (the due backlog it found, up to the batch size) and how each run ended
// ("ok", "retry" or "parked") with its duration. When the backend runs a
// pass's jobs in shared commits (UpdateEach), a job's duration is its pass's:
// from the first job queued to the last one durable.
type Observer interface {
	ObserveClaim(n int)
	ObserveRun(kind, outcome string, d time.Duration)
}

// New returns an engine; call Run to start it.
func New(b store.Backend, c clock.Clock, t Timing, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.Default()
	}
	return &Engine{backend: b, clock: c, timing: t, owner: "node-" + ids.Hex(12), log: log,
		handlers: map[string]Handler{}, wake: make(chan struct{}, 1), Lease: 10 * time.Second, Poll: 250 * time.Millisecond,
		Retry: time.Second, MaxRetry: 5 * time.Minute, MaxAttempts: 10}
}

// Owner is this node's scheduler id.
func (e *Engine) Owner() string { return e.owner }

// Timing returns the active timing profile.
func (e *Engine) Timing() Timing { return e.timing }

// Clock returns the engine's clock.
func (e *Engine) Clock() clock.Clock { return e.clock }

// Register installs the handler of a job kind.
func (e *Engine) Register(kind string, h Handler) {
	e.mu.Lock()
	e.handlers[kind] = h
	e.mu.Unlock()
}

// Schedule enqueues a job in tx, due after the step's duration from now.
// A job with the same id replaces the earlier one.
func (e *Engine) Schedule(ctx context.Context, tx store.Tx, id, kind string, due time.Time, payload any) error {
	b, err := store.EncodeJSON(payload) // a payload may encode itself (store.JSONAppender)
	if err != nil {
		return fmt.Errorf("lifecycle: encode %s payload: %w", kind, err)
	}
	if err := tx.Enqueue(ctx, store.Job{ID: id, Kind: kind, Due: due, Payload: b}); err != nil {
		return err
	}
	e.Kick()
	return nil
}

// Kick wakes the scheduler to look for due jobs now.
func (e *Engine) Kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run runs the scheduler until ctx ends. A panic in one pass is logged with
// its stack and the scheduler goes on.
func (e *Engine) Run(ctx context.Context) {
	for {
		var n int
		var err error
		if safego.Call(e.log, "lifecycle scheduler", func() { n, err = e.RunDue(ctx) }) {
			n, err = 0, nil
		}
		if err != nil && ctx.Err() == nil {
			e.log.Error("lifecycle: run due jobs", "err", err)
		}
		if n > 0 {
			continue // there may be more
		}
		wait := e.Poll
		now := e.clock.Now()
		if due, ok, err := e.backend.NextDue(ctx, now); err == nil && ok {
			if d := due.Sub(now); d < wait {
				wait = d
			}
		}
		if wait < 0 {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.wake:
		case <-e.clock.Changed():
		case <-t.C:
		}
		t.Stop()
	}
}

// RunDue claims and runs every job due now; it returns how many ran.
//
// Passes are serialized within a process, so a caller that runs RunDue until
// it returns 0 (the admin clock endpoint) has seen every job due by then
// applied, including ones the background scheduler had already claimed.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	now := e.clock.Now()
	jobs, err := e.backend.Claim(ctx, e.owner, now, e.Lease, 256)
	if err != nil {
		return 0, err
	}
	if e.Observe != nil {
		e.Observe.ObserveClaim(len(jobs))
	}
	ran := 0
	errs := make([]error, len(jobs))
	took := make([]time.Duration, len(jobs)) // performance figures, not domain time
	if b, ok := e.backend.(eachUpdater); ok && len(jobs) > 1 {
		// Several jobs to a transaction, in the order they were claimed;
		// each job's duration is the pass's.
		began := time.Now()
		fns := make([]func(store.Tx) error, len(jobs))
		for i, j := range jobs {
			fns[i] = e.jobFn(ctx, j)
		}
		errs = b.UpdateEach(ctx, fns)
		for i := range took {
			took[i] = time.Since(began)
		}
	} else {
		for i, j := range jobs {
			began := time.Now()
			errs[i] = e.backend.Update(ctx, e.jobFn(ctx, j))
			took[i] = time.Since(began)
		}
	}
	for i, j := range jobs {
		err := errs[i]
		if errors.Is(err, store.ErrConflict) {
			err = nil // another node finished or re-claimed it; its effect stands alone
		}
		if err != nil {
			if ctx.Err() != nil {
				return ran, ctx.Err()
			}
			parked := e.failed(ctx, j, err)
			if e.Observe != nil {
				outcome := "retry"
				if parked {
					outcome = "parked"
				}
				e.Observe.ObserveRun(j.Kind, outcome, took[i])
			}
			continue
		}
		if e.Observe != nil {
			e.Observe.ObserveRun(j.Kind, "ok", took[i])
		}
		ran++
	}
	return ran, nil
}

// eachUpdater is a backend that runs several update functions in order,
// each with Update's guarantees, sharing commits (the embedded store).
type eachUpdater interface {
	UpdateEach(ctx context.Context, fns []func(tx store.Tx) error) []error
}

// failed returns a failed job to the queue, due after its backoff, or parks
// it once it has failed MaxAttempts times. The attempts are counted in the
// store, so the backoff and the parking survive restarts and move with the
// job to other nodes.
func (e *Engine) failed(ctx context.Context, j store.Claimed, err error) (parked bool) {
	attempts := j.Attempts + 1
	now := e.clock.Now()
	if e.MaxAttempts > 0 && attempts >= e.MaxAttempts {
		e.log.Error("lifecycle: job failed too many times, parked", "job", j.ID, "kind", j.Kind, "attempts", attempts, "err", err)
		if perr := e.backend.Park(ctx, j.ID, e.owner, now, err.Error()); perr != nil {
			e.log.Error("lifecycle: park job", "job", j.ID, "err", perr)
		}
		return true
	}
	delay := e.Backoff(attempts)
	e.log.Error("lifecycle: job failed, will retry", "job", j.ID, "kind", j.Kind, "attempts", attempts, "retry_in", delay, "err", err)
	if rerr := e.backend.Release(ctx, j.ID, e.owner, now.Add(delay), err.Error()); rerr != nil {
		e.log.Error("lifecycle: release job", "job", j.ID, "err", rerr)
	}
	return false
}

// Backoff is the delay before a job that has failed attempts times runs
// again: Retry, doubled for each failure after the first, at most MaxRetry.
func (e *Engine) Backoff(attempts int) time.Duration {
	d := e.Retry
	for i := 1; i < attempts && d < e.MaxRetry; i++ {
		d *= 2
	}
	if e.MaxRetry > 0 && d > e.MaxRetry {
		d = e.MaxRetry
	}
	return d
}

// jobFn is the update function that finishes claimed job j and applies its
// handler in the same transaction.
func (e *Engine) jobFn(ctx context.Context, j store.Claimed) func(tx store.Tx) error {
	return func(tx store.Tx) error {
		e.mu.RLock()
		h := e.handlers[j.Kind]
		e.mu.RUnlock()
		if h == nil {
			return fmt.Errorf("no handler for job kind %q", j.Kind)
		}
		if err := tx.FinishJob(ctx, j.ID, e.owner); err != nil {
			return err
		}
		// A panicking handler is a failed run (its effect rolled back),
		// logged with its stack; the scheduler goes on.
		return safego.Try(e.log, "lifecycle job "+j.Kind, func() error { return h(ctx, tx, j.Job, e.clock.Now()) })
	}
}
