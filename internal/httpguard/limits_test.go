package httpguard

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadlineRecorder is a ResponseWriter that records the write deadlines
// http.ResponseController sets through it, and what was hijacked and
// flushed when.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	events       []string // "deadline", "zero", "header", "write", "flush", "hijack"
	last         time.Time
	refuseHijack bool // Hijack fails (as on an HTTP/2 connection)
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		d.events = append(d.events, "zero")
	} else {
		d.events = append(d.events, "deadline")
	}
	d.last = t
	return nil
}

func (d *deadlineRecorder) SetReadDeadline(time.Time) error { return nil }

func (d *deadlineRecorder) WriteHeader(code int) {
	d.events = append(d.events, "header")
	d.ResponseRecorder.WriteHeader(code)
}

func (d *deadlineRecorder) Write(p []byte) (int, error) {
	d.events = append(d.events, "write")
	return d.ResponseRecorder.Write(p)
}

func (d *deadlineRecorder) FlushError() error {
	d.events = append(d.events, "flush")
	return nil
}

func (d *deadlineRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	d.events = append(d.events, "hijack")
	if d.refuseHijack {
		return nil, nil, http.ErrNotSupported
	}
	return nil, nil, nil
}

// TestResponseDeadlines checks every response write of the server has a
// deadline, set once per response: the header and the body share the
// body's, a response without a body gets one when the handler returns
// (the server writes it then), an informational status and a flush get
// their own at once, and a hijacked connection gets none after it is
// taken (a refused hijack leaves the response to the server, with its
// deadline).
func TestResponseDeadlines(t *testing.T) {
	l := Limits{Grace: time.Second, MinRate: 1 << 10}
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter)
		want    []string
	}{
		{"header and body", func(w http.ResponseWriter) { w.WriteHeader(200); w.Write(make([]byte, 2048)) },
			[]string{"header", "deadline", "write"}},
		{"body only", func(w http.ResponseWriter) { w.Write([]byte("x")) }, []string{"deadline", "write"}},
		{"header only", func(w http.ResponseWriter) { w.WriteHeader(204) }, []string{"header", "deadline"}},
		{"nothing", func(w http.ResponseWriter) {}, []string{"deadline"}},
		{"informational", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(200); w.Write([]byte("x")) },
			[]string{"deadline", "header", "header", "deadline", "write"}},
		{"flush", func(w http.ResponseWriter) { w.WriteHeader(200); http.NewResponseController(w).Flush() },
			[]string{"header", "deadline", "flush", "deadline"}},
		{"hijack by controller", func(w http.ResponseWriter) { w.WriteHeader(101); http.NewResponseController(w).Hijack() },
			[]string{"deadline", "header", "hijack"}},
		{"hijack by assertion", func(w http.ResponseWriter) { w.(http.Hijacker).Hijack() }, []string{"hijack"}},
		{"hijack refused", func(w http.ResponseWriter) { w.(http.Hijacker).Hijack() }, []string{"hijack", "deadline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder(), refuseHijack: tc.name == "hijack refused"}
			start := time.Now()
			l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.handler(w) })).
				ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if len(rec.events) != len(tc.want) {
				t.Fatalf("events %v, want %v", rec.events, tc.want)
			}
			for i := range tc.want {
				if rec.events[i] != tc.want[i] {
					t.Fatalf("events %v, want %v", rec.events, tc.want)
				}
			}
			if tc.want[len(tc.want)-1] == "deadline" || tc.name == "header and body" {
				// Grace, plus 2 s for 2 KiB at 1 KiB/s when there is a body.
				max := l.Grace
				if tc.name == "header and body" {
					max += 2 * time.Second
				}
				if d := rec.last.Sub(start); d < max-time.Second/2 || d > max+time.Second/2 {
					t.Errorf("last deadline %v after the start, want about %v", d, max)
				}
			}
		})
	}
}

// noHijack is a ResponseWriter whose connection cannot be taken over (as
// an HTTP/2 stream's).
type noHijack struct{ http.ResponseWriter }

