// Package logbuf holds serve's log writer: it gathers the log's lines in
// memory and writes them out in batches, so that a line per request is not
// a write system call per request.
//
// Lines are written out when the batch reaches its size limit, every flush
// interval (so a line waits at most that long), at once for a record at or
// above the urgent level (warnings and errors: see Handler), and on Close.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/safego"
)

// Defaults of New.
const (
	// Interval is how long a line waits at most before it is written.
	Interval = 50 * time.Millisecond
	// Limit is the batch size at which the lines are written at once.
	Limit = 64 << 10
)

// Writer batches what is written to it (whole log lines) and writes the
// batch to its destination. It is safe for concurrent use.
type Writer struct {
	out   io.Writer
	limit int

	mu  sync.Mutex
	buf []byte
	err error // the destination's last write error, reported by Flush

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Writer to out that writes its batch every interval (a
// background goroutine, ended by Close) and whenever it holds limit bytes.
// interval <= 0 starts no goroutine: lines wait for the limit, Flush or
// Close.
func New(out io.Writer, interval time.Duration, limit int) *Writer {
	if limit <= 0 {
		limit = Limit
	}
	w := &Writer{out: out, limit: limit, buf: make([]byte, 0, limit), done: make(chan struct{})}
	if interval <= 0 {
		close(w.done)
		w.cancel = func() {}
		return w
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	// A panic here is reported on the destination itself, unbuffered.
	log := slog.New(slog.NewTextHandler(out, nil))
	safego.Go(ctx, log, "log writer", func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.Flush()
			}
		}
	}, func() { close(w.done) })
	return w
}

// Write adds p to the batch (a copy: the caller may reuse p), writing the
// batch out first when p would take it past the limit.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 && len(w.buf)+len(p) > w.limit {
		w.flushLocked()
	}
	if len(p) >= w.limit {
		// A line as large as a batch goes out on its own.
		if _, err := w.out.Write(p); err != nil {
			w.err = err
		}
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// Flush writes the batch out now, and reports the destination's first
// write error since the last Flush.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	err := w.err
	w.err = nil
	return err
}

func (w *Writer) flushLocked() {
	if len(w.buf) == 0 {
		return
	}
	if _, err := w.out.Write(w.buf); err != nil && w.err == nil {
		w.err = err
	}
	w.buf = w.buf[:0]
}

// Close stops the background writes and writes the batch out. Writes after
// Close still reach the destination, at the next Flush or limit.
func (w *Writer) Close() error {
	w.cancel()
	<-w.done
	return w.Flush()
}

// Immediate returns a writer that writes through w and flushes after each
// write: for messages written beside the log (to the same destination)
// that must appear at once and after every line logged before them.
func (w *Writer) Immediate() io.Writer { return immediate{w} }

type immediate struct{ w *Writer }

func (i immediate) Write(p []byte) (int, error) {
	n, _ := i.w.Write(p)
	return n, i.w.Flush()
}

// Handler is a slog.Handler that writes a record at or above its urgent
// level out at once (with every line batched before it), and leaves the
// others to the batch.
type Handler struct {
	slog.Handler
	w      *Writer
	urgent slog.Level
}

// NewHandler wraps h, whose output is w, so that records at or above
// urgent are written out at once.
func NewHandler(h slog.Handler, w *Writer, urgent slog.Level) *Handler {
	return &Handler{Handler: h, w: w, urgent: urgent}
}

// Handle formats the record through the wrapped handler and flushes for an
// urgent one.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.urgent {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// HandleAttrs is Handle of a record of t, level and msg with attrs added,
// written without the record when the wrapped handler is a TextHandler
// (TextHandler.HandleAttrs).
func (h *Handler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	var err error
	if th, ok := h.Handler.(*TextHandler); ok {
		err = th.HandleAttrs(ctx, t, level, msg, attrs)
	} else {
		r := slog.NewRecord(t, level, msg, 0)
		r.AddAttrs(attrs...)
		err = h.Handler.Handle(ctx, r)
	}
	if level >= h.urgent {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// Text returns the TextHandler h wraps, if it wraps one.
func (h *Handler) Text() (*TextHandler, bool) {
	th, ok := h.Handler.(*TextHandler)
	return th, ok
}

// HandleRun is HandleAttrs of first, then mid's attributes, then last
// (TextHandler.HandleRun).
func (h *Handler) HandleRun(ctx context.Context, t time.Time, level slog.Level, msg string, first []slog.Attr, mid *Attrs, last []slog.Attr) error {
	var err error
	if th, ok := h.Handler.(*TextHandler); ok {
		err = th.HandleRun(ctx, t, level, msg, first, mid, last)
	} else {
		err = h.Handler.Handle(ctx, runRecord(t, level, msg, first, mid, last))
	}
	if level >= h.urgent {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// WithAttrs returns the handler with attrs, still batching into the same
// writer.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{Handler: h.Handler.WithAttrs(attrs), w: h.w, urgent: h.urgent}
}

// WithGroup returns the handler with a group, still batching into the
// same writer.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{Handler: h.Handler.WithGroup(name), w: h.w, urgent: h.urgent}
}
