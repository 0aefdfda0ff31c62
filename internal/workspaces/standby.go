package workspaces

// Standby WorkSpaces (Multi-Region Resilience): CreateStandbyWorkspaces
// [MODEL], called in the secondary Region, creates for each primary
// WorkSpace of PrimaryRegion a standby WorkSpace in a directory of the
// secondary Region, for the primary's user and with the primary's bundle and
// properties. The standby is an ordinary desktop of the secondary Region
// (provisioned by the lifecycle engine like any other); the relationship is
// shown by DescribeWorkspaces on both sides: the primary lists the standby
// in RelatedWorkspaces (Type STANDBY) and StandbyWorkspacesProperties, the
// standby lists the primary in RelatedWorkspaces (Type PRIMARY) and its
// DataReplicationSettings.
//
// Rules (strict readings): the primary must be a live desktop of the same
// account in PrimaryRegion, which must be another Region this server
// serves; it may have one live standby, and a standby cannot be a primary.
// A custom bundle of the primary is mirrored to the secondary Region with
// its image (mirrorBundle); Amazon's public bundles exist everywhere. Each item fails on its own in
// FailedStandbyRequests, with the code CreateWorkspaces would give.
//
// Records: tStandby ACCOUNT/REGION/WSID -> standbyRel, one on each side.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

const tStandby = "ws_standby" // ACCOUNT/REGION/WSID -> standbyRel

// tStandbyAny marks the accounts and Regions that hold standby
// relationships (ACCOUNT/REGION/ -> true), written with the relationships
// and never removed: DescribeWorkspaces reads the mark (one cached read)
// instead of counting relationships in a transaction on every call.
const tStandbyAny = "ws_standby_any"

// markStandby notes that account holds standby relationships in region.
func markStandby(ctx context.Context, tx store.Tx, account, region string) error {
	return tx.Put(ctx, tStandbyAny, prefix(account, region), []byte("true"))
}

// markStandbyRelations writes the mark of every account and Region that
// holds standby relationships but has none (relationships written before
// the mark existed); the server's seed runs it at every start.
func markStandbyRelations(ctx context.Context, tx store.Tx) error {
	seen := map[string]bool{}
	err := tx.Scan(ctx, tStandby, "", "", 0, func(k string, _ []byte) error {
		account, rest, ok1 := strings.Cut(k, "/")
		region, _, ok2 := strings.Cut(rest, "/")
		if !ok1 || !ok2 {
			return nil
		}
		seen[prefix(account, region)] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("list standby relationships: %w", err)
	}
	for _, p := range sortedKeys(seen) {
		if _, err := tx.Get(ctx, tStandbyAny, p); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read standby mark %s: %w", p, err)
		}
		if err := tx.Put(ctx, tStandbyAny, p, []byte("true")); err != nil {
			return fmt.Errorf("mark standby relationships of %s: %w", p, err)
		}
	}
	return nil
}

// standbyRel is one side of a primary/standby relationship.
type standbyRel struct {
	Role            string    `json:"role"` // PRIMARY or STANDBY: the role of the desktop the record is keyed by
	Other           string    `json:"other"`
	OtherRegion     string    `json:"other_region"`
	DataReplication string    `json:"data_replication"`
	Created         time.Time `json:"created"`
}

// StandbyWorkspace is the model's StandbyWorkspace.
type StandbyWorkspace struct {
	PrimaryWorkspaceId  string  `json:"PrimaryWorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	VolumeEncryptionKey *string `json:"VolumeEncryptionKey,omitempty"`
	DirectoryId         string  `json:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	Tags                []Tag   `json:"Tags,omitempty"`
	DataReplication     *string `json:"DataReplication,omitempty" v:"enum=NO_REPLICATION|PRIMARY_AS_SOURCE"`
}

