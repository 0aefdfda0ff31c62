package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/httpguard"
)

// Broker is the partner control plane: pools, sessions, power and release
// plans, reconciliation and cost, over the WorkSpaces API.
type Broker struct {
	cfg   *Config
	c     *Clients
	st    *Store
	clock Clock
	log   *slog.Logger

	// mu serialises decisions: a reconcile pass and session requests never
	// interleave, so assignments and pool counts stay consistent.
	mu   sync.Mutex
	pass int64
	// resolved pool -> directory id and bundle id.
	dirID    map[string]string
	bundleID map[string]string

	groupsMu sync.Mutex
	groups   map[string]cachedGroups

	kick chan struct{}
	// metrics are the broker's Prometheus metrics (GET /metrics).
	metrics *Metrics
	// cache holds what a reconcile pass read from the store once (nil
	// outside a pass): the pools' live desktops, the open usage intervals
	// and the create intents, so that an unchanged desktop costs no store
	// access at all.
	cache *passCache
	// tenant names the customer this broker serves in a Fleet.
	tenant string
	// region is the failover state when pools have a standby region.
	region *regional
	// primary, in a standby region's broker, is the tenant's primary
	// broker, whose store records its desktops' standby WorkSpaces.
	primary *Broker
	// holder names this process in the reconcile lease; leader is whether
	// it holds it (shared store only).
	holder string
	leader atomic.Bool
	// hub holds gateways and connection tickets (shared in a Fleet).
	hub *GatewayHub
	// reach answers where desktops and directories are dialled (reach.go).
	reach *reacher
	// ipAccess caches the directories' IP access control (ipaccess.go).
	ipAccess ipAccessCache
	// ldapCA is the CA file for each LDAPS URL directoryLDAP derived.
	ldapCA sync.Map
}

// Hub returns the broker's gateway hub.
func (b *Broker) Hub() *GatewayHub { return b.hub }

type cachedGroups struct {
	groups []string
	at     time.Time
}

// Options are the broker's dependencies.
type Options struct {
	// Clock is the source of time (default the wall clock).
	Clock Clock
	// Log receives progress (default discard).
	Log *slog.Logger
	// Context, when set, stops "broker serve" when done (default: on
	// SIGINT or SIGTERM only).
	Context context.Context
	// Limits bound slow clients of the session API (zero: the defaults).
	Limits httpguard.Limits
	// ReadOnly opens the store without the data dir's lock, beside a
	// running broker, for reports (the cost command); such a broker must
	// not reconcile or serve.
	ReadOnly bool
	// Hub, when set, is the gateway hub the broker shares with others (a
	// Fleet's); default: a hub of its own.
	Hub *GatewayHub
}

