package workspaces

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Directory properties that WorkSpaces keeps beside the registration:
// self-service permissions, access, client, streaming, SAML and
// certificate-based authentication properties, client branding, the
// endpoint encryption mode and the associated IP access control groups.
const (
	tDirProps = "ws_dir_props"     // ACCOUNT/REGION/DIRECTORYID
	tLogos    = "ws_branding_logo" // ACCOUNT/REGION/DIRECTORYID/PLATFORM/KIND -> logo bytes
)

func mustRe(p string) *regexp.Regexp { return regexp.MustCompile(p) }

// dirPropsRec holds a registered directory's properties. Absent members
// have the real service's defaults (see renderDirProps).
type dirPropsRec struct {
	SelfService *selfService          `json:"self_service,omitempty"`
	Access      *accessProps          `json:"access,omitempty"`
	Client      *clientProps          `json:"client,omitempty"`
	Streaming   *streamingProps       `json:"streaming,omitempty"`
	Saml        *samlProps            `json:"saml,omitempty"`
	CBA         *cbaProps             `json:"cba,omitempty"`
	Branding    map[string]*brandAttr `json:"branding,omitempty"`
	Encryption  string                `json:"encryption,omitempty"`
	IPGroups    []string              `json:"ipgroups,omitempty"`
}

type clientProps struct {
	ReconnectEnabled string `json:"ReconnectEnabled,omitempty" v:"enum=ENABLED|DISABLED"`
	LogUploadEnabled string `json:"LogUploadEnabled,omitempty" v:"enum=ENABLED|DISABLED"`
}

type userSetting struct {
	Action        string `json:"Action" v:"required,enum=CLIPBOARD_COPY_FROM_LOCAL_DEVICE|CLIPBOARD_COPY_TO_LOCAL_DEVICE|PRINTING_TO_LOCAL_DEVICE|SMART_CARD"`
	Permission    string `json:"Permission" v:"required,enum=ENABLED|DISABLED"`
	MaximumLength *int   `json:"MaximumLength,omitempty" v:"min=0"`
}

type storageConnector struct {
	ConnectorType string `json:"ConnectorType" v:"required,enum=HOME_FOLDER"`
	Status        string `json:"Status" v:"required,enum=ENABLED|DISABLED"`
}

type dirAccelerator struct {
	Mode              string  `json:"Mode" v:"required,enum=ENABLED_AUTO|DISABLED"`
	PreferredProtocol *string `json:"PreferredProtocol,omitempty" v:"enum=TCP|NONE"`
}

type streamingProps struct {
	StreamingExperiencePreferredProtocol *string            `json:"StreamingExperiencePreferredProtocol,omitempty" v:"enum=TCP|UDP"`
	UserSettings                         []userSetting      `json:"UserSettings,omitempty" v:"min=1"`
	StorageConnectors                    []storageConnector `json:"StorageConnectors,omitempty" v:"min=1"`
	GlobalAccelerator                    *dirAccelerator    `json:"GlobalAccelerator,omitempty"`
}

type samlProps struct {
	Status                  string `json:"Status,omitempty" v:"enum=DISABLED|ENABLED|ENABLED_WITH_DIRECTORY_LOGIN_FALLBACK"`
	UserAccessURL           string `json:"UserAccessUrl,omitempty" v:"min=8,max=200,pattern=^(http|https)\\://\\S+$"`
	RelayStateParameterName string `json:"RelayStateParameterName,omitempty" v:"min=1"`
}

type cbaProps struct {
	Status                  string `json:"Status,omitempty" v:"enum=DISABLED|ENABLED"`
	CertificateAuthorityArn string `json:"CertificateAuthorityArn,omitempty" v:"min=5,max=200"`
}

// brandAttr is one platform's imported branding (logos are kept apart, by URL).
type brandAttr struct {
	LogoURL            string            `json:"LogoUrl,omitempty"`
	Logo2xURL          string            `json:"Logo2xUrl,omitempty"`
	Logo3xURL          string            `json:"Logo3xUrl,omitempty"`
	SupportEmail       string            `json:"SupportEmail,omitempty"`
	SupportLink        string            `json:"SupportLink,omitempty"`
	ForgotPasswordLink string            `json:"ForgotPasswordLink,omitempty"`
	LoginMessage       map[string]string `json:"LoginMessage,omitempty"`
}

