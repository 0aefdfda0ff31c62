package broker

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// PartnerTagKey and PartnerTagValue are the one tag the broker puts on
// everything it creates. The partner guide's tag-based policies only allow
// this key at creation (ForAllValues:StringEquals aws:TagKeys) and only let
// the partner terminate or modify resources that carry it.
const (
	PartnerTagKey   = "PartnerManaged"
	PartnerTagValue = "true"
)

// Config is the broker's configuration file (JSON). See the package
// documentation for an annotated example.
type Config struct {
	// Endpoint is the WorkSpaces-compatible endpoint URL (deskplane); empty
	// for the real AWS service (the SDK resolves regional endpoints).
	Endpoint string `json:"endpoint,omitempty"`
	// Region is the AWS region (default us-east-1).
	Region string `json:"region,omitempty"`
	// RoleARN is the role in the customer's account the broker assumes (the
	// guide's preferred access). Empty: the static keys are used directly.
	RoleARN string `json:"role_arn,omitempty"`
	// ExternalID is passed to sts:AssumeRole.
	ExternalID string `json:"external_id,omitempty"`
	// SessionName is the role session name (default "deskplane-broker").
	SessionName string `json:"session_name,omitempty"`
	// AccessKeyID and SecretAccessKey are static keys: the partner's own keys
	// that call AssumeRole, or, without RoleARN, keys in the customer account
	// (self-managed setups). Empty: the SDK's default credential chain.
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	// DataDir holds the broker's SQLite database (default ./broker-data).
	DataDir string `json:"data_dir,omitempty"`
	// Store is empty for the embedded SQLite store in DataDir (one broker
	// per data dir), or a postgres:// URL: a state several brokers share,
	// where one at a time (the holder of a lease in the database)
	// reconciles and all serve the session API. Each tenant has a schema
	// of its own (broker_<tenant>).
	Store string `json:"store,omitempty"`
	// storeSchema is the PostgreSQL schema (set per tenant and standby).
	storeSchema string
	// Listen is the session API's address (default 127.0.0.1:4700).
	Listen string `json:"listen,omitempty"`
	// APITokens are the bearer tokens accepted by the session API.
	APITokens []string `json:"api_tokens,omitempty"`
	// TLSCert and TLSKey (PEM files) serve the session API over HTTPS; TLS
	// "auto" instead generates a certificate into DataDir/tls (the same as
	// serve's --tls auto). The serve flags --tls-cert, --tls-key and --tls
	// override them.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	TLS     string `json:"tls,omitempty"`
	// AllowedHosts are the host names, besides IP addresses, localhost and
	// the listen address's name, that session API requests may name in
	// their Host header (DNS rebinding protection; see serve's
	// allowed_hosts).
	AllowedHosts []string `json:"allowed_hosts,omitempty"`
	// ReconcileInterval is the period of the reconcile loop in serve mode
	// (Go duration, default 30s).
	ReconcileInterval string `json:"reconcile_interval,omitempty"`
	// MaxAttempts and MaxBackoff tune the SDK retryer used for throttled
	// calls (default 8 attempts, 20s maximum backoff, jittered).
	MaxAttempts int    `json:"max_attempts,omitempty"`
	MaxBackoff  string `json:"max_backoff,omitempty"`
	// MaxRequestsPerSecond paces the broker's calls: at most this many per
	// second per operation (as the service counts them, per account and
	// operation), every attempt waiting its turn; 0: unpaced.
	MaxRequestsPerSecond float64 `json:"max_requests_per_second,omitempty"`
	// DeskplaneAdminToken is deskplane's admin bearer token (the one
	// "deskplane serve" prints, kept in its data dir's admin-token file):
	// with it, the broker asks a deskplane endpoint where each desktop and
	// directory answers (GET /_deskplane/runtime and /_deskplane/ldap)
	// instead of assuming the preferred loopback address (see reach.go).
	DeskplaneAdminToken string `json:"deskplane_admin_token,omitempty"`
	// GatewaySecret authenticates gateways that run as their own process
	// ("deskplane broker gateway"); empty: only the in-process gateway.
	GatewaySecret string `json:"gateway_secret,omitempty"`
	// Gateway configures the in-process gateway and connection tickets.
	Gateway GatewayConfig `json:"gateway,omitzero"`
	// Portal configures the user portal's directory sign-in.
	Portal PortalConfig `json:"portal,omitzero"`
	// Console configures the console's directory sign-in (console_admin.go).
	Console ConsoleConfig `json:"console,omitzero"`

	// Onboarding declares the answers onboard would otherwise prompt for.
	Onboarding Onboarding `json:"onboarding,omitempty"`

	// Pools are the desktop pools.
	Pools []Pool `json:"pools"`
	// ProtocolPlans, PowerPlans and ReleasePlans are named plans that
	// policies refer to. Built-in plans (rdp, dcv, vnc; stop-after-30, stop-now,
	// keep-running; keep, release) exist unless overridden.
	ProtocolPlans map[string]ProtocolPlan `json:"protocol_plans,omitempty"`
	PowerPlans    map[string]PowerPlan    `json:"power_plans,omitempty"`
	ReleasePlans  map[string]ReleasePlan  `json:"release_plans,omitempty"`
	// Policies map directory groups (or users) to pools and plans; the first
	// matching policy in file order wins.
	Policies []Policy `json:"policies"`
	// Prices drive the cost report.
	Prices Prices `json:"prices,omitempty"`
	// Tenants are the customers of a broker that serves several (see
	// Tenant); empty: the top level is the one customer.
	Tenants []Tenant `json:"tenants,omitempty"`
}

