package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// ErrNoDesktop: the desktop is not one of the broker's.
var ErrNoDesktop = errors.New("no such desktop in the broker's pools")

// ErrBadAction: an operator action the broker does not know.
var ErrBadAction = errors.New("action must be start, stop, reboot, rebuild or release")

// DesktopActions are the operator's actions on a desktop.
var DesktopActions = []string{"start", "stop", "reboot", "rebuild", "release"}

// DesktopInfo is a desktop as the console and GET /v1/desktops show it.
type DesktopInfo struct {
	ID         string    `json:"workspace_id"`
	Name       string    `json:"name"`
	Pool       string    `json:"pool"`
	State      string    `json:"state"`
	StateSince time.Time `json:"state_since,omitzero"`
	IP         string    `json:"ip,omitempty"`
	User       string    `json:"user,omitempty"`
	AssignedAt time.Time `json:"assigned_at,omitzero"`
	StopAt     time.Time `json:"stop_at,omitzero"`
	Releasing  bool      `json:"releasing,omitempty"`
	// LastConnection is the desktop's last connection through a gateway
	// (absent: none recorded).
	LastConnection *LastConnection `json:"last_connection,omitempty"`
}

// Desktops lists the broker's desktops (not terminated), by pool and name.
func (b *Broker) Desktops(ctx context.Context) ([]DesktopInfo, error) {
	ds, err := b.st.AllDesktops(ctx)
	if err != nil {
		return nil, err
	}
	last, err := b.st.LastConnections(ctx)
	if err != nil {
		return nil, err
	}
	out := []DesktopInfo{}
	for _, d := range ds {
		if d.State == "TERMINATED" {
			continue
		}
		di := DesktopInfo{ID: d.ID, Name: d.Name, Pool: d.Pool, State: d.State, StateSince: d.StateSince,
			IP: d.IP, User: d.User, AssignedAt: d.AssignedAt, StopAt: d.StopAt, Releasing: d.Release != ReleaseNone}
		if c, ok := last[d.ID]; ok {
			di.LastConnection = &c
		}
		out = append(out, di)
	}
	return out, nil
}

// Sessions lists the live sessions (waiting, starting, active,
// disconnected).
func (b *Broker) Sessions(ctx context.Context) ([]*Session, error) {
	return b.st.LiveSessions(ctx)
}

// EventRecord is an entry of the broker's event log.
type EventRecord struct {
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	WorkspaceID string    `json:"workspace_id,omitempty"`
	Detail      string    `json:"detail,omitempty"`
}

// Events returns the newest entries of the event log, newest first.
func (b *Broker) Events(ctx context.Context, limit int) ([]EventRecord, error) {
	return b.st.Events(ctx, limit)
}

// DesktopAction is an operator's action on one of the broker's desktops:
// start, stop, reboot, rebuild (the WorkSpaces calls), or release (the
// assignment ends, the user's session ends, and the desktop is rebuilt
// before it returns to the pool). It is recorded in the event log.
func (b *Broker) DesktopAction(ctx context.Context, id, action, by string) (*DesktopInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, err := b.st.Desktop(ctx, id)
	if err != nil {
		return nil, err
	}
	if d == nil || d.State == "TERMINATED" {
		return nil, ErrNoDesktop
	}
	now := b.clock.Now()
	ws := b.c.WorkSpaces
	fail := func(op string, err error, failed int) error {
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, id, err)
		}
		if failed > 0 {
			return fmt.Errorf("%s %s: the service refused the request", op, id)
		}
		return nil
	}
	switch action {
	case "start":
		o, err := ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []types.StartRequest{{WorkspaceId: aws.String(id)}}})
		if err = fail("StartWorkspaces", err, failedLen(o, err)); err != nil {
			return nil, err
		}
		d.StartRequested, d.StopAt = now, time.Time{}
	case "stop":
		d.StopRequested = now // before the call: the broker's own stop
		if err := b.st.PutDesktop(ctx, d); err != nil {
			return nil, err
		}
		o, err := ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []types.StopRequest{{WorkspaceId: aws.String(id)}}})
		if err = fail("StopWorkspaces", err, failedLen(o, err)); err != nil {
			d.StopRequested = time.Time{}
			b.st.PutDesktop(ctx, d)
			return nil, err
		}
		d.StopAt = time.Time{}
		if err := b.st.CloseUsage(ctx, id, now); err != nil {
			return nil, err
		}
	case "reboot":
		o, err := ws.RebootWorkspaces(ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: []types.RebootRequest{{WorkspaceId: aws.String(id)}}})
		if err = fail("RebootWorkspaces", err, failedLen(o, err)); err != nil {
			return nil, err
		}
	case "rebuild":
		o, err := ws.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{RebuildWorkspaceRequests: []types.RebuildRequest{{WorkspaceId: aws.String(id)}}})
		if err = fail("RebuildWorkspaces", err, failedLen(o, err)); err != nil {
			return nil, err
		}
	case "release":
		if d.User == "" {
			return nil, fmt.Errorf("release %s: %w", id, errNotAssigned)
		}
		if _, err := b.st.EndDesktopSessions(ctx, id, SessEnded, now); err != nil {
			return nil, err
		}
		if err := b.st.Unassign(ctx, id, ReleaseNeedsRebuild, now); err != nil {
			return nil, err
		}
		b.Kick()
		if d, err = b.st.Desktop(ctx, id); err != nil {
			return nil, err
		}
	default:
		return nil, ErrBadAction
	}
	if action != "release" {
		if err := b.st.PutDesktop(ctx, d); err != nil {
			return nil, err
		}
	}
	if err := b.st.Event(ctx, now, "operator-"+action, id, "by "+by); err != nil {
		return nil, err
	}
	b.log.Info("operator action", "action", action, "workspace", id, "by", by)
	return &DesktopInfo{ID: d.ID, Name: d.Name, Pool: d.Pool, State: d.State, StateSince: d.StateSince, IP: d.IP,
		User: d.User, AssignedAt: d.AssignedAt, StopAt: d.StopAt, Releasing: d.Release != ReleaseNone}, nil
}

