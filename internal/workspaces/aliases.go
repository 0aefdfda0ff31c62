package workspaces

import (
	"context"
	"slices"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/store"
)

// Connection aliases (cross-Region redirection) and their sharing.
const (
	tAliases     = "ws_aliases"      // OWNER/REGION/ALIASID
	tAliasOwner  = "ws_alias_owner"  // REGION/ALIASID -> owner account
	tAliasShared = "ws_alias_shared" // SHAREDACCOUNT/REGION/ALIASID -> owner account
	tAliasConn   = "ws_alias_conn"   // REGION/CONNECTIONSTRING -> alias id (unique across accounts)
	// maxAliases is the connection aliases an account may have per Region.
	maxAliases = 20
)

// aliasRec is a connection alias, stored in its owner's account.
type aliasRec struct {
	AliasID          string `json:"id"`
	ConnectionString string `json:"conn"`
	Owner            string `json:"owner"`
	State            string `json:"state"`
	// Permissions maps shared account ids to AllowAssociation (only true
	// ones are kept).
	Permissions []string `json:"perms,omitempty"`
	// Association: the account and directory the alias is associated with.
	AssocAccount  string `json:"assoc_account,omitempty"`
	AssocResource string `json:"assoc_resource,omitempty"`
	AssocID       string `json:"assoc_id,omitempty"`
	Tags          Tags   `json:"tags,omitempty"`
}

type createAliasIn struct {
	ConnectionString string `json:"ConnectionString" v:"required,min=1,max=255,pattern=^[.0-9a-zA-Z\\-]{1,255}$"`
	Tags             []Tag  `json:"Tags,omitempty"`
}

type createAliasOut struct {
	AliasID string `json:"AliasId"`
}

// aliasRef is the shape Delete and DisassociateConnectionAlias's requests
// share; each operation has its own type of it.
type aliasRef struct {
	AliasID string `json:"AliasId" v:"required,min=13,max=68,pattern=^wsca-[0-9a-z]{8,63}$"`
}

// deleteAliasIn is DeleteConnectionAliasRequest.
type deleteAliasIn aliasRef

// disassociateAliasIn is DisassociateConnectionAliasRequest.
type disassociateAliasIn aliasRef

type describeAliasesIn struct {
	AliasIDs   []string `json:"AliasIds,omitempty" v:"min=1,max=25"`
	ResourceID *string  `json:"ResourceId,omitempty" v:"min=1"`
	Limit      *int     `json:"Limit,omitempty" v:"min=1,max=25"`
	NextToken  *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
}

type aliasAssocOut struct {
	AssociationStatus    string `json:"AssociationStatus"`
	AssociatedAccountID  string `json:"AssociatedAccountId,omitempty"`
	ResourceID           string `json:"ResourceId,omitempty"`
	ConnectionIdentifier string `json:"ConnectionIdentifier,omitempty"`
}

type aliasOut struct {
	ConnectionString string          `json:"ConnectionString"`
	AliasID          string          `json:"AliasId"`
	State            string          `json:"State"`
	OwnerAccountID   string          `json:"OwnerAccountId"`
	Associations     []aliasAssocOut `json:"Associations,omitempty"`
}

type describeAliasesOut struct {
	ConnectionAliases []aliasOut `json:"ConnectionAliases,omitempty"` // the model's list has at least one member
	NextToken         *string    `json:"NextToken,omitempty"`
}

type associateAliasIn struct {
	AliasID    string `json:"AliasId" v:"required,min=13,max=68,pattern=^wsca-[0-9a-z]{8,63}$"`
	ResourceID string `json:"ResourceId" v:"required,min=1"`
}

type associateAliasOut struct {
	ConnectionIdentifier string `json:"ConnectionIdentifier"`
}

type aliasPermission struct {
	SharedAccountID  string `json:"SharedAccountId" v:"required,pattern=^\\d{12}$"`
	AllowAssociation *bool  `json:"AllowAssociation" v:"required"`
}

type updateAliasPermIn struct {
	AliasID                   string           `json:"AliasId" v:"required,min=13,max=68,pattern=^wsca-[0-9a-z]{8,63}$"`
	ConnectionAliasPermission *aliasPermission `json:"ConnectionAliasPermission" v:"required"`
}

