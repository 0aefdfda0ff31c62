package awsproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 1 << 20

// DecodeJSON decodes an awsJson1.1 or rest-json request body into in and
// validates it. An empty body is an empty object. Errors are *Error with
// code validationCode (the service's own code for schema errors).
func DecodeJSON(body []byte, in any, validationCode string) error {
	body = bytes.TrimSpace(body)
	if len(body) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(in); err != nil {
			return jsonDecodeError(err, validationCode)
		}
		if dec.More() {
			return Errorf("SerializationException", "Unexpected content after the JSON document")
		}
	}
	if msg := Validate(in); msg != "" {
		return Errorf(validationCode, "%s", msg)
	}
	return nil
}

func jsonDecodeError(err error, code string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return Errorf("SerializationException", "Invalid type for member %s: expected %s, got a JSON %s", te.Field, te.Type.String(), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Errorf("SerializationException", "Malformed JSON request body at offset %d", se.Offset)
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return Errorf("SerializationException", "Could not parse request body: %v", err)
}

// Time is a timestamp member: epoch seconds on JSON protocols, ISO 8601 in XML.
type Time struct{ time.Time }

// NewTime wraps t, truncated to milliseconds as AWS reports them.
func NewTime(t time.Time) *Time { return &Time{t.UTC().Truncate(time.Millisecond)} }

// MarshalJSON renders epoch seconds with millisecond precision.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON accepts epoch seconds (number) or an ISO 8601 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p, err := ParseTime(s)
		if err != nil {
			return Errorf("SerializationException", "Invalid timestamp %q", s)
		}
		t.Time = p
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return Errorf("SerializationException", "Invalid timestamp %s", b)
	}
	t.Time = time.UnixMilli(int64(f * 1000)).UTC()
	return nil
}

// MarshalText renders ISO 8601 (used by encoding/xml).
func (t Time) MarshalText() ([]byte, error) {
	return []byte(t.UTC().Format("2006-01-02T15:04:05.000Z")), nil
}

// UnmarshalText parses ISO 8601 or epoch seconds (query protocol input).
func (t *Time) UnmarshalText(b []byte) error {
	p, err := ParseTime(string(b))
	if err != nil {
		return err
	}
	t.Time = p
	return nil
}

// ParseTime parses the timestamp forms AWS clients send.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02", time.RFC1123} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(f * 1000)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
}

// JSONErrorBody renders an awsJson1.1 error body.
func JSONErrorBody(e *Error) []byte {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	return b
}
