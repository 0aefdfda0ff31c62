package kms

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
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

// KeyRotationInput is the shape of the DisableKeyRotation and
// GetKeyRotationStatus requests: the key alone (no grant tokens, as the
// model has it); each operation has its own type of it.
type KeyRotationInput struct {
	KeyId *string `v:"required,min=1,max=2048"`
}

// DisableKeyRotationInput is the DisableKeyRotation request.
type DisableKeyRotationInput KeyRotationInput

// GetKeyRotationStatusInput is the GetKeyRotationStatus request.
type GetKeyRotationStatusInput KeyRotationInput

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
		return m.scheduleRotation(ctx, tx, k)
	})
}

func (m *Module) disableKeyRotation(ctx context.Context, c *gateway.Call, in *DisableKeyRotationInput) (*struct{}, error) {
	return nil, m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.rotatable(); err != nil {
			return err
		}
		if k.Rotation != nil {
			k.Rotation.Enabled = false
		}
		return m.scheduleRotation(ctx, tx, k)
	})
}

func (m *Module) getKeyRotationStatus(ctx context.Context, c *gateway.Call, in *GetKeyRotationStatusInput) (*GetKeyRotationStatusOutput, error) {
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

// jobRotateKey rotates a key whose automatic rotation date has come.
const jobRotateKey = "kms.rotate-key"

// maxOnDemandRotations is how many on-demand rotations a key may have.
const maxOnDemandRotations = 10

func rotateJobID(account, region, keyID string) string {
	return "kms-rotate/" + account + "/" + region + "/" + keyID
}

// decryptAny decrypts a ciphertext of the key with its current material
// or, for a ciphertext made before a rotation, the material of its time.
func (m *Module) decryptAny(k *keyRec, mat, blob []byte, ec map[string]string) ([]byte, error) {
	pt, err := decryptBlob(mat, blob, ec)
	if err == nil || len(k.OldMaterial) == 0 {
		return pt, err
	}
	for _, o := range k.OldMaterial {
		om, oerr := m.master.open(o.Sealed, k.ARN)
		if oerr != nil {
			return nil, errInternal(oerr)
		}
		opt, derr := decryptBlob(om, blob, ec)
		clear(om)
		if derr == nil {
			return opt, nil
		}
	}
	return nil, err
}

// rotate gives the key new key material: new ciphertexts use it, the old
// material stays to decrypt what it encrypted.
func (m *Module) rotate(k *keyRec, now time.Time, typ string) error {
	material := make([]byte, 32)
	if _, err := rand.Read(material); err != nil {
		return errInternal(err)
	}
	k.OldMaterial = append([]oldMaterial{{ID: k.MaterialID, Sealed: k.Material}}, k.OldMaterial...)
	k.Material = m.master.seal(material, k.ARN)
	clear(material)
	k.MaterialID = ids.Hex(64)
	k.Rotations = append(k.Rotations, keyRotation{MaterialID: k.MaterialID, Date: now.UTC(), Type: typ})
	return nil
}

// scheduleRotation schedules the key's next automatic rotation (none when
// rotation is off or no engine runs jobs).
func (m *Module) scheduleRotation(ctx context.Context, tx store.Tx, k *keyRec) error {
	if m.engine == nil {
		return nil
	}
	id := rotateJobID(k.Account, k.Region, k.KeyID)
	if k.Rotation == nil || !k.Rotation.Enabled {
		return tx.CancelJob(ctx, id)
	}
	due := k.Rotation.Since.AddDate(0, 0, k.Rotation.PeriodDays)
	return m.engine.Schedule(ctx, tx, id, jobRotateKey, due, deleteJob{Account: k.Account, Region: k.Region, KeyID: k.KeyID})
}

// runRotateKey rotates a key on its period (AUTOMATIC) and schedules the
// next rotation; a key disabled or pending deletion is not rotated then
// (its schedule goes on).
func (m *Module) runRotateKey(ctx context.Context, tx store.Tx, job store.Job, now time.Time) error {
	var j deleteJob
	if err := json.Unmarshal(job.Payload, &j); err != nil {
		return fmt.Errorf("kms: rotation job %s: %w", job.ID, err)
	}
	k, err := store.GetJSON[keyRec](ctx, tx, tKeys, key3(j.Account, j.Region, j.KeyID))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r := k.Rotation
	if r == nil || !r.Enabled {
		return nil
	}
	due := r.Since.AddDate(0, 0, r.PeriodDays)
	if due.After(now) {
		return m.scheduleRotation(ctx, tx, k) // the period changed since
	}
	if k.State == stateEnabled {
		if err := m.rotate(k, due, "AUTOMATIC"); err != nil {
			return err
		}
	}
	r.Since = due
	if err := store.PutJSON(ctx, tx, tKeys, key3(j.Account, j.Region, j.KeyID), k); err != nil {
		return err
	}
	return m.scheduleRotation(ctx, tx, k)
}

// RotateKeyOnDemandInput is the RotateKeyOnDemand request.
type RotateKeyOnDemandInput struct {
	KeyId *string `v:"required,min=1,max=2048"`
}

// RotateKeyOnDemandOutput is the RotateKeyOnDemand response.
type RotateKeyOnDemandOutput struct {
	KeyId string
}

func (m *Module) rotateKeyOnDemand(ctx context.Context, c *gateway.Call, in *RotateKeyOnDemandInput) (*RotateKeyOnDemandOutput, error) {
	var arn string
	err := m.updateKey(ctx, c, *in.KeyId, func(tx store.Tx, k *keyRec) error {
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		if k.State == stateDisabled {
			return awsproto.Errorf("DisabledException", "%s is disabled.", k.ARN)
		}
		if k.KeyManager == "AWS" {
			return awsproto.Errorf("UnsupportedOperationException", "%s is an AWS managed key; it cannot be rotated on demand.", k.ARN)
		}
		if k.KeySpec != "SYMMETRIC_DEFAULT" || k.Origin != "AWS_KMS" {
			return awsproto.Errorf("UnsupportedOperationException", "%s is not a symmetric key with AWS_KMS key material; only those rotate on demand.", k.ARN)
		}
		n := 0
		for _, r := range k.Rotations {
			if r.Type == "ON_DEMAND" {
				n++
			}
		}
		if n >= maxOnDemandRotations {
			return awsproto.Errorf("LimitExceededException", "%s has been rotated on demand %d times, the most a key may be.", k.ARN, maxOnDemandRotations)
		}
		arn = k.ARN
		return m.rotate(k, c.Now, "ON_DEMAND")
	})
	if err != nil {
		return nil, err
	}
	return &RotateKeyOnDemandOutput{KeyId: arn}, nil
}

// ListKeyRotationsInput is the ListKeyRotations request.
type ListKeyRotationsInput struct {
	KeyId              *string `v:"required,min=1,max=2048"`
	IncludeKeyMaterial *string `v:"enum=ALL_KEY_MATERIAL|ROTATIONS_ONLY"`
	Limit              *int    `v:"min=1,max=1000"`
	Marker             *string `v:"min=1,max=1024"`
}

// RotationsListEntry is the model's RotationsListEntry.
type RotationsListEntry struct {
	KeyId         string
	KeyMaterialId string         `json:",omitempty"`
	RotationDate  *awsproto.Time `json:",omitempty"`
	RotationType  string         `json:",omitempty"`
}

// ListKeyRotationsOutput is the ListKeyRotations response.
type ListKeyRotationsOutput struct {
	Rotations  []RotationsListEntry
	NextMarker *string `json:",omitempty"`
	Truncated  bool
}

func (m *Module) listKeyRotations(ctx context.Context, c *gateway.Call, in *ListKeyRotationsInput) (*ListKeyRotationsOutput, error) {
	limit := 100
	if in.Limit != nil {
		limit = *in.Limit
	}
	start := 0
	if in.Marker != nil {
		n, err := strconv.Atoi(*in.Marker)
		if err != nil || n < 0 {
			return nil, awsproto.Errorf("InvalidMarkerException", "The marker %q is not valid.", *in.Marker)
		}
		start = n
	}
	var out *ListKeyRotationsOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, _, err := m.key(ctx, tx, c, *in.KeyId, false)
		if err != nil {
			return err
		}
		if err := k.notPendingDeletion(); err != nil {
			return err
		}
		if k.KeySpec != "SYMMETRIC_DEFAULT" {
			return awsproto.Errorf("UnsupportedOperationException", "%s is not a symmetric encryption key; it has no rotations.", k.ARN)
		}
		if start > len(k.Rotations) {
			return awsproto.Errorf("InvalidMarkerException", "The marker %q is not valid.", *in.Marker)
		}
		out = &ListKeyRotationsOutput{Rotations: []RotationsListEntry{}}
		end := min(start+limit, len(k.Rotations))
		for _, r := range k.Rotations[start:end] {
			out.Rotations = append(out.Rotations, RotationsListEntry{KeyId: k.ARN, KeyMaterialId: r.MaterialID, RotationDate: awsproto.NewTime(r.Date), RotationType: r.Type})
		}
		if end < len(k.Rotations) {
			next := strconv.Itoa(end)
			out.NextMarker, out.Truncated = &next, true
		}
		return nil
	})
	return out, err
}
