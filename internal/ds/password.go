package ds

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// ResetUserPasswordInput is ResetUserPasswordRequest.
type ResetUserPasswordInput struct {
	DirectoryID *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	UserName    *string `json:"UserName" v:"required,min=1,max=64"`
	NewPassword *string `json:"NewPassword" v:"required,min=1,max=127"`
}

// ResetUserPasswordOutput is ResetUserPasswordResult (empty).
type ResetUserPasswordOutput struct{}

// argon2id parameters (RFC 9106's second recommended option, scaled to a
// directory of a few hundred users on a small machine: 19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// hashPassword returns the PHC-formatted argon2id hash of pw with a fresh salt.
func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("ds: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifyPassword reports whether pw matches a hash from hashPassword.
func verifyPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || t == 0 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// resetUserPasswordResources resolves the resources ResetUserPassword is authorized on.
func (m *Module) resetUserPasswordResources(ctx context.Context, c *gateway.Call, in *ResetUserPasswordInput) ([]gateway.Check, error) {
	chk, err := m.directoryCheck(ctx, c, *in.DirectoryID)
	if err != nil {
		return nil, err
	}
	return []gateway.Check{chk}, nil
}

// resetUserPassword sets a directory user's password (stored as an argon2id
// hash, never in clear) and enables the user, as the real operation does.
// The rules of the real service apply: AD Connector directories have no
// users to reset; in a Managed Microsoft AD only users in the OU named after
// the directory's NetBIOS name can be reset (not the built-in accounts); in
// a Simple AD no member of Domain Admins or Enterprise Admins but
// Administrator.
func (m *Module) resetUserPassword(ctx context.Context, c *gateway.Call, in *ResetUserPasswordInput) (*ResetUserPasswordOutput, error) {
	name, pw := *in.UserName, *in.NewPassword
	if !samRe.MatchString(name) {
		return nil, awsproto.Errorf("UserDoesNotExistException", "User %s does not exist in directory %s.", name, *in.DirectoryID)
	}
	if err := checkPassword(pw); err != nil {
		return nil, awsproto.Errorf("InvalidPasswordException", "The new password does not meet the directory's password policy: it must be 8 to 64 characters long and contain characters from three of these categories: lower case, upper case, numbers, and non-alphanumeric characters.")
	}
	hash, err := hashPassword(pw)
	if err != nil {
		return nil, err
	}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		d, err := getDirectory(ctx, tx, c.Account, c.Region, *in.DirectoryID)
		if errors.Is(err, store.ErrNotFound) {
			return awsproto.Errorf("EntityDoesNotExistException", "Directory %s does not exist.", *in.DirectoryID)
		}
		if err != nil {
			return err
		}
		if !d.hasData() {
			return awsproto.Errorf("UnsupportedOperationException", "ResetUserPassword is not supported for directories of type %s.", d.Type)
		}
		if d.Stage != "Active" {
			return awsproto.Errorf("DirectoryUnavailableException", "Directory %s is in stage %s and cannot serve requests.", d.ID, d.Stage)
		}
		u, err := getUser(ctx, tx, d, name)
		if errors.Is(err, store.ErrNotFound) {
			return awsproto.Errorf("UserDoesNotExistException", "User %s does not exist in directory %s.", name, d.ID)
		}
		if err != nil {
			return err
		}
		switch d.Type {
		case "MicrosoftAD":
			if !strings.HasSuffix(strings.ToLower(u.DN), strings.ToLower(",OU="+d.ShortName+","+d.baseDN())) {
				return awsproto.Errorf("ClientException", "User %s is not in the %s organizational unit; only its users can have their passwords reset.", u.SAMAccountName, d.ShortName)
			}
		case "SimpleAD":
			if !strings.EqualFold(u.SAMAccountName, "Administrator") {
				for _, gname := range []string{"Domain Admins", "Enterprise Admins"} {
					g, err := getGroup(ctx, tx, d, gname)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					if g != nil && g.memberIndex(u.SAMAccountName) >= 0 {
						return awsproto.Errorf("ClientException", "User %s is a member of %s; its password cannot be reset.", u.SAMAccountName, gname)
					}
				}
			}
		}
		u.PasswordHash, u.Enabled = hash, true
		return store.PutJSON(ctx, tx, TableUsers, objKey(d, u.SAMAccountName), u)
	})
	if err != nil {
		return nil, err
	}
	return &ResetUserPasswordOutput{}, nil
}
