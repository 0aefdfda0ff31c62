// Package safego keeps a panic in a goroutine that outlives a request (a
// writer, a scheduler, a background loop) from taking the process down: the
// panic is recovered, logged with its stack through log/slog, and the work
// goes on.
//
// Loops recover per iteration with Call (or Try, for an iteration that
// returns an error), so one bad item never ends the loop; Go is the net
// around a whole goroutine, running its function again after a panic.
package safego

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// RestartDelay is how long Go waits before it runs a function again after
// it panicked (so a function that panics at once does not spin).
const RestartDelay = 100 * time.Millisecond

// Recover, deferred directly (defer safego.Recover(log, "name")), recovers
// a panic of the calling goroutine and logs it with its stack.
func Recover(log *slog.Logger, name string) {
	if p := recover(); p != nil {
		logPanic(log, name, p)
	}
}

// Call runs fn and reports whether it panicked; a panic is recovered and
// logged with its stack.
func Call(log *slog.Logger, name string, fn func()) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			logPanic(log, name, p)
			panicked = true
		}
	}()
	fn()
	return false
}

// Try runs fn and returns its error; a panic is recovered, logged with its
// stack, and returned as an error.
func Try(log *slog.Logger, name string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			logPanic(log, name, p)
			err = fmt.Errorf("%s: panic: %v", name, p)
		}
	}()
	return fn()
}

// Go runs fn in a new goroutine. When fn panics, the panic is logged with
// its stack and fn runs again (after RestartDelay) until ctx ends; when fn
// returns, the goroutine ends. done, if not nil, is called once when the
// goroutine ends.
func Go(ctx context.Context, log *slog.Logger, name string, fn func(ctx context.Context), done func()) {
	go func() {
		if done != nil {
			defer done()
		}
		for {
			if !Call(log, name, func() { fn(ctx) }) {
				return
			}
			t := time.NewTimer(RestartDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			logger(log).Warn("restarting after a panic", "goroutine", name)
		}
	}()
}

// LogPanic logs a panic value p, recovered by the caller, with the stack.
func LogPanic(log *slog.Logger, name string, p any) { logPanic(log, name, p) }

func logPanic(log *slog.Logger, name string, p any) {
	logger(log).Error("recovered from a panic", "goroutine", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}

func logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.Default()
	}
	return log
}
