package iam

import (
	"context"
	"errors"
	"regexp"
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

type userNameIn struct {
	UserName string `query:"UserName" v:"max=128"`
}

type listIn struct {
	PathPrefix string `query:"PathPrefix" v:"max=512"`
	Marker     string `query:"Marker" v:"max=320"`
	MaxItems   int    `query:"MaxItems" v:"max=1000"`
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

var nameRe = regexp.MustCompile(`^[\w+=,.@-]+$`)

// checkName validates an optional user or role name member.
func checkName(member, name string) error {
	if !nameRe.MatchString(name) {
		return errValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name, member)
	}
	return nil
}

// callerUser resolves an optional UserName to the caller's user name.
func callerUser(c *gateway.Call, name string) (string, error) {
	if name != "" {
		return name, checkName("userName", name)
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

func (m *Module) getUser(ctx context.Context, c *gateway.Call, in *userNameIn) (*userResult, error) {
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

func (m *Module) listUsers(ctx context.Context, c *gateway.Call, in *listIn) (*listUsersResult, error) {
	var all []*userOut
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, TableUsers, c.Account+"/", "", 0, func(_ string, u *User) error {
			if strings.HasPrefix(orSlash(u.Path), orSlash(in.PathPrefix)) {
				o := userShape(u)
				o.Tags = nil
				all = append(all, o)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(all, in.Marker, in.MaxItems)
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

func (m *Module) deleteUser(ctx context.Context, c *gateway.Call, in *userNameIn) (*struct{}, error) {
	if in.UserName == "" {
		return nil, errValidation("1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkName("userName", in.UserName); err != nil {
		return nil, err
	}
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
