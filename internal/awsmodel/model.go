// Package awsmodel loads the botocore service models installed on the machine
// and uses them as a test oracle for deskplane's wire behaviour.
//
// The models are never copied into the project: they are read at test time
// from botocore's data folder (see [DataDir]). Tests that depend on them
// should call [Load] and skip when it returns an error wrapping
// [ErrNoBotocore], which is what [LoadOrSkip] does.
//
// Loaded models are cached and shared between callers; treat every value
// reachable from a [*Model] as read-only.
package awsmodel

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// EnvDataDir is the environment variable that, when set, names botocore's
// data folder directly and bypasses the python3 lookup.
const EnvDataDir = "DESKPLANE_BOTOCORE_DATA"

// ErrNoBotocore is wrapped by the errors of [DataDir] and [Load] when no
// botocore data folder can be found on this machine.
var ErrNoBotocore = errors.New("awsmodel: botocore data folder not found")

var (
	dataDirOnce sync.Once
	dataDirVal  string
	dataDirErr  error
)

// DataDir returns botocore's data folder. It uses $DESKPLANE_BOTOCORE_DATA
// when set, otherwise it asks python3 where botocore is installed; the python
// answer is cached for the life of the process. The error wraps
// [ErrNoBotocore] when the folder cannot be found.
func DataDir() (string, error) {
	if d := os.Getenv(EnvDataDir); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("%w: $%s=%q is not a directory", ErrNoBotocore, EnvDataDir, d)
		}
		return d, nil
	}
	dataDirOnce.Do(func() {
		py, err := exec.LookPath("python3")
		if err != nil {
			dataDirErr = fmt.Errorf("%w: python3 not on PATH", ErrNoBotocore)
			return
		}
		out, err := exec.Command(py, "-c",
			"import botocore,os;print(os.path.join(os.path.dirname(botocore.__file__),'data'))").Output()
		if err != nil {
			dataDirErr = fmt.Errorf("%w: python3 cannot import botocore: %v", ErrNoBotocore, err)
			return
		}
		d := strings.TrimSpace(string(out))
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			dataDirErr = fmt.Errorf("%w: %q is not a directory", ErrNoBotocore, d)
			return
		}
		dataDirVal = d
	})
	return dataDirVal, dataDirErr
}

// Metadata is the model's "metadata" block.
type Metadata struct {
	APIVersion       string   `json:"apiVersion"`
	EndpointPrefix   string   `json:"endpointPrefix"`
	Protocol         string   `json:"protocol"`
	Protocols        []string `json:"protocols"`
	ServiceID        string   `json:"serviceId"`
	ServiceFullName  string   `json:"serviceFullName"`
	SignatureVersion string   `json:"signatureVersion"`
	SigningName      string   `json:"signingName"`
	TargetPrefix     string   `json:"targetPrefix"`
	JSONVersion      string   `json:"jsonVersion"`
	XMLNamespace     string   `json:"xmlNamespace"`
	UID              string   `json:"uid"`
}

// Model is one botocore service model (service-2.json).
type Model struct {
	// Service is botocore's folder name for the service, e.g. "ds-data".
	Service string
	// Version is the api-version folder the model was loaded from.
	Version string
	// Path is the file the model was read from.
	Path string
	// Metadata is the model's metadata block.
	Metadata Metadata
	// Shapes maps shape names to shapes.
	Shapes map[string]*Shape
	// Ops maps operation names to operations.
	Ops map[string]*Operation

	reMu sync.Mutex
	re   map[string]*regexp.Regexp // pattern -> compiled; nil when RE2 cannot compile it
}

// Ref is a reference to a shape: a structure member, a list member, a map
// key or value, or an operation's input/output.
type Ref struct {
	// Name is the member name for structure members, "" otherwise.
	Name string `json:"-"`
	// Target is the referenced shape's name (the "shape" key).
	Target string `json:"shape"`
	// LocationName is the wire name override (XML element, query key,
	// header/querystring/uri name).
	LocationName string `json:"locationName"`
	// QueryName is the ec2 protocol's query-key override.
	QueryName string `json:"queryName"`
	// Location is "header", "headers", "uri", "querystring", "statusCode" or
	// "" for the body.
	Location string `json:"location"`
	// Flattened marks a flattened XML list or map at this reference.
	Flattened bool `json:"flattened"`
	// XMLAttribute marks a member serialized as an XML attribute.
	XMLAttribute bool `json:"xmlAttribute"`
	// TimestampFormat overrides the protocol's default timestamp format.
	TimestampFormat string `json:"timestampFormat"`
	// IdempotencyToken marks a client token member.
	IdempotencyToken bool `json:"idempotencyToken"`
	// JSONValue marks a string member holding a JSON document.
	JSONValue bool `json:"jsonvalue"`
	// HostLabel marks a member bound to the endpoint host prefix.
	HostLabel bool `json:"hostLabel"`
	// Deprecated marks a deprecated member.
	Deprecated bool `json:"deprecated"`
	// ResultWrapper is the query protocol's result element (operation output only).
	ResultWrapper string `json:"resultWrapper"`
}

