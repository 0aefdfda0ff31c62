package server_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

func TestTLSAutoWithSDK(t *testing.T) {
	dir := t.TempDir()
	s := testserver.Start(t, testserver.TLSAuto(), testserver.DataDir(dir))
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("URL %s is not https", s.URL)
	}
	ctx := context.Background()
	out, err := sts.NewFromConfig(s.Admin()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity over TLS: %v", err)
	}
	if *out.Account != config.CustomerAccount {
		t.Fatalf("account %s", *out.Account)
	}
	// localhost is in the certificate too.
	cfg := s.Admin()
	cfg.BaseEndpoint = aws.String(strings.Replace(s.URL, "127.0.0.1", "localhost", 1))
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity at localhost: %v", err)
	}
	// Without the CA, the client refuses the certificate.
	plain := testserver.ConfigFor(s.URL, config.AdminKeyID, config.AdminSecret, "")
	_, err = sts.NewFromConfig(plain).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("an untrusted certificate was accepted (err %v)", err)
	}
	for _, f := range []string{"ca-key.pem", "key.pem"} {
		fi, err := os.Stat(filepath.Join(dir, "tls", f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	ca, _ := os.ReadFile(s.CAFile)
	if s.CAFile != filepath.Join(dir, "tls", "ca.pem") {
		t.Fatalf("CA file %s", s.CAFile)
	}
	// A restart on the same data dir keeps the authority (clients keep
	// trusting it) and its certificate.
	cert, _ := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	s.Shutdown(ctx)
	s2 := testserver.Start(t, testserver.TLSAuto(), testserver.DataDir(dir))
	ca2, _ := os.ReadFile(s2.CAFile)
	cert2, _ := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	if !bytes.Equal(ca, ca2) || !bytes.Equal(cert, cert2) {
		t.Fatal("the generated certificate was not reused on restart")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	s2.Roots = pool // the first start's CA
	cfg = s2.Config(config.AdminKeyID, config.AdminSecret)
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("the first start's CA is not trusted after a restart: %v", err)
	}
}

// secureOnlyConfig is the default environment plus a user whose policy
// allows everything but denies any request not made over TLS.
func secureOnlyConfig(t *testing.T) string {
	cfg := config.Default()
	cfg.Accounts[0].Users = append(cfg.Accounts[0].Users, config.User{
		Name:       "tlsonly",
		AccessKeys: []config.AccessKey{{ID: "AKIATLSONLY000000001", Secret: "tlsonly/secret/key/0000000000000000000000"}},
		Policies: map[string]any{"tls": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"},
			map[string]any{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
		}}},
	})
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// aws:SecureTransport is true over TLS only: a policy denying requests
// without it denies over http and allows over https.
func TestSecureTransportCondition(t *testing.T) {
	cfgFile := secureOnlyConfig(t)
	ctx := context.Background()
	call := func(s *testserver.Server) error {
		c := s.Config("AKIATLSONLY000000001", "tlsonly/secret/key/0000000000000000000000")
		_, err := workspaces.NewFromConfig(c).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
		return err
	}
	plain := testserver.Start(t, testserver.ConfigFile(cfgFile))
	err := call(plain)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("over http: want AccessDeniedException, got %v", err)
	}
	secure := testserver.Start(t, testserver.ConfigFile(cfgFile), testserver.TLSAuto())
	if err := call(secure); err != nil {
		t.Fatalf("over https: %v", err)
	}
}

// The server answers only to host names it knows: a web page whose name
// was made to resolve to 127.0.0.1 (DNS rebinding) is refused.
func TestHostCheck(t *testing.T) {
	cfg := config.Default()
	cfg.AllowedHosts = []string{"deskplane.internal", ".corp.example"}
	b, _ := json.Marshal(cfg)
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, b, 0o600)
	s := testserver.Start(t, testserver.ConfigFile(p))
	for host, want := range map[string]int{
		"":                        http.StatusOK,
		"localhost":               http.StatusOK,
		"LOCALHOST.":              http.StatusOK,
		"app.localhost":           http.StatusOK,
		"127.0.0.1":               http.StatusOK,
		"[::1]":                   http.StatusOK,
		"10.1.2.3":                http.StatusOK,
		"deskplane.internal":      http.StatusOK,
		"corp.example":            http.StatusOK,
		"ws.corp.example":         http.StatusOK,
		"attacker.example":        http.StatusMisdirectedRequest,
		"localhost.attacker.test": http.StatusMisdirectedRequest,
		"notcorp.example":         http.StatusMisdirectedRequest,
	} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/_deskplane/health", nil)
		if host != "" {
			req.Host = host + ":4599"
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: got %d %s, want %d", host, resp.StatusCode, body, want)
		}
		if want != http.StatusOK && !strings.Contains(string(body), "allowed_hosts") {
			t.Errorf("Host %q: the refusal does not say how to allow the name: %s", host, body)
		}
	}
}

// A web page on another origin cannot drive the server: browsers name the
// page in Origin, and the server refuses pages it was not told about, even
// when the page sends a request that would be valid.
func TestOriginCheck(t *testing.T) {
	s := testserver.Start(t)
	for origin, want := range map[string]int{
		"":                      http.StatusOK,
		"http://localhost:3000": http.StatusOK,
		"http://127.0.0.1:8000": http.StatusOK,
		"http://203.0.113.9":    http.StatusForbidden,
		"https://evil.example":  http.StatusForbidden,
		"null":                  http.StatusForbidden,
	} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/_deskplane/health", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Origin %q: got %d %s, want %d", origin, resp.StatusCode, body, want)
		}
	}
}
