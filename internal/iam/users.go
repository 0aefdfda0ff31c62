package iam

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// ---- users ----

type createUserIn struct {
	UserName string `query:"UserName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Path     string `query:"Path" v:"max=512"`
	Tags     []Tag  `query:"Tags" v:"max=50"`
}
type userResult struct {
	User *userOut `xml:"User"`
}

// userNameRef is the shape GetUser's and CreateAccessKey's requests share
// (one optional member, UserName: existingUserNameType); each operation has
// its own type of it.
type userNameRef struct {
	UserName string `query:"UserName" v:"min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
}

// getUserIn is the GetUser request.
type getUserIn userNameRef

// createAccessKeyIn is the CreateAccessKey request.
type createAccessKeyIn userNameRef

// deleteUserIn is the input of DeleteUser.
type deleteUserIn struct {
	UserName string `query:"UserName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
}

// listIn is the shape ListUsers' and ListRoles' requests share; each
// operation has its own type of it.
type listIn struct {
	PathPrefix string `query:"PathPrefix" v:"max=512"`
	Marker     string `query:"Marker" v:"max=320"`
	MaxItems   int    `query:"MaxItems" v:"max=1000"`
}

// listUsersIn is the ListUsers request.
type listUsersIn listIn

// listRolesIn is the ListRoles request.
type listRolesIn listIn

// listByPath lists the account's records in table whose path starts with
// the request's PathPrefix, shaped for a listing, one page of them
// (ListUsers, ListRoles).
func listByPath[R, O any](ctx context.Context, m *Module, table, account string, in *listIn, path func(*R) string, shape func(*R) O) ([]O, string, bool, error) {
	var all []O
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, table, account+"/", "", 0, func(_ string, r *R) error {
			if strings.HasPrefix(orSlash(path(r)), orSlash(in.PathPrefix)) {
				all = append(all, shape(r))
			}
			return nil
		})
	})
	if err != nil {
		return nil, "", false, err
	}
	return page(all, in.Marker, in.MaxItems)
}

type listUsersResult struct {
	Users       []*userOut `xml:"Users>member"`
	IsTruncated bool       `xml:"IsTruncated"`
	Marker      string     `xml:"Marker,omitempty"`
}

// PolicyARN builds a customer managed policy's ARN.
func PolicyARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":policy" + orSlash(path) + name
}

func (m *Module) createUser(ctx context.Context, c *gateway.Call, in *createUserIn) (*userResult, error) {
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags, nil)
	if err != nil {
		return nil, err
	}
	u := &User{Account: c.Account, Name: in.UserName, Path: path, UserID: UniqueID("AIDA", c.Account+"/"+in.UserName+"/"+c.RequestID),
		ARN: UserARN(c.Account, path, in.UserName), Created: c.Now, Tags: tags, Inline: map[string]string{}}
	err = m.update(ctx, func(tx store.Tx) error {
		err := store.CreateJSON(ctx, tx, TableUsers, UserKey(c.Account, in.UserName), u)
		if errors.Is(err, store.ErrExists) {
			return errExists("User with name %s already exists.", in.UserName)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &userResult{User: userShape(u)}, nil
}

// callerUser resolves an optional UserName (validated by its input's
// tags) to the caller's user name.
func callerUser(c *gateway.Call, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if c.Principal == nil || c.Principal.Type != "IAMUser" {
		return "", errValidation("Must specify userName when calling with non-User credentials")
	}
	return c.Principal.UserName, nil
}

func (m *Module) loadUser(ctx context.Context, tx store.Tx, account, name string) (*User, error) {
	u, err := GetUser(ctx, tx, account, name)
	if IsNotFound(err) {
		return nil, errNoSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, err
}

func (m *Module) getUser(ctx context.Context, c *gateway.Call, in *getUserIn) (*userResult, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	var u *User
	err = m.store.View(ctx, func(tx store.Tx) error {
		u, err = m.loadUser(ctx, tx, c.Account, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &userResult{User: userShape(u)}, nil
}

func (m *Module) listUsers(ctx context.Context, c *gateway.Call, in *listUsersIn) (*listUsersResult, error) {
	items, next, trunc, err := listByPath(ctx, m, TableUsers, c.Account, (*listIn)(in),
		func(u *User) string { return u.Path },
		func(u *User) *userOut { o := userShape(u); o.Tags = nil; return o })
	if err != nil {
		return nil, err
	}
	return &listUsersResult{Users: items, IsTruncated: trunc, Marker: next}, nil
}

// userKeys lists the access keys of a user.
func userKeys(ctx context.Context, tx store.Tx, account, name string) ([]*AccessKey, error) {
	var out []*AccessKey
	err := store.ScanJSON(ctx, tx, TableKeys, "", "", 0, func(_ string, k *AccessKey) error {
		if k.Account == account && strings.EqualFold(k.UserName, name) {
			out = append(out, k)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

func (m *Module) deleteUser(ctx context.Context, c *gateway.Call, in *deleteUserIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err != nil {
			return err
		}
		keys, err := userKeys(ctx, tx, c.Account, u.Name)
		if err != nil {
			return err
		}
		switch {
		case len(keys) > 0:
			return errDeleteConflict("Cannot delete entity, must delete access keys first.")
		case len(u.Inline) > 0:
			return errDeleteConflict("Cannot delete entity, must delete policies first.")
		case len(u.Attached) > 0:
			return errDeleteConflict("Cannot delete entity, must detach all policies first.")
		}
		return tx.Delete(ctx, TableUsers, UserKey(c.Account, u.Name))
	})
}
