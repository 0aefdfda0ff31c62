package awsproto

import (
	"net/http"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto/sigv4"
)

// sampleArgs are arguments of each logical error, as its doc comment lists
// them. A kind added to the table without an entry here fails the test.
var sampleArgs = map[ErrorKind][]any{
	ErrInternal:               nil,
	ErrAccessDenied:           {"arn:aws:iam::123456789012:user/a", "kms:Decrypt", "*", DeniedReason("no policy allows it")},
	ErrValidation:             {"bad value"},
	ErrNoRoute:                {"No service matches this request"},
	ErrThrottled:              nil,
	ErrUnknownOperation:       {"Nope"},
	ErrUnimplementedOperation: {"ec2", "RunInstances"},
	ErrSigMissing:             {"Request is missing Authentication Token"},
	ErrSigIncomplete:          {"Authorization header is empty."},
	ErrSigUnknownKey:          {"The security token included in the request is invalid."},
	ErrSigMismatch:            {"The request signature we calculated does not match."},
	ErrSigExpired:             {"Signature expired."},
	ErrWrongServiceScope:      {"kms"},
	ErrUnknownAccessKey:       nil,
	ErrInvalidToken:           {"The security token included in the request is invalid."},
	ErrExpiredToken:           {"The security token included in the request is expired"},
	ErrRegionNotServed:        {"eu-west-9"},
	ErrBodyTooLarge:           {MaxBody},
	ErrServiceUnavailable:     nil,
	ErrUnknownTarget:          {"Unknown service target \"Nope\""},
	ErrSerialization:          {"awsJson requests must use POST"},
	ErrMalformedQuery:         nil,
	ErrMissingAction:          nil,
}

// TestErrorTableComplete checks that every logical error has a spelling in
// every protocol, with an error status, and that its message format takes
// exactly the arguments the kind documents.
func TestErrorTableComplete(t *testing.T) {
	for k := ErrorKind(1); k < numErrorKinds; k++ {
		args, ok := sampleArgs[k]
		if !ok {
			t.Errorf("kind %d: no sample arguments", k)
			continue
		}
		for _, p := range Protocols {
			s := SpellingOf(k, p)
			if s.Code == "" || s.Format == "" || s.Status < 400 || s.Status > 599 {
				t.Errorf("kind %d/%s: incomplete spelling %+v", k, p, s)
			}
			e := Spell(p, k, args...)
			if strings.Contains(e.Message, "%!") {
				t.Errorf("kind %d/%s: message %q does not take the kind's arguments", k, p, e.Message)
			}
			if e.Code != s.Code || e.HTTPStatus() != s.Status || e.Sender != (s.Status < 500) {
				t.Errorf("kind %d/%s: Spell gave %+v for %+v", k, p, e, s)
			}
		}
	}
	if len(sampleArgs) != int(numErrorKinds)-1 {
		t.Errorf("%d sample entries for %d kinds", len(sampleArgs), numErrorKinds-1)
	}
}

func TestSpellingOfPanicsOutsideTable(t *testing.T) {
	for _, tc := range []struct {
		k ErrorKind
		p Protocol
	}{{0, JSON}, {numErrorKinds, JSON}, {ErrInternal, Protocol(-1)}, {ErrInternal, CBOR + 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SpellingOf(%d, %d) did not panic", tc.k, tc.p)
				}
			}()
			SpellingOf(tc.k, tc.p)
		}()
	}
}

