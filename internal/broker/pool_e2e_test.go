package broker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/broker/dsdata"
	"github.com/deskplane/deskplane/internal/testserver"
)

// withPools onboards and configures three pools and their policies.
func (e *testEnv) withPools(minEach, maxEach, warm int) {
	e.t.Helper()
	r, _ := e.onboard()
	e.cfg.Pools = []Pool{
		{Name: "eng", Directory: "corp.example.com", Bundle: r.BundleID, RunningMode: "MANUAL", Min: minEach, Max: maxEach, Warm: warm},
		{Name: "fin", Directory: r.DirectoryID, Bundle: "win11-bundle", RunningMode: "MANUAL", Min: minEach, Max: maxEach, Warm: warm},
		{Name: "ops", Directory: r.DirectoryID, Bundle: r.BundleID, RunningMode: "ALWAYS_ON", Min: 1, Max: maxEach, Warm: 1},
	}
	e.cfg.Policies = []Policy{
		{Name: "engineers", Groups: []string{"Engineering"}, Pool: "eng", ProtocolPlan: "dcv", PowerPlan: "stop-after-30", ReleasePlan: "keep"},
		{Name: "finance", Groups: []string{"Finance"}, Pool: "fin", ProtocolPlan: "rdp", PowerPlan: "stop-now", ReleasePlan: "release"},
		{Name: "operators", Groups: []string{"Operations"}, Pool: "ops", ProtocolPlan: "partner", PowerPlan: "keep-running", ReleasePlan: "keep"},
	}
	e.cfg.ProtocolPlans["partner"] = ProtocolPlan{Protocol: "ACME-HDX", Port: 2598}
	if err := e.cfg.Validate(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) broker() *Broker {
	e.t.Helper()
	b, err := New(e.cfg, e.c, Options{Clock: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { b.Close() })
	return b
}

// reconcileUntil runs passes until cond holds (the server's lifecycle jobs
// run asynchronously) or the deadline passes; on a timeout it names the
// last pass (or its error) and what the optional state functions print.
func reconcileUntil(t *testing.T, b *Broker, cond func(*PassReport) bool, msg string, state ...lastPass) *PassReport {
	t.Helper()
	var last *PassReport
	var lastErr error
	testserver.Eventually(t, 60*time.Second, func() bool {
		rep, err := b.Reconcile(context.Background())
		if lastErr = err; err != nil {
			return false
		}
		last = rep
		return cond(rep)
	}, "reconcile: %s (last pass: %v)", msg, lastPass(func() string {
		if lastErr != nil {
			return "error: " + lastErr.Error()
		}
		out := fmt.Sprintf("%+v", last)
		for _, f := range state {
			out += "; " + f()
		}
		return out
	}))
	return last
}

// serverCount lists the pool's desktops on the server (not TERMINATED).
func (e *testEnv) serverDesktops(pool string) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	p := workspaces.NewDescribeWorkspacesPaginator(e.c.WorkSpaces, &workspaces.DescribeWorkspacesInput{})
	for p.HasMorePages() {
		pg, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, w := range pg.Workspaces {
			if strings.HasPrefix(aws.ToString(w.WorkspaceName), pool+"-") && w.State != "TERMINATED" {
				out[aws.ToString(w.WorkspaceName)] = string(w.State)
			}
		}
	}
	return out
}

func settled(rep *PassReport, pools ...string) bool {
	for _, name := range pools {
		p := rep.Pools[name]
		if len(p.Created)+len(p.Started)+len(p.Stopped)+len(p.Replaced)+len(p.Rebuilt)+p.Pending+p.Requested > 0 || len(p.Errors) > 0 {
			return false
		}
		for st := range p.States {
			if st != "AVAILABLE" && st != "STOPPED" {
				return false
			}
		}
	}
	return true
}

func TestPoolsConvergeAndSessions(t *testing.T) {
	e := startEnv(t)
	e.withPools(2, 5, 1)
	b := e.broker()
	ctx := context.Background()
	rep := reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "pools settle")
	for _, name := range []string{"eng", "fin"} {
		p := rep.Pools[name]
		if p.Desktops != 2 || p.States["AVAILABLE"] != 1 || p.States["STOPPED"] != 1 {
			t.Fatalf("pool %s: %+v (want 2 desktops, 1 warm AVAILABLE, 1 STOPPED)", name, p)
		}
	}
	if p := rep.Pools["ops"]; p.Desktops != 1 || p.States["AVAILABLE"] != 1 {
		t.Fatalf("pool ops: %+v", p)
	}
	if got := e.serverDesktops("eng"); len(got) != 2 {
		t.Fatalf("server eng desktops %v", got)
	}

	// alice (Engineering) gets the warm desktop at once, over DCV.
	v, err := b.RequestSession(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Ready() || v.Protocol != "DCV" || v.Port != 8443 || v.IP == "" || v.Pool != "eng" {
		t.Fatalf("alice session %+v", v)
	}
	// The pool refills its warm buffer.
	reconcileUntil(t, b, func(r *PassReport) bool {
		return settled(r, "eng") && r.Pools["eng"].Assigned == 1 && r.Pools["eng"].States["AVAILABLE"] == 2
	}, "eng warm refill")
	// Unknown users and users without a policy are refused.
	if _, err := b.RequestSession(ctx, "mallory"); err != ErrUnknownUser {
		t.Fatalf("mallory: %v", err)
	}

	// Disconnect: stop after 30 minutes.
	if _, err := b.Disconnect(ctx, v.SessionID); err != nil {
		t.Fatal(err)
	}
	e.advance(20 * time.Minute)
	rep = reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") }, "no stop before 30m")
	e.advance(15 * time.Minute)
	rep = reconcileUntil(t, b, func(r *PassReport) bool { return len(r.Pools["eng"].Stopped) == 1 }, "stop after 30m")
	d, _ := b.Store().Desktop(ctx, v.WorkspaceID)
	if rep.Pools["eng"].Stopped[0] != v.WorkspaceID || d.User != "alice" {
		t.Fatalf("stopped %v, desktop %+v", rep.Pools["eng"].Stopped, d)
	}
	// alice comes back to her own desktop, which starts.
	testserver.Eventually(t, 30*time.Second, func() bool {
		v2, err := b.RequestSession(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if v2.WorkspaceID != v.WorkspaceID {
			t.Fatalf("alice got another desktop %s, had %s", v2.WorkspaceID, v.WorkspaceID)
		}
		return v2.Ready()
	}, "alice's desktop restarts")

	// carol (Finance: stop-now, release) logs out: the desktop is rebuilt
	// and returned to the pool.
	vc, err := b.RequestSession(ctx, "carol")
	if err != nil || !vc.Ready() || vc.Protocol != "RDP" || vc.Port != 3389 {
		t.Fatalf("carol %+v %v", vc, err)
	}
	if _, err := b.Logout(ctx, vc.SessionID); err != nil {
		t.Fatal(err)
	}
	reconcileUntil(t, b, func(r *PassReport) bool { return len(r.Pools["fin"].Rebuilt) == 1 }, "rebuild on release")
	reconcileUntil(t, b, func(r *PassReport) bool {
		d, _ := b.Store().Desktop(ctx, vc.WorkspaceID)
		return settled(r, "fin") && d.User == "" && d.Release == ReleaseNone
	}, "released desktop back in the pool")

	cost, err := b.Cost(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if cost.Total.AvailableHours <= 0 || len(cost.Users) == 0 {
		t.Fatalf("cost %+v", cost.Total)
	}
}

// Silence unused imports while the file grows.
var _ = fmt.Sprint
var _ = http.StatusOK
var _ = httptest.NewServer
var _ sync.Mutex
var _ = dsdata.New

// lastPass formats when printed, so a timed-out wait names the last pass.
type lastPass func() string

func (l lastPass) String() string { return l() }
