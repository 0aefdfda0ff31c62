package hostile

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

var (
	flagCalls    = flag.Int("hostile.calls", 3000, "number of hostile calls (half by the user with no policy, half by the admin)")
	flagSeed     = flag.Uint64("hostile.seed", 0, "seed of the run (0: a new one, printed)")
	flagParallel = flag.Int("hostile.parallel", 4, "concurrent callers")
	flagCall     = flag.Int("hostile.call", -1, "replay only the call of this index (with the seed and -hostile.calls of the failing run)")
	flagBin      = flag.String("hostile.bin", "", "a built deskplane binary to run (default: build cmd/deskplane)")
	flagVerbose  = flag.Bool("hostile.v", false, "log every request and answer")
	flagMaxFail  = flag.Int64("hostile.maxfail", 40, "stop after this many failures")
)

// powerlessUser is the IAM user with no policy at all.
const powerlessUser = "hostile-nopolicy"

// principal is who signs a call.
type principal struct {
	name  string
	creds aws.Credentials
}

// run is one run of the suite.
type run struct {
	t  *testing.T
	p  *proc
	hc *http.Client
	// hcExpect sends "Expect: 100-continue" requests (refusedUnread).
	hcExpect *http.Client
	seed     uint64
	calls    int
	ops      []servedOperation
	models   map[string]*awsmodel.Model
	pool     *pool
	admin    principal
	nopolicy principal

	failures atomic.Int64
	mu       sync.Mutex
	status   map[int]int
	codes    map[string]int
	skipped  map[string]int
	okOps    map[string]bool
	// okPowerless counts, by operation, the 200 answers to the user with
	// no policy (operations that need no permission, and batches that
	// refuse per item).
	okPowerless map[string]int
	// slowest are the slowest calls, slowest first.
	slowest []slowCall
	sent    int
}

func TestHostile(t *testing.T) {
	calls := *flagCalls
	if testing.Short() && !flagSet("hostile.calls") {
		calls = 500
	}
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("hostile: seed=%d calls=%d parallel=%d (replay: go test ./test/hostile -run TestHostile -hostile.seed=%d -hostile.calls=%d)", seed, calls, *flagParallel, seed, calls)
	fmt.Fprintf(os.Stderr, "hostile: seed=%d calls=%d\n", seed, calls)

	models := map[string]*awsmodel.Model{}
	var ops []servedOperation
	for _, o := range operationTables(t) {
		m := models[o.Service]
		if m == nil {
			m = awsmodel.LoadOrSkip(t, o.Service)
			models[o.Service] = m
		}
		if _, ok := m.Operation(o.Op); !ok {
			t.Errorf("%s.%s is served but not in botocore's model", o.Service, o.Op)
			continue
		}
		ops = append(ops, o)
	}
	if len(ops) == 0 {
		t.Fatal("no operations in the server's tables")
	}
	bin := buildBinary(t)
	p := startProc(t, bin)
	r := &run{t: t, p: p, seed: seed, calls: calls, ops: ops, models: models,
		hc:       &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
		hcExpect: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}},
		status:   map[int]int{}, codes: map[string]int{}, skipped: map[string]int{}, okOps: map[string]bool{}, okPowerless: map[string]int{},
		admin: principal{"admin", aws.Credentials{AccessKeyID: config.AdminKeyID, SecretAccessKey: config.AdminSecret}}}
	ctx := context.Background()
	empty := r.digest(ctx)
	r.setup(ctx)
	t.Logf("hostile: %d operations of %d services; pool: %s", len(ops), len(models), r.pool)

	n := calls
	half := n / 2
	open, err := openKeys(ctx, testserver.ConfigFor(r.p.URL, config.AdminKeyID, config.AdminSecret, ""))
	if err != nil {
		t.Fatalf("find the keys open to everyone: %v", err)
	}
	if len(open) > 0 {
		t.Logf("hostile: keys spared (open to every principal, or their policy unreadable by the admin): %s", open)
	}
	before := r.digest(ctx)
	if before.SHA256 == empty.SHA256 {
		t.Fatal("the store's digest did not change over the setup's writes: it cannot tell a change")
	}
	start := time.Now()
	r.phase(ctx, 0, half, r.nopolicy)
	t.Logf("hostile: %d calls by %s in %v", half, powerlessUser, time.Since(start).Round(time.Millisecond))
	if r.p.dead() {
		t.FailNow()
	}
	after := r.digest(ctx)
	diff, allowed := diffDigests(before, after, open.allows)
	if diff != "" {
		r.failures.Add(1)
		t.Errorf("seed %d: the user with no policy changed the store (calls 0..%d):\n%s", seed, half-1, diff)
	}
	if allowed != "" {
		t.Logf("hostile: the user with no policy changed keys whose key policy allows everyone (%s), as AWS allows:\n%s", open, allowed)
	}
	start = time.Now()
	r.phase(ctx, half, n, r.admin)
	t.Logf("hostile: %d calls by admin in %v", n-half, time.Since(start).Round(time.Millisecond))
	// What the calls stored must not break the reads that list it.
	r.readAll(ctx)
	if err := r.p.healthy(ctx, r.hc); err != nil {
		t.Errorf("after the final reads: %v", err)
	}
	if r.p.dead() {
		t.FailNow()
	}
	r.summary()
}

