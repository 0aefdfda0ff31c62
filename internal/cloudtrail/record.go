package cloudtrail

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
)

// EventVersion is the record format version written (the current version
// in the CloudTrail record-contents reference read for this project).
const EventVersion = "1.08"

// Record is one CloudTrail event record, with the documented field names.
type Record struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        *UserIdentity  `json:"userIdentity"`
	EventTime           string         `json:"eventTime"`
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent,omitempty"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestParameters   any            `json:"requestParameters"`
	ResponseElements    any            `json:"responseElements"`
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	RequestID           string         `json:"requestID"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []RecResource  `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	SharedEventID       string         `json:"sharedEventID,omitempty"`
	EventCategory       string         `json:"eventCategory"`
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
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	awsTimeType = reflect.TypeOf(awsproto.Time{})
)

// params converts a decoded request or response into CloudTrail's
// requestParameters/responseElements form: members in lowerCamelCase, absent
// members left out, map keys (encryption contexts, tags) kept as sent, blobs
// and secrets left out. It returns nil for an empty value.
func params(v any) any {
	if v == nil {
		return nil
	}
	out := convert(reflect.ValueOf(v))
	if m, ok := out.(map[string]any); ok && len(m) == 0 {
		return nil
	}
	return out
}

func convert(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Type() {
	case timeType:
		return v.Interface().(time.Time).UTC().Format(isoSeconds)
	case awsTimeType:
		return v.Interface().(awsproto.Time).UTC().Format(isoSeconds)
	}
	switch v.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := memberName(f)
			if name == "-" || secretMembers[strings.ToLower(name)] {
				continue
			}
			fv := v.Field(i)
			if isAbsent(fv) {
				continue
			}
			if c := convert(fv); c != nil {
				m[lowerFirst(name)] = c
			}
		}
		return m
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		m := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			m[toString(it.Key())] = convert(it.Value())
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // blobs are never logged
		}
		if v.Len() == 0 {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = convert(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

func toString(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return v.String()
	}
	b, _ := json.Marshal(v.Interface())
	return strings.Trim(string(b), `"`)
}

func isAbsent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return v.IsNil()
	}
	return false
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
	if s == "" {
		return s
	}
	// Acronym prefixes as CloudTrail writes them: "DNSIPs" → "dNSIPs" is
	// wrong; keep it simple and lower only the first rune.
	return strings.ToLower(s[:1]) + s[1:]
}

// resourceType derives AWS::Service::Type from an ARN.
func resourceType(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return ""
	}
	svc := parts[2]
	res := parts[5]
	typ, _, found := strings.Cut(res, "/")
	if !found {
		typ, _, _ = strings.Cut(res, ":")
	}
	svcName := map[string]string{"kms": "KMS", "iam": "IAM", "sts": "STS", "ec2": "EC2", "workspaces": "WorkSpaces", "ds": "DirectoryService", "cloudtrail": "CloudTrail"}[svc]
	if svcName == "" {
		svcName = strings.ToUpper(svc[:1]) + svc[1:]
	}
	return "AWS::" + svcName + "::" + camel(typ)
}

func camel(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}
