// Package httpguard hardens the HTTP servers of deskplane (serve and the
// broker's session API): connection and request time limits that a slow or
// stalled client cannot outlast, a Host check against DNS rebinding, TLS
// (including a generated self-signed certificate) and the warnings printed
// when a server is exposed beyond loopback.
package httpguard

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"
)

// Limits bound what one client may hold on a connection. The request body
// and each response write get a deadline that grows with the bytes moved:
// a body may take Grace plus one second per MinRate bytes, so a large body
// on a slow link is read in full while a client that sends headers and
// then stalls is cut off after Grace.
type Limits struct {
	// ReadHeaderTimeout is how long a client may take to send the request
	// line and headers.
	ReadHeaderTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for the next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
	// Grace is the time a request body, and each response write, may take
	// beyond what MinRate allows for its size.
	Grace time.Duration
	// MinRate is the slowest transfer, in bytes per second, that a body or
	// a response is given time for.
	MinRate int64
}

// DefaultLimits are limits no real client meets: headers in 10 s, a body
// at 16 KiB/s after 10 s of grace (a 1 MiB body may take 74 s), idle
// connections kept 120 s (longer than clients keep theirs, 90 s, so a
// client never reuses a connection the server is closing).
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		Grace:             10 * time.Second,
		MinRate:           16 << 10,
	}
}

// orDefault fills zero members from DefaultLimits.
func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.Grace <= 0 {
		l.Grace = d.Grace
	}
	if l.MinRate <= 0 {
		l.MinRate = d.MinRate
	}
	return l
}

// Server returns an http.Server for h with the limits applied: the
// connection-level timeouts on the server, the paced body and response
// deadlines by a wrapper around h (see Wrap).
func (l Limits) Server(h http.Handler) *http.Server {
	l = l.orDefault()
	return &http.Server{
		Handler:           l.Wrap(h),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Wrap applies the per-request deadlines: the body must arrive within
// Grace plus its size at MinRate (the deadline moves forward as bytes
// arrive, and is lifted once the body is read), and every response write
// within Grace plus its size at MinRate. The time a handler spends working
// is not limited.
func (l Limits) Wrap(h http.Handler) http.Handler {
	l = l.orDefault()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The controller, the body's and the writer's wrappers are
		// allocated together, once per request.
		p := &paced{l: l}
		p.rc = *http.NewResponseController(w)
		rc := &p.rc
		// A write deadline left by the previous response on the connection
		// must not cut this one's handler short: net/http lifts it itself
		// after each response (HTTP/1.x; an HTTP/2 stream's deadlines are
		// its own), so it is not lifted here again (a deadline change per
		// request; TestNoWriteDeadlineLeftForTheNextRequest fails if the
		// server stops lifting it).
		// A request without a body has no read deadline: the server is
		// already watching the connection for the client going away, and a
		// deadline would cancel the request when it passed.
		var body io.ReadCloser
		if r.Body != nil && r.Body != http.NoBody {
			body = r.Body
			start := time.Now()
			rc.SetReadDeadline(start.Add(l.Grace))
			p.body = pacedBody{ReadCloser: r.Body, rc: rc, start: start, l: &p.l}
			r.Body = &p.body
		}
		p.w = pacedWriter{ResponseWriter: w, rc: rc, l: &p.l}
		var pw http.ResponseWriter = &p.w
		if _, ok := w.(http.Hijacker); ok {
			// Only a connection that can be taken over says it can
			// (HTTP/1.x): a WebSocket handshake over HTTP/2 is refused
			// as not implemented, not failed.
			pw = hijackingWriter{&p.w}
		}
		h.ServeHTTP(pw, r)
		if body != nil && p.body.eof {
			// The body was read to its end: it is closed and handed back
			// to the server as it was, which then knows nothing of it is
			// left (with the wrapper it drains it after the response: an
			// io.CopyN, an allocation and a read per request).
			body.Close()
			r.Body = body
		}
		if !p.w.wrote && !p.w.hijacked {
			// The server writes the header (and nothing more) now.
			rc.SetWriteDeadline(time.Now().Add(l.Grace))
		}
	})
}

// paced is a request's pacing state: its response controller and the
// wrappers of its body and response writer.
type paced struct {
	l    Limits
	rc   http.ResponseController
	body pacedBody
	w    pacedWriter
}

// pace is how long n bytes may take.
func (l Limits) pace(n int64) time.Duration {
	return l.Grace + time.Duration(n*int64(time.Second)/l.MinRate)
}

// pacedBody moves the connection's read deadline forward as the body
// arrives, and lifts it at the end of the body.
type pacedBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	l     *Limits
	n     int64
	done  bool
	eof   bool // the body was read to its end
}

func (b *pacedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case b.done:
	case err != nil:
		b.done = true
		if err == io.EOF {
			b.eof = true
			b.rc.SetReadDeadline(time.Time{})
		}
	case n > 0:
		b.rc.SetReadDeadline(b.start.Add(b.l.pace(b.n)))
	}
	return n, err
}

// pacedWriter gives every write a deadline for its size. A final status
// is written with the body, or after the handler returns when there is
// none, so it gets its deadline then (one deadline per response instead of
// one for the header and one for the body); an informational (1xx) status
// is written at once and gets its own.
type pacedWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	l        *Limits
	wrote    bool // Write was called: its deadline covers the response's end
	hijacked bool // the handler took the connection: its deadlines are its own
}

func (w *pacedWriter) Write(p []byte) (int, error) {
	w.wrote = true
	w.rc.SetWriteDeadline(time.Now().Add(w.l.pace(int64(len(p)))))
	return w.ResponseWriter.Write(p)
}

func (w *pacedWriter) WriteHeader(code int) {
	if code < 200 {
		w.rc.SetWriteDeadline(time.Now().Add(w.l.Grace))
	}
	w.ResponseWriter.WriteHeader(code)
}

// FlushError flushes what is buffered (http.ResponseController.Flush) with
// a deadline for it.
func (w *pacedWriter) FlushError() error {
	w.rc.SetWriteDeadline(time.Now().Add(w.l.Grace))
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// hijackingWriter is a pacedWriter whose connection can be taken over.
type hijackingWriter struct{ *pacedWriter }

// Hijack hands the connection to the handler (http.Hijacker, and
// http.ResponseController.Hijack): no deadline is set on it after that.
func (w hijackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Reject ends a request whose body the handler will not read: the response
// carries Connection: close and the connection's read deadline is moved to
// now, so the server does not wait for the unread body before closing it.
// Call it before writing the response.
func Reject(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
}
