package ds

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// Store tables of the Directory Service module. Directories are keyed
// ACCOUNT/REGION/ID; users and groups ACCOUNT/REGION/ID/lower(SAMAccountName),
// because Active Directory names are case-insensitive.
const (
	TableDirectories = "ds_directories"
	TableUsers       = "ds_users"
	TableGroups      = "ds_groups"
)

// Directory is a stored directory.
type Directory struct {
	ID               string            `json:"id"`
	Account          string            `json:"account"`
	Region           string            `json:"region"`
	Name             string            `json:"name"`
	ShortName        string            `json:"short_name"`
	Alias            string            `json:"alias"`
	Description      string            `json:"description,omitempty"`
	Type             string            `json:"type"` // MicrosoftAD, SimpleAD, ADConnector
	Edition          string            `json:"edition,omitempty"`
	Size             string            `json:"size,omitempty"`
	Stage            string            `json:"stage"`
	VPCID            string            `json:"vpc_id"`
	SubnetIDs        []string          `json:"subnet_ids"`
	AZs              []string          `json:"azs"`
	SecurityGroupID  string            `json:"security_group_id"`
	DNSIPs           []string          `json:"dns_ips"`
	CustomerUserName string            `json:"customer_user_name,omitempty"`
	CustomerDNSIPs   []string          `json:"customer_dns_ips,omitempty"`
	NetworkType      string            `json:"network_type,omitempty"`
	LaunchTime       time.Time         `json:"launch_time"`
	StageUpdated     time.Time         `json:"stage_updated"`
	Tags             map[string]string `json:"tags,omitempty"`
	SIDBase          string            `json:"sid_base"`
	// AdminPasswordHash is the argon2id hash of the password given at
	// creation, for the Admin user (Managed Microsoft AD) or Administrator
	// (Simple AD) that activation creates.
	AdminPasswordHash string `json:"admin_password_hash,omitempty"`
	NextRID           int    `json:"next_rid"`
}

// hasData reports whether the directory holds its own users and groups.
func (d *Directory) hasData() bool { return d.Type == "MicrosoftAD" || d.Type == "SimpleAD" }

// ARN is the directory's ARN.
func (d *Directory) ARN() string { return DirectoryARN(d.Region, d.Account, d.ID) }

// DirectoryARN builds a directory ARN.
func DirectoryARN(region, account, id string) string {
	return "arn:aws:ds:" + region + ":" + account + ":directory/" + id
}

// baseDN is the domain's DN: DC=corp,DC=example,DC=com.
func (d *Directory) baseDN() string {
	parts := strings.Split(d.Name, ".")
	for i, p := range parts {
		parts[i] = "DC=" + p
	}
	return strings.Join(parts, ",")
}

// realm is the Kerberos realm: the DNS name in upper case.
func (d *Directory) realm() string { return strings.ToUpper(d.Name) }

// AttributeValue is an LDAP attribute value of the Directory Service Data API.
type AttributeValue struct {
	BOOL *bool    `json:"BOOL,omitempty"`
	N    *int64   `json:"N,omitempty"`
	S    *string  `json:"S,omitempty"`
	SS   []string `json:"SS,omitempty"`
}

func (v AttributeValue) set() int {
	n := 0
	if v.BOOL != nil {
		n++
	}
	if v.N != nil {
		n++
	}
	if v.S != nil {
		n++
	}
	if v.SS != nil {
		n++
	}
	return n
}

// strings returns the value's text forms (for search).
func (v AttributeValue) strings() []string {
	switch {
	case v.S != nil:
		return []string{*v.S}
	case v.N != nil:
		return []string{fmt.Sprint(*v.N)}
	case v.BOOL != nil:
		return []string{fmt.Sprint(*v.BOOL)}
	}
	return v.SS
}

