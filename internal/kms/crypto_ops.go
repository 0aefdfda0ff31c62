package kms

import (
	"context"
	"crypto/rand"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// EncryptInput is the Encrypt request.
type EncryptInput struct {
	KeyId               *string `v:"required,min=1,max=2048"`
	Plaintext           []byte  `v:"required,min=1,max=4096"`
	EncryptionContext   map[string]string
	GrantTokens         []string `v:"max=10"`
	EncryptionAlgorithm *string  `v:"enum=SYMMETRIC_DEFAULT|RSAES_OAEP_SHA_1|RSAES_OAEP_SHA_256|SM2PKE"`
	DryRun              *bool
}

// EncryptOutput is the Encrypt response.
type EncryptOutput struct {
	CiphertextBlob      []byte
	KeyId               string
	EncryptionAlgorithm string
}

// DecryptInput is the Decrypt request.
type DecryptInput struct {
	CiphertextBlob      []byte `v:"required,min=1,max=6144"`
	EncryptionContext   map[string]string
	GrantTokens         []string `v:"max=10"`
	KeyId               *string  `v:"min=1,max=2048"`
	EncryptionAlgorithm *string  `v:"enum=SYMMETRIC_DEFAULT|RSAES_OAEP_SHA_1|RSAES_OAEP_SHA_256|SM2PKE"`
	DryRun              *bool
}

// DecryptOutput is the Decrypt response.
type DecryptOutput struct {
	KeyId               string
	Plaintext           []byte
	EncryptionAlgorithm string
}

// ReEncryptInput is the ReEncrypt request.
type ReEncryptInput struct {
	CiphertextBlob                 []byte `v:"required,min=1,max=6144"`
	SourceEncryptionContext        map[string]string
	SourceKeyId                    *string `v:"min=1,max=2048"`
	DestinationKeyId               *string `v:"required,min=1,max=2048"`
	DestinationEncryptionContext   map[string]string
	SourceEncryptionAlgorithm      *string  `v:"enum=SYMMETRIC_DEFAULT|RSAES_OAEP_SHA_1|RSAES_OAEP_SHA_256|SM2PKE"`
	DestinationEncryptionAlgorithm *string  `v:"enum=SYMMETRIC_DEFAULT|RSAES_OAEP_SHA_1|RSAES_OAEP_SHA_256|SM2PKE"`
	GrantTokens                    []string `v:"max=10"`
	DryRun                         *bool
}

// ReEncryptOutput is the ReEncrypt response.
type ReEncryptOutput struct {
	CiphertextBlob                 []byte
	SourceKeyId                    string
	KeyId                          string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
}

// GenerateDataKeyInput is the GenerateDataKey and
// GenerateDataKeyWithoutPlaintext request.
type GenerateDataKeyInput struct {
	KeyId             *string `v:"required,min=1,max=2048"`
	EncryptionContext map[string]string
	NumberOfBytes     *int     `v:"min=1,max=1024"`
	KeySpec           *string  `v:"enum=AES_256|AES_128"`
	GrantTokens       []string `v:"max=10"`
	DryRun            *bool
}

// GenerateDataKeyWithoutPlaintextInput is the GenerateDataKeyWithoutPlaintext
// request (GenerateDataKey's shape).
type GenerateDataKeyWithoutPlaintextInput GenerateDataKeyInput

// GenerateDataKeyOutput is the GenerateDataKey response.
type GenerateDataKeyOutput struct {
	CiphertextBlob []byte
	Plaintext      []byte
	KeyId          string
}

// GenerateDataKeyWithoutPlaintextOutput is the
// GenerateDataKeyWithoutPlaintext response.
type GenerateDataKeyWithoutPlaintextOutput struct {
	CiphertextBlob []byte
	KeyId          string
}

func checkAlgorithm(a *string) error {
	if a != nil && *a != "SYMMETRIC_DEFAULT" {
		return awsproto.Errorf("InvalidKeyUsageException", "The encryption algorithm %s is not compatible with a symmetric encryption key.", *a)
	}
	return nil
}

func dryRun(b *bool) error {
	if b != nil && *b {
		return awsproto.Errorf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	return nil
}

func checkContext(ec map[string]string) error {
	for k := range ec {
		if k == "" {
			return errValidation("Encryption context keys must not be empty.")
		}
	}
	return nil
}

// cryptoChecks is the resolver part of a cryptographic operation on one
// key: the request's grant tokens and encryption context are checked, then
// the key's check (grants for op with the encryption context may allow).
func (m *Module) cryptoChecks(ctx context.Context, c *gateway.Call, keyRef, op string, ec map[string]string, toks []string) ([]gateway.Check, error) {
	if err := checkGrantTokens(toks); err != nil {
		return nil, err
	}
	if err := checkContext(ec); err != nil {
		return nil, err
	}
	return m.keyChecks(ctx, c, keyRef, true, authzRequest{Action: "kms:" + op, EncCtx: ec, GrantOp: op})
}

// cryptoKey resolves and state-checks a key for a cryptographic operation
// (the pipeline has authorized it), and returns its unsealed material.
func (m *Module) cryptoKey(ctx context.Context, tx store.Tx, c *gateway.Call, keyRef, op string) (*keyRec, []byte, error) {
	k, _, err := m.key(ctx, tx, c, keyRef, true)
	if err != nil {
		return nil, nil, err
	}
	if err := k.usable(); err != nil {
		return nil, nil, err
	}
	if k.KeyUsage != "ENCRYPT_DECRYPT" {
		return nil, nil, awsproto.Errorf("InvalidKeyUsageException", "%s key usage is %s which is not valid for %s.", k.ARN, k.KeyUsage, op)
	}
	mat, err := m.master.open(k.Material, k.ARN)
	if err != nil {
		return nil, nil, errInternal(err)
	}
	return k, mat, nil
}

// blobRef returns the reference of the key a ciphertext blob names (KeyId
// when given, which must name the same key).
func (m *Module) blobRef(ctx context.Context, tx store.Tx, c *gateway.Call, blob []byte, keyID *string) (string, error) {
	arn := blobKeyARN(blob)
	if arn == "" {
		return "", errInvalidCiphertext()
	}
	rf, err := parseRef(c.Account, c.Region, arn, false)
	if err != nil || rf.region != c.Region {
		return "", errInvalidCiphertext()
	}
	if keyID == nil {
		return arn, nil
	}
	given, _, err := m.key(ctx, tx, c, *keyID, true)
	if err != nil {
		return "", err
	}
	if given.ARN != arn {
		return "", errIncorrectKey()
	}
	return *keyID, nil
}

// blobChecks is the resolver part of an operation on the key a ciphertext
// blob names.
func (m *Module) blobChecks(ctx context.Context, c *gateway.Call, blob []byte, keyID *string, ec map[string]string, toks []string, op string) ([]gateway.Check, error) {
	var ref string
	err := m.store.View(ctx, func(tx store.Tx) (err error) {
		ref, err = m.blobRef(ctx, tx, c, blob, keyID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m.cryptoChecks(ctx, c, ref, op, ec, toks)
}

// blobKey finds, state-checks and opens the key named in a ciphertext blob
// (or KeyId when given).
func (m *Module) blobKey(ctx context.Context, tx store.Tx, c *gateway.Call, blob []byte, keyID *string, op string) (*keyRec, []byte, error) {
	ref, err := m.blobRef(ctx, tx, c, blob, keyID)
	if err != nil {
		return nil, nil, err
	}
	return m.cryptoKey(ctx, tx, c, ref, op)
}

// encryptResources resolves the resources Encrypt is authorized on.
func (m *Module) encryptResources(ctx context.Context, c *gateway.Call, in *EncryptInput) ([]gateway.Check, error) {
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	return m.cryptoChecks(ctx, c, *in.KeyId, "Encrypt", in.EncryptionContext, in.GrantTokens)
}

// decryptResources resolves the resources Decrypt is authorized on.
func (m *Module) decryptResources(ctx context.Context, c *gateway.Call, in *DecryptInput) ([]gateway.Check, error) {
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	return m.blobChecks(ctx, c, in.CiphertextBlob, in.KeyId, in.EncryptionContext, in.GrantTokens, "Decrypt")
}

// reEncryptResources resolves the resources ReEncrypt is authorized on.
func (m *Module) reEncryptResources(ctx context.Context, c *gateway.Call, in *ReEncryptInput) ([]gateway.Check, error) {
	if err := checkAlgorithm(in.SourceEncryptionAlgorithm); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	src, err := m.blobChecks(ctx, c, in.CiphertextBlob, in.SourceKeyId, in.SourceEncryptionContext, in.GrantTokens, "ReEncryptFrom")
	if err != nil {
		return nil, err
	}
	dst, err := m.cryptoChecks(ctx, c, *in.DestinationKeyId, "ReEncryptTo", in.DestinationEncryptionContext, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	return append(src, dst...), nil
}

// generateDataKeyResources resolves the resources GenerateDataKey is authorized on.
func (m *Module) generateDataKeyResources(ctx context.Context, c *gateway.Call, in *GenerateDataKeyInput) ([]gateway.Check, error) {
	return m.dataKeyChecks(ctx, c, in, "GenerateDataKey")
}

// generateDataKeyWithoutPlaintextResources resolves the resources GenerateDataKeyWithoutPlaintext is authorized on.
func (m *Module) generateDataKeyWithoutPlaintextResources(ctx context.Context, c *gateway.Call, in *GenerateDataKeyWithoutPlaintextInput) ([]gateway.Check, error) {
	return m.dataKeyChecks(ctx, c, (*GenerateDataKeyInput)(in), "GenerateDataKeyWithoutPlaintext")
}

func (m *Module) encrypt(ctx context.Context, c *gateway.Call, in *EncryptInput) (*EncryptOutput, error) {
	var out *EncryptOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, mat, err := m.cryptoKey(ctx, tx, c, *in.KeyId, "Encrypt")
		if err != nil {
			return err
		}
		defer clear(mat)
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		blob, err := encryptBlob(mat, k.ARN, in.Plaintext, in.EncryptionContext)
		if err != nil {
			return errInternal(err)
		}
		out = &EncryptOutput{CiphertextBlob: blob, KeyId: k.ARN, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}
		return nil
	})
	return out, err
}

func (m *Module) decrypt(ctx context.Context, c *gateway.Call, in *DecryptInput) (*DecryptOutput, error) {
	var out *DecryptOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		k, mat, err := m.blobKey(ctx, tx, c, in.CiphertextBlob, in.KeyId, "Decrypt")
		if err != nil {
			return err
		}
		defer clear(mat)
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		pt, err := m.decryptAny(k, mat, in.CiphertextBlob, in.EncryptionContext)
		if err != nil {
			return errInvalidCiphertext()
		}
		out = &DecryptOutput{KeyId: k.ARN, Plaintext: pt, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}
		return nil
	})
	return out, err
}

func (m *Module) reEncrypt(ctx context.Context, c *gateway.Call, in *ReEncryptInput) (*ReEncryptOutput, error) {
	var out *ReEncryptOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		src, smat, err := m.blobKey(ctx, tx, c, in.CiphertextBlob, in.SourceKeyId, "ReEncryptFrom")
		if err != nil {
			return err
		}
		defer clear(smat)
		dst, dmat, err := m.cryptoKey(ctx, tx, c, *in.DestinationKeyId, "ReEncryptTo")
		if err != nil {
			return err
		}
		defer clear(dmat)
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		pt, err := m.decryptAny(src, smat, in.CiphertextBlob, in.SourceEncryptionContext)
		if err != nil {
			return errInvalidCiphertext()
		}
		defer clear(pt)
		blob, err := encryptBlob(dmat, dst.ARN, pt, in.DestinationEncryptionContext)
		if err != nil {
			return errInternal(err)
		}
		out = &ReEncryptOutput{CiphertextBlob: blob, SourceKeyId: src.ARN, KeyId: dst.ARN,
			SourceEncryptionAlgorithm: "SYMMETRIC_DEFAULT", DestinationEncryptionAlgorithm: "SYMMETRIC_DEFAULT"}
		return nil
	})
	return out, err
}

