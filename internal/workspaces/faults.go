package workspaces

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/store"
)

// jobHealthFaults is the health check that turns a share of the AVAILABLE
// desktops UNHEALTHY or IMPAIRED (faults running_unhealthy_rate and
// running_impaired_rate); it reschedules itself while a rate is set.
const (
	jobHealthFaults   = "workspaces.health-faults"
	healthFaultsJobID = "faults/health"
)

// faultDefaults are the default code and message of an operation's
// injected failure that lands the desktop or image in ERROR (or returns
// the desktop to its previous state); the real service documents no codes
// for these failures (README, behaviour notes).
var faultDefaults = map[string]struct{ code, verb string }{
	"StartWorkspaces":      {"StartFailure", "started"},
	"StopWorkspaces":       {"StopFailure", "stopped"},
	"RebootWorkspaces":     {"RebootFailure", "rebooted"},
	"RebuildWorkspaces":    {"RebuildFailure", "rebuilt"},
	"RestoreWorkspace":     {"RestoreFailure", "restored"},
	"MigrateWorkspace":     {"MigrationFailure", "migrated"},
	"CreateWorkspaceImage": {"ImageCreationFailure", "created"},
	"CopyWorkspaceImage":   {"ImageCopyFailure", "copied"},
	"ImportWorkspaceImage": {"UnknownError", "imported"},
}

// stepOps maps the intermediate state of a desktop to the operation that
// entered it.
var stepOps = map[string]string{
	"STARTING": "StartWorkspaces", "STOPPING": "StopWorkspaces", "REBOOTING": "RebootWorkspaces",
	"REBUILDING": "RebuildWorkspaces", "RESTORING": "RestoreWorkspace",
}

// firedFault is an operation fault that fires for one resource.
type firedFault struct {
	op, outcome, code, msg string
}

// currentFaults reads the injected faults.
//
// They are returned by value (ok false: no source), not by pointer: a
// pointer to the copy read would be allocated on every call, and the
// provisioning of every desktop asks twice.
func (m *Module) currentFaults(ctx context.Context) (f config.Faults, ok bool, err error) {
	if m.faults == nil {
		return f, false, nil
	}
	f, err = m.faults.Get(ctx)
	if err != nil {
		return f, false, fmt.Errorf("read the injected faults: %w", err)
	}
	return f, true, nil
}

// faultDraw returns a number in [0,1) for one rate draw: with the faults'
// seed, a hash of the seed, the fault, the resource and its step (the same
// every run); without, a random one.
func (m *Module) faultDraw(f *config.Faults, what, id string, n int64) float64 {
	if f.Seed == 0 {
		return m.rand()
	}
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], f.Seed)
	h.Write(b[:])
	h.Write([]byte(what))
	h.Write([]byte{0})
	h.Write([]byte(id))
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
	return float64(h.Sum64()>>11) / (1 << 53)
}

// opFault returns the fault of op that fires for the resource ids (the
// first is the one drawn for) at step n, or nil.
func (m *Module) opFault(ctx context.Context, op string, n int64, ids ...string) (*firedFault, error) {
	fv, ok, err := m.currentFaults(ctx)
	if err != nil || !ok {
		return nil, err
	}
	f := &fv
	of, ok := f.OperationFaults[op]
	if !ok {
		return nil, nil
	}
	fires := false
	for _, id := range ids {
		fires = fires || (id != "" && slices.Contains(of.IDs, id))
	}
	if !fires && of.Rate > 0 && len(ids) > 0 {
		fires = m.faultDraw(f, op, ids[0], n) < of.Rate
	}
	if !fires {
		return nil, nil
	}
	d := config.FaultOperations[op]
	ff := &firedFault{op: op, outcome: of.Outcome, code: of.ErrorCode, msg: of.ErrorMessage}
	if ff.outcome == "" {
		ff.outcome = d.Outcomes[0]
	}
	if ff.code == "" {
		switch {
		case ff.outcome != "request":
			ff.code = faultDefaults[op].code
		case d.Exception != "":
			ff.code = d.Exception
		default:
			ff.code = "ResourceUnavailableException"
		}
	}
	if ff.msg == "" {
		what := "The WorkSpace " + ids[0]
		if op == "CreateWorkspaceImage" {
			what = "The image of WorkSpace " + ids[0]
		} else if op == "CopyWorkspaceImage" || op == "CreateUpdatedWorkspaceImage" {
			what = "The image " + ids[0]
		} else if op == "ImportWorkspaceImage" {
			what = "The EC2 image " + ids[0]
		}
		verb := faultDefaults[op].verb
		if verb == "" {
			verb = "updated"
		}
		if ff.outcome == "request" {
			ff.msg = what + " cannot be " + verb + " now: its resources are unavailable (fault injected for " + op + ")."
		} else {
			ff.msg = what + " could not be " + verb + " (fault injected for " + op + ")."
		}
	}
	return ff, nil
}

