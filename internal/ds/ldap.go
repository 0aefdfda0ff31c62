package ds

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deskplane/deskplane/internal/store"
)

// LDAPDirectory is what the LDAP server needs to know of a directory.
type LDAPDirectory struct {
	Account, Region, ID string
	Name                string   // DNS name, e.g. corp.example.com
	ShortName           string   // NetBIOS name, e.g. CORP
	BaseDN              string   // e.g. DC=corp,DC=example,DC=com
	DNSIPs              []string // the domain controllers' addresses
}

// LDAPUser is a directory user as LDAP shows it.
type LDAPUser struct {
	SAMAccountName, UPN, DN, SID string
	GivenName, Surname, Email    string
	Enabled                      bool
	MemberOf                     []string // the DNs of the groups the user is a direct member of
	Other                        map[string][]string
}

// LDAPGroup is a directory group as LDAP shows it.
type LDAPGroup struct {
	SAMAccountName, DN, SID string
	Scope, Type             string
	Members                 []string // member DNs
	MemberOf                []string
	Other                   map[string][]string
}

// LDAPDirectories lists the directories that answer LDAP: every Active
// Simple AD and Managed Microsoft AD of every account and region (an AD
// Connector's directory is the customer's own).
func (m *Module) LDAPDirectories(ctx context.Context) ([]LDAPDirectory, error) {
	var out []LDAPDirectory
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, TableDirectories, "", "", 0, func(_ string, d *Directory) error {
			if d.Stage == "Active" && d.hasData() {
				out = append(out, LDAPDirectory{Account: d.Account, Region: d.Region, ID: d.ID, Name: d.Name,
					ShortName: d.ShortName, BaseDN: d.baseDN(), DNSIPs: append([]string(nil), d.DNSIPs...)})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ds: list directories for LDAP: %w", err)
	}
	return out, nil
}

// LDAPEntries returns a directory's users and groups as the Data API sees
// them, with memberOf and member resolved to DNs.
func (m *Module) LDAPEntries(ctx context.Context, account, region, id string) ([]LDAPUser, []LDAPGroup, error) {
	var users []LDAPUser
	var groups []LDAPGroup
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := getDirectory(ctx, tx, account, region, id)
		if err != nil {
			return err
		}
		us, err := listUsersAll(ctx, tx, d)
		if err != nil {
			return err
		}
		gs, err := listGroups(ctx, tx, d)
		if err != nil {
			return err
		}
		dnOf := map[string]string{} // "USER/name" or "GROUP/name" (lower case) → DN
		for _, u := range us {
			dnOf["USER/"+strings.ToLower(u.SAMAccountName)] = u.DN
		}
		for _, g := range gs {
			dnOf["GROUP/"+strings.ToLower(g.SAMAccountName)] = g.DN
		}
		memberOf := map[string][]string{} // member DN → group DNs
		for _, g := range gs {
			lg := LDAPGroup{SAMAccountName: g.SAMAccountName, DN: g.DN, SID: g.SID, Scope: g.Scope, Type: g.Type, Other: flatten(g.Other)}
			for _, mr := range g.Members {
				if dn, ok := dnOf[mr.Type+"/"+strings.ToLower(mr.Name)]; ok {
					lg.Members = append(lg.Members, dn)
					memberOf[dn] = append(memberOf[dn], g.DN)
				}
			}
			groups = append(groups, lg)
		}
		for i := range groups {
			groups[i].MemberOf = memberOf[groups[i].DN]
		}
		for _, u := range us {
			users = append(users, LDAPUser{SAMAccountName: u.SAMAccountName, UPN: u.UPN, DN: u.DN, SID: u.SID,
				GivenName: u.GivenName, Surname: u.Surname, Email: u.EmailAddress, Enabled: u.Enabled,
				MemberOf: memberOf[u.DN], Other: flatten(u.Other)})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("ds: read directory %s for LDAP: %w", id, err)
	}
	return users, groups, nil
}

func flatten(attrs map[string]AttributeValue) map[string][]string {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string][]string, len(attrs))
	for k, v := range attrs {
		out[k] = v.strings()
	}
	return out
}

func listUsersAll(ctx context.Context, tx store.Tx, d *Directory) ([]*User, error) {
	var out []*User
	err := store.ScanJSON(ctx, tx, TableUsers, objPrefix(d), "", 0, func(_ string, u *User) error {
		out = append(out, u)
		return nil
	})
	return out, err
}

// ErrBadCredentials is CheckPassword's answer for an unknown user, a
// disabled one, one without a password, or a wrong password.
var ErrBadCredentials = errors.New("ds: invalid credentials")

// CheckPassword verifies a directory user's password (the user by SAM
// account name); it returns ErrBadCredentials when the bind must fail.
func (m *Module) CheckPassword(ctx context.Context, account, region, id, sam, password string) error {
	var hash string
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := getDirectory(ctx, tx, account, region, id)
		if err != nil {
			return err
		}
		u, err := getUser(ctx, tx, d, sam)
		if err != nil {
			return err
		}
		if u.Enabled {
			hash = u.PasswordHash
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrBadCredentials
	}
	if err != nil {
		return fmt.Errorf("ds: read user %s for a bind: %w", sam, err)
	}
	if hash == "" || password == "" || !verifyPassword(hash, password) {
		return ErrBadCredentials
	}
	return nil
}
