// Package config holds deskplane's configuration: the accounts, IAM users
// with access keys and policies, directories with their users, VPCs, subnets
// and EC2 images that the server starts with, and the settings that must be
// equal on every node (quotas, faults, the admin token). With no file, the
// documented default environment (Default) is used.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Config is the whole configuration file (JSON).
type Config struct {
	// Regions seeded with each account's VPCs, directories and images.
	Regions []string `json:"regions,omitempty"`
	// Accounts declared at start.
	Accounts []Account `json:"accounts"`
	// Quotas per account and region.
	Quotas Quotas `json:"quotas,omitempty"`
	// AdminToken is the bearer token of the state-changing /_deskplane/
	// endpoints; empty means a random one printed at start.
	AdminToken string `json:"admin_token,omitempty"`
	// Faults are injected from the start.
	Faults *Faults `json:"faults,omitempty"`
	// KMSMasterKeyFile is the file holding the KMS master key (base64 of 32
	// bytes; created 0600 when missing). Empty: DataDir/master.key. Nodes
	// sharing a PostgreSQL store must share the key: this path (on shared
	// storage) or $DESKPLANE_MASTER_KEY.
	KMSMasterKeyFile string `json:"kms_master_key_file,omitempty"`
	// AllowedHosts are the host names, besides IP addresses, localhost,
	// *.localhost, the listen address's name and the machine's host name,
	// that requests may name in their Host header (DNS rebinding
	// protection). ".example.com" allows a domain and its subdomains, "*"
	// any name.
	AllowedHosts []string `json:"allowed_hosts,omitempty"`
}

// Account is one AWS account.
type Account struct {
	ID    string `json:"id"`
	Alias string `json:"alias,omitempty"`
	// BYOLEligible accounts may call ListAvailableManagementCidrRanges and
	// ModifyAccount (the customer has been enabled for BYOL).
	BYOLEligible bool   `json:"byol_eligible"`
	Users        []User `json:"users,omitempty"`
	// Roles are IAM roles created in the account at first start (a role
	// changed or deleted through the API afterwards keeps those changes).
	Roles       []Role      `json:"roles,omitempty"`
	Directories []Directory `json:"directories,omitempty"`
	VPCs        []VPC       `json:"vpcs,omitempty"`
	Images      []Image     `json:"images,omitempty"`
}

// User is an IAM user with access keys and policies.
type User struct {
	Name       string            `json:"name"`
	AccessKeys []AccessKey       `json:"access_keys,omitempty"`
	Policies   map[string]any    `json:"policies,omitempty"`         // inline policies by name (JSON documents)
	Managed    []string          `json:"managed_policies,omitempty"` // attached managed policy ARNs
	Tags       map[string]string `json:"tags,omitempty"`
}

