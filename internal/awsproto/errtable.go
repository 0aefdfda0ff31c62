package awsproto

import (
	"fmt"
	"net/http"

	"github.com/deskplane/deskplane/internal/awsproto/sigv4"
)

// Protocol is an AWS wire protocol: it decides the envelope an error is
// rendered in and, through the error table, how each logical error is
// spelled.
type Protocol int

// The protocols deskplane speaks.
const (
	JSON     Protocol = iota // awsJson1.1 with X-Amz-Target
	Query                    // query with XML responses (IAM, STS)
	EC2                      // the ec2 flavour of query
	RestJSON                 // rest-json (Directory Service Data)
	// CBOR is Smithy RPC v2 CBOR (CloudWatch, as the Go SDK speaks it). It
	// spells every error as the json protocol does.
	CBOR
)

// Protocols lists every protocol, in table order.
var Protocols = []Protocol{JSON, RestJSON, Query, EC2}

// String names the protocol.
func (p Protocol) String() string {
	switch p {
	case Query:
		return "query"
	case EC2:
		return "ec2"
	case RestJSON:
		return "restjson"
	case CBOR:
		return "rpcv2cbor"
	}
	return "json"
}

// ErrorKind is a logical error: one thing that went wrong, whichever
// protocol reports it. The error table spells it per protocol.
type ErrorKind int

// The logical errors of the pipeline. Their arguments (the values their
// message formats take, in order) are listed with each.
const (
	// ErrInternal is an unexpected failure: a bug. No arguments.
	ErrInternal ErrorKind = iota + 1
	// ErrAccessDenied: the caller may not act on a resource. Arguments: the
	// caller, the action, the resource and the reason (" because …", or ""
	// when none is given); see [DeniedReason].
	ErrAccessDenied
	// ErrValidation: a request value is not valid. Argument: the message. A
	// service's own validation code replaces the table's (see [Spell]).
	ErrValidation
	// ErrNoRoute: no service or operation matches the request's method and
	// path (HTTP 404). Argument: the message.
	ErrNoRoute
	// ErrThrottled: the call is throttled. No arguments.
	ErrThrottled
	// ErrUnknownOperation: the service has no such operation. Argument: the
	// operation.
	ErrUnknownOperation
	// ErrUnimplementedOperation: the service's model has the operation but
	// deskplane does not serve it. Arguments: the service, the operation.
	ErrUnimplementedOperation
	// ErrSigMissing: the request is not signed. Argument: SigV4's message.
	ErrSigMissing
	// ErrSigIncomplete: the signature is malformed. Argument: SigV4's message.
	ErrSigIncomplete
	// ErrSigUnknownKey: the signing access key is not known. Argument:
	// SigV4's message.
	ErrSigUnknownKey
	// ErrSigMismatch: the signature does not match. Argument: SigV4's message.
	ErrSigMismatch
	// ErrSigExpired: the signature is stale or not yet current, or a
	// presigned URL has expired. Argument: SigV4's message.
	ErrSigExpired
	// ErrWrongServiceScope: the credential is scoped to another service.
	// Argument: the service it should be scoped to.
	ErrWrongServiceScope
	// ErrUnknownAccessKey: the signature is good but the access key has no
	// principal. No arguments.
	ErrUnknownAccessKey
	// ErrInvalidToken: the session token is forged, altered or no longer
	// valid. Argument: the message.
	ErrInvalidToken
	// ErrExpiredToken: the session token has expired. Argument: the message.
	ErrExpiredToken
	// ErrRegionNotServed: the credential is scoped to a region the server
	// does not serve. Argument: the region.
	ErrRegionNotServed
	// ErrBodyTooLarge: the request body is over the size cap. Argument: the
	// cap in bytes.
	ErrBodyTooLarge
	// ErrServiceUnavailable: the region is made unavailable (fault
	// injection). No arguments.
	ErrServiceUnavailable
	// ErrUnknownTarget: an awsJson request's X-Amz-Target names no service
	// or is not "Service.Operation". Argument: the message.
	ErrUnknownTarget
	// ErrSerialization: the request cannot be read as its protocol says (the
	// body is unreadable, the method or Smithy-Protocol header is wrong).
	// Argument: the message.
	ErrSerialization
	// ErrMalformedQuery: a query-protocol body is not a query string. No
	// arguments.
	ErrMalformedQuery
	// ErrMissingAction: a query-protocol request names no Action. No
	// arguments.
	ErrMissingAction
	numErrorKinds
)

// Spelling is how one protocol spells a logical error.
type Spelling struct {
	Code   string
	Status int
	// Format is the message's fmt format over the logical error's
	// arguments; a protocol that drops an argument consumes it with %.0s.
	Format string
}

// spellings holds a logical error's spelling per protocol, indexed by
// Protocol.
type spellings [RestJSON + 1]Spelling

