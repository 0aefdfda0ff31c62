package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/testserver"
)

// shortLimits are the limits of the stall tests: 200 ms for headers and
// for a body's grace, 64 KiB/s beyond it.
var shortLimits = httpguard.Limits{ReadHeaderTimeout: 200 * time.Millisecond, Grace: 200 * time.Millisecond, MinRate: 64 << 10}

// rawRequest is a DescribeWorkspaces request signed (by aws-sdk-go-v2's
// signer) with the given key, split into its head and its body.
func rawRequest(t *testing.T, s *testserver.Server, akid, secret string, body []byte) (head, payload []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "WorkspacesService.DescribeWorkspaces")
	if akid != "" {
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "workspaces", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	i := bytes.Index(raw, []byte("\r\n\r\n")) + 4
	return raw[:i], raw[i:]
}

// dial connects to the server and sends b.
func dial(t *testing.T, s *testserver.Server, b []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitClosed reads what the server sends until it closes the connection,
// failing when it is still open after the deadline.
func waitClosed(t *testing.T, c net.Conn, within time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v (received %q)", within, got)
	}
	return got
}

func TestStalledHeadersAreDisconnected(t *testing.T) {
	s := testserver.Start(t, testserver.Limits(shortLimits))
	head, _ := rawRequest(t, s, config.AdminKeyID, config.AdminSecret, []byte("{}"))
	c := dial(t, s, head[:len(head)/2]) // half the headers, then nothing
	waitClosed(t, c, 5*time.Second)
}

func TestStalledBodyIsDisconnected(t *testing.T) {
	s := testserver.Start(t, testserver.Limits(shortLimits))
	head, body := rawRequest(t, s, config.AdminKeyID, config.AdminSecret, []byte(`{"Limit": 5}`))
	c := dial(t, s, append(head, body[:4]...)) // signed headers, part of the body, then nothing
	got := waitClosed(t, c, 5*time.Second)
	if !bytes.Contains(got, []byte("SerializationException")) {
		t.Fatalf("want a SerializationException before the close, got %q", got)
	}
}

// A request that cannot authenticate is refused from its headers: the
// answer comes without the client sending the body it announced, and the
// connection is closed.
func TestUnauthenticatedRefusedBeforeBody(t *testing.T) {
	s := testserver.Start(t, testserver.Limits(shortLimits))
	for _, tc := range []struct {
		name, akid, code string
	}{
		{"missing", "", "MissingAuthenticationTokenException"},
		{"unknown key", "AKIAUNKNOWNKEY000000", "UnrecognizedClientException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head, _ := rawRequest(t, s, tc.akid, "secret", []byte(`{"Limit": 5}`))
			c := dial(t, s, head)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer before the body was sent: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), tc.code) {
				t.Fatalf("got %d %s, want 400 %s", resp.StatusCode, b, tc.code)
			}
			waitClosed(t, c, 5*time.Second)
		})
	}
}

// A body that trickles in at more than the minimum rate is read in full,
// however long it takes beyond the grace period.
func TestSlowBodyAboveMinimumRateIsRead(t *testing.T) {
	s := testserver.Start(t, testserver.Limits(shortLimits))
	body := append([]byte(`{"Limit": 5}`), bytes.Repeat([]byte(" "), 48<<10)...)
	head, body := rawRequest(t, s, config.AdminKeyID, config.AdminSecret, body)
	c := dial(t, s, head)
	// 8 KiB every 50 ms is 160 KiB/s: 300 ms in all, more than the grace.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for len(body) > 0 {
		<-tick.C
		n := min(len(body), 8<<10)
		if _, err := c.Write(body[:n]); err != nil {
			t.Fatalf("write: %v", err)
		}
		body = body[n:]
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s", resp.StatusCode, b)
	}
}

// The limits leave real clients alone, and the body limit holds.
func TestClientsUnderShortLimits(t *testing.T) {
	s := testserver.Start(t, testserver.Limits(shortLimits))
	ws := workspaces.NewFromConfig(s.Admin())
	ctx := context.Background()
	for range 3 { // kept-alive connections, reused
		if _, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := rawRequest(t, s, config.AdminKeyID, config.AdminSecret, []byte("{}"))
	head = bytes.Replace(head, []byte("Content-Length: 2\r\n"), []byte("Content-Length: 2000000\r\n"), 1)
	c := dial(t, s, head)
	got := waitClosed(t, c, 5*time.Second)
	if !bytes.Contains(got, []byte(" 413 ")) || !bytes.Contains(got, []byte("RequestEntityTooLarge")) {
		t.Fatalf("want 413 RequestEntityTooLarge, got %q", got)
	}
}