// User is a stored directory user.
type User struct {
	SAMAccountName string                    `json:"sam"`
	GivenName      string                    `json:"given_name,omitempty"`
	Surname        string                    `json:"surname,omitempty"`
	EmailAddress   string                    `json:"email,omitempty"`
	Enabled        bool                      `json:"enabled"`
	RID            int                       `json:"rid"`
	SID            string                    `json:"sid"`
	DN             string                    `json:"dn"`
	UPN            string                    `json:"upn"`
	Other          map[string]AttributeValue `json:"other,omitempty"`
	// PasswordHash is the argon2id hash ResetUserPassword set (PHC
	// format); empty when no password was set, and then no bind succeeds.
	PasswordHash string `json:"password_hash,omitempty"`
}

// Group is a stored directory group with its direct members.
type Group struct {
	SAMAccountName string                    `json:"sam"`
	Scope          string                    `json:"scope"` // DomainLocal, Global, Universal, BuiltinLocal
	Type           string                    `json:"type"`  // Security, Distribution
	RID            int                       `json:"rid"`
	SID            string                    `json:"sid"`
	DN             string                    `json:"dn"`
	Other          map[string]AttributeValue `json:"other,omitempty"`
	Members        []MemberRef               `json:"members,omitempty"`
}

// MemberRef is a direct member of a group.
type MemberRef struct {
	Name string `json:"name"` // SAMAccountName as stored
	Type string `json:"type"` // USER or GROUP
}

func (g *Group) memberIndex(name string) int {
	for i, m := range g.Members {
		if strings.EqualFold(m.Name, name) {
			return i
		}
	}
	return -1
}

func dirKey(account, region, id string) string { return account + "/" + region + "/" + id }
func objKey(d *Directory, name string) string {
	return d.Account + "/" + d.Region + "/" + d.ID + "/" + strings.ToLower(name)
}
func objPrefix(d *Directory) string { return d.Account + "/" + d.Region + "/" + d.ID + "/" }

func getDirectory(ctx context.Context, tx store.Tx, account, region, id string) (*Directory, error) {
	return store.GetJSON[Directory](ctx, tx, TableDirectories, dirKey(account, region, id))
}

func listDirectories(ctx context.Context, tx store.Tx, account, region string) ([]*Directory, error) {
	var out []*Directory
	err := store.ScanJSON(ctx, tx, TableDirectories, account+"/"+region+"/", "", 0, func(_ string, d *Directory) error {
		out = append(out, d)
		return nil
	})
	return out, err
}

func getUser(ctx context.Context, tx store.Tx, d *Directory, name string) (*User, error) {
	return store.GetJSON[User](ctx, tx, TableUsers, objKey(d, name))
}

func getGroup(ctx context.Context, tx store.Tx, d *Directory, name string) (*Group, error) {
	return store.GetJSON[Group](ctx, tx, TableGroups, objKey(d, name))
}

func listGroups(ctx context.Context, tx store.Tx, d *Directory) ([]*Group, error) {
	var out []*Group
	err := store.ScanJSON(ctx, tx, TableGroups, objPrefix(d), "", 0, func(_ string, g *Group) error {
		out = append(out, g)
		return nil
	})
	return out, err
}

// hashID derives a deterministic id body of n hex digits from parts.
func hashID(n int, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])[:n]
}

// sidBase derives the domain SID (S-1-5-21-x-y-z) from the directory id.
func sidBase(dirID string) string {
	h := sha256.Sum256([]byte("sid\x00" + dirID))
	a := binary.BigEndian.Uint32(h[0:4]) >> 1
	b := binary.BigEndian.Uint32(h[4:8]) >> 1
	c := binary.BigEndian.Uint32(h[8:12]) >> 1
	return fmt.Sprintf("S-1-5-21-%d-%d-%d", a, b, c)
}

// dnsIP picks a stable address for a domain controller inside a subnet.
func dnsIP(cidr, dirID string, i int) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return ""
	}
	size := 1 << (32 - p.Bits())
	if size < 16 {
		return ""
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("dc\x00%s\x00%d", dirID, i)))
	off := 4 + int(binary.BigEndian.Uint16(h[:2]))%(min(size, 256)-8)
	a := p.Masked().Addr().As4()
	n := binary.BigEndian.Uint32(a[:]) + uint32(off)
	binary.BigEndian.PutUint32(a[:], n)
	return netip.AddrFrom4(a).String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
