package logbuf

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// both writes each record through a TextHandler and through
// slog.TextHandler, and returns the two outputs.
func both(t testing.TB, opts *slog.HandlerOptions, recs []slog.Record) (got, want string) {
	var gb, wb bytes.Buffer
	gw := New(&gb, 0, 1<<20)
	h := NewTextHandler(gw, opts)
	s := slog.NewTextHandler(&wb, opts)
	for _, r := range recs {
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := s.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return gb.String(), wb.String()
}

// pieces are the parts random strings are made of: what slog quotes and
// what it does not.
var pieces = []string{"", "a", "Z", "0", "-", "_", "/", ":", ".", " ", "=", "\"", "\\", "\t", "\n", "\x00", "\x1f", "\x7f",
	"é", "日本", "\u00a0", "\u2028", "\u200b", "\xff", "\xc3", "arn:aws:iam::123456789012:user/alice", "ws-0123abcd",
	"{\"a\":1}", "'", "`", "%", "+", "\U0001F600"}

func randString(rnd *rand.Rand) string {
	var sb strings.Builder
	for range rnd.IntN(5) {
		sb.WriteString(pieces[rnd.IntN(len(pieces))])
	}
	return sb.String()
}

// TestTextHandlerAsSlog checks the fast path writes every record it
// formats byte for byte as slog.TextHandler does: random keys, messages
// and values of every kind it formats (quoted and not), every level and
// times with and without a monotonic reading, a zone and milliseconds;
// and that what it does not format (other kinds, empty keys, groups) is
// still written as slog writes it.
func TestTextHandlerAsSlog(t *testing.T) {
	recs := randRecords()
	for _, opts := range []*slog.HandlerOptions{nil, {Level: slog.LevelDebug}} {
		got, want := both(t, opts, recs)
		sameLines(t, got, want)
	}
}

// sameLines fails the test at the first line where got and want differ.
func sameLines(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d:\n got %q\nwant %q", i, gl[i], wl[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(gl), len(wl))
	}
}

// randRecords are TestTextHandlerAsSlog's records.
func randRecords() []slog.Record {
	rnd := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("X", -7*3600-30*60), time.FixedZone("Y", 5*3600+45*60)}
	var recs []slog.Record
	for i := range 3000 {
		at := time.Date(2000+rnd.IntN(100), time.Month(1+rnd.IntN(12)), 1+rnd.IntN(28), rnd.IntN(24), rnd.IntN(60), rnd.IntN(60),
			rnd.IntN(1e9), zones[rnd.IntN(len(zones))])
		switch i % 10 {
		case 0:
			at = time.Time{}
		case 1:
			at = time.Now()
		}
		levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2, slog.LevelError + 4}
		r := slog.NewRecord(at, levels[rnd.IntN(len(levels))], randString(rnd), 0)
		for range rnd.IntN(12) {
			key := randString(rnd)
			if key == "" && i%7 != 0 {
				key = "k"
			}
			switch rnd.IntN(8) {
			case 0, 1, 2:
				r.AddAttrs(slog.String(key, randString(rnd)))
			case 3:
				r.AddAttrs(slog.Int(key, rnd.IntN(1<<40)-(1<<39)))
			case 4:
				r.AddAttrs(slog.Uint64(key, rnd.Uint64()))
			case 5:
				r.AddAttrs(slog.Bool(key, rnd.IntN(2) == 0))
			case 6:
				r.AddAttrs(slog.Duration(key, time.Duration(rnd.Int64N(int64(100*time.Hour)))-time.Hour))
			case 7:
				if i%3 == 0 {
					r.AddAttrs(slog.Float64(key, rnd.Float64()), slog.Any(key, []string{"x y"}), slog.Group(key, slog.String("a", "b")))
				} else {
					r.AddAttrs(slog.String(key, ""))
				}
			}
		}
		recs = append(recs, r)
	}
	return recs
}

