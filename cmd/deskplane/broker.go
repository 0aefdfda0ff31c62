package main

import (
	"io"
	"os"

	"github.com/deskplane/deskplane/internal/broker"
)

// brokerMain runs "deskplane broker ...": onboard, serve, reconcile, cost.
// Onboarding prompts only when standard input is a terminal, so a script
// (or a pasted block of commands) never stops at a prompt.
func brokerMain(args []string, stdout, stderr io.Writer) int {
	var stdin io.Reader
	if isTerminal(os.Stdin) {
		stdin = os.Stdin
	}
	return broker.Main(args, stdin, stdout, stderr)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
