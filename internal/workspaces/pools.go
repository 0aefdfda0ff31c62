package workspaces

// WorkSpaces Pools: CreateWorkspacesPool, DescribeWorkspacesPools,
// UpdateWorkspacesPool, StartWorkspacesPool, StopWorkspacesPool,
// TerminateWorkspacesPool, DescribeWorkspacesPoolSessions and
// TerminateWorkspacesPoolSession [MODEL].
//
// A pool lives in a directory registered with WorkspaceType POOLS and runs
// one of the caller's bundles or a public one. Its states are driven by the
// lifecycle engine with the timing profile:
//
//	CreateWorkspacesPool       -> CREATING -(provision)-> RUNNING
//	StopWorkspacesPool         RUNNING -> STOPPING -(stop)-> STOPPED      (AUTO_STOP pools only)
//	StartWorkspacesPool        STOPPED -> STARTING -(start)-> RUNNING     (AUTO_STOP pools only)
//	UpdateWorkspacesPool       RUNNING -> UPDATING -(modify)-> RUNNING; a STOPPED pool is updated at once
//	TerminateWorkspacesPool    RUNNING|STOPPED -> DELETING -(terminate)-> gone
//
// The running mode changes only while the pool is STOPPED [AG:
// modify-running-mode-pool]. A call on a pool in a transitional state is
// answered OperationInProgressException. A RUNNING pool has its desired
// user sessions as actual capacity; a STOPPED one has none. deskplane does
// not stream pool sessions (no SAML sign-in to pools), so a pool has no
// sessions: DescribeWorkspacesPoolSessions lists none and
// TerminateWorkspacesPoolSession finds none. The sum of the desired user
// sessions of an account's pools in a Region is bounded by the WorkSpaces
// quota (quotas.workspaces).
//
// Records: tPools ACCOUNT/REGION/POOLID; pool names are unique per account
// and Region through tIdem ACCOUNT/REGION/pool/NAME.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

const (
	tPools      = "ws_pools" // ACCOUNT/REGION/POOLID
	jobPoolStep = "workspaces.pool-step"
)

// poolRec is a WorkSpaces pool.
type poolRec struct {
	ID          string               `json:"id"`
	Name        string               `json:"name"`
	Description string               `json:"description,omitempty"`
	BundleID    string               `json:"bundle"`
	DirectoryID string               `json:"dir"`
	Desired     int                  `json:"desired"`
	State       string               `json:"state"`
	RunningMode string               `json:"running_mode"`
	AppSettings *ApplicationSettings `json:"app_settings,omitempty"`
	Timeouts    *TimeoutSettings     `json:"timeouts,omitempty"`
	Tags        Tags                 `json:"tags,omitempty"`
	Created     time.Time            `json:"created"`
	Seq         int64                `json:"seq"`
}

// Capacity is the model's Capacity.
type Capacity struct {
	DesiredUserSessions *int `json:"DesiredUserSessions" v:"required,min=0"`
}

// ApplicationSettings is the model's ApplicationSettingsRequest (and, with
// S3BucketName, ApplicationSettingsResponse).
type ApplicationSettings struct {
	Status        string  `json:"Status" v:"required,enum=DISABLED|ENABLED"`
	SettingsGroup *string `json:"SettingsGroup,omitempty" v:"max=100,pattern=^[A-Za-z0-9_./()!*'-]+$"`
}

// applicationSettingsOut is the model's ApplicationSettingsResponse.
type applicationSettingsOut struct {
	Status        string `json:"Status"`
	SettingsGroup string `json:"SettingsGroup,omitempty"`
	S3BucketName  string `json:"S3BucketName,omitempty"`
}

// TimeoutSettings is the model's TimeoutSettings.
type TimeoutSettings struct {
	DisconnectTimeoutInSeconds     *int `json:"DisconnectTimeoutInSeconds,omitempty" v:"min=60,max=36000"`
	IdleDisconnectTimeoutInSeconds *int `json:"IdleDisconnectTimeoutInSeconds,omitempty" v:"min=0,max=36000"`
	MaxUserDurationInSeconds       *int `json:"MaxUserDurationInSeconds,omitempty" v:"min=600,max=432000"`
}