// TestHandleAttrsAsHandle checks Handler.HandleAttrs (the request log's
// way in) writes each record's line as slog.TextHandler writes the record,
// over a TextHandler (its fast path and, for what it does not format, its
// fallback) and over another handler; and that the request log's line
// allocates nothing on the fast path.
func TestHandleAttrsAsHandle(t *testing.T) {
	recs := randRecords()
	want := infoLines(recs)
	eachHandler(t, recs, want, func(h *Handler, r slog.Record, attrs []slog.Attr) error {
		return h.HandleAttrs(context.Background(), r.Time, r.Level, r.Message, attrs)
	})
	w := New(io.Discard, 0, 0)
	h := NewHandler(NewTextHandler(w, nil), w, slog.LevelWarn)
	at := time.Now().UTC() // as the gateway's wall clock reads it (clock.Real)
	attrs := []slog.Attr{slog.String("request_id", "7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"), slog.String("service", "workspaces"),
		slog.String("operation", "DescribeWorkspaces"), slog.String("principal", "arn:aws:iam::123456789012:user/admin"),
		slog.String("account", "123456789012"), slog.Int("status", 200), slog.Duration("latency", 183*time.Microsecond)}
	if n := testing.AllocsPerRun(100, func() { h.HandleAttrs(context.Background(), at, slog.LevelInfo, "request", attrs) }); n != 0 {
		t.Fatalf("a request line allocates %v times", n)
	}
}

// TestHandleRunAsHandle checks Handler.HandleRun writes each record's line
// as slog.TextHandler writes the record, its attributes cut at two random
// places into first, a rendered middle run (one run rendered per record,
// and one reused for the records that share its attributes) and last, over
// a TextHandler and over another handler; and that the request log's line
// allocates nothing.
func TestHandleRunAsHandle(t *testing.T) {
	recs := randRecords()
	want := infoLines(recs)
	rnd := rand.New(rand.NewPCG(3, 4))
	eachHandler(t, recs, want, func(h *Handler, r slog.Record, attrs []slog.Attr) error {
		i := rnd.IntN(len(attrs) + 1)
		j := i + rnd.IntN(len(attrs)-i+1)
		mid := RenderAttrs(attrs[i:j]...)
		return h.HandleRun(context.Background(), r.Time, r.Level, r.Message, attrs[:i], mid, attrs[j:])
	})
	var got bytes.Buffer
	w := New(&got, 0, 0)
	h := NewHandler(NewTextHandler(w, nil), w, slog.LevelWarn)
	at := time.Now().UTC()
	first := []slog.Attr{slog.String("request_id", "7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e")}
	mid := RenderAttrs(slog.String("service", "workspaces"), slog.String("operation", "DescribeWorkspaces"),
		slog.String("principal", "arn:aws:iam::123456789012:user/admin"), slog.String("account", "123456789012"))
	last := []slog.Attr{slog.Int("status", 200), slog.Duration("latency", 183*time.Microsecond)}
	if n := testing.AllocsPerRun(100, func() { h.HandleRun(context.Background(), at, slog.LevelInfo, "request", first, mid, last) }); n != 0 {
		t.Fatalf("a request line allocates %v times", n)
	}
}

// TestTextHandlerOptions checks the handler's level, and that options the
// fast path does not model (ReplaceAttr, AddSource) and WithAttrs and
// WithGroup are honoured as slog.TextHandler honours them.
func TestTextHandlerOptions(t *testing.T) {
	at := time.Date(2026, 12, 6, 18, 0, 0, 123456789, time.UTC)
	r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", "abc"), slog.Int("status", 200))
	drop := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == "status" {
			return slog.Attr{}
		}
		return a
	}
	for _, opts := range []*slog.HandlerOptions{{ReplaceAttr: drop}, {AddSource: true}} {
		got, want := both(t, opts, []slog.Record{r})
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	h := NewTextHandler(New(io.Discard, 0, 0), &slog.HandlerOptions{Level: slog.LevelWarn})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("a handler at warn: enabled for info, or not for warn")
	}
	var gb, wb bytes.Buffer
	gw := New(&gb, 0, 0)
	g := NewTextHandler(gw, nil).WithAttrs([]slog.Attr{slog.String("node", "n 1")}).WithGroup("g")
	s := slog.NewTextHandler(&wb, nil).WithAttrs([]slog.Attr{slog.String("node", "n 1")}).WithGroup("g")
	g.Handle(context.Background(), r)
	s.Handle(context.Background(), r)
	gw.Close()
	if gb.String() != wb.String() {
		t.Errorf("with attrs and a group: got %q, want %q", gb.String(), wb.String())
	}
}

