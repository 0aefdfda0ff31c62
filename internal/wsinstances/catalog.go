package wsinstances

import (
	"context"
	"slices"
	"sort"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
)

// catalogEntry is an instance type WorkSpace Instances offer, with the
// tenancies it runs on (every type offers both billing modes and both
// Windows platforms).
type catalogEntry struct {
	InstanceType string
	Dedicated    bool
}

// catalog is the instance types deskplane offers, sorted: the general
// purpose, compute, memory and graphics families WorkSpaces Core runs
// desktops on. Burstable (t3) types have no dedicated tenancy.
var catalog = []catalogEntry{
	{"c5.2xlarge", true}, {"c5.large", true}, {"c5.xlarge", true},
	{"g4dn.2xlarge", true}, {"g4dn.xlarge", true}, {"g5.xlarge", true},
	{"m5.2xlarge", true}, {"m5.large", true}, {"m5.xlarge", true},
	{"m6i.large", true}, {"m6i.xlarge", true},
	{"r5.large", true}, {"r5.xlarge", true},
	{"t3.large", false}, {"t3.medium", false}, {"t3.xlarge", false},
}

var (
	billingModes = []string{"HOURLY", "MONTHLY"}
	platforms    = []string{"Windows", "Windows BYOL"}
)

func catalogType(name string) (catalogEntry, bool) {
	for _, e := range catalog {
		if e.InstanceType == name {
			return e, true
		}
	}
	return catalogEntry{}, false
}

func (e catalogEntry) configurations() []SupportedInstanceConfiguration {
	var out []SupportedInstanceConfiguration
	for _, b := range billingModes {
		for _, p := range platforms {
			out = append(out, SupportedInstanceConfiguration{BillingMode: b, PlatformType: p, Tenancy: "SHARED"})
			if e.Dedicated {
				out = append(out, SupportedInstanceConfiguration{BillingMode: b, PlatformType: p, Tenancy: "DEDICATED"})
			}
		}
	}
	return out
}

// supports reports whether the type runs billing on platform (an image's
// PlatformDetails) with tenancy.
func (e catalogEntry) supports(billing, platform, tenancy string) bool {
	return slices.Contains(e.configurations(), SupportedInstanceConfiguration{BillingMode: billing, PlatformType: platform, Tenancy: tenancy})
}

func (m *Module) listInstanceTypes(ctx context.Context, c *gateway.Call, in *ListInstanceTypesInput) (*ListInstanceTypesOutput, error) {
	limit := len(catalog)
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != nil {
		i := slices.IndexFunc(catalog, func(e catalogEntry) bool { return e.InstanceType == *in.NextToken })
		if i < 0 {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "The NextToken is not valid.")
		}
		start = i + 1
	}
	out := &ListInstanceTypesOutput{InstanceTypes: []InstanceTypeInfo{}}
	for _, e := range catalog[start:] {
		cfgs := e.configurations()
		if f := in.InstanceConfigurationFilter; f != nil {
			want := SupportedInstanceConfiguration{BillingMode: ptr.Deref(f.BillingMode), PlatformType: ptr.Deref(f.PlatformType), Tenancy: ptr.Deref(f.Tenancy)}
			if !slices.Contains(cfgs, want) {
				continue
			}
			cfgs = []SupportedInstanceConfiguration{want}
		}
		if len(out.InstanceTypes) == limit {
			out.NextToken = out.InstanceTypes[limit-1].InstanceType
			break
		}
		out.InstanceTypes = append(out.InstanceTypes, InstanceTypeInfo{InstanceType: e.InstanceType, SupportedInstanceConfigurations: cfgs})
	}
	return out, nil
}

func (m *Module) listRegions(ctx context.Context, c *gateway.Call, in *ListRegionsInput) (*ListRegionsOutput, error) {
	regions := slices.Clone(m.cfg.Regions)
	sort.Strings(regions)
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != nil {
		i := slices.Index(regions, *in.NextToken)
		if i < 0 {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "The NextToken is not valid.")
		}
		start = i + 1
	}
	out := &ListRegionsOutput{Regions: []RegionOut{}}
	for _, r := range regions[start:] {
		if len(out.Regions) == limit {
			out.NextToken = out.Regions[limit-1].RegionName
			break
		}
		out.Regions = append(out.Regions, RegionOut{RegionName: r})
	}
	return out, nil
}
