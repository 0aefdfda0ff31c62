package hostile

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestRefusedUnread is the regression test of the second failure of seed
// 1796539701965270843 (call 2935): a 38 KB request signed for the region
// "us-east-1/.." does not authenticate, the gateway cuts its connection
// off without reading the body, and the client, still writing, saw a
// broken pipe, which the suite took for "no answer". refusedUnread must
// accept exactly that (sent again with Expect: 100-continue, the answer
// is a refusal with Connection: close), and not a request the server
// reads and answers.
func TestRefusedUnread(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t)
	m := awsmodel.LoadOrSkip(t, "workspaces")
	r := &run{t: t, p: &proc{URL: s.URL}, models: map[string]*awsmodel.Model{"workspaces": m},
		hcExpect: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}}
	o := servedOperation{Service: "workspaces", Op: "DescribeWorkspaces", Target: "WorkspacesService"}
	admin := principal{"admin", aws.Credentials{AccessKeyID: config.AdminKeyID, SecretAccessKey: config.AdminSecret}}
	body := []byte(`{"WorkspaceIds":["` + strings.Repeat("x", 38<<10) + `"]}`)
	w := func(region string) *wireReq {
		return &wireReq{Method: http.MethodPost, Path: "/", Region: region, Body: body, Header: http.Header{
			"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {"WorkspacesService.DescribeWorkspaces"}}}
	}
	cut := fmt.Errorf("write: %w", syscall.EPIPE)

	a, why := r.refusedUnread(ctx, o, admin, w("us-east-1/.."), cut)
	if why != "" {
		t.Fatalf("an unauthenticated request cut off: %s", why)
	}
	if a.Status < 400 || a.Status >= 500 || !a.Closed {
		t.Errorf("answer %d %s (closed %v), want a 4xx refusal with Connection: close", a.Status, a.Code, a.Closed)
	}
	// A request that authenticates has its body read: a write failure on
	// it stays a failure.
	if _, why := r.refusedUnread(ctx, o, admin, w(""), cut); why == "" {
		t.Error("a request whose body the server reads was taken as refused unread")
	}
	if _, why := r.refusedUnread(ctx, o, admin, w("us-east-1/.."), fmt.Errorf("timeout")); why == "" {
		t.Error("an error other than a cut connection was taken as refused unread")
	}
}
