// Package gateway is deskplane's request pipeline: it picks the service and
// operation from the wire, authenticates the SigV4 signature, decodes and
// validates the input, authorizes through IAM policy evaluation, runs the
// handler, encodes the output or error in the protocol's own envelope, and
// records an audit event — once, for every operation of every service.
package gateway

import (
	"context"
	"reflect"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
)

// Protocol is an AWS wire protocol (see awsproto.Protocol, which the error
// table is indexed by).
type Protocol = awsproto.Protocol

// The protocols deskplane speaks.
const (
	JSON     = awsproto.JSON     // awsJson1.1 with X-Amz-Target
	Query    = awsproto.Query    // query with XML responses (IAM, STS)
	EC2      = awsproto.EC2      // the ec2 flavour of query
	RestJSON = awsproto.RestJSON // rest-json (Directory Service Data)
	CBOR     = awsproto.CBOR     // Smithy RPC v2 CBOR (a second protocol of a JSON service)
)

// Service is one AWS service's operation table.
type Service struct {
	Name           string // signing name: "workspaces", "ec2", "iam", "sts", "kms", "ds", "ds-data", "cloudtrail"
	ActionPrefix   string // IAM action prefix, e.g. "workspaces"
	EventSource    string // CloudTrail eventSource, e.g. "workspaces.amazonaws.com"
	Protocol       Protocol
	TargetPrefix   string // awsJson1.1 X-Amz-Target prefix
	XMLNamespace   string // query protocol response namespace
	ValidationCode string // the error code for schema validation failures
	Global         bool   // IAM: one region ("us-east-1") for all requests
	// JSONVersion is the awsJson version of a JSON service: "1.1" when
	// empty, "1.0" for CloudWatch.
	JSONVersion string
	// CBOR services also answer Smithy RPC v2 CBOR requests
	// (POST /service/{TargetPrefix}/operation/{Operation}), the protocol
	// the model lists first and the Go SDK speaks.
	CBOR bool
	// QueryErrors maps the error codes of an awsQueryCompatible service to
	// their query protocol codes, sent in X-Amzn-Query-Error (code;Sender).
	QueryErrors map[string]string
	ops         map[string]*Operation
}

// Add registers operations.
func (s *Service) Add(ops ...*Operation) {
	if s.ops == nil {
		s.ops = map[string]*Operation{}
	}
	for _, op := range ops {
		s.ops[op.Name] = op
	}
}

// Operation returns a registered operation.
func (s *Service) Operation(name string) (*Operation, bool) {
	op, ok := s.ops[name]
	return op, ok
}

// Operations lists registered operation names.
func (s *Service) Operations() []string {
	out := make([]string, 0, len(s.ops))
	for n := range s.ops {
		out = append(out, n)
	}
	return out
}

// Operation declares one API operation once: its wire name, IAM action,
// input shape, how to find the resources it touches, and its handler.
type Operation struct {
	Name     string // wire name, e.g. "CreateWorkspaces"
	Action   string // IAM action without prefix; defaults to Name
	ReadOnly bool   // CloudTrail readOnly
	// SelfAuthorized operations (batch operations) authorize each item with
	// Call.Authorize themselves and report denials per item.
	SelfAuthorized bool
	// Unauthenticated operations need no IAM permission (e.g. sts:GetCallerIdentity).
	NoAuthz   bool
	InputType reflect.Type
	// Resources returns the authorization checks; nil means one check on
	// Resource "*" with no tags.
	Resources func(ctx context.Context, c *Call, in any) ([]Check, error)
	Handler   func(ctx context.Context, c *Call, in any) (any, error)
}

// Op declares an operation with typed input and output.
func Op[In, Out any](name string, h func(ctx context.Context, c *Call, in *In) (*Out, error)) *Operation {
	return &Operation{
		Name:      name,
		InputType: reflect.TypeOf((*In)(nil)).Elem(),
		Handler: func(ctx context.Context, c *Call, in any) (any, error) {
			out, err := h(ctx, c, in.(*In))
			if err != nil {
				return nil, err
			}
			if out == nil {
				return nil, nil
			}
			return out, nil
		},
	}
}

// WithResources sets the authorization resolver with a typed input.
func WithResources[In any](op *Operation, f func(ctx context.Context, c *Call, in *In) ([]Check, error)) *Operation {
	op.Resources = func(ctx context.Context, c *Call, in any) ([]Check, error) { return f(ctx, c, in.(*In)) }
	return op
}

// ReadOnly marks the operation read-only and returns it.
func (op *Operation) RO() *Operation { op.ReadOnly = true; return op }

// Batch marks the operation self-authorizing and returns it.
func (op *Operation) Batch() *Operation { op.SelfAuthorized = true; return op }

// Check is one authorization question: may the caller do Action on Resource?
type Check struct {
	Action          string              // full IAM action; defaults to the operation's
	Resource        string              // ARN or "*"
	ResourceAccount string              // owner of the resource; defaults to the call's account
	ResourceTags    map[string]string   // the resource's tags (aws:ResourceTag/*); nil when none apply
	RequestTags     map[string]string   // tags in the request (aws:RequestTag/*, aws:TagKeys); nil when none
	TagKeys         []string            // aws:TagKeys when the request names keys without values (DeleteTags)
	Context         map[string][]string // service-specific condition keys
}

// Principal is the authenticated caller.
type Principal struct {
	Type        string // "IAMUser", "AssumedRole", "Root", "AWSService"
	Account     string
	ARN         string // user ARN, or the session's assumed-role ARN
	UserName    string // IAM user name (aws:username)
	UserID      string // unique id: AIDA…, or AROA…:session (aws:userid)
	AccessKeyID string
	RoleARN     string // the role behind a session
	RoleName    string
	SessionName string
	// SessionPolicies narrow a role session's permissions (JSON documents).
	SessionPolicies []string
	Tags            map[string]string // principal tags (aws:PrincipalTag/*)
	SessionIssued   time.Time
	SessionExpires  time.Time
	Service         string // for AWSService principals, e.g. "workspaces.amazonaws.com"
}

// Authenticator resolves an access key (and session token) to its secret
// and principal. found=false for unknown keys; an *awsproto.Error for tokens
// that are invalid or expired.
type Authenticator interface {
	Resolve(ctx context.Context, accessKeyID, sessionToken string, now time.Time) (secret string, p *Principal, found bool, err error)
}

// Decision is an authorization answer.
type Decision struct {
	Allowed      bool
	ExplicitDeny bool
	Reason       string
}

// Env is the request environment the authorizer needs for global keys.
type Env struct {
	SourceIP        string
	SecureTransport bool
	Now             time.Time
	Region          string
}

// Authorizer evaluates IAM policies for a principal.
type Authorizer interface {
	Authorize(ctx context.Context, p *Principal, action string, chk Check, env Env) (Decision, error)
}

// Event is what the gateway tells the auditor about each call.
type Event struct {
	RequestID      string
	Time           time.Time
	Service        *Service
	Operation      string
	Region         string
	Account        string // the account whose resources were acted on
	Principal      *Principal
	SourceIP       string
	UserAgent      string
	Request        any // decoded input (nil if decoding failed)
	Response       any
	ErrorCode      string
	ErrorMessage   string
	ReadOnly       bool
	Resources      []Check
	InvokedBy      string // service principal acting on a customer's behalf
	AdditionalData map[string]any
}

// Auditor records events (CloudTrail).
type Auditor interface {
	Record(ctx context.Context, e *Event)
}

// Throttler decides whether a call is throttled (fault injection).
type Throttler interface {
	Throttled(ctx context.Context, service, operation, account string) bool
}