// New returns a broker over the clients, with its store in cfg.DataDir.
func New(cfg *Config, c *Clients, o Options) (*Broker, error) {
	var st *Store
	var err error
	switch {
	case strings.HasPrefix(cfg.Store, "postgres://") || strings.HasPrefix(cfg.Store, "postgresql://"):
		ctx := o.Context
		if ctx == nil {
			ctx = context.Background()
		}
		st, err = OpenPostgresStore(ctx, cfg.Store, cfg.schema())
	case o.ReadOnly:
		st, err = OpenStoreShared(cfg.DataDir)
	default:
		st, err = OpenStore(cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Broker{cfg: cfg, c: c, st: st, clock: o.Clock, log: o.Log, holder: newHolder(),
		dirID: map[string]string{}, bundleID: map[string]string{}, groups: map[string]cachedGroups{},
		kick: make(chan struct{}, 1), reach: newReacher(cfg, o.Clock)}
	b.hub = o.Hub
	if b.hub == nil {
		b.hub = NewGatewayHub(o.Clock, cfg.GatewaySecret, cfg.ticketTTL(), o.Log)
	}
	if st.sharedTickets() && !o.ReadOnly {
		b.hub.share(b)
	}
	b.metrics = newMetrics(b)
	if c != nil && c.calls != nil {
		c.calls.p.Store(b.metrics)
	}
	return b, nil
}

// Metrics returns the broker's Prometheus metrics.
func (b *Broker) Metrics() *Metrics { return b.metrics }

// Close closes the store.
func (b *Broker) Close() error { return b.st.Close() }

// Store returns the broker's store (for reports and tests).
func (b *Broker) Store() *Store { return b.st }

// Config returns the configuration.
func (b *Broker) Config() *Config { return b.cfg }

// Clients returns the service clients the broker calls with.
func (b *Broker) Clients() *Clients { return b.c }

// Kick asks the serve loop for a reconcile pass soon.
func (b *Broker) Kick() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func partnerTags() []types.Tag {
	return []types.Tag{{Key: aws.String(PartnerTagKey), Value: aws.String(PartnerTagValue)}}
}

// resolve maps each pool's directory and bundle (id or name) to ids.
func (b *Broker) resolve(ctx context.Context) error {
	need := false
	for _, p := range b.cfg.Pools {
		if b.dirID[p.Name] == "" || b.bundleID[p.Name] == "" {
			need = true
		}
	}
	if !need {
		return nil
	}
	dirs, err := b.listDirectories(ctx)
	if err != nil {
		return err
	}
	bundles, err := b.listBundles(ctx)
	if err != nil {
		return err
	}
	for _, p := range b.cfg.Pools {
		for _, d := range dirs {
			if aws.ToString(d.DirectoryId) == p.Directory || strings.EqualFold(aws.ToString(d.DirectoryName), p.Directory) {
				b.dirID[p.Name] = aws.ToString(d.DirectoryId)
			}
		}
		for _, bu := range bundles {
			if aws.ToString(bu.BundleId) == p.Bundle || aws.ToString(bu.Name) == p.Bundle {
				b.bundleID[p.Name] = aws.ToString(bu.BundleId)
			}
		}
		if b.dirID[p.Name] == "" {
			return fmt.Errorf("pool %s: directory %q not found (run onboard?)", p.Name, p.Directory)
		}
		if b.bundleID[p.Name] == "" {
			return fmt.Errorf("pool %s: bundle %q not found (run onboard?)", p.Name, p.Bundle)
		}
	}
	return nil
}

func (b *Broker) listDirectories(ctx context.Context) ([]types.WorkspaceDirectory, error) {
	var out []types.WorkspaceDirectory
	p := workspaces.NewDescribeWorkspaceDirectoriesPaginator(b.c.WorkSpaces, &workspaces.DescribeWorkspaceDirectoriesInput{})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeWorkspaceDirectories: %w", err)
		}
		out = append(out, pg.Directories...)
	}
	return out, nil
}

func (b *Broker) listBundles(ctx context.Context) ([]types.WorkspaceBundle, error) {
	var out []types.WorkspaceBundle
	p := workspaces.NewDescribeWorkspaceBundlesPaginator(b.c.WorkSpaces, &workspaces.DescribeWorkspaceBundlesInput{})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeWorkspaceBundles: %w", err)
		}
		out = append(out, pg.Bundles...)
	}
	return out, nil
}

// poolOfName returns the pool a desktop name belongs to: names are
// <pool>-<n>, pool names have no '-'.
func (b *Broker) poolOfName(name string) *Pool {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return nil
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return nil
	}
	return b.cfg.Pool(name[:i])
}