// Role is an IAM role: the trust policy says who may assume it, the inline
// and managed policies what its sessions may do.
type Role struct {
	Name string `json:"name"`
	// Path defaults to "/".
	Path        string `json:"path,omitempty"`
	Description string `json:"description,omitempty"`
	// TrustPolicy is the role's trust (assume role) policy document.
	TrustPolicy any `json:"trust_policy"`
	// Policies are inline policies by name (JSON documents).
	Policies map[string]any `json:"policies,omitempty"`
	// Managed lists attached managed policy ARNs (AWS managed policies,
	// e.g. arn:aws:iam::aws:policy/ReadOnlyAccess).
	Managed []string `json:"managed_policies,omitempty"`
	// MaxSessionDuration in seconds (3600 to 43200; default 3600).
	MaxSessionDuration int               `json:"max_session_duration,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
}

// AccessKey is a long-term key pair.
type AccessKey struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// Directory is an AWS Managed Microsoft AD (or Simple AD / AD Connector).
type Directory struct {
	Name      string              `json:"name"`
	ShortName string              `json:"short_name,omitempty"`
	Type      string              `json:"type,omitempty"`    // MicrosoftAD (default), SimpleAD, ADConnector
	Edition   string              `json:"edition,omitempty"` // Standard or Enterprise
	Users     []DirectoryUser     `json:"users,omitempty"`
	Groups    map[string][]string `json:"groups,omitempty"` // group name -> member user names
}

// DirectoryUser is a user of a directory.
type DirectoryUser struct {
	Name      string `json:"name"`
	GivenName string `json:"given_name,omitempty"`
	Surname   string `json:"surname,omitempty"`
	Email     string `json:"email,omitempty"`
}

// VPC is a VPC with subnets.
type VPC struct {
	CIDR    string   `json:"cidr"`
	Subnets []Subnet `json:"subnets"`
}

// Subnet is one subnet; AZ is a suffix ("a", "b") or a full zone name.
type Subnet struct {
	CIDR string `json:"cidr"`
	AZ   string `json:"az"`
}

// Image is an EC2 AMI.
type Image struct {
	Name               string `json:"name"`
	Description        string `json:"description,omitempty"`
	PlatformDetails    string `json:"platform_details,omitempty"`
	Architecture       string `json:"architecture,omitempty"`
	VirtualizationType string `json:"virtualization_type,omitempty"`
	EnaSupport         *bool  `json:"ena_support,omitempty"`
	Hypervisor         string `json:"hypervisor,omitempty"`
	VolumeType         string `json:"volume_type,omitempty"`
	VolumeSize         int    `json:"volume_size,omitempty"`
	BootMode           string `json:"boot_mode,omitempty"`
	// OSVersion describes the guest OS for WorkSpaces import checks, e.g.
	// "Windows 10 Enterprise 22H2", "Windows Server 2022".
	OSVersion string `json:"os_version,omitempty"`
	// GuestCommand is the command each desktop made from this image runs
	// under deskplane serve --runtime process (argv; empty: the built-in
	// "deskplane guest"). It speaks the runtime's control protocol (see
	// internal/runtime).
	GuestCommand []string `json:"guest_command,omitempty"`
}

// Quotas bound resources per account and region.
type Quotas struct {
	Workspaces  int `json:"workspaces,omitempty"`
	Bundles     int `json:"bundles,omitempty"`
	Images      int `json:"images,omitempty"`
	Directories int `json:"directories,omitempty"`
	// WorkspaceInstances and InstanceVolumes bound the WorkSpaces
	// Instances API's instances (those not DEALLOCATED) and volumes.
	WorkspaceInstances int `json:"workspace_instances,omitempty"`
	InstanceVolumes    int `json:"instance_volumes,omitempty"`
	// RequestsPerSecond throttles each account's calls per operation (0: off).
	RequestsPerSecond int `json:"requests_per_second,omitempty"`
}

// Faults are injected failures.
type Faults struct {
	// ProvisionFailRate is the share (0..1) of new desktops that end in ERROR.
	ProvisionFailRate float64 `json:"provision_fail_rate,omitempty"`
	// UnhealthyRate is the share of new desktops that become UNHEALTHY.
	UnhealthyRate float64 `json:"unhealthy_rate,omitempty"`
	// FailWorkspaces lists desktop ids whose next provisioning fails.
	FailWorkspaces []string `json:"fail_workspaces,omitempty"`
	// UnhealthyWorkspaces lists desktop ids that become UNHEALTHY.
	UnhealthyWorkspaces []string `json:"unhealthy_workspaces,omitempty"`
	// Throttle lists operations ("workspaces:StartWorkspaces" or "StartWorkspaces") that always throttle.
	Throttle []string `json:"throttle,omitempty"`
	// ThrottleRate is the share of calls to Throttle operations that are throttled (default 1).
	ThrottleRate float64 `json:"throttle_rate,omitempty"`
	// RegionOutages takes whole regions out, for resilience tests: region →
	// "error" (every call to a regional service there answers
	// ServiceUnavailable, 503) or "throttle" (every call is throttled).
	RegionOutages map[string]string `json:"region_outages,omitempty"`
	// ImpairedRate is the share (0..1) of new desktops that become IMPAIRED.
	ImpairedRate float64 `json:"impaired_rate,omitempty"`
	// ImpairedWorkspaces lists desktop ids that become IMPAIRED: when
	// provisioned, or at once if AVAILABLE when the faults are set (as
	// UnhealthyWorkspaces does for UNHEALTHY).
	ImpairedWorkspaces []string `json:"impaired_workspaces,omitempty"`
	// RunningUnhealthyRate and RunningImpairedRate are the shares (0..1) of
	// AVAILABLE desktops that turn UNHEALTHY (IMPAIRED) at each health
	// check, every HealthCheckMinutes of the server's clock (scaled by the
	// timing profile).
	RunningUnhealthyRate float64 `json:"running_unhealthy_rate,omitempty"`
	RunningImpairedRate  float64 `json:"running_impaired_rate,omitempty"`
	// HealthCheckMinutes is the span between health checks (default 5).
	HealthCheckMinutes int `json:"health_check_minutes,omitempty"`
	// Seed, when not zero, makes every rate draw of the desktop and image
	// faults deterministic: a hash of the seed, the fault, the resource id
	// and its step, so the same faults fail the same resources every run.
	Seed uint64 `json:"seed,omitempty"`
	// OperationFaults make lifecycle operations fail, by operation name
	// (the keys of FaultOperations).
	OperationFaults map[string]OperationFault `json:"operation_faults,omitempty"`
}

// OperationFault makes one operation fail, for the resources it names or
// a share of the calls.
type OperationFault struct {
	// Rate is the share (0..1) of the operation's desktops or images that fail.
	Rate float64 `json:"rate,omitempty"`
	// IDs fail always: desktop ids (for MigrateWorkspace the source's),
	// the source WorkSpace of CreateWorkspaceImage, the source image of
	// CopyWorkspaceImage and CreateUpdatedWorkspaceImage, the EC2 image of
	// ImportWorkspaceImage.
	IDs []string `json:"ids,omitempty"`
	// Outcome is how the failure shows (FaultOperations lists each
	// operation's outcomes, its default first): "request" (the call's
	// FailedRequests entry, or its exception), "error" (the desktop or
	// image lands in ERROR with ErrorCode and ErrorMessage), "revert" (the
	// desktop returns to the state it was in before the operation).
	Outcome string `json:"outcome,omitempty"`
	// ErrorCode and ErrorMessage replace the default code and message.
	// With outcome "request", an operation that answers with an exception
	// takes only one of the exceptions its model lists.
	ErrorCode    string `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
}

