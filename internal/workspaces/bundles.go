package workspaces

// Bundles: CreateWorkspaceBundle, UpdateWorkspaceBundle,
// DeleteWorkspaceBundle and DescribeWorkspaceBundles. Custom bundles live in
// tBundles under OWNER/REGION/BUNDLEID; bundle names are unique per account
// and Region through tIdem OWNER/REGION/bundle/NAME. The public (AMAZON)
// bundles are a fixed catalogue (public_bundles.go).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// ComputeType is the model's ComputeType.
type ComputeType struct {
	Name *string `json:"Name,omitempty" v:"enum=VALUE|STANDARD|PERFORMANCE|POWER|GRAPHICS|POWERPRO|GENERALPURPOSE_4XLARGE|GENERALPURPOSE_8XLARGE|GRAPHICSPRO|GRAPHICS_G4DN|GRAPHICSPRO_G4DN|GRAPHICS_G6_XLARGE|GRAPHICS_G6_2XLARGE|GRAPHICS_G6_4XLARGE|GRAPHICS_G6_8XLARGE|GRAPHICS_G6_16XLARGE|GRAPHICS_GR6_4XLARGE|GRAPHICS_GR6_8XLARGE|GRAPHICS_G6F_LARGE|GRAPHICS_G6F_XLARGE|GRAPHICS_G6F_2XLARGE|GRAPHICS_G6F_4XLARGE|GRAPHICS_GR6F_4XLARGE"`
}

// Storage is the model's RootStorage and UserStorage (Capacity in GB, as a string).
type Storage struct {
	Capacity string `json:"Capacity" v:"required,min=1"`
}

// WorkspaceBundle is the model's WorkspaceBundle.
type WorkspaceBundle struct {
	BundleId        string         `json:"BundleId"`
	Name            string         `json:"Name"`
	Owner           string         `json:"Owner"`
	Description     string         `json:"Description,omitempty"`
	ImageId         string         `json:"ImageId,omitempty"`
	RootStorage     *Storage       `json:"RootStorage,omitempty"`
	UserStorage     *Storage       `json:"UserStorage,omitempty"`
	ComputeType     *ComputeType   `json:"ComputeType,omitempty"`
	LastUpdatedTime *awsproto.Time `json:"LastUpdatedTime,omitempty"`
	CreationTime    *awsproto.Time `json:"CreationTime,omitempty"`
	State           string         `json:"State,omitempty"`
	BundleType      string         `json:"BundleType,omitempty"`
}

