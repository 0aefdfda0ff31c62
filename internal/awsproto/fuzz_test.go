package awsproto

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// The fuzz targets decode arbitrary bytes into input types shaped like the
// AWS ones deskplane declares (nested structures, lists of structures, maps,
// pointers to scalars, timestamps, blobs, `v` constraints with enums and
// patterns) and require that the decoders never panic and that every
// failure is an *Error with a client code — anything else would reach the
// gateway as a 500 InternalFailure.

type fuzzTag struct {
	Key   string  `json:"Key" query:"Key" v:"required,min=1,max=127"`
	Value *string `json:"Value,omitempty" query:"Value" v:"max=255"`
}

type fuzzProps struct {
	RunningMode         string `json:"RunningMode,omitempty" v:"enum=AUTO_STOP|ALWAYS_ON|MANUAL"`
	RunningModeTimeout  *int32 `json:"RunningModeAutoStopTimeoutInMinutes,omitempty" v:"min=60,max=2880"`
	RootVolumeSizeGib   *int32 `json:"RootVolumeSizeGib,omitempty"`
	ComputeTypeName     string `json:"ComputeTypeName,omitempty" v:"enum=VALUE|STANDARD|PERFORMANCE|POWER"`
	Protocols           []string
	OperatingSystemName string `json:"OperatingSystemName,omitempty"`
}

