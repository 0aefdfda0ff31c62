package server

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle is the gateway's throttler: the injected faults (operations and
// whole regions), then the configured request rate — quotas.requests_per_
// second per account and operation, a token bucket holding one second's
// worth, on this node (several nodes each allow that rate).
type Throttle struct {
	faults *Faults
	rps    int
	mu     sync.Mutex
	bucket map[rateKey]*rate.Limiter
}

type rateKey struct{ account, service, op string }

// NewThrottle returns the throttler over the faults with rps requests per
// second per account and operation (0: no limit).
func NewThrottle(f *Faults, rps int) *Throttle {
	return &Throttle{faults: f, rps: rps, bucket: map[rateKey]*rate.Limiter{}}
}

// Throttled implements gateway.Throttler.
func (t *Throttle) Throttled(ctx context.Context, service, op, account string) bool {
	if t.faults.Throttled(ctx, service, op, account) {
		return true
	}
	if t.rps <= 0 {
		return false
	}
	k := rateKey{account, service, op}
	t.mu.Lock()
	l := t.bucket[k]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(t.rps), t.rps)
		t.bucket[k] = l
	}
	t.mu.Unlock()
	// The request rate is a property of real time, not of the (possibly
	// virtual) domain clock.
	return !l.AllowN(time.Now(), 1)
}

// RegionOutage implements gateway.RegionOutages.
func (t *Throttle) RegionOutage(ctx context.Context, region string) string {
	return t.faults.RegionOutage(ctx, region)
}