type describeAliasPermsIn struct {
	AliasID    string  `json:"AliasId" v:"required,min=13,max=68,pattern=^wsca-[0-9a-z]{8,63}$"`
	NextToken  *string `json:"NextToken,omitempty" v:"min=1,max=2048"`
	MaxResults *int    `json:"MaxResults,omitempty" v:"min=1,max=25"`
}

type aliasPermOut struct {
	SharedAccountID  string `json:"SharedAccountId"`
	AllowAssociation bool   `json:"AllowAssociation"`
}

type describeAliasPermsOut struct {
	AliasID                    string         `json:"AliasId"`
	ConnectionAliasPermissions []aliasPermOut `json:"ConnectionAliasPermissions,omitempty"` // at least one member, or absent
	NextToken                  *string        `json:"NextToken,omitempty"`
}

// createConnectionAliasResources resolves the resources CreateConnectionAlias is authorized on.
func (m *Module) createConnectionAliasResources(ctx context.Context, c *gateway.Call, in *createAliasIn) ([]gateway.Check, error) {
	return []gateway.Check{withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "connectionalias", "*")}, in.Tags)}, nil
}

// deleteConnectionAliasResources resolves the resources DeleteConnectionAlias is authorized on.
func (m *Module) deleteConnectionAliasResources(ctx context.Context, c *gateway.Call, in *deleteAliasIn) ([]gateway.Check, error) {
	return m.aliasChecks(ctx, c, in.AliasID)
}

// associateConnectionAliasResources resolves the resources AssociateConnectionAlias is authorized on.
func (m *Module) associateConnectionAliasResources(ctx context.Context, c *gateway.Call, in *associateAliasIn) ([]gateway.Check, error) {
	checks, err := m.aliasChecks(ctx, c, in.AliasID)
	if err != nil {
		return nil, err
	}
	d, err := m.dirChecks(ctx, c, in.ResourceID)
	return append(checks, d...), err
}

// disassociateConnectionAliasResources resolves the resources DisassociateConnectionAlias is authorized on.
func (m *Module) disassociateConnectionAliasResources(ctx context.Context, c *gateway.Call, in *disassociateAliasIn) ([]gateway.Check, error) {
	return m.aliasChecks(ctx, c, in.AliasID)
}

// updateConnectionAliasPermissionResources resolves the resources UpdateConnectionAliasPermission is authorized on.
func (m *Module) updateConnectionAliasPermissionResources(ctx context.Context, c *gateway.Call, in *updateAliasPermIn) ([]gateway.Check, error) {
	return m.aliasChecks(ctx, c, in.AliasID)
}

// describeConnectionAliasPermissionsResources resolves the resources DescribeConnectionAliasPermissions is authorized on.
func (m *Module) describeConnectionAliasPermissionsResources(ctx context.Context, c *gateway.Call, in *describeAliasPermsIn) ([]gateway.Check, error) {
	return m.aliasChecks(ctx, c, in.AliasID)
}

// aliasChecks authorizes an operation on an alias, named by its owner's
// ARN. A shared account's calls are checked against its own policies: the
// alias permission plays the part of a resource policy.
func (m *Module) aliasChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	owner := c.Account
	var tags Tags
	err := m.store.View(ctx, func(tx store.Tx) error {
		o, err := getRec[string](ctx, tx, tAliasOwner, c.Region+"/"+id)
		if err != nil || o == nil {
			return err
		}
		a, err := getRec[aliasRec](ctx, tx, tAliases, key(*o, c.Region, id))
		if err != nil || a == nil {
			return err
		}
		switch {
		case a.Owner == c.Account:
			tags = a.Tags
		case slices.Contains(a.Permissions, c.Account):
			owner = a.Owner // shared: named by the owner's ARN, its tags unseen
		}
		return nil
	})
	return []gateway.Check{{Resource: ARN(c.Region, owner, "connectionalias", id), ResourceTags: orEmpty(tags)}}, err
}

// lookupAlias finds an alias the caller owns or that is shared with it.
func lookupAlias(ctx context.Context, tx store.Tx, account, region, id string) (*aliasRec, error) {
	o, err := getRec[string](ctx, tx, tAliasOwner, region+"/"+id)
	if err != nil {
		return nil, err
	}
	if o != nil {
		a, err := getRec[aliasRec](ctx, tx, tAliases, key(*o, region, id))
		if err != nil {
			return nil, err
		}
		if a != nil && (a.Owner == account || slices.Contains(a.Permissions, account)) {
			return a, nil
		}
	}
	return nil, errNotFound("The connection alias %s could not be found.", id)
}