type fuzzRequest struct {
	DirectoryID         string            `json:"DirectoryId" query:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	UserName            string            `json:"UserName" query:"UserName" v:"required,min=1,max=63"`
	BundleID            string            `json:"BundleId" query:"BundleId" v:"required,pattern=^wsb-[0-9a-z]{8,63}$"`
	VolumeKey           *string           `json:"VolumeEncryptionKey,omitempty"`
	UserVolumeEncrypted *bool             `json:"UserVolumeEncryptionEnabled,omitempty"`
	Properties          *fuzzProps        `json:"WorkspaceProperties,omitempty"`
	Tags                []fuzzTag         `json:"Tags,omitempty" query:"Tag" v:"max=50"`
	Context             map[string]string `json:"EncryptionContext,omitempty" query:"EncryptionContext"`
	Name                *string           `json:"WorkspaceName,omitempty"`
}

type fuzzFilter struct {
	Name   string   `json:"Name" query:"Name"`
	Values []string `json:"Values" query:"Value"`
}

type fuzzInput struct {
	Workspaces  []fuzzRequest          `json:"Workspaces" query:"Workspaces" v:"required,min=1,max=25"`
	IDs         []string               `json:"WorkspaceIds,omitempty" query:"WorkspaceId" v:"min=1,max=25"`
	States      []string               `json:"States,omitempty" query:"State" v:"enum=PENDING|AVAILABLE|STOPPED"`
	Filters     []fuzzFilter           `json:"Filters,omitempty" query:"Filter"`
	Limit       *int32                 `json:"Limit,omitempty" query:"MaxResults" v:"min=1,max=25"`
	Size        *int64                 `json:"NumberOfBytes,omitempty" query:"DurationSeconds" v:"min=1,max=1024"`
	Ratio       *float64               `json:"Ratio,omitempty" query:"Ratio" v:"min=0,max=1"`
	DryRun      *bool                  `json:"DryRun,omitempty" query:"DryRun"`
	NextToken   *string                `json:"NextToken,omitempty" query:"NextToken" v:"min=1,max=2048"`
	Created     *Time                  `json:"Created,omitempty" query:"Created"`
	Times       []Time                 `json:"Times,omitempty" query:"Time"`
	Blob        []byte                 `json:"Plaintext,omitempty" query:"Blob"`
	Attributes  map[string][]string    `json:"Attributes,omitempty" query:"Attribute"`
	Nested      map[string]fuzzRequest `json:"Nested,omitempty" query:"Nested"`
	PolicyNames []string               `json:"PolicyNames,omitempty" query:"PolicyNames"`
	Count       int                    `json:"Count,omitempty" query:"Count"`
}

// fuzzTypes are the input types each fuzz input is decoded into.
func fuzzTypes() []func() any {
	return []func() any{
		func() any { return &fuzzInput{} },
		func() any { return &fuzzRequest{} },
		func() any { return &fuzzFilter{} },
		func() any { return &struct{}{} },
	}
}

func checkDecodeErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	ae := As(err)
	if ae == nil {
		t.Fatalf("%s: error is not an *awsproto.Error (would be a 500): %T %v", what, err, err)
	}
	if ae.HTTPStatus() >= 500 {
		t.Fatalf("%s: decode error with status %d: %v", what, ae.HTTPStatus(), ae)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"Workspaces":[]}`, `{} {}`,
		`{"Workspaces":[{"DirectoryId":"d-1234567890","UserName":"[UNDEFINED]","BundleId":"wsb-12345678",` +
			`"WorkspaceProperties":{"RunningMode":"MANUAL","RootVolumeSizeGib":80},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}]}`,
		`{"Workspaces":[{"DirectoryId":"d-1234567890","UserName":"u","BundleId":"wsb-12345678","EncryptionContext":{"a":"b"}}],"Limit":25}`,
		`{"Created":1700000000.123,"Times":["2024-01-01T00:00:00Z",1e300,-1e300]}`,
		`{"Created":"not a time"}`, `{"Limit":1e99}`, `{"Limit":-2147483649}`, `{"Size":9223372036854775808}`,
		`{"Plaintext":"aGVsbG8="}`, `{"Plaintext":"!!"}`, `{"Attributes":{"a":["b"]},"Nested":{"k":{"UserName":"x"}}}`,
		`{"Workspaces":[{"DirectoryId":"d-1234567890","UserName":"u","BundleId":"wsb-12345678","WorkspaceProperties":{"RunningMode":"AUTO_STOP","RunningModeAutoStopTimeoutInMinutes":59}}]}`,
		`{"Ratio":"NaN"}`, `{"DryRun":"true"}`, `{"Count":1.5}`, "{\"NextToken\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"Workspaces":[]}`), "Limit=5&NextToken=abc")
	f.Add([]byte(``), "Workspaces=x&Created=2024-01-01")
	f.Fuzz(func(t *testing.T, body []byte, rawQuery string) {
		for _, mk := range fuzzTypes() {
			in := mk()
			err := DecodeJSON(body, in, "ValidationException")
			checkDecodeErr(t, "DecodeJSON", err)
			if err == nil {
				// What decoded must encode again (handlers echo inputs back).
				if _, err := json.Marshal(in); err != nil {
					t.Fatalf("re-encode %T: %v", in, err)
				}
			}
			// The rest-json path (ds-data): the gateway merges query-string
			// members into the JSON body before DecodeJSON.
			q, _ := url.ParseQuery(rawQuery)
			if len(q) > 0 {
				m := map[string]any{}
				if len(bytes.TrimSpace(body)) > 0 {
					if json.Unmarshal(body, &m) != nil {
						continue
					}
				}
				// A body of `null` leaves m nil. gateway.decode (the code this
				// mirrors) lacks this guard and panics on m[k] = ... (reported).
				if m == nil {
					m = map[string]any{}
				}
				for k := range q {
					m[k] = q.Get(k)
				}
				merged, err := json.Marshal(m)
				if err != nil {
					t.Fatalf("re-marshal merged body: %v", err)
				}
				checkDecodeErr(t, "DecodeJSON (rest-json merge)", DecodeJSON(merged, mk(), "ValidationException"))
			}
		}
	})
}

