package workspaces

// Application management: DescribeApplications,
// DescribeApplicationAssociations, DescribeImageAssociations,
// DescribeWorkspaceAssociations, DescribeBundleAssociations,
// AssociateWorkspaceApplication, DisassociateWorkspaceApplication and
// DeployWorkspaceApplications [MODEL].
//
// deskplane has no application catalogue: the WorkSpaces-managed
// applications (wsa-…, such as the Microsoft 365 apps the real service
// installs) are not modelled, so every account is one without applications.
// DescribeApplications lists none; an application id is never found
// (ResourceNotFoundException), so nothing can be associated, disassociated
// or described by application; the images, bundles and desktops that exist
// have no associations; and a deployment to an AVAILABLE desktop deploys
// nothing. Nothing is accepted and dropped.

import (
	"context"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// describeAppsIn is DescribeApplicationsRequest.
type describeAppsIn struct {
	ApplicationIds       []string `json:"ApplicationIds,omitempty" v:"min=1,max=25,pattern=^wsa-[0-9a-z]{8,63}$"`
	ComputeTypeNames     []string `json:"ComputeTypeNames,omitempty" v:"enum=VALUE|STANDARD|PERFORMANCE|POWER|GRAPHICS|POWERPRO|GENERALPURPOSE_4XLARGE|GENERALPURPOSE_8XLARGE|GRAPHICSPRO|GRAPHICS_G4DN|GRAPHICSPRO_G4DN|GRAPHICS_G6_XLARGE|GRAPHICS_G6_2XLARGE|GRAPHICS_G6_4XLARGE|GRAPHICS_G6_8XLARGE|GRAPHICS_G6_16XLARGE|GRAPHICS_GR6_4XLARGE|GRAPHICS_GR6_8XLARGE|GRAPHICS_G6F_LARGE|GRAPHICS_G6F_XLARGE|GRAPHICS_G6F_2XLARGE|GRAPHICS_G6F_4XLARGE|GRAPHICS_GR6F_4XLARGE"`
	LicenseType          *string  `json:"LicenseType,omitempty" v:"enum=LICENSED|UNLICENSED"`
	OperatingSystemNames []string `json:"OperatingSystemNames,omitempty" v:"enum=AMAZON_LINUX_2|UBUNTU_18_04|UBUNTU_20_04|UBUNTU_22_04|UNKNOWN|WINDOWS_10|WINDOWS_11|WINDOWS_7|WINDOWS_SERVER_2016|WINDOWS_SERVER_2019|WINDOWS_SERVER_2022|WINDOWS_SERVER_2025|RHEL_8|ROCKY_8"`
	Owner                *string  `json:"Owner,omitempty" v:"pattern=^\\d{12}|AMAZON$"`
	MaxResults           *int     `json:"MaxResults,omitempty" v:"min=1,max=25"`
	NextToken            *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

// WorkSpaceApplication is the model's WorkSpaceApplication.
type WorkSpaceApplication struct {
	ApplicationId string `json:"ApplicationId,omitempty"`
	Name          string `json:"Name,omitempty"`
	Owner         string `json:"Owner,omitempty"`
	State         string `json:"State,omitempty"`
}

// describeAppsOut is DescribeApplicationsResult.
type describeAppsOut struct {
	Applications []WorkSpaceApplication `json:"Applications"`
	NextToken    *string                `json:"NextToken,omitempty"`
}

// describeAppAssocIn is DescribeApplicationAssociationsRequest.
type describeAppAssocIn struct {
	MaxResults              *int     `json:"MaxResults,omitempty" v:"min=1,max=25"`
	NextToken               *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
	ApplicationId           string   `json:"ApplicationId" v:"required,pattern=^wsa-[0-9a-z]{8,63}$"`
	AssociatedResourceTypes []string `json:"AssociatedResourceTypes" v:"required,enum=WORKSPACE|BUNDLE|IMAGE"`
}

// AssociationStateReason is the model's AssociationStateReason.
type AssociationStateReason struct {
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// ApplicationResourceAssociation is the model's ApplicationResourceAssociation.
type ApplicationResourceAssociation struct {
	ApplicationId          string                  `json:"ApplicationId,omitempty"`
	AssociatedResourceId   string                  `json:"AssociatedResourceId,omitempty"`
	AssociatedResourceType string                  `json:"AssociatedResourceType,omitempty"`
	Created                *awsproto.Time          `json:"Created,omitempty"`
	LastUpdatedTime        *awsproto.Time          `json:"LastUpdatedTime,omitempty"`
	State                  string                  `json:"State,omitempty"`
	StateReason            *AssociationStateReason `json:"StateReason,omitempty"`
}

// describeAppAssocOut is DescribeApplicationAssociationsResult.
type describeAppAssocOut struct {
	Associations []ApplicationResourceAssociation `json:"Associations"`
	NextToken    *string                          `json:"NextToken,omitempty"`
}

// describeImageAssocIn is DescribeImageAssociationsRequest.
type describeImageAssocIn struct {
	ImageId                 string   `json:"ImageId" v:"required,pattern=wsi-[0-9a-z]{9,63}$"`
	AssociatedResourceTypes []string `json:"AssociatedResourceTypes" v:"required,enum=APPLICATION"`
}

// ImageResourceAssociation is the model's ImageResourceAssociation.
type ImageResourceAssociation struct {
	AssociatedResourceId   string                  `json:"AssociatedResourceId,omitempty"`
	AssociatedResourceType string                  `json:"AssociatedResourceType,omitempty"`
	ImageId                string                  `json:"ImageId,omitempty"`
	State                  string                  `json:"State,omitempty"`
	StateReason            *AssociationStateReason `json:"StateReason,omitempty"`
}

// describeImageAssocOut is DescribeImageAssociationsResult.
type describeImageAssocOut struct {
	Associations []ImageResourceAssociation `json:"Associations"`
}

// describeBundleAssocIn is DescribeBundleAssociationsRequest.
type describeBundleAssocIn struct {
	BundleId                string   `json:"BundleId" v:"required,pattern=^wsb-[0-9a-z]{8,63}$"`
	AssociatedResourceTypes []string `json:"AssociatedResourceTypes" v:"required,enum=APPLICATION"`
}

// BundleResourceAssociation is the model's BundleResourceAssociation.
type BundleResourceAssociation struct {
	AssociatedResourceId   string                  `json:"AssociatedResourceId,omitempty"`
	AssociatedResourceType string                  `json:"AssociatedResourceType,omitempty"`
	BundleId               string                  `json:"BundleId,omitempty"`
	State                  string                  `json:"State,omitempty"`
	StateReason            *AssociationStateReason `json:"StateReason,omitempty"`
}

// describeBundleAssocOut is DescribeBundleAssociationsResult.
type describeBundleAssocOut struct {
	Associations []BundleResourceAssociation `json:"Associations"`
}

// describeWorkspaceAssocIn is DescribeWorkspaceAssociationsRequest.
type describeWorkspaceAssocIn struct {
	WorkspaceId             string   `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	AssociatedResourceTypes []string `json:"AssociatedResourceTypes" v:"required,enum=APPLICATION"`
}

// WorkspaceResourceAssociation is the model's WorkspaceResourceAssociation.
type WorkspaceResourceAssociation struct {
	AssociatedResourceId   string                  `json:"AssociatedResourceId,omitempty"`
	AssociatedResourceType string                  `json:"AssociatedResourceType,omitempty"`
	State                  string                  `json:"State,omitempty"`
	StateReason            *AssociationStateReason `json:"StateReason,omitempty"`
	WorkspaceId            string                  `json:"WorkspaceId,omitempty"`
}

// describeWorkspaceAssocOut is DescribeWorkspaceAssociationsResult.
type describeWorkspaceAssocOut struct {
	Associations []WorkspaceResourceAssociation `json:"Associations"`
}

// workspaceAppRef is the shape Associate and DisassociateWorkspaceApplication's
// requests share; each operation has its own type of it.
type workspaceAppRef struct {
	WorkspaceId   string `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	ApplicationId string `json:"ApplicationId" v:"required,pattern=^wsa-[0-9a-z]{8,63}$"`
}

// associateAppIn is AssociateWorkspaceApplicationRequest.
type associateAppIn workspaceAppRef

// disassociateAppIn is DisassociateWorkspaceApplicationRequest.
type disassociateAppIn workspaceAppRef

// workspaceAppOut is the result of Associate and DisassociateWorkspaceApplication.
type workspaceAppOut struct {
	Association *WorkspaceResourceAssociation `json:"Association,omitempty"`
}

// deployAppsIn is DeployWorkspaceApplicationsRequest.
type deployAppsIn struct {
	WorkspaceId string `json:"WorkspaceId" v:"required,pattern=^ws-[0-9a-z]{8,63}$"`
	Force       *bool  `json:"Force,omitempty"`
}

// deployAppsOut is DeployWorkspaceApplicationsResult.
type deployAppsOut struct {
	Deployment *struct {
		Associations []WorkspaceResourceAssociation `json:"Associations"`
	} `json:"Deployment,omitempty"`
}

// describeApplicationAssociationsResources resolves the resources DescribeApplicationAssociations is authorized on.
func (m *Module) describeApplicationAssociationsResources(ctx context.Context, c *gateway.Call, in *describeAppAssocIn) ([]gateway.Check, error) {
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspaceapplication", in.ApplicationId), ResourceTags: map[string]string{}}}, nil
}

// describeImageAssociationsResources resolves the resources DescribeImageAssociations is authorized on.
func (m *Module) describeImageAssociationsResources(ctx context.Context, c *gateway.Call, in *describeImageAssocIn) ([]gateway.Check, error) {
	return m.imageChecks(ctx, c, in.ImageId)
}

// describeBundleAssociationsResources resolves the resources DescribeBundleAssociations is authorized on.
func (m *Module) describeBundleAssociationsResources(ctx context.Context, c *gateway.Call, in *describeBundleAssocIn) ([]gateway.Check, error) {
	return m.bundleChecks(ctx, c, in.BundleId)
}

// describeWorkspaceAssociationsResources resolves the resources DescribeWorkspaceAssociations is authorized on.
func (m *Module) describeWorkspaceAssociationsResources(ctx context.Context, c *gateway.Call, in *describeWorkspaceAssocIn) ([]gateway.Check, error) {
	return m.workspaceChecks(ctx, c, in.WorkspaceId)
}

// deployWorkspaceApplicationsResources resolves the resources DeployWorkspaceApplications is authorized on.
func (m *Module) deployWorkspaceApplicationsResources(ctx context.Context, c *gateway.Call, in *deployAppsIn) ([]gateway.Check, error) {
	return m.workspaceChecks(ctx, c, in.WorkspaceId)
}

// workspaceChecks authorizes an action on one of the caller's desktops, with its tags.
func (m *Module) workspaceChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	tags, err := m.resourceTags(ctx, c.Account, c.Region, id)
	if err != nil {
		return nil, err
	}
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspace", id), ResourceTags: orEmpty(tags)}}, nil
}

// bundleChecks authorizes an action on a bundle, with its tags.
func (m *Module) bundleChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	tags, err := m.resourceTags(ctx, c.Account, c.Region, id)
	if err != nil {
		return nil, err
	}
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspacebundle", id), ResourceTags: orEmpty(tags)}}, nil
}

// associateWorkspaceApplicationResources resolves the resources AssociateWorkspaceApplication is authorized on.
func (m *Module) associateWorkspaceApplicationResources(ctx context.Context, c *gateway.Call, in *associateAppIn) ([]gateway.Check, error) {
	return m.workspaceAppChecks(ctx, c, (*workspaceAppRef)(in))
}

// disassociateWorkspaceApplicationResources resolves the resources DisassociateWorkspaceApplication is authorized on.
func (m *Module) disassociateWorkspaceApplicationResources(ctx context.Context, c *gateway.Call, in *disassociateAppIn) ([]gateway.Check, error) {
	return m.workspaceAppChecks(ctx, c, (*workspaceAppRef)(in))
}

// workspaceAppChecks authorizes an action on a desktop and an application.
func (m *Module) workspaceAppChecks(ctx context.Context, c *gateway.Call, in *workspaceAppRef) ([]gateway.Check, error) {
	checks, err := m.workspaceChecks(ctx, c, in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	return append(checks, gateway.Check{Resource: ARN(c.Region, c.Account, "workspaceapplication", in.ApplicationId), ResourceTags: map[string]string{}}), nil
}

func errNoApplication(id string) error {
	e := awsproto.Errorf("ResourceNotFoundException", "The application %s could not be found; deskplane has no WorkSpaces application catalogue.", id)
	e.Fields = map[string]string{"ResourceId": id}
	return e
}

// liveDesktop returns the caller's desktop unless it does not exist or is TERMINATED.
func (m *Module) liveDesktop(ctx context.Context, account, region, id string) (*desktopRec, error) {
	var w *desktopRec
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		w, err = getRec[desktopRec](ctx, tx, tDesktops, key(account, region, id))
		return err
	})
	if err != nil {
		return nil, err
	}
	if w == nil || w.State == "TERMINATED" {
		return nil, errNotFound("The WorkSpace %s could not be found.", id)
	}
	return w, nil
}

