package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
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
	mu    sync.Mutex
	cache config.Faults
	read  time.Time
	rng   *rand.Rand
}

// NewFaults returns the fault settings backed by s.
func NewFaults(s store.Store) *Faults {
	return &Faults{store: s, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
}

// Get returns the current faults (cached for a short while).
func (f *Faults) Get(ctx context.Context) (config.Faults, error) {
	f.mu.Lock()
	if time.Since(f.read) < 500*time.Millisecond {
		c := f.cache
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()
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
	f.mu.Lock()
	f.cache, f.read = c, time.Now()
	f.mu.Unlock()
	return c, nil
}

// Set replaces the faults.
func (f *Faults) Set(ctx context.Context, c config.Faults) error {
	err := f.store.Update(ctx, func(tx store.Tx) error { return store.PutJSON(ctx, tx, tableSettings, keyFaults, c) })
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.cache, f.read = c, time.Now()
	f.mu.Unlock()
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
