// Package cloudtrail is AWS CloudTrail for deskplane: the gateway's auditor,
// which turns every API call (allowed or denied, by a user, a role session or
// a service on a customer's behalf) into a CloudTrail event record, stores it
// durably so LookupEvents answers on every node, and appends it to a
// size-rotated JSON-lines file; and the LookupEvents API.
//
// Recording is asynchronous so that the request hot path only pays for a
// channel send: a bounded channel feeds one writer goroutine that commits
// events in batches, one store transaction per batch. A full channel blocks
// callers (back-pressure) rather than dropping events. Close and Flush drain
// the channel. The loss window on kill -9 is the events still in the channel
// or in the batch being committed — normally well under a few milliseconds of
// traffic; everything LookupEvents has returned is durable.
package cloudtrail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/golang/snappy"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/jsonenc"
	"github.com/deskplane/deskplane/internal/safego"
	"github.com/deskplane/deskplane/internal/store"
)

// snappyMark starts a segment compressed with Snappy (block format); an
// uncompressed segment is a JSON array and starts with '['.
const snappyMark = 's'

// compressSegment compresses a segment's JSON: its events repeat the same
// identities, sources and field names, so Snappy shrinks it several times
// over for about a microsecond per event, and the store writes (and later
// checkpoints) that much less.
func compressSegment(js []byte) []byte {
	return appendCompressed(nil, js)
}

// appendCompressed appends the compressed segment of js to dst.
func appendCompressed(dst, js []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 1+snappy.MaxEncodedLen(len(js)))
	dst = append(dst, snappyMark)
	c := snappy.Encode(dst[n+1:cap(dst)], js)
	return dst[:n+1+len(c)]
}

// decodeSegment reads a stored segment, compressed or not.
func decodeSegment(b []byte) ([]*stored, error) {
	if len(b) > 0 && (b[0] == snappyMark || b[0] == templatedMark) {
		js, err := snappy.Decode(nil, b[1:])
		if err != nil {
			return nil, err
		}
		if b[0] == templatedMark {
			if js, err = decodeTemplated(js); err != nil {
				return nil, err
			}
		}
		b = js
	}
	var evs []*stored
	err := json.Unmarshal(b, &evs)
	return evs, err
}

// tEvents holds stored events under ACCOUNT/REGION/INVTIME/EVENTID, where
// INVTIME is (MaxInt64 - unix nanoseconds) zero-padded, so a key-order scan
// lists the newest events first.
const tEvents = "cloudtrail_events"

// Options configure the trail.
type Options struct {
	Store store.Store
	// Dir is where events.jsonl is written ("" = no file).
	Dir string
	// MaxFileBytes rotates the file at this size (default 64 MiB).
	MaxFileBytes int64
	// KeepFiles is how many rotated files are kept (default 5).
	KeepFiles int
	// Buffer is the channel capacity (default 16384).
	Buffer int
	// MaxBatch bounds the events committed in one transaction (default 2048).
	MaxBatch int
	Log      *slog.Logger
	// linger replaces the writer's linger (tests; 0: linger).
	linger time.Duration
}

