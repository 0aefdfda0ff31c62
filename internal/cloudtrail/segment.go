package cloudtrail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang/snappy"
)

// templatedMark starts a templated segment (Snappy-compressed). Most of a
// segment's events are the same call by the same caller (a broker or a
// console polling DescribeWorkspaces): their stored JSON differs only in
// the event's id, time and request id, random hex that Snappy cannot
// shrink and that made up most of the 116-149 bytes an event took in a
// JSON segment. A templated segment stores each distinct event shape once,
// as its stored JSON with holes where those values go, and per event only
// the values: the ids as 16 bytes each and the time as a varint.
//
// The stream, before compression:
//
//	varint   base: the first event's time, unix nanoseconds
//	uvarint  number of events
//	per event, one of
//	  0, uvarint n, n bytes        the event's stored JSON as it is
//	  1, template, values          a new template (the next index), used
//	  2, uvarint index, values     a template defined before
//	template: uvarint n, n bytes (the JSON without the holes' values),
//	          holeCount uvarints (the bytes before each hole, since the
//	          previous one)
//	values:   varint (time - base), event id (16 bytes), request id (16 bytes)
//
// The holes, in order: the stored "id", the stored "t" (the time in
// RFC 3339 with nanoseconds, UTC), the stored "k" after its account and
// region (the inverted time, '/', the event id), the record's eventTime
// (whole seconds, UTC), requestID and eventID. An event is templated only
// when each hole's value renders back from the time and the ids byte for
// byte (a lowercase UUID, a UTC time): decoding a templated event gives its
// stored JSON exactly as written. Any other event is stored as it is.
const templatedMark = 't'

const holeCount = 6

// maxTemplated is the largest stored event made a template: a larger one
// (a CreateWorkspaces of 25 desktops is about 5 KB) is stored as it is,
// which costs the same bytes without a table key as large as the event.
const maxTemplated = 4096

// templateEncoder builds templated segments; the writer keeps one and
// reuses its buffers and template table.
type templateEncoder struct {
	stream, holed, key []byte
	templates          map[string]int
	scratch            []byte
	// byShape maps the shapes of the segment's events already templated
	// to their templates: an event built from one of them has the same
	// template (TestShapesAgree) and needs neither its holes checked nor
	// its JSON looked up, when its values render back (UTC, UUIDs).
	byShape map[*shape]int
}

// appendSegment appends the templated segment of rows (newest first, as
// they are stored) to dst: the mark, then the compressed stream.
func (e *templateEncoder) appendSegment(dst []byte, rows []*row) []byte {
	if e.templates == nil {
		e.templates = map[string]int{}
		e.byShape = map[*shape]int{}
	}
	clear(e.templates)
	clear(e.byShape)
	s := e.stream[:0]
	base := rows[0].time.UnixNano()
	s = binary.AppendVarint(s, base)
	s = binary.AppendUvarint(s, uint64(len(rows)))
	for _, r := range rows {
		s = e.appendEvent(s, r, base)
	}
	e.stream = s
	n := len(dst)
	dst = slices.Grow(dst, 1+snappy.MaxEncodedLen(len(s)))
	dst = append(dst, templatedMark)
	c := snappy.Encode(dst[n+1:cap(dst)], s)
	return dst[:n+1+len(c)]
}