// FaultOperation describes how an operation can fail.
type FaultOperation struct {
	// Outcomes are the outcomes the operation can have, the default first.
	Outcomes []string
	// Exception is the modeled exception of outcome "request" for an
	// operation that has no FailedRequests ("" for one that has); Allowed
	// are the other exceptions its model lists.
	Exception string
	Allowed   []string
}

// FaultOperations are the operations OperationFaults can make fail.
var FaultOperations = map[string]FaultOperation{
	"StartWorkspaces":             {Outcomes: []string{"error", "revert", "request"}},
	"StopWorkspaces":              {Outcomes: []string{"error", "revert", "request"}},
	"RebootWorkspaces":            {Outcomes: []string{"error", "revert", "request"}},
	"RebuildWorkspaces":           {Outcomes: []string{"error", "revert", "request"}},
	"RestoreWorkspace":            {Outcomes: []string{"error", "revert", "request"}, Exception: "OperationNotSupportedException"},
	"MigrateWorkspace":            {Outcomes: []string{"error", "request"}, Exception: "ResourceUnavailableException", Allowed: []string{"OperationNotSupportedException", "OperationInProgressException"}},
	"CreateWorkspaceImage":        {Outcomes: []string{"error", "request"}, Exception: "OperationNotSupportedException", Allowed: []string{"InvalidResourceStateException", "ResourceLimitExceededException"}},
	"CreateUpdatedWorkspaceImage": {Outcomes: []string{"request"}, Exception: "OperationNotSupportedException", Allowed: []string{"InvalidResourceStateException", "ResourceLimitExceededException"}},
	"CopyWorkspaceImage":          {Outcomes: []string{"error", "request"}, Exception: "ResourceUnavailableException", Allowed: []string{"OperationNotSupportedException", "ResourceLimitExceededException"}},
	"ImportWorkspaceImage":        {Outcomes: []string{"error", "request"}, Exception: "OperationNotSupportedException", Allowed: []string{"ResourceLimitExceededException"}},
}