func FuzzDecodeQuery(f *testing.F) {
	for _, s := range []string{
		``, `Action=DescribeImages&Version=2016-11-15`,
		`Filter.1.Name=name&Filter.1.Value.1=win10-*&Filter.2.Name=state&Filter.2.Value.1=available`,
		`Workspaces.member.1.DirectoryId=d-1234567890&Workspaces.member.1.UserName=u&Workspaces.member.1.BundleId=wsb-12345678&Workspaces.member.1.Tag.member.1.Key=k`,
		`Attribute.entry.1.key=a&Attribute.entry.1.value.member.1=b&EncryptionContext.entry.1.key=k`,
		`Nested.entry.1.key=x&Nested.entry.1.value.UserName=y&Nested.entry.2.value.UserName=z`,
		`Created=2024-01-01T00:00:00Z&Time.1=1700000000&Time.2=junk`,
		`MaxResults=99999999999999999999&DurationSeconds=-1&Ratio=NaN&DryRun=maybe&Count=1`,
		`Filter.0.Name=x&Filter.10001.Name=y&Filter.-1.Name=z&Filter.a.Name=q`,
		`Workspaces=1&Workspaces.1=2&Workspaces.1.UserName.x=3&PolicyNames.member.1.deep=1`,
		`Blob=aGVsbG8=&Blob.1=x&WorkspaceId.item.1=ws-1&State.1=PENDING&State.2=NOPE`,
		`a..b=1&.=2&...=3&X-Amz-Date=now`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		vals, _ := url.ParseQuery(raw)
		if vals == nil {
			return
		}
		// Bound the work per input: the gateway caps bodies at MaxBody, and a
		// list index is capped at 10000 by the decoder itself.
		if len(raw) > 1<<16 || strings.Count(raw, ".") > 4096 {
			return
		}
		for _, mk := range fuzzTypes() {
			in := mk()
			checkDecodeErr(t, "DecodeQuery", DecodeQuery(vals, in, "InvalidParameterValue"))
			if reflect.ValueOf(in).IsNil() {
				t.Fatalf("DecodeQuery cleared its target")
			}
		}
	})
}

// FuzzDecodeFastAgrees: DecodeJSON's fast path (goccy/go-json) decodes a
// body only when encoding/json (the path whose errors are reported) gives
// the very same value, and what it refuses encoding/json refuses too or
// decodes in full.
func FuzzDecodeFastAgrees(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{} {}`, `{}]`, `{"Workspaces":[]}`,
		`{"Workspaces":[{"DirectoryId":"d-1234567890","UserName":"[UNDEFINED]","BundleId":"wsb-12345678",` +
			`"WorkspaceProperties":{"RunningMode":"MANUAL","RootVolumeSizeGib":80},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}]}`,
		`{"Created":1700000000.123,"Times":["2024-01-01T00:00:00Z",1e300,-1e300]}`, `{"Limit":1e99}`, `{"Limit":-2147483649}`,
		`{"Size":9223372036854775808}`, `{"Plaintext":"aGVsbG8="}`, `{"Plaintext":"!!"}`, `{"Count":1.5}`, "{\"NextToken\":\"\xff\xfe\"}",
		`{"workspaces":[{"directoryid":"x"}]}`, `{"Limit":"5"}`, `{"Limit":5,"Limit":6}`, `{"DryRun":"true"}`, `{"Ratio":"NaN"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.TrimSpace(body)
		if len(body) == 0 {
			return
		}
		for _, mk := range fuzzTypes() {
			fast, std := mk(), mk()
			stdErr := decodeStd(body, std, "ValidationException")
			if !decodeFast(body, fast) {
				if !reflect.DeepEqual(fast, mk()) {
					t.Fatalf("%T %q: a refused body left %+v", fast, body, fast)
				}
				continue
			}
			if stdErr != nil {
				t.Fatalf("%T %q: the fast path decoded what encoding/json refuses (%v)", fast, body, stdErr)
			}
			if !reflect.DeepEqual(fast, std) {
				t.Fatalf("%T %q: values differ:\n%+v\n%+v", fast, body, fast, std)
			}
		}
	})
}
