package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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

// Config is the configuration of a gateway process (JSON):
//
//	{"id": "gw-1", "broker_url": "http://127.0.0.1:4700", "secret": "…",
//	 "listen": "127.0.0.1:4710", "listen_tcp": "127.0.0.1:4711",
//	 "public_url": "ws://127.0.0.1:4710/gateway/ws", "address_map": "loopback",
//	 "allowed_origins": ["broker.example.com"], "broker_ca_file": ""}
type Config struct {
	// ID names the gateway to the broker (unique among its gateways).
	ID string `json:"id"`
	// BrokerURL is the broker's session API base URL.
	BrokerURL string `json:"broker_url"`
	// Secret is the broker's gateway_secret.
	Secret string `json:"secret"`
	// Listen is the WebSocket (HTTP) address; ListenTCP the native one.
	Listen    string `json:"listen"`
	ListenTCP string `json:"listen_tcp"`
	// PublicURL is the WebSocket URL browsers are given (default
	// ws://<listen>/gateway/ws).
	PublicURL string `json:"public_url,omitempty"`
	// PublicTCP is the TCP address native clients are given (default the
	// listener's).
	PublicTCP string `json:"public_tcp,omitempty"`
	// AddressMap is "loopback" (deskplane) or "direct" (AWS; default): how
	// the gateway maps a desktop's IpAddress when the broker gives no
	// address to dial (brokers resolve one: Target.Address).
	AddressMap string `json:"address_map,omitempty"`
	// AllowedOrigins are host patterns of pages (the broker's portal)
	// allowed to open WebSockets here.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// BrokerCAFile is a PEM bundle to trust for an HTTPS broker.
	BrokerCAFile string `json:"broker_ca_file,omitempty"`
}

// MainOptions are the injected dependencies of Main.
type MainOptions struct {
	// Context stops the gateway when done (default: SIGINT or SIGTERM).
	Context context.Context
	Log     *slog.Logger
}

// Main runs "deskplane broker gateway --config FILE" and returns the exit
// code: it registers with the broker, sends a heartbeat every 10 seconds,
// and proxies ticketed connections until stopped.
func Main(args []string, stdout, stderr io.Writer, o MainOptions) int {
	fs := flag.NewFlagSet("broker gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "gateway configuration file (JSON)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "deskplane broker gateway: --config is required")
		return 2
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "deskplane broker gateway: %v\n", err)
		return 2
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	parent := o.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := Run(ctx, cfg, o.Log, func(r Registration) {
		fmt.Fprintf(stdout, "deskplane broker gateway %s: websocket %s, tcp %s\n", r.ID, r.URL, r.TCPAddr)
	}); err != nil {
		fmt.Fprintf(stderr, "deskplane broker gateway: %v\n", err)
		return 1
	}
	return 0
}

// LoadConfig reads and checks a gateway configuration.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	switch {
	case c.ID == "":
		return nil, fmt.Errorf("config %s: id is required", path)
	case c.BrokerURL == "":
		return nil, fmt.Errorf("config %s: broker_url is required", path)
	case c.Secret == "":
		return nil, fmt.Errorf("config %s: secret (the broker's gateway_secret) is required", path)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4710"
	}
	if c.ListenTCP == "" {
		c.ListenTCP = "127.0.0.1:4711"
	}
	if c.AddressMap == "" {
		c.AddressMap = "direct"
	}
	if _, err := MapByName(c.AddressMap); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// Run serves a gateway process's listeners until ctx ends; ready is called
// once both listen and the broker accepted the first heartbeat.
func Run(ctx context.Context, cfg *Config, log *slog.Logger, ready func(Registration)) error {
	m, err := MapByName(cfg.AddressMap)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if cfg.BrokerCAFile != "" {
		pem, err := os.ReadFile(cfg.BrokerCAFile)
		if err != nil {
			return fmt.Errorf("broker_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("broker_ca_file %s: no certificates", cfg.BrokerCAFile)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	client := &Client{URL: cfg.BrokerURL, Secret: cfg.Secret, HTTP: hc}
	gw := &Gateway{ID: cfg.ID, Broker: client, Map: m, Log: log, OriginPatterns: cfg.AllowedOrigins}
	hln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer hln.Close()
	tln, err := net.Listen("tcp", cfg.ListenTCP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenTCP, err)
	}
	reg := Registration{ID: cfg.ID, URL: cfg.PublicURL, TCPAddr: cfg.PublicTCP}
	if reg.URL == "" {
		reg.URL = "ws://" + hln.Addr().String() + "/gateway/ws"
	}
	if reg.TCPAddr == "" {
		reg.TCPAddr = tln.Addr().String()
	}
	if err := client.Heartbeat(ctx, reg); err != nil {
		tln.Close()
		return fmt.Errorf("register with the broker: %w", err)
	}
	safego.Go(ctx, log, "gateway heartbeat", func(ctx context.Context) {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r := reg
				r.Active = gw.Active()
				if err := client.Heartbeat(ctx, r); err != nil {
					log.Warn("gateway heartbeat failed", "err", err)
				}
			}
		}
	}, nil)
	tcpDone := make(chan struct{})
	safego.Go(ctx, log, "gateway tcp", func(ctx context.Context) {
		if err := gw.ServeTCP(ctx, tln); err != nil {
			log.Error("gateway tcp listener stopped", "err", err)
		}
	}, func() { close(tcpDone) })
	mux := http.NewServeMux()
	mux.Handle("GET /gateway/ws", gw)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	safego.Go(ctx, log, "gateway shutdown", func(ctx context.Context) {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		srv.Shutdown(sctx)
	}, nil)
	if ready != nil {
		ready(reg)
	}
	err = srv.Serve(hln)
	<-tcpDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
