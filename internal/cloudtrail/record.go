package cloudtrail

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/jsonenc"
)

// EventVersion is the record format version written (the current version
// in the CloudTrail record-contents reference read for this project).
const EventVersion = "1.08"

// Record is one CloudTrail event record, with the documented field names.
type Record struct {
	EventVersion        string          `json:"eventVersion"`
	UserIdentity        *UserIdentity   `json:"userIdentity"`
	EventTime           string          `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent,omitempty"`
	ErrorCode           string          `json:"errorCode,omitempty"`
	ErrorMessage        string          `json:"errorMessage,omitempty"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData map[string]any  `json:"additionalEventData,omitempty"`
	RequestID           string          `json:"requestID"`
	EventID             string          `json:"eventID"`
	ReadOnly            bool            `json:"readOnly"`
	Resources           []RecResource   `json:"resources,omitempty"`
	EventType           string          `json:"eventType"`
	ManagementEvent     bool            `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	SharedEventID       string          `json:"sharedEventID,omitempty"`
	EventCategory       string          `json:"eventCategory"`

	// identityJSON, when set, is userIdentity's JSON (in place of
	// UserIdentity): the writer renders a caller's once.
	identityJSON []byte
}

// UserIdentity is the record's userIdentity element.
type UserIdentity struct {
	Type           string          `json:"type"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    *string         `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
}

// SessionContext is userIdentity.sessionContext.
type SessionContext struct {
	SessionIssuer *SessionIssuer `json:"sessionIssuer,omitempty"`
	Attributes    SessionAttrs   `json:"attributes"`
}

// SessionIssuer is sessionContext.sessionIssuer.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// SessionAttrs is sessionContext.attributes.
type SessionAttrs struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

// RecResource is an element of the record's resources.
type RecResource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type,omitempty"`
}

const isoSeconds = "2006-01-02T15:04:05Z"

// appendIdentity appends userIdentity's JSON (as encoding/json writes it).
func appendIdentity(b []byte, u *UserIdentity) []byte {
	if u == nil {
		return append(b, "null"...)
	}
	opt := func(name, v string) {
		if v != "" {
			b = append(b, name...)
			b = jsonenc.String(b, v)
		}
	}
	b = append(b, `{"type":`...)
	b = jsonenc.String(b, u.Type)
	opt(`,"principalId":`, u.PrincipalID)
	opt(`,"arn":`, u.ARN)
	opt(`,"accountId":`, u.AccountID)
	if u.AccessKeyID != nil {
		b = append(b, `,"accessKeyId":`...)
		b = jsonenc.String(b, *u.AccessKeyID)
	}
	opt(`,"userName":`, u.UserName)
	if sc := u.SessionContext; sc != nil {
		b = append(b, `,"sessionContext":{`...)
		if si := sc.SessionIssuer; si != nil {
			b = append(b, `"sessionIssuer":{"type":`...)
			b = jsonenc.String(b, si.Type)
			b = append(b, `,"principalId":`...)
			b = jsonenc.String(b, si.PrincipalID)
			b = append(b, `,"arn":`...)
			b = jsonenc.String(b, si.ARN)
			b = append(b, `,"accountId":`...)
			b = jsonenc.String(b, si.AccountID)
			b = append(b, `,"userName":`...)
			b = jsonenc.String(b, si.UserName)
			b = append(b, "},"...)
		}
		b = append(b, `"attributes":{"creationDate":`...)
		b = jsonenc.String(b, sc.Attributes.CreationDate)
		b = append(b, `,"mfaAuthenticated":`...)
		b = jsonenc.String(b, sc.Attributes.MFAAuthenticated)
		b = append(b, "}}"...)
	}
	opt(`,"invokedBy":`, u.InvokedBy)
	return append(b, '}')
}

