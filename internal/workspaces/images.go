package workspaces

// Images: ImportWorkspaceImage (BYOL), CreateWorkspaceImage (from a
// desktop), CopyWorkspaceImage (within or across regions, own or shared
// images), DeleteWorkspaceImage, DescribeWorkspaceImages and image sharing
// (UpdateWorkspaceImagePermission, DescribeWorkspaceImagePermissions).
//
// Records: an image lives in tImages under OWNER/REGION/IMAGEID. Sharing is
// kept twice: tImagePerm OWNER/REGION/IMAGEID/RECIPIENT on the owner's side
// (DescribeWorkspaceImagePermissions, delete refusal) and tImageShare
// RECIPIENT/REGION/IMAGEID -> owner on the recipient's side (SHARED
// listings, copies). Image names are unique per account and region through
// tIdem OWNER/REGION/image/NAME.
//
// Sources are cited as in /work/shared/reference/workspaces-behaviour.md:
// [MODEL] is the botocore workspaces model, [AG:page] the Administration
// Guide, [PG] the WorkSpaces Core partner guide.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Job kinds of the image lifecycle.
const (
	jobImageImport = "workspaces.image-import" // imported image PENDING -> AVAILABLE or ERROR
	jobImageCreate = "workspaces.image-create" // image from a desktop PENDING -> AVAILABLE, desktop SUSPENDED -> AVAILABLE
	jobImageCopy   = "workspaces.image-copy"   // copied image PENDING -> AVAILABLE
)

// maxImageRootSize bounds an imported AMI's root volume.
const (
	maxImageRootSize = 80 // GiB; see importChecks
)

// importImageIn is ImportWorkspaceImageRequest.
type importImageIn struct {
	Ec2ImageId       string   `json:"Ec2ImageId" v:"required,pattern=^ami\\-([a-f0-9]{8}|[a-f0-9]{17})$"`
	IngestionProcess string   `json:"IngestionProcess" v:"required,enum=BYOL_REGULAR|BYOL_GRAPHICS|BYOL_GRAPHICSPRO|BYOL_GRAPHICS_G4DN|BYOL_REGULAR_WSP|BYOL_GRAPHICS_G4DN_WSP|BYOL_REGULAR_BYOP|BYOL_GRAPHICS_G4DN_BYOP"`
	ImageName        string   `json:"ImageName" v:"required,min=1,max=64,pattern=^[a-zA-Z0-9_./()\\\\-]+$"`
	ImageDescription string   `json:"ImageDescription" v:"required,min=1,max=256,pattern=^[a-zA-Z0-9_./() -]+$"`
	Tags             []Tag    `json:"Tags,omitempty"`
	Applications     []string `json:"Applications,omitempty" v:"min=1,max=5,enum=Microsoft_Office_2016|Microsoft_Office_2019"`
}

// importImageOut is ImportWorkspaceImageResult.
type importImageOut struct {
	ImageId string `json:"ImageId"`
}

// describeImagesIn is DescribeWorkspaceImagesRequest.
type describeImagesIn struct {
	ImageIds   []string `json:"ImageIds,omitempty" v:"min=1,max=25,pattern=wsi-[0-9a-z]{9,63}$"`
	ImageType  *string  `json:"ImageType,omitempty" v:"enum=OWNED|SHARED"`
	NextToken  *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
	MaxResults *int     `json:"MaxResults,omitempty" v:"min=1,max=25"`
}

// OperatingSystem is the model's OperatingSystem.
type OperatingSystem struct {
	Type string `json:"Type"`
}

// WorkspaceImage is the model's WorkspaceImage.
type WorkspaceImage struct {
	ImageId         string           `json:"ImageId"`
	Name            string           `json:"Name,omitempty"`
	Description     string           `json:"Description,omitempty"`
	OperatingSystem *OperatingSystem `json:"OperatingSystem,omitempty"`
	State           string           `json:"State"`
	RequiredTenancy string           `json:"RequiredTenancy,omitempty"`
	ErrorCode       string           `json:"ErrorCode,omitempty"`
	ErrorMessage    string           `json:"ErrorMessage,omitempty"`
	Created         *awsproto.Time   `json:"Created,omitempty"`
	OwnerAccountId  string           `json:"OwnerAccountId,omitempty"`
	Updates         *UpdateResult    `json:"Updates,omitempty"`
	ErrorDetails    []ErrorDetails   `json:"ErrorDetails,omitempty"`
}

// describeImagesOut is DescribeWorkspaceImagesResult.
type describeImagesOut struct {
	Images    []WorkspaceImage `json:"Images"`
	NextToken *string          `json:"NextToken,omitempty"`
}

// createImageIn is CreateWorkspaceImageRequest.
type createImageIn struct {
	Name        string `json:"Name" v:"required,min=1,max=64,pattern=^[a-zA-Z0-9_./()\\\\-]+$"`
	Description string `json:"Description" v:"required,min=1,max=256,pattern=^[a-zA-Z0-9_./() -]+$"`
	WorkspaceId string `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	Tags        []Tag  `json:"Tags,omitempty"`
}

// createImageOut is CreateWorkspaceImageResult.
type createImageOut struct {
	ImageId         string           `json:"ImageId"`
	Name            string           `json:"Name"`
	Description     string           `json:"Description"`
	OperatingSystem *OperatingSystem `json:"OperatingSystem,omitempty"`
	State           string           `json:"State"`
	RequiredTenancy string           `json:"RequiredTenancy"`
	Created         *awsproto.Time   `json:"Created"`
	OwnerAccountId  string           `json:"OwnerAccountId"`
}

// copyImageIn is CopyWorkspaceImageRequest.
type copyImageIn struct {
	Name          string  `json:"Name" v:"required,min=1,max=64,pattern=^[a-zA-Z0-9_./()\\\\-]+$"`
	Description   *string `json:"Description,omitempty" v:"min=1,max=256,pattern=^[a-zA-Z0-9_./() -]+$"`
	SourceImageId string  `json:"SourceImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
	SourceRegion  string  `json:"SourceRegion" v:"required,min=1,max=31,pattern=^[-0-9a-z]{1,31}$"`
	Tags          []Tag   `json:"Tags,omitempty"`
}

