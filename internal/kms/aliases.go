package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// CreateAliasInput is the CreateAlias request (UpdateAlias has the same shape).
type CreateAliasInput struct {
	AliasName   *string `v:"required,min=1,max=256,pattern=^[a-zA-Z0-9:/_-]+$"`
	TargetKeyId *string `v:"required,min=1,max=2048"`
}

// UpdateAliasInput is the UpdateAlias request.
type UpdateAliasInput CreateAliasInput

// DeleteAliasInput is the DeleteAlias request.
type DeleteAliasInput struct {
	AliasName *string `v:"required,min=1,max=256,pattern=^[a-zA-Z0-9:/_-]+$"`
}

// ListAliasesInput is the ListAliases request.
type ListAliasesInput struct {
	KeyId  *string `v:"min=1,max=2048"`
	Limit  *int    `v:"min=1,max=100"`
	Marker *string `v:"min=1,max=320"`
}

// AliasListEntry is the model's AliasListEntry.
type AliasListEntry struct {
	AliasName       string
	AliasArn        string
	TargetKeyId     string         `json:",omitempty"`
	CreationDate    *awsproto.Time `json:",omitempty"`
	LastUpdatedDate *awsproto.Time `json:",omitempty"`
}

// ListAliasesOutput is the ListAliases response.
type ListAliasesOutput struct {
	Aliases    []AliasListEntry
	NextMarker *string `json:",omitempty"`
	Truncated  bool
}

