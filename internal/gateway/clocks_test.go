package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/deskplane/deskplane/internal/clock"
)

// TestCallTimeFromItsClock: a call's time (Call.Now, its audit event's and
// what the Authenticator is told) is the domain clock's, and the
// signature's dates are checked against the wall clock. With both clocks
// real the request's start is read once for both (realClocks); with a
// virtual domain clock the call still gets the virtual time, and a
// request signed a year before the wall clock is still refused. It fails
// when the wall clock's reading stands in for a virtual domain clock.
func TestCallTimeFromItsClock(t *testing.T) {
	virtualStart := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		domain  clock.Clock
		virtual bool
	}{
		{"real clocks", clock.Real{}, false},
		{"virtual domain clock", clock.NewVirtual(virtualStart, true), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := &Service{Name: "workspaces", ActionPrefix: "workspaces", Protocol: JSON, TargetPrefix: "WorkspacesService", ValidationCode: "ValidationException"}
			var seen time.Time
			js.Add(Op("Sized", func(ctx context.Context, c *Call, in *sizedIn) (*sizedOut, error) {
				seen = c.Now
				return &sizedOut{}, nil
			}))
			g := New(js)
			g.Auth, g.Authz = envAuth{}, envAuthz{}
			g.Log = pipelineGateway().Log
			g.Clock = tc.domain
			if got := g.realClocks(); got == tc.virtual {
				t.Fatalf("realClocks %v", got)
			}
			send := func(signedAt time.Time) int {
				body := []byte(`{"N":1}`)
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
				r.Header.Set("X-Amz-Target", "WorkspacesService.Sized")
				r.Header.Set("Content-Type", "application/x-amz-json-1.1")
				sum := sha256.Sum256(body)
				if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: envKey, SecretAccessKey: envSecret}, r,
					hex.EncodeToString(sum[:]), "workspaces", "us-east-1", signedAt); err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				g.ServeHTTP(w, r)
				return w.Code
			}
			before := time.Now()
			if code := send(time.Now()); code != http.StatusOK {
				t.Fatalf("HTTP %d", code)
			}
			after := time.Now()
			if tc.virtual {
				if !seen.Equal(virtualStart) {
					t.Fatalf("the call's time %v, want the virtual clock's %v", seen, virtualStart)
				}
			} else if seen.Before(before.Truncate(time.Microsecond)) || seen.After(after) {
				t.Fatalf("the call's time %v, not within the request's %v to %v", seen, before, after)
			}
			if code := send(time.Now().AddDate(-1, 0, 0)); code != http.StatusForbidden && code != http.StatusBadRequest {
				t.Fatalf("a request signed a year ago: HTTP %d", code)
			}
		})
	}
}