// Trail is the auditor and the CloudTrail service.
type Trail struct {
	store    store.Store
	log      *slog.Logger
	ch       chan *gateway.Event
	flush    chan chan struct{}
	nudge    chan struct{} // Record's and Close's, to end the writer's linger early
	nudgeAt  int           // the queue's length past which Record nudges
	linger   time.Duration
	done     chan struct{}
	mu       sync.RWMutex
	closed   bool
	maxBatch int
	file     *rotatingFile
	svc      *gateway.Service
	svcSDK   *gateway.Service

	// The writer's buffers, reused from batch to batch (only the writer
	// goroutine touches them): arena holds the batch's encoded events
	// (rows point into it), tenc a segment's templated stream, snap its
	// compressed form before it is copied out at its size.
	arena, snap []byte
	// eventBytes is what an event of the last batch took in the arena,
	// with an eighth to spare: the arena is sized for a batch before it
	// is built, instead of grown (and copied) as it fills.
	eventBytes int
	tenc       templateEncoder
	rows       []row
	lines      [][]byte
	segments   map[string]int // a batch's segment prefixes: their index in segRows
	segRows    [][]*row
	recs       []store.KV // a batch's segments, as stored
	// The writer's caches: the userIdentity JSON of the callers seen
	// (principals are immutable; the authenticator hands out one per
	// access key) and the eventTime of the last second.
	idents   map[identKey][]byte
	lastSec  int64
	lastTime string
	// shapes are the stored JSON of the last event of each shape seen
	// (see shape); shapeBuf holds a shape's key while it is looked up.
	shapes    map[string]*shape
	shapeBuf  []byte
	paramBuf  []byte     // an event's request parameters while its shape is looked up, and while its row is built
	respBuf   []byte     // an event's response elements while its row is built
	rnd       [1024]byte // random bytes for the next event ids (64): the last rndLeft
	rndLeft   int
	idBuf     []byte        // a shaped event's new id
	noShapes  bool          // tests: build every event field by field
	touched   byte          // what touch read (kept, so that its reads are made)
	shapeHits int           // events built from a shape
	ids       func() string // tests: the event ids (nil: ids.UUID)
}

// newID returns a new event id.
func (t *Trail) newID() string {
	if t.ids != nil {
		return t.ids()
	}
	return ids.UUID()
}

// appendNewID appends a new event id (a version 4 UUID, as ids.UUID
// makes) to b, without a string of its own; raw is its 16 bytes, when ok
// (a test's ids are appended as they are, ok false).
func (t *Trail) appendNewID(b []byte, raw *[16]byte) (_ []byte, ok bool) {
	if t.ids != nil {
		return append(b, t.ids()...), false
	}
	// The random bytes are read from crypto/rand for many ids at once: a
	// read is a system call, and most of an id's cost when made per id.
	if t.rndLeft < 16 {
		rand.Read(t.rnd[:])
		t.rndLeft = len(t.rnd)
	}
	at := len(t.rnd) - t.rndLeft
	var u [16]byte
	copy(u[:], t.rnd[at:])
	clear(t.rnd[at : at+16]) // an id's bytes are not kept once used
	t.rndLeft -= 16
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	*raw = u
	return appendUUID(b, u[:]), true
}

// identKey is a caller as its userIdentity depends on it.
type identKey struct {
	p         *gateway.Principal
	invokedBy string
}

// maxIdents bounds the writer's userIdentity cache; past it, it is emptied.
const maxIdents = 1024

// identityJSON returns userIdentity's JSON for the caller.
func (t *Trail) identityJSON(p *gateway.Principal, invokedBy string) []byte {
	k := identKey{p, invokedBy}
	if b, ok := t.idents[k]; ok {
		return b
	}
	b := appendIdentity(nil, identity(p, invokedBy))
	if t.idents == nil || len(t.idents) >= maxIdents {
		t.idents = make(map[identKey][]byte)
	}
	t.idents[k] = b
	return b
}

// eventTime formats the record's eventTime (whole seconds, UTC), once per
// second.
func (t *Trail) eventTime(at time.Time) string {
	sec := at.Unix()
	if t.lastTime == "" || sec != t.lastSec {
		t.lastSec, t.lastTime = sec, at.UTC().Format(isoSeconds)
	}
	return t.lastTime
}

// maxKeptBuffer is the largest writer buffer kept for the next batch.
const maxKeptBuffer = 4 << 20

var _ gateway.Auditor = (*Trail)(nil)