// BenchmarkRequestLine formats a request log line (as the gateway's, at
// info level) through slog.TextHandler and through TextHandler, into a
// Writer.
func BenchmarkRequestLine(b *testing.B) {
	at := time.Now().UTC() // as the gateway's wall clock reads it (clock.Real)
	r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", "7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"), slog.String("service", "workspaces"),
		slog.String("operation", "DescribeWorkspaces"), slog.String("principal", "arn:aws:iam::123456789012:user/admin"),
		slog.String("account", "123456789012"), slog.Int("status", 200), slog.Duration("latency", 183*time.Microsecond))
	for _, tc := range []struct {
		name string
		h    func(*Writer) slog.Handler
	}{
		{"slog", func(w *Writer) slog.Handler { return slog.NewTextHandler(w, nil) }},
		{"fast", func(w *Writer) slog.Handler { return NewTextHandler(w, nil) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := New(io.Discard, 0, 0)
			h := tc.h(w)
			b.ReportAllocs()
			for b.Loop() {
				h.Handle(context.Background(), r)
			}
		})
	}
	// As the gateway logs a request: a record built from its attributes
	// (Logger.LogAttrs's way) into serve's handler, and HandleAttrs.
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	b.Run("record", func(b *testing.B) {
		w := New(io.Discard, 0, 0)
		h := NewHandler(NewTextHandler(w, nil), w, slog.LevelWarn)
		b.ReportAllocs()
		for b.Loop() {
			lr := slog.NewRecord(at, slog.LevelInfo, "request", 0)
			lr.AddAttrs(attrs...)
			h.Handle(context.Background(), lr)
		}
	})
	b.Run("attrs", func(b *testing.B) {
		w := New(io.Discard, 0, 0)
		h := NewHandler(NewTextHandler(w, nil), w, slog.LevelWarn)
		b.ReportAllocs()
		for b.Loop() {
			h.HandleAttrs(context.Background(), at, slog.LevelInfo, "request", attrs)
		}
	})
	// As serve's gateway logs it: the request id, the run of service,
	// operation, principal and account rendered once, then the rest.
	b.Run("run", func(b *testing.B) {
		w := New(io.Discard, 0, 0)
		h := NewHandler(NewTextHandler(w, nil), w, slog.LevelWarn)
		mid := RenderAttrs(attrs[1:5]...)
		b.ReportAllocs()
		for b.Loop() {
			h.HandleRun(context.Background(), at, slog.LevelInfo, "request", attrs[:1], mid, attrs[5:])
		}
	})
}

// needsQuotingByBytes is needsQuoting as it was, a byte at a time: the
// oracle TestNeedsQuotingAsByBytes holds the word-at-a-time test to.
func needsQuotingByBytes(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// TestNeedsQuotingAsByBytes checks the word-at-a-time test against the
// byte loop: every byte value at every position of strings of 1 to 25
// plain bytes (so in each lane of the first three words and in the tail),
// random strings of the bytes around each class's edges, and slog's own
// answer (quoted or not in its TextHandler's line) for each of them.
func TestNeedsQuotingAsByBytes(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := needsQuoting(s), needsQuotingByBytes(s); got != want {
			t.Fatalf("%q: %v, byte by byte %v", s, got, want)
		}
	}
	for n := 1; n <= 25; n++ {
		b := []byte(strings.Repeat("a", n))
		for i := range n {
			for c := range 256 {
				b[i] = byte(c)
				check(string(b))
			}
			b[i] = 'a'
		}
	}
	edges := []byte{0, 1, 0x1f, ' ', '!', '"', '#', '<', '=', '>', '\\', 'a', '~', 0x7f, 0x80, 0xc3, 0xa9, 0xe2, 0x80, 0xa8, 0xff}
	rnd := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey {
			return slog.Attr{}
		}
		return a
	}})
	for range 200000 {
		b := make([]byte, rnd.IntN(40))
		for i := range b {
			if rnd.IntN(4) == 0 {
				b[i] = edges[rnd.IntN(len(edges))]
			} else {
				b[i] = byte('a' + rnd.IntN(26))
			}
		}
		s := string(b)
		check(s)
		if rnd.IntN(10) == 0 {
			buf.Reset()
			r := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0)
			r.AddAttrs(slog.String("k", s))
			h.Handle(context.Background(), r)
			if quoted := strings.HasPrefix(buf.String(), `k="`); quoted != needsQuoting(s) {
				t.Fatalf("%q: needsQuoting %v, slog quoted it: %v (%q)", s, needsQuoting(s), quoted, buf.String())
			}
		}
	}
}

