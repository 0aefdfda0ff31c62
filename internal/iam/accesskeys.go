package iam

import (
	"context"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// ---- access keys ----

type createKeyResult struct {
	AccessKey *accessKeyOut `xml:"AccessKey"`
}

func (m *Module) createAccessKey(ctx context.Context, c *gateway.Call, in *createAccessKeyIn) (*createKeyResult, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	var k *AccessKey
	err = m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, name)
		if err != nil {
			return err
		}
		keys, err := userKeys(ctx, tx, c.Account, u.Name)
		if err != nil {
			return err
		}
		if len(keys) >= MaxAccessKeysPerUser {
			return errLimit("Cannot exceed quota for AccessKeysPerUser: %d", MaxAccessKeysPerUser)
		}
		k = &AccessKey{ID: NewAccessKeyID("AKIA"), Secret: NewSecretKey(), Account: c.Account, UserName: u.Name, UserID: u.UserID, Status: "Active", Created: c.Now}
		return store.CreateJSON(ctx, tx, TableKeys, k.ID, sealed(m.Secrets, k))
	})
	if err != nil {
		return nil, err
	}
	return &createKeyResult{AccessKey: &accessKeyOut{UserName: k.UserName, AccessKeyId: k.ID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: isoTime(k.Created)}}, nil
}

type listKeysIn struct {
	UserName string `query:"UserName" v:"min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Marker   string `query:"Marker" v:"max=320"`
	MaxItems int    `query:"MaxItems" v:"max=1000"`
}

type listKeysResult struct {
	AccessKeyMetadata []*accessKeyOut `xml:"AccessKeyMetadata>member"`
	IsTruncated       bool            `xml:"IsTruncated"`
	Marker            string          `xml:"Marker,omitempty"`
}

func (m *Module) listAccessKeys(ctx context.Context, c *gateway.Call, in *listKeysIn) (*listKeysResult, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	var out []*accessKeyOut
	err = m.store.View(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, name)
		if err != nil {
			return err
		}
		keys, err := userKeys(ctx, tx, c.Account, u.Name)
		for _, k := range keys {
			out = append(out, &accessKeyOut{UserName: u.Name, AccessKeyId: k.ID, Status: k.Status, CreateDate: isoTime(k.Created)})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(out, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listKeysResult{AccessKeyMetadata: items, IsTruncated: trunc, Marker: next}, nil
}

type deleteKeyIn struct {
	UserName    string `query:"UserName" v:"min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	AccessKeyId string `query:"AccessKeyId" v:"required,min=16,max=128,pattern=^[A-Za-z0-9_]+$"`
}

func (m *Module) deleteAccessKey(ctx context.Context, c *gateway.Call, in *deleteKeyIn) (*struct{}, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
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
		return tx.Delete(ctx, TableKeys, k.ID)
	})
}