// New starts the trail's writer.
func New(o Options) (*Trail, error) {
	if o.Buffer <= 0 {
		o.Buffer = 16384
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 2048
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	t := &Trail{store: o.Store, log: o.Log, ch: make(chan *gateway.Event, o.Buffer), flush: make(chan chan struct{}),
		done: make(chan struct{}), maxBatch: o.MaxBatch, nudge: make(chan struct{}, 1), nudgeAt: max(1, o.Buffer/2), linger: linger}
	if o.linger > 0 {
		t.linger = o.linger
	}
	if o.Dir != "" {
		f, err := openRotating(filepath.Join(o.Dir, "events.jsonl"), o.MaxFileBytes, o.KeepFiles)
		if err != nil {
			return nil, err
		}
		t.file = f
	}
	t.svc = &gateway.Service{Name: "cloudtrail", ActionPrefix: "cloudtrail", EventSource: "cloudtrail.amazonaws.com",
		Protocol: gateway.JSON, TargetPrefix: "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101", ValidationCode: "ValidationException"}
	t.register()
	// aws-sdk-go-v2 sends X-Amz-Target "CloudTrail_20131101.<Op>" while
	// botocore sends the fully qualified prefix; the gateway keys services by
	// one prefix, so the table is registered under both (same operations).
	sdk := *t.svc
	sdk.TargetPrefix = "CloudTrail_20131101"
	t.svcSDK = &sdk
	// The writer outlives every request: a panic in it is logged and the
	// writer goes on (commit and build recover per batch and per event;
	// safego.Go restarts the loop itself).
	safego.Go(context.Background(), t.log, "cloudtrail writer", func(context.Context) { t.run() }, func() { close(t.done) })
	return t, nil
}

// Services implements server.Module.
func (t *Trail) Services() []*gateway.Service { return []*gateway.Service{t.svcSDK, t.svc} }

// Seed implements server.Module (nothing to seed).
func (t *Trail) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	return nil
}

// Record implements gateway.Auditor: it queues the event for the writer.
// It blocks only when the writer is behind by a full buffer. The event is
// the trail's from then on: it drops what its record does not use (a
// read's Response).
func (t *Trail) Record(ctx context.Context, e *gateway.Event) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return
	}
	if e.ReadOnly {
		// A read's record has no responseElements: the queued event does
		// not keep its response (a page of desktops) alive until written.
		e.Response = nil
	}
	t.ch <- e
	if len(t.ch) >= t.nudgeAt {
		// The writer takes the queue now, not at the end of its linger.
		select {
		case t.nudge <- struct{}{}:
		default:
		}
	}
}

// Flush waits until every event recorded before the call is committed.
func (t *Trail) Flush(ctx context.Context) error {
	t.mu.RLock()
	if t.closed {
		t.mu.RUnlock()
		return nil
	}
	reply := make(chan struct{})
	select {
	case t.flush <- reply:
	case <-ctx.Done():
		t.mu.RUnlock()
		return ctx.Err()
	}
	t.mu.RUnlock()
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close drains and commits the queued events and closes the file. Call it
// before closing the store.
func (t *Trail) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.done
		return nil
	}
	t.closed = true
	close(t.ch)
	select {
	case t.nudge <- struct{}{}:
	default:
	}
	t.mu.Unlock()
	<-t.done
	if t.file != nil {
		return t.file.Close()
	}
	return nil
}

// linger is how long the writer waits for more events before it commits a
// small batch: one commit (and one sync) then carries many events. Flush
// cuts it short, so LookupEvents never waits for it.
const linger = 5 * time.Millisecond

