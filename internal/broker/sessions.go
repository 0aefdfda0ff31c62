package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/broker/dsdata"
	"github.com/deskplane/deskplane/internal/ids"
)

// Errors of the session API.
var (
	// ErrUnknownUser: the user is in none of the pools' directories.
	ErrUnknownUser = errors.New("unknown user")
	// ErrNoPolicy: no user policy matches the user or the user's groups.
	ErrNoPolicy = errors.New("no policy matches the user")
	// ErrNoSession: no such session.
	ErrNoSession = errors.New("no such session")
	// ErrPoolFull: every desktop of the pool is assigned and the pool is at
	// its maximum.
	ErrPoolFull = errors.New("pool is at its maximum and every desktop is assigned")
)

// SessionView is the answer to a gateway.
type SessionView struct {
	SessionID   string `json:"session_id"`
	User        string `json:"user"`
	Pool        string `json:"pool"`
	Policy      string `json:"policy"`
	State       string `json:"state"`
	WorkspaceID string `json:"workspace_id,omitempty"`
	// Region is the region of the desktop (a standby region during a
	// failover).
	Region string `json:"region,omitempty"`
	// Connection details, once the desktop is AVAILABLE.
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	// RetryAfter (seconds) is set while the desktop is not ready.
	RetryAfter int `json:"retry_after,omitempty"`
	// DesktopState is the desktop's WorkSpaces state.
	DesktopState string `json:"desktop_state,omitempty"`
	// Reason explains a wait.
	Reason string `json:"reason,omitempty"`
	// Ticket is a single-use connection ticket for this session's desktop
	// and protocol, valid until TicketExpires (the broker's clock) at the
	// gateway Gateway: a browser opens a WebSocket to GatewayURL and sends
	// it as the first message; a native client connects to GatewayTCP and
	// sends it as the first line. Set on an active session while a gateway
	// is live; every answer carries a new ticket.
	Ticket        string    `json:"ticket,omitempty"`
	TicketExpires time.Time `json:"ticket_expires,omitzero"`
	Gateway       string    `json:"gateway,omitempty"`
	GatewayURL    string    `json:"gateway_url,omitempty"`
	GatewayTCP    string    `json:"gateway_tcp,omitempty"`
}

// Ready reports whether the gateway can connect.
func (v *SessionView) Ready() bool { return v.State == SessActive }

// newID returns a session id: s- and 16 random hex digits.
func newID() string { return "s-" + ids.Hex(16) }

// UserGroups returns the user's groups in the directories of the pools,
// from the Directory Service Data API (cached for five minutes).
func (b *Broker) UserGroups(ctx context.Context, user string) ([]string, error) {
	key := strings.ToLower(user)
	b.groupsMu.Lock()
	c, ok := b.groups[key]
	b.groupsMu.Unlock()
	if ok && time.Since(c.at) < 5*time.Minute {
		return c.groups, nil
	}
	if err := b.resolveLocked(ctx); err != nil {
		return nil, err
	}
	var groups []string
	found := false
	seen := map[string]bool{}
	for _, p := range b.cfg.Pools {
		dir := b.dirID[p.Name]
		if seen[dir] {
			continue
		}
		seen[dir] = true
		gs, err := b.c.DSData.ListGroupsForMember(ctx, dir, user)
		if dsdata.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		for _, g := range gs {
			groups = append(groups, g.SAMAccountName)
		}
	}
	if !found {
		return nil, ErrUnknownUser
	}
	b.groupsMu.Lock()
	b.groups[key] = cachedGroups{groups: groups, at: time.Now()}
	b.groupsMu.Unlock()
	return groups, nil
}

// resolveLocked resolves pools under the decision lock.
func (b *Broker) resolveLocked(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.resolve(ctx)
}

