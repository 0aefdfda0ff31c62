package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/server"
	"github.com/deskplane/deskplane/internal/testserver"
)

// syncBuffer is a log destination safe for the server's goroutines.
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

// requestLines returns the JSON request log lines, by request id.
func requestLines(t *testing.T, log string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if m["msg"] == "request" {
			out[m["request_id"].(string)] = m
		}
	}
	return out
}

// requestIDOf returns the request id of a failed call.
func requestIDOf(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// TestRequestLog checks the one line per request the gateway logs at info
// level: its fields for an allowed call, a denied call and a call with a
// bad signature, and that no secret key, session token or signature is
// ever logged.
func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	s := testserver.Start(t, func(o *server.Options) {
		o.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	ctx := ctxT(t)
	// Allowed.
	ws := workspaces.NewFromConfig(s.Admin())
	out, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
	if err != nil {
		t.Fatal(err)
	}
	allowedID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)

	// Denied: a user with no policy; its key's secret must not be logged.
	ic := iam.NewFromConfig(s.Admin())
	iamMust(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("nobody")}))
	k := iamMust(ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nobody")}))
	_, err = workspaces.NewFromConfig(s.Config(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey)).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
	if apiCode(err) != "AccessDeniedException" {
		t.Fatalf("nobody's call: %v", err)
	}
	deniedID := requestIDOf(err)

	// A bad signature: the right key id with the wrong secret.
	_, err = workspaces.NewFromConfig(s.Config(config.AdminKeyID, "not-the-secret-"+config.AdminSecret)).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
	if apiCode(err) != "InvalidSignatureException" {
		t.Fatalf("bad signature: %v", err)
	}
	badSigID := requestIDOf(err)

	// A session: its token must not be logged.
	st := iamMust(sts.NewFromConfig(s.Admin()).GetSessionToken(ctx, &sts.GetSessionTokenInput{}))
	cr := st.Credentials
	if _, err := workspaces.NewFromConfig(testserver.ConfigFor(s.URL, *cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
		t.Fatalf("session call: %v", err)
	}

	log := buf.String()
	lines := requestLines(t, log)
	check := func(id string, want map[string]any) {
		t.Helper()
		l := lines[id]
		if l == nil {
			t.Fatalf("no request line for %s in:\n%s", id, log)
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("request %s: %s = %v, want %v (line %v)", id, k, l[k], v, l)
			}
		}
		for _, k := range []string{"time", "latency", "service", "operation", "status"} {
			if _, ok := l[k]; !ok {
				t.Errorf("request %s: no %s (line %v)", id, k, l)
			}
		}
	}
	check(allowedID, map[string]any{"level": "INFO", "service": "workspaces", "operation": "DescribeWorkspaces", "status": float64(200),
		"principal": "arn:aws:iam::111122223333:user/admin", "account": "111122223333"})
	if _, ok := lines[allowedID]["error_code"]; ok {
		t.Errorf("allowed call has an error code: %v", lines[allowedID])
	}
	check(deniedID, map[string]any{"operation": "DescribeWorkspaces", "status": float64(400), "error_code": "AccessDeniedException",
		"principal": "arn:aws:iam::111122223333:user/nobody", "account": "111122223333"})
	check(badSigID, map[string]any{"operation": "DescribeWorkspaces", "status": float64(400), "error_code": "InvalidSignatureException",
		"access_key_id": config.AdminKeyID})
	if a, _ := lines[badSigID]["auth_failure"].(string); !strings.Contains(a, "mismatch") {
		t.Errorf("bad signature line does not say the signature did not match: %v", lines[badSigID])
	}
	for name, secret := range map[string]string{"admin secret": config.AdminSecret, "new key's secret": *k.AccessKey.SecretAccessKey,
		"session secret": *cr.SecretAccessKey, "session token": *cr.SessionToken, "signature": "Signature="} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

// TestServeLogIsCompleteOnStop runs the binary: serve writes its log in
// batches, and a clean stop writes every line logged before it.
func TestServeLogIsCompleteOnStop(t *testing.T) {
	p := startProc(t, t.TempDir(), "--timing", "instant", "--log-format", "json")
	ws := p.workspaces()
	ids := map[string]bool{}
	for range 5 {
		out, err := ws.DescribeWorkspaces(ctxT(t), &workspaces.DescribeWorkspacesInput{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		ids[id] = true
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	b, err := os.ReadFile(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	for id, line := range requestLines(t, string(b)) {
		if line["operation"] == "DescribeWorkspaces" {
			delete(ids, id)
		}
	}
	if len(ids) != 0 {
		t.Fatalf("request lines missing from the log after a clean stop: %v\n%s", ids, b)
	}
}
