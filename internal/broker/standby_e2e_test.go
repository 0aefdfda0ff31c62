package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// standbyFleet builds a one-pool tenant (eng) whose pool has the standby
// sb in us-west-2, onboards us-west-2 as onboard --standby does, and
// returns the fleet's primary and standby brokers.
func standbyFleet(t *testing.T, e *testEnv, sb *StandbyPool) (*Broker, *Broker) {
	t.Helper()
	ctx := context.Background()
	e.withPools(1, 3, 1)
	e.cfg.Pools = []Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 1, Max: 3, Warm: 1,
		Standby: sb}}
	e.cfg.Policies = e.cfg.Policies[:1]
	if err := e.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sc, err := standbyConfig(e.cfg)
	if err != nil || sc == nil {
		t.Fatalf("standby config: %v", err)
	}
	westCfg, err := NewAWSConfig(ctx, sc, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	on := &Onboarder{C: NewClients(westCfg, sc.Endpoint), Cfg: sc.Onboarding, Out: &out, Poll: 10 * time.Millisecond, Timeout: 30 * time.Second, In: bufioReader("1\n")}
	on.Cfg.AMI = "win11-ent-23h2-byol"
	// The standby WorkSpaces' bundle is the primary's, mirrored under its
	// own names: the standby pool's image and bundle are named apart.
	on.Cfg.ImageName, on.Cfg.BundleName = "win11-byol-west", "win11-bundle-west"
	if _, err := on.Run(ctx); err != nil {
		t.Fatalf("onboard us-west-2: %v\n%s", err, out.String())
	}
	fleet, err := NewFleet(ctx, e.cfg, 30*time.Second, Options{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	b := fleet.Broker(DefaultTenant)
	if b.Standby() == nil {
		t.Fatal("no standby broker")
	}
	return b, b.Standby()
}

// sessionAPI calls the broker's session API over HTTP.
type sessionAPI struct {
	t   *testing.T
	url string
}

func (a sessionAPI) call(method, path string, body any) (int, SessionView) {
	a.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v SessionView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		a.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, v
}

// request is POST /v1/sessions for user.
func (a sessionAPI) request(user string) SessionView {
	a.t.Helper()
	code, v := a.call("POST", "/v1/sessions", map[string]string{"user": user})
	if code != http.StatusOK && code != http.StatusAccepted {
		a.t.Fatalf("POST /v1/sessions %s: %d %+v", user, code, v)
	}
	return v
}

// get is GET /v1/sessions/{id}.
func (a sessionAPI) get(id string) SessionView {
	a.t.Helper()
	code, v := a.call("GET", "/v1/sessions/"+id, nil)
	if code != http.StatusOK && code != http.StatusAccepted {
		a.t.Fatalf("GET /v1/sessions/%s: %d %+v", id, code, v)
	}
	return v
}

// wsState is a desktop's state in a region ("" when the service no longer
// lists it).
func wsState(t *testing.T, c *workspaces.Client, id string) (string, types.Workspace) {
	t.Helper()
	o, err := c.DescribeWorkspaces(context.Background(), &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeWorkspaces %s: %v", id, err)
	}
	if len(o.Workspaces) == 0 {
		return "", types.Workspace{}
	}
	return string(o.Workspaces[0].State), o.Workspaces[0]
}

// allStandbys reports whether every desktop the pass saw has a recorded
// standby WorkSpace.
func allStandbys(t *testing.T, b *Broker, r *PassReport) bool {
	t.Helper()
	recs, err := b.Store().Standbys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ds, err := b.Store().PoolDesktops(context.Background(), "eng")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if _, ok := recs[d.ID]; !ok {
			return false
		}
	}
	return settled(r, "eng") && len(r.Pools["eng"].StandbyCreated) == 0 && len(ds) > 0
}

// TestStandbyWorkspacesFailoverAndBack: a pool with standby WorkSpaces.
// The reconciler gives every primary desktop its own standby WorkSpace in
// the standby region (CreateStandbyWorkspaces with the primary's id, the
// standby region's directory and PRIMARY_AS_SOURCE replication) and
// records it; the standby region's pool does not adopt them. During an
// outage of the primary, alice (whose primary desktop has a standby) is
// served her own standby desktop, started because it was stopped, through
// the session API; bob (no desktop) gets a desktop of the standby pool. On
// recovery alice's standby session ends, the standby is stopped, and her
// next session is on her primary desktop. Terminating the primary
// terminates its standby.
func TestStandbyWorkspacesFailoverAndBack(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	b, sb := standbyFleet(t, e, &StandbyPool{Region: "us-west-2", Bundle: "win11-bundle-west", Workspaces: true, DataReplication: "PRIMARY_AS_SOURCE"})
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	api := sessionAPI{t: t, url: srv.URL}
	east := workspaces.NewFromConfig(e.s.Admin("us-east-1"))
	west := workspaces.NewFromConfig(e.s.Admin("us-west-2"))

	reconcileUntil(t, b, func(r *PassReport) bool { return allStandbys(t, b, r) }, "every primary desktop has a standby")
	reconcileUntil(t, sb, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].Desktops == 0 }, "the standby pool does not adopt standby WorkSpaces")

	alice := api.request("alice")
	if !alice.Ready() || alice.Region != "us-east-1" {
		t.Fatalf("alice before the outage: %+v", alice)
	}
	primary := alice.WorkspaceID
	rec, err := b.Store().Standby(ctx, primary)
	if err != nil || rec == nil || rec.Region != "us-west-2" {
		t.Fatalf("standby record of %s: %+v %v", primary, rec, err)
	}
	standby := rec.StandbyID
	// The service shows the relationship on both sides.
	if _, w := wsState(t, east, primary); len(w.StandbyWorkspacesProperties) != 1 || aws.ToString(w.StandbyWorkspacesProperties[0].StandbyWorkspaceId) != standby ||
		w.StandbyWorkspacesProperties[0].DataReplication != types.DataReplicationPrimaryAsSource {
		t.Fatalf("primary %s's standby properties: %+v", primary, w.StandbyWorkspacesProperties)
	}
	st, w := wsState(t, west, standby)
	if st == "" || len(w.RelatedWorkspaces) != 1 || aws.ToString(w.RelatedWorkspaces[0].WorkspaceId) != primary || w.RelatedWorkspaces[0].Type != types.StandbyWorkspaceRelationshipTypePrimary {
		t.Fatalf("standby %s in us-west-2: %s %+v", standby, st, w.RelatedWorkspaces)
	}
	if d, err := sb.Store().Desktop(ctx, standby); err != nil || d != nil {
		t.Fatalf("the standby pool adopted the standby WorkSpace: %+v %v", d, err)
	}
	// The standby is stopped (it costs nothing until needed).
	testserver.Eventually(t, 60*time.Second, func() bool {
		switch st, _ := wsState(t, west, standby); st {
		case "AVAILABLE":
			if _, err := west.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []types.StopRequest{{WorkspaceId: aws.String(standby)}}}); err != nil {
				t.Fatal(err)
			}
		case "STOPPED":
			return true
		}
		e.advance(time.Minute)
		return false
	}, "standby %s stops", standby)

	// The primary region goes down; after three failed passes sessions go
	// to the standby region.
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{"region_outages": map[string]string{"us-east-1": "error"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < FailoverPasses; i++ {
		if _, err := b.Reconcile(ctx); err == nil {
			t.Fatalf("pass %d succeeded during the outage", i)
		}
	}
	if st := b.Failover(); !st.Failing || st.Active != "us-west-2" {
		t.Fatalf("after %d failed passes: %+v", FailoverPasses, st)
	}
	a2 := api.request("alice")
	if a2.Region != "us-west-2" || a2.WorkspaceID != standby || a2.State != SessStarting {
		t.Fatalf("alice during the outage: %+v, want her standby %s starting", a2, standby)
	}
	testserver.Eventually(t, 60*time.Second, func() bool {
		if v := api.get(a2.SessionID); v.Ready() {
			a2 = v
			return true
		}
		e.advance(10 * time.Second)
		return false
	}, "alice's standby session becomes ready")
	if a2.WorkspaceID != standby || a2.IP == "" || a2.Region != "us-west-2" || a2.Protocol == "" {
		t.Fatalf("alice's standby session: %+v", a2)
	}
	if st, _ := wsState(t, west, standby); st != "AVAILABLE" {
		t.Fatalf("alice's standby is %s", st)
	}
	// bob has no primary desktop: a desktop of the standby pool serves him.
	reconcileUntil(t, sb, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].States["AVAILABLE"] >= 1 }, "standby pool grows")
	bob := api.request("bob")
	if bob.Region != "us-west-2" || bob.WorkspaceID == "" || bob.WorkspaceID == standby {
		t.Fatalf("bob during the outage: %+v", bob)
	}
	if d, err := sb.Store().Desktop(ctx, bob.WorkspaceID); err != nil || d == nil || d.User != "bob" || !strings.HasPrefix(d.Name, "eng-100000") {
		t.Fatalf("bob's desktop is not a standby pool desktop named apart from the primaries: %+v %v", d, err)
	}

	// The primary comes back: alice's standby session ends, her standby
	// stops, and her next session is on her primary desktop.
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < RecoverPasses; i++ {
		if _, err := b.Reconcile(ctx); err != nil {
			t.Fatalf("pass after the outage: %v", err)
		}
	}
	if st := b.Failover(); st.Failing || st.Recoveries != 1 {
		t.Fatalf("after recovery: %+v", st)
	}
	if v := api.get(a2.SessionID); v.State != SessEnded {
		t.Fatalf("alice's standby session after recovery: %+v", v)
	}
	testserver.Eventually(t, 60*time.Second, func() bool {
		st, _ := wsState(t, west, standby)
		if st != "STOPPED" {
			e.advance(10 * time.Second)
		}
		return st == "STOPPED"
	}, "alice's standby stops after recovery")
	a3 := api.request("alice")
	if a3.Region != "us-east-1" || a3.WorkspaceID != primary {
		t.Fatalf("alice after recovery: %+v, want her primary %s", a3, primary)
	}

	// The primary is terminated: its standby is terminated and forgotten.
	if _, err := east.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []types.TerminateRequest{{WorkspaceId: aws.String(primary)}}}); err != nil {
		t.Fatal(err)
	}
	reconcileUntil(t, b, func(r *PassReport) bool {
		rec, err := b.Store().Standby(ctx, primary)
		return err == nil && rec == nil
	}, "the terminated primary's standby is cleaned up")
	testserver.Eventually(t, 60*time.Second, func() bool {
		st, _ := wsState(t, west, standby)
		if st != "" && st != "TERMINATED" {
			e.advance(10 * time.Second)
		}
		return st == "" || st == "TERMINATED"
	}, "standby %s terminated", standby)
	// The desktops left in the pool keep (or get) their standbys.
	reconcileUntil(t, b, func(r *PassReport) bool { return allStandbys(t, b, r) }, "the pool's desktops have standbys again")
	evs, err := b.Store().Events(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if all := strings.Join(kinds, " "); !strings.Contains(all, "standby_recorded") || !strings.Contains(all, "standby_terminated") {
		t.Fatalf("events: %s", all)
	}
}

