package sigv4

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
)

// verifyServer is an HTTP server that verifies every request with the real
// clock and records the outcome.
type verifyServer struct {
	*httptest.Server
	mu      sync.Mutex
	results []string // "ok service akid token" or "FAIL ..."
}

const stsIdentityXML = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/test</Arn><UserId>AIDEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata></GetCallerIdentityResponse>`

func newVerifyServer(t *testing.T) *verifyServer {
	vs := &verifyServer{}
	vs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		res, err := Verify(r.Context(), r, body, time.Now(), defaultLookup)
		vs.mu.Lock()
		if err != nil {
			vs.results = append(vs.results, fmt.Sprintf("FAIL %s %s%s: %v\n  Authorization: %s\n  headers: %v",
				r.Method, r.URL.Path, "?"+r.URL.RawQuery, err, r.Header.Get("Authorization"), r.Header))
		} else {
			vs.results = append(vs.results, "ok "+res.Service+" "+res.AccessKeyID+" "+res.SessionToken+fmt.Sprintf(" presigned=%v", res.Presigned))
		}
		vs.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if strings.Contains(string(body), "GetCallerIdentity") || strings.Contains(r.URL.RawQuery, "GetCallerIdentity") {
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, stsIdentityXML)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}))
	t.Cleanup(vs.Close)
	return vs
}

func (vs *verifyServer) check(t *testing.T, min int) {
	t.Helper()
	vs.mu.Lock()
	defer vs.mu.Unlock()
	ok := 0
	for _, r := range vs.results {
		if strings.HasPrefix(r, "ok ") {
			ok++
		} else {
			t.Error(r)
		}
	}
	if ok < min {
		t.Errorf("verified %d requests, want at least %d: %v", ok, min, vs.results)
	}
}

// TestAWSSDKGoV2Clients drives real aws-sdk-go-v2 service clients (which add
// amz-sdk-* headers, User-Agent, X-Amz-Target, form bodies, ...) against the
// verifier.
func TestAWSSDKGoV2Clients(t *testing.T) {
	vs := newVerifyServer(t)
	ctx := context.Background()
	for _, token := range []string{"", testToken} {
		cfg := aws.Config{
			Region:           "us-east-1",
			Credentials:      credentials.NewStaticCredentialsProvider(testAKID, testSecret, token),
			BaseEndpoint:     aws.String(vs.URL),
			RetryMaxAttempts: 1,
		}
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(id.Account) != "123456789012" {
			t.Errorf("sts: %v", err)
		}
		// The responses below are not valid for every operation; only the
		// server-side verification matters.
		_, _ = iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
		_, _ = workspaces.NewFromConfig(cfg).DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
		_, _ = directoryservice.NewFromConfig(cfg).DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{})
		_, _ = kms.NewFromConfig(cfg).ListKeys(ctx, &kms.ListKeysInput{})
		_, _ = ec2.NewFromConfig(cfg).DescribeRegions(ctx, &ec2.DescribeRegionsInput{RegionNames: []string{"us-east-1", "eu-west-1"}})
		_, _ = cloudtrail.NewFromConfig(cfg).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	}
	vs.check(t, 14)
}

func havePythonBotocore(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	if err := exec.Command("python3", "-c", "import botocore, boto3").Run(); err != nil {
		t.Skip("botocore/boto3 not installed")
	}
}

// botocoreScript signs requests with botocore's SigV4Auth / SigV4QueryAuth,
// sends them with botocore's own HTTP session, then drives boto3 clients for
// every service deskplane emulates. It prints one JSON object per direct
// request.
const botocoreScript = `
import json, sys
import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session
import boto3
from botocore.config import Config

cfg = json.loads(sys.argv[1])
ep = cfg["endpoint"]
def creds(token=False):
    return Credentials(cfg["akid"], cfg["secret"], cfg["token"] if token else None)
sess = URLLib3Session()
out = []
def send(name, req, signer):
    signer.add_auth(req)
    p = req.prepare()
    r = sess.send(p)
    out.append({"name": name, "status": r.status_code, "body": r.text[:300],
                "signed_headers": (req.headers.get("Authorization") or "").split("SignedHeaders=")[-1].split(",")[0]})

send("json POST X-Amz-Target", AWSRequest(method="POST", url=ep + "/", data=b'{"Limit":5}', headers={
    "X-Amz-Target": "WorkspacesService.DescribeWorkspaces", "Content-Type": "application/x-amz-json-1.1"}),
    SigV4Auth(creds(), "workspaces", "us-east-1"))