// requestFault returns the error of op's fault with outcome "request" that
// fires for the resource ids at step n: a FailedRequests entry of a batch
// operation (an *itemError), the modeled exception of another.
func (m *Module) requestFault(ctx context.Context, op string, n int64, ids ...string) error {
	ff, err := m.opFault(ctx, op, n, ids...)
	if err != nil || ff == nil || ff.outcome != "request" {
		return err
	}
	if config.FaultOperations[op].Exception == "" {
		return itemErr(ff.code, "%s", ff.msg)
	}
	return awsproto.Errorf(ff.code, "%s", ff.msg)
}

// asyncFault returns op's fault with an asynchronous outcome that fires for
// the resource ids at step n, or nil.
func (m *Module) asyncFault(ctx context.Context, op string, n int64, ids ...string) (*firedFault, error) {
	ff, err := m.opFault(ctx, op, n, ids...)
	if err != nil || ff == nil || ff.outcome == "request" {
		return nil, err
	}
	return ff, nil
}

// stepFault ends a desktop's step by its operation's injected fault, if
// one fires: ERROR with the fault's code and message ("error"), or the
// state the desktop was in before the operation ("revert"). "" when none
// fires.
func (m *Module) stepFault(ctx context.Context, w *desktopRec) (string, error) {
	op, ok := stepOps[w.State]
	if !ok {
		return "", nil
	}
	ff, err := m.asyncFault(ctx, op, w.Seq, w.WorkspaceID)
	if err != nil || ff == nil {
		return "", err
	}
	if ff.outcome == "revert" {
		prev := prevState(w)
		w.ErrorCode, w.ErrorMessage = ff.code, ff.msg // cleared if it returns to AVAILABLE
		return prev, nil
	}
	return m.fail(w, ff.code, ff.msg)
}

// prevState is the state a desktop was in before its current one.
func prevState(w *desktopRec) string {
	if n := len(w.History); n >= 2 {
		return w.History[n-2].State
	}
	if w.State == "STARTING" {
		return "STOPPED"
	}
	return "AVAILABLE"
}

// provisionHealth returns the health a new desktop reaches by the
// injected faults: "ERROR" (with its reason set), "UNHEALTHY", "IMPAIRED",
// or "" (no fault).
func (m *Module) provisionHealth(ctx context.Context, w *desktopRec) (string, error) {
	fv, ok, err := m.currentFaults(ctx)
	if err != nil || !ok {
		return "", err
	}
	f := &fv
	if w.MigratedFrom != "" {
		ff, err := m.asyncFault(ctx, "MigrateWorkspace", w.Seq, w.MigratedFrom, w.WorkspaceID)
		if err != nil {
			return "", err
		}
		if ff != nil {
			return m.fail(w, ff.code, ff.msg)
		}
	}
	if slices.Contains(f.FailWorkspaces, w.WorkspaceID) {
		return m.fail(w, "ProvisioningFailure", "The WorkSpace could not be provisioned (fault injected for this WorkSpace).")
	}
	if f.ProvisionFailRate > 0 && m.faultDraw(f, "provision_fail_rate", w.WorkspaceID, w.Seq) < f.ProvisionFailRate {
		return m.fail(w, "ProvisioningFailure", "The WorkSpace could not be provisioned (fault injected for a share of new WorkSpaces).")
	}
	if slices.Contains(f.UnhealthyWorkspaces, w.WorkspaceID) {
		return "UNHEALTHY", nil
	}
	if f.UnhealthyRate > 0 && m.faultDraw(f, "unhealthy_rate", w.WorkspaceID, w.Seq) < f.UnhealthyRate {
		return "UNHEALTHY", nil
	}
	if slices.Contains(f.ImpairedWorkspaces, w.WorkspaceID) {
		return "IMPAIRED", nil
	}
	if f.ImpairedRate > 0 && m.faultDraw(f, "impaired_rate", w.WorkspaceID, w.Seq) < f.ImpairedRate {
		return "IMPAIRED", nil
	}
	return "", nil
}