var errNotAssigned = errors.New("the desktop is not assigned")

// failedLen counts a batch call's FailedRequests.
func failedLen(o any, err error) int {
	if err != nil || o == nil {
		return 0
	}
	switch v := o.(type) {
	case *workspaces.StartWorkspacesOutput:
		return len(v.FailedRequests)
	case *workspaces.StopWorkspacesOutput:
		return len(v.FailedRequests)
	case *workspaces.RebootWorkspacesOutput:
		return len(v.FailedRequests)
	case *workspaces.RebuildWorkspacesOutput:
		return len(v.FailedRequests)
	}
	return 0
}

// DayHours is one UTC day of the cost chart.
type DayHours struct {
	Day            string  `json:"day"`
	AvailableHours float64 `json:"available_hours"`
	// AlwaysOnHours is what ALWAYS_ON desktops would have run: every hour
	// each desktop existed.
	AlwaysOnHours float64 `json:"always_on_hours"`
}

// DailyHours splits AVAILABLE time (and the hours the desktops existed)
// into UTC days over [from, to) (zero from: the first record; zero to:
// now).
func (b *Broker) DailyHours(ctx context.Context, from, to time.Time) ([]DayHours, error) {
	now := b.clock.Now()
	if to.IsZero() || to.After(now) {
		to = now
	}
	usage, err := b.st.Usage(ctx)
	if err != nil {
		return nil, err
	}
	desks, err := b.st.AllDesktops(ctx)
	if err != nil {
		return nil, err
	}
	if from.IsZero() {
		from = to
		for _, d := range desks {
			if !d.CreatedAt.IsZero() && d.CreatedAt.Before(from) {
				from = d.CreatedAt
			}
		}
	}
	day0 := from.UTC().Truncate(24 * time.Hour)
	out := []DayHours{}
	for day := day0; day.Before(to); day = day.Add(24 * time.Hour) {
		end := day.Add(24 * time.Hour)
		lo, hi := maxTime(day, from), minTime(end, to)
		dh := DayHours{Day: day.Format("2006-01-02")}
		for _, u := range usage {
			e := u.End
			if e.IsZero() {
				e = to
			}
			dh.AvailableHours += overlap(u.Start, e, lo, hi).Hours()
		}
		for _, d := range desks {
			g := d.GoneAt
			if g.IsZero() {
				g = to
			}
			dh.AlwaysOnHours += overlap(d.CreatedAt, g, lo, hi).Hours()
		}
		dh.AvailableHours, dh.AlwaysOnHours = round3(dh.AvailableHours), round3(dh.AlwaysOnHours)
		out = append(out, dh)
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// operatorRoutes adds the operators' JSON endpoints (api tokens):
//
//	GET  /v1/desktops                    the broker's desktops
//	POST /v1/desktops/{id}/{action}      start, stop, reboot, rebuild, release
//	GET  /v1/sessions                    live sessions
//	GET  /v1/events?limit=N              the event log, newest first (default 100)
//	GET  /v1/cost/daily?from=&to=        AVAILABLE hours per UTC day
func (b *Broker) operatorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/desktops", b.auth(func(w http.ResponseWriter, r *http.Request) {
		ds, err := b.Desktops(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"desktops": ds})
	}))
	mux.HandleFunc("POST /v1/desktops/{id}/{action}", b.auth(func(w http.ResponseWriter, r *http.Request) {
		d, err := b.DesktopAction(r.Context(), r.PathValue("id"), r.PathValue("action"), "api")
		switch {
		case errors.Is(err, ErrNoDesktop):
			writeJSON(w, http.StatusNotFound, errBody("NotFound", err.Error()))
		case errors.Is(err, ErrBadAction), errors.Is(err, errNotAssigned):
			writeJSON(w, http.StatusBadRequest, errBody("BadRequest", err.Error()))
		case err != nil:
			writeError(w, err)
		default:
			writeJSON(w, http.StatusOK, d)
		}
	}))
	mux.HandleFunc("GET /v1/sessions", b.auth(func(w http.ResponseWriter, r *http.Request) {
		ss, err := b.Sessions(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		out := []SessionView{}
		for _, s := range ss {
			out = append(out, SessionView{SessionID: s.ID, User: s.User, Pool: s.Pool, Policy: s.Policy, State: s.State, WorkspaceID: s.WorkspaceID})
		}
		writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	}))
	mux.HandleFunc("GET /v1/events", b.auth(func(w http.ResponseWriter, r *http.Request) {
		limit := 100
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 10000 {
				writeJSON(w, http.StatusBadRequest, errBody("BadRequest", "limit must be 1..10000"))
				return
			}
			limit = n
		}
		ev, err := b.Events(r.Context(), limit)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"events": ev})
	}))
	mux.HandleFunc("GET /v1/cost/daily", b.auth(func(w http.ResponseWriter, r *http.Request) {
		from, err1 := ParseTime(r.URL.Query().Get("from"))
		to, err2 := ParseTime(r.URL.Query().Get("to"))
		if err := errors.Join(err1, err2); err != nil {
			writeJSON(w, http.StatusBadRequest, errBody("BadRequest", err.Error()))
			return
		}
		days, err := b.DailyHours(r.Context(), from, to)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"days": days})
	}))
}
