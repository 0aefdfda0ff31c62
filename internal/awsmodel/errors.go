package awsmodel

import "sort"

// Common (unmodeled) error codes per protocol family. botocore models only
// service-specific errors; the codes below can be returned by any operation.
//
// Sources:
//   - "Common Error Types" / "Common Errors" pages of the AWS API references
//     (for example https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html,
//     https://docs.aws.amazon.com/workspaces/latest/api/CommonErrors.html,
//     https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html);
//   - for ec2, the "Error codes for the Amazon EC2 API" page
//     (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html),
//     whose resource-specific codes are not in the botocore model at all;
//   - protocol-level codes the JSON (awsJson1_1 / restJson1) front ends
//     return before an operation runs (UnrecognizedClientException,
//     SerializationException, UnknownOperationException, ...), as handled by
//     the AWS SDKs' error deserializers.

// commonErrors are listed on the Common Errors pages of every service.
var commonErrors = []string{
	"AccessDeniedException",
	"ExpiredTokenException",
	"IncompleteSignature",
	"InternalFailure",
	"InvalidAction",
	"InvalidClientTokenId",
	"InvalidParameterCombination",
	"InvalidParameterValue",
	"InvalidQueryParameter",
	"MalformedQueryString",
	"MissingAction",
	"MissingAuthenticationToken",
	"MissingParameter",
	"NotAuthorized",
	"OptInRequired",
	"RequestExpired",
	"ServiceUnavailable",
	"ThrottlingException",
	"ValidationError",
}

// jsonCommonErrors are additional codes of the json and rest-json protocols.
var jsonCommonErrors = []string{
	"ValidationException",
	"UnrecognizedClientException",
	"InvalidSignatureException",
	"SerializationException",
	"UnknownOperationException",
	"InternalServerError",
	"InternalServerException",
	"ServiceUnavailableException",
	"RequestTimeoutException",
	"MissingAuthenticationTokenException",
	"IncompleteSignatureException",
	"AccessDenied",
	"RequestEntityTooLargeException",
	"ThrottledException",
	"TooManyRequestsException",
}

// queryCommonErrors are additional codes of the query protocol (IAM, STS).
var queryCommonErrors = []string{
	"AccessDenied",
	"Throttling",
	"SignatureDoesNotMatch",
	"ExpiredToken",
	"InternalError",
	"InvalidAccessKeyId",
	"InvalidInput",
	"MalformedInput",
	"RequestEntityTooLarge",
	"ServiceUnavailableException",
}

// ec2CommonErrors are the common client and server codes of the EC2 "Error
// codes" page plus resource-specific codes of the resources deskplane
// emulates (the botocore ec2 model declares no errors).
var ec2CommonErrors = []string{
	// common client errors
	"AuthFailure",
	"Blocked",
	"DryRunOperation",
	"IdempotentParameterMismatch",
	"IncorrectState",
	"InvalidCharacter",
	"InvalidPaginationToken",
	"InvalidParameter",
	"InvalidRequest",
	"MaxResultsOutOfRange",
	"PendingVerification",
	"ResourceLimitExceeded",
	"SignatureDoesNotMatch",
	"UnauthorizedOperation",
	"UnknownParameter",
	"UnsupportedOperation",
	"UnsupportedProtocol",
	"InvalidFilter",
	"FilterLimitExceeded",
	// common server errors
	"InternalError",
	"InsufficientInstanceCapacity",
	"InsufficientCapacity",
	"RequestLimitExceeded",
	"Unavailable",
	// resource-specific client errors
	"CannotDelete",
	"InvalidParameterDependency",
	"InvalidPermission.Duplicate",
	"InvalidPermission.NotFound",
	"DependencyViolation",
	"InvalidUserID.Malformed",
	"VPCIdNotSpecified",
	"InvalidAMIID.Malformed",
	"InvalidAMIID.NotFound",
	"InvalidAMIID.Unavailable",
	"InvalidAMIName.Duplicate",
	"InvalidAMIName.Malformed",
	"InvalidID",
	"InvalidInstanceID",
	"InvalidInstanceID.Malformed",
	"InvalidInstanceID.NotFound",
	"IncorrectInstanceState",
	"InvalidInstanceType",
	"InvalidKeyPair.Duplicate",
	"InvalidKeyPair.Format",
	"InvalidKeyPair.NotFound",
	"InvalidSecurityGroupID.NotFound",
	"InvalidGroup.NotFound",
	"InvalidGroup.Duplicate",
	"InvalidGroupId.Malformed",
	"InvalidSubnetID.NotFound",
	"InvalidSubnetID.Malformed",
	"InvalidSubnet",
	// VPCs, subnets, route tables, network ACLs and security group rules
	// (the same EC2 "Error codes" page)
	"InvalidVpc.Range",
	"InvalidSubnet.Range",
	"InvalidSubnet.Conflict",
	"InvalidRouteTableId.Malformed",
	"InvalidRouteTableID.NotFound",
	"InvalidNetworkAclId.Malformed",
	"InvalidNetworkAclID.NotFound",
	"InvalidSecurityGroupRuleId.Malformed",
	"InvalidSecurityGroupRuleId.NotFound",
	"InvalidPrefixListId.NotFound",
	"RulesPerSecurityGroupLimitExceeded",
	"InvalidVpcID.NotFound",
	"InvalidVpcID.Malformed",
	"InvalidVolume.NotFound",
	"InvalidVolumeID.Malformed",
	"InvalidSnapshot.NotFound",
	"InvalidSnapshotID.Malformed",
	"InvalidNetworkInterfaceID.NotFound",
	"InvalidNetworkInterfaceID.Malformed",
	"InvalidTagKey.Malformed",
	"TagLimitExceeded",
	"InvalidZone.NotFound",
	"InvalidAvailabilityZone",
	"InvalidIPAddress.InUse",
	"InvalidAddress.NotFound",
	"InvalidAllocationID.NotFound",
	"InvalidRegion",
	"MissingInput",
	"InvalidBlockDeviceMapping",
	"InvalidUserData.Malformed",
	"InstanceLimitExceeded",
	"VcpuLimitExceeded",
	"VolumeLimitExceeded",
	"SnapshotLimitExceeded",
	"AMIQuotaExceeded",
	"ResourceCountExceeded",
}

