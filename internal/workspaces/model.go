package workspaces

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/store"
)

// Store tables of the WorkSpaces module. Keys are ACCOUNT/REGION/ID unless noted.
const (
	tAccounts   = "ws_accounts"    // ACCOUNT/REGION: BYOL settings
	tAccountMod = "ws_account_mod" // ACCOUNT/REGION/TIME: account modifications
	tDirs       = "ws_directories" // registered directories
	tImages     = "ws_images"
	tImagePerm  = "ws_image_perms" // ACCOUNT/REGION/IMAGEID/SHAREDACCOUNT (owner side)
	tImageShare = "ws_image_share" // SHAREDACCOUNT/REGION/IMAGEID -> owner account (recipient side)
	tBundles    = "ws_bundles"
	tDesktops   = "ws_workspaces"
	tUsage      = "ws_usage" // ACCOUNT/REGION/WSID/DAY -> seconds AVAILABLE
	tIdem       = "ws_names" // ACCOUNT/REGION/kind/NAME -> id (uniqueness)
)

// Tag is a WorkSpaces tag.
type Tag struct {
	Key   string  `json:"Key" v:"required,min=1,max=127"`
	Value *string `json:"Value,omitempty" v:"max=255"`
}

// Tags is a stored tag set.
type Tags map[string]string

// List renders tags in key order.
func (t Tags) List() []Tag {
	keys := sortedKeys(t)
	out := make([]Tag, 0, len(keys))
	for _, k := range keys {
		v := t[k]
		out = append(out, Tag{Key: k, Value: &v})
	}
	return out
}

// accountRec is an account's WorkSpaces settings in one region.
type accountRec struct {
	DedicatedTenancySupport string `json:"support"` // ENABLED or DISABLED
	ManagementCidrRange     string `json:"cidr,omitempty"`
}

// accountModRec is one ModifyAccount request.
type accountModRec struct {
	ModificationState       string    `json:"state"`
	DedicatedTenancySupport string    `json:"support"`
	ManagementCidrRange     string    `json:"cidr"`
	StartTime               time.Time `json:"start"`
}

// directoryRec is a registered directory.
type directoryRec struct {
	DirectoryID       string                    `json:"id"`
	State             string                    `json:"state"`
	Tenancy           string                    `json:"tenancy"`
	SubnetIDs         []string                  `json:"subnets"`
	SecurityGroupID   string                    `json:"sg"`
	RegistrationCode  string                    `json:"regcode"`
	EnableSelfService bool                      `json:"self_service"`
	Name              string                    `json:"name,omitempty"`
	Description       string                    `json:"description,omitempty"`
	UserIdentityType  string                    `json:"user_identity_type,omitempty"`
	WorkspaceType     string                    `json:"workspace_type,omitempty"`
	Creation          DefaultCreationProperties `json:"creation"`
	Tags              Tags                      `json:"tags,omitempty"`
	Registered        time.Time                 `json:"registered"`
}

// DefaultCreationProperties are a directory's defaults for new desktops.
type DefaultCreationProperties struct {
	EnableInternetAccess            *bool   `json:"EnableInternetAccess,omitempty"`
	DefaultOu                       *string `json:"DefaultOu,omitempty"`
	CustomSecurityGroupId           *string `json:"CustomSecurityGroupId,omitempty"`
	UserEnabledAsLocalAdministrator *bool   `json:"UserEnabledAsLocalAdministrator,omitempty"`
	EnableMaintenanceMode           *bool   `json:"EnableMaintenanceMode,omitempty"`
	InstanceIamRoleArn              *string `json:"InstanceIamRoleArn,omitempty"`
}

// imageRec is a WorkSpaces image.
type imageRec struct {
	ImageID          string         `json:"id"`
	Name             string         `json:"name"`
	Description      string         `json:"description,omitempty"`
	OwnerAccountID   string         `json:"owner"`
	State            string         `json:"state"` // PENDING, AVAILABLE, ERROR
	RequiredTenancy  string         `json:"tenancy"`
	OperatingSystem  string         `json:"os"` // WINDOWS / LINUX (OperatingSystem.Type)
	OSName           string         `json:"os_name,omitempty"`
	IngestionProcess string         `json:"ingestion,omitempty"`
	Protocol         string         `json:"protocol,omitempty"` // PCOIP, WSP, BYOP
	SourceEC2Image   string         `json:"ec2_image,omitempty"`
	SourceWorkspace  string         `json:"source_workspace,omitempty"`
	SourceImage      string         `json:"source_image,omitempty"`
	SourceRegion     string         `json:"source_region,omitempty"`
	RootVolumeSize   int            `json:"root_size,omitempty"`
	ErrorCode        string         `json:"error_code,omitempty"`
	ErrorMessage     string         `json:"error_message,omitempty"`
	ErrorDetails     []ErrorDetails `json:"error_details,omitempty"`
	Created          time.Time      `json:"created"`
	Tags             Tags           `json:"tags,omitempty"`
}