// setup creates the user with no policy and fills the pool with what the
// server's read operations answer to the admin.
func (r *run) setup(ctx context.Context) {
	t := r.t
	cli := iam.NewFromConfig(testserver.ConfigFor(r.p.URL, config.AdminKeyID, config.AdminSecret, ""))
	if _, err := cli.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(powerlessUser)}); err != nil {
		t.Fatalf("create the user with no policy: %v", err)
	}
	k, err := cli.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(powerlessUser)})
	if err != nil {
		t.Fatalf("create its access key: %v", err)
	}
	r.nopolicy = principal{powerlessUser, aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}}
	// The pool never holds what would let the admin lock itself out.
	r.pool = newPool(config.AdminKeyID, "admin", "FullAccess", powerlessUser, *k.AccessKey.AccessKeyId)
	r.readAll(ctx)
	// Build some state, so that ids of every kind are in the pool: the
	// operations that create things, called by the admin with plausible
	// values (twelve rounds, re-reading every third, so that what one creates
	// feeds the next), each
	// answer harvested. The order and the values depend only on the seed.
	created := 0
	for round := 0; round < 12; round++ {
		for j, o := range r.ops {
			if !createName(o.Op) {
				continue
			}
			m := r.models[o.Service]
			mop, _ := m.Operation(o.Op)
			rng := rand.New(rand.NewPCG(r.seed^0x5e7, uint64(round*len(r.ops)+j)))
			g := &gen{m: m, r: rng, pool: r.pool}
			w, err := serialize(m, mop, o.Target, g.input(mop), 0)
			if err != nil || excluded(w) != "" {
				continue
			}
			a, req, err := send(ctx, r.hc, r.p.URL, o.Service, r.admin.creds, w)
			if err != nil {
				t.Fatalf("setup: %s.%s: %v", o.Service, o.Op, err)
			}
			if why := judge(m, o.Op, a, headSize(req)); why != "" {
				r.fail(-1, r.admin, o, req, w.Body, "in the setup (round %d): %s\nanswer: %d %s: %.600s", round, why, a.Status, a.Code, a.Body)
			}
			if *flagVerbose {
				t.Logf("setup %s.%s -> %d %s %.200s", o.Service, o.Op, a.Status, a.Code, a.Body)
			}
			if a.Status == http.StatusOK {
				created++
				harvest(r.pool, a.Body)
			}
		}
		if round%3 == 2 {
			r.pool.sorted()
			r.readAll(ctx)
		}
	}
	r.pool.sorted()
	t.Logf("hostile: setup: %d creating calls succeeded", created)
}

// readAll calls, as the admin, every read operation that needs no input,
// and harvests the answers into the pool.
func (r *run) readAll(ctx context.Context) {
	for _, o := range r.ops {
		m := r.models[o.Service]
		mop, _ := m.Operation(o.Op)
		if !readOnlyName(o.Op) {
			continue
		}
		if s := m.Shapes[mop.Input]; s != nil && len(s.Required) > 0 {
			continue
		}
		w, err := serialize(m, mop, o.Target, &obj{}, 0)
		if err != nil {
			r.t.Fatal(err)
		}
		a, req, err := send(ctx, r.hc, r.p.URL, o.Service, r.admin.creds, w)
		if err != nil {
			r.t.Fatalf("setup: %s.%s: %v", o.Service, o.Op, err)
		}
		if why := judge(m, o.Op, a, headSize(req)); why != "" {
			r.fail(-1, r.admin, o, req, w.Body, "reading the setup's state: %s\nanswer: %d %s: %.600s", why, a.Status, a.Code, a.Body)
		}
		if a.Status == http.StatusOK {
			harvest(r.pool, a.Body)
		}
	}
}