// Check refuses rates outside 0..1, unknown operations and outcomes, and
// exceptions an operation's model does not list.
func (f *Faults) Check() error {
	for name, r := range map[string]float64{"provision_fail_rate": f.ProvisionFailRate, "unhealthy_rate": f.UnhealthyRate,
		"throttle_rate": f.ThrottleRate, "impaired_rate": f.ImpairedRate, "running_unhealthy_rate": f.RunningUnhealthyRate,
		"running_impaired_rate": f.RunningImpairedRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%s must be between 0 and 1, not %g", name, r)
		}
	}
	if f.HealthCheckMinutes < 0 {
		return fmt.Errorf("health_check_minutes must not be negative")
	}
	for op, of := range f.OperationFaults {
		d, ok := FaultOperations[op]
		if !ok {
			names := make([]string, 0, len(FaultOperations))
			for n := range FaultOperations {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("operation_faults names %q; faults can be injected into %s", op, strings.Join(names, ", "))
		}
		if of.Rate < 0 || of.Rate > 1 {
			return fmt.Errorf("operation_faults[%q].rate must be between 0 and 1, not %g", op, of.Rate)
		}
		outcome := of.Outcome
		if outcome == "" {
			outcome = d.Outcomes[0]
		}
		if !slices.Contains(d.Outcomes, outcome) {
			return fmt.Errorf("operation_faults[%q].outcome must be one of %s, not %q", op, strings.Join(d.Outcomes, ", "), of.Outcome)
		}
		if outcome == "request" && d.Exception != "" && of.ErrorCode != "" && of.ErrorCode != d.Exception && !slices.Contains(d.Allowed, of.ErrorCode) {
			return fmt.Errorf("operation_faults[%q].error_code %q is not an exception %s answers (%s)", op, of.ErrorCode, op, strings.Join(append([]string{d.Exception}, d.Allowed...), ", "))
		}
	}
	return nil
}

// CheckRegionOutages refuses an outage of a region the server does not
// serve, or of a kind other than "error" and "throttle".
func (f *Faults) CheckRegionOutages(regions []string) error {
	for r, kind := range f.RegionOutages {
		if kind != "error" && kind != "throttle" {
			return fmt.Errorf("region_outages[%q] must be \"error\" or \"throttle\", not %q", r, kind)
		}
		served := len(regions) == 0
		for _, x := range regions {
			served = served || x == r
		}
		if !served {
			return fmt.Errorf("region_outages names %q, a region this server does not serve", r)
		}
	}
	return nil
}

// Default account ids and keys of the documented default environment.
const (
	CustomerAccount = "111122223333"
	PartnerAccount  = "444455556666"
	AdminKeyID      = "AKIAIOSFODNN7EXAMPLE"
	AdminSecret     = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	PartnerKeyID    = "AKIAI44QH8DHBEXAMPLE"
	PartnerSecret   = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	// PartnerRoleName is the role of the default customer account that the
	// partner account may assume (the partner guide's assume-role access).
	PartnerRoleName = "PartnerRole"
	// PartnerRoleARN is PartnerRoleName's ARN.
	PartnerRoleARN = "arn:aws:iam::" + CustomerAccount + ":role/" + PartnerRoleName
	// PartnerExternalID is the ExternalId the default PartnerRole's trust
	// policy requires (sts:ExternalId); the serve banner prints it.
	PartnerExternalID = "Customer-1234"
)

// DefaultRegions are the regions seeded by default: those where WorkSpaces
// is offered.
var DefaultRegions = []string{
	"us-east-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-central-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
	"af-south-1", "il-central-1",
}

// DefaultQuotas are generous development quotas.
var DefaultQuotas = Quotas{Workspaces: 200000, Bundles: 500, Images: 500, Directories: 50, WorkspaceInstances: 1000, InstanceVolumes: 5000}

func ptrTrue() *bool { b := true; return &b }

