package main

import (
	"fmt"
	"io"
)

func brokerMain(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "deskplane broker: not yet available in this build")
	return 2
}
