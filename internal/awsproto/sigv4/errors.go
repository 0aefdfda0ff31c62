package sigv4

// Kind classifies why a request failed SigV4 authentication. The package
// knows no protocol: the server's error table (awsproto.ErrorKind) spells
// each Kind as the protocol it speaks does, its code, status and message.
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

// Messages AWS uses (the sources are with the error table, awsproto.errorTable).
const (
	msgMissing    = "Request is missing Authentication Token"
	msgUnknownKey = "The security token included in the request is invalid."
	msgMismatch   = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

func newError(k Kind, msg string) *Error { return &Error{Kind: k, Message: msg} }