// TestStandbyWorkspacesConfig: the setting's validation.
func TestStandbyWorkspacesConfig(t *testing.T) {
	e := startEnv(t)
	e.withPools(1, 3, 1)
	for _, c := range []struct {
		sb   StandbyPool
		want string
	}{
		{StandbyPool{Region: "us-west-2", Workspaces: true}, ""},
		{StandbyPool{Region: "us-west-2", Workspaces: true, DataReplication: "PRIMARY_AS_SOURCE", VolumeEncryptionKey: "alias/k"}, ""},
		{StandbyPool{Region: "us-west-2", Workspaces: true, DataReplication: "SOMETIMES"}, "data_replication"},
		{StandbyPool{Region: "us-west-2", DataReplication: "NO_REPLICATION"}, "set standby_workspaces"},
		{StandbyPool{Region: "us-west-2", VolumeEncryptionKey: "alias/k"}, "set standby_workspaces"},
	} {
		cfg := *e.cfg
		sb := c.sb
		cfg.Pools = []Pool{e.cfg.Pools[0]}
		cfg.Pools[0].Standby = &sb
		cfg.Policies = e.cfg.Policies[:1]
		err := cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.sb, err, c.want)
		}
	}
	// The keys as a configuration file spells them.
	raw, err := json.Marshal(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["pools"].([]any)[0].(map[string]any)["standby"] = map[string]any{"region": "us-west-2", "standby_workspaces": true, "data_replication": "PRIMARY_AS_SOURCE"}
	m["pools"] = m["pools"].([]any)[:1]
	m["policies"] = m["policies"].([]any)[:1]
	raw, _ = json.Marshal(m)
	path := filepath.Join(t.TempDir(), "broker.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if sb := c.Pools[0].Standby; sb == nil || !sb.Workspaces || sb.DataReplication != "PRIMARY_AS_SOURCE" {
		t.Fatalf("loaded standby: %+v", sb)
	}
}

