package iam

import (
	"github.com/deskplane/deskplane/internal/gateway"
)

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.svc.Add(
		// policyversions.go
		oneCheck(gateway.Op("ListPolicyVersions", m.listPolicyVersions), func(c *gateway.Call, in *listPolicyVersionsIn) string { return in.PolicyArn }).RO(),
		oneCheck(gateway.Op("CreatePolicyVersion", m.createPolicyVersion), func(c *gateway.Call, in *createPolicyVersionIn) string { return in.PolicyArn }),
		oneCheck(gateway.Op("DeletePolicyVersion", m.deletePolicyVersion), func(c *gateway.Call, in *deletePolicyVersionIn) string { return in.PolicyArn }),
		oneCheck(gateway.Op("SetDefaultPolicyVersion", m.setDefaultPolicyVersion), func(c *gateway.Call, in *setDefaultPolicyVersionIn) string { return in.PolicyArn }),
		// tagging.go
		roleCheck(m, gateway.Op("UntagRole", m.untagRole), func(in *untagRoleIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("ListRoleTags", m.listRoleTags), func(in *listRoleTagsIn) string { return in.RoleName }).RO(),
		roleCheck(m, gateway.Op("ListInstanceProfilesForRole", m.listInstanceProfilesForRole), func(in *listInstanceProfilesForRoleIn) string { return in.RoleName }).RO(),
		userCheck(m, gateway.Op("TagUser", m.tagUser), func(in *tagUserIn) string { return in.UserName }),
		userCheck(m, gateway.Op("UntagUser", m.untagUser), func(in *untagUserIn) string { return in.UserName }),
		userCheck(m, gateway.Op("ListUserTags", m.listUserTags), func(in *listUserTagsIn) string { return in.UserName }).RO(),
		userCheck(m, gateway.Op("ListGroupsForUser", m.listGroupsForUser), func(in *listGroupsForUserIn) string { return in.UserName }).RO(),
		userCheck(m, gateway.Op("UpdateAccessKey", m.updateAccessKey), func(in *updateKeyIn) string { return in.UserName }),
		oneCheck(gateway.Op("TagPolicy", m.tagPolicy), func(c *gateway.Call, in *tagPolicyIn) string { return in.PolicyArn }),
		oneCheck(gateway.Op("UntagPolicy", m.untagPolicy), func(c *gateway.Call, in *untagPolicyIn) string { return in.PolicyArn }),
		oneCheck(gateway.Op("ListPolicyTags", m.listPolicyTags), func(c *gateway.Call, in *listPolicyTagsIn) string { return in.PolicyArn }).RO(),
		// users.go
		oneCheck(gateway.Op("CreateUser", m.createUser), func(c *gateway.Call, in *createUserIn) string { return UserARN(c.Account, in.Path, in.UserName) }),
		userCheck(m, gateway.Op("GetUser", m.getUser), func(in *getUserIn) string { return in.UserName }).RO(),
		gateway.Op("ListUsers", m.listUsers).RO(),
		userCheck(m, gateway.Op("DeleteUser", m.deleteUser), func(in *deleteUserIn) string { return in.UserName }),
		userCheck(m, gateway.Op("CreateAccessKey", m.createAccessKey), func(in *createAccessKeyIn) string { return in.UserName }),
		userCheck(m, gateway.Op("ListAccessKeys", m.listAccessKeys), func(in *listKeysIn) string { return in.UserName }).RO(),
		userCheck(m, gateway.Op("DeleteAccessKey", m.deleteAccessKey), func(in *deleteKeyIn) string { return in.UserName }),
		userCheck(m, gateway.Op("PutUserPolicy", m.putUserPolicy), func(in *putUserPolicyIn) string { return in.UserName }),
		userCheck(m, gateway.Op("AttachUserPolicy", m.attachUserPolicy), func(in *attachUserPolicyIn) string { return in.UserName }),
		userCheck(m, gateway.Op("DeleteUserPolicy", m.deleteUserPolicy), func(in *userPolicyIn) string { return in.UserName }),
		oneCheck(gateway.Op("CreateRole", m.createRole), func(c *gateway.Call, in *createRoleIn) string { return RoleARN(c.Account, in.Path, in.RoleName) }),
		roleCheck(m, gateway.Op("GetRole", m.getRole), func(in *getRoleIn) string { return in.RoleName }).RO(),
		gateway.Op("ListRoles", m.listRoles).RO(),
		roleCheck(m, gateway.Op("DeleteRole", m.deleteRole), func(in *deleteRoleIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("UpdateAssumeRolePolicy", m.updateAssumeRolePolicy), func(in *updateTrustIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("PutRolePolicy", m.putRolePolicy), func(in *putRolePolicyIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("GetRolePolicy", m.getRolePolicy), func(in *getRolePolicyIn) string { return in.RoleName }).RO(),
		roleCheck(m, gateway.Op("ListRolePolicies", m.listRolePolicies), func(in *listRolePoliciesIn) string { return in.RoleName }).RO(),
		roleCheck(m, gateway.Op("DeleteRolePolicy", m.deleteRolePolicy), func(in *deleteRolePolicyIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("AttachRolePolicy", m.attachRolePolicy), func(in *attachRolePolicyIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("DetachRolePolicy", m.detachRolePolicy), func(in *detachRolePolicyIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("ListAttachedRolePolicies", m.listAttachedRolePolicies), func(in *listAttachedIn) string { return in.RoleName }).RO(),
		roleCheck(m, gateway.Op("TagRole", m.tagRole), func(in *tagRoleIn) string { return in.RoleName }),
		oneCheck(gateway.Op("CreatePolicy", m.createPolicy), func(c *gateway.Call, in *createPolicyIn) string {
			p, _ := checkPath(in.Path)
			return PolicyARN(c.Account, p, in.PolicyName)
		}),
		oneCheck(gateway.Op("GetPolicy", m.getPolicy), func(c *gateway.Call, in *getPolicyIn) string { return in.PolicyArn }).RO(),
		oneCheck(gateway.Op("GetPolicyVersion", m.getPolicyVersion), func(c *gateway.Call, in *getPolicyVersionIn) string { return in.PolicyArn }).RO(),
		gateway.Op("ListPolicies", m.listPolicies).RO(),
		oneCheck(gateway.Op("DeletePolicy", m.deletePolicy), func(c *gateway.Call, in *deletePolicyIn) string { return in.PolicyArn }),
		gateway.WithResources(gateway.Op("SimulatePrincipalPolicy", m.simulatePrincipalPolicy), m.simulateChecks).RO(),
	)
}