// Onboarding holds the infrastructure-setup choices.
type Onboarding struct {
	// CIDR is the BYOL management CIDR range to configure (one of
	// ListAvailableManagementCidrRanges); empty: prompt.
	CIDR string `json:"cidr,omitempty"`
	// AMI is the EC2 image to import, by id (ami-…) or by name; empty: prompt.
	AMI string `json:"ami,omitempty"`
	// ImageName and ImageDescription name the imported WorkSpaces image.
	ImageName        string `json:"image_name,omitempty"`
	ImageDescription string `json:"image_description,omitempty"`
	// IngestionProcess defaults to BYOL_REGULAR_BYOP.
	IngestionProcess string `json:"ingestion_process,omitempty"`
	// Directory is the directory id or DNS name to register; empty: prompt.
	Directory string `json:"directory,omitempty"`
	// Tenancy defaults to DEDICATED (BYOL) and must be SHARED otherwise.
	Tenancy string `json:"tenancy,omitempty"`
	// SubnetIDs optionally choose the directory's subnets.
	SubnetIDs []string `json:"subnet_ids,omitempty"`
	// Bundle is the bundle to create from the imported image.
	BundleName        string `json:"bundle_name,omitempty"`
	BundleDescription string `json:"bundle_description,omitempty"`
	ComputeType       string `json:"compute_type,omitempty"`    // default STANDARD
	RootVolumeGiB     int    `json:"root_volume_gib,omitempty"` // default 80
	UserVolumeGiB     int    `json:"user_volume_gib,omitempty"` // default 50
	// SecurityGroupName names the security group onboarding creates in
	// the directory's VPC for the protocol plans' ports (default
	// deskplane-broker-<directory id>); IngressCIDR is where it lets them
	// in from (default the VPC's CIDR block: the gateways run there).
	SecurityGroupName string `json:"security_group_name,omitempty"`
	IngressCIDR       string `json:"ingress_cidr,omitempty"`
}