// RequestSession is POST /v1/sessions: it finds the user's policy, assigns
// a desktop (the user's own when one is assigned, else a free one of the
// pool, running ones first), starts it if stopped, and answers with the
// connection details when it is AVAILABLE, or with state starting/waiting
// and a retry-after otherwise. Calling it again is how a gateway polls.
func (b *Broker) RequestSession(ctx context.Context, user string) (v *SessionView, err error) {
	began := time.Now() // a performance figure, not domain time
	defer func() {
		oc := "error"
		if err == nil && v != nil {
			oc = v.State
		}
		b.metrics.requests.WithLabelValues(oc).Observe(time.Since(began).Seconds())
	}()
	user = strings.TrimSpace(user)
	if user == "" {
		return nil, ErrUnknownUser
	}
	if sb := b.activeStandby(); sb != nil {
		// The primary region is failing: new sessions come from the standby.
		return sb.RequestSession(ctx, user)
	}
	groups, err := b.UserGroups(ctx, user)
	if err != nil {
		return nil, err
	}
	pol := MatchPolicy(b.cfg.Policies, user, groups)
	if pol == nil {
		return nil, ErrNoPolicy
	}
	// On a shared store two brokers may open the same user's session at
	// once: the store holds one live session per user, and the loser of
	// that race takes the winner's session on its second try.
	for try := 0; ; try++ {
		v, err := b.requestSession(ctx, user, pol)
		if try == 0 && isUniqueViolation(err) {
			continue
		}
		if err == nil {
			b.hub.attach(ctx, b, v)
		}
		return v, err
	}
}

func (b *Broker) requestSession(ctx context.Context, user string, pol *Policy) (*SessionView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.resolve(ctx); err != nil {
		return nil, err
	}
	now := b.clock.Now()
	s, err := b.st.OpenSession(ctx, user)
	if err != nil {
		return nil, err
	}
	if s != nil && s.Pool != pol.Pool {
		// The policy changed: end the old session.
		s.State, s.UpdatedAt = SessEnded, now
		if err := b.st.PutSession(ctx, s); err != nil {
			return nil, err
		}
		s = nil
	}
	if s == nil {
		s = &Session{ID: newID(), User: user, Pool: pol.Pool, Policy: pol.Name, State: SessWaiting, CreatedAt: now}
	}
	s.Policy = pol.Name
	return b.progress(ctx, s, pol, now)
}

// progress moves a session forward: assignment, start, ready.
func (b *Broker) progress(ctx context.Context, s *Session, pol *Policy, now time.Time) (*SessionView, error) {
	pool := b.cfg.Pool(pol.Pool)
	if b.primary != nil && b.primary.activeStandby() == b {
		// A failover: the user's own standby WorkSpace serves, if any.
		rec, err := b.primary.userStandby(ctx, pool.Name, s.User)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			v, err := b.progressStandby(ctx, s, pol, rec, now)
			if err != nil || v != nil {
				return v, err
			}
		}
	}
	d, err := b.st.UserDesktop(ctx, pool.Name, s.User)
	if err != nil {
		return nil, err
	}
	if d != nil && (isBad(d.State) || d.State == "TERMINATING" || d.State == "TERMINATED") {
		d = nil
	}
	if d == nil {
		d, err = b.pickFree(ctx, pool.Name)
		if err != nil {
			return nil, err
		}
		if d != nil {
			ok, err := b.st.Assign(ctx, d.ID, s.User, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				d = nil
			} else {
				d.User = s.User
				b.log.Info("desktop assigned", "user", s.User, "workspace", d.ID, "pool", pool.Name)
			}
		}
	}
	s.UpdatedAt = now
	v := &SessionView{SessionID: s.ID, User: s.User, Pool: s.Pool, Policy: s.Policy, Region: b.cfg.Region}
	if d == nil {
		s.State, s.WorkspaceID = SessWaiting, ""
		if err := b.st.PutSession(ctx, s); err != nil {
			return nil, err
		}
		b.Kick()
		v.State, v.RetryAfter = s.State, 30
		v.Reason = "a desktop is being provisioned"
		if full, err := b.poolFull(ctx, *pool); err != nil {
			return nil, err
		} else if full {
			v.Reason, v.RetryAfter = ErrPoolFull.Error()+"; waiting for a desktop to be released", 60
		}
		return v, nil
	}
	s.WorkspaceID = d.ID
	// Refresh the desktop's state from the service.
	out, err := b.c.WorkSpaces.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{d.ID}})
	if err != nil {
		return nil, fmt.Errorf("DescribeWorkspaces: %w", err)
	}
	if len(out.Workspaces) == 1 {
		if d, err = b.record(ctx, b.st, pool.Name, out.Workspaces[0], now); err != nil {
			return nil, err
		}
	}
	if d.State == "STOPPED" {
		o, err := b.c.WorkSpaces.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []types.StartRequest{{WorkspaceId: aws.String(d.ID)}}})
		if err == nil && len(o.FailedRequests) == 0 {
			d.StartRequested = now
		} else {
			b.log.Warn("start failed; the reconciler will retry", "workspace", d.ID, "err", err)
			b.Kick()
		}
	}
	d.StopAt = time.Time{}
	if err := b.st.PutDesktop(ctx, d); err != nil {
		return nil, err
	}
	v.WorkspaceID, v.DesktopState = d.ID, d.State
	if d.State == "AVAILABLE" && d.IP != "" {
		if s.State != SessActive {
			b.metrics.grant.Observe(now.Sub(s.CreatedAt).Seconds())
		}
		s.State = SessActive
		pp := b.cfg.ProtocolPlans[pol.ProtocolPlan]
		v.IP, v.Port, v.Protocol = d.IP, pp.Port, pp.Protocol
	} else {
		s.State = SessStarting
		v.RetryAfter = 10
	}
	v.State = s.State
	return v, b.st.PutSession(ctx, s)
}

