package broker

import (
	"context"
	"fmt"
	"github.com/deskplane/deskplane/internal/testserver"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/broker/dsdata"
)

// createUsers creates n users through ds-data and spreads them over the
// Engineering, Finance and (new) Operations groups; it returns user -> group.
func (e *testEnv) createUsers(n int) map[string]string {
	e.t.Helper()
	ctx := context.Background()
	dir := e.dirID()
	dd := e.c.DSData
	if _, err := dd.CreateGroup(ctx, dir, "Operations"); err != nil && !dsdata.IsConflict(err) {
		e.t.Fatalf("CreateGroup: %v", err)
	}
	groups := []string{"Engineering", "Finance", "Operations"}
	out := map[string]string{}
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("user%03d", i)
		if _, err := dd.CreateUser(ctx, dir, dsdata.CreateUserInput{SAMAccountName: u, GivenName: "User", Surname: fmt.Sprint(i)}); err != nil {
			e.t.Fatalf("CreateUser %s: %v", u, err)
		}
		g := groups[i%3]
		if err := dd.AddGroupMember(ctx, dir, g, u); err != nil {
			e.t.Fatalf("AddGroupMember %s %s: %v", g, u, err)
		}
		out[u] = g
	}
	return out
}

func (e *testEnv) dirID() string {
	e.t.Helper()
	out, err := e.c.WorkSpaces.DescribeWorkspaceDirectories(context.Background(), &workspaces.DescribeWorkspaceDirectoriesInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range out.Directories {
		if aws.ToString(d.DirectoryName) == "corp.example.com" {
			return aws.ToString(d.DirectoryId)
		}
	}
	e.t.Fatal("no corp.example.com directory")
	return ""
}

// checkInvariants verifies, against the server and the store, that no pool
// is above its maximum, no user holds two desktops and no desktop two users.
func (e *testEnv) checkInvariants(b *Broker) {
	e.t.Helper()
	ctx := context.Background()
	for _, p := range e.cfg.Pools {
		if got := e.serverDesktops(p.Name); len(got) > p.Max {
			e.t.Fatalf("pool %s has %d desktops on the server, max %d", p.Name, len(got), p.Max)
		}
		ds, err := b.Store().PoolDesktops(ctx, p.Name)
		if err != nil {
			e.t.Fatal(err)
		}
		users := map[string]string{}
		names := map[string]string{}
		for _, d := range ds {
			if d.State == "TERMINATED" {
				continue
			}
			if prev, ok := names[d.Name]; ok {
				e.t.Fatalf("desktop name %s doubled: %s and %s", d.Name, prev, d.ID)
			}
			names[d.Name] = d.ID
			if d.User == "" {
				continue
			}
			if prev, ok := users[d.User]; ok {
				e.t.Fatalf("user %s holds %s and %s", d.User, prev, d.ID)
			}
			users[d.User] = d.ID
		}
	}
}

// loginAll requests sessions for users until each is ready, reconciling
// between rounds (the pool grows for waiting sessions).
func loginAll(t *testing.T, e *testEnv, b *Broker, users []string) map[string]*SessionView {
	t.Helper()
	ctx := context.Background()
	out := map[string]*SessionView{}
	pending := users
	testserver.Eventually(t, 90*time.Second, func() bool {
		var next []string
		for _, u := range pending {
			v, err := b.RequestSession(ctx, u)
			if err != nil {
				t.Fatalf("session %s: %v", u, err)
			}
			if v.Ready() {
				out[u] = v
			} else {
				next = append(next, u)
			}
		}
		pending = next
		if len(pending) == 0 {
			return true
		}
		if _, err := b.Reconcile(ctx); err != nil {
			t.Logf("reconcile: %v", err)
		}
		e.checkInvariants(b)
		return false
	}, "users still waiting for desktops")
	return out
}

func TestDayOf200Users(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	e := startEnv(t)
	e.withPools(1, 5, 1)
	e.cfg.Pools = []Pool{
		{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 5, Max: 70, Warm: 3},
		{Name: "fin", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 5, Max: 70, Warm: 3},
		{Name: "ops", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "ALWAYS_ON", Min: 2, Max: 72, Warm: 2},
	}
	// Prices where hourly billing pays off for office hours.
	e.cfg.Prices = Prices{Hourly: 0.05, Monthly: 40, HoursPerMonth: 730}
	if err := e.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	group := e.createUsers(200)
	e.usePartnerRole()
	b := e.broker()
	ctx := context.Background()
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "pools settle")
	start := e.clock.Now()

	// Each user logs in between 07:00 and 10:00, has a lunch break
	// (disconnect, reconnect an hour later) and logs out between 16:00
	// and 19:00 (in half-hour steps from midnight).
	rng := rand.New(rand.NewPCG(1, 2))
	type plan struct{ in, lunch, out int }
	plans := map[string]plan{}
	var users []string
	for u := range group {
		users = append(users, u)
		plans[u] = plan{in: 14 + rng.IntN(6), lunch: 24 + rng.IntN(3), out: 32 + rng.IntN(6)}
	}
	sessions := map[string]*SessionView{}
	maxSeen := map[string]int{}
	for step := 0; step <= 48; step++ {
		var in, back []string
		for _, u := range users {
			p := plans[u]
			switch step {
			case p.in:
				in = append(in, u)
			case p.lunch:
				if _, err := b.Disconnect(ctx, sessions[u].SessionID); err != nil {
					t.Fatal(err)
				}
			case p.lunch + 2:
				back = append(back, u)
			case p.out:
				if _, err := b.Logout(ctx, sessions[u].SessionID); err != nil {
					t.Fatal(err)
				}
			}
		}
		t0 := time.Now()
		logged := loginAll(t, e, b, append(in, back...))
		if len(in)+len(back) > 0 {
			t.Logf("step %d: %d logins in %s", step, len(in)+len(back), time.Since(t0))
		}
		for u, v := range logged {
			if prev := sessions[u]; prev != nil && group[u] == "Engineering" && prev.WorkspaceID != v.WorkspaceID {
				t.Fatalf("%s (keep plan) came back to %s, had %s", u, v.WorkspaceID, prev.WorkspaceID)
			}
			sessions[u] = v
		}
		rep, err := b.Reconcile(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for name, p := range rep.Pools {
			maxSeen[name] = max(maxSeen[name], p.Desktops+p.Pending)
		}
		e.checkInvariants(b)
		e.advance(30 * time.Minute)
	}
	// The evening: let the power plans act.
	e.advance(time.Hour)
	reconcileUntil(t, b, func(r *PassReport) bool { return settled(r, "eng", "fin", "ops") }, "evening settle")
	rep, err := b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("max desktops seen: %v; evening: eng %+v fin %+v ops %+v", maxSeen, rep.Pools["eng"], rep.Pools["fin"], rep.Pools["ops"])
	e.checkInvariants(b)
	eng, fin, ops := rep.Pools["eng"], rep.Pools["fin"], rep.Pools["ops"]
	// eng: keep plan, every engineer keeps a desktop; idle ones stopped, only
	// the warm buffer runs.
	nEng := 0
	for _, g := range group {
		if g == "Engineering" {
			nEng++
		}
	}
	if eng.Assigned != nEng || eng.States["AVAILABLE"] != 3 {
		t.Errorf("eng evening: %+v, want %d assigned and 3 AVAILABLE (warm)", eng, nEng)
	}
	// fin: release plan, nobody holds a desktop; rebuilt ones were stopped
	// down to the warm buffer.
	if fin.Assigned != 0 || fin.States["AVAILABLE"] != 3 {
		t.Errorf("fin evening: %+v, want 0 assigned, 3 AVAILABLE", fin)
	}
	// ops: ALWAYS_ON, everything runs.
	if ops.States["STOPPED"] != 0 {
		t.Errorf("ops evening: %+v, want nothing stopped", ops)
	}
	for name, n := range maxSeen {
		if p := e.cfg.Pool(name); n > p.Max {
			t.Errorf("pool %s reached %d > max %d", name, n, p.Max)
		}
	}

	cost, err := b.Cost(ctx, start, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	byPool := map[string]CostLine{}
	for _, l := range cost.Pools {
		byPool[l.Name] = l
	}
	t.Logf("cost: eng %+v fin %+v ops %+v total %+v", byPool["eng"], byPool["fin"], byPool["ops"], cost.Total)
	if byPool["eng"].Saving <= 0 || byPool["fin"].Saving <= 0 {
		t.Errorf("MANUAL pools should save against ALWAYS_ON: %+v %+v", byPool["eng"], byPool["fin"])
	}
	if byPool["ops"].Saving != 0 || byPool["ops"].Cost <= 0 {
		t.Errorf("ALWAYS_ON pool: %+v", byPool["ops"])
	}
	if len(cost.Users) < 200 {
		t.Errorf("cost report has %d users, want 200", len(cost.Users))
	}
	for _, l := range append(cost.Pools, cost.Total) {
		want := l.AvailableHours * 0.05
		if l.Name == "ops" {
			want = l.ExistedHours * 40 / 730
		}
		if l.Name != "total" && (abs(l.Cost-want) > 0.02 || abs(l.Saving-(l.AlwaysOnCost-l.Cost)) > 0.02 || abs(l.AlwaysOnCost-l.ExistedHours*40/730) > 0.02) {
			t.Errorf("cost line %+v inconsistent with prices", l)
		}
	}
	if e, f := byPool["eng"], byPool["fin"]; e.AvailableHours >= e.ExistedHours*0.7 || f.AvailableHours >= f.ExistedHours*0.7 {
		t.Errorf("idle desktops were not stopped: eng %+v fin %+v", e, f)
	}
	for _, l := range cost.Users {
		if group[l.Name] == "Operations" {
			continue // ALWAYS_ON: runs until the end of the test
		}
		// Office hours: logged in 6-12 hours, less lunch, plus the power
		// plans' grace.
		if l.AvailableHours < 4 || l.AvailableHours > 13 {
			t.Errorf("user %s: %.2f hours AVAILABLE", l.Name, l.AvailableHours)
			break
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
