package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/awsproto/sigv4"
)

// goldenService is a service of each protocol, named as the real one so
// that the model knows its operations.
func goldenService(p Protocol) *Service {
	switch p {
	case Query:
		return &Service{Name: "iam", ActionPrefix: "iam", Protocol: Query, ValidationCode: "ValidationError"}
	case EC2:
		return &Service{Name: "ec2", ActionPrefix: "ec2", Protocol: EC2, ValidationCode: "InvalidParameterValue"}
	case RestJSON:
		return &Service{Name: "ds-data", ActionPrefix: "ds-data", Protocol: RestJSON, ValidationCode: "ValidationException"}
	}
	return &Service{Name: "workspaces", ActionPrefix: "workspaces", Protocol: JSON, ValidationCode: "ValidationException"}
}

// goldenOps produces each logical error of the pipeline for a service, by
// the functions the pipeline calls.
var goldenOps = map[string]func(svc *Service) error{
	"AccessDenied/implicit": func(svc *Service) error {
		c := &Call{Service: svc, Principal: &Principal{ARN: "arn:aws:iam::123456789012:user/alice"}}
		return c.denied(Check{Action: svc.ActionPrefix + ":Do", Resource: "arn:aws:x:us-east-1:123456789012:thing/1"}, Decision{})
	},
	"AccessDenied/explicit": func(svc *Service) error {
		c := &Call{Service: svc, Principal: &Principal{ARN: "arn:aws:iam::123456789012:user/alice"}}
		return c.denied(Check{Action: svc.ActionPrefix + ":Do", Resource: "*"}, Decision{ExplicitDeny: true})
	},
	"AccessDenied/reason": func(svc *Service) error {
		c := &Call{Service: svc, Principal: &Principal{ARN: "arn:aws:sts::123456789012:assumed-role/r/s"}}
		return c.denied(Check{Action: svc.ActionPrefix + ":Do", Resource: "*"}, Decision{Reason: "a session policy denies it"})
	},
	"Validation/invalidARN": func(svc *Service) error {
		return (&Call{Service: svc}).invalidARN("arn:bad\xff")
	},
	"Validation/invalidARN-default": func(svc *Service) error {
		s := *svc
		s.ValidationCode = ""
		return (&Call{Service: &s}).invalidARN("arn:x")
	},
	"Throttled":        func(svc *Service) error { return awsproto.Spell(svc.Protocol, awsproto.ErrThrottled) },
	"UnknownOperation": func(svc *Service) error { return unknownOperation(svc, "NoSuchThing") },
	"UnimplementedOperation": func(svc *Service) error {
		op := map[string]string{"iam": "CreateUser", "ec2": "RunInstances", "ds-data": "CreateUser", "workspaces": "CreateWorkspaces"}[svc.Name]
		return unknownOperation(svc, op)
	},
	"Sig/Missing": func(svc *Service) error {
		return sigError(svc, &sigv4.Error{Kind: sigv4.KindMissing, Message: "Request is missing Authentication Token"})
	},
	"Sig/Incomplete": func(svc *Service) error {
		return sigError(svc, &sigv4.Error{Kind: sigv4.KindIncomplete, Message: "Authorization header is empty."})
	},
	"Sig/UnknownKey": func(svc *Service) error {
		return sigError(svc, &sigv4.Error{Kind: sigv4.KindUnknownKey, Message: "The security token included in the request is invalid."})
	},
	"Sig/Mismatch": func(svc *Service) error {
		return sigError(svc, &sigv4.Error{Kind: sigv4.KindMismatch, Message: "The request signature we calculated does not match."})
	},
	"Sig/Expired": func(svc *Service) error {
		return sigError(svc, &sigv4.Error{Kind: sigv4.KindExpired, Message: "Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z."})
	},
	"WrongServiceScope": func(svc *Service) error {
		return awsproto.Spell(svc.Protocol, awsproto.ErrWrongServiceScope, svc.Name)
	},
	"UnknownAccessKey": func(svc *Service) error {
		return awsproto.Spell(svc.Protocol, awsproto.ErrUnknownAccessKey)
	},
	"InvalidToken": func(svc *Service) error {
		return tokenError(svc, &awsproto.Error{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden, Sender: true})
	},
	"ExpiredToken": func(svc *Service) error {
		return tokenError(svc, &awsproto.Error{Code: "ExpiredToken", Message: "The security token included in the request is expired", Status: http.StatusBadRequest, Sender: true})
	},
	"RegionNotServed": func(svc *Service) error {
		return awsproto.Spell(svc.Protocol, awsproto.ErrRegionNotServed, "eu-west-9")
	},
	"BodyTooLarge": func(svc *Service) error { return errTooLarge(svc.Protocol) },
	"Internal":     func(svc *Service) error { return awsproto.Internal() },
	"NoRoute/operation": func(svc *Service) error {
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		_, _, _, err := New().routeQuery(r, []byte("{}"))
		return err
	},
	"NoRoute/service": func(svc *Service) error {
		r := httptest.NewRequest(http.MethodGet, "/?Action=Ping", nil)
		_, _, _, err := New().routeQuery(r, nil)
		return err
	},
	"UnknownTarget/header": func(svc *Service) error {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		r.Header.Set("X-Amz-Target", "Nope")
		_, _, err := New().route(r)
		return err
	},
	"UnknownTarget/service": func(svc *Service) error {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		r.Header.Set("X-Amz-Target", "Nope.Describe")
		_, _, err := New().route(r)
		return err
	},
	"MalformedQuery": func(svc *Service) error {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=%zz"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, _, _, err := New().routeQuery(r, []byte("Action=%zz"))
		return err
	},
}

