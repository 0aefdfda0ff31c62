package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/awsproto/sigv4"
	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/httpguard"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/modelops"
)

// Gateway is the HTTP handler for every AWS API of the server.
type Gateway struct {
	services map[string]*Service // by signing name
	byTarget map[string]*Service // by X-Amz-Target prefix
	Auth     Authenticator
	Authz    Authorizer
	Audit    Auditor
	Throttle Throttler
	// Observe, when set, is told about every answered request (metrics).
	Observe Observer
	Clock   clock.Clock // domain clock (virtual in tests)
	// Wall is the clock for SigV4 skew checks: clients sign with real time
	// even when the domain clock is virtual.
	Wall clock.Clock
	Log  *slog.Logger
	// Regions are the regions served: a call to a regional service signed
	// for another region is refused, as AWS refuses a credential scoped to
	// a region that is not valid (nil: every region).
	Regions map[string]bool

	// logMid is the request log's service, operation, principal and
	// account attributes of the last line, rendered (logRequest).
	logMid atomic.Pointer[logMid]
}

// New returns a gateway serving the given services.
func New(services ...*Service) *Gateway {
	g := &Gateway{services: map[string]*Service{}, byTarget: map[string]*Service{}, Wall: clock.Real{}, Clock: clock.Real{}, Log: slog.Default()}
	for _, s := range services {
		g.services[s.Name] = s
		if s.TargetPrefix != "" {
			g.byTarget[s.TargetPrefix] = s
		}
	}
	return g
}

// Service returns a registered service by signing name.
func (g *Gateway) Service(name string) *Service { return g.services[name] }

// Call is the context of one API call, handed to handlers.
type Call struct {
	RequestID string
	Service   *Service
	Op        *Operation
	Account   string // the caller's account: where its resources live
	Region    string
	Principal *Principal
	Now       time.Time
	SourceIP  string
	UserAgent string
	Secure    bool
	cbor      bool // a Smithy RPC v2 CBOR request (isCBOR); beside Secure, in its padding

	g    *Gateway
	form url.Values // query-protocol parameters, parsed while routing
	// authFailure names the part of authentication that failed, for the
	// request log ("signature mismatch", "session token", ...).
	authFailure string
	accessKey   string // the access key id the request was signed with (not secret)
	resources   []Check
	resBuf      [1]Check // resources' first array: most calls name one
	extra       map[string]any
	// refused holds, per item of an operation with per-item checks
	// (AuthPerItem, WithItems), the error that refused it (nil: allowed).
	refused []error
}

// Action returns the full IAM action of the call's operation.
func (c *Call) Action() string {
	op := c.Op
	a := op.Action
	if a == "" {
		a = op.Name
	}
	if op.action != "" && a == op.actionOf && c.Service.ActionPrefix == op.actionPrefix {
		return op.action // built once, when the service added it
	}
	return c.Service.ActionPrefix + ":" + a
}

// Env is the request environment of the call, as the Authorizer needs it.
func (c *Call) Env() Env {
	return Env{SourceIP: c.SourceIP, SecureTransport: c.Secure, Now: c.Now, Region: c.Region}
}

// check runs one authorization check of the call: it fills in the check's
// defaults, records its resource for the audit record and returns the
// denial (an *awsproto.Error) when the caller may not act on it; any other
// error is a failure to evaluate.
func (c *Call) check(ctx context.Context, chk Check) error {
	if chk.Action == "" {
		chk.Action = c.Action()
	}
	if chk.ResourceAccount == "" {
		chk.ResourceAccount = c.Account
	}
	// The resource may be an ARN the request carried: it is checked before
	// it goes into the audit record or the policy evaluation.
	if !resourceOK(chk.Resource) {
		return c.invalidARN(chk.Resource)
	}
	if c.resources == nil {
		c.resources = c.resBuf[:0]
	}
	c.resources = append(c.resources, chk)
	if c.g == nil || c.g.Authz == nil {
		return nil
	}
	d, err := Decide(ctx, c.g.Authz, c.Principal, chk, c.Env())
	if err != nil {
		return err
	}
	if d.Allowed {
		return nil
	}
	return c.denied(chk, d)
}

// Decide answers one check for p: the Authorizer's evaluation (identity
// policies, and the resource's policy when the check carries one) and,
// when no policy denies explicitly and the policies do not allow, the
// check's grants (ResourcePolicy.Grants). It is the one decision of the
// pipeline, also used for the calls a service makes itself (KMS grants
// WorkSpaces uses). A nil Authorizer allows what needs no grant.
func Decide(ctx context.Context, a Authorizer, p *Principal, chk Check, env Env) (Decision, error) {
	rp := chk.Policy
	var d Decision
	if a == nil {
		d.Allowed = true
	} else {
		var err error
		if d, err = a.Authorize(ctx, p, chk.Action, chk, env); err != nil {
			return Decision{}, err
		}
	}
	if rp == nil || d.ExplicitDeny {
		return d, nil
	}
	if rp.GrantsOnly {
		d.Allowed = false
	}
	if d.Allowed {
		return d, nil
	}
	if rp.Grants != nil {
		ok, err := rp.Grants(ctx)
		if err != nil {
			return Decision{}, fmt.Errorf("read the grants of %s: %w", chk.Resource, err)
		}
		if ok {
			return Decision{Allowed: true, Reason: "allowed by a grant"}, nil
		}
	}
	if rp.DenyReason != "" {
		d.Reason = rp.DenyReason
	}
	return d, nil
}

