package workspaces

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

const (
	batchKey    = "AKIABATCHTESTEXAMPLE"
	batchSecret = "batchSecretEXAMPLEKEYbatchSecretEXAMPLE0"
)

// oneUser authenticates one access key as an IAM user of the account.
type oneUser struct{ account string }

func (u oneUser) Resolve(_ context.Context, akid, _ string, _ time.Time) (string, *gateway.Principal, bool, error) {
	if akid != batchKey {
		return "", nil, false, nil
	}
	return batchSecret, &gateway.Principal{Type: "IAMUser", Account: u.account, ARN: "arn:aws:iam::" + u.account + ":user/ops", UserName: "ops"}, true, nil
}

// brokenAuthz cannot evaluate policies on one desktop: its answer is an
// error that is not an AWS error (a store failure, say).
type brokenAuthz struct{ broken string }

var errEvaluate = errors.New("injected: identity policies could not be read")

func (a brokenAuthz) Authorize(_ context.Context, _ *gateway.Principal, _ string, chk gateway.Check, _ gateway.Env) (gateway.Decision, error) {
	if strings.HasSuffix(chk.Resource, "/"+a.broken) {
		return gateway.Decision{}, errEvaluate
	}
	return gateway.Decision{Allowed: true}, nil
}

// TestBatchReportsUnexpectedErrors: a batch item whose authorization fails
// with an unexpected error is reported in FailedRequests with the internal
// code, and left unchanged; it is never reported as a success. The other
// desktops of the batch go on.
func TestBatchReportsUnexpectedErrors(t *testing.T) {
	ctx := context.Background()
	ids := []string{"ws-batch0001", "ws-batch0002"}
	ws := oneUserClient(t, brokenAuthz{broken: ids[0]}, func(tx store.Tx, now time.Time) error {
		for _, id := range ids {
			w := &desktopRec{WorkspaceID: id, DirectoryID: "d-0123456789", UserName: UndefinedUser, BundleID: "wsb-0123456789",
				Properties: WorkspaceProperties{RunningMode: ptr.To("MANUAL")}, State: "STOPPED", Created: now, StateSince: now}
			if err := insertDesktop(ctx, tx, config.CustomerAccount, "us-east-1", w); err != nil {
				return err
			}
		}
		return nil
	})

	out, err := ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []wstypes.StartRequest{
		{WorkspaceId: aws.String(ids[0])}, {WorkspaceId: aws.String(ids[1])}}})
	if err != nil {
		t.Fatalf("StartWorkspaces: %v", err)
	}
	if len(out.FailedRequests) != 1 || aws.ToString(out.FailedRequests[0].WorkspaceId) != ids[0] ||
		aws.ToString(out.FailedRequests[0].ErrorCode) != "InternalFailure" {
		t.Fatalf("FailedRequests = %+v; want %s with InternalFailure", out.FailedRequests, ids[0])
	}
	if msg := aws.ToString(out.FailedRequests[0].ErrorMessage); strings.Contains(msg, "injected") {
		t.Fatalf("the internal error is sent to the client: %q", msg)
	}
	d, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]wstypes.WorkspaceState{}
	for _, w := range d.Workspaces {
		states[aws.ToString(w.WorkspaceId)] = w.State
	}
	if states[ids[0]] != wstypes.WorkspaceStateStopped || states[ids[1]] != wstypes.WorkspaceStateStarting {
		t.Fatalf("states after the batch: %v; want %s STOPPED and %s STARTING", states, ids[0], ids[1])
	}
}

// oneUserClient serves a Module over a fresh store, seeded by seed (given
// the module's clock's time), through the gateway with oneUser's
// authentication and authz, and returns an SDK client of it in us-east-1.
func oneUserClient(t *testing.T, authz gateway.Authorizer, seed func(tx store.Tx, now time.Time) error) *workspaces.Client {
	t.Helper()
	db, update := openTestStore(t)
	clk, eng, log := testEngine(t, db, time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC), "fast")
	m := New(Options{Config: config.Default(), Store: db, Engine: eng, Log: log})
	update(func(tx store.Tx) error { return seed(tx, clk.Now()) })
	g := gateway.New(m.Services()...)
	g.Auth, g.Authz, g.Clock, g.Log = oneUser{account: config.CustomerAccount}, authz, clk, log
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return workspaces.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: func() aws.Retryer { return aws.NopRetryer{} },
		Credentials: credentials.NewStaticCredentialsProvider(batchKey, batchSecret, ""), HTTPClient: srv.Client()})
}