// faultRegions are the Regions desktops can be in.
func (m *Module) faultRegions() []string {
	if m.cfg != nil && len(m.cfg.Regions) > 0 {
		return m.cfg.Regions
	}
	return config.DefaultRegions
}

// faultAccounts are the accounts desktops can be in.
func (m *Module) faultAccounts() []string {
	var out []string
	if m.cfg != nil {
		for _, a := range m.cfg.Accounts {
			out = append(out, a.ID)
		}
	}
	return out
}

// ApplyFaults applies newly set faults to the running desktops: those of
// unhealthy_workspaces and impaired_workspaces that are AVAILABLE become
// UNHEALTHY or IMPAIRED now, and the health check of the running rates is
// scheduled (or cancelled when no rate is set).
func (m *Module) ApplyFaults(ctx context.Context, f config.Faults) error {
	now := m.engine.Clock().Now()
	err := m.store.Update(ctx, func(tx store.Tx) error {
		for _, set := range []struct {
			ids   []string
			state string
		}{{f.UnhealthyWorkspaces, "UNHEALTHY"}, {f.ImpairedWorkspaces, "IMPAIRED"}} {
			for _, id := range set.ids {
				for _, account := range m.faultAccounts() {
					for _, region := range m.faultRegions() {
						w, err := getRec[desktopRec](ctx, tx, tDesktops, key(account, region, id))
						if err != nil {
							return err
						}
						if w == nil || w.State != "AVAILABLE" {
							continue
						}
						if err := m.setState(ctx, tx, account, region, w, set.state, now); err != nil {
							return err
						}
						if err := m.save(ctx, tx, account, region, w); err != nil {
							return err
						}
					}
				}
			}
		}
		if f.RunningUnhealthyRate > 0 || f.RunningImpairedRate > 0 {
			return m.engine.Schedule(ctx, tx, healthFaultsJobID, jobHealthFaults, now.Add(m.healthInterval(&f)), struct{}{})
		}
		return tx.CancelJob(ctx, healthFaultsJobID)
	})
	if err != nil {
		return fmt.Errorf("apply the faults to the desktops: %w", err)
	}
	return nil
}

// healthInterval is the span between two health checks.
func (m *Module) healthInterval(f *config.Faults) time.Duration {
	mins := f.HealthCheckMinutes
	if mins == 0 {
		mins = 5
	}
	return max(m.scaled(time.Duration(mins)*time.Minute), time.Second)
}

// runHealthFaults is one health check: each AVAILABLE desktop turns
// UNHEALTHY (or IMPAIRED) by the running rates; the next check is
// scheduled while a rate is set.
func (m *Module) runHealthFaults(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	fv, ok, err := m.currentFaults(ctx)
	if err != nil || !ok || (fv.RunningUnhealthyRate <= 0 && fv.RunningImpairedRate <= 0) {
		return err
	}
	f := &fv
	tick := j.Due.Unix()
	for _, account := range m.faultAccounts() {
		for _, region := range m.faultRegions() {
			type hit struct {
				k     string
				state string
			}
			var hits []hit
			err := store.ScanJSON[desktopRec](ctx, tx, tDesktops, prefix(account, region), "", 0, func(k string, w *desktopRec) error {
				if w.State != "AVAILABLE" {
					return nil
				}
				switch {
				case f.RunningUnhealthyRate > 0 && m.faultDraw(f, "running_unhealthy_rate", w.WorkspaceID, tick) < f.RunningUnhealthyRate:
					hits = append(hits, hit{k, "UNHEALTHY"})
				case f.RunningImpairedRate > 0 && m.faultDraw(f, "running_impaired_rate", w.WorkspaceID, tick) < f.RunningImpairedRate:
					hits = append(hits, hit{k, "IMPAIRED"})
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("health check of %s in %s: %w", account, region, err)
			}
			for _, h := range hits {
				w, err := getRec[desktopRec](ctx, tx, tDesktops, h.k)
				if err != nil || w == nil {
					return err
				}
				if err := m.setState(ctx, tx, account, region, w, h.state, now); err != nil {
					return err
				}
				if err := m.save(ctx, tx, account, region, w); err != nil {
					return err
				}
			}
		}
	}
	return m.engine.Schedule(ctx, tx, healthFaultsJobID, jobHealthFaults, now.Add(m.healthInterval(f)), struct{}{})
}