// Denied is the AccessDenied error of a refused check, in proto's
// spelling (awsproto.ErrAccessDenied): the one message format of every
// denial, the pipeline's and a service's own.
func Denied(proto Protocol, p *Principal, chk Check, d Decision) error {
	who := p.ARN
	if who == "" {
		who = p.Service
	}
	why := "no identity-based policy allows the " + chk.Action + " action"
	if chk.Policy != nil {
		why = "no resource-based policy allows the " + chk.Action + " action"
	}
	if d.ExplicitDeny {
		why = "explicit deny in an identity-based policy"
	}
	if d.Reason != "" {
		why = d.Reason
	}
	if chk.Policy != nil && chk.Policy.NoReason {
		why = ""
	}
	return awsproto.Denied(proto, who, chk.Action, chk.Resource, why)
}

// Refused returns the error that refused item i of an operation with
// per-item checks (AuthPerItem, WithItems), or nil when the item may proceed: an *awsproto.Error (the
// denial) or, when its check could not be evaluated, another error. The
// handler reports it in the operation's own failure list.
func (c *Call) Refused(i int) error {
	if i < 0 || i >= len(c.refused) {
		return nil
	}
	return c.refused[i]
}

// resourceOK reports whether a check's resource may be evaluated and
// audited: "*", "" (no resource) or a well-formed ARN.
func resourceOK(r string) bool {
	return r == "" || r == "*" || WellFormedARN(r)
}

// WellFormedARN reports whether s has an ARN's shape,
// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, with a partition, a
// service and a resource (the region and the account may be empty), in
// valid UTF-8 without control characters.
func WellFormedARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return false
	}
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// invalidARN is the service's validation error for a malformed ARN.
func (c *Call) invalidARN(arn string) error {
	proto, code := JSON, ""
	if c.Service != nil {
		proto, code = c.Service.Protocol, c.Service.ValidationCode
	}
	return awsproto.SpellCode(proto, awsproto.ErrValidation, code, "ARN "+strings.ToValidUTF8(arn, "\ufffd")+" is not valid.")
}

func (c *Call) denied(chk Check, d Decision) error {
	return Denied(c.Service.Protocol, c.Principal, chk, d)
}

// AddResource records a resource the call touched, for the audit record,
// without an authorization check (a resource the handler finds, e.g. the
// key an alias points to).
//
// A resource that is not "*" or a well-formed ARN is left out.
func (c *Call) AddResource(chk Check) {
	if !resourceOK(chk.Resource) {
		return
	}
	if chk.ResourceAccount == "" {
		chk.ResourceAccount = c.Account
	}
	c.resources = append(c.resources, chk)
}

// SetAudit adds data to the audit event (e.g. resources the handler found).
func (c *Call) SetAudit(key string, v any) {
	if c.extra == nil {
		c.extra = map[string]any{}
	}
	c.extra[key] = v
}

// ServeHTTP runs the pipeline for one request and logs it (see logRequest).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := g.Wall.Now()
	rec := &requestRecord{}
	g.serve(w, r, rec, t0)
	end := g.Wall.Now()
	latency := end.Sub(t0)
	g.logRequest(r.Context(), r, rec, end, latency)
	if g.Observe != nil {
		svc := ""
		if rec.svc != nil {
			svc = rec.svc.Name
		}
		g.Observe.ObserveRequest(svc, rec.op, rec.status, rec.code, latency)
	}
}

