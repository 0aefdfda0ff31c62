package cloudtrail

import (
	"bytes"
	"unsafe"

	"github.com/deskplane/deskplane/internal/gateway"
)

// A shape is what an event's stored JSON is made of but for its ids and
// times: the caller, the call, its parameters and resources. A broker or a
// console polling DescribeWorkspaces makes the same shape call after call;
// the writer keeps the stored JSON of the last event of each shape and
// builds the next one by putting the new event's values into its holes
// (the templated segment's six, see templatedMark) instead of writing the
// JSON field by field. TestShapesAgree holds every event built so to the
// one built field by field.
type shape struct {
	p   *gateway.Principal // the caller (immutable): compared by identity
	svc *gateway.Service
	enc []byte         // the stored JSON of the event it was taken from
	at  [holeCount]int // where the holes' values start in enc
	n   [holeCount]int // and their lengths
	rec int            // where the record starts in enc
	f   shapeFields    // what else tells it apart (matches)
	// next is the shape kept before it under the same cheap key.
	next *shape
}

// maxShapes bounds the writer's shapes; past it, they are dropped.
const maxShapes = 256

// maxChain bounds the shapes kept under one cheap key (shapeHash): past
// it, the oldest goes.
const maxChain = 4

// shapeFields are what an event's shape is told apart by, besides its
// principal and service: the event's strings, kept as they are (a Go
// string does not change; the request id, which may, is not kept), and
// a copy of its rendered parameters. The next event's strings are mostly
// the same strings (the operation, the account, the region, the event
// source): == then compares their pointers, and reads none of their bytes.
type shapeFields struct {
	invokedBy, source, op, region, account, ip, agent, code, msg string
	readOnly, hasParams                                          bool
	params                                                       []byte
	res                                                          []shapeRes
}

type shapeRes struct{ arn, account string }

// shapeable reports whether e can be built from a shape: it has no
// additional data or response elements, and a request id the record
// writes as it is.
func shapeable(e *gateway.Event) bool {
	return e.AdditionalData == nil && (e.ReadOnly || e.ErrorCode != "") && e.Service != nil && plainValue(e.RequestID)
}

// shapeHash is the cheap key the writer's shapes are found by: what is
// compared without reading the event's strings (its principal and service
// by identity, and lengths). A shape found by it is then compared field by
// field (matches).
func shapeHash(e *gateway.Event, reqParams []byte, hasParams bool) uint64 {
	h := uint64(uintptr(unsafe.Pointer(e.Principal)))
	h = h*0x9e3779b97f4a7c15 ^ uint64(uintptr(unsafe.Pointer(e.Service)))
	n := uint64(len(e.Operation)) | uint64(len(e.ErrorCode))<<8 | uint64(len(e.Resources))<<16 | uint64(len(reqParams))<<24
	if hasParams {
		n |= 1 << 63
	}
	if e.ReadOnly {
		n |= 1 << 62
	}
	return (h*0x9e3779b97f4a7c15 ^ n) * 0xbf58476d1ce4e5b9
}

// matches reports whether e (with its rendered parameters) has shape sh.
func (sh *shape) matches(e *gateway.Event, reqParams []byte, hasParams bool) bool {
	f := &sh.f
	if sh.p != e.Principal || sh.svc != e.Service || f.readOnly != e.ReadOnly || f.hasParams != hasParams ||
		len(f.res) != len(e.Resources) || f.op != e.Operation || f.code != e.ErrorCode ||
		f.region != e.Region || f.account != e.Account || f.ip != e.SourceIP || f.invokedBy != e.InvokedBy ||
		f.source != e.Service.EventSource || f.agent != clip(e.UserAgent, 1024) || f.msg != clip(e.ErrorMessage, 1024) ||
		!bytes.Equal(f.params, reqParams) {
		return false
	}
	for i := range e.Resources {
		// By index: a Check is 120 bytes, and a copy of it would read the
		// lines of its tags and policy too, each a miss here.
		c := &e.Resources[i]
		if f.res[i].arn != c.Resource || f.res[i].account != c.ResourceAccount {
			return false
		}
	}
	return true
}

// fieldsOf returns e's shape fields.
func fieldsOf(e *gateway.Event, reqParams []byte, hasParams bool) shapeFields {
	f := shapeFields{invokedBy: e.InvokedBy, source: e.Service.EventSource, op: e.Operation, region: e.Region,
		account: e.Account, ip: e.SourceIP, agent: clip(e.UserAgent, 1024), code: e.ErrorCode,
		msg: clip(e.ErrorMessage, 1024), readOnly: e.ReadOnly, hasParams: hasParams}
	if hasParams {
		f.params = bytes.Clone(reqParams)
	}
	if len(e.Resources) > 0 {
		f.res = make([]shapeRes, len(e.Resources))
		for i := range e.Resources {
			f.res[i] = shapeRes{e.Resources[i].Resource, e.Resources[i].ResourceAccount}
		}
	}
	return f
}

