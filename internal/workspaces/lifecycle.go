package workspaces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Job kinds of desktops.
const (
	jobTransition = "workspaces.transition"
	// jobTransitionBatch ends the step of several desktops at once (the
	// desktops of one CreateWorkspaces request).
	jobTransitionBatch = "workspaces.transition-batch"
	jobAutoStop        = "workspaces.autostop"
	// jobAutoStopBatch stops the desktops of one provisioning batch that
	// have stayed AVAILABLE since (the same seq) 48 hours later.
	jobAutoStopBatch = "workspaces.autostop-batch"
	// jobMaintenance is the per-desktop maintenance job of stores written
	// before maintenance groups; it turns itself into a group of one.
	jobMaintenance = "workspaces.maintenance"
	// jobMaintenanceGroup opens the monthly maintenance of a group of
	// desktops (those of one CreateWorkspaces request), each on its own day.
	jobMaintenanceGroup = "workspaces.maintenance-group"
	jobForget           = "workspaces.forget"
	jobModifyDone       = "workspaces.modify-done"
	// AutoStopAfter is how long a MANUAL desktop may stay AVAILABLE before
	// the service stops it (the partner guide: "greater than or equal to 48 hours").
	AutoStopAfter = 48 * time.Hour
)

type jobRef struct {
	Key string `json:"key"`
	Seq int64  `json:"seq"`
}

func (m *Module) registerJobs() {
	m.engine.Register(jobAccountMod, func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
		var k string
		if err := json.Unmarshal(j.Payload, &k); err != nil {
			return fmt.Errorf("decode job %s: %w", j.ID, err)
		}
		return m.finishAccountMod(ctx, tx, k, now)
	})
	m.engine.Register(jobDirRegister, func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
		var k string
		if err := json.Unmarshal(j.Payload, &k); err != nil {
			return fmt.Errorf("decode job %s: %w", j.ID, err)
		}
		return m.finishDirRegister(ctx, tx, k, now)
	})
	m.engine.Register(jobDirDeregister, func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
		var k string
		if err := json.Unmarshal(j.Payload, &k); err != nil {
			return fmt.Errorf("decode job %s: %w", j.ID, err)
		}
		return m.finishDirDeregister(ctx, tx, k, now)
	})
	m.engine.Register(jobTransition, m.runTransition)
	m.engine.Register(jobTransitionBatch, m.runTransitionBatch)
	m.engine.Register(jobAutoStop, m.runAutoStop)
	m.engine.Register(jobAutoStopBatch, m.runAutoStopBatch)
	m.engine.Register(jobMaintenance, m.runMaintenance)
	m.engine.Register(jobMaintenanceGroup, m.runMaintenanceGroup)
	m.engine.Register(jobForget, m.runForget)
	m.engine.Register(jobModifyDone, m.runModifyDone)
	m.engine.Register(jobSnapshot, m.runSnapshot)
	m.engine.Register(jobAutoStopIdle, m.runAutoStopIdle)
	m.engine.Register(jobPoolStep, m.runPoolStep)
	m.engine.Register(jobHealthFaults, m.runHealthFaults)
	m.registerImageJobs()
}

// timers gathers the timers of desktops that reach AVAILABLE together (one
// provisioning batch), so they cost one job instead of one per desktop.
type timers struct {
	autostop []jobRef
	// recs holds the batch's records, read with one GetMany and kept up to
	// date as they change; changed lists the keys to write back with one
	// PutMany at the end of the batch.
	recs    map[string]*desktopRec
	changed []string
	// patch holds, by key, the bytes read of the records whose transition
	// may be written by patching them (patchProvisioned): records handed
	// over by their creation (freshRecs), whose bytes are their encoding
	// (the batch's read, less the others).
	patch map[string][]byte
	// key is the key of the desktop whose transition runs (its job's
	// ref), so that its timer need not build it again; "" when unknown.
	key string
	// room is the batch's desktops: autostop is made with room for as
	// many at its first timer (grown one append at a time, a batch of 25
	// made it six times).
	room int
	// times holds the instants the batch's records point to (at): one
	// allocation for the batch instead of one per desktop. The records
	// are the batch's own (read or handed over for it) and are dropped
	// once written: nothing outlives the job's function that points here.
	times []time.Time
}

// at returns a pointer to a time.Time of its own (no other record points
// to it) that holds now: in tm's block when tm gathers a batch of room
// desktops, else a new one.
func (tm *timers) at(now time.Time) *time.Time {
	if tm == nil || tm.room == 0 {
		t := now
		return &t
	}
	if len(tm.times) == cap(tm.times) { // a new block: those handed out stay where they are
		tm.times = make([]time.Time, 0, tm.room)
	}
	tm.times = append(tm.times, now)
	return &tm.times[len(tm.times)-1]
}

// setState moves a desktop to a new state, keeping the metering, the
// snapshot schedule and the bookkeeping of the previous state right.
func (m *Module) setState(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, state string, now time.Time) error {
	return m.setStateIn(ctx, tx, account, region, w, state, now, nil)
}

// setStateIn is setState; with tm, the desktop's auto-stop timer is
// gathered into tm instead of scheduled on its own.
func (m *Module) setStateIn(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, state string, now time.Time, tm *timers) error {
	if w.State == state {
		return nil
	}
	if w.State == "AVAILABLE" && w.AvailableSince != nil {
		if err := m.meter(ctx, tx, account, region, w.WorkspaceID, *w.AvailableSince, now); err != nil {
			return err
		}
		w.AvailableSince = nil
	}
	if isIn(state, "UPDATING", "MAINTENANCE", "SUSPENDED") {
		w.PrevState = w.State
	}
	w.State = state
	w.StateSince = now
	w.AwaitGuest = false
	w.Seq++
	w.History = append(w.History, Transition{State: state, Time: now})
	if len(w.History) > maxHistory {
		w.History = w.History[len(w.History)-maxHistory:]
	}
	switch state {
	case "AVAILABLE":
		t := tm.at(now)
		w.AvailableSince = t
		w.ErrorCode, w.ErrorMessage = "", ""
		w.UnhealthySince = nil
		if w.SnapshotBase == nil {
			w.SnapshotBase = t
			// Snapshots are taken by the guest runtime (scheduleSnapshots
			// schedules nothing without one): the key is built only then.
			if m.rt != nil {
				if err := m.scheduleSnapshots(ctx, tx, key(account, region, w.WorkspaceID), now); err != nil {
					return err
				}
			}
		}
		if err := m.scheduleIdleStop(ctx, tx, account, region, w, now); err != nil {
			return err
		}
		if ptr.Deref(w.Properties.RunningMode) == "MANUAL" {
			if tm != nil {
				k := tm.key
				if k == "" {
					k = key(account, region, w.WorkspaceID)
				}
				if tm.autostop == nil && tm.room > 0 {
					tm.autostop = make([]jobRef, 0, tm.room)
				}
				tm.autostop = append(tm.autostop, jobRef{Key: k, Seq: w.Seq})
			} else if err := m.scheduleAutoStop(ctx, tx, account, region, w, now); err != nil {
				return err
			}
			if w.MaintGroup == "" {
				if err := m.scheduleMaintenance(ctx, tx, account, region, w, now); err != nil {
					return err
				}
			}
		}
	case "UNHEALTHY", "IMPAIRED", "ERROR":
		if w.UnhealthySince == nil {
			t := now
			w.UnhealthySince = &t
		}
		if m.rt != nil && state != "ERROR" {
			// The desktop stops answering: its guest, if one runs, is
			// frozen until a reboot, stop, rebuild or restore ends it
			// and the next boot starts a fresh one (README).
			m.rt.Freeze(key(account, region, w.WorkspaceID))
		}
	}
	return nil
}