// ErrorInfo is a shape's "error" block.
type ErrorInfo struct {
	Code           string `json:"code"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	SenderFault    bool   `json:"senderFault"`
}

// Shape is one model shape.
type Shape struct {
	// Name is the shape's name.
	Name string `json:"-"`
	// Type is one of structure, list, map, string, integer, long, boolean,
	// double, float, timestamp, blob, document, bigInteger, bigDecimal.
	Type string `json:"type"`
	// Members are a structure's members by name.
	Members map[string]*Ref `json:"members"`
	// Required lists a structure's required member names.
	Required []string `json:"required"`
	// Member is a list's element reference.
	Member *Ref `json:"member"`
	// Key and Value are a map's key and value references.
	Key   *Ref `json:"key"`
	Value *Ref `json:"value"`
	// Enum lists a string shape's allowed values.
	Enum []string `json:"enum"`
	// Min and Max are length bounds (string, blob, list, map) or value
	// bounds (numbers); nil when absent.
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
	// Pattern is the model's regular expression for strings.
	Pattern string `json:"pattern"`
	// Flattened marks a flattened XML list or map.
	Flattened bool `json:"flattened"`
	// LocationName is a list or structure's own XML name, if any.
	LocationName string `json:"locationName"`
	// Payload names the member that is the whole HTTP body (rest protocols).
	Payload string `json:"payload"`
	// Union marks a structure of which exactly one member may be set.
	Union bool `json:"union"`
	// Exception marks an error shape; Fault marks a server-side error.
	Exception bool `json:"exception"`
	Fault     bool `json:"fault"`
	// Error is the error block (code and HTTP status), if any.
	Error *ErrorInfo `json:"error"`
	// TimestampFormat overrides the protocol's default timestamp format.
	TimestampFormat string `json:"timestampFormat"`
	// Sensitive marks values that must not be logged.
	Sensitive bool `json:"sensitive"`
	// Deprecated marks a deprecated shape.
	Deprecated bool `json:"deprecated"`
}

// IsRequired reports whether name is a required member of the structure.
func (s *Shape) IsRequired(name string) bool {
	for _, r := range s.Required {
		if r == name {
			return true
		}
	}
	return false
}

// MemberNames returns a structure's member names, sorted.
func (s *Shape) MemberNames() []string {
	out := make([]string, 0, len(s.Members))
	for n := range s.Members {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// HTTP is an operation's HTTP binding.
type HTTP struct {
	Method       string `json:"method"`
	RequestURI   string `json:"requestUri"`
	ResponseCode int    `json:"responseCode"`
}

// Operation is one model operation.
type Operation struct {
	// Name is the operation name (the X-Amz-Target suffix or Action value).
	Name string
	// HTTP is the HTTP binding (method, requestUri, responseCode).
	HTTP HTTP
	// Input and Output are the input and output shape names ("" if none).
	Input  string
	Output string
	// InputRef and OutputRef are the full references (nil if none);
	// OutputRef.ResultWrapper names the query protocol's result element.
	InputRef  *Ref
	OutputRef *Ref
	// Errors lists the modeled error shape names in model order.
	Errors []string
	// Idempotent marks an idempotent operation.
	Idempotent bool
	// Deprecated marks a deprecated operation.
	Deprecated bool
}

type rawOperation struct {
	Name       string `json:"name"`
	HTTP       HTTP   `json:"http"`
	Input      *Ref   `json:"input"`
	Output     *Ref   `json:"output"`
	Errors     []Ref  `json:"errors"`
	Idempotent bool   `json:"idempotent"`
	Deprecated bool   `json:"deprecated"`
}

type rawModel struct {
	Metadata   Metadata                `json:"metadata"`
	Operations map[string]rawOperation `json:"operations"`
	Shapes     map[string]*Shape       `json:"shapes"`
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*cacheEntry{}
)

type cacheEntry struct {
	once sync.Once
	m    *Model
	err  error
}

// Load loads the newest api-version of a service by botocore's folder name
// ("workspaces", "ec2", "iam", "sts", "kms", "ds", "ds-data",
// "cloudtrail", ...). Results are cached per service.
func Load(service string) (*Model, error) {
	return LoadVersion(service, "")
}

// LoadVersion loads a given api-version of a service ("" = newest).
// Results are cached.
func LoadVersion(service, version string) (*Model, error) {
	key := service + "@" + version
	cacheMu.Lock()
	e := cache[key]
	if e == nil {
		e = &cacheEntry{}
		cache[key] = e
	}
	cacheMu.Unlock()
	e.once.Do(func() { e.m, e.err = loadVersion(service, version) })
	return e.m, e.err
}

// folders maps the signing names that differ from botocore's folder names.
var folders = map[string]string{"monitoring": "cloudwatch"}

func loadVersion(service, version string) (*Model, error) {
	if service == "" || strings.ContainsAny(service, `/\`) || strings.Contains(service, "..") {
		return nil, fmt.Errorf("awsmodel: bad service name %q", service)
	}
	dir, err := DataDir()
	if err != nil {
		return nil, err
	}
	if f, ok := folders[service]; ok {
		service = f
	}
	sdir := filepath.Join(dir, service)
	if version == "" {
		ents, err := os.ReadDir(sdir)
		if err != nil {
			return nil, fmt.Errorf("awsmodel: service %q: %w", service, err)
		}
		var vs []string
		for _, e := range ents {
			if e.IsDir() && modelFile(filepath.Join(sdir, e.Name())) != "" {
				vs = append(vs, e.Name())
			}
		}
		if len(vs) == 0 {
			return nil, fmt.Errorf("awsmodel: service %q has no service-2.json under %s", service, sdir)
		}
		sort.Strings(vs) // api-versions are YYYY-MM-DD
		version = vs[len(vs)-1]
	}
	p := modelFile(filepath.Join(sdir, version))
	if p == "" {
		return nil, fmt.Errorf("awsmodel: no service-2.json for %s %s", service, version)
	}
	m, err := LoadFile(p)
	if err != nil {
		return nil, err
	}
	m.Service, m.Version = service, version
	return m, nil
}

func modelFile(dir string) string {
	for _, n := range []string{"service-2.json", "service-2.json.gz"} {
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// LoadFile parses one service-2.json or service-2.json.gz file. It is not
// cached.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("awsmodel: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("awsmodel: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	var raw rawModel
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("awsmodel: %s: %w", path, err)
	}
	m := &Model{
		Path:     path,
		Metadata: raw.Metadata,
		Shapes:   raw.Shapes,
		Ops:      make(map[string]*Operation, len(raw.Operations)),
		re:       map[string]*regexp.Regexp{},
	}
	if m.Metadata.Protocol == "" && len(m.Metadata.Protocols) > 0 {
		m.Metadata.Protocol = m.Metadata.Protocols[0]
	}
	for name, s := range m.Shapes {
		s.Name = name
		for mn, r := range s.Members {
			r.Name = mn
		}
	}
	for name, ro := range raw.Operations {
		op := &Operation{
			Name: name, HTTP: ro.HTTP, InputRef: ro.Input, OutputRef: ro.Output,
			Idempotent: ro.Idempotent, Deprecated: ro.Deprecated,
		}
		if ro.Input != nil {
			op.Input = ro.Input.Target
		}
		if ro.Output != nil {
			op.Output = ro.Output.Target
		}
		for _, e := range ro.Errors {
			op.Errors = append(op.Errors, e.Target)
		}
		m.Ops[name] = op
	}
	return m, nil
}

// Protocol returns the model's wire protocol: "json", "rest-json", "query",
// "ec2" or "rest-xml".
func (m *Model) Protocol() string { return m.Metadata.Protocol }

// Operations returns the operation names, sorted.
func (m *Model) Operations() []string {
	out := make([]string, 0, len(m.Ops))
	for n := range m.Ops {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Operation returns the named operation.
func (m *Model) Operation(name string) (*Operation, bool) {
	op, ok := m.Ops[name]
	return op, ok
}

// Shape returns the named shape.
func (m *Model) Shape(name string) (*Shape, bool) {
	s, ok := m.Shapes[name]
	return s, ok
}

// ErrorCode returns the wire error code of an error shape: its error.code
// when the model gives one, else the shape name.
func (m *Model) ErrorCode(shape string) string {
	if s, ok := m.Shapes[shape]; ok && s.Error != nil && s.Error.Code != "" {
		return s.Error.Code
	}
	return shape
}

// ErrorCodes returns the wire error codes of an operation's modeled errors,
// in model order. It is nil for an unknown operation.
func (m *Model) ErrorCodes(op string) []string {
	o, ok := m.Ops[op]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(o.Errors))
	for _, e := range o.Errors {
		out = append(out, m.ErrorCode(e))
	}
	return out
}

// ErrorShapeForCode returns the error shape of op whose wire code is code.
func (m *Model) ErrorShapeForCode(op, code string) (*Shape, bool) {
	o, ok := m.Ops[op]
	if !ok {
		return nil, false
	}
	for _, e := range o.Errors {
		if m.ErrorCode(e) == code {
			s, ok := m.Shapes[e]
			return s, ok
		}
	}
	return nil, false
}

// regexpFor compiles a model pattern for Go's RE2 engine, translating Java
// \uXXXX escapes. It returns nil when the pattern uses constructs RE2 lacks
// (look-around, possessive quantifiers, ...); such patterns are not checked.
func (m *Model) regexpFor(p string) *regexp.Regexp {
	m.reMu.Lock()
	defer m.reMu.Unlock()
	if re, ok := m.re[p]; ok {
		return re
	}
	re, err := regexp.Compile(javaUnicodeEscape.ReplaceAllString(p, `\x{$1}`))
	if err != nil {
		re = nil
	}
	m.re[p] = re
	return re
}

var javaUnicodeEscape = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)
