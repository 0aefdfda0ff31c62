package logbuf

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// TextHandler writes records to a Writer exactly as slog.TextHandler
// does, and formats the common ones (a message and attributes of strings,
// integers, booleans and durations, as the request log writes them)
// itself, without slog's per-attribute generality: each key's quoting
// check, the value's resolution, the record's attribute iteration. Any
// other record, and the handler's WithAttrs and WithGroup, go through the
// slog.TextHandler it wraps.
type TextHandler struct {
	slog.Handler // slog.TextHandler over w: what the fast path does not format
	w            *Writer
	level        slog.Leveler
	fast         bool // no ReplaceAttr and no AddSource: the fast path writes as slog would
}

// NewTextHandler returns a TextHandler writing to w with opts (nil: the
// defaults), as slog.NewTextHandler(w, opts) would.
func NewTextHandler(w *Writer, opts *slog.HandlerOptions) *TextHandler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	var level slog.Leveler = slog.LevelInfo
	if opts.Level != nil {
		level = opts.Level
	}
	return &TextHandler{Handler: slog.NewTextHandler(w, opts), w: w, level: level,
		fast: opts.ReplaceAttr == nil && !opts.AddSource}
}

// Enabled reports whether the handler writes records of level l.
func (h *TextHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Handle writes the record as one line.
func (h *TextHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.fast {
		return h.Handler.Handle(ctx, r)
	}
	bp := linePool.Get().(*[]byte)
	b, ok := appendRecord((*bp)[:0], &r)
	if !ok {
		linePool.Put(bp)
		return h.Handler.Handle(ctx, r)
	}
	_, err := h.w.Write(b)
	if cap(b) <= 16<<10 {
		*bp = b
		linePool.Put(bp)
	}
	return err
}

// HandleAttrs writes the line Handle writes for a record of t, level and
// msg with attrs added, without the record: a record holds five
// attributes and allocates for more (the request log's line has seven or
// more). Anything the fast path does not format goes through Handle.
func (h *TextHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	if h.fast {
		bp := linePool.Get().(*[]byte)
		if b, ok := appendAttrs(appendHead((*bp)[:0], t, level, msg), attrs); ok {
			return h.writeLine(bp, b)
		}
		linePool.Put(bp)
	}
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return h.Handle(ctx, r)
}

// appendAttrs appends attrs as the fast path formats them; ok is false
// when one of them is not one it formats.
func appendAttrs(b []byte, attrs []slog.Attr) (_ []byte, ok bool) {
	for _, a := range attrs {
		if b, ok = appendAttr(b, a); !ok {
			return b, false
		}
	}
	return b, true
}

// writeLine writes the line b with its newline and gives its buffer (bp's,
// unless it grew too large) back to the pool.
func (h *TextHandler) writeLine(bp *[]byte, b []byte) error {
	_, err := h.w.Write(append(b, '\n'))
	if cap(b) <= 16<<10 {
		*bp = b
		linePool.Put(bp)
	}
	return err
}

// Level is the least level the handler writes (Enabled's bound).
func (h *TextHandler) Level() slog.Level { return h.level.Level() }

// Attrs is a run of attributes rendered once as HandleRun's fast path
// writes them, for lines that repeat the run. It does not change after
// RenderAttrs.
type Attrs struct {
	attrs []slog.Attr
	text  []byte
	ok    bool // every attribute is one the fast path formats
}

// RenderAttrs renders attrs (copied) for HandleRun.
func RenderAttrs(attrs ...slog.Attr) *Attrs {
	a := &Attrs{attrs: append([]slog.Attr(nil), attrs...), ok: true}
	for _, at := range a.attrs {
		if a.text, a.ok = appendAttr(a.text, at); !a.ok {
			a.text = nil
			break
		}
	}
	return a
}

// HandleRun is HandleAttrs of first, then mid's attributes, then last:
// mid's text is written as it was rendered.
func (h *TextHandler) HandleRun(ctx context.Context, t time.Time, level slog.Level, msg string, first []slog.Attr, mid *Attrs, last []slog.Attr) error {
	if h.fast && mid.ok {
		bp := linePool.Get().(*[]byte)
		b, ok := appendAttrs(appendHead((*bp)[:0], t, level, msg), first)
		if ok {
			b, ok = appendAttrs(append(b, mid.text...), last)
		}
		if ok {
			return h.writeLine(bp, b)
		}
		linePool.Put(bp)
	}
	return h.Handle(ctx, runRecord(t, level, msg, first, mid, last))
}

func runRecord(t time.Time, level slog.Level, msg string, first []slog.Attr, mid *Attrs, last []slog.Attr) slog.Record {
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(first...)
	r.AddAttrs(mid.attrs...)
	r.AddAttrs(last...)
	return r
}

// appendRecord appends r's line as slog.TextHandler writes it; ok is false
// when r has an attribute the fast path does not format.
func appendRecord(b []byte, r *slog.Record) (_ []byte, ok bool) {
	b = appendHead(b, r.Time, r.Level, r.Message)
	ok = true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendAttr(b, a)
		return ok
	})
	return append(b, '\n'), ok
}