func (m *Module) save(ctx context.Context, tx store.Tx, account, region string, w *desktopRec) error {
	return putRec(ctx, tx, tDesktops, key(account, region, w.WorkspaceID), w)
}

// transition enters an intermediate state and schedules the step that ends it.
func (m *Module) transition(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, state string, step lifecycle.Step, now time.Time) error {
	if err := m.setState(ctx, tx, account, region, w, state, now); err != nil {
		return err
	}
	if err := m.save(ctx, tx, account, region, w); err != nil {
		return err
	}
	return m.scheduleTransition(ctx, tx, account, region, w, step, now)
}

func (m *Module) scheduleTransition(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, step lifecycle.Step, now time.Time) error {
	k := key(account, region, w.WorkspaceID)
	return m.engine.Schedule(ctx, tx, "t/"+k, jobTransition, now.Add(m.timing(step)), jobRef{Key: k, Seq: w.Seq})
}

func (m *Module) scheduleAutoStop(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, now time.Time) error {
	k := key(account, region, w.WorkspaceID)
	return m.engine.Schedule(ctx, tx, "as/"+k, jobAutoStop, now.Add(m.scaled(AutoStopAfter)), jobRef{Key: k, Seq: w.Seq})
}

// MaintenanceWindow returns the desktop's next monthly maintenance start
// after now: the window opens on the third Monday of the month for up to
// two weeks, daily from 00:00 to 05:00 (UTC here); each desktop is
// maintained on one day of it, spread by its id.
func MaintenanceWindow(id string, now time.Time) time.Time {
	w := maintWindowsAt(now)
	return w.at(id)
}

// maintWindows is MaintenanceWindow for any id at one instant: the months'
// third Mondays it tries are the same for every desktop (a creation's 25
// desktops share them), only the day and minute differ.
type maintWindows struct {
	now   time.Time
	third [3]time.Time // the third Monday of now's month and the next two (00:00 UTC)
}

// maintWindowsAt returns the windows seen from now.
func maintWindowsAt(now time.Time) maintWindows {
	w := maintWindows{now: now}
	for months := range w.third {
		first := time.Date(now.Year(), now.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
		off := (int(time.Monday) - int(first.Weekday()) + 7) % 7
		w.third[months] = first.AddDate(0, 0, off+14)
	}
	return w
}

// at is MaintenanceWindow(id, w.now).
func (w *maintWindows) at(id string) time.Time {
	// fnv.New32a over id, without converting it to bytes.
	v := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		v ^= uint32(id[i])
		v *= 16777619
	}
	day := int(v % 14)
	minute := int((v / 14) % (4 * 60))
	for _, third := range w.third {
		// third is midnight UTC: AddDate(0, 0, day) is day days of 24 hours.
		start := third.Add(time.Duration(day)*24*time.Hour + time.Duration(minute)*time.Minute)
		if start.After(w.now) {
			return start
		}
	}
	return w.now.AddDate(0, 1, 0)
}

// maintenanceDue returns when, seen from now, the desktop's next
// maintenance window after from (MaintenanceWindow) opens under the timing
// profile: the span from now to the real window, scaled. A profile that
// scales its schedules skips windows less than AutoStopAfter (scaled: 8
// minutes in fast) away: a window hours away would otherwise come seconds
// after a desktop is created, in the middle of a script's first steps.
func (m *Module) maintenanceDue(id string, now, from time.Time) time.Time {
	d := m.maintenanceDues(now, from)
	return d.due(id)
}

// maintDues is maintenanceDue for any id at one now and from (a creation's
// desktops: the windows' months are worked out once for the request).
type maintDues struct {
	m   *Module
	now time.Time
	w   maintWindows
}

// maintenanceDues returns maintenanceDue's answers at now and from.
func (m *Module) maintenanceDues(now, from time.Time) maintDues {
	if m.engine.Timing().Speedup() > 1 {
		if soonest := now.Add(AutoStopAfter); from.Before(soonest) {
			from = soonest
		}
	}
	return maintDues{m: m, now: now, w: maintWindowsAt(from)}
}

// due is maintenanceDue(id, d.now, from).
func (d *maintDues) due(id string) time.Time {
	return d.now.Add(d.m.scaled(d.w.at(id).Sub(d.now)))
}

// scheduleMaintenance puts a desktop that has no maintenance group yet in a
// group of its own.
func (m *Module) scheduleMaintenance(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, now time.Time) error {
	k := key(account, region, w.WorkspaceID)
	w.MaintGroup = "mw/" + k
	return m.scheduleMaintenanceGroup(ctx, tx, w.MaintGroup, []maintEntry{{Key: k, Due: m.maintenanceDue(w.WorkspaceID, now, now)}})
}

// maintEntry is one desktop of a maintenance group and its next window.
type maintEntry struct {
	Key string    `json:"key"`
	Due time.Time `json:"due"`
}

// scheduleMaintenanceGroup (re)schedules a group's job at its earliest window.
func (m *Module) scheduleMaintenanceGroup(ctx context.Context, tx store.Tx, id string, entries []maintEntry) error {
	if len(entries) == 0 {
		return nil
	}
	due := entries[0].Due
	for _, e := range entries[1:] {
		if e.Due.Before(due) {
			due = e.Due
		}
	}
	return m.engine.Schedule(ctx, tx, id, jobMaintenanceGroup, due, maintEntries(entries))
}