// createName tells the operations that create things by their names.
func createName(op string) bool {
	for _, p := range []string{"Create", "Register", "Import", "Put", "Allocate", "Copy", "Authorize", "Attach", "Add", "Tag"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

func readOnlyName(op string) bool {
	for _, p := range []string{"Describe", "List", "Get"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// harvest adds the strings of an answer (JSON or XML) to the pool under
// the names of their members.
func harvest(p *pool, body []byte) {
	var v any
	if json.Unmarshal(body, &v) == nil {
		harvestJSON(p, "", v)
		return
	}
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	var stack []string
	var text string
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch x := tok.(type) {
		case xml.StartElement:
			stack = append(stack, x.Name.Local)
			text = ""
		case xml.CharData:
			text = strings.TrimSpace(string(x))
		case xml.EndElement:
			if len(stack) == 0 {
				return
			}
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if (name == "member" || name == "item") && len(stack) > 0 {
				name = singular(stack[len(stack)-1])
			}
			if text != "" {
				p.add(name, text)
				p.add(strings.ToUpper(name[:1])+name[1:], text)
			}
			text = ""
		}
	}
}

func harvestJSON(p *pool, name string, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			harvestJSON(p, k, x[k])
		}
	case []any:
		for _, e := range x {
			harvestJSON(p, singular(name), e)
		}
	case string:
		p.add(name, x)
	}
}

// phase runs the calls of indexes [from, to) signed by who.
func (r *run) phase(ctx context.Context, from, to int, who principal) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for w := 0; w < max(1, *flagParallel); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to || r.p.dead() || r.failures.Load() > *flagMaxFail {
					return
				}
				if *flagCall >= 0 && i != *flagCall {
					continue
				}
				r.call(ctx, i, who)
			}
		}()
	}
	wg.Wait()
}

// call builds, sends and judges call i.
func (r *run) call(ctx context.Context, i int, who principal) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(i)))
	perm := rand.New(rand.NewPCG(r.seed, ^uint64(0))).Perm(len(r.ops))
	o := r.ops[perm[i%len(r.ops)]]
	m := r.models[o.Service]
	mop, _ := m.Operation(o.Op)
	g := &gen{m: m, r: rng, p: pick(rng, []float64{0, 0.05, 0.15, 0.4}), pool: r.pool}
	in := g.input(mop)
	corrupt := 0
	if rng.IntN(40) == 0 {
		corrupt = 1 + rng.IntN(7)
	}
	w, err := serialize(m, mop, o.Target, in, corrupt)
	if err != nil {
		r.fail(i, who, o, nil, nil, "cannot serialize: %v", err)
		return
	}
	if rng.IntN(50) == 0 {
		// a hostile signing region: the region keys the records of a call
		w.Region = pick(rng, []string{"zz-fake-1", "US-EAST-1", "us-east-1/..", "..", "eu-west-1", "ap-southeast-2", strings.Repeat("r", 300), "us-east-1%00", "*", "aws-global"})
	}
	if name := excluded(w); name != "" {
		r.mu.Lock()
		r.skipped[name]++
		r.mu.Unlock()
		return
	}
	began := time.Now()
	a, req, err := send(ctx, r.hc, r.p.URL, o.Service, who.creds, w)
	r.timed(i, o, time.Since(began))
	if err != nil {
		if r.p.dead() {
			r.fail(i, who, o, req, w.Body, "the server died: %v (exit: %v)\nserver log tail:\n%s", err, r.p.err, r.p.logTail())
			return
		}
		if len(w.Body) > awsproto.MaxBody && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
			// The server answered 413 after the first MiB and closed the
			// connection while the client was still writing the rest: the
			// client saw its write fail before it read the answer.
			r.mu.Lock()
			r.status[http.StatusRequestEntityTooLarge]++
			r.mu.Unlock()
		} else if a, why := r.refusedUnread(ctx, o, who, w, err); why == "" {
			r.mu.Lock()
			r.status[a.Status]++
			r.mu.Unlock()
		} else {
			r.fail(i, who, o, req, w.Body, "no answer: %v (%s)", err, why)
		}
	} else {
		if *flagVerbose {
			r.t.Logf("call %d %s %s.%s -> %d %s in %v", i, who.name, o.Service, o.Op, a.Status, a.Code, time.Since(began).Round(time.Millisecond))
		}
		r.mu.Lock()
		r.sent++
		r.status[a.Status]++
		if a.Code != "" {
			r.codes[o.Service+" "+a.Code]++
		}
		if a.Status == http.StatusOK {
			r.okOps[o.Service+"."+o.Op+o.Target] = true
			if who.name == powerlessUser {
				r.okPowerless[o.Service+"."+o.Op]++
			}
		}
		r.mu.Unlock()
		if why := judge(m, o.Op, a, headSize(req)); why != "" {
			r.fail(i, who, o, req, w.Body, "%s\nanswer: %d %s: %.600s", why, a.Status, a.Code, a.Body)
		}
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.p.healthy(hctx, r.hc); err != nil {
		detail := ""
		if r.p.dead() {
			detail = fmt.Sprintf(" (exit: %v)\nserver log tail:\n%s", r.p.err, r.p.logTail())
		}
		r.fail(i, who, o, req, w.Body, "after this call, %v%s", err, detail)
	}
}