// Pool is a set of user-decoupled desktops of one bundle in one directory.
// Its desktops are named <name>-<n>; the name is how the broker recognises
// membership (see the package documentation).
type Pool struct {
	Name string `json:"name"`
	// Directory is the directory id or DNS name.
	Directory string `json:"directory"`
	// Bundle is the bundle id or name.
	Bundle string `json:"bundle"`
	// RunningMode is MANUAL (default) or ALWAYS_ON.
	RunningMode string `json:"running_mode,omitempty"`
	// Min and Max bound the number of desktops; Warm is the number of
	// started, unassigned desktops kept ready.
	Min  int `json:"min"`
	Max  int `json:"max"`
	Warm int `json:"warm"`
	// Standby is the pool's second region (see StandbyPool); nil: none.
	Standby *StandbyPool `json:"standby,omitempty"`
	// nameBase numbers the pool's desktops from nameBase+1: a standby
	// pool whose primary keeps standby WorkSpaces names its own desktops
	// apart from the primaries' names the standby WorkSpaces carry.
	nameBase int
}

// ProtocolPlan is what the gateway is told to connect with.
type ProtocolPlan struct {
	Protocol string `json:"protocol"` // RDP, DCV or a partner protocol name
	Port     int    `json:"port"`
}

// Power actions of a power control plan.
const (
	PowerStopAfter   = "stop_after"
	PowerStopNow     = "stop_now"
	PowerKeepRunning = "keep_running"
)

// PowerAction is what to do with a MANUAL desktop on an event.
type PowerAction struct {
	Action  string `json:"action"`            // stop_after, stop_now, keep_running
	Minutes int    `json:"minutes,omitempty"` // for stop_after
}

// PowerPlan says what happens on disconnect and on logout.
type PowerPlan struct {
	OnDisconnect PowerAction `json:"on_disconnect"`
	OnLogout     PowerAction `json:"on_logout"`
}

// Release plan choices.
const (
	ReleaseKeep    = "keep"    // the desktop stays assigned to the user
	ReleaseRebuild = "release" // the desktop is rebuilt and returned to the pool
)

// ReleasePlan says what happens to the assignment on logout.
type ReleasePlan struct {
	OnLogout string `json:"on_logout"`
}

// Policy maps groups or users to a pool and plans.
type Policy struct {
	Name         string   `json:"name"`
	Groups       []string `json:"groups,omitempty"`
	Users        []string `json:"users,omitempty"`
	Pool         string   `json:"pool"`
	ProtocolPlan string   `json:"protocol_plan,omitempty"` // default rdp
	PowerPlan    string   `json:"power_plan,omitempty"`    // default stop-after-30
	ReleasePlan  string   `json:"release_plan,omitempty"`  // default keep
}

// Prices are the cost model's inputs (USD). The defaults are illustrative
// round numbers, not AWS list prices: set your region's prices.
type Prices struct {
	// Hourly is the price of one hour AVAILABLE for a MANUAL desktop
	// (default 0.30).
	Hourly float64 `json:"hourly,omitempty"`
	// HourlyMonthlyFee is the fixed monthly fee of a MANUAL desktop,
	// charged whatever its state (default 0).
	HourlyMonthlyFee float64 `json:"hourly_monthly_fee,omitempty"`
	// Monthly is the ALWAYS_ON monthly price (default 40.00).
	Monthly float64 `json:"monthly,omitempty"`
	// HoursPerMonth prorates monthly prices (default 730).
	HoursPerMonth float64 `json:"hours_per_month,omitempty"`
}

