package workspaces

// ImportCustomWorkspaceImage, DescribeCustomWorkspaceImageImport and
// CreateUpdatedWorkspaceImage [MODEL].
//
// ImportCustomWorkspaceImage imports a BYOL Windows 10 or 11 image through
// EC2 Image Builder on AWS. deskplane serves no Image Builder and no VM
// Import, so of the three image sources only Ec2ImageId can name something
// that exists: an AMI the caller owns, imported with the same rules as
// ImportWorkspaceImage (BYOL enabled, owned, available, unencrypted, the
// image validation checks). An ImageBuildVersionArn or Ec2ImportTaskId
// source is answered ResourceNotFoundException, as it is for an account
// that has no such build or task. The InfrastructureConfigurationArn must
// name the caller's account and Region; it is kept and reported by
// DescribeCustomWorkspaceImageImport, but no Image Builder instance is run.
// The import's state follows the image: IN_PROGRESS while the image is
// PENDING, then COMPLETED (image AVAILABLE) or ERROR (image ERROR, with the
// validation failures as ErrorDetails).
//
// CreateUpdatedWorkspaceImage creates an image with the latest WorkSpaces
// components from an image that has updates available [MODEL]. deskplane
// ships no WorkSpaces component updates, so no image ever has updates
// available (DescribeWorkspaceImages reports none), and the strict reading
// is taken: the request is refused with OperationNotSupportedException once
// the source image is found to be the caller's own AVAILABLE image.
//
// Records: tCustomImports ACCOUNT/REGION/IMAGEID -> customImportRec (the
// image itself is an ordinary tImages record).

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

const tCustomImports = "ws_custom_imports" // ACCOUNT/REGION/IMAGEID

// ImageSourceIdentifier is the model's ImageSourceIdentifier.
type ImageSourceIdentifier struct {
	Ec2ImportTaskId      *string `json:"Ec2ImportTaskId,omitempty" v:"min=19,max=28,pattern=^import-ami\\-([a-zA-Z0-9]{8}|[a-zA-Z0-9]{17})$"`
	ImageBuildVersionArn *string `json:"ImageBuildVersionArn,omitempty" v:"min=1,max=2048,pattern=^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws(?:-[a-z-]+)?):image/[a-z0-9-_]+/(?:(?:([0-9]+|x)\\.([0-9]+|x)\\.([0-9]+|x))|(?:[0-9]+\\.[0-9]+\\.[0-9]+/[0-9]+))$"`
	Ec2ImageId           *string `json:"Ec2ImageId,omitempty" v:"pattern=^ami\\-([a-f0-9]{8}|[a-f0-9]{17})$"`
}

// importCustomIn is ImportCustomWorkspaceImageRequest.
type importCustomIn struct {
	ImageName                      string                 `json:"ImageName" v:"required,min=1,max=64,pattern=^[a-zA-Z0-9_./()\\\\-]+$"`
	ImageDescription               string                 `json:"ImageDescription" v:"required,min=1,max=256,pattern=^[a-zA-Z0-9_./() -]+$"`
	ComputeType                    string                 `json:"ComputeType" v:"required,enum=BASE|GRAPHICS_G4DN|GRAPHICS_G6"`
	Protocol                       string                 `json:"Protocol" v:"required,enum=PCOIP|DCV|BYOP"`
	ImageSource                    *ImageSourceIdentifier `json:"ImageSource" v:"required"`
	InfrastructureConfigurationArn string                 `json:"InfrastructureConfigurationArn" v:"required,min=1,max=2048,pattern=^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws):infrastructure-configuration/[a-z0-9-_]+$"`
	Platform                       string                 `json:"Platform" v:"required,enum=WINDOWS"`
	OsVersion                      string                 `json:"OsVersion" v:"required,enum=Windows_10|Windows_11"`
	Tags                           []Tag                  `json:"Tags,omitempty"`
}