// poolFull reports whether the pool is at its maximum with no desktop on
// its way back to the pool.
func (b *Broker) poolFull(ctx context.Context, p Pool) (bool, error) {
	ds, err := b.st.PoolDesktops(ctx, p.Name)
	if err != nil {
		return false, err
	}
	in, err := b.st.Intents(ctx, p.Name)
	if err != nil {
		return false, err
	}
	n := len(in)
	for _, d := range ds {
		if d.Release != ReleaseNone {
			return false, nil
		}
		if d.State != "TERMINATED" {
			n++
		}
	}
	return n >= p.Max, nil
}

// pickFree returns a free desktop of the pool: AVAILABLE first, then ones
// on their way up, then STOPPED; nil if none.
func (b *Broker) pickFree(ctx context.Context, pool string) (*Desktop, error) {
	ds, err := b.st.PoolDesktops(ctx, pool)
	if err != nil {
		return nil, err
	}
	rank := func(d *Desktop) int {
		switch d.State {
		case "AVAILABLE":
			return 0
		case "PENDING", "STARTING", "REBOOTING":
			return 1
		case "STOPPED":
			return 2
		}
		return -1
	}
	var free []*Desktop
	for _, d := range ds {
		if d.User == "" && d.Release == ReleaseNone && rank(d) >= 0 {
			free = append(free, d)
		}
	}
	slices.SortStableFunc(free, func(x, y *Desktop) int { return rank(x) - rank(y) })
	if len(free) == 0 {
		return nil, nil
	}
	return free[0], nil
}

// GetSession is GET /v1/sessions/{id}: a live session is moved forward as
// RequestSession would.
func (b *Broker) GetSession(ctx context.Context, id string) (*SessionView, error) {
	if b.region != nil {
		return b.orStandby(func(x *Broker) (*SessionView, error) { return x.getSession(ctx, id) })
	}
	return b.getSession(ctx, id)
}

// SessionWithTicket is GetSession with a new connection ticket when the
// session is active and a gateway is live (GET /v1/sessions/{id}).
func (b *Broker) SessionWithTicket(ctx context.Context, id string) (*SessionView, error) {
	v, err := b.GetSession(ctx, id)
	if err == nil && v.Ticket == "" {
		b.hub.attach(ctx, b, v)
	}
	return v, err
}

func (b *Broker) getSession(ctx context.Context, id string) (*SessionView, error) {
	s, err := b.st.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrNoSession
	}
	switch s.State {
	case SessWaiting, SessStarting:
		return b.RequestSession(ctx, s.User)
	}
	v := &SessionView{SessionID: s.ID, User: s.User, Pool: s.Pool, Policy: s.Policy, State: s.State, WorkspaceID: s.WorkspaceID, Region: b.cfg.Region}
	d, err := b.st.Desktop(ctx, s.WorkspaceID)
	if err != nil {
		return nil, err
	}
	if d != nil {
		v.DesktopState = d.State
		if s.State == SessActive {
			pol := b.policy(s.Policy)
			if pol != nil {
				pp := b.cfg.ProtocolPlans[pol.ProtocolPlan]
				v.IP, v.Port, v.Protocol = d.IP, pp.Port, pp.Protocol
			}
		}
	}
	return v, nil
}

func (b *Broker) policy(name string) *Policy {
	for i := range b.cfg.Policies {
		if b.cfg.Policies[i].Name == name {
			return &b.cfg.Policies[i]
		}
	}
	return nil
}

