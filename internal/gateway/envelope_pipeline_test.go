package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/deskplane/deskplane/internal/awsproto"
)

const (
	envKey    = "AKIAENVELOPEEXAMPLE1"
	envSecret = "envelopeSecretEXAMPLEKEYenvelopeSecret00"
	envUser   = "arn:aws:iam::111122223333:user/alice"
)

// envAuth authenticates one access key as alice.
type envAuth struct{}

func (envAuth) Resolve(_ context.Context, akid, _ string, _ time.Time) (string, *Principal, bool, error) {
	if akid != envKey {
		return "", nil, false, nil
	}
	return envSecret, &Principal{Type: "IAMUser", Account: "111122223333", ARN: envUser, UserName: "alice"}, true, nil
}

// envAuthz denies the operation named Denied and allows everything else.
type envAuthz struct{}

func (envAuthz) Authorize(_ context.Context, _ *Principal, action string, _ Check, _ Env) (Decision, error) {
	return Decision{Allowed: !strings.HasSuffix(action, ":Denied")}, nil
}

// envThrottle throttles the operation named Slow.
type envThrottle struct{}

func (envThrottle) Throttled(_ context.Context, _, op, _ string) bool { return op == "Slow" }

type strictIn struct {
	Name *string `json:"Name" v:"required"`
}

// pipelineGateway serves, in a service of each protocol, operations that
// fail in each way the pipeline reports: Denied (by the authorizer), Slow
// (throttled), Missing (a domain error of the handler), Strict (an input
// that fails validation) and, by any other name, an unknown operation.
func pipelineGateway() *Gateway {
	ops := func() []*Operation {
		ok := func(ctx context.Context, c *Call, in *envIn) (*envOut, error) { return &envOut{}, nil }
		return []*Operation{
			Op("Denied", ok), Op("Slow", ok),
			Op("Missing", func(ctx context.Context, c *Call, in *envIn) (*envOut, error) {
				return nil, awsproto.Errorf("ResourceNotFoundException", "The thing t-1 could not be found.")
			}),
			Op("Strict", func(ctx context.Context, c *Call, in *strictIn) (*envOut, error) { return &envOut{}, nil }),
		}
	}
	js := &Service{Name: "workspaces", ActionPrefix: "workspaces", Protocol: JSON, TargetPrefix: "WorkspacesService", ValidationCode: "ValidationException"}
	rj := &Service{Name: "ds-data", ActionPrefix: "ds-data", Protocol: RestJSON, ValidationCode: "ValidationException"}
	q := &Service{Name: "sts", ActionPrefix: "sts", Protocol: Query, XMLNamespace: "https://sts.amazonaws.com/doc/2011-06-15/", ValidationCode: "ValidationError"}
	e := &Service{Name: "ec2", ActionPrefix: "ec2", Protocol: EC2, ValidationCode: "InvalidParameterValue"}
	for _, s := range []*Service{js, rj, q, e} {
		s.Add(ops()...)
	}
	g := New(js, rj, q, e)
	g.Auth, g.Authz, g.Throttle = envAuth{}, envAuthz{}, envThrottle{}
	g.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return g
}

// signedRequest is a request of op to svc in its protocol, signed by alice.
func signedRequest(t *testing.T, svc *Service, op string) *http.Request {
	t.Helper()
	var r *http.Request
	switch svc.Protocol {
	case JSON:
		r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		r.Header.Set("X-Amz-Target", svc.TargetPrefix+"."+op)
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	case RestJSON:
		r = httptest.NewRequest(http.MethodPost, "/Users/"+op, strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
	default:
		r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action="+op+"&Version=2011-06-15"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: envKey, SecretAccessKey: envSecret}, r,
		hex.EncodeToString(sum[:]), svc.Name, "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPipelineErrorEnvelopes sends signed requests of every protocol
// through the whole pipeline, one for each way a call fails after it
// authenticates, and checks the envelope byte for byte: status, headers,
// and the body in the protocol's format with the error table's code and
// message.
func TestPipelineErrorEnvelopes(t *testing.T) {
	g := pipelineGateway()
	const xmlHead = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	for _, name := range []string{"workspaces", "ds-data", "sts", "ec2"} {
		svc := g.Service(name)
		p := svc.Protocol
		for _, tc := range []struct {
			op   string
			want *awsproto.Error // nil: the service's validation error, its message the decoder's
		}{
			{"Denied", awsproto.As(Denied(p, &Principal{ARN: envUser}, Check{Action: svc.ActionPrefix + ":Denied", Resource: "*"}, Decision{}))},
			{"Slow", awsproto.Spell(p, awsproto.ErrThrottled)},
			{"NoSuchThing", awsproto.Spell(p, awsproto.ErrUnknownOperation, "NoSuchThing")},
			{"Missing", awsproto.Errorf("ResourceNotFoundException", "The thing t-1 could not be found.")},
			{"Strict", nil},
		} {
			t.Run(name+"/"+tc.op, func(t *testing.T) {
				w := httptest.NewRecorder()
				g.ServeHTTP(w, signedRequest(t, svc, tc.op))
				h := w.Result().Header
				id := h.Get("X-Amzn-RequestId")
				body := w.Body.String()
				want := tc.want
				if want == nil {
					want = awsproto.SpellCode(p, awsproto.ErrValidation, svc.ValidationCode, messageOf(p, body))
					if !strings.Contains(want.Message, "name") {
						t.Errorf("validation message %q does not name the member", want.Message)
					}
				}
				if w.Code != want.HTTPStatus() {
					t.Errorf("status %d, want %d (%s)", w.Code, want.HTTPStatus(), body)
				}
				var ct, errType, wantBody string
				switch p {
				case JSON, RestJSON:
					ct, errType = "application/x-amz-json-1.1", want.Code
					if p == RestJSON {
						ct = "application/json"
					}
					wantBody = string(awsproto.JSONErrorBody(want))
					if !strings.HasPrefix(body, `{"__type":"`+want.Code+`","message":`) {
						t.Errorf("body %s is not the awsJson error shape", body)
					}
				case Query:
					ct = "text/xml"
					wantBody = xmlHead + `<ErrorResponse xmlns="` + svc.XMLNamespace + `"><Error><Type>Sender</Type><Code>` + want.Code +
						`</Code><Message>` + want.Message + `</Message></Error><RequestId>` + id + `</RequestId></ErrorResponse>`
				case EC2:
					ct = "text/xml"
					wantBody = xmlHead + `<Response><Errors><Error><Code>` + want.Code + `</Code><Message>` + want.Message +
						`</Message></Error></Errors><RequestID>` + id + `</RequestID></Response>`
				}
				if id == "" || h.Get("Content-Type") != ct || h.Get("X-Amzn-ErrorType") != errType {
					t.Errorf("headers: request id %q, Content-Type %q, X-Amzn-ErrorType %q; want an id, %q, %q", id, h.Get("Content-Type"), h.Get("X-Amzn-ErrorType"), ct, errType)
				}
				if body != wantBody {
					t.Errorf("body\n got %s\nwant %s", body, wantBody)
				}
				if h.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
					t.Errorf("Content-Length %q for %d bytes", h.Get("Content-Length"), w.Body.Len())
				}
			})
		}
	}
}

// messageOf extracts the error message of a response body (for the
// validation error, whose text is the decoder's).
func messageOf(p Protocol, body string) string {
	if p == JSON || p == RestJSON {
		_, m, _ := strings.Cut(body, `"message":"`)
		return strings.TrimSuffix(m, `"}`)
	}
	_, m, _ := strings.Cut(body, "<Message>")
	m, _, _ = strings.Cut(m, "</Message>")
	return m
}
