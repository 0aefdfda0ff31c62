// Package group is the embedded stores' group commit (store/sqlite and
// store/pebble): callers queue update functions for the store's single
// writer goroutine, which takes them in groups; a flusher makes each
// committed group durable with one sync and only then answers its callers.
// The stores bring their own transactions and sync.
package group

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// Req is one queued update; T is the store's transaction state.
type Req[T any] struct {
	Ctx  context.Context
	Fn   func(tx store.Tx) error
	Done chan error // answered once
	Err  error
	Tx   T
	// Start is when the update was called (a performance figure for
	// store.CommitObserver, not domain time).
	Start time.Time
}

// Writer is a store's transaction state that reports the records its
// update wrote (by read-cache key; nil: deleted or not known); ok is false
// when the update never ran (a nil state).
type Writer interface {
	Written() (written map[string][]byte, ok bool)
}

// Writes yields what each update of a group that ran wrote and whether it
// succeeded (readcache.Cache.Update).
func Writes[T Writer](batch []*Req[T]) iter.Seq2[map[string][]byte, bool] {
	return func(yield func(map[string][]byte, bool) bool) {
		for _, r := range batch {
			if w, ok := r.Tx.Written(); ok && !yield(w, r.Err == nil) {
				return
			}
		}
	}
}

// NewReq returns a request to run fn.
func NewReq[T any](ctx context.Context, fn func(tx store.Tx) error) *Req[T] {
	return &Req[T]{Ctx: ctx, Fn: fn, Done: make(chan error, 1), Start: time.Now()}
}

// Queue feeds a store's writer.
type Queue[T any] struct {
	name   string // the store, in errors
	max    int
	writes chan *Req[T]
	closed chan struct{}
	once   sync.Once
}

// NewQueue returns a queue whose groups hold at most max requests; name
// names the store in errors.
func NewQueue[T any](name string, max int) *Queue[T] {
	return &Queue[T]{name: name, max: max, writes: make(chan *Req[T], max), closed: make(chan struct{})}
}

// ErrClosed is the answer to an update queued after the store closed.
var ErrClosed = errors.New("store closed")

func (q *Queue[T]) closedErr() error { return fmt.Errorf("%s: %w", q.name, ErrClosed) }

// Close makes the writer stop (Next returns nil) and refuses new updates.
func (q *Queue[T]) Close() { q.once.Do(func() { close(q.closed) }) }

// Closed is closed when the queue is.
func (q *Queue[T]) Closed() <-chan struct{} { return q.closed }

// Update queues fn and waits for its answer.
func (q *Queue[T]) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	r := NewReq[T](ctx, fn)
	select {
	case q.writes <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-q.closed:
		return q.closedErr()
	}
	return <-r.Done
}

// UpdateEach queues fns in order, all before it waits, so the writer runs
// them in as few groups as it can, and returns their answers in the same
// order. Those not queued when ctx ends or the queue closes report it and
// run not at all.
func (q *Queue[T]) UpdateEach(ctx context.Context, fns []func(tx store.Tx) error) []error {
	errs := make([]error, len(fns))
	reqs := make([]*Req[T], 0, len(fns))
queue:
	for i, fn := range fns {
		r := NewReq[T](ctx, fn)
		select {
		case q.writes <- r:
			reqs = append(reqs, r)
		case <-ctx.Done():
			for j := i; j < len(fns); j++ {
				errs[j] = ctx.Err()
			}
			break queue
		case <-q.closed:
			for j := i; j < len(fns); j++ {
				errs[j] = q.closedErr()
			}
			break queue
		}
	}
	for i, r := range reqs {
		errs[i] = <-r.Done
	}
	return errs
}

// Next waits for the writer's next group: the first queued request and
// those queued behind it, at most max. When the queue is closed it answers
// what is still queued and returns nil.
func (q *Queue[T]) Next() []*Req[T] {
	var first *Req[T]
	select {
	case first = <-q.writes:
	case <-q.closed:
		for {
			select {
			case r := <-q.writes:
				r.Done <- q.closedErr()
			default:
				return nil
			}
		}
	}
	batch := []*Req[T]{first}
	for len(batch) < q.max {
		select {
		case r := <-q.writes:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// Flush makes committed groups durable until groups is closed: it takes
// every group committed since its last sync, calls sync once (which makes
// every earlier commit durable, and returns the error to answer them with:
// a failed sync's, or the store's when it is broken), and only then answers
// their callers, a request that failed by itself with its own error. It
// calls observe, when it is set, with the time each successful update took.
func Flush[T any](groups <-chan []*Req[T], sync func() error, observe *atomic.Pointer[func(time.Duration)]) {
	for {
		b, ok := <-groups
		if !ok {
			return
		}
		gs := [][]*Req[T]{b}
	drain:
		for {
			select {
			case b, ok := <-groups:
				if !ok {
					break drain
				}
				gs = append(gs, b)
			default:
				break drain
			}
		}
		err := sync()
		obs := observe.Load()
		for _, g := range gs {
			for _, r := range g {
				if r.Err == nil && err != nil {
					r.Err = err
				}
				if obs != nil && r.Err == nil {
					(*obs)(time.Since(r.Start))
				}
				r.Done <- r.Err
			}
		}
	}
}

// Broken holds the error that broke a store (a failed sync): nothing is
// acknowledged after it.
type Broken struct {
	mu  sync.Mutex
	err error
}

// Err returns the error that broke the store, nil while it is sound.
func (b *Broken) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Set breaks the store with err (the first error is kept).
func (b *Broken) Set(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}
