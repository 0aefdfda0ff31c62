package broker

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/broker/gateway"
	"github.com/deskplane/deskplane/internal/testserver"
)

// The guide's security-group step, against deskplane serve --runtime
// process (whose guests listen only on the ports the desktop's security
// groups let in): without it a BYOP desktop's protocol port cannot be
// reached through the gateway; after onboarding creates the group and sets
// it as the directory's custom group, a new desktop's port answers.
func TestOnboardSecurityGroupMakesProtocolPortReachable(t *testing.T) {
	os.Setenv("BROKER_TEST_GUEST", "1") // the runtime's guests inherit it: see TestMain
	t.Cleanup(func() { os.Unsetenv("BROKER_TEST_GUEST") })
	e := startEnv(t, testserver.Runtime("process", 4, os.Args[0], "-test.run=^$"))
	ctx := context.Background()

	// Onboarding without the step (no ports): the directory's own group
	// does not let RDP (3389, the BYOP image's protocol port) in.
	r, _ := e.onboardPorts(nil)
	if !slices.Contains(r.Skipped, "security-group") || r.SecurityGroupID != "" {
		t.Fatalf("onboard without ports: %+v", r)
	}
	e.cfg.Pools = []Pool{{Name: "eng", Directory: r.DirectoryID, Bundle: r.BundleID, RunningMode: "MANUAL", Min: 1, Max: 2, Warm: 1}}
	e.cfg.Policies = []Policy{{Name: "engineers", Groups: []string{"Engineering"}, Pool: "eng", ProtocolPlan: "rdp", PowerPlan: "keep-running", ReleasePlan: "keep"}}
	if err := e.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b := e.broker()
	gw := &gateway.Gateway{ID: LocalGatewayID, Broker: b.Hub(), Map: gateway.Loopback}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go gw.ServeTCP(gctx, ln)
	b.Hub().RegisterLocal(gateway.Registration{ID: LocalGatewayID, URL: "ws://unused", TCPAddr: ln.Addr().String()})

	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].States["AVAILABLE"] == 1 }, "eng settles")
	va, err := b.RequestSession(ctx, "alice")
	if err != nil || !va.Ready() || va.Port != 3389 {
		t.Fatalf("alice: %+v %v", va, err)
	}
	_, _, line := tcpConnect(t, va.GatewayTCP, va.Ticket)
	if !strings.HasPrefix(line, "DENIED") {
		t.Fatalf("before the security-group step, alice's desktop answered %q", line)
	}
	api := httptest.NewServer(b.Handler())
	t.Cleanup(api.Close)
	if st := onboardingStep(t, api.URL, "security-group"); st.Done || !strings.Contains(st.Detail, "no custom security group") {
		t.Fatalf("status before the step: %+v", st)
	}

	// Onboarding again with the protocol plans' ports: only the new step
	// runs.
	r2, out := e.onboard()
	if !slices.Equal(r2.Done, []string{"security-group"}) || r2.SecurityGroupID == "" {
		t.Fatalf("second onboard: %+v\n%s", r2, out)
	}
	if !strings.Contains(out, "3389") {
		t.Fatalf("the step does not name port 3389:\n%s", out)
	}
	if st := onboardingStep(t, api.URL, "security-group"); !st.Done || !strings.Contains(st.Detail, r2.SecurityGroupID) {
		t.Fatalf("status after the step: %+v", st)
	}
	// bob's desktop is a new one (alice holds the first): it has the group.
	reconcileUntil(t, b, func(r *PassReport) bool {
		return settled(r, "eng") && r.Pools["eng"].Desktops == 2 && r.Pools["eng"].States["AVAILABLE"] == 2
	}, "a second desktop")
	vb, err := b.RequestSession(ctx, "bob")
	if err != nil || !vb.Ready() || vb.WorkspaceID == va.WorkspaceID {
		t.Fatalf("bob: %+v %v", vb, err)
	}
	_, _, line = tcpConnect(t, vb.GatewayTCP, vb.Ticket)
	if want := "DESKPLANE " + vb.WorkspaceID + " BYOP"; !strings.HasPrefix(line, want) {
		t.Fatalf("bob's new desktop answered %q, want %q…", line, want)
	}
}

// onboardingStep reads one step of GET /v1/onboarding.
func onboardingStep(t *testing.T, base, step string) OnboardStep {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/onboarding", nil)
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Steps []OnboardStep `json:"steps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/onboarding: %d %v", resp.StatusCode, err)
	}
	for _, s := range out.Steps {
		if s.Step == step {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", step, out.Steps)
	return OnboardStep{}
}
