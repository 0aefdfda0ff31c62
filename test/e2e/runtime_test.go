package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// guestInfo is one desktop of GET /_deskplane/runtime.
type guestInfo struct {
	WorkspaceID string `json:"workspace_id"`
	VPCAddress  string `json:"vpc_address"`
	Address     string `json:"address"`
	State       string `json:"state"`
	PID         int    `json:"pid"`
	Boot        int64  `json:"boot"`
	ReadyAfter  string `json:"ready_after"`
	UserVolume  string `json:"user_volume"`
	RootVolume  string `json:"root_volume"`
	Ports       []struct {
		Protocol string `json:"protocol"`
		Port     int    `json:"port"`
		Allowed  bool   `json:"allowed"`
	} `json:"ports"`
}

func guests(t *testing.T, s *testserver.Server) map[string]guestInfo {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/_deskplane/runtime", nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /_deskplane/runtime: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Desktops []guestInfo `json:"desktops"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /_deskplane/runtime: %s %v", resp.Status, err)
	}
	m := map[string]guestInfo{}
	for _, g := range out.Desktops {
		m[g.WorkspaceID] = g
	}
	return m
}

// readyGuest waits for a desktop's guest of a boot after `after` to be ready.
func readyGuest(t *testing.T, s *testserver.Server, id string, after int64) guestInfo {
	t.Helper()
	var g guestInfo
	testserver.Eventually(t, 30*time.Second, func() bool {
		g = guests(t, s)[id]
		return g.State == "ready" && g.Boot > after
	}, "the guest of %s never ready (last %+v)", id, g)
	return g
}

// banner connects to a desktop's protocol port, reads the banner and checks the echo.
func banner(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read the banner of %s: %v", addr, err)
	}
	fmt.Fprintf(c, "ping from the test\n")
	if echo, err := r.ReadString('\n'); err != nil || echo != "ping from the test\n" {
		t.Fatalf("echo from %s: %q %v", addr, echo, err)
	}
	return strings.TrimSpace(line)
}

func refused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("%s accepted a connection", addr)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Fatalf("connect to %s: %v, want connection refused", addr, err)
	}
}

func (e *env) rebootOne(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	out, err := e.ws.RebootWorkspaces(ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: []wstypes.RebootRequest{{WorkspaceId: aws.String(id)}}})
	if err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("reboot: %v %+v", err, out)
	}
}