// appendResources appends the resources' JSON (as encoding/json writes it).
func appendResources(b []byte, rs []RecResource) []byte {
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ARN":`...)
		b = jsonenc.String(b, r.ARN)
		b = append(b, `,"accountId":`...)
		b = jsonenc.String(b, r.AccountID)
		if r.Type != "" {
			b = append(b, `,"type":`...)
			b = jsonenc.String(b, r.Type)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendRecord appends the record's JSON, with the documented field names
// in the documented order. Its request parameters and response elements are
// JSON already (params wrote them) and are copied as they are.
func appendRecord(b []byte, r *Record) []byte { return appendRecordAt(b, r, nil) }

// appendRecordAt is appendRecord that also notes in at, when it is not
// nil, where the values of eventTime, requestID and eventID start in b.
func appendRecordAt(b []byte, r *Record, at *[3]int) []byte {
	str := func(name, v string) {
		b = append(b, name...)
		b = jsonenc.String(b, v)
	}
	note := func(i int, name, v string) {
		if at != nil {
			at[i] = len(b) + len(name) + 1 // past the name and the opening quote
		}
		str(name, v)
	}
	raw := func(name string, v any) {
		b = append(b, name...)
		j, err := json.Marshal(v)
		if err != nil {
			j = []byte("null")
		}
		b = append(b, j...)
	}
	str(`{"eventVersion":`, r.EventVersion)
	b = append(b, `,"userIdentity":`...)
	if r.identityJSON != nil {
		b = append(b, r.identityJSON...)
	} else {
		b = appendIdentity(b, r.UserIdentity)
	}
	note(0, `,"eventTime":`, r.EventTime)
	str(`,"eventSource":`, r.EventSource)
	str(`,"eventName":`, r.EventName)
	str(`,"awsRegion":`, r.AWSRegion)
	str(`,"sourceIPAddress":`, r.SourceIPAddress)
	if r.UserAgent != "" {
		str(`,"userAgent":`, r.UserAgent)
	}
	if r.ErrorCode != "" {
		str(`,"errorCode":`, r.ErrorCode)
	}
	if r.ErrorMessage != "" {
		str(`,"errorMessage":`, r.ErrorMessage)
	}
	for _, p := range []struct {
		name string
		v    json.RawMessage
	}{{`,"requestParameters":`, r.RequestParameters}, {`,"responseElements":`, r.ResponseElements}} {
		b = append(b, p.name...)
		if len(p.v) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, p.v...)
		}
	}
	if len(r.AdditionalEventData) > 0 {
		raw(`,"additionalEventData":`, r.AdditionalEventData)
	}
	note(1, `,"requestID":`, r.RequestID)
	note(2, `,"eventID":`, r.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, r.ReadOnly)
	if len(r.Resources) > 0 {
		b = append(b, `,"resources":`...)
		b = appendResources(b, r.Resources)
	}
	str(`,"eventType":`, r.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, r.ManagementEvent)
	str(`,"recipientAccountId":`, r.RecipientAccountID)
	if r.SharedEventID != "" {
		str(`,"sharedEventID":`, r.SharedEventID)
	}
	str(`,"eventCategory":`, r.EventCategory)
	return append(b, '}')
}

