package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/deskplane/deskplane/internal/store"
)

// job is a job as stored: its record (under jobKey) and, while it is
// claimed, its claim (under claimKey).
//
// A claim is kept apart from the record, so that Claim writes a few bytes
// (the owner and the claim's end) and not the record and its payload again
// (a provisioning batch's payload holds 25 desktops' refs). The record is
// written with no owner; one written by an older version may hold one, and
// is read as claimed by it until a claim key overrides it or the record is
// written again.
type job struct {
	kind       string
	due        int64 // unix nanoseconds
	payload    []byte
	owner      string // "" when unclaimed
	claimUntil int64  // unix nanoseconds, when owned
	attempts   int
	lastError  string
	parked     bool
	// claimKeyed is whether the claim (owner, claimUntil) was read from a
	// claim key (not from the record).
	claimKeyed bool
}

// jobFormat is the first byte of a job record.
const jobFormat = 1

// encode returns the job's record: a format byte, varints and
// length-prefixed strings, the payload last.
func (j *job) encode() []byte {
	b := make([]byte, 0, 32+len(j.kind)+len(j.owner)+len(j.lastError)+len(j.payload))
	b = append(b, jobFormat)
	b = binary.AppendVarint(b, j.due)
	b = binary.AppendVarint(b, j.claimUntil)
	b = binary.AppendUvarint(b, uint64(j.attempts))
	if j.parked {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, s := range []string{j.kind, j.owner, j.lastError} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, j.payload...)
}

// errBadJob is a job record that does not decode.
var errBadJob = errors.New("pebble: malformed job record")

// decodeJob decodes a job record (the payload is copied).
func decodeJob(b []byte) (*job, error) {
	if len(b) < 1 || b[0] != jobFormat {
		return nil, errBadJob
	}
	b = b[1:]
	j := &job{}
	var n int
	if j.due, n = binary.Varint(b); n <= 0 {
		return nil, errBadJob
	}
	b = b[n:]
	if j.claimUntil, n = binary.Varint(b); n <= 0 {
		return nil, errBadJob
	}
	b = b[n:]
	a, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+1 {
		return nil, errBadJob
	}
	j.attempts = int(a)
	j.parked = b[n] == 1
	b = b[n+1:]
	for _, s := range []*string{&j.kind, &j.owner, &j.lastError} {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, errBadJob
		}
		*s = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) > 0 {
		j.payload = append([]byte(nil), b...)
	}
	return j, nil
}

// claimable returns when the job can next be claimed: its due time when
// unclaimed, the later of that and its claim's end when claimed; false
// when parked.
func (j *job) claimable() (int64, bool) {
	if j.parked {
		return 0, false
	}
	if j.owner != "" && j.claimUntil > j.due {
		return j.claimUntil, true
	}
	return j.due, true
}

func jobKey(id string) []byte {
	return append([]byte{jobPrefix}, id...)
}

// claimKey is the key of job id's claim.
func claimKey(id string) []byte {
	return append([]byte{claimPrefix}, id...)
}

// encodeClaim returns the value of claimed job j's claim: the claim's
// end and the job's due time as varints, then the owner. With the due
// time, the claim alone gives the job's due index entry (claimable), so
// FinishJob reads the claim and not the record and its payload.
func encodeClaim(j *job) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+len(j.owner))
	b = binary.AppendVarint(b, j.claimUntil)
	b = binary.AppendVarint(b, j.due)
	return append(b, j.owner...)
}

// decodeClaim decodes a claim's value into j.
func decodeClaim(b []byte, j *job) error {
	until, n := binary.Varint(b)
	if n <= 0 {
		return errBadJob
	}
	due, m := binary.Varint(b[n:])
	if m <= 0 || n+m == len(b) {
		return errBadJob // no owner: a claim always has one
	}
	j.owner, j.claimUntil, j.due, j.claimKeyed = string(b[n+m:]), until, due, true
	return nil
}

// getClaim reads job id's claim key into j (false when it has none).
func (t *tx) getClaim(id string, j *job) (bool, error) {
	k := t.scratchKey(claimPrefix, id)
	if t.b != nil && !t.db.keys.mayHold(k) {
		return false, nil // never claimed (the key filter knows every claim)
	}
	r, err := t.reader()
	if err != nil {
		return false, err
	}
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pebble: get job %s's claim: %w", id, err)
	}
	err = decodeClaim(v, j)
	closer.Close()
	if err != nil {
		return false, fmt.Errorf("pebble: job %s's claim: %w", id, err)
	}
	return true, nil
}

