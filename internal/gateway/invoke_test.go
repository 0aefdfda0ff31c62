package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
)

type invokeIn struct {
	Name  *string  `json:"Name" v:"required,min=1,max=8"`
	Items []string `json:"Items"`
}

type invokeOut struct {
	Hello   string
	Refused []int
}

// auditLog records the events of the calls.
type auditLog struct{ events []*Event }

func (a *auditLog) Record(_ context.Context, e *Event) { a.events = append(a.events, e) }

// throttleOp throttles one operation.
type throttleOp string

func (t throttleOp) Throttled(_ context.Context, _, op, _ string) bool { return op == string(t) }

func invokeGateway(t *testing.T) (*Gateway, *auditLog, *[]string) {
	t.Helper()
	svc := &Service{Name: "kms", ActionPrefix: "kms", Protocol: JSON, ValidationCode: "ValidationException"}
	hello := func(_ context.Context, c *Call, in *invokeIn) (*invokeOut, error) {
		out := &invokeOut{Hello: *in.Name + "@" + c.Account + "/" + c.Region}
		for i := range in.Items {
			if c.Refused(i) != nil {
				out.Refused = append(out.Refused, i)
			}
		}
		return out, nil
	}
	svc.Add(
		WithResources(Op("Hello", hello), func(_ context.Context, _ *Call, in *invokeIn) ([]Check, error) {
			return []Check{{Resource: arn(*in.Name)}}, nil
		}),
		PerItem(Op("Batch", hello), func(_ context.Context, _ *Call, in *invokeIn) ([][]Check, error) {
			out := make([][]Check, len(in.Items))
			for i, it := range in.Items {
				out[i] = []Check{{Resource: arn(it)}}
			}
			return out, nil
		}),
		Op("Slow", hello),
	)
	g := New(svc)
	var seen []string
	audit := &auditLog{}
	g.Authz, g.Audit, g.Throttle = tableAuthz{seen: &seen}, audit, throttleOp("Slow")
	g.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return g, audit, &seen
}

// TestInvoke: an in-process call runs the whole pipeline — validation,
// the declared authorization (per item too), throttling, the handler and
// the audit record — and answers with the errors a client would get.
func TestInvoke(t *testing.T) {
	ctx := context.Background()
	g, audit, seen := invokeGateway(t)
	alice := Invocation{Principal: &Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice"}, Region: "us-east-1", SourceIP: "192.0.2.1"}
	code := func(err error) string {
		if ae := awsproto.As(err); ae != nil {
			return ae.Code
		}
		return ""
	}

	out, err := g.Invoke(ctx, alice, "kms", "Hello", json.RawMessage(`{"Name":"allowed"}`))
	if err != nil || out.(*invokeOut).Hello != "allowed@111122223333/us-east-1" {
		t.Fatalf("allowed call: %v, %v", out, err)
	}
	ev := audit.events[len(audit.events)-1]
	if ev.Operation != "Hello" || ev.ErrorCode != "" || ev.SourceIP != "192.0.2.1" || len(ev.Resources) != 1 || ev.Resources[0].Resource != arn("allowed") ||
		ev.Resources[0].ResourceAccount != "111122223333" || ev.Principal != alice.Principal || ev.Request.(*invokeIn).Name == nil {
		t.Errorf("audit event of the allowed call: %+v", ev)
	}

	// A typed input is validated as a decoded one is.
	name := "allowed"
	if _, err := g.Invoke(ctx, alice, "kms", "Hello", &invokeIn{Name: &name}); err != nil {
		t.Errorf("typed input: %v", err)
	}
	long := "much-too-long"
	_, err = g.Invoke(ctx, alice, "kms", "Hello", &invokeIn{Name: &long})
	if code(err) != "ValidationException" || !strings.Contains(err.Error(), "name") {
		t.Errorf("typed input over its length: %v", err)
	}

	n := len(*seen)
	_, err = g.Invoke(ctx, alice, "kms", "Hello", []byte(`{}`))
	if code(err) != "ValidationException" || len(*seen) != n {
		t.Errorf("missing required member: %v (authorizer asked %v), want ValidationException before authorization", err, (*seen)[n:])
	}

	_, err = g.Invoke(ctx, alice, "kms", "Hello", json.RawMessage(`{"Name":"other"}`))
	if code(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "user/alice is not authorized to perform: kms:Hello") {
		t.Errorf("denied call: %v", err)
	}
	if ev := audit.events[len(audit.events)-1]; ev.ErrorCode != "AccessDeniedException" {
		t.Errorf("audit event of the denied call: %+v", ev)
	}

	out, err = g.Invoke(ctx, alice, "kms", "Batch", json.RawMessage(`{"Name":"b","Items":["allowed","other","broken","allowed"]}`))
	if err != nil || len(out.(*invokeOut).Refused) != 2 || out.(*invokeOut).Refused[0] != 1 || out.(*invokeOut).Refused[1] != 2 {
		t.Errorf("per-item call: %+v, %v; want items 1 and 2 refused", out, err)
	}

	if _, err := g.Invoke(ctx, alice, "kms", "Slow", json.RawMessage(`{"Name":"x"}`)); code(err) != "ThrottlingException" {
		t.Errorf("throttled operation: %v", err)
	}
	if _, err := g.Invoke(ctx, alice, "kms", "Nope", nil); code(err) != "UnknownOperationException" {
		t.Errorf("unknown operation: %v", err)
	}
	if _, err := g.Invoke(ctx, alice, "kms", "Hello", 42); code(err) != "InternalFailure" {
		t.Errorf("input of the wrong type: %v, want InternalFailure (logged)", err)
	}
	if _, err := g.Invoke(ctx, alice, "s3", "Hello", nil); err == nil || awsproto.As(err) != nil {
		t.Errorf("unknown service: %v, want a plain error", err)
	}
	g.Regions = map[string]bool{"eu-west-1": true}
	if _, err := g.Invoke(ctx, alice, "kms", "Hello", json.RawMessage(`{"Name":"allowed"}`)); err == nil {
		t.Errorf("region not served: no error")
	}

	// A service principal's call is recorded as made by the service.
	g.Regions = nil
	svc := Invocation{Principal: &Principal{Type: "AWSService", Account: "111122223333", Service: "workspaces.amazonaws.com"}, Region: "us-east-1"}
	if _, err := g.Invoke(ctx, svc, "kms", "Hello", json.RawMessage(`{"Name":"allowed"}`)); err != nil {
		t.Fatal(err)
	}
	if ev := audit.events[len(audit.events)-1]; ev.InvokedBy != "workspaces.amazonaws.com" || ev.SourceIP != "workspaces.amazonaws.com" {
		t.Errorf("audit event of a service's call: %+v", ev)
	}
}