func (m *Module) createAlias(ctx context.Context, c *gateway.Call, in *createAliasIn) (*createAliasOut, error) {
	cs := strings.ToLower(in.ConnectionString)
	if !strings.Contains(cs, ".") || strings.HasPrefix(cs, ".") || strings.HasSuffix(cs, ".") || strings.Contains(cs, "..") {
		return nil, errInvalid("The connection string %q is not a fully qualified domain name.", in.ConnectionString)
	}
	if strings.HasSuffix(cs, ".amazonaws.com") || strings.HasSuffix(cs, ".aws") {
		return nil, errInvalid("The connection string %q is reserved: it cannot be under an AWS domain.", in.ConnectionString)
	}
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	id := newID("wsca-")
	err = m.store.Update(ctx, func(tx store.Tx) error {
		if x, err := getRec[string](ctx, tx, tAliasConn, c.Region+"/"+cs); err != nil {
			return err
		} else if x != nil {
			return errExists("The connection string %s is already used by a connection alias.", in.ConnectionString)
		}
		n, err := tx.Count(ctx, tAliases, prefix(c.Account, c.Region))
		if err != nil {
			return err
		}
		if n >= maxAliases {
			return errLimit("The account has %d connection aliases in %s, the limit.", n, c.Region)
		}
		if err := putRec(ctx, tx, tAliasConn, c.Region+"/"+cs, id); err != nil {
			return err
		}
		if err := putRec(ctx, tx, tAliasOwner, c.Region+"/"+id, c.Account); err != nil {
			return err
		}
		return putRec(ctx, tx, tAliases, key(c.Account, c.Region, id), &aliasRec{AliasID: id, ConnectionString: in.ConnectionString,
			Owner: c.Account, State: "CREATED", Tags: tags})
	})
	if err != nil {
		return nil, err
	}
	c.AddResource(gateway.Check{Resource: ARN(c.Region, c.Account, "connectionalias", id)})
	return &createAliasOut{AliasID: id}, nil
}

