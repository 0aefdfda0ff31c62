package awsproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unsafe"

	gojson "github.com/goccy/go-json"
)

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 1 << 20

// DecodeJSON decodes an awsJson1.1 or rest-json request body into in and
// validates it. An empty body is an empty object. Errors are *Error with
// code validationCode (the service's own code for schema errors).
func DecodeJSON(body []byte, in any, validationCode string) error {
	return decodeJSON(body, false, in, validationCode)
}

// DecodeJSONOwned is DecodeJSON of a body its caller hands over: nothing
// writes its bytes again (they are neither reused nor pooled), so the
// strings decoded from it may share them. A FastJSON input's strings then
// are slices of body, where DecodeJSON gives them a copy of it.
func DecodeJSONOwned(body []byte, in any, validationCode string) error {
	return decodeJSON(body, true, in, validationCode)
}

func decodeJSON(body []byte, owned bool, in any, validationCode string) error {
	body = bytes.TrimSpace(body)
	if f, ok := in.(FastJSON); ok && len(body) > 0 {
		var s string
		if owned {
			s = unsafe.String(unsafe.SliceData(body), len(body))
		} else {
			s = string(body)
		}
		if f.DecodeJSONFast(s) {
			body = nil
		}
	}
	if len(body) > 0 && !decodeFast(body, in) {
		if err := decodeStd(body, in, validationCode); err != nil {
			return err
		}
	}
	if msg := Validate(in); msg != "" {
		return Errorf(validationCode, "%s", msg)
	}
	return nil
}

// FastJSON is an input type with a decoder of its own for the bodies
// clients send. DecodeJSONFast reports whether it decoded body to exactly
// what the general decoding gives; when it reports false it has left the
// value zero, and the general decoding runs. The strings it decodes may be
// slices of body (DecodeJSONOwned's body's bytes, or DecodeJSON's copy).
type FastJSON interface {
	DecodeJSONFast(body string) bool
}

// decodeStd decodes body into in with encoding/json, whose errors the
// messages follow.
func decodeStd(body []byte, in any, validationCode string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(in); err != nil {
		return jsonDecodeError(err, validationCode)
	}
	if dec.More() {
		return Errorf("SerializationException", "Unexpected content after the JSON document")
	}
	return nil
}

// decodeFast decodes a well-formed body with github.com/goccy/go-json,
// four to five times faster than encoding/json (a CreateWorkspaces request
// of 25 desktops: about 60 µs), and reports whether it did. It refuses what
// it cannot decode exactly as decodeStd would: an input type with a member
// of interface type (decodeStd reads numbers in those as json.Number), and
// any body it fails on; in is then left zero, for decodeStd to decode and
// tell what is wrong. FuzzDecodeFastAgrees holds the two to the same
// values and the same verdicts.
func decodeFast(body []byte, in any) bool {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() || !fastDecodable(v.Type().Elem()) {
		return false
	}
	if gojson.Unmarshal(body, in) != nil {
		v.Elem().SetZero()
		return false
	}
	return true
}

// fastTypes caches fastDecodable by type.
var fastTypes sync.Map

// fastDecodable reports whether t holds no member of interface type, at any
// depth.
func fastDecodable(t reflect.Type) bool {
	if ok, found := fastTypes.Load(t); found {
		return ok.(bool)
	}
	ok := noInterfaces(t, map[reflect.Type]bool{})
	fastTypes.Store(t, ok)
	return ok
}

func noInterfaces(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return false
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return noInterfaces(t.Elem(), seen)
	case reflect.Map:
		return noInterfaces(t.Key(), seen) && noInterfaces(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if !noInterfaces(t.Field(i).Type, seen) {
				return false
			}
		}
	}
	return true
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

// JSONErrorBody renders an awsJson or rest-json error body: __type,
// message, and the error's other members (Error.Fields).
func JSONErrorBody(e *Error) []byte {
	if len(e.Fields) > 0 {
		m := make(map[string]string, len(e.Fields)+2)
		for k, v := range e.Fields {
			m[k] = v
		}
		m["__type"], m["message"] = e.Code, e.Message
		b, _ := json.Marshal(m)
		return b
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	return b
}
