package broker

// Standby WorkSpaces (Pool.Standby.Workspaces): each primary desktop of
// such a pool gets its own standby WorkSpace in the standby region
// (CreateStandbyWorkspaces, called there with the primary's id), recorded
// with the desktop in the primary's store (standby_ws). During a failover
// a user whose primary desktop has a standby is served that standby
// (started if stopped) by the standby region's broker instead of a fresh
// desktop of its pool; on recovery those sessions end, the standbys are
// stopped, and the users' next sessions come from their primary desktops.
// A primary desktop that is gone (terminated) has its standby terminated.
// Standby WorkSpaces carry no PartnerManaged tag: the standby region's
// pool never adopts them.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// reconcileStandbys is the part of a successful pass of a primary that
// keeps its desktops' standby WorkSpaces: it records the standbys the
// primaries show (DescribeWorkspaces' StandbyWorkspacesProperties, so a
// standby created just before a crash is adopted), asks for the missing
// ones, and terminates the standbys of primaries that are gone. Calls to
// the standby region that fail are reported in the pool's errors (they
// must not count against the primary region); store errors fail the pass.
func (b *Broker) reconcileStandbys(ctx context.Context, obs map[string][]types.Workspace, now time.Time, rep *PassReport) error {
	r := b.region
	if r == nil {
		return nil
	}
	sb := r.standby
	recs, err := b.st.Standbys(ctx)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, p := range b.cfg.Pools {
		if p.Standby == nil || !p.Standby.Workspaces {
			continue
		}
		pr := rep.Pools[p.Name]
		var reqs []types.StandbyWorkspace
		for _, w := range obs[p.Name] {
			id := aws.ToString(w.WorkspaceId)
			if w.State == types.WorkspaceStateTerminating || w.State == types.WorkspaceStateTerminated {
				continue
			}
			live[id] = true
			sid := ""
			for _, sp := range w.StandbyWorkspacesProperties {
				if s := aws.ToString(sp.StandbyWorkspaceId); s != "" {
					sid = s
				}
			}
			rec, known := recs[id]
			if sid != "" {
				if !known || rec.StandbyID != sid {
					if err := b.st.PutStandby(ctx, StandbyWS{WorkspaceID: id, StandbyID: sid, Region: sb.cfg.Region, CreatedAt: now}); err != nil {
						return err
					}
					if err := b.st.Event(ctx, now, "standby_recorded", id, sb.cfg.Region+" "+sid); err != nil {
						return err
					}
				}
				continue
			}
			if known {
				// The primary shows no standby any more (it was terminated
				// in the standby region): ask for a new one.
				if err := b.st.DropStandby(ctx, id); err != nil {
					return err
				}
				if err := b.st.Event(ctx, now, "standby_lost", id, rec.StandbyID); err != nil {
					return err
				}
			}
			if w.State != types.WorkspaceStateAvailable && w.State != types.WorkspaceStateStopped {
				continue // asked for once the primary is provisioned
			}
			req := types.StandbyWorkspace{PrimaryWorkspaceId: aws.String(id)}
			if p.Standby.DataReplication != "" {
				req.DataReplication = types.DataReplication(p.Standby.DataReplication)
			}
			if p.Standby.VolumeEncryptionKey != "" {
				req.VolumeEncryptionKey = aws.String(p.Standby.VolumeEncryptionKey)
			}
			reqs = append(reqs, req)
		}
		if len(reqs) > 0 {
			errs, asked := sb.createStandbys(ctx, b.cfg.Region, p.Name, reqs)
			pr.Errors = append(pr.Errors, errs...)
			pr.StandbyCreated = append(pr.StandbyCreated, asked...)
		}
		rep.Pools[p.Name] = pr
	}
	// Standbys whose primary is gone are terminated.
	var orphans []StandbyWS
	for id, rec := range recs {
		if !live[id] {
			orphans = append(orphans, rec)
		}
	}
	slices.SortFunc(orphans, func(x, y StandbyWS) int { return strings.Compare(x.WorkspaceID, y.WorkspaceID) })
	for batch := range slices.Chunk(orphans, 25) {
		var reqs []types.TerminateRequest
		for _, o := range batch {
			reqs = append(reqs, types.TerminateRequest{WorkspaceId: aws.String(o.StandbyID)})
		}
		out, err := sb.c.WorkSpaces.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: reqs})
		if err != nil {
			b.log.Warn("terminating standby WorkSpaces failed; the next pass retries", "region", sb.cfg.Region, "err", err)
			continue
		}
		failed := map[string]string{}
		for _, f := range out.FailedRequests {
			failed[aws.ToString(f.WorkspaceId)] = aws.ToString(f.ErrorCode)
		}
		for _, o := range batch {
			if code, ok := failed[o.StandbyID]; ok && !strings.Contains(code, "NotFound") {
				b.log.Warn("terminating a standby WorkSpace failed; the next pass retries", "standby", o.StandbyID, "code", code)
				continue
			}
			if err := b.st.Event(ctx, now, "standby_terminated", o.WorkspaceID, sb.cfg.Region+" "+o.StandbyID); err != nil {
				return err
			}
			if err := b.st.DropStandby(ctx, o.WorkspaceID); err != nil {
				return err
			}
		}
	}
	return nil
}