// createStandbyIn is CreateStandbyWorkspacesRequest.
type createStandbyIn struct {
	PrimaryRegion     string             `json:"PrimaryRegion" v:"required,min=1,max=31,pattern=^[-0-9a-z]{1,31}$"`
	StandbyWorkspaces []StandbyWorkspace `json:"StandbyWorkspaces" v:"required"`
}

// failedStandby is the model's FailedCreateStandbyWorkspacesRequest.
type failedStandby struct {
	StandbyWorkspaceRequest StandbyWorkspace `json:"StandbyWorkspaceRequest"`
	ErrorCode               string           `json:"ErrorCode"`
	ErrorMessage            string           `json:"ErrorMessage"`
}

// pendingStandby is the model's PendingCreateStandbyWorkspacesRequest.
type pendingStandby struct {
	UserName    string `json:"UserName"`
	DirectoryId string `json:"DirectoryId"`
	State       string `json:"State"`
	WorkspaceId string `json:"WorkspaceId"`
}

// createStandbyOut is CreateStandbyWorkspacesResult.
type createStandbyOut struct {
	FailedStandbyRequests  []failedStandby  `json:"FailedStandbyRequests"`
	PendingStandbyRequests []pendingStandby `json:"PendingStandbyRequests"`
}

// standbyProps is the model's StandbyWorkspacesProperties.
type standbyProps struct {
	StandbyWorkspaceId   string         `json:"StandbyWorkspaceId"`
	DataReplication      string         `json:"DataReplication,omitempty"`
	RecoverySnapshotTime *awsproto.Time `json:"RecoverySnapshotTime,omitempty"`
}

// dataReplicationSettings is the model's DataReplicationSettings.
type dataReplicationSettings struct {
	DataReplication      string         `json:"DataReplication,omitempty"`
	RecoverySnapshotTime *awsproto.Time `json:"RecoverySnapshotTime,omitempty"`
}

// recoverySnapshot returns the time of the primary's last user-volume
// snapshot taken since data replication began (PRIMARY_AS_SOURCE), the
// snapshot the standby's user data is replicated from; nil without
// replication or before the first such snapshot.
func (m *Module) recoverySnapshot(primary *desktopRec, rel *standbyRel, now time.Time) *awsproto.Time {
	if rel.DataReplication != "PRIMARY_AS_SOURCE" {
		return nil
	}
	snaps := m.snapshots(primary, now, false)
	if len(snaps) == 0 || snaps[len(snaps)-1].Before(rel.Created) {
		return nil
	}
	return awsproto.NewTime(snaps[len(snaps)-1])
}

// standbyChecks authorizes each primary desktop (in its Region, with its
// tags), each directory of the secondary Region, and the new desktops with
// their request tags.
func (m *Module) standbyChecks(ctx context.Context, c *gateway.Call, in *createStandbyIn) ([]gateway.Check, error) {
	var checks []gateway.Check
	for _, s := range in.StandbyWorkspaces {
		pt, err := m.resourceTags(ctx, c.Account, in.PrimaryRegion, s.PrimaryWorkspaceId)
		if err != nil {
			return nil, err
		}
		dt, err := m.resourceTags(ctx, c.Account, c.Region, s.DirectoryId)
		if err != nil {
			return nil, err
		}
		reqTags := s.Tags
		if reqTags == nil {
			reqTags = []Tag{}
		}
		checks = append(checks,
			gateway.Check{Resource: ARN(in.PrimaryRegion, c.Account, "workspace", s.PrimaryWorkspaceId), ResourceTags: orEmpty(pt)},
			withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "directory", s.DirectoryId), ResourceTags: orEmpty(dt)}, reqTags),
			withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "workspace", "*")}, reqTags))
	}
	return checks, nil
}

// servesRegion reports whether the server serves a Region.
func (m *Module) servesRegion(r string) bool {
	regions := m.cfg.Regions
	if len(regions) == 0 {
		regions = config.DefaultRegions
	}
	return slices.Contains(regions, r)
}

