package workspaces

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// UndefinedUser is the user name of user-decoupled (WorkSpaces Core) desktops.
const UndefinedUser = "[UNDEFINED]"

const (
	workspaceIDPattern = `^ws-[0-9a-z]{8,63}$`
	tIPAlloc           = "ws_ipalloc" // ACCOUNT/REGION/SUBNET -> next host offset
)

// WorkspaceRequest is the model's WorkspaceRequest.
type WorkspaceRequest struct {
	DirectoryId                 string               `json:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	UserName                    string               `json:"UserName" v:"required,min=1,max=63"`
	BundleId                    string               `json:"BundleId" v:"required,pattern=^wsb-[0-9a-z]{8,63}$"`
	VolumeEncryptionKey         *string              `json:"VolumeEncryptionKey,omitempty"`
	UserVolumeEncryptionEnabled *bool                `json:"UserVolumeEncryptionEnabled,omitempty"`
	RootVolumeEncryptionEnabled *bool                `json:"RootVolumeEncryptionEnabled,omitempty"`
	WorkspaceProperties         *WorkspaceProperties `json:"WorkspaceProperties,omitempty"`
	Tags                        []Tag                `json:"Tags,omitempty"`
	WorkspaceName               *string              `json:"WorkspaceName,omitempty" v:"pattern=^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$"`
	Ipv6Address                 *string              `json:"Ipv6Address,omitempty"`
}

// Workspace is the model's Workspace.
type Workspace struct {
	WorkspaceId                 string               `json:"WorkspaceId"`
	DirectoryId                 string               `json:"DirectoryId"`
	UserName                    string               `json:"UserName"`
	IpAddress                   string               `json:"IpAddress,omitempty"`
	State                       string               `json:"State"`
	BundleId                    string               `json:"BundleId"`
	SubnetId                    string               `json:"SubnetId,omitempty"`
	ErrorMessage                string               `json:"ErrorMessage,omitempty"`
	ErrorCode                   string               `json:"ErrorCode,omitempty"`
	ComputerName                string               `json:"ComputerName,omitempty"`
	VolumeEncryptionKey         string               `json:"VolumeEncryptionKey,omitempty"`
	UserVolumeEncryptionEnabled *bool                `json:"UserVolumeEncryptionEnabled,omitempty"`
	RootVolumeEncryptionEnabled *bool                `json:"RootVolumeEncryptionEnabled,omitempty"`
	WorkspaceName               string               `json:"WorkspaceName,omitempty"`
	WorkspaceProperties         *WorkspaceProperties `json:"WorkspaceProperties,omitempty"`
	ModificationStates          []ModificationState  `json:"ModificationStates,omitempty"`
	RelatedWorkspaces           []relatedWorkspace   `json:"RelatedWorkspaces,omitempty"`
	// Standby WorkSpaces (standby.go).
	DataReplicationSettings     *dataReplicationSettings `json:"DataReplicationSettings,omitempty"`
	StandbyWorkspacesProperties []standbyProps           `json:"StandbyWorkspacesProperties,omitempty"`
}

type relatedWorkspace struct {
	WorkspaceId string `json:"WorkspaceId"`
	Region      string `json:"Region"`
	State       string `json:"State"`
	Type        string `json:"Type"`
}

type failedCreate struct {
	WorkspaceRequest WorkspaceRequest `json:"WorkspaceRequest"`
	ErrorCode        string           `json:"ErrorCode"`
	ErrorMessage     string           `json:"ErrorMessage"`
}

type createWorkspacesIn struct {
	Workspaces []WorkspaceRequest `json:"Workspaces" v:"required,min=1,max=25"`
}

type createWorkspacesOut struct {
	FailedRequests  []failedCreate `json:"FailedRequests"`
	PendingRequests []Workspace    `json:"PendingRequests"`
}

type describeWorkspacesIn struct {
	WorkspaceIds  []string `json:"WorkspaceIds,omitempty" v:"min=1,max=25"`
	DirectoryId   *string  `json:"DirectoryId,omitempty" v:"min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	UserName      *string  `json:"UserName,omitempty" v:"min=1,max=63"`
	BundleId      *string  `json:"BundleId,omitempty" v:"pattern=^wsb-[0-9a-z]{8,63}$"`
	Limit         *int     `json:"Limit,omitempty" v:"min=1,max=25"`
	NextToken     *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
	WorkspaceName *string  `json:"WorkspaceName,omitempty" v:"pattern=^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$"`
}

type describeWorkspacesOut struct {
	Workspaces []Workspace `json:"Workspaces"`
	NextToken  *string     `json:"NextToken,omitempty"`
	// cache, when set (DescribeWorkspaces by id), encodes the desktops
	// from the JSON of their last answer (descCache).
	cache *descCache
}

