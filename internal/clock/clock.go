// Package clock is the source of time for all domain code: the wall clock in
// production, a virtual clock that tests advance at will.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and lets waiters learn when it jumps.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Changed returns a channel closed the next time the clock is advanced
	// by hand (never, for the wall clock).
	Changed() <-chan struct{}
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now().UTC() }

// Changed never fires for the wall clock.
func (Real) Changed() <-chan struct{} { return nil }

// Virtual is a clock that moves with the wall clock from a base plus an
// offset that Advance increases. With Frozen set, it only moves on Advance.
type Virtual struct {
	mu      sync.Mutex
	base    time.Time // wall time when created
	start   time.Time // virtual time at base
	offset  time.Duration
	frozen  bool
	changed chan struct{}
	now     func() time.Time
}

// NewVirtual returns a virtual clock starting at start. When frozen, time
// stands still between advances.
func NewVirtual(start time.Time, frozen bool) *Virtual {
	return &Virtual{base: time.Now(), start: start.UTC(), frozen: frozen, changed: make(chan struct{}), now: time.Now}
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.start.Add(v.offset)
	if !v.frozen {
		t = t.Add(v.now().Sub(v.base))
	}
	return t
}

// Advance moves the clock forward by d (d must be >= 0) and wakes waiters.
func (v *Virtual) Advance(d time.Duration) time.Time {
	v.mu.Lock()
	if d > 0 {
		v.offset += d
	}
	close(v.changed)
	v.changed = make(chan struct{})
	v.mu.Unlock()
	return v.Now()
}

// Offset returns the total advance so far.
func (v *Virtual) Offset() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.offset
}

// SetOffset sets the total advance (used to restore it after a restart, or
// to follow a shared store).
func (v *Virtual) SetOffset(d time.Duration) {
	v.mu.Lock()
	changed := d != v.offset
	v.offset = d
	if changed {
		close(v.changed)
		v.changed = make(chan struct{})
	}
	v.mu.Unlock()
}

// Changed returns a channel closed at the next Advance.
func (v *Virtual) Changed() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}
