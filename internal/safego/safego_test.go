package safego

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuf is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger() (*slog.Logger, *syncBuf) {
	b := &syncBuf{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

func TestCallRecoversAndLogsStack(t *testing.T) {
	log, buf := testLogger()
	if Call(log, "loop", func() {}) {
		t.Errorf("Call reported a panic for a function that returned")
	}
	if !Call(log, "loop", func() { panic("boom") }) {
		t.Fatalf("Call did not report the panic")
	}
	out := buf.String()
	for _, want := range []string{"level=ERROR", "goroutine=loop", "panic=boom", "safego_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}

func TestTryTurnsPanicIntoError(t *testing.T) {
	log, _ := testLogger()
	err := Try(log, "job", func() error {
		var m map[string]int
		m["x"] = 1 // a runtime error
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "job: panic") {
		t.Errorf("Try = %v, want a panic error", err)
	}
}

func TestRecoverDeferred(t *testing.T) {
	log, buf := testLogger()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer Recover(log, "worker")
		panic("deferred")
	}()
	<-done
	if !strings.Contains(buf.String(), "panic=deferred") {
		t.Errorf("log = %q", buf.String())
	}
}

// A loop whose iteration panics keeps going: the next iteration runs.
func TestLoopIterationPanicDoesNotEndLoop(t *testing.T) {
	log, _ := testLogger()
	var ran []int
	for i := range 3 {
		Call(log, "loop", func() {
			if i == 1 {
				panic("iteration 1")
			}
			ran = append(ran, i)
		})
	}
	if len(ran) != 2 || ran[0] != 0 || ran[1] != 2 {
		t.Errorf("iterations run = %v, want [0 2]", ran)
	}
}

func TestGoRestartsAfterPanic(t *testing.T) {
	log, buf := testLogger()
	var runs atomic.Int32
	ended := make(chan struct{})
	Go(t.Context(), log, "writer", func(ctx context.Context) {
		if runs.Add(1) == 1 {
			panic("first run")
		}
	}, func() { close(ended) })
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("the goroutine did not end after its second run (runs=%d)", runs.Load())
	}
	if runs.Load() != 2 {
		t.Errorf("runs = %d, want 2 (restarted once)", runs.Load())
	}
	if !strings.Contains(buf.String(), "panic=\"first run\"") {
		t.Errorf("log = %q", buf.String())
	}
}

func TestGoStopsRestartingWhenContextEnds(t *testing.T) {
	log, _ := testLogger()
	ctx, cancel := context.WithCancel(t.Context())
	ended := make(chan struct{})
	Go(ctx, log, "loop", func(ctx context.Context) {
		cancel()
		panic("always")
	}, func() { close(ended) })
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("the goroutine kept restarting after its context ended")
	}
}
