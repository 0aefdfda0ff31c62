package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
)

type envIn struct{}
type envOut struct{}

// envelopeGateway serves one operation ("Ping") in a service of each
// protocol.
func envelopeGateway() *Gateway {
	op := func() *Operation {
		return Op("Ping", func(ctx context.Context, c *Call, in *envIn) (*envOut, error) { return &envOut{}, nil })
	}
	js := &Service{Name: "workspaces", Protocol: JSON, TargetPrefix: "WorkspacesService", ValidationCode: "ValidationException"}
	js.Add(op())
	js10 := &Service{Name: "workspaces-instances", Protocol: JSON, JSONVersion: "1.0", TargetPrefix: "EUCMIFrontendAPIService", ValidationCode: "ValidationException"}
	js10.Add(op())
	rj := &Service{Name: "ds-data", Protocol: RestJSON, ValidationCode: "ValidationException"}
	rj.Add(Op("ListUsers", func(ctx context.Context, c *Call, in *envIn) (*envOut, error) { return &envOut{}, nil }))
	q := &Service{Name: "sts", Protocol: Query, XMLNamespace: "https://sts.amazonaws.com/doc/2011-06-15/", ValidationCode: "ValidationError"}
	q.Add(op())
	e := &Service{Name: "ec2", Protocol: EC2, ValidationCode: "InvalidParameterValue"}
	e.Add(Op("DescribePing", func(ctx context.Context, c *Call, in *envIn) (*envOut, error) { return &envOut{}, nil }))
	g := New(js, js10, rj, q, e)
	g.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return g
}

// TestErrorEnvelope sends an unsigned request of each protocol through the
// whole pipeline and checks the error envelope byte for byte: the status,
// the headers and the body the protocol's clients parse.
func TestErrorEnvelope(t *testing.T) {
	const msg = "Request is missing Authentication Token"
	const xmlHead = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	for _, tc := range []struct {
		name        string
		req         func() *http.Request
		status      int
		contentType string
		errorType   string // X-Amzn-ErrorType; "" when the protocol sends none
		body        func(reqID string) string
	}{
		{"json", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
			r.Header.Set("X-Amz-Target", "WorkspacesService.Ping")
			return r
		}, 400, "application/x-amz-json-1.1", "MissingAuthenticationTokenException", func(string) string {
			return `{"__type":"MissingAuthenticationTokenException","message":"` + msg + `"}`
		}},
		{"json1.0", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
			r.Header.Set("X-Amz-Target", "EUCMIFrontendAPIService.Ping")
			r.Header.Set("Content-Type", "application/x-amz-json-1.0")
			return r
		}, 400, "application/x-amz-json-1.0", "MissingAuthenticationTokenException", func(string) string {
			return `{"__type":"MissingAuthenticationTokenException","message":"` + msg + `"}`
		}},
		{"restjson", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/Users/ListUsers", strings.NewReader("{}"))
		}, 403, "application/json", "MissingAuthenticationTokenException", func(string) string {
			return `{"__type":"MissingAuthenticationTokenException","message":"` + msg + `"}`
		}},
		{"query", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=Ping&Version=2011-06-15"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 403, "text/xml", "", func(id string) string {
			return xmlHead + `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
				`<Code>MissingAuthenticationToken</Code><Message>` + msg + `</Message></Error><RequestId>` + id + `</RequestId></ErrorResponse>`
		}},
		{"ec2", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribePing&Version=2016-11-15"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 401, "text/xml", "", func(id string) string {
			return xmlHead + `<Response><Errors><Error><Code>MissingAuthenticationToken</Code><Message>` + msg +
				`</Message></Error></Errors><RequestID>` + id + `</RequestID></Response>`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			envelopeGateway().ServeHTTP(w, tc.req())
			h := w.Result().Header
			id := h.Get("X-Amzn-RequestId")
			if id == "" {
				t.Fatal("no X-Amzn-RequestId")
			}
			if w.Code != tc.status || h.Get("Content-Type") != tc.contentType || h.Get("X-Amzn-ErrorType") != tc.errorType {
				t.Errorf("got %d %q %q, want %d %q %q", w.Code, h.Get("Content-Type"), h.Get("X-Amzn-ErrorType"), tc.status, tc.contentType, tc.errorType)
			}
			if got, want := w.Body.String(), tc.body(id); got != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
			if h.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %q for %d bytes", h.Get("Content-Length"), w.Body.Len())
			}
		})
	}
}

// TestErrorFields checks that an error's shape members (Error.Fields) are
// written beside __type and message in the json protocols' bodies, and that
// an awsJson1.0 service answers in its own Content-Type.
func TestErrorFields(t *testing.T) {
	g := envelopeGateway()
	e := awsproto.Errorf("ResourceNotFoundException", "gone")
	e.Fields = map[string]string{"ResourceId": "wsinst-1", "ResourceType": "WorkspaceInstance", "message": "not this"}
	w := httptest.NewRecorder()
	g.writeError(w, g.Service("workspaces-instances"), JSON, "Ping", "rid", e)
	want := `{"ResourceId":"wsinst-1","ResourceType":"WorkspaceInstance","__type":"ResourceNotFoundException","message":"gone"}`
	if got := w.Body.String(); got != want || w.Header().Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Errorf("got %s %q, want %s", got, w.Header().Get("Content-Type"), want)
	}
}

// TestErrorEnvelopeReceiver checks that a server fault is a Receiver fault
// in the query envelope and a client fault a Sender one.
func TestErrorEnvelopeReceiver(t *testing.T) {
	g := envelopeGateway()
	for _, tc := range []struct {
		err  *awsproto.Error
		want string
	}{
		{awsproto.Internal(), "<Type>Receiver</Type><Code>InternalFailure</Code>"},
		{awsproto.Spell(Query, awsproto.ErrThrottled), "<Type>Sender</Type><Code>Throttling</Code>"},
	} {
		w := httptest.NewRecorder()
		g.writeError(w, g.Service("sts"), Query, "Ping", "rid", tc.err)
		if !strings.Contains(w.Body.String(), tc.want) || w.Code != tc.err.HTTPStatus() {
			t.Errorf("%s: %d %s, want %s", tc.err.Code, w.Code, w.Body.String(), tc.want)
		}
	}
}
