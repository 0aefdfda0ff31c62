package cloudtrail

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/deskplane/deskplane/internal/gateway"
)

// hostileARNs are resource names a request may carry: none of them may
// make the audit formatting panic.
var hostileARNs = []string{
	"", "*", ":", ":::::", "arn", "arn:", "arn:aws", "arn:aws::::", "arn:aws:::::", "arn:aws::::aaaaaaaaaaaaaaaa",
	"arn:aws:::::x", "arn::iam::111122223333:user/a", "arn:aws:iam::111122223333:", "arn:aws:iam::111122223333:/",
	"arn:aws:iam::111122223333:-", "arn:aws:iam::111122223333:_-_/x", "arn:aws:é::1:ü-ß_ñ/x", "arn:aws:\xff::1:\xfe/x",
	"arn:aws:x\xe2\x82::1:\xe2\x82-\xe2/y", "arn:aws:\x00:\x00:\x00:\x00", "arn:aws:iam::1:" + strings.Repeat("a-", 5000),
	"not an arn at all", "\"}]{,", "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-123456789",
}

func TestResourceTypeHostile(t *testing.T) {
	for _, arn := range hostileARNs {
		got := resourceType(arn)
		if utf8.ValidString(arn) && !utf8.ValidString(got) {
			t.Errorf("resourceType(%q) = %q: invalid UTF-8 from valid input", arn, got)
		}
	}
	for arn, want := range map[string]string{
		"arn:aws::::aaaaaaaaaaaaaaaa": "",
		"arn:aws:::::x":               "",
		"arn:aws:iam::111122223333:":  "",
		"arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1":      "AWS::WorkSpaces::Workspace",
		"arn:aws:kms:us-east-1:111122223333:key/k":                      "AWS::KMS::Key",
		"arn:aws:ec2:us-east-1:111122223333:security-group/sg-1":        "AWS::EC2::SecurityGroup",
		"arn:aws:élan:us-east-1:111122223333:ünit_type/x":               "AWS::Élan::ÜnitType",
		"arn:aws:iam::111122223333:user/alice":                          "AWS::IAM::User",
		"arn:aws:workspaces:us-east-1:111122223333:workspacebundle/b-1": "AWS::WorkSpaces::Workspacebundle",
	} {
		if got := resourceType(arn); got != want {
			t.Errorf("resourceType(%q) = %q, want %q", arn, got, want)
		}
	}
}

// buildRecord runs the whole formatting of one event whose strings come
// from a request, and checks the record is valid JSON.
func buildRecord(t *testing.T, arn, s string) {
	t.Helper()
	tr := &Trail{}
	p := &gateway.Principal{Type: "AssumedRole", ARN: arn, Account: s, UserID: s, AccessKeyID: s, RoleARN: arn, RoleName: s, SessionName: s}
	e := &gateway.Event{RequestID: s, Time: time.Unix(0, 0), Service: &gateway.Service{EventSource: s}, Operation: s, Region: s,
		Account: "111122223333", Principal: p, SourceIP: s, UserAgent: s, Request: &struct{ PolicyArn, Name string }{arn, s},
		ErrorCode: s, ErrorMessage: s, Resources: []gateway.Check{{Resource: arn}, {Resource: arn + "/x", ResourceAccount: s}},
		AdditionalData: map[string]any{s: arn}}
	for _, r := range tr.build(e) {
		if !json.Valid(r.line) {
			t.Errorf("record for arn %q, s %q is not JSON: %s", arn, s, r.line)
		}
		if !json.Valid(r.enc) {
			t.Errorf("stored event for arn %q, s %q is not JSON: %s", arn, s, r.enc)
		}
	}
}

func TestBuildHostileStrings(t *testing.T) {
	for _, arn := range hostileARNs {
		for _, s := range []string{"", "\xff", "a:b/c", "\"\\\u2028"} {
			buildRecord(t, arn, s)
		}
	}
}

func FuzzResourceType(f *testing.F) {
	for _, arn := range hostileARNs {
		f.Add(arn, "x")
	}
	f.Fuzz(func(t *testing.T, arn, s string) {
		resourceType(arn)
		buildRecord(t, arn, s)
	})
}

// The writer survives an event whose formatting panics: the event is kept
// without what the request carried (or dropped when even that fails), the
// panic is logged, and the events after it are written.
func TestWriterSurvivesPanickingEvent(t *testing.T) {
	testHookBuild = func(e *gateway.Event) {
		switch {
		case e.Operation == "AlwaysPanics":
			panic("formatting bug")
		case e.Operation == "PanicsOnResources" && len(e.Resources) > 0:
			panic("formatting bug on resources")
		}
	}
	t.Cleanup(func() { testHookBuild = nil })
	dir := t.TempDir()
	tr, err := New(Options{Dir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	svc := &gateway.Service{EventSource: "iam.amazonaws.com"}
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", UserName: "admin"}
	for _, op := range []string{"AlwaysPanics", "PanicsOnResources", "GetUser"} {
		tr.Record(t.Context(), &gateway.Event{Service: svc, Operation: op, Principal: p, Account: "111122223333", Time: time.Now(),
			Resources: []gateway.Check{{Resource: "arn:aws:iam::111122223333:user/a"}}})
		if err := tr.Flush(t.Context()); err != nil { // one batch per event
			t.Fatal(err)
		}
	}
	tr.Record(t.Context(), &gateway.Event{Service: svc, Operation: "ListUsers", Principal: p, Account: "111122223333", Time: time.Now()})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	resources := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad line %s: %v", sc.Bytes(), err)
		}
		names = append(names, r.EventName)
		resources[r.EventName] = len(r.Resources)
	}
	if want := "PanicsOnResources,GetUser,ListUsers"; strings.Join(names, ",") != want {
		t.Errorf("events written = %v, want %s", names, want)
	}
	if resources["PanicsOnResources"] != 0 || resources["GetUser"] != 1 {
		t.Errorf("resources per event = %v", resources)
	}
}