// createBundleIn is CreateWorkspaceBundleRequest.
type createBundleIn struct {
	BundleName        string       `json:"BundleName" v:"required,min=1,max=64,pattern=^[a-zA-Z0-9_./()\\\\-]+$"`
	BundleDescription string       `json:"BundleDescription" v:"required,min=1,max=255,pattern=^[a-zA-Z0-9_./() -]+$"`
	ImageId           string       `json:"ImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
	ComputeType       *ComputeType `json:"ComputeType" v:"required"`
	UserStorage       *Storage     `json:"UserStorage" v:"required"`
	RootStorage       *Storage     `json:"RootStorage,omitempty"`
	Tags              []Tag        `json:"Tags,omitempty"`
}

// createBundleOut is CreateWorkspaceBundleResult.
type createBundleOut struct {
	WorkspaceBundle WorkspaceBundle `json:"WorkspaceBundle"`
}

// updateBundleIn is UpdateWorkspaceBundleRequest (no member is required in the model).
type updateBundleIn struct {
	BundleId *string `json:"BundleId,omitempty" v:"pattern=^wsb-[0-9a-z]{8,63}$"`
	ImageId  *string `json:"ImageId,omitempty" v:"pattern=wsi-[0-9a-z]{9,63}$"`
}

// deleteBundleIn is DeleteWorkspaceBundleRequest.
type deleteBundleIn struct {
	BundleId *string `json:"BundleId,omitempty" v:"pattern=^wsb-[0-9a-z]{8,63}$"`
}

// describeBundlesIn is DescribeWorkspaceBundlesRequest.
type describeBundlesIn struct {
	BundleIds []string `json:"BundleIds,omitempty" v:"min=1,max=25,pattern=^wsb-[0-9a-z]{8,63}$"`
	Owner     *string  `json:"Owner,omitempty"`
	NextToken *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

// describeBundlesOut is DescribeWorkspaceBundlesResult.
type describeBundlesOut struct {
	Bundles   []WorkspaceBundle `json:"Bundles"`
	NextToken *string           `json:"NextToken,omitempty"`
}

// bundlePageSize is DescribeWorkspaceBundles' page size (the request has no limit member).
const bundlePageSize = 25

// createWorkspaceBundleResources resolves the resources CreateWorkspaceBundle is authorized on.
func (m *Module) createWorkspaceBundleResources(ctx context.Context, c *gateway.Call, in *createBundleIn) ([]gateway.Check, error) {
	it, err := m.resourceTags(ctx, c.Account, c.Region, in.ImageId)
	if err != nil {
		return nil, err
	}
	checks := []gateway.Check{
		withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "workspacebundle", "*")}, in.Tags),
		{Resource: ARN(c.Region, c.Account, "workspaceimage", in.ImageId), ResourceTags: orEmpty(it)},
	}
	return append(checks, createTagsCheck(in.Tags)...), nil
}

// updateWorkspaceBundleResources resolves the resources UpdateWorkspaceBundle is authorized on.
func (m *Module) updateWorkspaceBundleResources(ctx context.Context, c *gateway.Call, in *updateBundleIn) ([]gateway.Check, error) {
	bt, err := m.resourceTags(ctx, c.Account, c.Region, ptr.Deref(in.BundleId))
	if err != nil {
		return nil, err
	}
	it, err := m.resourceTags(ctx, c.Account, c.Region, ptr.Deref(in.ImageId))
	if err != nil {
		return nil, err
	}
	return []gateway.Check{
		{Resource: ARN(c.Region, c.Account, "workspacebundle", ptr.Deref(in.BundleId)), ResourceTags: orEmpty(bt)},
		{Resource: ARN(c.Region, c.Account, "workspaceimage", ptr.Deref(in.ImageId)), ResourceTags: orEmpty(it)},
	}, nil
}

// deleteWorkspaceBundleResources resolves the resources DeleteWorkspaceBundle is authorized on.
func (m *Module) deleteWorkspaceBundleResources(ctx context.Context, c *gateway.Call, in *deleteBundleIn) ([]gateway.Check, error) {
	bt, err := m.resourceTags(ctx, c.Account, c.Region, ptr.Deref(in.BundleId))
	if err != nil {
		return nil, err
	}
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspacebundle", ptr.Deref(in.BundleId)), ResourceTags: orEmpty(bt)}}, nil
}

// lookupBundle returns a bundle usable by account in region: its own custom
// bundle, or an AMAZON public bundle; nil, nil if none.
func (m *Module) lookupBundle(ctx context.Context, tx store.Tx, account, region, id string) (*bundleRec, error) {
	b, err := getRec[bundleRec](ctx, tx, tBundles, key(account, region, id))
	if err != nil || b != nil {
		return b, err
	}
	return publicBundle(id)
}

// bundleInUse reports whether a desktop of account in region that is not
// TERMINATED was launched from the bundle.
func (m *Module) bundleInUse(ctx context.Context, tx store.Tx, account, region, bundleID string) (bool, error) {
	used := false
	err := store.ScanJSON[desktopRec](ctx, tx, tDesktops, prefix(account, region), "", 0, func(_ string, w *desktopRec) error {
		if w.BundleID == bundleID && w.State != "TERMINATED" {
			used = true
			return store.ErrStop
		}
		return nil
	})
	return used, err
}

// gpuCompute reports whether a compute type is of the graphics family.
func gpuCompute(compute string) bool { return strings.HasPrefix(compute, "GRAPHICS") }

// checkComputeForImage applies the model's pairing of BYOL ingestion
// processes and bundles: *_REGULAR* images are for non-GPU bundles ("For
// non-GPU-enabled bundles (bundles other than Graphics or GraphicsPro),
// specify BYOL_REGULAR, BYOL_REGULAR_WSP, or BYOL_REGULAR_BYOP"), and each
// BYOL_GRAPHICS* process names its GPU family [MODEL IngestionProcess].
// Images made from desktops or copies keep their source's process; images
// without one (from public bundles) pair with any compute type.
func checkComputeForImage(compute string, img *imageRec) error {
	p := img.IngestionProcess
	var ok bool
	switch {
	case p == "":
		return nil
	case strings.HasPrefix(p, "BYOL_REGULAR"):
		ok = !gpuCompute(compute)
	case strings.HasPrefix(p, "BYOL_GRAPHICS_G4DN"):
		ok = compute == "GRAPHICS_G4DN" || compute == "GRAPHICSPRO_G4DN"
	case p == "BYOL_GRAPHICSPRO":
		ok = compute == "GRAPHICSPRO"
	case p == "BYOL_GRAPHICS":
		ok = compute == "GRAPHICS"
	default:
		ok = true
	}
	if !ok {
		return errInvalid("The compute type %s cannot be used with image %s, which was imported with ingestion process %s.", compute, img.ImageID, p)
	}
	return nil
}

// parseCapacity reads a RootStorage/UserStorage Capacity (GB, a string in the model).
func parseCapacity(what, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, errInvalid("The %s capacity %q is not a positive number of GB.", what, s)
	}
	return n, nil
}

// checkBundleStorage validates a bundle's volumes against the documented
// combinations [root, user] in GB: [80, 10], [80, 50], [80, 100], and
// [175-2000, 100-2000]; Graphics-family bundles may also use root 100 / user
// 100 and larger [AG:create-custom-bundle] [AG:modify-workspaces]. The root
// volume cannot be smaller than the image's [AG:create-custom-bundle] (cur).
func checkBundleStorage(root, user int, compute string, imageRoot int) error {
	switch {
	case root > 2000 || user > 2000:
		return errInvalid("Volumes can be at most 2000 GB; root %d GB / user %d GB requested.", root, user)
	case root < imageRoot:
		return errInvalid("The root volume (%d GB) cannot be smaller than the image's root volume (%d GB).", root, imageRoot)
	case root == 80 && (user == 10 || user == 50 || user == 100):
		return nil
	case gpuCompute(compute) && root >= 100 && user >= 100:
		return nil
	case root >= 175 && user >= 100:
		return nil
	}
	return errInvalid("Root %d GB / user %d GB is not a supported storage combination: use [80, 10], [80, 50], [80, 100] or [175-2000, 100-2000] (Graphics bundles also [100, 100]).", root, user)
}

func (m *Module) createBundle(ctx context.Context, c *gateway.Call, in *createBundleIn) (*createBundleOut, error) {
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	compute := ptr.Deref(in.ComputeType.Name)
	if compute == "" {
		return nil, errInvalid("ComputeType.Name is required.")
	}
	user, err := parseCapacity("user storage", in.UserStorage.Capacity)
	if err != nil {
		return nil, err
	}
	root := 80
	if gpuCompute(compute) {
		root = 100
	}
	if in.RootStorage != nil {
		if root, err = parseCapacity("root storage", in.RootStorage.Capacity); err != nil {
			return nil, err
		}
	}
	var rec *bundleRec
	err = m.store.Update(ctx, func(tx store.Tx) error {
		img, err := getRec[imageRec](ctx, tx, tImages, key(c.Account, c.Region, in.ImageId))
		if err != nil {
			return err
		}
		if img == nil {
			// A shared image must be copied before it can be used in a bundle [AG:share-custom-image].
			if shared, _, err := m.sharedImage(ctx, tx, c.Account, c.Region, in.ImageId); err != nil {
				return err
			} else if shared != nil {
				return errInvalid("The image %s is shared with you by account %s; copy it with CopyWorkspaceImage before using it in a bundle.", in.ImageId, shared.OwnerAccountID)
			}
			return errNotFound("The image %s could not be found.", in.ImageId)
		}
		if img.State != "AVAILABLE" {
			return awsproto.Errorf("ResourceUnavailableException", "The image %s is %s; a bundle can be created only from an AVAILABLE image.", in.ImageId, img.State)
		}
		if err := checkComputeForImage(compute, img); err != nil {
			return err
		}
		if err := checkBundleStorage(root, user, compute, img.RootVolumeSize); err != nil {
			return err
		}
		// Custom bundles per Region: 50 on AWS, not adjustable; configured by Quotas.Bundles [AG:workspaces-limits].
		n, err := tx.Count(ctx, tBundles, prefix(c.Account, c.Region))
		if err != nil {
			return err
		}
		if n >= m.cfg.Quotas.Bundles {
			return errLimit("The number of bundles in this Region has reached the limit of %d.", m.cfg.Quotas.Bundles)
		}
		id := newID("wsb-")
		err = tx.Create(ctx, tIdem, nameKey(c.Account, c.Region, "bundle", in.BundleName), []byte(`"`+id+`"`))
		if errors.Is(err, store.ErrExists) {
			return errExists("A bundle named %q already exists in this account and Region.", in.BundleName)
		}
		if err != nil {
			return err
		}
		rec = &bundleRec{
			BundleID: id, Name: in.BundleName, Description: in.BundleDescription, Owner: c.Account, ImageID: in.ImageId,
			ComputeType: compute, RootCapacity: strconv.Itoa(root), UserCapacity: strconv.Itoa(user),
			State: "AVAILABLE", BundleType: "REGULAR", Created: c.Now, Updated: c.Now, Tags: tags,
		}
		return putRec(ctx, tx, tBundles, key(c.Account, c.Region, id), rec)
	})
	if err != nil {
		return nil, err
	}
	return &createBundleOut{WorkspaceBundle: renderBundle(rec)}, nil
}

// ownBundle loads one of the caller's custom bundles for a change; public
// bundles cannot be changed.
func ownBundle(ctx context.Context, tx store.Tx, account, region string, id *string) (*bundleRec, error) {
	if id == nil || *id == "" {
		return nil, errInvalid("BundleId is required.")
	}
	if publicCatalog.bundles[*id] != nil {
		return nil, errInvalid("The bundle %s is provided by Amazon WorkSpaces; only your own bundles can be changed.", *id)
	}
	b, err := getRec[bundleRec](ctx, tx, tBundles, key(account, region, *id))
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errNotFound("The bundle %s could not be found.", *id)
	}
	return b, nil
}

// updateBundle points a custom bundle at another image. Existing desktops
// are not changed; they pick the image up when rebuilt [MODEL].
func (m *Module) updateBundle(ctx context.Context, c *gateway.Call, in *updateBundleIn) (*struct{}, error) {
	if in.ImageId == nil || *in.ImageId == "" {
		return nil, errInvalid("ImageId is required.")
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		b, err := ownBundle(ctx, tx, c.Account, c.Region, in.BundleId)
		if err != nil {
			return err
		}
		img, err := getRec[imageRec](ctx, tx, tImages, key(c.Account, c.Region, *in.ImageId))
		if err != nil {
			return err
		}
		if img == nil {
			return errNotFound("The image %s could not be found.", *in.ImageId)
		}
		if img.State != "AVAILABLE" {
			return awsproto.Errorf("ResourceUnavailableException", "The image %s is %s; a bundle can be updated only to an AVAILABLE image.", *in.ImageId, img.State)
		}
		old, err := m.lookupImage(ctx, tx, c.Account, c.Region, b.ImageID)
		if err != nil {
			return err
		}
		// The new image must run on the same kind of host and stream the
		// same way: BYOL (DEDICATED) and shared-tenancy images, and PCoIP,
		// DCV (WSP) and BYOP images, are not interchangeable (BYOL
		// WorkSpaces migrate only to BYOL bundles [AG:migrate-workspaces]).
		if old != nil {
			if old.RequiredTenancy != img.RequiredTenancy {
				return errUnsupported("The image %s requires %s tenancy but the bundle's image requires %s; a bundle cannot switch between BYOL and non-BYOL images.", img.ImageID, img.RequiredTenancy, old.RequiredTenancy)
			}
			if old.Protocol != "" && img.Protocol != "" && old.Protocol != img.Protocol {
				return errUnsupported("The image %s uses the %s protocol but the bundle's image uses %s.", img.ImageID, img.Protocol, old.Protocol)
			}
			if old.OperatingSystem != "" && img.OperatingSystem != "" && old.OperatingSystem != img.OperatingSystem {
				return errUnsupported("The image %s runs %s but the bundle's image runs %s.", img.ImageID, img.OperatingSystem, old.OperatingSystem)
			}
		}
		if err := checkComputeForImage(b.ComputeType, img); err != nil {
			return err
		}
		root, err := strconv.Atoi(b.RootCapacity)
		if err != nil {
			return fmt.Errorf("bundle %s: root capacity %q: %w", b.BundleID, b.RootCapacity, err)
		}
		if img.RootVolumeSize > root {
			return errInvalid("The image %s needs a %d GB root volume; the bundle's root volume is %d GB.", img.ImageID, img.RootVolumeSize, root)
		}
		b.ImageID = img.ImageID
		b.Updated = c.Now
		return putRec(ctx, tx, tBundles, key(c.Account, c.Region, b.BundleID), b)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// deleteBundle deletes a custom bundle once no desktop uses it [AG:delete_bundle].
func (m *Module) deleteBundle(ctx context.Context, c *gateway.Call, in *deleteBundleIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		b, err := ownBundle(ctx, tx, c.Account, c.Region, in.BundleId)
		if err != nil {
			return err
		}
		if used, err := m.bundleInUse(ctx, tx, c.Account, c.Region, b.BundleID); err != nil {
			return err
		} else if used {
			return errAssociated("The bundle %s is used by WorkSpaces; terminate them (or migrate them to another bundle) first.", b.BundleID)
		}
		if err := m.checkPoolsUse(ctx, tx, c.Account, c.Region, "bundle", b.BundleID); err != nil {
			return err
		}
		if err := tx.Delete(ctx, tBundles, key(c.Account, c.Region, b.BundleID)); err != nil {
			return err
		}
		if err := tx.Delete(ctx, tIdem, nameKey(c.Account, c.Region, "bundle", b.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// describeBundles lists bundles by id, the AMAZON public bundles (Owner
// AMAZON), or the caller's own bundles (no Owner, or the caller's account
// id); BundleIds and Owner cannot be combined [MODEL].
func (m *Module) describeBundles(ctx context.Context, c *gateway.Call, in *describeBundlesIn) (*describeBundlesOut, error) {
	owner := ptr.Deref(in.Owner)
	if len(in.BundleIds) > 0 && in.Owner != nil {
		return nil, errInvalid("BundleIds and Owner cannot be combined; specify one of them.")
	}
	if in.Owner != nil && owner != "AMAZON" && owner != c.Account {
		return nil, errInvalid("The Owner %q is not valid: specify AMAZON for the bundles provided by Amazon WorkSpaces, or omit it for your own bundles.", owner)
	}
	out := &describeBundlesOut{Bundles: []WorkspaceBundle{}}
	if len(in.BundleIds) > 0 {
		if in.NextToken != nil {
			return nil, errInvalid("The NextToken value is not valid.")
		}
		seen := map[string]bool{}
		err := m.store.View(ctx, func(tx store.Tx) error {
			for _, id := range in.BundleIds {
				if seen[id] {
					continue
				}
				seen[id] = true
				b, err := m.lookupBundle(ctx, tx, c.Account, c.Region, id)
				if err != nil {
					return err
				}
				if b != nil {
					out.Bundles = append(out.Bundles, renderBundle(b))
				}
			}
			return nil
		})
		return out, err
	}
	if owner == "AMAZON" {
		const within = "AMAZON/"
		after, err := parseToken(in.NextToken, within)
		if err != nil {
			return nil, err
		}
		afterID := strings.TrimPrefix(after, within)
		for _, id := range publicCatalog.order {
			if id <= afterID {
				continue
			}
			if len(out.Bundles) == bundlePageSize {
				out.NextToken = pageToken(within + out.Bundles[bundlePageSize-1].BundleId)
				break
			}
			out.Bundles = append(out.Bundles, renderBundle(publicCatalog.bundles[id]))
		}
		return out, nil
	}
	p := prefix(c.Account, c.Region)
	after, err := parseToken(in.NextToken, p)
	if err != nil {
		return nil, err
	}
	err = m.store.View(ctx, func(tx store.Tx) error {
		last := ""
		return store.ScanJSON[bundleRec](ctx, tx, tBundles, p, after, bundlePageSize+1, func(k string, b *bundleRec) error {
			if len(out.Bundles) == bundlePageSize {
				out.NextToken = pageToken(last)
				return store.ErrStop
			}
			last = k
			out.Bundles = append(out.Bundles, renderBundle(b))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// renderBundle renders a bundle record as the model's WorkspaceBundle.
func renderBundle(b *bundleRec) WorkspaceBundle {
	out := WorkspaceBundle{
		BundleId: b.BundleID, Name: b.Name, Owner: b.Owner, Description: b.Description, ImageId: b.ImageID,
		ComputeType: &ComputeType{Name: ptr.To(b.ComputeType)}, UserStorage: &Storage{Capacity: b.UserCapacity},
		LastUpdatedTime: awsproto.NewTime(b.Updated), CreationTime: awsproto.NewTime(b.Created),
		State: b.State, BundleType: b.BundleType,
	}
	if b.RootCapacity != "" {
		out.RootStorage = &Storage{Capacity: b.RootCapacity}
	}
	return out
}