func (m *Module) loadJob(ctx context.Context, tx store.Tx, j store.Job) (*desktopRec, jobRef, error) {
	var ref jobRef
	if err := json.Unmarshal(j.Payload, &ref); err != nil {
		return nil, ref, fmt.Errorf("job %s: bad payload: %w", j.ID, err)
	}
	w, err := getRec[desktopRec](ctx, tx, tDesktops, ref.Key)
	return w, ref, err
}

func (m *Module) runTransition(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	var ref jobRef
	if err := json.Unmarshal(j.Payload, &ref); err != nil {
		return fmt.Errorf("job %s: bad payload: %w", j.ID, err)
	}
	return m.applyTransition(ctx, tx, ref, now)
}

func (m *Module) runTransitionBatch(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	refs, err := decodeJobRefs(j.Payload)
	if err != nil {
		return fmt.Errorf("job %s: bad payload: %w", j.ID, err)
	}
	keys := make([]string, len(refs))
	for i, ref := range refs {
		keys[i] = ref.Key
	}
	// The records the creation built, in the order of refs (a desktop it
	// did not store under its first key is not among them).
	var fresh []storedRec
	if len(refs) > 0 {
		fresh = m.fresh.take(refs[0].Key)
	}
	marked := fresh // the marks of the bytes to patch, in the order of refs
	var raw map[string][]byte
	gr, _ := m.keys.(GrantReader)
	var ahead []KeyGrant
	if gr != nil {
		ahead = freshGrants(refs, fresh)
	}
	if len(ahead) > 0 {
		// The grants of the records the creation built are known before
		// the desktops are read: the desktops, their key and the grants
		// are read in one round trip (store/postgres), in that order, into
		// the batch's KeyMemo (made here, inside the job's transaction: a
		// retry starts anew). A record read that is not the one built
		// (written since) has its grant read below, if it is another.
		ctx = WithKeyMemo(ctx)
		got, err := gr.ReadGrants(ctx, tx, ahead, store.TableKeys{Table: tDesktops, Keys: keys})
		if err != nil {
			return err
		}
		raw = got[0]
	} else {
		var err error
		if raw, err = tx.GetMany(ctx, tDesktops, keys); err != nil {
			return err
		}
	}
	// changed and autostop with room for every desktop of the batch.
	tm := &timers{recs: make(map[string]*desktopRec, len(raw)), changed: make([]string, 0, len(refs)), room: len(refs)}
	var grants []KeyGrant // the grants to read, those of the records decoded
	for _, ref := range refs {
		k := ref.Key
		var s storedRec
		if len(fresh) > 0 && fresh[0].key == k {
			s, fresh = fresh[0], fresh[1:]
		}
		b, ok := raw[k]
		if !ok {
			continue // no record, or a key given twice and done
		}
		if _, done := tm.recs[k]; done {
			continue
		}
		if w := s.version(b); w != nil {
			tm.recs[k] = w // the record its creation built (the bytes read are its)
			if m.rt != nil || !provisionPatchable(w) {
				delete(raw, k) // raw is left with the bytes to patch (tm.patch)
			}
			continue
		}
		delete(raw, k)
		w := new(desktopRec)
		if err := store.DecodeJSON(b, w); err != nil {
			return fmt.Errorf("decode desktop %s: %w", k, err)
		}
		tm.recs[k] = w
		grants = appendGrant(grants, ref, w) // not read ahead: not the record built
	}
	tm.patch = raw
	for _, w := range tm.recs {
		if w.VolumeKey != "" && w.State == "PENDING" {
			// The batch's encrypted desktops share one KeyMemo: their key
			// is read once for the batch, not once per desktop (this runs
			// inside the job's transaction, so a retry starts anew).
			if KeyMemoOf(ctx) == nil {
				ctx = WithKeyMemo(ctx)
			}
			// Their WorkSpaces grants are read into it before the first
			// desktop's KMS calls write anything: each read sends the
			// writes queued before it, so read one by one between the
			// desktops they cut the batch's grants into runs of two
			// (store/postgres sends a run of queued Puts as one lock
			// statement and one upsert). What the memo holds (read with
			// the desktops) is not read again.
			if gr != nil && len(grants) > 0 {
				if _, err := gr.ReadGrants(ctx, tx, grants); err != nil {
					return err
				}
			}
			break
		}
	}
	for _, ref := range refs {
		if err := m.applyTransitionIn(ctx, tx, ref, now, tm); err != nil {
			return err
		}
	}
	if len(tm.changed) > 0 {
		recs := make([]store.KV, 0, len(tm.changed))
		// The patched records in one array of their size (the read cache
		// keeps a value as written: all of a batch's together, as
		// writeDesktops keeps a creation's), not allocated one by one:
		// their tails are encoded first (they decide the size), then each
		// record is copied in from its parts. A value is capped at its
		// length, so that nothing appended to one can reach the next.
		var room [25]patchedAt   // a request's desktops, on the stack
		patched := room[:0]      // recs' patched values
		var tails [25 * 128]byte // a provisioned record's tail is about 100 bytes
		tail, size := tails[:0], 0
		for _, k := range tm.changed {
			w := tm.recs[k]
			if raw, ok := tm.patch[k]; ok {
				// A record to patch was handed over (fresh), and changed
				// follows refs' order: its marks are those of the next
				// handed record of its key (raw are its bytes).
				var mk recMarks
				for len(marked) > 0 && marked[0].key != k {
					marked = marked[1:]
				}
				if len(marked) > 0 {
					mk, marked = marked[0].marks, marked[1:]
				}
				if pp, ok := w.provisionedParts(raw, mk); ok {
					t0 := len(tail)
					tail = w.appendV2Tail(tail, pp.eq)
					patched = append(patched, patchedAt{rec: len(recs), tail: len(tail), p: pp})
					size += pp.size(len(tail) - t0)
					recs = append(recs, store.KV{Key: k})
					continue
				}
			}
			b, err := store.EncodeJSON(w)
			if err != nil {
				return fmt.Errorf("encode desktop %s: %w", k, err)
			}
			recs = append(recs, store.KV{Key: k, Value: b})
		}
		if len(patched) > 0 {
			buf := make([]byte, 0, size)
			t := 0
			for _, p := range patched {
				start := len(buf)
				buf = p.p.appendTo(buf, tail[t:p.tail])
				recs[p.rec].Value = buf[start:len(buf):len(buf)]
				t = p.tail
			}
		}
		if err := tx.PutMany(ctx, tDesktops, recs); err != nil {
			return err
		}
	}
	if len(tm.autostop) == 0 {
		return nil
	}
	first := tm.autostop[0]
	return m.engine.Schedule(ctx, tx, "asb/"+first.Key+"/"+strconv.FormatInt(first.Seq, 10), jobAutoStopBatch, now.Add(m.scaled(AutoStopAfter)), jobRefs(tm.autostop))
}

