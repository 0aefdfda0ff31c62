package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/testserver"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeTLSAndLimits runs "broker serve" with tls auto (from the config
// file) and short limits: the session API answers over HTTPS to a client
// trusting the generated CA, refuses a Host it does not know, and cuts off a
// client that sends half its headers and stalls.
func TestServeTLSAndLimits(t *testing.T) {
	e := startEnv(t)
	e.cfg.Listen = "127.0.0.1:0"
	e.cfg.TLS = "auto"
	path := filepath.Join(t.TempDir(), "broker.json")
	raw, _ := json.Marshal(e.cfg)
	os.WriteFile(path, raw, 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	lim := httpguard.Limits{ReadHeaderTimeout: 200 * time.Millisecond, Grace: 200 * time.Millisecond}
	go func() {
		done <- MainWith([]string{"serve", "--config", path}, nil, &out, &errb, Options{Context: ctx, Limits: lim, Clock: e.clock})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("broker serve exited %d: %s", code, errb.String())
		}
	}()
	re := regexp.MustCompile(`listening on (https://\S+)\n\s+CA bundle: (\S+)`)
	var m []string
	testserver.Eventually(t, 30*time.Second, func() bool {
		m = re.FindStringSubmatch(out.String())
		return m != nil
	}, "broker serve prints its https URL and CA bundle")
	pemCA, err := os.ReadFile(m[2])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(host string) int {
		req, _ := http.NewRequest(http.MethodGet, m[1]+"/v1/pools", nil)
		req.Header.Set("Authorization", "Bearer test-token")
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET /v1/pools over TLS: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(""); code != http.StatusOK {
		t.Fatalf("GET /v1/pools: %d", code)
	}
	if code := get("rebound.attacker.example"); code != http.StatusMisdirectedRequest {
		t.Fatalf("GET /v1/pools with a foreign Host: %d, want 421", code)
	}

	// A second broker on the same data dir refuses to start, naming the
	// process that holds it; the first goes on serving.
	var out2, err2 syncBuffer
	if code := MainWith([]string{"serve", "--config", path}, nil, &out2, &err2, Options{Context: ctx, Limits: lim, Clock: e.clock}); code == 0 {
		t.Fatal("a second broker started on the same data dir")
	}
	if want := fmt.Sprintf("in use by process %d", os.Getpid()); !strings.Contains(err2.String(), want) {
		t.Fatalf("second broker's error %q does not say %q", err2.String(), want)
	}
	if code := get(""); code != http.StatusOK {
		t.Fatalf("GET /v1/pools after the refused second broker: %d", code)
	}
	// So does a one-off reconcile; the cost report, which only reads, runs.
	if code := MainWith([]string{"reconcile", "--config", path}, nil, &out2, &err2, Options{Context: ctx, Clock: e.clock}); code == 0 {
		t.Fatal("broker reconcile ran beside a serving broker")
	}
	var costOut, costErr syncBuffer
	if code := MainWith([]string{"cost", "--config", path, "--json"}, nil, &costOut, &costErr, Options{Context: ctx, Clock: e.clock}); code != 0 {
		t.Fatalf("broker cost beside a serving broker: %d %s", code, costErr.String())
	}

	addr := m[1][len("https://"):]
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n")) // and nothing more
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the broker kept a stalled connection open for 5s")
	}
}