// TestRuntimeDesktopYouCanConnectTo drives a desktop with a real guest
// (--runtime process) through the lifecycle: its address reached and its
// banner read, the security group's effect, the user volume across
// stop/start, snapshots, rebuild and restore, a killed guest made
// UNHEALTHY and healed by a reboot, a golden image carrying its root
// volume, the limit of guests, and terminate.
func TestRuntimeDesktopYouCanConnectTo(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock(), testserver.Runtime("process", 3, binary(t), "guest"))
	e := setup(t, s)
	ctx := ctxT(t)
	id := e.create(t, ctx, 1, "rt")[0]
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g := readyGuest(t, s, id, -1)
	if g.PID == 0 || g.Address == "" || !strings.HasPrefix(g.Address, "127.") || len(g.Ports) != 1 || g.Ports[0].Port != 3389 || g.Ports[0].Allowed {
		t.Fatalf("guest %+v: want a pid, a 127/8 address and the BYOP port 3389 not allowed", g)
	}
	d, _ := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
	if ip := aws.ToString(d.Workspaces[0].IpAddress); ip != g.VPCAddress || "127."+strings.SplitN(ip, ".", 2)[1] != g.Address {
		t.Fatalf("IpAddress %s, guest at %s (vpc %s): want 10.a.b.c -> 127.a.b.c", ip, g.Address, g.VPCAddress)
	}
	addr := net.JoinHostPort(g.Address, "3389")
	// The directory's group does not let the BYOP port in: nothing listens.
	refused(t, addr)
	dirs, err := e.ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: dirs.Directories[0].WorkspaceSecurityGroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3389), ToPort: aws.Int32(3389),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatalf("AuthorizeSecurityGroupIngress: %v", err)
	}
	e.rebootOne(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	if want := "DESKPLANE " + id + " BYOP user=[UNDEFINED] computer="; !strings.HasPrefix(banner(t, addr), want) {
		t.Fatalf("banner does not start with %q", want)
	}
	console := adminText(t, s, "/_deskplane/runtime/"+id+"/console")
	if !strings.Contains(console, "BYOP listening on "+addr) || !strings.Contains(console, "session from") {
		t.Fatalf("console:\n%s", console)
	}

	// The user volume survives stop and start.
	marker := filepath.Join(g.UserVolume, "marker.txt")
	if err := os.WriteFile(marker, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.stop(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	if st := guests(t, s)[id].State; st != "exited" {
		t.Fatalf("guest of a STOPPED desktop is %q", st)
	}
	refused(t, addr)
	e.start(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	if b, err := os.ReadFile(marker); err != nil || string(b) != "kept" {
		t.Fatalf("marker after stop/start: %q %v", b, err)
	}

	// The first snapshot 30 minutes after the desktop was first AVAILABLE
	// holds the marker; a file written after it is lost by a restore.
	s.Advance(31 * time.Minute)
	snaps, _ := os.ReadDir(filepath.Join(filepath.Dir(g.UserVolume), "snapshots"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots after 31 minutes: %d", len(snaps))
	}
	later := filepath.Join(g.UserVolume, "later.txt")
	os.WriteFile(later, []byte("after the snapshot"), 0o600)
	if _, err := e.ws.RestoreWorkspace(ctx, &workspaces.RestoreWorkspaceInput{WorkspaceId: aws.String(id)}); err != nil {
		t.Fatalf("RestoreWorkspace: %v", err)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	if _, err := os.Stat(later); err == nil {
		t.Fatal("a file written after the snapshot survived the restore")
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "kept" {
		t.Fatalf("marker after restore: %q %v", b, err)
	}

	// Rebuild: the root volume from the image, the user volume from its
	// latest snapshot; a new address.
	os.WriteFile(filepath.Join(g.RootVolume, "installed.txt"), []byte("on the root volume"), 0o600)
	if out, err := e.ws.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []wstypes.RebuildRequest{{WorkspaceId: aws.String(id)}}}); err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("rebuild: %v %+v", err, out)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	if b, err := os.ReadFile(marker); err != nil || string(b) != "kept" {
		t.Fatalf("marker after rebuild: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(g.RootVolume, "installed.txt")); err == nil {
		t.Fatal("the root volume survived a rebuild")
	}
	addr = net.JoinHostPort(g.Address, "3389")
	banner(t, addr)

	// A guest killed makes the desktop UNHEALTHY; a reboot heals it.
	if err := syscall.Kill(g.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateUnhealthy)
	e.rebootOne(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	banner(t, addr)

	// The golden image: a file on the root volume is on every desktop made
	// from an image of it.
	os.WriteFile(filepath.Join(g.RootVolume, "partner-agent.conf"), []byte("agent v1"), 0o600)
	img, err := e.ws.CreateWorkspaceImage(ctx, &workspaces.CreateWorkspaceImageInput{Name: aws.String("golden"), Description: aws.String("with the agent"), WorkspaceId: aws.String(id)})
	if err != nil {
		t.Fatalf("CreateWorkspaceImage: %v", err)
	}
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := e.ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{*img.ImageId}})
		return err == nil && len(d.Images) == 1 && d.Images[0].State == wstypes.WorkspaceImageStateAvailable
	}, "golden image never AVAILABLE")
	b, err := e.ws.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{
		BundleName: aws.String("golden"), BundleDescription: aws.String("golden"),
		ComputeType: &wstypes.ComputeType{Name: wstypes.ComputeStandard}, ImageId: img.ImageId,
		RootStorage: &wstypes.RootStorage{Capacity: aws.String("80")}, UserStorage: &wstypes.UserStorage{Capacity: aws.String("50")}})
	if err != nil {
		t.Fatalf("CreateWorkspaceBundle: %v", err)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	e.bundleID = *b.WorkspaceBundle.BundleId
	// The limit is 3 guests: one runs, two more may start, the fourth not.
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{
		{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: b.WorkspaceBundle.BundleId, WorkspaceName: aws.String("golden1"),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}},
		{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: b.WorkspaceBundle.BundleId, WorkspaceName: aws.String("golden2"),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}},
		{DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: b.WorkspaceBundle.BundleId, WorkspaceName: aws.String("golden3"),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual}},
	}})
	if err != nil {
		t.Fatalf("CreateWorkspaces: %v", err)
	}
	if len(out.PendingRequests) != 2 || len(out.FailedRequests) != 1 || aws.ToString(out.FailedRequests[0].ErrorCode) != "ResourceLimitExceededException" {
		t.Fatalf("CreateWorkspaces at the limit: %d pending, failed %+v", len(out.PendingRequests), out.FailedRequests)
	}
	gid := *out.PendingRequests[0].WorkspaceId
	e.waitAll(t, ctx, []string{gid}, wstypes.WorkspaceStateAvailable)
	gg := readyGuest(t, s, gid, -1)
	if b, err := os.ReadFile(filepath.Join(gg.RootVolume, "partner-agent.conf")); err != nil || string(b) != "agent v1" {
		t.Fatalf("a desktop of the golden image lacks its agent: %q %v", b, err)
	}

	// Terminate removes the guest and its volumes.
	if _, err := e.ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{{WorkspaceId: aws.String(id)}}}); err != nil {
		t.Fatal(err)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateTerminated)
	if _, ok := guests(t, s)[id]; ok {
		t.Fatal("a terminated desktop is still listed by the runtime")
	}
	if _, err := os.Stat(g.UserVolume); err == nil {
		t.Fatal("the volumes of a terminated desktop are still there")
	}
	refused(t, addr)
}

