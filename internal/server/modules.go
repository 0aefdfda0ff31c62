package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deskplane/deskplane/internal/cloudtrail"
	"github.com/deskplane/deskplane/internal/cloudwatch"
	"github.com/deskplane/deskplane/internal/ds"
	"github.com/deskplane/deskplane/internal/ec2"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam"
	"github.com/deskplane/deskplane/internal/kms"
	"github.com/deskplane/deskplane/internal/secrets"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/postgres"
	"github.com/deskplane/deskplane/internal/sts"
	"github.com/deskplane/deskplane/internal/workspaces"
	"github.com/deskplane/deskplane/internal/wsinstances"
)

// buildModules creates every service module and the pipeline's
// authenticator, authorizer, auditor and usage reporter. It is the one place
// where services are wired to the interfaces they need from each other.
func buildModules(d Deps) (mods []Module, auth gateway.Authenticator, authz gateway.Authorizer, audit gateway.Auditor, usage UsageReporter, err error) {
	master, err := loadMasterKey(d)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	// Secret access keys and the STS sealing key are sealed in the store
	// under a key derived from the master key.
	box, err := secrets.New(master.SubKey("store-secrets"))
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	idm := iam.New(d.Store)
	idm.Secrets = box
	stsm := sts.New(d.Store, idm.Authorizer())
	stsm.SetSecrets(box)
	mods = append(mods, idm, stsm)
	ec2m := ec2.New(d.Store)
	dsm := ds.New(d.Store, d.Engine, ec2m, d.Config.Quotas.Directories)
	mods = append(mods, ec2m, dsm) // ec2 seeds before ds: directories sit in its subnets
	wsm := workspaces.New(workspaces.Options{Config: d.Config, Store: d.Store, Engine: d.Engine, EC2: ec2m, Directories: dsm, Faults: d.Faults, Log: d.Log})
	dsm.SetInUse(wsm.DirectoryRegistered)
	ec2m.SetInterfaces(directoryInterfaces(dsm))
	wsim := wsinstances.New(wsinstances.Options{Config: d.Config, Store: d.Store, Engine: d.Engine, EC2: ec2m})
	mods = append(mods, wsm, wsim)
	usage = wsm
	auth = &iam.Authenticator{Store: d.Store, Sessions: stsm, Generation: idm.Authorizer().Generation, Secrets: box}
	authz = idm.Authorizer()
	// CloudTrail audits every call; KMS encrypts WorkSpaces volumes.
	trail, err := cloudtrail.New(cloudtrail.Options{Store: d.AuditStore, Dir: filepath.Join(d.DataDir, "cloudtrail"), Log: d.Log})
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	kmsm, err := kms.New(kms.Options{Store: d.Store, Clock: d.Clock, Engine: d.Engine, Master: master, Authz: authz, Audit: trail, Log: d.Log})
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	wsm.SetKeys(kmsm)
	wsim.SetKeys(kmsm)
	// CloudWatch publishes the AWS/WorkSpaces metrics from the desktops'
	// state history (and the sessions a runtime reports).
	mods = append(mods, kmsm, trail, cloudwatch.New(d.Store, d.Clock, wsm))
	return mods, auth, authz, trail, usage, nil
}

// loadMasterKey loads the KMS master key (which also seals the store's
// secrets): $DESKPLANE_MASTER_KEY, kms_master_key_file, or a key file
// generated in the data dir.
func loadMasterKey(d Deps) (*kms.MasterKey, error) {
	masterPath := d.Config.KMSMasterKeyFile
	if masterPath == "" {
		if d.Shared && os.Getenv(kms.EnvMasterKey) == "" {
			return nil, fmt.Errorf("nodes sharing a PostgreSQL store need one KMS master key: set %s or kms_master_key_file in the config", kms.EnvMasterKey)
		}
		masterPath = filepath.Join(d.DataDir, kms.MasterKeyFile)
	}
	return kms.LoadMasterKey(masterPath)
}

func openPostgres(ctx context.Context, dsn string) (store.Backend, error) {
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return db, nil
}

// directoryInterfaces lists the directories' controller network interfaces
// as EC2 shows them.
func directoryInterfaces(dsm *ds.Module) ec2.InterfacesFunc {
	return func(ctx context.Context, tx store.Tx, account, region string) ([]ec2.Interface, error) {
		list, err := dsm.ControllerInterfaces(ctx, tx, account, region)
		if err != nil {
			return nil, err
		}
		out := make([]ec2.Interface, 0, len(list))
		for _, e := range list {
			out = append(out, ec2.Interface{ID: e.ID, SubnetID: e.SubnetID, VPCID: e.VPCID, AZ: e.AZ, PrivateIP: e.PrivateIP,
				Description: e.Description, GroupIDs: []string{e.SecurityGroupID}, RequesterID: "ds.amazonaws.com"})
		}
		return out, nil
	}
}