func (t *Trail) run() {
	batch := make([]*gateway.Event, 0, t.maxBatch)
	timer := time.NewTimer(t.linger)
	defer timer.Stop()
	for {
		var reply chan struct{}
		select {
		case e, ok := <-t.ch:
			if !ok {
				return
			}
			batch = append(batch, e)
			// Let more gather for a moment, unless a flush is asked for:
			// they wait in the channel, taken all at once below, rather
			// than each waking the writer (a select and a goroutine's
			// wake-up per event). Record nudges the writer when the
			// channel is half full, and Close when it closes it.
			timer.Reset(t.linger)
			select {
			case reply = <-t.flush:
			case <-timer.C:
			case <-t.nudge:
			}
		case reply = <-t.flush:
		}
		// Take what is already queued (all of it when a flush waits).
	drain:
		for len(batch) < t.maxBatch || reply != nil {
			select {
			case e, ok := <-t.ch:
				if !ok {
					t.commit(batch)
					if reply != nil {
						close(reply)
					}
					return
				}
				batch = append(batch, e)
				if len(batch) >= t.maxBatch {
					t.commit(batch)
					batch = batch[:0]
				}
			default:
				break drain
			}
		}
		t.commit(batch)
		batch = batch[:0]
		if reply != nil {
			close(reply)
		}
	}
}

// stored is an event as kept in the store.
type stored struct {
	EventID     string        `json:"id"`
	EventName   string        `json:"name"`
	EventSource string        `json:"src"`
	Username    string        `json:"user,omitempty"`
	AccessKeyID string        `json:"akid,omitempty"`
	ReadOnly    bool          `json:"ro"`
	Time        time.Time     `json:"t"`
	Resources   []RecResource `json:"res,omitempty"`
	// Record is the event record's JSON, embedded as it is (segments
	// written before this field became raw JSON hold it as a string).
	Record json.RawMessage `json:"rec"`
	Key    string          `json:"k"` // ACCOUNT/REGION/INVTIME/EVENTID: newest first in key order
}

type row struct {
	// key is the stored key (in the batch's arena); eventID is its end.
	key, eventID []byte
	time         time.Time // the event's time
	requestID    string
	holes        [holeCount]int // where the templated holes' values start in enc
	rec          int            // where the record (line) starts in enc
	shape        *shape         // the shape it was built from (nil: field by field)
	eid          [16]byte       // when eidOK, the bytes eventID was written from
	eidOK        bool
	line         []byte // the record, a line of the events file
	enc          []byte // the stored event's JSON
}

// commit stores a batch of events as one segment per account and region:
// a single record holding the segment's events newest first, keyed by its
// newest event. One row per batch instead of one per event keeps the audit
// trail cheap on the hot path (a read call costs no row insert of its own).
//
// A panic while committing (a bug) is logged with its stack and loses only
// this batch: the writer goes on with the next one.
func (t *Trail) commit(batch []*gateway.Event) {
	if len(batch) == 0 {
		return
	}
	safego.Call(t.log, "cloudtrail: commit events", func() { t.commitBatch(batch) })
}