// serve runs the pipeline, noting in rec what the request log reports;
// wallStart is the wall clock's reading at the request's start.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, rec *requestRecord, wallStart time.Time) {
	// The call, its audit event, its authentication's state before the
	// body, its request id and the response's header values are allocated
	// together.
	st := &callState{}
	start := wallStart
	if !g.realClocks() {
		start = g.Clock.Now()
	}
	// The id's string is its bytes in st, never written again (a string
	// of them keeps st alive, as the call and its event do).
	ids.PutRequestID(&st.id)
	reqID := unsafe.String(&st.id[0], len(st.id))
	rec.id = reqID
	ctx := r.Context()
	svc, opName, perr := g.route(r)
	proto := JSON
	// cbor is isCBOR(r), read once: a request that only its body can
	// route (svc nil here) is not a CBOR one.
	cbor := false
	if svc != nil {
		proto = svc.Protocol
		if cbor = isCBOR(r); cbor {
			proto = CBOR
		}
	}
	// Refuse what the headers alone condemn before reading the body: a
	// declared body over the limit, and a request that cannot authenticate
	// (no or a malformed signature, a stale date, an unknown access key).
	var pre *preAuth
	limit := int64(awsproto.MaxBody)
	// errSvc is the service whose envelope a refusal before routing is
	// spelled in: for a query-protocol request, the one its signature is
	// scoped to.
	errSvc, errProto := svc, proto
	if perr == nil {
		esvc, p, err := g.preAuthenticate(ctx, r, svc, start, wallStart, &st.pre)
		if esvc != nil {
			errSvc, errProto = esvc, esvc.Protocol
		}
		authenticated := err == nil
		if err == nil && r.ContentLength > awsproto.MaxBody {
			err = errTooLarge(errProto)
		}
		if err != nil {
			refuseBody(w, r, authenticated)
			if p != nil {
				rec.call = &Call{Service: esvc, accessKey: p.akid, authFailure: p.failure}
			}
			rec.fail(g, w, errSvc, errProto, opName, reqID, err)
			return
		}
		pre = p
		if esvc == nil {
			// Neither the headers nor the signature tell the service: the
			// body is read only for its Action, and only so much of it.
			limit = maxUnsignedBody
		}
	}
	body, err := readBody(r, limit, st.body[:])
	if err != nil {
		httpguard.Reject(w)
		rec.fail(g, w, errSvc, errProto, opName, reqID, awsproto.Spell(JSON, awsproto.ErrSerialization, "Could not read the request body"))
		return
	}
	if int64(len(body)) > limit {
		if errSvc == nil && perr == nil {
			// Only the body can tell the service, and it is over what is
			// read to find its Action: spell the refusal in the protocol of
			// the service the complete parameters read so far name.
			if qs := g.queryServiceOf(r, body[:limit]); qs != nil {
				errSvc, errProto = qs, qs.Protocol
			}
		}
		refuseBody(w, r, pre != nil)
		rec.fail(g, w, errSvc, errProto, opName, reqID, awsproto.Spell(errProto, awsproto.ErrBodyTooLarge, limit))
		return
	}
	// Query protocol services may carry Action in a form body; the parsed
	// parameters are decoded into the input later.
	var form url.Values
	if perr == nil && svc == nil {
		svc, opName, form, perr = g.routeQuery(r, body)
		if svc != nil {
			proto = svc.Protocol
		}
	}
	if perr != nil {
		rec.fail(g, w, svc, proto, opName, reqID, perr)
		return
	}
	rec.svc, rec.op = svc, opName
	st.call = Call{RequestID: reqID, Service: svc, Now: start, SourceIP: sourceIP(r), UserAgent: header(r, "User-Agent"), Secure: r.TLS != nil, g: g, form: form, cbor: cbor}
	c, ev := &st.call, &st.ev
	*ev = Event{RequestID: reqID, Time: start, Service: svc, Operation: opName, SourceIP: c.SourceIP, UserAgent: c.UserAgent}
	rec.call = c
	out, err := g.runSafe(ctx, r, body, c, opName, ev, pre)
	// The call is authenticated or refused: its state before the body is
	// dropped. The audit event lives in st until CloudTrail has written it
	// (Record queues it), and the request as sigv4 parsed it holds the
	// *http.Request: its header map, its strings and its context would
	// stay live with the event, and the heap's goal grow with them (five
	// times the live heap at serve's GOGC=400; docs/benchmarks.md, session
	// 16). The secret goes with it.
	st.pre = preAuth{}
	if err != nil {
		ae := awsproto.As(err)
		if ae == nil {
			g.Log.Error("internal error", "service", svc.Name, "operation", opName, "request_id", reqID, "err", err)
			ae = awsproto.Internal()
		}
		ev.ErrorCode, ev.ErrorMessage = ae.Code, ae.Message
		g.record(ctx, c, ev)
		rec.fail(g, w, svc, proto, opName, reqID, ae)
		return
	}
	payload, pooled, err := g.encodePooled(svc, proto, opName, reqID, out)
	if pooled != nil {
		// The payload is written below (a ResponseWriter does not keep
		// what it is given) and its buffer goes back to the pool after.
		defer putPayload(pooled, payload)
	}
	if err != nil {
		g.Log.Error("encode response", "operation", opName, "err", err)
		rec.fail(g, w, svc, proto, opName, reqID, awsproto.Internal())
		return
	}
	ev.Response = out
	g.record(ctx, c, ev)
	h := w.Header()
	// The three headers' values share the call's array, set under their
	// canonical spellings (Set would canonicalize "X-Amzn-RequestId" anew
	// on every call).
	vals := st.hdr[:]
	vals[0] = reqID
	switch proto {
	case JSON:
		vals[1] = jsonContentType(svc)
	case RestJSON:
		vals[1] = "application/json"
	case CBOR:
		vals[1] = "application/cbor"
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
	default:
		vals[1] = "text/xml"
	}
	h["X-Amzn-Requestid"] = vals[0:1:1]
	h["Content-Type"] = vals[1:2:2]
	// With its length known, the body goes out as is, not in chunks. The
	// server sets the length itself of a body it still holds when the
	// handler returns (net/http buffers the first 2,048 bytes of a response,
	// HTTP/2 4 KiB), so a small answer's is left to it: no string of it, no
	// header entry for WriteHeader to copy, parse and sort.
	if len(payload) > serverSetsLength {
		vals[2] = strconv.Itoa(len(payload))
		h["Content-Length"] = vals[2:3:3]
	}
	rec.status = http.StatusOK
	w.WriteHeader(http.StatusOK)
	w.Write(payload)
}

// realClocks reports whether the domain clock and the wall clock are both
// the real one: a request's start is then read once, for both (the
// clock's reading costs about as much as a map lookup, and a call read it
// three times before its body).
func (g *Gateway) realClocks() bool {
	_, domain := g.Clock.(clock.Real)
	_, wall := g.Wall.(clock.Real)
	return domain && wall
}