// dueKey is the due index's key of job id claimable at ns: the time as 8
// big-endian bytes with the sign bit flipped, so keys sort by time.
func dueKey(ns int64, id string) []byte {
	return appendDueKey(make([]byte, 0, 9+len(id)), ns, id)
}

// appendDueKey appends dueKey(ns, id) to b.
func appendDueKey(b []byte, ns int64, id string) []byte {
	b = append(b, duePrefix)
	b = binary.BigEndian.AppendUint64(b, uint64(ns)^(1<<63))
	return append(b, id...)
}

// keyBuf is the room of the stack buffers a writer's job keys are spelled
// in when they are only written (a batch's Set and Delete copy them, the
// key filter hashes them): a job's id is a prefix and a record's key, and
// a longer one goes to the heap as append grows it.
const keyBuf = 96

// appendIDKey appends a job's record or claim key (prefix, then id) to b.
func appendIDKey(b []byte, prefix byte, id string) []byte {
	return append(append(b, prefix), id...)
}

// scratchKey returns the key prefix+id for a read: in the writer's own
// buffer (DB.jkb) in a writer's update, valid until its next call (Pebble's
// Get keeps no key; a key given to it through the reader interface would
// escape, so a stack buffer would be a heap one), else a new slice.
func (t *tx) scratchKey(prefix byte, id string) []byte {
	if t.b == nil {
		return appendIDKey(nil, prefix, id)
	}
	t.db.jkb = appendIDKey(t.db.jkb[:0], prefix, id)
	return t.db.jkb
}

// dueTime is the time of a due index key.
func dueTime(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k[1:9]) ^ (1 << 63))
}

// getJob reads job id, with its claim, as the transaction sees it (nil
// when absent).
func (t *tx) getJob(id string) (*job, error) {
	k := t.scratchKey(jobPrefix, id)
	if t.b != nil && !t.db.keys.mayHold(k) {
		return nil, nil // a new job (Enqueue's): the key filter knows every job
	}
	r, err := t.reader()
	if err != nil {
		return nil, err
	}
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pebble: get job %s: %w", id, err)
	}
	j, err := decodeJob(v)
	closer.Close()
	if err != nil {
		return nil, fmt.Errorf("pebble: job %s: %w", id, err)
	}
	if _, err := t.getClaim(id, j); err != nil {
		return nil, err
	}
	return j, nil
}

// putJob writes job id, unclaimed (j has no owner), moving its due index
// entry from what old had (nil: a new job) and deleting old's claim.
func (t *tx) putJob(id string, old, j *job) error {
	if t.b == nil {
		return errReadOnly
	}
	if j.owner != "" {
		return fmt.Errorf("pebble: write job %s: a claimed job is written by claimJob", id)
	}
	if err := t.unindex(id, old); err != nil {
		return err
	}
	if err := t.unclaim(id, old); err != nil {
		return err
	}
	var buf [keyBuf]byte
	k := appendIDKey(buf[:0], jobPrefix, id)
	t.db.keys.add(k) // before the batch can be committed
	if err := t.b.Set(k, j.encode(), nil); err != nil {
		return fmt.Errorf("pebble: write job %s: %w", id, err)
	}
	return t.index(id, j)
}

// claimJob claims job id (old, not nil) for owner until until: it writes
// the claim's key and moves the job's due index entry, and leaves the
// job's record as it is.
func (t *tx) claimJob(id string, old *job, owner string, until int64) (*job, error) {
	if err := t.unindex(id, old); err != nil {
		return nil, err
	}
	j := *old
	j.owner, j.claimUntil, j.claimKeyed = owner, until, true
	var buf [keyBuf]byte
	k := appendIDKey(buf[:0], claimPrefix, id)
	t.db.keys.add(k) // before the batch can be committed
	if err := t.b.Set(k, encodeClaim(&j), nil); err != nil {
		return nil, fmt.Errorf("pebble: claim job %s: %w", id, err)
	}
	return &j, t.index(id, &j)
}

// index writes j's due index entry, if it has one.
func (t *tx) index(id string, j *job) error {
	if at, ok := j.claimable(); ok {
		t.db.due.lower(at) // before the batch can be committed
		var buf [keyBuf]byte
		if err := t.b.Set(appendDueKey(buf[:0], at, id), nil, nil); err != nil {
			return fmt.Errorf("pebble: index job %s: %w", id, err)
		}
	}
	return nil
}

