package gateway

import "testing"

func TestSameCheck(t *testing.T) {
	base := Check{Action: "workspaces:CreateWorkspaces", Resource: "arn:dir", ResourceAccount: "1",
		ResourceTags: map[string]string{"a": "1"}, RequestTags: map[string]string{"b": "2"}, TagKeys: []string{"k"},
		Context: map[string][]string{"c": {"x", "y"}}}
	same := base
	same.ResourceTags = map[string]string{"a": "1"}
	if !sameCheck(&base, &same) {
		t.Fatal("equal checks compared different")
	}
	for name, change := range map[string]func(*Check){
		"action":            func(c *Check) { c.Action = "workspaces:Other" },
		"resource":          func(c *Check) { c.Resource = "arn:other" },
		"account":           func(c *Check) { c.ResourceAccount = "2" },
		"resource tag":      func(c *Check) { c.ResourceTags = map[string]string{"a": "2"} },
		"no resource tags":  func(c *Check) { c.ResourceTags = nil },
		"request tag":       func(c *Check) { c.RequestTags = map[string]string{"b": "3"} },
		"empty vs none":     func(c *Check) { c.RequestTags = nil },
		"tag keys":          func(c *Check) { c.TagKeys = []string{"j"} },
		"context value":     func(c *Check) { c.Context = map[string][]string{"c": {"x"}} },
		"context key order": func(c *Check) { c.Context = map[string][]string{"c": {"y", "x"}} },
	} {
		other := base
		change(&other)
		if sameCheck(&base, &other) {
			t.Errorf("%s: different checks compared equal", name)
		}
	}
	empty, none := Check{RequestTags: map[string]string{}}, Check{}
	if sameCheck(&empty, &none) {
		t.Error("empty request tags compared equal to none")
	}
}
