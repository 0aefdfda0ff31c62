package workspaces

// Amazon Connect client add-ins: CreateConnectClientAddIn,
// DescribeConnectClientAddIns, UpdateConnectClientAddIn and
// DeleteConnectClientAddIn [MODEL]. An add-in belongs to a registered
// directory, which may have only one ("You can create only one Amazon
// Connect client add-in within a directory" [MODEL]).
//
// Records: tAddIns ACCOUNT/REGION/DIRECTORYID/ADDINID. Each add-in keeps the
// registration time of its directory: add-ins of an earlier registration of
// the same directory (deregistered since) are gone with it and are neither
// listed nor counted.

import (
	"context"
	"errors"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/store"
)

// tAddIns holds the Connect client add-ins.
const tAddIns = "ws_connect_addins" // ACCOUNT/REGION/DIRECTORYID/ADDINID

// addInRec is one Connect client add-in.
type addInRec struct {
	ID            string    `json:"id"`
	DirectoryID   string    `json:"dir"`
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	DirRegistered time.Time `json:"dir_registered"`
	Created       time.Time `json:"created"`
}

// ConnectClientAddIn is the model's ConnectClientAddIn.
type ConnectClientAddIn struct {
	AddInId    string `json:"AddInId,omitempty"`
	ResourceId string `json:"ResourceId,omitempty"`
	Name       string `json:"Name,omitempty"`
	URL        string `json:"URL,omitempty"`
}

// createAddInIn is CreateConnectClientAddInRequest.
type createAddInIn struct {
	ResourceId string `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	Name       string `json:"Name" v:"required,min=1,max=64"`
	URL        string `json:"URL" v:"required,min=1,max=1024,pattern=^(http|https)\\://\\S+"`
}

// createAddInOut is CreateConnectClientAddInResult.
type createAddInOut struct {
	AddInId string `json:"AddInId"`
}

// describeAddInsIn is DescribeConnectClientAddInsRequest.
type describeAddInsIn struct {
	ResourceId string  `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	NextToken  *string `json:"NextToken,omitempty" v:"min=1,max=2048"`
	MaxResults *int    `json:"MaxResults,omitempty" v:"min=1,max=25"`
}

// describeAddInsOut is DescribeConnectClientAddInsResult.
type describeAddInsOut struct {
	AddIns    []ConnectClientAddIn `json:"AddIns"`
	NextToken *string              `json:"NextToken,omitempty"`
}

// updateAddInIn is UpdateConnectClientAddInRequest.
type updateAddInIn struct {
	AddInId    string  `json:"AddInId" v:"required,min=36,max=36,pattern=[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"`
	ResourceId string  `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	Name       *string `json:"Name,omitempty" v:"min=1,max=64"`
	URL        *string `json:"URL,omitempty" v:"min=1,max=1024,pattern=^(http|https)\\://\\S+"`
}

// deleteAddInIn is DeleteConnectClientAddInRequest.
type deleteAddInIn struct {
	AddInId    string `json:"AddInId" v:"required,min=36,max=36,pattern=[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"`
	ResourceId string `json:"ResourceId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
}

// createConnectClientAddInResources resolves the resources CreateConnectClientAddIn is authorized on.
func (m *Module) createConnectClientAddInResources(ctx context.Context, c *gateway.Call, in *createAddInIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceId)
}

// describeConnectClientAddInsResources resolves the resources DescribeConnectClientAddIns is authorized on.
func (m *Module) describeConnectClientAddInsResources(ctx context.Context, c *gateway.Call, in *describeAddInsIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceId)
}

// updateConnectClientAddInResources resolves the resources UpdateConnectClientAddIn is authorized on.
func (m *Module) updateConnectClientAddInResources(ctx context.Context, c *gateway.Call, in *updateAddInIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceId)
}

// deleteConnectClientAddInResources resolves the resources DeleteConnectClientAddIn is authorized on.
func (m *Module) deleteConnectClientAddInResources(ctx context.Context, c *gateway.Call, in *deleteAddInIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceId)
}

