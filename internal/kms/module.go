// Package kms is AWS Key Management Service as WorkSpaces volume encryption
// needs it: symmetric keys with real envelope cryptography (AES-256-GCM from
// the Go standard library, the encryption context bound as additional
// authenticated data), key material sealed at rest under a master key kept
// outside the database, aliases, key policies evaluated together with IAM
// policies, grants with encryption-context constraints, key states and
// scheduled deletion, and the AWS managed key aws/workspaces.
//
// The module also implements workspaces.VolumeKeys: the calls WorkSpaces and
// EBS make on a customer's behalf, recorded in CloudTrail as made by the
// service.
package kms

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/store"
)

// Options are the module's dependencies.
type Options struct {
	Store  store.Store
	Clock  clock.Clock
	Engine *lifecycle.Engine // runs scheduled key deletions; nil: deletion is only lazy
	// Master seals key material at rest (see LoadMasterKey).
	Master *MasterKey
	// Authz is the IAM evaluator of the calls KMS decides itself (the
	// grants WorkSpaces and EBS use, the key policy lockout safety check);
	// nil: the IAM evaluator over Store.
	Authz gateway.Authorizer
	// Audit records the calls services make on a customer's behalf.
	Audit gateway.Auditor
	Log   *slog.Logger
}

// Module is the KMS service.
type Module struct {
	store  store.Store
	clock  clock.Clock
	engine *lifecycle.Engine
	master *MasterKey
	authz  gateway.Authorizer
	audit  gateway.Auditor
	log    *slog.Logger
	svc    *gateway.Service
}

// jobDeleteKey is the lifecycle job kind that deletes a key when its
// waiting period ends.
const jobDeleteKey = "kms.delete-key"

// New builds the KMS module and registers its job handler.
func New(o Options) (*Module, error) {
	if o.Master == nil {
		return nil, fmt.Errorf("kms: a master key is required")
	}
	m := &Module{store: o.Store, clock: o.Clock, engine: o.Engine, master: o.Master, authz: o.Authz, audit: o.Audit, log: o.Log}
	if m.authz == nil {
		m.authz = iam.NewAuthorizer(o.Store)
	}
	if m.clock == nil {
		m.clock = clock.Real{}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.svc = &gateway.Service{
		Name: "kms", ActionPrefix: "kms", EventSource: "kms.amazonaws.com",
		Protocol: gateway.JSON, TargetPrefix: "TrentService", ValidationCode: "ValidationException",
	}
	m.register()
	if m.engine != nil {
		m.engine.Register(jobDeleteKey, m.runDeleteKey)
		m.engine.Register(jobRotateKey, m.runRotateKey)
	}
	return m, nil
}

// SetAuthorizer sets the IAM authorizer (when it is built after the module).
func (m *Module) SetAuthorizer(a gateway.Authorizer) { m.authz = a }

// SetAuditor sets the auditor for service-made calls.
func (m *Module) SetAuditor(a gateway.Auditor) { m.audit = a }

// Services implements server.Module.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.svc} }

// Seed implements server.Module; KMS has nothing to seed (AWS managed keys
// are created on first use).
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	return nil
}

type deleteJob struct {
	Account, Region, KeyID string
}

func deleteJobID(account, region, keyID string) string {
	return "kms-delete/" + account + "/" + region + "/" + keyID
}

// runDeleteKey deletes a key whose waiting period has ended, with its
// aliases and grants.
func (m *Module) runDeleteKey(ctx context.Context, tx store.Tx, job store.Job, now time.Time) error {
	var j deleteJob
	if err := json.Unmarshal(job.Payload, &j); err != nil {
		return err
	}
	k, err := store.GetJSON[keyRec](ctx, tx, tKeys, key3(j.Account, j.Region, j.KeyID))
	if err != nil {
		if err == store.ErrNotFound {
			return nil
		}
		return err
	}
	if k.State != statePendingDeletion || k.DeletionDate == nil || now.Before(*k.DeletionDate) {
		return nil // cancelled, or rescheduled
	}
	return m.purgeKey(ctx, tx, k)
}

func (m *Module) purgeKey(ctx context.Context, tx store.Tx, k *keyRec) error {
	var dels []string
	err := store.ScanJSON(ctx, tx, tAliases, k.Account+"/"+k.Region+"/", "", 0, func(key string, a *aliasRec) error {
		if a.KeyID == k.KeyID {
			dels = append(dels, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dels {
		if err := tx.Delete(ctx, tAliases, d); err != nil {
			return err
		}
	}
	dels = dels[:0]
	err = tx.Scan(ctx, tGrants, key3(k.Account, k.Region, k.KeyID)+"/", "", 0, func(key string, _ []byte) error {
		dels = append(dels, key)
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dels {
		if err := tx.Delete(ctx, tGrants, d); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, tKeys, key3(k.Account, k.Region, k.KeyID))
}