func (t *Trail) commitBatch(batch []*gateway.Event) {
	defer t.reuse()
	if want := len(batch) * t.eventBytes; cap(t.arena) < want {
		t.arena = make([]byte, 0, want)
	}
	t.touch(batch)
	rows := t.rows[:0]
	for _, e := range batch {
		rows = t.buildSafe(rows, e)
	}
	t.rows = rows
	if per := len(t.arena) / len(batch); per > 0 {
		t.eventBytes = per + per/8
	}
	if t.store != nil {
		if t.segments == nil {
			t.segments = map[string]int{}
		}
		// A batch's rows by segment (ACCOUNT/REGION/), the prefixes
		// looked up by the key's bytes: a prefix is made a string once
		// per batch.
		for i := range rows {
			p := segmentPrefix(rows[i].key)
			j, ok := t.segments[string(p)]
			if !ok {
				j = len(t.segRows)
				t.segments[string(p)] = j
				t.segRows = append(t.segRows, nil)
			}
			t.segRows[j] = append(t.segRows[j], &rows[i])
		}
		// The segments are encoded before the update, on this goroutine:
		// the store's writer, which on the embedded Pebble store commits
		// the API's updates too, only writes them.
		recs := t.recs[:0]
		for _, evs := range t.segRows {
			sortRows(evs)
			// A segment spans at most segmentSlack (lookups rely on it):
			// cut the batch where an event is older than that.
			for len(evs) > 0 {
				n := 1
				for n < len(evs) && evs[0].time.Sub(evs[n].time) <= segmentSlack {
					n++
				}
				// Encoded into a reused buffer and copied out at its size.
				t.snap = t.tenc.appendSegment(t.snap[:0], evs[:n])
				recs = append(recs, store.KV{Key: string(evs[0].key), Value: bytes.Clone(t.snap)})
				evs = evs[n:]
			}
		}
		t.recs = recs
		// Uncached: a segment is read back only by LookupEvents (in a
		// snapshot, from the database); in the store's read cache it
		// would take the room of the records read again and again.
		ctx := store.Uncached(context.Background())
		err := t.store.Update(ctx, func(tx store.Tx) error {
			return tx.PutMany(ctx, tEvents, recs)
		})
		if err != nil {
			t.log.Error("cloudtrail: store events", "events", len(rows), "err", err)
		}
	}
	if t.file != nil {
		lines := t.lines[:0]
		for _, r := range rows {
			lines = append(lines, r.line)
		}
		t.lines = lines
		if err := t.file.WriteLines(lines); err != nil {
			t.log.Error("cloudtrail: write events file", "err", err)
		}
	}
}

// touch reads, for every event of the batch, a byte of what building it
// reads first: the event's fields, its request id, user agent, operation
// and source address, its input and resources. The requests' goroutines
// wrote them on other cores, so each of these reads misses the cache;
// made one after another while each event is built, they wait one at a
// time, while here, independent of one another, they are waited for
// together.
func (t *Trail) touch(batch []*gateway.Event) {
	var x byte
	first := func(s string) byte {
		if s == "" {
			return 0
		}
		return s[0]
	}
	last := func(s string) byte {
		if s == "" {
			return 0
		}
		return s[len(s)-1]
	}
	for _, e := range batch {
		// The request id's last byte too: its 36 bytes may cross a line.
		x ^= first(e.RequestID) ^ last(e.RequestID) ^ first(e.UserAgent) ^ first(e.Operation) ^ first(e.SourceIP) ^ first(e.ErrorCode)
		if e.AdditionalData != nil || e.Request != nil || len(e.Resources) > 0 && e.Resources[0].Resource != "" {
			x++
		}
	}
	t.touched = x
}

// sortRows sorts a segment's rows by key: newest first.
func sortRows(rs []*row) {
	slices.SortFunc(rs, func(x, y *row) int { return bytes.Compare(x.key, y.key) })
}

// reuse readies the writer's buffers for the next batch, letting go of
// what the batch held and of buffers grown past maxKeptBuffer.
func (t *Trail) reuse() {
	clear(t.rows)
	t.rows = t.rows[:0]
	clear(t.lines)
	t.lines = t.lines[:0]
	clear(t.segments)
	clear(t.recs)
	t.recs = t.recs[:0]
	for i, v := range t.segRows {
		clear(v)
		t.segRows[i] = v[:0]
	}
	t.segRows = t.segRows[:0]
	t.arena = keep(t.arena)
	t.snap = keep(t.snap)
	t.paramBuf = keep(t.paramBuf)
	t.respBuf = keep(t.respBuf)
	t.tenc.stream = keep(t.tenc.stream)
	t.tenc.holed = keep(t.tenc.holed)
	t.tenc.key = keep(t.tenc.key)
	t.tenc.scratch = keep(t.tenc.scratch)
	if len(t.tenc.templates) > 64 {
		t.tenc.templates = nil // a batch of many shapes: its keys go too
	} else {
		clear(t.tenc.templates)
	}
}

// keep returns b emptied, or nil when its array is larger than is kept.
func keep(b []byte) []byte {
	if cap(b) > maxKeptBuffer {
		return nil
	}
	return b[:0]
}

