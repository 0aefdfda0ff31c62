package config

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestExampleIsValid(t *testing.T) {
	c, err := Parse("example", Example)
	if err != nil {
		t.Fatalf("the example configuration: %v", err)
	}
	if len(c.Accounts) != 2 || c.Account(CustomerAccount) == nil || c.AdminToken == "" {
		t.Fatalf("example parsed to %+v", c)
	}
}

// TestStrict checks that mistakes in a file are errors naming what is wrong
// and its line.
func TestStrict(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string // substrings of the error
	}{
		{"misspelled top-level key", "{\n  \"acounts\": []\n}", []string{"config f:2:", `unknown key "acounts"`, `did you mean "accounts"`}},
		{"unknown nested key", "{\"accounts\": [\n {\"id\": \"111122223333\",\n  \"vpcs\": [{\"cidr\": \"10.0.0.0/16\", \"subnet\": []}]}]}",
			[]string{"f:3:", "accounts[0].vpcs[0]", `unknown key "subnet"`}},
		{"bad account id", "{\"accounts\": [\n{\"id\": \"1234\"}]}", []string{"f:2:", "accounts[0].id", "12 digits"}},
		{"duplicate account", "{\"accounts\": [{\"id\": \"111122223333\"},\n {\"id\": \"111122223333\"}]}", []string{"f:2:", "accounts[1].id", "declared twice"}},
		{"bad cidr", `{"accounts": [{"id": "111122223333", "vpcs": [{"cidr": "10.0.0.0/33"}]}]}`, []string{"accounts[0].vpcs[0].cidr", "CIDR"}},
		{"subnet outside vpc", "{\"accounts\": [{\"id\": \"111122223333\", \"vpcs\": [{\"cidr\": \"10.0.0.0/16\",\n \"subnets\": [{\"cidr\": \"10.1.0.0/24\", \"az\": \"a\"}]}]}]}",
			[]string{"f:2:", "subnets[0].cidr", "not inside its VPC 10.0.0.0/16"}},
		{"overlapping subnets", `{"accounts": [{"id": "111122223333", "vpcs": [{"cidr": "10.0.0.0/16", "subnets": [{"cidr": "10.0.1.0/24", "az": "a"}, {"cidr": "10.0.1.0/25", "az": "b"}]}]}]}`,
			[]string{"subnets[1].cidr", "overlaps"}},
		{"negative quota", "{\n\"quotas\": {\"workspaces\": -1}}", []string{"f:2:", "quotas.workspaces", "negative"}},
		{"bad rate", `{"faults": {"unhealthy_rate": 2}}`, []string{"faults.unhealthy_rate", "between 0 and 1"}},
		{"bad region", `{"regions": ["useast1"]}`, []string{"regions[0]", "region"}},
		{"wrong type", "{\"accounts\": [{\"id\": \"111122223333\",\n \"byol_eligible\": \"yes\"}]}", []string{"f:2:", "bool"}},
		{"syntax", "{\"accounts\": [\n}", []string{"f:2:", "invalid JSON"}},
		{"group member unknown", `{"accounts": [{"id": "111122223333", "directories": [{"name": "c.example.com", "users": [{"name": "a"}], "groups": {"G": ["b"]}}]}]}`,
			[]string{"groups.G", "not a user"}},
		{"two objects", `{} {}`, []string{"after the configuration object"}},
		{"empty guest command", `{"accounts": [{"id": "111122223333", "images": [{"name": "win10", "guest_command": []}]}]}`,
			[]string{"accounts[0].images[0].guest_command", "needs a program"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f", []byte(c.file))
			if err == nil {
				t.Fatalf("no error for %s", c.file)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCommentsAndDefaults(t *testing.T) {
	c, err := Parse("f", []byte("// a comment\n{\"admin_token\": \"http://not-a-comment-x\" // one\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "http://not-a-comment-x" || len(c.Regions) == 0 || c.Quotas.Workspaces != DefaultQuotas.Workspaces {
		t.Fatalf("parsed %+v", c)
	}
}

// TestDefaultRoundTrips: the default environment, written as a file, is a
// valid configuration (tests write it with changes).
func TestDefaultRoundTrips(t *testing.T) {
	b, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("default", b)
	if err != nil {
		t.Fatalf("the default environment as a file: %v", err)
	}
	if len(c.Accounts) != 2 {
		t.Fatalf("accounts: %d", len(c.Accounts))
	}
}