// createStandbys asks the standby region (this broker) for standby
// WorkSpaces of primaries in primaryRegion, in its directory of pool. It
// returns the errors to report and the primaries asked for; the standbys
// are recorded from the primaries' next observation.
func (sb *Broker) createStandbys(ctx context.Context, primaryRegion, pool string, reqs []types.StandbyWorkspace) (errs, asked []string) {
	sb.mu.Lock()
	err := sb.resolve(ctx)
	dir := sb.dirID[pool]
	sb.mu.Unlock()
	if err != nil {
		return []string{fmt.Sprintf("standby %s: %v", sb.cfg.Region, err)}, nil
	}
	for batch := range slices.Chunk(reqs, 25) {
		for i := range batch {
			batch[i].DirectoryId = aws.String(dir)
		}
		out, err := sb.c.WorkSpaces.CreateStandbyWorkspaces(ctx, &workspaces.CreateStandbyWorkspacesInput{
			PrimaryRegion: aws.String(primaryRegion), StandbyWorkspaces: batch})
		if err != nil {
			errs = append(errs, fmt.Sprintf("CreateStandbyWorkspaces %s: %v", sb.cfg.Region, err))
			continue
		}
		failed := map[string]bool{}
		for _, f := range out.FailedStandbyRequests {
			id := ""
			if f.StandbyWorkspaceRequest != nil {
				id = aws.ToString(f.StandbyWorkspaceRequest.PrimaryWorkspaceId)
			}
			failed[id] = true
			errs = append(errs, fmt.Sprintf("standby of %s: %s: %s", id, aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
		}
		for _, r := range batch {
			if id := aws.ToString(r.PrimaryWorkspaceId); !failed[id] {
				asked = append(asked, id)
			}
		}
	}
	return errs, asked
}

// userStandby returns the standby WorkSpace of the user's primary desktop
// in pool when the pool keeps standby WorkSpaces (nil: none). It reads the
// primary's store only: it is asked while the primary region fails.
func (b *Broker) userStandby(ctx context.Context, pool, user string) (*StandbyWS, error) {
	p := b.cfg.Pool(pool)
	if p == nil || p.Standby == nil || !p.Standby.Workspaces {
		return nil, nil
	}
	d, err := b.st.UserDesktop(ctx, pool, user)
	if err != nil || d == nil {
		return nil, err
	}
	return b.st.Standby(ctx, d.ID)
}

// progressStandby moves a session of the standby region forward on the
// user's own standby WorkSpace: started if stopped, ready when AVAILABLE.
// It answers nil (and the caller serves a pool desktop) when the standby
// cannot serve: gone, terminating, or in ERROR.
func (b *Broker) progressStandby(ctx context.Context, s *Session, pol *Policy, rec *StandbyWS, now time.Time) (*SessionView, error) {
	out, err := b.c.WorkSpaces.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{rec.StandbyID}})
	if err != nil {
		return nil, fmt.Errorf("DescribeWorkspaces %s: %w", rec.StandbyID, err)
	}
	if len(out.Workspaces) != 1 {
		return nil, nil
	}
	w := out.Workspaces[0]
	state := string(w.State)
	if isBad(state) || state == "TERMINATING" || state == "TERMINATED" || state == "SUSPENDED" {
		b.log.Warn("standby WorkSpace cannot serve; a pool desktop serves the user", "standby", rec.StandbyID, "state", state, "user", s.User)
		return nil, nil
	}
	if state == "STOPPED" {
		o, err := b.c.WorkSpaces.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: []types.StartRequest{{WorkspaceId: aws.String(rec.StandbyID)}}})
		if err != nil || len(o.FailedRequests) > 0 {
			b.log.Warn("starting a standby WorkSpace failed; the next request retries", "standby", rec.StandbyID, "err", err)
		} else if err := b.st.Event(ctx, now, "standby_start", rec.StandbyID, s.User); err != nil {
			return nil, err
		}
	}
	s.WorkspaceID, s.UpdatedAt = rec.StandbyID, now
	v := &SessionView{SessionID: s.ID, User: s.User, Pool: s.Pool, Policy: s.Policy, Region: b.cfg.Region,
		WorkspaceID: rec.StandbyID, DesktopState: state}
	if state == "AVAILABLE" && aws.ToString(w.IpAddress) != "" {
		if s.State != SessActive {
			b.metrics.grant.Observe(now.Sub(s.CreatedAt).Seconds())
			b.log.Info("user served by their standby WorkSpace", "user", s.User, "standby", rec.StandbyID, "primary", rec.WorkspaceID)
		}
		s.State = SessActive
		pp := b.cfg.ProtocolPlans[pol.ProtocolPlan]
		v.IP, v.Port, v.Protocol = aws.ToString(w.IpAddress), pp.Port, pp.Protocol
	} else {
		s.State = SessStarting
		v.RetryAfter = 10
	}
	v.State = s.State
	return v, b.st.PutSession(ctx, s)
}