// observe lists the partner-managed desktops of every pool: DescribeWorkspaces
// (all pages) per directory, keeping those whose name is <pool>-<n> of a pool
// in that directory and that carry PartnerManaged=true (checked once per
// unknown desktop with DescribeTags, then remembered).
func (b *Broker) observe(ctx context.Context) (map[string][]types.Workspace, error) {
	out := map[string][]types.Workspace{}
	seenDir := map[string]bool{}
	for _, p := range b.cfg.Pools {
		dir := b.dirID[p.Name]
		if seenDir[dir] {
			continue
		}
		seenDir[dir] = true
		pg := workspaces.NewDescribeWorkspacesPaginator(b.c.WorkSpaces, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(dir), Limit: aws.Int32(25)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("DescribeWorkspaces: %w", err)
			}
			for _, w := range page.Workspaces {
				pool := b.poolOfName(aws.ToString(w.WorkspaceName))
				if pool == nil || b.dirID[pool.Name] != dir {
					continue
				}
				ok, err := b.partnerManaged(ctx, aws.ToString(w.WorkspaceId))
				if err != nil {
					return nil, err
				}
				if ok {
					out[pool.Name] = append(out[pool.Name], w)
				}
			}
		}
	}
	return out, nil
}

func (b *Broker) partnerManaged(ctx context.Context, id string) (bool, error) {
	if b.cache != nil && b.cache.desktops[id] != nil {
		return true, nil
	}
	if d, err := b.st.Desktop(ctx, id); err != nil || d != nil {
		return d != nil, err
	}
	if f, err := b.st.IsForeign(ctx, id); err != nil || f {
		return false, err
	}
	t, err := b.c.WorkSpaces.DescribeTags(ctx, &workspaces.DescribeTagsInput{ResourceId: aws.String(id)})
	if err != nil {
		return false, fmt.Errorf("DescribeTags %s: %w", id, err)
	}
	for _, tag := range t.TagList {
		if aws.ToString(tag.Key) == PartnerTagKey && aws.ToString(tag.Value) == PartnerTagValue {
			return true, nil
		}
	}
	return false, b.st.MarkForeign(ctx, id)
}

// record brings the broker's record of a desktop up to date with an
// observation: state transitions open and close usage intervals, stops the
// broker did not ask for are noticed, rebuilds are followed.
func (b *Broker) record(ctx context.Context, st *Store, pool string, w types.Workspace, now time.Time) (*Desktop, error) {
	id := aws.ToString(w.WorkspaceId)
	var d *Desktop
	if b.cache != nil {
		d = b.cache.desktops[id]
	}
	if d == nil {
		var err error
		if d, err = st.Desktop(ctx, id); err != nil {
			return nil, err
		}
	}
	var before Desktop
	if d != nil {
		before = *d
	}
	state := string(w.State)
	if d == nil {
		d = &Desktop{ID: id, Pool: pool, Name: aws.ToString(w.WorkspaceName), Directory: aws.ToString(w.DirectoryId),
			CreatedAt: now, StateSince: now}
	}
	d.IP = aws.ToString(w.IpAddress)
	prev := d.State
	if prev != state {
		d.State, d.StateSince = state, now
		if prev == "AVAILABLE" {
			if err := st.CloseUsage(ctx, id, now); err != nil {
				return nil, err
			}
			if b.cache != nil {
				delete(b.cache.openUsage, id)
			}
		}
		if (state == "STOPPING" || state == "STOPPED") && prev == "AVAILABLE" && d.StopRequested.IsZero() {
			// The service stopped it on its own: the 48-hour stop of MANUAL
			// desktops, or a maintenance window.
			b.log.Info("desktop stopped by the service", "workspace", id, "pool", pool)
			if err := st.Event(ctx, now, "service_stop", id, prev+"->"+state); err != nil {
				return nil, err
			}
			if _, err := st.EndDesktopSessions(ctx, id, SessInterrupted, now); err != nil {
				return nil, err
			}
		}
		if state == "STOPPED" {
			d.StopRequested = time.Time{}
		}
		if state == "AVAILABLE" {
			d.StartRequested = time.Time{}
		}
	}
	if d.Release == ReleaseRebuilding && b.pass > d.RebuildPass && (state == "AVAILABLE" || state == "STOPPED") {
		d.Release = ReleaseNone
		b.log.Info("desktop rebuilt and released to the pool", "workspace", id)
	}
	// Unchanged records are not written again (a steady pass writes
	// nothing).
	if b.cache == nil || *d != before {
		if err := st.PutDesktop(ctx, d); err != nil {
			return nil, err
		}
		if b.cache != nil {
			b.cache.desktops[id] = d
		}
	}
	// A desktop the broker asked to stop is no longer counted (its interval
	// was closed at the call) even if it still shows AVAILABLE.
	if state == "AVAILABLE" && d.StopRequested.IsZero() && (b.cache == nil || !b.cache.openUsage[id]) {
		if err := st.OpenUsage(ctx, d, now); err != nil {
			return nil, err
		}
		if b.cache != nil {
			b.cache.openUsage[id] = true
		}
	}
	if b.cache == nil || b.cache.intents[d.Name] {
		if err := st.DropIntent(ctx, d.Name); err != nil {
			return nil, err
		}
		if b.cache != nil {
			delete(b.cache.intents, d.Name)
		}
	}
	return d, nil
}

