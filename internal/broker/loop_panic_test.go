package broker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A reconcile pass that panics is logged and the loop goes on with the
// next pass.
func TestRunSurvivesPanickingPass(t *testing.T) {
	var passes atomic.Int32
	testHookPass = func() {
		if passes.Add(1) == 1 {
			panic("a bug in a reconcile pass")
		}
	}
	t.Cleanup(func() { testHookPass = nil })
	b, err := New(&Config{DataDir: t.TempDir()}, &Clients{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() { defer close(stopped); b.Run(ctx, time.Hour) }()
	defer func() { cancel(); <-stopped }()
	deadline := time.Now().Add(20 * time.Second)
	for passes.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no pass after the panicking one (passes = %d)", passes.Load())
		}
		b.Kick()
		select {
		case <-stopped:
			t.Fatalf("the loop ended after a panicking pass")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