// patchedAt is a provisioning batch's patched record: its index in the
// batch's writes, the end of its tail in the batch's tails, its parts.
type patchedAt struct {
	rec, tail int
	p         provisioned
}

// appendGrant appends the WorkSpaces grant the provisioning of w (the
// desktop of ref) checks, if it checks one: an encrypted desktop still
// PENDING in the step of ref.
func appendGrant(grants []KeyGrant, ref jobRef, w *desktopRec) []KeyGrant {
	if w.Seq != ref.Seq || w.VolumeKey == "" || w.State != "PENDING" || w.WorkspaceGrant == "" {
		return grants
	}
	parts := splitKey(ref.Key)
	return append(grants, KeyGrant{Account: parts[0], Region: parts[1], KeyARN: w.VolumeKey, GrantID: w.WorkspaceGrant})
}

// freshGrants returns the grants appendGrant finds in the records a
// creation built for the desktops of refs (fresh, in their order).
func freshGrants(refs []jobRef, fresh []storedRec) []KeyGrant {
	var grants []KeyGrant
	for _, ref := range refs {
		if len(fresh) == 0 {
			break
		}
		if fresh[0].key != ref.Key {
			continue
		}
		grants = appendGrant(grants, ref, fresh[0].w)
		fresh = fresh[1:]
	}
	return grants
}

// applyTransition ends the step a desktop is in, if it is still the step
// the job was scheduled for (same seq).
func (m *Module) applyTransition(ctx context.Context, tx store.Tx, ref jobRef, now time.Time) error {
	return m.applyTransitionIn(ctx, tx, ref, now, nil)
}

