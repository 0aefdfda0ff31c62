package wsinstances

import (
	"github.com/deskplane/deskplane/internal/gateway"
)

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.svc.Add(
		// module.go
		gateway.WithResources(gateway.Op("CreateWorkspaceInstance", m.createInstance), m.resolveCreateInstance),
		gateway.WithResources(gateway.Op("GetWorkspaceInstance", m.getInstance), instanceCheck[GetWorkspaceInstanceInput](m, func(in *GetWorkspaceInstanceInput) *string { return in.WorkspaceInstanceID })).RO(),
		gateway.Op("ListWorkspaceInstances", m.listInstances).RO(),
		gateway.WithResources(gateway.Op("DeleteWorkspaceInstance", m.deleteInstance), instanceCheck[DeleteWorkspaceInstanceInput](m, func(in *DeleteWorkspaceInstanceInput) *string { return in.WorkspaceInstanceID })),
		gateway.Op("CreateVolume", m.createVolume),
		gateway.WithResources(gateway.Op("DeleteVolume", m.deleteVolume), m.resolveVolume),
		gateway.WithResources(gateway.Op("AssociateVolume", m.associateVolume), instanceCheck[AssociateVolumeInput](m, func(in *AssociateVolumeInput) *string { return in.WorkspaceInstanceID })),
		gateway.WithResources(gateway.Op("DisassociateVolume", m.disassociateVolume), instanceCheck[DisassociateVolumeInput](m, func(in *DisassociateVolumeInput) *string { return in.WorkspaceInstanceID })),
		gateway.Op("ListInstanceTypes", m.listInstanceTypes).RO(),
		gateway.Op("ListRegions", m.listRegions).RO(),
		gateway.WithResources(gateway.Op("ListTagsForResource", m.listTags), instanceCheck[ListTagsForResourceInput](m, func(in *ListTagsForResourceInput) *string { return in.WorkspaceInstanceID })).RO(),
		gateway.WithResources(gateway.Op("TagResource", m.tagResource), m.resolveTagResource),
		gateway.WithResources(gateway.Op("UntagResource", m.untagResource), m.resolveUntagResource),
	)
}
