package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/debug"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/ids"
)

// Invocation names an in-process call (Invoke): who makes it, where, and
// how the audit record shows its origin.
type Invocation struct {
	// Principal is the caller, as the Authenticator would resolve it; its
	// account is the call's.
	Principal *Principal
	// Region is the region called ("us-east-1" for a global service).
	Region string
	// SourceIP and UserAgent go into the audit record ("" for a service
	// principal: its service name, as AWS records calls a service makes).
	SourceIP, UserAgent string
}

// Invoke runs operation op of service (its signing name) for inv's
// principal through the whole pipeline but without HTTP or a signature:
// the region check, outages and throttling, validation, authorization as
// the operation declares it, the handler, and the audit record. It is for
// tests and for calls a service makes on a caller's behalf.
//
// in is the operation's input: a pointer to its input type (validated
// against its `v:` tags as a decoded request is), or the JSON of an awsJson
// request body ([]byte or json.RawMessage), decoded as the JSON protocol
// decodes it. Invoke returns the handler's output, or the error the client
// would get: an *awsproto.Error in the service's spelling (a failure that
// is not an AWS error is logged and becomes InternalFailure, as over HTTP).
func (g *Gateway) Invoke(ctx context.Context, inv Invocation, service, op string, in any) (any, error) {
	svc := g.services[service]
	if svc == nil {
		return nil, fmt.Errorf("invoke %s:%s: the gateway serves no service %q", service, op, service)
	}
	p := inv.Principal
	if p == nil {
		return nil, fmt.Errorf("invoke %s:%s: no principal", service, op)
	}
	if g.Regions != nil && !svc.Global && !g.Regions[inv.Region] {
		return nil, awsproto.Spell(svc.Protocol, awsproto.ErrRegionNotServed, inv.Region)
	}
	sourceIP, agent := inv.SourceIP, inv.UserAgent
	if sourceIP == "" {
		sourceIP = p.Service
	}
	if agent == "" {
		agent = p.Service
	}
	now := g.Clock.Now()
	c := &Call{RequestID: ids.RequestID(), Service: svc, Account: p.Account, Region: inv.Region, Principal: p, Now: now,
		SourceIP: sourceIP, UserAgent: agent, Secure: true, g: g}
	if svc.Global {
		c.Region = "us-east-1"
	}
	ev := &Event{RequestID: c.RequestID, Time: now, Service: svc, Operation: op, SourceIP: sourceIP, UserAgent: agent, Principal: p}
	if p.Type == "AWSService" {
		ev.InvokedBy = p.Service
	}
	o, ok := svc.ops[op]
	if !ok {
		return nil, unknownOperation(svc, op)
	}
	c.Op = o
	out, err := g.dispatchSafe(ctx, c, ev, func(dst any) error { return inputInto(svc, o, in, dst) })
	if err != nil {
		ae := awsproto.As(err)
		if ae == nil {
			g.Log.Error("internal error", "service", svc.Name, "operation", op, "request_id", c.RequestID, "err", err)
			ae = awsproto.Internal()
		}
		ev.ErrorCode, ev.ErrorMessage = ae.Code, ae.Message
		g.record(ctx, c, ev)
		return nil, ae
	}
	ev.Response = out
	g.record(ctx, c, ev)
	return out, nil
}

// dispatchSafe is dispatch with a panic turned into an InternalFailure (a
// bug, logged with its stack), as runSafe does for HTTP requests.
func (g *Gateway) dispatchSafe(ctx context.Context, c *Call, ev *Event, decodeInto func(in any) error) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			g.Log.Error("panic in invoked call", "operation", c.Op.Name, "request_id", c.RequestID, "panic", p, "stack", string(debug.Stack()))
			out, err = nil, awsproto.Internal()
		}
	}()
	return g.dispatch(ctx, c, ev, decodeInto)
}

// inputInto fills dst, a new value of op's input type, from an Invoke
// input: JSON is decoded and validated as an awsJson body; a value of the
// input type is copied and validated.
func inputInto(svc *Service, op *Operation, in, dst any) error {
	switch v := in.(type) {
	case json.RawMessage:
		return awsproto.DecodeJSON(v, dst, svc.ValidationCode)
	case []byte:
		return awsproto.DecodeJSON(v, dst, svc.ValidationCode)
	case nil:
		return awsproto.DecodeJSON(nil, dst, svc.ValidationCode)
	}
	rv := reflect.ValueOf(in)
	if rv.Kind() != reflect.Pointer || rv.Type().Elem() != op.InputType || rv.IsNil() {
		return fmt.Errorf("invoke %s:%s: input is %T, want *%s or JSON", svc.Name, op.Name, in, op.InputType)
	}
	reflect.ValueOf(dst).Elem().Set(rv.Elem())
	if msg := awsproto.Validate(dst); msg != "" {
		return awsproto.SpellCode(svc.Protocol, awsproto.ErrValidation, svc.ValidationCode, msg)
	}
	return nil
}
