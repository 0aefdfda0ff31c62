package broker

import (
	"bufio"
	"context"
	"crypto/tls"
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/deskplane/deskplane/internal/broker/gateway"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/safego"
)

const usageText = `usage: deskplane broker <command> --config FILE [flags]

commands:
  onboard    infrastructure setup: BYOL + management CIDR, image import,
             directory registration, bundle (idempotent, resumable)
  serve      run the session API and the reconcile loop
  reconcile  run one reconcile pass and print what it did
  cost       print the cost report (hours AVAILABLE, cost, ALWAYS_ON, saving)
  gateway    run a connection gateway as its own process, attached to a broker

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
	case "gateway":
		return gateway.Main(args, stdout, stderr, gateway.MainOptions{Context: o.Context, Log: o.Log})
	case "onboard", "serve", "reconcile", "cost":
	default:
		fmt.Fprintf(stderr, "deskplane broker: unknown command %q\n", cmd)
		fmt.Fprint(stderr, usageText)
		return 2
	}
	fs := flag.NewFlagSet("broker "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "broker configuration file (JSON)")
	tenantFlag := fs.String("tenant", "", "with tenants in the configuration: the one to act on (default: every tenant; onboard needs one)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	var (
		cidr, ami, dir, imageName, bundleName, ingestion, constraint *string
		noPrompt, standby                                            *bool
		poll                                                         *time.Duration
		listen, tlsMode, tlsCert, tlsKey, storeURL                   *string
		from_, to                                                    *string
		asJSON                                                       *bool
	)
	switch cmd {
	case "onboard":
		cidr = fs.String("cidr", "", "management CIDR range for BYOL (default: config, else prompt)")
		constraint = fs.String("cidr-constraint", "10.0.0.0/8", "range to list available management CIDR ranges in")
		ami = fs.String("ami", "", "EC2 AMI to import, by id or name (default: config, else prompt)")
		dir = fs.String("directory", "", "directory id or name to register (default: config, else prompt)")
		imageName = fs.String("image-name", "", "WorkSpaces image name (default: config, else deskplane-byol-image)")
		bundleName = fs.String("bundle-name", "", "bundle name (default: config, else deskplane-bundle)")
		ingestion = fs.String("ingestion-process", "", "ingestion process (default BYOL_REGULAR_BYOP)")
		noPrompt = fs.Bool("no-prompt", false, "never prompt; fail when a choice is missing")
		standby = fs.Bool("standby", false, "onboard the pools' standby region instead of the primary")
		poll = fs.Duration("poll", 5*time.Second, "status polling interval")
	case "serve":
		listen = fs.String("listen", "", "session API address (default: config, else 127.0.0.1:4700)")
		storeURL = fs.String("store", "", "postgres://… to share the state with other brokers (default: config store, else SQLite in data_dir)")
		tlsMode = fs.String("tls", "", "auto: serve HTTPS with a certificate generated into the data dir; off: plain HTTP (default: config tls)")
		tlsCert = fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; default: config tls_cert)")
		tlsKey = fs.String("tls-key", "", "the private key of --tls-cert (PEM; default: config tls_key)")
	case "cost":
		from_ = fs.String("from", "", "start of the period (RFC 3339 or YYYY-MM-DD; default: the beginning)")
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
	parent := o.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if storeURL != nil && *storeURL != "" {
		cfg.Store = *storeURL
	}
	names, tcfgs, err := cfg.TenantConfigs()
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker: %v\n", err)
		return 2
	}
	// --tenant picks one tenant; without it, reconcile and cost act on
	// every tenant and onboard on the only one.
	if *tenantFlag != "" {
		found := false
		for i, n := range names {
			if n == *tenantFlag {
				names, tcfgs, found = []string{n}, []*Config{tcfgs[i]}, true
				break
			}
		}
		if !found {
			fmt.Fprintf(stderr, "deskplane broker %s: no tenant %q in the configuration (tenants: %s)\n", cmd, *tenantFlag, strings.Join(names, ", "))
			return 2
		}
	}
	multi := len(cfg.Tenants) > 0

	if cmd == "onboard" {
		if len(names) != 1 {
			fmt.Fprintf(stderr, "deskplane broker onboard: the configuration has several tenants; name one with --tenant (%s)\n", strings.Join(names, ", "))
			return 2
		}
		tc := tcfgs[0]
		if *standby {
			sc, err := standbyConfig(tc)
			if err != nil || sc == nil {
				fmt.Fprintf(stderr, "deskplane broker onboard --standby: no pool has a standby region (%v)\n", err)
				return 2
			}
			tc = sc
		}
		awsCfg, err := NewAWSConfig(ctx, tc, 60*time.Second)
		if err != nil {
			fmt.Fprintf(stderr, "deskplane broker: %v\n", err)
			return 1
		}
		ob := tc.Onboarding
		for _, kv := range []struct {
			dst *string
			v   string
		}{{&ob.CIDR, *cidr}, {&ob.AMI, *ami}, {&ob.Directory, *dir}, {&ob.ImageName, *imageName}, {&ob.BundleName, *bundleName}, {&ob.IngestionProcess, *ingestion}} {
			if kv.v != "" {
				*kv.dst = kv.v
			}
		}
		on := &Onboarder{C: NewClients(awsCfg, tc.Endpoint), Cfg: ob, CIDRConstraint: *constraint, Out: stdout, Poll: *poll, Ports: tc.ProtocolPorts()}
		if !*noPrompt && stdin != nil {
			on.In = bufio.NewReader(stdin)
		}
		if _, err := on.Run(ctx); err != nil {
			fmt.Fprintf(stderr, "deskplane broker onboard: %v\n", err)
			return 1
		}
		return 0
	}

	if cmd == "reconcile" || cmd == "cost" {
		var from, until time.Time
		if cmd == "cost" {
			f, err1 := ParseTime(*from_)
			t, err2 := ParseTime(*to)
			if err := errors.Join(err1, err2); err != nil {
				fmt.Fprintf(stderr, "deskplane broker cost: %v\n", err)
				return 2
			}
			from, until = f, t
		}
		// The cost report only reads: it runs beside a serving broker.
		o.ReadOnly = cmd == "cost"
		reports := map[string]any{}
		code := 0
		for i, name := range names {
			tc := tcfgs[i]
			awsCfg, err := NewAWSConfig(ctx, tc, 60*time.Second)
			if err != nil {
				fmt.Fprintf(stderr, "deskplane broker: %v\n", err)
				return 1
			}
			b, err := New(tc, NewClients(awsCfg, tc.Endpoint), o)
			if err != nil {
				fmt.Fprintf(stderr, "deskplane broker: %s%v\n", tenantPrefix(multi, name), err)
				return 1
			}
			if cmd == "reconcile" {
				rep, err := b.Reconcile(ctx)
				if rep != nil {
					reports[name] = rep
				}
				if err != nil {
					fmt.Fprintf(stderr, "deskplane broker reconcile: %s%v\n", tenantPrefix(multi, name), err)
					code = 1
				}
			} else {
				rep, err := b.Cost(ctx, from, until)
				if err != nil {
					b.Close()
					fmt.Fprintf(stderr, "deskplane broker cost: %s%v\n", tenantPrefix(multi, name), err)
					return 1
				}
				if *asJSON {
					reports[name] = rep
				} else {
					if multi {
						fmt.Fprintf(stdout, "tenant %s\n", name)
					}
					rep.Print(stdout)
				}
			}
			b.Close()
		}
		if cmd == "reconcile" || *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if multi {
				enc.Encode(reports)
			} else if r, ok := reports[DefaultTenant]; ok {
				enc.Encode(r)
			}
		}
		return code
	}

	// serve
	addr := cfg.Listen
	if *listen != "" {
		addr = *listen
	}
	tokens := len(cfg.APITokens)
	for _, t := range cfg.Tenants {
		tokens += len(t.APITokens)
	}
	if tokens == 0 {
		fmt.Fprintln(stderr, "deskplane broker serve: configure at least one api_tokens entry")
		return 2
	}
	// The flags replace the config's TLS settings; both kinds on the
	// command line are refused when the certificate is loaded.
	if *tlsCert != "" || *tlsKey != "" || *tlsMode != "" {
		cfg.TLSCert, cfg.TLSKey, cfg.TLS = *tlsCert, *tlsKey, *tlsMode
		if cfg.TLS == "off" {
			cfg.TLS = ""
		}
	}
	if cfg.TLS != "" && cfg.TLS != "auto" {
		fmt.Fprintf(stderr, "deskplane broker serve: invalid --tls %q (want auto)\n", cfg.TLS)
		return 2
	}
	fleet, err := NewFleet(ctx, cfg, 60*time.Second, o)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker: %v\n", err)
		return 1
	}
	defer fleet.Close()
	ln, scheme, caFile, err := listenAPI(addr, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker serve: %v\n", err)
		return 1
	}
	var handler http.Handler = fleet.Handler()
	gwLine := ""
	if !cfg.Gateway.Disabled {
		h, tcpAddr, err := startLocalGateway(ctx, cfg, addr, fleet.Hub(), o.Log, handler)
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "deskplane broker serve: %v\n", err)
			return 1
		}
		handler = h
		gwLine = fmt.Sprintf("deskplane broker gateway: websocket /gateway/ws, tcp %s (address map %s)\n", tcpAddr, cfg.addressMap())
	}
	srv := o.Limits.Server(httpguard.NewHosts(addr, cfg.AllowedHosts).Wrap(handler))
	fmt.Fprintf(stdout, "deskplane broker listening on %s://%s\n", scheme, ln.Addr())
	if caFile != "" {
		fmt.Fprintf(stdout, "  CA bundle: %s\n", caFile)
	}
	fmt.Fprint(stdout, gwLine) // after the lines scripts read first
	if !httpguard.Loopback(ln.Addr().String()) {
		if cfg.publicSecrets() {
			fmt.Fprintf(stderr, "deskplane broker serve: WARNING: listening on %s, beyond loopback, with a published api token "+
				"or access key (the example's or deskplane's default environment's): anyone who can reach this address can use them\n", ln.Addr())
		}
		if scheme == "http" {
			fmt.Fprintf(stderr, "deskplane broker serve: WARNING: listening on %s, beyond loopback, without TLS: "+
				"bearer tokens cross the network in the clear (tls, or tls_cert and tls_key)\n", ln.Addr())
		}
	}
	loopDone := make(chan struct{})
	safego.Go(ctx, o.Log, "broker reconcile loops", func(ctx context.Context) { fleet.Run(ctx, cfg.reconcileInterval()) },
		func() { close(loopDone) })
	defer func() { <-loopDone }() // the store closes after the loop stops
	go func() {
		defer safego.Recover(o.Log, "broker shutdown")
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

// startLocalGateway runs the in-process gateway: its WebSocket at
// /gateway/ws beside the session API (the returned handler), and a TCP
// listener for native clients, until ctx ends.
func startLocalGateway(ctx context.Context, cfg *Config, apiAddr string, hub *GatewayHub, log *slog.Logger, api http.Handler) (http.Handler, string, error) {
	// The broker gives the gateway the address to dial (Target.Address,
	// Broker.reachable); the map is the gateway's fallback without one.
	m := gateway.Direct
	if cfg.addressMap() == "loopback" {
		m = gateway.Loopback
	}
	tcpAddr := cfg.Gateway.ListenTCP
	if tcpAddr == "" {
		host, _, err := net.SplitHostPort(apiAddr)
		if err != nil {
			host = "127.0.0.1"
		}
		tcpAddr = net.JoinHostPort(host, "0")
	}
	tln, err := net.Listen("tcp", tcpAddr)
	if err != nil {
		return nil, "", fmt.Errorf("gateway: listen on %s: %w", tcpAddr, err)
	}
	gw := &gateway.Gateway{ID: LocalGatewayID, Broker: hub, Map: m, Log: log}
	hub.RegisterLocal(gateway.Registration{ID: LocalGatewayID, URL: "/gateway/ws", TCPAddr: tln.Addr().String()})
	safego.Go(ctx, log, "broker gateway tcp", func(ctx context.Context) {
		if err := gw.ServeTCP(ctx, tln); err != nil {
			log.Error("gateway tcp listener stopped", "err", err)
		}
	}, nil)
	mux := http.NewServeMux()
	mux.Handle("GET /gateway/ws", gw)
	mux.Handle("/", api)
	return mux, tln.Addr().String(), nil
}

// LocalGatewayID is the id of the gateway "broker serve" runs in process.
const LocalGatewayID = "local"

// listenAPI listens on addr for the session API, over TLS when cfg asks for
// it, and returns the URL scheme and the CA bundle clients should trust.
func listenAPI(addr string, cfg *Config) (ln net.Listener, scheme, caFile string, err error) {
	topts := httpguard.TLSOptions{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, Auto: cfg.TLS == "auto", Dir: filepath.Join(cfg.DataDir, "tls")}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		topts.Hosts = append([]string{host}, cfg.AllowedHosts...)
	}
	if name, err := os.Hostname(); err == nil {
		topts.Hosts = append(topts.Hosts, name)
	}
	t, err := topts.Load(time.Now())
	if err != nil {
		return nil, "", "", err
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, "", "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	if t == nil {
		return ln, "http", "", nil
	}
	return tls.NewListener(ln, t.Config), "https", t.CAFile, nil
}

// publicSecrets reports whether the configuration uses a published secret:
// the example configuration's api token, or an access key of deskplane's
// default environment.
func (c *Config) publicSecrets() bool {
	for _, t := range c.APITokens {
		if t == exampleToken {
			return true
		}
	}
	return c.AccessKeyID == config.AdminKeyID || c.AccessKeyID == config.PartnerKeyID
}

// exampleToken is the api token of testdata/example.json.
const exampleToken = "change-me"

// tenantPrefix names the tenant in a message when there are several.
func tenantPrefix(multi bool, name string) string {
	if !multi {
		return ""
	}
	return "tenant " + name + ": "
}
