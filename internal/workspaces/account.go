package workspaces

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// managementRanges are the private ranges the management interface's /16 may
// be taken from (BYOL documentation).
var managementRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
}

const jobAccountMod = "workspaces.account-modify"

type describeAccountIn struct{}

type describeAccountOut struct {
	DedicatedTenancySupport             string  `json:"DedicatedTenancySupport"`
	DedicatedTenancyManagementCidrRange *string `json:"DedicatedTenancyManagementCidrRange,omitempty"`
	DedicatedTenancyAccountType         *string `json:"DedicatedTenancyAccountType,omitempty"`
}

type listCidrIn struct {
	ManagementCidrRangeConstraint string  `json:"ManagementCidrRangeConstraint" v:"required,pattern=^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])(\\/(3[0-2]|[1-2][0-9]|[0-9]))$"`
	MaxResults                    *int    `json:"MaxResults,omitempty" v:"min=1,max=5"`
	NextToken                     *string `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

type listCidrOut struct {
	ManagementCidrRanges []string `json:"ManagementCidrRanges"`
	NextToken            *string  `json:"NextToken,omitempty"`
}

type modifyAccountIn struct {
	DedicatedTenancySupport             *string `json:"DedicatedTenancySupport,omitempty" v:"enum=ENABLED"`
	DedicatedTenancyManagementCidrRange *string `json:"DedicatedTenancyManagementCidrRange,omitempty" v:"pattern=(^([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\\.0\\.0)(\\/(16$))$"`
}

type describeAccountModsIn struct {
	NextToken *string `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

type accountModOut struct {
	ModificationState                   string         `json:"ModificationState"`
	DedicatedTenancySupport             string         `json:"DedicatedTenancySupport"`
	DedicatedTenancyManagementCidrRange string         `json:"DedicatedTenancyManagementCidrRange"`
	StartTime                           *awsproto.Time `json:"StartTime"`
}

type describeAccountModsOut struct {
	AccountModifications []accountModOut `json:"AccountModifications"`
	NextToken            *string         `json:"NextToken,omitempty"`
}

func (m *Module) byolEligible(account string) bool {
	a := m.cfg.Account(account)
	return a != nil && a.BYOLEligible
}

func (m *Module) account(ctx context.Context, tx store.Tx, account, region string) (*accountRec, error) {
	a, err := getRec[accountRec](ctx, tx, tAccounts, account+"/"+region)
	if err != nil || a != nil {
		return a, err
	}
	return &accountRec{DedicatedTenancySupport: "DISABLED"}, nil
}

// describeAccount is the handler of DescribeAccount.
func (m *Module) describeAccount(ctx context.Context, c *gateway.Call, in *describeAccountIn) (*describeAccountOut, error) {
	var out describeAccountOut
	err := m.store.View(ctx, func(tx store.Tx) error {
		a, err := m.account(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		out.DedicatedTenancySupport = a.DedicatedTenancySupport
		if a.ManagementCidrRange != "" {
			out.DedicatedTenancyManagementCidrRange = ptr.To(a.ManagementCidrRange)
			out.DedicatedTenancyAccountType = ptr.To("SOURCE_ACCOUNT")
		}
		return nil
	})
	return &out, err
}

func (m *Module) listCidrs(ctx context.Context, c *gateway.Call, in *listCidrIn) (*listCidrOut, error) {
	if !m.byolEligible(c.Account) {
		return nil, awsproto.Errorf("AccessDeniedException", "The account %s is not enabled for BYOL. Contact your AWS account manager to enable it before listing management CIDR ranges.", c.Account)
	}
	constraint, err := netip.ParsePrefix(in.ManagementCidrRangeConstraint)
	if err != nil {
		return nil, errInvalid("The management CIDR range constraint %q is not a valid IPv4 CIDR block.", in.ManagementCidrRangeConstraint)
	}
	constraint = constraint.Masked()
	inside := false
	for _, r := range managementRanges {
		if r.Bits() <= constraint.Bits() && r.Contains(constraint.Addr()) {
			inside = true
		}
	}
	if !inside {
		return nil, errInvalid("The management CIDR range constraint %s must lie within one of 10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.168.0.0/16 or 198.18.0.0/15.", constraint)
	}
	if constraint.Bits() > 16 {
		return nil, errInvalid("The management CIDR range constraint %s is smaller than a /16; management ranges are /16 blocks.", constraint)
	}
	max := 5
	if in.MaxResults != nil {
		max = *in.MaxResults
	}
	after, err := parseToken(in.NextToken, "")
	if err != nil {
		return nil, err
	}
	var afterAddr netip.Addr
	if after != "" {
		p, err := netip.ParsePrefix(after)
		if err != nil {
			return nil, errInvalid("The NextToken value is not valid.")
		}
		afterAddr = p.Addr()
	}
	// Taken: the account's VPCs, and the management range it has configured
	// or is configuring (a range in use is no longer available).
	var vpcs []netip.Prefix
	err = m.store.View(ctx, func(tx store.Tx) error {
		cidrs, err := m.ec2.VPCCIDRs(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		a, err := m.account(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		if a.ManagementCidrRange != "" {
			cidrs = append(cidrs, a.ManagementCidrRange)
		}
		err = store.ScanJSON[accountModRec](ctx, tx, tAccountMod, c.Account+"/"+c.Region+"/", "", 0, func(_ string, r *accountModRec) error {
			if r.ModificationState == "PENDING" {
				cidrs = append(cidrs, r.ManagementCidrRange)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, s := range cidrs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("a range taken by %s (VPC or management range) is invalid: %q: %w", c.Account, s, err)
			}
			vpcs = append(vpcs, p.Masked())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &listCidrOut{ManagementCidrRanges: []string{}}
	count := 1 << (16 - constraint.Bits())
	base := constraint.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16
	for i := 0; i < count; i++ {
		v := start + uint32(i)<<16
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), 0, 0}), 16)
		s := p.String()
		if afterAddr.IsValid() && p.Addr().Less(afterAddr) {
			continue
		}
		if after == s {
			continue
		}
		overlaps := false
		for _, vp := range vpcs {
			if vp.Overlaps(p) {
				overlaps = true
			}
		}
		if overlaps {
			continue
		}
		if len(out.ManagementCidrRanges) == max {
			out.NextToken = pageToken(out.ManagementCidrRanges[max-1])
			break
		}
		out.ManagementCidrRanges = append(out.ManagementCidrRanges, s)
	}
	return out, nil
}

func (m *Module) modifyAccount(ctx context.Context, c *gateway.Call, in *modifyAccountIn) (*struct{}, error) {
	if !m.byolEligible(c.Account) {
		return nil, awsproto.Errorf("AccessDeniedException", "The account %s is not enabled for BYOL. Contact your AWS account manager to enable it.", c.Account)
	}
	if in.DedicatedTenancySupport == nil {
		return nil, errInvalid("DedicatedTenancySupport must be ENABLED.")
	}
	if in.DedicatedTenancyManagementCidrRange == nil {
		return nil, errInvalid("DedicatedTenancyManagementCidrRange is required to enable BYOL.")
	}
	cidr, err := netip.ParsePrefix(*in.DedicatedTenancyManagementCidrRange)
	if err != nil {
		return nil, errInvalid("The management CIDR range %q is not valid.", *in.DedicatedTenancyManagementCidrRange)
	}
	allowed := false
	for _, r := range managementRanges {
		if r.Contains(cidr.Addr()) && r.Bits() <= 16 {
			allowed = true
		}
	}
	if !allowed {
		return nil, errInvalid("The management CIDR range %s is not available. Choose one returned by ListAvailableManagementCidrRanges.", cidr)
	}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		a, err := m.account(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		if a.DedicatedTenancySupport == "ENABLED" || a.ManagementCidrRange != "" {
			return errState("BYOL is already configured for this account with the management CIDR range %s; it cannot be changed.", a.ManagementCidrRange)
		}
		pending := false
		err = store.ScanJSON[accountModRec](ctx, tx, tAccountMod, c.Account+"/"+c.Region+"/", "", 0, func(_ string, r *accountModRec) error {
			if r.ModificationState == "PENDING" {
				pending = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if pending {
			return errState("An account modification is already in progress.")
		}
		cidrs, err := m.ec2.VPCCIDRs(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, s := range cidrs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("a range taken by %s (VPC or management range) is invalid: %q: %w", c.Account, s, err)
			}
			if p.Overlaps(cidr) {
				return errInvalid("The management CIDR range %s overlaps the VPC range %s of this account. Choose one returned by ListAvailableManagementCidrRanges.", cidr, s)
			}
		}
		modKey := fmt.Sprintf("%s/%s/%020d", c.Account, c.Region, c.Now.UnixNano())
		rec := accountModRec{ModificationState: "PENDING", DedicatedTenancySupport: "ENABLED", ManagementCidrRange: cidr.String(), StartTime: c.Now}
		if err := putRec(ctx, tx, tAccountMod, modKey, rec); err != nil {
			return err
		}
		return m.engine.Schedule(ctx, tx, "acctmod/"+modKey, jobAccountMod, c.Now.Add(m.timing(lifecycle.AccountModify)), modKey)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) finishAccountMod(ctx context.Context, tx store.Tx, modKey string, now time.Time) error {
	rec, err := getRec[accountModRec](ctx, tx, tAccountMod, modKey)
	if err != nil || rec == nil {
		return err
	}
	rec.ModificationState = "COMPLETED"
	if err := putRec(ctx, tx, tAccountMod, modKey, rec); err != nil {
		return err
	}
	parts := splitKey(modKey)
	return putRec(ctx, tx, tAccounts, parts[0]+"/"+parts[1], accountRec{DedicatedTenancySupport: "ENABLED", ManagementCidrRange: rec.ManagementCidrRange})
}

func (m *Module) describeAccountMods(ctx context.Context, c *gateway.Call, in *describeAccountModsIn) (*describeAccountModsOut, error) {
	p := c.Account + "/" + c.Region + "/"
	after, err := parseToken(in.NextToken, p)
	if err != nil {
		// The operation models no InvalidParameterValuesException: a token
		// it did not hand out is the protocol's validation error.
		return nil, awsproto.Errorf("ValidationException", "The NextToken value is not valid.")
	}
	out := &describeAccountModsOut{AccountModifications: []accountModOut{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		last := ""
		n := 0
		err := store.ScanJSON[accountModRec](ctx, tx, tAccountMod, p, after, 26, func(k string, r *accountModRec) error {
			n++
			if n > 25 {
				out.NextToken = pageToken(last)
				return store.ErrStop
			}
			last = k
			out.AccountModifications = append(out.AccountModifications, accountModOut{
				ModificationState: r.ModificationState, DedicatedTenancySupport: r.DedicatedTenancySupport,
				DedicatedTenancyManagementCidrRange: r.ManagementCidrRange, StartTime: awsproto.NewTime(r.StartTime)})
			return nil
		})
		return err
	})
	return out, err
}