func adminText(t *testing.T, s *testserver.Server, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	return string(b)
}

// TestRuntimeAutoStopFollowsSessions: an AUTO_STOP desktop stays AVAILABLE
// while a client holds a connection to its protocol port, and stops
// RunningModeAutoStopTimeoutInMinutes after the client went away (virtual
// clock).
func TestRuntimeAutoStopFollowsSessions(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock(), testserver.Runtime("process", 0, binary(t), "guest"))
	e := setup(t, s)
	ctx := ctxT(t)
	e.bundleID = sharedBundle(t, e)
	e.dirID = registerShared(t, s, e)
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(e.dirID), UserName: aws.String("alice"), BundleId: aws.String(e.bundleID),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop, RunningModeAutoStopTimeoutInMinutes: aws.Int32(60)}}}})
	if err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("CreateWorkspaces: %v %+v", err, out)
	}
	id := *out.PendingRequests[0].WorkspaceId
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g := readyGuest(t, s, id, -1)
	// PCoIP and WSP come in through the management interface: always reachable.
	if len(g.Ports) != 1 || !g.Ports[0].Allowed {
		t.Fatalf("ports %+v: want the bundle's protocol, allowed", g.Ports)
	}
	addr := net.JoinHostPort(g.Address, fmt.Sprint(g.Ports[0].Port))
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	if want := "DESKPLANE " + id + " " + g.Ports[0].Protocol + " user=alice "; !strings.HasPrefix(line, want) {
		t.Fatalf("banner %q, want %q...", line, want)
	}
	testserver.Eventually(t, 10*time.Second, func() bool {
		var n struct {
			Desktops []struct {
				ID       string `json:"workspace_id"`
				Sessions int    `json:"sessions"`
			} `json:"desktops"`
		}
		json.Unmarshal([]byte(adminText(t, s, "/_deskplane/runtime")), &n)
		return len(n.Desktops) == 1 && n.Desktops[0].Sessions == 1
	}, "the session was never observed")
	connState := func() wstypes.WorkspaceConnectionStatus {
		t.Helper()
		o, err := e.ws.DescribeWorkspacesConnectionStatus(ctx, &workspaces.DescribeWorkspacesConnectionStatusInput{WorkspaceIds: []string{id}})
		if err != nil || len(o.WorkspacesConnectionStatus) != 1 {
			t.Fatalf("DescribeWorkspacesConnectionStatus: %v %+v", err, o)
		}
		return o.WorkspacesConnectionStatus[0]
	}
	connectedAt := s.Now()
	if cs := connState(); cs.ConnectionState != wstypes.ConnectionStateConnected || cs.LastKnownUserConnectionTimestamp == nil {
		t.Fatalf("connection status while a client is connected: %+v", cs)
	}
	s.Advance(2 * time.Hour)
	if st := e.states(t, ctx, []string{id})[id]; st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("a connected AUTO_STOP desktop is %s after 2 hours", st)
	}
	c.Close()
	testserver.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(adminText(t, s, "/_deskplane/runtime/"+id+"/console"), "ended")
	}, "the disconnect was never observed")
	cs := connState()
	if cs.ConnectionState != wstypes.ConnectionStateDisconnected || cs.LastKnownUserConnectionTimestamp == nil ||
		cs.LastKnownUserConnectionTimestamp.Before(connectedAt.Add(-time.Minute)) || cs.LastKnownUserConnectionTimestamp.After(connectedAt.Add(time.Minute)) {
		t.Fatalf("connection status after the client left: %+v (connected at %v)", cs, connectedAt)
	}
	// CloudWatch counted the session the runtime observed.
	cw := cloudwatch.NewFromConfig(s.Admin())
	stats, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/WorkSpaces"), MetricName: aws.String("ConnectionSuccess"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("WorkspaceId"), Value: aws.String(id)}},
		StartTime:  aws.Time(connectedAt.Add(-time.Hour)), EndTime: aws.Time(s.Now().Add(time.Minute)), Period: aws.Int32(3600),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
	if err != nil {
		t.Fatalf("GetMetricStatistics: %v", err)
	}
	total := 0.0
	for _, dp := range stats.Datapoints {
		total += aws.ToFloat64(dp.Sum)
	}
	if total != 1 {
		t.Fatalf("ConnectionSuccess over the test = %v, want the 1 session: %+v", total, stats.Datapoints)
	}
	s.Advance(59 * time.Minute)
	if st := e.states(t, ctx, []string{id})[id]; st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("AUTO_STOP desktop is %s 59 minutes after the disconnect", st)
	}
	s.Advance(2 * time.Minute)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	if st := guests(t, s)[id].State; st != "exited" {
		t.Fatalf("guest of the auto-stopped desktop is %q", st)
	}
}