// golden is how each logical error was spelled per protocol before the
// error table: the table must spell every one of them byte for byte the
// same (code, HTTP status, message and the query <Type>).
var golden = map[string]map[Protocol]goldenError{
	"AccessDenied/explicit": {
		JSON:     {"AccessDeniedException", 400, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: workspaces:Do on resource: * because explicit deny in an identity-based policy"},
		RestJSON: {"AccessDeniedException", 403, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ds-data:Do on resource: * because explicit deny in an identity-based policy"},
		Query:    {"AccessDenied", 403, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:Do on resource: * because explicit deny in an identity-based policy"},
		EC2:      {"UnauthorizedOperation", 403, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ec2:Do on resource: * because explicit deny in an identity-based policy"},
	},
	"AccessDenied/implicit": {
		JSON:     {"AccessDeniedException", 400, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: workspaces:Do on resource: arn:aws:x:us-east-1:123456789012:thing/1 because no identity-based policy allows the workspaces:Do action"},
		RestJSON: {"AccessDeniedException", 403, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ds-data:Do on resource: arn:aws:x:us-east-1:123456789012:thing/1 because no identity-based policy allows the ds-data:Do action"},
		Query:    {"AccessDenied", 403, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:Do on resource: arn:aws:x:us-east-1:123456789012:thing/1 because no identity-based policy allows the iam:Do action"},
		EC2:      {"UnauthorizedOperation", 403, true, "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ec2:Do on resource: arn:aws:x:us-east-1:123456789012:thing/1 because no identity-based policy allows the ec2:Do action"},
	},
	"AccessDenied/reason": {
		JSON:     {"AccessDeniedException", 400, true, "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: workspaces:Do on resource: * because a session policy denies it"},
		RestJSON: {"AccessDeniedException", 403, true, "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: ds-data:Do on resource: * because a session policy denies it"},
		Query:    {"AccessDenied", 403, true, "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: iam:Do on resource: * because a session policy denies it"},
		EC2:      {"UnauthorizedOperation", 403, true, "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: ec2:Do on resource: * because a session policy denies it"},
	},
	"BodyTooLarge": {
		JSON:     {"RequestEntityTooLargeException", 413, true, "The request body exceeds the maximum size of 1048576 bytes"},
		RestJSON: {"RequestEntityTooLargeException", 413, true, "The request body exceeds the maximum size of 1048576 bytes"},
		Query:    {"RequestEntityTooLarge", 413, true, "The request body exceeds the maximum size of 1048576 bytes"},
		EC2:      {"InvalidRequest", 413, true, "The request body exceeds the maximum size of 1048576 bytes"},
	},
	"ExpiredToken": {
		JSON:     {"ExpiredTokenException", 400, true, "The security token included in the request is expired"},
		RestJSON: {"ExpiredTokenException", 400, true, "The security token included in the request is expired"},
		Query:    {"ExpiredToken", 400, true, "The security token included in the request is expired"},
		EC2:      {"ExpiredToken", 400, true, "The security token included in the request is expired"},
	},
	"Internal": {
		JSON:     {"InternalFailure", 500, false, "The request processing has failed because of an unknown error, exception or failure."},
		RestJSON: {"InternalFailure", 500, false, "The request processing has failed because of an unknown error, exception or failure."},
		Query:    {"InternalFailure", 500, false, "The request processing has failed because of an unknown error, exception or failure."},
		EC2:      {"InternalFailure", 500, false, "The request processing has failed because of an unknown error, exception or failure."},
	},
	"InvalidToken": {
		JSON:     {"UnrecognizedClientException", 400, true, "The security token included in the request is invalid."},
		RestJSON: {"UnrecognizedClientException", 400, true, "The security token included in the request is invalid."},
		Query:    {"InvalidClientTokenId", 403, true, "The security token included in the request is invalid."},
		EC2:      {"InvalidClientTokenId", 403, true, "The security token included in the request is invalid."},
	},
	"NoRoute/operation": {
		JSON:     {"UnknownOperationException", 404, true, "No operation matches POST /x"},
		RestJSON: {"UnknownOperationException", 404, true, "No operation matches POST /x"},
		Query:    {"UnknownOperationException", 404, true, "No operation matches POST /x"},
		EC2:      {"UnknownOperationException", 404, true, "No operation matches POST /x"},
	},
	"NoRoute/service": {
		JSON:     {"UnknownOperationException", 404, true, "No service matches this request"},
		RestJSON: {"UnknownOperationException", 404, true, "No service matches this request"},
		Query:    {"UnknownOperationException", 404, true, "No service matches this request"},
		EC2:      {"UnknownOperationException", 404, true, "No service matches this request"},
	},
	"MalformedQuery": {
		JSON:     {"MalformedQueryString", 400, true, "The query string is malformed"},
		RestJSON: {"MalformedQueryString", 400, true, "The query string is malformed"},
		Query:    {"MalformedQueryString", 400, true, "The query string is malformed"},
		EC2:      {"MalformedQueryString", 400, true, "The query string is malformed"},
	},
	"UnknownTarget/header": {
		JSON:     {"UnknownOperationException", 400, true, "Invalid X-Amz-Target header \"Nope\""},
		RestJSON: {"UnknownOperationException", 400, true, "Invalid X-Amz-Target header \"Nope\""},
		Query:    {"UnknownOperationException", 400, true, "Invalid X-Amz-Target header \"Nope\""},
		EC2:      {"UnknownOperationException", 400, true, "Invalid X-Amz-Target header \"Nope\""},
	},
	"UnknownTarget/service": {
		JSON:     {"UnknownOperationException", 400, true, "Unknown service target \"Nope\""},
		RestJSON: {"UnknownOperationException", 400, true, "Unknown service target \"Nope\""},
		Query:    {"UnknownOperationException", 400, true, "Unknown service target \"Nope\""},
		EC2:      {"UnknownOperationException", 400, true, "Unknown service target \"Nope\""},
	},
	"RegionNotServed": {
		JSON:     {"InvalidSignatureException", 400, true, "Credential should be scoped to a valid region, not 'eu-west-9'."},
		RestJSON: {"InvalidSignatureException", 400, true, "Credential should be scoped to a valid region, not 'eu-west-9'."},
		Query:    {"SignatureDoesNotMatch", 403, true, "Credential should be scoped to a valid region, not 'eu-west-9'."},
		EC2:      {"AuthFailure", 401, true, "Credential should be scoped to a valid region, not 'eu-west-9'."},
	},
	"Sig/Expired": {
		JSON:     {"InvalidSignatureException", 400, true, "Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z."},
		RestJSON: {"InvalidSignatureException", 403, true, "Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z."},
		Query:    {"SignatureDoesNotMatch", 403, true, "Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z."},
		EC2:      {"RequestExpired", 400, true, "Request has expired. Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z."},
	},
	"Sig/Incomplete": {
		JSON:     {"IncompleteSignatureException", 400, true, "Authorization header is empty."},
		RestJSON: {"IncompleteSignatureException", 403, true, "Authorization header is empty."},
		Query:    {"IncompleteSignature", 400, true, "Authorization header is empty."},
		EC2:      {"IncompleteSignature", 400, true, "Authorization header is empty."},
	},
	"Sig/Mismatch": {
		JSON:     {"InvalidSignatureException", 400, true, "The request signature we calculated does not match."},
		RestJSON: {"InvalidSignatureException", 403, true, "The request signature we calculated does not match."},
		Query:    {"SignatureDoesNotMatch", 403, true, "The request signature we calculated does not match."},
		EC2:      {"AuthFailure", 401, true, "AWS was not able to validate the provided access credentials"},
	},
	"Sig/Missing": {
		JSON:     {"MissingAuthenticationTokenException", 400, true, "Request is missing Authentication Token"},
		RestJSON: {"MissingAuthenticationTokenException", 403, true, "Request is missing Authentication Token"},
		Query:    {"MissingAuthenticationToken", 403, true, "Request is missing Authentication Token"},
		EC2:      {"MissingAuthenticationToken", 401, true, "Request is missing Authentication Token"},
	},
	"Sig/UnknownKey": {
		JSON:     {"UnrecognizedClientException", 400, true, "The security token included in the request is invalid."},
		RestJSON: {"UnrecognizedClientException", 403, true, "The security token included in the request is invalid."},
		Query:    {"InvalidClientTokenId", 403, true, "The security token included in the request is invalid."},
		EC2:      {"AuthFailure", 401, true, "AWS was not able to validate the provided access credentials"},
	},
	"Throttled": {
		JSON:     {"ThrottlingException", 400, true, "Rate exceeded"},
		RestJSON: {"ThrottlingException", 400, true, "Rate exceeded"},
		Query:    {"Throttling", 400, true, "Rate exceeded"},
		EC2:      {"RequestLimitExceeded", 400, true, "Rate exceeded"},
	},
	"UnimplementedOperation": {
		JSON:     {"UnknownOperationException", 400, true, "deskplane does not implement workspaces CreateWorkspaces yet (docs/api-coverage.md lists what it serves)."},
		RestJSON: {"UnknownOperationException", 400, true, "deskplane does not implement ds-data CreateUser yet (docs/api-coverage.md lists what it serves)."},
		Query:    {"InvalidAction", 400, true, "deskplane does not implement iam CreateUser yet (docs/api-coverage.md lists what it serves)."},
		EC2:      {"InvalidAction", 400, true, "deskplane does not implement ec2 RunInstances yet (docs/api-coverage.md lists what it serves)."},
	},
	"UnknownAccessKey": {
		JSON:     {"UnrecognizedClientException", 400, true, "The security token included in the request is invalid."},
		RestJSON: {"UnrecognizedClientException", 400, true, "The security token included in the request is invalid."},
		Query:    {"InvalidClientTokenId", 403, true, "The security token included in the request is invalid."},
		EC2:      {"AuthFailure", 401, true, "The security token included in the request is invalid."},
	},
	"UnknownOperation": {
		JSON:     {"UnknownOperationException", 400, true, "The action NoSuchThing is not valid for this web service."},
		RestJSON: {"UnknownOperationException", 400, true, "The action NoSuchThing is not valid for this web service."},
		Query:    {"InvalidAction", 400, true, "The action NoSuchThing is not valid for this web service."},
		EC2:      {"InvalidAction", 400, true, "The action NoSuchThing is not valid for this web service."},
	},
	"Validation/invalidARN": {
		JSON:     {"ValidationException", 400, true, "ARN arn:bad� is not valid."},
		RestJSON: {"ValidationException", 400, true, "ARN arn:bad� is not valid."},
		Query:    {"ValidationError", 400, true, "ARN arn:bad� is not valid."},
		EC2:      {"InvalidParameterValue", 400, true, "ARN arn:bad� is not valid."},
	},
	"Validation/invalidARN-default": {
		JSON:     {"ValidationException", 400, true, "ARN arn:x is not valid."},
		RestJSON: {"ValidationException", 400, true, "ARN arn:x is not valid."},
		Query:    {"ValidationException", 400, true, "ARN arn:x is not valid."},
		EC2:      {"ValidationException", 400, true, "ARN arn:x is not valid."},
	},
	"WrongServiceScope": {
		JSON:     {"IncompleteSignatureException", 400, true, "Credential should be scoped to correct service: 'workspaces'."},
		RestJSON: {"IncompleteSignatureException", 400, true, "Credential should be scoped to correct service: 'ds-data'."},
		Query:    {"IncompleteSignature", 400, true, "Credential should be scoped to correct service: 'iam'."},
		EC2:      {"AuthFailure", 401, true, "Credential should be scoped to correct service: 'ec2'."},
	},
}

type goldenError struct {
	Code    string
	Status  int
	Sender  bool
	Message string
}

func protoName(p Protocol) string {
	return map[Protocol]string{JSON: "JSON", Query: "Query", EC2: "EC2", RestJSON: "RestJSON"}[p]
}

var allProtocols = []Protocol{JSON, RestJSON, Query, EC2}

// TestErrorGolden checks every logical error × protocol against the
// recorded spelling. GOLDEN_PRINT=1 prints the table as Go source instead.
func TestErrorGolden(t *testing.T) {
	names := make([]string, 0, len(goldenOps))
	for n := range goldenOps {
		names = append(names, n)
	}
	sort.Strings(names)
	var print strings.Builder
	for _, name := range names {
		fmt.Fprintf(&print, "\t%q: {\n", name)
		for _, p := range allProtocols {
			err := goldenOps[name](goldenService(p))
			ae := awsproto.As(err)
			if ae == nil {
				t.Fatalf("%s/%s: %v is not an *awsproto.Error", name, protoName(p), err)
			}
			got := goldenError{Code: ae.Code, Status: ae.HTTPStatus(), Sender: ae.Sender, Message: ae.Message}
			fmt.Fprintf(&print, "\t\t%s: {%q, %d, %v, %q},\n", protoName(p), got.Code, got.Status, got.Sender, got.Message)
			want, ok := golden[name][p]
			if !ok {
				t.Errorf("%s/%s: no golden spelling", name, protoName(p))
				continue
			}
			if got != want {
				t.Errorf("%s/%s:\n got %+v\nwant %+v", name, protoName(p), got, want)
			}
		}
		fmt.Fprintf(&print, "\t},\n")
	}
	if os.Getenv("GOLDEN_PRINT") != "" {
		t.Log("\n" + print.String())
	}
	if len(golden) != len(goldenOps) {
		t.Errorf("%d golden entries for %d logical errors", len(golden), len(goldenOps))
	}
}