// serverSetsLength is the largest answer whose Content-Length the gateway
// leaves to the HTTP server: net/http's response buffer
// (bufferBeforeChunkingSize), which a body written in one Write of at most
// its size stays in until the handler returns, when the server knows its
// length. TestServerSetsSmallAnswersLength fails if that changes.
const serverSetsLength = 2048

// callState is what serve allocates per call, in one piece.
type callState struct {
	call Call
	ev   Event
	pre  preAuth   // preAuthenticate's result
	hdr  [3]string // X-Amzn-RequestId, Content-Type and Content-Length
	id   [36]byte  // the request id's bytes
	body [smallBody]byte
}

// smallBody is the size of the array a request's body is read into when it
// declares a length that fits (with the byte readBody reads past it): a
// small body (a describe by id is about 40 bytes) then takes no allocation
// of its own. 188 bytes fill callState (1,212 bytes without them on amd64,
// and the 8 bytes of the allocation's header of pointer bits) to its size
// class, 1,408 bytes: the array costs no memory. TestCallStateFillsItsClass
// fails if callState grows past it or leaves room.
const smallBody = 188

// readBody reads the request's body as io.ReadAll of it cut at limit+1
// bytes would (one past the limit tells a body over it), into a buffer of
// the declared length when the request declares one within the limit
// (io.ReadAll starts at 512 bytes and grows), or into small when that
// length fits in it. Nothing writes the bytes it returns again: the
// strings decode gives the handler share them (awsproto.DecodeJSONOwned).
func readBody(r *http.Request, limit int64, small []byte) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	size := int64(512)
	if n := r.ContentLength; n >= 0 && n <= limit {
		size = n + 1 // room to see the end (or a byte more than declared)
	}
	var b []byte
	if size <= int64(len(small)) {
		b = small[:0:size]
	} else {
		b = make([]byte, 0, size)
	}
	for {
		if int64(len(b)) > limit {
			return b, nil
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := b[len(b):cap(b)]
		if max := limit + 1 - int64(len(b)); int64(len(room)) > max {
			room = room[:max]
		}
		n, err := r.Body.Read(room)
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}

func (g *Gateway) record(ctx context.Context, c *Call, ev *Event) {
	if g.Audit == nil || c.Service == nil || c.Op == nil || ev.Principal == nil {
		return
	}
	ev.Region = c.Region
	ev.Account = c.Account
	ev.ReadOnly = c.Op.ReadOnly
	ev.Resources = c.resources
	ev.AdditionalData = c.extra
	g.Audit.Record(ctx, ev)
}

// runSafe runs the pipeline, turning a panic into an InternalFailure (a bug,
// logged with its stack) instead of a dropped connection.
func (g *Gateway) runSafe(ctx context.Context, r *http.Request, body []byte, c *Call, opName string, ev *Event, pre *preAuth) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			g.Log.Error("panic in request", "operation", opName, "request_id", c.RequestID, "panic", p, "stack", string(debug.Stack()))
			out, err = nil, awsproto.Internal()
		}
	}()
	return g.run(ctx, r, body, c, opName, ev, pre)
}

func (g *Gateway) run(ctx context.Context, r *http.Request, body []byte, c *Call, opName string, ev *Event, pre *preAuth) (any, error) {
	svc := c.Service
	op, ok := svc.ops[opName]
	// Authenticate before revealing whether the operation exists.
	var p *Principal
	var tokenErr error
	var checked *sigv4.Checked
	if pre != nil {
		checked = pre.checked
	}
	res, err := sigv4.VerifyChecked(ctx, r, body, checked, g.Wall.Now(), func(ctx context.Context, akid string) (string, bool, error) {
		c.accessKey = akid
		if pre != nil && pre.akid == akid {
			// Resolved before the body was read.
			p, tokenErr = pre.p, pre.tokenErr
			return pre.secret, pre.found, nil
		}
		// (The session token is read only when the key was not resolved
		// before the body.)
		tok := header(r, "X-Amz-Security-Token")
		if tok == "" && r.URL.RawQuery != "" {
			tok = r.URL.Query().Get("X-Amz-Security-Token")
		}
		secret, pp, found, err := g.Auth.Resolve(ctx, akid, tok, c.Now)
		if err != nil {
			if ae := awsproto.As(err); ae != nil {
				// Token problems are reported once the signature is known good.
				tokenErr = ae
				return secret, secret != "", nil
			}
			return "", false, err
		}
		p = pp
		return secret, found, nil
	})
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			c.authFailure = authFailure(se)
			return nil, sigError(svc, se)
		}
		return nil, fmt.Errorf("verify signature: %w", err)
	}
	if tokenErr != nil {
		c.authFailure = "session token: " + tokenErr.Error()
		return nil, tokenError(svc, tokenErr)
	}
	if res.Service != svc.Name {
		c.authFailure = "credential scope: service " + res.Service + ", not " + svc.Name
		return nil, awsproto.Spell(svc.Protocol, awsproto.ErrWrongServiceScope, svc.Name)
	}
	if p == nil {
		c.authFailure = "unknown access key"
		return nil, awsproto.Spell(svc.Protocol, awsproto.ErrUnknownAccessKey)
	}
	if g.Regions != nil && !svc.Global && !g.Regions[res.Region] {
		return nil, awsproto.Spell(svc.Protocol, awsproto.ErrRegionNotServed, res.Region)
	}
	c.Principal = p
	ev.Principal = p
	c.Account = p.Account
	c.Region = res.Region
	if svc.Global {
		c.Region = "us-east-1"
	}
	if !ok {
		return nil, unknownOperation(svc, opName)
	}
	c.Op = op
	return g.dispatch(ctx, c, ev, func(in any) error { return decode(svc, c.cbor, r, body, c.form, in) })
}

