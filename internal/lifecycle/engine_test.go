package lifecycle_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/postgres"
	"github.com/deskplane/deskplane/internal/store/postgres/pgtest"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// backend is a store the engine tests run on; reopen closes it and opens
// the same data again (a restart).
type backend struct {
	name   string
	open   func(t *testing.T) store.Backend
	reopen func(t *testing.T, b store.Backend) store.Backend
}

// backends are SQLite and, when DESKPLANE_TEST_POSTGRES is set (see
// scripts/pg-start.sh), PostgreSQL.
func backends(t *testing.T) []backend {
	var path string
	openSQLite := func(t *testing.T) store.Backend {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	out := []backend{{name: "sqlite",
		open: func(t *testing.T) store.Backend {
			path = filepath.Join(t.TempDir(), "deskplane.db")
			return openSQLite(t)
		},
		reopen: func(t *testing.T, b store.Backend) store.Backend {
			b.Close()
			return openSQLite(t)
		}}}
	base := os.Getenv("DESKPLANE_TEST_POSTGRES")
	if base == "" {
		return out
	}
	var dsn string
	openPG := func(t *testing.T) store.Backend {
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return append(out, backend{name: "postgres",
		open: func(t *testing.T) store.Backend {
			dsn = pgtest.DSN(t, nil)
			return openPG(t)
		},
		reopen: func(t *testing.T, b store.Backend) store.Backend {
			b.Close()
			return openPG(t)
		}})
}

func newEngine(b store.Backend, c clock.Clock) *lifecycle.Engine {
	return lifecycle.New(b, c, lifecycle.Timing{}, quiet)
}

func schedule(t *testing.T, e *lifecycle.Engine, b store.Backend, id, kind string, due time.Time) {
	t.Helper()
	err := b.Update(t.Context(), func(tx store.Tx) error { return e.Schedule(t.Context(), tx, id, kind, due, map[string]string{}) })
	if err != nil {
		t.Fatal(err)
	}
}

func job(t *testing.T, b store.Backend, id string) store.JobStatus {
	t.Helper()
	js, err := b.ListJobs(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		if j.ID == id {
			return j
		}
	}
	t.Fatalf("job %s is gone", id)
	return store.JobStatus{}
}

func runDue(t *testing.T, e *lifecycle.Engine) int {
	t.Helper()
	n, err := e.RunDue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBackoff(t *testing.T) {
	e := newEngine(nil, clock.Real{})
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := e.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := e.Backoff(1 << 20); got != 5*time.Minute {
		t.Errorf("Backoff(huge) = %v, want the cap", got)
	}
}

// A failing job runs again after 1 s, 2 s, 4 s … at most 5 min, counted
// in the store (a restarted node goes on where the other left off), and
// after 10 failures it is parked: listed, never run again.
func TestFailingJobBacksOffAndIsParked(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			clk := clock.NewVirtual(t0, true)
			runs := 0
			fail := func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
				runs++
				return errors.New("the directory is unreachable")
			}
			e := newEngine(b, clk)
			e.Register("fail", fail)
			schedule(t, e, b, "j1", "fail", t0)
			for attempt := 1; attempt <= 10; attempt++ {
				if attempt == 4 { // a restart: the count and the due time survive
					b = be.reopen(t, b)
					e = newEngine(b, clk)
					e.Register("fail", fail)
				}
				if n := runDue(t, e); n != 0 || runs != attempt {
					t.Fatalf("attempt %d: ran %d, handler runs %d", attempt, n, runs)
				}
				j := job(t, b, "j1")
				if j.Attempts != attempt || j.LastError != "the directory is unreachable" {
					t.Fatalf("after attempt %d: %+v", attempt, j)
				}
				if attempt == 10 {
					if !j.Parked || !j.Due.Equal(clk.Now()) {
						t.Fatalf("after 10 failures the job is %+v, want parked now", j)
					}
					break
				}
				delay := e.Backoff(attempt)
				if j.Parked || !j.Due.Equal(clk.Now().Add(delay)) {
					t.Fatalf("after attempt %d: due %v parked %v, want due in %v", attempt, j.Due, j.Parked, delay)
				}
				clk.Advance(delay - time.Nanosecond)
				if runDue(t, e); runs != attempt {
					t.Fatalf("attempt %d: the job ran again before its backoff (%v) passed", attempt, delay)
				}
				clk.Advance(time.Nanosecond)
			}
			clk.Advance(24 * time.Hour)
			if runDue(t, e); runs != 10 {
				t.Errorf("a parked job ran again: %d runs", runs)
			}
			if _, ok, err := b.NextDue(t.Context(), clk.Now()); err != nil || ok {
				t.Errorf("NextDue with only a parked job = %v, %v", ok, err)
			}
			// Scheduled anew (the same id), it runs again from a clean count.
			schedule(t, e, b, "j1", "fail", clk.Now())
			runDue(t, e)
			if j := job(t, b, "j1"); runs != 11 || j.Attempts != 1 || j.Parked {
				t.Errorf("rescheduled job: runs %d, %+v", runs, j)
			}
		})
	}
}

