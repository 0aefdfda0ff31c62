package cloudtrail

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
)

// TestQueueKeepsEveryEventInOrder records events from many goroutines at
// once, with buffers small enough that Record waits for room and batches
// are cut short, and flushes at random: every event is built once, each
// goroutine's in the order it recorded them, a Flush returns only when the
// events its caller recorded before it are built, and Close builds what is
// still queued. It fails when the queue loses, repeats or reorders an
// event, or when Flush or Close return early.
func TestQueueKeepsEveryEventInOrder(t *testing.T) {
	for _, o := range []Options{{Buffer: 64, MaxBatch: 16}, {Buffer: 8, MaxBatch: 2048}, {Buffer: 1, MaxBatch: 1}, {Buffer: 4096, MaxBatch: 4}, {}} {
		t.Run(fmt.Sprintf("buffer %d batch %d", o.Buffer, o.MaxBatch), func(t *testing.T) {
			const producers, each = 8, 2500
			var mu sync.Mutex
			built := make([]int, producers) // the events of each producer built so far
			testHookBuild = func(e *gateway.Event) {
				var p, i int
				if _, err := fmt.Sscanf(e.RequestID, "%d-%d", &p, &i); err != nil {
					t.Errorf("request id %q", e.RequestID)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if i != built[p] {
					t.Errorf("producer %d: event %d built after %d events", p, i, built[p])
				}
				built[p] = i + 1
			}
			t.Cleanup(func() { testHookBuild = nil })
			tr, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			svc := &gateway.Service{Name: "kms", EventSource: "kms.amazonaws.com"}
			pr := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					rnd := mrand.New(mrand.NewPCG(uint64(p), 1))
					for i := range each {
						tr.Record(context.Background(), &gateway.Event{RequestID: fmt.Sprintf("%d-%d", p, i), Time: time.Unix(1700000000, 0),
							Service: svc, Operation: "ListKeys", Region: "us-east-1", Account: "111122223333", Principal: pr, ReadOnly: true})
						if rnd.IntN(400) == 0 {
							if err := tr.Flush(context.Background()); err != nil {
								t.Error(err)
							}
							mu.Lock()
							n := built[p]
							mu.Unlock()
							if n != i+1 {
								t.Errorf("producer %d: after a flush, %d of its %d events are built", p, n, i+1)
							}
						}
					}
				})
			}
			wg.Wait()
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for p, n := range built {
				if n != each {
					t.Errorf("producer %d: %d of %d events built by Close", p, n, each)
				}
			}
			tr.Record(context.Background(), &gateway.Event{RequestID: "0-0", Service: svc}) // after Close: dropped, not built
			if err := tr.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRecordNudgesTheWriter records many more events than the queue holds
// into a writer whose linger is an hour, then closes it: Record wakes the
// writer when the queue is half full, and Close when it closes it, so
// neither waits for the linger. It fails (at its deadline) when either
// does.
func TestRecordNudgesTheWriter(t *testing.T) {
	built := 0
	testHookBuild = func(*gateway.Event) { built++ } // the writer's goroutine only
	t.Cleanup(func() { testHookBuild = nil })
	tr, err := New(Options{Buffer: 8, MaxBatch: 64, linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc := &gateway.Service{Name: "kms", EventSource: "kms.amazonaws.com"}
	pr := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			tr.Record(context.Background(), &gateway.Event{RequestID: fmt.Sprint(i), Time: time.Unix(1700000000, 0),
				Service: svc, Operation: "ListKeys", Region: "us-east-1", Account: "111122223333", Principal: pr, ReadOnly: true})
		}
		tr.Close()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Record or Close waited for the writer's linger")
	}
	if built != 1000 {
		t.Fatalf("%d of 1,000 events built", built)
	}
}