func (m *Module) describeApplications(ctx context.Context, c *gateway.Call, in *describeAppsIn) (*describeAppsOut, error) {
	if _, err := parseToken(in.NextToken, "apps/"); err != nil {
		return nil, err
	}
	if len(in.ApplicationIds) > 0 {
		return nil, errNoApplication(in.ApplicationIds[0])
	}
	return &describeAppsOut{Applications: []WorkSpaceApplication{}}, nil
}

func (m *Module) describeApplicationAssociations(ctx context.Context, c *gateway.Call, in *describeAppAssocIn) (*describeAppAssocOut, error) {
	return nil, errNoApplication(in.ApplicationId)
}

func (m *Module) describeImageAssociations(ctx context.Context, c *gateway.Call, in *describeImageAssocIn) (*describeImageAssocOut, error) {
	err := m.store.View(ctx, func(tx store.Tx) error {
		img, err := m.lookupImage(ctx, tx, c.Account, c.Region, in.ImageId)
		if err != nil {
			return err
		}
		if img == nil {
			return errNotFound("The image %s could not be found.", in.ImageId)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &describeImageAssocOut{Associations: []ImageResourceAssociation{}}, nil
}

func (m *Module) describeBundleAssociations(ctx context.Context, c *gateway.Call, in *describeBundleAssocIn) (*describeBundleAssocOut, error) {
	err := m.store.View(ctx, func(tx store.Tx) error {
		b, err := m.lookupBundle(ctx, tx, c.Account, c.Region, in.BundleId)
		if err != nil {
			return err
		}
		if b == nil {
			return errNotFound("The bundle %s could not be found.", in.BundleId)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &describeBundleAssocOut{Associations: []BundleResourceAssociation{}}, nil
}

func (m *Module) describeWorkspaceAssociations(ctx context.Context, c *gateway.Call, in *describeWorkspaceAssocIn) (*describeWorkspaceAssocOut, error) {
	if _, err := m.liveDesktop(ctx, c.Account, c.Region, in.WorkspaceId); err != nil {
		return nil, err
	}
	return &describeWorkspaceAssocOut{Associations: []WorkspaceResourceAssociation{}}, nil
}

func (m *Module) associateWorkspaceApplication(ctx context.Context, c *gateway.Call, in *associateAppIn) (*workspaceAppOut, error) {
	if _, err := m.liveDesktop(ctx, c.Account, c.Region, in.WorkspaceId); err != nil {
		return nil, err
	}
	return nil, errNoApplication(in.ApplicationId)
}

func (m *Module) disassociateWorkspaceApplication(ctx context.Context, c *gateway.Call, in *disassociateAppIn) (*workspaceAppOut, error) {
	if _, err := m.liveDesktop(ctx, c.Account, c.Region, in.WorkspaceId); err != nil {
		return nil, err
	}
	return nil, errNoApplication(in.ApplicationId)
}

// deployWorkspaceApplications deploys the desktop's associated applications
// (it has none): the desktop must be AVAILABLE, as an installation needs a
// running desktop.
func (m *Module) deployWorkspaceApplications(ctx context.Context, c *gateway.Call, in *deployAppsIn) (*deployAppsOut, error) {
	w, err := m.liveDesktop(ctx, c.Account, c.Region, in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	if w.State != "AVAILABLE" {
		return nil, awsproto.Errorf("ResourceInUseException", "The WorkSpace %s is %s; applications are deployed to AVAILABLE WorkSpaces only.", in.WorkspaceId, w.State)
	}
	out := &deployAppsOut{}
	out.Deployment = &struct {
		Associations []WorkspaceResourceAssociation `json:"Associations"`
	}{Associations: []WorkspaceResourceAssociation{}}
	return out, nil
}
