// Package awsproto holds the wire codecs of the AWS protocols deskplane speaks
// (awsJson1.1, query with XML responses, the ec2 flavour of query, rest-json)
// and the AWS error value every handler returns.
package awsproto

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error with an AWS error code. Handlers return it; the codec
// renders it in the protocol's own envelope.
type Error struct {
	Code    string // AWS error code, e.g. "ValidationException"
	Message string // human-readable message
	Status  int    // HTTP status; 400 when zero
	Sender  bool   // query protocol <Type>: Sender (client fault) when true, Receiver otherwise
	// Fields are the error shape's other members (e.g. ResourceId,
	// Reason), written beside the code and message in the json protocols'
	// error bodies.
	Fields map[string]string
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus returns the HTTP status to send.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// Errorf builds a client error (HTTP 400) with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest, Sender: true}
}

// ErrorStatus builds a client error with an explicit HTTP status.
func ErrorStatus(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status, Sender: status < 500}
}

// Internal is the error for unexpected failures: HTTP 500 InternalFailure.
// Reaching it is a bug; the cause is logged, never sent.
func Internal() *Error {
	return Spell(JSON, ErrInternal)
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