type modifySelfServiceIn struct {
	ResourceID             string       `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	SelfservicePermissions *selfService `json:"SelfservicePermissions" v:"required"`
}

type accessEndpoint struct {
	AccessEndpointType *string `json:"AccessEndpointType,omitempty" v:"enum=STREAMING_WSP"`
	VpcEndpointID      *string `json:"VpcEndpointId,omitempty" v:"pattern=^[a-zA-Z0-9\\_\\-]{1,1000}$"`
}

type accessEndpointConfig struct {
	AccessEndpoints           []accessEndpoint `json:"AccessEndpoints" v:"required"`
	InternetFallbackProtocols []string         `json:"InternetFallbackProtocols,omitempty"`
}

type modifyAccessIn struct {
	ResourceID                string       `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	WorkspaceAccessProperties *accessProps `json:"WorkspaceAccessProperties" v:"required"`
}

type modifyClientIn struct {
	ResourceID       string       `json:"ResourceId" v:"required,min=1"`
	ClientProperties *clientProps `json:"ClientProperties" v:"required"`
}

type describeClientIn struct {
	ResourceIDs []string `json:"ResourceIds" v:"required,min=1,max=25"`
}

type clientPropsResult struct {
	ResourceID       string       `json:"ResourceId"`
	ClientProperties *clientProps `json:"ClientProperties"`
}

type describeClientOut struct {
	ClientPropertiesList []clientPropsResult `json:"ClientPropertiesList"`
}

type modifyStreamingIn struct {
	ResourceID          string          `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	StreamingProperties *streamingProps `json:"StreamingProperties,omitempty"`
}

type modifySamlIn struct {
	ResourceID         string     `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	SamlProperties     *samlProps `json:"SamlProperties,omitempty"`
	PropertiesToDelete []string   `json:"PropertiesToDelete,omitempty"`
}

type modifyCBAIn struct {
	ResourceID                     string    `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	CertificateBasedAuthProperties *cbaProps `json:"CertificateBasedAuthProperties,omitempty"`
	PropertiesToDelete             []string  `json:"PropertiesToDelete,omitempty"`
}

type modifyEncryptionIn struct {
	DirectoryID            string `json:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	EndpointEncryptionMode string `json:"EndpointEncryptionMode" v:"required,enum=STANDARD_TLS|FIPS_VALIDATED"`
}

type brandingDirIn struct {
	ResourceID string `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
}

type deleteBrandingIn struct {
	ResourceID string   `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	Platforms  []string `json:"Platforms" v:"required,min=1,max=6"`
}

// importBrand is the model's DefaultImportClientBrandingAttributes.
type importBrand struct {
	Logo               []byte            `json:"Logo,omitempty" v:"min=1,max=1500000"`
	SupportEmail       *string           `json:"SupportEmail,omitempty" v:"min=6,max=64,pattern=^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,4}$"`
	SupportLink        *string           `json:"SupportLink,omitempty" v:"min=1,max=200,pattern=^(http|https)\\://\\S+"`
	ForgotPasswordLink *string           `json:"ForgotPasswordLink,omitempty" v:"min=1,max=200,pattern=^(http|https)\\://\\S+"`
	LoginMessage       map[string]string `json:"LoginMessage,omitempty"`
}

// iosImportBrand is the model's IosImportClientBrandingAttributes.
type iosImportBrand struct {
	Logo               []byte            `json:"Logo,omitempty" v:"min=1,max=447000"`
	Logo2x             []byte            `json:"Logo2x,omitempty" v:"min=1,max=1770000"`
	Logo3x             []byte            `json:"Logo3x,omitempty" v:"min=1,max=1770000"`
	SupportEmail       *string           `json:"SupportEmail,omitempty" v:"min=6,max=64,pattern=^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,4}$"`
	SupportLink        *string           `json:"SupportLink,omitempty" v:"min=1,max=200,pattern=^(http|https)\\://\\S+"`
	ForgotPasswordLink *string           `json:"ForgotPasswordLink,omitempty" v:"min=1,max=200,pattern=^(http|https)\\://\\S+"`
	LoginMessage       map[string]string `json:"LoginMessage,omitempty"`
}

// brandInput is one platform's import, whichever shape it came in.
type brandInput struct {
	Logo, Logo2x, Logo3x                          []byte
	SupportEmail, SupportLink, ForgotPasswordLink *string
	LoginMessage                                  map[string]string
}

func (b *importBrand) input() *brandInput {
	if b == nil {
		return nil
	}
	return &brandInput{Logo: b.Logo, SupportEmail: b.SupportEmail, SupportLink: b.SupportLink, ForgotPasswordLink: b.ForgotPasswordLink, LoginMessage: b.LoginMessage}
}

