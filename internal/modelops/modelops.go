// Package modelops knows, at run time and without botocore, the operation
// names of each AWS service model deskplane speaks, so the gateway can tell
// an operation the service has but deskplane does not serve yet from a name
// the service does not have at all.
//
// The names are generated from botocore's models into operations_gen.go by
// this package's test (which also writes docs/api-coverage.md), and the
// same test fails when either file is stale:
//
//	go generate ./internal/modelops
//
//go:generate go test . -run TestGeneratedFilesCurrent -update
package modelops

import (
	"slices"
	"strings"
	"sync"
)

var (
	parseOnce sync.Once
	byService map[string]map[string]bool
)

func parse() {
	byService = make(map[string]map[string]bool, len(operations))
	for svc, names := range operations {
		set := map[string]bool{}
		for _, n := range strings.Fields(names) {
			set[n] = true
		}
		byService[svc] = set
	}
}

// Has reports whether the model of service (a signing name such as
// "workspaces" or "ds-data") has the operation op.
func Has(service, op string) bool {
	parseOnce.Do(parse)
	return byService[service][op]
}

// Operations returns the model's operation names of service, sorted.
func Operations(service string) []string {
	parseOnce.Do(parse)
	out := make([]string, 0, len(byService[service]))
	for n := range byService[service] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Services returns the services whose operation names are known, sorted.
func Services() []string {
	out := make([]string, 0, len(operations))
	for s := range operations {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