// applyTransitionIn is applyTransition, gathering timers into tm (see setStateIn).
// With tm holding the batch's records, the record is read from and written
// back to tm (the batch writes them all at its end); only the provisioning
// steps of new desktops run that way, and they change no other desktop.
func (m *Module) applyTransitionIn(ctx context.Context, tx store.Tx, ref jobRef, now time.Time, tm *timers) error {
	var w *desktopRec
	var err error
	batched := tm != nil && tm.recs != nil
	if batched {
		w = tm.recs[ref.Key]
		// Only provisioning is deferred to the batch's write; any other
		// step (none is expected here) is written at once.
		batched = w != nil && w.State == "PENDING"
	} else {
		w, err = getRec[desktopRec](ctx, tx, tDesktops, ref.Key)
	}
	if err != nil || w == nil || w.Seq != ref.Seq {
		return err // a later change superseded this step
	}
	parts := splitKey(ref.Key)
	account, region := parts[0], parts[1]
	next := "AVAILABLE"
	from := w.State
	var settled string
	if m.rt != nil {
		wait, done := m.guestGate(w, ref.Key)
		if wait {
			w.AwaitGuest = true
			return m.saveIn(ctx, tx, account, region, w, ref.Key, batched, tm)
		}
		settled = done
	}
	if settled == "" && w.AwaitGuest && w.GuestBoot == w.Seq {
		// The guest of this step was started already (its runtime lost
		// it in a restart): start it again, without redoing the step.
		from, settled = "", "start"
	}
	switch {
	case settled == "start":
		err = nil
	case settled != "":
		next = settled
	default:
		next, err = m.stepNext(ctx, tx, account, region, w, now)
		if next == "" && err == nil {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if m.rt != nil && settled != "AVAILABLE" && settled != "UNHEALTHY" && next == "AVAILABLE" && (guestStarts(from) || from == "") {
		wait, err := m.guestStart(ctx, tx, account, region, w, ref.Key, from, now)
		if err != nil {
			return err
		}
		if wait {
			return m.saveIn(ctx, tx, account, region, w, ref.Key, batched, tm)
		}
	}
	if m.rt != nil && guestStarts(from) && next != "AVAILABLE" {
		m.rt.Release(ref.Key) // no guest starts (ERROR, UNHEALTHY): free its reservation
	}
	if m.rt != nil && next == "TERMINATED" {
		if err := m.rt.Remove(ref.Key); err != nil {
			return err
		}
	}
	if tm != nil && len(ref.Key) == len(account)+len(region)+2+len(w.WorkspaceID) && strings.HasSuffix(ref.Key, w.WorkspaceID) {
		tm.key = ref.Key // key(account, region, w.WorkspaceID): account and region are split from it
	}
	err = m.setStateIn(ctx, tx, account, region, w, next, now, tm)
	if tm != nil {
		tm.key = ""
	}
	if err != nil {
		return err
	}
	if batched {
		tm.changed = append(tm.changed, ref.Key)
	} else if err := m.save(ctx, tx, account, region, w); err != nil {
		return err
	}
	return m.afterTransition(ctx, tx, account, region, w, ref, next, now)
}

// saveIn writes a desktop's record, or gathers it into the batch's writes.
func (m *Module) saveIn(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, k string, batched bool, tm *timers) error {
	if batched {
		tm.changed = append(tm.changed, k)
		return nil
	}
	return m.save(ctx, tx, account, region, w)
}

// stepNext does the work that ends the desktop's current step and returns
// the state it ends in ("" when the state has no step to end).
func (m *Module) stepNext(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, now time.Time) (next string, err error) {
	// An injected fault of the operation that began the step ends it.
	if next, err := m.stepFault(ctx, w); next != "" || err != nil {
		return next, err
	}
	next = "AVAILABLE"
	switch w.State {
	case "PENDING":
		next, err = m.provision(ctx, tx, account, region, w, now)
	case "STARTING", "REBOOTING":
		next, err = m.attach(ctx, tx, account, region, w)
	case "STOPPING":
		next = "STOPPED"
	case "REBUILDING":
		next, err = m.rebuild(ctx, tx, account, region, w)
	case "RESTORING":
		// The snapshots restored from stay; the 12-hour schedule goes on.
		next, err = m.attach(ctx, tx, account, region, w)
	case "TERMINATING":
		if err := m.retireGrants(ctx, tx, account, region, w); err != nil {
			return "", err
		}
		next = "TERMINATED"
	case "UPDATING", "MAINTENANCE", "SUSPENDED":
		next = w.PrevState
		if next == "" {
			next = "AVAILABLE"
		}
		w.Modifications = nil
	default:
		return "", nil
	}
	return next, err
}

// afterTransition does what follows a desktop's new state: the bookkeeping
// of a termination, the end of a migration.
func (m *Module) afterTransition(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, ref jobRef, next string, now time.Time) error {
	switch next {
	case "TERMINATED":
		if err := m.addLive(ctx, tx, account, region, -1); err != nil {
			return err
		}
		for _, id := range []string{"as/", "mw/", "mod/"} {
			if err := tx.CancelJob(ctx, id+ref.Key); err != nil {
				return err
			}
		}
		return m.engine.Schedule(ctx, tx, "t/"+ref.Key, jobForget, now.Add(m.timing(lifecycle.TerminatedTTL)), jobRef{Key: ref.Key, Seq: w.Seq})
	case "AVAILABLE", "UNHEALTHY", "IMPAIRED":
		if w.MigratedFrom != "" {
			return m.finishMigration(ctx, tx, account, region, w, now)
		}
	case "ERROR":
		if w.MigratedFrom != "" {
			return m.abortMigration(ctx, tx, account, region, w, now)
		}
	}
	return nil
}

// provision completes PENDING: injected faults, then the KMS steps of an
// encrypted desktop (grants, data keys, attach), then AVAILABLE.
func (m *Module) provision(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, now time.Time) (string, error) {
	if next, err := m.provisionHealth(ctx, w); next != "" || err != nil {
		return next, err
	}
	if w.VolumeKey != "" {
		// The desktop's KMS calls below read its key and grants once
		// (KeyMemo, the provisioning batch's when it made one): this runs
		// inside the job's transaction, so a retry starts with a new memo.
		if KeyMemoOf(ctx) == nil {
			ctx = WithKeyMemo(ctx)
		}
		for _, v := range m.encryptedVolumes(w) {
			if err := m.createVolumeKey(ctx, tx, account, region, w, v); err != nil {
				if ae := awsproto.As(err); ae != nil {
					return m.fail(w, ae.Code, "The encrypted volume "+v.VolumeID+" could not be created: "+ae.Message)
				}
				return "", err
			}
		}
	}
	return m.attach(ctx, tx, account, region, w)
}

func (m *Module) fail(w *desktopRec, code, msg string) (string, error) {
	w.ErrorCode, w.ErrorMessage = code, msg
	return "ERROR", nil
}

func (m *Module) encryptedVolumes(w *desktopRec) []*volumeRec {
	var out []*volumeRec
	if w.RootEncrypted {
		out = append(out, &w.Root)
	}
	if w.UserEncrypted {
		out = append(out, &w.User)
	}
	return out
}

func (m *Module) encContext(w *desktopRec, v *volumeRec) map[string]string {
	return map[string]string{
		"aws:workspaces:sid-directoryid": "[" + w.UserSID + "]@[" + w.DirectoryID + "]",
		"aws:ebs:id":                     v.VolumeID,
	}
}

// GrantReader is implemented by a VolumeKeys (internal/kms) that can read
// the grants a transaction's KMS calls will check into ctx's KeyMemo ahead
// of them, in one read, as those calls would read them (shared). A grant it
// does not find is left out of the memo: the call that checks it reads it
// again and fails as before. Each call still checks the key's and the
// grant's state itself.
//
// first are reads of the caller's own (store.TableKeys, exclusive unless
// marked Shared), made in the same round trip ahead of the grants' and
// their keys' (store.GetTables, their locks first): it returns what they
// found, as GetTables does. A provisioning batch so reads its desktops, their
// key and their grants at once, in the order of countKey's locks.
type GrantReader interface {
	ReadGrants(ctx context.Context, tx store.Tx, grants []KeyGrant, first ...store.TableKeys) ([]map[string][]byte, error)
}

// KeyGrant names a grant on a key of account in region (GrantReader).
type KeyGrant struct{ Account, Region, KeyARN, GrantID string }

// KeyMemo holds what the KMS calls of one transaction (a desktop's
// provisioning, a provisioning batch's desktops, a creation's grants) read
// of keys and grants, and the grants they made, so that
// the calls that follow use them instead of reading the store again (on
// store/postgres a round trip each: the key was read seven times for a
// desktop of two encrypted volumes). It is sound because the transaction
// holds the lock of every record it read (shared) or wrote until it
// commits: no other transaction can change them meanwhile, and the
// provisioning itself only adds grants. WithKeyMemo must be called inside
// the transaction's function, so that a retry starts empty. The
// implementation of VolumeKeys decides what it keeps (internal/kms).
type KeyMemo struct{ m map[string]any }

type keyMemoKey struct{}

// WithKeyMemo returns ctx with a new, empty KeyMemo.
func WithKeyMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyMemoKey{}, &KeyMemo{})
}

// withKeyMemoFrom returns ctx with a new KeyMemo that holds what from
// holds (from may be nil). Like WithKeyMemo, it must be called inside the
// transaction's function, and only with what that transaction has read
// itself or read again unchanged (ReadSet.Valid): the records' locks, held
// until it commits, are what make the memo sound.
func withKeyMemoFrom(ctx context.Context, from *KeyMemo) context.Context {
	km := &KeyMemo{}
	if from != nil && len(from.m) > 0 {
		km.m = make(map[string]any, len(from.m)+4)
		for k, v := range from.m {
			km.m[k] = v
		}
	}
	return context.WithValue(ctx, keyMemoKey{}, km)
}

// KeyMemoOf returns ctx's KeyMemo, or nil (whose Load finds nothing and
// whose Store keeps nothing).
func KeyMemoOf(ctx context.Context) *KeyMemo {
	km, _ := ctx.Value(keyMemoKey{}).(*KeyMemo)
	return km
}

// Load returns what Store kept under k.
func (km *KeyMemo) Load(k string) (any, bool) {
	if km == nil {
		return nil, false
	}
	v, ok := km.m[k]
	return v, ok
}

// Store keeps v under k.
func (km *KeyMemo) Store(k string, v any) {
	if km == nil {
		return
	}
	if km.m == nil {
		km.m = make(map[string]any, 4)
	}
	km.m[k] = v
}