// createPoolIn is CreateWorkspacesPoolRequest.
type createPoolIn struct {
	PoolName            string               `json:"PoolName" v:"required,pattern=^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"`
	Description         string               `json:"Description" v:"required,min=1,max=255,pattern=^[a-zA-Z0-9_./() -]+$"`
	BundleId            string               `json:"BundleId" v:"required,pattern=^wsb-[0-9a-z]{8,63}$"`
	DirectoryId         string               `json:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	Capacity            *Capacity            `json:"Capacity" v:"required"`
	Tags                []Tag                `json:"Tags,omitempty"`
	ApplicationSettings *ApplicationSettings `json:"ApplicationSettings,omitempty"`
	TimeoutSettings     *TimeoutSettings     `json:"TimeoutSettings,omitempty"`
	RunningMode         *string              `json:"RunningMode,omitempty" v:"enum=AUTO_STOP|ALWAYS_ON"`
}

// updatePoolIn is UpdateWorkspacesPoolRequest.
type updatePoolIn struct {
	PoolId              string               `json:"PoolId" v:"required,pattern=^wspool-[0-9a-z]{9}$"`
	Description         *string              `json:"Description,omitempty" v:"min=1,max=255,pattern=^[a-zA-Z0-9_./() -]+$"`
	BundleId            *string              `json:"BundleId,omitempty" v:"pattern=^wsb-[0-9a-z]{8,63}$"`
	DirectoryId         *string              `json:"DirectoryId,omitempty" v:"min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	Capacity            *Capacity            `json:"Capacity,omitempty"`
	ApplicationSettings *ApplicationSettings `json:"ApplicationSettings,omitempty"`
	TimeoutSettings     *TimeoutSettings     `json:"TimeoutSettings,omitempty"`
	RunningMode         *string              `json:"RunningMode,omitempty" v:"enum=AUTO_STOP|ALWAYS_ON"`
}

// poolRef is the shape Start, Stop and TerminateWorkspacesPool's requests
// share; each operation has its own type of it.
type poolRef struct {
	PoolId string `json:"PoolId" v:"required,pattern=^wspool-[0-9a-z]{9}$"`
}

// startPoolIn is StartWorkspacesPoolRequest.
type startPoolIn poolRef

// stopPoolIn is StopWorkspacesPoolRequest.
type stopPoolIn poolRef

// terminatePoolIn is TerminateWorkspacesPoolRequest.
type terminatePoolIn poolRef

// poolFilter is the model's DescribeWorkspacesPoolsFilter.
type poolFilter struct {
	Name     string   `json:"Name" v:"required,enum=PoolName"`
	Values   []string `json:"Values" v:"required,min=1,max=25,mmin=1,mmax=128,pattern=^[A-Za-z0-9][A-Za-z0-9_.-]+$"`
	Operator string   `json:"Operator" v:"required,enum=EQUALS|NOTEQUALS|CONTAINS|NOTCONTAINS"`
}