func (m *Module) generateDataKeyOp(ctx context.Context, c *gateway.Call, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	blob, pt, arn, err := m.generateDataKey(ctx, c, in, "GenerateDataKey")
	if err != nil {
		return nil, err
	}
	return &GenerateDataKeyOutput{CiphertextBlob: blob, Plaintext: pt, KeyId: arn}, nil
}

func (m *Module) generateDataKeyWithoutPlaintext(ctx context.Context, c *gateway.Call, in *GenerateDataKeyWithoutPlaintextInput) (*GenerateDataKeyWithoutPlaintextOutput, error) {
	blob, pt, arn, err := m.generateDataKey(ctx, c, (*GenerateDataKeyInput)(in), "GenerateDataKeyWithoutPlaintext")
	clear(pt)
	if err != nil {
		return nil, err
	}
	return &GenerateDataKeyWithoutPlaintextOutput{CiphertextBlob: blob, KeyId: arn}, nil
}

// dataKeyChecks is the resolver of the GenerateDataKey operations.
func (m *Module) dataKeyChecks(ctx context.Context, c *gateway.Call, in *GenerateDataKeyInput, op string) ([]gateway.Check, error) {
	if _, err := dataKeySize(in.NumberOfBytes, in.KeySpec); err != nil {
		return nil, err
	}
	return m.cryptoChecks(ctx, c, *in.KeyId, op, in.EncryptionContext, in.GrantTokens)
}

