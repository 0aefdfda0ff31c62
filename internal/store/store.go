// Package store defines deskplane's storage interface: a transactional
// document store of JSON records in named tables, plus the durable job queue
// of the lifecycle engine. Two backends implement it: store/sqlite (the
// embedded default) and store/postgres (several nodes sharing one database).
//
// Every API call runs in one transaction (Update or View). Keys are strings
// whose prefixes group records (for example "ACCOUNT/REGION/ID"), so that a
// Scan by prefix lists one account's records in one region in key order.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
)

// ErrNotFound is returned by Get and Delete when the key does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrExists is returned by Create when the key already exists.
var ErrExists = errors.New("store: already exists")

// ErrConflict is returned when a transaction lost a race with another one and
// may be retried. Update retries it itself a few times before giving up.
var ErrConflict = errors.New("store: conflict")

// Store is a transactional record store.
type Store interface {
	// Update runs fn in a read-write transaction and commits it durably
	// (fsync) before returning nil. If fn returns an error, nothing is
	// written. fn may be called again when the backend reports a conflict.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction that sees one snapshot.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Get reads one committed record outside any transaction (a single
	// read is atomic by itself): the cheap path for reads that need no
	// snapshot across records. ErrNotFound when absent. The returned bytes
	// may be shared with other readers and must not be modified.
	Get(ctx context.Context, table, key string) ([]byte, error)
	// Close releases the backend.
	Close() error
}

// Tx is one transaction. Reads inside an Update lock what they read where the
// backend needs it (PostgreSQL: SELECT … FOR UPDATE), so concurrent updates
// of the same record serialize instead of losing one another's changes.
type Tx interface {
	// Get returns the record under table/key or ErrNotFound.
	Get(ctx context.Context, table, key string) ([]byte, error)
	// Put writes (creates or replaces) a record.
	Put(ctx context.Context, table, key string, value []byte) error
	// Create writes a new record or returns ErrExists.
	Create(ctx context.Context, table, key string, value []byte) error
	// Delete removes a record or returns ErrNotFound.
	Delete(ctx context.Context, table, key string) error
	// Scan calls fn for records of table whose key starts with prefix and is
	// greater than after, in key order, at most limit of them (0: no limit).
	// fn returning ErrStop ends the scan without error.
	Scan(ctx context.Context, table, prefix, after string, limit int, fn func(key string, value []byte) error) error
	// Count returns the number of records under prefix.
	Count(ctx context.Context, table, prefix string) (int, error)

	// GetMany returns the records of table under keys that exist (absent
	// keys are not in the map): one statement instead of one per key.
	GetMany(ctx context.Context, table string, keys []string) (map[string][]byte, error)
	// PutMany writes (creates or replaces) records of one table; of
	// records with the same key, the last is written.
	PutMany(ctx context.Context, table string, recs []KV) error
	// CreateMany creates the records of one table whose keys do not exist
	// yet and returns, in order, the keys that did (those records are left
	// as they were; of records with the same key, the first is created).
	CreateMany(ctx context.Context, table string, recs []KV) (existing []string, err error)

	// Enqueue adds a job, due at j.Due. A job with the same ID is replaced
	// (a parked one too): its attempts and last error start over.
	Enqueue(ctx context.Context, j Job) error
	// CancelJob deletes a job if it exists (no error when it does not).
	CancelJob(ctx context.Context, id string) error
	// FinishJob deletes a claimed job as part of the transaction that applies
	// its effect; it returns ErrConflict if the job is gone or claimed by
	// another owner, so the effect is rolled back and never applied twice.
	FinishJob(ctx context.Context, id, owner string) error
}

// TableLister is a Store that lists the tables holding records. The
// administration endpoints use it to digest the whole store (a test checks
// with it that refused requests change nothing).
type TableLister interface {
	// Tables returns the names of the tables that hold at least one
	// record, sorted.
	Tables(ctx context.Context) ([]string, error)
}

// KV is one record of a batch write.
type KV struct {
	Key   string
	Value []byte
}

// Dedupe returns recs with one record per key: the last of a key when last
// is true, else the first, in the order of first appearance. It returns
// recs itself when no key repeats.
func Dedupe(recs []KV, last bool) []KV {
	pos := make(map[string]int, len(recs))
	dup := false
	for i, r := range recs {
		if _, ok := pos[r.Key]; ok {
			dup = true
			if last {
				pos[r.Key] = i
			}
			continue
		}
		pos[r.Key] = i
	}
	if !dup {
		return recs
	}
	out := make([]KV, 0, len(pos))
	for _, r := range recs {
		if j, ok := pos[r.Key]; ok {
			out = append(out, recs[j])
			delete(pos, r.Key)
		}
	}
	return out
}

// Existing lists, in the order of recs, the keys CreateMany did not create:
// those not in created, and every repeat of a key.
func Existing(recs []KV, created map[string]bool) []string {
	var out []string
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if seen[r.Key] || !created[r.Key] {
			out = append(out, r.Key)
		}
		seen[r.Key] = true
	}
	return out
}

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("store: stop scan")

// Job is a durable unit of asynchronous work of the lifecycle engine.
type Job struct {
	ID      string    // unique; deterministic ids make enqueueing idempotent
	Kind    string    // handler name
	Due     time.Time // when it may run
	Payload []byte    // handler input (JSON)
}

// Claimed is a job claimed by one scheduler for a while.
type Claimed struct {
	Job
	Owner    string
	Attempts int // how many runs of the job failed before this claim
}

// JobStatus is a job as the job listing shows it.
type JobStatus struct {
	ID        string
	Kind      string
	Due       time.Time // when it runs next; for a parked job, when it was parked
	Attempts  int       // failed runs so far
	LastError string    // the last failure's error ("" before any)
	Parked    bool      // set aside after too many failures: never claimed again
}

