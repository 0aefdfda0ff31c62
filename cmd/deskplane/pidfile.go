package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// pidFileName is the file in the data dir that holds the pid of the serve
// process using it, so a script can stop it: kill $(cat DIR/deskplane.pid).
const pidFileName = "deskplane.pid"

// writePIDFile writes this process's pid to the data dir and returns the
// file's path; serve removes it on exit.
func writePIDFile(dataDir string) (string, error) {
	p := filepath.Join(dataDir, pidFileName)
	if err := os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write the pid file: %w", err)
	}
	return p, nil
}

// stopCause describes why serve's context ended (the signal, when known).
func stopCause(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil && c != context.Canceled {
		return c.Error()
	}
	return "signal received"
}