// Disconnect is POST /v1/sessions/{id}/disconnect: the power plan's
// on_disconnect action applies; the assignment stays.
func (b *Broker) Disconnect(ctx context.Context, id string) (*SessionView, error) {
	return b.endSession(ctx, id, false)
}

// Logout is POST /v1/sessions/{id}/logout: the release plan decides whether
// the desktop stays assigned (then the power plan's on_logout applies) or is
// rebuilt and returned to the pool.
func (b *Broker) Logout(ctx context.Context, id string) (*SessionView, error) {
	return b.endSession(ctx, id, true)
}

func (b *Broker) endSession(ctx context.Context, id string, logout bool) (*SessionView, error) {
	if b.region != nil {
		return b.orStandby(func(x *Broker) (*SessionView, error) { return x.endSessionHere(ctx, id, logout) })
	}
	return b.endSessionHere(ctx, id, logout)
}

func (b *Broker) endSessionHere(ctx context.Context, id string, logout bool) (*SessionView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.endSessionLocked(ctx, id, logout)
}

// endSessionLocked is endSessionHere with the broker's lock held.
func (b *Broker) endSessionLocked(ctx context.Context, id string, logout bool) (*SessionView, error) {
	now := b.clock.Now()
	s, err := b.st.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrNoSession
	}
	pol := b.policy(s.Policy)
	pool := b.cfg.Pool(s.Pool)
	if pol == nil || pool == nil {
		return nil, fmt.Errorf("session %s: policy %q or pool %q no longer configured", id, s.Policy, s.Pool)
	}
	if s.State == SessEnded || s.State == SessInterrupted || (s.State == SessDisconnected && !logout) {
		return &SessionView{SessionID: s.ID, User: s.User, Pool: s.Pool, Policy: s.Policy, State: s.State, WorkspaceID: s.WorkspaceID}, nil
	}
	s.UpdatedAt = now
	if logout {
		s.State = SessEnded
	} else {
		s.State = SessDisconnected
	}
	v := &SessionView{SessionID: s.ID, User: s.User, Pool: s.Pool, Policy: s.Policy, State: s.State, WorkspaceID: s.WorkspaceID, Region: b.cfg.Region}
	// The session's end and what the plans make of its desktop are one
	// transaction: a session recorded as ended with its desktop's stop
	// lost would never be stopped (ending it again changes nothing).
	var d *Desktop
	stopNow := false // the desktop is to be stopped by a call now
	err = b.st.Batch(ctx, func(st *Store) error {
		if err := st.PutSession(ctx, s); err != nil {
			return err
		}
		if s.WorkspaceID == "" {
			return nil
		}
		var err error
		if d, err = st.Desktop(ctx, s.WorkspaceID); err != nil || d == nil {
			return err
		}
		v.DesktopState = d.State
		pp := b.cfg.PowerPlans[pol.PowerPlan]
		var power PowerDecision
		if logout {
			dec := DecideLogout(b.cfg.ReleasePlans[pol.ReleasePlan], pp, pool.RunningMode, now)
			if dec.Release {
				b.log.Info("desktop released to the pool after a rebuild", "user", s.User, "workspace", d.ID)
				d = nil // released: nothing more to do with it here
				return st.Unassign(ctx, s.WorkspaceID, ReleaseNeedsRebuild, now)
			}
			power = dec.Power
		} else {
			power = DecidePower(pp.OnDisconnect, pool.RunningMode, now)
		}
		switch {
		case power.StopNow:
			d.StopAt = now // the reconciler retries if the call fails
			if d.State == "AVAILABLE" {
				d.StopRequested, stopNow = now, true
			}
		case !power.StopAt.IsZero():
			d.StopAt = power.StopAt
		}
		return st.PutDesktop(ctx, d)
	})
	if err != nil || !stopNow {
		return v, err
	}
	// Stop now: the stop is marked (a stop we asked for is not a service
	// stop); its outcome is recorded after the call.
	o, err := b.c.WorkSpaces.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: []types.StopRequest{{WorkspaceId: aws.String(d.ID)}}})
	if err != nil || len(o.FailedRequests) > 0 {
		d.StopRequested = time.Time{}
		b.Kick()
		return v, b.st.PutDesktop(ctx, d)
	}
	d.StopAt = time.Time{}
	return v, b.st.Batch(ctx, func(st *Store) error {
		if err := st.CloseUsage(ctx, d.ID, now); err != nil {
			return err
		}
		return st.PutDesktop(ctx, d)
	})
}