// identity renders the caller as userIdentity.
func identity(p *gateway.Principal, invokedBy string) *UserIdentity {
	if p == nil {
		return &UserIdentity{Type: "Unknown"}
	}
	var akid *string
	if p.AccessKeyID != "" {
		a := p.AccessKeyID
		akid = &a
	}
	u := &UserIdentity{Type: p.Type, PrincipalID: p.UserID, ARN: p.ARN, AccountID: p.Account, AccessKeyID: akid, InvokedBy: invokedBy}
	switch p.Type {
	case "IAMUser":
		u.UserName = p.UserName
	case "Root":
		u.PrincipalID = p.Account
		if u.ARN == "" {
			u.ARN = "arn:aws:iam::" + p.Account + ":root"
		}
	case "AssumedRole":
		roleID, _, _ := strings.Cut(p.UserID, ":")
		u.SessionContext = &SessionContext{
			SessionIssuer: &SessionIssuer{Type: "Role", PrincipalID: roleID, ARN: p.RoleARN, AccountID: p.Account, UserName: p.RoleName},
			Attributes:    SessionAttrs{CreationDate: p.SessionIssued.UTC().Format(isoSeconds), MFAAuthenticated: "false"},
		}
	case "AWSService":
		u = &UserIdentity{Type: "AWSService", InvokedBy: or(invokedBy, p.Service)}
	}
	return u
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// username is the LookupEvents Username of a caller: the IAM user name, the
// role session name, "root", or the service.
func username(p *gateway.Principal) string {
	if p == nil {
		return ""
	}
	switch p.Type {
	case "IAMUser":
		return p.UserName
	case "AssumedRole":
		return p.SessionName
	case "Root":
		return "root"
	case "AWSService":
		return p.Service
	}
	return p.UserName
}

// secretMembers are request/response members never written to the trail
// (compared lower-case).
var secretMembers = map[string]bool{
	"plaintext": true, "ciphertextblob": true, "ciphertextforrecipient": true, "secretaccesskey": true,
	"password": true, "newpassword": true, "oldpassword": true, "sessiontoken": true, "granttoken": true,
	"granttokens": true, "privatekeyplaintext": true, "privatekeyciphertextblob": true,
	"userdata": true, // a launch's user data (WorkSpaces Instances), sensitive in the model
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	awsTimeType = reflect.TypeOf(awsproto.Time{})
)

// appendParams appends a decoded request or response as CloudTrail's
// requestParameters/responseElements JSON to b: members in lowerCamelCase,
// absent members left out, map keys (encryption contexts, tags) kept as
// sent and sorted, blobs and secrets left out. ok is false (and b as it
// was) for an empty value (JSON null). The writer encodes into buffers of
// its own, which its rows copy.
func appendParams(b []byte, v any) (_ []byte, ok bool) {
	if v == nil {
		return b, false
	}
	n := len(b)
	b, ok = appendDynamic(b, reflect.ValueOf(v))
	if !ok || string(b[n:]) == "{}" {
		return b[:n], false
	}
	return b, true
}

// field is one member of a struct type's plan.
type field struct {
	index int
	name  string // JSON-quoted lowerCamelCase name with its colon
}

var plans sync.Map // reflect.Type -> []field

func plan(t reflect.Type) []field {
	if p, ok := plans.Load(t); ok {
		return p.([]field)
	}
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := memberName(f)
		if name == "-" || secretMembers[strings.ToLower(name)] {
			continue
		}
		fs = append(fs, field{index: i, name: string(jsonenc.String(nil, lowerFirst(name))) + ":"})
	}
	plans.Store(t, fs)
	return fs
}

// The parameters are written by an encoder compiled once per type: a
// function of the value's address that reads its fields at their offsets,
// where a walk with reflect looked up each value's type, kind and plan
// again. Its JSON is the walk's, byte for byte (TestCompiledAsTheWalk holds
// the two equal on random values of many types): pointers and interfaces
// followed, nil ones absent; time.Time and awsproto.Time as ISO seconds;
// a struct's members by its plan, absent ones left out; map entries sorted
// by key, an absent value written null; blobs, empty maps and empty slices
// absent, an absent element written null; strings, bools and integers as
// they are; anything else as encoding/json writes it.

// encFn appends the JSON of the value at p and reports whether the value
// has one (appendValue's ok).
type encFn func(b []byte, p unsafe.Pointer) ([]byte, bool)

// encoder is a type's compiled encoder; fn is set before the encoder is
// published (a recursive type's members refer to it while it is built).
type encoder struct{ fn encFn }

var (
	encoders sync.Map // reflect.Type -> *encoder, complete
	encMu    sync.Mutex
)

// encoderOf returns t's compiled encoder.
func encoderOf(t reflect.Type) *encoder {
	if e, ok := encoders.Load(t); ok {
		return e.(*encoder)
	}
	encMu.Lock()
	defer encMu.Unlock()
	building := map[reflect.Type]*encoder{}
	e := compile(t, building)
	for bt, be := range building {
		encoders.Store(bt, be)
	}
	return e
}

// compile returns t's encoder, building it (and its members') under encMu.
func compile(t reflect.Type, building map[reflect.Type]*encoder) *encoder {
	if e, ok := encoders.Load(t); ok {
		return e.(*encoder)
	}
	if e, ok := building[t]; ok {
		return e
	}
	e := &encoder{}
	building[t] = e
	e.fn = compileFn(t, building)
	return e
}

