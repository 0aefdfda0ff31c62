package broker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
)

// StandbyPool is a pool's second region: where its sessions go while the
// tenant's primary region is failing (see Broker.assess). Its desktops are
// named like the primary's (<pool>-<n>) in the standby region.
type StandbyPool struct {
	// Region is the standby region; every pool of a tenant that has a
	// standby uses the same one.
	Region string `json:"region"`
	// Directory and Bundle, by id or name, in the standby region (default:
	// the pool's, by name).
	Directory string `json:"directory,omitempty"`
	Bundle    string `json:"bundle,omitempty"`
	// Min and Warm hold while the primary is healthy (default 0: the
	// standby costs nothing until it is needed); during a failover the
	// standby takes the primary pool's min and warm.
	Min  int `json:"min,omitempty"`
	Warm int `json:"warm,omitempty"`
	// Workspaces, when true, gives every primary desktop of the pool its own
	// standby WorkSpace in the standby region (CreateStandbyWorkspaces):
	// during a failover its user is served that desktop (started if
	// stopped) instead of a fresh one of the standby pool. Default false:
	// the standby pool alone serves a failover.
	Workspaces bool `json:"standby_workspaces,omitempty"`
	// DataReplication is the standby WorkSpaces' DataReplication:
	// NO_REPLICATION (the default) or PRIMARY_AS_SOURCE.
	DataReplication string `json:"data_replication,omitempty"`
	// VolumeEncryptionKey is a KMS key of the standby region for the
	// standby WorkSpaces' volumes (needed when the primaries' are encrypted).
	VolumeEncryptionKey string `json:"volume_encryption_key,omitempty"`
}

// StandbyNameBase: a standby WorkSpace carries its primary's name
// (<pool>-<n>), and names are unique in a region, so the standby pool of a
// pool with standby WorkSpaces numbers its own desktops from
// StandbyNameBase+1 (<pool>-1000001, …).
const StandbyNameBase = 1000000

// The failover thresholds. A tenant's primary region is failing after
// FailoverPasses consecutive reconcile passes that failed (the region's
// calls erroring or throttled beyond the retries), or after a pass in which
// at least FailoverBadShare of the desktops of the pools with a standby are
// UNHEALTHY or ERROR. It has recovered after RecoverPasses consecutive
// passes that succeeded with fewer bad desktops than that.
const (
	FailoverPasses   = 3
	FailoverBadShare = 0.5
	RecoverPasses    = 3
)

// regional is the failover state of a tenant whose pools have a standby.
type regional struct {
	standby *Broker
	mu      sync.Mutex
	// failing is the primary's state: true while sessions go to the standby.
	failing        bool
	failedPasses   int
	healthyPasses  int
	baselineMin    map[string]int
	baselineWarm   map[string]int
	primaryMin     map[string]int
	primaryWarm    map[string]int
	failovers      int
	recoveries     int
	lastTransition string
}

// standbyConfig derives the standby region's configuration from a
// tenant's: the pools with a standby (their standby directory, bundle,
// min and warm) and the policies that use them. nil when no pool has one.
func standbyConfig(c *Config) (*Config, error) {
	var pools []Pool
	region := ""
	for _, p := range c.Pools {
		if p.Standby == nil {
			continue
		}
		sb := p.Standby
		if region != "" && sb.Region != region {
			return nil, fmt.Errorf("broker config: pools of one tenant name two standby regions (%s, %s); use one", region, sb.Region)
		}
		region = sb.Region
		if sb.Region == "" || sb.Region == c.Region {
			return nil, fmt.Errorf("broker config: pool %q: the standby region must be set and differ from the primary %s", p.Name, c.Region)
		}
		if sb.Min < 0 || sb.Warm < 0 || sb.Min > p.Max || sb.Warm > p.Max {
			return nil, fmt.Errorf("broker config: pool %q: standby min and warm must be between 0 and the pool's max", p.Name)
		}
		switch sb.DataReplication {
		case "", "NO_REPLICATION", "PRIMARY_AS_SOURCE":
		default:
			return nil, fmt.Errorf("broker config: pool %q: standby data_replication %q: want NO_REPLICATION or PRIMARY_AS_SOURCE", p.Name, sb.DataReplication)
		}
		if !sb.Workspaces && (sb.DataReplication != "" || sb.VolumeEncryptionKey != "") {
			return nil, fmt.Errorf("broker config: pool %q: standby data_replication and volume_encryption_key apply to standby WorkSpaces: set standby_workspaces", p.Name)
		}
		sp := p
		sp.Standby = nil
		if sb.Workspaces {
			sp.nameBase = StandbyNameBase
		}
		sp.Min, sp.Warm = sb.Min, sb.Warm
		if sb.Directory != "" {
			sp.Directory = sb.Directory
		}
		if sb.Bundle != "" {
			sp.Bundle = sb.Bundle
		}
		pools = append(pools, sp)
	}
	if region == "" {
		return nil, nil
	}
	sc := *c
	sc.Region = region
	sc.Pools = pools
	sc.Policies = nil
	for _, pol := range c.Policies {
		for _, p := range pools {
			if pol.Pool == p.Name {
				sc.Policies = append(sc.Policies, pol)
			}
		}
	}
	sc.DataDir = filepath.Join(c.DataDir, "standby-"+region)
	tenant := strings.TrimPrefix(c.schema(), "broker_")
	sc.storeSchema = schemaFor(tenant, region)
	sc.Tenants = nil
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("standby %s: %w", region, err)
	}
	return &sc, nil
}