// unclaim deletes old's claim key, if it has one.
func (t *tx) unclaim(id string, old *job) error {
	if old == nil || !old.claimKeyed {
		return nil
	}
	var buf [keyBuf]byte
	if err := t.b.Delete(appendIDKey(buf[:0], claimPrefix, id), nil); err != nil {
		return fmt.Errorf("pebble: unclaim job %s: %w", id, err)
	}
	return nil
}

// unindex deletes old's due index entry, if it has one.
func (t *tx) unindex(id string, old *job) error {
	if old == nil {
		return nil
	}
	if at, ok := old.claimable(); ok {
		var buf [keyBuf]byte
		if err := t.b.Delete(appendDueKey(buf[:0], at, id), nil); err != nil {
			return fmt.Errorf("pebble: unindex job %s: %w", id, err)
		}
	}
	return nil
}

// deleteJob deletes job id (old, not nil), its claim and its due index
// entry.
func (t *tx) deleteJob(id string, old *job) error {
	if err := t.unindex(id, old); err != nil {
		return err
	}
	if err := t.unclaim(id, old); err != nil {
		return err
	}
	var buf [keyBuf]byte
	if err := t.b.Delete(appendIDKey(buf[:0], jobPrefix, id), nil); err != nil {
		return fmt.Errorf("pebble: delete job %s: %w", id, err)
	}
	return nil
}

func (t *tx) Enqueue(ctx context.Context, j store.Job) error {
	if t.b == nil {
		return errReadOnly
	}
	old, err := t.getJob(j.ID)
	if err != nil {
		return err
	}
	return t.putJob(j.ID, old, &job{kind: j.Kind, due: j.Due.UnixNano(), payload: j.Payload})
}

func (t *tx) CancelJob(ctx context.Context, id string) error {
	if t.b == nil {
		return errReadOnly
	}
	old, err := t.getJob(id)
	if err != nil || old == nil {
		return err
	}
	return t.deleteJob(id, old)
}

func (t *tx) FinishJob(ctx context.Context, id, owner string) error {
	if t.b == nil {
		return errReadOnly
	}
	// The claim gives the owner and the due index entry: the record (and
	// its payload) is not read. A job with no claim key (unclaimed, or
	// claimed by an older version) is read whole.
	var claimed job
	if ok, err := t.getClaim(id, &claimed); err != nil || ok {
		if err != nil {
			return err
		}
		if claimed.owner != owner {
			return store.ErrConflict
		}
		return t.deleteJob(id, &claimed)
	}
	old, err := t.getJob(id)
	if err != nil {
		return err
	}
	if old == nil || old.owner == "" || old.owner != owner {
		return store.ErrConflict
	}
	return t.deleteJob(id, old)
}

// Claim claims up to limit jobs claimable at now for owner: the first of
// the due index (by due time; a job whose claim expired, by the claim's
// end), returned in order of due time (and id), as SQLite's ORDER BY due
// returns them.
func (db *DB) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Claimed, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []store.Claimed
	err := db.Update(ctx, func(stx store.Tx) error {
		out = out[:0]
		t := stx.(*tx)
		r, err := t.reader()
		if err != nil {
			return fmt.Errorf("pebble: claim: %w", err)
		}
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: t.db.due.lowerBound(), UpperBound: dueKey(now.UnixNano()+1, "")})
		if err != nil {
			return fmt.Errorf("pebble: claim: %w", err)
		}
		var ids []string
		first := now.UnixNano() + 1 // no entry claimable at now: the first is later
		for ok := it.First(); ok && len(ids) < limit; ok = it.Next() {
			if len(ids) == 0 {
				first = dueTime(it.Key())
			}
			ids = append(ids, string(it.Key()[9:]))
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return fmt.Errorf("pebble: claim: %w", err)
		}
		t.db.due.raise(first)
		until := now.Add(lease).UnixNano()
		for _, id := range ids {
			old, err := t.getJob(id)
			if err != nil {
				return err
			}
			if old == nil {
				return fmt.Errorf("pebble: claim: the due index names job %s, which does not exist", id)
			}
			j, err := t.claimJob(id, old, owner, until)
			if err != nil {
				return err
			}
			out = append(out, store.Claimed{Job: store.Job{ID: id, Kind: j.kind, Due: time.Unix(0, j.due).UTC(), Payload: j.payload},
				Owner: owner, Attempts: j.attempts})
		}
		slices.SortStableFunc(out, func(a, b store.Claimed) int {
			if c := a.Due.Compare(b.Due); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		return nil
	})
	return out, err
}

