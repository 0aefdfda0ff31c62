package awsmodel

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var services = map[string]string{
	"workspaces": "json",
	"ec2":        "ec2",
	"iam":        "query",
	"sts":        "query",
	"kms":        "json",
	"ds":         "json",
	"ds-data":    "rest-json",
	"cloudtrail": "json",
}

// wantNone fails when problems is non-empty.
func wantNone(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s: unexpected problems:\n  %s", what, strings.Join(problems, "\n  "))
	}
}

// wantProblem fails unless some problem contains every fragment.
func wantProblem(t *testing.T, what string, problems []string, fragments ...string) {
	t.Helper()
outer:
	for _, p := range problems {
		for _, f := range fragments {
			if !strings.Contains(p, f) {
				continue outer
			}
		}
		return
	}
	t.Errorf("%s: no problem containing %q; got:\n  %s", what, fragments, strings.Join(problems, "\n  "))
}

func TestLoadAll(t *testing.T) {
	for svc, proto := range services {
		m := LoadOrSkip(t, svc)
		if m.Protocol() != proto {
			t.Errorf("%s: protocol %q, want %q", svc, m.Protocol(), proto)
		}
		if len(m.Operations()) == 0 || len(m.Shapes) == 0 {
			t.Errorf("%s: empty model", svc)
		}
		// integrity: every reference resolves
		for _, name := range m.Operations() {
			op, _ := m.Operation(name)
			for _, s := range append([]string{op.Input, op.Output}, op.Errors...) {
				if _, ok := m.Shape(s); s != "" && !ok {
					t.Errorf("%s.%s: missing shape %s", svc, name, s)
				}
			}
		}
		for _, s := range m.Shapes {
			refs := []*Ref{s.Member, s.Key, s.Value}
			for _, r := range s.Members {
				refs = append(refs, r)
			}
			for _, r := range refs {
				if r == nil {
					continue
				}
				if _, ok := m.Shape(r.Target); !ok {
					t.Errorf("%s: shape %s refers to missing %s", svc, s.Name, r.Target)
				}
			}
		}
	}
	m := LoadOrSkip(t, "workspaces")
	if m.Metadata.TargetPrefix != "WorkspacesService" || m.Metadata.JSONVersion != "1.1" {
		t.Errorf("workspaces metadata: %+v", m.Metadata)
	}
	if m2, _ := Load("workspaces"); m2 != m {
		t.Error("Load is not cached")
	}
	if ec2 := LoadOrSkip(t, "ec2"); !strings.HasPrefix(ec2.Metadata.XMLNamespace, "http://ec2.amazonaws.com/doc/") {
		t.Errorf("ec2 xmlNamespace %q", ec2.Metadata.XMLNamespace)
	}
	if _, err := Load("no-such-service"); err == nil {
		t.Error("Load(no-such-service) succeeded")
	}
	if _, err := Load("../etc"); err == nil {
		t.Error("Load(../etc) succeeded")
	}
}