// dispatch runs the pipeline of an authenticated call from its operation
// on: region outages and throttling, decoding and validation (decodeInto
// fills in the operation's input), authorization as the operation
// declares it, and the handler. ServeHTTP and Invoke share it.
func (g *Gateway) dispatch(ctx context.Context, c *Call, ev *Event, decodeInto func(in any) error) (any, error) {
	svc, op := c.Service, c.Op
	if ro, ok := g.Throttle.(RegionOutages); ok && !svc.Global {
		switch ro.RegionOutage(ctx, c.Region) {
		case OutageError:
			return nil, awsproto.Spell(svc.Protocol, awsproto.ErrServiceUnavailable)
		case OutageThrottle:
			return nil, awsproto.Spell(svc.Protocol, awsproto.ErrThrottled)
		}
	}
	if g.Throttle != nil && g.Throttle.Throttled(ctx, svc.Name, op.Name, c.Account) {
		return nil, awsproto.Spell(svc.Protocol, awsproto.ErrThrottled)
	}
	in := reflect.New(op.InputType).Interface()
	if err := decodeInto(in); err != nil {
		if ae := awsproto.As(err); ae != nil && ae.Code == svc.ValidationCode && len(svc.ValidationFields) > 0 && ae.Fields == nil {
			ae.Fields = svc.ValidationFields
		}
		return nil, err
	}
	ev.Request = in
	if !op.NoAuthz {
		if err := c.authorizeOp(ctx, in); err != nil {
			return nil, err
		}
	}
	return op.Handler(ctx, c, in)
}

// authorizeOp runs the operation's declared authorization (Operation.Auth)
// on its decoded input.
func (c *Call) authorizeOp(ctx context.Context, in any) error {
	op := c.Op
	// A batch names the same directory, bundle and tags over and over: a
	// check equal to one already answered gets the same answer (evaluation
	// depends only on the check, the caller and the request).
	// Most calls ask one to three checks (a CreateWorkspaces request's
	// directory, bundle and desktops): their memory is the stack's.
	var seenBuf [3]Check
	var answersBuf [3]error
	seen, answers := seenBuf[:0], answersBuf[:0]
	ask := func(chk Check) error {
		if chk.Policy != nil && op.Auth == AuthIdentity {
			return fmt.Errorf("operation %s: a check on %s carries a resource policy, but the operation is not declared ResourcePolicy", op.Name, chk.Resource)
		}
		for i := range seen {
			if sameCheck(&seen[i], &chk) {
				return answers[i]
			}
		}
		err := c.check(ctx, chk)
		if err != nil && awsproto.As(err) == nil {
			return err
		}
		seen, answers = append(seen, chk), append(answers, err)
		return err
	}
	if op.Auth == AuthPerItem && op.Items == nil {
		return fmt.Errorf("operation %s: declared PerItem without an item resolver", op.Name)
	}
	if op.Auth != AuthPerItem {
		var checks []Check
		if op.Resources != nil {
			var err error
			if checks, err = op.Resources(ctx, c, in); err != nil {
				return err
			}
		}
		if checks == nil {
			checks = []Check{{Resource: "*"}}
		}
		if c.resources == nil && len(checks) > len(c.resBuf) {
			// The audit record's resources, one per check asked: in one
			// array, not grown from resBuf one check at a time.
			c.resources = make([]Check, 0, len(checks))
		}
		for _, chk := range checks {
			if err := ask(chk); err != nil {
				return err
			}
		}
	}
	if op.Items == nil {
		return nil
	}
	items, err := op.Items(ctx, c, in)
	if err != nil {
		return err
	}
	c.refused = make([]error, len(items))
	for i, checks := range items {
		for _, chk := range checks {
			// A failure to evaluate one item's check fails that item
			// only (the handler reports it with the internal code).
			if err := ask(chk); err != nil {
				c.refused[i] = err
				break
			}
		}
	}
	return nil
}

// queryServiceOf finds the query-protocol service of a request from the
// start of its form body (cut at its last '&', so that no parameter is
// partial): nil when it names none.
func (g *Gateway) queryServiceOf(r *http.Request, head []byte) *Service {
	if i := bytes.LastIndexByte(head, '&'); i >= 0 {
		head = head[:i]
	}
	svc, _, _, err := g.routeQuery(r, head)
	if err != nil && svc == nil {
		return nil
	}
	return svc
}

// maxUnsignedBody bounds the body read from a request whose service only
// its body can tell (a query-protocol request without a usable signature,
// which is refused once its Action names the protocol to refuse it in).
const maxUnsignedBody = 64 << 10

// drainLimit bounds what is read and thrown away of the body of a request
// refused before its body was read (see refuseBody).
const drainLimit = 4 << 20

