package workspaces

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

type createTagsIn struct {
	ResourceId string `json:"ResourceId" v:"required,min=1"`
	Tags       []Tag  `json:"Tags" v:"required"`
}

type deleteTagsIn struct {
	ResourceId string   `json:"ResourceId" v:"required,min=1"`
	TagKeys    []string `json:"TagKeys" v:"required"`
}

type describeTagsIn struct {
	ResourceId string `json:"ResourceId" v:"required,min=1"`
}

type describeTagsOut struct {
	TagList []Tag `json:"TagList"`
}

// taggable resolves a resource id to its table and kind.
func taggable(id string) (table, kind string, ok bool) {
	switch {
	case strings.HasPrefix(id, "wsipg-"):
		return tIPGroups, "workspaceipgroup", true
	case strings.HasPrefix(id, "wsca-"):
		return tAliases, "connectionalias", true
	case strings.HasPrefix(id, "wsb-"):
		return tBundles, "workspacebundle", true
	case strings.HasPrefix(id, "wsi-"):
		return tImages, "workspaceimage", true
	case strings.HasPrefix(id, "wspool-"):
		return tPools, "workspacespool", true
	case strings.HasPrefix(id, "ws-"):
		return tDesktops, "workspace", true
	case strings.HasPrefix(id, "d-"), strings.HasPrefix(id, "wsd-"):
		return tDirs, "directory", true
	}
	return "", "", false
}

// withTags loads the resource's record as a generic JSON object, lets fn
// change its tags, and writes it back when write is true.
func (m *Module) withTags(ctx context.Context, tx store.Tx, account, region, id string, fn func(t Tags) (Tags, bool, error)) error {
	table, _, ok := taggable(id)
	if !ok {
		return errNotFound("The resource %s could not be found.", id)
	}
	k := key(account, region, id)
	switch table {
	case tIPGroups:
		return updateTags[ipGroupRec](ctx, tx, table, k, id, func(r *ipGroupRec) *Tags { return &r.Tags }, fn)
	case tAliases:
		return updateTags[aliasRec](ctx, tx, table, k, id, func(r *aliasRec) *Tags { return &r.Tags }, fn)
	case tBundles:
		return updateTags[bundleRec](ctx, tx, table, k, id, func(r *bundleRec) *Tags { return &r.Tags }, fn)
	case tImages:
		return updateTags[imageRec](ctx, tx, table, k, id, func(r *imageRec) *Tags { return &r.Tags }, fn)
	case tPools:
		return updateTags[poolRec](ctx, tx, table, k, id, func(r *poolRec) *Tags { return &r.Tags }, fn)
	case tDesktops:
		return updateTags[desktopRec](ctx, tx, table, k, id, func(r *desktopRec) *Tags {
			if r.State == "TERMINATED" {
				return nil
			}
			return &r.Tags
		}, fn)
	default:
		return updateTags[directoryRec](ctx, tx, table, k, id, func(r *directoryRec) *Tags { return &r.Tags }, fn)
	}
}

func updateTags[T any](ctx context.Context, tx store.Tx, table, k, id string, field func(*T) *Tags, fn func(Tags) (Tags, bool, error)) error {
	r, err := getRec[T](ctx, tx, table, k)
	if err != nil {
		return err
	}
	if r == nil {
		return errNotFound("The resource %s could not be found.", id)
	}
	f := field(r)
	if f == nil {
		return errNotFound("The resource %s could not be found.", id)
	}
	cur := Tags{}
	for k, v := range *f {
		cur[k] = v
	}
	next, write, err := fn(cur)
	if err != nil || !write {
		return err
	}
	*f = next
	return putRec(ctx, tx, table, k, r)
}

// resourceTags returns a resource's tags (nil if it does not exist). It
// reads the committed record through Store.Get (served from the store's
// read cache) and decodes only its tags and state.
func (m *Module) resourceTags(ctx context.Context, account, region, id string) (map[string]string, error) {
	table, _, ok := taggable(id)
	if !ok {
		return nil, nil
	}
	b, err := m.store.Get(ctx, table, key(account, region, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r struct {
		Tags  Tags   `json:"tags"`
		State string `json:"state"`
	}
	// store.DecodeJSON: a record this program wrote, decoded as
	// encoding/json decodes it, in about a third of its time (each
	// CreateWorkspaces reads its directory's and bundle's tags here).
	if err := store.DecodeJSON(b, &r); err != nil {
		return nil, fmt.Errorf("tags of %s: %w", id, err)
	}
	if table == tDesktops && r.State == "TERMINATED" {
		return nil, nil
	}
	if r.Tags == nil {
		r.Tags = Tags{}
	}
	return r.Tags, nil
}

// createTagsResources resolves the resources CreateTags is authorized on.
func (m *Module) createTagsResources(ctx context.Context, c *gateway.Call, in *createTagsIn) ([]gateway.Check, error) {
	return []gateway.Check{withRequestTags(gateway.Check{Resource: "*"}, in.Tags)}, nil
}

// deleteTagsResources resolves the resources DeleteTags is authorized on.
func (m *Module) deleteTagsResources(ctx context.Context, c *gateway.Call, in *deleteTagsIn) ([]gateway.Check, error) {
	return []gateway.Check{{Resource: "*", TagKeys: in.TagKeys}}, nil
}

// auditTagged names the resource whose tags a call changes in its audit
// event: CreateTags and DeleteTags are authorized on "*" only, so no
// authorization check names it.
func (m *Module) auditTagged(c *gateway.Call, id string) {
	if _, kind, ok := taggable(id); ok {
		c.AddResource(gateway.Check{Resource: ARN(c.Region, c.Account, kind, id)})
	}
}

func (m *Module) createTags(ctx context.Context, c *gateway.Call, in *createTagsIn) (*struct{}, error) {
	add, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	m.auditTagged(c, in.ResourceId)
	err = m.store.Update(ctx, func(tx store.Tx) error {
		return m.withTags(ctx, tx, c.Account, c.Region, in.ResourceId, func(t Tags) (Tags, bool, error) {
			for k, v := range add {
				t[k] = v
			}
			if len(t) > 50 {
				return nil, false, errLimit("The resource %s would have %d tags; the limit is 50.", in.ResourceId, len(t))
			}
			return t, true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) deleteTags(ctx context.Context, c *gateway.Call, in *deleteTagsIn) (*struct{}, error) {
	for _, k := range in.TagKeys {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, errInvalid("Tags with keys beginning with 'aws:' cannot be deleted: %q.", k)
		}
	}
	m.auditTagged(c, in.ResourceId)
	err := m.store.Update(ctx, func(tx store.Tx) error {
		return m.withTags(ctx, tx, c.Account, c.Region, in.ResourceId, func(t Tags) (Tags, bool, error) {
			for _, k := range in.TagKeys {
				delete(t, k)
			}
			return t, true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) describeTags(ctx context.Context, c *gateway.Call, in *describeTagsIn) (*describeTagsOut, error) {
	out := &describeTagsOut{TagList: []Tag{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		return m.withTags(ctx, tx, c.Account, c.Region, in.ResourceId, func(t Tags) (Tags, bool, error) {
			out.TagList = t.List()
			return nil, false, nil
		})
	})
	return out, err
}