// segmentPrefix is the ACCOUNT/REGION/ part of an event key.
func segmentPrefix(k []byte) []byte {
	i := bytes.IndexByte(k, '/')
	if i < 0 {
		return k
	}
	j := bytes.IndexByte(k[i+1:], '/')
	if j < 0 {
		return k
	}
	return k[:i+1+j+1]
}

func invTime(t time.Time) string { return string(appendInvTime(nil, t)) }

// appendInvTime appends invTime(t).
func appendInvTime(dst []byte, t time.Time) []byte {
	var b [19]byte
	v := uint64(int64(^uint64(0)>>1) - t.UnixNano())
	if int64(v) < 0 {
		return fmt.Appendf(dst, "%019d", int64(v)) // before 1970: keep the old form
	}
	// Two digits per division, from the end: nine pairs, then the first
	// digit (v < 2^63 has at most 19).
	const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
		"8081828384858687888990919293949596979899"
	for i := len(b); i > 1; i -= 2 {
		q := v / 100
		r := v - q*100
		b[i-2], b[i-1] = pairs[2*r], pairs[2*r+1]
		v = q
	}
	b[0] = byte('0' + v)
	return append(dst, b[:]...)
}

// testHookBuild, when set (by tests), is called with every event built.
var testHookBuild func(e *gateway.Event)

// buildSafe builds an event's rows. If that panics (a bug in formatting what
// a request carried), the panic is logged and the event is kept without
// the parts that came from the request (parameters, response, resources,
// additional data); if even that fails, the event is dropped.
func (t *Trail) buildSafe(rows []row, e *gateway.Event) []row {
	n := len(rows)
	if !safego.Call(t.log, "cloudtrail: build event", func() { rows = t.appendRows(rows, e) }) {
		return rows
	}
	rows = rows[:n]
	bare := *e
	bare.Request, bare.Response, bare.Resources, bare.AdditionalData = nil, nil, nil, nil
	if safego.Call(t.log, "cloudtrail: build bare event", func() { rows = t.appendRows(rows, &bare) }) {
		t.log.Error("cloudtrail: event dropped", "operation", e.Operation, "request_id", e.RequestID)
		return rows[:n]
	}
	return rows
}

// build turns a gateway event into stored rows: one in the caller's account
// and, for resources of other accounts, a copy in each (sharedEventID).
func (t *Trail) build(e *gateway.Event) []row { return t.appendRows(nil, e) }

