package ds

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"sort"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// ListTagsForResourceInput is the ListTagsForResource request.
type ListTagsForResourceInput struct {
	ResourceID *string `json:"ResourceId" v:"required,pattern=^[d]-[0-9a-f]{10}$"`
	NextToken  string  `json:"NextToken"`
	Limit      *int    `json:"Limit" v:"min=0"`
}

// ListTagsForResourceOutput is the ListTagsForResource response.
type ListTagsForResourceOutput struct {
	Tags      []Tag  `json:"Tags"`
	NextToken string `json:"NextToken,omitempty"`
}

// AddTagsToResourceInput is the AddTagsToResource request.
type AddTagsToResourceInput struct {
	ResourceID *string `json:"ResourceId" v:"required,pattern=^[d]-[0-9a-f]{10}$"`
	Tags       []Tag   `json:"Tags" v:"required"`
}

// RemoveTagsFromResourceInput is the RemoveTagsFromResource request.
type RemoveTagsFromResourceInput struct {
	ResourceID *string  `json:"ResourceId" v:"required,pattern=^[d]-[0-9a-f]{10}$"`
	TagKeys    []string `json:"TagKeys" v:"required"`
}

// DescribeDomainControllersInput is the DescribeDomainControllers request.
type DescribeDomainControllersInput struct {
	DirectoryID         *string  `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	DomainControllerIDs []string `json:"DomainControllerIds"`
	NextToken           string   `json:"NextToken"`
	Limit               *int     `json:"Limit" v:"min=0"`
}

// DescribeDomainControllersOutput is the DescribeDomainControllers response.
type DescribeDomainControllersOutput struct {
	DomainControllers []DomainController `json:"DomainControllers"`
	NextToken         string             `json:"NextToken,omitempty"`
}

// DomainController is one of a directory's domain controllers.
type DomainController struct {
	DirectoryID               string         `json:"DirectoryId"`
	DomainControllerID        string         `json:"DomainControllerId"`
	DNSIPAddr                 string         `json:"DnsIpAddr"`
	VpcID                     string         `json:"VpcId"`
	SubnetID                  string         `json:"SubnetId"`
	AvailabilityZone          string         `json:"AvailabilityZone"`
	Status                    string         `json:"Status"`
	StatusReason              string         `json:"StatusReason,omitempty"`
	LaunchTime                *awsproto.Time `json:"LaunchTime,omitempty"`
	StatusLastUpdatedDateTime *awsproto.Time `json:"StatusLastUpdatedDateTime,omitempty"`
}

// maxDirectoryTags is Directory Service's limit of tags per directory.
const maxDirectoryTags = 50

var tagRe = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)

// directoryChecks is the check on a directory named by the request.
func (m *Module) directoryChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	chk, err := m.directoryCheck(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return []gateway.Check{chk}, nil
}

// listTagsForResourceResources resolves the resources ListTagsForResource is authorized on.
func (m *Module) listTagsForResourceResources(ctx context.Context, c *gateway.Call, in *ListTagsForResourceInput) ([]gateway.Check, error) {
	return m.directoryChecks(ctx, c, *in.ResourceID)
}

// addTagsToResourceResources resolves the resources AddTagsToResource is authorized on.
func (m *Module) addTagsToResourceResources(ctx context.Context, c *gateway.Call, in *AddTagsToResourceInput) ([]gateway.Check, error) {
	checks, err := m.directoryChecks(ctx, c, *in.ResourceID)
	if err != nil {
		return nil, err
	}
	checks[0].RequestTags = map[string]string{}
	for _, t := range in.Tags {
		checks[0].RequestTags[t.Key] = t.Value
	}
	return checks, nil
}

// removeTagsFromResourceResources resolves the resources RemoveTagsFromResource is authorized on.
func (m *Module) removeTagsFromResourceResources(ctx context.Context, c *gateway.Call, in *RemoveTagsFromResourceInput) ([]gateway.Check, error) {
	checks, err := m.directoryChecks(ctx, c, *in.ResourceID)
	if err != nil {
		return nil, err
	}
	checks[0].Context = map[string][]string{"aws:TagKeys": append([]string{}, in.TagKeys...)}
	return checks, nil
}

// describeDomainControllersResources resolves the resources DescribeDomainControllers is authorized on.
func (m *Module) describeDomainControllersResources(ctx context.Context, c *gateway.Call, in *DescribeDomainControllersInput) ([]gateway.Check, error) {
	return m.directoryChecks(ctx, c, *in.DirectoryID)
}

func noDirectory(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return awsproto.Errorf("EntityDoesNotExistException", "Directory %s does not exist.", id)
	}
	return err
}

// pageOf cuts sorted keys at a NextToken and Limit (0: no limit).
func pageOf(keys []string, token string, limit int) (start, end int, next string, err error) {
	if token != "" {
		b, derr := base64.RawURLEncoding.DecodeString(token)
		if derr != nil || len(b) == 0 {
			return 0, 0, "", awsproto.Errorf("InvalidNextTokenException", "The NextToken value is not valid.")
		}
		start = sort.SearchStrings(keys, string(b))
		if start < len(keys) && keys[start] == string(b) {
			start++
		}
	}
	end = len(keys)
	if limit > 0 && start+limit < end {
		end = start + limit
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	return start, end, next, nil
}

func (m *Module) listTagsForResource(ctx context.Context, c *gateway.Call, in *ListTagsForResourceInput) (*ListTagsForResourceOutput, error) {
	var d *Directory
	if err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		d, err = getDirectory(ctx, tx, c.Account, c.Region, *in.ResourceID)
		return noDirectory(err, *in.ResourceID)
	}); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(d.Tags))
	for k := range d.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	limit := 0
	if in.Limit != nil {
		limit = *in.Limit
	}
	start, end, next, err := pageOf(keys, in.NextToken, limit)
	if err != nil {
		return nil, err
	}
	out := &ListTagsForResourceOutput{Tags: []Tag{}, NextToken: next}
	for _, k := range keys[start:end] {
		out.Tags = append(out.Tags, Tag{Key: k, Value: d.Tags[k]})
	}
	return out, nil
}

func checkTag(t Tag) error {
	switch {
	case !tagRe.MatchString(t.Key) || !tagRe.MatchString(t.Value):
		return awsproto.Errorf("InvalidParameterException", "Tag key or value contains invalid characters: %q", t.Key)
	case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
		return awsproto.Errorf("InvalidParameterException", "Tag keys starting with 'aws:' are reserved.")
	}
	return nil
}

func (m *Module) addTagsToResource(ctx context.Context, c *gateway.Call, in *AddTagsToResourceInput) (*struct{}, error) {
	if len(in.Tags) == 0 {
		return nil, invalid("Tags must contain at least one tag.")
	}
	for _, t := range in.Tags {
		if err := checkTag(t); err != nil {
			return nil, err
		}
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := getDirectory(ctx, tx, c.Account, c.Region, *in.ResourceID)
		if err != nil {
			return noDirectory(err, *in.ResourceID)
		}
		if d.Tags == nil {
			d.Tags = map[string]string{}
		}
		for _, t := range in.Tags {
			d.Tags[t.Key] = t.Value
		}
		if len(d.Tags) > maxDirectoryTags {
			return awsproto.Errorf("TagLimitExceededException", "The maximum number of tags (%d) for the directory has been reached.", maxDirectoryTags)
		}
		return store.PutJSON(ctx, tx, TableDirectories, dirKey(d.Account, d.Region, d.ID), d)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) removeTagsFromResource(ctx context.Context, c *gateway.Call, in *RemoveTagsFromResourceInput) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := getDirectory(ctx, tx, c.Account, c.Region, *in.ResourceID)
		if err != nil {
			return noDirectory(err, *in.ResourceID)
		}
		for _, k := range in.TagKeys {
			delete(d.Tags, k)
		}
		if len(d.Tags) == 0 {
			d.Tags = nil
		}
		return store.PutJSON(ctx, tx, TableDirectories, dirKey(d.Account, d.Region, d.ID), d)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// controllerID derives a domain controller's id from its interface's.
func controllerID(dirID, subnetID string) string {
	return "dc-" + strings.TrimPrefix(eniID(dirID, subnetID), "eni-")[:10]
}

func (m *Module) describeDomainControllers(ctx context.Context, c *gateway.Call, in *DescribeDomainControllersInput) (*DescribeDomainControllersOutput, error) {
	var d *Directory
	if err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		d, err = getDirectory(ctx, tx, c.Account, c.Region, *in.DirectoryID)
		return noDirectory(err, *in.DirectoryID)
	}); err != nil {
		return nil, err
	}
	if d.Type == "ADConnector" {
		return nil, awsproto.Errorf("UnsupportedOperationException", "DescribeDomainControllers is not supported for AD Connector directories.")
	}
	want := map[string]bool{}
	for _, id := range in.DomainControllerIDs {
		want[id] = true
	}
	status, launched := "Active", d.StageUpdated
	if d.Stage == "Creating" {
		status, launched = "Creating", d.LaunchTime
	}
	byID := map[string]DomainController{}
	var keys []string
	for i, sub := range d.SubnetIDs {
		id := controllerID(d.ID, sub)
		if len(want) > 0 && !want[id] {
			continue
		}
		dc := DomainController{DirectoryID: d.ID, DomainControllerID: id, VpcID: d.VPCID, SubnetID: sub, Status: status,
			LaunchTime: awsproto.NewTime(d.LaunchTime), StatusLastUpdatedDateTime: awsproto.NewTime(launched)}
		if i < len(d.DNSIPs) {
			dc.DNSIPAddr = d.DNSIPs[i]
		}
		if i < len(d.AZs) {
			dc.AvailabilityZone = d.AZs[i]
		}
		byID[id] = dc
		keys = append(keys, id)
	}
	for id := range want {
		if _, ok := byID[id]; !ok {
			return nil, awsproto.Errorf("EntityDoesNotExistException", "Domain controller %s does not exist in directory %s.", id, d.ID)
		}
	}
	sort.Strings(keys)
	limit := 0
	if in.Limit != nil {
		limit = *in.Limit
	}
	start, end, next, err := pageOf(keys, in.NextToken, limit)
	if err != nil {
		return nil, err
	}
	out := &DescribeDomainControllersOutput{DomainControllers: []DomainController{}, NextToken: next}
	for _, k := range keys[start:end] {
		out.DomainControllers = append(out.DomainControllers, byID[k])
	}
	return out, nil
}