// dueFloor is a time no entry of the due index is before (writer only):
// Claim reads the index from it, not from the index's first key, past
// the deleted entries of the jobs claimed and finished before it. A
// deleted entry stays in the database as a tombstone until a compaction
// drops it, and Claim's iterator steps over every one in its range: read
// from the index's first key, each claim stepped over every job claimed
// since the last compaction, more as a run goes on.
//
// It is unknown (every claim reads from the index's first key) until a
// claim has read the index; then it is the time of the first entry that
// claim found, or, when it found none, the time after the claim's.
// Every write of an entry before it lowers it, before the write's batch
// can be committed, so no committed entry is ever before it.
type dueFloor struct {
	at    int64
	known bool
}

// lower notes an entry written at at.
func (f *dueFloor) lower(at int64) {
	if f.known && at < f.at {
		f.at = at
	}
}

// raise notes that a claim found no entry before at (the time of the
// first it found, or the time after the claim's), when the floor is not
// already later: the entries before at were deleted.
func (f *dueFloor) raise(at int64) {
	if !f.known || at > f.at {
		f.at, f.known = at, true
	}
}

// lowerBound is the first key of the due index Claim reads.
func (f *dueFloor) lowerBound() []byte {
	if !f.known {
		return []byte{duePrefix}
	}
	return dueKey(f.at, "")
}

// NextDue returns the earliest time a job is claimable: the first entry of
// the due index.
func (db *DB) NextDue(ctx context.Context, now time.Time) (time.Time, bool, error) {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{duePrefix}, UpperBound: []byte{duePrefix + 1}})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("pebble: next due: %w", err)
	}
	var due int64
	found := it.First()
	if found {
		due = dueTime(it.Key())
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return time.Time{}, false, fmt.Errorf("pebble: next due: %w", err)
	}
	if !found {
		return time.Time{}, false, nil
	}
	return time.Unix(0, due).UTC(), true, nil
}

// Release returns a claimed job to the queue after a failure.
func (db *DB) Release(ctx context.Context, id, owner string, due time.Time, lastErr string) error {
	return db.settle(ctx, id, owner, due, lastErr, false)
}

// Park sets a claimed job aside after its last failure.
func (db *DB) Park(ctx context.Context, id, owner string, at time.Time, lastErr string) error {
	return db.settle(ctx, id, owner, at, lastErr, true)
}

// settle releases (or parks) job id if owner holds it: unclaimed, due at
// due, its attempts counted up by one and lastErr kept.
func (db *DB) settle(ctx context.Context, id, owner string, due time.Time, lastErr string, park bool) error {
	err := db.Update(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		old, err := t.getJob(id)
		if err != nil || old == nil || old.owner == "" || old.owner != owner {
			return err
		}
		j := *old
		j.owner, j.claimUntil, j.claimKeyed = "", 0, false
		j.due, j.attempts, j.lastError, j.parked = due.UnixNano(), j.attempts+1, store.JobError(lastErr), park
		return t.putJob(id, old, &j)
	})
	if err != nil {
		return fmt.Errorf("pebble: settle job %s: %w", id, err)
	}
	return nil
}

// ListJobs lists jobs in id order.
func (db *DB) ListJobs(ctx context.Context, after string, limit int) ([]store.JobStatus, error) {
	if limit <= 0 {
		return nil, nil
	}
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: append(jobKey(after), 0), UpperBound: []byte{jobPrefix + 1}})
	if err != nil {
		return nil, fmt.Errorf("pebble: list jobs: %w", err)
	}
	var out []store.JobStatus
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("pebble: list jobs: %w", err)
		}
		j, err := decodeJob(v)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("pebble: list jobs: %s: %w", it.Key()[1:], err)
		}
		out = append(out, store.JobStatus{ID: string(it.Key()[1:]), Kind: j.kind, Due: time.Unix(0, j.due).UTC(),
			Attempts: j.attempts, LastError: j.lastError, Parked: j.parked})
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("pebble: list jobs: %w", err)
	}
	return out, nil
}