// importCustomOut is ImportCustomWorkspaceImageResult.
type importCustomOut struct {
	ImageId string `json:"ImageId"`
	State   string `json:"State"`
}

// describeCustomImportIn is DescribeCustomWorkspaceImageImportRequest.
type describeCustomImportIn struct {
	ImageId string `json:"ImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
}

// describeCustomImportOut is DescribeCustomWorkspaceImageImportResult.
type describeCustomImportOut struct {
	ImageId                        string                 `json:"ImageId"`
	InfrastructureConfigurationArn string                 `json:"InfrastructureConfigurationArn,omitempty"`
	State                          string                 `json:"State"`
	StateMessage                   string                 `json:"StateMessage,omitempty"`
	ProgressPercentage             int                    `json:"ProgressPercentage"`
	Created                        *awsproto.Time         `json:"Created,omitempty"`
	LastUpdatedTime                *awsproto.Time         `json:"LastUpdatedTime,omitempty"`
	ImageSource                    *ImageSourceIdentifier `json:"ImageSource,omitempty"`
	ErrorDetails                   []ErrorDetails         `json:"ErrorDetails,omitempty"`
}

// createUpdatedImageIn is CreateUpdatedWorkspaceImageRequest.
type createUpdatedImageIn struct {
	Name          string `json:"Name" v:"required,min=1,max=64,pattern=^[a-zA-Z0-9_./()\\\\-]+$"`
	Description   string `json:"Description" v:"required,min=1,max=256,pattern=^[a-zA-Z0-9_./() -]+$"`
	SourceImageId string `json:"SourceImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
	Tags          []Tag  `json:"Tags,omitempty"`
}

// createUpdatedImageOut is CreateUpdatedWorkspaceImageResult.
type createUpdatedImageOut struct {
	ImageId string `json:"ImageId"`
}

// customImportRec is the Image Builder side of a custom image import.
type customImportRec struct {
	InfraARN string                `json:"infra"`
	Source   ImageSourceIdentifier `json:"source"`
	Created  time.Time             `json:"created"`
}

// importCustomWorkspaceImageResources resolves the resources ImportCustomWorkspaceImage is authorized on.
func (m *Module) importCustomWorkspaceImageResources(ctx context.Context, c *gateway.Call, in *importCustomIn) ([]gateway.Check, error) {
	return append([]gateway.Check{withRequestTags(gateway.Check{Resource: "*"}, in.Tags)}, createTagsCheck(in.Tags)...), nil
}

// describeCustomWorkspaceImageImportResources resolves the resources DescribeCustomWorkspaceImageImport is authorized on.
func (m *Module) describeCustomWorkspaceImageImportResources(ctx context.Context, c *gateway.Call, in *describeCustomImportIn) ([]gateway.Check, error) {
	return m.imageChecks(ctx, c, in.ImageId)
}

// createUpdatedWorkspaceImageResources resolves the resources CreateUpdatedWorkspaceImage is authorized on.
func (m *Module) createUpdatedWorkspaceImageResources(ctx context.Context, c *gateway.Call, in *createUpdatedImageIn) ([]gateway.Check, error) {
	checks, err := m.imageChecks(ctx, c, in.SourceImageId)
	if err != nil {
		return nil, err
	}
	checks = append(checks, withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "workspaceimage", "*")}, in.Tags))
	return append(checks, createTagsCheck(in.Tags)...), nil
}

// customProcess maps ImportCustomWorkspaceImage's compute type and protocol
// to the ingestion process of ImportWorkspaceImage.
func customProcess(compute, protocol string) (string, error) {
	suffix := map[string]string{"PCOIP": "", "DCV": "_WSP", "BYOP": "_BYOP"}[protocol]
	switch compute {
	case "BASE":
		return "BYOL_REGULAR" + suffix, nil
	case "GRAPHICS_G4DN":
		return "BYOL_GRAPHICS_G4DN" + suffix, nil
	}
	// G6 graphics WorkSpaces run DCV only.
	if protocol != "DCV" {
		return "", errInvalid("The compute type GRAPHICS_G6 supports the DCV protocol only, not %s.", protocol)
	}
	return "BYOL_GRAPHICS_G6_WSP", nil
}