// appendRows appends the rows of the event (build) to rows.
func (t *Trail) appendRows(rows []row, e *gateway.Event) []row {
	if testHookBuild != nil {
		testHookBuild(e)
	}
	// The request parameters are rendered into the writer's buffer and
	// copied out only for an event built field by field: one of a shape
	// the writer has seen is built from it, and needs them only in its
	// shape's key.
	pb, hasParams := appendParams(t.paramBuf[:0], e.Request)
	t.paramBuf = pb
	var reqParams []byte
	if hasParams {
		reqParams = pb
	}
	key, shaped := shapeKey(t.shapeBuf[:0], e, reqParams)
	t.shapeBuf = key
	if shaped && !t.noShapes {
		if r, ok := t.fromShape(key, e); ok {
			return append(rows, r)
		}
	}
	// The parameters stay in paramBuf, and the response elements go to
	// respBuf: the row copies both into the batch's arena, and nothing
	// keeps them past this call.
	rec := &Record{EventVersion: EventVersion, identityJSON: t.identityJSON(e.Principal, e.InvokedBy),
		EventTime: t.eventTime(e.Time), EventSource: e.Service.EventSource, EventName: e.Operation,
		AWSRegion: e.Region, SourceIPAddress: e.SourceIP, UserAgent: clip(e.UserAgent, 1024),
		ErrorCode: e.ErrorCode, ErrorMessage: clip(e.ErrorMessage, 1024), RequestID: e.RequestID, EventID: t.newID(),
		ReadOnly: e.ReadOnly, EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: e.Account, EventCategory: "Management"}
	rec.RequestParameters = reqParams
	if !e.ReadOnly && e.ErrorCode == "" {
		rb, ok := appendParams(t.respBuf[:0], e.Response)
		t.respBuf = rb
		if ok {
			rec.ResponseElements = rb
		}
	}
	// A call names a few resources: they are told apart by a scan, and by
	// a map only when there are many.
	var seen map[string]bool
	if len(e.Resources) > 16 {
		seen = map[string]bool{}
	}
	addRes := func(arn, account string) {
		if arn == "" || arn == "*" {
			return
		}
		if seen != nil {
			if seen[arn] {
				return
			}
			seen[arn] = true
		} else {
			for i := range rec.Resources {
				if rec.Resources[i].ARN == arn {
					return
				}
			}
		}
		if account == "" {
			account = e.Account
		}
		rec.Resources = append(rec.Resources, RecResource{ARN: arn, AccountID: account, Type: resourceType(arn)})
	}
	for k, v := range e.AdditionalData {
		if rec.AdditionalEventData == nil {
			rec.AdditionalEventData = map[string]any{}
		}
		rec.AdditionalEventData[k] = v
	}
	for _, c := range e.Resources {
		addRes(c.Resource, c.ResourceAccount)
	}
	var accts []string
	for _, r := range rec.Resources {
		if r.AccountID != e.Account && !slices.Contains(accts, r.AccountID) {
			accts = append(accts, r.AccountID)
		}
	}
	if len(accts) > 0 {
		rec.SharedEventID = t.newID()
	}
	rows = append(rows, t.row(e, rec))
	if shaped && !t.noShapes && len(accts) == 0 {
		// (An oversized record, its parameters dropped, is over
		// maxTemplated: remember keeps no shape of it.)
		t.remember(t.shapeBuf, e, &rows[len(rows)-1])
	}
	sort.Strings(accts)
	for _, a := range accts {
		cp := *rec
		cp.EventID, cp.RecipientAccountID = t.newID(), a
		rows = append(rows, t.row(e, &cp))
	}
	return rows
}

func (t *Trail) row(e *gateway.Event, rec *Record) row {
	st := stored{EventID: rec.EventID, EventName: rec.EventName, EventSource: rec.EventSource, Username: username(e.Principal),
		ReadOnly: rec.ReadOnly, Time: e.Time, Resources: rec.Resources}
	if e.Principal != nil {
		st.AccessKeyID = e.Principal.AccessKeyID
	}
	// The key is built in a stack buffer: one allocation, its string.
	var kb [160]byte
	k := append(kb[:0], rec.RecipientAccountID...)
	k = append(k, '/')
	k = append(k, rec.AWSRegion...)
	k = append(k, '/')
	k = appendInvTime(k, e.Time)
	k = append(k, '/')
	k = append(k, rec.EventID...)
	st.Key = string(k)
	// The row's key (and its event id, the key's end) in the arena.
	kat := len(t.arena)
	t.arena = append(t.arena, k...)
	key := t.arena[kat:len(t.arena):len(t.arena)]
	// The batch's arena holds the stored event; the record inside it is
	// also the line of the events file. Rows keep slices of the arena's
	// array (an array it outgrows stays theirs), until the batch is done.
	// Where the values a templated segment leaves out start (see
	// templatedMark), noted as they are written.
	head := len(t.arena)
	var hd, rd [3]int
	b := st.appendHead(t.arena, &hd)
	start := len(b)
	b = appendRecordAt(b, rec, &rd)
	if len(b)-start > 256<<10 {
		// An oversized record: keep the event, drop the bulky parts as
		// CloudTrail does past its limits.
		rec.RequestParameters, rec.ResponseElements, rec.AdditionalEventData = nil, nil, nil
		b = appendRecordAt(b[:start], rec, &rd)
	}
	var holes [holeCount]int
	for i := range 3 {
		holes[i], holes[3+i] = hd[i]-head, rd[i]-head
	}
	// The key's hole is its part after the account and region.
	holes[2] += len(rec.RecipientAccountID) + 1 + len(rec.AWSRegion) + 1
	st.Record = b[start:len(b):len(b)]
	b = append(b, '}')
	t.arena = b
	return row{key: key, time: e.Time, eventID: key[len(key)-len(rec.EventID):], requestID: rec.RequestID, holes: holes, rec: start - head, line: st.Record, enc: b[head:len(b):len(b)]}
}

