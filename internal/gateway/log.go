package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/logbuf"
)

// requestRecord is what the pipeline learned about one request, for its
// log line.
type requestRecord struct {
	id     string
	svc    *Service
	op     string
	call   *Call
	status int
	code   string
}

// fail notes the error in the record and writes it in the protocol's
// envelope.
func (rec *requestRecord) fail(g *Gateway, w http.ResponseWriter, svc *Service, proto Protocol, op, reqID string, e error) {
	ae := awsproto.As(e)
	if ae == nil {
		ae = awsproto.Internal()
	}
	if rec.svc == nil {
		rec.svc = svc
	}
	if rec.op == "" {
		rec.op = op
	}
	rec.status, rec.code = ae.HTTPStatus(), ae.Code
	g.writeError(w, svc, proto, op, reqID, ae)
}

// logRequest writes one line per request: at info level the request id,
// service, operation, principal, account, status, error code and latency,
// and for an authentication failure which part failed (the same words the
// response carries) and the access key id the request was signed with; at debug level also the region, IAM action, source
// address, user agent and method. Server errors (5xx) are logged at error
// level. Nothing secret is logged: no secret keys, session tokens,
// signatures, Authorization headers or request bodies, and no error
// messages (which may quote request values) other than authentication's.
// The line's time is at, the request's end.
func (g *Gateway) logRequest(ctx context.Context, r *http.Request, rec *requestRecord, at time.Time, latency time.Duration) {
	level := slog.LevelInfo
	if rec.status >= 500 {
		level = slog.LevelError
	}
	if g.Log == nil {
		return
	}
	// serve's handler: its level read once, the line's middle attributes
	// rendered once for a run of lines that repeat them (logMidOf).
	if h, ok := g.Log.Handler().(*logbuf.Handler); ok {
		if th, ok := h.Text(); ok {
			least := th.Level()
			if level < least {
				return
			}
			first := [1]slog.Attr{slog.String("request_id", rec.id)}
			last := appendLogTail(make([]slog.Attr, 0, 12), r, rec, latency, slog.LevelDebug >= least)
			_ = h.HandleRun(ctx, at, level, "request", first[:], g.logMidOf(rec).attrs, last)
			return
		}
	}
	if !g.Log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs, slog.String("request_id", rec.id))
	attrs = appendLogMid(attrs, rec)
	attrs = appendLogTail(attrs, r, rec, latency, g.Log.Enabled(ctx, slog.LevelDebug))
	// serve's handler takes the attributes as they are (a record holds
	// five and allocates for more).
	if h, ok := g.Log.Handler().(*logbuf.Handler); ok {
		_ = h.HandleAttrs(ctx, at, level, "request", attrs)
		return
	}
	// As Logger.LogAttrs writes it, without looking up the caller's
	// program counter (no handler of the server's logs reports a source).
	lr := slog.NewRecord(at, level, "request", 0)
	lr.AddAttrs(attrs...)
	_ = g.Log.Handler().Handle(ctx, lr)
}

// appendLogMid appends the line's service, operation, principal and
// account.
func appendLogMid(attrs []slog.Attr, rec *requestRecord) []slog.Attr {
	if rec.svc != nil {
		attrs = append(attrs, slog.String("service", rec.svc.Name))
	}
	attrs = append(attrs, slog.String("operation", rec.op))
	c := rec.call
	if c != nil && c.Principal != nil {
		attrs = append(attrs, slog.String("principal", c.Principal.ARN), slog.String("account", c.Account))
	}
	return attrs
}

// appendLogTail appends the rest of the line: the status, the error code,
// authentication's failure, the latency, and with debug the request's
// region, action, source address, user agent, method and path.
func appendLogTail(attrs []slog.Attr, r *http.Request, rec *requestRecord, latency time.Duration, debug bool) []slog.Attr {
	c := rec.call
	attrs = append(attrs, slog.Int("status", rec.status))
	if rec.code != "" {
		attrs = append(attrs, slog.String("error_code", rec.code))
	}
	if c != nil && c.authFailure != "" {
		attrs = append(attrs, slog.String("auth_failure", c.authFailure))
		if c.accessKey != "" {
			attrs = append(attrs, slog.String("access_key_id", c.accessKey))
		}
	}
	attrs = append(attrs, slog.Duration("latency", latency))
	if debug {
		if c != nil && c.Region != "" {
			attrs = append(attrs, slog.String("region", c.Region))
		}
		if c != nil && c.Op != nil {
			attrs = append(attrs, slog.String("action", c.Action()))
		}
		attrs = append(attrs, slog.String("source_ip", sourceIP(r)), slog.String("user_agent", r.UserAgent()),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	return attrs
}

// logMid is a line's middle attributes (appendLogMid) and what they were
// made of, rendered once. It does not change once stored.
type logMid struct {
	svc, op, principal, account string
	hasSvc, hasPrincipal        bool
	attrs                       *logbuf.Attrs
}

// logMidOf returns rec's middle attributes rendered: the last line's when
// they are the same (the strings are compared, most often by their
// pointers: the service's name, the operation's and the principal's are
// the same strings from call to call), else new ones, kept for the next.
func (g *Gateway) logMidOf(rec *requestRecord) *logMid {
	var svc, principal, account string
	hasSvc := rec.svc != nil
	if hasSvc {
		svc = rec.svc.Name
	}
	c := rec.call
	hasPrincipal := c != nil && c.Principal != nil
	if hasPrincipal {
		principal, account = c.Principal.ARN, c.Account
	}
	if m := g.logMid.Load(); m != nil && m.hasSvc == hasSvc && m.hasPrincipal == hasPrincipal &&
		m.svc == svc && m.op == rec.op && m.principal == principal && m.account == account {
		return m
	}
	var buf [4]slog.Attr
	m := &logMid{svc: svc, op: rec.op, principal: principal, account: account, hasSvc: hasSvc, hasPrincipal: hasPrincipal,
		attrs: logbuf.RenderAttrs(appendLogMid(buf[:0], rec)...)}
	g.logMid.Store(m)
	return m
}