// dataKeySize returns the data key length from KeySpec or NumberOfBytes.
func dataKeySize(n *int, spec *string) (int, error) {
	switch {
	case n != nil && spec != nil:
		return 0, errValidation("Please specify either number of bytes or key spec.")
	case n != nil:
		return *n, nil
	case spec != nil && *spec == "AES_128":
		return 16, nil
	case spec != nil:
		return 32, nil
	}
	return 0, errValidation("Please specify either number of bytes or key spec.")
}

func (m *Module) generateDataKey(ctx context.Context, c *gateway.Call, in *GenerateDataKeyInput, op string) (blob, pt []byte, arn string, err error) {
	size, err := dataKeySize(in.NumberOfBytes, in.KeySpec)
	if err != nil {
		return nil, nil, "", err
	}
	err = m.store.View(ctx, func(tx store.Tx) error {
		k, mat, err := m.cryptoKey(ctx, tx, c, *in.KeyId, op)
		if err != nil {
			return err
		}
		defer clear(mat)
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		pt = make([]byte, size)
		if _, err := rand.Read(pt); err != nil {
			return errInternal(err)
		}
		blob, err = encryptBlob(mat, k.ARN, pt, in.EncryptionContext)
		if err != nil {
			return errInternal(err)
		}
		arn = k.ARN
		return nil
	})
	return blob, pt, arn, err
}
