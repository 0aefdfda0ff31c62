package main

import (
	"io"
	"os"

	"github.com/deskplane/deskplane/internal/broker"
)

// brokerMain runs "deskplane broker ...": onboard, serve, reconcile, cost.
func brokerMain(args []string, stdout, stderr io.Writer) int {
	return broker.Main(args, os.Stdin, stdout, stderr)
}