// grantWorkspace is step 1 of the KMS guide: a grant that lets WorkSpaces use
// the key only for this desktop (its user and directory).
func (m *Module) grantWorkspace(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec) error {
	id, err := m.keys.CreateGrant(ctx, tx, GrantRequest{
		Account: c.Account, Region: c.Region, KeyARN: w.VolumeKey,
		Grantee:       "workspaces." + c.Region + ".amazonaws.com",
		Retiring:      "workspaces." + c.Region + ".amazonaws.com",
		Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey"},
		ContextSubset: map[string]string{"aws:workspaces:sid-directoryid": "[" + w.UserSID + "]@[" + w.DirectoryID + "]"},
		Name:          w.WorkspaceID, CreatedBy: c.Principal.ARN, Caller: c,
		GrantID: w.WorkspaceGrant, // chosen by writeDesktops, or none
	})
	if err != nil {
		return err
	}
	w.WorkspaceGrant = id
	return nil
}

// createVolumeKey is steps 2–4 and 8: an EBS grant for the volume, a data
// key encrypted under the key with the volume's encryption context, kept
// with the volume's metadata.
func (m *Module) createVolumeKey(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, v *volumeRec) error {
	ec := m.encContext(w, v)
	gid, err := m.keys.CreateGrant(ctx, tx, GrantRequest{
		Account: account, Region: region, KeyARN: w.VolumeKey,
		Grantee: "ebs." + region + ".amazonaws.com", Retiring: "ebs." + region + ".amazonaws.com",
		Operations:    []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "RetireGrant"},
		ContextSubset: ec, Name: v.VolumeID, CreatedBy: "workspaces." + region + ".amazonaws.com",
		ParentGrantID: w.WorkspaceGrant,
	})
	if err != nil {
		return err
	}
	v.GrantIDs = append(v.GrantIDs, gid)
	edk, err := m.keys.GenerateDataKeyWithoutPlaintext(ctx, tx, account, region, w.VolumeKey, ec, gid)
	if err != nil {
		return err
	}
	v.EncryptedDataKey = edk
	return nil
}

// attach is steps 5–6: EBS decrypts each encrypted volume's data key with
// its encryption context, once WorkSpaces has checked that its own grant on
// the key still holds. A disabled or deleted key, or a retired or revoked
// WorkSpaces grant, leaves the desktop in ERROR with the reason.
func (m *Module) attach(ctx context.Context, tx store.Tx, account, region string, w *desktopRec) (string, error) {
	if w.VolumeKey == "" || m.keys == nil {
		return "AVAILABLE", nil
	}
	if next, err := m.checkWorkspaceGrant(ctx, tx, account, region, w); next != "" || err != nil {
		return next, err
	}
	for _, v := range m.encryptedVolumes(w) {
		gid := ""
		if len(v.GrantIDs) > 0 {
			gid = v.GrantIDs[len(v.GrantIDs)-1]
		}
		if m.rt != nil {
			// The runtime keeps the volume sealed under its data key.
			pt, err := m.keys.DecryptVolumeKey(ctx, tx, account, region, w.VolumeKey, v.EncryptedDataKey, m.encContext(w, v), gid)
			if err != nil {
				if ae := awsproto.As(err); ae != nil {
					return m.fail(w, "KMSKeyUnavailable."+ae.Code, "The volume "+v.VolumeID+" could not be attached because its KMS key cannot be used: "+ae.Message)
				}
				return "", err
			}
			m.attachedKey(key(account, region, w.WorkspaceID), volumeName(w, v), pt)
			continue
		}
		if err := m.keys.Decrypt(ctx, tx, account, region, w.VolumeKey, v.EncryptedDataKey, m.encContext(w, v), gid); err != nil {
			if ae := awsproto.As(err); ae != nil {
				return m.fail(w, "KMSKeyUnavailable."+ae.Code, "The volume "+v.VolumeID+" could not be attached because its KMS key cannot be used: "+ae.Message)
			}
			return "", err
		}
	}
	return "AVAILABLE", nil
}

// checkWorkspaceGrant makes WorkSpaces' DescribeKey under its own grant on
// the desktop's key. When the grant is gone it returns "ERROR" (with the
// desktop's error set); "" when the grant holds.
func (m *Module) checkWorkspaceGrant(ctx context.Context, tx store.Tx, account, region string, w *desktopRec) (string, error) {
	err := m.keys.DescribeKey(ctx, tx, account, region, w.VolumeKey, w.WorkspaceGrant)
	if err == nil {
		return "", nil
	}
	if ae := awsproto.As(err); ae != nil {
		return m.fail(w, "KMSKeyUnavailable."+ae.Code, "WorkSpaces cannot use the KMS key of "+w.WorkspaceID+": "+ae.Message)
	}
	return "", fmt.Errorf("check the KMS grant of %s: %w", w.WorkspaceID, err)
}

func (m *Module) retireGrants(ctx context.Context, tx store.Tx, account, region string, w *desktopRec) error {
	if m.keys == nil || w.VolumeKey == "" {
		return nil
	}
	var ids []string
	for _, v := range []*volumeRec{&w.Root, &w.User} {
		ids = append(ids, v.GrantIDs...)
		v.GrantIDs = nil
	}
	if w.WorkspaceGrant != "" {
		ids = append(ids, w.WorkspaceGrant)
		w.WorkspaceGrant = ""
	}
	for _, id := range ids {
		if err := m.keys.RetireGrant(ctx, tx, account, region, w.VolumeKey, id); err != nil {
			if ae := awsproto.As(err); ae != nil && strings.Contains(ae.Code, "NotFound") {
				continue
			}
			return err
		}
	}
	return nil
}

// lockKey reads the record of a desktop's KMS key (ResolveKey), and nothing
// else, so that an operation that takes the Region's count or an address
// counter and uses the key only after them has the key's lock first, in
// countKey's order. The key's own calls that follow answer its errors (and
// record its CloudTrail events, as before): only a store error is returned
// here.
func (m *Module) lockKey(ctx context.Context, tx store.Tx, account, region, keyARN string) error {
	if m.keys == nil || keyARN == "" {
		return nil
	}
	if _, err := m.keys.ResolveKey(ctx, tx, account, region, keyARN); err != nil && awsproto.As(err) == nil {
		return fmt.Errorf("read the KMS key %s: %w", keyARN, err)
	}
	return nil
}

