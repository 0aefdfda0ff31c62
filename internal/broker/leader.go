package broker

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/ids"
)

// Leadership on a shared (PostgreSQL) store: several broker processes
// serve the session API on one state, and the one holding the reconcile
// lease acts on the service. The lease lasts LeaseTTL on the database's
// clock and is renewed every LeaseRenew, so when a leader dies another
// broker takes over within LeaseTTL+LeaseRenew.
const (
	LeaseTTL   = 10 * time.Second
	LeaseRenew = 2 * time.Second
)

// ErrNotLeader is a reconcile asked of a broker that does not hold the
// lease (another broker on the shared store does).
var ErrNotLeader = errors.New("another broker on the shared store holds the reconcile lease; ask it, or wait for it to hand over")

// shared reports whether the store is shared by several brokers.
func (b *Broker) shared() bool { return b.st.dialect == dialectPostgres }

// leaseName is the reconcile lease of this broker's pools.
func (b *Broker) leaseName() string { return "reconcile/" + b.cfg.Region }

// campaign takes or renews the reconcile lease and reports whether this
// broker holds it. On the embedded store the broker always does.
func (b *Broker) campaign(ctx context.Context) bool {
	if !b.shared() {
		return true
	}
	ok, err := b.st.AcquireLease(ctx, b.leaseName(), b.holder, LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("reconcile lease", "err", err)
		}
		ok = false
	}
	if was := b.leader.Swap(ok); was != ok {
		if ok {
			b.log.Info("took the reconcile lease", "holder", b.holder)
		} else {
			b.log.Info("another broker holds the reconcile lease", "holder", b.holder)
		}
	}
	return ok
}

// IsLeader reports whether this broker reconciles (always on the embedded
// store; on a shared one, while it holds the lease).
func (b *Broker) IsLeader() bool { return !b.shared() || b.leader.Load() }

// resign gives the lease up (a clean shutdown hands over at once).
func (b *Broker) resign() {
	if b.leader.Swap(false) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.st.ReleaseLease(ctx, b.leaseName(), b.holder)
	}
}

// newHolder names this broker process in the lease table.
func newHolder() string { return "broker-" + ids.Hex(12) }

// schemaFor is a tenant's PostgreSQL schema name: broker_<tenant>, and for
// a standby region broker_<tenant>_standby_<region>.
func schemaFor(tenant, standbyRegion string) string {
	s := "broker_" + tenant
	if standbyRegion != "" {
		s += "_standby_" + standbyRegion
	}
	return strings.ReplaceAll(s, "-", "_")
}