// every spells an error the same in every protocol.
func every(code string, status int, format string) spellings {
	s := Spelling{code, status, format}
	return spellings{s, s, s, s}
}

// per spells an error per protocol.
func per(json, restJSON, query, ec2 Spelling) spellings {
	var s spellings
	s[JSON], s[RestJSON], s[Query], s[EC2] = json, restJSON, query, ec2
	return s
}

const (
	msgInternal     = "The request processing has failed because of an unknown error, exception or failure."
	msgInvalidToken = "The security token included in the request is invalid."
	msgEC2AuthFail  = "AWS was not able to validate the provided access credentials%.0s"
)

// errorTable is the one place that says how each logical error is spelled
// in each protocol: its code, HTTP status and message format. Where a
// spelling has a source (AWS documentation, observed responses), it is
// given in the comment; a spelling without one is deskplane's choice, kept
// stable because clients and tests match it.
var errorTable = [numErrorKinds]spellings{
	ErrInternal: every("InternalFailure", http.StatusInternalServerError, msgInternal),
	// A region made unavailable by fault injection: the common error
	// ServiceUnavailable (EC2: Unavailable), 503, which the SDKs retry.
	ErrServiceUnavailable: per(
		Spelling{"ServiceUnavailable", http.StatusServiceUnavailable, "The request has failed due to a temporary failure of the server."},
		Spelling{"ServiceUnavailable", http.StatusServiceUnavailable, "The request has failed due to a temporary failure of the server."},
		Spelling{"ServiceUnavailable", http.StatusServiceUnavailable, "The request has failed due to a temporary failure of the server."},
		Spelling{"Unavailable", http.StatusServiceUnavailable, "The server is overloaded and can't handle the request."}),
	ErrAccessDenied: per(
		Spelling{"AccessDeniedException", http.StatusBadRequest, "User: %s is not authorized to perform: %s on resource: %s%s"},
		Spelling{"AccessDeniedException", http.StatusForbidden, "User: %s is not authorized to perform: %s on resource: %s%s"},
		Spelling{"AccessDenied", http.StatusForbidden, "User: %s is not authorized to perform: %s on resource: %s%s"},
		Spelling{"UnauthorizedOperation", http.StatusForbidden, "User: %s is not authorized to perform: %s on resource: %s%s"}),
	ErrValidation: every("ValidationException", http.StatusBadRequest, "%s"),
	ErrNoRoute:    every("UnknownOperationException", http.StatusNotFound, "%s"),
	// Before the service is known: the json protocols' common errors.
	ErrUnknownTarget: every("UnknownOperationException", http.StatusBadRequest, "%s"),
	ErrSerialization: every("SerializationException", http.StatusBadRequest, "%s"),
	// The query protocol's common errors (IAM API Reference, "Common Errors").
	ErrMalformedQuery: every("MalformedQueryString", http.StatusBadRequest, "The query string is malformed"),
	ErrMissingAction:  every("MissingAction", http.StatusBadRequest, "The request must contain the parameter Action"),
	ErrThrottled: per(
		Spelling{"ThrottlingException", http.StatusBadRequest, "Rate exceeded"},
		Spelling{"ThrottlingException", http.StatusBadRequest, "Rate exceeded"},
		Spelling{"Throttling", http.StatusBadRequest, "Rate exceeded"},
		Spelling{"RequestLimitExceeded", http.StatusBadRequest, "Rate exceeded"}),
	// IAM, STS and EC2 say InvalidAction.
	ErrUnknownOperation: per(
		Spelling{"UnknownOperationException", http.StatusBadRequest, "The action %s is not valid for this web service."},
		Spelling{"UnknownOperationException", http.StatusBadRequest, "The action %s is not valid for this web service."},
		Spelling{"InvalidAction", http.StatusBadRequest, "The action %s is not valid for this web service."},
		Spelling{"InvalidAction", http.StatusBadRequest, "The action %s is not valid for this web service."}),
	ErrUnimplementedOperation: per(
		Spelling{"UnknownOperationException", http.StatusBadRequest, "deskplane does not implement %s %s yet (docs/api-coverage.md lists what it serves)."},
		Spelling{"UnknownOperationException", http.StatusBadRequest, "deskplane does not implement %s %s yet (docs/api-coverage.md lists what it serves)."},
		Spelling{"InvalidAction", http.StatusBadRequest, "deskplane does not implement %s %s yet (docs/api-coverage.md lists what it serves)."},
		Spelling{"InvalidAction", http.StatusBadRequest, "deskplane does not implement %s %s yet (docs/api-coverage.md lists what it serves)."}),
	// The SigV4 failures. Sources:
	//   - query: IAM API Reference "Common Error Types" (IncompleteSignature
	//     400, InvalidClientTokenId 403, MissingAuthenticationToken 403); IAM
	//     User Guide "Troubleshoot signed requests" (SignatureDoesNotMatch
	//     403, the "Signature expired"/"Signature not yet current"
	//     messages); observed STS responses "SignatureDoesNotMatch: Signature
	//     not yet current ... status code: 403" (aws/aws-cli#6676).
	//   - json: observed Coral/awsJson responses:
	//     MissingAuthenticationTokenException "Request is missing
	//     Authentication Token" 400 (DynamoDB/KCL reports),
	//     UnrecognizedClientException 400 (Cognito, ECS, DynamoDB reports),
	//     InvalidSignatureException "Signature expired: ..." 400
	//     (aws/aws-sdk-js#254). IncompleteSignatureException follows the
	//     same 400 family (the Directory Service "Common Error Types" page
	//     lists IncompleteSignature as 403; awsJson services send 400).
	//   - ec2: observed "AuthFailure: AWS was not able to validate the
	//     provided access credentials ... status code: 401" for unknown keys
	//     and bad signatures (hashicorp/packer#10302,
	//     aws/aws-sdk-java-v2#2981); EC2 API Reference "Common Error Types":
	//     IncompleteSignature 400 and RequestExpired 400 ("Request has
	//     expired.", aws/aws-sdk-go-v2#1674). EC2 documents no status for an
	//     unsigned request: MissingAuthenticationToken takes AuthFailure's 401.
	//   - restjson: restJson1 services answer authentication failures with
	//     403 (Lambda "UnrecognizedClientException ... StatusCode: 403",
	//     iann0036/iamlive#58; Directory Service lists IncompleteSignature 403).
	ErrSigMissing: per(
		Spelling{"MissingAuthenticationTokenException", http.StatusBadRequest, "%s"},
		Spelling{"MissingAuthenticationTokenException", http.StatusForbidden, "%s"},
		Spelling{"MissingAuthenticationToken", http.StatusForbidden, "%s"},
		Spelling{"MissingAuthenticationToken", http.StatusUnauthorized, "%s"}),
	ErrSigIncomplete: per(
		Spelling{"IncompleteSignatureException", http.StatusBadRequest, "%s"},
		Spelling{"IncompleteSignatureException", http.StatusForbidden, "%s"},
		Spelling{"IncompleteSignature", http.StatusBadRequest, "%s"},
		Spelling{"IncompleteSignature", http.StatusBadRequest, "%s"}),
	ErrSigUnknownKey: per(
		Spelling{"UnrecognizedClientException", http.StatusBadRequest, "%s"},
		Spelling{"UnrecognizedClientException", http.StatusForbidden, "%s"},
		Spelling{"InvalidClientTokenId", http.StatusForbidden, "%s"},
		Spelling{"AuthFailure", http.StatusUnauthorized, msgEC2AuthFail}),
	ErrSigMismatch: per(
		Spelling{"InvalidSignatureException", http.StatusBadRequest, "%s"},
		Spelling{"InvalidSignatureException", http.StatusForbidden, "%s"},
		Spelling{"SignatureDoesNotMatch", http.StatusForbidden, "%s"},
		Spelling{"AuthFailure", http.StatusUnauthorized, msgEC2AuthFail}),
	ErrSigExpired: per(
		Spelling{"InvalidSignatureException", http.StatusBadRequest, "%s"},
		Spelling{"InvalidSignatureException", http.StatusForbidden, "%s"},
		Spelling{"SignatureDoesNotMatch", http.StatusForbidden, "%s"},
		Spelling{"RequestExpired", http.StatusBadRequest, "Request has expired. %s"}),
	// A credential scoped to another service than the one the request was
	// routed to (its signature is good). EC2 says AuthFailure 401 here but
	// IncompleteSignature for a malformed scope (ErrSigIncomplete).
	ErrWrongServiceScope: per(
		Spelling{"IncompleteSignatureException", http.StatusBadRequest, "Credential should be scoped to correct service: '%s'."},
		Spelling{"IncompleteSignatureException", http.StatusBadRequest, "Credential should be scoped to correct service: '%s'."},
		Spelling{"IncompleteSignature", http.StatusBadRequest, "Credential should be scoped to correct service: '%s'."},
		Spelling{"AuthFailure", http.StatusUnauthorized, "Credential should be scoped to correct service: '%s'."}),
	// Unlike ErrSigUnknownKey, rest-json says 400 here and EC2 keeps the
	// message.
	ErrUnknownAccessKey: per(
		Spelling{"UnrecognizedClientException", http.StatusBadRequest, msgInvalidToken},
		Spelling{"UnrecognizedClientException", http.StatusBadRequest, msgInvalidToken},
		Spelling{"InvalidClientTokenId", http.StatusForbidden, msgInvalidToken},
		Spelling{"AuthFailure", http.StatusUnauthorized, msgInvalidToken}),
	// Session-token errors: STS's own spelling on the query protocols
	// (EC2 included), the json protocols' Exception-suffixed one.
	ErrInvalidToken: per(
		Spelling{"UnrecognizedClientException", http.StatusBadRequest, "%s"},
		Spelling{"UnrecognizedClientException", http.StatusBadRequest, "%s"},
		Spelling{"InvalidClientTokenId", http.StatusForbidden, "%s"},
		Spelling{"InvalidClientTokenId", http.StatusForbidden, "%s"}),
	ErrExpiredToken: per(
		Spelling{"ExpiredTokenException", http.StatusBadRequest, "%s"},
		Spelling{"ExpiredTokenException", http.StatusBadRequest, "%s"},
		Spelling{"ExpiredToken", http.StatusBadRequest, "%s"},
		Spelling{"ExpiredToken", http.StatusBadRequest, "%s"}),
	// A region that is not served is refused as a signature mismatch is.
	ErrRegionNotServed: per(
		Spelling{"InvalidSignatureException", http.StatusBadRequest, "Credential should be scoped to a valid region, not '%s'."},
		Spelling{"InvalidSignatureException", http.StatusBadRequest, "Credential should be scoped to a valid region, not '%s'."},
		Spelling{"SignatureDoesNotMatch", http.StatusForbidden, "Credential should be scoped to a valid region, not '%s'."},
		Spelling{"AuthFailure", http.StatusUnauthorized, "Credential should be scoped to a valid region, not '%s'."}),
	// The json protocols' common RequestEntityTooLargeException, the query
	// protocol's RequestEntityTooLarge; EC2 has no such code and answers an
	// invalid request.
	ErrBodyTooLarge: per(
		Spelling{"RequestEntityTooLargeException", http.StatusRequestEntityTooLarge, "The request body exceeds the maximum size of %d bytes"},
		Spelling{"RequestEntityTooLargeException", http.StatusRequestEntityTooLarge, "The request body exceeds the maximum size of %d bytes"},
		Spelling{"RequestEntityTooLarge", http.StatusRequestEntityTooLarge, "The request body exceeds the maximum size of %d bytes"},
		Spelling{"InvalidRequest", http.StatusRequestEntityTooLarge, "The request body exceeds the maximum size of %d bytes"}),
}