type wsIDReq struct {
	WorkspaceId string `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
}

type failedChange struct {
	WorkspaceId  string `json:"WorkspaceId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

type batchOut struct {
	FailedRequests []failedChange `json:"FailedRequests"`
}

type startIn struct {
	StartWorkspaceRequests []wsIDReq `json:"StartWorkspaceRequests" v:"required,min=1,max=25"`
}
type stopIn struct {
	StopWorkspaceRequests []wsIDReq `json:"StopWorkspaceRequests" v:"required,min=1,max=25"`
}
type rebootIn struct {
	RebootWorkspaceRequests []wsIDReq `json:"RebootWorkspaceRequests" v:"required,min=1,max=25"`
}
type rebuildIn struct {
	RebuildWorkspaceRequests []wsIDReq `json:"RebuildWorkspaceRequests" v:"required,min=1,max=1"`
}
type terminateIn struct {
	TerminateWorkspaceRequests []wsIDReq `json:"TerminateWorkspaceRequests" v:"required,min=1,max=25"`
}

type restoreIn struct {
	WorkspaceId string `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
}

type modifyStateIn struct {
	WorkspaceId    string `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	WorkspaceState string `json:"WorkspaceState" v:"required,enum=AVAILABLE|ADMIN_MAINTENANCE"`
}

type modifyPropsIn struct {
	WorkspaceId         string               `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	WorkspaceProperties *WorkspaceProperties `json:"WorkspaceProperties,omitempty"`
	DataReplication     *string              `json:"DataReplication,omitempty" v:"enum=NO_REPLICATION|PRIMARY_AS_SOURCE"`
}

type migrateIn struct {
	SourceWorkspaceId string `json:"SourceWorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	BundleId          string `json:"BundleId" v:"required,pattern=^wsb-[0-9a-z]{8,63}$"`
}

type migrateOut struct {
	SourceWorkspaceId string `json:"SourceWorkspaceId"`
	TargetWorkspaceId string `json:"TargetWorkspaceId"`
}

type snapshotsIn struct {
	WorkspaceId string `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
}

type snapshotOut struct {
	SnapshotTime *awsproto.Time `json:"SnapshotTime"`
}

type snapshotsOut struct {
	RebuildSnapshots []snapshotOut `json:"RebuildSnapshots"`
	RestoreSnapshots []snapshotOut `json:"RestoreSnapshots"`
}

// startWorkspacesItems returns the checks of each item of StartWorkspaces.
func (m *Module) startWorkspacesItems(ctx context.Context, c *gateway.Call, in *startIn) ([][]gateway.Check, error) {
	return m.batchChecks(ctx, c, in.StartWorkspaceRequests)
}

// startWorkspaces is the handler of StartWorkspaces.
func (m *Module) startWorkspaces(ctx context.Context, c *gateway.Call, in *startIn) (*batchOut, error) {
	return m.batch(ctx, c, in.StartWorkspaceRequests, m.startOne)
}

// stopWorkspacesItems returns the checks of each item of StopWorkspaces.
func (m *Module) stopWorkspacesItems(ctx context.Context, c *gateway.Call, in *stopIn) ([][]gateway.Check, error) {
	return m.batchChecks(ctx, c, in.StopWorkspaceRequests)
}

// stopWorkspaces is the handler of StopWorkspaces.
func (m *Module) stopWorkspaces(ctx context.Context, c *gateway.Call, in *stopIn) (*batchOut, error) {
	return m.batch(ctx, c, in.StopWorkspaceRequests, m.stopOne)
}

// rebootWorkspacesItems returns the checks of each item of RebootWorkspaces.
func (m *Module) rebootWorkspacesItems(ctx context.Context, c *gateway.Call, in *rebootIn) ([][]gateway.Check, error) {
	return m.batchChecks(ctx, c, in.RebootWorkspaceRequests)
}

// rebootWorkspaces is the handler of RebootWorkspaces.
func (m *Module) rebootWorkspaces(ctx context.Context, c *gateway.Call, in *rebootIn) (*batchOut, error) {
	return m.batch(ctx, c, in.RebootWorkspaceRequests, m.rebootOne)
}

// rebuildWorkspacesItems returns the checks of each item of RebuildWorkspaces.
func (m *Module) rebuildWorkspacesItems(ctx context.Context, c *gateway.Call, in *rebuildIn) ([][]gateway.Check, error) {
	return m.batchChecks(ctx, c, in.RebuildWorkspaceRequests)
}

// rebuildWorkspaces is the handler of RebuildWorkspaces.
func (m *Module) rebuildWorkspaces(ctx context.Context, c *gateway.Call, in *rebuildIn) (*batchOut, error) {
	return m.batch(ctx, c, in.RebuildWorkspaceRequests, m.rebuildOne)
}

// terminateWorkspacesItems returns the checks of each item of TerminateWorkspaces.
func (m *Module) terminateWorkspacesItems(ctx context.Context, c *gateway.Call, in *terminateIn) ([][]gateway.Check, error) {
	return m.batchChecks(ctx, c, in.TerminateWorkspaceRequests)
}

// terminateWorkspaces is the handler of TerminateWorkspaces.
func (m *Module) terminateWorkspaces(ctx context.Context, c *gateway.Call, in *terminateIn) (*batchOut, error) {
	return m.batch(ctx, c, in.TerminateWorkspaceRequests, m.terminateOne)
}

// restoreWorkspaceResources resolves the resources RestoreWorkspace is authorized on.
func (m *Module) restoreWorkspaceResources(ctx context.Context, c *gateway.Call, in *restoreIn) ([]gateway.Check, error) {
	return m.wsChecks(ctx, c, in.WorkspaceId)
}

// modifyWorkspaceStateResources resolves the resources ModifyWorkspaceState is authorized on.
func (m *Module) modifyWorkspaceStateResources(ctx context.Context, c *gateway.Call, in *modifyStateIn) ([]gateway.Check, error) {
	return m.wsChecks(ctx, c, in.WorkspaceId)
}

// modifyWorkspacePropertiesResources resolves the resources ModifyWorkspaceProperties is authorized on.
func (m *Module) modifyWorkspacePropertiesResources(ctx context.Context, c *gateway.Call, in *modifyPropsIn) ([]gateway.Check, error) {
	return m.wsChecks(ctx, c, in.WorkspaceId)
}

// migrateWorkspaceResources resolves the resources MigrateWorkspace is authorized on.
func (m *Module) migrateWorkspaceResources(ctx context.Context, c *gateway.Call, in *migrateIn) ([]gateway.Check, error) {
	checks, err := m.wsChecks(ctx, c, in.SourceWorkspaceId)
	if err != nil {
		return nil, err
	}
	bt, err := m.resourceTags(ctx, c.Account, c.Region, in.BundleId)
	return append(checks, gateway.Check{Resource: ARN(c.Region, c.Account, "workspacebundle", in.BundleId), ResourceTags: orEmpty(bt)}), err
}

// describeWorkspaceSnapshotsResources resolves the resources DescribeWorkspaceSnapshots is authorized on.
func (m *Module) describeWorkspaceSnapshotsResources(ctx context.Context, c *gateway.Call, in *snapshotsIn) ([]gateway.Check, error) {
	return m.wsChecks(ctx, c, in.WorkspaceId)
}

func (m *Module) wsChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	tags, err := m.resourceTags(ctx, c.Account, c.Region, id)
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspace", id), ResourceTags: orEmpty(tags)}}, err
}

// createChecks authorizes CreateWorkspaces as the Service Authorization
// Reference lists it: the directory and bundle (with their tags) and the new
// workspace (with the request's tags).
func (m *Module) createChecks(ctx context.Context, c *gateway.Call, in *createWorkspacesIn) ([]gateway.Check, error) {
	var checks []gateway.Check
	tags := map[string]map[string]string{} // a batch usually names one directory and one bundle
	lookup := func(id string) (map[string]string, error) {
		if t, ok := tags[id]; ok {
			return t, nil
		}
		t, err := m.checkTags(ctx, c.Account, c.Region, id)
		tags[id] = t
		return t, err
	}
	var done []WorkspaceRequest // requests whose checks are listed
	for _, r := range in.Workspaces {
		// A desktop naming the directory, bundle and tags of one already
		// listed asks the very same questions: they are listed once.
		if slices.ContainsFunc(done, func(d WorkspaceRequest) bool { return sameChecks(d, r) }) {
			continue
		}
		done = append(done, r)
		dt, err := lookup(r.DirectoryId)
		if err != nil {
			return nil, err
		}
		bt, err := lookup(r.BundleId)
		if err != nil {
			return nil, err
		}
		reqTags := r.Tags
		if reqTags == nil {
			reqTags = []Tag{}
		}
		// The request's tags are part of the request context for every
		// resource it names (aws:RequestTag, aws:TagKeys), as in IAM: one
		// map for its three checks (the gateway only reads it).
		rt := withRequestTags(gateway.Check{}, reqTags).RequestTags
		if checks == nil {
			checks = make([]gateway.Check, 0, 3)
		}
		checks = append(checks,
			gateway.Check{Resource: ARN(c.Region, c.Account, "directory", r.DirectoryId), ResourceTags: orEmpty(dt), RequestTags: rt},
			gateway.Check{Resource: ARN(c.Region, c.Account, "workspacebundle", r.BundleId), ResourceTags: orEmpty(bt), RequestTags: rt},
			gateway.Check{Resource: ARN(c.Region, c.Account, "workspace", "*"), RequestTags: rt},
		)
	}
	return checks, nil
}

// checkTags is resourceTags of a CreateWorkspaces request's directory
// or bundle, taken from its record as decoded once per version of its
// bytes (the module's store.Decoded, which planCreate reads it through
// too), where resourceTags decoded the record again for every request.
// The map is the shared record's: the checks only read it. An id of
// another kind is resourceTags'. TestCheckTagsAsResourceTags holds the
// two equal.
func (m *Module) checkTags(ctx context.Context, account, region, id string) (map[string]string, error) {
	table, _, _ := taggable(id)
	if table != tDirs && table != tBundles {
		return m.resourceTags(ctx, account, region, id)
	}
	k := key(account, region, id)
	b, err := m.store.Get(ctx, table, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t Tags
	if table == tDirs {
		d, err := m.dirsDecoded.Decode(table, k, b)
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", id, err)
		}
		t = d.Tags
	} else {
		bd, err := m.bundlesDecoded.Decode(table, k, b)
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", id, err)
		}
		t = bd.Tags
	}
	if t == nil {
		t = noTags // resourceTags' empty map: one for all, only read
	}
	return t, nil
}

// noTags is checkTags' answer for a record without tags.
var noTags = Tags{}

// createWorkspacesItems returns the per-item checks of CreateWorkspaces:
// WorkSpaces creates grants on the volume key of an encrypted desktop on
// the caller's behalf, so the caller must be allowed kms:CreateGrant on the
// key, with kms:GrantIsForAWSResource and kms:ViaService. A desktop whose
// key does not resolve has no such check: planning reports the key's error.
func (m *Module) createWorkspacesItems(ctx context.Context, c *gateway.Call, in *createWorkspacesIn) ([][]gateway.Check, error) {
	items := make([][]gateway.Check, len(in.Workspaces))
	if m.keys == nil {
		return items, nil
	}
	keys := map[string]string{} // key reference → ARN ("": it does not resolve)
	for i, r := range in.Workspaces {
		if !ptr.Deref(r.RootVolumeEncryptionEnabled) && !ptr.Deref(r.UserVolumeEncryptionEnabled) {
			continue
		}
		ref := ptr.Deref(r.VolumeEncryptionKey)
		keyARN, ok := keys[ref]
		if !ok {
			var err error
			if keyARN, err = m.volumeKeyARN(ctx, c, ref); err != nil {
				return nil, err
			}
			keys[ref] = keyARN
		}
		if keyARN == "" {
			continue
		}
		items[i] = []gateway.Check{{Action: "kms:CreateGrant", Resource: keyARN,
			Context: map[string][]string{"kms:GrantIsForAWSResource": {"true"}, "kms:ViaService": {"workspaces." + c.Region + ".amazonaws.com"}}}}
	}
	return items, nil
}

// volumeKeyARN resolves a volume key reference of the caller's account to
// its key ARN, or "" when it does not resolve to a usable key. The AWS
// managed key aws/workspaces (an empty reference) is created the first time
// it is needed, so its reference resolves in a transaction that may write.
func (m *Module) volumeKeyARN(ctx context.Context, c *gateway.Call, ref string) (string, error) {
	var keyARN string
	resolve := func(tx store.Tx) error {
		a, err := m.keys.ResolveKey(ctx, tx, c.Account, c.Region, ref)
		if err != nil {
			if awsproto.As(err) != nil {
				return nil
			}
			return fmt.Errorf("resolve volume key %q: %w", ref, err)
		}
		keyARN = a
		return nil
	}
	if ref != "" {
		return keyARN, m.store.View(ctx, resolve)
	}
	return keyARN, m.store.Update(ctx, resolve)
}

// isBYOP reports whether a bundle's image brings its own protocol (WorkSpaces Core).
// sameChecks reports whether two requested desktops name the same
// directory, bundle and tags, which is all their authorization checks
// depend on.
func sameChecks(a, b WorkspaceRequest) bool {
	return a.DirectoryId == b.DirectoryId && a.BundleId == b.BundleId && (a.Tags == nil) == (b.Tags == nil) &&
		slices.EqualFunc(a.Tags, b.Tags, func(x, y Tag) bool {
			return x.Key == y.Key && ptr.Deref(x.Value) == ptr.Deref(y.Value) && (x.Value == nil) == (y.Value == nil)
		})
}

func (m *Module) bundleProtocol(ctx context.Context, tx store.Tx, account, region string, b *bundleRec) (string, string, error) {
	img, err := m.lookupImage(ctx, tx, account, region, b.ImageID)
	if err != nil {
		return "", "", err
	}
	protocol, tenancy := imageProtocol(b, img)
	return protocol, tenancy, nil
}

// imageProtocol is bundleProtocol of b, whose image is img (nil when not
// found).
func imageProtocol(b *bundleRec, img *imageRec) (protocol, tenancy string) {
	if img == nil {
		if b.Owner == "AMAZON" {
			return "PCOIP", "DEFAULT"
		}
		return "", ""
	}
	return img.Protocol, img.RequiredTenancy
}

type itemError struct{ code, msg string }

func (e *itemError) Error() string { return e.code + ": " + e.msg }

func itemErr(code, format string, a ...any) *itemError {
	return &itemError{code: code, msg: fmt.Sprintf(format, a...)}
}

// internalItemError is a batch item's failure on an unexpected error (the
// error itself is logged, not sent).
func internalItemError() *itemError {
	return &itemError{code: "InternalFailure", msg: "The request processing has failed because of an unknown error, exception or failure."}
}

func toItemError(err error) (*itemError, bool) {
	var ie *itemError
	if errors.As(err, &ie) {
		return ie, true
	}
	if ae := awsproto.As(err); ae != nil {
		return &itemError{code: ae.Code, msg: ae.Message}, true
	}
	return nil, false
}

// createWorkspaces checks each requested desktop on its own and commits
// all the accepted ones in one transaction, so the response is either fully
// durable or an error. The checks (planCreate) run ahead of the
// transaction, off the store's writer, on committed records read through a
// store.ReadSet; the transaction takes the plan when its reads still hold
// and otherwise plans again itself, through its own Tx, with the same code.
// It then gives each accepted desktop its place (quota, subnet, address),
// which depends on the desktops created meanwhile, and writes them all
// together (writeDesktops).
func (m *Module) createWorkspaces(ctx context.Context, c *gateway.Call, in *createWorkspacesIn) (*createWorkspacesOut, error) {
	reads := store.NewReadSet(m.store)
	ahead, err := m.planCreate(ctx, reads, c, in)
	if err != nil {
		ahead = nil // it needed more than committed records by key: planned in the transaction
	}
	out := &createWorkspacesOut{}
	var committed *createPlan
	err = m.store.Update(ctx, func(tx store.Tx) error {
		p := ahead
		ahead = nil // a retried transaction plans anew
		if p != nil {
			ok, err := reads.Valid(ctx, tx)
			if err != nil {
				return err
			}
			if !ok {
				p = nil // a record changed since
			}
		}
		if p == nil {
			var err error
			if p, err = m.planCreate(ctx, tx, c, in); err != nil {
				return err
			}
		}
		committed = p
		return m.commitCreate(ctx, tx, c, in, p, out)
	})
	if err != nil {
		return nil, err
	}
	// The answer is rendered here, off the store's writer, from the
	// records the transaction made: until they are handed to the
	// provisioning job below, nothing else changes them.
	// The properties and flags the answers point to come from one block
	// for the request (they live as long as the answer).
	out.PendingRequests = make([]Workspace, 0, len(committed.created))
	boxes := make([]renderBox, len(committed.created))
	for i, w := range committed.created {
		if w != nil {
			out.PendingRequests = append(out.PendingRequests, m.renderInto(w, &boxes[i]))
		}
	}
	// The records are the provisioning job's now: this request is done
	// with them.
	m.fresh.put(committed.job, committed.stored)
	if m.rt != nil {
		for _, w := range out.PendingRequests {
			m.rt.Admit(key(c.Account, c.Region, w.WorkspaceId)) // the room was counted in the transaction
		}
	}
	return out, nil
}

// createPlan is a CreateWorkspaces request checked: per requested desktop,
// in order, why it is refused or its record but for its place.
type createPlan struct {
	rc    *createCache
	items []plannedDesktop
	// keys holds what the checks' KMS calls read (the desktops' keys,
	// ResolveKey): commitCreate's transaction starts its KeyMemo with it,
	// so that the grants under the Region's count do not read the keys
	// again. A plan made ahead is only committed once the transaction has
	// read its records again (ReadSet.Valid, the keys among them) and found
	// them unchanged, holding their locks.
	keys *KeyMemo
	// created holds, once committed, the desktop made for each request
	// (nil where it was refused), for callers that build on them
	// (CreateStandbyWorkspaces).
	created []*desktopRec
	// refused holds each refused request's error.
	refused []error
	// stored holds, once committed, the records written for the created
	// desktops and their bytes, as far as known, in the order of the
	// provisioning job's refs (see freshRecs); job is the job's first key.
	stored []storedRec
	job    string
}

// storedRec is a desktop record and the bytes stored for it under key.
type storedRec struct {
	key   string
	raw   []byte
	w     *desktopRec
	marks recMarks // raw's, when known (appendJSONMarks)
}

// plannedDesktop is one requested desktop checked.
type plannedDesktop struct {
	tagsErr error       // its tags are refused (checked before the quota)
	err     error       // planDesktop refused it
	w       *desktopRec // its record but for subnet and address, when neither
	live    []string    // its user's desktops already there
}

// planCreate runs the checks of every requested desktop through tx (a
// transaction's or a read set's). An error that is not one desktop's
// refusal ends it.
func (m *Module) planCreate(ctx context.Context, tx store.Tx, c *gateway.Call, in *createWorkspacesIn) (*createPlan, error) {
	p := &createPlan{rc: m.newCreateCache(c), items: make([]plannedDesktop, len(in.Workspaces))}
	if asksEncryption(in.Workspaces) {
		// What the checks' KMS calls read (ResolveKey), for the
		// transaction's grants (commitCreate). A request with no
		// encrypted volume makes no KMS call: no memo.
		p.keys = &KeyMemo{}
		ctx = context.WithValue(ctx, keyMemoKey{}, p.keys)
	}
	// The records of the request's desktops in one block (planDesktop):
	// they live as long as the request and its provisioning job.
	p.rc.boxes = make([]plannedBox, len(in.Workspaces))
	// And their ids, volume ids, computer names and addresses in one
	// block of bytes (createCache.strs).
	p.rc.strs.room = len(in.Workspaces) * (desktopIDsLen + len("255.255.255.255"))
	p.rc.strs.ids = len(in.Workspaces)
	p.rc.ips.strs = &p.rc.strs
	var shared Tags // the last request's tags, for the next with the same list
	for i, r := range in.Workspaces {
		it := &p.items[i]
		var tags Tags
		var err error
		if i > 0 && shared != nil && sameTagList(r.Tags, in.Workspaces[i-1].Tags) {
			tags = shared // records share it: a desktop's tags are replaced, never changed in place (updateTags)
		} else if tags, err = tagsFromList(r.Tags); err == nil {
			shared = tags
		} else {
			shared = nil
		}
		if err != nil {
			if _, ok := toItemError(err); !ok {
				return nil, err
			}
			it.tagsErr = err
			continue
		}
		if it.w, it.live, err = m.planDesktop(ctx, tx, c, i, r, tags, p.rc); err != nil {
			if _, ok := toItemError(err); !ok {
				return nil, err
			}
			it.err = err
		}
	}
	return p, nil
}

// asksEncryption reports whether a request of reqs asks for an encrypted
// volume or names a key: planDesktop resolves the key of such a request
// (ResolveKey, a KMS call), and of no other.
func asksEncryption(reqs []WorkspaceRequest) bool {
	for _, r := range reqs {
		if ptr.Deref(r.RootVolumeEncryptionEnabled) || ptr.Deref(r.UserVolumeEncryptionEnabled) || r.VolumeEncryptionKey != nil {
			return true
		}
	}
	return false
}

// sameTagList reports whether two requests' tag lists make the same tags:
// the same keys and values (an absent value is empty), in the same order.
func sameTagList(a, b []Tag) bool {
	return slices.EqualFunc(a, b, func(x, y Tag) bool { return x.Key == y.Key && ptr.Deref(x.Value) == ptr.Deref(y.Value) })
}

// commitCreate is the transaction's part of a planned request: each
// desktop's checks in order (tags, quota, the plan's), its place, then the
// accepted desktops written together with their provisioning job. It fills
// out's FailedRequests; the caller renders PendingRequests from p.created
// after the commit, off the store's writer.
func (m *Module) commitCreate(ctx context.Context, tx store.Tx, c *gateway.Call, in *createWorkspacesIn, p *createPlan, out *createWorkspacesOut) error {
	if p.keys != nil || KeyMemoOf(ctx) != nil {
		// This transaction's, with what the plan read of its keys. A plan
		// of no encrypted volume has none: its desktops make no grant
		// (writeDesktops makes a memo for the first that does).
		ctx = withKeyMemoFrom(ctx, p.keys)
	}
	out.FailedRequests = []failedCreate{}
	p.created, p.refused = make([]*desktopRec, len(in.Workspaces)), make([]error, len(in.Workspaces))
	p.stored = make([]storedRec, 0, len(in.Workspaces))
	fail := func(i int, r WorkspaceRequest, err error) error {
		ie, ok := toItemError(err)
		if !ok {
			return err
		}
		p.refused[i] = ie
		out.FailedRequests = append(out.FailedRequests, failedCreate{WorkspaceRequest: r, ErrorCode: ie.code, ErrorMessage: ie.msg})
		return nil
	}
	room := -1 // guests that may start yet (-1: no runtime)
	if m.rt != nil {
		room = m.rt.Room()
	}
	// What placing needs is read at once, rather than desktop by desktop
	// in the loop below: on a store that locks what a transaction reads
	// (store/postgres), the live-desktop count (the hottest record of an
	// account and Region, which every creation and termination writes) is
	// then held for fewer round trips. The subnets, only checked, are read
	// before the count; the address counters, written, after it: the
	// order of countKey. The answers do not depend on it.
	var sure []string // the subnets whose counters are read with the count
	if room != 0 {
		var all []string
		all, sure = p.planSubnets()
		if err := p.rc.ips.readSubnets(ctx, tx, m, c.Account, c.Region, all); err != nil {
			return err
		}
	}
	// The count and the counters of sure in one round trip
	// (store.GetTables), their locks in countKey's order.
	ck := countKey(c.Account, c.Region)
	counters := p.rc.ips.counterKeys(c.Account, c.Region, sure)
	got, err := store.GetTables(ctx, tx, []store.TableKeys{{Table: tIdem, Keys: []string{ck}}, {Table: tIPAlloc, Keys: counters}})
	if err != nil {
		return err
	}
	cb, found := got[0][ck]
	count, err := m.countFrom(ctx, tx, c.Account, c.Region, cb, found)
	if err != nil {
		return err
	}
	if err := p.rc.ips.setCounters(sure, counters, got[1]); err != nil {
		return err
	}
	accepted := make([]acceptedDesktop, 0, len(in.Workspaces))
	for i, r := range in.Workspaces {
		if room == 0 {
			if err := fail(i, r, itemErr("ResourceLimitExceededException",
				"The WorkSpace cannot be created: the limit of running desktops of this deskplane (--runtime-max) is reached.")); err != nil {
				return err
			}
			continue
		}
		it := p.items[i]
		err := it.tagsErr
		if err == nil {
			err = m.checkQuota(c, count)
		}
		if err == nil {
			err = it.err
		}
		if err == nil {
			err = m.placeDesktop(ctx, tx, c, it.w, count, p.rc)
		}
		if err != nil {
			if err := fail(i, r, err); err != nil {
				return err
			}
			continue
		}
		count++
		if room > 0 {
			room--
		}
		accepted = append(accepted, acceptedDesktop{w: it.w, live: it.live, index: i})
	}
	refused, err := m.writeDesktops(ctx, tx, c, accepted)
	if err != nil {
		return err
	}
	// One provisioning job for the request's desktops (each still moves
	// on its own: a desktop changed meanwhile is skipped by its seq).
	refs := make([]jobRef, 0, len(accepted))
	maint := make([]maintEntry, 0, len(accepted))
	dues := m.maintenanceDues(c.Now, c.Now) // the same months for every desktop of the request
	for i, a := range accepted {
		if refused[i] != nil {
			if err := fail(a.index, in.Workspaces[a.index], refused[i]); err != nil {
				return err
			}
			count--
			continue
		}
		p.created[a.index] = a.w
		k := a.key
		if a.raw != nil {
			p.stored = append(p.stored, storedRec{key: k, raw: a.raw, w: a.w, marks: a.marks})
		}
		refs = append(refs, jobRef{Key: k})
		maint = append(maint, maintEntry{Key: k, Due: dues.due(a.w.WorkspaceID)})
	}
	if len(refs) == 0 {
		return nil
	}
	if err := p.rc.ips.flush(ctx, tx, c.Account, c.Region); err != nil {
		return err
	}
	if err := putInt(ctx, tx, tIdem, ck, count); err != nil {
		return err
	}
	if err := m.scheduleMaintenanceGroup(ctx, tx, p.rc.maintGroup, maint); err != nil {
		return err
	}
	p.job = refs[0].Key
	return m.engine.Schedule(ctx, tx, "tb/"+refs[0].Key, jobTransitionBatch, c.Now.Add(m.timing(lifecycle.Provision)), jobRefs(refs))
}

// acceptedDesktop is a desktop that passed its checks and has its place.
type acceptedDesktop struct {
	w     *desktopRec
	live  []string // its user's desktops already there
	index int      // its place in the request (in.Workspaces)
	key   string   // its record's key (writeDesktops)
	raw   []byte   // the bytes written for it, when its last write is known (writeDesktops)
	marks recMarks // raw's marks, when known
}

// countKey holds the number of desktops of an account in a region that are
// not TERMINATED, kept up to date with every creation and termination, so
// the quota check does not count rows.
//
// # Lock order
//
// On store/postgres a transaction locks every key it reads or writes until
// it commits, so two transactions that take two keys in opposite orders can
// deadlock (PostgreSQL breaks it only after deadlock_timeout, a second, and
// the store retries). The operations that take more than one of a Region's
// shared records take them in this order:
//
//  1. the records they check or change as their own: the desktops they act
//     on, their users' index entries, the directory, bundle, image and key;
//     then the subnets they place desktops in, read shared (only checked);
//  2. the Region's live-desktop count (this key);
//  3. the subnets' address counters (several in one GetMany);
//  4. last, what they create or write: new desktops, their names, grants,
//     users' index entries (locked in 1 when read there), jobs.
//
// CreateWorkspaces (commitCreate, also under CreateStandbyWorkspaces) and
// MigrateWorkspace (migrate) take 1 to 4; a termination takes the count
// (afterTransition), a rebuild a subnet then its counter (allocIP). A KMS
// key is one of the records of 1: a creation checks it while it plans, and
// an operation that uses it only after the count or a counter (the grant
// of a migration's target, a rebuild's new root volume) reads it first
// (lockKey); a termination retires its grants before the count. KMS's
// calls only check the key and read it shared (internal/kms, checkKey), so
// creations and provisionings of one key overlap; a change of the key
// (DisableKey, a policy, RevokeGrant) reads it exclusive and waits for them.
// TestLockOrder holds each of them to this order, encrypted desktops too.
func countKey(account, region string) string { return key(account, region, "count/workspaces") }

func (m *Module) countLive(ctx context.Context, tx store.Tx, account, region string) (int, error) {
	b, err := tx.Get(ctx, tIdem, countKey(account, region))
	if errors.Is(err, store.ErrNotFound) {
		return m.countFrom(ctx, tx, account, region, nil, false)
	}
	if err != nil {
		return 0, err
	}
	return m.countFrom(ctx, tx, account, region, b, true)
}

// countFrom returns the live-desktop count of an account's region from
// its record b as read (found: it exists), or counts the desktops when
// there is none yet.
func (m *Module) countFrom(ctx context.Context, tx store.Tx, account, region string, b []byte, found bool) (int, error) {
	if found {
		var n int
		if err := store.DecodeJSON(b, &n); err != nil {
			return 0, fmt.Errorf("store: decode %s/%s: %w", tIdem, countKey(account, region), err)
		}
		return n, nil
	}
	// First use (or a store from before the counter): count once.
	count := 0
	err := store.ScanJSON[desktopRec](ctx, tx, tDesktops, prefix(account, region), "", 0, func(_ string, w *desktopRec) error {
		if w.State != "TERMINATED" {
			count++
		}
		return nil
	})
	return count, err
}

// addLive adjusts the live-desktop counter by delta.
func (m *Module) addLive(ctx context.Context, tx store.Tx, account, region string, delta int) error {
	n, err := m.countLive(ctx, tx, account, region)
	if err != nil {
		return err
	}
	return putRec(ctx, tx, tIdem, countKey(account, region), max(0, n+delta))
}

// newCreateCache returns the cache of one CreateWorkspaces request.
func (m *Module) newCreateCache(c *gateway.Call) *createCache {
	return &createCache{maintGroup: maintGroupID(), dirs: map[string]*directoryRec{}, bundles: map[string]*bundleInfo{},
		users: map[string]bool{}}
}

// maintGroupID is the job id of a CreateWorkspaces request's maintenance
// group (its desktops form one group, one job). It is stored in each
// desktop's record, written twice per desktop created, so it is short:
// "mwg/" and 20 random base-36 characters (about 103 bits from
// crypto/rand), unique without the account and Region. It was the
// request id (a UUID, 36 characters) until session 12: 16 bytes more in
// each record, about 2.5% of the bytes a desktop writes. The id is
// opaque: records of older stores keep their longer ids, which are
// compared as they are.
func maintGroupID() string {
	return "mwg/" + ids.FromAlphabet(ids.Base36, maintGroupIDLen)
}

// maintGroupIDLen is the length of a maintenance group id after "mwg/".
const maintGroupIDLen = 20

// createCache holds what one CreateWorkspaces request looked up once for
// all its desktops (they usually share a directory and a bundle).
type createCache struct {
	dirs       map[string]*directoryRec
	bundles    map[string]*bundleInfo
	ips        ipAllocator
	maintGroup string          // the job id of the request's maintenance group
	users      map[string]bool // DIRECTORY/user of the desktops accepted so far
	// boxes holds the record of each requested desktop, by its place in
	// the request (planDesktop): one allocation for the request instead of
	// one of 1,024 bytes per desktop.
	boxes []plannedBox
	// strs holds the strings of the request's records that are made here
	// (ids, volume ids, computer names, addresses).
	strs strArena
}

// strArena hands out strings from blocks of bytes that several strings
// share: the strings of one request's records, which live as long as
// they do, in one allocation instead of one or two per desktop. It only
// ever appends: the bytes of a string handed out never change (a
// strings.Builder's, whose String shares its bytes for that reason), and
// a new block is started when one is full.
type strArena struct {
	b    strings.Builder
	room int // the size of a block (at least the string asked for)
	// ids is how many desktops' ids desktopIDs makes at a time (at most
	// idsRun): their ordered values are taken in one run (orderedRun), and
	// the random bytes of their volume ids in one read, into rnd.
	ids     int
	run     uint64 // the next ordered value of the run taken
	runLeft int    // how many are left of it
	rndAt   int    // rnd[rndAt:rndEnd] is read and not used yet
	rndEnd  int
	rnd     [idsRun * volRandLen]byte
}

// idsRun is the most desktops' ids a strArena takes at a time: a
// request's most desktops.
const idsRun = 25

// add returns s as a string in the arena.
func (a *strArena) add(s []byte) string {
	if a.b.Cap()-a.b.Len() < len(s) {
		a.b = strings.Builder{} // the strings handed out keep the full block
		a.b.Grow(max(len(s), a.room))
	}
	start := a.b.Len()
	a.b.Write(s)
	return a.b.String()[start:]
}

// desktopIDs is newDesktopIDs with the strings in the arena, the ordered
// values and the random bytes of a.ids desktops taken at once (one clock
// reading, one swap of the shared counter and one read of crypto/rand for
// a request, where each desktop took its own).
func (a *strArena) desktopIDs() (id, rootVol, userVol, computer string) {
	n := min(max(a.ids, 1), idsRun)
	if a.runLeft == 0 {
		a.run, a.runLeft = orderedRun(uint64(n)), n
	}
	if a.rndEnd-a.rndAt < volRandLen {
		a.rndAt, a.rndEnd = 0, n*volRandLen
		rand.Read(a.rnd[:a.rndEnd])
	}
	var b [desktopIDsLen]byte
	putDesktopIDsFrom(b[:], orderedDigitsOf(a.run), (*[volRandLen]byte)(a.rnd[a.rndAt:]))
	a.run++
	a.runLeft--
	a.rndAt += volRandLen
	return splitDesktopIDs(a.add(b[:]))
}

// ipAllocator hands out subnet addresses for one request: each subnet's
// counter is read once and written back once (flush).
type ipAllocator struct {
	subnets map[string]*subnetAlloc // the subnets whose counters are read
	// the subnets read by readSubnets (their counters may not be read yet),
	// and the errors of those that could not be read
	aheadIDs []string
	ahead    []subnetRead
	// strs, when set, holds the addresses handed out (a request's:
	// createCache.strs).
	strs *strArena
}

type subnetAlloc struct {
	prefix netip.Prefix
	next   int
	read   int    // next as read: flush writes back only a counter that moved
	key    string // the counter's key, once built ("": not yet)
}

// putInt writes an int record: the bytes putRec writes for it (JSON's
// integer), without encoding/json's interface and copy.
func putInt(ctx context.Context, tx store.Tx, table, k string, n int) error {
	return tx.Put(ctx, table, k, strconv.AppendInt(make([]byte, 0, 8), int64(n), 10))
}

// subnetRead is a subnet read ahead: its allocator, or why there is none.
type subnetRead struct {
	s   *subnetAlloc
	err error
}

// planSubnets lists the subnets of every directory the plan's desktops go
// to (all: each is read before the Region's count, see countKey), and
// those the desktops are sure to be placed in, should they all pass the
// quota (sure: every subnet of a directory that has at least as many
// planned desktops as subnets, since placeDesktop takes them in turn).
// The counters of sure are read with the count's lock held, together;
// any other is read when a desktop is placed in its subnet, so no counter
// is locked that would not be otherwise.
func (p *createPlan) planSubnets() (all, sure []string) {
	// Planned desktops per directory (a request usually names one), and
	// all and sure in one block.
	type dirCount struct {
		id string
		n  int
	}
	var few [4]dirCount
	counts := few[:0]
	for _, it := range p.items {
		if it.tagsErr == nil && it.err == nil && it.w != nil {
			j := 0
			for j < len(counts) && counts[j].id != it.w.DirectoryID {
				j++
			}
			if j == len(counts) {
				counts = append(counts, dirCount{id: it.w.DirectoryID})
			}
			counts[j].n++
		}
	}
	room := 0
	for _, c := range counts {
		if d := p.rc.dirs[c.id]; d != nil {
			room += len(d.SubnetIDs)
		}
	}
	if room == 0 {
		return nil, nil
	}
	block := make([]string, 0, 2*room)
	all, sure = block[:0:room], block[room:room]
	for _, c := range counts {
		id, k := c.id, c.n
		d := p.rc.dirs[id]
		if d == nil {
			continue
		}
		for _, s := range d.SubnetIDs {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
			if k >= len(d.SubnetIDs) && !slices.Contains(sure, s) {
				sure = append(sure, s)
			}
		}
	}
	slices.Sort(all) // the same order of reads (and of locks) every time
	slices.Sort(sure)
	if len(sure) == 0 {
		sure = nil
	}
	return all, sure
}

// readSubnets reads the given subnets ahead of alloc, together and as
// shared reads (store.SharedReads: the transaction only checks them);
// readCounters then reads the address counters of some of them with one
// GetMany. A subnet that cannot be read or parsed keeps its error, which
// alloc answers when a desktop is placed in it, as it would have without
// reading ahead.
func (a *ipAllocator) readSubnets(ctx context.Context, tx store.Tx, m *Module, account, region string, subnetIDs []string) error {
	ids := subnetIDs
	for i, id := range subnetIDs {
		if a.subnets[id] != nil || slices.Contains(a.aheadIDs, id) || slices.Contains(subnetIDs[:i], id) {
			ids = nil // some are read already: the others only
			break
		}
	}
	if ids == nil {
		for i, id := range subnetIDs {
			if a.subnets[id] == nil && !slices.Contains(a.aheadIDs, id) && !slices.Contains(subnetIDs[:i], id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	shared := store.SharedReads(ctx)
	got, err := m.ec2.SubnetsByID(shared, tx, account, region, ids)
	if err != nil {
		return err
	}
	a.aheadIDs, a.ahead = slices.Grow(a.aheadIDs, len(ids)), slices.Grow(a.ahead, len(ids))
	for i, id := range ids {
		var r subnetRead
		if got[i] != nil {
			r.s, r.err = parseSubnet(got[i])
		} else {
			// Not answered (rare: a directory's subnet deleted): read
			// alone for EC2's own error.
			r.s, r.err = readSubnet(shared, tx, m, account, region, id)
		}
		a.aheadIDs = append(a.aheadIDs, id)
		a.ahead = append(a.ahead, r)
	}
	return nil
}

// readCounters reads the address counters of those of subnetIDs that
// readSubnets read.
func (a *ipAllocator) readCounters(ctx context.Context, tx store.Tx, account, region string, subnetIDs []string) error {
	keys := a.counterKeys(account, region, subnetIDs)
	if len(keys) == 0 {
		return nil
	}
	vals, err := tx.GetMany(ctx, tIPAlloc, keys)
	if err != nil {
		return err
	}
	return a.setCounters(subnetIDs, keys, vals)
}

// counterKeys lists the keys of the address counters readCounters reads
// for subnetIDs: those of the subnets readSubnets read, once each.
func (a *ipAllocator) counterKeys(account, region string, subnetIDs []string) []string {
	var keys []string
	for i, id := range subnetIDs {
		if j := slices.Index(a.aheadIDs, id); j >= 0 && a.ahead[j].err == nil && a.subnets[id] == nil && !slices.Contains(subnetIDs[:i], id) {
			if keys == nil {
				keys = make([]string, 0, len(subnetIDs))
			}
			keys = append(keys, key(account, region, id))
		}
	}
	return keys
}

// setCounters takes the counters of keys (counterKeys of subnetIDs) from
// vals, the records read of them.
func (a *ipAllocator) setCounters(subnetIDs, keys []string, vals map[string][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	if a.subnets == nil {
		a.subnets = make(map[string]*subnetAlloc, len(keys))
	}
	n := 0
	for i, id := range subnetIDs {
		j := slices.Index(a.aheadIDs, id)
		if j < 0 || a.ahead[j].err != nil || a.subnets[id] != nil || slices.Contains(subnetIDs[:i], id) {
			continue
		}
		k := keys[n]
		n++
		s := a.ahead[j].s
		s.key = k
		if b, ok := vals[k]; ok {
			if err := store.DecodeJSON(b, &s.next); err != nil {
				return fmt.Errorf("store: decode %s/%s: %w", tIPAlloc, k, err)
			}
			s.read = s.next
		}
		a.subnets[id] = s
	}
	return nil
}

// readSubnet reads subnet id and returns its allocator, its counter not
// read yet.
func readSubnet(ctx context.Context, tx store.Tx, m *Module, account, region, id string) (*subnetAlloc, error) {
	sn, err := m.ec2.Subnet(ctx, tx, account, region, id)
	if err != nil {
		return nil, fmt.Errorf("subnet %s: %w", id, err)
	}
	return parseSubnet(sn)
}

// parseSubnet returns the allocator of a subnet read, its counter not read
// yet.
func parseSubnet(sn *Subnet) (*subnetAlloc, error) {
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		return nil, fmt.Errorf("subnet %s cidr %q: %w", sn.SubnetID, sn.CIDR, err)
	}
	return &subnetAlloc{prefix: p}, nil
}

// alloc hands out the next address of a subnet. A subnet not read ahead
// is read here (shared: it is only checked), then its counter.
func (a *ipAllocator) alloc(ctx context.Context, tx store.Tx, m *Module, account, region, subnetID string) (string, error) {
	if a.subnets == nil {
		a.subnets = map[string]*subnetAlloc{}
	}
	s := a.subnets[subnetID]
	if s == nil {
		if j := slices.Index(a.aheadIDs, subnetID); j >= 0 {
			if err := a.ahead[j].err; err != nil {
				return "", err
			}
			s = a.ahead[j].s
		} else {
			var err error
			if s, err = readSubnet(store.SharedReads(ctx), tx, m, account, region, subnetID); err != nil {
				return "", err
			}
		}
		s.key = key(account, region, subnetID)
		if v, err := getRec[int](ctx, tx, tIPAlloc, s.key); err != nil {
			return "", err
		} else if v != nil {
			s.next, s.read = *v, *v
		}
		a.subnets[subnetID] = s
	}
	var ip string
	if a.strs != nil {
		var b [len("255.255.255.255")]byte
		ip = a.strs.add(appendHostAddress(b[:0], s.prefix, s.next))
	} else {
		ip = hostAddress(s.prefix, s.next)
	}
	s.next++
	return ip, nil
}

func (a *ipAllocator) flush(ctx context.Context, tx store.Tx, account, region string) error {
	for id, s := range a.subnets {
		if s.next == s.read {
			continue // prefetched, not used
		}
		k := s.key
		if k == "" {
			k = key(account, region, id)
		}
		if err := putInt(ctx, tx, tIPAlloc, k, s.next); err != nil {
			return err
		}
	}
	return nil
}

// hostAddress is the n-th handed-out address of a subnet, skipping the
// addresses AWS reserves (the first four and the last).
func hostAddress(p netip.Prefix, n int) string {
	return hostAddr(p, n).String()
}

// appendHostAddress appends hostAddress(p, n) to b.
func appendHostAddress(b []byte, p netip.Prefix, n int) []byte {
	return hostAddr(p, n).AppendTo(b)
}

func hostAddr(p netip.Prefix, n int) netip.Addr {
	size := 1 << (32 - p.Bits())
	usable := size - 5
	if usable < 1 {
		usable = 1
	}
	host := 4 + n%usable
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(host)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

type bundleInfo struct {
	b                 *bundleRec
	protocol, tenancy string
	osName            string
}

func (m *Module) cachedDirectory(ctx context.Context, tx store.Tx, c *gateway.Call, id string, rc *createCache) (*directoryRec, error) {
	if d, ok := rc.dirs[id]; ok {
		return d, nil
	}
	d, err := sharedRec(ctx, tx, m.dirsDecoded, tDirs, key(c.Account, c.Region, id))
	if err == nil {
		rc.dirs[id] = d
	}
	return d, err
}

// sharedRecsMax bounds each of the module's caches of decoded directories,
// bundles and images (sharedRec): a few hundred KB at most.
const sharedRecsMax = 1024

// sharedRec reads a record as getRec does, decoded from its bytes once
// per version of them (dec, store.Decoded): callers that read the same
// bytes get the same record, which none of them may change. The
// directory, bundle and image of a CreateWorkspaces request are read by
// every request for them, and only checked (about 30 allocations a
// request for their decoding).
func sharedRec[T any](ctx context.Context, tx store.Tx, dec *store.Decoded[T], table, k string) (*T, error) {
	b, err := tx.Get(ctx, table, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return dec.Decode(table, k, b)
}

func (m *Module) cachedBundle(ctx context.Context, tx store.Tx, c *gateway.Call, id string, rc *createCache) (*bundleInfo, error) {
	if b, ok := rc.bundles[id]; ok {
		return b, nil
	}
	// The bundle and its image as lookupBundle and lookupImage read them,
	// the records stored decoded once per version (sharedRec; only read
	// here).
	b, err := sharedRec(ctx, tx, m.bundlesDecoded, tBundles, key(c.Account, c.Region, id))
	if err == nil && b == nil {
		b, err = publicBundle(id)
	}
	if err != nil {
		return nil, err
	}
	info := &bundleInfo{b: b}
	if b != nil {
		// The image is read once, for the protocol, tenancy and OS.
		img, err := sharedRec(ctx, tx, m.imagesDecoded, tImages, key(c.Account, c.Region, b.ImageID))
		if err == nil && img == nil {
			img, err = m.notOwnedImage(ctx, tx, c.Account, c.Region, b.ImageID)
		}
		if err != nil {
			return nil, err
		}
		info.protocol, info.tenancy = imageProtocol(b, img)
		if img != nil {
			info.osName = img.OSName
		}
	}
	rc.bundles[id] = info
	return info, nil
}

// checkQuota refuses a desktop when count desktops already exist.
func (m *Module) checkQuota(c *gateway.Call, count int) error {
	if count >= m.cfg.Quotas.Workspaces {
		return itemErr("ResourceLimitExceededException", "The number of WorkSpaces in %s has reached the limit of %d.", c.Region, m.cfg.Quotas.Workspaces)
	}
	return nil
}

// planDesktop runs the checks of one requested desktop (item i of the
// request) against its
// directory, bundle, image, user and key, and makes its record, all but its
// subnet and address (placeDesktop). live lists the user's desktops already
// there (none for a user-decoupled desktop).
func (m *Module) planDesktop(ctx context.Context, tx store.Tx, c *gateway.Call, i int, r WorkspaceRequest, tags Tags, rc *createCache) (w *desktopRec, live []string, err error) {
	dir, err := m.cachedDirectory(ctx, tx, c, r.DirectoryId, rc)
	if err != nil {
		return nil, nil, err
	}
	if dir == nil {
		return nil, nil, itemErr("ResourceNotFoundException", "The directory %s is not registered with Amazon WorkSpaces.", r.DirectoryId)
	}
	if dir.State != "REGISTERED" {
		return nil, nil, itemErr("InvalidResourceStateException", "The directory %s is %s; it must be REGISTERED.", r.DirectoryId, dir.State)
	}
	bi, err := m.cachedBundle(ctx, tx, c, r.BundleId, rc)
	if err != nil {
		return nil, nil, err
	}
	b := bi.b
	if b == nil {
		return nil, nil, itemErr("ResourceNotFoundException", "The bundle %s could not be found.", r.BundleId)
	}
	if b.State != "AVAILABLE" {
		return nil, nil, itemErr("InvalidResourceStateException", "The bundle %s is %s.", r.BundleId, b.State)
	}
	protocol, tenancy := bi.protocol, bi.tenancy
	if tenancy == "DEDICATED" && dir.Tenancy != "DEDICATED" {
		return nil, nil, itemErr("InvalidParameterValuesException", "The bundle %s uses a BYOL image, which needs a directory registered with DEDICATED tenancy; %s is SHARED.", r.BundleId, r.DirectoryId)
	}
	if r.Ipv6Address != nil {
		// deskplane's VPCs and subnets are IPv4 only (no IPv6 CIDR can be
		// associated), so no subnet of the directory has the address.
		return nil, nil, itemErr("InvalidParameterValuesException", "The IPv6 address %s is not in an IPv6 CIDR block of the directory %s's subnets: they have none (deskplane models IPv4 subnets only).", *r.Ipv6Address, r.DirectoryId)
	}
	byop := protocol == "BYOP"
	props := WorkspaceProperties{}
	if r.WorkspaceProperties != nil {
		props = *r.WorkspaceProperties
	}
	mode := "ALWAYS_ON"
	if props.RunningMode != nil {
		mode = *props.RunningMode
	}
	switch {
	case byop && mode == "AUTO_STOP":
		return nil, nil, itemErr("OperationNotSupportedException", "The running mode AUTO_STOP is not available for WorkSpaces Core (BYOP) desktops; use ALWAYS_ON or MANUAL.")
	case !byop && mode == "MANUAL":
		return nil, nil, itemErr("OperationNotSupportedException", "The running mode MANUAL is only available for WorkSpaces Core (BYOP) desktops.")
	}
	var sid string
	if r.UserName == UndefinedUser {
		if !byop {
			return nil, nil, itemErr("InvalidParameterValuesException", "User-decoupled WorkSpaces ([UNDEFINED] user name) are only available for WorkSpaces Core (BYOP) bundles.")
		}
		if r.WorkspaceName == nil {
			return nil, nil, itemErr("InvalidParameterValuesException", "A WorkspaceName is required when the user name is [UNDEFINED].")
		}
	} else {
		if r.WorkspaceName != nil {
			return nil, nil, itemErr("InvalidParameterValuesException", "WorkspaceName can only be given for user-decoupled WorkSpaces ([UNDEFINED] user name).")
		}
		u, err := m.dirs.User(ctx, tx, c.Account, c.Region, r.DirectoryId, r.UserName)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, itemErr("InvalidParameterValuesException", "The user %s was not found in the directory %s.", r.UserName, r.DirectoryId)
		}
		if err != nil {
			return nil, nil, err
		}
		if !u.Enabled {
			return nil, nil, itemErr("InvalidParameterValuesException", "The user %s is disabled in the directory %s.", r.UserName, r.DirectoryId)
		}
		r.UserName = u.SAMAccountName
		sid = u.SID
		live, err = userDesktops(ctx, tx, c.Account, c.Region, r.DirectoryId, r.UserName)
		if err != nil {
			return nil, nil, err
		}
		uk := r.DirectoryId + "/" + strings.ToLower(r.UserName)
		if len(live) > 0 || rc.users[uk] {
			return nil, nil, itemErr("ResourceAlreadyExistsException", "The user %s already has a WorkSpace in the directory %s.", r.UserName, r.DirectoryId)
		}
		rc.users[uk] = true
	}
	rootEnc, userEnc := ptr.Deref(r.RootVolumeEncryptionEnabled), ptr.Deref(r.UserVolumeEncryptionEnabled)
	var keyARN string
	if rootEnc || userEnc || r.VolumeEncryptionKey != nil {
		if !rootEnc && !userEnc {
			return nil, nil, itemErr("InvalidParameterValuesException", "VolumeEncryptionKey was given but neither RootVolumeEncryptionEnabled nor UserVolumeEncryptionEnabled is true.")
		}
		if m.keys == nil {
			return nil, nil, itemErr("OperationNotSupportedException", "Volume encryption is not available on this server.")
		}
		keyARN, err = m.keys.ResolveKey(ctx, tx, c.Account, c.Region, ptr.Deref(r.VolumeEncryptionKey))
		if err != nil {
			return nil, nil, err
		}
		// WorkSpaces creates grants on the caller's behalf: the pipeline
		// asked whether the caller may kms:CreateGrant on the key
		// (createWorkspacesItems).
		if err := c.Refused(i); err != nil {
			ae := awsproto.As(err)
			if ae == nil {
				return nil, nil, fmt.Errorf("authorize kms:CreateGrant on %s: %w", keyARN, err)
			}
			return nil, nil, itemErr("AccessDeniedException", "%s", ae.Message)
		}
	}
	compute := b.ComputeType
	if props.ComputeTypeName != nil {
		compute = *props.ComputeTypeName
	}
	rootSize, err := strconv.Atoi(b.RootCapacity)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %s: root capacity %q: %w", b.BundleID, b.RootCapacity, err)
	}
	userSize, err := strconv.Atoi(b.UserCapacity)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %s: user capacity %q: %w", b.BundleID, b.UserCapacity, err)
	}
	if props.RootVolumeSizeGib != nil {
		rootSize = *props.RootVolumeSizeGib
	}
	if props.UserVolumeSizeGib != nil {
		userSize = *props.UserVolumeSizeGib
	}
	if err := checkVolumeCombo(rootSize, userSize, compute); err != nil {
		return nil, nil, err
	}
	id, rootVol, userVol, computer := rc.strs.desktopIDs()
	// The record and what it points to in one block, the request's
	// (planCreate makes one for all its desktops).
	var box *plannedBox
	if i < len(rc.boxes) {
		box = &rc.boxes[i]
	} else {
		box = new(plannedBox)
	}
	*box = plannedBox{mode: mode, compute: compute, root: rootSize, user: userSize}
	// Room for the provisioning's transition, appended in place.
	box.history[0] = Transition{State: "PENDING", Time: c.Now}
	w = &box.w
	*w = desktopRec{
		WorkspaceID: id, DirectoryID: r.DirectoryId, UserName: r.UserName, WorkspaceName: ptr.Deref(r.WorkspaceName),
		BundleID: r.BundleId, ComputerName: computer,
		Properties: WorkspaceProperties{RunningMode: &box.mode, ComputeTypeName: &box.compute, RootVolumeSizeGib: &box.root, UserVolumeSizeGib: &box.user,
			Protocols: protocols(protocol), OperatingSystemName: props.OperatingSystemName},
		VolumeKey: keyARN, RootEncrypted: rootEnc, UserEncrypted: userEnc, UserSID: sid,
		Root: volumeRec{VolumeID: rootVol, SizeGib: rootSize, Encrypted: rootEnc, ImageID: b.ImageID},
		User: volumeRec{VolumeID: userVol, SizeGib: userSize, Encrypted: userEnc},
		Tags: tags, Created: c.Now, StateSince: c.Now, State: "PENDING",
		History:    box.history[:1],
		MaintGroup: rc.maintGroup,
	}
	if mode == "AUTO_STOP" {
		w.Properties.RunningModeAutoStopTimeoutInMinutes = ptr.To(60)
		if props.RunningModeAutoStopTimeoutInMinutes != nil {
			w.Properties.RunningModeAutoStopTimeoutInMinutes = props.RunningModeAutoStopTimeoutInMinutes
		}
	}
	if w.Properties.OperatingSystemName == nil && bi.osName != "" {
		box.os = bi.osName
		w.Properties.OperatingSystemName = &box.os
	}
	if err := checkCreateInputs(w, props, bi.osName); err != nil {
		return nil, nil, err
	}
	return w, live, nil
}

// plannedBox is a planned desktop's record together with the values its
// properties point to and room for two transitions, allocated at once.
type plannedBox struct {
	w                 desktopRec
	mode, compute, os string
	root, user        int
	history           [2]Transition
}

// placeDesktop gives a planned desktop its subnet (the directory's subnets
// in turn, by count) and an address in it.
func (m *Module) placeDesktop(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec, count int, rc *createCache) error {
	dir := rc.dirs[w.DirectoryID] // looked up by planDesktop
	w.SubnetID = dir.SubnetIDs[count%len(dir.SubnetIDs)]
	ip, err := rc.ips.alloc(ctx, tx, m, c.Account, c.Region, w.SubnetID)
	if err != nil {
		return err
	}
	w.IPAddress = ip
	return nil
}

// insertDesktop stores a new desktop under a fresh id. Ids come in creation
// order (newOrderedID); should another node have taken the same id at the
// same instant, the desktop gets a random one instead.
func insertDesktop(ctx context.Context, tx store.Tx, account, region string, w *desktopRec) error {
	for attempt := 0; ; attempt++ {
		err := store.CreateJSON(ctx, tx, tDesktops, key(account, region, w.WorkspaceID), w)
		if !errors.Is(err, store.ErrExists) || attempt == 8 {
			return err
		}
		w.WorkspaceID = newID("ws-")
		w.ComputerName = computerName(w.WorkspaceID)
	}
}

// writeDesktops stores a request's accepted desktops, a few statements for
// all of them: their records (an id another node took at the same instant
// is replaced as insertDesktop does), their names, the grants of encrypted
// ones, their users' index entries. refused[i] is why desktop i was not
// kept after all: its name is taken (by an existing desktop or an earlier
// one of the same batch) or its key refused the grant; nothing of it stays.
//
// It sets as[i].raw to the bytes of desktop i's last write when they are
// known here (not for one whose id was taken and replaced).
func (m *Module) writeDesktops(ctx context.Context, tx store.Tx, c *gateway.Call, as []acceptedDesktop) ([]error, error) {
	if len(as) == 0 {
		return nil, nil
	}
	account, region := c.Account, c.Region
	recs := make([]store.KV, len(as))
	// The records' keys in one string and their bytes in one array (the
	// read cache keeps a value as written: these until the provisioning
	// job writes the desktops again, all of a request's together). A value
	// is capped at its length, so that nothing appended to one can reach
	// the next.
	keyLen := 0
	for _, a := range as {
		keyLen += len(account) + len(region) + 2 + len(a.w.WorkspaceID)
	}
	var kb strings.Builder
	kb.Grow(keyLen)
	ends := make([]int, len(as))
	bp := encodeScratch.Get().(*[]byte)
	scratch := (*bp)[:0]
	for i, a := range as {
		if a.w.VolumeKey != "" {
			// The id its WorkSpaces grant is to get (grantWorkspace, below):
			// the record is written once, with it.
			a.w.WorkspaceGrant = NewGrantID()
		}
		var err error
		if scratch, as[i].marks, err = a.w.appendJSONMarks(scratch); err != nil {
			return nil, fmt.Errorf("encode desktop %s: %w", a.w.WorkspaceID, err)
		}
		ends[i] = len(scratch)
		kb.WriteString(account)
		kb.WriteByte('/')
		kb.WriteString(region)
		kb.WriteByte('/')
		kb.WriteString(a.w.WorkspaceID)
	}
	// Copied out at their size: the array is kept (a buffer grown by
	// appends would keep its slack).
	buf := append(make([]byte, 0, len(scratch)), scratch...)
	if cap(scratch) <= maxEncodeScratch {
		*bp = scratch
		encodeScratch.Put(bp)
	}
	keys := kb.String()
	koff, off := 0, 0
	for i, a := range as {
		kend := koff + len(account) + len(region) + 2 + len(a.w.WorkspaceID)
		k, b := keys[koff:kend], buf[off:ends[i]:ends[i]]
		recs[i] = store.KV{Key: k, Value: b}
		as[i].key, as[i].raw = k, b
		koff, off = kend, ends[i]
	}
	// The desktops and their names in one round trip (store.CreateTables):
	// on a store that locks what a transaction writes, the Region's count
	// is held for one answer fewer. A name record holds its desktop's id,
	// so one whose desktop's id was taken meanwhile is written again below.
	names, named := nameRecs(account, region, as)
	// A name record is read back only when the name is asked for again or
	// the desktop is terminated: the read cache need not keep it (one write
	// of the cache's map fewer per desktop).
	created, err := store.CreateTables(ctx, tx, []store.TableRecs{{Table: tDesktops, Recs: recs}, {Table: tIdem, Recs: names, Uncached: true}})
	if err != nil {
		return nil, err
	}
	existing, existingNames := created[0], created[1]
	// An id taken already is another node's, handed out at the same
	// instant (none on one node): its desktop is found by a scan rather
	// than a map of every key. Its
	// record was not written; it gets another id once its name is known
	// to be its own.
	var retaken []int
	for _, k := range existing {
		i := slices.IndexFunc(recs, func(r store.KV) bool { return r.Key == k })
		if i < 0 {
			return nil, fmt.Errorf("create desktops: the store reported %s, not one of the keys written", k)
		}
		as[i].raw = nil
		retaken = append(retaken, i)
	}
	refused := make([]error, len(as))
	// withdraw takes back desktop i's record (and its name, when it got it).
	withdraw := func(i int, named bool) error {
		w := as[i].w
		if named {
			if err := tx.Delete(ctx, tIdem, nameKey(account, region, "name", w.WorkspaceName)); err != nil {
				return fmt.Errorf("withdraw name of %s: %w", w.WorkspaceID, err)
			}
		}
		if err := tx.Delete(ctx, tDesktops, key(account, region, w.WorkspaceID)); err != nil {
			return fmt.Errorf("withdraw desktop %s: %w", w.WorkspaceID, err)
		}
		return nil
	}
	gotName := make([]bool, len(as))
	if len(names) > 0 {
		// A name refused as often as it occurs existed before: every
		// desktop asking for it is refused; otherwise its first desktop
		// got it.
		var taken, occurs map[string]int
		var seen map[string]bool
		if len(existingNames) > 0 || repeatsKey(names) {
			taken, occurs, seen = map[string]int{}, map[string]int{}, map[string]bool{}
			for _, k := range existingNames {
				taken[k]++
			}
			for _, n := range names {
				occurs[n.Key]++
			}
		}
		for j, n := range names {
			i := named[j]
			if occurs != nil && (seen[n.Key] || taken[n.Key] == occurs[n.Key]) {
				refused[i] = itemErr("ResourceAlreadyExistsException", "A WorkSpace named %s already exists.", as[i].w.WorkspaceName)
				if !slices.Contains(retaken, i) { // else its record was not written
					if err := withdraw(i, false); err != nil {
						return nil, err
					}
				}
			} else {
				gotName[i] = true
			}
			if seen != nil {
				seen[n.Key] = true
			}
		}
	}
	// The desktops whose ids were taken get random ones, created together
	// (one round trip, not one per desktop, while the count is held: on
	// three nodes 22-37% of the creations met ids another node had just
	// taken), as insertDesktop does for one.
	retaken = slices.DeleteFunc(retaken, func(i int) bool { return refused[i] != nil })
	for attempt := 0; len(retaken) > 0; attempt++ {
		if attempt == 8 {
			return nil, fmt.Errorf("create desktops: %d ids taken after %d attempts: %w", len(retaken), attempt, store.ErrExists)
		}
		again := make([]store.KV, len(retaken))
		for j, i := range retaken {
			w := as[i].w
			w.WorkspaceID = newID("ws-")
			w.ComputerName = computerName(w.WorkspaceID)
			b, err := store.EncodeJSON(w)
			if err != nil {
				return nil, fmt.Errorf("encode desktop %s: %w", w.WorkspaceID, err)
			}
			again[j] = store.KV{Key: key(account, region, w.WorkspaceID), Value: b}
		}
		taken, err := tx.CreateMany(ctx, tDesktops, again)
		if err != nil {
			return nil, err
		}
		var next []int
		for j, i := range retaken {
			if slices.Contains(taken, again[j].Key) {
				next = append(next, i)
				continue
			}
			as[i].key = again[j].Key
			if gotName[i] {
				w := as[i].w
				if err := tx.Put(ctx, tIdem, nameKey(account, region, "name", w.WorkspaceName), []byte(`"`+w.WorkspaceID+`"`)); err != nil {
					return nil, err
				}
			}
		}
		retaken = next
	}
	var granted []store.KV
	// The grants' KMS calls read their key once for the whole request
	// (KeyMemo; this runs inside the creation's transaction), not once per
	// desktop while the Region's count is held.
	// commitCreate's memo starts with the keys the checks read
	// (createPlan.keys): then the grants read none under the count.
	var kctx context.Context // the memo, made for the request's first encrypted desktop when ctx has none
	if KeyMemoOf(ctx) != nil {
		kctx = ctx
	}
	for i, a := range as {
		if refused[i] != nil {
			continue
		}
		if a.w.VolumeKey != "" {
			if kctx == nil {
				kctx = WithKeyMemo(ctx)
			}
			chosen := a.w.WorkspaceGrant
			if err := m.grantWorkspace(kctx, tx, c, a.w); err != nil {
				if _, ok := toItemError(err); !ok {
					return nil, err
				}
				refused[i] = err
				if err := withdraw(i, gotName[i]); err != nil {
					return nil, err
				}
				continue
			}
			if a.w.WorkspaceGrant != chosen {
				// The key service gave the grant an id of its own: the
				// record is written again, with it.
				b, err := store.EncodeJSON(a.w)
				if err != nil {
					return nil, fmt.Errorf("encode desktop %s: %w", a.w.WorkspaceID, err)
				}
				granted = append(granted, store.KV{Key: a.key, Value: b})
				as[i].raw, as[i].marks = b, recMarks{}
			}
		}
		if err := addUserDesktop(ctx, tx, account, region, a.w, a.live); err != nil {
			return nil, err
		}
	}
	if len(granted) > 0 {
		if err := tx.PutMany(ctx, tDesktops, granted); err != nil {
			return nil, err
		}
	}
	return refused, nil
}

// encodeScratch holds writeDesktops' scratch buffers, where a request's
// records are encoded before they are copied out together.
var encodeScratch = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxEncodeScratch is the largest scratch buffer encodeScratch keeps.
const maxEncodeScratch = 256 << 10

// nameRecs returns the name records of the named desktops of as (key
// nameKey(account, region, "name", name), value the desktop's id as a JSON
// string) and the index in as of each. The keys are substrings of one
// string (a store copies the keys it keeps), the values slices of one
// array, each capped at its length (writeDesktops writes them Uncached:
// the read cache does not keep them).
func nameRecs(account, region string, as []acceptedDesktop) (names []store.KV, named []int) {
	keyLen := 0
	pre := len(account) + len(region) + len("//name/")
	for i, a := range as {
		if a.w.WorkspaceName != "" {
			if named == nil { // sized once for the request's desktops
				named = make([]int, 0, len(as)-i)
			}
			named = append(named, i)
			keyLen += pre + len(a.w.WorkspaceName)
		}
	}
	if len(named) == 0 {
		return nil, nil
	}
	var kb strings.Builder
	kb.Grow(keyLen)
	for _, i := range named {
		kb.WriteString(account)
		kb.WriteByte('/')
		kb.WriteString(region)
		kb.WriteString("/name/")
		kb.WriteString(as[i].w.WorkspaceName)
	}
	keys := kb.String()
	valLen := 0
	for _, i := range named {
		valLen += len(as[i].w.WorkspaceID) + 2
	}
	vals := make([]byte, 0, valLen)
	names = make([]store.KV, len(named))
	off := 0
	for j, i := range named {
		w := as[i].w
		end := off + pre + len(w.WorkspaceName)
		v := len(vals)
		vals = append(append(append(vals, '"'), w.WorkspaceID...), '"')
		names[j] = store.KV{Key: keys[off:end], Value: vals[v:len(vals):len(vals)]}
		off = end
	}
	return names, named
}

// repeatsKey reports whether two of recs have the same key.
//
// A request's name keys share their account and Region and differ at their
// end: each key goes into a small table by a hash of its length and last
// eight bytes, and only keys of the same slot are compared (a table of 64
// slots on the stack holds up to 32 keys; more take a map).
func repeatsKey(recs []store.KV) bool {
	if len(recs) > 32 {
		seen := make(map[string]bool, len(recs))
		for _, r := range recs {
			if seen[r.Key] {
				return true
			}
			seen[r.Key] = true
		}
		return false
	}
	var slots [64]uint8 // 1 + the index in recs of the key in each slot, 0 when empty
	for i, r := range recs {
		k := r.Key
		var tail uint64
		for j := max(0, len(k)-8); j < len(k); j++ {
			tail = tail<<8 | uint64(k[j])
		}
		h := (tail ^ uint64(len(k))) * 0x9e3779b97f4a7c15
		for s := h >> 58; ; s = (s + 1) % 64 {
			n := slots[s]
			if n == 0 {
				slots[s] = uint8(i + 1)
				break
			}
			if recs[n-1].Key == k {
				return true
			}
		}
	}
	return false
}

// The user index lists, for each directory user, the desktops made for
// them (ACCOUNT/REGION/user/DIRECTORY/user → ids), so that the one-desktop-
// per-user check reads a record or two instead of scanning every desktop.
// Ids are only added; a listed desktop that is gone, terminating or
// terminated no longer counts and is dropped at the next write.
func userKey(account, region, dir, user string) string {
	return key(account, region, "user/"+dir+"/"+strings.ToLower(user))
}

// userIndexKey marks an account's region whose user index is complete.
func userIndexKey(account, region string) string { return key(account, region, "userindex/v1") }

// userDesktops returns the ids of the user's desktops that are neither
// terminating nor terminated.
func userDesktops(ctx context.Context, tx store.Tx, account, region, dir, user string) ([]string, error) {
	if err := ensureUserIndex(ctx, tx, account, region); err != nil {
		return nil, err
	}
	return indexedUserDesktops(ctx, tx, account, region, dir, user)
}

// userDesktopsSharedMark is userDesktops reading the index's marker
// (userIndexKey, which every creation checks) as a shared read: a
// MigrateWorkspace only checks it. Where the index is not built yet it
// falls back to userDesktops, which builds it.
func userDesktopsSharedMark(ctx context.Context, tx store.Tx, account, region, dir, user string) ([]string, error) {
	if _, err := tx.Get(store.SharedReads(ctx), tIdem, userIndexKey(account, region)); errors.Is(err, store.ErrNotFound) {
		return userDesktops(ctx, tx, account, region, dir, user)
	} else if err != nil {
		return nil, err
	}
	return indexedUserDesktops(ctx, tx, account, region, dir, user)
}

// indexedUserDesktops is userDesktops once the index is built.
func indexedUserDesktops(ctx context.Context, tx store.Tx, account, region, dir, user string) ([]string, error) {
	ids, err := getRec[[]string](ctx, tx, tIdem, userKey(account, region, dir, user))
	if err != nil || ids == nil {
		return nil, err
	}
	var live []string
	for _, id := range *ids {
		w, err := getRec[desktopRec](ctx, tx, tDesktops, key(account, region, id))
		if err != nil {
			return nil, err
		}
		if w != nil && w.State != "TERMINATED" && w.State != "TERMINATING" && w.DirectoryID == dir && strings.EqualFold(w.UserName, user) {
			live = append(live, id)
		}
	}
	return live, nil
}

// addUserDesktop lists a new desktop of a directory user in the index
// after live, what userDesktops returned for the user (nothing for
// user-decoupled desktops).
func addUserDesktop(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, live []string) error {
	if w.UserName == UndefinedUser || w.UserName == "" {
		return nil
	}
	return putRec(ctx, tx, tIdem, userKey(account, region, w.DirectoryID, w.UserName), append(live, w.WorkspaceID))
}

// ensureUserIndex builds the user index of an account's region once, from
// the desktops stored before it existed.
func ensureUserIndex(ctx context.Context, tx store.Tx, account, region string) error {
	if _, err := tx.Get(ctx, tIdem, userIndexKey(account, region)); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	byUser := map[string][]string{}
	var order []string
	err := store.ScanJSON[desktopRec](ctx, tx, tDesktops, prefix(account, region), "", 0, func(_ string, w *desktopRec) error {
		if w.UserName == UndefinedUser || w.UserName == "" || w.State == "TERMINATED" || w.State == "TERMINATING" {
			return nil
		}
		k := userKey(account, region, w.DirectoryID, w.UserName)
		if byUser[k] == nil {
			order = append(order, k)
		}
		byUser[k] = append(byUser[k], w.WorkspaceID)
		return nil
	})
	if err != nil {
		return err
	}
	recs := make([]store.KV, 0, len(order))
	for _, k := range order {
		b, err := json.Marshal(byUser[k])
		if err != nil {
			return err
		}
		recs = append(recs, store.KV{Key: k, Value: b})
	}
	if len(recs) > 0 {
		if err := tx.PutMany(ctx, tIdem, recs); err != nil {
			return err
		}
	}
	return tx.Put(ctx, tIdem, userIndexKey(account, region), []byte("true"))
}

func protocols(p string) []string {
	switch p {
	case "WSP":
		return []string{"WSP"}
	case "PCOIP":
		return []string{"PCOIP"}
	}
	return nil
}

// volumeID returns an EBS volume id: vol- and 17 random hex digits.
func volumeID() string {
	return "vol-" + ids.Hex(17)
}

// volumeIDs returns two volume ids as volumeID makes them, from one
// random read, in one allocation.
func volumeIDs() (string, string) {
	var b [2 * volIDLen]byte
	putVolumeIDs(b[:])
	s := string(b[:])
	return s[:volIDLen], s[volIDLen:]
}

const volIDLen = 4 + 17 // vol- and 17 hex digits

// putVolumeIDs writes two volume ids into b[:2*volIDLen].
func putVolumeIDs(b []byte) {
	var rnd [volRandLen]byte
	rand.Read(rnd[:])
	putVolumeIDsFrom(b, &rnd)
}

// volRandLen is the random bytes of two volume ids.
const volRandLen = 18

// putVolumeIDsFrom writes two volume ids made of rnd into b[:2*volIDLen].
func putVolumeIDsFrom(b []byte, rnd *[volRandLen]byte) {
	const digits = "0123456789abcdef"
	for v := range 2 {
		o := v * volIDLen
		copy(b[o:], "vol-")
		for i := range 17 {
			c := rnd[v*9+i/2]
			if i%2 == 0 {
				c >>= 4
			}
			b[o+4+i] = digits[c&0x0f]
		}
	}
}

// newDesktopIDs returns a new desktop's id (newOrderedID("ws-")), its
// volumes' ids (volumeIDs) and its computer name (computerName(id)), in
// one allocation: they belong to one record and live as long as it.
func newDesktopIDs() (id, rootVol, userVol, computer string) {
	var b [desktopIDsLen]byte
	putDesktopIDs(b[:])
	return splitDesktopIDs(string(b[:]))
}

const (
	desktopIDLen  = 3 + 9 // ws- and newOrderedID's nine digits
	computerLen   = 7 + 8 // WSAMZN- and eight
	desktopIDsLen = desktopIDLen + 2*volIDLen + computerLen
)

// putDesktopIDs writes newDesktopIDs' four strings, one after the other,
// into b[:desktopIDsLen].
func putDesktopIDs(b []byte) {
	var rnd [volRandLen]byte
	rand.Read(rnd[:])
	putDesktopIDsFrom(b, orderedDigits(), &rnd)
}

// putDesktopIDsFrom is putDesktopIDs of the ordered digits d and the
// volume ids' random bytes rnd.
func putDesktopIDsFrom(b []byte, d [9]byte, rnd *[volRandLen]byte) {
	copy(b, "ws-")
	copy(b[3:], d[:])
	putVolumeIDsFrom(b[desktopIDLen:], rnd)
	n := b[desktopIDLen+2*volIDLen:]
	copy(n, "WSAMZN-")
	for i, c := range d[1:] { // the id's last eight, upper case (base36: ASCII)
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		n[7+i] = c
	}
}

// splitDesktopIDs splits what putDesktopIDs wrote into its four strings.
func splitDesktopIDs(s string) (id, rootVol, userVol, computer string) {
	const v = desktopIDLen + volIDLen
	return s[:desktopIDLen], s[desktopIDLen:v], s[v : v+volIDLen], s[v+volIDLen : desktopIDsLen]
}

// computerName is the desktop's NetBIOS name: WSAMZN- and the last eight
// characters of its id (ids share their leading characters, which count
// time, so the trailing ones tell desktops apart).
func computerName(id string) string {
	s := strings.TrimPrefix(id, "ws-")
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			s = strings.ToUpper(s)
			if len(s) > 8 {
				s = s[len(s)-8:]
			}
			return "WSAMZN-" + s
		}
	}
	// ASCII (every id this program makes): one allocation.
	if len(s) > 8 {
		s = s[len(s)-8:]
	}
	var buf [7 + 8]byte
	n := copy(buf[:], "WSAMZN-")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return string(buf[:n])
}

// allocIP hands out the next host address of a subnet.
func (m *Module) allocIP(ctx context.Context, tx store.Tx, account, region, subnetID string) (string, error) {
	var a ipAllocator
	ip, err := a.alloc(ctx, tx, m, account, region, subnetID)
	if err != nil {
		return "", err
	}
	return ip, a.flush(ctx, tx, account, region)
}

// checkVolumeCombo enforces the documented root/user volume combinations.
func checkVolumeCombo(root, user int, compute string) error {
	graphics := strings.HasPrefix(compute, "GRAPHICS")
	switch {
	case root > 2000 || user > 2000:
		return itemErr("InvalidParameterValuesException", "Volumes can be at most 2000 GiB.")
	case root == 80 && (user == 10 || user == 50 || user == 100):
		return nil
	case graphics && root >= 100 && user >= 100:
		return nil
	case root >= 175 && user >= 100:
		return nil
	}
	return itemErr("InvalidParameterValuesException", "The volume sizes root %d GiB / user %d GiB are not a supported combination ([80,10], [80,50], [80,100] or [175-2000,100-2000]).", root, user)
}

// renderBox holds what a rendered desktop points to.
type renderBox struct {
	props      WorkspaceProperties
	root, user bool
}

// describeOne is DescribeWorkspaces' answer for one id, in one piece.
type describeOne struct {
	out describeWorkspacesOut
	ws  [1]Workspace
	box [1]renderBox
}

func (m *Module) render(w *desktopRec) Workspace {
	// The properties and the two flags the output points to share one
	// allocation.
	return m.renderInto(w, &renderBox{})
}

// renderInto is render with the properties and flags the output points to
// in box (the caller's memory).
func (m *Module) renderInto(w *desktopRec, box *renderBox) Workspace {
	*box = renderBox{props: w.Properties, root: w.RootEncrypted, user: w.UserEncrypted}
	out := Workspace{
		WorkspaceId: w.WorkspaceID, DirectoryId: w.DirectoryID, UserName: w.UserName, IpAddress: w.IPAddress,
		State: w.State, BundleId: w.BundleID, SubnetId: w.SubnetID, ErrorCode: w.ErrorCode, ErrorMessage: w.ErrorMessage,
		ComputerName: w.ComputerName, WorkspaceName: w.WorkspaceName, WorkspaceProperties: &box.props,
		ModificationStates:          w.Modifications,
		RootVolumeEncryptionEnabled: &box.root, UserVolumeEncryptionEnabled: &box.user,
		VolumeEncryptionKey: w.VolumeKey,
	}
	if w.State == "PENDING" {
		out.IpAddress, out.ComputerName = "", ""
	}
	return out
}

// listed reports whether DescribeWorkspaces lists the desktop at now: a
// terminated desktop is listed for TerminatedTTL. (A method, not a closure
// of the handler: the scan's callback captures what it calls, and a
// captured closure is allocated on every call.)
func (m *Module) listed(w *desktopRec, now time.Time) bool {
	return !(w.State == "TERMINATED" && now.Sub(w.StateSince) > m.timing(lifecycle.TerminatedTTL))
}

func (m *Module) describeWorkspaces(ctx context.Context, c *gateway.Call, in *describeWorkspacesIn) (*describeWorkspacesOut, error) {
	filters := 0
	if len(in.WorkspaceIds) > 0 {
		filters++
	}
	if in.DirectoryId != nil {
		filters++
	}
	if in.BundleId != nil {
		filters++
	}
	if in.WorkspaceName != nil {
		filters++
	}
	if filters > 1 {
		return nil, errInvalid("Specify only one of WorkspaceIds, DirectoryId, BundleId or WorkspaceName.")
	}
	if in.UserName != nil && in.DirectoryId == nil {
		return nil, errInvalid("UserName can only be used together with DirectoryId.")
	}
	limit := 25
	if in.Limit != nil {
		limit = *in.Limit
	}
	var after string
	var err error
	if in.NextToken != nil {
		if after, err = parseToken(in.NextToken, prefix(c.Account, c.Region)); err != nil {
			return nil, err
		}
	}
	now := c.Now
	if n := len(in.WorkspaceIds); n > 0 {
		// The answer and what its desktops point to are allocated for
		// the ids asked: one allocation for one id (the common call),
		// three for more, instead of one per desktop and the slice's
		// growth.
		var out *describeWorkspacesOut
		var boxes []renderBox
		if n == 1 {
			one := &describeOne{}
			one.out.Workspaces = one.ws[:0]
			out, boxes = &one.out, one.box[:]
		} else {
			out = &describeWorkspacesOut{Workspaces: make([]Workspace, 0, n)}
			boxes = make([]renderBox, n)
		}
		// Each desktop is read on its own (the real service gives no
		// snapshot across the ids either): the store's cheapest read.
		var pfx string // the keys' ACCOUNT/REGION/, for the standby relations
		for _, id := range in.WorkspaceIds {
			k := key(c.Account, c.Region, id)
			pfx = k[:len(k)-len(id)]
			b, err := m.store.Get(ctx, tDesktops, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			w, err := m.decoded.Decode(tDesktops, k, b)
			if err != nil {
				return nil, fmt.Errorf("decode workspace %s: %w", id, err)
			}
			if m.listed(w, now) {
				out.Workspaces = append(out.Workspaces, m.renderInto(w, &boxes[len(out.Workspaces)]))
			}
		}
		out.cache = m.descs
		return out, m.addStandbyRelationsAt(ctx, c, out.Workspaces, pfx)
	}
	out := &describeWorkspacesOut{Workspaces: []Workspace{}}
	if in.WorkspaceName != nil {
		err = m.store.View(ctx, func(tx store.Tx) error {
			b, err := tx.Get(ctx, tIdem, key(c.Account, c.Region, "name/"+*in.WorkspaceName))
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			id := strings.Trim(string(b), `"`)
			w, err := getRec[desktopRec](ctx, tx, tDesktops, key(c.Account, c.Region, id))
			if err != nil {
				return err
			}
			if w != nil && m.listed(w, now) {
				out.Workspaces = append(out.Workspaces, m.render(w))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return out, m.addStandbyRelations(ctx, c, out.Workspaces)
	}
	// The page and what its desktops point to in two allocations, not
	// one per desktop and the slice's growth.
	boxes := make([]renderBox, min(max(limit, 0), 25)) // the model's Limit: 1 to 25
	out.Workspaces = make([]Workspace, 0, len(boxes))
	var last string
	// Pages are read again and again (a broker lists its pools every
	// pass): they list committed records without a snapshot across them
	// (as the real service gives none), which the embedded store serves
	// from its read cache (a directory larger than its kept listings, from
	// one iterator), and a record whose bytes did not change since it was
	// last decoded is taken from the decoded cache (a compare, not a
	// decode; decodeListed).
	p := prefix(c.Account, c.Region)
	var scratch desktopRec // each desktop decoded for the page alone, rendered before the next
	err = store.ScanCommitted(ctx, m.store, tDesktops, p, after, 0, func(k string, b []byte) error {
		w, err := m.decodeListed(k, b, &scratch)
		if err != nil {
			return err
		}
		if !m.listed(w, now) {
			return nil
		}
		if in.DirectoryId != nil && w.DirectoryID != *in.DirectoryId {
			return nil
		}
		if in.UserName != nil && !strings.EqualFold(w.UserName, *in.UserName) {
			return nil
		}
		if in.BundleId != nil && w.BundleID != *in.BundleId {
			return nil
		}
		if len(out.Workspaces) == limit {
			out.NextToken = pageToken(last)
			return store.ErrStop
		}
		last = k
		if n := len(out.Workspaces); n < len(boxes) {
			out.Workspaces = append(out.Workspaces, m.renderInto(w, &boxes[n]))
		} else {
			out.Workspaces = append(out.Workspaces, m.render(w))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, m.addStandbyRelations(ctx, c, out.Workspaces)
}

// batchChecks is the per-item resolver of the batch operations: each
// request is authorized on its desktop's ARN and tags; a desktop that does
// not exist has no check (the handler reports it not found).
func (m *Module) batchChecks(ctx context.Context, c *gateway.Call, reqs []wsIDReq) ([][]gateway.Check, error) {
	out := make([][]gateway.Check, len(reqs))
	err := m.store.View(ctx, func(tx store.Tx) error {
		for i, r := range reqs {
			w, err := getRec[desktopRec](ctx, tx, tDesktops, key(c.Account, c.Region, r.WorkspaceId))
			if err != nil {
				return err
			}
			if w == nil {
				continue
			}
			out[i] = []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspace", w.WorkspaceID), ResourceTags: orEmpty(w.Tags)}}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the desktops of %s: %w", c.Op.Name, err)
	}
	return out, nil
}

// batch runs a per-desktop change for each request: each fails on its own
// in FailedRequests, when the pipeline refused it (batchChecks, on the
// desktop's own tags) or the change cannot be made.
func (m *Module) batch(ctx context.Context, c *gateway.Call, reqs []wsIDReq, one func(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec) error) (*batchOut, error) {
	out := &batchOut{FailedRequests: []failedChange{}}
	for i, r := range reqs {
		k := key(c.Account, c.Region, r.WorkspaceId)
		var failure *itemError
		err := m.store.Update(ctx, func(tx store.Tx) error {
			failure = nil
			w, err := getRec[desktopRec](ctx, tx, tDesktops, k)
			if err != nil {
				return err
			}
			if w == nil || (w.State == "TERMINATED" && c.Now.Sub(w.StateSince) > m.timing(lifecycle.TerminatedTTL)) {
				failure = itemErr("ResourceNotFoundException", "The WorkSpace %s could not be found.", r.WorkspaceId)
				return nil
			}
			if err := c.Refused(i); err != nil {
				ie, ok := toItemError(err)
				if !ok {
					return fmt.Errorf("authorize %s on %s: %w", c.Action(), r.WorkspaceId, err)
				}
				failure = ie
				return nil
			}
			if err := one(ctx, tx, c, w); err != nil {
				if ie, ok := toItemError(err); ok {
					failure = ie
					return errRollback
				}
				return fmt.Errorf("%s %s: %w", c.Op.Name, r.WorkspaceId, err)
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRollback) {
			// Earlier desktops of the batch may be changed already: this one
			// fails on its own, with the internal code, never as a success.
			m.log.ErrorContext(ctx, "batch item failed", "request_id", c.RequestID, "operation", c.Op.Name, "workspace_id", r.WorkspaceId, "err", err)
			failure = internalItemError()
		}
		if failure != nil {
			out.FailedRequests = append(out.FailedRequests, failedChange{WorkspaceId: r.WorkspaceId, ErrorCode: failure.code, ErrorMessage: failure.msg})
		}
	}
	return out, nil
}

var errRollback = errors.New("rollback")

func stateErr(w *desktopRec, op string) error {
	return itemErr("InvalidResourceStateException", "The WorkSpace %s cannot be %s while it is %s.", w.WorkspaceID, op, w.State)
}

// isIn reports whether s is one of set.
func isIn(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func (m *Module) startOne(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec) error {
	mode := ptr.Deref(w.Properties.RunningMode)
	if mode != "AUTO_STOP" && mode != "MANUAL" {
		return itemErr("OperationNotSupportedException", "The WorkSpace %s runs in %s mode; only AUTO_STOP and MANUAL WorkSpaces can be started.", w.WorkspaceID, mode)
	}
	if w.State != "STOPPED" {
		return stateErr(w, "started")
	}
	if hasVolumeModification(w) {
		return itemErr("OperationInProgressException", "The WorkSpace %s cannot be started while its volumes are being resized.", w.WorkspaceID)
	}
	if err := m.requestFault(ctx, "StartWorkspaces", w.Seq, w.WorkspaceID); err != nil {
		return err
	}
	if err := m.admitGuest(key(c.Account, c.Region, w.WorkspaceID), "started"); err != nil {
		return err
	}
	return m.transition(ctx, tx, c.Account, c.Region, w, "STARTING", lifecycle.Start, c.Now)
}

func (m *Module) stopOne(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec) error {
	mode := ptr.Deref(w.Properties.RunningMode)
	if mode != "AUTO_STOP" && mode != "MANUAL" {
		return itemErr("OperationNotSupportedException", "The WorkSpace %s runs in %s mode; only AUTO_STOP and MANUAL WorkSpaces can be stopped.", w.WorkspaceID, mode)
	}
	if !isIn(w.State, "AVAILABLE", "IMPAIRED", "UNHEALTHY", "ERROR") {
		return stateErr(w, "stopped")
	}
	if err := m.requestFault(ctx, "StopWorkspaces", w.Seq, w.WorkspaceID); err != nil {
		return err
	}
	return m.transition(ctx, tx, c.Account, c.Region, w, "STOPPING", lifecycle.Stop, c.Now)
}

func (m *Module) rebootOne(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec) error {
	stuck := w.State == "REBOOTING" && c.Now.Sub(w.StateSince) > 20*time.Minute
	// IMPAIRED is not among the states the model allows a reboot from
	// (AVAILABLE, UNHEALTHY, REBOOTING): stop it (README, behaviour notes).
	if !isIn(w.State, "AVAILABLE", "UNHEALTHY") && !stuck {
		return stateErr(w, "rebooted")
	}
	if hasVolumeModification(w) {
		return itemErr("OperationInProgressException", "The WorkSpace %s cannot be rebooted while its volumes are being resized.", w.WorkspaceID)
	}
	if err := m.requestFault(ctx, "RebootWorkspaces", w.Seq, w.WorkspaceID); err != nil {
		return err
	}
	if err := m.admitGuest(key(c.Account, c.Region, w.WorkspaceID), "rebooted"); err != nil {
		return err
	}
	return m.transition(ctx, tx, c.Account, c.Region, w, "REBOOTING", lifecycle.Reboot, c.Now)
}

func (m *Module) rebuildOne(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec) error {
	if !isIn(w.State, "AVAILABLE", "ERROR", "UNHEALTHY", "STOPPED", "REBOOTING") {
		return stateErr(w, "rebuilt")
	}
	if hasVolumeModification(w) {
		return itemErr("OperationInProgressException", "The WorkSpace %s cannot be rebuilt while its volumes are being resized.", w.WorkspaceID)
	}
	if len(m.snapshots(w, c.Now, false)) == 0 {
		return itemErr("InvalidResourceStateException", "The WorkSpace %s has no user volume snapshot yet; it can be rebuilt once the first snapshot is taken (about 30 minutes after creation).", w.WorkspaceID)
	}
	if err := m.requestFault(ctx, "RebuildWorkspaces", w.Seq, w.WorkspaceID); err != nil {
		return err
	}
	if err := m.admitGuest(key(c.Account, c.Region, w.WorkspaceID), "rebuilt"); err != nil {
		return err
	}
	return m.transition(ctx, tx, c.Account, c.Region, w, "REBUILDING", lifecycle.Rebuild, c.Now)
}

func (m *Module) terminateOne(ctx context.Context, tx store.Tx, c *gateway.Call, w *desktopRec) error {
	switch w.State {
	case "TERMINATING", "TERMINATED":
		return nil // terminating twice is not an error
	case "SUSPENDED":
		return stateErr(w, "terminated")
	}
	return m.transition(ctx, tx, c.Account, c.Region, w, "TERMINATING", lifecycle.Terminate, c.Now)
}

func (m *Module) loadForUpdate(ctx context.Context, tx store.Tx, c *gateway.Call, id string) (*desktopRec, error) {
	w, err := getRec[desktopRec](ctx, tx, tDesktops, key(c.Account, c.Region, id))
	if err != nil {
		return nil, err
	}
	if w == nil || w.State == "TERMINATED" {
		return nil, errNotFound("The WorkSpace %s could not be found.", id)
	}
	return w, nil
}

func (m *Module) restoreWorkspace(ctx context.Context, c *gateway.Call, in *restoreIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		w, err := m.loadForUpdate(ctx, tx, c, in.WorkspaceId)
		if err != nil {
			return err
		}
		// RestoreWorkspace models no InvalidResourceStateException: a
		// desktop that cannot be restored now is an unsupported operation.
		if !isIn(w.State, "AVAILABLE", "ERROR", "UNHEALTHY", "STOPPED") {
			return errUnsupported("The WorkSpace %s cannot be restored while it is %s.", w.WorkspaceID, w.State)
		}
		if len(m.snapshots(w, c.Now, true)) == 0 {
			return errUnsupported("The WorkSpace %s has no restore snapshot yet.", w.WorkspaceID)
		}
		if err := m.requestFault(ctx, "RestoreWorkspace", w.Seq, w.WorkspaceID); err != nil {
			return err
		}
		// A restored desktop runs a guest: at the limit, the model's
		// exception for an operation this deskplane cannot do now.
		if err := m.admitGuest(key(c.Account, c.Region, w.WorkspaceID), "restored"); err != nil {
			if ie, ok := toItemError(err); ok {
				return errUnsupported("%s", ie.msg)
			}
			return err
		}
		return m.transition(ctx, tx, c.Account, c.Region, w, "RESTORING", lifecycle.Restore, c.Now)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) modifyState(ctx context.Context, c *gateway.Call, in *modifyStateIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		w, err := m.loadForUpdate(ctx, tx, c, in.WorkspaceId)
		if err != nil {
			return err
		}
		switch {
		case in.WorkspaceState == "ADMIN_MAINTENANCE" && w.State == "AVAILABLE":
		case in.WorkspaceState == "AVAILABLE" && w.State == "ADMIN_MAINTENANCE":
		case in.WorkspaceState == w.State:
			return nil
		default:
			return errState("The WorkSpace %s cannot go from %s to %s.", w.WorkspaceID, w.State, in.WorkspaceState)
		}
		if err := m.setState(ctx, tx, c.Account, c.Region, w, in.WorkspaceState, c.Now); err != nil {
			return err
		}
		return m.save(ctx, tx, c.Account, c.Region, w)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func hasVolumeModification(w *desktopRec) bool {
	for _, ms := range w.Modifications {
		if ms.Resource == "ROOT_VOLUME" || ms.Resource == "USER_VOLUME" {
			return true
		}
	}
	return false
}

var computeOrder = map[string]int{"VALUE": 1, "STANDARD": 2, "PERFORMANCE": 3, "POWER": 4, "POWERPRO": 5, "GENERALPURPOSE_4XLARGE": 6, "GENERALPURPOSE_8XLARGE": 7}

func (m *Module) modifyProperties(ctx context.Context, c *gateway.Call, in *modifyPropsIn) (*struct{}, error) {
	p := in.WorkspaceProperties
	if p == nil && in.DataReplication == nil {
		return nil, errInvalid("Specify WorkspaceProperties or DataReplication.")
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		w, err := m.loadForUpdate(ctx, tx, c, in.WorkspaceId)
		if err != nil {
			return err
		}
		if !isIn(w.State, "AVAILABLE", "STOPPED") {
			return errState("The WorkSpace %s can only be modified while AVAILABLE or STOPPED; it is %s.", w.WorkspaceID, w.State)
		}
		if in.DataReplication != nil {
			return errUnsupportedConfig("Data replication is not supported for WorkSpaces Core desktops.")
		}
		if len(w.Modifications) > 0 {
			return awsproto.Errorf("OperationInProgressException", "The properties of this WorkSpace are currently being modified. Try again once the modification is complete.")
		}
		if err := applyOSAndAccelerator(w, p); err != nil {
			return err
		}
		volume := p.RootVolumeSizeGib != nil || p.UserVolumeSizeGib != nil
		compute := p.ComputeTypeName != nil && *p.ComputeTypeName != ptr.Deref(w.Properties.ComputeTypeName)
		if volume && compute {
			return errInvalid("The volume size and the compute type cannot be changed in the same request.")
		}
		if p.RootVolumeSizeGib != nil && p.UserVolumeSizeGib != nil &&
			*p.RootVolumeSizeGib != ptr.Deref(w.Properties.RootVolumeSizeGib) && *p.UserVolumeSizeGib != ptr.Deref(w.Properties.UserVolumeSizeGib) {
			return errInvalid("The root and user volumes cannot be increased at the same time.")
		}
		if p.Protocols != nil {
			return errUnsupportedConfig("Protocols can only be changed for WorkSpaces created from PCoIP bundles.")
		}
		if p.RunningMode != nil {
			byop := len(w.Properties.Protocols) == 0
			mode := *p.RunningMode
			if byop && mode == "AUTO_STOP" {
				return errUnsupportedConfig("The running mode AUTO_STOP is not available for WorkSpaces Core (BYOP) desktops; use ALWAYS_ON or MANUAL.")
			}
			if !byop && mode == "MANUAL" {
				return errUnsupportedConfig("The running mode MANUAL is only available for WorkSpaces Core (BYOP) desktops.")
			}
			w.Properties.RunningMode = p.RunningMode
			if mode == "AUTO_STOP" {
				t := 60
				if p.RunningModeAutoStopTimeoutInMinutes != nil {
					t = *p.RunningModeAutoStopTimeoutInMinutes
					if t%60 != 0 || t <= 0 {
						return errInvalid("RunningModeAutoStopTimeoutInMinutes must be a multiple of 60.")
					}
				}
				w.Properties.RunningModeAutoStopTimeoutInMinutes = &t
			} else {
				w.Properties.RunningModeAutoStopTimeoutInMinutes = nil
			}
			if mode == "MANUAL" && w.State == "AVAILABLE" {
				if err := m.scheduleAutoStop(ctx, tx, c.Account, c.Region, w, c.Now); err != nil {
					return err
				}
			}
		}
		if volume {
			root, user := ptr.Deref(w.Properties.RootVolumeSizeGib), ptr.Deref(w.Properties.UserVolumeSizeGib)
			newRoot, newUser := root, user
			if p.RootVolumeSizeGib != nil {
				newRoot = *p.RootVolumeSizeGib
			}
			if p.UserVolumeSizeGib != nil {
				newUser = *p.UserVolumeSizeGib
			}
			if newRoot < root || newUser < user {
				return errInvalid("Volumes can only be increased (root %d→%d, user %d→%d).", root, newRoot, user, newUser)
			}
			if newRoot != root || newUser != user {
				if c.Now.Sub(w.Created) < m.scaled(6*time.Hour) {
					return errState("The volumes of a new WorkSpace can be resized 6 hours after it was created.")
				}
				if !w.LastVolumeResize.IsZero() && c.Now.Sub(w.LastVolumeResize) < m.scaled(6*time.Hour) {
					return errState("A volume can be resized once every 6 hours.")
				}
				if err := checkVolumeCombo(newRoot, newUser, ptr.Deref(w.Properties.ComputeTypeName)); err != nil {
					ie := err.(*itemError)
					return awsproto.Errorf(ie.code, "%s", ie.msg)
				}
				res := "ROOT_VOLUME"
				if newUser != user {
					res = "USER_VOLUME"
				}
				w.Modifications = []ModificationState{{Resource: res, State: "UPDATE_IN_PROGRESS"}}
				w.Properties.RootVolumeSizeGib, w.Properties.UserVolumeSizeGib = &newRoot, &newUser
				w.LastVolumeResize = c.Now
				if err := m.engine.Schedule(ctx, tx, "mod/"+key(c.Account, c.Region, w.WorkspaceID), jobModifyDone,
					c.Now.Add(m.timing(lifecycle.Modify)), jobRef{Key: key(c.Account, c.Region, w.WorkspaceID)}); err != nil {
					return err
				}
			}
		}
		if compute {
			from, to := ptr.Deref(w.Properties.ComputeTypeName), *p.ComputeTypeName
			if strings.HasPrefix(from, "GRAPHICS") || strings.HasPrefix(to, "GRAPHICS") {
				okG4 := (from == "GRAPHICS_G4DN" && to == "GRAPHICSPRO_G4DN") || (from == "GRAPHICSPRO_G4DN" && to == "GRAPHICS_G4DN")
				if !okG4 {
					return errUnsupportedConfig("The compute type %s cannot be changed to %s.", from, to)
				}
			}
			up := computeOrder[to] > computeOrder[from]
			if up {
				if c.Now.Sub(w.Created) < m.scaled(6*time.Hour) || (!w.LastComputeUp.IsZero() && c.Now.Sub(w.LastComputeUp) < m.scaled(6*time.Hour)) {
					return errState("A WorkSpace can move to a larger compute type once every 6 hours (and 6 hours after creation).")
				}
				w.LastComputeUp = c.Now
			} else {
				if !w.LastComputeDown.IsZero() && c.Now.Sub(w.LastComputeDown) < m.scaled(30*24*time.Hour) {
					return errState("A WorkSpace can move to a smaller compute type once every 30 days.")
				}
				w.LastComputeDown = c.Now
			}
			w.Properties.ComputeTypeName = &to
			w.Modifications = []ModificationState{{Resource: "COMPUTE_TYPE", State: "UPDATE_IN_PROGRESS"}}
			// The WorkSpace is rebooted with the new compute type: UPDATING, then back.
			return m.transition(ctx, tx, c.Account, c.Region, w, "UPDATING", lifecycle.Modify, c.Now)
		}
		return m.save(ctx, tx, c.Account, c.Region, w)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) migrate(ctx context.Context, c *gateway.Call, in *migrateIn) (*migrateOut, error) {
	var target, admitted string
	err := m.store.Update(ctx, func(tx store.Tx) error {
		src, err := m.loadForUpdate(ctx, tx, c, in.SourceWorkspaceId)
		if err != nil {
			return err
		}
		if src.State == "ADMIN_MAINTENANCE" {
			return errUnsupported("The WorkSpace %s is in ADMIN_MAINTENANCE and cannot be migrated.", src.WorkspaceID)
		}
		if !isIn(src.State, "AVAILABLE", "STOPPED", "ERROR") {
			// MigrateWorkspace models no InvalidResourceStateException.
			return errUnsupported("The WorkSpace %s cannot be migrated while it is %s.", src.WorkspaceID, src.State)
		}
		if src.MigratingTo != "" {
			return awsproto.Errorf("OperationInProgressException", "The WorkSpace %s is already being migrated to %s.", src.WorkspaceID, src.MigratingTo)
		}
		if in.BundleId == src.BundleID {
			return errInvalid("The target bundle must differ from the WorkSpace's current bundle %s.", src.BundleID)
		}
		// The bundles and their images are only checked: read shared, as
		// every creation reads them, so a migration and the creations of
		// those bundles overlap instead of queueing (the user index's
		// marker too, below; what it writes, exclusive).
		shared := store.SharedReads(ctx)
		b, err := m.lookupBundle(shared, tx, c.Account, c.Region, in.BundleId)
		if err != nil {
			return err
		}
		if b == nil {
			return errNotFound("The bundle %s could not be found.", in.BundleId)
		}
		oldB, err := m.lookupBundle(shared, tx, c.Account, c.Region, src.BundleID)
		if err != nil {
			return err
		}
		_, newTen, err := m.bundleProtocol(shared, tx, c.Account, c.Region, b)
		if err != nil {
			return err
		}
		oldTen := ""
		if oldB != nil {
			if _, oldTen, err = m.bundleProtocol(shared, tx, c.Account, c.Region, oldB); err != nil {
				return fmt.Errorf("migrate %s: the tenancy of its bundle %s: %w", src.WorkspaceID, oldB.BundleID, err)
			}
		}
		if (oldTen == "DEDICATED") != (newTen == "DEDICATED") {
			return errUnsupported("BYOL WorkSpaces can only migrate to BYOL bundles, and other WorkSpaces never to BYOL bundles.")
		}
		if len(m.snapshots(src, c.Now, false)) == 0 {
			return errUnsupported("The WorkSpace %s has no user volume snapshot yet; migrate it once the first snapshot exists.", src.WorkspaceID)
		}
		if err := m.requestFault(ctx, "MigrateWorkspace", src.Seq, src.WorkspaceID); err != nil {
			return err
		}
		t, err := clone(src)
		if err != nil {
			return err
		}
		t.WorkspaceID = newOrderedID("ws-")
		// The target runs a guest beside the source's until it is AVAILABLE.
		if err := m.admitGuest(key(c.Account, c.Region, t.WorkspaceID), "migrated"); err != nil {
			if ie, ok := toItemError(err); ok {
				return errUnsupported("%s", ie.msg)
			}
			return err
		} else if m.rt != nil {
			admitted = key(c.Account, c.Region, t.WorkspaceID)
		}
		t.BundleID = in.BundleId
		t.ComputerName = computerName(t.WorkspaceID)
		// The locks in countKey's order: the user's index entry, the KMS
		// key (its grant is written last), the subnet, the count, then the
		// subnet's counter.
		var live []string
		if t.UserName != UndefinedUser {
			if live, err = userDesktopsSharedMark(ctx, tx, c.Account, c.Region, t.DirectoryID, t.UserName); err != nil {
				return err
			}
		}
		if err := m.lockKey(ctx, tx, c.Account, c.Region, t.VolumeKey); err != nil {
			return err
		}
		var ips ipAllocator
		if err := ips.readSubnets(ctx, tx, m, c.Account, c.Region, []string{src.SubnetID}); err != nil {
			return err
		}
		if err := m.addLive(ctx, tx, c.Account, c.Region, 1); err != nil {
			return err
		}
		if t.IPAddress, err = ips.alloc(ctx, tx, m, c.Account, c.Region, src.SubnetID); err != nil {
			return err
		}
		if err := ips.flush(ctx, tx, c.Account, c.Region); err != nil {
			return err
		}
		t.Properties.ComputeTypeName = ptr.To(b.ComputeType)
		t.Root = volumeRec{VolumeID: volumeID(), SizeGib: ptr.Deref(t.Properties.RootVolumeSizeGib), Encrypted: src.RootEncrypted, ImageID: b.ImageID}
		t.User = volumeRec{VolumeID: volumeID(), SizeGib: src.User.SizeGib, Encrypted: src.UserEncrypted}
		t.State, t.PrevState, t.Created, t.StateSince, t.AvailableSince, t.Seq = "PENDING", "", c.Now, c.Now, nil, 0
		t.Modifications, t.SnapshotBase, t.MigratingTo, t.ErrorCode, t.ErrorMessage = nil, nil, "", "", ""
		t.MigratedFrom = src.WorkspaceID
		t.History = []Transition{{State: "PENDING", Time: c.Now}}
		t.WorkspaceGrant = ""
		t.MaintGroup = "" // its own group once AVAILABLE
		if err := insertDesktop(ctx, tx, c.Account, c.Region, t); err != nil {
			return err
		}
		if t.UserName != UndefinedUser {
			if err := addUserDesktop(ctx, tx, c.Account, c.Region, t, live); err != nil {
				return err
			}
		}
		if t.VolumeKey != "" {
			if err := m.grantWorkspace(ctx, tx, c, t); err != nil {
				if ie, ok := toItemError(err); ok {
					return awsproto.Errorf(ie.code, "%s", ie.msg)
				}
				return err
			}
			if err := m.save(ctx, tx, c.Account, c.Region, t); err != nil { // with its grant
				return err
			}
		}
		src.MigratingTo = t.WorkspaceID
		if err := m.save(ctx, tx, c.Account, c.Region, src); err != nil {
			return err
		}
		if t.WorkspaceName != "" {
			if err := tx.Put(ctx, tIdem, key(c.Account, c.Region, "name/"+t.WorkspaceName), []byte(`"`+t.WorkspaceID+`"`)); err != nil {
				return err
			}
		}
		target = t.WorkspaceID
		return m.scheduleTransition(ctx, tx, c.Account, c.Region, t, lifecycle.Migrate, c.Now)
	})
	if err != nil {
		if admitted != "" {
			m.rt.Release(admitted)
		}
		return nil, err
	}
	return &migrateOut{SourceWorkspaceId: in.SourceWorkspaceId, TargetWorkspaceId: target}, nil
}

func (m *Module) describeSnapshots(ctx context.Context, c *gateway.Call, in *snapshotsIn) (*snapshotsOut, error) {
	out := &snapshotsOut{RebuildSnapshots: []snapshotOut{}, RestoreSnapshots: []snapshotOut{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		w, err := m.loadForUpdate(ctx, tx, c, in.WorkspaceId)
		if err != nil {
			return err
		}
		for _, t := range m.snapshots(w, c.Now, false) {
			out.RebuildSnapshots = append(out.RebuildSnapshots, snapshotOut{SnapshotTime: awsproto.NewTime(t)})
		}
		for _, t := range m.snapshots(w, c.Now, true) {
			out.RestoreSnapshots = append(out.RestoreSnapshots, snapshotOut{SnapshotTime: awsproto.NewTime(t)})
		}
		return nil
	})
	return out, err
}

// Snapshot schedule: the first snapshot about 30 minutes after the desktop
// first became available, then every 12 hours (both scaled by the timing
// profile). User
// volume (rebuild) snapshots are taken regardless of health; restore
// snapshots (root + user) only while the desktop is healthy, so they stop
// while it is UNHEALTHY or ERROR.
const (
	firstSnapshot    = 30 * time.Minute
	snapshotInterval = 12 * time.Hour
	keepSnapshots    = 2
)

func (m *Module) snapshots(w *desktopRec, now time.Time, restore bool) []time.Time {
	if w.SnapshotBase == nil {
		return nil
	}
	end := now
	if restore && w.UnhealthySince != nil && w.UnhealthySince.Before(end) {
		end = *w.UnhealthySince
	}
	first := w.SnapshotBase.Add(m.scaled(firstSnapshot))
	if end.Before(first) {
		return nil
	}
	interval := m.scaled(snapshotInterval)
	n := int(end.Sub(first) / interval)
	var out []time.Time
	for k := n - keepSnapshots + 1; k <= n; k++ {
		if k >= 0 {
			out = append(out, first.Add(time.Duration(k)*interval))
		}
	}
	return out
}