// passCache is what a reconcile pass read from the store at its start.
type passCache struct {
	desktops  map[string]*Desktop // the pools' live desktops by id
	openUsage map[string]bool     // desktops with an open AVAILABLE interval
	intents   map[string]bool     // create intents by desktop name
}

func (b *Broker) loadPassCache(ctx context.Context) (*passCache, error) {
	c := &passCache{desktops: map[string]*Desktop{}, intents: map[string]bool{}}
	for _, p := range b.cfg.Pools {
		ds, err := b.st.PoolDesktops(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			c.desktops[d.ID] = d
		}
		in, err := b.st.Intents(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		for _, i := range in {
			c.intents[i.Name] = true
		}
	}
	open, err := b.st.OpenUsageIDs(ctx)
	if err != nil {
		return nil, err
	}
	c.openUsage = open
	return c, nil
}

// poolDesktops lists a pool's live desktops as the pass knows them: from
// the pass cache (read at the pass's start, kept up to date by record)
// instead of reading them again.
func (b *Broker) poolDesktops(ctx context.Context, st *Store, pool string) ([]*Desktop, error) {
	if b.cache == nil {
		return st.PoolDesktops(ctx, pool)
	}
	var out []*Desktop
	for _, d := range b.cache.desktops {
		if d.Pool == pool && d.GoneAt.IsZero() {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *Desktop) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// gone marks a desktop that no longer exists (terminated).
func (b *Broker) gone(ctx context.Context, st *Store, d *Desktop, now time.Time) error {
	if err := st.CloseUsage(ctx, d.ID, now); err != nil {
		return err
	}
	if err := st.CloseAssignments(ctx, d.ID, now); err != nil {
		return err
	}
	if _, err := st.EndDesktopSessions(ctx, d.ID, SessEnded, now); err != nil {
		return err
	}
	d.State, d.StateSince, d.GoneAt = "TERMINATED", now, now
	return st.PutDesktop(ctx, d)
}

// maxSends bounds CreateWorkspaces attempts per desktop name.
const maxSends = 5

// PassReport summarises one reconcile pass.
type PassReport struct {
	Pools map[string]PoolReport `json:"pools"`
}

// PoolReport is one pool's state and the actions taken on it.
type PoolReport struct {
	Desktops  int            `json:"desktops"`
	Pending   int            `json:"pending_creates"`
	Assigned  int            `json:"assigned"`
	Running   int            `json:"running"`
	States    map[string]int `json:"states"`
	Created   []string       `json:"created,omitempty"`
	Started   []string       `json:"started,omitempty"`
	Stopped   []string       `json:"stopped,omitempty"`
	Replaced  []string       `json:"terminated,omitempty"`
	Rebuilt   []string       `json:"rebuilt,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
	Resent    []string       `json:"resent,omitempty"`
	Requested int            `json:"requested_creates,omitempty"`
	// StandbyCreated lists the primary desktops a standby WorkSpace was
	// asked for this pass (Pool.Standby.Workspaces).
	StandbyCreated []string `json:"standby_created,omitempty"`
}

// Reconcile runs one pass over every pool: observe, record, decide, act.
// Errors of individual calls to the service are reported and retried on
// the next pass; an error observing aborts the pass before any action, and
// so does an error writing the store while acting (the pass returns it, and
// the action it belongs to is not reported done).
func (b *Broker) Reconcile(ctx context.Context) (rep *PassReport, err error) {
	if !b.IsLeader() {
		return nil, ErrNotLeader
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	began := time.Now() // a performance figure, not domain time
	defer func() {
		oc := "ok"
		if err != nil {
			oc = "error"
		}
		b.metrics.pass.WithLabelValues(oc).Observe(time.Since(began).Seconds())
		if ctx.Err() == nil {
			b.assess(ctx, rep, err)
		}
	}()
	b.pass++
	if err := b.resolve(ctx); err != nil {
		return nil, err
	}
	now := b.clock.Now()
	if b.cache, err = b.loadPassCache(ctx); err != nil {
		return nil, err
	}
	defer func() { b.cache = nil }()
	obs, err := b.observe(ctx)
	if err != nil {
		return nil, err
	}
	rep = &PassReport{Pools: map[string]PoolReport{}}
	for _, p := range b.cfg.Pools {
		pr, err := b.reconcilePool(ctx, p, obs[p.Name], now)
		if err != nil {
			return rep, fmt.Errorf("pool %s: %w", p.Name, err)
		}
		rep.Pools[p.Name] = pr
	}
	if err := b.reconcileStandbys(ctx, obs, now, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

func (b *Broker) reconcilePool(ctx context.Context, p Pool, obs []types.Workspace, now time.Time) (PoolReport, error) {
	pr := PoolReport{States: map[string]int{}}
	seen := map[string]bool{}
	var recs []*Desktop
	// What the pass observed is recorded in one transaction, committed
	// before it acts on any of it.
	err := b.st.Batch(ctx, func(st *Store) error {
		for _, w := range obs {
			if w.State == types.WorkspaceStateTerminated {
				continue
			}
			d, err := b.record(ctx, st, p.Name, w, now)
			if err != nil {
				return err
			}
			seen[d.ID] = true
			recs = append(recs, d)
		}
		known, err := b.poolDesktops(ctx, st, p.Name)
		if err != nil {
			return err
		}
		for _, d := range known {
			if !seen[d.ID] {
				b.log.Info("desktop gone", "workspace", d.ID, "pool", p.Name)
				if err := b.gone(ctx, st, d, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return pr, err
	}
	all, err := b.st.Intents(ctx, p.Name)
	if err != nil {
		return pr, err
	}
	// An intent sent maxSends times without a desktop appearing is given
	// up (a desktop that appears later is still adopted by name and tag).
	var intents []Intent
	for _, in := range all {
		if in.Sends >= maxSends && now.Sub(in.SentAt) >= time.Minute {
			b.log.Warn("giving up a create request", "name", in.Name, "sends", in.Sends)
			if err := b.st.Event(ctx, now, "create_abandoned", "", in.Name); err != nil {
				return pr, err
			}
			if err := b.st.DropIntent(ctx, in.Name); err != nil {
				return pr, err
			}
			continue
		}
		intents = append(intents, in)
	}
	live, err := b.st.LiveSessions(ctx)
	if err != nil {
		return pr, err
	}
	inUse := map[string]bool{}
	waiting := 0
	for _, s := range live {
		if s.Pool != p.Name {
			continue
		}
		// A gateway polls a session it waits for; one it stopped polling
		// long ago was abandoned and no longer counts as demand.
		if (s.State == SessWaiting || s.State == SessStarting) && now.Sub(s.UpdatedAt) > AbandonAfter {
			s.State, s.UpdatedAt = SessEnded, now
			if err := b.st.PutSession(ctx, s); err != nil {
				return pr, err
			}
			b.log.Info("session abandoned", "session", s.ID, "user", s.User, "pool", p.Name)
			continue
		}
		switch {
		case s.State == SessWaiting && s.WorkspaceID == "":
			waiting++
		case s.State == SessActive || s.State == SessStarting || s.State == SessWaiting:
			inUse[s.WorkspaceID] = true
		}
	}
	view := PoolView{Pool: p, Pending: len(intents), Waiting: waiting}
	for _, d := range recs {
		view.Desktops = append(view.Desktops, DesktopView{ID: d.ID, Name: d.Name, State: d.State, User: d.User,
			InUse: inUse[d.ID], StopAt: d.StopAt, Release: d.Release})
		pr.States[d.State]++
		if d.User != "" {
			pr.Assigned++
		}
		if isRunning(d.State) {
			pr.Running++
		}
	}
	pr.Desktops, pr.Pending = len(recs), len(intents)
	act := Decide(view, now)
	if err := b.recordDecisions(ctx, p.Name, view, act, now); err != nil {
		return pr, err
	}

	// Intents left from an earlier pass (or a crash between the call and
	// its record) are re-sent under the same name once they are a minute
	// old, unless the desktop appears first.
	var resend []string
	for _, in := range intents {
		if now.Sub(in.SentAt) >= time.Minute {
			resend = append(resend, in.Name)
		}
	}
	byID := map[string]*Desktop{}
	for _, d := range recs {
		byID[d.ID] = d
	}
	// A store write that fails stops the pass with its error: an action
	// is reported done only once its record is durable, and the next pass
	// converges from what it observes.
	if err := b.terminate(ctx, act.Terminate, byID, now, &pr); err != nil {
		return pr, err
	}
	if err := b.create(ctx, p, act.Create, resend, now, &pr); err != nil {
		return pr, err
	}
	if err := b.start(ctx, act.Start, byID, now, &pr); err != nil {
		return pr, err
	}
	if err := b.stop(ctx, act.Stop, byID, now, &pr); err != nil {
		return pr, err
	}
	if err := b.rebuild(ctx, act.Rebuild, byID, &pr); err != nil {
		return pr, err
	}
	return pr, nil
}

// terminate terminates desktops and records it; it returns the first store
// error (the desktops the service terminated are observed next pass).
func (b *Broker) terminate(ctx context.Context, ids []string, byID map[string]*Desktop, now time.Time, pr *PoolReport) error {
	for batch := range slices.Chunk(ids, 25) {
		var reqs []types.TerminateRequest
		for _, id := range batch {
			reqs = append(reqs, types.TerminateRequest{WorkspaceId: aws.String(id)})
		}
		out, err := b.c.WorkSpaces.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: reqs})
		if err != nil {
			pr.Errors = append(pr.Errors, "TerminateWorkspaces: "+err.Error())
			continue
		}
		failed := map[string]bool{}
		for _, f := range out.FailedRequests {
			failed[aws.ToString(f.WorkspaceId)] = true
			pr.Errors = append(pr.Errors, fmt.Sprintf("terminate %s: %s", aws.ToString(f.WorkspaceId), aws.ToString(f.ErrorMessage)))
		}
		for _, id := range batch {
			if failed[id] {
				continue
			}
			d := byID[id]
			if err := b.st.Event(ctx, now, "terminate", id, d.State); err != nil {
				return fmt.Errorf("record terminate of %s: %w", id, err)
			}
			if d.User != "" {
				// The user gets a fresh desktop at the next login.
				if err := b.st.Unassign(ctx, id, ReleaseNone, now); err != nil {
					return fmt.Errorf("record terminate of %s: %w", id, err)
				}
			}
			if _, err := b.st.EndDesktopSessions(ctx, id, SessInterrupted, now); err != nil {
				return fmt.Errorf("record terminate of %s: %w", id, err)
			}
			d.State, d.StateSince = "TERMINATING", now
			if err := b.st.CloseUsage(ctx, id, now); err != nil {
				return fmt.Errorf("record terminate of %s: %w", id, err)
			}
			d.User = ""
			if err := b.st.PutDesktop(ctx, d); err != nil {
				return fmt.Errorf("record terminate of %s: %w", id, err)
			}
			pr.Replaced = append(pr.Replaced, id)
		}
	}
	return nil
}

// create re-sends the intents in resend and records and sends n new ones;
// it returns the first store error (a desktop created but not recorded is
// adopted by name on the next pass).
func (b *Broker) create(ctx context.Context, p Pool, n int, resend []string, now time.Time, pr *PoolReport) error {
	names := slices.Clone(resend)
	for _, name := range resend {
		if err := b.st.MarkIntentSent(ctx, name, now); err != nil {
			return fmt.Errorf("record resend of %s: %w", name, err)
		}
	}
	pr.Resent = resend
	if n > 0 {
		// Record the intent first: a crash after the call is matched by
		// name on the next pass instead of creating the desktops again.
		fresh, err := b.st.NextNamesFrom(ctx, p.Name, n, p.nameBase, now)
		if err != nil {
			return fmt.Errorf("record intents: %w", err)
		}
		names = append(names, fresh...)
		pr.Requested = n
	}
	for batch := range slices.Chunk(names, 25) {
		var reqs []types.WorkspaceRequest
		for _, name := range batch {
			reqs = append(reqs, types.WorkspaceRequest{
				DirectoryId:   aws.String(b.dirID[p.Name]),
				BundleId:      aws.String(b.bundleID[p.Name]),
				UserName:      aws.String("[UNDEFINED]"),
				WorkspaceName: aws.String(name),
				Tags:          partnerTags(),
				WorkspaceProperties: &types.WorkspaceProperties{
					RunningMode: types.RunningMode(p.RunningMode),
				},
			})
		}
		out, err := b.c.WorkSpaces.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
		if err != nil {
			pr.Errors = append(pr.Errors, "CreateWorkspaces: "+err.Error())
			continue
		}
		for _, f := range out.FailedRequests {
			name := ""
			if f.WorkspaceRequest != nil {
				name = aws.ToString(f.WorkspaceRequest.WorkspaceName)
			}
			pr.Errors = append(pr.Errors, fmt.Sprintf("create %s: %s: %s", name, aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
			if err := b.st.DropIntent(ctx, name); err != nil {
				return fmt.Errorf("drop refused intent %s: %w", name, err)
			}
		}
		for _, w := range out.PendingRequests {
			d := &Desktop{ID: aws.ToString(w.WorkspaceId), Pool: p.Name, Name: aws.ToString(w.WorkspaceName),
				Directory: b.dirID[p.Name], State: string(w.State), StateSince: now, CreatedAt: now}
			if d.State == "" {
				d.State = "PENDING"
			}
			existing, err := b.st.Desktop(ctx, d.ID)
			if err != nil {
				return fmt.Errorf("record created %s: %w", d.ID, err)
			}
			if existing == nil {
				if err := b.st.PutDesktop(ctx, d); err != nil {
					return fmt.Errorf("record created %s: %w", d.ID, err)
				}
			}
			if err := b.st.DropIntent(ctx, d.Name); err != nil {
				return fmt.Errorf("record created %s: %w", d.ID, err)
			}
			pr.Created = append(pr.Created, d.Name)
		}
	}
	return nil
}

// start starts desktops and records the request; it returns the first
// store error.
func (b *Broker) start(ctx context.Context, ids []string, byID map[string]*Desktop, now time.Time, pr *PoolReport) error {
	for batch := range slices.Chunk(ids, 25) {
		var reqs []types.StartRequest
		for _, id := range batch {
			reqs = append(reqs, types.StartRequest{WorkspaceId: aws.String(id)})
		}
		out, err := b.c.WorkSpaces.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: reqs})
		if err != nil {
			pr.Errors = append(pr.Errors, "StartWorkspaces: "+err.Error())
			continue
		}
		failed := failedIDs(out.FailedRequests)
		for _, id := range batch {
			if !failed[id] {
				if d := byID[id]; d != nil {
					d.StartRequested = now
					if err := b.st.PutDesktop(ctx, d); err != nil {
						return fmt.Errorf("record start of %s: %w", id, err)
					}
				}
				pr.Started = append(pr.Started, id)
			}
		}
	}
	return nil
}

// stop records and sends stop requests; it returns the first store error
// (a stop not marked is not sent).
func (b *Broker) stop(ctx context.Context, ids []string, byID map[string]*Desktop, now time.Time, pr *PoolReport) error {
	for batch := range slices.Chunk(ids, 25) {
		// Mark first: a stop we asked for is not a service stop, even if we
		// crash before the answer.
		for _, id := range batch {
			if d := byID[id]; d != nil {
				d.StopRequested = now
				if err := b.st.PutDesktop(ctx, d); err != nil {
					return fmt.Errorf("mark stop of %s: %w", id, err)
				}
			}
		}
		var reqs []types.StopRequest
		for _, id := range batch {
			reqs = append(reqs, types.StopRequest{WorkspaceId: aws.String(id)})
		}
		out, err := b.c.WorkSpaces.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: reqs})
		if err != nil {
			pr.Errors = append(pr.Errors, "StopWorkspaces: "+err.Error())
			continue
		}
		failed := failedIDs(out.FailedRequests)
		for _, id := range batch {
			if !failed[id] {
				if err := b.st.CloseUsage(ctx, id, now); err != nil {
					return fmt.Errorf("record stop of %s: %w", id, err)
				}
				if d := byID[id]; d != nil {
					d.StopAt = time.Time{}
					if err := b.st.PutDesktop(ctx, d); err != nil {
						return fmt.Errorf("record stop of %s: %w", id, err)
					}
				}
				pr.Stopped = append(pr.Stopped, id)
			} else if d := byID[id]; d != nil {
				d.StopRequested = time.Time{}
				if err := b.st.PutDesktop(ctx, d); err != nil {
					return fmt.Errorf("record refused stop of %s: %w", id, err)
				}
			}
		}
	}
	return nil
}

// rebuild rebuilds desktops being released and records it; it returns the
// first store error.
func (b *Broker) rebuild(ctx context.Context, ids []string, byID map[string]*Desktop, pr *PoolReport) error {
	for _, id := range ids {
		out, err := b.c.WorkSpaces.RebuildWorkspaces(ctx, &workspaces.RebuildWorkspacesInput{
			RebuildWorkspaceRequests: []types.RebuildRequest{{WorkspaceId: aws.String(id)}}})
		if err != nil {
			pr.Errors = append(pr.Errors, "RebuildWorkspaces: "+err.Error())
			continue
		}
		if len(out.FailedRequests) > 0 {
			pr.Errors = append(pr.Errors, fmt.Sprintf("rebuild %s: %s", id, aws.ToString(out.FailedRequests[0].ErrorMessage)))
			continue
		}
		if d := byID[id]; d != nil {
			d.Release, d.RebuildPass = ReleaseRebuilding, b.pass
			if err := b.st.PutDesktop(ctx, d); err != nil {
				return fmt.Errorf("record rebuild of %s: %w", id, err)
			}
		}
		pr.Rebuilt = append(pr.Rebuilt, id)
	}
	return nil
}

// AbandonAfter is how long a waiting or starting session may go unpolled
// before the broker ends it.
const AbandonAfter = 10 * time.Minute

// failedIDs is the set of workspace ids a batch call reported as failed.
func failedIDs(fs []types.FailedWorkspaceChangeRequest) map[string]bool {
	failed := map[string]bool{}
	for _, f := range fs {
		failed[aws.ToString(f.WorkspaceId)] = true
	}
	return failed
}