var poolNameRe = regexp.MustCompile(`^[a-z][a-z0-9]{0,30}$`)

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	c := &Config{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("broker config %s: %w", path, err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) applyDefaults() {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.SessionName == "" {
		c.SessionName = "deskplane-broker"
	}
	if c.DataDir == "" {
		c.DataDir = "./broker-data"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4700"
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 8
	}
	if c.Onboarding.IngestionProcess == "" {
		c.Onboarding.IngestionProcess = "BYOL_REGULAR_BYOP"
	}
	if c.Onboarding.Tenancy == "" {
		c.Onboarding.Tenancy = "DEDICATED"
	}
	if c.Onboarding.RootVolumeGiB == 0 {
		c.Onboarding.RootVolumeGiB = 80
	}
	if c.Onboarding.UserVolumeGiB == 0 {
		c.Onboarding.UserVolumeGiB = 50
	}
	if c.Onboarding.ComputeType == "" {
		c.Onboarding.ComputeType = "STANDARD"
	}
	for i := range c.Pools {
		if c.Pools[i].RunningMode == "" {
			c.Pools[i].RunningMode = "MANUAL"
		}
	}
	if c.ProtocolPlans == nil {
		c.ProtocolPlans = map[string]ProtocolPlan{}
	}
	for k, v := range map[string]ProtocolPlan{"rdp": {"RDP", 3389}, "dcv": {"DCV", 8443}, "vnc": {"VNC", 5900}} {
		if _, ok := c.ProtocolPlans[k]; !ok {
			c.ProtocolPlans[k] = v
		}
	}
	if c.PowerPlans == nil {
		c.PowerPlans = map[string]PowerPlan{}
	}
	for k, v := range map[string]PowerPlan{
		"stop-after-30": {OnDisconnect: PowerAction{PowerStopAfter, 30}, OnLogout: PowerAction{PowerStopAfter, 30}},
		"stop-now":      {OnDisconnect: PowerAction{PowerStopAfter, 30}, OnLogout: PowerAction{Action: PowerStopNow}},
		"keep-running":  {OnDisconnect: PowerAction{Action: PowerKeepRunning}, OnLogout: PowerAction{Action: PowerKeepRunning}},
	} {
		if _, ok := c.PowerPlans[k]; !ok {
			c.PowerPlans[k] = v
		}
	}
	if c.ReleasePlans == nil {
		c.ReleasePlans = map[string]ReleasePlan{}
	}
	for k, v := range map[string]ReleasePlan{"keep": {ReleaseKeep}, "release": {ReleaseRebuild}} {
		if _, ok := c.ReleasePlans[k]; !ok {
			c.ReleasePlans[k] = v
		}
	}
	for i := range c.Policies {
		p := &c.Policies[i]
		if p.ProtocolPlan == "" {
			p.ProtocolPlan = "rdp"
		}
		if p.PowerPlan == "" {
			p.PowerPlan = "stop-after-30"
		}
		if p.ReleasePlan == "" {
			p.ReleasePlan = "keep"
		}
	}
	if c.Prices.Hourly == 0 {
		c.Prices.Hourly = 0.30
	}
	if c.Prices.Monthly == 0 {
		c.Prices.Monthly = 40
	}
	if c.Prices.HoursPerMonth == 0 {
		c.Prices.HoursPerMonth = 730
	}
}

// Validate checks the configuration for mistakes.
func (c *Config) Validate() error {
	if c.RoleARN == "" && c.ExternalID != "" {
		return fmt.Errorf("broker config: external_id needs role_arn")
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("broker config: access_key_id and secret_access_key go together")
	}
	if c.TLS != "" && c.TLS != "auto" {
		return fmt.Errorf("broker config: tls must be \"auto\" or empty, not %q", c.TLS)
	}
	if m := c.Gateway.AddressMap; m != "" && m != "auto" && m != "loopback" && m != "direct" {
		return fmt.Errorf("broker config: gateway.address_map must be auto, loopback or direct, not %q", m)
	}
	if t := c.Gateway.TicketTTL; t != "" {
		if d, err := time.ParseDuration(t); err != nil || d <= 0 {
			return fmt.Errorf("broker config: gateway.ticket_ttl %q is not a positive duration", t)
		}
	}
	if c.MaxRequestsPerSecond < 0 {
		return fmt.Errorf("broker config: max_requests_per_second must not be negative")
	}
	if c.Store != "" && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		return fmt.Errorf("broker config: store must be empty (SQLite in data_dir) or a postgres:// URL")
	}
	if c.ReconcileInterval != "" {
		if _, err := time.ParseDuration(c.ReconcileInterval); err != nil {
			return fmt.Errorf("broker config: reconcile_interval: %w", err)
		}
	}
	if c.MaxBackoff != "" {
		if _, err := time.ParseDuration(c.MaxBackoff); err != nil {
			return fmt.Errorf("broker config: max_backoff: %w", err)
		}
	}
	pools := map[string]bool{}
	for _, p := range c.Pools {
		if !poolNameRe.MatchString(p.Name) {
			return fmt.Errorf("broker config: pool name %q must be lower-case letters and digits (desktops are named <pool>-<n>)", p.Name)
		}
		if pools[p.Name] {
			return fmt.Errorf("broker config: pool %q declared twice", p.Name)
		}
		pools[p.Name] = true
		if p.Directory == "" || p.Bundle == "" {
			return fmt.Errorf("broker config: pool %q needs a directory and a bundle", p.Name)
		}
		if p.RunningMode != "MANUAL" && p.RunningMode != "ALWAYS_ON" {
			return fmt.Errorf("broker config: pool %q: running_mode must be MANUAL or ALWAYS_ON (AUTO_STOP is not available for WorkSpaces Core)", p.Name)
		}
		if p.Min < 0 || p.Warm < 0 || p.Max < 1 || p.Min > p.Max || p.Warm > p.Max {
			return fmt.Errorf("broker config: pool %q: need 0 <= min <= max, 0 <= warm <= max, max >= 1", p.Name)
		}
	}
	for n, pp := range c.ProtocolPlans {
		if pp.Protocol == "" || pp.Port < 1 || pp.Port > 65535 {
			return fmt.Errorf("broker config: protocol plan %q needs a protocol and a port", n)
		}
	}
	for n, pp := range c.PowerPlans {
		for _, a := range []PowerAction{pp.OnDisconnect, pp.OnLogout} {
			switch a.Action {
			case PowerStopAfter:
				if a.Minutes < 0 {
					return fmt.Errorf("broker config: power plan %q: minutes must be >= 0", n)
				}
			case PowerStopNow, PowerKeepRunning:
			default:
				return fmt.Errorf("broker config: power plan %q: action %q is not stop_after, stop_now or keep_running", n, a.Action)
			}
		}
	}
	for n, rp := range c.ReleasePlans {
		if rp.OnLogout != ReleaseKeep && rp.OnLogout != ReleaseRebuild {
			return fmt.Errorf("broker config: release plan %q: on_logout must be keep or release", n)
		}
	}
	for _, p := range c.Policies {
		if !pools[p.Pool] {
			return fmt.Errorf("broker config: policy %q: unknown pool %q", p.Name, p.Pool)
		}
		if len(p.Groups) == 0 && len(p.Users) == 0 {
			return fmt.Errorf("broker config: policy %q names no groups or users", p.Name)
		}
		if _, ok := c.ProtocolPlans[p.ProtocolPlan]; !ok {
			return fmt.Errorf("broker config: policy %q: unknown protocol plan %q", p.Name, p.ProtocolPlan)
		}
		if _, ok := c.PowerPlans[p.PowerPlan]; !ok {
			return fmt.Errorf("broker config: policy %q: unknown power plan %q", p.Name, p.PowerPlan)
		}
		if _, ok := c.ReleasePlans[p.ReleasePlan]; !ok {
			return fmt.Errorf("broker config: policy %q: unknown release plan %q", p.Name, p.ReleasePlan)
		}
	}
	if _, err := standbyConfig(c); err != nil {
		return err
	}
	return nil
}

// Pool returns the named pool or nil.
func (c *Config) Pool(name string) *Pool {
	for i := range c.Pools {
		if c.Pools[i].Name == name {
			return &c.Pools[i]
		}
	}
	return nil
}

// schema is the PostgreSQL schema of the configuration's state.
func (c *Config) schema() string {
	if c.storeSchema != "" {
		return c.storeSchema
	}
	return schemaFor(DefaultTenant, "")
}

func (c *Config) reconcileInterval() time.Duration {
	if d, err := time.ParseDuration(c.ReconcileInterval); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

func (c *Config) maxBackoff() time.Duration {
	if d, err := time.ParseDuration(c.MaxBackoff); err == nil && d > 0 {
		return d
	}
	return 20 * time.Second
}
