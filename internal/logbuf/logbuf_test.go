package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// dest records each write it is given.
type dest struct {
	mu     sync.Mutex
	writes []string
	fail   error
	wrote  chan struct{}
}

func newDest() *dest { return &dest{wrote: make(chan struct{}, 1000)} }

func (d *dest) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return 0, d.fail
	}
	d.writes = append(d.writes, string(p))
	select {
	case d.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (d *dest) got() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.writes...)
}

func TestLinesAreBatchedUntilFlush(t *testing.T) {
	d := newDest()
	w := New(d, 0, 1024)
	for i := range 3 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got := d.got(); len(got) != 0 {
		t.Fatalf("written before Flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := d.got(); len(got) != 1 || got[0] != "line 0\nline 1\nline 2\n" {
		t.Fatalf("after Flush: %q, want the three lines in one write", got)
	}
	if err := w.Flush(); err != nil || len(d.got()) != 1 {
		t.Fatalf("an empty Flush wrote: %q %v", d.got(), err)
	}
}

func TestLimitWritesTheBatch(t *testing.T) {
	d := newDest()
	w := New(d, 0, 16)
	w.Write([]byte("0123456789\n")) // 11 bytes: kept
	w.Write([]byte("abcdef\n"))     // would make 18: the first goes out
	if got := d.got(); len(got) != 1 || got[0] != "0123456789\n" {
		t.Fatalf("got %q, want the first line written when the second would pass the limit", got)
	}
	big := strings.Repeat("x", 20) + "\n"
	w.Write([]byte(big)) // larger than a batch: the batch, then it, in order
	if got := d.got(); len(got) != 3 || got[1] != "abcdef\n" || got[2] != big {
		t.Fatalf("got %q, want the batch then the large line", got)
	}
}

func TestUrgentRecordsAreWrittenAtOnce(t *testing.T) {
	d := newDest()
	w := New(d, 0, 1<<20)
	log := slog.New(NewHandler(slog.NewTextHandler(w, nil), w, slog.LevelWarn)).With("node", "a")
	log.Info("request", "n", 1)
	log.Info("request", "n", 2)
	if got := d.got(); len(got) != 0 {
		t.Fatalf("info written at once: %q", got)
	}
	log.WithGroup("g").Warn("slow", "n", 3)
	got := d.got()
	if len(got) != 1 {
		t.Fatalf("got %d writes, want one holding the batched lines and the warning", len(got))
	}
	lines := strings.Split(strings.TrimSpace(got[0]), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "n=1") || !strings.Contains(lines[1], "n=2") ||
		!strings.Contains(lines[2], "level=WARN") || !strings.Contains(lines[2], "node=a") || !strings.Contains(lines[2], "g.n=3") {
		t.Fatalf("lines %q: want the two requests then the warning, in order", lines)
	}
}

func TestIntervalWritesInTheBackground(t *testing.T) {
	d := newDest()
	w := New(d, time.Millisecond, 1<<20)
	defer w.Close()
	w.Write([]byte("waiting\n"))
	select {
	case <-d.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch was never written by the background writer")
	}
	if got := d.got(); len(got) != 1 || got[0] != "waiting\n" {
		t.Fatalf("got %q", got)
	}
}

func TestCloseWritesTheRest(t *testing.T) {
	d := newDest()
	w := New(d, time.Hour, 1<<20)
	w.Write([]byte("last\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := d.got(); len(got) != 1 || got[0] != "last\n" {
		t.Fatalf("after Close: %q", got)
	}
	w.Write([]byte("after\n"))
	w.Immediate().Write([]byte("now\n"))
	if got := d.got(); len(got) != 2 || got[1] != "after\nnow\n" {
		t.Fatalf("after Close, Immediate: %q", got)
	}
}

func TestWriteErrorIsReportedByFlush(t *testing.T) {
	d := newDest()
	d.fail = errors.New("disk full")
	w := New(d, 0, 1024)
	w.Write([]byte("lost\n"))
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Flush: %v, want the destination's error", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("second Flush: %v, want the error reported once", err)
	}
}

func TestConcurrentWritersKeepLinesWhole(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := New(lockedWriter{&mu, &out}, time.Millisecond, 512)
	log := slog.New(NewHandler(slog.NewTextHandler(w, nil), w, slog.LevelWarn))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				log.Info("request", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1600 {
		t.Fatalf("got %d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") || !strings.Contains(l, "msg=request g=") {
			t.Fatalf("torn line %q", l)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