// TestSigV4Spelling checks the SigV4 failures' codes and statuses per
// protocol (the sources are with the table) and EC2's own messages.
func TestSigV4Spelling(t *testing.T) {
	type cs struct {
		code   string
		status int
	}
	want := map[Protocol]map[sigv4.Kind]cs{
		JSON: {
			sigv4.KindMissing: {"MissingAuthenticationTokenException", 400}, sigv4.KindIncomplete: {"IncompleteSignatureException", 400},
			sigv4.KindUnknownKey: {"UnrecognizedClientException", 400}, sigv4.KindMismatch: {"InvalidSignatureException", 400},
			sigv4.KindExpired: {"InvalidSignatureException", 400},
		},
		Query: {
			sigv4.KindMissing: {"MissingAuthenticationToken", 403}, sigv4.KindIncomplete: {"IncompleteSignature", 400},
			sigv4.KindUnknownKey: {"InvalidClientTokenId", 403}, sigv4.KindMismatch: {"SignatureDoesNotMatch", 403},
			sigv4.KindExpired: {"SignatureDoesNotMatch", 403},
		},
		EC2: {
			sigv4.KindMissing: {"MissingAuthenticationToken", 401}, sigv4.KindIncomplete: {"IncompleteSignature", 400},
			sigv4.KindUnknownKey: {"AuthFailure", 401}, sigv4.KindMismatch: {"AuthFailure", 401},
			sigv4.KindExpired: {"RequestExpired", 400},
		},
		RestJSON: {
			sigv4.KindMissing: {"MissingAuthenticationTokenException", 403}, sigv4.KindIncomplete: {"IncompleteSignatureException", 403},
			sigv4.KindUnknownKey: {"UnrecognizedClientException", 403}, sigv4.KindMismatch: {"InvalidSignatureException", 403},
			sigv4.KindExpired: {"InvalidSignatureException", 403},
		},
	}
	const msg = "The request signature we calculated does not match."
	for p, kinds := range want {
		for kind, w := range kinds {
			e := SigV4Error(p, &sigv4.Error{Kind: kind, Message: msg})
			if e.Code != w.code || e.HTTPStatus() != w.status || !e.Sender {
				t.Errorf("%s/%v: got %s %d, want %s %d", p, kind, e.Code, e.HTTPStatus(), w.code, w.status)
			}
			wantMsg := msg
			if p == EC2 && (kind == sigv4.KindUnknownKey || kind == sigv4.KindMismatch) {
				wantMsg = "AWS was not able to validate the provided access credentials"
			} else if p == EC2 && kind == sigv4.KindExpired {
				wantMsg = "Request has expired. " + msg
			}
			if e.Message != wantMsg {
				t.Errorf("%s/%v: message %q, want %q", p, kind, e.Message, wantMsg)
			}
		}
	}
}

func TestSpellCodeAndDenied(t *testing.T) {
	if e := SpellCode(Query, ErrValidation, "ValidationError", "x"); e.Code != "ValidationError" || e.Message != "x" || e.HTTPStatus() != http.StatusBadRequest {
		t.Errorf("override: %+v", e)
	}
	if e := SpellCode(Query, ErrValidation, "", "x"); e.Code != "ValidationException" {
		t.Errorf("no override: %+v", e)
	}
	if e := Denied(Query, "u", "sts:AssumeRole", "r", ""); e.Message != "User: u is not authorized to perform: sts:AssumeRole on resource: r" || e.Code != "AccessDenied" {
		t.Errorf("without reason: %+v", e)
	}
	if e := Denied(EC2, "u", "ec2:Run", "*", "why"); e.Message != "User: u is not authorized to perform: ec2:Run on resource: * because why" || e.Code != "UnauthorizedOperation" || e.HTTPStatus() != 403 {
		t.Errorf("with reason: %+v", e)
	}
	if e := Internal(); e.Code != "InternalFailure" || e.Sender || e.HTTPStatus() != 500 {
		t.Errorf("internal: %+v", e)
	}
}

// TestCBORSpellsAsJSON: Smithy RPC v2 CBOR spells every error as the json
// protocol does (only the envelope differs).
func TestCBORSpellsAsJSON(t *testing.T) {
	for k := ErrInternal; k < numErrorKinds; k++ {
		if SpellingOf(k, CBOR) != SpellingOf(k, JSON) {
			t.Errorf("kind %d: CBOR %+v, JSON %+v", k, SpellingOf(k, CBOR), SpellingOf(k, JSON))
		}
	}
}
