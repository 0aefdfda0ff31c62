// Package testserver starts a real deskplane server on a free loopback port
// for black-box tests, and builds aws-sdk-go-v2 configurations that talk to
// it with the default environment's credentials.
package testserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/sdkhttp"
	"github.com/deskplane/deskplane/internal/server"
)

// Server is a running test server.
type Server struct {
	*server.Server
	URL string
	// Roots trusts the server's certificate when it serves TLS.
	Roots *x509.CertPool
	t     testing.TB
}

// Option adjusts the server options.
type Option func(*server.Options)

// Timing sets the timing profile (default instant).
func Timing(name string) Option { return func(o *server.Options) { o.Timing = name } }

// VirtualClock makes the server use a virtual clock.
func VirtualClock() Option { return func(o *server.Options) { o.Clock = "virtual" } }

// DataDir sets the data directory (default a temp dir).
func DataDir(dir string) Option { return func(o *server.Options) { o.DataDir = dir } }

// ConfigFile sets the configuration file.
func ConfigFile(path string) Option { return func(o *server.Options) { o.ConfigFile = path } }

// Store sets the store (e.g. a postgres:// URL).
func Store(dsn string) Option { return func(o *server.Options) { o.Store = dsn } }

// TLSAuto serves HTTPS with a certificate generated into the data dir;
// the server's configurations trust it.
func TLSAuto() Option { return func(o *server.Options) { o.TLS.Auto = true } }

// LDAP makes directories answer LDAP and LDAPS on their loopback addresses,
// on the given ports (tests use free high ports: 389 and 636 need root).
func LDAP(port, tlsPort int) Option {
	return func(o *server.Options) { o.LDAP = server.LDAPOptions{Enabled: true, Port: port, TLSPort: tlsPort} }
}

// Limits sets the limits on slow clients (e.g. short timeouts).
func Limits(l httpguard.Limits) Option { return func(o *server.Options) { o.Limits = l } }

// Runtime runs desktops' guests (--runtime process) with command as the
// guest command (nil: the built-in guest of the running executable) and
// max guests at most (0: the default).
func Runtime(kind string, max int, command ...string) Option {
	return func(o *server.Options) { o.Runtime, o.RuntimeMax, o.GuestCommand = kind, max, command }
}

// X11Session sets the command of --runtime x11's sessions (a built
// deskplane's "x11-session": the test binary is not one).
func X11Session(command ...string) Option {
	return func(o *server.Options) { o.SessionCommand = command }
}

// StoreEnv names the environment variable that sets the store of every
// server a test starts without the Store option ("pebble", "sqlite", a
// postgres:// URL): DESKPLANE_TEST_STORE=pebble go test ./test/e2e runs
// the end-to-end tests on the embedded Pebble store.
const StoreEnv = "DESKPLANE_TEST_STORE"

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Timing: "instant", Clock: "real",
		Log: slog.New(slog.DiscardHandler), Store: os.Getenv(StoreEnv)}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, o)
	if err != nil {
		cancel()
		t.Fatalf("start deskplane: %v", err)
	}
	if err := s.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start deskplane: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		s.Shutdown(sctx)
	})
	ts := &Server{Server: s, URL: s.BaseURL(), t: t}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatalf("read the CA bundle: %v", err)
		}
		ts.Roots = x509.NewCertPool()
		if !ts.Roots.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", s.CAFile)
		}
	}
	return ts
}

// Config returns an aws.Config for the given keys, region us-east-1 unless
// given, pointed at the server, with retries off so tests see every error.
func (s *Server) Config(akid, secret string, region ...string) aws.Config {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.Roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.Roots}
	}
	return configFor(s.URL, akid, secret, "", tr, region...)
}

// ConfigFor builds an aws.Config for any endpoint.
func ConfigFor(endpoint, akid, secret, token string, region ...string) aws.Config {
	return configFor(endpoint, akid, secret, token, http.DefaultTransport.(*http.Transport).Clone(), region...)
}

// configFor builds an aws.Config for endpoint that sends through tr.
func configFor(endpoint, akid, secret, token string, tr *http.Transport, region ...string) aws.Config {
	r := "us-east-1"
	if len(region) > 0 {
		r = region[0]
	}
	return aws.Config{
		Region:       r,
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, token),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      closedConnRetryer,
		// A transport of its own: the tests' many servers come and go on
		// ports the kernel hands out again, and pooled connections are
		// not shared with other clients (http.DefaultClient).
		// Request bodies go through sdkhttp (see there: a race between the
		// SDK and net/http loses large response bodies otherwise).
		HTTPClient: sdkhttp.Client(&http.Client{Timeout: 30 * time.Second, Transport: tr}),
	}
}

// closedConnRetryer retries nothing a server answered: every API error,
// throttling included, reaches the test as it was sent. It retries only a
// call whose response could not be read because the client's own
// connection was closed under it ("use of closed network connection"), a
// client-side transport failure seen rarely on loaded machines (see
// docs/benchmarks.md); such a call is sent again once.
func closedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, net.ErrClosed) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
		o.Timeouts = nil
	})
}

// RetryingConfig is Config with the SDK's standard retryer (for load tests).
func (s *Server) RetryingConfig(akid, secret string) aws.Config {
	c := s.Config(akid, secret)
	c.Retryer = func() aws.Retryer { return retry.NewStandard() }
	return c
}

// Admin returns the customer admin's configuration.
func (s *Server) Admin(region ...string) aws.Config {
	return s.Config(config.AdminKeyID, config.AdminSecret, region...)
}

// Partner returns the partner user's configuration.
func (s *Server) Partner(region ...string) aws.Config {
	return s.Config(config.PartnerKeyID, config.PartnerSecret, region...)
}

// AdminPost calls a state-changing /_deskplane/ endpoint with the token.
func (s *Server) AdminPost(path string, body any) (map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	return doJSON(req)
}

// AdminGet calls a /_deskplane/ endpoint with the token.
func (s *Server) AdminGet(path string) (map[string]any, error) {
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	return doJSON(req)
}

func doJSON(req *http.Request) (map[string]any, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: decode: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("%s: %v", resp.Status, out)
	}
	return out, nil
}

// AdminGetNoAuth calls a URL without the admin token (to check refusals).
func (s *Server) AdminGetNoAuth(url string) (map[string]any, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return doJSON(req)
}

// Advance moves the virtual clock forward.
func (s *Server) Advance(d time.Duration) {
	s.t.Helper()
	if _, err := s.AdminPost("/_deskplane/clock", map[string]string{"advance": d.String()}); err != nil {
		s.t.Fatalf("advance clock: %v", err)
	}
}

// AdvanceTo moves the virtual clock forward to t.
func (s *Server) AdvanceTo(t time.Time) {
	s.t.Helper()
	if _, err := s.AdminPost("/_deskplane/clock", map[string]string{"to": t.UTC().Format(time.RFC3339)}); err != nil {
		s.t.Fatalf("advance clock to %s: %v", t, err)
	}
}

// Now reads the server's clock.
func (s *Server) Now() time.Time { return s.Deps.Clock.Now() }

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: "+msg, args...)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline, not waiting for time to pass
	}
}