func (m *Module) deleteAlias(ctx context.Context, c *gateway.Call, in *deleteAliasIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		a, err := lookupAlias(ctx, tx, c.Account, c.Region, in.AliasID)
		if err != nil {
			return err
		}
		if a.Owner != c.Account {
			return errUnsupported("Only the owner account %s can delete the connection alias %s.", a.Owner, in.AliasID)
		}
		if a.AssocResource != "" {
			return errAssociated("The connection alias %s is associated with %s in account %s; disassociate it first.", in.AliasID, a.AssocResource, a.AssocAccount)
		}
		for _, sh := range a.Permissions {
			if err := tx.Delete(ctx, tAliasShared, key(sh, c.Region, in.AliasID)); err != nil {
				return err
			}
		}
		for _, k := range []struct{ table, key string }{
			{tAliasConn, c.Region + "/" + strings.ToLower(a.ConnectionString)},
			{tAliasOwner, c.Region + "/" + in.AliasID},
			{tAliases, key(c.Account, c.Region, in.AliasID)},
		} {
			if err := tx.Delete(ctx, k.table, k.key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// aliasView renders an alias for an account: the owner sees every
// association, a shared account only its own.
func aliasView(a *aliasRec, account string) aliasOut {
	o := aliasOut{ConnectionString: a.ConnectionString, AliasID: a.AliasID, State: a.State, OwnerAccountID: a.Owner}
	switch {
	case a.AssocResource == "":
	case account == a.Owner || account == a.AssocAccount:
		st := "ASSOCIATED_WITH_OWNER_ACCOUNT"
		if a.AssocAccount != a.Owner {
			st = "ASSOCIATED_WITH_SHARED_ACCOUNT"
		}
		o.Associations = []aliasAssocOut{{AssociationStatus: st, AssociatedAccountID: a.AssocAccount, ResourceID: a.AssocResource, ConnectionIdentifier: a.AssocID}}
	}
	return o
}

func (m *Module) describeAliases(ctx context.Context, c *gateway.Call, in *describeAliasesIn) (*describeAliasesOut, error) {
	for _, id := range in.AliasIDs {
		if !aliasIDRe.MatchString(id) {
			return nil, errInvalid("The alias id %q is not valid.", id)
		}
	}
	if in.ResourceID != nil && len(in.AliasIDs) > 0 {
		return nil, errInvalid("Give AliasIds or ResourceId, not both.")
	}
	limit := 25
	if in.Limit != nil {
		limit = *in.Limit
	}
	after, err := parseToken(in.NextToken, "")
	if err != nil {
		return nil, err
	}
	out := &describeAliasesOut{}
	err = m.store.View(ctx, func(tx store.Tx) error {
		var all []*aliasRec
		if len(in.AliasIDs) > 0 {
			for _, id := range in.AliasIDs {
				a, err := lookupAlias(ctx, tx, c.Account, c.Region, id)
				if isAWSNotFound(err) {
					continue
				}
				if err != nil {
					return err
				}
				all = append(all, a)
			}
		} else {
			err := store.ScanJSON[aliasRec](ctx, tx, tAliases, prefix(c.Account, c.Region), "", 0, func(_ string, a *aliasRec) error {
				all = append(all, a)
				return nil
			})
			if err != nil {
				return err
			}
			err = store.ScanJSON[string](ctx, tx, tAliasShared, prefix(c.Account, c.Region), "", 0, func(k string, owner *string) error {
				a, err := getRec[aliasRec](ctx, tx, tAliases, key(*owner, c.Region, splitKey(k)[2]))
				if a != nil {
					all = append(all, a)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		slices.SortFunc(all, func(a, b *aliasRec) int { return strings.Compare(a.AliasID, b.AliasID) })
		for _, a := range all {
			if a.AliasID <= after {
				continue
			}
			if in.ResourceID != nil && (a.AssocResource != *in.ResourceID || a.AssocAccount != c.Account) {
				continue
			}
			if len(out.ConnectionAliases) == limit {
				out.NextToken = pageToken(out.ConnectionAliases[limit-1].AliasID)
				break
			}
			out.ConnectionAliases = append(out.ConnectionAliases, aliasView(a, c.Account))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var aliasIDRe = mustRe(`^wsca-[0-9a-z]{8,63}$`)

func (m *Module) associateAlias(ctx context.Context, c *gateway.Call, in *associateAliasIn) (*associateAliasOut, error) {
	out := &associateAliasOut{}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		a, err := lookupAlias(ctx, tx, c.Account, c.Region, in.AliasID)
		if err != nil {
			return err
		}
		if a.State != "CREATED" {
			return errState("The connection alias %s is %s.", in.AliasID, a.State)
		}
		if a.AssocResource != "" {
			return errAssociated("The connection alias %s is already associated with %s in account %s.", in.AliasID, a.AssocResource, a.AssocAccount)
		}
		if _, err := registeredDir(ctx, tx, c.Account, c.Region, in.ResourceID); err != nil {
			return err
		}
		// A directory takes one connection alias.
		taken := ""
		scan := func(table, p string, get func(k string, v []byte) (*aliasRec, error)) error {
			return tx.Scan(ctx, table, p, "", 0, func(k string, v []byte) error {
				x, err := get(k, v)
				if err != nil {
					return err
				}
				if x != nil && x.AssocAccount == c.Account && x.AssocResource == in.ResourceID {
					taken = x.AliasID
					return store.ErrStop
				}
				return nil
			})
		}
		err = scan(tAliases, prefix(c.Account, c.Region), func(k string, _ []byte) (*aliasRec, error) {
			return getRec[aliasRec](ctx, tx, tAliases, k)
		})
		if err == nil && taken == "" {
			err = scan(tAliasShared, prefix(c.Account, c.Region), func(k string, _ []byte) (*aliasRec, error) {
				o, err := getRec[string](ctx, tx, tAliasShared, k)
				if err != nil || o == nil {
					return nil, err
				}
				return getRec[aliasRec](ctx, tx, tAliases, key(*o, c.Region, splitKey(k)[2]))
			})
		}
		if err != nil {
			return err
		}
		if taken != "" {
			return errAssociated("The directory %s is already associated with the connection alias %s.", in.ResourceID, taken)
		}
		a.AssocAccount, a.AssocResource = c.Account, in.ResourceID
		a.AssocID = ids.FromAlphabet(ids.Base36, 20)
		out.ConnectionIdentifier = a.AssocID
		return putRec(ctx, tx, tAliases, key(a.Owner, c.Region, a.AliasID), a)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Module) disassociateAlias(ctx context.Context, c *gateway.Call, in *disassociateAliasIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		a, err := lookupAlias(ctx, tx, c.Account, c.Region, in.AliasID)
		if err != nil {
			return err
		}
		if a.AssocResource == "" {
			return errState("The connection alias %s is not associated with a directory.", in.AliasID)
		}
		if a.AssocAccount != c.Account {
			return errUnsupported("The connection alias %s is associated by account %s; only that account can disassociate it.", in.AliasID, a.AssocAccount)
		}
		a.AssocAccount, a.AssocResource, a.AssocID = "", "", ""
		return putRec(ctx, tx, tAliases, key(a.Owner, c.Region, a.AliasID), a)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) updateAliasPermission(ctx context.Context, c *gateway.Call, in *updateAliasPermIn) (*struct{}, error) {
	p := in.ConnectionAliasPermission
	if p.SharedAccountID == c.Account {
		return nil, errInvalid("The shared account %s is the alias owner's own account.", p.SharedAccountID)
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		a, err := lookupAlias(ctx, tx, c.Account, c.Region, in.AliasID)
		if err != nil {
			return err
		}
		if a.Owner != c.Account {
			return errUnsupported("Only the owner account %s can share the connection alias %s.", a.Owner, in.AliasID)
		}
		has := slices.Contains(a.Permissions, p.SharedAccountID)
		switch {
		case *p.AllowAssociation && !has:
			a.Permissions = append(a.Permissions, p.SharedAccountID)
			slices.Sort(a.Permissions)
			if err := putRec(ctx, tx, tAliasShared, key(p.SharedAccountID, c.Region, a.AliasID), a.Owner); err != nil {
				return err
			}
		case !*p.AllowAssociation && has:
			if a.AssocAccount == p.SharedAccountID {
				return errAssociated("The connection alias %s is associated with %s in account %s; that account must disassociate it first.", in.AliasID, a.AssocResource, a.AssocAccount)
			}
			a.Permissions = slices.DeleteFunc(a.Permissions, func(x string) bool { return x == p.SharedAccountID })
			if err := tx.Delete(ctx, tAliasShared, key(p.SharedAccountID, c.Region, a.AliasID)); err != nil {
				return err
			}
		default:
			return nil
		}
		return putRec(ctx, tx, tAliases, key(a.Owner, c.Region, a.AliasID), a)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) describeAliasPermissions(ctx context.Context, c *gateway.Call, in *describeAliasPermsIn) (*describeAliasPermsOut, error) {
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	after, err := parseToken(in.NextToken, "")
	if err != nil {
		return nil, err
	}
	out := &describeAliasPermsOut{AliasID: in.AliasID}
	err = m.store.View(ctx, func(tx store.Tx) error {
		a, err := lookupAlias(ctx, tx, c.Account, c.Region, in.AliasID)
		if err != nil {
			return err
		}
		if a.Owner != c.Account {
			return errUnsupported("Only the owner account %s can describe the permissions of the connection alias %s.", a.Owner, in.AliasID)
		}
		for _, sh := range a.Permissions {
			if sh <= after {
				continue
			}
			if len(out.ConnectionAliasPermissions) == limit {
				out.NextToken = pageToken(out.ConnectionAliasPermissions[limit-1].SharedAccountID)
				break
			}
			out.ConnectionAliasPermissions = append(out.ConnectionAliasPermissions, aliasPermOut{SharedAccountID: sh, AllowAssociation: true})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// dropDirAliases ends the alias associations of a deregistered directory
// (in any owner's alias).
func dropDirAliases(ctx context.Context, tx store.Tx, account, region, dir string) error {
	var hit []*aliasRec
	err := store.ScanJSON[aliasRec](ctx, tx, tAliases, "", "", 0, func(k string, a *aliasRec) error {
		if a.AssocAccount == account && a.AssocResource == dir && splitKey(k)[1] == region {
			hit = append(hit, a)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range hit {
		a.AssocAccount, a.AssocResource, a.AssocID = "", "", ""
		if err := putRec(ctx, tx, tAliases, key(a.Owner, region, a.AliasID), a); err != nil {
			return err
		}
	}
	return nil
}
