package cloudtrail

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
)

// TestShapesAgree builds 20,000 random events (most of them one poller's)
// twice, from shapes and field
// by field, with the same ids: every row (stored JSON, record line, key,
// the holes' offsets) is the same. The events repeat a few callers,
// services, operations, parameters, resources, user agents, errors and
// addresses, so shapes are met again and again, and vary what a shape must
// tell apart: another principal with the same names, another service with
// the same event source, a read and a write, an error, a cross-account
// resource, a second resource or its account, additional data, odd request ids, times in other zones and
// before 1970, user agents that need escaping or clipping, large events.
func TestShapesAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pick := func(n int) int { return rng.IntN(n) }
	p1 := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDA1", AccessKeyID: "AKIA1"}
	p1b := *p1 // the same names, another principal
	p2 := &gateway.Principal{Type: "AssumedRole", Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/r/s", UserID: "AROA1:s",
		RoleARN: "arn:aws:iam::111122223333:role/r", RoleName: "r", SessionName: "s", AccessKeyID: "ASIA1", SessionIssued: time.Unix(1700000000, 0)}
	principals := []*gateway.Principal{p1, &p1b, p2, nil}
	ws := &gateway.Service{Name: "workspaces", EventSource: "workspaces.amazonaws.com"}
	ws2 := &gateway.Service{Name: "workspaces", EventSource: "workspaces.amazonaws.com"}
	kms := &gateway.Service{Name: "kms", EventSource: "kms.amazonaws.com"}
	services := []*gateway.Service{ws, ws2, kms}
	type in struct {
		WorkspaceIds []string
		Note         *string
	}
	notes := []string{"a", "b", `quote " and \ and <tag>`, "é", strings.Repeat("n", 5000), strings.Repeat("m", 300<<10)}
	agents := []string{"aws-sdk-go-v2/1.0", "Boto3/1.34 \"x\"", strings.Repeat("u", 1100), ""}
	resources := [][]gateway.Check{nil, {{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1"}},
		{{Resource: "*"}, {Resource: "arn:aws:kms:us-east-1:444455556666:key/k", ResourceAccount: "444455556666"}},
		{{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1"}, {Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1"}},
		// The same first resource and count, another second.
		{{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1"}, {Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-2"}},
		{{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1"}, {Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-2", ResourceAccount: "111122223333"}}}
	seq := 0
	newIDs := func() func() string {
		n := 0
		return func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
	}
	shaped, plain := &Trail{ids: newIDs()}, &Trail{ids: newIDs(), noShapes: true}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i := range 20000 {
		seq++
		e := &gateway.Event{RequestID: fmt.Sprintf("req-%d", seq), Time: t0.Add(time.Duration(i) * 371 * time.Microsecond),
			Service: services[pick(len(services))], Operation: []string{"DescribeWorkspaces", "DescribeKey"}[pick(2)],
			Region: []string{"us-east-1", "eu-west-1"}[pick(2)], Account: "111122223333", Principal: principals[pick(len(principals))],
			SourceIP: []string{"127.0.0.1", "10.0.0.1"}[pick(2)], UserAgent: agents[pick(len(agents))], ReadOnly: pick(5) > 0,
			Resources: resources[pick(len(resources))]}
		if pick(10) < 7 {
			// Most events are one poller's.
			e.Service, e.Operation, e.Region, e.Principal, e.SourceIP = ws, "DescribeWorkspaces", "us-east-1", p1, "127.0.0.1"
			e.UserAgent, e.ReadOnly, e.Resources = agents[0], true, resources[1]
		}
		if pick(3) > 0 {
			e.Request = &in{WorkspaceIds: []string{"ws-1"}}
		} else if pick(2) == 0 {
			note := notes[pick(len(notes))]
			e.Request = &in{Note: &note}
		}
		switch pick(20) {
		case 0:
			// Two codes with the same messages.
			e.ErrorCode, e.ErrorMessage = []string{"AccessDenied", "ThrottlingException"}[pick(2)], "no "+strings.Repeat("x", pick(3))
		case 1:
			e.AdditionalData = map[string]any{"k": "v"}
		case 2:
			e.RequestID = `odd "id"`
		case 3:
			e.Time = e.Time.In(time.FixedZone("x", -7200))
		case 4:
			e.Time = time.Unix(-1, int64(pick(1e9)))
		case 5:
			e.InvokedBy = "workspaces.amazonaws.com"
		case 6:
			e.Response = &in{WorkspaceIds: []string{"ws-2"}}
		}
		a := shaped.appendRows(nil, e)
		b := plain.appendRows(nil, e)
		if len(a) != len(b) {
			t.Fatalf("event %d: %d rows from shapes, %d field by field", i, len(a), len(b))
		}
		for j := range a {
			x, y := a[j], b[j]
			if !bytes.Equal(x.enc, y.enc) || !bytes.Equal(x.line, y.line) || !bytes.Equal(x.key, y.key) || x.holes != y.holes ||
				x.rec != y.rec || !bytes.Equal(x.eventID, y.eventID) || x.requestID != y.requestID || !x.time.Equal(y.time) {
				t.Fatalf("event %d row %d differs:\nshapes %s\n       %s %v %d\nfields %s\n       %s %v %d", i, j, x.enc, x.key, x.holes, x.rec, y.enc, y.key, y.holes, y.rec)
			}
		}
		if i%500 == 499 {
			shaped.reuse()
			plain.reuse()
		}
	}
	if shaped.shapeHits < 8000 {
		t.Fatalf("%d of 20,000 events were built from a shape", shaped.shapeHits)
	}
	t.Logf("%d of 20,000 events built from a shape", shaped.shapeHits)
}

// TestPlainValue holds plainValue to the bytes jsonenc writes as they are
// that a shape's request id may hold: every single byte, and longer ids.
func TestPlainValue(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.' || b == ':'
		s := "0123-abcd" + string([]byte{b}) + "xyz"
		if got := plainValue(s); got != want {
			t.Fatalf("plainValue(%q) = %v, want %v", s, got, want)
		}
	}
	if !plainValue("") || !plainValue("3f2504e0-4f89-41d3-9a0c-0305e82c3301") || plainValue(`odd "id"`) || plainValue("é") {
		t.Fatal("plainValue misjudges a whole id")
	}
}