// rebuild re-creates the root volume from the bundle's current image and
// keeps the user volume from the latest snapshot, with a new IP address.
func (m *Module) rebuild(ctx context.Context, tx store.Tx, account, region string, w *desktopRec) (string, error) {
	// The bundle is only checked (every creation of it checks it too):
	// read shared, so the two overlap.
	b, err := m.lookupBundle(store.SharedReads(ctx), tx, account, region, w.BundleID)
	if err != nil {
		return "", err
	}
	old := w.Root
	w.Root = volumeRec{VolumeID: volumeID(), SizeGib: old.SizeGib, Encrypted: old.Encrypted, ImageID: old.ImageID}
	if b != nil {
		w.Root.ImageID = b.ImageID
	}
	// The key before the subnet's address counter (countKey's order); its
	// calls below answer its errors.
	if err := m.lockKey(ctx, tx, account, region, w.VolumeKey); err != nil {
		return "", err
	}
	ip, err := m.allocIP(ctx, tx, account, region, w.SubnetID)
	if err != nil {
		return "", err
	}
	w.IPAddress = ip
	if w.RootEncrypted && m.keys != nil {
		// No grant is retired or minted unless WorkSpaces' own grant holds.
		if next, err := m.checkWorkspaceGrant(ctx, tx, account, region, w); next != "" || err != nil {
			w.Root = old
			return next, err
		}
		for _, gid := range old.GrantIDs {
			if err := m.keys.RetireGrant(ctx, tx, account, region, w.VolumeKey, gid); err != nil && awsproto.As(err) == nil {
				return "", err
			}
		}
		if err := m.createVolumeKey(ctx, tx, account, region, w, &w.Root); err != nil {
			if ae := awsproto.As(err); ae != nil {
				return m.fail(w, "KMSKeyUnavailable."+ae.Code, "The root volume could not be rebuilt because its KMS key cannot be used: "+ae.Message)
			}
			return "", err
		}
	}
	return m.attach(ctx, tx, account, region, w)
}

func (m *Module) finishMigration(ctx context.Context, tx store.Tx, account, region string, t *desktopRec, now time.Time) error {
	src, err := getRec[desktopRec](ctx, tx, tDesktops, key(account, region, t.MigratedFrom))
	if err != nil || src == nil {
		return err
	}
	src.MigratingTo = ""
	if src.State == "TERMINATED" || src.State == "TERMINATING" {
		return m.save(ctx, tx, account, region, src)
	}
	// The source keeps its name no more: the name index now points at the target.
	return m.transition(ctx, tx, account, region, src, "TERMINATING", lifecycle.Terminate, now)
}

// abortMigration ends a migration whose target failed (ERROR): the source
// keeps its id, name and state, and the target is terminated at once, its
// ErrorCode and ErrorMessage kept while it is TERMINATING and TERMINATED
// ("if the migration does not succeed, the target WorkSpace ID will not be
// used", MigrateWorkspace's TargetWorkspaceId).
func (m *Module) abortMigration(ctx context.Context, tx store.Tx, account, region string, t *desktopRec, now time.Time) error {
	src, err := getRec[desktopRec](ctx, tx, tDesktops, key(account, region, t.MigratedFrom))
	if err != nil {
		return err
	}
	if src != nil {
		src.MigratingTo = ""
		if t.WorkspaceName != "" {
			if err := tx.Put(ctx, tIdem, key(account, region, "name/"+src.WorkspaceName), []byte(`"`+src.WorkspaceID+`"`)); err != nil {
				return err
			}
		}
		if err := m.save(ctx, tx, account, region, src); err != nil {
			return err
		}
	}
	return m.transition(ctx, tx, account, region, t, "TERMINATING", lifecycle.Terminate, now)
}

func (m *Module) runAutoStop(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	w, ref, err := m.loadJob(ctx, tx, j)
	if err != nil || w == nil || w.Seq != ref.Seq || w.State != "AVAILABLE" || ptr.Deref(w.Properties.RunningMode) != "MANUAL" {
		return err
	}
	parts := splitKey(ref.Key)
	return m.transition(ctx, tx, parts[0], parts[1], w, "STOPPING", lifecycle.Stop, now)
}

func (m *Module) runAutoStopBatch(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	refs, err := decodeJobRefs(j.Payload)
	if err != nil {
		return fmt.Errorf("job %s: bad payload: %w", j.ID, err)
	}
	for _, ref := range refs {
		w, err := getRec[desktopRec](ctx, tx, tDesktops, ref.Key)
		if err != nil {
			return err
		}
		if w == nil || w.Seq != ref.Seq || w.State != "AVAILABLE" || ptr.Deref(w.Properties.RunningMode) != "MANUAL" {
			continue // started again, stopped or changed since
		}
		parts := splitKey(ref.Key)
		if err := m.transition(ctx, tx, parts[0], parts[1], w, "STOPPING", lifecycle.Stop, now); err != nil {
			return err
		}
	}
	return nil
}

// runMaintenance runs a per-desktop maintenance job of an older store: the
// desktop becomes a maintenance group of one.
func (m *Module) runMaintenance(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	var ref jobRef
	if err := json.Unmarshal(j.Payload, &ref); err != nil {
		return fmt.Errorf("job %s: bad payload: %w", j.ID, err)
	}
	return m.maintainGroup(ctx, tx, j.ID, []maintEntry{{Key: ref.Key, Due: j.Due}}, now)
}

// runMaintenanceGroup opens maintenance for the group's desktops whose
// window has come, moves their next window a month on, and reschedules the
// group at its earliest window. Desktops terminated or gone leave the
// group; those not MANUAL (or whose directory opted out) are skipped this
// month.
func (m *Module) runMaintenanceGroup(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	entries, err := decodeMaintEntries(j.Payload)
	if err != nil {
		return fmt.Errorf("job %s: bad payload: %w", j.ID, err)
	}
	return m.maintainGroup(ctx, tx, j.ID, entries, now)
}