// appendEvent appends one event of the stream.
func (e *templateEncoder) appendEvent(s []byte, r *row, base int64) []byte {
	var eid, rid [16]byte
	if r.shape != nil {
		if idx, found := e.byShape[r.shape]; found && utc(r.time) && r.eventIDBytes(&eid) && parseUUID(r.requestID, &rid) {
			s = append(s, 2)
			s = binary.AppendUvarint(s, uint64(idx))
			s = binary.AppendVarint(s, r.time.UnixNano()-base)
			s = append(s, eid[:]...)
			return append(s, rid[:]...)
		}
	}
	holes, ok := e.findHoles(r)
	if ok {
		ok = r.eventIDBytes(&eid) && parseUUID(r.requestID, &rid)
	}
	if ok && len(r.enc) > maxTemplated {
		ok = false // a large event (a batch's parameters) is seldom repeated
	}
	if !ok {
		s = append(s, 0)
		s = binary.AppendUvarint(s, uint64(len(r.enc)))
		return append(s, r.enc...)
	}
	// The JSON without the holes' values, and the holes' offsets in it.
	h := e.holed[:0]
	k := e.key[:0]
	from := 0
	for _, hl := range holes {
		h = append(h, r.enc[from:hl.at]...)
		k = binary.AppendUvarint(k, uint64(hl.at-from))
		from = hl.at + hl.n
	}
	h = append(h, r.enc[from:]...)
	e.holed = h
	k = append(k, h...) // the table's key: the offsets, then the JSON
	e.key = k
	idx, found := e.templates[string(k)]
	if !found {
		idx = len(e.templates)
	}
	if r.shape != nil {
		e.byShape[r.shape] = idx
	}
	if found {
		s = append(s, 2)
		s = binary.AppendUvarint(s, uint64(idx))
	} else {
		e.templates[string(k)] = idx
		s = append(s, 1)
		s = binary.AppendUvarint(s, uint64(len(h)))
		s = append(s, h...)
		from = 0
		for _, hl := range holes {
			s = binary.AppendUvarint(s, uint64(hl.at-from)) // the bytes since the last hole
			from = hl.at + hl.n
		}
	}
	s = binary.AppendVarint(s, r.time.UnixNano()-base)
	s = append(s, eid[:]...)
	return append(s, rid[:]...)
}

// eventIDBytes puts the row's event id's 16 bytes in out: those it was
// written from, or else parsed back; false when it is not a lowercase UUID.
func (r *row) eventIDBytes(out *[16]byte) bool {
	if r.eidOK {
		*out = r.eid
		return true
	}
	return parseUUID(r.eventID, out)
}

type hole struct{ at, n int }

// findHoles checks the six holes' values in the event's stored JSON at the
// offsets row noted, each as it renders from the time and the ids; ok is
// false when one is not there as rendered.
func (e *templateEncoder) findHoles(r *row) (holes [holeCount]hole, ok bool) {
	ns := r.time.UnixNano()
	b := r.enc
	last := 0
	for i := range holeCount {
		vals := appendHoleValue(e.scratch[:0], i, ns, r.eventID, r.requestID)
		e.scratch = vals
		at := r.holes[i]
		if at < last || at+len(vals) >= len(b) || !bytes.Equal(b[at:at+len(vals)], vals) || b[at+len(vals)] != '"' {
			return holes, false
		}
		holes[i] = hole{at: at, n: len(vals)}
		last = at + len(vals)
	}
	return holes, true
}

// appendHoleValue appends hole i's value as it renders from the event's
// time and ids.
func appendHoleValue(b []byte, i int, ns int64, eventID []byte, requestID string) []byte {
	t := time.Unix(0, ns).UTC()
	switch i {
	case 0, 5:
		return append(b, eventID...)
	case 1:
		return appendRFC3339Nano(b, t)
	case 2:
		b = appendInvTime(b, t)
		b = append(b, '/')
		return append(b, eventID...)
	case 3:
		return t.AppendFormat(b, isoSeconds)
	default:
		return append(b, requestID...)
	}
}

// appendRFC3339Nano appends t.AppendFormat(b, time.RFC3339Nano): written
// digit by digit for a time of a zero offset and a four-digit year (every
// event's stored time, on a UTC host), by the time package for any other.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	if _, off := t.Zone(); off != 0 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	u := t.UTC()
	y, mo, d := u.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	h, mi, sec := u.Clock()
	var s [30]byte // 2006-01-02T15:04:05.999999999Z
	two := func(at, v int) { s[at], s[at+1] = byte('0'+v/10), byte('0'+v%10) }
	two(0, y/100)
	two(2, y%100)
	s[4] = '-'
	two(5, int(mo))
	s[7] = '-'
	two(8, d)
	s[10] = 'T'
	two(11, h)
	s[13] = ':'
	two(14, mi)
	s[16] = ':'
	two(17, sec)
	n := 19
	if ns := u.Nanosecond(); ns != 0 {
		// The fraction without its trailing zeros, as RFC3339Nano's
		// ".999999999" writes it.
		s[19] = '.'
		for i := 28; i >= 20; i-- {
			s[i] = byte('0' + ns%10)
			ns /= 10
		}
		n = 29
		for s[n-1] == '0' {
			n--
		}
	}
	s[n] = 'Z'
	return append(b, s[:n+1]...)
}