// TestRuntimeRestartResumesGuests: the guests of running desktops are
// started again when the server restarts on the same data dir, and the
// user volume is still there.
func TestRuntimeRestartResumesGuests(t *testing.T) {
	dir := t.TempDir()
	var id, addr, marker string
	t.Run("first", func(t *testing.T) {
		s := testserver.Start(t, testserver.DataDir(dir), testserver.Runtime("process", 0, binary(t), "guest"))
		e := setup(t, s)
		ctx := ctxT(t)
		e.bundleID = sharedBundle(t, e)
		e.dirID = registerShared(t, s, e)
		out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
			DirectoryId: aws.String(e.dirID), UserName: aws.String("alice"), BundleId: aws.String(e.bundleID)}}})
		if err != nil || len(out.FailedRequests) > 0 {
			t.Fatalf("CreateWorkspaces: %v %+v", err, out)
		}
		id = *out.PendingRequests[0].WorkspaceId
		e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
		g := readyGuest(t, s, id, -1)
		addr = net.JoinHostPort(g.Address, fmt.Sprint(g.Ports[0].Port))
		banner(t, addr)
		marker = filepath.Join(g.UserVolume, "marker.txt")
		os.WriteFile(marker, []byte("before the restart"), 0o600)
	})
	// The first server is shut down: its guests ended with it.
	refused(t, addr)
	s := testserver.Start(t, testserver.DataDir(dir), testserver.Runtime("process", 0, binary(t), "guest"))
	if _, err := s.AdminGetNoAuth(s.URL + "/_deskplane/runtime"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("GET /_deskplane/runtime without the admin token: %v", err)
	}
	if _, err := s.AdminGetNoAuth(s.URL + "/_deskplane/runtime/" + id + "/console"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("GET the console without the admin token: %v", err)
	}
	readyGuest(t, s, id, -1)
	if !strings.HasPrefix(banner(t, addr), "DESKPLANE "+id+" ") {
		t.Fatal("the resumed guest answers with another desktop's banner")
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "before the restart" {
		t.Fatalf("marker after the restart: %q %v", b, err)
	}
	ws := workspaces.NewFromConfig(s.Admin())
	d, err := ws.DescribeWorkspaces(ctxT(t), &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
	if err != nil || d.Workspaces[0].State != wstypes.WorkspaceStateAvailable {
		t.Fatalf("after the restart: %v %+v", err, d)
	}
}

// TestRuntimeImageGuestCommand: a desktop of an EC2 image with a
// guest_command in the config runs that command (here a shell speaking the
// control protocol), with its identity in the environment and its output
// in the console; a guest that stops answering the health check makes the
// desktop UNHEALTHY.
func TestRuntimeImageGuestCommand(t *testing.T) {
	cfg := config.Default()
	script := `echo "custom guest $DESKPLANE_WORKSPACE_ID at $DESKPLANE_ADDRESS ports $DESKPLANE_PROTOCOL_PORTS in $(pwd)"; echo ready >&3; ` +
		`n=0; while read l <&4; do n=$((n+1)); [ -e "$DESKPLANE_USER_VOLUME/hang" ] && sleep 3600; echo pong >&3; done`
	for i := range cfg.Accounts {
		for j := range cfg.Accounts[i].Images {
			if strings.HasPrefix(cfg.Accounts[i].Images[j].Name, "win10-") {
				cfg.Accounts[i].Images[j].GuestCommand = []string{"/bin/sh", "-c", script}
			}
		}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "deskplane.json")
	os.WriteFile(path, b, 0o600)
	s := testserver.Start(t, testserver.ConfigFile(path), testserver.Runtime("process", 0, binary(t), "guest"))
	e := setup(t, s)
	ctx := ctxT(t)
	id := e.create(t, ctx, 1, "custom")[0]
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g := readyGuest(t, s, id, -1)
	console := adminText(t, s, "/_deskplane/runtime/"+id+"/console")
	if want := "custom guest " + id + " at " + g.Address + " ports BYOP=3389 in " + g.RootVolume; !strings.Contains(console, want) {
		t.Fatalf("console lacks %q:\n%s", want, console)
	}
	// The guest stops answering pings: UNHEALTHY (the health timeout is 5 s).
	os.WriteFile(filepath.Join(g.UserVolume, "hang"), nil, 0o600)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateUnhealthy)
	os.Remove(filepath.Join(g.UserVolume, "hang"))
	e.rebootOne(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	readyGuest(t, s, id, g.Boot)
}

// TestRuntimeEncryptedVolumes: an encrypted desktop's volumes are
// ciphertext at rest under its EBS data key (obtained through the grant by
// EBS's Decrypt on attach); a marker written into the user volume is
// nowhere in plaintext in the data dir once the desktop is stopped, is
// back after a start, and a disabled key stops the next start.
func TestRuntimeEncryptedVolumes(t *testing.T) {
	s := testserver.Start(t, testserver.Runtime("process", 0, binary(t), "guest"))
	e := setup(t, s)
	ctx := ctxT(t)
	k := kms.NewFromConfig(s.Admin())
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("WorkSpaces volumes")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	e.bundleID = sharedBundle(t, e)
	e.dirID = registerShared(t, s, e)
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{{
		DirectoryId: aws.String(e.dirID), UserName: aws.String("alice"), BundleId: aws.String(e.bundleID),
		VolumeEncryptionKey: key.KeyMetadata.Arn, RootVolumeEncryptionEnabled: aws.Bool(true), UserVolumeEncryptionEnabled: aws.Bool(true),
		WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop}}}})
	if err != nil || len(out.FailedRequests) > 0 {
		t.Fatalf("CreateWorkspaces: %v %+v", err, out)
	}
	id := *out.PendingRequests[0].WorkspaceId
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g := readyGuest(t, s, id, -1)
	desktopDir := filepath.Join(s.Opts.DataDir, "runtime", "desktops", "111122223333", "us-east-1", id)
	if strings.HasPrefix(g.UserVolume, desktopDir) || strings.HasPrefix(g.RootVolume, desktopDir) {
		t.Fatalf("encrypted volumes are worked on in the data dir: %s, %s", g.RootVolume, g.UserVolume)
	}
	marker := "PLAINTEXT-MARKER-" + id
	if err := os.WriteFile(filepath.Join(g.UserVolume, "secret.txt"), []byte(marker), 0o600); err != nil {
		t.Fatal(err)
	}
	e.stop(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	found := 0
	filepath.WalkDir(desktopDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), marker) {
			t.Errorf("%s holds the marker in plaintext", p)
		}
		if strings.HasSuffix(p, ".enc") {
			found++
		}
		return nil
	})
	if found != 2 {
		t.Fatalf("%d sealed volumes in %s, want root.enc and user.enc", found, desktopDir)
	}
	if _, err := os.Stat(g.UserVolume); err == nil {
		t.Fatal("the decrypted working copy outlived the guest")
	}
	decrypts := ebsDecrypts(t, ctx, s)
	e.start(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g = readyGuest(t, s, id, g.Boot)
	// The start attached both volumes: EBS's Decrypt of each stored data
	// key, with the volume's aws:ebs:id, in CloudTrail.
	if n := ebsDecrypts(t, ctx, s); n != decrypts+2 {
		t.Fatalf("EBS Decrypt events %d after the start, %d before: want one per volume", n, decrypts)
	}
	if b, err := os.ReadFile(filepath.Join(g.UserVolume, "secret.txt")); err != nil || string(b) != marker {
		t.Fatalf("marker after stop/start: %q %v", b, err)
	}
	e.stop(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.Arn}); err != nil {
		t.Fatal(err)
	}
	e.start(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateError)
	if st := guests(t, s)[id].State; st != "exited" {
		t.Fatalf("a guest runs (%q) although its volumes' key is disabled", st)
	}
}