var infraARNRe = regexp.MustCompile(`^arn:aws[^:]*:imagebuilder:([^:]+):([^:]+):infrastructure-configuration/`)

func (m *Module) importCustomImage(ctx context.Context, c *gateway.Call, in *importCustomIn) (*importCustomOut, error) {
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	src := in.ImageSource
	n := 0
	for _, s := range []*string{src.Ec2ImageId, src.Ec2ImportTaskId, src.ImageBuildVersionArn} {
		if s != nil {
			n++
		}
	}
	if n != 1 {
		return nil, errInvalid("ImageSource must name exactly one of Ec2ImageId, Ec2ImportTaskId and ImageBuildVersionArn.")
	}
	if mm := infraARNRe.FindStringSubmatch(in.InfrastructureConfigurationArn); mm == nil || mm[1] != c.Region || mm[2] != c.Account {
		return nil, errInvalid("The infrastructure configuration %s must be one of account %s in %s.", in.InfrastructureConfigurationArn, c.Account, c.Region)
	}
	if src.Ec2ImportTaskId != nil {
		return nil, errNotFound("The VM Import task %s could not be found in this account and Region.", *src.Ec2ImportTaskId)
	}
	if src.ImageBuildVersionArn != nil {
		return nil, errNotFound("The Image Builder image %s could not be found in this account and Region.", *src.ImageBuildVersionArn)
	}
	process, err := customProcess(in.ComputeType, in.Protocol)
	if err != nil {
		return nil, err
	}
	ami := *src.Ec2ImageId
	id := newID("wsi-")
	err = m.store.Update(ctx, func(tx store.Tx) error {
		if ok, err := m.byolEnabled(ctx, tx, c.Account, c.Region); err != nil {
			return err
		} else if !ok {
			return errNotBYOL(c.Account, c.Region, "ImportCustomWorkspaceImage")
		}
		si, err := m.ec2.Image(ctx, tx, c.Account, c.Region, ami)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("The EC2 image %s could not be found in this account and Region.", ami)
		}
		if err != nil {
			return err
		}
		if si.OwnerID != "" && si.OwnerID != c.Account {
			return errNotFound("The EC2 image %s is not owned by account %s; only images you own can be imported.", ami, c.Account)
		}
		if si.State != "available" {
			return errInvalid("The EC2 image %s is %s; it must be available to be imported.", ami, si.State)
		}
		if si.Encrypted {
			return errUnsupported("The EC2 image %s is encrypted; encrypted images cannot be imported.", ami)
		}
		os := clientOS(si)
		want := map[string]string{"Windows_10": "WINDOWS_10", "Windows_11": "WINDOWS_11"}[in.OsVersion]
		if os != "" && os != want {
			return errInvalid("The EC2 image %s is %s, not %s as OsVersion says.", ami, si.OSVersion, in.OsVersion)
		}
		if err := m.checkImageQuota(ctx, tx, c.Account, c.Region); err != nil {
			return err
		}
		if err := reserveImageName(ctx, tx, c.Account, c.Region, in.ImageName, id); err != nil {
			return err
		}
		rec := &imageRec{
			ImageID: id, Name: in.ImageName, Description: in.ImageDescription, OwnerAccountID: c.Account,
			State: "PENDING", RequiredTenancy: "DEDICATED", OperatingSystem: "WINDOWS", OSName: want,
			IngestionProcess: process, Protocol: protocolOf(process),
			SourceEC2Image: ami, RootVolumeSize: si.RootVolumeSize, Created: c.Now, Tags: tags,
		}
		k := key(c.Account, c.Region, id)
		if err := putRec(ctx, tx, tImages, k, rec); err != nil {
			return err
		}
		if err := putRec(ctx, tx, tCustomImports, k, customImportRec{InfraARN: in.InfrastructureConfigurationArn, Source: *src, Created: c.Now}); err != nil {
			return err
		}
		job := imageJob{Image: k, Fail: importChecks(si, process)}
		return m.engine.Schedule(ctx, tx, "image/"+k, jobImageImport, c.Now.Add(m.timing(lifecycle.ImageImport)), job)
	})
	if err != nil {
		return nil, err
	}
	return &importCustomOut{ImageId: id, State: "PENDING"}, nil
}

