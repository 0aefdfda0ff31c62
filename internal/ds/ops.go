package ds

import (
	"github.com/deskplane/deskplane/internal/gateway"
)

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.ds.Add(
		// dirops.go
		gateway.WithResources(gateway.Op("CreateMicrosoftAD", m.createMicrosoftAD), m.createMicrosoftADResources),
		gateway.WithResources(gateway.Op("CreateDirectory", m.createDirectory), m.createDirectoryResources),
		gateway.WithResources(gateway.Op("ConnectDirectory", m.connectDirectory), m.connectDirectoryResources),
		gateway.Op("DescribeDirectories", m.describeDirectories).RO(),
		gateway.WithResources(gateway.Op("DeleteDirectory", m.deleteDirectory), m.deleteDirectoryResources),
		// tags.go
		gateway.WithResources(gateway.Op("ListTagsForResource", m.listTagsForResource), m.listTagsForResourceResources).RO(),
		gateway.WithResources(gateway.Op("AddTagsToResource", m.addTagsToResource), m.addTagsToResourceResources),
		gateway.WithResources(gateway.Op("RemoveTagsFromResource", m.removeTagsFromResource), m.removeTagsFromResourceResources),
		gateway.WithResources(gateway.Op("DescribeDomainControllers", m.describeDomainControllers), m.describeDomainControllersResources).RO(),
		// password.go
		gateway.WithResources(gateway.Op("ResetUserPassword", m.resetUserPassword), m.resetUserPasswordResources),
	)
}

// registerData declares every operation of Directory Service Data
// (ds-data), one row each; handlers are in data.go.
func (m *Module) registerData() {
	m.data.Add(
		dataOp(m, "ListUsers", m.listUsers, func(in *ListUsersInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"Realm": in.Realm}
		}).RO(),
		dataOp(m, "DescribeUser", m.describeUser, func(in *DescribeUserInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"Realm": in.Realm, "SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}).RO(),
		dataOp(m, "SearchUsers", m.searchUsers, func(in *SearchUsersInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"Realm": in.Realm}
		}).RO(),
		dataOp(m, "CreateUser", m.createUser, func(in *CreateUserInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}),
		dataOp(m, "UpdateUser", m.updateUser, func(in *UpdateUserInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}),
		dataOp(m, "DeleteUser", m.deleteUser, func(in *DeleteUserInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}),
		dataOp(m, "DisableUser", m.disableUser, func(in *DisableUserInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}),
		dataOp(m, "CreateGroup", m.createGroup, func(in *CreateGroupInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}),
		dataOp(m, "DescribeGroup", m.describeGroup, func(in *DescribeGroupInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"Realm": in.Realm, "SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}).RO(),
		dataOp(m, "DeleteGroup", m.deleteGroup, func(in *GroupRef) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}),
		dataOp(m, "ListGroups", m.listGroups, func(in *ListGroupsInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"Realm": in.Realm}
		}).RO(),
		dataOp(m, "AddGroupMember", m.addGroupMember, func(in *AddGroupMemberInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.GroupName, "Identifier": in.GroupName, "MemberName": in.MemberName, "MemberRealm": in.MemberRealm}
		}),
		dataOp(m, "RemoveGroupMember", m.removeGroupMember, func(in *RemoveGroupMemberInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"SAMAccountName": in.GroupName, "Identifier": in.GroupName, "MemberName": in.MemberName, "MemberRealm": in.MemberRealm}
		}),
		dataOp(m, "ListGroupMembers", m.listGroupMembers, func(in *ListGroupMembersInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"Realm": in.Realm, "MemberRealm": in.MemberRealm, "SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}).RO(),
		dataOp(m, "ListGroupsForMember", m.listGroupsForMember, func(in *ListGroupsForMemberInput) (string, map[string]*string) {
			return *in.DirectoryID, map[string]*string{"Realm": in.Realm, "MemberRealm": in.MemberRealm, "SAMAccountName": in.SAMAccountName, "Identifier": in.SAMAccountName}
		}).RO(),
	)
}
