package server

import (
	"context"
	"fmt"

	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/ds"
	"github.com/deskplane/deskplane/internal/ec2"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/postgres"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// buildModules creates every service module and the pipeline's
// authenticator, authorizer, auditor and usage reporter. It is the one place
// where services are wired to the interfaces they need from each other.
func buildModules(d Deps) (mods []Module, auth gateway.Authenticator, authz gateway.Authorizer, audit gateway.Auditor, usage UsageReporter, err error) {
	idm := &iamModule{}
	mods = append(mods, idm)
	ec2m := ec2.New(d.Store)
	dsm := ds.New(d.Store, d.Engine, ec2m, d.Config.Quotas.Directories)
	mods = append(mods, ec2m, dsm) // ec2 seeds before ds: directories sit in its subnets
	wsm := workspaces.New(workspaces.Options{Config: d.Config, Store: d.Store, Engine: d.Engine, EC2: ec2m, Directories: dsm, Faults: d.Faults, Log: d.Log})
	dsm.SetInUse(wsm.DirectoryRegistered)
	mods = append(mods, wsm)
	usage = wsm
	auth = &iam.Authenticator{Store: d.Store}
	return mods, auth, nil, nil, usage, nil
}

// iamModule seeds identities until the IAM and STS operation tables land.
type iamModule struct{}

func (iamModule) Services() []*gateway.Service { return nil }
func (iamModule) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	return iam.Seed(ctx, tx, cfg, now)
}

func openPostgres(ctx context.Context, dsn string) (store.Backend, error) {
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return db, nil
}