// TestNewIDsAreRandomUUIDs makes 1,000 event ids the way a shaped event
// gets its own (many ids per read of crypto/rand), from a new writer: each
// a lowercase version 4 UUID, none the same, none all zeros.
func TestNewIDsAreRandomUUIDs(t *testing.T) {
	tr := &Trail{}
	seen := map[string]bool{}
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for range 1000 {
		var raw [16]byte
		b, ok := tr.appendNewID(nil, &raw)
		id := string(b)
		if !ok || string(appendUUID(nil, raw[:])) != id {
			t.Fatalf("id %q: its bytes %x are not those it was written from", id, raw)
		}
		if !form.MatchString(id) || seen[id] || strings.HasPrefix(id, "00000000-0000") {
			t.Fatalf("id %q: not a new random version 4 UUID", id)
		}
		seen[id] = true
	}
}

// TestShapesTellApart builds a base event and, in turn with it, events
// that differ from it in one field each, and only in ways a cheap key of
// the shapes would not see: the same lengths, the same principal and
// service, the same count of resources. Each must be built as it is built
// field by field, and none from another's shape. (Written for a cheap key
// tried in session 12, shape12: it failed with any one field's compare
// left out.)
func TestShapesTellApart(t *testing.T) {
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDA1", AccessKeyID: "AKIA1"}
	ws := &gateway.Service{Name: "workspaces", EventSource: "workspaces.amazonaws.com"}
	type in struct{ WorkspaceIds []string }
	base := gateway.Event{Service: ws, Operation: "DescribeWorkspaces", Region: "us-east-1", Account: "111122223333", Principal: p,
		SourceIP: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.0", ReadOnly: true, ErrorCode: "AccessDenied", ErrorMessage: "no",
		Request: &in{WorkspaceIds: []string{"ws-1"}},
		Resources: []gateway.Check{{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-1"},
			{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-2", ResourceAccount: "111122223333"}}}
	vary := []func(e *gateway.Event){
		func(e *gateway.Event) {},
		func(e *gateway.Event) { e.Operation = "DescribeWorkspacez" },
		func(e *gateway.Event) { e.Region = "eu-west-1" },
		func(e *gateway.Event) { e.Account = "111122224444" },
		func(e *gateway.Event) { e.SourceIP = "127.0.0.2" },
		func(e *gateway.Event) { e.UserAgent = "aws-sdk-go-v2/1.1" },
		func(e *gateway.Event) { e.ErrorCode = "AccessDenieD" },
		func(e *gateway.Event) { e.ErrorMessage = "NO" },
		func(e *gateway.Event) { e.InvokedBy = "x" },
		func(e *gateway.Event) { e.Request = &in{WorkspaceIds: []string{"ws-2"}} },
		func(e *gateway.Event) {
			e.Resources = []gateway.Check{base.Resources[0], {Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-3", ResourceAccount: "111122223333"}}
		},
		func(e *gateway.Event) {
			e.Resources = []gateway.Check{base.Resources[0], {Resource: base.Resources[1].Resource, ResourceAccount: "111122223334"}}
		},
		func(e *gateway.Event) { e.ReadOnly = false }, // an error: still shaped
	}
	n := 0
	newIDs := func() func() string {
		n := 0
		return func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
	}
	shaped, plain := &Trail{ids: newIDs()}, &Trail{ids: newIDs(), noShapes: true}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i, f := range vary {
		// The base event and the variant in turn: each is met again with
		// the other's shape at hand.
		for round := range 6 {
			n++
			e := base
			e.RequestID, e.Time = fmt.Sprintf("req-%d", n), t0.Add(time.Duration(n)*time.Millisecond)
			if round%2 == 1 {
				f(&e)
			}
			a, b := shaped.appendRows(nil, &e), plain.appendRows(nil, &e)
			if len(a) != len(b) {
				t.Fatalf("variant %d, round %d: %d rows from shapes, %d field by field", i, round, len(a), len(b))
			}
			for j := range a {
				if !bytes.Equal(a[j].enc, b[j].enc) || !bytes.Equal(a[j].key, b[j].key) || a[j].holes != b[j].holes || a[j].rec != b[j].rec {
					t.Fatalf("variant %d, round %d: built from a shape:\n%s\nfield by field:\n%s", i, round, a[j].enc, b[j].enc)
				}
			}
		}
	}
	// Every variant but the account's (two rows: not shaped) is met again.
	if want := len(vary)*4 - 2; shaped.shapeHits < want {
		t.Fatalf("%d events built from a shape, want at least %d", shaped.shapeHits, want)
	}
	t.Logf("%d of %d events built from a shape", shaped.shapeHits, n)
}