// refuseBody prepares the connection of a request that is refused without
// its body being read. A client that authenticated (a body over the size
// cap, from a signed request) has the rest of its body read and thrown
// away, up to drainLimit, so it reads the answer instead of a connection
// reset while it is still sending; anything else is cut off at once
// (httpguard.Reject), so an unauthenticated client never holds the server
// to read what it sends.
func refuseBody(w http.ResponseWriter, r *http.Request, authenticated bool) {
	if authenticated {
		if n, err := io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit+1)); err == nil && n <= drainLimit {
			return
		}
	}
	httpguard.Reject(w)
}

// errTooLarge is the error of a body over the size cap, spelled as proto
// spells it.
func errTooLarge(proto Protocol) error {
	return awsproto.Spell(proto, awsproto.ErrBodyTooLarge, awsproto.MaxBody)
}

// preAuth is what authentication resolved before the body was read.
type preAuth struct {
	akid, secret string
	p            *Principal
	found        bool
	tokenErr     error
	failure      string         // which part of the signature failed, for the request log
	checked      *sigv4.Checked // the request as sigv4.CheckParsed parsed it (&ck, or nil)
	ck           sigv4.Checked
}

// preAuthenticate runs the checks of SigV4 that need no body (see
// sigv4.Check) for a request of svc, or, when svc is nil (query protocol),
// of the service its credential scope names. It returns the service the
// request was found to be for (nil when only the body can tell), the
// resolved access key, and the error to refuse the request with. An
// internal failure is left to the full verification after the body.
// pre is where the resolved access key is kept (the caller's memory, zero
// as the call's state is allocated: it is not cleared again here): the
// *preAuth returned is pre, or nil. now is the domain clock's time of the
// request, wallNow the wall clock's (its dates are checked against it).
func (g *Gateway) preAuthenticate(ctx context.Context, r *http.Request, svc *Service, now, wallNow time.Time, pre *preAuth) (*Service, *preAuth, error) {
	if svc == nil {
		res, err := sigv4.Parse(r)
		if err != nil {
			return nil, nil, nil
		}
		if svc = g.services[res.Service]; svc == nil || (svc.Protocol != Query && svc.Protocol != EC2) {
			return nil, nil, nil
		}
	}
	if g.Auth == nil {
		return svc, nil, nil
	}
	tok := header(r, "X-Amz-Security-Token")
	if tok == "" && r.URL.RawQuery != "" {
		tok = r.URL.Query().Get("X-Amz-Security-Token")
	}
	err := sigv4.CheckParsedInto(ctx, r, wallNow, func(ctx context.Context, akid string) (string, bool, error) {
		secret, p, found, err := g.Auth.Resolve(ctx, akid, tok, now)
		if err != nil {
			if awsproto.As(err) == nil {
				return "", false, err
			}
			// Token problems are reported once the signature is known good.
			pre.tokenErr, found = err, secret != ""
		}
		pre.akid, pre.secret, pre.p, pre.found = akid, secret, p, found
		return secret, found, nil
	}, &pre.ck)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			pre.failure = authFailure(se)
			return svc, pre, sigError(svc, se)
		}
		return svc, nil, nil
	}
	pre.checked = &pre.ck
	return svc, pre, nil
}

// authFailure says which part of a signature failed, in the response's
// words, for the request log.
func authFailure(se *sigv4.Error) string {
	return "signature " + se.Kind.String() + ": " + se.Message
}

// sigError spells a SigV4 failure in svc's protocol.
func sigError(svc *Service, se *sigv4.Error) error {
	return awsproto.SigV4Error(svc.Protocol, se)
}

// unknownOperation is the error for an operation the service does not
// serve: UnknownOperationException (InvalidAction on the query protocols,
// as IAM, STS and EC2 say). An operation of the service's model that
// deskplane does not implement yet says so and where coverage is listed; a
// name the model does not have keeps AWS's text.
func unknownOperation(svc *Service, op string) error {
	if modelops.Has(svc.Name, op) {
		return awsproto.Spell(svc.Protocol, awsproto.ErrUnimplementedOperation, svc.Name, op)
	}
	return awsproto.Spell(svc.Protocol, awsproto.ErrUnknownOperation, op)
}

// tokenError spells a session-token error (STS's InvalidClientTokenId or
// ExpiredToken, as the Authenticator returns it) the way svc's protocol
// does; any other error is returned as is.
func tokenError(svc *Service, err error) error {
	ae := awsproto.As(err)
	if ae == nil {
		return err
	}
	switch ae.Code {
	case "ExpiredToken":
		return awsproto.Spell(svc.Protocol, awsproto.ErrExpiredToken, ae.Message)
	case "InvalidClientTokenId":
		return awsproto.Spell(svc.Protocol, awsproto.ErrInvalidToken, ae.Message)
	}
	return err
}

var restPath = regexp.MustCompile(`^/(Users|Groups|GroupMemberships)/([A-Za-z]+)$`)

// rpcv2Path is the path of a Smithy RPC v2 request.
var rpcv2Path = regexp.MustCompile(`^/service/([A-Za-z0-9_.]+)/operation/([A-Za-z0-9_]+)$`)

