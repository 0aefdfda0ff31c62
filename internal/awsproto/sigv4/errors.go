package sigv4

import "net/http"

// Kind classifies why a request failed SigV4 authentication. The server maps
// a Kind to the error code of the protocol it speaks with [Error.Code].
type Kind int

// The kinds of authentication failure.
const (
	// KindMissing: the request carries neither an Authorization header nor
	// presigned query parameters.
	KindMissing Kind = iota + 1
	// KindIncomplete: the Authorization header or presign parameters are
	// malformed (bad credential scope, missing X-Amz-Date, unsupported
	// algorithm, ...).
	KindIncomplete
	// KindUnknownKey: the access key id is not known to the Lookup.
	KindUnknownKey
	// KindMismatch: the signature (or a value it covers, such as the payload
	// hash or the credential scope's date) does not match the request.
	KindMismatch
	// KindExpired: X-Amz-Date is more than MaxSkew away from the server
	// clock, or a presigned URL is past X-Amz-Expires.
	KindExpired
)

// String returns the Kind's name.
func (k Kind) String() string {
	switch k {
	case KindMissing:
		return "missing"
	case KindIncomplete:
		return "incomplete"
	case KindUnknownKey:
		return "unknown key"
	case KindMismatch:
		return "mismatch"
	case KindExpired:
		return "expired"
	}
	return "unknown"
}

// Error is the error returned by Parse and Verify for every authentication
// failure. Message is safe to return to the client: it never contains a
// secret access key (nor a session token).
type Error struct {
	Kind    Kind
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "sigv4: " + e.Kind.String() + ": " + e.Message }

// Protocol families accepted by [Error.Code].
const (
	ProtocolJSON     = "json"     // awsJson1.0/1.1: workspaces, ds, kms, cloudtrail
	ProtocolQuery    = "query"    // awsQuery: iam, sts
	ProtocolEC2      = "ec2"      // ec2Query
	ProtocolRESTJSON = "restjson" // restJson1: ds-data
)

// Messages AWS uses (see Code for sources).
const (
	msgMissing    = "Request is missing Authentication Token"
	msgUnknownKey = "The security token included in the request is invalid."
	msgMismatch   = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Code maps the error to the AWS error code and HTTP status that a service of
// the given protocol family returns ("json", "query", "ec2", "restjson";
// "rest-json" is accepted as an alias; anything else is treated as "query").
//
// The mapping, with the sources it is based on:
//
//	kind        json (awsJson1.1)                       query (IAM/STS)                 ec2                              restjson (ds-data)
//	Missing     MissingAuthenticationTokenException 400 MissingAuthenticationToken 403  MissingAuthenticationToken 401   MissingAuthenticationTokenException 403
//	Incomplete  IncompleteSignatureException 400        IncompleteSignature 400         IncompleteSignature 400          IncompleteSignatureException 403
//	UnknownKey  UnrecognizedClientException 400         InvalidClientTokenId 403        AuthFailure 401                  UnrecognizedClientException 403
//	Mismatch    InvalidSignatureException 400           SignatureDoesNotMatch 403       AuthFailure 401                  InvalidSignatureException 403
//	Expired     InvalidSignatureException 400           SignatureDoesNotMatch 403       RequestExpired 400               InvalidSignatureException 403
//
// Sources:
//   - query: IAM API Reference "Common Error Types" (IncompleteSignature 400,
//     InvalidClientTokenId 403, MissingAuthenticationToken 403); IAM User Guide
//     "Troubleshoot signed requests" (SignatureDoesNotMatch 403, the
//     "Signature expired"/"Signature not yet current" messages); observed STS
//     responses "SignatureDoesNotMatch: Signature not yet current ... status
//     code: 403" (hashicorp/terraform-provider-aws users, aws/aws-cli#6676).
//   - json: observed Coral/awsJson responses: MissingAuthenticationTokenException
//     "Request is missing Authentication Token" 400 (DynamoDB/KCL reports),
//     UnrecognizedClientException 400 (Cognito, ECS, DynamoDB reports),
//     InvalidSignatureException "Signature expired: ..." statusCode 400
//     (aws/aws-sdk-js#254). IncompleteSignatureException follows the same
//     400 family. (The current Directory Service "Common Error Types" page
//     lists IncompleteSignature as 403; we keep 400, which is what awsJson
//     services send on the wire.)
//   - ec2: observed "AuthFailure: AWS was not able to validate the provided
//     access credentials ... status code: 401" for unknown keys and bad
//     signatures (hashicorp/packer#10302, aws/aws-sdk-java-v2#2981); EC2 API
//     Reference "Common Error Types": IncompleteSignature 400 and RequestExpired
//     400 ("Request has expired.", also aws/aws-sdk-go-v2#1674). EC2 does not
//     document a status for an unsigned request; we use MissingAuthenticationToken
//     with AuthFailure's 401 (strict reading: it is an authentication failure).
//   - restjson: restJson1 services return 403 for authentication failures
//     (e.g. Lambda "UnrecognizedClientException ... StatusCode: 403",
//     iann0036/iamlive#58), and the Directory Service "Common Error Types" page
//     lists IncompleteSignature 403.
func (e *Error) Code(protocol string) (code string, status int) {
	switch protocol {
	case ProtocolJSON:
		switch e.Kind {
		case KindMissing:
			return "MissingAuthenticationTokenException", http.StatusBadRequest
		case KindIncomplete:
			return "IncompleteSignatureException", http.StatusBadRequest
		case KindUnknownKey:
			return "UnrecognizedClientException", http.StatusBadRequest
		default: // KindMismatch, KindExpired
			return "InvalidSignatureException", http.StatusBadRequest
		}
	case ProtocolRESTJSON, "rest-json":
		switch e.Kind {
		case KindMissing:
			return "MissingAuthenticationTokenException", http.StatusForbidden
		case KindIncomplete:
			return "IncompleteSignatureException", http.StatusForbidden
		case KindUnknownKey:
			return "UnrecognizedClientException", http.StatusForbidden
		default:
			return "InvalidSignatureException", http.StatusForbidden
		}
	case ProtocolEC2:
		switch e.Kind {
		case KindMissing:
			return "MissingAuthenticationToken", http.StatusUnauthorized
		case KindIncomplete:
			return "IncompleteSignature", http.StatusBadRequest
		case KindExpired:
			return "RequestExpired", http.StatusBadRequest
		default: // KindUnknownKey, KindMismatch
			return "AuthFailure", http.StatusUnauthorized
		}
	default: // ProtocolQuery
		switch e.Kind {
		case KindMissing:
			return "MissingAuthenticationToken", http.StatusForbidden
		case KindIncomplete:
			return "IncompleteSignature", http.StatusBadRequest
		case KindUnknownKey:
			return "InvalidClientTokenId", http.StatusForbidden
		default:
			return "SignatureDoesNotMatch", http.StatusForbidden
		}
	}
}

// MessageFor returns the message to send with Code(protocol). It is e.Message
// except where the protocol family words it differently (EC2's AuthFailure
// says "AWS was not able to validate the provided access credentials";
// EC2's RequestExpired says "Request has expired.").
func (e *Error) MessageFor(protocol string) string {
	if protocol == ProtocolEC2 {
		switch e.Kind {
		case KindUnknownKey, KindMismatch:
			return "AWS was not able to validate the provided access credentials"
		case KindExpired:
			return "Request has expired. " + e.Message
		}
	}
	return e.Message
}

func newError(k Kind, msg string) *Error { return &Error{Kind: k, Message: msg} }