// checkAliasName checks an alias name. Only CreateAlias declares
// InvalidAliasNameException in the model; UpdateAlias and DeleteAlias
// answer the same problems with ValidationException.
func checkAliasName(name string, create bool) error {
	code := "InvalidAliasNameException"
	if !create {
		code = "ValidationException"
	}
	if !aliasRE.MatchString(name) {
		return awsproto.Errorf(code, "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
	}
	if strings.HasPrefix(name, "alias/aws/") {
		if create {
			return awsproto.Errorf(code, "Alias names starting with alias/aws/ are reserved for AWS managed keys.")
		}
		return awsproto.Errorf(code, "Aliases of AWS managed keys (alias/aws/) cannot be changed or deleted.")
	}
	return nil
}

// aliasCheck is the check on the alias side of alias operations (IAM
// only: an alias has no policy of its own).
func aliasCheck(c *gateway.Call, name string) gateway.Check {
	return gateway.Check{Resource: aliasARN(c.Account, c.Region, name), Context: map[string][]string{"kms:CallerAccount": {c.Account}}}
}

// createAliasResources resolves the resources CreateAlias is authorized on.
func (m *Module) createAliasResources(ctx context.Context, c *gateway.Call, in *CreateAliasInput) ([]gateway.Check, error) {
	return m.putAliasChecks(ctx, c, in, true)
}

// updateAliasResources resolves the resources UpdateAlias is authorized on.
func (m *Module) updateAliasResources(ctx context.Context, c *gateway.Call, in *UpdateAliasInput) ([]gateway.Check, error) {
	return m.putAliasChecks(ctx, c, (*CreateAliasInput)(in), false)
}

// deleteAliasChecks authorizes DeleteAlias on the alias and on the key it
// points to.
func (m *Module) deleteAliasChecks(ctx context.Context, c *gateway.Call, in *DeleteAliasInput) ([]gateway.Check, error) {
	name := *in.AliasName
	if err := checkAliasName(name, false); err != nil {
		return nil, err
	}
	checks := []gateway.Check{aliasCheck(c, name)}
	err := m.store.View(ctx, func(tx store.Tx) error {
		a, err := m.alias(ctx, tx, c, name)
		if err != nil {
			return err
		}
		k, _, err := m.key(ctx, tx, c, a.KeyID, false)
		if err != nil {
			return err
		}
		checks = append(checks, m.keyCheck(c.Account, c.Principal, k, authzRequest{}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return checks, nil
}

// alias reads an alias of the caller's account and region.
func (m *Module) alias(ctx context.Context, tx store.Tx, c *gateway.Call, name string) (*aliasRec, error) {
	a, err := store.GetJSON[aliasRec](ctx, tx, tAliases, key3(c.Account, c.Region, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound("Alias %s is not found.", aliasARN(c.Account, c.Region, name))
	}
	return a, err
}

func (m *Module) deleteAlias(ctx context.Context, c *gateway.Call, in *DeleteAliasInput) (*struct{}, error) {
	name := *in.AliasName
	return nil, m.store.Update(ctx, func(tx store.Tx) error {
		if _, err := m.alias(ctx, tx, c, name); err != nil {
			return err
		}
		return tx.Delete(ctx, tAliases, key3(c.Account, c.Region, name))
	})
}

// putAliasChecks authorizes CreateAlias and UpdateAlias: on the alias, on
// the target key and, for UpdateAlias, on the key the alias points to now
// (it must allow it too).
func (m *Module) putAliasChecks(ctx context.Context, c *gateway.Call, in *CreateAliasInput, create bool) ([]gateway.Check, error) {
	name := *in.AliasName
	if err := checkAliasName(name, create); err != nil {
		return nil, err
	}
	if strings.HasPrefix(*in.TargetKeyId, "alias/") || strings.Contains(*in.TargetKeyId, ":alias/") {
		return nil, errValidation("TargetKeyId must be a key ID or key ARN, not an alias.")
	}
	checks := []gateway.Check{aliasCheck(c, name)}
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.TargetKeyId, false)
		if err != nil {
			return err
		}
		checks = append(checks, m.keyCheck(c.Account, c.Principal, k, authzRequest{}))
		if create {
			return nil
		}
		old, err := store.GetJSON[aliasRec](ctx, tx, tAliases, key3(c.Account, c.Region, name))
		if errors.Is(err, store.ErrNotFound) {
			return nil // the handler reports it
		}
		if err != nil {
			return err
		}
		ok, _, err := m.key(ctx, tx, c, old.KeyID, false)
		if err != nil {
			return err
		}
		checks = append(checks, m.keyCheck(c.Account, c.Principal, ok, authzRequest{}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return checks, nil
}

func (m *Module) createAlias(ctx context.Context, c *gateway.Call, in *CreateAliasInput) (*struct{}, error) {
	return nil, m.putAlias(ctx, c, in, true)
}

func (m *Module) updateAlias(ctx context.Context, c *gateway.Call, in *UpdateAliasInput) (*struct{}, error) {
	return nil, m.putAlias(ctx, c, (*CreateAliasInput)(in), false)
}

func (m *Module) putAlias(ctx context.Context, c *gateway.Call, in *CreateAliasInput, create bool) error {
	name := *in.AliasName
	return m.store.Update(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.TargetKeyId, false)
		if err != nil {
			return err
		}
		if k.Account != c.Account || k.Region != c.Region {
			return errNotFound("Key '%s' does not exist", k.ARN)
		}
		if k.KeyManager == "AWS" {
			return awsproto.Errorf("NotAuthorizedException", "An alias cannot point to an AWS managed key.")
		}
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		ak := key3(c.Account, c.Region, name)
		arn := aliasARN(c.Account, c.Region, name)
		old, err := store.GetJSON[aliasRec](ctx, tx, tAliases, ak)
		switch {
		case err == nil && create:
			return awsproto.Errorf("AlreadyExistsException", "An alias with the name %s already exists", arn)
		case errors.Is(err, store.ErrNotFound) && !create:
			return errNotFound("Alias %s is not found.", arn)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		rec := &aliasRec{Name: name, ARN: arn, KeyID: k.KeyID, Created: c.Now, Updated: c.Now}
		if old != nil {
			rec.Created = old.Created
		}
		return store.PutJSON(ctx, tx, tAliases, ak, rec)
	})
}

func (m *Module) listAliases(ctx context.Context, c *gateway.Call, in *ListAliasesInput) (*ListAliasesOutput, error) {
	limit := 50
	if in.Limit != nil {
		limit = *in.Limit
	}
	out := &ListAliasesOutput{Aliases: []AliasListEntry{}}
	prefix := c.Account + "/" + c.Region + "/"
	err := m.store.View(ctx, func(tx store.Tx) error {
		filter := ""
		if in.KeyId != nil {
			rf, err := parseRef(c.Account, c.Region, *in.KeyId, false)
			if err != nil {
				return err
			}
			k, err := loadKey(ctx, tx, rf, c.Now)
			if err != nil {
				return err
			}
			filter = k.KeyID
		}
		next, err := scanPage(ctx, tx, tAliases, prefix, in.Marker, limit,
			func(a *aliasRec) bool { return filter == "" || a.KeyID == filter },
			func(a *aliasRec) {
				out.Aliases = append(out.Aliases, AliasListEntry{AliasName: a.Name, AliasArn: a.ARN, TargetKeyId: a.KeyID,
					CreationDate: awsproto.NewTime(a.Created), LastUpdatedDate: awsproto.NewTime(a.Updated)})
			})
		out.NextMarker, out.Truncated = next, next != nil
		return err
	})
	return out, err
}
