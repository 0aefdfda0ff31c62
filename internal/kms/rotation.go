package kms

import (
	"context"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// rotationRec is a key's automatic rotation setting.
type rotationRec struct {
	Enabled bool `json:"enabled"`
	// PeriodDays is the rotation period (90..2560 days; 365 by default).
	PeriodDays int `json:"period"`
	// Since is when rotation was last enabled; the next rotation is one
	// period after it.
	Since time.Time `json:"since"`
}

// defaultRotationDays is the rotation period when EnableKeyRotation names none.
const defaultRotationDays = 365

// EnableKeyRotationInput is the EnableKeyRotation request.
type EnableKeyRotationInput struct {
	KeyId                *string `v:"required,min=1,max=2048"`
	RotationPeriodInDays *int    `v:"min=90,max=2560"`
}

// KeyRotationInput is the DisableKeyRotation and GetKeyRotationStatus
// request: the key alone (no grant tokens, as the model has it).
type KeyRotationInput struct {
	KeyId *string `v:"required,min=1,max=2048"`
}

// GetKeyRotationStatusOutput is the GetKeyRotationStatus response.
type GetKeyRotationStatusOutput struct {
	KeyRotationEnabled        bool
	KeyId                     string         `json:",omitempty"`
	RotationPeriodInDays      *int           `json:",omitempty"`
	NextRotationDate          *awsproto.Time `json:",omitempty"`
	OnDemandRotationStartDate *awsproto.Time `json:",omitempty"`
}

// UpdateKeyDescriptionInput is the UpdateKeyDescription request.
type UpdateKeyDescriptionInput struct {
	KeyId       *string `v:"required,min=1,max=2048"`
	Description *string `v:"required,max=8192"`
}

// rotatable refuses rotation changes on keys that cannot rotate: disabled or
// pending deletion (KMSInvalidStateException), and AWS managed keys, whose
// rotation AWS controls.
func (k *keyRec) rotatable() error {
	if err := k.notPendingDeletion(); err != nil {
		return err
	}
	if k.State == stateDisabled {
		return errInvalidState("%s is disabled.", k.ARN)
	}
	if k.KeyManager == "AWS" {
		return awsproto.Errorf("UnsupportedOperationException", "%s is an AWS managed key; its rotation cannot be changed.", k.ARN)
	}
	return nil
}

func (m *Module) enableKeyRotation(ctx context.Context, c *gateway.Call, in *EnableKeyRotationInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.rotatable(); err != nil {
			return err
		}
		period := defaultRotationDays
		if in.RotationPeriodInDays != nil {
			period = *in.RotationPeriodInDays
		}
		since := c.Now.UTC()
		if k.Rotation != nil && k.Rotation.Enabled && k.Rotation.PeriodDays == period {
			since = k.Rotation.Since // already on with this period: the schedule stands
		}
		k.Rotation = &rotationRec{Enabled: true, PeriodDays: period, Since: since}
		return nil
	})
}

func rotationKeyOf(in *KeyRotationInput) string { return *in.KeyId }

func (m *Module) disableKeyRotation(ctx context.Context, c *gateway.Call, in *KeyRotationInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.rotatable(); err != nil {
			return err
		}
		if k.Rotation != nil {
			k.Rotation.Enabled = false
		}
		return nil
	})
}

func (m *Module) getKeyRotationStatus(ctx context.Context, c *gateway.Call, in *KeyRotationInput) (*GetKeyRotationStatusOutput, error) {
	var out *GetKeyRotationStatusOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		out = &GetKeyRotationStatusOutput{KeyId: k.ARN}
		if r := k.Rotation; r != nil && r.Enabled {
			p := r.PeriodDays
			out.KeyRotationEnabled, out.RotationPeriodInDays = true, &p
			next := r.Since.AddDate(0, 0, p)
			for !next.After(c.Now) {
				next = next.AddDate(0, 0, p)
			}
			out.NextRotationDate = awsproto.NewTime(next)
		}
		return nil
	})
	return out, err
}

func (m *Module) updateKeyDescription(ctx context.Context, c *gateway.Call, in *UpdateKeyDescriptionInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		if k.KeyManager == "AWS" {
			return awsproto.Errorf("UnsupportedOperationException", "%s is an AWS managed key; its description cannot be changed.", k.ARN)
		}
		k.Description = *in.Description
		return nil
	})
}