// serverFaultCodes are codes of the common sets that mean a server fault:
// never a right answer to a client's input.
var serverFaultCodes = map[string]bool{
	"InternalFailure": true, "InternalError": true, "InternalServerError": true, "InternalServerException": true,
	"ServiceUnavailable": true, "ServiceUnavailableException": true, "Unavailable": true,
}

// maxRequestHead is the server's limit on a request's line and headers
// (net/http's MaxHeaderBytes in server.Start, plus the 4 KiB net/http
// allows over it). A longer head is refused by net/http itself with a
// plain 431 before any AWS code runs; the AWS front ends refuse such
// requests before the service too.
const maxRequestHead = 64<<10 + 4096

// judge returns why an answer breaks the rules, or "". The allowed codes
// of an operation come from the model: the operation's declared errors,
// the errors the model declares on at least half of the service's
// operations ([awsmodel.Model.WidespreadErrorCodes]), and the common
// errors of the service's protocol ([awsmodel.Model.IsErrorCode]).
func judge(m *awsmodel.Model, op string, a *answer, head int) string {
	if a.Status == http.StatusRequestHeaderFieldsTooLarge && head > maxRequestHead-4096 {
		return ""
	}
	if a.RequestID == "" {
		return "answer without X-Amzn-RequestId"
	}
	switch {
	case a.Status >= 500:
		return fmt.Sprintf("a %d answer (a server fault)", a.Status)
	case a.Status == http.StatusOK:
		return ""
	case a.Code == "":
		return "a refusal without an error code in the protocol's envelope"
	case serverFaultCodes[a.Code]:
		return fmt.Sprintf("a server-fault code %s", a.Code)
	case !m.IsErrorCode(op, a.Code) && !slices.Contains(m.WidespreadErrorCodes(), a.Code):
		return fmt.Sprintf("error code %s is neither one of %s's errors in the model %v, nor one of the service's widespread errors %v, nor a common error of the %s protocol",
			a.Code, op, m.ErrorCodes(op), m.WidespreadErrorCodes(), m.Protocol())
	}
	if s, ok := m.ErrorShapeForCode(op, a.Code); ok && s.Error != nil && s.Error.HTTPStatusCode != 0 && s.Error.HTTPStatusCode != a.Status {
		return fmt.Sprintf("error %s with status %d; the model says %d", a.Code, a.Status, s.Error.HTTPStatusCode)
	}
	return ""
}

func (r *run) fail(i int, who principal, o servedOperation, req *http.Request, body []byte, format string, args ...any) {
	n := r.failures.Add(1)
	if n > *flagMaxFail {
		return
	}
	r.t.Errorf("FAIL seed=%d call=%d (replay: -hostile.seed=%d -hostile.calls=%d -hostile.call=%d) signed by %s, %s.%s: %s\nrequest:\n%s",
		r.seed, i, r.seed, r.calls, i, who.name, o.Service, o.Op, fmt.Sprintf(format, args...), dump(req, body))
}

// refusedUnread tells whether a call whose body write failed (err) was
// refused by the server before it read the body: the gateway cuts off at
// once the connection of a request that does not authenticate (a hostile
// signing region, a corrupted signature), so a client still writing its
// body sees EPIPE or ECONNRESET instead of the answer. It sends the same
// request again with "Expect: 100-continue", so that the client waits for
// the answer before it writes the body, and holds that the answer is a
// refusal the model allows. It returns that answer, or why not.
func (r *run) refusedUnread(ctx context.Context, o servedOperation, who principal, w *wireReq, err error) (*answer, string) {
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		return nil, "not a connection cut off while the body was written"
	}
	again := *w
	again.Header = w.Header.Clone()
	if again.Header == nil {
		again.Header = http.Header{}
	}
	again.Header.Set("Expect", "100-continue")
	a, req, err := send(ctx, r.hcExpect, r.p.URL, o.Service, who.creds, &again)
	if err != nil {
		return nil, fmt.Sprintf("sent again with Expect: 100-continue: %v", err)
	}
	if a.Status < 400 || a.Status >= 500 || !a.Closed {
		return nil, fmt.Sprintf("sent again with Expect: 100-continue, it answered %d %s (Connection: close %v), not a refusal that cuts the connection", a.Status, a.Code, a.Closed)
	}
	if why := judge(r.models[o.Service], o.Op, a, headSize(req)); why != "" {
		return nil, fmt.Sprintf("sent again with Expect: 100-continue: %s (answer %d %s)", why, a.Status, a.Code)
	}
	return a, ""
}