// TestHijackOfferedOnlyWhereSupported: the wrapped writer is an
// http.Hijacker only when the server's is, so a WebSocket library refuses
// an upgrade over HTTP/2 as not implemented (501) instead of failing it.
func TestHijackOfferedOnlyWhereSupported(t *testing.T) {
	l := Limits{Grace: time.Second, MinRate: 1 << 10}
	for _, tc := range []struct {
		name string
		w    http.ResponseWriter
		want bool
	}{
		{"HTTP/1.1", &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}, true},
		{"HTTP/2", noHijack{httptest.NewRecorder()}, false},
	} {
		var got bool
		l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, got = w.(http.Hijacker)
		})).ServeHTTP(tc.w, httptest.NewRequest("GET", "/", nil))
		if got != tc.want {
			t.Errorf("%s: the wrapped writer is a Hijacker: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// deadlineConn records the write deadlines set on a connection.
type deadlineConn struct {
	net.Conn
	mu    sync.Mutex
	write time.Time // the last write deadline set
	sets  int
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.write, c.sets = t, c.sets+1
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.write, c.sets = t, c.sets+1
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

type deadlineListener struct{ net.Listener }

func (l deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c}, nil
}

type connKey struct{}

// TestNoWriteDeadlineLeftForTheNextRequest sends requests one after
// another on one keep-alive connection of a server with the limits: every
// handler starts with no write deadline on the connection, though the
// response before it had one (Wrap does not lift it: the server does).
// It fails when a response's deadline is still set when the next request's
// handler starts.
func TestNoWriteDeadlineLeftForTheNextRequest(t *testing.T) {
	l := Limits{Grace: time.Minute, MinRate: 1 << 10}
	var bad []string
	var mu sync.Mutex
	srv := l.Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(connKey{}).(*deadlineConn)
		c.mu.Lock()
		dl, sets := c.write, c.sets
		c.mu.Unlock()
		if !dl.IsZero() {
			mu.Lock()
			bad = append(bad, fmt.Sprintf("%s: write deadline %v at the handler's start (after %d deadlines set)", r.URL.Path, time.Until(dl).Round(time.Second), sets))
			mu.Unlock()
		}
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(deadlineListener{ln})
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 5 {
		var resp *http.Response
		if i%2 == 0 {
			resp, err = client.Get(fmt.Sprintf("http://%s/%d", ln.Addr(), i))
		} else {
			resp, err = client.Post(fmt.Sprintf("http://%s/%d", ln.Addr(), i), "text/plain", strings.NewReader("body"))
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Error(b)
	}
}

// TestBodyReadToItsEndHandedBack checks what Wrap leaves of a request's
// body when its handler returns, over a keep-alive connection: a body read
// to its end is the server's own again and closed (so the server does not
// drain it after the response), a body left partly unread is the wrapper
// still (the server drains it as before), and every request of the
// connection is answered on it. It fails when the wrapper hands back a body
// not read to its end, or keeps one that was.
func TestBodyReadToItsEndHandedBack(t *testing.T) {
	l := Limits{Grace: time.Minute, MinRate: 1 << 10}
	var mu sync.Mutex
	var bad []string
	report := func(format string, a ...any) {
		mu.Lock()
		bad = append(bad, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	inner := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/all":
			io.Copy(io.Discard, r.Body)
		case "/part":
			r.Body.Read(make([]byte, 2))
		}
		w.Write([]byte("ok"))
	}))
	var conns int
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orig := r.Body
		inner.ServeHTTP(w, r)
		switch r.URL.Path {
		case "/all":
			if r.Body != orig {
				report("/all: the body is %T after the handler, not the server's", r.Body)
			} else if _, err := r.Body.Read(make([]byte, 1)); err != http.ErrBodyReadAfterClose {
				report("/all: the server's body is not closed: read %v", err)
			}
		case "/part":
			if r.Body == orig {
				report("/part: a body not read to its end is handed back")
			}
		}
	}), ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i, path := range []string{"/all", "/part", "/all", "/none", "/all", "/part"} {
		resp, err := client.Post(fmt.Sprintf("http://%s%s", ln.Addr(), path), "text/plain", strings.NewReader(strings.Repeat("b", 10+i)))
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Errorf("%s: %q", path, b)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Error(b)
	}
	if conns != 1 {
		t.Errorf("%d connections for the requests, want 1", conns)
	}
}