// Default returns the documented default environment.
func Default() *Config {
	admin := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}}}
	corp := Directory{
		Name: "corp.example.com", ShortName: "CORP", Type: "MicrosoftAD", Edition: "Standard",
		Users: []DirectoryUser{
			{Name: "alice", GivenName: "Alice", Surname: "Anders", Email: "alice@corp.example.com"},
			{Name: "bob", GivenName: "Bob", Surname: "Brown", Email: "bob@corp.example.com"},
			{Name: "carol", GivenName: "Carol", Surname: "Chen", Email: "carol@corp.example.com"},
			{Name: "dave", GivenName: "Dave", Surname: "Diaz", Email: "dave@corp.example.com"},
		},
		Groups: map[string][]string{"Engineering": {"alice", "bob"}, "Finance": {"carol", "dave"}},
	}
	return &Config{
		Regions: DefaultRegions,
		Quotas:  DefaultQuotas,
		Accounts: []Account{
			{
				ID: CustomerAccount, Alias: "customer", BYOLEligible: true,
				Users: []User{{Name: "admin", AccessKeys: []AccessKey{{ID: AdminKeyID, Secret: AdminSecret}}, Policies: map[string]any{"FullAccess": admin}}},
				Roles: []Role{{Name: PartnerRoleName, Description: "The partner's access (partner guide: assume role with an ExternalId, tag-based policy)",
					TrustPolicy: PartnerTrustPolicy(), Policies: map[string]any{"PartnerManaged": PartnerRolePolicy()}}},
				Directories: []Directory{corp},
				VPCs: []VPC{{CIDR: "10.0.0.0/16", Subnets: []Subnet{
					{CIDR: "10.0.1.0/24", AZ: "a"}, {CIDR: "10.0.2.0/24", AZ: "b"},
				}}},
				Images: DefaultImages(),
			},
			{
				ID: PartnerAccount, Alias: "partner",
				Users: []User{{Name: "partner", AccessKeys: []AccessKey{{ID: PartnerKeyID, Secret: PartnerSecret}}, Policies: map[string]any{"FullAccess": admin}}},
				VPCs: []VPC{{CIDR: "172.31.0.0/16", Subnets: []Subnet{
					{CIDR: "172.31.0.0/20", AZ: "a"}, {CIDR: "172.31.16.0/20", AZ: "b"},
				}}},
			},
		},
	}
}

// PartnerTrustPolicy is the default PartnerRole's trust policy: the partner
// account may assume it with the ExternalId PartnerExternalID.
func PartnerTrustPolicy() map[string]any {
	return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + PartnerAccount + ":root"},
		"Action": "sts:AssumeRole", "Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": PartnerExternalID}},
	}}}
}

