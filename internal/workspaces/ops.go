package workspaces

import (
	"github.com/deskplane/deskplane/internal/gateway"
)

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.svc.Add(
		// account.go
		gateway.Op("DescribeAccount", m.describeAccount).RO(),
		gateway.Op("ListAvailableManagementCidrRanges", m.listCidrs).RO(),
		gateway.Op("ModifyAccount", m.modifyAccount),
		gateway.Op("DescribeAccountModifications", m.describeAccountMods).RO(),
		// accountlinks.go
		gateway.Op("CreateAccountLinkInvitation", m.createAccountLink),
		gateway.Op("AcceptAccountLinkInvitation", m.acceptAccountLink),
		gateway.Op("RejectAccountLinkInvitation", m.rejectAccountLink),
		gateway.Op("DeleteAccountLinkInvitation", m.deleteAccountLink),
		gateway.Op("GetAccountLink", m.getAccountLink).RO(),
		gateway.Op("ListAccountLinks", m.listAccountLinks).RO(),
		// addins.go
		gateway.WithResources(gateway.Op("CreateConnectClientAddIn", m.createAddIn), m.createConnectClientAddInResources),
		gateway.WithResources(gateway.Op("DescribeConnectClientAddIns", m.describeAddIns), m.describeConnectClientAddInsResources).RO(),
		gateway.WithResources(gateway.Op("UpdateConnectClientAddIn", m.updateAddIn), m.updateConnectClientAddInResources),
		gateway.WithResources(gateway.Op("DeleteConnectClientAddIn", m.deleteAddIn), m.deleteConnectClientAddInResources),
		// aliases.go
		gateway.WithResources(gateway.Op("CreateConnectionAlias", m.createAlias), m.createConnectionAliasResources),
		gateway.WithResources(gateway.Op("DeleteConnectionAlias", m.deleteAlias), m.deleteConnectionAliasResources),
		gateway.Op("DescribeConnectionAliases", m.describeAliases).RO(),
		gateway.WithResources(gateway.Op("AssociateConnectionAlias", m.associateAlias), m.associateConnectionAliasResources),
		gateway.WithResources(gateway.Op("DisassociateConnectionAlias", m.disassociateAlias), m.disassociateConnectionAliasResources),
		gateway.WithResources(gateway.Op("UpdateConnectionAliasPermission", m.updateAliasPermission), m.updateConnectionAliasPermissionResources),
		gateway.WithResources(gateway.Op("DescribeConnectionAliasPermissions", m.describeAliasPermissions), m.describeConnectionAliasPermissionsResources).RO(),
		// applications.go
		gateway.Op("DescribeApplications", m.describeApplications).RO(),
		gateway.WithResources(gateway.Op("DescribeApplicationAssociations", m.describeApplicationAssociations), m.describeApplicationAssociationsResources).RO(),
		gateway.WithResources(gateway.Op("DescribeImageAssociations", m.describeImageAssociations), m.describeImageAssociationsResources).RO(),
		gateway.WithResources(gateway.Op("DescribeBundleAssociations", m.describeBundleAssociations), m.describeBundleAssociationsResources).RO(),
		gateway.WithResources(gateway.Op("DescribeWorkspaceAssociations", m.describeWorkspaceAssociations), m.describeWorkspaceAssociationsResources).RO(),
		gateway.WithResources(gateway.Op("AssociateWorkspaceApplication", m.associateWorkspaceApplication), m.associateWorkspaceApplicationResources),
		gateway.WithResources(gateway.Op("DisassociateWorkspaceApplication", m.disassociateWorkspaceApplication), m.disassociateWorkspaceApplicationResources),
		gateway.WithResources(gateway.Op("DeployWorkspaceApplications", m.deployWorkspaceApplications), m.deployWorkspaceApplicationsResources),
		// bundles.go
		gateway.WithResources(gateway.Op("CreateWorkspaceBundle", m.createBundle), m.createWorkspaceBundleResources),
		gateway.WithResources(gateway.Op("UpdateWorkspaceBundle", m.updateBundle), m.updateWorkspaceBundleResources),
		gateway.WithResources(gateway.Op("DeleteWorkspaceBundle", m.deleteBundle), m.deleteWorkspaceBundleResources),
		gateway.Op("DescribeWorkspaceBundles", m.describeBundles).RO(),
		// connstatus.go
		gateway.Op("DescribeWorkspacesConnectionStatus", m.describeConnStatus).RO(),
		// customimages.go
		gateway.WithResources(gateway.Op("ImportCustomWorkspaceImage", m.importCustomImage), m.importCustomWorkspaceImageResources),
		gateway.WithResources(gateway.Op("DescribeCustomWorkspaceImageImport", m.describeCustomImport), m.describeCustomWorkspaceImageImportResources).RO(),
		gateway.WithResources(gateway.Op("CreateUpdatedWorkspaceImage", m.createUpdatedImage), m.createUpdatedWorkspaceImageResources),
		// desktops.go
		gateway.WithItems(gateway.WithResources(gateway.Op("CreateWorkspaces", m.createWorkspaces), m.createChecks), m.createWorkspacesItems),
		gateway.Op("DescribeWorkspaces", m.describeWorkspaces).RO(),
		gateway.PerItem(gateway.Op("StartWorkspaces", m.startWorkspaces), m.startWorkspacesItems),
		gateway.PerItem(gateway.Op("StopWorkspaces", m.stopWorkspaces), m.stopWorkspacesItems),
		gateway.PerItem(gateway.Op("RebootWorkspaces", m.rebootWorkspaces), m.rebootWorkspacesItems),
		gateway.PerItem(gateway.Op("RebuildWorkspaces", m.rebuildWorkspaces), m.rebuildWorkspacesItems),
		gateway.PerItem(gateway.Op("TerminateWorkspaces", m.terminateWorkspaces), m.terminateWorkspacesItems),
		gateway.WithResources(gateway.Op("RestoreWorkspace", m.restoreWorkspace), m.restoreWorkspaceResources),
		gateway.WithResources(gateway.Op("ModifyWorkspaceState", m.modifyState), m.modifyWorkspaceStateResources),
		gateway.WithResources(gateway.Op("ModifyWorkspaceProperties", m.modifyProperties), m.modifyWorkspacePropertiesResources),
		gateway.WithResources(gateway.Op("MigrateWorkspace", m.migrate), m.migrateWorkspaceResources),
		gateway.WithResources(gateway.Op("DescribeWorkspaceSnapshots", m.describeSnapshots), m.describeWorkspaceSnapshotsResources).RO(),
		// directories.go
		gateway.WithResources(gateway.Op("RegisterWorkspaceDirectory", m.registerDirectory), m.registerWorkspaceDirectoryResources),
		gateway.WithResources(gateway.Op("DeregisterWorkspaceDirectory", m.deregisterDirectory), m.deregisterWorkspaceDirectoryResources),
		gateway.Op("DescribeWorkspaceDirectories", m.describeDirectories).RO(),
		gateway.WithResources(gateway.Op("ModifyWorkspaceCreationProperties", m.modifyCreationProperties), m.modifyWorkspaceCreationPropertiesResources),
		// dirprops.go
		gateway.WithResources(gateway.Op("ModifySelfservicePermissions", m.modifySelfService), m.modifySelfservicePermissionsResources),
		gateway.WithResources(gateway.Op("ModifyWorkspaceAccessProperties", m.modifyAccess), m.modifyWorkspaceAccessPropertiesResources),
		gateway.WithResources(gateway.Op("ModifyClientProperties", m.modifyClient), m.modifyClientPropertiesResources),
		gateway.WithResources(gateway.Op("DescribeClientProperties", m.describeClient), m.describeClientPropertiesResources).RO(),
		gateway.WithResources(gateway.Op("ModifyStreamingProperties", m.modifyStreaming), m.modifyStreamingPropertiesResources),
		gateway.WithResources(gateway.Op("ModifySamlProperties", m.modifySaml), m.modifySamlPropertiesResources),
		gateway.WithResources(gateway.Op("ModifyCertificateBasedAuthProperties", m.modifyCBA), m.modifyCertificateBasedAuthPropertiesResources),
		gateway.WithResources(gateway.Op("ModifyEndpointEncryptionMode", m.modifyEncryption), m.modifyEndpointEncryptionModeResources),
		gateway.WithResources(gateway.Op("ImportClientBranding", m.importBranding), m.importClientBrandingResources),
		gateway.WithResources(gateway.Op("DescribeClientBranding", m.describeBranding), m.describeClientBrandingResources).RO(),
		gateway.WithResources(gateway.Op("DeleteClientBranding", m.deleteBranding), m.deleteClientBrandingResources),
		// images.go
		gateway.WithResources(gateway.Op("ImportWorkspaceImage", m.importImage), m.importWorkspaceImageResources),
		gateway.Op("DescribeWorkspaceImages", m.describeImages).RO(),
		gateway.WithResources(gateway.Op("CreateWorkspaceImage", m.createImage), m.createWorkspaceImageResources),
		gateway.WithResources(gateway.Op("CopyWorkspaceImage", m.copyImage), m.copyImageChecks),
		gateway.WithResources(gateway.Op("DeleteWorkspaceImage", m.deleteImage), m.deleteWorkspaceImageResources),
		gateway.WithResources(gateway.Op("UpdateWorkspaceImagePermission", m.updateImagePermission), m.updateWorkspaceImagePermissionResources),
		gateway.WithResources(gateway.Op("DescribeWorkspaceImagePermissions", m.describeImagePermissions), m.describeWorkspaceImagePermissionsResources).RO(),
		// ipgroups.go
		gateway.WithResources(gateway.Op("CreateIpGroup", m.createIPGroup), m.createIPGroupChecks),
		gateway.WithResources(gateway.Op("DeleteIpGroup", m.deleteIPGroup), m.deleteIpGroupResources),
		gateway.Op("DescribeIpGroups", m.describeIPGroups).RO(),
		gateway.WithResources(gateway.Op("AuthorizeIpRules", m.authorizeIPRules), m.authorizeIpRulesResources),
		gateway.WithResources(gateway.Op("RevokeIpRules", m.revokeIPRules), m.revokeIpRulesResources),
		gateway.WithResources(gateway.Op("UpdateRulesOfIpGroup", m.updateIPRules), m.updateRulesOfIpGroupResources),
		gateway.WithResources(gateway.Op("AssociateIpGroups", m.associateIPGroups), m.associateIpGroupsResources),
		gateway.WithResources(gateway.Op("DisassociateIpGroups", m.disassociateIPGroups), m.disassociateIpGroupsResources),
		// pools.go
		gateway.WithResources(gateway.Op("CreateWorkspacesPool", m.createPool), m.createWorkspacesPoolResources),
		gateway.WithResources(gateway.Op("DescribeWorkspacesPools", m.describePools), m.describeWorkspacesPoolsResources).RO(),
		gateway.WithResources(gateway.Op("UpdateWorkspacesPool", m.updatePool), m.updateWorkspacesPoolResources),
		gateway.WithResources(gateway.Op("StartWorkspacesPool", m.startPool), m.startWorkspacesPoolResources),
		gateway.WithResources(gateway.Op("StopWorkspacesPool", m.stopPool), m.stopWorkspacesPoolResources),
		gateway.WithResources(gateway.Op("TerminateWorkspacesPool", m.terminatePool), m.terminateWorkspacesPoolResources),
		gateway.WithResources(gateway.Op("DescribeWorkspacesPoolSessions", m.describePoolSessions), m.describeWorkspacesPoolSessionsResources).RO(),
		gateway.WithResources(gateway.Op("TerminateWorkspacesPoolSession", m.terminatePoolSession), m.terminateWorkspacesPoolSessionResources),
		// standby.go
		gateway.WithResources(gateway.Op("CreateStandbyWorkspaces", m.createStandby), m.standbyChecks),
		// tags.go
		gateway.WithResources(gateway.Op("CreateTags", m.createTags), m.createTagsResources),
		gateway.WithResources(gateway.Op("DeleteTags", m.deleteTags), m.deleteTagsResources),
		gateway.Op("DescribeTags", m.describeTags).RO(),
	)
}
