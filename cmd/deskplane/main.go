// Command deskplane is a self-hosted Amazon WorkSpaces Core platform:
// "deskplane serve" runs the AWS-compatible server, "deskplane broker" the
// partner control plane.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/logbuf"
	"github.com/deskplane/deskplane/internal/server"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "broker":
		return brokerMain(args[1:], stdout, stderr)
	case "config":
		return configMain(args[1:], os.Stdin, stdout, stderr)
	case "wait":
		return waitCmd(args[1:], stdout, stderr)
	case "guest":
		return guestCmd(args[1:], stdout, stderr)
	case "x11-session":
		return x11SessionCmd(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "deskplane: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: deskplane <command> [flags]

commands:
  serve     run the AWS-compatible WorkSpaces Core server
  broker    run the partner control plane (see deskplane broker -h)
  config    check a configuration file, or print an example (see deskplane config -h)
  wait      wait for a WorkSpaces image, desktop, directory or BYOL (see deskplane wait -h)
  guest     the built-in guest of a desktop (started by serve --runtime process)
  x11-session  the session of an x11 desktop (started by serve --runtime x11)
  version   print the version and the VCS revision it was built from
`)
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o server.Options
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:4599", "address to listen on")
	fs.StringVar(&o.DataDir, "data-dir", "./.deskplane", "directory for the embedded database and keys")
	fs.StringVar(&o.ConfigFile, "config", "", "configuration file (JSON); default environment when empty")
	fs.StringVar(&o.Timing, "timing", "fast", "lifecycle timing: instant, fast or realistic")
	fs.StringVar(&o.Clock, "clock", "real", "clock: real, or virtual (advanced with POST /_deskplane/clock)")
	fs.StringVar(&o.Store, "store", "", "store: sqlite for the embedded SQLite in --data-dir, pebble for the embedded Pebble store in --data-dir/pebble, or a postgres:// URL; empty: SQLite if --data-dir holds its database, else Pebble")
	fs.StringVar(&o.Runtime, "runtime", "none", "guests behind desktops: none (records only), process (a guest process per running desktop on its loopback address) or x11 (a Linux desktop per running desktop: Xvfb, openbox, xterm, and x11vnc on port 5900)")
	fs.IntVar(&o.RuntimeMax, "runtime-max", server.DefaultRuntimeMax, "with a runtime, the most guests running at once")
	logLevel := fs.String("log-level", "info", "log level: debug, info (one line per request), warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	// TLS (see README "Command line").
	tlsMode := fs.String("tls", "", "auto: serve HTTPS with a certificate generated into the data dir")
	fs.StringVar(&o.TLS.CertFile, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	fs.StringVar(&o.TLS.KeyFile, "tls-key", "", "the private key of --tls-cert (PEM)")
	// Directories answering LDAP (see README "Directories that answer LDAP").
	fs.BoolVar(&o.LDAP.Enabled, "ldap", false, "serve LDAP (389) and LDAPS (636) on each directory's loopback DNS addresses")
	fs.IntVar(&o.LDAP.Port, "ldap-port", 389, "with --ldap: the LDAP port (binding below 1024 needs root or CAP_NET_BIND_SERVICE)")
	fs.IntVar(&o.LDAP.TLSPort, "ldaps-port", 636, "with --ldap: the LDAPS port")
	reset := fs.Bool("reset", false, "wipe the data dir's state (embedded store) before starting; refused while another server serves it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch *tlsMode {
	case "", "off":
	case "auto":
		o.TLS.Auto = true
	default:
		fmt.Fprintf(stderr, "deskplane serve: invalid --tls %q (want auto)\n", *tlsMode)
		return 2
	}
	if err := o.Check(); err != nil {
		fmt.Fprintf(stderr, "deskplane serve: %v\n", err)
		return 1
	}
	if *reset {
		if !embedded(o.Store) {
			fmt.Fprintln(stderr, "deskplane serve: --reset works on the embedded store only (drop and re-create the PostgreSQL database instead)")
			return 2
		}
		if err := server.ResetDataDir(o.DataDir); err != nil {
			fmt.Fprintf(stderr, "deskplane serve: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "deskplane serve: reset %s (the admin token is kept)\n", o.DataDir)
	}
	server.TuneRuntime(o)
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "deskplane serve: invalid --log-level %q\n", *logLevel)
		return 2
	}
	// The log is written in batches (a line per request is not a write
	// system call per request); warnings and errors, and the messages
	// written to stderr beside the log, go out at once, in order.
	logw := logbuf.New(stderr, logbuf.Interval, logbuf.Limit)
	defer logw.Close()
	var h slog.Handler
	switch *logFormat {
	case "text":
		// slog's text format, with the request log's lines formatted
		// without slog's generality (logbuf.TextHandler).
		h = logbuf.NewTextHandler(logw, &slog.HandlerOptions{Level: lvl})
	case "json":
		h = slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: lvl})
	default:
		fmt.Fprintf(stderr, "deskplane serve: invalid --log-format %q (want text or json)\n", *logFormat)
		return 2
	}
	o.Log = slog.New(logbuf.NewHandler(h, logw, slog.LevelWarn))
	stderr = logw.Immediate()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	s, err := server.New(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane serve: %v\n", err)
		return 1
	}
	if err := s.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "deskplane serve: %v\n", err)
		s.Shutdown(context.Background())
		return 1
	}
	pidFile, err := writePIDFile(o.DataDir)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane serve: %v\n", err)
		s.Shutdown(context.Background())
		return 1
	}
	defer os.Remove(pidFile)
	fmt.Fprintf(stdout, "deskplane serve listening on %s\n", s.BaseURL())
	if s.CAFile != "" {
		fmt.Fprintf(stdout, "  CA bundle:    %s  (aws --ca-bundle, AWS_CA_BUNDLE)\n", s.CAFile)
	}
	fmt.Fprintf(stdout, "  data dir:     %s\n", o.DataDir)
	fmt.Fprintf(stdout, "  store:        %s\n", storeName(o))
	fmt.Fprintf(stdout, "  timing:       %s, clock: %s\n", o.Timing, o.Clock)
	where := "set by the config"
	if s.AdminTokenFile != "" {
		where = "stored in " + s.AdminTokenFile
	}
	fmt.Fprintf(stdout, "  admin token:  %s  (Authorization: Bearer … for every /_deskplane/ endpoint but health; %s)\n", s.AdminToken, where)
	if w := exposureWarning(s.Addr(), s.Deps.Config); w != "" {
		fmt.Fprintln(stderr, w)
	}
	if o.ConfigFile == "" {
		fmt.Fprintf(stdout, "  default credentials:\n")
		fmt.Fprintf(stdout, "    customer %s admin:   %s / %s\n", config.CustomerAccount, config.AdminKeyID, config.AdminSecret)
		fmt.Fprintf(stdout, "    partner  %s partner: %s / %s\n", config.PartnerAccount, config.PartnerKeyID, config.PartnerSecret)
		fmt.Fprintf(stdout, "  partner role: %s  ExternalId: %s\n", config.PartnerRoleARN, config.PartnerExternalID)
	}
	fmt.Fprintf(stdout, "  state persists in the data dir across restarts; --reset starts from a clean state\n")
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "deskplane serve: shutdown: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "deskplane serve: stopped cleanly (%s)\n", stopCause(ctx))
	return 0
}

// exposureWarning is the warning printed when serve listens beyond
// loopback with keys whose secrets are published, or "".
func exposureWarning(addr string, cfg *config.Config) string {
	if httpguard.Loopback(addr) || !publicKeys(cfg) {
		return ""
	}
	return "deskplane serve: WARNING: listening on " + addr + ", beyond loopback, with the default environment's access keys: " +
		"their secrets are published (README), so anyone who can reach this address can act as their users; " +
		"use --config with keys of your own"
}

// publicKeys reports whether cfg declares one of the default
// environment's access keys, whose secrets are published.
func publicKeys(cfg *config.Config) bool {
	for _, a := range cfg.Accounts {
		for _, u := range a.Users {
			for _, k := range u.AccessKeys {
				if k.ID == config.AdminKeyID || k.ID == config.PartnerKeyID {
					return true
				}
			}
		}
	}
	return false
}

// embedded reports whether --store names an embedded store (SQLite or
// Pebble).
func embedded(store string) bool { return server.Options{Store: store}.Embedded() }

func storeName(o server.Options) string {
	switch o.EmbeddedKind() {
	case "pebble":
		return "embedded Pebble"
	case "sqlite":
		return "embedded SQLite"
	}
	return "PostgreSQL"
}
