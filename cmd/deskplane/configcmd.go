package main

import (
	"fmt"
	"io"
	"os"

	"github.com/deskplane/deskplane/internal/config"
)

// configMain runs "deskplane config check FILE|-" and "deskplane config
// example".
func configMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		configUsage(stderr)
		return 2
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			configUsage(stderr)
			return 2
		}
		name := args[1]
		var b []byte
		var err error
		if name == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(stderr, "deskplane config check: %v\n", err)
			return 1
		}
		c, err := config.Parse(name, b)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: valid (%d accounts, %d regions)\n", name, len(c.Accounts), len(c.Regions))
		return 0
	case "example":
		stdout.Write(config.Example)
		return 0
	case "-h", "--help", "help":
		configUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "deskplane config: unknown command %q\n", args[0])
	configUsage(stderr)
	return 2
}

func configUsage(w io.Writer) {
	fmt.Fprint(w, `usage: deskplane config check FILE   validate a configuration file (- for standard input) without starting
       deskplane config example      print a documented example configuration
`)
}
