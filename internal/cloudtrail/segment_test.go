package cloudtrail

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
)

// segmentRows builds the rows of n events as the writer does, newest first,
// of a few shapes: repeated reads by one caller, a write with varying
// parameters, and events whose values do not render back (a request id
// that is not a UUID, a time in another zone, a time before 1970, a
// parameter that spells the event's own values).
func segmentRows(t testing.TB, tr *Trail, n int, rng *rand.Rand) []*row {
	t.Helper()
	svc := &gateway.Service{Name: "workspaces", EventSource: "workspaces.amazonaws.com"}
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
	type in struct {
		WorkspaceIds []string
		Note         *string
	}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var rows []row
	for i := range n {
		at := t0.Add(-time.Duration(i)*time.Millisecond - time.Duration(rng.IntN(1000)))
		e := &gateway.Event{RequestID: ids.UUID(), Time: at, Service: svc, Operation: "DescribeWorkspaces", Region: "us-east-1",
			Account: "111122223333", Principal: p, ReadOnly: true, Request: &in{WorkspaceIds: []string{"ws-0abc12345"}},
			Resources: []gateway.Check{{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/*"}}}
		switch rng.IntN(10) {
		case 0:
			note := fmt.Sprint("note ", rng.IntN(5))
			e.Operation, e.ReadOnly, e.Request = "ModifyWorkspaceProperties", false, &in{WorkspaceIds: []string{"ws-0abc12345"}, Note: &note}
		case 1:
			e.RequestID = fmt.Sprintf("req-%d", i) // not a UUID
		case 2:
			e.Time = at.In(time.FixedZone("x", 3600)) // renders with its offset
		case 3:
			e.Time = time.Unix(-5, int64(rng.IntN(1e9))).UTC() // before 1970
		case 4:
			e.RequestID = "0123abcd-0000-4000-8000-0123456789AB" // upper case
		case 6:
			note := strings.Repeat("n", 5000) // stored as it is, not as a template
			e.Request = &in{Note: &note}
		case 5:
			// The request's parameters carry text that looks like the
			// holes' keys and values.
			note := fmt.Sprintf(`,"eventID":"%s","t":"%s"`, e.RequestID, at.Format(time.RFC3339Nano))
			e.Request = &in{Note: &note}
		}
		rows = tr.appendRows(rows, e)
	}
	out := make([]*row, len(rows))
	for i := range rows {
		out[i] = &rows[i]
	}
	return out
}

// TestTemplatedSegmentsKeepEveryEvent encodes segments of events of
// several shapes and decodes them back: each event's stored JSON comes back
// byte for byte, in order, and a segment of repeated reads is small.
func TestTemplatedSegmentsKeepEveryEvent(t *testing.T) {
	tr := &Trail{}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		rows := segmentRows(t, tr, 1+rng.IntN(300), rng)
		seg := tr.tenc.appendSegment(nil, rows)
		if seg[0] != templatedMark {
			t.Fatalf("mark %q", seg[0])
		}
		js, err := snappy.Decode(nil, seg[1:])
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeTemplated(js)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		want := []byte{'['}
		for i, r := range rows {
			if i > 0 {
				want = append(want, ',')
			}
			want = append(want, r.enc...)
		}
		want = append(want, ']')
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			from := max(0, i-200)
			t.Fatalf("round %d: decoded segment differs at byte %d:\n got …%s\nwant …%s", round, i, got[from:min(len(got), i+200)], want[from:min(len(want), i+200)])
		}
		evs, err := decodeSegment(seg)
		if err != nil || len(evs) != len(rows) {
			t.Fatalf("round %d: decodeSegment: %d events of %d, %v", round, len(evs), len(rows), err)
		}
		for i, ev := range evs {
			if ev.Key != string(rows[i].key) || ev.EventID != string(rows[i].eventID) || !ev.Time.Equal(rows[i].time) {
				t.Fatalf("round %d, event %d: key %s id %s time %v, want %s %s %v", round, i, ev.Key, ev.EventID, ev.Time, rows[i].key, rows[i].eventID, rows[i].time)
			}
		}
		tr.reuse()
	}
}

// TestTemplatedSegmentIsSmall: 500 reads by one caller take a fraction of
// the bytes of their JSON segment (whose random ids Snappy cannot shrink).
func TestTemplatedSegmentIsSmall(t *testing.T) {
	tr := &Trail{}
	svc := &gateway.Service{Name: "workspaces", EventSource: "workspaces.amazonaws.com"}
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
	type in struct{ WorkspaceIds []string }
	t0 := time.Now().UTC()
	var rows []row
	for i := range 500 {
		rows = tr.appendRows(rows, &gateway.Event{RequestID: ids.UUID(), Time: t0.Add(-time.Duration(i) * 37 * time.Microsecond), Service: svc,
			Operation: "DescribeWorkspaces", Region: "us-east-1", Account: "111122223333", Principal: p, ReadOnly: true,
			Request: &in{WorkspaceIds: []string{"ws-0abc12345"}}, Resources: []gateway.Check{{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-0abc12345"}}})
	}
	ptrs := make([]*row, len(rows))
	js := []byte{'['}
	for i := range rows {
		ptrs[i] = &rows[i]
		if i > 0 {
			js = append(js, ',')
		}
		js = append(js, rows[i].enc...)
	}
	js = append(js, ']')
	seg := tr.tenc.appendSegment(nil, ptrs)
	old := compressSegment(js)
	t.Logf("500 reads: templated %d bytes (%.1f per event), JSON with Snappy %d (%.1f per event)", len(seg), float64(len(seg))/500, len(old), float64(len(old))/500)
	if len(seg) > 500*45 {
		t.Fatalf("templated segment of 500 reads is %d bytes, over 45 per event", len(seg))
	}
}

// TestTemplatedSegmentRefusesDamage: a damaged stream is an error, never a
// panic or a wrong event.
func TestTemplatedSegmentRefusesDamage(t *testing.T) {
	tr := &Trail{}
	rng := rand.New(rand.NewPCG(3, 4))
	rows := segmentRows(t, tr, 50, rng)
	seg := tr.tenc.appendSegment(nil, rows)
	js, err := snappy.Decode(nil, seg[1:])
	if err != nil {
		t.Fatal(err)
	}
	whole, err := decodeTemplated(js)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(js); n += 1 + n%7 {
		if _, err := decodeTemplated(js[:n]); err == nil {
			t.Fatalf("a stream cut at %d of %d bytes decoded", n, len(js))
		}
	}
	for range 100 {
		b := bytes.Clone(js)
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		if out, err := decodeTemplated(b); err == nil && bytes.Equal(out, whole) {
			t.Fatalf("a changed stream decoded to the same events")
		}
	}
}

// TestParseUUID reads back what appendUUID writes, and refuses what is not
// a lowercase 8-4-4-4-12 UUID (a templated segment stores only those as
// 16 bytes).
func TestParseUUID(t *testing.T) {
	for range 100 {
		s := ids.UUID()
		var u [16]byte
		if !parseUUID(s, &u) {
			t.Fatalf("parseUUID(%q) refused", s)
		}
		if got := string(appendUUID(nil, u[:])); got != s {
			t.Fatalf("parseUUID(%q) then appendUUID = %q", s, got)
		}
	}
	for _, s := range []string{
		"", "req-1", "0123456789abcdef0123456789abcdef0123",
		"01234567-89ab-cdef-0123-456789abcdeF", // uppercase
		"01234567-89ab-cdef-0123-456789abcdeg",
		"g1234567-89ab-cdef-0123-456789abcdef",
		"01234567-89ab-cdef-0123-456789abcde/",
		"01234567-89ab-cdef-0123-456789abcde:",
		"01234567-89ab-cdef-0123-456789abcde`",
		"01234567_89ab-cdef-0123-456789abcdef",
		"01234567-89ab-cdef-0123-456789abcdef0",
		"01234567-89ab-cdef-0123-\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	} {
		var u [16]byte
		if parseUUID(s, &u) {
			t.Errorf("parseUUID(%q) accepted", s)
		}
	}
}

// TestAppendRFC3339NanoAsTheTimePackage holds appendRFC3339Nano to
// AppendFormat(time.RFC3339Nano) for random times: every fraction length
// (none, trailing zeros), zones of zero and other offsets, the local zone,
// years before 1970, below 1000, at 9999 and past it, and negative ones.
func TestAppendRFC3339NanoAsTheTimePackage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("GMT", 0), time.FixedZone("x", -7200), time.FixedZone("y", 5*3600+1800)}
	secs := []int64{0, -1, 1, 1765022400, -62135596800, -62135596801, 253402300799, 253402300800, -100000000000, 300000000000}
	for i := range 200000 {
		var sec int64
		if i < len(secs)*len(zones)*4 {
			sec = secs[i%len(secs)]
		} else {
			sec = rng.Int64N(2*300000000000) - 300000000000
		}
		var ns int64
		switch rng.IntN(4) {
		case 0:
		case 1:
			ns = rng.Int64N(1e9)
		case 2:
			ns = rng.Int64N(1000) * 1e6
		default:
			ns = rng.Int64N(10) * 1e8
		}
		tm := time.Unix(sec, ns).In(zones[rng.IntN(len(zones))])
		if got, want := string(appendRFC3339Nano([]byte("x"), tm)), "x"+tm.Format(time.RFC3339Nano); got != want {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
}