func (m *Module) maintainGroup(ctx context.Context, tx store.Tx, id string, entries []maintEntry, now time.Time) error {
	keep := entries[:0]
	for _, e := range entries {
		if e.Due.After(now) {
			keep = append(keep, e)
			continue
		}
		w, err := getRec[desktopRec](ctx, tx, tDesktops, e.Key)
		if err != nil {
			return err
		}
		if w == nil || isIn(w.State, "TERMINATING", "TERMINATED") {
			continue
		}
		if w.MaintGroup == "" { // a desktop of an older store
			w.MaintGroup = id
			if err := m.save(ctx, tx, splitKey(e.Key)[0], splitKey(e.Key)[1], w); err != nil {
				return err
			}
		}
		if w.MaintGroup != id {
			continue // it moved to another group
		}
		if ptr.Deref(w.Properties.RunningMode) == "MANUAL" && isIn(w.State, "AVAILABLE", "STOPPED") {
			parts := splitKey(e.Key)
			account, region := parts[0], parts[1]
			dir, err := getRec[directoryRec](ctx, tx, tDirs, key(account, region, w.DirectoryID))
			if err != nil {
				return err
			}
			if dir == nil || dir.Creation.EnableMaintenanceMode == nil || *dir.Creation.EnableMaintenanceMode {
				if err := m.transition(ctx, tx, account, region, w, "MAINTENANCE", lifecycle.Maintenance, now); err != nil {
					return err
				}
			}
		}
		e.Due = m.maintenanceDue(w.WorkspaceID, now, now.Add(24*time.Hour))
		keep = append(keep, e)
	}
	return m.scheduleMaintenanceGroup(ctx, tx, id, keep)
}

func (m *Module) runForget(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	w, ref, err := m.loadJob(ctx, tx, j)
	if err != nil || w == nil || w.State != "TERMINATED" {
		return err
	}
	parts := splitKey(ref.Key)
	if w.WorkspaceName != "" {
		nk := key(parts[0], parts[1], "name/"+w.WorkspaceName)
		b, err := tx.Get(ctx, tIdem, nk)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read the name of %s: %w", w.WorkspaceID, err)
		}
		if err == nil && strings.Trim(string(b), `"`) == w.WorkspaceID {
			if err := tx.Delete(ctx, tIdem, nk); err != nil {
				return err
			}
		}
	}
	if err := tx.Delete(ctx, tDesktops, ref.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (m *Module) runModifyDone(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	w, ref, err := m.loadJob(ctx, tx, j)
	if err != nil || w == nil {
		return err
	}
	if hasVolumeModification(w) {
		w.Modifications = nil
		sizeRoot, sizeUser := ptr.Deref(w.Properties.RootVolumeSizeGib), ptr.Deref(w.Properties.UserVolumeSizeGib)
		w.Root.SizeGib, w.User.SizeGib = sizeRoot, sizeUser
		parts := splitKey(ref.Key)
		return m.save(ctx, tx, parts[0], parts[1], w)
	}
	return nil
}

// meter adds the AVAILABLE interval [from, to) to per-day usage buckets.
func (m *Module) meter(ctx context.Context, tx store.Tx, account, region, id string, from, to time.Time) error {
	for from.Before(to) {
		dayEnd := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
		end := to
		if dayEnd.Before(end) {
			end = dayEnd
		}
		k := key(account, region, id+"/"+from.Format("2006-01-02"))
		var secs float64
		if v, err := getRec[float64](ctx, tx, tUsage, k); err != nil {
			return err
		} else if v != nil {
			secs = *v
		}
		secs += end.Sub(from).Seconds()
		if err := putRec(ctx, tx, tUsage, k, secs); err != nil {
			return err
		}
		from = end
	}
	return nil
}

// History returns a desktop's state transitions (the first is PENDING at
// creation), for GET /_deskplane/history.
func (m *Module) History(ctx context.Context, account, region, id string) (any, error) {
	var out []Transition
	err := m.store.View(ctx, func(tx store.Tx) error {
		w, err := getRec[desktopRec](ctx, tx, tDesktops, key(account, region, id))
		if err != nil || w == nil {
			return err
		}
		out = w.History
		return nil
	})
	if err != nil || out == nil {
		return nil, err
	}
	return map[string]any{"workspace_id": id, "transitions": out}, nil
}

// UsageDay is one desktop's AVAILABLE hours on one day.
type UsageDay struct {
	Date  string  `json:"date"`
	Hours float64 `json:"hours"`
}

// UsageDesktop is the metered usage of one desktop.
type UsageDesktop struct {
	WorkspaceID string     `json:"workspace_id"`
	TotalHours  float64    `json:"total_hours"`
	Days        []UsageDay `json:"days"`
}

// UsageReport is the answer of GET /_deskplane/usage.
type UsageReport struct {
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	AsOf       time.Time       `json:"as_of"`
	Workspaces []*UsageDesktop `json:"workspaces"`
}

// Usage reports the hours each desktop spent AVAILABLE, by day (UTC),
// including the interval in progress.
func (m *Module) Usage(ctx context.Context, account, region string, from, to time.Time) (any, error) {
	now := m.engine.Clock().Now()
	byID := map[string]map[string]float64{}
	add := func(id, day string, secs float64) {
		if from.IsZero() == false && day < from.Format("2006-01-02") {
			return
		}
		if to.IsZero() == false && day > to.Format("2006-01-02") {
			return
		}
		if byID[id] == nil {
			byID[id] = map[string]float64{}
		}
		byID[id][day] += secs
	}
	err := m.store.View(ctx, func(tx store.Tx) error {
		p := prefix(account, region)
		err := store.ScanJSON[float64](ctx, tx, tUsage, p, "", 0, func(k string, v *float64) error {
			rest := strings.TrimPrefix(k, p)
			id, day, _ := strings.Cut(rest, "/")
			add(id, day, *v)
			return nil
		})
		if err != nil {
			return err
		}
		return store.ScanJSON[desktopRec](ctx, tx, tDesktops, p, "", 0, func(_ string, w *desktopRec) error {
			if w.State != "AVAILABLE" || w.AvailableSince == nil {
				return nil
			}
			s := *w.AvailableSince
			for s.Before(now) {
				dayEnd := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
				e := now
				if dayEnd.Before(e) {
					e = dayEnd
				}
				add(w.WorkspaceID, s.Format("2006-01-02"), e.Sub(s).Seconds())
				s = e
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	rep := &UsageReport{Account: account, Region: region, AsOf: now, Workspaces: []*UsageDesktop{}}
	for _, id := range sortedKeys(byID) {
		d := &UsageDesktop{WorkspaceID: id}
		for _, day := range sortedKeys(byID[id]) {
			h := byID[id][day] / 3600
			d.Days = append(d.Days, UsageDay{Date: day, Hours: h})
			d.TotalHours += h
		}
		rep.Workspaces = append(rep.Workspaces, d)
	}
	return rep, nil
}
