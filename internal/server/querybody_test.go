package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// A query-protocol request whose signature names no service (a credential
// scope with a malformed region) and whose form body is over what is read
// to find its Action is refused in the protocol of the service its Action
// names, with the size that applied (hostile seed 1796542980646615958,
// call 1523: an IAM request got an awsJson 413 quoting 1 MiB).
func TestOversizedQueryBodyWithoutServiceScope(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	// One byte over what is read to find the Action: the server reads it
	// all before it refuses, so no unread byte makes its close a reset
	// that could reach the client before the answer (a longer body,
	// refused unread from an unauthenticated client, may be cut off so).
	prefix := "Action=DeleteRolePolicy&PolicyName=p&RoleName="
	body := []byte(prefix + strings.Repeat("a", 64<<10+1-len(prefix)))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: config.AdminKeyID, SecretAccessKey: config.AdminSecret}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1/..", time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "<Code>RequestEntityTooLarge</Code>") ||
		!strings.Contains(string(b), "65536 bytes") {
		t.Fatalf("got %d %s, want 413 RequestEntityTooLarge in IAM's query envelope naming 65536 bytes", resp.StatusCode, b)
	}
}
