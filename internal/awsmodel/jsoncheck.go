package awsmodel

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// CheckJSONOutput checks a JSON response body (json and rest-json
// protocols) against op's output shape with the default (strictest)
// options. See [Model.CheckJSONShape] for what is verified.
func (m *Model) CheckJSONOutput(op string, body []byte) []string {
	return m.CheckJSONOutputWith(op, body, CheckOptions{})
}

// CheckJSONInput checks a JSON request body against op's input shape with
// the default options; use it to validate example requests.
func (m *Model) CheckJSONInput(op string, body []byte) []string {
	return m.CheckJSONInputWith(op, body, CheckOptions{})
}

// CheckJSONOutputWith is [Model.CheckJSONOutput] with explicit options.
func (m *Model) CheckJSONOutputWith(op string, body []byte, opts CheckOptions) []string {
	o, ok := m.Ops[op]
	if !ok {
		return []string{fmt.Sprintf("%s has no operation %q", m.Service, op)}
	}
	return m.checkJSONBody(o.Output, body, opts)
}

// CheckJSONInputWith is [Model.CheckJSONInput] with explicit options.
func (m *Model) CheckJSONInputWith(op string, body []byte, opts CheckOptions) []string {
	o, ok := m.Ops[op]
	if !ok {
		return []string{fmt.Sprintf("%s has no operation %q", m.Service, op)}
	}
	return m.checkJSONBody(o.Input, body, opts)
}

func (m *Model) checkJSONBody(shape string, body []byte, opts CheckOptions) []string {
	if shape == "" {
		t := bytes.TrimSpace(body)
		if len(t) == 0 || string(t) == "{}" {
			return nil
		}
		return []string{"(root): operation has no modeled body shape, but body is " + abbrev(string(t))}
	}
	if m.Protocol() == "rest-json" {
		if s, ok := m.Shapes[shape]; ok && s.Payload != "" {
			ref := s.Members[s.Payload]
			if ref == nil {
				return []string{fmt.Sprintf("model: payload member %s missing from %s", s.Payload, shape)}
			}
			ps, ok := m.Shapes[ref.Target]
			if !ok || ps.Type != "structure" {
				return nil // raw blob/string payload: nothing to check
			}
			shape = ref.Target
		}
	}
	return m.CheckJSONShape(shape, body, opts)
}

// CheckJSONShape checks a JSON document against a named shape. It verifies
// that:
//   - the body is one well-formed JSON value;
//   - every object key is a member of the structure (recursively through
//     lists, maps and nested structures); for rest-json, members bound to a
//     header, uri, querystring or status code must not appear in the body;
//   - every value has the JSON type of its shape: string, integer/long
//     (integral number in range), float/double (number, or "NaN",
//     "Infinity", "-Infinity"), boolean, timestamp (a number of epoch
//     seconds unless the model gives timestampFormat iso8601/rfc822, then
//     a string in that format), blob (standard base64 string), list
//     (array), map (object), structure (object), document (anything);
//   - string values are in the shape's enum, map keys too;
//   - unions have at most one member set;
//   - unless opts.SkipRequired, required members are present;
//   - unless opts.SkipConstraints, min/max (string length in characters,
//     list/map size, blob byte length, number range) and patterns hold.
//
// JSON null is accepted for structure members (SDKs treat it as absent),
// but not for list elements or map values.
func (m *Model) CheckJSONShape(shape string, body []byte, opts CheckOptions) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"(root): invalid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return []string{"(root): trailing data after JSON value"}
	}
	c := &checker{m: m, opts: opts}
	s := c.shape("", shape)
	if s == nil {
		return c.out
	}
	if v == nil {
		c.add("", "body is null, want %s", kindWord(s.Type))
		return c.out
	}
	c.jsonValue("", nil, s, v, true)
	return c.out
}

// CheckJSONError checks a JSON error response body of op: the "__type"
// (optionally "namespace#Code"; for rest-json the code may instead come from
// the X-Amzn-ErrorType header, pass it as headerCode) must be a modeled or
// common error of op (see [Model.IsErrorCode]), and a modeled error's other
// members must match its shape ("message"/"Message" are always allowed).
func (m *Model) CheckJSONError(op string, headerCode string, body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return []string{"(root): error body is not a JSON object: " + err.Error()}
	}
	code := headerCode
	if t, ok := obj["__type"].(string); ok {
		code = t
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if code == "" {
		return []string{"(root): error has no __type (or X-Amzn-ErrorType)"}
	}
	var out []string
	if !m.IsErrorCode(op, code) {
		out = append(out, fmt.Sprintf("(root): error code %q is neither a modeled error of %s nor a common %s error", code, op, m.Protocol()))
	}
	for _, k := range []string{"message", "Message"} {
		if v, ok := obj[k]; ok && v != nil {
			if _, isStr := v.(string); !isStr {
				out = append(out, fmt.Sprintf("%s: got %s, want string", k, jsonKind(v)))
			}
		}
	}
	s, ok := m.ErrorShapeForCode(op, code)
	if !ok {
		return out
	}
	c := &checker{m: m, opts: CheckOptions{SkipRequired: true}}
	for _, k := range sortedKeys(obj) {
		if k == "__type" || k == "message" || k == "Message" {
			continue
		}
		ref := s.Members[k]
		if ref == nil {
			c.add(k, "unknown member of error %s", s.Name)
			continue
		}
		if obj[k] == nil {
			continue
		}
		if ms := c.shape(k, ref.Target); ms != nil {
			c.jsonValue(k, ref, ms, obj[k], false)
		}
	}
	return append(out, c.out...)
}

