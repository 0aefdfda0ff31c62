// Package gateway is deskplane's request pipeline: it picks the service and
// operation from the wire, authenticates the SigV4 signature, decodes and
// validates the input, authorizes through IAM policy evaluation, runs the
// handler, encodes the output or error in the protocol's own envelope, and
// records an audit event — once, for every operation of every service.
package gateway

import (
	"context"
	"reflect"
	"strconv"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/ids"
)

// Protocol is an AWS wire protocol (see awsproto.Protocol, which the error
// table is indexed by).
type Protocol = awsproto.Protocol

// The protocols deskplane speaks.
const (
	JSON     = awsproto.JSON     // awsJson (1.1, or 1.0: Service.JSONVersion) with X-Amz-Target
	Query    = awsproto.Query    // query with XML responses (IAM, STS)
	EC2      = awsproto.EC2      // the ec2 flavour of query
	RestJSON = awsproto.RestJSON // rest-json (Directory Service Data)
	CBOR     = awsproto.CBOR     // Smithy RPC v2 CBOR (a second protocol of a JSON service)
)

// Service is one AWS service's operation table.
type Service struct {
	Name         string // signing name: "workspaces", "ec2", "iam", "sts", "kms", "ds", "ds-data", "cloudtrail"
	ActionPrefix string // IAM action prefix, e.g. "workspaces"
	EventSource  string // CloudTrail eventSource, e.g. "workspaces.amazonaws.com"
	Protocol     Protocol
	TargetPrefix string // awsJson X-Amz-Target prefix
	// JSONVersion is the awsJson version of a JSON service: "1.1" when
	// empty, "1.0" for the services whose model says so (WorkSpaces
	// Instances); it names the responses' Content-Type.
	JSONVersion    string
	XMLNamespace   string // query protocol response namespace
	ValidationCode string // the error code for schema validation failures
	// ValidationFields are the members the model's validation error shape
	// requires beside its message (WorkSpaces Instances: Reason), sent
	// with schema validation failures.
	ValidationFields map[string]string
	Global           bool // IAM: one region ("us-east-1") for all requests
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
		a := op.Action
		if a == "" {
			a = op.Name
		}
		op.action, op.actionOf, op.actionPrefix = s.ActionPrefix+":"+a, a, s.ActionPrefix
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
	// Auth is how the pipeline authorizes the operation (AuthIdentity
	// unless declared with ResourcePolicy or PerItem).
	Auth AuthMode
	// Unauthenticated operations need no IAM permission (e.g. sts:GetCallerIdentity).
	NoAuthz   bool
	InputType reflect.Type
	// OutputType is the handler's output struct (checked against the
	// model's output shape by the conformance tests).
	OutputType reflect.Type
	// Resources returns the authorization checks; nil means one check on
	// Resource "*" with no tags.
	Resources func(ctx context.Context, c *Call, in any) ([]Check, error)
	// Items returns the checks of each item of a batch: item i is refused
	// when one of its checks is denied (Call.Refused). In AuthPerItem they
	// are the operation's only checks; in the other modes they are asked
	// once the operation's own checks (Resources) allow the call
	// (WithItems).
	Items   func(ctx context.Context, c *Call, in any) ([][]Check, error)
	Handler func(ctx context.Context, c *Call, in any) (any, error)

	// action is the full IAM action, prefix included, as Service.Add
	// found it (Call.Action builds it when the operation was not added,
	// or was changed since).
	action, actionOf, actionPrefix string
}

// AuthMode is how the pipeline authorizes an operation. No handler calls an
// authorizer: the operation declares its mode in its table entry and the
// pipeline runs the checks its resolver returns.
type AuthMode uint8

const (
	// AuthIdentity evaluates each check against the caller's identity
	// policies (the default): a denied check refuses the call.
	AuthIdentity AuthMode = iota
	// AuthResourcePolicy evaluates each check together with the policy of
	// its resource (Check.Policy: a KMS key policy and grants, a role trust
	// policy), in one evaluation with the documented precedence: an explicit
	// deny anywhere wins; in the resource's account either side may allow
	// (a key or trust policy must allow, directly or by delegating to the
	// account's IAM policies); across accounts both sides must allow. A
	// check without a Policy is evaluated as in AuthIdentity.
	AuthResourcePolicy
	// AuthPerItem authorizes each item of a batch on its own
	// (Operation.Items): a refused item does not fail the call; the handler
	// learns of it from Call.Refused and reports it in the operation's own
	// failure list.
	AuthPerItem
)

// String names the mode.
func (m AuthMode) String() string {
	switch m {
	case AuthIdentity:
		return "identity"
	case AuthResourcePolicy:
		return "resource-policy"
	case AuthPerItem:
		return "per-item"
	}
	return "AuthMode(" + strconv.Itoa(int(m)) + ")"
}

// ResourcePolicy is the resource-based side of a check (AuthResourcePolicy):
// the resource's policy documents, evaluated by the Authorizer together
// with the caller's identity policies, and the grants that may allow what
// the policies do not.
type ResourcePolicy struct {
	// Documents are the resource's policy documents (JSON). None means the
	// resource has no policy, so it allows nothing (a role that does not
	// exist).
	Documents []string
	// Trust marks role trust policies (parsed as such); otherwise the
	// documents are resource policies (KMS key policies).
	Trust bool
	// Grants, when set, reports whether a grant allows the call; it is
	// consulted only when no policy denies explicitly and the policies do
	// not allow (KMS grants only ever allow).
	Grants func(ctx context.Context) (bool, error)
	// GrantsOnly: the policies may refuse (an explicit deny) but not allow;
	// only Grants can (kms:RetireGrant by a caller outside the grant's
	// issuing account).
	GrantsOnly bool
	// DenyReason, when set, replaces the evaluator's reason in the message
	// of an implicit denial.
	DenyReason string
	// NoReason: the denial's message gives no reason (sts:AssumeRole, as
	// AWS words it).
	NoReason bool
}