// digestDoc is GET /_deskplane/digest's answer.
type digestDoc struct {
	SHA256 string `json:"sha256"`
	Tables map[string]struct {
		Records int               `json:"records"`
		SHA256  string            `json:"sha256"`
		Keys    map[string]string `json:"keys"`
	} `json:"tables"`
}

// digest reads the store's digest, CloudTrail left out.
func (r *run) digest(ctx context.Context) *digestDoc {
	d, err := fetchDigest(ctx, r.hc, r.p.URL, r.p.Token)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

// fetchDigest reads the digest of the server at url (CloudTrail left out)
// with the admin token.
func fetchDigest(ctx context.Context, hc *http.Client, url, token string) (*digestDoc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_deskplane/digest?exclude=cloudtrail&keys=1", nil)
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("digest: read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("digest: %s: %s", resp.Status, b)
	}
	var d digestDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	return &d, nil
}

// diffDigests lists the records that differ, "" when none do. The records
// allowed tells (nil: none) may differ: they are listed in the second
// answer instead.
func diffDigests(a, b *digestDoc, allowed func(table, key string) bool) (diff, allowedDiff string) {
	if a.SHA256 == b.SHA256 {
		return "", ""
	}
	var out, ok []string
	add := func(table, key, what string) {
		line := fmt.Sprintf("  %s/%s: %s", table, key, what)
		if allowed != nil && allowed(table, key) {
			ok = append(ok, line)
			return
		}
		out = append(out, line)
	}
	names := map[string]bool{}
	for n := range a.Tables {
		names[n] = true
	}
	for n := range b.Tables {
		names[n] = true
	}
	for n := range names {
		ta, tb := a.Tables[n], b.Tables[n]
		if ta.SHA256 == tb.SHA256 {
			continue
		}
		for k, v := range ta.Keys {
			if w, ok := tb.Keys[k]; !ok {
				add(n, k, "deleted")
			} else if w != v {
				add(n, k, "changed")
			}
		}
		for k := range tb.Keys {
			if _, ok := ta.Keys[k]; !ok {
				add(n, k, "created")
			}
		}
	}
	return joinDiff(out), joinDiff(ok)
}

func joinDiff(out []string) string {
	sort.Strings(out)
	if len(out) > 50 {
		out = append(out[:50], fmt.Sprintf("  … and %d more", len(out)-50))
	}
	return strings.Join(out, "\n")
}

func (r *run) summary() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var codes []string
	for c, n := range r.codes {
		codes = append(codes, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codes)
	var never []string
	for _, o := range r.ops {
		if !r.okOps[o.Service+"."+o.Op+o.Target] {
			name := o.Service + "." + o.Op
			if o.Target != "" {
				name += "(" + o.Target + ")"
			}
			never = append(never, name)
		}
	}
	r.t.Logf("hostile: 200 answers to %s: %v", powerlessUser, r.okPowerless)
	r.t.Logf("hostile: slowest calls: %v", r.slowest)
	r.t.Logf("hostile: %d of %d operations never answered 200: %s", len(never), len(r.ops), strings.Join(never, " "))
	r.t.Logf("hostile: seed=%d: %d calls answered, statuses %v, %d operations answered 200 at least once, skipped (pending fixes) %v", r.seed, r.sent, r.status, len(r.okOps), r.skipped)
	r.t.Logf("hostile: codes: %s", strings.Join(codes, " "))
}

// headSize is the length of a request's line and headers.
func headSize(req *http.Request) int {
	n := len(req.Method) + len(req.URL.RequestURI()) + 12
	for k, vs := range req.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// flagSet reports whether a flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// slowCall is one call's latency, for the summary.
type slowCall struct {
	i  int
	op string
	d  time.Duration
}

func (c slowCall) String() string {
	return fmt.Sprintf("%s#%d %v", c.op, c.i, c.d.Round(time.Millisecond))
}

// timed keeps the five slowest calls.
func (r *run) timed(i int, o servedOperation, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slowest = append(r.slowest, slowCall{i, o.Service + "." + o.Op, d})
	sort.Slice(r.slowest, func(a, b int) bool { return r.slowest[a].d > r.slowest[b].d })
	if len(r.slowest) > 5 {
		r.slowest = r.slowest[:5]
	}
}