// attachStandby makes sb the broker's standby region.
func (b *Broker) attachStandby(sb *Broker) {
	r := &regional{standby: sb, baselineMin: map[string]int{}, baselineWarm: map[string]int{},
		primaryMin: map[string]int{}, primaryWarm: map[string]int{}}
	for _, p := range sb.cfg.Pools {
		r.baselineMin[p.Name], r.baselineWarm[p.Name] = p.Min, p.Warm
	}
	for _, p := range b.cfg.Pools {
		r.primaryMin[p.Name], r.primaryWarm[p.Name] = p.Min, p.Warm
	}
	b.region = r
	sb.primary = b
}

// Standby returns the broker of the tenant's standby region (nil: none).
func (b *Broker) Standby() *Broker {
	if b.region == nil {
		return nil
	}
	return b.region.standby
}

// FailoverStatus is the state of a tenant's regions.
type FailoverStatus struct {
	Primary        string `json:"primary_region"`
	Standby        string `json:"standby_region,omitempty"`
	Active         string `json:"active_region"`
	Failing        bool   `json:"primary_failing"`
	FailedPasses   int    `json:"consecutive_failed_passes"`
	HealthyPasses  int    `json:"consecutive_healthy_passes"`
	Failovers      int    `json:"failovers"`
	Recoveries     int    `json:"recoveries"`
	LastTransition string `json:"last_transition,omitempty"`
}

// Failover reports the tenant's regions.
func (b *Broker) Failover() FailoverStatus {
	st := FailoverStatus{Primary: b.cfg.Region, Active: b.cfg.Region}
	r := b.region
	if r == nil {
		return st
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st.Standby = r.standby.cfg.Region
	if r.failing {
		st.Active = st.Standby
	}
	st.Failing, st.FailedPasses, st.HealthyPasses = r.failing, r.failedPasses, r.healthyPasses
	st.Failovers, st.Recoveries, st.LastTransition = r.failovers, r.recoveries, r.lastTransition
	return st
}

// activeStandby returns the standby while the primary is failing.
func (b *Broker) activeStandby() *Broker {
	r := b.region
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return r.standby
	}
	return nil
}

// assess updates the failover state from a reconcile pass of the primary
// (its report, or the error that failed it) and resizes the standby on a
// transition.
func (b *Broker) assess(ctx context.Context, rep *PassReport, passErr error) {
	r := b.region
	if r == nil {
		return
	}
	bad, total := 0, 0
	if passErr == nil && rep != nil {
		for _, p := range b.cfg.Pools {
			if p.Standby == nil {
				continue
			}
			pr := rep.Pools[p.Name]
			total += pr.Desktops
			bad += pr.States["UNHEALTHY"] + pr.States["ERROR"]
		}
	}
	unhealthy := total > 0 && float64(bad) >= FailoverBadShare*float64(total)
	r.mu.Lock()
	var transition string
	switch {
	case passErr != nil:
		r.failedPasses++
		r.healthyPasses = 0
	case unhealthy:
		r.failedPasses = FailoverPasses // one such pass suffices
		r.healthyPasses = 0
	default:
		r.failedPasses = 0
		r.healthyPasses++
	}
	if !r.failing && r.failedPasses >= FailoverPasses {
		r.failing, r.failovers = true, r.failovers+1
		transition = "failover"
		if passErr != nil {
			r.lastTransition = fmt.Sprintf("failover to %s after %d failed passes: %v", r.standby.cfg.Region, r.failedPasses, passErr)
		} else {
			r.lastTransition = fmt.Sprintf("failover to %s: %d of %d desktops UNHEALTHY or ERROR", r.standby.cfg.Region, bad, total)
		}
	} else if r.failing && r.healthyPasses >= RecoverPasses {
		r.failing, r.recoveries = false, r.recoveries+1
		transition = "recovery"
		r.lastTransition = fmt.Sprintf("back to %s after %d healthy passes", b.cfg.Region, r.healthyPasses)
	}
	msg := r.lastTransition
	failing := r.failing
	r.mu.Unlock()
	if transition == "" {
		return
	}
	b.log.Warn("region "+transition, "detail", msg)
	_ = b.st.Event(ctx, b.clock.Now(), "region-"+transition, "", msg)
	// During a failover the standby covers the primary pools' demand; after
	// it, it returns to its baseline (its surplus free desktops stop; those
	// assigned stay with their users until they log out).
	sb := r.standby
	sb.mu.Lock()
	for i := range sb.cfg.Pools {
		p := &sb.cfg.Pools[i]
		if failing {
			p.Min, p.Warm = max(r.baselineMin[p.Name], r.primaryMin[p.Name]), max(r.baselineWarm[p.Name], r.primaryWarm[p.Name])
		} else {
			p.Min, p.Warm = r.baselineMin[p.Name], r.baselineWarm[p.Name]
		}
	}
	sb.mu.Unlock()
	if !failing {
		b.returnFromStandby(ctx, sb)
	}
	sb.Kick()
}

// orStandby runs f on the broker, and on the standby when the broker does
// not know the session (it was granted there during a failover).
func (b *Broker) orStandby(f func(*Broker) (*SessionView, error)) (*SessionView, error) {
	v, err := f(b)
	if errors.Is(err, ErrNoSession) && b.Standby() != nil {
		return f(b.Standby())
	}
	return v, err
}