// describePoolsIn is DescribeWorkspacesPoolsRequest.
type describePoolsIn struct {
	PoolIds   []string     `json:"PoolIds,omitempty" v:"min=1,max=25,pattern=^wspool-[0-9a-z]{9}$"`
	Filters   []poolFilter `json:"Filters,omitempty" v:"min=1,max=25"`
	Limit     *int         `json:"Limit,omitempty" v:"min=1,max=25"`
	NextToken *string      `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

// describePoolSessionsIn is DescribeWorkspacesPoolSessionsRequest.
type describePoolSessionsIn struct {
	PoolId    string  `json:"PoolId" v:"required,pattern=^wspool-[0-9a-z]{9}$"`
	UserId    *string `json:"UserId,omitempty" v:"min=2,max=128"`
	Limit     *int    `json:"Limit,omitempty" v:"min=1,max=50"`
	NextToken *string `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

// terminatePoolSessionIn is TerminateWorkspacesPoolSessionRequest.
type terminatePoolSessionIn struct {
	SessionId string `json:"SessionId" v:"required,min=36,max=36,pattern=[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"`
}

// CapacityStatus is the model's CapacityStatus.
type CapacityStatus struct {
	AvailableUserSessions int `json:"AvailableUserSessions"`
	DesiredUserSessions   int `json:"DesiredUserSessions"`
	ActualUserSessions    int `json:"ActualUserSessions"`
	ActiveUserSessions    int `json:"ActiveUserSessions"`
}

// WorkspacesPool is the model's WorkspacesPool.
type WorkspacesPool struct {
	PoolId              string                  `json:"PoolId"`
	PoolArn             string                  `json:"PoolArn"`
	CapacityStatus      CapacityStatus          `json:"CapacityStatus"`
	PoolName            string                  `json:"PoolName"`
	Description         string                  `json:"Description,omitempty"`
	State               string                  `json:"State"`
	CreatedAt           *awsproto.Time          `json:"CreatedAt"`
	BundleId            string                  `json:"BundleId"`
	DirectoryId         string                  `json:"DirectoryId"`
	ApplicationSettings *applicationSettingsOut `json:"ApplicationSettings,omitempty"`
	TimeoutSettings     *TimeoutSettings        `json:"TimeoutSettings,omitempty"`
	RunningMode         string                  `json:"RunningMode"`
}

// poolOut is the result of Create and UpdateWorkspacesPool.
type poolOut struct {
	WorkspacesPool *WorkspacesPool `json:"WorkspacesPool,omitempty"`
}

// describePoolsOut is DescribeWorkspacesPoolsResult.
type describePoolsOut struct {
	WorkspacesPools []WorkspacesPool `json:"WorkspacesPools"`
	NextToken       *string          `json:"NextToken,omitempty"`
}

// WorkspacesPoolSession is the model's WorkspacesPoolSession.
type WorkspacesPoolSession struct {
	SessionId string `json:"SessionId"`
	PoolId    string `json:"PoolId"`
	UserId    string `json:"UserId"`
}

// describePoolSessionsOut is DescribeWorkspacesPoolSessionsResult.
type describePoolSessionsOut struct {
	Sessions  []WorkspacesPoolSession `json:"Sessions"`
	NextToken *string                 `json:"NextToken,omitempty"`
}

// poolJob is the payload of a pool step.
type poolJob struct {
	Key   string `json:"key"`
	Seq   int64  `json:"seq"`
	State string `json:"state"` // the state the step ends in; "" removes the pool
}

// createWorkspacesPoolResources resolves the resources CreateWorkspacesPool is authorized on.
func (m *Module) createWorkspacesPoolResources(ctx context.Context, c *gateway.Call, in *createPoolIn) ([]gateway.Check, error) {
	checks, err := m.dirChecks(ctx, c, in.DirectoryId)
	if err != nil {
		return nil, err
	}
	bt, err := m.resourceTags(ctx, c.Account, c.Region, in.BundleId)
	if err != nil {
		return nil, err
	}
	checks = append(checks,
		gateway.Check{Resource: ARN(c.Region, c.Account, "workspacebundle", in.BundleId), ResourceTags: orEmpty(bt)},
		withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "workspacespool", "*")}, in.Tags))
	return append(checks, createTagsCheck(in.Tags)...), nil
}

// describeWorkspacesPoolsResources resolves the resources DescribeWorkspacesPools is authorized on.
func (m *Module) describeWorkspacesPoolsResources(ctx context.Context, c *gateway.Call, in *describePoolsIn) ([]gateway.Check, error) {
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspacespool", "*")}}, nil
}

// updateWorkspacesPoolResources resolves the resources UpdateWorkspacesPool is authorized on.
func (m *Module) updateWorkspacesPoolResources(ctx context.Context, c *gateway.Call, in *updatePoolIn) ([]gateway.Check, error) {
	return m.poolChecks(ctx, c, in.PoolId)
}

// startWorkspacesPoolResources resolves the resources StartWorkspacesPool is authorized on.
func (m *Module) startWorkspacesPoolResources(ctx context.Context, c *gateway.Call, in *startPoolIn) ([]gateway.Check, error) {
	return m.poolChecks(ctx, c, in.PoolId)
}

// stopWorkspacesPoolResources resolves the resources StopWorkspacesPool is authorized on.
func (m *Module) stopWorkspacesPoolResources(ctx context.Context, c *gateway.Call, in *stopPoolIn) ([]gateway.Check, error) {
	return m.poolChecks(ctx, c, in.PoolId)
}

