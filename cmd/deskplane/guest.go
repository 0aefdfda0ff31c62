package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/runtime"
)

// guestCmd runs the built-in guest: the runtime of deskplane serve
// --runtime process starts it for each running desktop, with the desktop's
// identity in the environment (see internal/runtime).
func guestCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: deskplane guest (no arguments; started by deskplane serve --runtime process)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runtime.RunGuest(ctx, os.Getenv, stdout); err != nil {
		fmt.Fprintln(stderr, "deskplane guest:", err)
		return 1
	}
	return 0
}

// x11SessionCmd runs an x11 guest's session ("deskplane x11-session --
// GUEST-COMMAND..."): the runtime of deskplane serve --runtime x11 starts
// it for each running desktop (see runtime.RunX11Session).
func x11SessionCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "--" {
		fmt.Fprintln(stderr, "usage: deskplane x11-session -- GUEST-COMMAND... (started by deskplane serve --runtime x11)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runtime.RunX11Session(ctx, args[1:], os.Getenv, stdout, 3*time.Second); err != nil {
		fmt.Fprintln(stderr, "deskplane x11-session:", err)
		return 1
	}
	return 0
}
