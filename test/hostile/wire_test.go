package hostile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/deskplane/deskplane/internal/awsmodel"
)

// wireReq is one request as it goes on the wire (before signing).
type wireReq struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
	// Region is the region the request is signed for ("": us-east-1).
	Region string
}

// serialize renders an input tree in the model's protocol, the way the AWS
// SDKs do (botocore's serializers), but without validating anything;
// target is the json protocol's X-Amz-Target prefix ("": the model's).
func serialize(m *awsmodel.Model, op *awsmodel.Operation, target string, in *obj, corrupt int) (*wireReq, error) {
	if target == "" {
		target = m.Metadata.TargetPrefix
	}
	w := &wireReq{Method: http.MethodPost, Path: "/", Query: url.Values{}, Header: http.Header{}}
	switch m.Protocol() {
	case "json", "smithy-rpc-v2-cbor":
		// A CBOR service (CloudWatch) also answers awsJson1.0, the
		// model's second protocol, which the suite writes.
		var b bytes.Buffer
		writeJSON(&b, in)
		w.Body = corruptJSON(b.Bytes(), corrupt)
		w.Header.Set("Content-Type", "application/x-amz-json-"+m.Metadata.JSONVersion)
		w.Header.Set("X-Amz-Target", target+"."+op.Name)
	case "rest-json":
		w.Method = op.HTTP.Method
		uri := op.HTTP.RequestURI
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			q, _ := url.ParseQuery(uri[i+1:])
			for k, v := range q {
				w.Query[k] = v
			}
			uri = uri[:i]
		}
		body := &obj{}
		s := m.Shapes[op.Input]
		for i, k := range in.keys {
			var ref *awsmodel.Ref
			if s != nil {
				ref = s.Members[k]
			}
			v := in.vals[i]
			if ref == nil || ref.Location == "" {
				body.set(k, v)
				continue
			}
			loc := ref.LocationName
			if loc == "" {
				loc = k
			}
			txt := scalarText(v, "iso8601")
			switch ref.Location {
			case "uri":
				uri = strings.ReplaceAll(uri, "{"+loc+"+}", escapePath(txt, true))
				uri = strings.ReplaceAll(uri, "{"+loc+"}", escapePath(txt, false))
			case "querystring":
				w.Query.Add(loc, txt)
			case "header":
				if validHeader(txt) {
					w.Header.Set(loc, txt)
				}
			}
		}
		w.Path = uri
		var b bytes.Buffer
		writeJSON(&b, body)
		w.Body = corruptJSON(b.Bytes(), corrupt)
		w.Header.Set("Content-Type", "application/json")
	case "query", "ec2":
		ec2 := m.Protocol() == "ec2"
		vals := url.Values{}
		vals.Set("Action", op.Name)
		vals.Set("Version", m.Metadata.APIVersion)
		flattenStruct(m, vals, "", m.Shapes[op.Input], in, ec2)
		body := vals.Encode()
		switch corrupt {
		case 1:
			body = body[:len(body)/2]
		case 2:
			body += "&" + strings.Repeat("A.", 3000) + "1=x"
		case 3:
			body += "&%zz=%"
		case 4:
			var extra strings.Builder
			for i := 0; i < 60000; i++ {
				fmt.Fprintf(&extra, "&P.member.%d=x", i)
			}
			body += extra.String()
		}
		w.Body = []byte(body)
		w.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	default:
		return nil, fmt.Errorf("protocol %q is not supported by the hostile suite", m.Protocol())
	}
	return w, nil
}

// corruptJSON damages a JSON body when asked to (corrupt > 0): truncated,
// trailing garbage, a body of null, an empty body, an array.
func corruptJSON(b []byte, corrupt int) []byte {
	switch corrupt {
	case 1:
		return b[:len(b)/2]
	case 2:
		return append(b, "}garbage"...)
	case 3:
		return []byte("null")
	case 4:
		return nil
	case 5:
		return []byte("[]")
	case 6:
		// the input object's first member nested 100,000 deep
		if len(b) > 1 && b[0] == '{' {
			return []byte(`{"a":` + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100001) + "," + string(b[1:]))
		}
		return []byte(strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000))
	case 7:
		return []byte(strings.Repeat("[", 400000) + strings.Repeat("]", 400000))
	}
	return b
}