// liveStandbyRel returns a desktop's relationship if the desktop on its
// other side is still live (not TERMINATED, not gone).
func liveStandbyRel(ctx context.Context, tx store.Tx, account, region, id string) (*standbyRel, error) {
	rel, err := getRec[standbyRel](ctx, tx, tStandby, key(account, region, id))
	if err != nil || rel == nil {
		return nil, err
	}
	other, err := getRec[desktopRec](ctx, tx, tDesktops, key(account, rel.OtherRegion, rel.Other))
	if err != nil || other == nil || isIn(other.State, "TERMINATING", "TERMINATED") {
		return nil, err
	}
	return rel, nil
}

func (m *Module) createStandby(ctx context.Context, c *gateway.Call, in *createStandbyIn) (*createStandbyOut, error) {
	if len(in.StandbyWorkspaces) == 0 || len(in.StandbyWorkspaces) > 25 {
		return nil, errInvalid("StandbyWorkspaces must list 1 to 25 standby WorkSpaces; %d given.", len(in.StandbyWorkspaces))
	}
	if in.PrimaryRegion == c.Region {
		return nil, errInvalid("The primary Region %s is this Region; a standby WorkSpace is created in another Region than its primary.", in.PrimaryRegion)
	}
	if !m.servesRegion(in.PrimaryRegion) {
		return nil, errInvalid("The primary Region %s is not a Region this server serves.", in.PrimaryRegion)
	}
	out := &createStandbyOut{}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		out.FailedStandbyRequests = []failedStandby{}
		out.PendingStandbyRequests = []pendingStandby{}
		// Each standby is checked against its primary, then the accepted
		// ones are created together by CreateWorkspaces' own plan and
		// commit (quota, subnet, address, provisioning).
		seen := map[string]bool{}
		var reqs []WorkspaceRequest
		var from []standbyOrigin
		for _, s := range in.StandbyWorkspaces {
			r, prim, err := m.standbyRequest(ctx, tx, c, in.PrimaryRegion, s, seen)
			if err != nil {
				ie, ok := toItemError(err)
				if !ok {
					return err
				}
				out.FailedStandbyRequests = append(out.FailedStandbyRequests, failedStandby{StandbyWorkspaceRequest: s, ErrorCode: ie.code, ErrorMessage: ie.msg})
				continue
			}
			reqs = append(reqs, r)
			from = append(from, standbyOrigin{req: s, primary: prim})
		}
		if len(reqs) == 0 {
			return nil
		}
		cin := &createWorkspacesIn{Workspaces: reqs}
		p, err := m.planCreate(ctx, tx, c, cin)
		if err != nil {
			return err
		}
		if err := m.commitCreate(ctx, tx, c, cin, p, &createWorkspacesOut{}); err != nil {
			return err
		}
		for i, o := range from {
			w := p.created[i]
			if w == nil {
				ie, _ := toItemError(p.refused[i])
				if ie == nil {
					ie = internalItemError()
				}
				out.FailedStandbyRequests = append(out.FailedStandbyRequests, failedStandby{StandbyWorkspaceRequest: o.req, ErrorCode: ie.code, ErrorMessage: ie.msg})
				continue
			}
			if err := m.relateStandby(ctx, tx, c, in.PrimaryRegion, o, w); err != nil {
				return err
			}
			out.PendingStandbyRequests = append(out.PendingStandbyRequests, pendingStandby{UserName: w.UserName, DirectoryId: w.DirectoryID, State: w.State, WorkspaceId: w.WorkspaceID})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// standbyOrigin is a standby request and its primary desktop.
type standbyOrigin struct {
	req     StandbyWorkspace
	primary *desktopRec
}

// standbyRequest checks one standby request against its primary and
// returns the CreateWorkspaces request that makes it (its bundle mirrored
// into this Region).
func (m *Module) standbyRequest(ctx context.Context, tx store.Tx, c *gateway.Call, primaryRegion string, s StandbyWorkspace, seen map[string]bool) (WorkspaceRequest, *desktopRec, error) {
	if seen[s.PrimaryWorkspaceId] {
		return WorkspaceRequest{}, nil, itemErr("InvalidParameterValuesException", "The primary WorkSpace %s is named twice in the request.", s.PrimaryWorkspaceId)
	}
	seen[s.PrimaryWorkspaceId] = true
	p, err := getRec[desktopRec](ctx, tx, tDesktops, key(c.Account, primaryRegion, s.PrimaryWorkspaceId))
	if err != nil {
		return WorkspaceRequest{}, nil, err
	}
	if p == nil || isIn(p.State, "TERMINATING", "TERMINATED") {
		return WorkspaceRequest{}, nil, itemErr("ResourceNotFoundException", "The primary WorkSpace %s could not be found in %s.", s.PrimaryWorkspaceId, primaryRegion)
	}
	if rel, err := liveStandbyRel(ctx, tx, c.Account, primaryRegion, p.WorkspaceID); err != nil {
		return WorkspaceRequest{}, nil, err
	} else if rel != nil && rel.Role == "STANDBY" {
		return WorkspaceRequest{}, nil, itemErr("OperationNotSupportedException", "The WorkSpace %s is a standby WorkSpace; a standby cannot have a standby of its own.", p.WorkspaceID)
	} else if rel != nil {
		return WorkspaceRequest{}, nil, itemErr("ResourceAlreadyExistsException", "The WorkSpace %s already has the standby WorkSpace %s in %s.", p.WorkspaceID, rel.Other, rel.OtherRegion)
	}
	// The directory and user are checked before a bundle is mirrored, so a
	// request refused for them leaves nothing behind.
	if _, err := registeredDir(ctx, tx, c.Account, c.Region, s.DirectoryId); err != nil {
		return WorkspaceRequest{}, nil, err
	}
	if p.UserName != UndefinedUser {
		if _, err := m.dirs.User(ctx, tx, c.Account, c.Region, s.DirectoryId, p.UserName); errors.Is(err, store.ErrNotFound) {
			return WorkspaceRequest{}, nil, itemErr("InvalidParameterValuesException", "The user %s of the primary WorkSpace was not found in the directory %s.", p.UserName, s.DirectoryId)
		} else if err != nil {
			return WorkspaceRequest{}, nil, err
		}
	}
	bundleID, err := m.mirrorBundle(ctx, tx, c, primaryRegion, p.BundleID)
	if err != nil {
		return WorkspaceRequest{}, nil, err
	}
	props := p.Properties
	r := WorkspaceRequest{DirectoryId: s.DirectoryId, UserName: p.UserName, BundleId: bundleID, Tags: s.Tags,
		VolumeEncryptionKey: s.VolumeEncryptionKey, WorkspaceProperties: &props}
	if p.WorkspaceName != "" {
		r.WorkspaceName = ptr.To(p.WorkspaceName)
	}
	if s.VolumeEncryptionKey != nil {
		// The standby's volumes are encrypted as the primary's are.
		r.RootVolumeEncryptionEnabled, r.UserVolumeEncryptionEnabled = ptr.To(p.RootEncrypted), ptr.To(p.UserEncrypted)
	} else if p.RootEncrypted || p.UserEncrypted {
		return WorkspaceRequest{}, nil, itemErr("InvalidParameterValuesException", "The primary WorkSpace %s has encrypted volumes; give the standby a VolumeEncryptionKey of this Region.", p.WorkspaceID)
	}
	return r, p, nil
}

// relateStandby records the primary/standby relationship of a created
// standby desktop w.
func (m *Module) relateStandby(ctx context.Context, tx store.Tx, c *gateway.Call, primaryRegion string, o standbyOrigin, w *desktopRec) error {
	s, p := o.req, o.primary
	repl := ptr.Deref(s.DataReplication)
	if repl == "" {
		repl = "NO_REPLICATION"
	}
	if err := markStandby(ctx, tx, c.Account, primaryRegion); err != nil {
		return err
	}
	if err := markStandby(ctx, tx, c.Account, c.Region); err != nil {
		return err
	}
	if err := putRec(ctx, tx, tStandby, key(c.Account, primaryRegion, p.WorkspaceID),
		standbyRel{Role: "PRIMARY", Other: w.WorkspaceID, OtherRegion: c.Region, DataReplication: repl, Created: c.Now}); err != nil {
		return err
	}
	return putRec(ctx, tx, tStandby, key(c.Account, c.Region, w.WorkspaceID),
		standbyRel{Role: "STANDBY", Other: p.WorkspaceID, OtherRegion: primaryRegion, DataReplication: repl, Created: c.Now})
}

// addStandbyRelations fills in the relationships of described desktops.
// It costs one read of the mark (cached) when the account has no standby
// desktop in the Region.
func (m *Module) addStandbyRelations(ctx context.Context, c *gateway.Call, ws []Workspace) error {
	if len(ws) == 0 {
		return nil
	}
	return m.addStandbyRelationsAt(ctx, c, ws, prefix(c.Account, c.Region))
}

// addStandbyRelationsAt is addStandbyRelations with the call's
// ACCOUNT/REGION/ prefix given: a describe by id has it in its keys.
func (m *Module) addStandbyRelationsAt(ctx context.Context, c *gateway.Call, ws []Workspace, pfx string) error {
	if len(ws) == 0 {
		return nil
	}
	if _, err := m.store.Get(ctx, tStandbyAny, pfx); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read standby mark: %w", err)
	}
	return m.store.View(ctx, func(tx store.Tx) error {
		for i := range ws {
			w := &ws[i]
			rel, err := getRec[standbyRel](ctx, tx, tStandby, key(c.Account, c.Region, w.WorkspaceId))
			if err != nil {
				return err
			}
			if rel == nil {
				continue
			}
			other, err := getRec[desktopRec](ctx, tx, tDesktops, key(c.Account, rel.OtherRegion, rel.Other))
			if err != nil {
				return err
			}
			if other == nil {
				continue
			}
			otherRole := "STANDBY"
			if rel.Role == "STANDBY" {
				otherRole = "PRIMARY"
				w.DataReplicationSettings = &dataReplicationSettings{DataReplication: rel.DataReplication, RecoverySnapshotTime: m.recoverySnapshot(other, rel, c.Now)}
			} else {
				sp := standbyProps{StandbyWorkspaceId: rel.Other, DataReplication: rel.DataReplication}
				if rel.DataReplication == "PRIMARY_AS_SOURCE" {
					self, err := getRec[desktopRec](ctx, tx, tDesktops, key(c.Account, c.Region, w.WorkspaceId))
					if err != nil {
						return err
					}
					if self != nil {
						sp.RecoverySnapshotTime = m.recoverySnapshot(self, rel, c.Now)
					}
				}
				w.StandbyWorkspacesProperties = append(w.StandbyWorkspacesProperties, sp)
			}
			w.RelatedWorkspaces = append(w.RelatedWorkspaces, relatedWorkspace{WorkspaceId: rel.Other, Region: rel.OtherRegion, State: other.State, Type: otherRole})
		}
		return nil
	})
}

// mirrorBundle returns the bundle the standby of a desktop of primaryRegion
// built from bundleID is made from in the caller's Region: a public bundle
// is the same everywhere; a custom bundle is mirrored ("The system
// automatically mirrors the primary WorkSpace bundle images to the
// secondary Region" [AG:multi-region-resilience]): its image and the bundle
// are copied, AVAILABLE at once, under their source names, once per source
// bundle (later standbys reuse the mirror).
func (m *Module) mirrorBundle(ctx context.Context, tx store.Tx, c *gateway.Call, primaryRegion, bundleID string) (string, error) {
	if b, err := publicBundle(bundleID); err != nil || b != nil {
		return bundleID, err
	}
	mk := nameKey(c.Account, c.Region, "mirror", primaryRegion+"/"+bundleID)
	if id, err := getRec[string](ctx, tx, tIdem, mk); err != nil {
		return "", err
	} else if id != nil {
		if b, err := m.lookupBundle(ctx, tx, c.Account, c.Region, *id); err != nil || b != nil {
			return *id, err
		}
	}
	src, err := getRec[bundleRec](ctx, tx, tBundles, key(c.Account, primaryRegion, bundleID))
	if err != nil {
		return "", err
	}
	if src == nil {
		return "", itemErr("InvalidParameterValuesException", "The bundle %s of the primary WorkSpace no longer exists in %s.", bundleID, primaryRegion)
	}
	img, err := m.lookupImage(ctx, tx, c.Account, primaryRegion, src.ImageID)
	if err != nil {
		return "", err
	}
	if img == nil || img.State != "AVAILABLE" {
		return "", itemErr("InvalidParameterValuesException", "The image %s of bundle %s is not AVAILABLE in %s.", src.ImageID, bundleID, primaryRegion)
	}
	imageID := img.ImageID
	if img.OwnerAccountID != "AMAZON" {
		if img.RequiredTenancy == "DEDICATED" {
			if ok, err := m.byolEnabled(ctx, tx, c.Account, c.Region); err != nil {
				return "", err
			} else if !ok {
				return "", itemErr("AccessDeniedException", "The bundle %s uses a BYOL image; account %s does not have BYOL enabled in %s.", bundleID, c.Account, c.Region)
			}
		}
		if err := m.checkImageQuota(ctx, tx, c.Account, c.Region); err != nil {
			return "", err
		}
		if _, err := tx.Get(ctx, tIdem, nameKey(c.Account, c.Region, "image", img.Name)); err == nil {
			return "", errExists("An image named %q already exists in %s; the image of bundle %s cannot be mirrored there for the standby.", img.Name, c.Region, bundleID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	// Every check is made before the first write: a refused item leaves nothing behind.
	if n, err := tx.Count(ctx, tBundles, prefix(c.Account, c.Region)); err != nil {
		return "", err
	} else if n >= m.cfg.Quotas.Bundles {
		return "", errLimit("The number of bundles in this Region has reached the limit of %d.", m.cfg.Quotas.Bundles)
	}
	if _, err := tx.Get(ctx, tIdem, nameKey(c.Account, c.Region, "bundle", src.Name)); err == nil {
		return "", errExists("A bundle named %q already exists in %s; the bundle %s cannot be mirrored there for the standby.", src.Name, c.Region, bundleID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if img.OwnerAccountID != "AMAZON" {
		cp, err := clone(img)
		if err != nil {
			return "", err
		}
		imageID = newID("wsi-")
		if err := reserveImageName(ctx, tx, c.Account, c.Region, img.Name, imageID); err != nil {
			return "", err
		}
		cp.ImageID, cp.OwnerAccountID, cp.State, cp.Created, cp.Tags = imageID, c.Account, "AVAILABLE", c.Now, nil
		cp.SourceImage, cp.SourceRegion = img.ImageID, primaryRegion
		if err := putRec(ctx, tx, tImages, key(c.Account, c.Region, imageID), cp); err != nil {
			return "", err
		}
	}
	b, err := clone(src)
	if err != nil {
		return "", err
	}
	b.BundleID, b.ImageID, b.State, b.Created, b.Updated, b.Tags = newID("wsb-"), imageID, "AVAILABLE", c.Now, c.Now, nil
	if err := tx.Create(ctx, tIdem, nameKey(c.Account, c.Region, "bundle", b.Name), []byte(`"`+b.BundleID+`"`)); err != nil {
		return "", err
	}
	if err := putRec(ctx, tx, tBundles, key(c.Account, c.Region, b.BundleID), b); err != nil {
		return "", err
	}
	return b.BundleID, putRec(ctx, tx, tIdem, mk, b.BundleID)
}