// terminateWorkspacesPoolResources resolves the resources TerminateWorkspacesPool is authorized on.
func (m *Module) terminateWorkspacesPoolResources(ctx context.Context, c *gateway.Call, in *terminatePoolIn) ([]gateway.Check, error) {
	return m.poolChecks(ctx, c, in.PoolId)
}

// describeWorkspacesPoolSessionsResources resolves the resources DescribeWorkspacesPoolSessions is authorized on.
func (m *Module) describeWorkspacesPoolSessionsResources(ctx context.Context, c *gateway.Call, in *describePoolSessionsIn) ([]gateway.Check, error) {
	return m.poolChecks(ctx, c, in.PoolId)
}

// terminateWorkspacesPoolSessionResources resolves the resources TerminateWorkspacesPoolSession is authorized on.
func (m *Module) terminateWorkspacesPoolSessionResources(ctx context.Context, c *gateway.Call, in *terminatePoolSessionIn) ([]gateway.Check, error) {
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspacespool", "*")}}, nil
}

// poolChecks authorizes an action on one of the caller's pools, with its tags.
func (m *Module) poolChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	var tags Tags
	err := m.store.View(ctx, func(tx store.Tx) error {
		p, err := getRec[poolRec](ctx, tx, tPools, key(c.Account, c.Region, id))
		if p != nil {
			tags = p.Tags
		}
		return err
	})
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspacespool", id), ResourceTags: orEmpty(tags)}}, err
}

func errInProgress(format string, a ...any) error {
	return awsproto.Errorf("OperationInProgressException", format, a...)
}

// poolTransitional reports whether a pool state is one a step is running in.
func poolTransitional(state string) bool {
	return isIn(state, "CREATING", "STARTING", "STOPPING", "UPDATING", "DELETING")
}

// poolDirectory returns the caller's directory if it is registered for pools.
func poolDirectory(ctx context.Context, tx store.Tx, account, region, id string) error {
	d, err := registeredDir(ctx, tx, account, region, id)
	if err != nil {
		return err
	}
	if d.WorkspaceType != "POOLS" {
		return errInvalid("The directory %s is registered for personal WorkSpaces; a pool needs a directory registered with WorkspaceType POOLS.", id)
	}
	return nil
}

// poolBundle checks that the bundle exists for the caller and is AVAILABLE.
func (m *Module) poolBundle(ctx context.Context, tx store.Tx, account, region, id string) error {
	b, err := m.lookupBundle(ctx, tx, account, region, id)
	if err != nil {
		return err
	}
	if b == nil {
		return errNotFound("The bundle %s could not be found.", id)
	}
	if b.State != "" && b.State != "AVAILABLE" {
		return errInvalid("The bundle %s is %s; a pool needs an AVAILABLE bundle.", id, b.State)
	}
	return nil
}

// checkPoolCapacity bounds the desired sessions of the account's pools in
// the Region (all but skip, plus want) by the WorkSpaces quota.
func (m *Module) checkPoolCapacity(ctx context.Context, tx store.Tx, account, region, skip string, want int) error {
	total := want
	err := store.ScanJSON[poolRec](ctx, tx, tPools, prefix(account, region), "", 0, func(_ string, p *poolRec) error {
		if p.ID != skip {
			total += p.Desired
		}
		return nil
	})
	if err != nil {
		return err
	}
	if total > m.cfg.Quotas.Workspaces {
		return errLimit("The desired user sessions of the pools in this Region (%d) would exceed the limit of %d.", total, m.cfg.Quotas.Workspaces)
	}
	return nil
}

// schedulePoolStep moves a pool to a transitional state and schedules the
// step that ends it in next ("" removes the pool).
func (m *Module) schedulePoolStep(ctx context.Context, tx store.Tx, k string, p *poolRec, state, next string, step lifecycle.Step, now time.Time) error {
	p.State = state
	p.Seq++
	if err := putRec(ctx, tx, tPools, k, p); err != nil {
		return err
	}
	return m.engine.Schedule(ctx, tx, "pool/"+k, jobPoolStep, now.Add(m.timing(step)), poolJob{Key: k, Seq: p.Seq, State: next})
}

