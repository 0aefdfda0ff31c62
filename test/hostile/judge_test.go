package hostile

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsmodel"
)

// TestJudge holds the oracle's verdicts on answers of each kind.
func TestJudge(t *testing.T) {
	m := awsmodel.LoadOrSkip(t, "workspaces")
	cases := []struct {
		a    answer
		head int
		ok   bool
	}{
		{answer{Status: 200, RequestID: "r"}, 100, true},
		{answer{Status: 500, RequestID: "r", Code: "InternalFailure"}, 100, false},
		{answer{Status: 400, RequestID: "r", Code: "InternalFailure"}, 100, false},
		{answer{Status: 400, RequestID: "r"}, 100, false},
		{answer{Status: 400, Code: "ValidationException"}, 100, false},
		{answer{Status: 400, RequestID: "r", Code: "ValidationException"}, 100, true},
		{answer{Status: 400, RequestID: "r", Code: "ResourceNotFoundException"}, 100, true},
		{answer{Status: 400, RequestID: "r", Code: "InvalidParameterValuesException"}, 100, true}, // widespread
		{answer{Status: 400, RequestID: "r", Code: "NoSuchEntity"}, 100, false},
		{answer{Status: 431}, 200 << 10, true},
		{answer{Status: 431}, 100, false},
	}
	for i, c := range cases {
		why := judge(m, "DescribeWorkspaces", &c.a, c.head)
		if (why == "") != c.ok {
			t.Errorf("case %d %+v: verdict %q, want ok=%v", i, c.a, why, c.ok)
		}
	}
}

// TestExcluded holds the pending-fix exclusion mechanism to the strings a
// request carries, in JSON and form bodies, at any depth, and in bodies
// that do not parse, with the suite's first exclusion (strings with six
// ':'-separated fields and an empty third, held back until the CloudTrail
// writer stopped panicking on them) installed for the test.
func TestExcluded(t *testing.T) {
	saved := pendingFixExclusions
	t.Cleanup(func() { pendingFixExclusions = saved })
	pendingFixExclusions = append(saved[:len(saved):len(saved)], struct {
		name  string
		match func(strs []string) bool
	}{"empty-service-arn", func(strs []string) bool {
		for _, v := range strs {
			if parts := strings.SplitN(v, ":", 6); len(parts) == 6 && parts[2] == "" {
				return true
			}
		}
		return false
	}})
	form := "application/x-www-form-urlencoded; charset=utf-8"
	for _, c := range []struct {
		body, ct string
		want     bool
	}{
		{`{"PolicyArn":"arn:aws::::aaaa"}`, "application/x-amz-json-1.1", true},
		{`{"A":[{"B":"ARN:AWS::us-east-1:111122223333:x"}]}`, "application/x-amz-json-1.1", true},
		{`{"PolicyArn":"arn:aws:iam::111122223333:policy/p"}`, "application/x-amz-json-1.1", false},
		{`{"PolicyArn":"arn:aws::::aaaa"`, "application/x-amz-json-1.1", true}, // truncated
		{"Action=GetPolicy&PolicyArn=arn%3Aaws%3A%3A%3A%3Aaaaa", form, true},
		{"Action=GetPolicy&PolicyArn=urn%3Aaws%3A%3Ax%3Ay%3Az", form, true},
		{"Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3A1%3Ap%2F", form, false},
	} {
		w := &wireReq{Body: []byte(c.body), Query: url.Values{}, Header: http.Header{"Content-Type": {c.ct}}}
		if got := excluded(w) != ""; got != c.want {
			t.Errorf("%s: excluded=%v, want %v", c.body, got, c.want)
		}
	}
}

// TestFromPattern holds generated strings to the patterns they come from.
func TestFromPattern(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range []string{`^ws-[0-9a-z]{8,63}$`, `^d-[0-9a-f]{8,63}$`, `^arn:aws[a-z-]*:iam::\d{12}:role/.+$`, `[\w+=,.@-]+`, `^(alias/)[a-zA-Z0-9:/_-]+$`} {
		re := regexp.MustCompile(p)
		for i := 0; i < 50; i++ {
			v, ok := fromPattern(r, p)
			if !ok || !re.MatchString(v) {
				t.Fatalf("pattern %s: generated %q (ok=%v)", p, v, ok)
			}
		}
	}
}
