package iam

import (
	"context"
	"errors"
	"fmt"

	"github.com/deskplane/deskplane/internal/secrets"
	"github.com/deskplane/deskplane/internal/store"
)

// sealed returns k as it is stored: its secret sealed under box (k itself
// when box is nil or the secret is sealed already).
func sealed(box *secrets.Box, k *AccessKey) *AccessKey {
	if box == nil || secrets.Sealed(k.Secret) {
		return k
	}
	c := *k
	c.Secret = box.Seal(k.Secret, k.ID)
	return &c
}

// openSecret returns the secret access key of a stored key.
func openSecret(box *secrets.Box, k *AccessKey) (string, error) {
	if box == nil {
		if secrets.Sealed(k.Secret) {
			return "", errors.New("iam: the secret of " + k.ID + " is sealed, and no master key was given")
		}
		return k.Secret, nil
	}
	s, err := box.Open(k.Secret, k.ID)
	if err != nil {
		return "", fmt.Errorf("iam: access key %s: %w", k.ID, err)
	}
	return s, nil
}

// sealKeys seals every stored secret access key still in plaintext (seeded
// from the configuration, or written by a version that did not seal them),
// and fails when a sealed one does not open (another master key), so a
// server started with the wrong master key stops at start instead of
// failing every request.
func sealKeys(ctx context.Context, tx store.Tx, box *secrets.Box) error {
	if box == nil {
		return nil
	}
	var plain []*AccessKey
	err := store.ScanJSON(ctx, tx, TableKeys, "", "", 0, func(_ string, k *AccessKey) error {
		if !secrets.Sealed(k.Secret) {
			plain = append(plain, k)
			return nil
		}
		_, err := openSecret(box, k)
		return err
	})
	if err != nil {
		return fmt.Errorf("iam: scan access keys: %w", err)
	}
	for _, k := range plain {
		if err := store.PutJSON(ctx, tx, TableKeys, k.ID, sealed(box, k)); err != nil {
			return fmt.Errorf("iam: seal access key %s: %w", k.ID, err)
		}
	}
	return nil
}
