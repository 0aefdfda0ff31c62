package kms

import (
	"github.com/deskplane/deskplane/internal/gateway"
)

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.svc.Add(
		// aliases.go
		gateway.WithResources(gateway.Op("CreateAlias", m.createAlias), m.createAliasResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("UpdateAlias", m.updateAlias), m.updateAliasResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("DeleteAlias", m.deleteAlias), m.deleteAliasChecks).ResourcePolicy(),
		gateway.Op("ListAliases", m.listAliases).RO(),
		// crypto_ops.go
		gateway.WithResources(gateway.Op("Encrypt", m.encrypt).RO(), m.encryptResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("Decrypt", m.decrypt).RO(), m.decryptResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("ReEncrypt", m.reEncrypt).RO(), m.reEncryptResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("GenerateDataKey", m.generateDataKeyOp).RO(), m.generateDataKeyResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("GenerateDataKeyWithoutPlaintext", m.generateDataKeyWithoutPlaintext).RO(), m.generateDataKeyWithoutPlaintextResources).ResourcePolicy(),
		// grant_ops.go
		gateway.WithResources(gateway.Op("CreateGrant", m.createGrant), m.createGrantChecks).ResourcePolicy(),
		keyOp(m, gateway.Op("ListGrants", m.listGrantsOp).RO(), func(in *ListGrantsInput) string { return *in.KeyId }, false, authzRequest{}),
		gateway.Op("ListRetirableGrants", m.listRetirableGrants).RO(),
		gateway.WithResources(gateway.Op("RetireGrant", m.retireGrant), m.retireGrantChecks).ResourcePolicy(),
		gateway.WithResources(gateway.Op("RevokeGrant", m.revokeGrant), m.revokeGrantResources).ResourcePolicy(),
		// keys.go
		gateway.WithResources(gateway.Op("CreateKey", m.createKey), m.createKeyResources),
		keyOp(m, gateway.Op("DescribeKey", m.describeKey).RO(), func(in *DescribeKeyInput) string { return *in.KeyId }, true, authzRequest{GrantOp: "DescribeKey"}),
		gateway.Op("ListKeys", m.listKeys).RO(),
		keyOp(m, gateway.Op("EnableKey", m.enableKey), func(in *EnableKeyInput) string { return *in.KeyId }, false, authzRequest{}),
		keyOp(m, gateway.Op("DisableKey", m.disableKey), func(in *DisableKeyInput) string { return *in.KeyId }, false, authzRequest{}),
		gateway.WithResources(gateway.Op("ScheduleKeyDeletion", m.scheduleKeyDeletion), m.scheduleKeyDeletionResources).ResourcePolicy(),
		keyOp(m, gateway.Op("CancelKeyDeletion", m.cancelKeyDeletion), func(in *CancelKeyDeletionInput) string { return *in.KeyId }, false, authzRequest{}),
		gateway.WithResources(gateway.Op("GetKeyPolicy", m.getKeyPolicy).RO(), m.getKeyPolicyResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("PutKeyPolicy", m.putKeyPolicy), m.putKeyPolicyResources).ResourcePolicy(),
		keyOp(m, gateway.Op("ListKeyPolicies", m.listKeyPolicies).RO(), func(in *ListKeyPoliciesInput) string { return *in.KeyId }, false, authzRequest{}),
		gateway.WithResources(gateway.Op("TagResource", m.tagResource), m.tagResourceResources).ResourcePolicy(),
		gateway.WithResources(gateway.Op("UntagResource", m.untagResource), m.untagResourceResources).ResourcePolicy(),
		keyOp(m, gateway.Op("ListResourceTags", m.listResourceTags).RO(), func(in *ListResourceTagsInput) string { return *in.KeyId }, false, authzRequest{}),
		// rotation.go
		keyOp(m, gateway.Op("EnableKeyRotation", m.enableKeyRotation), func(in *EnableKeyRotationInput) string { return *in.KeyId }, false, authzRequest{}),
		keyOp(m, gateway.Op("DisableKeyRotation", m.disableKeyRotation), func(in *DisableKeyRotationInput) string { return *in.KeyId }, false, authzRequest{}),
		keyOp(m, gateway.Op("GetKeyRotationStatus", m.getKeyRotationStatus).RO(), func(in *GetKeyRotationStatusInput) string { return *in.KeyId }, false, authzRequest{}),
		keyOp(m, gateway.Op("UpdateKeyDescription", m.updateKeyDescription), func(in *UpdateKeyDescriptionInput) string { return *in.KeyId }, false, authzRequest{}),
		keyOp(m, gateway.Op("RotateKeyOnDemand", m.rotateKeyOnDemand), func(in *RotateKeyOnDemandInput) string { return *in.KeyId }, false, authzRequest{}),
		keyOp(m, gateway.Op("ListKeyRotations", m.listKeyRotations).RO(), func(in *ListKeyRotationsInput) string { return *in.KeyId }, false, authzRequest{}),
	)
}
