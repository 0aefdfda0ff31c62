package broker

import (
	"sync"
	"time"
)

// Clock is the broker's source of time. Every timestamp the broker records
// (state transitions, assignments, power-plan deadlines, cost intervals)
// comes from it, so tests can drive the broker in step with a server's
// virtual clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now in UTC.
func (RealClock) Now() time.Time { return time.Now().UTC() }

// FakeClock is a clock that moves with the wall clock from a start time plus
// an offset that Advance increases, like deskplane's virtual clock; with
// Frozen it only moves on Advance. It is safe for concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	start  time.Time
	base   time.Time
	offset time.Duration
	frozen bool
}

// NewFakeClock returns a fake clock at start. When frozen, time stands still
// between advances.
func NewFakeClock(start time.Time, frozen bool) *FakeClock {
	return &FakeClock{start: start.UTC(), base: time.Now(), frozen: frozen}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start.Add(c.offset)
	if !c.frozen {
		t = t.Add(time.Since(c.base))
	}
	return t
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// SetOffset sets the total advance since start.
func (c *FakeClock) SetOffset(d time.Duration) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
}
