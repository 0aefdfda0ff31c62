package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/deskplane/deskplane/internal/awsmodel"
)

// The conformance suite's coverage: which operations of each service had a
// success and an error response checked against botocore's model, derived
// from the recordings of the conformance tests (never typed). When every
// conformance test ran and passed, TestMain holds coverageFile to it (or
// rewrites it with -update-coverage); internal/modelops reads the file
// into docs/api-coverage.md.
const coverageFile = "testdata/conformance-coverage.json"

var updateCoverage = flag.Bool("update-coverage", false, "rewrite "+coverageFile+" from the conformance tests' recordings")

// conformanceTests are the tests whose checked responses make the coverage.
var conformanceTests = []string{
	"TestModelConformanceOfResponses", "TestWorkspacesFamiliesConformance",
	"TestConformanceWorkspacesIPGroups", "TestConformanceWorkspacesConnectionAliases",
	"TestConformanceWorkspacesDirectoryProperties", "TestConformanceWorkspacesConnectionStatusAndInputs",
}

// coveredServices must have every served operation covered both ways.
var coveredServices = []string{"workspaces", "workspaces-instances"}

// noSuccess are the served operations that answer every call with an error
// by design: deskplane has no WorkSpaces application catalogue, no pool
// sessions (no user connects through a streaming gateway) and no image
// updates (README, behaviour notes); the suite checks their errors only.
var noSuccess = map[string]string{
	"workspaces.AssociateWorkspaceApplication":    "no application catalogue",
	"workspaces.DisassociateWorkspaceApplication": "no application catalogue",
	"workspaces.DescribeApplicationAssociations":  "no application catalogue",
	"workspaces.TerminateWorkspacesPoolSession":   "no pool sessions",
	"workspaces.CreateUpdatedWorkspaceImage":      "no image updates",
}

// OpCoverage is what the conformance suite checked of one operation.
type OpCoverage struct {
	OK    bool `json:"ok"`    // a success response conformed to the model
	Error bool `json:"error"` // an error response had a code and shape the model allows
}

var coverage = struct {
	sync.Mutex
	ops    map[string]map[string]*OpCoverage // service -> operation
	ran    map[string]bool                   // conformance tests that passed
	served map[string][]string               // service -> served operations
}{ops: map[string]map[string]*OpCoverage{}, ran: map[string]bool{}, served: map[string][]string{}}

// checkExchange checks one recorded response against the service's model
// (a success's members, an error's code and shape) and returns the problems
// not known already; a conforming response counts in the coverage.
func checkExchange(t *testing.T, m *awsmodel.Model, x exchange) []string {
	t.Helper()
	json := m.Protocol() == "json" || m.Protocol() == "rest-json"
	var p []string
	switch {
	case x.Status >= 500:
		return []string{fmt.Sprintf("HTTP %d %s", x.Status, x.Body)}
	case x.Status == 200 && json:
		p = m.CheckJSONOutputWith(x.Op, x.Body, awsmodel.CheckOptions{})
	case x.Status == 200:
		p = m.CheckXMLOutputWith(x.Op, x.Body, awsmodel.CheckOptions{})
	case json:
		p = m.CheckJSONError(x.Op, x.ErrorType, x.Body)
	default:
		p = m.CheckXMLError(x.Op, x.Body)
	}
	p = filterKnown(t, x.Service+"."+x.Op, p)
	if len(p) == 0 {
		if _, ok := m.Operation(x.Op); ok {
			coverage.Lock()
			if coverage.ops[x.Service] == nil {
				coverage.ops[x.Service] = map[string]*OpCoverage{}
			}
			c := coverage.ops[x.Service][x.Op]
			if c == nil {
				c = &OpCoverage{}
				coverage.ops[x.Service][x.Op] = c
			}
			if x.Status == 200 {
				c.OK = true
			} else {
				c.Error = true
			}
			coverage.Unlock()
		}
	}
	return p
}

// conformanceDone marks a conformance test as run (when it passed).
func conformanceDone(t *testing.T) {
	if t.Failed() || t.Skipped() {
		return
	}
	coverage.Lock()
	coverage.ran[t.Name()] = true
	coverage.Unlock()
}

// noteServed records the operations a service serves.
func noteServed(service string, ops []string) {
	coverage.Lock()
	coverage.served[service] = slices.Sorted(slices.Values(ops))
	coverage.Unlock()
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 {
		if err := finishCoverage(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: conformance coverage:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// finishCoverage, once every conformance test has passed, fails when a
// served operation of coveredServices lacks a checked success or error, and
// holds coverageFile to the recorded coverage (or rewrites it).
func finishCoverage() error {
	coverage.Lock()
	defer coverage.Unlock()
	for _, name := range conformanceTests {
		if !coverage.ran[name] {
			return nil // a partial run: the coverage is not whole
		}
	}
	var missing []string
	for _, svc := range coveredServices {
		if len(coverage.served[svc]) == 0 {
			return fmt.Errorf("the served operations of %s were not recorded", svc)
		}
		for _, op := range coverage.served[svc] {
			c := coverage.ops[svc][op]
			switch {
			case c == nil:
				missing = append(missing, svc+"."+op+" (no conforming response)")
			case !c.OK && noSuccess[svc+"."+op] == "":
				missing = append(missing, svc+"."+op+" (no conforming success)")
			case !c.Error:
				missing = append(missing, svc+"."+op+" (no conforming error)")
			}
		}
	}
	sort.Strings(missing)
	b, err := json.MarshalIndent(coverage.ops, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the coverage: %w", err)
	}
	b = append(b, '\n')
	if *updateCoverage {
		if err := os.WriteFile(coverageFile, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", coverageFile, err)
		}
	} else {
		got, err := os.ReadFile(coverageFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: %w", coverageFile, err)
		}
		if !bytes.Equal(got, b) {
			return fmt.Errorf("%s is not what the conformance tests checked (%s): run go test ./test/e2e -run Conformance -update-coverage, then go generate ./internal/modelops",
				coverageFile, coverageDiff(got))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("served operations the conformance suite does not cover:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

// coverageDiff names the operations whose recorded coverage differs from
// the file's (coverage is locked by the caller).
func coverageDiff(file []byte) string {
	var old map[string]map[string]*OpCoverage
	if err := json.Unmarshal(file, &old); err != nil {
		return "the file does not decode: " + err.Error()
	}
	var diff []string
	seen := map[string]bool{}
	for _, side := range []map[string]map[string]*OpCoverage{coverage.ops, old} {
		for svc, ops := range side {
			for op := range ops {
				k := svc + "." + op
				if seen[k] {
					continue
				}
				seen[k] = true
				a, b := coverage.ops[svc][op], old[svc][op]
				if a == nil || b == nil || *a != *b {
					diff = append(diff, fmt.Sprintf("%s: recorded %+v, file %+v", k, a, b))
				}
			}
		}
	}
	sort.Strings(diff)
	return strings.Join(diff, "; ")
}