// appendHead appends a line's time, level and message.
func appendHead(b []byte, t time.Time, level slog.Level, msg string) []byte {
	if !t.IsZero() {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, t.Round(0))
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = appendString(b, level.String())
	b = append(b, " msg="...)
	return appendString(b, msg)
}

// appendAttr appends an attribute as slog.TextHandler writes it; ok is
// false for one the fast path does not format.
func appendAttr(b []byte, a slog.Attr) (_ []byte, ok bool) {
	if a.Key == "" {
		return b, false // slog leaves out an empty attribute and writes others as "=..."
	}
	switch a.Value.Kind() {
	case slog.KindString:
		b = appendKey(b, a.Key)
		b = appendString(b, a.Value.String())
	case slog.KindInt64:
		b = strconv.AppendInt(appendKey(b, a.Key), a.Value.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(appendKey(b, a.Key), a.Value.Uint64(), 10)
	case slog.KindBool:
		b = strconv.AppendBool(appendKey(b, a.Key), a.Value.Bool())
	case slog.KindDuration:
		b = append(appendKey(b, a.Key), a.Value.Duration().String()...)
	default:
		return b, false
	}
	return b, true
}

func appendKey(b []byte, key string) []byte {
	b = append(b, ' ')
	b = appendString(b, key)
	return append(b, '=')
}

// appendString appends s quoted (strconv.Quote) where slog.TextHandler
// quotes it, else as it is.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// needsQuoting is slog.TextHandler's test: an empty string, a space, '=',
// '"', an ASCII control character other than DEL, or a rune that is
// invalid, a space or not printable. Eight bytes are tested at a time
// (quoteIn) while they are ASCII and need no quoting; a word that may hold
// one that does, or a byte past ASCII, is read byte by byte.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	i := 0
	for i+8 <= len(s) {
		if quoteIn(uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56) {
			break
		}
		i += 8
	}
	for i < len(s) {
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

// quoteIn reports whether the eight bytes of w may hold one needsQuoting
// must look at: a byte up to ' ', '=', '"', or one past ASCII. It is exact
// when it says no (Hacker's Delight's test for a byte under n: a byte under
// 0x21, or a zero byte of w XOR '=' or '"', sets its high bit in the
// difference where it was clear in w).
func quoteIn(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	const eq, quote = '=' * ones, '"' * ones
	x, y := w^eq, w^quote
	return (w|(w-0x21*ones)&^w|(x-ones)&^x|(y-ones)&^y)&highs != 0
}

// appendRFC3339Millis is slog.TextHandler's time: RFC 3339 with exactly
// three digits of milliseconds. A UTC time of a four-digit year (serve's
// clock reads UTC) is written digit by digit; any other goes through
// time's formatting, as slog writes it.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	if t.Location() == time.UTC {
		sec := t.Unix()
		ms := t.Nanosecond() / 1e6
		if c := lastSecond.Load(); c != nil && c.sec == sec {
			b = append(b, c.text[:]...)
			return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
		}
		y, mo, d := t.Date()
		if y >= 0 && y <= 9999 {
			h, mi, s := t.Clock()
			c := &secondText{sec: sec, text: [20]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
				byte('0' + int(mo)/10), byte('0' + int(mo)%10), '-', byte('0' + d/10), byte('0' + d%10), 'T',
				byte('0' + h/10), byte('0' + h%10), ':', byte('0' + mi/10), byte('0' + mi%10), ':', byte('0' + s/10), byte('0' + s%10), '.'}}
			lastSecond.Store(c)
			b = append(b, c.text[:]...)
			return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
		}
	}
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// secondText is a UTC second of a four-digit year as appendRFC3339Millis
// writes it, up to the milliseconds' point; lastSecond is the last one
// written (a line's time is read each request, so most lines repeat the
// second before).
type secondText struct {
	sec  int64 // Unix seconds
	text [20]byte
}

var lastSecond atomic.Pointer[secondText]