// SpellingOf returns how p spells the logical error k. It panics on a kind
// or protocol outside the table, which is a bug.
func SpellingOf(k ErrorKind, p Protocol) Spelling {
	if p == CBOR {
		p = JSON
	}
	if k <= 0 || k >= numErrorKinds || p < 0 || int(p) >= len(spellings{}) {
		panic(fmt.Sprintf("awsproto: no spelling of error kind %d in protocol %d", k, p))
	}
	return errorTable[k][p]
}

// Spell returns the logical error k as protocol p spells it, its message
// formatted over args (see each ErrorKind for its arguments). A client
// error (status below 500) is a Sender fault on the query protocol.
func Spell(p Protocol, k ErrorKind, args ...any) *Error {
	s := SpellingOf(k, p)
	return &Error{Code: s.Code, Message: fmt.Sprintf(s.Format, args...), Status: s.Status, Sender: s.Status < 500}
}

// SpellCode is Spell with the code replaced by code when it is not empty:
// a service's own validation code (Service.ValidationCode) overrides the
// table's ErrValidation code.
func SpellCode(p Protocol, k ErrorKind, code string, args ...any) *Error {
	e := Spell(p, k, args...)
	if code != "" {
		e.Code = code
	}
	return e
}

// DeniedReason is the reason argument of ErrAccessDenied: " because why",
// or nothing when why is empty (STS words its denials without one).
func DeniedReason(why string) string {
	if why == "" {
		return ""
	}
	return " because " + why
}

// Denied is ErrAccessDenied as p spells it: who may not do action on
// resource, because why (omitted when empty).
func Denied(p Protocol, who, action, resource, why string) *Error {
	return Spell(p, ErrAccessDenied, who, action, resource, DeniedReason(why))
}

// SigV4Kind is the logical error of a SigV4 failure kind.
func SigV4Kind(k sigv4.Kind) ErrorKind {
	switch k {
	case sigv4.KindMissing:
		return ErrSigMissing
	case sigv4.KindIncomplete:
		return ErrSigIncomplete
	case sigv4.KindUnknownKey:
		return ErrSigUnknownKey
	case sigv4.KindExpired:
		return ErrSigExpired
	}
	return ErrSigMismatch
}

// SigV4Error is the SigV4 failure se as protocol p spells it; its message
// is SigV4's, except where the protocol words it otherwise.
func SigV4Error(p Protocol, se *sigv4.Error) *Error {
	return Spell(p, SigV4Kind(se.Kind), se.Message)
}