// PartnerRolePolicy is the default PartnerRole's permissions: the partner
// guide's tag-based policy (create only with the tag PartnerManaged=true as
// the only tag key; terminate and modify only what carries it), what
// "deskplane broker" needs to power-manage its own desktops and read the
// account and the directory, and what "deskplane broker onboard" needs
// (BYOL, an image import, a directory registration, a bundle and a
// security group for the protocol ports, each created with the tag).
func PartnerRolePolicy() map[string]any {
	tagKeys := map[string]any{"aws:TagKeys": "PartnerManaged"}
	createTagged := map[string]any{"StringEquals": map[string]any{"aws:RequestTag/PartnerManaged": "true"}, "ForAllValues:StringEquals": tagKeys}
	managed := map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/PartnerManaged": "true"}, "ForAllValues:StringEquals": tagKeys}
	stmt := func(sid string, actions []string, cond map[string]any) map[string]any {
		s := map[string]any{"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"}
		if cond != nil {
			s["Condition"] = cond
		}
		return s
	}
	return map[string]any{"Version": "2012-10-17", "Statement": []any{
		// The partner guide's tag-based authorization.
		stmt("GuideCreateTagged", []string{"workspaces:CreateWorkspaces"}, createTagged),
		stmt("GuideModifyTagged", []string{"workspaces:TerminateWorkspaces", "workspaces:ModifyWorkspaceProperties"}, managed),
		// The broker: power management of its own desktops.
		stmt("BrokerPowerTagged", []string{"workspaces:StartWorkspaces", "workspaces:StopWorkspaces",
			"workspaces:RebootWorkspaces", "workspaces:RebuildWorkspaces"}, managed),
		// The broker: reading the account, and the directory's users and groups.
		stmt("BrokerRead", []string{"workspaces:Describe*", "workspaces:ListAvailableManagementCidrRanges",
			"ec2:DescribeImages", "ec2:DescribeVpcs", "ec2:DescribeSecurityGroups", "ds:Describe*", "ds:AccessDSData", "ds-data:List*", "ds-data:Describe*"}, nil),
		// Onboarding: BYOL, and the image, directory registration and bundle
		// created with the tag (and no other tag key).
		stmt("OnboardBYOL", []string{"workspaces:ModifyAccount"}, nil),
		stmt("OnboardCreateTagged", []string{"workspaces:ImportWorkspaceImage", "workspaces:RegisterWorkspaceDirectory",
			"workspaces:CreateWorkspaceBundle", "workspaces:CreateTags"}, createTagged),
		stmt("OnboardUseTagged", []string{"workspaces:CreateWorkspaceBundle"}, map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/PartnerManaged": "true"}}),
		// Onboarding's security group for the protocol ports: created with
		// the tag, its rules and the directory's custom group set only on
		// what carries it.
		stmt("OnboardGroupCreateTagged", []string{"ec2:CreateSecurityGroup", "ec2:CreateTags"}, createTagged),
		// CreateSecurityGroup is also authorized on the VPC, which has no
		// request tags.
		map[string]any{"Sid": "OnboardGroupInVPC", "Effect": "Allow", "Action": []string{"ec2:CreateSecurityGroup"}, "Resource": "arn:aws:ec2:*:*:vpc/*"},
		stmt("OnboardGroupUseTagged", []string{"ec2:AuthorizeSecurityGroupIngress", "workspaces:ModifyWorkspaceCreationProperties"},
			map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/PartnerManaged": "true"}}),
	}}
}

// DefaultImages are the AMIs of the default customer account.
func DefaultImages() []Image {
	return []Image{
		{Name: "win11-ent-23h2-byol", Description: "Windows 11 Enterprise 23H2 (BYOL, imported with VM Import)", PlatformDetails: "Windows BYOL",
			Architecture: "x86_64", VirtualizationType: "hvm", EnaSupport: ptrTrue(), Hypervisor: "xen", VolumeType: "gp3", VolumeSize: 80, BootMode: "uefi", OSVersion: "Windows 11 Enterprise 23H2"},
		{Name: "win10-ent-22h2-byol", Description: "Windows 10 Enterprise 22H2 (BYOL, imported with VM Import)", PlatformDetails: "Windows BYOL",
			Architecture: "x86_64", VirtualizationType: "hvm", EnaSupport: ptrTrue(), Hypervisor: "xen", VolumeType: "gp2", VolumeSize: 80, BootMode: "legacy-bios", OSVersion: "Windows 10 Enterprise 22H2"},
		{Name: "Windows_Server-2022-English-Full-Base", Description: "Microsoft Windows Server 2022 Full Locale English AMI", PlatformDetails: "Windows",
			Architecture: "x86_64", VirtualizationType: "hvm", EnaSupport: ptrTrue(), Hypervisor: "xen", VolumeType: "gp3", VolumeSize: 30, BootMode: "uefi", OSVersion: "Windows Server 2022"},
	}
}

var (
	accountRe  = regexp.MustCompile(`^[0-9]{12}$`)
	roleNameRe = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,64}$`)
)

// PolicyDocument returns a policy given in the configuration as a JSON
// document: a string is taken as it is, anything else is marshalled.
func PolicyDocument(p any) (string, error) {
	if s, ok := p.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("config: policy document: %w", err)
	}
	return string(b), nil
}

var regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// Load reads a config file strictly (see Parse); missing members take their
// defaults.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, b)
}

// Validate checks the configuration for mistakes: impossible values
// (*Error, naming the member) and access keys.
func (c *Config) Validate() error {
	if err := c.validateValues(); err != nil {
		return err
	}
	seenKeys := map[string]bool{}
	for i, a := range c.Accounts {
		for j, u := range a.Users {
			for k, key := range u.AccessKeys {
				p := fmt.Sprintf("accounts[%d].users[%d].access_keys[%d]", i, j, k)
				if len(key.ID) < 16 || key.Secret == "" {
					return &Error{Path: p, Msg: fmt.Sprintf("user %s in %s: access key id must be at least 16 characters and have a secret", u.Name, a.ID)}
				}
				if seenKeys[key.ID] {
					return &Error{Path: p + ".id", Msg: fmt.Sprintf("access key %s declared twice", key.ID)}
				}
				seenKeys[key.ID] = true
			}
		}
	}
	return nil
}

// Account returns the declared account with id, or nil.
func (c *Config) Account(id string) *Account {
	for i := range c.Accounts {
		if c.Accounts[i].ID == id {
			return &c.Accounts[i]
		}
	}
	return nil
}