// TestRFC3339MillisAsSlog holds the line's time to slog's for UTC times
// of every year the digit-by-digit path writes and around it, at random
// and at the edges of a millisecond, and for times in other zones.
func TestRFC3339MillisAsSlog(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var times []time.Time
	for _, y := range []int{-1, 0, 1, 9, 10, 99, 100, 999, 1000, 1969, 1970, 2026, 9999, 10000} {
		for _, ns := range []int{0, 999_999, 1_000_000, 999_000_000, 999_999_999} {
			times = append(times, time.Date(y, 12, 31, 23, 59, 59, ns, time.UTC), time.Date(y, 1, 1, 0, 0, 0, ns, time.UTC))
		}
	}
	zones := []*time.Location{time.UTC, time.UTC, time.FixedZone("UTC", 0), time.FixedZone("X", 3600), time.Local}
	for range 20000 {
		at := time.Date(rnd.IntN(10002)-1, time.Month(1+rnd.IntN(12)), 1+rnd.IntN(31), rnd.IntN(24), rnd.IntN(60), rnd.IntN(60), rnd.IntN(1e9), time.UTC)
		times = append(times, at.In(zones[rnd.IntN(len(zones))]))
	}
	times = append(times, time.Now(), time.Now().UTC())
	// Runs of times in one second and the next (lastSecond's hits), in
	// turn with other seconds and zones.
	for k := range 400 {
		at := time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC).Add(time.Duration(k) * 7 * time.Millisecond)
		times = append(times, at)
		if k%50 == 0 {
			times = append(times, at.Add(time.Hour), at.In(zones[3]), at.Add(24*time.Hour))
		}
	}
	var recs []slog.Record
	for _, at := range times {
		recs = append(recs, slog.NewRecord(at, slog.LevelInfo, "request", 0))
	}
	got, want := both(t, nil, recs)
	sameLines(t, got, want)
}

// infoLines is what slog.TextHandler writes of recs at info and above.
func infoLines(recs []slog.Record) *bytes.Buffer {
	var want bytes.Buffer
	s := slog.NewTextHandler(&want, nil)
	for _, r := range recs {
		if r.Level >= slog.LevelInfo {
			s.Handle(context.Background(), r)
		}
	}
	return &want
}

// innerHandlers are the handlers a Handler's tests put under it: the fast
// text handler and slog's own.
var innerHandlers = map[string]func(*Writer) slog.Handler{
	"text": func(w *Writer) slog.Handler { return NewTextHandler(w, nil) },
	"slog": func(w *Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
}

// eachHandler writes recs at info and above through a Handler over each
// of innerHandlers with write (given each record's attributes), and wants
// the lines want holds.
func eachHandler(t *testing.T, recs []slog.Record, want *bytes.Buffer, write func(h *Handler, r slog.Record, attrs []slog.Attr) error) {
	t.Helper()
	for name, inner := range innerHandlers {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			w := New(&got, 0, 1<<20)
			h := NewHandler(inner(w), w, slog.LevelWarn)
			for _, r := range recs {
				if r.Level < slog.LevelInfo {
					continue // the caller asks Enabled first
				}
				var attrs []slog.Attr
				r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
				if err := write(h, r, attrs); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			sameLines(t, got.String(), want.String())
		})
	}
}