// header is r.Header.Get(key) for a key in its canonical form, looked up
// as it is (Get canonicalizes the key again): the pipeline reads a few
// headers of every request.
func header(r *http.Request, key string) string {
	if v := r.Header[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// isCBOR reports whether r is a Smithy RPC v2 CBOR request (by its path;
// an X-Amz-Target request is awsJson whatever its path).
func isCBOR(r *http.Request) bool {
	return header(r, "X-Amz-Target") == "" && strings.HasPrefix(r.URL.Path, "/service/")
}

func (s *Service) jsonVersion() string {
	if s == nil || s.JSONVersion == "" {
		return "1.1"
	}
	return s.JSONVersion
}

// route finds the service and operation from X-Amz-Target or a rest path.
// It returns (nil, "", nil) for query-protocol requests, which need the body.
func (g *Gateway) route(r *http.Request) (*Service, string, error) {
	if t := header(r, "X-Amz-Target"); t != "" {
		i := strings.LastIndexByte(t, '.')
		if i < 0 {
			return nil, "", awsproto.Spell(JSON, awsproto.ErrUnknownTarget, fmt.Sprintf("Invalid X-Amz-Target header %q", t))
		}
		svc := g.byTarget[t[:i]]
		if svc == nil {
			return nil, "", awsproto.Spell(JSON, awsproto.ErrUnknownTarget, fmt.Sprintf("Unknown service target %q", t[:i]))
		}
		if r.Method != http.MethodPost {
			return svc, t[i+1:], awsproto.Spell(JSON, awsproto.ErrSerialization, "awsJson requests must use POST")
		}
		return svc, t[i+1:], nil
	}
	if isCBOR(r) {
		m := rpcv2Path.FindStringSubmatch(r.URL.Path)
		if m == nil {
			return nil, "", awsproto.Spell(JSON, awsproto.ErrNoRoute, "No operation matches "+r.Method+" "+r.URL.Path)
		}
		svc := g.byTarget[m[1]]
		if svc == nil || !svc.CBOR {
			return nil, "", awsproto.Spell(JSON, awsproto.ErrNoRoute, "No service matches "+m[1])
		}
		if r.Method != http.MethodPost {
			return svc, m[2], awsproto.Spell(CBOR, awsproto.ErrSerialization, "rpcv2Cbor requests must use POST")
		}
		if v := r.Header.Get("Smithy-Protocol"); v != "rpc-v2-cbor" {
			return svc, m[2], awsproto.Spell(CBOR, awsproto.ErrSerialization, fmt.Sprintf("Smithy-Protocol must be rpc-v2-cbor, not %q", v))
		}
		return svc, m[2], nil
	}
	if m := restPath.FindStringSubmatch(r.URL.Path); m != nil {
		if svc := g.services["ds-data"]; svc != nil {
			return svc, m[2], nil
		}
	}
	return nil, "", nil
}

func (g *Gateway) routeQuery(r *http.Request, body []byte) (*Service, string, url.Values, error) {
	var vals url.Values
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, "", nil, awsproto.Spell(JSON, awsproto.ErrNoRoute, "No operation matches "+r.Method+" "+r.URL.Path)
		}
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", nil, awsproto.Spell(Query, awsproto.ErrMalformedQuery)
		}
		vals = v
	} else {
		vals = r.URL.Query()
	}
	action := vals.Get("Action")
	scope := ""
	if res, err := sigv4.Parse(r); err == nil {
		scope = res.Service
	}
	svc := g.services[scope]
	if svc == nil || (svc.Protocol != Query && svc.Protocol != EC2) {
		svc = g.guessQueryService(action)
	}
	if svc == nil {
		return nil, "", nil, awsproto.Spell(JSON, awsproto.ErrNoRoute, "No service matches this request")
	}
	if action == "" {
		return svc, "", nil, awsproto.Spell(Query, awsproto.ErrMissingAction)
	}
	return svc, action, vals, nil
}

func (g *Gateway) guessQueryService(action string) *Service {
	for _, name := range []string{"ec2", "iam", "sts"} {
		if s := g.services[name]; s != nil {
			if _, ok := s.ops[action]; ok {
				return s
			}
		}
	}
	return g.services["sts"]
}

// decode decodes the input of svc's protocol (of CBOR when cbor is set:
// isCBOR(r)); form holds the query parameters parsed while routing.
func decode(svc *Service, cbor bool, r *http.Request, body []byte, form url.Values, in any) error {
	if cbor {
		return awsproto.DecodeCBOR(body, in, svc.ValidationCode)
	}
	switch svc.Protocol {
	case JSON:
		return decodeJSONBody(body, in, svc.ValidationCode)
	case RestJSON:
		q := r.URL.Query()
		if len(q) > 0 {
			m := map[string]any{}
			if len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, &m); err != nil {
					return awsproto.Spell(RestJSON, awsproto.ErrValidation, "Malformed JSON request body")
				}
			}
			if m == nil { // a body of JSON null
				m = map[string]any{}
			}
			for k := range q {
				m[k] = q.Get(k)
			}
			body, _ = json.Marshal(m)
		}
		return decodeJSONBody(body, in, svc.ValidationCode)
	default:
		return awsproto.DecodeQuery(form, in, svc.ValidationCode)
	}
}