// ErrorDetails is an image validation failure.
type ErrorDetails struct {
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// bundleRec is a custom bundle.
type bundleRec struct {
	BundleID     string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description,omitempty"`
	Owner        string    `json:"owner"`
	ImageID      string    `json:"image"`
	ComputeType  string    `json:"compute"`
	RootCapacity string    `json:"root"`
	UserCapacity string    `json:"user"`
	State        string    `json:"state"`
	BundleType   string    `json:"type"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	Tags         Tags      `json:"tags,omitempty"`
}

// Transition is one state change of a desktop.
type Transition struct {
	State string    `json:"state"`
	Time  time.Time `json:"time"`
}

// maxHistory bounds the transitions kept per desktop.
const maxHistory = 64

// volumeRec is an EBS volume of a desktop.
type volumeRec struct {
	VolumeID  string `json:"id"`
	SizeGib   int    `json:"size"`
	Encrypted bool   `json:"encrypted,omitempty"`
	// EncryptedDataKey is the volume's data key encrypted under the KMS key
	// (kept with the volume's metadata, as EBS does).
	EncryptedDataKey []byte   `json:"edk,omitempty"`
	GrantIDs         []string `json:"grants,omitempty"`
	ImageID          string   `json:"image,omitempty"` // root volumes: the image it was made from
}

// desktopRec is a WorkSpace.
type desktopRec struct {
	WorkspaceID      string              `json:"id"`
	DirectoryID      string              `json:"dir"`
	UserName         string              `json:"user"`
	WorkspaceName    string              `json:"name,omitempty"`
	BundleID         string              `json:"bundle"`
	State            string              `json:"state"`
	PrevState        string              `json:"prev_state,omitempty"` // state to return to after UPDATING/MAINTENANCE/SUSPENDED
	SubnetID         string              `json:"subnet"`
	IPAddress        string              `json:"ip"`
	ComputerName     string              `json:"computer"`
	ErrorCode        string              `json:"error_code,omitempty"`
	ErrorMessage     string              `json:"error_message,omitempty"`
	Properties       WorkspaceProperties `json:"props"`
	Modifications    []ModificationState `json:"mods,omitempty"`
	VolumeKey        string              `json:"kms_key,omitempty"`
	RootEncrypted    bool                `json:"root_enc,omitempty"`
	UserEncrypted    bool                `json:"user_enc,omitempty"`
	UserSID          string              `json:"sid,omitempty"`
	WorkspaceGrant   string              `json:"ws_grant,omitempty"`
	Root             volumeRec           `json:"root"`
	User             volumeRec           `json:"uservol"`
	SnapshotBase     *time.Time          `json:"snapshot_base,omitempty"`
	UnhealthySince   *time.Time          `json:"unhealthy_since,omitempty"`
	Tags             Tags                `json:"tags,omitempty"`
	Created          time.Time           `json:"created"`
	StateSince       time.Time           `json:"state_since"`
	AvailableSince   *time.Time          `json:"available_since,omitempty"`
	LastVolumeResize time.Time           `json:"last_volume_resize,omitzero"`
	LastComputeUp    time.Time           `json:"last_compute_up,omitzero"`
	LastComputeDown  time.Time           `json:"last_compute_down,omitzero"`
	// MaintGroup is the id of the job that schedules this desktop's
	// monthly maintenance, with the other desktops of its group.
	MaintGroup   string `json:"maint_group,omitempty"`
	MigratedFrom string `json:"migrated_from,omitempty"`
	MigratingTo  string `json:"migrating_to,omitempty"`
	// AwaitGuest is set while the step waits for the desktop's guest
	// (--runtime): the old one to exit, or the new one to be ready;
	// GuestBoot is the Seq the guest was last started for.
	AwaitGuest bool         `json:"await_guest,omitempty"`
	GuestBoot  int64        `json:"guest_boot,omitempty"`
	Seq        int64        `json:"seq"`
	History    []Transition `json:"history,omitempty"` // bumps on every change; a job carries the seq it expects
}

// WorkspaceProperties is the model's WorkspaceProperties.
type WorkspaceProperties struct {
	RunningMode                         *string            `json:"RunningMode,omitempty" v:"enum=AUTO_STOP|ALWAYS_ON|MANUAL"`
	RunningModeAutoStopTimeoutInMinutes *int               `json:"RunningModeAutoStopTimeoutInMinutes,omitempty"`
	RootVolumeSizeGib                   *int               `json:"RootVolumeSizeGib,omitempty"`
	UserVolumeSizeGib                   *int               `json:"UserVolumeSizeGib,omitempty"`
	ComputeTypeName                     *string            `json:"ComputeTypeName,omitempty" v:"enum=VALUE|STANDARD|PERFORMANCE|POWER|GRAPHICS|POWERPRO|GENERALPURPOSE_4XLARGE|GENERALPURPOSE_8XLARGE|GRAPHICSPRO|GRAPHICS_G4DN|GRAPHICSPRO_G4DN|GRAPHICS_G6_XLARGE|GRAPHICS_G6_2XLARGE|GRAPHICS_G6_4XLARGE|GRAPHICS_G6_8XLARGE|GRAPHICS_G6_16XLARGE|GRAPHICS_GR6_4XLARGE|GRAPHICS_GR6_8XLARGE|GRAPHICS_G6F_LARGE|GRAPHICS_G6F_XLARGE|GRAPHICS_G6F_2XLARGE|GRAPHICS_G6F_4XLARGE|GRAPHICS_GR6F_4XLARGE"`
	Protocols                           []string           `json:"Protocols,omitempty" v:"enum=PCOIP|WSP"`
	OperatingSystemName                 *string            `json:"OperatingSystemName,omitempty" v:"enum=AMAZON_LINUX_2|UBUNTU_18_04|UBUNTU_20_04|UBUNTU_22_04|UNKNOWN|WINDOWS_10|WINDOWS_11|WINDOWS_7|WINDOWS_SERVER_2016|WINDOWS_SERVER_2019|WINDOWS_SERVER_2022|WINDOWS_SERVER_2025|RHEL_8|ROCKY_8"`
	GlobalAccelerator                   *GlobalAccelerator `json:"GlobalAccelerator,omitempty"`
}

// GlobalAccelerator is the model's GlobalAcceleratorForWorkSpace.
type GlobalAccelerator struct {
	Mode              *string `json:"Mode,omitempty" v:"enum=ENABLED_AUTO|DISABLED|INHERITED"`
	PreferredProtocol *string `json:"PreferredProtocol,omitempty" v:"enum=TCP|NONE|INHERITED"`
}

// ModificationState is the model's ModificationState.
type ModificationState struct {
	Resource string `json:"Resource"`
	State    string `json:"State"`
}

// ComputeEnum lists the model's Compute values.
const ComputeEnum = "VALUE|STANDARD|PERFORMANCE|POWER|GRAPHICS|POWERPRO|GENERALPURPOSE_4XLARGE|GENERALPURPOSE_8XLARGE|GRAPHICSPRO|GRAPHICS_G4DN|GRAPHICSPRO_G4DN|GRAPHICS_G6_XLARGE|GRAPHICS_G6_2XLARGE|GRAPHICS_G6_4XLARGE|GRAPHICS_G6_8XLARGE|GRAPHICS_G6_16XLARGE|GRAPHICS_GR6_4XLARGE|GRAPHICS_GR6_8XLARGE|GRAPHICS_G6F_LARGE|GRAPHICS_G6F_XLARGE|GRAPHICS_G6F_2XLARGE|GRAPHICS_G6F_4XLARGE|GRAPHICS_GR6F_4XLARGE"

// key builds ACCOUNT/REGION/ID keys.
func key(account, region, id string) string { return account + "/" + region + "/" + id }

// prefix builds the ACCOUNT/REGION/ scan prefix.
func prefix(account, region string) string { return account + "/" + region + "/" }

// orderedIDs is the last value handed out by newOrderedID.
var orderedIDs atomic.Uint64

// orderedIDEpoch is where the ordered ids' clock starts.
var orderedIDEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// newOrderedID returns a resource id such as ws-0k3xa81f2 (prefix + 9 base36
// digits) that sorts after every id this process handed out before: the
// digits count 100 µs ticks of the wall clock (ids are names, not domain
// time), bumped past the last one. Records keyed by such ids are appended
// at the end of their table instead of spread over it, which keeps the
// pages each commit writes few. Another node may hand out the same id at
// the same instant: callers create the record and fall back to newID when
// the id exists.
func newOrderedID(p string) string {
	b := orderedDigits()
	return p + string(b[:])
}

// orderedDigits returns newOrderedID's next 9 digits.
func orderedDigits() (b [9]byte) { return orderedDigitsOf(orderedRun(1)) }

// orderedRun takes the next n values of newOrderedID's counter at once
// (one reading of the clock and one swap of the counter, as one value
// took) and returns the first; the others follow it, one apart.
func orderedRun(n uint64) uint64 {
	t := uint64(time.Since(orderedIDEpoch) / (100 * time.Microsecond))
	for {
		last := orderedIDs.Load()
		first := max(last+1, t)
		if orderedIDs.CompareAndSwap(last, first+n-1) {
			return first
		}
	}
}

// orderedDigitsOf spells the counter's value t as newOrderedID's 9 digits.
func orderedDigitsOf(t uint64) (b [9]byte) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = ids.Base36[t%36]
		t /= 36
	}
	return b
}

// newID returns a random resource id such as ws-1a2b3c4d5 (prefix + 9
// base36 chars).
func newID(p string) string { return p + ids.FromAlphabet(ids.Base36, 9) }

// ARN builds a WorkSpaces resource ARN.
func ARN(region, account, kind, id string) string {
	return "arn:aws:workspaces:" + region + ":" + account + ":" + kind + "/" + id
}

// Errors of the WorkSpaces model.
func errInvalid(format string, a ...any) error {
	return awsproto.Errorf("InvalidParameterValuesException", format, a...)
}
func errNotFound(format string, a ...any) error {
	return awsproto.Errorf("ResourceNotFoundException", format, a...)
}
func errState(format string, a ...any) error {
	return awsproto.Errorf("InvalidResourceStateException", format, a...)
}
func errUnsupported(format string, a ...any) error {
	return awsproto.Errorf("OperationNotSupportedException", format, a...)
}
func errUnsupportedConfig(format string, a ...any) error {
	return awsproto.Errorf("UnsupportedWorkspaceConfigurationException", format, a...)
}
func errLimit(format string, a ...any) error {
	return awsproto.Errorf("ResourceLimitExceededException", format, a...)
}
func errExists(format string, a ...any) error {
	return awsproto.Errorf("ResourceAlreadyExistsException", format, a...)
}
func errAssociated(format string, a ...any) error {
	return awsproto.Errorf("ResourceAssociatedException", format, a...)
}

// pageToken encodes an opaque pagination token (the last key seen).
func pageToken(last string) *string {
	if last == "" {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(last))
	return &s
}

// parseToken decodes a pagination token; within must prefix it.
func parseToken(tok *string, within string) (string, error) {
	if tok == nil || *tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil || !strings.HasPrefix(string(b), within) {
		return "", errInvalid("The NextToken value is not valid.")
	}
	return string(b), nil
}

func getRec[T any](ctx context.Context, tx store.Tx, table, k string) (*T, error) {
	v, err := store.GetJSON[T](ctx, tx, table, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

func putRec(ctx context.Context, tx store.Tx, table, k string, v any) error {
	return store.PutJSON(ctx, tx, table, k, v)
}

// clone returns a deep copy of a record (through its JSON form).
func clone[T any](v *T) (*T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("copy %T: %w", v, err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("copy %T: %w", v, err)
	}
	return out, nil
}

// splitKey splits ACCOUNT/REGION/REST into its three parts.
func splitKey(k string) [3]string {
	// strings.SplitN(k, "/", 3), without allocating the slice: every
	// state change of a desktop splits its key.
	var out [3]string
	first, rest, ok := strings.Cut(k, "/")
	out[0] = first
	if ok {
		out[1], out[2], _ = strings.Cut(rest, "/")
	}
	return out
}

func isAWSNotFound(err error) bool {
	ae := awsproto.As(err)
	return ae != nil && ae.Code == "ResourceNotFoundException"
}
