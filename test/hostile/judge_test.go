package hostile

import (
	"math/rand/v2"
	"net/url"
	"regexp"
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

// TestExcluded holds the pending-fix exclusion to ARNs with an empty
// service, in JSON and form bodies.
func TestExcluded(t *testing.T) {
	for body, want := range map[string]bool{
		`{"PolicyArn":"arn:aws::::aaaa"}`:                          true,
		`{"PolicyArn":"arn:aws:iam::111122223333:policy/p"}`:       false,
		"Action=GetPolicy&PolicyArn=arn%3Aaws%3A%3A%3A%3Aaaaa":     true,
		"Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3A1%3Ap%2F": false,
	} {
		w := &wireReq{Body: []byte(body), Query: url.Values{}}
		if got := excluded(w) != ""; got != want {
			t.Errorf("%s: excluded=%v, want %v", body, got, want)
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
