package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// frozenGuest is what GET /_deskplane/runtime says of a desktop's guest's
// processes.
func frozenGuest(t *testing.T, s *testserver.Server, id string) bool {
	t.Helper()
	var out struct {
		Desktops []struct {
			WorkspaceID string `json:"workspace_id"`
			Frozen      bool   `json:"frozen"`
		} `json:"desktops"`
	}
	if err := json.Unmarshal([]byte(adminText(t, s, "/_deskplane/runtime")), &out); err != nil {
		t.Fatal(err)
	}
	for _, g := range out.Desktops {
		if g.WorkspaceID == id {
			return g.Frozen
		}
	}
	t.Fatalf("no guest for %s", id)
	return false
}

// silent connects to addr and expects no banner: the kernel accepts the
// connection, the frozen guest never writes.
func silent(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatalf("%s answered %q", addr, line)
	}
}

// TestRuntimeFaultsFreezeTheGuest: with --runtime process, the faults'
// UNHEALTHY and IMPAIRED reach the guest. A desktop made UNHEALTHY stops
// answering (its guest is frozen: a client connects and never gets the
// banner; the client's session ends), and a reboot brings a fresh guest
// that answers; an IMPAIRED one likewise, ended by a stop and fresh after
// a start; and the running rate's health check (virtual clock) freezes the
// guest of the desktop it turns.
func TestRuntimeFaultsFreezeTheGuest(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock(), testserver.Runtime("process", 0, binary(t), "guest"))
	e := setup(t, s)
	ctx := ctxT(t)
	e.bundleID = sharedBundle(t, e)
	e.dirID = registerShared(t, s, e)
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(e.dirID), UserName: aws.String("alice"), BundleId: aws.String(e.bundleID),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop}}}})
	if err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("CreateWorkspaces: %v %+v", err, out)
	}
	id := *out.PendingRequests[0].WorkspaceId
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g := readyGuest(t, s, id, -1)
	addr := net.JoinHostPort(g.Address, fmt.Sprint(g.Ports[0].Port))
	banner(t, addr)
	faults := func(f map[string]any) {
		t.Helper()
		if _, err := s.AdminPost("/_deskplane/faults", f); err != nil {
			t.Fatalf("faults %v: %v", f, err)
		}
	}
	connState := func() wstypes.ConnectionState {
		t.Helper()
		cs, err := e.ws.DescribeWorkspacesConnectionStatus(ctx, &workspaces.DescribeWorkspacesConnectionStatusInput{WorkspaceIds: []string{id}})
		if err != nil || len(cs.WorkspacesConnectionStatus) != 1 {
			t.Fatalf("DescribeWorkspacesConnectionStatus: %v", err)
		}
		return cs.WorkspacesConnectionStatus[0].ConnectionState
	}

	// UNHEALTHY while a user is connected: the guest is frozen, the
	// session ends, nothing answers; the runtime does not end the guest.
	user, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	bufio.NewReader(user).ReadString('\n')
	testserver.Eventually(t, 15*time.Second, func() bool { return connState() == wstypes.ConnectionStateConnected }, "never CONNECTED")
	faults(map[string]any{"unhealthy_workspaces": []string{id}})
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateUnhealthy)
	if !frozenGuest(t, s, id) {
		t.Fatal("the guest of an UNHEALTHY desktop is not frozen")
	}
	if st := connState(); st != wstypes.ConnectionStateDisconnected {
		t.Fatalf("connection of an UNHEALTHY desktop %s", st)
	}
	silent(t, addr)
	if st := guests(t, s)[id].State; st != "ready" {
		t.Fatalf("the runtime changed the frozen guest to %q", st)
	}
	// A reboot ends the frozen guest and starts a fresh one.
	faults(map[string]any{})
	e.rebootOne(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	if frozenGuest(t, s, id) {
		t.Fatal("the guest after a reboot is frozen")
	}
	banner(t, addr)
	console := adminText(t, s, "/_deskplane/runtime/"+id+"/console")
	if strings.Count(console, "shutting down") < 1 {
		t.Fatalf("the frozen guest was not shut down by the reboot:\n%s", console)
	}

	// IMPAIRED: frozen too; a stop ends it, a start brings a fresh guest.
	faults(map[string]any{"impaired_workspaces": []string{id}})
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateImpaired)
	if !frozenGuest(t, s, id) {
		t.Fatal("the guest of an IMPAIRED desktop is not frozen")
	}
	silent(t, addr)
	faults(map[string]any{})
	e.stop(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	if st := guests(t, s)[id].State; st != "exited" {
		t.Fatalf("the guest of a stopped IMPAIRED desktop is %q", st)
	}
	refused(t, addr)
	e.start(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	banner(t, addr)

	// The running rate's health check on the virtual clock.
	faults(map[string]any{"running_unhealthy_rate": 1.0, "health_check_minutes": 5})
	s.Advance(6 * time.Minute)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateUnhealthy)
	if !frozenGuest(t, s, id) {
		t.Fatal("the guest of a desktop the running rate made UNHEALTHY is not frozen")
	}
	silent(t, addr)
	faults(map[string]any{})
	e.rebootOne(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	readyGuest(t, s, id, g.Boot)
	banner(t, addr)
}

// ebsDecrypts counts the CloudTrail Decrypt events made by an AWS service
// with an aws:ebs:id context (EBS attaching an encrypted volume).
func ebsDecrypts(t *testing.T, ctx context.Context, s *testserver.Server) int {
	t.Helper()
	ct := cloudtrail.NewFromConfig(s.Admin())
	n := 0
	var token *string
	for {
		ev, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: token, LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("Decrypt")}}})
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		for _, e := range ev.Events {
			var rec struct {
				UserIdentity struct {
					Type string `json:"type"`
				} `json:"userIdentity"`
				RequestParameters struct {
					EncryptionContext map[string]string `json:"encryptionContext"`
				} `json:"requestParameters"`
			}
			if json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec) == nil && rec.UserIdentity.Type == "AWSService" &&
				strings.HasPrefix(rec.RequestParameters.EncryptionContext["aws:ebs:id"], "vol-") {
				n++
			}
		}
		if token = ev.NextToken; token == nil {
			return n
		}
	}
}