var (
	commonJSON  = toSet(commonErrors, jsonCommonErrors)
	commonQuery = toSet(commonErrors, queryCommonErrors)
	commonEC2   = toSet(commonErrors, ec2CommonErrors)
)

func toSet(lists ...[]string) map[string]bool {
	s := map[string]bool{}
	for _, l := range lists {
		for _, c := range l {
			s[c] = true
		}
	}
	return s
}

// CommonErrorCodes returns the error codes any operation of a protocol
// ("json", "rest-json", "query", "ec2") may return although the model does
// not list them, sorted. See the source notes in errors.go.
func CommonErrorCodes(protocol string) []string {
	var set map[string]bool
	switch protocol {
	case "json", "rest-json":
		set = commonJSON
	case "query":
		set = commonQuery
	case "ec2":
		set = commonEC2
	default:
		set = toSet(commonErrors)
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// IsCommonErrorCode reports whether code is a common error of the model's
// protocol (see [CommonErrorCodes]).
func (m *Model) IsCommonErrorCode(code string) bool {
	switch m.Protocol() {
	case "json", "rest-json", "smithy-rpc-v2-cbor":
		return commonJSON[code]
	case "query":
		return commonQuery[code]
	case "ec2":
		return commonEC2[code]
	}
	return toSet(commonErrors)[code]
}

// IsErrorCode reports whether code may be returned by op: it is one of op's
// modeled errors (see [Model.ErrorCodes]) or a common error of the model's
// protocol (see [CommonErrorCodes]). It is false for an unknown operation.
func (m *Model) IsErrorCode(op, code string) bool {
	if _, ok := m.Ops[op]; !ok {
		return false
	}
	for _, c := range m.ErrorCodes(op) {
		if c == code {
			return true
		}
	}
	return m.IsCommonErrorCode(code)
}

// WidespreadErrorCodes returns, sorted, the wire codes of the errors that the
// model declares on at least half of the service's operations. The models
// leave such errors off some operations that return them all the same (a
// service's own spelling of an invalid parameter, e.g. Directory Service's
// InvalidParameterException, WorkSpaces' InvalidParameterValuesException):
// the model itself is the evidence that any operation of the service may
// return them.
func (m *Model) WidespreadErrorCodes() []string {
	count := map[string]int{}
	for _, op := range m.Ops {
		seen := map[string]bool{}
		for _, e := range op.Errors {
			if c := m.ErrorCode(e); !seen[c] {
				seen[c] = true
				count[c]++
			}
		}
	}
	var out []string
	for c, n := range count {
		if 2*n >= len(m.Ops) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