func (m *Module) describeCustomImport(ctx context.Context, c *gateway.Call, in *describeCustomImportIn) (*describeCustomImportOut, error) {
	var imp *customImportRec
	var img *imageRec
	err := m.store.View(ctx, func(tx store.Tx) error {
		k := key(c.Account, c.Region, in.ImageId)
		var err error
		if imp, err = getRec[customImportRec](ctx, tx, tCustomImports, k); err != nil || imp == nil {
			return err
		}
		img, err = getRec[imageRec](ctx, tx, tImages, k)
		return err
	})
	if err != nil {
		return nil, err
	}
	if imp == nil || img == nil || img.SourceEC2Image != ptr.Deref(imp.Source.Ec2ImageId) {
		return nil, errNotFound("No custom image import of image %s could be found.", in.ImageId)
	}
	out := &describeCustomImportOut{ImageId: in.ImageId, InfrastructureConfigurationArn: imp.InfraARN, Created: awsproto.NewTime(imp.Created),
		LastUpdatedTime: awsproto.NewTime(imp.Created), ImageSource: &imp.Source}
	switch img.State {
	case "PENDING":
		out.State, out.ProgressPercentage, out.StateMessage = "IN_PROGRESS", 50, "The image is being imported and validated."
	case "ERROR":
		out.State, out.ProgressPercentage = "ERROR", 100
		out.StateMessage = img.ErrorMessage
		out.ErrorDetails = img.ErrorDetails
	default:
		out.State, out.ProgressPercentage, out.StateMessage = "COMPLETED", 100, fmt.Sprintf("The image %s is %s.", img.ImageID, img.State)
	}
	return out, nil
}

// createUpdatedImage refuses every request once the source image is known:
// no image has updates available in deskplane (see the file comment).
func (m *Module) createUpdatedImage(ctx context.Context, c *gateway.Call, in *createUpdatedImageIn) (*createUpdatedImageOut, error) {
	if _, err := tagsFromList(in.Tags); err != nil {
		return nil, err
	}
	err := m.store.View(ctx, func(tx store.Tx) error {
		img, err := getRec[imageRec](ctx, tx, tImages, key(c.Account, c.Region, in.SourceImageId))
		if err != nil {
			return err
		}
		if img == nil {
			return errNotFound("The image %s could not be found.", in.SourceImageId)
		}
		if img.State != "AVAILABLE" {
			return errState("The image %s is %s; only AVAILABLE images can be updated.", in.SourceImageId, img.State)
		}
		if err := m.requestFault(ctx, "CreateUpdatedWorkspaceImage", c.Now.UnixNano(), in.SourceImageId); err != nil {
			return err
		}
		return errUnsupported("The image %s has no updates available; only images that DescribeWorkspaceImages reports with updates can be updated.", in.SourceImageId)
	})
	return nil, err
}

// UpdateResult is the model's UpdateResult.
type UpdateResult struct {
	UpdateAvailable *bool  `json:"UpdateAvailable,omitempty"`
	Description     string `json:"Description,omitempty"`
}

// noUpdates is what DescribeWorkspaceImages reports of every custom image:
// deskplane ships no WorkSpaces component updates.
func noUpdates() *UpdateResult {
	f := false
	return &UpdateResult{UpdateAvailable: &f, Description: "No updates are available for this image."}
}