// appendHead appends the stored event's JSON up to its record's value,
// noting in at, when it is not nil, where the values of id, t and k start.
func (s *stored) appendHead(b []byte, at *[3]int) []byte {
	var pos [3]int
	defer func() {
		if at != nil {
			*at = pos
		}
	}()
	b = append(b, `{"id":`...)
	pos[0] = len(b) + 1
	b = jsonenc.String(b, s.EventID)
	b = append(b, `,"name":`...)
	b = jsonenc.String(b, s.EventName)
	b = append(b, `,"src":`...)
	b = jsonenc.String(b, s.EventSource)
	if s.Username != "" {
		b = append(b, `,"user":`...)
		b = jsonenc.String(b, s.Username)
	}
	if s.AccessKeyID != "" {
		b = append(b, `,"akid":`...)
		b = jsonenc.String(b, s.AccessKeyID)
	}
	b = append(b, `,"ro":`...)
	b = strconv.AppendBool(b, s.ReadOnly)
	b = append(b, `,"t":"`...)
	pos[1] = len(b)
	b = appendRFC3339Nano(b, s.Time)
	b = append(b, '"')
	if len(s.Resources) > 0 {
		b = append(b, `,"res":`...)
		b = appendResources(b, s.Resources)
	}
	b = append(b, `,"k":`...)
	pos[2] = len(b) + 1
	b = jsonenc.String(b, s.Key)
	return append(b, `,"rec":`...)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// rotatingFile appends lines to a file and rotates it by size.
type rotatingFile struct {
	path string
	max  int64
	keep int
	f    *os.File
	size int64
	buf  bytes.Buffer // WriteLines' buffer, reused
}

func openRotating(path string, max int64, keep int) (*rotatingFile, error) {
	if max <= 0 {
		max = 64 << 20
	}
	if keep <= 0 {
		keep = 5
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cloudtrail: create dir: %w", err)
	}
	r := &rotatingFile{path: path, max: max, keep: keep}
	return r, r.open()
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cloudtrail: open events file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends one line, rotating first when it would exceed the size.
// WriteLines appends lines with as few writes as it can: one per file,
// rotating between lines when the next one would not fit.
func (r *rotatingFile) WriteLines(lines [][]byte) error {
	buf := &r.buf
	buf.Reset()
	defer func() {
		if buf.Cap() > maxKeptBuffer {
			*buf = bytes.Buffer{}
		}
	}()
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		n, err := r.f.Write(buf.Bytes())
		r.size += int64(n)
		buf.Reset()
		return err
	}
	for _, l := range lines {
		if pending := r.size + int64(buf.Len()); pending > 0 && pending+int64(len(l))+1 > r.max {
			if err := flush(); err != nil {
				return err
			}
			if err := r.rotate(); err != nil {
				return err
			}
		}
		buf.Write(l)
		buf.WriteByte('\n')
	}
	return flush()
}

func (r *rotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	os.Remove(fmt.Sprintf("%s.%d", r.path, r.keep))
	for i := r.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return err
	}
	return r.open()
}

// Close syncs and closes the file.
func (r *rotatingFile) Close() error {
	if r.f == nil {
		return nil
	}
	r.f.Sync()
	return r.f.Close()
}