// runPoolStep ends a pool's transitional state.
func (m *Module) runPoolStep(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	var pj poolJob
	if err := json.Unmarshal(j.Payload, &pj); err != nil {
		return fmt.Errorf("decode job %s: %w", j.ID, err)
	}
	p, err := getRec[poolRec](ctx, tx, tPools, pj.Key)
	if err != nil || p == nil || p.Seq != pj.Seq {
		return err
	}
	if pj.State == "" {
		if err := tx.Delete(ctx, tPools, pj.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		parts := splitKey(pj.Key)
		if err := tx.Delete(ctx, tIdem, nameKey(parts[0], parts[1], "pool", p.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	p.State = pj.State
	p.Seq++
	return putRec(ctx, tx, tPools, pj.Key, p)
}

func (m *Module) createPool(ctx context.Context, c *gateway.Call, in *createPoolIn) (*poolOut, error) {
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	desired := ptr.Deref(in.Capacity.DesiredUserSessions)
	mode := "AUTO_STOP"
	if in.RunningMode != nil {
		mode = *in.RunningMode
	}
	p := &poolRec{ID: newID("wspool-"), Name: in.PoolName, Description: in.Description, BundleID: in.BundleId, DirectoryID: in.DirectoryId,
		Desired: desired, RunningMode: mode, AppSettings: in.ApplicationSettings, Timeouts: in.TimeoutSettings, Tags: tags, Created: c.Now}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		if err := poolDirectory(ctx, tx, c.Account, c.Region, in.DirectoryId); err != nil {
			return err
		}
		if err := m.poolBundle(ctx, tx, c.Account, c.Region, in.BundleId); err != nil {
			return err
		}
		if err := m.checkPoolCapacity(ctx, tx, c.Account, c.Region, "", desired); err != nil {
			return err
		}
		if err := tx.Create(ctx, tIdem, nameKey(c.Account, c.Region, "pool", in.PoolName), []byte(`"`+p.ID+`"`)); err != nil {
			if errors.Is(err, store.ErrExists) {
				return errExists("A pool named %q already exists in this account and Region.", in.PoolName)
			}
			return err
		}
		return m.schedulePoolStep(ctx, tx, key(c.Account, c.Region, p.ID), p, "CREATING", "RUNNING", lifecycle.Provision, c.Now)
	})
	if err != nil {
		return nil, err
	}
	return &poolOut{WorkspacesPool: renderPool(c.Region, c.Account, p)}, nil
}

// renderPool renders a pool as the model's WorkspacesPool.
func renderPool(region, account string, p *poolRec) *WorkspacesPool {
	out := &WorkspacesPool{PoolId: p.ID, PoolArn: ARN(region, account, "workspacespool", p.ID), PoolName: p.Name, Description: p.Description,
		State: p.State, CreatedAt: awsproto.NewTime(p.Created), BundleId: p.BundleID, DirectoryId: p.DirectoryID,
		TimeoutSettings: p.Timeouts, RunningMode: p.RunningMode}
	out.CapacityStatus.DesiredUserSessions = p.Desired
	if isIn(p.State, "RUNNING", "UPDATING") {
		out.CapacityStatus.ActualUserSessions = p.Desired
		out.CapacityStatus.AvailableUserSessions = p.Desired
	}
	if a := p.AppSettings; a != nil {
		out.ApplicationSettings = &applicationSettingsOut{Status: a.Status}
		if a.Status == "ENABLED" {
			// Application settings persistence keeps the settings group in
			// the account's WorkSpaces bucket of the Region.
			out.ApplicationSettings.SettingsGroup = ptr.Deref(a.SettingsGroup)
			out.ApplicationSettings.S3BucketName = "wspool-app-settings-" + region + "-" + account
		}
	}
	return out
}

// ownPool returns one of the caller's pools or ResourceNotFoundException.
func ownPool(ctx context.Context, tx store.Tx, account, region, id string) (*poolRec, string, error) {
	k := key(account, region, id)
	p, err := getRec[poolRec](ctx, tx, tPools, k)
	if err != nil {
		return nil, "", err
	}
	if p == nil {
		return nil, "", errNotFound("The pool %s could not be found.", id)
	}
	return p, k, nil
}

func (m *Module) describePools(ctx context.Context, c *gateway.Call, in *describePoolsIn) (*describePoolsOut, error) {
	limit := 25
	if in.Limit != nil {
		limit = *in.Limit
	}
	within := prefix(c.Account, c.Region)
	after, err := parseToken(in.NextToken, within)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, id := range in.PoolIds {
		ids[id] = true
	}
	out := &describePoolsOut{WorkspacesPools: []WorkspacesPool{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		last := ""
		return store.ScanJSON[poolRec](ctx, tx, tPools, within, after, 0, func(k string, p *poolRec) error {
			if len(ids) > 0 && !ids[p.ID] || !poolMatches(p, in.Filters) {
				return nil
			}
			if len(out.WorkspacesPools) == limit {
				out.NextToken = pageToken(last)
				return store.ErrStop
			}
			last = k
			out.WorkspacesPools = append(out.WorkspacesPools, *renderPool(c.Region, c.Account, p))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// poolMatches applies the PoolName filters (all must hold; a filter holds
// when its operator holds for any of its values, or, for the negative
// operators, for all of them).
func poolMatches(p *poolRec, filters []poolFilter) bool {
	for _, f := range filters {
		ok := false
		switch f.Operator {
		case "EQUALS":
			for _, v := range f.Values {
				ok = ok || p.Name == v
			}
		case "CONTAINS":
			for _, v := range f.Values {
				ok = ok || strings.Contains(p.Name, v)
			}
		case "NOTEQUALS":
			ok = true
			for _, v := range f.Values {
				ok = ok && p.Name != v
			}
		case "NOTCONTAINS":
			ok = true
			for _, v := range f.Values {
				ok = ok && !strings.Contains(p.Name, v)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (m *Module) updatePool(ctx context.Context, c *gateway.Call, in *updatePoolIn) (*poolOut, error) {
	var out *poolRec
	err := m.store.Update(ctx, func(tx store.Tx) error {
		p, k, err := ownPool(ctx, tx, c.Account, c.Region, in.PoolId)
		if err != nil {
			return err
		}
		if poolTransitional(p.State) {
			return errInProgress("The pool %s is %s; try again once it is RUNNING or STOPPED.", in.PoolId, p.State)
		}
		if in.RunningMode != nil && *in.RunningMode != p.RunningMode && p.State != "STOPPED" {
			return errState("The running mode of pool %s can be changed only while it is STOPPED; it is %s.", in.PoolId, p.State)
		}
		if in.DirectoryId != nil && *in.DirectoryId != p.DirectoryID {
			if err := poolDirectory(ctx, tx, c.Account, c.Region, *in.DirectoryId); err != nil {
				return err
			}
			p.DirectoryID = *in.DirectoryId
		}
		if in.BundleId != nil && *in.BundleId != p.BundleID {
			if err := m.poolBundle(ctx, tx, c.Account, c.Region, *in.BundleId); err != nil {
				return err
			}
			p.BundleID = *in.BundleId
		}
		if in.Capacity != nil {
			d := ptr.Deref(in.Capacity.DesiredUserSessions)
			if err := m.checkPoolCapacity(ctx, tx, c.Account, c.Region, p.ID, d); err != nil {
				return err
			}
			p.Desired = d
		}
		if in.Description != nil {
			p.Description = *in.Description
		}
		if in.ApplicationSettings != nil {
			p.AppSettings = in.ApplicationSettings
		}
		if in.TimeoutSettings != nil {
			p.Timeouts = in.TimeoutSettings
		}
		if in.RunningMode != nil {
			p.RunningMode = *in.RunningMode
		}
		out = p
		if p.State == "RUNNING" {
			return m.schedulePoolStep(ctx, tx, k, p, "UPDATING", "RUNNING", lifecycle.Modify, c.Now)
		}
		p.Seq++
		return putRec(ctx, tx, tPools, k, p)
	})
	if err != nil {
		return nil, err
	}
	return &poolOut{WorkspacesPool: renderPool(c.Region, c.Account, out)}, nil
}

func (m *Module) startPool(ctx context.Context, c *gateway.Call, in *startPoolIn) (*struct{}, error) {
	return m.movePool(ctx, c, in.PoolId, "STOPPED", func(p *poolRec) error {
		if p.RunningMode != "AUTO_STOP" {
			return errUnsupported("The pool %s has running mode %s; only AUTO_STOP pools are started and stopped.", p.ID, p.RunningMode)
		}
		if p.State != "STOPPED" {
			return errState("The pool %s is %s; only a STOPPED pool can be started.", p.ID, p.State)
		}
		return nil
	}, "STARTING", "RUNNING", lifecycle.Start)
}

func (m *Module) stopPool(ctx context.Context, c *gateway.Call, in *stopPoolIn) (*struct{}, error) {
	return m.movePool(ctx, c, in.PoolId, "RUNNING", func(p *poolRec) error {
		if p.RunningMode != "AUTO_STOP" {
			return errState("The pool %s has running mode %s; only AUTO_STOP pools can be stopped.", p.ID, p.RunningMode)
		}
		if p.State != "RUNNING" {
			return errState("The pool %s is %s; only a RUNNING pool can be stopped.", p.ID, p.State)
		}
		return nil
	}, "STOPPING", "STOPPED", lifecycle.Stop)
}

func (m *Module) terminatePool(ctx context.Context, c *gateway.Call, in *terminatePoolIn) (*struct{}, error) {
	return m.movePool(ctx, c, in.PoolId, "RUNNING or STOPPED", func(*poolRec) error { return nil }, "DELETING", "", lifecycle.Terminate)
}

// movePool schedules a lifecycle step of one of the caller's pools: a pool
// in a transitional state is refused (retry once it is settled, the states
// named), then check decides, then the pool goes to state and on to next.
func (m *Module) movePool(ctx context.Context, c *gateway.Call, id, settled string, check func(p *poolRec) error, state, next string, step lifecycle.Step) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		p, k, err := ownPool(ctx, tx, c.Account, c.Region, id)
		if err != nil {
			return err
		}
		if poolTransitional(p.State) {
			return errInProgress("The pool %s is %s; try again once it is %s.", id, p.State, settled)
		}
		if err := check(p); err != nil {
			return err
		}
		return m.schedulePoolStep(ctx, tx, k, p, state, next, step, c.Now)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// describePoolSessions lists a pool's streaming sessions: deskplane streams
// none, so an existing pool has none.
func (m *Module) describePoolSessions(ctx context.Context, c *gateway.Call, in *describePoolSessionsIn) (*describePoolSessionsOut, error) {
	if _, err := parseToken(in.NextToken, in.PoolId+"/"); err != nil {
		return nil, err
	}
	err := m.store.View(ctx, func(tx store.Tx) error {
		_, _, err := ownPool(ctx, tx, c.Account, c.Region, in.PoolId)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &describePoolSessionsOut{Sessions: []WorkspacesPoolSession{}}, nil
}

// terminatePoolSession ends a pool session; as no pool has sessions, the
// session is never found.
func (m *Module) terminatePoolSession(ctx context.Context, c *gateway.Call, in *terminatePoolSessionIn) (*struct{}, error) {
	e := awsproto.Errorf("ResourceNotFoundException", "The pool session %s could not be found.", in.SessionId)
	e.Fields = map[string]string{"ResourceId": in.SessionId}
	return nil, e
}

// checkPoolsUse refuses to remove a bundle or directory (what: "bundle" or
// "directory") that one of the account's pools in the Region uses: a
// ResourceAssociatedException for a bundle, OperationNotSupportedException
// for a directory (as for one that still has WorkSpaces).
func (m *Module) checkPoolsUse(ctx context.Context, tx store.Tx, account, region, what, id string) error {
	var user *poolRec
	err := store.ScanJSON[poolRec](ctx, tx, tPools, prefix(account, region), "", 0, func(_ string, p *poolRec) error {
		if what == "bundle" && p.BundleID == id || what == "directory" && p.DirectoryID == id {
			user = p
			return store.ErrStop
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case user == nil:
		return nil
	case what == "bundle":
		return errAssociated("The bundle %s is used by the pool %s; terminate the pool or update it to another bundle first.", id, user.ID)
	}
	return errUnsupported("The directory %s still has the pool %s; terminate it before deregistering the directory.", id, user.ID)
}
