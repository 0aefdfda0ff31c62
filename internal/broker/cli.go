package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/safego"
)

const usageText = `usage: deskplane broker <command> --config FILE [flags]

commands:
  onboard    infrastructure setup: BYOL + management CIDR, image import,
             directory registration, bundle (idempotent, resumable)
  serve      run the session API and the reconcile loop
  reconcile  run one reconcile pass and print what it did
  cost       print the cost report (hours AVAILABLE, cost, ALWAYS_ON, saving)

Run "deskplane broker <command> -h" for the command's flags.
`

// Main runs "deskplane broker ..." and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainWith(args, stdin, stdout, stderr, Options{})
}

// MainWith is Main with injected options (a clock, a logger) for tests.
func MainWith(args []string, stdin io.Reader, stdout, stderr io.Writer, o Options) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	case "onboard", "serve", "reconcile", "cost":
	default:
		fmt.Fprintf(stderr, "deskplane broker: unknown command %q\n", cmd)
		fmt.Fprint(stderr, usageText)
		return 2
	}
	fs := flag.NewFlagSet("broker "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "broker configuration file (JSON)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	var (
		cidr, ami, dir, imageName, bundleName, ingestion, constraint *string
		noPrompt                                                     *bool
		poll                                                         *time.Duration
		listen                                                       *string
		from, to                                                     *string
		asJSON                                                       *bool
	)
	switch cmd {
	case "onboard":
		cidr = fs.String("cidr", "", "management CIDR range for BYOL (default: config, else prompt)")
		constraint = fs.String("cidr-constraint", "10.0.0.0/8", "range to list available management CIDR ranges in")
		ami = fs.String("ami", "", "EC2 AMI id to import (default: config, else prompt)")
		dir = fs.String("directory", "", "directory id or name to register (default: config, else prompt)")
		imageName = fs.String("image-name", "", "WorkSpaces image name (default: config, else deskplane-byol-image)")
		bundleName = fs.String("bundle-name", "", "bundle name (default: config, else deskplane-bundle)")
		ingestion = fs.String("ingestion-process", "", "ingestion process (default BYOL_REGULAR_BYOP)")
		noPrompt = fs.Bool("no-prompt", false, "never prompt; fail when a choice is missing")
		poll = fs.Duration("poll", 5*time.Second, "status polling interval")
	case "serve":
		listen = fs.String("listen", "", "session API address (default: config, else 127.0.0.1:4700)")
	case "cost":
		from = fs.String("from", "", "start of the period (RFC 3339 or YYYY-MM-DD; default: the beginning)")
		to = fs.String("to", "", "end of the period (default: now)")
		asJSON = fs.Bool("json", false, "print JSON")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *configPath == "" {
		fmt.Fprintf(stderr, "deskplane broker %s: --config is required\n", cmd)
		return 2
	}
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker: %v\n", err)
		return 2
	}
	if o.Log == nil {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
			fmt.Fprintf(stderr, "deskplane broker: invalid --log-level %q\n", *logLevel)
			return 2
		}
		o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	awsCfg, err := NewAWSConfig(ctx, cfg, 60*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker: %v\n", err)
		return 1
	}
	clients := NewClients(awsCfg, cfg.Endpoint)

	if cmd == "onboard" {
		ob := cfg.Onboarding
		for _, kv := range []struct {
			dst *string
			v   string
		}{{&ob.CIDR, *cidr}, {&ob.AMI, *ami}, {&ob.Directory, *dir}, {&ob.ImageName, *imageName}, {&ob.BundleName, *bundleName}, {&ob.IngestionProcess, *ingestion}} {
			if kv.v != "" {
				*kv.dst = kv.v
			}
		}
		on := &Onboarder{C: clients, Cfg: ob, CIDRConstraint: *constraint, Out: stdout, Poll: *poll}
		if !*noPrompt && stdin != nil {
			on.In = bufio.NewReader(stdin)
		}
		if _, err := on.Run(ctx); err != nil {
			fmt.Fprintf(stderr, "deskplane broker onboard: %v\n", err)
			return 1
		}
		return 0
	}

	b, err := New(cfg, clients, o)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker: %v\n", err)
		return 1
	}
	defer b.Close()
	switch cmd {
	case "reconcile":
		rep, err := b.Reconcile(ctx)
		if rep != nil {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		}
		if err != nil {
			fmt.Fprintf(stderr, "deskplane broker reconcile: %v\n", err)
			return 1
		}
		return 0
	case "cost":
		f, err1 := ParseTime(*from)
		t, err2 := ParseTime(*to)
		if err := errors.Join(err1, err2); err != nil {
			fmt.Fprintf(stderr, "deskplane broker cost: %v\n", err)
			return 2
		}
		rep, err := b.Cost(ctx, f, t)
		if err != nil {
			fmt.Fprintf(stderr, "deskplane broker cost: %v\n", err)
			return 1
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			rep.Print(stdout)
		}
		return 0
	}
	// serve
	addr := cfg.Listen
	if *listen != "" {
		addr = *listen
	}
	if len(cfg.APITokens) == 0 {
		fmt.Fprintln(stderr, "deskplane broker serve: configure at least one api_tokens entry")
		return 2
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker serve: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "deskplane broker listening on http://%s\n", ln.Addr())
	loopDone := make(chan struct{})
	safego.Go(ctx, b.log, "broker reconcile loop", func(ctx context.Context) { b.Run(ctx, cfg.reconcileInterval()) },
		func() { close(loopDone) })
	defer func() { <-loopDone }() // the store closes after the loop stops
	go func() {
		defer safego.Recover(b.log, "broker shutdown")
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		srv.Shutdown(sctx)
	}()
	err = srv.Serve(ln)
	cancel() // stop the loop before the deferred wait for it
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "deskplane broker serve: %v\n", err)
		return 1
	}
	return 0
}
