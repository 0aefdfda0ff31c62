package e2e

import (
	"sort"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestOneInputTypePerOperation: no two operations of a service decode into
// the same Go type (issue #14: one input type per operation, so that each
// operation's validation tags are its own model shape's). Operations whose
// shapes are the same have each their own type over a shared struct.
func TestOneInputTypePerOperation(t *testing.T) {
	s := testserver.Start(t)
	for _, name := range []string{"workspaces", "workspaces-instances", "kms", "ds", "ds-data", "sts", "iam", "ec2", "cloudtrail", "monitoring"} {
		svc := s.Gateway.Service(name)
		if svc == nil {
			t.Errorf("service %s is not served", name)
			continue
		}
		byType := map[string][]string{}
		for _, op := range svc.Operations() {
			o, _ := svc.Operation(op)
			if o.InputType.Kind() == 0 || o.InputType.NumField() == 0 {
				continue // no members: nothing of its own to validate
			}
			byType[o.InputType.String()] = append(byType[o.InputType.String()], op)
		}
		for typ, ops := range byType {
			if len(ops) > 1 {
				sort.Strings(ops)
				t.Errorf("%s: %s is the input of %s", name, typ, strings.Join(ops, ", "))
			}
		}
	}
}
