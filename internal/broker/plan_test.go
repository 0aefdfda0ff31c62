package broker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMatchPolicy(t *testing.T) {
	pols := []Policy{
		{Name: "vip", Users: []string{"Alice"}, Pool: "vip"},
		{Name: "eng", Groups: []string{"Engineering"}, Pool: "eng"},
		{Name: "fin", Groups: []string{"Finance", "Audit"}, Pool: "fin"},
	}
	cases := []struct {
		user   string
		groups []string
		want   string
	}{
		{"alice", []string{"Engineering"}, "vip"}, // user match first, case-insensitive
		{"bob", []string{"engineering"}, "eng"},
		{"carol", []string{"Domain Users", "Audit"}, "fin"},
		{"dave", []string{"Engineering", "Finance"}, "eng"}, // first policy in order wins
		{"eve", []string{"Domain Users"}, ""},
	}
	for _, c := range cases {
		got := MatchPolicy(pols, c.user, c.groups)
		name := ""
		if got != nil {
			name = got.Name
		}
		if name != c.want {
			t.Errorf("MatchPolicy(%s, %v) = %q, want %q", c.user, c.groups, name, c.want)
		}
	}
}

func TestPowerAndReleasePlans(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if d := DecidePower(PowerAction{Action: PowerStopAfter, Minutes: 30}, "MANUAL", now); d.StopNow || !d.StopAt.Equal(now.Add(30*time.Minute)) {
		t.Errorf("stop_after: %+v", d)
	}
	if d := DecidePower(PowerAction{Action: PowerStopAfter, Minutes: 0}, "MANUAL", now); !d.StopNow {
		t.Errorf("stop_after 0 should stop now: %+v", d)
	}
	if d := DecidePower(PowerAction{Action: PowerStopNow}, "MANUAL", now); !d.StopNow {
		t.Errorf("stop_now: %+v", d)
	}
	if d := DecidePower(PowerAction{Action: PowerKeepRunning}, "MANUAL", now); d.StopNow || !d.StopAt.IsZero() {
		t.Errorf("keep_running: %+v", d)
	}
	if d := DecidePower(PowerAction{Action: PowerStopNow}, "ALWAYS_ON", now); d.StopNow || !d.StopAt.IsZero() {
		t.Errorf("ALWAYS_ON is never stopped: %+v", d)
	}
	pp := PowerPlan{OnLogout: PowerAction{Action: PowerStopNow}}
	if d := DecideLogout(ReleasePlan{ReleaseRebuild}, pp, "MANUAL", now); !d.Release || d.Power.StopNow {
		t.Errorf("release: %+v", d)
	}
	if d := DecideLogout(ReleasePlan{ReleaseKeep}, pp, "MANUAL", now); d.Release || !d.Power.StopNow {
		t.Errorf("keep: %+v", d)
	}
}

func TestConfigLoadAndValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(v any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, "c.json")
		os.WriteFile(p, b, 0o600)
		return p
	}
	good := map[string]any{
		"region": "eu-west-1", "role_arn": "arn:aws:iam::111122223333:role/Partner", "external_id": "x",
		"pools":    []any{map[string]any{"name": "eng", "directory": "corp.example.com", "bundle": "b", "min": 1, "max": 3, "warm": 1}},
		"policies": []any{map[string]any{"name": "e", "groups": []string{"Engineering"}, "pool": "eng", "protocol_plan": "dcv"}},
	}
	c, err := LoadConfig(write(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Pools[0].RunningMode != "MANUAL" || c.Policies[0].PowerPlan != "stop-after-30" || c.Prices.Hourly != 0.30 || c.ProtocolPlans["dcv"].Port != 8443 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	bad := []struct {
		mut  func(m map[string]any)
		want string
	}{
		{func(m map[string]any) { m["pools"].([]any)[0].(map[string]any)["name"] = "eng-1" }, "pool name"},
		{func(m map[string]any) { m["pools"].([]any)[0].(map[string]any)["running_mode"] = "AUTO_STOP" }, "AUTO_STOP"},
		{func(m map[string]any) { m["pools"].([]any)[0].(map[string]any)["min"] = 5 }, "min <= max"},
		{func(m map[string]any) { m["policies"].([]any)[0].(map[string]any)["pool"] = "nope" }, "unknown pool"},
		{func(m map[string]any) { m["policies"].([]any)[0].(map[string]any)["power_plan"] = "nope" }, "unknown power plan"},
		{func(m map[string]any) { delete(m, "role_arn") }, "external_id needs role_arn"},
		{func(m map[string]any) {
			m["power_plans"] = map[string]any{"x": map[string]any{"on_disconnect": map[string]any{"action": "hibernate"}, "on_logout": map[string]any{"action": "stop_now"}}}
		}, "hibernate"},
	}
	for _, b := range bad {
		m := map[string]any{}
		raw, _ := json.Marshal(good)
		json.Unmarshal(raw, &m)
		b.mut(m)
		if _, err := LoadConfig(write(m)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("want error containing %q, got %v", b.want, err)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Pools) != 3 || c.PowerPlans["office"].OnDisconnect.Minutes != 60 || c.ProtocolPlans["partner"].Port != 2598 {
		t.Fatalf("example config: %+v", c)
	}
}