// returnFromStandby runs on recovery: the standby region's sessions on
// standby WorkSpaces end (their users' next sessions come from their
// primary desktops) and those standbys are stopped.
func (b *Broker) returnFromStandby(ctx context.Context, sb *Broker) {
	recs, err := b.st.Standbys(ctx)
	if err != nil || len(recs) == 0 {
		if err != nil {
			b.log.Error("recovery: reading standby WorkSpaces", "err", err)
		}
		return
	}
	standby := map[string]bool{}
	for _, r := range recs {
		standby[r.StandbyID] = true
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	now := sb.clock.Now()
	live, err := sb.st.LiveSessions(ctx)
	if err != nil {
		b.log.Error("recovery: reading the standby's sessions", "err", err)
		return
	}
	var stop []types.StopRequest
	for _, s := range live {
		if !standby[s.WorkspaceID] {
			continue
		}
		s.State, s.UpdatedAt = SessEnded, now
		if err := sb.st.PutSession(ctx, s); err != nil {
			b.log.Error("recovery: ending a standby session", "session", s.ID, "err", err)
			continue
		}
		_ = sb.st.Event(ctx, now, "standby_session_returned", s.WorkspaceID, s.User)
		stop = append(stop, types.StopRequest{WorkspaceId: aws.String(s.WorkspaceID)})
	}
	for batch := range slices.Chunk(stop, 25) {
		if _, err := sb.c.WorkSpaces.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: batch}); err != nil {
			b.log.Warn("recovery: stopping standby WorkSpaces", "err", err)
		}
	}
}