// utc reports whether t renders as its UTC self (a zero offset).
func utc(t time.Time) bool {
	_, off := t.Zone()
	return off == 0
}

// parseUUID reads a lowercase 8-4-4-4-12 hex UUID.
func parseUUID[S string | []byte](s S, out *[16]byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	// The digit pairs start at these offsets; a byte's value is read from
	// a table (0xff: not a lowercase hex digit), and a bad digit anywhere
	// shows in the OR of them all.
	var bad byte
	for j, i := range uuidPairs {
		hi, lo := unhexTable[s[i]], unhexTable[s[i+1]]
		bad |= hi | lo
		out[j] = hi<<4 | lo
	}
	return bad&0xf0 == 0
}

// uuidPairs are where a UUID's 16 digit pairs start.
var uuidPairs = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// unhexTable maps a lowercase hex digit to its value, any other byte to 0xff.
var unhexTable = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// appendUUID appends the lowercase UUID form of u (16 bytes).
func appendUUID(b []byte, u []byte) []byte {
	const digits = "0123456789abcdef"
	s := [36]byte{8: '-', 13: '-', 18: '-', 23: '-'}
	u = u[:16]
	for j, i := range uuidPairs {
		c := u[j]
		s[i], s[i+1] = digits[c>>4], digits[c&15]
	}
	return append(b, s[:]...)
}

var errSegment = errors.New("malformed templated segment")

// decodeTemplated turns a templated segment's stream back into the JSON
// array of its events' stored JSON.
func decodeTemplated(s []byte) ([]byte, error) {
	base, n := binary.Varint(s)
	if n <= 0 {
		return nil, errSegment
	}
	s = s[n:]
	count, n := binary.Uvarint(s)
	if n <= 0 || count > uint64(len(s)) {
		return nil, errSegment
	}
	s = s[n:]
	type template struct {
		holed []byte
		at    [holeCount]int
	}
	var templates []template
	out := make([]byte, 0, 16*len(s)) // events are about 20 times their stream
	out = append(out, '[')
	uv := func() (uint64, error) {
		v, n := binary.Uvarint(s)
		if n <= 0 {
			return 0, errSegment
		}
		s = s[n:]
		return v, nil
	}
	for i := uint64(0); i < count; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		if len(s) == 0 {
			return nil, errSegment
		}
		op := s[0]
		s = s[1:]
		var tp *template
		switch op {
		case 0:
			l, err := uv()
			if err != nil || l > uint64(len(s)) {
				return nil, errSegment
			}
			out = append(out, s[:l]...)
			s = s[l:]
			continue
		case 1:
			l, err := uv()
			if err != nil || l > uint64(len(s)) {
				return nil, errSegment
			}
			t := template{holed: s[:l]}
			s = s[l:]
			at := 0
			for h := range holeCount {
				d, err := uv()
				if err != nil || d > uint64(len(t.holed)-at) {
					return nil, errSegment
				}
				at += int(d)
				t.at[h] = at
			}
			templates = append(templates, t)
			tp = &templates[len(templates)-1]
		case 2:
			idx, err := uv()
			if err != nil || idx >= uint64(len(templates)) {
				return nil, errSegment
			}
			tp = &templates[idx]
		default:
			return nil, fmt.Errorf("%w: event kind %d", errSegment, op)
		}
		d, n := binary.Varint(s)
		if n <= 0 || len(s) < n+32 {
			return nil, errSegment
		}
		ns := base + d
		var eid, rid [36]byte
		eventID := appendUUID(eid[:0], s[n:n+16])
		requestID := string(appendUUID(rid[:0], s[n+16:n+32]))
		s = s[n+32:]
		from := 0
		for h := range holeCount {
			out = append(out, tp.holed[from:tp.at[h]]...)
			out = appendHoleValue(out, h, ns, eventID, requestID)
			from = tp.at[h]
		}
		out = append(out, tp.holed[from:]...)
	}
	if len(s) != 0 {
		return nil, fmt.Errorf("%w: %d bytes left over", errSegment, len(s))
	}
	return append(out, ']'), nil
}