// copyImageOut is CopyWorkspaceImageResult.
type copyImageOut struct {
	ImageId string `json:"ImageId"`
}

// deleteImageIn is DeleteWorkspaceImageRequest.
type deleteImageIn struct {
	ImageId string `json:"ImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
}

// updateImagePermIn is UpdateWorkspaceImagePermissionRequest.
type updateImagePermIn struct {
	ImageId         string `json:"ImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
	AllowCopyImage  *bool  `json:"AllowCopyImage" v:"required"`
	SharedAccountId string `json:"SharedAccountId" v:"required,pattern=^\\d{12}$"`
}

// describeImagePermsIn is DescribeWorkspaceImagePermissionsRequest.
type describeImagePermsIn struct {
	ImageId    string  `json:"ImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
	NextToken  *string `json:"NextToken,omitempty" v:"min=1,max=2048"`
	MaxResults *int    `json:"MaxResults,omitempty" v:"min=1,max=25"`
}

// ImagePermission is the model's ImagePermission.
type ImagePermission struct {
	SharedAccountId string `json:"SharedAccountId"`
}

// describeImagePermsOut is DescribeWorkspaceImagePermissionsResult.
type describeImagePermsOut struct {
	ImageId          string            `json:"ImageId"`
	ImagePermissions []ImagePermission `json:"ImagePermissions"`
	NextToken        *string           `json:"NextToken,omitempty"`
}

// imagePermRec is one share of an image (owner side, tImagePerm).
type imagePermRec struct {
	SharedAccountID string    `json:"shared"`
	AllowCopyImage  bool      `json:"allow_copy"`
	Since           time.Time `json:"since"`
}

// imageShareRec is the recipient's view of a share (tImageShare).
type imageShareRec struct {
	Owner string `json:"owner"`
}

// imageJob is the payload of the image jobs.
type imageJob struct {
	Image   string         `json:"image"`             // tImages key
	Desktop string         `json:"desktop,omitempty"` // tDesktops key (image-create)
	Fail    []ErrorDetails `json:"fail,omitempty"`    // import: validation failures found at import time
	// FailCode and FailMessage are an injected failure: the image ends in
	// ERROR with them (and, for an import, an UnknownError detail).
	FailCode    string `json:"fail_code,omitempty"`
	FailMessage string `json:"fail_message,omitempty"`
}

// imageFault returns the injected fault of an image operation for its
// source: an error (outcome "request") or the failure the job ends the
// image with.
func (m *Module) imageFault(ctx context.Context, op string, now time.Time, source string, job *imageJob) error {
	ff, err := m.opFault(ctx, op, now.UnixNano(), source)
	if err != nil || ff == nil {
		return err
	}
	if ff.outcome == "request" {
		return awsproto.Errorf(ff.code, "%s", ff.msg)
	}
	job.FailCode, job.FailMessage = ff.code, ff.msg
	return nil
}

// importWorkspaceImageResources resolves the resources ImportWorkspaceImage is authorized on.
func (m *Module) importWorkspaceImageResources(ctx context.Context, c *gateway.Call, in *importImageIn) ([]gateway.Check, error) {
	// ImportWorkspaceImage supports only Resource "*" [authorization.md §1].
	return []gateway.Check{withRequestTags(gateway.Check{Resource: "*"}, in.Tags)}, nil
}

// createWorkspaceImageResources resolves the resources CreateWorkspaceImage is authorized on.
func (m *Module) createWorkspaceImageResources(ctx context.Context, c *gateway.Call, in *createImageIn) ([]gateway.Check, error) {
	wt, err := m.resourceTags(ctx, c.Account, c.Region, in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	checks := []gateway.Check{
		{Resource: ARN(c.Region, c.Account, "workspace", in.WorkspaceId), ResourceTags: orEmpty(wt)},
		withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "workspaceimage", "*")}, in.Tags),
	}
	return append(checks, createTagsCheck(in.Tags)...), nil
}

// deleteWorkspaceImageResources resolves the resources DeleteWorkspaceImage is authorized on.
func (m *Module) deleteWorkspaceImageResources(ctx context.Context, c *gateway.Call, in *deleteImageIn) ([]gateway.Check, error) {
	return m.imageChecks(ctx, c, in.ImageId)
}

// updateWorkspaceImagePermissionResources resolves the resources UpdateWorkspaceImagePermission is authorized on.
func (m *Module) updateWorkspaceImagePermissionResources(ctx context.Context, c *gateway.Call, in *updateImagePermIn) ([]gateway.Check, error) {
	return m.imageChecks(ctx, c, in.ImageId)
}

// describeWorkspaceImagePermissionsResources resolves the resources DescribeWorkspaceImagePermissions is authorized on.
func (m *Module) describeWorkspaceImagePermissionsResources(ctx context.Context, c *gateway.Call, in *describeImagePermsIn) ([]gateway.Check, error) {
	return m.imageChecks(ctx, c, in.ImageId)
}

// registerImageJobs installs the image job handlers on the engine.
func (m *Module) registerImageJobs() {
	m.engine.Register(jobImageImport, m.runImageJob)
	m.engine.Register(jobImageCopy, m.runImageJob)
	m.engine.Register(jobImageCreate, m.runImageJob)
}

// createTagsCheck is the extra workspaces:CreateTags check that the model
// documents for tags given at creation (CreateWorkspaceImage,
// CreateWorkspaceBundle) [MODEL].
func createTagsCheck(tags []Tag) []gateway.Check {
	if len(tags) == 0 {
		return nil
	}
	return []gateway.Check{withRequestTags(gateway.Check{Action: "workspaces:CreateTags", Resource: "*"}, tags)}
}

// imageChecks authorizes an action on one of the caller's images, with its tags.
func (m *Module) imageChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	var tags Tags
	err := m.store.View(ctx, func(tx store.Tx) error {
		img, err := getRec[imageRec](ctx, tx, tImages, key(c.Account, c.Region, id))
		if img != nil {
			tags = img.Tags
		}
		return err
	})
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspaceimage", id), ResourceTags: orEmpty(tags)}}, err
}

// copyImageChecks authorizes CopyWorkspaceImage on the source image. An image
// shared from another account is named with "*" as the account, as the
// WorkSpaces IAM guide requires [authorization.md §1].
func (m *Module) copyImageChecks(ctx context.Context, c *gateway.Call, in *copyImageIn) ([]gateway.Check, error) {
	acct := c.Account
	var tags Tags
	err := m.store.View(ctx, func(tx store.Tx) error {
		own, err := getRec[imageRec](ctx, tx, tImages, key(c.Account, in.SourceRegion, in.SourceImageId))
		if err != nil || own != nil {
			if own != nil {
				tags = own.Tags
			}
			return err
		}
		sh, err := getRec[imageShareRec](ctx, tx, tImageShare, key(c.Account, in.SourceRegion, in.SourceImageId))
		if sh != nil {
			acct = "*"
		}
		return err
	})
	chk := gateway.Check{Resource: ARN(in.SourceRegion, acct, "workspaceimage", in.SourceImageId), ResourceTags: orEmpty(tags)}
	return []gateway.Check{withRequestTags(chk, in.Tags)}, err
}

// lookupImage returns an image usable by account in region: its own image,
// an image shared with it (OwnerAccountID is then the owner's), or an
// Amazon public image behind a public bundle (OwnerAccountID "AMAZON"); nil,
// nil if none.
func (m *Module) lookupImage(ctx context.Context, tx store.Tx, account, region, id string) (*imageRec, error) {
	img, err := getRec[imageRec](ctx, tx, tImages, key(account, region, id))
	if err != nil || img != nil {
		return img, err
	}
	return m.notOwnedImage(ctx, tx, account, region, id)
}

// notOwnedImage is lookupImage of an image account does not own: one
// another account shares with it, or a public one.
func (m *Module) notOwnedImage(ctx context.Context, tx store.Tx, account, region, id string) (*imageRec, error) {
	img, _, err := m.sharedImage(ctx, tx, account, region, id)
	if err != nil || img != nil {
		return img, err
	}
	return publicImage(id)
}

// sharedImage returns an image another account shares with account in region.
func (m *Module) sharedImage(ctx context.Context, tx store.Tx, account, region, id string) (*imageRec, *imagePermRec, error) {
	sh, err := getRec[imageShareRec](ctx, tx, tImageShare, key(account, region, id))
	if err != nil || sh == nil {
		return nil, nil, err
	}
	perm, err := getRec[imagePermRec](ctx, tx, tImagePerm, key(sh.Owner, region, id)+"/"+account)
	if err != nil || perm == nil {
		return nil, nil, err
	}
	img, err := getRec[imageRec](ctx, tx, tImages, key(sh.Owner, region, id))
	if err != nil || img == nil {
		return nil, nil, err
	}
	return img, perm, nil
}

// imageInUse reports whether one of the account's bundles in region uses the image.
func (m *Module) imageInUse(ctx context.Context, tx store.Tx, account, region, imageID string) (bool, error) {
	used := false
	err := store.ScanJSON[bundleRec](ctx, tx, tBundles, prefix(account, region), "", 0, func(_ string, b *bundleRec) error {
		if b.ImageID == imageID {
			used = true
			return store.ErrStop
		}
		return nil
	})
	return used, err
}

// imageShared reports whether the image is shared with any account.
func imageShared(ctx context.Context, tx store.Tx, account, region, imageID string) (bool, error) {
	n, err := tx.Count(ctx, tImagePerm, key(account, region, imageID)+"/")
	return n > 0, err
}

// reserveImageName claims a unique image name in account/region; names are
// unique per account and Region (ResourceAlreadyExistsException [MODEL]).
func reserveImageName(ctx context.Context, tx store.Tx, account, region, name, id string) error {
	err := tx.Create(ctx, tIdem, nameKey(account, region, "image", name), []byte(`"`+id+`"`))
	if errors.Is(err, store.ErrExists) {
		return errExists("An image named %q already exists in this account and Region.", name)
	}
	return err
}

func nameKey(account, region, kind, name string) string {
	return prefix(account, region) + kind + "/" + name
}

// checkImageQuota enforces the images-per-Region quota (default 40 on AWS,
// adjustable; configured by Quotas.Images) [AG:workspaces-limits]. Images
// shared with the account do not count until copied [AG:share-custom-image].
func (m *Module) checkImageQuota(ctx context.Context, tx store.Tx, account, region string) error {
	n, err := tx.Count(ctx, tImages, prefix(account, region))
	if err != nil {
		return err
	}
	if n >= m.cfg.Quotas.Images {
		return errLimit("The number of images in this Region has reached the limit of %d.", m.cfg.Quotas.Images)
	}
	return nil
}

// byolEnabled reports whether BYOL is enabled for account in region
// (DescribeAccount DedicatedTenancySupport ENABLED).
func (m *Module) byolEnabled(ctx context.Context, tx store.Tx, account, region string) (bool, error) {
	a, err := m.account(ctx, tx, account, region)
	if err != nil {
		return false, err
	}
	return a.DedicatedTenancySupport == "ENABLED", nil
}

// errNotBYOL is the answer to a BYOL-only request in an account or Region
// without BYOL. The model documents AccessDeniedException as the answer of
// the other BYOL-gated operation (ListAvailableManagementCidrRanges: "If
// your account isn't enabled for BYOL, you'll receive an
// AccessDeniedException"), and ImportWorkspaceImage and CopyWorkspaceImage
// both model AccessDeniedException [MODEL]; the BYOL setting is known at call
// time, so the request is refused instead of producing an image that fails
// with WorkspacesBYOLAccountDisabled.
func errNotBYOL(account, region, what string) error {
	return awsproto.Errorf("AccessDeniedException", "%s requires an account enabled for BYOL: account %s does not have BYOL (DedicatedTenancySupport) enabled in %s. Enable it with ModifyAccount first.", what, account, region)
}

// protocolOf maps an ingestion process to the image's protocol: a value
// ending in _WSP is DCV (WSP), one ending in _BYOP brings its own protocol,
// any other is PCoIP [MODEL IngestionProcess].
func protocolOf(process string) string {
	switch {
	case strings.HasSuffix(process, "_WSP"):
		return "WSP"
	case strings.HasSuffix(process, "_BYOP"):
		return "BYOP"
	}
	return "PCOIP"
}

var (
	win10Re  = regexp.MustCompile(`(?i)\bwindows\s*10\b`)
	win11Re  = regexp.MustCompile(`(?i)\bwindows\s*11\b`)
	nEdition = regexp.MustCompile(`\bN\b`)
)

// clientOS names the Windows client OS of an AMI: WINDOWS_10, WINDOWS_11 or
// "" (anything else, such as Windows Server or Linux).
func clientOS(si *SourceImage) string {
	switch {
	case win11Re.MatchString(si.OSVersion):
		return "WINDOWS_11"
	case win10Re.MatchString(si.OSVersion):
		return "WINDOWS_10"
	}
	return ""
}

// importChecks returns the reasons an AMI fails WorkSpaces BYOL ingestion,
// as ErrorDetails with the model's WorkspaceImageErrorDetailCode values.
// Only rules we can cite are applied:
//
//   - OSNotSupported: the image must be Windows 10 or 11 [MODEL
//     ImportWorkspaceImage], so Windows Server and Linux AMIs fail; Windows
//     10 "N" editions are not supported [AG:byol-windows-images]. An AMI
//     whose OS version is unknown but whose platform is "Windows BYOL" is
//     given the benefit of the doubt (EC2 does not record the edition).
//   - Requires64BitOS: the VM must run a 64-bit OS [AG:byol-windows-images];
//     WorkSpaces runs x86_64 only, so every other architecture fails.
//   - DiskSizeExceeded: the 2022 BYOL page allows a single volume of at most
//     70 GB with at least 10 GB free. EC2 reports only the provisioned size
//     of the AMI's root volume, not the space used, and the smallest root
//     volume of any bundle it can be used with is 80 GB [AG:create-custom-bundle].
//     deskplane therefore reads the limit as "the image must fit the 80 GB
//     root volume": an AMI whose root volume is larger than 80 GB fails.
//     The strict reading (> 70 GB) would fail the default environment's
//     80 GB Windows 10/11 AMIs, which are the documented happy path.
//   - ProtocolOSIncompatibility: "Windows 11 does not support PCOIP
//     protocol" [MODEL ImportCustomWorkspaceImage Protocol], so a Windows 11
//     AMI imported with a PCoIP process (no _WSP/_BYOP suffix) fails.
//
// UEFINotSupported and the in-guest checks (PowerShell version, Windows
// Update, DHCP, free space...) are not applied: EC2 metadata cannot tell, and
// no page read states a UEFI rule for a given process.
func importChecks(si *SourceImage, process string) []ErrorDetails {
	var out []ErrorDetails
	os := clientOS(si)
	switch {
	case os == "" && si.OSVersion == "" && strings.Contains(si.PlatformDetails, "Windows BYOL"):
		// unknown edition of a BYOL Windows AMI: accepted
	case os == "":
		desc := si.OSVersion
		if desc == "" {
			desc = si.PlatformDetails
		}
		out = append(out, ErrorDetails{ErrorCode: "OSNotSupported", ErrorMessage: fmt.Sprintf("The operating system %q is not supported. Only Windows 10 and Windows 11 images can be imported.", desc)})
	case os == "WINDOWS_10" && nEdition.MatchString(si.OSVersion):
		out = append(out, ErrorDetails{ErrorCode: "OSNotSupported", ErrorMessage: fmt.Sprintf("Windows 10 N editions are not supported (%s).", si.OSVersion)})
	}
	if si.Architecture != "" && si.Architecture != "x86_64" {
		out = append(out, ErrorDetails{ErrorCode: "Requires64BitOS", ErrorMessage: fmt.Sprintf("The image architecture is %s; a 64-bit (x86_64) operating system is required.", si.Architecture)})
	}
	if si.RootVolumeSize > maxImageRootSize {
		out = append(out, ErrorDetails{ErrorCode: "DiskSizeExceeded", ErrorMessage: fmt.Sprintf("The image's volume is %d GB; it must fit the %d GB root volume of a WorkSpace.", si.RootVolumeSize, maxImageRootSize)})
	}
	if os == "WINDOWS_11" && protocolOf(process) == "PCOIP" {
		out = append(out, ErrorDetails{ErrorCode: "ProtocolOSIncompatibility", ErrorMessage: "Windows 11 does not support the PCoIP protocol; use an ingestion process ending in _WSP or _BYOP."})
	}
	return out
}

// checkApplications applies the model's rules on Applications: one item only;
// Windows 10/11 only; Windows 11 non-GPU DCV only Office 2019; Windows 11 GPU
// DCV no Office [MODEL ImportWorkspaceImage Applications].
func checkApplications(apps []string, os, process string) error {
	if len(apps) == 0 {
		return nil
	}
	if len(apps) > 1 {
		return errInvalid("Only one application can be specified in Applications.")
	}
	if os == "WINDOWS_11" && protocolOf(process) == "WSP" {
		if strings.Contains(process, "GRAPHICS") {
			return errInvalid("GPU DCV (WSP) WorkSpaces with Windows 11 do not support Office installation.")
		}
		if apps[0] != "Microsoft_Office_2019" {
			return errInvalid("Non-GPU DCV (WSP) WorkSpaces with Windows 11 support only Microsoft_Office_2019.")
		}
	}
	return nil
}

func (m *Module) importImage(ctx context.Context, c *gateway.Call, in *importImageIn) (*importImageOut, error) {
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	if len(in.Applications) > 1 {
		return nil, errInvalid("Only one application can be specified in Applications.")
	}
	id := newID("wsi-")
	err = m.store.Update(ctx, func(tx store.Tx) error {
		// Every ingestion process is a BYOL process [MODEL].
		if ok, err := m.byolEnabled(ctx, tx, c.Account, c.Region); err != nil {
			return err
		} else if !ok {
			return errNotBYOL(c.Account, c.Region, "ImportWorkspaceImage")
		}
		si, err := m.ec2.Image(ctx, tx, c.Account, c.Region, in.Ec2ImageId)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("The EC2 image %s could not be found in this account and Region.", in.Ec2ImageId)
		}
		if err != nil {
			return err
		}
		// "The image must be an already licensed Amazon EC2 image that is in
		// your Amazon Web Services account, and you must own the image." [MODEL]
		if si.OwnerID != "" && si.OwnerID != c.Account {
			return errNotFound("The EC2 image %s is not owned by account %s; only images you own can be imported.", in.Ec2ImageId, c.Account)
		}
		if si.State != "available" {
			return errInvalid("The EC2 image %s is %s; it must be available to be imported.", in.Ec2ImageId, si.State)
		}
		if si.ImageType != "" && si.ImageType != "machine" {
			return errInvalid("The EC2 image %s is of type %s; only machine images can be imported.", in.Ec2ImageId, si.ImageType)
		}
		// Encrypted AMIs are not supported [PG] [AG:byol-windows-images].
		if si.Encrypted {
			return errUnsupported("The EC2 image %s is encrypted; encrypted images cannot be imported.", in.Ec2ImageId)
		}
		os := clientOS(si)
		if err := checkApplications(in.Applications, os, in.IngestionProcess); err != nil {
			return err
		}
		if err := m.checkImageQuota(ctx, tx, c.Account, c.Region); err != nil {
			return err
		}
		if err := reserveImageName(ctx, tx, c.Account, c.Region, in.ImageName, id); err != nil {
			return err
		}
		if os == "" {
			os = "WINDOWS_10" // unknown BYOL Windows edition (or a failing image)
		}
		rec := &imageRec{
			ImageID: id, Name: in.ImageName, Description: in.ImageDescription, OwnerAccountID: c.Account,
			State: "PENDING", RequiredTenancy: "DEDICATED", OperatingSystem: "WINDOWS", OSName: os,
			IngestionProcess: in.IngestionProcess, Protocol: protocolOf(in.IngestionProcess),
			SourceEC2Image: in.Ec2ImageId, RootVolumeSize: si.RootVolumeSize, Created: c.Now, Tags: tags,
		}
		k := key(c.Account, c.Region, id)
		if err := putRec(ctx, tx, tImages, k, rec); err != nil {
			return err
		}
		job := imageJob{Image: k, Fail: importChecks(si, in.IngestionProcess)}
		if err := m.imageFault(ctx, "ImportWorkspaceImage", c.Now, in.Ec2ImageId, &job); err != nil {
			return err
		}
		return m.engine.Schedule(ctx, tx, "image/"+k, jobImageImport, c.Now.Add(m.timing(lifecycle.ImageImport)), job)
	})
	if err != nil {
		return nil, err
	}
	return &importImageOut{ImageId: id}, nil
}

// runImageJob finishes an image import, creation or copy: the image becomes
// AVAILABLE (or ERROR with the import's validation failures) and, for an
// image made from a desktop, the desktop returns from SUSPENDED to AVAILABLE.
func (m *Module) runImageJob(ctx context.Context, tx store.Tx, job store.Job, now time.Time) error {
	var p imageJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return fmt.Errorf("workspaces: image job %s: %w", job.ID, err)
	}
	img, err := getRec[imageRec](ctx, tx, tImages, p.Image)
	if err != nil {
		return err
	}
	if img != nil && img.State == "PENDING" {
		if p.FailCode != "" {
			img.State, img.ErrorCode, img.ErrorMessage = "ERROR", p.FailCode, p.FailMessage
			if job.Kind == jobImageImport {
				img.ErrorDetails = []ErrorDetails{{ErrorCode: "UnknownError", ErrorMessage: p.FailMessage}}
			}
		} else if len(p.Fail) > 0 {
			img.State = "ERROR"
			img.ErrorDetails = p.Fail
			img.ErrorCode = p.Fail[0].ErrorCode
			codes := make([]string, len(p.Fail))
			for i, d := range p.Fail {
				codes[i] = d.ErrorCode
			}
			img.ErrorMessage = "The image failed WorkSpaces image validation: " + strings.Join(codes, ", ") + "."
		} else {
			img.State = "AVAILABLE"
		}
		if err := putRec(ctx, tx, tImages, p.Image, img); err != nil {
			return err
		}
	}
	if p.Desktop == "" {
		return nil
	}
	w, err := getRec[desktopRec](ctx, tx, tDesktops, p.Desktop)
	if err != nil || w == nil || w.State != "SUSPENDED" {
		return err
	}
	parts := splitKey(p.Desktop)
	if err := m.setState(ctx, tx, parts[0], parts[1], w, "AVAILABLE", now); err != nil {
		return err
	}
	w.PrevState = ""
	return putRec(ctx, tx, tDesktops, p.Desktop, w)
}

func (m *Module) createImage(ctx context.Context, c *gateway.Call, in *createImageIn) (*createImageOut, error) {
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	id := newID("wsi-")
	var rec *imageRec
	err = m.store.Update(ctx, func(tx store.Tx) error {
		wk := key(c.Account, c.Region, in.WorkspaceId)
		w, err := getRec[desktopRec](ctx, tx, tDesktops, wk)
		if err != nil {
			return err
		}
		if w == nil || w.State == "TERMINATED" {
			return errNotFound("The WorkSpace %s could not be found.", in.WorkspaceId)
		}
		// Images cannot be created from encrypted WorkSpaces [AG:encrypt-workspaces].
		if w.RootEncrypted || w.UserEncrypted {
			return errUnsupported("Images cannot be created from WorkSpaces with encrypted volumes (%s).", in.WorkspaceId)
		}
		// The WorkSpace must be AVAILABLE with modification state None; a
		// STOPPED WorkSpace must be started first [AG:create-custom-bundle].
		if w.State != "AVAILABLE" {
			return errState("The WorkSpace %s is %s; it must be AVAILABLE to create an image.", in.WorkspaceId, w.State)
		}
		for _, mod := range w.Modifications {
			if mod.State == "UPDATE_INITIATED" || mod.State == "UPDATE_IN_PROGRESS" {
				return errState("The WorkSpace %s has a modification of %s in progress; wait until it completes.", in.WorkspaceId, mod.Resource)
			}
		}
		if err := m.checkImageQuota(ctx, tx, c.Account, c.Region); err != nil {
			return err
		}
		job := imageJob{}
		if err := m.imageFault(ctx, "CreateWorkspaceImage", c.Now, in.WorkspaceId, &job); err != nil {
			return err
		}
		if err := reserveImageName(ctx, tx, c.Account, c.Region, in.Name, id); err != nil {
			return err
		}
		rec = &imageRec{
			ImageID: id, Name: in.Name, Description: in.Description, OwnerAccountID: c.Account, State: "PENDING",
			RequiredTenancy: "DEFAULT", OperatingSystem: "WINDOWS", Protocol: "PCOIP",
			SourceWorkspace: in.WorkspaceId, RootVolumeSize: w.Root.SizeGib, Created: c.Now, Tags: tags,
		}
		// The image inherits what the desktop was built from.
		src, err := m.desktopImage(ctx, tx, c.Account, c.Region, w)
		if err != nil {
			return err
		}
		if src != nil {
			rec.RequiredTenancy, rec.OperatingSystem, rec.OSName = src.RequiredTenancy, src.OperatingSystem, src.OSName
			rec.Protocol, rec.IngestionProcess = src.Protocol, src.IngestionProcess
			if rec.RootVolumeSize == 0 {
				rec.RootVolumeSize = src.RootVolumeSize
			}
		}
		if n := ptr.Deref(w.Properties.OperatingSystemName); n != "" && rec.OSName == "" {
			rec.OSName = n
		}
		if len(w.Properties.Protocols) > 0 && rec.Protocol != "BYOP" {
			rec.Protocol = w.Properties.Protocols[0] // a PCoIP desktop may have been switched to WSP
		}
		ik := key(c.Account, c.Region, id)
		if err := putRec(ctx, tx, tImages, ik, rec); err != nil {
			return err
		}
		if m.rt != nil {
			// The image carries the desktop's root volume as it is now.
			if err := m.rt.Capture(wk, c.Account, c.Region, id); err != nil {
				return err
			}
		}
		// The WorkSpace is SUSPENDED while the image is captured [MODEL
		// WorkspaceState]; setState keeps the metering and PrevState right.
		if err := m.setState(ctx, tx, c.Account, c.Region, w, "SUSPENDED", c.Now); err != nil {
			return err
		}
		if err := putRec(ctx, tx, tDesktops, wk, w); err != nil {
			return err
		}
		job.Image, job.Desktop = ik, wk
		return m.engine.Schedule(ctx, tx, "image/"+ik, jobImageCreate, c.Now.Add(m.timing(lifecycle.ImageCreate)), job)
	})
	if err != nil {
		return nil, err
	}
	return &createImageOut{ImageId: rec.ImageID, Name: rec.Name, Description: rec.Description,
		OperatingSystem: &OperatingSystem{Type: rec.OperatingSystem}, State: rec.State, RequiredTenancy: rec.RequiredTenancy,
		Created: awsproto.NewTime(rec.Created), OwnerAccountId: rec.OwnerAccountID}, nil
}

// desktopImage returns the image a desktop was built from: its bundle's
// current image, else the image recorded on its root volume.
func (m *Module) desktopImage(ctx context.Context, tx store.Tx, account, region string, w *desktopRec) (*imageRec, error) {
	if b, err := m.lookupBundle(ctx, tx, account, region, w.BundleID); err != nil {
		return nil, err
	} else if b != nil {
		if img, err := m.lookupImage(ctx, tx, account, region, b.ImageID); err != nil || img != nil {
			return img, err
		}
	}
	if w.Root.ImageID == "" {
		return nil, nil
	}
	return m.lookupImage(ctx, tx, account, region, w.Root.ImageID)
}

func (m *Module) copyImage(ctx context.Context, c *gateway.Call, in *copyImageIn) (*copyImageOut, error) {
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	id := newID("wsi-")
	err = m.store.Update(ctx, func(tx store.Tx) error {
		src, err := getRec[imageRec](ctx, tx, tImages, key(c.Account, in.SourceRegion, in.SourceImageId))
		if err != nil {
			return err
		}
		if src == nil {
			// Images shared with the caller may be copied [AG:copy-custom-image].
			shared, perm, err := m.sharedImage(ctx, tx, c.Account, in.SourceRegion, in.SourceImageId)
			if err != nil {
				return err
			}
			if shared != nil && !perm.AllowCopyImage {
				return awsproto.Errorf("AccessDeniedException", "The image %s is shared with account %s without copy permission.", in.SourceImageId, c.Account)
			}
			src = shared
		}
		if src == nil {
			return errNotFound("The image %s could not be found in %s.", in.SourceImageId, in.SourceRegion)
		}
		if src.State != "AVAILABLE" {
			return awsproto.Errorf("ResourceUnavailableException", "The image %s is %s; only AVAILABLE images can be copied.", in.SourceImageId, src.State)
		}
		// BYOL images can be copied only to a BYOL-enabled Region [AG:copy-custom-image].
		if src.RequiredTenancy == "DEDICATED" {
			if ok, err := m.byolEnabled(ctx, tx, c.Account, c.Region); err != nil {
				return err
			} else if !ok {
				return errNotBYOL(c.Account, c.Region, "Copying a BYOL image")
			}
		}
		if err := m.checkImageQuota(ctx, tx, c.Account, c.Region); err != nil {
			return err
		}
		job := imageJob{}
		if err := m.imageFault(ctx, "CopyWorkspaceImage", c.Now, in.SourceImageId, &job); err != nil {
			return err
		}
		if err := reserveImageName(ctx, tx, c.Account, c.Region, in.Name, id); err != nil {
			return err
		}
		rec, err := clone(src)
		if err != nil {
			return err
		}
		rec.ImageID, rec.Name, rec.OwnerAccountID, rec.State = id, in.Name, c.Account, "PENDING"
		if in.Description != nil {
			rec.Description = *in.Description
		}
		rec.SourceImage, rec.SourceRegion, rec.Created, rec.Tags = in.SourceImageId, in.SourceRegion, c.Now, tags
		rec.ErrorCode, rec.ErrorMessage, rec.ErrorDetails = "", "", nil
		k := key(c.Account, c.Region, id)
		if err := putRec(ctx, tx, tImages, k, rec); err != nil {
			return err
		}
		job.Image = k
		return m.engine.Schedule(ctx, tx, "image/"+k, jobImageCopy, c.Now.Add(m.timing(lifecycle.ImageCopy)), job)
	})
	if err != nil {
		return nil, err
	}
	return &copyImageOut{ImageId: id}, nil
}

// deleteImage deletes one of the caller's images. The model lists no
// ResourceNotFoundException for DeleteWorkspaceImage, so deleting an image
// that does not exist succeeds without effect.
func (m *Module) deleteImage(ctx context.Context, c *gateway.Call, in *deleteImageIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		k := key(c.Account, c.Region, in.ImageId)
		img, err := getRec[imageRec](ctx, tx, tImages, k)
		if err != nil {
			return err
		}
		if img == nil {
			if sh, err := getRec[imageShareRec](ctx, tx, tImageShare, k); err != nil {
				return err
			} else if sh != nil {
				return awsproto.Errorf("AccessDeniedException", "The image %s is owned by account %s; only its owner can delete it.", in.ImageId, sh.Owner)
			}
			return nil
		}
		if img.State == "PENDING" {
			return errState("The image %s is PENDING; it can be deleted once it is AVAILABLE or in ERROR.", in.ImageId)
		}
		// Delete or re-point the bundles using the image and unshare it first [MODEL].
		if used, err := m.imageInUse(ctx, tx, c.Account, c.Region, in.ImageId); err != nil {
			return err
		} else if used {
			return errAssociated("The image %s is used by a bundle; delete the bundle or update it to another image first.", in.ImageId)
		}
		if shared, err := imageShared(ctx, tx, c.Account, c.Region, in.ImageId); err != nil {
			return err
		} else if shared {
			return errAssociated("The image %s is shared with other accounts; unshare it first.", in.ImageId)
		}
		if err := tx.Delete(ctx, tImages, k); err != nil {
			return err
		}
		if err := tx.Delete(ctx, tIdem, nameKey(c.Account, c.Region, "image", img.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.CancelJob(ctx, "image/"+k)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// updateImagePermission shares (AllowCopyImage true) or unshares (false) an
// image with one account in the same Region [MODEL].
func (m *Module) updateImagePermission(ctx context.Context, c *gateway.Call, in *updateImagePermIn) (*struct{}, error) {
	if in.SharedAccountId == c.Account {
		return nil, errInvalid("An image cannot be shared with the account that owns it.")
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		k := key(c.Account, c.Region, in.ImageId)
		img, err := getRec[imageRec](ctx, tx, tImages, k)
		if err != nil {
			return err
		}
		if img == nil {
			// A recipient cannot re-share an image shared with it [AG:share-custom-image].
			if sh, err := getRec[imageShareRec](ctx, tx, tImageShare, k); err != nil {
				return err
			} else if sh != nil {
				return errUnsupported("The image %s is shared with you by account %s; images shared with you cannot be shared again. Copy it first.", in.ImageId, sh.Owner)
			}
			return errNotFound("The image %s could not be found.", in.ImageId)
		}
		pk := k + "/" + in.SharedAccountId
		rk := key(in.SharedAccountId, c.Region, in.ImageId)
		if !*in.AllowCopyImage {
			existing, err := getRec[imagePermRec](ctx, tx, tImagePerm, pk)
			if err != nil {
				return err
			}
			// "This permission can be revoked only after an image has been shared." [MODEL]
			if existing == nil {
				return errInvalid("The image %s is not shared with account %s.", in.ImageId, in.SharedAccountId)
			}
			if err := tx.Delete(ctx, tImagePerm, pk); err != nil {
				return err
			}
			if err := tx.Delete(ctx, tImageShare, rk); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		}
		if img.State != "AVAILABLE" {
			return awsproto.Errorf("ResourceUnavailableException", "The image %s is %s; only AVAILABLE images can be shared.", in.ImageId, img.State)
		}
		// BYOL images can be shared only with BYOL-enabled accounts [AG:share-custom-image].
		if img.RequiredTenancy == "DEDICATED" {
			if ok, err := m.byolEnabled(ctx, tx, in.SharedAccountId, c.Region); err != nil {
				return err
			} else if !ok {
				return errUnsupported("The image %s is a BYOL image; it can be shared only with accounts that have BYOL enabled in %s, and account %s does not.", in.ImageId, c.Region, in.SharedAccountId)
			}
		}
		if err := putRec(ctx, tx, tImagePerm, pk, imagePermRec{SharedAccountID: in.SharedAccountId, AllowCopyImage: true, Since: c.Now}); err != nil {
			return err
		}
		return putRec(ctx, tx, tImageShare, rk, imageShareRec{Owner: c.Account})
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) describeImagePermissions(ctx context.Context, c *gateway.Call, in *describeImagePermsIn) (*describeImagePermsOut, error) {
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	p := key(c.Account, c.Region, in.ImageId) + "/"
	after, err := parseToken(in.NextToken, p)
	if err != nil {
		return nil, err
	}
	out := &describeImagePermsOut{ImageId: in.ImageId, ImagePermissions: []ImagePermission{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		img, err := getRec[imageRec](ctx, tx, tImages, key(c.Account, c.Region, in.ImageId))
		if err != nil {
			return err
		}
		if img == nil {
			return errNotFound("The image %s could not be found.", in.ImageId)
		}
		last := ""
		return store.ScanJSON[imagePermRec](ctx, tx, tImagePerm, p, after, limit+1, func(k string, r *imagePermRec) error {
			if len(out.ImagePermissions) == limit {
				out.NextToken = pageToken(last)
				return store.ErrStop
			}
			last = k
			out.ImagePermissions = append(out.ImagePermissions, ImagePermission{SharedAccountId: r.SharedAccountID})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// describeImages lists the caller's own images (ImageType OWNED), the images
// shared with it (SHARED, with the owner's OwnerAccountId and original
// Created date [AG:share-custom-image]), or both when ImageType is omitted,
// in image id order.
func (m *Module) describeImages(ctx context.Context, c *gateway.Call, in *describeImagesIn) (*describeImagesOut, error) {
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	within := prefix(c.Account, c.Region)
	after, err := parseToken(in.NextToken, within)
	if err != nil {
		return nil, err
	}
	afterID := strings.TrimPrefix(after, within)
	kind := ptr.Deref(in.ImageType)
	ids := map[string]bool{}
	for _, id := range in.ImageIds {
		ids[id] = true
	}
	var all []*imageRec
	err = m.store.View(ctx, func(tx store.Tx) error {
		if kind == "" || kind == "OWNED" {
			err := store.ScanJSON[imageRec](ctx, tx, tImages, within, "", 0, func(_ string, r *imageRec) error {
				all = append(all, r)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if kind == "" || kind == "SHARED" {
			var shared []string
			err := store.ScanJSON[imageShareRec](ctx, tx, tImageShare, within, "", 0, func(k string, _ *imageShareRec) error {
				shared = append(shared, strings.TrimPrefix(k, within))
				return nil
			})
			if err != nil {
				return err
			}
			for _, id := range shared {
				img, _, err := m.sharedImage(ctx, tx, c.Account, c.Region, id)
				if err != nil {
					return err
				}
				if img != nil {
					all = append(all, img)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ImageID < all[j].ImageID })
	out := &describeImagesOut{Images: []WorkspaceImage{}}
	for _, img := range all {
		if img.ImageID <= afterID || len(ids) > 0 && !ids[img.ImageID] {
			continue
		}
		if len(out.Images) == limit {
			out.NextToken = pageToken(within + out.Images[limit-1].ImageId)
			break
		}
		out.Images = append(out.Images, renderImage(img))
	}
	return out, nil
}

// renderImage renders an image record as the model's WorkspaceImage.
func renderImage(img *imageRec) WorkspaceImage {
	out := WorkspaceImage{
		ImageId: img.ImageID, Name: img.Name, Description: img.Description, State: img.State,
		RequiredTenancy: img.RequiredTenancy, ErrorCode: img.ErrorCode, ErrorMessage: img.ErrorMessage,
		Created: awsproto.NewTime(img.Created), OwnerAccountId: img.OwnerAccountID, ErrorDetails: img.ErrorDetails,
	}
	if img.OperatingSystem != "" {
		out.OperatingSystem = &OperatingSystem{Type: img.OperatingSystem}
	}
	if img.OwnerAccountID != "AMAZON" {
		out.Updates = noUpdates() // customimages.go
	}
	return out
}