// dirAddIns returns the add-ins of the directory's current registration.
func dirAddIns(ctx context.Context, tx store.Tx, account, region string, d *directoryRec) ([]*addInRec, error) {
	var out []*addInRec
	err := store.ScanJSON[addInRec](ctx, tx, tAddIns, key(account, region, d.DirectoryID)+"/", "", 0, func(_ string, a *addInRec) error {
		if a.DirRegistered.Equal(d.Registered) {
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

func (m *Module) createAddIn(ctx context.Context, c *gateway.Call, in *createAddInIn) (*createAddInOut, error) {
	rec := &addInRec{ID: ids.UUID(), DirectoryID: in.ResourceId, Name: in.Name, URL: in.URL, Created: c.Now}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := registeredDir(ctx, tx, c.Account, c.Region, in.ResourceId)
		if err != nil {
			return err
		}
		existing, err := dirAddIns(ctx, tx, c.Account, c.Region, d)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return errExists("The directory %s already has an Amazon Connect client add-in (%s); a directory can have only one.", in.ResourceId, existing[0].ID)
		}
		rec.DirRegistered = d.Registered
		return putRec(ctx, tx, tAddIns, key(c.Account, c.Region, in.ResourceId)+"/"+rec.ID, rec)
	})
	if err != nil {
		return nil, err
	}
	return &createAddInOut{AddInId: rec.ID}, nil
}

func (m *Module) describeAddIns(ctx context.Context, c *gateway.Call, in *describeAddInsIn) (*describeAddInsOut, error) {
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	after, err := parseToken(in.NextToken, in.ResourceId+"/")
	if err != nil {
		return nil, err
	}
	out := &describeAddInsOut{AddIns: []ConnectClientAddIn{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		d, err := registeredDir(ctx, tx, c.Account, c.Region, in.ResourceId)
		if err != nil {
			return err
		}
		all, err := dirAddIns(ctx, tx, c.Account, c.Region, d)
		if err != nil {
			return err
		}
		for _, a := range all {
			k := in.ResourceId + "/" + a.ID
			if after != "" && k <= after {
				continue
			}
			if len(out.AddIns) == limit {
				out.NextToken = pageToken(in.ResourceId + "/" + out.AddIns[limit-1].AddInId)
				break
			}
			out.AddIns = append(out.AddIns, ConnectClientAddIn{AddInId: a.ID, ResourceId: a.DirectoryID, Name: a.Name, URL: a.URL})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// findAddIn returns an add-in of the directory's current registration.
func findAddIn(ctx context.Context, tx store.Tx, account, region, dir, id string) (*addInRec, string, error) {
	d, err := registeredDir(ctx, tx, account, region, dir)
	if err != nil {
		return nil, "", err
	}
	k := key(account, region, dir) + "/" + id
	a, err := getRec[addInRec](ctx, tx, tAddIns, k)
	if err != nil {
		return nil, "", err
	}
	if a == nil || !a.DirRegistered.Equal(d.Registered) {
		return nil, "", errNotFound("The Amazon Connect client add-in %s could not be found in directory %s.", id, dir)
	}
	return a, k, nil
}

func (m *Module) updateAddIn(ctx context.Context, c *gateway.Call, in *updateAddInIn) (*struct{}, error) {
	if in.Name == nil && in.URL == nil {
		return nil, errInvalid("Nothing to update: give Name, URL or both.")
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		a, k, err := findAddIn(ctx, tx, c.Account, c.Region, in.ResourceId, in.AddInId)
		if err != nil {
			return err
		}
		if in.Name != nil {
			a.Name = *in.Name
		}
		if in.URL != nil {
			a.URL = *in.URL
		}
		return putRec(ctx, tx, tAddIns, k, a)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) deleteAddIn(ctx context.Context, c *gateway.Call, in *deleteAddInIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		_, k, err := findAddIn(ctx, tx, c.Account, c.Region, in.ResourceId, in.AddInId)
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, tAddIns, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}