// findShape returns e's shape, if the writer has it.
func (t *Trail) findShape(h uint64, e *gateway.Event, reqParams []byte, hasParams bool) *shape {
	for sh := t.shapes[h]; sh != nil; sh = sh.next {
		if sh.matches(e, reqParams, hasParams) {
			return sh
		}
	}
	return nil
}

// plainValue reports whether jsonenc writes s as it is (no escapes).
func plainValue(s string) bool {
	// One table lookup per byte, its result ORed: a request id is 36.
	var bad uint8
	for i := 0; i < len(s); i++ {
		bad |= notPlain[s[i]]
	}
	return bad == 0
}

// notPlain is 1 for a byte plainValue refuses, 0 for a letter, a digit,
// '-', '_', '.' or ':'.
var notPlain = func() (t [256]uint8) {
	for c := range t {
		b := byte(c)
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.' || b == ':') {
			t[c] = 1
		}
	}
	return t
}()

// remember keeps r, just built field by field for e, as its shape, when its
// holes hold the values they should.
func (t *Trail) remember(h uint64, e *gateway.Event, reqParams []byte, hasParams bool, r *row) {
	if len(r.enc) > maxTemplated {
		return
	}
	var n [holeCount]int
	var vals []byte
	for i := range holeCount {
		start := len(vals)
		vals = t.appendShapeValue(vals, i, e, r.eventID)
		n[i] = len(vals) - start
		at := r.holes[i]
		if at+n[i] > len(r.enc) || !bytes.Equal(r.enc[at:at+n[i]], vals[start:]) {
			return
		}
	}
	if t.shapes == nil || t.nShapes >= maxShapes {
		t.shapes, t.nShapes = make(map[uint64]*shape), 0
	}
	sh := &shape{p: e.Principal, svc: e.Service, enc: bytes.Clone(r.enc), at: r.holes, n: n, rec: r.rec,
		f: fieldsOf(e, reqParams, hasParams), next: t.shapes[h]}
	t.shapes[h] = sh
	t.nShapes++
	// Past maxChain shapes under one key, the oldest goes.
	for i, c := 1, sh; c.next != nil; i, c = i+1, c.next {
		if i == maxChain {
			c.next = nil
			t.nShapes--
			break
		}
	}
}

// appendShapeValue appends hole i's value for e as row writes it: the
// event's own time (its zone kept) for the stored time, the UTC second for
// eventTime.
func (t *Trail) appendShapeValue(b []byte, i int, e *gateway.Event, eventID []byte) []byte {
	switch i {
	case 0, 5:
		return append(b, eventID...)
	case 1:
		return appendRFC3339Nano(b, e.Time)
	case 2:
		b = appendInvTime(b, e.Time)
		b = append(b, '/')
		return append(b, eventID...)
	case 3:
		return append(b, t.eventTime(e.Time)...)
	default:
		return append(b, e.RequestID...)
	}
}

// fromShape builds e's row from its shape sh.
func (t *Trail) fromShape(sh *shape, e *gateway.Event) row {
	var r row
	t.idBuf, r.eidOK = t.appendNewID(t.idBuf[:0], &r.eid)
	eventID := t.idBuf
	var invb [24]byte
	inv := appendInvTime(invb[:0], e.Time)
	head := len(t.arena)
	b := t.arena
	from, rec := 0, 0
	for i := range holeCount {
		b = append(b, sh.enc[from:sh.at[i]]...)
		r.holes[i] = len(b) - head
		if i == 2 {
			// The inverted time, rendered once for the hole and the key.
			b = append(b, inv...)
			b = append(b, '/')
			b = append(b, eventID...)
		} else {
			b = t.appendShapeValue(b, i, e, eventID)
		}
		from = sh.at[i] + sh.n[i]
		if i == 2 {
			// The record starts after the stored head's holes.
			rec = sh.rec + (len(b) - head - from)
		}
	}
	b = append(b, sh.enc[from:]...)
	t.arena = b
	enc := b[head:len(b):len(b)]
	// The key after the event, in the arena: no string of its own.
	kat := len(b)
	b = append(b, e.Account...)
	b = append(b, '/')
	b = append(b, e.Region...)
	b = append(b, '/')
	b = append(b, inv...)
	b = append(b, '/')
	b = append(b, eventID...)
	t.arena = b
	rkey := b[kat:len(b):len(b)]
	r.key, r.time, r.eventID, r.requestID, r.rec, r.shape = rkey, e.Time, rkey[len(rkey)-len(eventID):], e.RequestID, rec, sh
	r.enc, r.line = enc, enc[rec:len(enc)-1:len(enc)-1]
	return r
}