func compileFn(t reflect.Type, building map[reflect.Type]*encoder) encFn {
	switch t {
	case timeType:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return jsonenc.String(b, (*time.Time)(p).UTC().Format(isoSeconds)), true
		}
	case awsTimeType:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return jsonenc.String(b, (*awsproto.Time)(p).UTC().Format(isoSeconds)), true
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := compile(t.Elem(), building)
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return b, false
			}
			return elem.fn(b, q)
		}
	case reflect.Interface:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			v := reflect.NewAt(t, p).Elem()
			if v.IsNil() {
				return b, false
			}
			return appendDynamic(b, v.Elem())
		}
	case reflect.Struct:
		// A member whose first word is nil (a nil pointer, map or
		// interface) or that is an empty slice has no value: it is
		// skipped before its name is written.
		const (
			always = iota
			wordNil
			sliceEmpty
		)
		type member struct {
			off    uintptr
			name   string
			enc    *encoder
			absent uint8
		}
		var ms []member
		for _, f := range plan(t) {
			sf := t.Field(f.index)
			m := member{off: sf.Offset, name: f.name, enc: compile(sf.Type, building)}
			switch sf.Type.Kind() {
			case reflect.Pointer, reflect.Map, reflect.Interface:
				m.absent = wordNil
			case reflect.Slice:
				m.absent = sliceEmpty
			}
			ms = append(ms, m)
		}
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			b = append(b, '{')
			first := true
			for i := range ms {
				m := &ms[i]
				switch m.absent {
				case wordNil:
					if *(*unsafe.Pointer)(unsafe.Add(p, m.off)) == nil {
						continue
					}
				case sliceEmpty:
					if (*sliceHeader)(unsafe.Add(p, m.off)).len == 0 {
						continue
					}
				}
				mark := len(b)
				if !first {
					b = append(b, ',')
				}
				b = append(b, m.name...)
				var ok bool
				if b, ok = m.enc.fn(b, unsafe.Add(p, m.off)); !ok {
					b = b[:mark]
					continue
				}
				first = false
			}
			return append(b, '}'), true
		}
	case reflect.Map:
		return compileMap(t, building)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return func(b []byte, p unsafe.Pointer) ([]byte, bool) { return b, false } // blobs are never logged
		}
		elem := compile(t.Elem(), building)
		size := t.Elem().Size()
		each := func(b []byte, data unsafe.Pointer, n int) ([]byte, bool) {
			if n == 0 {
				return b, false
			}
			b = append(b, '[')
			for i := 0; i < n; i++ {
				if i > 0 {
					b = append(b, ',')
				}
				var ok bool
				if b, ok = elem.fn(b, unsafe.Add(data, uintptr(i)*size)); !ok {
					b = append(b, "null"...)
				}
			}
			return append(b, ']'), true
		}
		if t.Kind() == reflect.Array {
			n := t.Len()
			return func(b []byte, p unsafe.Pointer) ([]byte, bool) { return each(b, p, n) }
		}
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			s := (*sliceHeader)(p)
			return each(b, s.data, s.len)
		}
	case reflect.String:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) { return jsonenc.String(b, *(*string)(p)), true }
	case reflect.Bool:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) { return strconv.AppendBool(b, *(*bool)(p)), true }
	case reflect.Int:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendInt(b, int64(*(*int)(p)), 10), true
		}
	case reflect.Int8:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendInt(b, int64(*(*int8)(p)), 10), true
		}
	case reflect.Int16:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendInt(b, int64(*(*int16)(p)), 10), true
		}
	case reflect.Int32:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendInt(b, int64(*(*int32)(p)), 10), true
		}
	case reflect.Int64:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) { return strconv.AppendInt(b, *(*int64)(p), 10), true }
	case reflect.Uint:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendUint(b, uint64(*(*uint)(p)), 10), true
		}
	case reflect.Uint16:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendUint(b, uint64(*(*uint16)(p)), 10), true
		}
	case reflect.Uint32:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendUint(b, uint64(*(*uint32)(p)), 10), true
		}
	case reflect.Uint64:
		return func(b []byte, p unsafe.Pointer) ([]byte, bool) { return strconv.AppendUint(b, *(*uint64)(p), 10), true }
	}
	return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
		// floats and anything else: as encoding/json writes them
		j, err := json.Marshal(reflect.NewAt(t, p).Elem().Interface())
		if err != nil {
			return append(b, "null"...), true
		}
		return append(b, j...), true
	}
}

