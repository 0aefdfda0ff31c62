package workspaces

import (
	"context"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/store"
)

// EC2 is what WorkSpaces needs from the EC2 service. Every method runs in
// the caller's transaction. Lookups of missing things return store.ErrNotFound.
type EC2 interface {
	// Image returns an AMI visible to account in region.
	Image(ctx context.Context, tx store.Tx, account, region, imageID string) (*SourceImage, error)
	// Subnet returns a subnet of account in region.
	Subnet(ctx context.Context, tx store.Tx, account, region, subnetID string) (*Subnet, error)
	// SubnetsByID returns the subnets ids of account in region, in order,
	// read together (one statement on store/postgres); nil for an id it
	// does not answer (no subnet, or a record that does not decode), for
	// which Subnet answers why.
	SubnetsByID(ctx context.Context, tx store.Tx, account, region string, ids []string) ([]*Subnet, error)
	// VPCCIDRs lists the CIDR blocks of the account's VPCs in region.
	VPCCIDRs(ctx context.Context, tx store.Tx, account, region string) ([]string, error)
	// CreateSecurityGroup creates a security group in a VPC and returns its id.
	CreateSecurityGroup(ctx context.Context, tx store.Tx, account, region, vpcID, name, description string) (string, error)
	// SecurityGroupVPC returns the VPC of a security group.
	SecurityGroupVPC(ctx context.Context, tx store.Tx, account, region, groupID string) (string, error)
}

// SourceImage is an EC2 AMI as WorkSpaces sees it for import.
type SourceImage struct {
	ImageID            string
	Name               string
	Description        string
	OwnerID            string
	State              string // available, pending, failed...
	ImageType          string // machine
	Architecture       string // x86_64
	PlatformDetails    string // "Windows BYOL", "Windows"...
	VirtualizationType string // hvm
	BootMode           string // uefi, legacy-bios
	EnaSupport         bool
	RootVolumeType     string
	RootVolumeSize     int
	Encrypted          bool
	OSVersion          string // "Windows 10 Enterprise 22H2", "Windows Server 2022"
}

// Subnet is an EC2 subnet.
type Subnet struct {
	SubnetID string
	VPCID    string
	CIDR     string
	AZ       string
}

// Directories is what WorkSpaces needs from Directory Service.
type Directories interface {
	// Directory returns a directory of account in region.
	Directory(ctx context.Context, tx store.Tx, account, region, directoryID string) (*Directory, error)
	// Directories lists the account's directories in region.
	Directories(ctx context.Context, tx store.Tx, account, region string) ([]*Directory, error)
	// User returns a directory user by SAM account name (case-insensitive).
	User(ctx context.Context, tx store.Tx, account, region, directoryID, userName string) (*DirectoryUser, error)
}

// Directory is a Directory Service directory.
type Directory struct {
	DirectoryID      string
	Name             string // DNS name, e.g. corp.example.com
	ShortName        string
	Alias            string
	Type             string // MicrosoftAD, SimpleAD, ADConnector
	Stage            string // Active, Creating, ...
	VPCID            string
	SubnetIDs        []string
	DNSIPs           []string
	CustomerUserName string
}

// DirectoryUser is a user of a directory.
type DirectoryUser struct {
	SAMAccountName string
	SID            string
	Enabled        bool
}

// VolumeKeys is what WorkSpaces and EBS need from KMS to encrypt a
// desktop's volumes, as the KMS guide describes. Every call runs in the
// caller's transaction and is recorded in CloudTrail as made by the service
// on the customer's behalf.
type VolumeKeys interface {
	// ResolveKey resolves a key reference (id, ARN, alias name or alias ARN)
	// of account in region to its key ARN; it fails with the KMS error
	// (NotFoundException, DisabledException, KMSInvalidStateException) when
	// the key cannot be used for new volumes.
	ResolveKey(ctx context.Context, tx store.Tx, account, region, keyRef string) (keyARN string, err error)
	// CreateGrant creates a grant on keyARN for grantee with operations and
	// an encryption-context-subset constraint; it returns the grant id.
	CreateGrant(ctx context.Context, tx store.Tx, g GrantRequest) (grantID string, err error)
	// GenerateDataKeyWithoutPlaintext returns a new data key encrypted under
	// keyARN with the encryption context, as EBS asks for it.
	GenerateDataKeyWithoutPlaintext(ctx context.Context, tx store.Tx, account, region, keyARN string, encCtx map[string]string, grantID string) ([]byte, error)
	// Decrypt decrypts a volume's data key with its encryption context (on
	// attach). It fails when the key is disabled or pending deletion.
	Decrypt(ctx context.Context, tx store.Tx, account, region, keyARN string, blob []byte, encCtx map[string]string, grantID string) error
	// DecryptVolumeKey is Decrypt returning the plaintext data key (the
	// runtime seals the volume at rest under it).
	DecryptVolumeKey(ctx context.Context, tx store.Tx, account, region, keyARN string, blob []byte, encCtx map[string]string, grantID string) ([]byte, error)
	// RetireGrant retires a grant (on terminate).
	RetireGrant(ctx context.Context, tx store.Tx, account, region, keyARN, grantID string) error
	// DescribeKey is the call WorkSpaces makes under its own grant on the
	// key (grantID, step 1 of the KMS guide) before it uses the key for a
	// desktop's volumes: it fails with AccessDeniedException when that
	// grant was retired or revoked, or no longer lets WorkSpaces use the key.
	DescribeKey(ctx context.Context, tx store.Tx, account, region, keyARN, grantID string) error
}

// GrantRequest is a grant WorkSpaces or EBS creates for a desktop.
type GrantRequest struct {
	Account, Region string
	KeyARN          string
	Grantee         string   // grantee principal (service or role ARN)
	Retiring        string   // retiring principal
	Operations      []string // e.g. Decrypt, GenerateDataKeyWithoutPlaintext, CreateGrant, RetireGrant
	ContextSubset   map[string]string
	Name            string
	CreatedBy       string // principal ARN that asked (the caller of CreateWorkspaces), or the service
	// Caller is the customer's call WorkSpaces creates the grant for (step
	// 1): KMS authorizes it as that caller's kms:CreateGrant through
	// WorkSpaces (key policy and IAM policies). Nil for the grants WorkSpaces
	// creates itself (step 2), which ride on its own grant, ParentGrantID.
	Caller        *gateway.Call
	ParentGrantID string
	// GrantID is the id the grant is to get, chosen by the caller (64
	// random hex digits, NewGrantID) so that a record can hold it before
	// the grant is made: a creation writes its desktops with their grants'
	// ids, once. Empty: the key service picks one. A key service that
	// returns another id is not wrong: the caller keeps the id returned.
	GrantID string
}

// NewGrantID returns a grant id as KMS makes them: 64 random hex digits.
func NewGrantID() string { return ids.Hex(64) }