// A panicking job is a failed run: its effect is rolled back, the panic is
// recorded as its error, and the other jobs of the pass still run.
func TestPanickingJobIsAFailure(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			clk := clock.NewVirtual(t0, true)
			e := newEngine(b, clk)
			e.Register("panic", func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
				if err := tx.Put(ctx, "effects", j.ID, []byte("half done")); err != nil {
					return err
				}
				var m map[string]int
				m["boom"]++ // a bug: assignment to a nil map
				return nil
			})
			e.Register("ok", func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
				return tx.Put(ctx, "effects", j.ID, []byte("done"))
			})
			schedule(t, e, b, "a-panics", "panic", t0)
			schedule(t, e, b, "b-ok", "ok", t0.Add(time.Millisecond))
			clk.Advance(time.Millisecond)
			if n := runDue(t, e); n != 1 {
				t.Fatalf("ran %d jobs, want 1 (the good one)", n)
			}
			if v, err := b.Get(t.Context(), "effects", "b-ok"); err != nil || string(v) != "done" {
				t.Errorf("the good job's effect = %q, %v", v, err)
			}
			if _, err := b.Get(t.Context(), "effects", "a-panics"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the panicking job's effect was kept: %v", err)
			}
			j := job(t, b, "a-panics")
			if j.Attempts != 1 || !strings.Contains(j.LastError, "panic") || !strings.Contains(j.LastError, "nil map") || j.Parked {
				t.Errorf("panicking job = %+v", j)
			}
		})
	}
}

// The scheduler's loop goes on after a panicking job: the job runs again
// after its backoff, and a job scheduled later runs too.
func TestSchedulerLoopSurvivesPanickingJob(t *testing.T) {
	b := backends(t)[0].open(t)
	clk := clock.NewVirtual(t0, true)
	e := newEngine(b, clk)
	e.Register("panic", func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error { panic("a bug in a handler") })
	e.Register("ok", func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
		return tx.Put(ctx, "effects", j.ID, []byte("done"))
	})
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() { defer close(stopped); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-stopped })
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			select {
			case <-stopped:
				t.Fatalf("the scheduler stopped while waiting for %s", what)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	schedule(t, e, b, "p", "panic", t0)
	waitFor("the first failure", func() bool { return job(t, b, "p").Attempts == 1 })
	schedule(t, e, b, "later", "ok", t0)
	waitFor("the next job", func() bool { _, err := b.Get(t.Context(), "effects", "later"); return err == nil })
	clk.Advance(time.Second)
	waitFor("the retry", func() bool { return job(t, b, "p").Attempts == 2 })
}

// countingObserver records what the scheduler reports.
type countingObserver struct {
	claims []int
	runs   map[string]int // kind/outcome → runs
}

func (o *countingObserver) ObserveClaim(n int) { o.claims = append(o.claims, n) }
func (o *countingObserver) ObserveRun(kind, outcome string, d time.Duration) {
	o.runs[kind+"/"+outcome]++
}

// The observer hears every claim and every run with its outcome: ok,
// retry, and parked on the last failure.
func TestObserverHearsClaimsAndRuns(t *testing.T) {
	be := backends(t)[0]
	b := be.open(t)
	clk := clock.NewVirtual(t0, true)
	e := newEngine(b, clk)
	e.MaxAttempts = 2
	obs := &countingObserver{runs: map[string]int{}}
	e.Observe = obs
	e.Register("ok", func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error { return nil })
	e.Register("fail", func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error { return errors.New("no") })
	schedule(t, e, b, "a", "ok", t0)
	schedule(t, e, b, "b", "ok", t0)
	schedule(t, e, b, "c", "fail", t0)
	runDue(t, e)
	clk.Advance(e.Backoff(1))
	runDue(t, e)
	if len(obs.claims) != 2 || obs.claims[0] != 3 || obs.claims[1] != 1 {
		t.Errorf("claims %v, want [3 1]", obs.claims)
	}
	want := map[string]int{"ok/ok": 2, "fail/retry": 1, "fail/parked": 1}
	for k, n := range want {
		if obs.runs[k] != n {
			t.Errorf("runs %v, want %v", obs.runs, want)
			break
		}
	}
}