func (c *checker) jsonValue(path string, ref *Ref, s *Shape, v any, top bool) {
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, "got %s, want object (%s)", jsonKind(v), s.Name)
			return
		}
		restJSON := c.m.Protocol() == "rest-json"
		set := 0
		for _, k := range sortedKeys(obj) {
			mp := joinPath(path, k)
			mref := s.Members[k]
			if mref == nil {
				c.add(mp, "unknown member of %s (members: %s)", s.Name, strings.Join(s.MemberNames(), ", "))
				continue
			}
			if restJSON && top && mref.Location != "" {
				c.add(mp, "member of %s is bound to %s %q, not the body", s.Name, mref.Location, firstNonEmpty(mref.LocationName, k))
				continue
			}
			if obj[k] == nil {
				continue
			}
			set++
			if ms := c.shape(mp, mref.Target); ms != nil {
				c.jsonValue(mp, mref, ms, obj[k], false)
			}
		}
		if s.Union && set > 1 {
			c.add(path, "union %s has %d members set, want exactly one", s.Name, set)
		}
		c.missingRequired(path, s, func(n string) bool { return obj[n] != nil },
			func(r *Ref) bool { return restJSON && top && r.Location != "" })
	case "list":
		arr, ok := v.([]any)
		if !ok {
			c.add(path, "got %s, want array (%s)", jsonKind(v), s.Name)
			return
		}
		c.checkSize(path, s, len(arr), "list length")
		if s.Member == nil {
			return
		}
		ms := c.shape(path, s.Member.Target)
		if ms == nil {
			return
		}
		for i, e := range arr {
			ip := indexPath(path, i)
			if e == nil {
				c.add(ip, "null list element")
				continue
			}
			c.jsonValue(ip, s.Member, ms, e, false)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, "got %s, want object (map %s)", jsonKind(v), s.Name)
			return
		}
		c.checkSize(path, s, len(obj), "map size")
		var ks, vs *Shape
		if s.Key != nil {
			ks = c.shape(path, s.Key.Target)
		}
		if s.Value != nil {
			vs = c.shape(path, s.Value.Target)
		}
		for _, k := range sortedKeys(obj) {
			kp := keyPath(path, k)
			if ks != nil && ks.Type == "string" {
				c.checkString(kp+"(key)", ks, k)
			}
			if obj[k] == nil {
				c.add(kp, "null map value")
				continue
			}
			if vs != nil {
				c.jsonValue(kp, s.Value, vs, obj[k], false)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			c.add(path, "got %s, want string (%s)", jsonKind(v), s.Name)
			return
		}
		c.checkString(path, s, str)
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.add(path, "got %s, want boolean (%s)", jsonKind(v), s.Name)
		}
	case "integer", "long", "float", "double", "bigInteger", "bigDecimal":
		switch n := v.(type) {
		case json.Number:
			c.checkNumberText(path, s, n.String(), false)
		case string:
			if s.Type == "float" || s.Type == "double" {
				if n == "NaN" || n == "Infinity" || n == "-Infinity" {
					return
				}
			}
			c.add(path, "got string %q, want number (%s %s)", abbrev(n), s.Type, s.Name)
		default:
			c.add(path, "got %s, want number (%s %s)", jsonKind(v), s.Type, s.Name)
		}
	case "timestamp":
		format := timestampFormat(ref, s, "unixTimestamp")
		c.jsonTimestamp(path, s, format, v)
	case "blob":
		str, ok := v.(string)
		if !ok {
			c.add(path, "got %s, want base64 string (blob %s)", jsonKind(v), s.Name)
			return
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			c.add(path, "blob %s is not standard base64: %v", s.Name, err)
			return
		}
		c.checkSize(path, s, len(b), "blob length")
	case "document":
		// any JSON value
	default:
		c.add(path, "unsupported shape type %q (%s)", s.Type, s.Name)
	}
}

func (c *checker) jsonTimestamp(path string, s *Shape, format string, v any) {
	switch format {
	case "unixTimestamp":
		n, ok := v.(json.Number)
		if !ok {
			c.add(path, "got %s, want epoch-seconds number (timestamp %s)", jsonKind(v), s.Name)
			return
		}
		if _, err := n.Float64(); err != nil {
			c.add(path, "bad epoch-seconds number %s", n)
		}
	default:
		str, ok := v.(string)
		if !ok {
			c.add(path, "got %s, want %s string (timestamp %s)", jsonKind(v), format, s.Name)
			return
		}
		if !parseTimestamp(format, str) {
			c.add(path, "%q is not a valid %s timestamp (%s)", str, format, s.Name)
		}
	}
}

// timestampFormat returns the effective timestamp format: the member's,
// else the shape's, else the protocol default def.
func timestampFormat(ref *Ref, s *Shape, def string) string {
	if ref != nil && ref.TimestampFormat != "" {
		return ref.TimestampFormat
	}
	if s.TimestampFormat != "" {
		return s.TimestampFormat
	}
	return def
}

// parseTimestamp reports whether v is a valid timestamp in format
// ("iso8601", "rfc822" or "unixTimestamp").
func parseTimestamp(format, v string) bool {
	switch format {
	case "iso8601":
		for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999Z0700"} {
			if _, err := time.Parse(l, v); err == nil {
				return true
			}
		}
		return false
	case "rfc822":
		_, err := http.ParseTime(v)
		return err == nil
	case "unixTimestamp":
		_, err := json.Number(v).Float64()
		return err == nil
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func kindWord(t string) string {
	switch t {
	case "structure", "map":
		return "object"
	case "list":
		return "array"
	}
	return t
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