func validHeader(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func escapePath(s string, greedy bool) string {
	if greedy {
		parts := strings.Split(s, "/")
		for i, p := range parts {
			parts[i] = url.PathEscape(p)
		}
		return strings.Join(parts, "/")
	}
	return url.PathEscape(s)
}

// writeJSON writes a node as JSON. Strings are written byte for byte
// (escaping only what JSON requires), so invalid UTF-8 reaches the server.
func writeJSON(b *bytes.Buffer, n node) {
	switch v := n.(type) {
	case *obj:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSON(b, v.vals[i])
		}
		b.WriteByte('}')
	case list:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case str:
		writeJSONString(b, string(v))
	case num:
		b.WriteString(string(v))
	case boolean:
		b.WriteString(strconv.FormatBool(bool(v)))
	case stamp:
		if v.raw != "" {
			writeJSONString(b, v.raw)
		} else {
			b.WriteString(strconv.FormatFloat(v.sec, 'f', -1, 64))
		}
	case blob:
		if v.bad != "" {
			writeJSONString(b, v.bad)
		} else {
			writeJSONString(b, base64.StdEncoding.EncodeToString(v.b))
		}
	case rawJSON:
		b.WriteString(string(v))
	default:
		b.WriteString("null")
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// scalarText renders a leaf as query-string text.
func scalarText(n node, tsFormat string) string {
	switch v := n.(type) {
	case str:
		return string(v)
	case num:
		return string(v)
	case boolean:
		return strconv.FormatBool(bool(v))
	case stamp:
		if v.raw != "" {
			return v.raw
		}
		if tsFormat == "unixTimestamp" {
			return strconv.FormatFloat(v.sec, 'f', -1, 64)
		}
		sec, frac := math.Modf(v.sec)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02T15:04:05Z")
	case blob:
		if v.bad != "" {
			return v.bad
		}
		return base64.StdEncoding.EncodeToString(v.b)
	case rawJSON:
		return string(v)
	case *obj, list:
		var b bytes.Buffer
		writeJSON(&b, v)
		return b.String()
	}
	return ""
}

// flattenStruct writes a structure's members as query parameters (the
// query protocol's and the ec2 protocol's rules).
func flattenStruct(m *awsmodel.Model, vals url.Values, prefix string, s *awsmodel.Shape, o *obj, ec2 bool) {
	for i, k := range o.keys {
		var ref *awsmodel.Ref
		if s != nil {
			ref = s.Members[k]
		}
		name := k
		if ref != nil {
			switch {
			case ec2 && ref.QueryName != "":
				name = ref.QueryName
			case ec2 && ref.LocationName != "":
				name = strings.ToUpper(ref.LocationName[:1]) + ref.LocationName[1:]
			case !ec2 && ref.LocationName != "":
				name = ref.LocationName
			}
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		flattenValue(m, vals, name, ref, o.vals[i], ec2)
	}
}

func flattenValue(m *awsmodel.Model, vals url.Values, prefix string, ref *awsmodel.Ref, v node, ec2 bool) {
	var s *awsmodel.Shape
	if ref != nil {
		s = m.Shapes[ref.Target]
	}
	switch x := v.(type) {
	case *obj:
		if s != nil && s.Type == "map" {
			entry := prefix + ".entry"
			if s.Flattened || (ref != nil && ref.Flattened) {
				entry = prefix
			}
			kn, vn := "key", "value"
			if s.Key != nil && s.Key.LocationName != "" {
				kn = s.Key.LocationName
			}
			if s.Value != nil && s.Value.LocationName != "" {
				vn = s.Value.LocationName
			}
			for i, k := range x.keys {
				p := entry + "." + strconv.Itoa(i+1)
				vals.Set(p+"."+kn, k)
				flattenValue(m, vals, p+"."+vn, s.Value, x.vals[i], ec2)
			}
			return
		}
		flattenStruct(m, vals, prefix, s, x, ec2)
	case list:
		var member *awsmodel.Ref
		if s != nil {
			member = s.Member
		}
		if len(x) == 0 {
			if !ec2 {
				vals.Set(prefix, "")
			}
			return
		}
		lp := prefix
		if !ec2 {
			if s != nil && (s.Flattened || (ref != nil && ref.Flattened)) {
				if member != nil && member.LocationName != "" {
					if i := strings.LastIndexByte(prefix, '.'); i >= 0 {
						lp = prefix[:i+1] + member.LocationName
					} else {
						lp = member.LocationName
					}
				}
			} else {
				mn := "member"
				if member != nil && member.LocationName != "" {
					mn = member.LocationName
				}
				lp = prefix + "." + mn
			}
		}
		for i, e := range x {
			flattenValue(m, vals, lp+"."+strconv.Itoa(i+1), member, e, ec2)
		}
	default:
		format := "iso8601"
		if ref != nil && ref.TimestampFormat != "" {
			format = ref.TimestampFormat
		}
		vals.Set(prefix, scalarText(v, format))
	}
}

// answer is what the server said.
type answer struct {
	Status    int
	Code      string
	RequestID string
	Body      []byte
	// Closed tells the answer carried Connection: close.
	Closed bool
}

// send signs w for service in us-east-1 (or w.Region) with the keys and
// sends it.
func send(ctx context.Context, hc *http.Client, base, service string, creds aws.Credentials, w *wireReq) (*answer, *http.Request, error) {
	region := "us-east-1"
	if w.Region != "" {
		region = w.Region
	}
	u := base + w.Path
	if len(w.Query) > 0 {
		u += "?" + w.Query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, w.Method, u, bytes.NewReader(w.Body))
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range w.Header {
		req.Header[k] = v
	}
	sum := sha256.Sum256(w.Body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		return nil, req, fmt.Errorf("sign: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(w.Body)) // the signer may have read it
	resp, err := hc.Do(req)
	if err != nil {
		return nil, req, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, req, fmt.Errorf("read answer: %w", err)
	}
	a := &answer{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-RequestId"), Body: body, Closed: resp.Close}
	if a.Status != http.StatusOK {
		a.Code = errorCode(resp.Header, body)
	}
	return a, req, nil
}

// errorCode reads the error code of an answer in any protocol's envelope.
func errorCode(h http.Header, body []byte) string {
	// An awsQueryCompatible service (CloudWatch) names its query code in
	// X-Amzn-Query-Error ("Code;Sender"), which is what the SDKs report and
	// what the model's error codes are.
	if q := h.Get("X-Amzn-Query-Error"); q != "" {
		c, _, _ := strings.Cut(q, ";")
		return c
	}
	if ct := h.Get("Content-Type"); strings.Contains(ct, "json") {
		var e struct {
			Type string `json:"__type"`
			Code string `json:"code"`
		}
		json.Unmarshal(body, &e)
		c := e.Type
		if c == "" {
			c = e.Code
		}
		if c == "" {
			c = h.Get("X-Amzn-ErrorType")
		}
		if i := strings.LastIndexByte(c, '#'); i >= 0 {
			c = c[i+1:]
		}
		if i := strings.IndexByte(c, ':'); i >= 0 {
			c = c[:i]
		}
		return c
	}
	var e struct {
		Code  string `xml:"Error>Code"`
		Codes string `xml:"Errors>Error>Code"`
	}
	xml.Unmarshal(body, &e)
	return e.Code + e.Codes
}

// dump renders a request exactly (method, URL, headers, body) for a
// failure report.
func dump(req *http.Request, body []byte) string {
	if req == nil {
		return "(no request)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", req.Method, req.URL.String())
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	if len(body) > 4096 {
		fmt.Fprintf(&b, "body (%d bytes, first 4096, Go-quoted): %q…", len(body), body[:4096])
	} else {
		fmt.Fprintf(&b, "body (%d bytes, Go-quoted): %q", len(body), body)
	}
	return b.String()
}
