package e2e

import (
	"sort"
	"testing"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/testserver"
)

func TestZZProbeOutputs(t *testing.T) {
	s := testserver.Start(t)
	for _, name := range []string{"workspaces", "workspaces-instances"} {
		svc := s.Gateway.Service(name)
		m := awsmodel.LoadOrSkip(t, name)
		ops := svc.Operations()
		sort.Strings(ops)
		for _, o := range ops {
			mop, _ := m.Operation(o)
			op, _ := svc.Operation(o)
			if op.OutputType == nil || mop.Output == "" {
				continue
			}
			for _, p := range m.CheckStructComplete(mop.Output, op.OutputType, "json") {
				t.Logf("%s.%s: %s", name, o, p)
			}
		}
	}
}
