package ec2

import (
	"github.com/deskplane/deskplane/internal/gateway"
)

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.svc.Add(
		// common.go
		gateway.Op("DescribeImages", m.describeImages).RO(),
		gateway.WithResources(gateway.Op("RegisterImage", m.registerImage), m.registerImageResources),
		gateway.Op("DescribeVpcs", m.describeVpcs).RO(),
		gateway.Op("DescribeSubnets", m.describeSubnets).RO(),
		gateway.WithResources(gateway.Op("CreateSecurityGroup", m.createSecurityGroup), m.createSecurityGroupResources),
		gateway.Op("DescribeSecurityGroups", m.describeSecurityGroups).RO(),
		gateway.WithResources(gateway.Op("AuthorizeSecurityGroupIngress", m.authorizeIngress), m.authorizeIngressResources),
		gateway.WithResources(gateway.Op("DeleteSecurityGroup", m.deleteSecurityGroup), m.deleteSecurityGroupResources),
		// rules.go
		gateway.WithResources(gateway.Op("AuthorizeSecurityGroupEgress", m.authorizeEgress), m.authorizeEgressResources),
		gateway.WithResources(gateway.Op("RevokeSecurityGroupIngress", m.revokeIngress), m.revokeIngressResources),
		gateway.WithResources(gateway.Op("RevokeSecurityGroupEgress", m.revokeEgress), m.revokeEgressResources),
		// vpcs.go
		gateway.WithResources(gateway.Op("CreateVpc", m.createVpc), m.createVpcResources),
		gateway.WithResources(gateway.Op("DeleteVpc", m.deleteVpc), vpcCheck(m, func(in *DeleteVpcInput) string { return in.VpcID })),
		gateway.WithResources(gateway.Op("DescribeVpcAttribute", m.describeVpcAttribute), vpcCheck(m, func(in *DescribeVpcAttributeInput) string { return in.VpcID })).RO(),
		gateway.WithResources(gateway.Op("ModifyVpcAttribute", m.modifyVpcAttribute), vpcCheck(m, func(in *ModifyVpcAttributeInput) string { return in.VpcID })),
		gateway.WithResources(gateway.Op("CreateSubnet", m.createSubnet), m.createSubnetResources),
		gateway.WithResources(gateway.Op("DeleteSubnet", m.deleteSubnet), subnetCheck(m, func(in *DeleteSubnetInput) string { return in.SubnetID })),
		gateway.WithResources(gateway.Op("ModifySubnetAttribute", m.modifySubnetAttribute), subnetCheck(m, func(in *ModifySubnetAttributeInput) string { return in.SubnetID })),
		gateway.Op("DescribeRouteTables", m.describeRouteTables).RO(),
		gateway.Op("DescribeNetworkAcls", m.describeNetworkAcls).RO(),
		gateway.Op("DescribeNetworkInterfaces", m.describeNetworkInterfaces).RO(),
		gateway.WithResources(gateway.Op("CreateTags", m.createTags), m.createTagsResources),
		gateway.WithResources(gateway.Op("DeleteTags", m.deleteTags), m.deleteTagsResources),
	)
}