// TestStandbyStoreMigration: a store made before standby_ws existed gets
// the table when opened, and records standbys.
func TestStandbyStoreMigration(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`DROP TABLE standby_ws`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.UnixMilli(time.Now().UnixMilli()).UTC()
	if err := s.PutStandby(ctx, StandbyWS{WorkspaceID: "ws-aaaaaaaaa", StandbyID: "ws-bbbbbbbbb", Region: "us-west-2", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Standby(ctx, "ws-aaaaaaaaa")
	if err != nil || got == nil || got.StandbyID != "ws-bbbbbbbbb" || got.Region != "us-west-2" || !got.CreatedAt.Equal(at) {
		t.Fatalf("standby after migration: %+v %v", got, err)
	}
	if err := s.DropStandby(ctx, "ws-aaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Standby(ctx, "ws-aaaaaaaaa"); err != nil || got != nil {
		t.Fatalf("standby after drop: %+v %v", got, err)
	}
}

// TestStandbyStorePostgres: on PostgreSQL, a schema made before standby_ws
// existed gets the table when a broker opens it, and records standbys.
func TestStandbyStorePostgres(t *testing.T) {
	dsn := freshDatabase(t)
	ctx := context.Background()
	s, err := OpenPostgresStore(ctx, dsn, "broker_standby")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `DROP TABLE standby_ws`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenPostgresStore(ctx, dsn, "broker_standby"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.UnixMilli(time.Now().UnixMilli()).UTC()
	for _, sid := range []string{"ws-bbbbbbbbb", "ws-ccccccccc"} { // the second replaces the first
		if err := s.PutStandby(ctx, StandbyWS{WorkspaceID: "ws-aaaaaaaaa", StandbyID: sid, Region: "us-west-2", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Standbys(ctx)
	if err != nil || len(all) != 1 || all["ws-aaaaaaaaa"].StandbyID != "ws-ccccccccc" || !all["ws-aaaaaaaaa"].CreatedAt.Equal(at) {
		t.Fatalf("standbys on PostgreSQL: %+v %v", all, err)
	}
	if err := s.DropStandby(ctx, "ws-aaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Standby(ctx, "ws-aaaaaaaaa"); err != nil || got != nil {
		t.Fatalf("standby after drop: %+v %v", got, err)
	}
}

// TestStandbyWorkspaceUnhealthyFallsBack: during a failover a user whose
// standby WorkSpace is UNHEALTHY is served a desktop of the standby pool
// instead (no user is left without a desktop because of a bad standby).
func TestStandbyWorkspaceUnhealthyFallsBack(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	b, sb := standbyFleet(t, e, &StandbyPool{Region: "us-west-2", Bundle: "win11-bundle-west", Workspaces: true})
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	api := sessionAPI{t: t, url: srv.URL}
	west := workspaces.NewFromConfig(e.s.Admin("us-west-2"))
	reconcileUntil(t, b, func(r *PassReport) bool { return allStandbys(t, b, r) }, "every primary desktop has a standby")
	alice := api.request("alice")
	if !alice.Ready() {
		t.Fatalf("alice before the outage: %+v", alice)
	}
	rec, err := b.Store().Standby(ctx, alice.WorkspaceID)
	if err != nil || rec == nil {
		t.Fatalf("standby record: %+v %v", rec, err)
	}
	testserver.Eventually(t, 60*time.Second, func() bool {
		st, _ := wsState(t, west, rec.StandbyID)
		if st != "AVAILABLE" {
			e.advance(10 * time.Second)
		}
		return st == "AVAILABLE"
	}, "standby %s provisioned", rec.StandbyID)
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{"unhealthy_workspaces": []string{rec.StandbyID}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := wsState(t, west, rec.StandbyID); st != "UNHEALTHY" {
		t.Fatalf("standby after the fault: %s", st)
	}
	if _, err := e.s.AdminPost("/_deskplane/faults", map[string]any{"unhealthy_workspaces": []string{rec.StandbyID},
		"region_outages": map[string]string{"us-east-1": "error"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < FailoverPasses; i++ {
		b.Reconcile(ctx)
	}
	if st := b.Failover(); !st.Failing {
		t.Fatalf("no failover: %+v", st)
	}
	reconcileUntil(t, sb, func(r *PassReport) bool { return settled(r, "eng") && r.Pools["eng"].States["AVAILABLE"] >= 1 }, "standby pool grows")
	a2 := api.request("alice")
	if a2.Region != "us-west-2" || a2.WorkspaceID == "" || a2.WorkspaceID == rec.StandbyID {
		t.Fatalf("alice with an UNHEALTHY standby: %+v", a2)
	}
	if d, err := sb.Store().Desktop(ctx, a2.WorkspaceID); err != nil || d == nil || d.User != "alice" {
		t.Fatalf("alice's fallback is not a standby pool desktop: %+v %v", d, err)
	}
}