// sliceHeader is a slice's layout.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// compileMap encodes a map's entries sorted by key. A map is rare in
// parameters (encryption contexts, tag maps), so it is read with reflect;
// its values go through their type's encoder from one addressable copy.
func compileMap(t reflect.Type, building map[reflect.Type]*encoder) encFn {
	elem := compile(t.Elem(), building)
	return func(b []byte, p unsafe.Pointer) ([]byte, bool) {
		v := reflect.NewAt(t, p).Elem()
		if v.Len() == 0 {
			return b, false
		}
		type kv struct {
			k string
			v reflect.Value
		}
		entries := make([]kv, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			entries = append(entries, kv{toString(it.Key()), it.Value()})
		}
		slices.SortFunc(entries, func(x, y kv) int { return strings.Compare(x.k, y.k) })
		tmp := reflect.New(t.Elem())
		b = append(b, '{')
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(jsonenc.String(b, e.k), ':')
			tmp.Elem().Set(e.v)
			var ok bool
			if b, ok = elem.fn(b, tmp.UnsafePointer()); !ok {
				b = append(b, "null"...)
			}
		}
		return append(b, '}'), true
	}
}

// appendDynamic appends the JSON of v, a value that need not be
// addressable (the parameters themselves, an interface's value).
func appendDynamic(b []byte, v reflect.Value) ([]byte, bool) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return b, false
		}
		return encoderOf(v.Type().Elem()).fn(b, v.UnsafePointer())
	}
	if v.CanAddr() {
		return encoderOf(v.Type()).fn(b, v.Addr().UnsafePointer())
	}
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	return encoderOf(v.Type()).fn(b, c.UnsafePointer())
}

func toString(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return v.String()
	}
	b, _ := json.Marshal(v.Interface())
	return strings.Trim(string(b), `"`)
}

func memberName(f reflect.StructField) string {
	for _, key := range []string{"json", "query", "xml"} {
		if tag := f.Tag.Get(key); tag != "" {
			n, _, _ := strings.Cut(tag, ",")
			if n != "" {
				return n
			}
		}
	}
	return f.Name
}

func lowerFirst(s string) string {
	// Acronym prefixes as CloudTrail writes them: "DNSIPs" → "dNSIPs" is
	// wrong; keep it simple and lower only the first rune.
	return mapFirst(s, unicode.ToLower)
}

// mapFirst applies f to the first rune of s (any string: empty, invalid
// UTF-8, multibyte first runes).
func mapFirst(s string, f func(rune) rune) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return string(f(r)) + s[n:]
}

// serviceNames are the resource types' service names as CloudTrail spells
// them.
var serviceNames = map[string]string{"kms": "KMS", "iam": "IAM", "sts": "STS", "ec2": "EC2", "workspaces": "WorkSpaces", "ds": "DirectoryService", "cloudtrail": "CloudTrail"}

// resourceType derives AWS::Service::Type from an ARN. It takes any string
// (the ARN may come from a request): it returns "" for one that is not an
// ARN with a service and a resource.
func resourceType(arn string) string {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return ""
	}
	var parts [4]string // partition, service, region, account
	for i := range parts {
		if parts[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return ""
		}
	}
	svc, res := parts[1], rest
	if svc == "" || res == "" {
		return ""
	}
	typ, _, found := strings.Cut(res, "/")
	if !found {
		typ, _, _ = strings.Cut(res, ":")
	}
	// A writer names the same few types again and again: their names are
	// remembered (up to maxResourceTypes), not built each time.
	k := typeKey{svc, typ}
	if t, ok := resourceTypes.Load(k); ok {
		return t.(string)
	}
	svcName := serviceNames[svc]
	if svcName == "" {
		svcName = mapFirst(svc, unicode.ToUpper)
	}
	t := "AWS::" + svcName + "::" + camel(typ)
	if resourceTypeCount.Load() < maxResourceTypes {
		// Keys of their own: a key sliced from the ARN would keep it.
		if _, loaded := resourceTypes.LoadOrStore(typeKey{strings.Clone(svc), strings.Clone(typ)}, t); !loaded {
			resourceTypeCount.Add(1)
		}
	}
	return t
}

// typeKey is a resource type's service and type as an ARN spells them.
type typeKey struct{ svc, typ string }

// resourceTypes remembers resourceType's answers: typeKey -> string.
var (
	resourceTypes     sync.Map
	resourceTypeCount atomic.Int64
)

const maxResourceTypes = 512

func camel(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	for i, p := range parts {
		parts[i] = mapFirst(p, unicode.ToUpper)
	}
	return strings.Join(parts, "")
}