send("query form POST with token", AWSRequest(method="POST", url=ep + "/", data="Action=GetCallerIdentity&Version=2011-06-15",
    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
    SigV4Auth(creds(True), "sts", "us-east-1"))
send("GET query params", AWSRequest(method="GET", url=ep + "/", params={
    "Action": "DescribeRegions", "Version": "2016-11-15", "RegionName.1": "us-east-1",
    "Filter.1.Value.1": "a b/c~*+=&'()!", "Empty": ""}),
    SigV4Auth(creds(), "ec2", "eu-west-1"))
send("GET query in url", AWSRequest(method="GET", url=ep + "/?Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fdivision%2F"),
    SigV4Auth(creds(), "iam", "us-east-1"))
send("headers botocore signs", AWSRequest(method="POST", url=ep + "/", data=b'{}', headers={
    "X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1",
    "X-Custom-Header": "  spaced   value  ", "amz-sdk-invocation-id": "abc-123", "amz-sdk-request": "attempt=1; max=3",
    "Content-MD5": "mZFLkyvTelC5g8XnyQrpOw==", "X-Amz-Content-SHA256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "Cache-Control": "no-cache", "User-Agent": "Boto3/test", "X-Amzn-Trace-Id": "Root=1-abc"}),
    SigV4Auth(creds(True), "kms", "us-east-1"))
send("restjson ds-data", AWSRequest(method="POST", url=ep + "/Users/ListUsers?DirectoryId=d-1234567890", data=b'{"MaxResults":5}',
    headers={"Content-Type": "application/json"}),
    SigV4Auth(creds(), "ds-data", "us-east-1"))
send("restjson escaped path", AWSRequest(method="GET", url=ep + "/Users/Jane%20Doe/a~b%2Bc"),
    SigV4Auth(creds(), "ds-data", "us-east-1"))
send("presign GET", AWSRequest(method="GET", url=ep + "/?Action=GetCallerIdentity&Version=2011-06-15"),
    SigV4QueryAuth(creds(True), "sts", "us-east-1", expires=900))
send("presign GET with signed header (EKS)", AWSRequest(method="GET", url=ep + "/?Action=GetCallerIdentity&Version=2011-06-15",
    headers={"x-k8s-aws-id": "my-cluster"}),
    SigV4QueryAuth(creds(), "sts", "us-east-1", expires=60))
send("presign POST form moved to query", AWSRequest(method="POST", url=ep + "/", data={"Action": "ListUsers", "Version": "2010-05-08"},
    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
    SigV4QueryAuth(creds(), "iam", "us-east-1", expires=3600))

# A client that signs headers the SDK signer ignores (aws-sdk-java v1 signs User-Agent).
saved = list(botocore.auth.SIGNED_HEADERS_BLACKLIST)
botocore.auth.SIGNED_HEADERS_BLACKLIST[:] = [h for h in saved if h not in ("user-agent", "x-amzn-trace-id")]
send("signs user-agent and x-amzn-trace-id", AWSRequest(method="POST", url=ep + "/", data=b'{}', headers={
    "X-Amz-Target": "DirectoryService_20150416.DescribeDirectories", "Content-Type": "application/x-amz-json-1.1",
    "User-Agent": "aws-sdk-java/1.12.700 Linux/6.1", "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"}),
    SigV4Auth(creds(), "ds", "us-east-1"))
botocore.auth.SIGNED_HEADERS_BLACKLIST[:] = saved

print(json.dumps(out))

# Real boto3 clients (the same code path as the AWS CLI).
s = boto3.session.Session(aws_access_key_id=cfg["akid"], aws_secret_access_key=cfg["secret"],
                          aws_session_token=cfg["token"], region_name="us-east-1")
c = Config(retries={"max_attempts": 1, "mode": "standard"})
for svc, op, args in [("sts", "get_caller_identity", {}), ("iam", "list_users", {}),
                      ("workspaces", "describe_workspaces", {}), ("ds", "describe_directories", {}),
                      ("ds-data", "list_users", {"DirectoryId": "d-1234567890"}), ("kms", "list_keys", {}),
                      ("ec2", "describe_regions", {"RegionNames": ["us-east-1"]}), ("cloudtrail", "describe_trails", {})]:
    try:
        getattr(s.client(svc, endpoint_url=ep, config=c), op)(**args)
    except Exception as e:
        sys.stderr.write("%s.%s: %s\n" % (svc, op, e))
`

func TestBotocore(t *testing.T) {
	havePythonBotocore(t)
	vs := newVerifyServer(t)
	arg, _ := json.Marshal(map[string]string{"endpoint": vs.URL, "akid": testAKID, "secret": testSecret, "token": testToken})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-c", botocoreScript, string(arg))
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var direct []struct {
		Name          string `json:"name"`
		Status        int    `json:"status"`
		Body          string `json:"body"`
		SignedHeaders string `json:"signed_headers"`
	}
	if err := json.Unmarshal(out, &direct); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	for _, d := range direct {
		t.Logf("%-40s %d signed=%s", d.Name, d.Status, d.SignedHeaders)
		if d.Status != http.StatusOK {
			t.Errorf("%s: status %d: %s", d.Name, d.Status, d.Body)
		}
	}
	if len(direct) != 11 {
		t.Errorf("got %d direct results, want 11", len(direct))
	}
	vs.check(t, 11+8)
	if stderr.Len() > 0 {
		t.Logf("boto3 client errors (response parsing only):\n%s", stderr.String())
	}
}

// TestAWSCLI runs the unmodified AWS CLI v1 against the verifier.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	vs := newVerifyServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, token := range []string{"", testToken} {
		cmd := exec.CommandContext(ctx, "aws", "sts", "get-caller-identity", "--endpoint-url", vs.URL, "--output", "json")
		cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
			"AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+testSecret, "AWS_SESSION_TOKEN="+token,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "123456789012") {
			t.Errorf("aws sts get-caller-identity: %v\n%s", err, out)
		}
	}
	vs.check(t, 2)
}
