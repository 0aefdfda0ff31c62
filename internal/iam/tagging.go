package iam

import (
	"context"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

type untagRoleIn struct {
	RoleName string   `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	TagKeys  []string `query:"TagKeys" v:"required,max=50"`
}

// roleListRef is the shape the requests of ListRoleTags and ListInstanceProfilesForRole share;
// each operation has its own type of it.
type roleListRef struct {
	RoleName string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Marker   string `query:"Marker" v:"max=320"`
	MaxItems int    `query:"MaxItems" v:"max=1000"`
}

// listRoleTagsIn is the ListRoleTags request.
type listRoleTagsIn roleListRef

// listInstanceProfilesForRoleIn is the ListInstanceProfilesForRole request.
type listInstanceProfilesForRoleIn roleListRef

type tagUserIn struct {
	UserName string `query:"UserName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Tags     []Tag  `query:"Tags" v:"required,max=50"`
}

type untagUserIn struct {
	UserName string   `query:"UserName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	TagKeys  []string `query:"TagKeys" v:"required,max=50"`
}

// userListRef is the shape the requests of ListUserTags and ListGroupsForUser share;
// each operation has its own type of it.
type userListRef struct {
	UserName string `query:"UserName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Marker   string `query:"Marker" v:"max=320"`
	MaxItems int    `query:"MaxItems" v:"max=1000"`
}

// listUserTagsIn is the ListUserTags request.
type listUserTagsIn userListRef

// listGroupsForUserIn is the ListGroupsForUser request.
type listGroupsForUserIn userListRef

type tagPolicyIn struct {
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
	Tags      []Tag  `query:"Tags" v:"required,max=50"`
}

type untagPolicyIn struct {
	PolicyArn string   `query:"PolicyArn" v:"required,min=20,max=2048"`
	TagKeys   []string `query:"TagKeys" v:"required,max=50"`
}

type listPolicyTagsIn struct {
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
	Marker    string `query:"Marker" v:"max=320"`
	MaxItems  int    `query:"MaxItems" v:"max=1000"`
}

type updateKeyIn struct {
	UserName    string `query:"UserName" v:"min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	AccessKeyId string `query:"AccessKeyId" v:"required,min=16,max=128,pattern=^[A-Za-z0-9_]+$"`
	Status      string `query:"Status" v:"required,enum=Active|Inactive|Expired"`
}

type listTagsResult struct {
	Tags        []Tag  `xml:"Tags>member"`
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

type listGroupsResult struct {
	Groups      []struct{} `xml:"Groups>member"`
	IsTruncated bool       `xml:"IsTruncated"`
}

type listInstanceProfilesResult struct {
	InstanceProfiles []struct{} `xml:"InstanceProfiles>member"`
	IsTruncated      bool       `xml:"IsTruncated"`
}

// untag removes keys from tags (IAM tag keys are case-insensitive).
func untag(tags map[string]string, keys []string) map[string]string {
	for _, k := range keys {
		for t := range tags {
			if strings.EqualFold(t, k) {
				delete(tags, t)
			}
		}
	}
	if len(tags) == 0 {
		return nil
	}
	return tags
}

func tagPage(tags map[string]string, marker string, maxItems int) (*listTagsResult, error) {
	list := tagList(tags)
	sortTags(list)
	items, next, trunc, err := page(list, marker, maxItems)
	if err != nil {
		return nil, err
	}
	return &listTagsResult{Tags: items, IsTruncated: trunc, Marker: next}, nil
}

func (m *Module) untagRole(ctx context.Context, c *gateway.Call, in *untagRoleIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		r.Tags = untag(r.Tags, in.TagKeys)
		return store.PutJSON(ctx, tx, TableRoles, RoleKey(c.Account, r.Name), r)
	})
}

func (m *Module) listRoleTags(ctx context.Context, c *gateway.Call, in *listRoleTagsIn) (*listTagsResult, error) {
	var tags map[string]string
	if err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err == nil {
			tags = r.Tags
		}
		return err
	}); err != nil {
		return nil, err
	}
	return tagPage(tags, in.Marker, in.MaxItems)
}

func (m *Module) listInstanceProfilesForRole(ctx context.Context, c *gateway.Call, in *listInstanceProfilesForRoleIn) (*listInstanceProfilesResult, error) {
	if err := m.store.View(ctx, func(tx store.Tx) error {
		_, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		return err
	}); err != nil {
		return nil, err
	}
	if _, _, _, err := page([]struct{}{}, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	return &listInstanceProfilesResult{InstanceProfiles: []struct{}{}}, nil
}

func (m *Module) tagUser(ctx context.Context, c *gateway.Call, in *tagUserIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err != nil {
			return err
		}
		if u.Tags, err = tagMap(in.Tags, u.Tags); err != nil {
			return err
		}
		return store.PutJSON(ctx, tx, TableUsers, UserKey(c.Account, u.Name), u)
	})
}

func (m *Module) untagUser(ctx context.Context, c *gateway.Call, in *untagUserIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err != nil {
			return err
		}
		u.Tags = untag(u.Tags, in.TagKeys)
		return store.PutJSON(ctx, tx, TableUsers, UserKey(c.Account, u.Name), u)
	})
}

func (m *Module) listUserTags(ctx context.Context, c *gateway.Call, in *listUserTagsIn) (*listTagsResult, error) {
	var tags map[string]string
	if err := m.store.View(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err == nil {
			tags = u.Tags
		}
		return err
	}); err != nil {
		return nil, err
	}
	return tagPage(tags, in.Marker, in.MaxItems)
}

func (m *Module) listGroupsForUser(ctx context.Context, c *gateway.Call, in *listGroupsForUserIn) (*listGroupsResult, error) {
	if err := m.store.View(ctx, func(tx store.Tx) error {
		_, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		return err
	}); err != nil {
		return nil, err
	}
	if _, _, _, err := page([]struct{}{}, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	return &listGroupsResult{Groups: []struct{}{}}, nil
}

func (m *Module) updateAccessKey(ctx context.Context, c *gateway.Call, in *updateKeyIn) (*struct{}, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	if in.Status == "Expired" {
		return nil, errInvalidInput("The status Expired cannot be set by a request; it is reserved for keys AWS expires.")
	}
	return nil, m.update(ctx, func(tx store.Tx) error {
		if _, err := m.loadUser(ctx, tx, c.Account, name); err != nil {
			return err
		}
		k, err := store.GetJSON[AccessKey](ctx, tx, TableKeys, in.AccessKeyId)
		if IsNotFound(err) || (err == nil && (k.Account != c.Account || !strings.EqualFold(k.UserName, name))) {
			return errNoSuchEntity("The Access Key with id %s cannot be found.", in.AccessKeyId)
		}
		if err != nil {
			return err
		}
		k.Status = in.Status
		return store.PutJSON(ctx, tx, TableKeys, k.ID, sealed(m.Secrets, k))
	})
}

func (m *Module) tagPolicy(ctx context.Context, c *gateway.Call, in *tagPolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		p, err := m.loadOwnPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		if p.Tags, err = tagMap(in.Tags, p.Tags); err != nil {
			return err
		}
		return store.PutJSON(ctx, tx, TablePolicies, p.ARN, p)
	})
}

func (m *Module) untagPolicy(ctx context.Context, c *gateway.Call, in *untagPolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		p, err := m.loadOwnPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		p.Tags = untag(p.Tags, in.TagKeys)
		return store.PutJSON(ctx, tx, TablePolicies, p.ARN, p)
	})
}

func (m *Module) listPolicyTags(ctx context.Context, c *gateway.Call, in *listPolicyTagsIn) (*listTagsResult, error) {
	var tags map[string]string
	if err := m.store.View(ctx, func(tx store.Tx) error {
		p, err := m.loadPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err == nil {
			tags = p.Tags
		}
		return err
	}); err != nil {
		return nil, err
	}
	return tagPage(tags, in.Marker, in.MaxItems)
}