// maxJobError bounds the length of a job's stored last error.
const maxJobError = 2048

// JobError is err's text as a job's last error: valid UTF-8 without NUL
// bytes (PostgreSQL text takes neither), at most 2 KiB.
func JobError(err string) string {
	if len(err) > maxJobError {
		err = err[:maxJobError]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(err, "\uFFFD"), "\x00", "\uFFFD")
}

// Queue is the scheduler's side of the job table. Claims expire, so a job
// claimed by a node that died is run again elsewhere.
type Queue interface {
	// Claim marks up to limit jobs due at or before now as owned by owner
	// until now+lease and returns them. Jobs whose earlier claim expired are
	// claimable again.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Claimed, error)
	// NextDue returns the earliest due time of unclaimed (or expired) jobs, or
	// false when there are none.
	NextDue(ctx context.Context, now time.Time) (time.Time, bool, error)
	// Release returns a job claimed by owner to the queue after a handler
	// failure: due at due, its attempts counted up by one and lastErr kept
	// as its last error. It does nothing if owner no longer holds the claim.
	Release(ctx context.Context, id, owner string, due time.Time, lastErr string) error
	// Park sets a job claimed by owner aside after its last failure (at):
	// its attempts counted up by one and lastErr kept, it is never claimed
	// again (nor counted by NextDue) until it is enqueued anew. It does
	// nothing if owner no longer holds the claim.
	Park(ctx context.Context, id, owner string, at time.Time, lastErr string) error
	// ListJobs lists jobs, pending and parked, in id order: up to limit of
	// those whose id is greater than after.
	ListJobs(ctx context.Context, after string, limit int) ([]JobStatus, error)
}

// Backend is a Store that also serves the job queue and shared settings.
type Backend interface {
	Store
	Queue
}

// GetJSON reads and decodes a record.
func GetJSON[T any](ctx context.Context, tx Tx, table, key string) (*T, error) {
	b, err := tx.Get(ctx, table, key)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := DecodeJSON(b, v); err != nil {
		return nil, fmt.Errorf("store: decode %s/%s: %w", table, key, err)
	}
	return v, nil
}

// DecodeJSON decodes a stored record into v. Records are JSON that this
// program wrote (encoding/json or a record's AppendJSON, byte for byte the
// same); github.com/goccy/go-json decodes them into the same values as
// encoding/json does (held by a test over random records) four to five
// times faster, and reading records is a good part of every request.
//
// A record type that reads more than one stored form decodes itself: when
// v is a RecordDecoder, its DecodeRecord is called on b instead.
func DecodeJSON(b []byte, v any) error {
	if d, ok := v.(RecordDecoder); ok {
		return d.DecodeRecord(b)
	}
	return gojson.Unmarshal(b, v)
}

// RecordDecoder is a record that decodes its stored bytes itself (a record
// stored in more than one form over the program's versions). DecodeRecord
// must refuse what is not one whole record, as DecodeJSON does.
type RecordDecoder interface {
	DecodeRecord(b []byte) error
}

// JSONAppender is a record that encodes itself: AppendJSON appends the bytes
// encoding/json would write for it, faster. PutJSON and CreateJSON use it
// when the record has it.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// EncodeJSON encodes a record for storage, with its AppendJSON when it has
// one, else with encoding/json. An appender encodes into a pooled scratch
// buffer and the result is copied out at its size: the bytes are kept (the
// store's read cache holds what was written), so a buffer allocated at a
// guessed size would either be copied again to fit or hold its slack.
func EncodeJSON(v any) ([]byte, error) {
	if a, ok := v.(JSONAppender); ok {
		bp := encodeBufs.Get().(*[]byte)
		b, err := a.AppendJSON((*bp)[:0])
		var out []byte
		if err == nil {
			out = append(make([]byte, 0, len(b)), b...)
		}
		if cap(b) <= maxPooledEncode {
			*bp = b
			encodeBufs.Put(bp)
		}
		return out, err
	}
	return json.Marshal(v)
}

// maxPooledEncode is the largest scratch buffer EncodeJSON keeps.
const maxPooledEncode = 64 << 10

// encodeBufs are EncodeJSON's scratch buffers.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// PutJSON encodes and writes a record.
func PutJSON(ctx context.Context, tx Tx, table, key string, v any) error {
	b, err := EncodeJSON(v)
	if err != nil {
		return fmt.Errorf("store: encode %s/%s: %w", table, key, err)
	}
	return tx.Put(ctx, table, key, b)
}

// CreateJSON encodes and creates a record (ErrExists if present).
func CreateJSON(ctx context.Context, tx Tx, table, key string, v any) error {
	b, err := EncodeJSON(v)
	if err != nil {
		return fmt.Errorf("store: encode %s/%s: %w", table, key, err)
	}
	return tx.Create(ctx, table, key, b)
}

// ScanJSON decodes each record of a Scan.
func ScanJSON[T any](ctx context.Context, tx Tx, table, prefix, after string, limit int, fn func(key string, v *T) error) error {
	return tx.Scan(ctx, table, prefix, after, limit, func(k string, b []byte) error {
		v := new(T)
		if err := DecodeJSON(b, v); err != nil {
			return fmt.Errorf("store: decode %s/%s: %w", table, k, err)
		}
		return fn(k, v)
	})
}

// PrefixEnd returns the smallest string greater than every string with
// prefix p in byte order, or false when there is none (p is empty or all
// 0xff bytes): a scan of prefix p is the key range [p, PrefixEnd(p)).
func PrefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
