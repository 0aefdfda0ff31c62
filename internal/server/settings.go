package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/store"
)

// Shared settings live in the store so that every node sees the same ones.
const (
	tableSettings = "settings"
	keyFaults     = "faults"
	keyClock      = "clock-offset"
)

// Faults is the fault-injection state shared by all nodes.
type Faults struct {
	store store.Store
	// snap is the faults last read or set, and when: every call reads it
	// (twice, for region outages and throttling), without a lock.
	snap atomic.Pointer[faultsSnap]
	mu   sync.Mutex // rng's
	rng  *rand.Rand
}

// faultsSnap is a reading of the faults (never changed once made).
type faultsSnap struct {
	c    config.Faults
	read time.Time
}

// NewFaults returns the fault settings backed by s.
func NewFaults(s store.Store) *Faults {
	return &Faults{store: s, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
}

// Get returns the current faults (cached for a short while).
func (f *Faults) Get(ctx context.Context) (config.Faults, error) {
	if s := f.snap.Load(); s != nil && time.Since(s.read) < 500*time.Millisecond {
		return s.c, nil
	}
	var c config.Faults
	err := f.store.View(ctx, func(tx store.Tx) error {
		v, err := store.GetJSON[config.Faults](ctx, tx, tableSettings, keyFaults)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		c = *v
		return nil
	})
	if err != nil {
		return c, err
	}
	f.snap.Store(&faultsSnap{c: c, read: time.Now()})
	return c, nil
}

// Set replaces the faults.
func (f *Faults) Set(ctx context.Context, c config.Faults) error {
	err := f.store.Update(ctx, func(tx store.Tx) error { return store.PutJSON(ctx, tx, tableSettings, keyFaults, c) })
	if err != nil {
		return err
	}
	f.snap.Store(&faultsSnap{c: c, read: time.Now()})
	return nil
}

// RegionOutage implements gateway.RegionOutages.
func (f *Faults) RegionOutage(ctx context.Context, region string) string {
	c, err := f.Get(ctx)
	if err != nil || len(c.RegionOutages) == 0 {
		return ""
	}
	return c.RegionOutages[region]
}

// Throttled implements gateway.Throttler.
func (f *Faults) Throttled(ctx context.Context, service, op, account string) bool {
	c, err := f.Get(ctx)
	if err != nil || len(c.Throttle) == 0 {
		return false
	}
	for _, t := range c.Throttle {
		if strings.EqualFold(t, op) || strings.EqualFold(t, service+":"+op) || t == "*" {
			rate := c.ThrottleRate
			if rate <= 0 {
				rate = 1
			}
			f.mu.Lock()
			x := f.rng.Float64()
			f.mu.Unlock()
			return x < rate
		}
	}
	return false
}