// Op declares an operation with typed input and output.
func Op[In, Out any](name string, h func(ctx context.Context, c *Call, in *In) (*Out, error)) *Operation {
	return &Operation{
		Name:       name,
		InputType:  reflect.TypeOf((*In)(nil)).Elem(),
		OutputType: reflect.TypeOf((*Out)(nil)).Elem(),
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

// NoAuth marks an operation that needs no IAM permission
// (sts:GetCallerIdentity) and returns it.
func (op *Operation) NoAuth() *Operation { op.NoAuthz = true; return op }

// ResourcePolicy declares that the operation's checks carry their
// resources' policies (Check.Policy), evaluated with the identity policies
// (AuthResourcePolicy), and returns it.
func (op *Operation) ResourcePolicy() *Operation { op.Auth = AuthResourcePolicy; return op }

// PerItem declares a batch operation authorized per item (AuthPerItem):
// items returns the checks of each item of the request, in order.
func PerItem[In any](op *Operation, items func(ctx context.Context, c *Call, in *In) ([][]Check, error)) *Operation {
	op.Auth = AuthPerItem
	op.Items = func(ctx context.Context, c *Call, in any) ([][]Check, error) { return items(ctx, c, in.(*In)) }
	return op
}

// WithItems declares per-item checks beside the operation's own: once its
// checks (Resources) allow the call, items returns the additional checks of
// each item of the request, in order (a CreateWorkspaces desktop's
// kms:CreateGrant on its volume key), and an item one of them denies is
// refused without failing the call: the handler asks Call.Refused and
// reports the refusal in the operation's own failure list.
func WithItems[In any](op *Operation, items func(ctx context.Context, c *Call, in *In) ([][]Check, error)) *Operation {
	op.Items = func(ctx context.Context, c *Call, in any) ([][]Check, error) { return items(ctx, c, in.(*In)) }
	return op
}

// Check is one authorization question: may the caller do Action on Resource?
type Check struct {
	Action          string              // full IAM action; defaults to the operation's
	Resource        string              // ARN or "*"
	ResourceAccount string              // owner of the resource; defaults to the call's account
	ResourceTags    map[string]string   // the resource's tags (aws:ResourceTag/*); nil when none apply
	RequestTags     map[string]string   // tags in the request (aws:RequestTag/*, aws:TagKeys); nil when none
	TagKeys         []string            // aws:TagKeys when the request names keys without values (DeleteTags)
	Context         map[string][]string // service-specific condition keys
	// Policy is the resource's policy, for operations declared with
	// ResourcePolicy; nil: identity policies only.
	Policy *ResourcePolicy
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

// Authorizer evaluates IAM policies for a principal: its identity
// policies and, when the check carries one (Check.Policy), the resource's
// policy, in one evaluation. Grants (ResourcePolicy.Grants) are left to
// the caller (see Decide).
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

// Auditor records events (CloudTrail). The server wires one recorder into
// the gateway (every API call) and into the services that act without an
// HTTP request (ServiceEvent), so every event goes the same way.
type Auditor interface {
	Record(ctx context.Context, e *Event)
}

// Region outages a Throttler may also inject: every call to a regional
// service in the region fails (OutageError, ServiceUnavailable 503) or is
// throttled (OutageThrottle).
const (
	OutageError    = "error"
	OutageThrottle = "throttle"
)

// RegionOutages is implemented by Throttlers that can take a whole region
// out (fault injection for resilience tests): the outage kind, or "".
type RegionOutages interface {
	RegionOutage(ctx context.Context, region string) string
}

// ServiceEvent is the audit event of a call a service made on a customer's
// behalf, without an HTTP request (the grants WorkSpaces creates, EBS's
// GenerateDataKeyWithoutPlaintext and Decrypt): svc's operation op in the
// account and region, made by the service principal service, with its
// input, output (nil on error), error and the resources it touched, as
// the pipeline declares them (Check.Resource, Check.ResourceAccount). It
// returns nil when err is not an AWS error (the transaction failed: nothing
// happened).
func ServiceEvent(svc *Service, op, account, region, service string, readOnly bool, in, out any, err error, now time.Time, resources ...Check) *Event {
	ev := &Event{RequestID: ids.RequestID(), Time: now, Service: svc, Operation: op, Region: region, Account: account,
		Principal: &Principal{Type: "AWSService", Account: account, Service: service},
		SourceIP:  service, UserAgent: service, Request: in, Response: out, ReadOnly: readOnly, InvokedBy: service,
		Resources: resources}
	if err != nil {
		ae := awsproto.As(err)
		if ae == nil {
			return nil
		}
		ev.ErrorCode, ev.ErrorMessage = ae.Code, ae.Message
	}
	for i := range ev.Resources {
		if ev.Resources[i].ResourceAccount == "" {
			ev.Resources[i].ResourceAccount = account
		}
	}
	return ev
}

// Throttler decides whether a call is throttled (fault injection).
type Throttler interface {
	Throttled(ctx context.Context, service, operation, account string) bool
}

// Observer is told about every request once it is answered (metrics): the
// service and operation ("" when the request named none the gateway knows),
// the HTTP status, the error code ("" on success) and the time taken.
type Observer interface {
	ObserveRequest(service, operation string, status int, code string, latency time.Duration)
}