// A pass of several due jobs runs them in due order, each seeing the effects
// of those before it; a failing one is rolled back and retried alone while
// the others' effects and completions stand (on SQLite the pass shares
// commits: UpdateEach).
func TestPassRunsJobsInOrderAndFailsOneAlone(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			ctx := t.Context()
			clk := clock.NewVirtual(t0, true)
			e := newEngine(b, clk)
			e.Register("append", func(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
				v, err := tx.Get(ctx, "t", "log")
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if err := tx.Put(ctx, "t", "log", append(v, j.ID...)); err != nil {
					return err
				}
				if j.ID == "c" {
					return errors.New("c fails")
				}
				return nil
			})
			for i, id := range []string{"a", "b", "c", "d", "e"} {
				schedule(t, e, b, id, "append", t0.Add(time.Duration(i)*time.Millisecond))
			}
			clk.Advance(time.Second)
			if n := runDue(t, e); n != 4 {
				t.Fatalf("ran %d jobs, want 4", n)
			}
			if v, err := b.Get(ctx, "t", "log"); err != nil || string(v) != "abde" {
				t.Fatalf("log = %q, %v; want abde (in due order, c rolled back)", v, err)
			}
			js, err := b.ListJobs(ctx, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(js) != 1 || js[0].ID != "c" || js[0].Attempts != 1 || js[0].LastError != "c fails" {
				t.Fatalf("jobs left: %+v; want only c, released after one failed attempt", js)
			}
		})
	}
}

// bump is a handler whose effect is a per-job counter in the store, written
// in the job's own transaction: how many times the job's effect landed.
func bump(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	v, err := tx.Get(ctx, "effects", j.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tx.Put(ctx, "effects", j.ID, append(v, '+'))
}

func effects(t *testing.T, b store.Backend, id string) string {
	t.Helper()
	v, err := b.Get(t.Context(), "effects", id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return string(v)
}

// TestExpiredLeaseIsTakenOver: a job claimed by a node that never finishes
// it (it died after claiming) is left alone while the claim's lease lasts
// and run by another node once the lease has expired, by the clock, once.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			clk := clock.NewVirtual(t0, true)
			e := newEngine(b, clk)
			e.Register("bump", bump)
			schedule(t, e, b, "j1", "bump", t0)
			claimed, err := b.Claim(t.Context(), "dead-node", clk.Now(), e.Lease, 10)
			if err != nil || len(claimed) != 1 || claimed[0].ID != "j1" {
				t.Fatalf("the dead node's claim: %+v, %v", claimed, err)
			}
			clk.Advance(e.Lease - time.Millisecond)
			if n := runDue(t, e); n != 0 || effects(t, b, "j1") != "" {
				t.Fatalf("ran %d jobs (effects %q) while another node's lease lasts", n, effects(t, b, "j1"))
			}
			clk.Advance(2 * time.Millisecond)
			if n := runDue(t, e); n != 1 || effects(t, b, "j1") != "+" {
				t.Fatalf("after the lease expired: ran %d, effects %q; want 1 and one effect", n, effects(t, b, "j1"))
			}
			clk.Advance(time.Hour)
			if n := runDue(t, e); n != 0 || effects(t, b, "j1") != "+" {
				t.Fatalf("a finished job ran again: %d, effects %q", n, effects(t, b, "j1"))
			}
			if js, err := b.ListJobs(t.Context(), "", 10); err != nil || len(js) != 0 {
				t.Fatalf("jobs left: %+v, %v", js, err)
			}
		})
	}
}

// TestTwoNodesApplyEachEffectOnce: two engines (two nodes) running passes
// over one store at the same time apply every job's effect exactly once,
// and a restart of the store after that runs nothing again.
func TestTwoNodesApplyEachEffectOnce(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			clk := clock.NewVirtual(t0, true)
			nodes := []*lifecycle.Engine{newEngine(b, clk), newEngine(b, clk)}
			for _, e := range nodes {
				e.Register("bump", bump)
			}
			const n = 40
			for i := range n {
				schedule(t, nodes[i%2], b, "job-"+strconv.Itoa(i), "bump", t0.Add(time.Duration(i)*time.Millisecond))
			}
			clk.Advance(time.Second)
			ran := make(chan int, len(nodes))
			for _, e := range nodes {
				go func() {
					total := 0
					for range 5 {
						k, err := e.RunDue(t.Context())
						if err != nil {
							t.Error(err)
						}
						total += k
					}
					ran <- total
				}()
			}
			total := <-ran + <-ran
			if total != n {
				t.Errorf("the two nodes ran %d jobs between them, want %d", total, n)
			}
			for i := range n {
				if got := effects(t, b, "job-"+strconv.Itoa(i)); got != "+" {
					t.Errorf("job-%d: effects %q, want exactly one", i, got)
				}
			}
			b = be.reopen(t, b)
			e := newEngine(b, clk)
			e.Register("bump", bump)
			clk.Advance(time.Hour)
			if k := runDue(t, e); k != 0 {
				t.Fatalf("after a restart %d jobs ran again", k)
			}
		})
	}
}