// decodeJSONBody decodes a JSON body that is the call's own (readBody's,
// or a form's JSON made by decode): nothing writes it again, so the
// decoded strings may share its bytes (awsproto.DecodeJSONOwned). A small
// body, which readBody reads into the call's array (callState.body), is
// copied instead: strings of it would keep the whole call's state alive.
func decodeJSONBody(body []byte, in any, validationCode string) error {
	if cap(body) <= smallBody {
		return awsproto.DecodeJSON(body, in, validationCode)
	}
	return awsproto.DecodeJSONOwned(body, in, validationCode)
}

// payloads holds response buffers of outputs that encode themselves
// (jsonAppender): the most frequent responses are encoded into a buffer of
// the size they last needed instead of one allocated, zeroed and grown per
// call.
var payloads = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPayload is the largest response buffer kept in the pool.
const maxPooledPayload = 64 << 10

// encodePooled is encode, into a pooled buffer when the output encodes
// itself: pooled is then the buffer's holder, to be handed to putPayload
// with the payload once it is written.
func (g *Gateway) encodePooled(svc *Service, proto Protocol, op, reqID string, out any) (payload []byte, pooled *[]byte, err error) {
	if a, ok := out.(jsonAppender); ok && proto != CBOR && (svc.Protocol == JSON || svc.Protocol == RestJSON) {
		bp := payloads.Get().(*[]byte)
		b, err := a.AppendJSON((*bp)[:0])
		return b, bp, err
	}
	b, err := g.encode(svc, proto, op, reqID, out)
	return b, nil, err
}

// putPayload returns a payload's buffer to the pool (unless it grew past
// maxPooledPayload).
func putPayload(bp *[]byte, payload []byte) {
	if cap(payload) > maxPooledPayload {
		return
	}
	*bp = payload[:0]
	payloads.Put(bp)
}

// jsonAppender is an output that encodes itself: AppendJSON appends the
// bytes encoding/json would write for it (its tests hold them equal),
// without reflection, for the busiest responses.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

func (g *Gateway) encode(svc *Service, proto Protocol, op, reqID string, out any) ([]byte, error) {
	if proto == CBOR {
		return awsproto.EncodeCBOR(out)
	}
	switch svc.Protocol {
	case JSON, RestJSON:
		if out == nil {
			return []byte("{}"), nil
		}
		if a, ok := out.(jsonAppender); ok {
			return a.AppendJSON(nil) // it sizes its buffer itself
		}
		return json.Marshal(out)
	case Query:
		return awsproto.QueryXMLResponse(op, svc.XMLNamespace, reqID, out)
	default:
		return awsproto.EC2XMLResponse(op, reqID, out)
	}
}

// writeError renders e in the protocol's envelope; svc may be nil when the
// service could not be told.
func (g *Gateway) writeError(w http.ResponseWriter, svc *Service, proto Protocol, op, reqID string, e error) {
	ae := awsproto.As(e)
	if ae == nil {
		ae = awsproto.Internal()
	}
	h := w.Header()
	h.Set("X-Amzn-RequestId", reqID)
	var body []byte
	if svc != nil && svc.QueryErrors != nil && (proto == JSON || proto == CBOR) {
		// awsQueryCompatible: the query protocol's code and fault.
		code, fault := ae.Code, "Receiver"
		if q, ok := svc.QueryErrors[code]; ok {
			code = q
		}
		if ae.HTTPStatus() < 500 {
			fault = "Sender"
		}
		h.Set("X-Amzn-Query-Error", code+";"+fault)
	}
	switch proto {
	case JSON:
		h.Set("Content-Type", jsonContentType(svc))
		h.Set("X-Amzn-ErrorType", ae.Code)
		body = awsproto.JSONErrorBody(ae)
	case CBOR:
		h.Set("Content-Type", "application/cbor")
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
		body = awsproto.CBORErrorBody(ae)
	case RestJSON:
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-ErrorType", ae.Code)
		body = awsproto.JSONErrorBody(ae)
	case Query:
		h.Set("Content-Type", "text/xml")
		ns := ""
		if svc != nil {
			ns = svc.XMLNamespace
		}
		body = awsproto.QueryXMLError(ae, ns, reqID)
	default:
		h.Set("Content-Type", "text/xml")
		body = awsproto.EC2XMLError(ae, reqID)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ae.HTTPStatus())
	w.Write(body)
}

// jsonContentType is the Content-Type of an awsJson answer of svc (nil
// when the service could not be told: awsJson1.1).
func jsonContentType(svc *Service) string {
	if svc != nil && svc.JSONVersion != "" {
		return "application/x-amz-json-" + svc.JSONVersion
	}
	return "application/x-amz-json-1.1"
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sameCheck reports whether two checks ask the same question (nil and empty
// tag maps differ: no request tags is not an empty aws:TagKeys).
func sameCheck(a, b *Check) bool {
	return a.Action == b.Action && a.Resource == b.Resource && a.ResourceAccount == b.ResourceAccount &&
		(a.ResourceTags == nil) == (b.ResourceTags == nil) && maps.Equal(a.ResourceTags, b.ResourceTags) &&
		(a.RequestTags == nil) == (b.RequestTags == nil) && maps.Equal(a.RequestTags, b.RequestTags) &&
		(a.TagKeys == nil) == (b.TagKeys == nil) && slices.Equal(a.TagKeys, b.TagKeys) &&
		(a.Context == nil) == (b.Context == nil) && maps.EqualFunc(a.Context, b.Context, slices.Equal[[]string]) &&
		a.Policy == b.Policy
}