func (b *iosImportBrand) input() *brandInput {
	if b == nil {
		return nil
	}
	return &brandInput{Logo: b.Logo, Logo2x: b.Logo2x, Logo3x: b.Logo3x, SupportEmail: b.SupportEmail, SupportLink: b.SupportLink,
		ForgotPasswordLink: b.ForgotPasswordLink, LoginMessage: b.LoginMessage}
}

type importBrandingIn struct {
	ResourceID        string          `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	DeviceTypeWindows *importBrand    `json:"DeviceTypeWindows,omitempty"`
	DeviceTypeOsx     *importBrand    `json:"DeviceTypeOsx,omitempty"`
	DeviceTypeAndroid *importBrand    `json:"DeviceTypeAndroid,omitempty"`
	DeviceTypeIos     *iosImportBrand `json:"DeviceTypeIos,omitempty"`
	DeviceTypeLinux   *importBrand    `json:"DeviceTypeLinux,omitempty"`
	DeviceTypeWeb     *importBrand    `json:"DeviceTypeWeb,omitempty"`
}

type brandingOut struct {
	DeviceTypeWindows *brandAttr `json:"DeviceTypeWindows,omitempty"`
	DeviceTypeOsx     *brandAttr `json:"DeviceTypeOsx,omitempty"`
	DeviceTypeAndroid *brandAttr `json:"DeviceTypeAndroid,omitempty"`
	DeviceTypeIos     *brandAttr `json:"DeviceTypeIos,omitempty"`
	DeviceTypeLinux   *brandAttr `json:"DeviceTypeLinux,omitempty"`
	DeviceTypeWeb     *brandAttr `json:"DeviceTypeWeb,omitempty"`
}

// modifySelfservicePermissionsResources resolves the resources ModifySelfservicePermissions is authorized on.
func (m *Module) modifySelfservicePermissionsResources(ctx context.Context, c *gateway.Call, in *modifySelfServiceIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// modifyWorkspaceAccessPropertiesResources resolves the resources ModifyWorkspaceAccessProperties is authorized on.
func (m *Module) modifyWorkspaceAccessPropertiesResources(ctx context.Context, c *gateway.Call, in *modifyAccessIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// modifyClientPropertiesResources resolves the resources ModifyClientProperties is authorized on.
func (m *Module) modifyClientPropertiesResources(ctx context.Context, c *gateway.Call, in *modifyClientIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// describeClientPropertiesResources resolves the resources DescribeClientProperties is authorized on.
func (m *Module) describeClientPropertiesResources(ctx context.Context, c *gateway.Call, in *describeClientIn) ([]gateway.Check, error) {
	var out []gateway.Check
	for _, id := range in.ResourceIDs {
		chk, err := m.dirChecks(ctx, c, id)
		if err != nil {
			return nil, err
		}
		out = append(out, chk...)
	}
	return out, nil
}

// modifyStreamingPropertiesResources resolves the resources ModifyStreamingProperties is authorized on.
func (m *Module) modifyStreamingPropertiesResources(ctx context.Context, c *gateway.Call, in *modifyStreamingIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// modifySamlPropertiesResources resolves the resources ModifySamlProperties is authorized on.
func (m *Module) modifySamlPropertiesResources(ctx context.Context, c *gateway.Call, in *modifySamlIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// modifyCertificateBasedAuthPropertiesResources resolves the resources ModifyCertificateBasedAuthProperties is authorized on.
func (m *Module) modifyCertificateBasedAuthPropertiesResources(ctx context.Context, c *gateway.Call, in *modifyCBAIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// modifyEndpointEncryptionModeResources resolves the resources ModifyEndpointEncryptionMode is authorized on.
func (m *Module) modifyEndpointEncryptionModeResources(ctx context.Context, c *gateway.Call, in *modifyEncryptionIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.DirectoryID)
}

// importClientBrandingResources resolves the resources ImportClientBranding is authorized on.
func (m *Module) importClientBrandingResources(ctx context.Context, c *gateway.Call, in *importBrandingIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// describeClientBrandingResources resolves the resources DescribeClientBranding is authorized on.
func (m *Module) describeClientBrandingResources(ctx context.Context, c *gateway.Call, in *brandingDirIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// deleteClientBrandingResources resolves the resources DeleteClientBranding is authorized on.
func (m *Module) deleteClientBrandingResources(ctx context.Context, c *gateway.Call, in *deleteBrandingIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceID)
}

// dirProps returns a directory's properties (empty when none were set).
func (m *Module) dirProps(ctx context.Context, tx store.Tx, account, region, dir string) (*dirPropsRec, error) {
	p, err := getRec[dirPropsRec](ctx, tx, tDirProps, key(account, region, dir))
	if p == nil && err == nil {
		p = &dirPropsRec{}
	}
	return p, err
}

func (m *Module) putDirProps(ctx context.Context, tx store.Tx, account, region, dir string, p *dirPropsRec) error {
	return putRec(ctx, tx, tDirProps, key(account, region, dir), p)
}

// dropDirProps deletes a deregistered directory's properties, branding
// logos and IP access control group associations.
func (m *Module) dropDirProps(ctx context.Context, tx store.Tx, k string) error {
	parts := splitKey(k)
	if err := dropDirAliases(ctx, tx, parts[0], parts[1], parts[2]); err != nil {
		return err
	}
	p, err := getRec[dirPropsRec](ctx, tx, tDirProps, k)
	if err != nil || p == nil {
		return err
	}
	if err := m.dropDirIPGroups(ctx, tx, parts[0], parts[1], parts[2], p.IPGroups); err != nil {
		return err
	}
	var logos []string
	err = tx.Scan(ctx, tLogos, k+"/", "", 0, func(lk string, _ []byte) error {
		logos = append(logos, lk)
		return nil
	})
	if err != nil {
		return err
	}
	for _, lk := range logos {
		if err := tx.Delete(ctx, tLogos, lk); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, tDirProps, k)
}

// updateDirProps runs fn on a registered directory's properties and stores them.
func (m *Module) updateDirProps(ctx context.Context, c *gateway.Call, dir string, fn func(tx store.Tx, d *directoryRec, p *dirPropsRec) error) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := getRec[directoryRec](ctx, tx, tDirs, key(c.Account, c.Region, dir))
		if err != nil {
			return err
		}
		if d == nil || d.State == "DEREGISTERING" {
			return errNotFound("The directory %s is not registered with Amazon WorkSpaces.", dir)
		}
		p, err := m.dirProps(ctx, tx, c.Account, c.Region, dir)
		if err != nil {
			return err
		}
		if err := fn(tx, d, p); err != nil {
			return err
		}
		return m.putDirProps(ctx, tx, c.Account, c.Region, dir, p)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// defaultSelfService is what a directory registered with EnableSelfService
// gets: restart always, the rest as the flag says.
func defaultSelfService(enabled bool) *selfService {
	en := "DISABLED"
	if enabled {
		en = "ENABLED"
	}
	return &selfService{RestartWorkspace: "ENABLED", IncreaseVolumeSize: en, ChangeComputeType: en, SwitchRunningMode: en, RebuildWorkspace: en}
}

func (m *Module) modifySelfService(ctx context.Context, c *gateway.Call, in *modifySelfServiceIn) (*struct{}, error) {
	s := in.SelfservicePermissions
	for _, v := range []string{s.RestartWorkspace, s.IncreaseVolumeSize, s.ChangeComputeType, s.SwitchRunningMode, s.RebuildWorkspace} {
		if v != "" && v != "ENABLED" && v != "DISABLED" {
			return nil, errInvalid("Self-service permissions are ENABLED or DISABLED, not %q.", v)
		}
	}
	return m.updateDirProps(ctx, c, in.ResourceID, func(_ store.Tx, d *directoryRec, p *dirPropsRec) error {
		cur := p.SelfService
		if cur == nil {
			cur = defaultSelfService(d.EnableSelfService)
		}
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&cur.RestartWorkspace, s.RestartWorkspace)
		set(&cur.IncreaseVolumeSize, s.IncreaseVolumeSize)
		set(&cur.ChangeComputeType, s.ChangeComputeType)
		set(&cur.SwitchRunningMode, s.SwitchRunningMode)
		set(&cur.RebuildWorkspace, s.RebuildWorkspace)
		p.SelfService = cur
		return nil
	})
}

// defaultAccess is a new directory's device access: the real service
// allows every client type but the web client (and, in WorkSpaces Core
// setups, Linux).
func defaultAccess() *accessProps {
	return &accessProps{DeviceTypeWindows: "ALLOW", DeviceTypeOsx: "ALLOW", DeviceTypeWeb: "DENY", DeviceTypeIos: "ALLOW",
		DeviceTypeAndroid: "ALLOW", DeviceTypeChromeOs: "ALLOW", DeviceTypeZeroClient: "ALLOW", DeviceTypeLinux: "DENY",
		DeviceTypeWorkSpacesThinClient: "DENY"}
}

func (m *Module) modifyAccess(ctx context.Context, c *gateway.Call, in *modifyAccessIn) (*struct{}, error) {
	a := in.WorkspaceAccessProperties
	vals := []string{a.DeviceTypeWindows, a.DeviceTypeOsx, a.DeviceTypeWeb, a.DeviceTypeIos, a.DeviceTypeAndroid,
		a.DeviceTypeChromeOs, a.DeviceTypeZeroClient, a.DeviceTypeLinux, a.DeviceTypeWorkSpacesThinClient}
	for _, v := range vals {
		if v != "" && v != "ALLOW" && v != "DENY" {
			return nil, errInvalid("Device access is ALLOW or DENY, not %q.", v)
		}
	}
	if ec := a.AccessEndpointConfig; ec != nil {
		for _, f := range ec.InternetFallbackProtocols {
			if f != "PCOIP" {
				return nil, errInvalid("The internet fallback protocol %q is not valid; the only one is PCOIP.", f)
			}
		}
		if len(ec.AccessEndpoints) == 0 {
			return nil, errInvalid("AccessEndpointConfig needs at least one access endpoint.")
		}
		// deskplane's EC2 has no VPC endpoints, so none can be named: an
		// account without the endpoint gets this answer.
		e := ec.AccessEndpoints[0]
		if e.VpcEndpointID == nil {
			return nil, errInvalid("An access endpoint needs a VpcEndpointId.")
		}
		return nil, errInvalid("The VPC endpoint %s could not be found.", *e.VpcEndpointID)
	}
	return m.updateDirProps(ctx, c, in.ResourceID, func(_ store.Tx, _ *directoryRec, p *dirPropsRec) error {
		cur := p.Access
		if cur == nil {
			cur = defaultAccess()
		}
		dst := []*string{&cur.DeviceTypeWindows, &cur.DeviceTypeOsx, &cur.DeviceTypeWeb, &cur.DeviceTypeIos, &cur.DeviceTypeAndroid,
			&cur.DeviceTypeChromeOs, &cur.DeviceTypeZeroClient, &cur.DeviceTypeLinux, &cur.DeviceTypeWorkSpacesThinClient}
		for i, v := range vals {
			if v != "" {
				*dst[i] = v
			}
		}
		p.Access = cur
		return nil
	})
}

func defaultClient() *clientProps {
	return &clientProps{ReconnectEnabled: "ENABLED", LogUploadEnabled: "ENABLED"}
}

func (m *Module) modifyClient(ctx context.Context, c *gateway.Call, in *modifyClientIn) (*struct{}, error) {
	if !strings.HasPrefix(in.ResourceID, "d-") && !strings.HasPrefix(in.ResourceID, "wsd-") {
		return nil, errNotFound("The resource %s could not be found; client properties apply to registered directories.", in.ResourceID)
	}
	return m.updateDirProps(ctx, c, in.ResourceID, func(_ store.Tx, _ *directoryRec, p *dirPropsRec) error {
		cur := p.Client
		if cur == nil {
			cur = defaultClient()
		}
		if v := in.ClientProperties.ReconnectEnabled; v != "" {
			cur.ReconnectEnabled = v
		}
		if v := in.ClientProperties.LogUploadEnabled; v != "" {
			cur.LogUploadEnabled = v
		}
		p.Client = cur
		return nil
	})
}

func (m *Module) describeClient(ctx context.Context, c *gateway.Call, in *describeClientIn) (*describeClientOut, error) {
	out := &describeClientOut{ClientPropertiesList: []clientPropsResult{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		for _, id := range in.ResourceIDs {
			d, err := getRec[directoryRec](ctx, tx, tDirs, key(c.Account, c.Region, id))
			if err != nil {
				return err
			}
			if d == nil {
				return errNotFound("The directory %s is not registered with Amazon WorkSpaces.", id)
			}
			p, err := m.dirProps(ctx, tx, c.Account, c.Region, id)
			if err != nil {
				return err
			}
			cp := p.Client
			if cp == nil {
				cp = defaultClient()
			}
			out.ClientPropertiesList = append(out.ClientPropertiesList, clientPropsResult{ResourceID: id, ClientProperties: cp})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Module) modifyStreaming(ctx context.Context, c *gateway.Call, in *modifyStreamingIn) (*struct{}, error) {
	sp := in.StreamingProperties
	if sp != nil {
		seen := map[string]bool{}
		for _, u := range sp.UserSettings {
			if seen[u.Action] {
				return nil, errInvalid("The user setting %s is given more than once.", u.Action)
			}
			seen[u.Action] = true
			if u.MaximumLength != nil && !strings.HasPrefix(u.Action, "CLIPBOARD_") {
				return nil, errInvalid("MaximumLength applies to the clipboard settings only, not to %s.", u.Action)
			}
		}
		if len(sp.StorageConnectors) > 1 {
			return nil, errInvalid("Only one storage connector (HOME_FOLDER) can be given.")
		}
	}
	return m.updateDirProps(ctx, c, in.ResourceID, func(_ store.Tx, d *directoryRec, p *dirPropsRec) error {
		if d.WorkspaceType != "POOLS" && sp != nil && (len(sp.StorageConnectors) > 0 || len(sp.UserSettings) > 0) {
			return errUnsupported("User settings and storage connectors apply to WorkSpaces Pools directories; %s is a PERSONAL directory.", in.ResourceID)
		}
		if sp == nil {
			p.Streaming = nil
			return nil
		}
		cp := *sp
		p.Streaming = &cp
		return nil
	})
}

var caARNRe = mustRe(`^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority/[0-9a-f-]+$`)

func (m *Module) modifySaml(ctx context.Context, c *gateway.Call, in *modifySamlIn) (*struct{}, error) {
	for _, d := range in.PropertiesToDelete {
		if d != "SAML_PROPERTIES_USER_ACCESS_URL" && d != "SAML_PROPERTIES_RELAY_STATE_PARAMETER_NAME" {
			return nil, errInvalid("The property to delete %q is not valid.", d)
		}
	}
	if in.SamlProperties == nil && len(in.PropertiesToDelete) == 0 {
		return nil, errInvalid("Give SamlProperties or PropertiesToDelete.")
	}
	return m.updateDirProps(ctx, c, in.ResourceID, func(_ store.Tx, _ *directoryRec, p *dirPropsRec) error {
		cur := samlProps{Status: "DISABLED"}
		if p.Saml != nil {
			cur = *p.Saml
		}
		if s := in.SamlProperties; s != nil {
			if s.Status != "" {
				cur.Status = s.Status
			}
			if s.UserAccessURL != "" {
				cur.UserAccessURL = s.UserAccessURL
			}
			if s.RelayStateParameterName != "" {
				cur.RelayStateParameterName = s.RelayStateParameterName
			}
		}
		for _, d := range in.PropertiesToDelete {
			if d == "SAML_PROPERTIES_USER_ACCESS_URL" {
				cur.UserAccessURL = ""
			} else {
				cur.RelayStateParameterName = ""
			}
		}
		if cur.Status != "DISABLED" && cur.UserAccessURL == "" {
			return errInvalid("SAML authentication %s needs a UserAccessUrl (the identity provider's sign-in URL).", cur.Status)
		}
		if cur.Status == "DISABLED" && p.CBA != nil && p.CBA.Status == "ENABLED" {
			return errUnsupported("Certificate-based authentication is ENABLED on %s; disable it before disabling SAML.", in.ResourceID)
		}
		p.Saml = &cur
		return nil
	})
}

func (m *Module) modifyCBA(ctx context.Context, c *gateway.Call, in *modifyCBAIn) (*struct{}, error) {
	for _, d := range in.PropertiesToDelete {
		if d != "CERTIFICATE_BASED_AUTH_PROPERTIES_CERTIFICATE_AUTHORITY_ARN" {
			return nil, errInvalid("The property to delete %q is not valid.", d)
		}
	}
	if in.CertificateBasedAuthProperties == nil && len(in.PropertiesToDelete) == 0 {
		return nil, errInvalid("Give CertificateBasedAuthProperties or PropertiesToDelete.")
	}
	if p := in.CertificateBasedAuthProperties; p != nil && p.CertificateAuthorityArn != "" {
		if !caARNRe.MatchString(p.CertificateAuthorityArn) {
			return nil, errInvalid("The certificate authority ARN %s is not an AWS Private CA certificate authority ARN.", p.CertificateAuthorityArn)
		}
		parts := strings.Split(p.CertificateAuthorityArn, ":")
		if parts[3] != c.Region || parts[4] != c.Account {
			return nil, errInvalid("The certificate authority %s must be in the directory's account %s and Region %s.", p.CertificateAuthorityArn, c.Account, c.Region)
		}
	}
	return m.updateDirProps(ctx, c, in.ResourceID, func(_ store.Tx, _ *directoryRec, p *dirPropsRec) error {
		cur := cbaProps{Status: "DISABLED"}
		if p.CBA != nil {
			cur = *p.CBA
		}
		if s := in.CertificateBasedAuthProperties; s != nil {
			if s.Status != "" {
				cur.Status = s.Status
			}
			if s.CertificateAuthorityArn != "" {
				cur.CertificateAuthorityArn = s.CertificateAuthorityArn
			}
		}
		if len(in.PropertiesToDelete) > 0 {
			cur.CertificateAuthorityArn = ""
		}
		if cur.Status == "ENABLED" {
			if cur.CertificateAuthorityArn == "" {
				return errInvalid("Certificate-based authentication needs a CertificateAuthorityArn.")
			}
			if p.Saml == nil || p.Saml.Status == "DISABLED" {
				return errUnsupported("Certificate-based authentication needs SAML 2.0 authentication enabled on %s (ModifySamlProperties).", in.ResourceID)
			}
		}
		p.CBA = &cur
		return nil
	})
}

// fipsRegions are the Regions with FIPS-validated WorkSpaces endpoints.
var fipsRegions = map[string]bool{"us-east-1": true, "us-west-2": true, "ca-central-1": true, "us-gov-west-1": true}

func (m *Module) modifyEncryption(ctx context.Context, c *gateway.Call, in *modifyEncryptionIn) (*struct{}, error) {
	if in.EndpointEncryptionMode == "FIPS_VALIDATED" && !fipsRegions[c.Region] {
		return nil, errUnsupported("FIPS-validated endpoint encryption is not available in %s.", c.Region)
	}
	return m.updateDirProps(ctx, c, in.DirectoryID, func(tx store.Tx, _ *directoryRec, p *dirPropsRec) error {
		if p.Encryption == in.EndpointEncryptionMode || (p.Encryption == "" && in.EndpointEncryptionMode == "STANDARD_TLS") {
			return nil
		}
		// The mode changes only while the directory has no WorkSpaces.
		busy := false
		err := store.ScanJSON[desktopRec](ctx, tx, tDesktops, prefix(c.Account, c.Region), "", 0, func(_ string, w *desktopRec) error {
			if w.DirectoryID == in.DirectoryID && w.State != "TERMINATED" {
				busy = true
				return store.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if busy {
			return errUnsupported("The endpoint encryption mode of %s can be changed only while it has no WorkSpaces.", in.DirectoryID)
		}
		p.Encryption = in.EndpointEncryptionMode
		return nil
	})
}

var loginLocaleRe = mustRe(`^[a-z]{2}_[A-Z]{2}$`)

func (m *Module) importBranding(ctx context.Context, c *gateway.Call, in *importBrandingIn) (*brandingOut, error) {
	plats := []struct {
		name string
		in   *brandInput
	}{{"DeviceTypeWindows", in.DeviceTypeWindows.input()}, {"DeviceTypeOsx", in.DeviceTypeOsx.input()}, {"DeviceTypeAndroid", in.DeviceTypeAndroid.input()},
		{"DeviceTypeIos", in.DeviceTypeIos.input()}, {"DeviceTypeLinux", in.DeviceTypeLinux.input()}, {"DeviceTypeWeb", in.DeviceTypeWeb.input()}}
	n := 0
	for _, pl := range plats {
		if pl.in == nil {
			continue
		}
		n++
		for loc, msg := range pl.in.LoginMessage {
			if !loginLocaleRe.MatchString(loc) {
				return nil, errInvalid("The login message locale %q is not valid (for example en_US).", loc)
			}
			if len(msg) > 2000 {
				return nil, errInvalid("The login message for %s is longer than 2000 characters.", loc)
			}
		}
	}
	if n == 0 {
		return nil, errInvalid("Give the branding of at least one platform.")
	}
	out := &brandingOut{}
	_, err := m.updateDirProps(ctx, c, in.ResourceID, func(tx store.Tx, _ *directoryRec, p *dirPropsRec) error {
		if p.Branding == nil {
			p.Branding = map[string]*brandAttr{}
		}
		for _, pl := range plats {
			if pl.in == nil {
				continue
			}
			b := &brandAttr{SupportEmail: ptr.Deref(pl.in.SupportEmail), SupportLink: ptr.Deref(pl.in.SupportLink),
				ForgotPasswordLink: ptr.Deref(pl.in.ForgotPasswordLink), LoginMessage: pl.in.LoginMessage}
			if b.SupportEmail != "" && b.SupportLink != "" {
				return errInvalid("Give SupportEmail or SupportLink for %s, not both.", pl.name)
			}
			logos := []struct {
				kind string
				data []byte
				url  *string
			}{{"logo", pl.in.Logo, &b.LogoURL}, {"logo2x", pl.in.Logo2x, &b.Logo2xURL}, {"logo3x", pl.in.Logo3x, &b.Logo3xURL}}
			for _, l := range logos {
				lk := key(c.Account, c.Region, in.ResourceID) + "/" + pl.name + "/" + l.kind
				if err := deleteIfAny(ctx, tx, tLogos, lk); err != nil {
					return err
				}
				if len(l.data) == 0 {
					continue
				}
				if err := tx.Put(ctx, tLogos, lk, l.data); err != nil {
					return err
				}
				sum := sha256.Sum256(l.data)
				*l.url = "https://workspaces-client-branding-" + c.Region + ".s3." + c.Region + ".amazonaws.com/" + c.Account + "/" +
					in.ResourceID + "/" + pl.name + "/" + l.kind + "-" + hex.EncodeToString(sum[:8]) + ".png"
			}
			p.Branding[pl.name] = b
		}
		*out = brandingFrom(p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func brandingFrom(p *dirPropsRec) brandingOut {
	b := p.Branding
	return brandingOut{DeviceTypeWindows: b["DeviceTypeWindows"], DeviceTypeOsx: b["DeviceTypeOsx"], DeviceTypeAndroid: b["DeviceTypeAndroid"],
		DeviceTypeIos: b["DeviceTypeIos"], DeviceTypeLinux: b["DeviceTypeLinux"], DeviceTypeWeb: b["DeviceTypeWeb"]}
}

func (m *Module) describeBranding(ctx context.Context, c *gateway.Call, in *brandingDirIn) (*brandingOut, error) {
	var out brandingOut
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := getRec[directoryRec](ctx, tx, tDirs, key(c.Account, c.Region, in.ResourceID))
		if err != nil {
			return err
		}
		if d == nil {
			return errNotFound("The directory %s is not registered with Amazon WorkSpaces.", in.ResourceID)
		}
		p, err := m.dirProps(ctx, tx, c.Account, c.Region, in.ResourceID)
		if err != nil {
			return err
		}
		out = brandingFrom(p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

var brandPlatforms = map[string]bool{"DeviceTypeWindows": true, "DeviceTypeOsx": true, "DeviceTypeAndroid": true, "DeviceTypeIos": true, "DeviceTypeLinux": true, "DeviceTypeWeb": true}

func (m *Module) deleteBranding(ctx context.Context, c *gateway.Call, in *deleteBrandingIn) (*struct{}, error) {
	for _, pl := range in.Platforms {
		if !brandPlatforms[pl] {
			return nil, errInvalid("The platform %q is not valid.", pl)
		}
	}
	return m.updateDirProps(ctx, c, in.ResourceID, func(tx store.Tx, _ *directoryRec, p *dirPropsRec) error {
		for _, pl := range in.Platforms {
			delete(p.Branding, pl)
			for _, kind := range []string{"logo", "logo2x", "logo3x"} {
				if err := deleteIfAny(ctx, tx, tLogos, key(c.Account, c.Region, in.ResourceID)+"/"+pl+"/"+kind); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// renderDirProps fills a registered directory's description with its
// properties, or the real service's defaults for those never set.
func renderDirProps(d *directoryRec, p *dirPropsRec, wd *WorkspaceDirectory) {
	wd.SelfservicePermissions = defaultSelfService(d.EnableSelfService)
	wd.WorkspaceAccessProperties = defaultAccess()
	wd.SamlProperties = &samlProps{Status: "DISABLED"}
	wd.CertificateBasedAuthProperties = &cbaProps{Status: "DISABLED"}
	wd.EndpointEncryptionMode = "STANDARD_TLS"
	wd.IPGroupIDs = []string{}
	if p == nil {
		return
	}
	if p.SelfService != nil {
		wd.SelfservicePermissions = p.SelfService
	}
	if p.Access != nil {
		wd.WorkspaceAccessProperties = p.Access
	}
	if p.Saml != nil {
		wd.SamlProperties = p.Saml
	}
	if p.CBA != nil {
		wd.CertificateBasedAuthProperties = p.CBA
	}
	if p.Encryption != "" {
		wd.EndpointEncryptionMode = p.Encryption
	}
	if p.IPGroups != nil {
		wd.IPGroupIDs = p.IPGroups
	}
	wd.StreamingProperties = p.Streaming
}

// deleteIfAny deletes a record that may not exist.
func deleteIfAny(ctx context.Context, tx store.Tx, table, k string) error {
	if err := tx.Delete(ctx, table, k); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
