package sigv4

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"
)

// jsScript drives JavaScript SDK v3 clients against the verifier.
const jsScript = `
const cfg = JSON.parse(process.argv[1]);
const base = { region: "us-east-1", endpoint: cfg.endpoint, maxAttempts: 1,
  credentials: { accessKeyId: cfg.akid, secretAccessKey: cfg.secret, sessionToken: cfg.token || undefined } };
const calls = [
  ["@aws-sdk/client-sts", "STSClient", "GetCallerIdentityCommand", {}],
  ["@aws-sdk/client-workspaces", "WorkSpacesClient", "DescribeWorkspacesCommand", { Limit: 5 }],
  ["@aws-sdk/client-kms", "KMSClient", "ListKeysCommand", {}],
  ["@aws-sdk/client-ec2", "EC2Client", "DescribeRegionsCommand", { RegionNames: ["us-east-1"] }],
  ["@aws-sdk/client-directory-service", "DirectoryServiceClient", "DescribeDirectoriesCommand", {}],
];
(async () => {
  for (const [pkg, client, cmd, input] of calls) {
    const m = require(pkg);
    try { await new m[client](base).send(new m[cmd](input)); }
    catch (e) { process.stderr.write(pkg + ": " + e.name + " " + e.message + "\n"); }
  }
})();
`

// TestJSSDKv3 runs JavaScript SDK v3 clients against the verifier. It is
// opt-in: set SIGV4_JS_NODE_PATH to a node_modules directory holding
// @aws-sdk/client-{sts,workspaces,kms,ec2,directory-service}.
func TestJSSDKv3(t *testing.T) {
	nodePath := os.Getenv("SIGV4_JS_NODE_PATH")
	if nodePath == "" {
		t.Skip("SIGV4_JS_NODE_PATH not set")
	}
	vs := newVerifyServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, token := range []string{"", testToken} {
		arg, _ := json.Marshal(map[string]string{"endpoint": vs.URL, "akid": testAKID, "secret": testSecret, "token": token})
		cmd := exec.CommandContext(ctx, "node", "-e", jsScript, string(arg))
		cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		t.Logf("client-side errors (response parsing only):\n%s", out)
	}
	vs.check(t, 10)
}
