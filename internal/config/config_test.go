package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultValidates: the default environment passes its own checks and
// declares the partner guide's role in the customer account.
func TestDefaultValidates(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a := c.Account(CustomerAccount)
	if a == nil || len(a.Roles) != 1 || a.Roles[0].Name != PartnerRoleName {
		t.Fatalf("customer roles: %+v", a)
	}
	trust, err := PolicyDocument(a.Roles[0].TrustPolicy)
	if err != nil || !strings.Contains(trust, `"sts:ExternalId":"`+PartnerExternalID+`"`) || !strings.Contains(trust, PartnerAccount+":root") {
		t.Fatalf("trust policy %s %v", trust, err)
	}
}

// TestLoadRoles reads roles from a file and refuses mistakes in them.
func TestLoadRoles(t *testing.T) {
	load := func(roles string) (*Config, error) {
		p := filepath.Join(t.TempDir(), "c.json")
		doc := `{"accounts":[{"id":"123456789012","roles":` + roles + `}]}`
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load(`[{"name":"Ops","path":"/team/","trust_policy":"{\"Version\":\"2012-10-17\",\"Statement\":[]}",
		"policies":{"p":{"Version":"2012-10-17","Statement":[]}},"managed_policies":["arn:aws:iam::aws:policy/ReadOnlyAccess"],
		"max_session_duration":7200,"tags":{"k":"v"}}]`)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Accounts[0].Roles[0]; r.Path != "/team/" || r.MaxSessionDuration != 7200 || r.Tags["k"] != "v" || len(r.Managed) != 1 {
		t.Fatalf("role %+v", r)
	}
	for roles, want := range map[string]string{
		`[{"name":"Ops"}]`:                   "trust_policy is required",
		`[{"name":"a b","trust_policy":{}}]`: "a name is 1 to 64",
		`[{"name":"Ops","trust_policy":{}},{"name":"ops","trust_policy":{}}]`: "declared twice",
		`[{"name":"Ops","path":"team","trust_policy":{}}]`:                    "must begin and end with /",
		`[{"name":"Ops","max_session_duration":60,"trust_policy":{}}]`:        "between 3600 and 43200",
	} {
		if _, err := load(roles); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", roles, err, want)
		}
	}
}