// TestRuntimeMaxCountsRebuildAndRestore: a rebuild or restore brings a
// stopped desktop's guest up, so at --runtime-max it is refused like a
// start: ResourceLimitExceededException in FailedRequests (rebuild), the
// modeled OperationNotSupportedException (restore); with room again the
// rebuild goes through.
func TestRuntimeMaxCountsRebuildAndRestore(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock(), testserver.Runtime("process", 1, binary(t), "guest"))
	e := setup(t, s)
	ctx := ctxT(t)
	a := e.create(t, ctx, 1, "lima")[0]
	e.waitAll(t, ctx, []string{a}, wstypes.WorkspaceStateAvailable)
	s.Advance(31 * time.Minute) // the first snapshots
	e.stop(t, ctx, a)
	e.waitAll(t, ctx, []string{a}, wstypes.WorkspaceStateStopped)
	b := e.create(t, ctx, 1, "limb")[0]
	e.waitAll(t, ctx, []string{b}, wstypes.WorkspaceStateAvailable)
	rebuild := func() *workspaces.RebuildWorkspacesOutput {
		t.Helper()
		out, err := e.ws.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []wstypes.RebuildRequest{{WorkspaceId: aws.String(a)}}})
		if err != nil {
			t.Fatalf("RebuildWorkspaces: %v", err)
		}
		return out
	}
	if out := rebuild(); len(out.FailedRequests) != 1 || aws.ToString(out.FailedRequests[0].ErrorCode) != "ResourceLimitExceededException" {
		t.Fatalf("rebuild at the limit: %+v", out.FailedRequests)
	}
	_, err := e.ws.RestoreWorkspace(ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(a)})
	if err == nil || !strings.Contains(err.Error(), "OperationNotSupportedException") || !strings.Contains(err.Error(), "--runtime-max") {
		t.Fatalf("restore at the limit: %v", err)
	}
	if st := e.states(t, ctx, []string{a})[a]; st != wstypes.WorkspaceStateStopped {
		t.Fatalf("a refused desktop is %s", st)
	}
	e.stop(t, ctx, b)
	e.waitAll(t, ctx, []string{b}, wstypes.WorkspaceStateStopped)
	if out := rebuild(); len(out.FailedRequests) != 0 {
		t.Fatalf("rebuild with room: %+v", out.FailedRequests)
	}
	e.waitAll(t, ctx, []string{a}, wstypes.WorkspaceStateAvailable)
	readyGuest(t, s, a, -1)
}
