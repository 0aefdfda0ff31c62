package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"weak"

	"github.com/deskplane/deskplane/internal/awsproto"
)

// TestAuditEventLeavesTheRequest: the audit event of a call, which the
// Auditor keeps until it is written, does not keep the call's
// *http.Request (its header map, strings and context) reachable, on an
// answer and on a handler's error.
func TestAuditEventLeavesTheRequest(t *testing.T) {
	svc := &Service{Name: "workspaces", ActionPrefix: "workspaces", Protocol: JSON, TargetPrefix: "WorkspacesService", ValidationCode: "ValidationException"}
	svc.Add(
		Op("Fine", func(ctx context.Context, c *Call, in *envIn) (*envOut, error) { return &envOut{}, nil }),
		Op("Missing", func(ctx context.Context, c *Call, in *envIn) (*envOut, error) {
			return nil, awsproto.Errorf("ResourceNotFoundException", "The thing t-1 could not be found.")
		}),
	)
	g := New(svc)
	audit := &auditLog{}
	g.Auth, g.Authz, g.Audit = envAuth{}, envAuthz{}, audit
	g.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		op   string
		code int
	}{{"Fine", http.StatusOK}, {"Missing", http.StatusBadRequest}} {
		req := serveAndForget(t, g, svc, tc.op, tc.code)
		runtime.GC()
		if req.Value() != nil {
			t.Errorf("%s: the request is still reachable after its call, with %d audit events held", tc.op, len(audit.events))
		}
	}
	if len(audit.events) != 2 {
		t.Fatalf("%d audit events, want 2", len(audit.events))
	}
	for _, ev := range audit.events {
		if ev.Principal == nil || ev.Principal.ARN != envUser || ev.RequestID == "" || ev.UserAgent == "" && ev.SourceIP == "" {
			t.Errorf("event of %s: %+v", ev.Operation, ev)
		}
	}
}

// serveAndForget serves a signed request of op and returns a weak pointer
// to it: the caller keeps nothing else of it.
func serveAndForget(t *testing.T, g *Gateway, svc *Service, op string, code int) weak.Pointer[http.Request] {
	t.Helper()
	r := signedRequest(t, svc, op)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != code {
		t.Fatalf("%s: status %d, want %d: %s", op, w.Code, code, w.Body)
	}
	return weak.Make(r)
}