func TestOperationAndErrors(t *testing.T) {
	iam := LoadOrSkip(t, "iam")
	op, ok := iam.Operation("CreateUser")
	if !ok || op.Input != "CreateUserRequest" || op.Output != "CreateUserResponse" ||
		op.OutputRef.ResultWrapper != "CreateUserResult" || op.HTTP.Method != "POST" {
		t.Fatalf("CreateUser: %+v", op)
	}
	codes := iam.ErrorCodes("CreateUser")
	if !contains(codes, "EntityAlreadyExists") || contains(codes, "EntityAlreadyExistsException") {
		t.Errorf("ErrorCodes(CreateUser) = %v, want error.code values", codes)
	}
	for _, c := range []string{"EntityAlreadyExists", "AccessDenied", "Throttling", "InvalidClientTokenId", "ValidationError"} {
		if !iam.IsErrorCode("CreateUser", c) {
			t.Errorf("IsErrorCode(CreateUser, %s) = false", c)
		}
	}
	if iam.IsErrorCode("CreateUser", "ResourceNotFoundException") || iam.IsErrorCode("NoSuchOp", "AccessDenied") {
		t.Error("IsErrorCode accepts unmodeled code")
	}
	user, _ := iam.Shape("User")
	if !user.IsRequired("UserName") || user.IsRequired("Tags") {
		t.Errorf("User.Required = %v", user.Required)
	}

	ws := LoadOrSkip(t, "workspaces")
	if ws.ErrorCodes("DescribeWorkspaces")[0] != "InvalidParameterValuesException" {
		t.Errorf("workspaces errors %v", ws.ErrorCodes("DescribeWorkspaces"))
	}
	for _, c := range []string{"ValidationException", "ThrottlingException", "AccessDeniedException", "ResourceUnavailableException"} {
		if !ws.IsErrorCode("DescribeWorkspaces", c) {
			t.Errorf("workspaces IsErrorCode(%s) = false", c)
		}
	}
	ec2 := LoadOrSkip(t, "ec2")
	for _, c := range []string{"AuthFailure", "InvalidParameterValue", "InvalidAMIID.NotFound", "DryRunOperation"} {
		if !ec2.IsErrorCode("DescribeImages", c) {
			t.Errorf("ec2 IsErrorCode(%s) = false", c)
		}
	}
	dd := LoadOrSkip(t, "ds-data")
	op, _ = dd.Operation("AddGroupMember")
	if op.HTTP.Method != "POST" || op.HTTP.RequestURI != "/GroupMemberships/AddGroupMember" {
		t.Errorf("ds-data AddGroupMember http %+v", op.HTTP)
	}
	in, _ := dd.Shape(op.Input)
	if in.Members["DirectoryId"].Location != "querystring" {
		t.Errorf("DirectoryId location %q", in.Members["DirectoryId"].Location)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

const validDescribeWorkspaces = `{
  "Workspaces": [{
    "WorkspaceId": "ws-0123456789",
    "DirectoryId": "d-0123456789",
    "UserName": "alice",
    "IpAddress": "10.0.0.5",
    "State": "AVAILABLE",
    "BundleId": "wsb-0123456789",
    "SubnetId": "subnet-0123abcd",
    "ComputerName": "WSAMZN-ABC",
    "UserVolumeEncryptionEnabled": false,
    "WorkspaceProperties": {
      "RunningMode": "AUTO_STOP",
      "RunningModeAutoStopTimeoutInMinutes": 60,
      "RootVolumeSizeGib": 80,
      "UserVolumeSizeGib": 50,
      "ComputeTypeName": "STANDARD",
      "Protocols": ["PCOIP"]
    },
    "ModificationStates": [{"Resource": "ROOT_VOLUME", "State": "UPDATE_IN_PROGRESS"}]
  }],
  "NextToken": "abc"
}`

func TestCheckJSONOutput(t *testing.T) {
	m := LoadOrSkip(t, "workspaces")
	wantNone(t, "valid", m.CheckJSONOutput("DescribeWorkspaces", []byte(validDescribeWorkspaces)))
	wantNone(t, "empty list", m.CheckJSONOutput("DescribeWorkspaces", []byte(`{"Workspaces":[]}`)))

	cases := []struct {
		name, body string
		frags      []string
	}{
		{"unknown top member", `{"Workspaces":[],"Nope":1}`, []string{"Nope", "unknown member"}},
		{"unknown nested member", `{"Workspaces":[{"WorkspaceID":"ws-0123456789"}]}`, []string{"Workspaces[0].WorkspaceID", "unknown member of Workspace"}},
		{"wrong type string", `{"Workspaces":[{"UserName":5}]}`, []string{"Workspaces[0].UserName", "want string"}},
		{"wrong type list", `{"Workspaces":{}}`, []string{"Workspaces", "want array"}},
		{"wrong type struct", `{"Workspaces":[{"WorkspaceProperties":[]}]}`, []string{"WorkspaceProperties", "want object"}},
		{"wrong type integer", `{"Workspaces":[{"WorkspaceProperties":{"RootVolumeSizeGib":"80"}}]}`, []string{"RootVolumeSizeGib", "want number"}},
		{"fractional integer", `{"Workspaces":[{"WorkspaceProperties":{"RootVolumeSizeGib":1.5}}]}`, []string{"RootVolumeSizeGib", "not a valid integer"}},
		{"wrong type boolean", `{"Workspaces":[{"UserVolumeEncryptionEnabled":"true"}]}`, []string{"UserVolumeEncryptionEnabled", "want boolean"}},
		{"bad enum", `{"Workspaces":[{"State":"RUNNING"}]}`, []string{"Workspaces[0].State", "not in enum WorkspaceState"}},
		{"bad nested enum", `{"Workspaces":[{"WorkspaceProperties":{"Protocols":["PCOIP","RDP"]}}]}`, []string{"Protocols[1]", "not in enum"}},
		{"bad enum in nested list struct", `{"Workspaces":[{"ModificationStates":[{"Resource":"DISK"}]}]}`, []string{"ModificationStates[0].Resource", "not in enum"}},
		{"pattern", `{"Workspaces":[{"WorkspaceId":"i-123"}]}`, []string{"WorkspaceId", "pattern"}},
		{"null element", `{"Workspaces":[null]}`, []string{"Workspaces[0]", "null"}},
		{"not json", `{"Workspaces":`, []string{"invalid JSON"}},
		{"trailing", `{} {}`, []string{"trailing"}},
	}
	for _, tc := range cases {
		wantProblem(t, tc.name, m.CheckJSONOutput("DescribeWorkspaces", []byte(tc.body)), tc.frags...)
	}
	// constraints can be switched off; enums cannot
	wantNone(t, "SkipConstraints", m.CheckJSONOutputWith("DescribeWorkspaces", []byte(`{"Workspaces":[{"WorkspaceId":"i-123"}]}`), CheckOptions{SkipConstraints: true}))
	wantProblem(t, "unknown op", m.CheckJSONOutput("Nope", []byte(`{}`)), "no operation")

	// timestamps are epoch seconds in JSON protocols
	ct := LoadOrSkip(t, "cloudtrail")
	wantNone(t, "epoch timestamp", ct.CheckJSONOutput("GetTrailStatus", []byte(`{"IsLogging":true,"StartLoggingTime":1700000000.123}`)))
	wantProblem(t, "iso timestamp", ct.CheckJSONOutput("GetTrailStatus", []byte(`{"IsLogging":true,"StartLoggingTime":"2024-01-01T00:00:00Z"}`)), "StartLoggingTime", "epoch-seconds")
}

func TestCheckJSONInput(t *testing.T) {
	kms := LoadOrSkip(t, "kms")
	wantNone(t, "encrypt", kms.CheckJSONInput("Encrypt", []byte(`{"KeyId":"alias/x","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}`)))
	wantProblem(t, "required", kms.CheckJSONInput("Encrypt", []byte(`{"KeyId":"alias/x"}`)), "required member Plaintext")
	wantProblem(t, "blob", kms.CheckJSONInput("Encrypt", []byte(`{"KeyId":"alias/x","Plaintext":"not base64!"}`)), "Plaintext", "base64")
	wantProblem(t, "blob type", kms.CheckJSONInput("Encrypt", []byte(`{"KeyId":"alias/x","Plaintext":[1,2]}`)), "Plaintext", "want base64 string")
	wantProblem(t, "map value", kms.CheckJSONInput("Encrypt", []byte(`{"KeyId":"alias/x","Plaintext":"aGk=","EncryptionContext":{"a":1}}`)), `EncryptionContext["a"]`, "want string")
	wantNone(t, "SkipRequired", kms.CheckJSONInputWith("Encrypt", []byte(`{}`), CheckOptions{SkipRequired: true}))

	ws := LoadOrSkip(t, "workspaces")
	wantProblem(t, "list max", ws.CheckJSONInput("DescribeWorkspaces", []byte(`{"Limit":26}`)), "Limit", "above max")

	dd := LoadOrSkip(t, "ds-data")
	wantNone(t, "rest-json body", dd.CheckJSONInput("AddGroupMember", []byte(`{"GroupName":"g","MemberName":"m","ClientToken":"abc"}`)))
	wantProblem(t, "rest-json querystring in body", dd.CheckJSONInput("AddGroupMember",
		[]byte(`{"DirectoryId":"d-1234567890","GroupName":"g","MemberName":"m"}`)), "DirectoryId", "querystring")
}

func TestCheckJSONError(t *testing.T) {
	ws := LoadOrSkip(t, "workspaces")
	wantNone(t, "modeled", ws.CheckJSONError("DescribeWorkspaces", "", []byte(`{"__type":"InvalidParameterValuesException","message":"bad"}`)))
	wantNone(t, "common", ws.CheckJSONError("DescribeWorkspaces", "", []byte(`{"__type":"com.amazonaws.workspaces#ValidationException","message":"bad"}`)))
	wantProblem(t, "unmodeled", ws.CheckJSONError("DescribeWorkspaces", "", []byte(`{"__type":"NoSuchThing","message":"x"}`)), "NoSuchThing")
	wantProblem(t, "no type", ws.CheckJSONError("DescribeWorkspaces", "", []byte(`{"message":"x"}`)), "no __type")
}

const validCreateUser = `<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <CreateUserResult>
    <User>
      <Path>/</Path>
      <UserName>alice</UserName>
      <UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>
      <Arn>arn:aws:iam::123456789012:user/alice</Arn>
      <CreateDate>2024-05-01T12:00:00Z</CreateDate>
      <Tags>
        <member><Key>team</Key><Value>desk</Value></member>
      </Tags>
    </User>
  </CreateUserResult>
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>
</CreateUserResponse>`

const validDescribeImages = `<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <imagesSet>
    <item>
      <imageId>ami-1234567890abcdef0</imageId>
      <imageLocation>123456789012/deskplane-base</imageLocation>
      <imageState>available</imageState>
      <imageOwnerId>123456789012</imageOwnerId>
      <creationDate>2024-05-01T12:00:00.000Z</creationDate>
      <isPublic>false</isPublic>
      <architecture>x86_64</architecture>
      <imageType>machine</imageType>
      <name>deskplane-base</name>
      <rootDeviceType>ebs</rootDeviceType>
      <rootDeviceName>/dev/xvda</rootDeviceName>
      <blockDeviceMapping>
        <item>
          <deviceName>/dev/xvda</deviceName>
          <ebs>
            <snapshotId>snap-1234567890abcdef0</snapshotId>
            <volumeSize>8</volumeSize>
            <deleteOnTermination>true</deleteOnTermination>
            <volumeType>gp3</volumeType>
            <encrypted>false</encrypted>
          </ebs>
        </item>
      </blockDeviceMapping>
      <virtualizationType>hvm</virtualizationType>
      <tagSet><item><key>Name</key><value>base</value></item></tagSet>
      <hypervisor>xen</hypervisor>
      <enaSupport>true</enaSupport>
    </item>
  </imagesSet>
</DescribeImagesResponse>`

func TestCheckXMLOutputQuery(t *testing.T) {
	iam := LoadOrSkip(t, "iam")
	wantNone(t, "CreateUser", iam.CheckXMLOutput("CreateUser", []byte(validCreateUser)))

	edit := func(old, new string) []byte { return []byte(strings.Replace(validCreateUser, old, new, 1)) }
	cases := []struct {
		name string
		body []byte
		frag []string
	}{
		{"unknown element", edit("<Path>/</Path>", "<Path>/</Path><Nick>x</Nick>"), []string{"User.Nick", "unknown element"}},
		{"missing required", edit("<UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>", ""), []string{"required member UserId"}},
		{"bad timestamp", edit("2024-05-01T12:00:00Z", "yesterday"), []string{"CreateDate", "iso8601"}},
		{"list wrapper", []byte(strings.NewReplacer("<member>", "<item>", "</member>", "</item>").Replace(validCreateUser)), []string{"Tags[0]", "want <member>"}},
		{"nested list struct", edit("<Key>team</Key>", "<Name>team</Name>"), []string{"Tags[0].Name", "unknown element"}},
		{"nested required", edit("<Key>team</Key>", ""), []string{"Tags[0]", "required member Key"}},
		{"duplicate", edit("<Path>/</Path>", "<Path>/</Path><Path>/</Path>"), []string{"Path", "2 times"}},
		{"leaf with children", edit("<Path>/</Path>", "<Path><x/></Path>"), []string{"Path", "child element"}},
		{"wrong root", []byte(strings.NewReplacer("<CreateUserResponse ", "<CreateUser ", "</CreateUserResponse>", "</CreateUser>").Replace(validCreateUser)), []string{"root element"}},
		{"namespace", edit(`xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`, `xmlns="urn:x"`), []string{"xmlns"}},
		{"no metadata", edit("<ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>", ""), []string{"ResponseMetadata"}},
		{"no wrapper", []byte(strings.NewReplacer("<CreateUserResult>", "", "</CreateUserResult>", "").Replace(validCreateUser)), []string{"CreateUserResponse.User", "unexpected"}},
		{"malformed", []byte("<CreateUserResponse>"), []string{"invalid XML"}},
	}
	for _, tc := range cases {
		wantProblem(t, tc.name, iam.CheckXMLOutput("CreateUser", tc.body), tc.frag...)
	}

	// maps: <entry><key/><value/></entry>, enum keys, integer values
	summary := `<GetAccountSummaryResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetAccountSummaryResult><SummaryMap>
<entry><key>Users</key><value>3</value></entry><entry><key>UsersQuota</key><value>5000</value></entry>
</SummaryMap></GetAccountSummaryResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetAccountSummaryResponse>`
	wantNone(t, "summary", iam.CheckXMLOutput("GetAccountSummary", []byte(summary)))
	wantProblem(t, "map key enum", iam.CheckXMLOutput("GetAccountSummary", []byte(strings.Replace(summary, "<key>Users</key>", "<key>People</key>", 1))), "SummaryMap[0].key", "enum")
	wantProblem(t, "map value type", iam.CheckXMLOutput("GetAccountSummary", []byte(strings.Replace(summary, "<value>3</value>", "<value>three</value>", 1))), "SummaryMap[0].value", "integer")

	// no-output operation
	del := `<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>`
	wantNone(t, "DeleteUser", iam.CheckXMLOutput("DeleteUser", []byte(del)))

	sts := LoadOrSkip(t, "sts")
	gci := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>
<Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDACKCEVSQ6C2EXAMPLE</UserId><Account>123456789012</Account>
</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
	wantNone(t, "GetCallerIdentity", sts.CheckXMLOutput("GetCallerIdentity", []byte(gci)))

	// errors
	xerr := `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>EntityAlreadyExists</Code><Message>exists</Message></Error><RequestId>r</RequestId></ErrorResponse>`
	wantNone(t, "query error", iam.CheckXMLError("CreateUser", []byte(xerr)))
	wantProblem(t, "query error code", iam.CheckXMLError("CreateUser", []byte(strings.Replace(xerr, "EntityAlreadyExists", "UserExists", 1))), "UserExists")
	wantProblem(t, "query error type", iam.CheckXMLError("CreateUser", []byte(strings.Replace(xerr, "Sender", "Client", 1))), "Sender or Receiver")
}

func TestCheckXMLOutputEC2(t *testing.T) {
	ec2 := LoadOrSkip(t, "ec2")
	wantNone(t, "DescribeImages", ec2.CheckXMLOutput("DescribeImages", []byte(validDescribeImages)))
	edit := func(old, new string) []byte { return []byte(strings.Replace(validDescribeImages, old, new, 1)) }
	cases := []struct {
		name string
		body []byte
		frag []string
	}{
		{"member name not locationName", edit("<imageState>available</imageState>", "<State>available</State>"), []string{"imagesSet[0].State", "unknown element"}},
		{"bad enum", edit("<imageState>available</imageState>", "<imageState>ready</imageState>"), []string{"imageState", "not in enum ImageState"}},
		{"bad boolean", edit("<isPublic>false</isPublic>", "<isPublic>no</isPublic>"), []string{"isPublic", "boolean"}},
		{"bad nested integer", edit("<volumeSize>8</volumeSize>", "<volumeSize>8GB</volumeSize>"), []string{"blockDeviceMapping[0].ebs.volumeSize", "integer"}},
		{"bad nested enum", edit("<volumeType>gp3</volumeType>", "<volumeType>gp9</volumeType>"), []string{"ebs.volumeType", "enum"}},
		{"item vs member", edit("<item><key>Name</key><value>base</value></item>", "<member><key>Name</key><value>base</value></member>"), []string{"tagSet[0]", "want <item>"}},
		{"capitalized", edit("<key>Name</key>", "<Key>Name</Key>"), []string{"tagSet[0].Key", "unknown element"}},
		{"no requestId", edit("<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>", ""), []string{"requestId"}},
		{"query-style wrapper", []byte(strings.NewReplacer("<imagesSet>", "<DescribeImagesResult><imagesSet>", "</imagesSet>", "</imagesSet></DescribeImagesResult>").Replace(validDescribeImages)), []string{"DescribeImagesResult", "unknown element"}},
	}
	for _, tc := range cases {
		wantProblem(t, tc.name, ec2.CheckXMLOutput("DescribeImages", tc.body), tc.frag...)
	}
	xerr := `<Response><Errors><Error><Code>InvalidAMIID.NotFound</Code><Message>nope</Message></Error></Errors><RequestID>r</RequestID></Response>`
	wantNone(t, "ec2 error", ec2.CheckXMLError("DescribeImages", []byte(xerr)))
	wantProblem(t, "ec2 error code", ec2.CheckXMLError("DescribeImages", []byte(strings.Replace(xerr, "InvalidAMIID.NotFound", "ImageNotFound", 1))), "ImageNotFound")
	wantProblem(t, "json protocol", LoadOrSkip(t, "kms").CheckXMLOutput("Encrypt", []byte("<x/>")), "not query/ec2")
}

// Go structs as a server package might declare them.
type wsProps struct {
	RunningMode string   `json:"RunningMode,omitempty"`
	RootGiB     *int     `json:"RootVolumeSizeGib,omitempty"`
	Protocols   []string `json:"Protocols,omitempty"`
}

type wsCommon struct {
	WorkspaceID string `json:"WorkspaceId"`
}

type wsWorkspace struct {
	wsCommon
	State      string   `json:"State"`
	Properties *wsProps `json:"WorkspaceProperties,omitempty"`
	internal   int
	Ignored    string `json:"-"`
}

type wsDescribeOut struct {
	Workspaces []wsWorkspace `json:"Workspaces"`
	NextToken  *string       `json:"NextToken,omitempty"`
}

type badProps struct {
	RunningMode int    `json:"RunningMode"`
	Typo        string `json:"ComputeType"`
}

type badWorkspace struct {
	ID    string    `json:"WorkspaceID"`
	Props badProps  `json:"WorkspaceProperties"`
	When  time.Time `json:"UserName"`
}

type badDescribeOut struct {
	Workspaces []badWorkspace   `json:"Workspaces"`
	NextToken  map[string]int64 `json:"NextToken"`
}

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type ec2Image struct {
	ImageID string   `xml:"imageId"`
	State   string   `xml:"imageState"`
	Public  bool     `xml:"isPublic"`
	Tags    []ec2Tag `xml:"tagSet>item"`
}

type ec2DescribeImagesResponse struct {
	XMLName   struct{}   `xml:"DescribeImagesResponse"`
	RequestID string     `xml:"requestId"`
	Images    []ec2Image `xml:"imagesSet>item"`
}

type ec2DescribeImagesInput struct {
	ImageIDs []string `query:"ImageId"`
	Owners   []string `query:"Owner"`
	DryRun   bool     `query:"DryRun"`
	Bad      string   `query:"imageId"`
}

func TestCheckStructFields(t *testing.T) {
	ws := LoadOrSkip(t, "workspaces")
	wantNone(t, "good json struct", ws.CheckStructFields("DescribeWorkspacesResult", reflect.TypeFor[wsDescribeOut](), "json"))
	p := ws.CheckStructFields("DescribeWorkspacesResult", reflect.TypeFor[badDescribeOut](), "json")
	wantProblem(t, "unknown field", p, "WorkspaceID", "not a member of Workspace")
	wantProblem(t, "nested unknown", p, "Props.Typo", "ComputeType")
	wantProblem(t, "kind", p, "RunningMode", "int", "string")
	wantProblem(t, "time for string", p, "When", "time.Time")
	wantProblem(t, "map for string", p, "NextToken", "map")

	ec2 := LoadOrSkip(t, "ec2")
	// the response root is not a shape; check the member list against the output shape
	type out struct {
		Images []ec2Image `xml:"imagesSet>item"`
	}
	wantNone(t, "xml", ec2.CheckStructFields("DescribeImagesResult", reflect.TypeFor[out](), "xml"))
	type badOut struct {
		Images []ec2Image `xml:"imagesSet>member"`
		Next   string     `xml:"NextToken"`
	}
	p = ec2.CheckStructFields("DescribeImagesResult", reflect.TypeFor[badOut](), "xml")
	wantProblem(t, "xml wrapper", p, `"member"`, `want "item"`)
	wantProblem(t, "xml name", p, "NextToken", "not a member")
	p = ec2.CheckStructFields("DescribeImagesRequest", reflect.TypeFor[ec2DescribeImagesInput](), "query")
	if len(p) != 1 {
		t.Errorf("query tags: want exactly one problem (imageId), got %v", p)
	}
	wantProblem(t, "query name", p, `"imageId"`)
	_ = ec2DescribeImagesResponse{}
}

// TestCheckStructComplete: a member of the request, at any depth, that no
// field carries is reported; a struct with every member is clean.
func TestCheckStructComplete(t *testing.T) {
	ws := LoadOrSkip(t, "workspaces")
	type props struct {
		RunningMode string `json:"RunningMode"`
	}
	type req struct {
		WorkspaceId         string `json:"WorkspaceId"`
		WorkspaceProperties *props `json:"WorkspaceProperties"`
	}
	p := ws.CheckStructComplete("ModifyWorkspacePropertiesRequest", reflect.TypeFor[req](), "json")
	wantProblem(t, "top-level member", p, "DataReplication", "has no field")
	wantProblem(t, "nested member", p, "ComputeTypeName", "of WorkspaceProperties has no field")
	if q := ws.CheckStructFields("ModifyWorkspacePropertiesRequest", reflect.TypeFor[req](), "json"); len(q) != 0 {
		t.Errorf("CheckStructFields reports missing members: %v", q)
	}
	type full struct {
		ResourceId string `json:"ResourceId"`
	}
	wantNone(t, "complete", ws.CheckStructComplete("DescribeTagsRequest", reflect.TypeFor[full](), "json"))
}
