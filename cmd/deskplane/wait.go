package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
)

const waitUsage = `usage: deskplane wait image|workspace|directory ID [flags]
       deskplane wait account [flags]

Waits until a WorkSpaces image is AVAILABLE, a desktop AVAILABLE, a directory
REGISTERED, or the account's BYOL modification COMPLETED (--state names
another state), polling with the AWS credentials of the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, a profile).
It fails at once when the resource ends in ERROR (or FAILED).

flags:
`

// waitCmd runs "deskplane wait ...".
func waitCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, waitUsage); fs.PrintDefaults() }
	def := os.Getenv("DESKPLANE_ENDPOINT")
	if def == "" {
		def = "http://127.0.0.1:4599"
	}
	endpoint := fs.String("endpoint", def, "WorkSpaces endpoint URL (default $DESKPLANE_ENDPOINT, else http://127.0.0.1:4599; empty: AWS)")
	state := fs.String("state", "", "state to wait for (default AVAILABLE, REGISTERED or COMPLETED)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	interval := fs.Duration("interval", time.Second, "polling interval")
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	kind, rest := args[0], args[1:]
	id := ""
	if kind != "account" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 && id == "" && kind != "account" {
		id = fs.Arg(0)
	}
	w, ok := waiters[kind]
	if !ok || (kind != "account" && id == "") {
		fs.Usage()
		return 2
	}
	want := *state
	if want == "" {
		want = w.want
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane wait: %v\n", err)
		return 1
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c := workspaces.NewFromConfig(cfg, func(o *workspaces.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})
	last := "unknown"
	for {
		st, err := w.state(ctx, c, id)
		if err != nil && ctx.Err() != nil {
			fmt.Fprintf(stderr, "deskplane wait %s %s: still %s, not %s: %v\n", kind, id, last, want, ctx.Err())
			return 1
		}
		if err != nil {
			fmt.Fprintf(stderr, "deskplane wait %s %s: %v\n", kind, id, err)
			return 1
		}
		if st != last || last == "unknown" {
			fmt.Fprintf(stderr, "%s %s: %s\n", kind, id, st)
			last = st
		}
		if st == want {
			return 0
		}
		if st != want && (st == "ERROR" || st == "FAILED") {
			fmt.Fprintf(stderr, "deskplane wait %s %s: %s, not %s\n", kind, id, st, want)
			return 1
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "deskplane wait %s %s: still %s, not %s: %v\n", kind, id, st, want, ctx.Err())
			return 1
		case <-time.After(*interval):
		}
	}
}

// waiter reads one kind of resource's state.
type waiter struct {
	want  string
	state func(ctx context.Context, c *workspaces.Client, id string) (string, error)
}

var waiters = map[string]waiter{
	"image": {"AVAILABLE", func(ctx context.Context, c *workspaces.Client, id string) (string, error) {
		out, err := c.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{id}})
		if err != nil {
			return "", fmt.Errorf("DescribeWorkspaceImages: %w", err)
		}
		if len(out.Images) == 0 {
			return "", fmt.Errorf("no image %s", id)
		}
		return string(out.Images[0].State), nil
	}},
	"workspace": {"AVAILABLE", func(ctx context.Context, c *workspaces.Client, id string) (string, error) {
		out, err := c.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
		if err != nil {
			return "", fmt.Errorf("DescribeWorkspaces: %w", err)
		}
		if len(out.Workspaces) == 0 {
			return "", fmt.Errorf("no desktop %s", id)
		}
		return string(out.Workspaces[0].State), nil
	}},
	"directory": {"REGISTERED", func(ctx context.Context, c *workspaces.Client, id string) (string, error) {
		out, err := c.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
		if err != nil {
			return "", fmt.Errorf("DescribeWorkspaceDirectories: %w", err)
		}
		if len(out.Directories) == 0 {
			return "", fmt.Errorf("no directory %s", id)
		}
		return string(out.Directories[0].State), nil
	}},
	"account": {"COMPLETED", func(ctx context.Context, c *workspaces.Client, _ string) (string, error) {
		out, err := c.DescribeAccountModifications(ctx, &workspaces.DescribeAccountModificationsInput{})
		if err != nil {
			return "", fmt.Errorf("DescribeAccountModifications: %w", err)
		}
		st := "NONE"
		for _, m := range out.AccountModifications {
			if s := string(m.ModificationState); s == "COMPLETED" || st == "NONE" || st == "FAILED" {
				st = s
			}
		}
		return st, nil
	}},
}
