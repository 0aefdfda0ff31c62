package cloudtrail

import (
	"bytes"
	"encoding/binary"

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
}

// maxShapes bounds the writer's shapes; past it, they are dropped.
const maxShapes = 256

// shapeKey appends the key of e's shape (with its rendered parameters) to
// b; ok is false when the event cannot be built from a shape: it has
// additional data or response elements, or a request id the record would
// escape.
func shapeKey(b []byte, e *gateway.Event, reqParams []byte) (key []byte, ok bool) {
	if e.AdditionalData != nil || (!e.ReadOnly && e.ErrorCode == "") || e.Service == nil || !plainValue(e.RequestID) {
		return b, false
	}
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(e.InvokedBy)
	str(e.Service.EventSource)
	str(e.Operation)
	str(e.Region)
	str(e.Account)
	str(e.SourceIP)
	str(clip(e.UserAgent, 1024))
	str(e.ErrorCode)
	str(clip(e.ErrorMessage, 1024))
	if e.ReadOnly {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	if reqParams == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(reqParams)))
		b = append(b, reqParams...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Resources)))
	// By index: a Check is 120 bytes, and a copy of it would read the
	// lines of its tags and policy too, each a miss here.
	for i := range e.Resources {
		c := &e.Resources[i]
		str(c.Resource)
		str(c.ResourceAccount)
	}
	return b, true
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
func (t *Trail) remember(key []byte, e *gateway.Event, r *row) {
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
	if t.shapes == nil || len(t.shapes) >= maxShapes {
		t.shapes = make(map[string]*shape)
	}
	t.shapes[string(key)] = &shape{p: e.Principal, svc: e.Service, enc: bytes.Clone(r.enc), at: r.holes, n: n, rec: r.rec}
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

// fromShape builds e's row from its shape, if the writer has it.
func (t *Trail) fromShape(key []byte, e *gateway.Event) (row, bool) {
	sh := t.shapes[string(key)]
	if sh == nil || sh.p != e.Principal || sh.svc != e.Service {
		return row{}, false
	}
	t.shapeHits++
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
	return r, true
}
