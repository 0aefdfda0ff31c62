package hostile

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/deskplane/deskplane/internal/awsmodel"
)

// The request value tree. Members keep their model names; the wire
// serializers (wire_test.go) walk a tree beside the model's shapes.
type (
	// obj is a structure (or map) with its keys in order.
	obj struct {
		keys []string
		vals []node
	}
	// list is a list's elements.
	list []node
	// str is a string; it may hold invalid UTF-8, which the serializers
	// send as is.
	str string
	// num is a number's literal text ("1", "9223372036854775808", "1e400").
	num string
	// boolean is a boolean.
	boolean bool
	// stamp is a timestamp as seconds since the epoch, or a literal
	// text sent as is (a malformed date).
	stamp struct {
		sec float64
		raw string
	}
	// blob is binary data (sent base64); bad holds a literal text sent
	// instead of the base64 (malformed base64).
	blob struct {
		b   []byte
		bad string
	}
	// rawJSON is a literal JSON (or query) text put where a value of
	// another type belongs: null, the wrong type, deep nesting.
	rawJSON string
	// node is any of the above.
	node any
)

func (o *obj) set(k string, v node) {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

// gen generates one operation's input from its model shape.
type gen struct {
	m    *awsmodel.Model
	r    *rand.Rand
	p    float64 // the chance that a leaf is hostile
	pool *pool
	// hostile counts the hostile values put in the request.
	hostile int
	// huge is set once a huge list or map is in the request: one per
	// request, or a huge list of huge lists would be millions of values.
	huge bool
	// nodes counts the values generated; past maxNodes, lists and maps
	// are generated empty.
	nodes int
}

// maxNodes bounds the values of one request (a huge list shares one
// element, so it counts once).
const maxNodes = 5000

// maxHugeBytes bounds what a huge list's repeated element adds up to: a
// value taken from the pool may be long (a 120 KB policy or document read
// back from the server), and 2,000 of it made a 240 MB request that the
// client's own serializing and matching ran out of memory on. Bodies over
// the server's limit stay reachable (a few MiB).
const maxHugeBytes = 4 << 20

// approxSize is about how many bytes v serializes to.
func approxSize(v node) int {
	switch x := v.(type) {
	case str:
		return len(x) + 2
	case num:
		return len(x)
	case rawJSON:
		return len(x)
	case blob:
		return len(x.b)*4/3 + len(x.bad) + 2
	case list:
		n := 2
		for _, e := range x {
			n += approxSize(e) + 1
		}
		return n
	case *obj:
		n := 2
		for i, k := range x.keys {
			n += len(k) + 4 + approxSize(x.vals[i])
		}
		return n
	default:
		return 8
	}
}

// maxDepth bounds recursion through recursive shapes.
const maxDepth = 8

// hostileNow decides whether the next value is hostile.
func (g *gen) hostileNow() bool {
	if g.p > 0 && g.r.Float64() < g.p {
		g.hostile++
		return true
	}
	return false
}

// input generates the top-level input structure of op.
func (g *gen) input(op *awsmodel.Operation) *obj {
	if op.Input == "" {
		return &obj{}
	}
	return g.structure(op.Input, 0)
}

func (g *gen) structure(shapeName string, depth int) *obj {
	s := g.m.Shapes[shapeName]
	o := &obj{}
	if s == nil {
		return o
	}
	names := s.MemberNames()
	if s.Union && len(names) > 0 {
		// exactly one member (a hostile request may set two)
		n := 1
		if g.hostileNow() {
			n = 2
		}
		for i := 0; i < n; i++ {
			name := names[g.r.IntN(len(names))]
			o.set(name, g.value(s.Members[name], name, depth+1))
		}
		return o
	}
	for _, name := range names {
		ref := s.Members[name]
		req := s.IsRequired(name)
		switch {
		case req && g.p > 0 && g.r.Float64() < g.p/6:
			g.hostile++ // a required member left out
			continue
		case req:
		case depth >= maxDepth:
			continue
		case g.r.Float64() < 0.35+g.p/3:
		default:
			continue
		}
		o.set(name, g.value(ref, name, depth+1))
	}
	if g.p > 0 && g.r.Float64() < g.p/8 {
		g.hostile++ // a member the model does not have
		o.set(pick(g.r, []string{"Unknown", "__proto__", "", "a.b", "Member.1", strings.Repeat("K", 300)}), g.hostileString("", nil))
	}
	return o
}

// value generates a value for a reference; name is the member's name (the
// pool is keyed by it), "" for list elements and map values.
func (g *gen) value(ref *awsmodel.Ref, name string, depth int) node {
	g.nodes++
	s := g.m.Shapes[ref.Target]
	if s == nil {
		return str("")
	}
	if g.p > 0 && g.r.Float64() < g.p/10 {
		g.hostile++
		return g.wrongType(s)
	}
	switch s.Type {
	case "structure":
		if depth > maxDepth {
			return &obj{}
		}
		return g.structure(s.Name, depth)
	case "list":
		return g.list(s, name, depth)
	case "map":
		return g.mapValue(s, depth)
	case "string":
		if policyMember(name) && g.r.IntN(4) > 0 {
			return str(g.policyDoc(g.p > 0))
		}
		if g.hostileNow() {
			return g.hostileString(name, s)
		}
		return str(g.plausibleString(name, s))
	case "integer", "long":
		if g.hostileNow() {
			return num(pick(g.r, hostileInts(s)))
		}
		return num(strconv.FormatInt(g.plausibleInt(s), 10))
	case "float", "double":
		if g.hostileNow() {
			return num(pick(g.r, []string{"0", "-0", "1e308", "-1e308", "5e-324", "1e400", "-1e400", "0.1", "-1", "123456789012345678901234567890"}))
		}
		return num(strconv.FormatFloat(g.r.Float64()*100, 'f', 2, 64))
	case "boolean":
		return boolean(g.r.IntN(2) == 0)
	case "timestamp":
		if g.hostileNow() {
			return pick(g.r, []stamp{{sec: 0}, {sec: 253402300799}, {sec: -1}, {sec: -62135596800}, {sec: 1e15}, {sec: 0.5},
				{raw: "0"}, {raw: "9999-12-31T23:59:59Z"}, {raw: "10000-01-01T00:00:00Z"}, {raw: "not-a-date"}, {raw: ""}, {raw: "1970-01-01T00:00:00Z"}})
		}
		return stamp{sec: float64(1700000000 + g.r.IntN(100000000))}
	case "blob":
		if g.hostileNow() {
			switch g.r.IntN(5) {
			case 0:
				return blob{}
			case 1:
				return blob{b: randBytes(g.r, 200<<10)}
			case 2:
				return blob{bad: "!!!not base64!!!"}
			case 3:
				return blob{b: []byte{0}}
			default:
				return blob{bad: "QQ"} // unpadded
			}
		}
		return blob{b: randBytes(g.r, 1+g.r.IntN(64))}
	}
	return str("")
}

func (g *gen) list(s *awsmodel.Shape, name string, depth int) node {
	n := 1 + g.r.IntN(3)
	if s.Min != nil && int(*s.Min) > n {
		n = int(*s.Min)
	}
	if s.Max != nil && int(*s.Max) < n {
		n = int(*s.Max)
	}
	if g.hostileNow() {
		choices := []int{0, 2000}
		if s.Max != nil {
			choices = append(choices, int(*s.Max)+1)
		}
		if s.Min != nil && *s.Min > 0 {
			choices = append(choices, int(*s.Min)-1)
		}
		n = pick(g.r, choices)
		if n > 2000 {
			n = 2000
		}
	}
	if n > 8 {
		if g.huge {
			n = 8
		}
		g.huge = true
	}
	if depth > maxDepth || g.nodes > maxNodes {
		n = 0
	}
	out := make(list, 0, min(n, 8))
	var first node
	before := g.nodes
	for i := 0; i < n; i++ {
		if i >= 8 && first != nil {
			if g.nodes-before > 50 || (i+1)*approxSize(first) > maxHugeBytes {
				break // a huge list of big elements: kept where it is
			}
			out = append(out, first) // a huge list repeats its first element
			continue
		}
		v := g.value(s.Member, singular(name), depth+1)
		if i == 0 {
			first = v
		}
		out = append(out, v)
	}
	return out
}

func (g *gen) mapValue(s *awsmodel.Shape, depth int) node {
	n := g.r.IntN(3)
	huge := false
	if g.hostileNow() {
		n = pick(g.r, []int{0, 1000})
		huge = n > 8 && !g.huge
		if huge {
			g.huge = true
		} else if n > 8 {
			n = 8
		}
	}
	if g.nodes > maxNodes {
		n = 0
	}
	o := &obj{}
	before, size := g.nodes, 0
	for i := 0; i < n; i++ {
		if i >= 8 && (g.nodes-before > 50 || size > maxHugeBytes) {
			break // a huge map of big values: kept where it is
		}
		var k string
		if huge {
			k = "k" + strconv.Itoa(i)
		} else {
			k = g.plausibleString("", g.m.Shapes[s.Key.Target])
			if g.hostileNow() {
				k = string(g.hostileString("", nil))
			}
		}
		v := g.value(s.Value, "", depth+1)
		size += len(k) + approxSize(v)
		o.set(k, v)
	}
	return o
}

// wrongType is a value of the wrong JSON type for s, or deep nesting.
func (g *gen) wrongType(s *awsmodel.Shape) node {
	switch g.r.IntN(8) {
	case 0:
		return rawJSON("null")
	case 1:
		return rawJSON(strings.Repeat("[", 20000) + strings.Repeat("]", 20000))
	case 2:
		return rawJSON(strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000))
	case 3:
		if s.Type == "string" {
			return rawJSON("12")
		}
		return rawJSON(`"x"`)
	case 4:
		return rawJSON("{}")
	case 5:
		return rawJSON("[]")
	case 6:
		return rawJSON("true")
	default:
		return rawJSON(`"` + strings.Repeat(`\u0000`, 100) + `"`)
	}
}

func (g *gen) plausibleInt(s *awsmodel.Shape) int64 {
	lo, hi := int64(1), int64(10)
	if s.Min != nil {
		lo = int64(*s.Min)
		if hi < lo {
			hi = lo + 10
		}
	}
	if s.Max != nil && int64(*s.Max) < hi {
		hi = int64(*s.Max)
	}
	if hi < lo {
		return lo
	}
	return lo + g.r.Int64N(hi-lo+1)
}

func hostileInts(s *awsmodel.Shape) []string {
	out := []string{"0", "-1", "2147483647", "2147483648", "-2147483648", "-2147483649",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "1e30", "1.5", "-0", "1E2"}
	if s.Min != nil {
		out = append(out, strconv.FormatInt(int64(*s.Min)-1, 10))
	}
	if s.Max != nil {
		out = append(out, strconv.FormatInt(int64(*s.Max)+1, 10))
	}
	return out
}

// plausibleString is a value that might pass validation: one seen in the
// server's answers for a member of that name, an enum value, an ARN for
// ARN-shaped members, or letters of an allowed length.
func (g *gen) plausibleString(name string, s *awsmodel.Shape) string {
	if s != nil && len(s.Enum) > 0 {
		return pick(g.r, s.Enum)
	}
	if v, ok := g.pool.get(g.r, name); ok && g.r.IntN(5) > 0 && fits(s, v) {
		return v
	}
	if s != nil && (strings.HasSuffix(name, "Arn") || strings.HasSuffix(name, "ARN") || strings.HasPrefix(s.Pattern, "^arn:") || strings.HasPrefix(s.Pattern, "arn:")) {
		if v, ok := g.pool.get(g.r, anyARN); ok && fits(s, v) {
			return v
		}
	}
	if s != nil && s.Pattern != "" && g.r.IntN(4) > 0 {
		if v, ok := fromPattern(g.r, s.Pattern); ok && (s.Min == nil || len(v) >= int(*s.Min)) && (s.Max == nil || len(v) <= int(*s.Max)) {
			return v
		}
	}
	n := 8
	if s != nil && s.Min != nil && int(*s.Min) > n {
		n = int(*s.Min)
	}
	if s != nil && s.Max != nil && int(*s.Max) < n {
		n = int(*s.Max)
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[g.r.IntN(len(letters))]
	}
	return "hostile" + string(b)[min(n, 7):]
}

// patterns caches the model's patterns compiled for Go (nil: not RE2).
var patterns sync.Map

// fits reports whether v satisfies the string shape's length bounds and
// pattern (a pattern Go cannot compile is taken as satisfied).
func fits(s *awsmodel.Shape, v string) bool {
	if s == nil {
		return true
	}
	n := utf8.RuneCountInString(v)
	if (s.Min != nil && n < int(*s.Min)) || (s.Max != nil && n > int(*s.Max)) {
		return false
	}
	if s.Pattern == "" {
		return true
	}
	re, ok := patterns.Load(s.Pattern)
	if !ok {
		c, err := regexp.Compile(javaEscape.ReplaceAllString(s.Pattern, `\x{$1}`))
		if err != nil {
			c = nil
		}
		re, _ = patterns.LoadOrStore(s.Pattern, c)
	}
	c := re.(*regexp.Regexp)
	return c == nil || c.MatchString(v)
}

// hostileString is one of the hostile strings, some derived from values
// the server handed out for the member.
func (g *gen) hostileString(name string, s *awsmodel.Shape) str {
	switch g.r.IntN(14) {
	case 0:
		return str(pick(g.r, []string{"", " ", "   ", "\t\n\r ", "\u00a0", "\u3000"}))
	case 1:
		return str(pick(g.r, []string{strings.Repeat("A", 5000), strings.Repeat("é", 5000), strings.Repeat("/", 5000), strings.Repeat("\x00", 5000)}))
	case 2:
		return str(pick(g.r, []string{"\x01\x02\x1b[31mred\x7f", "a\rb\nc", "\x08\x0b\x0c", "line\u2028sep", "\x00", "ws-\x00abc", "a\x00", "\x00\x00\x00"}))
	case 3:
		return str(pick(g.r, []string{"\u202eevil", "\ufeffbom", "𝕏𝕐ℤ", "e\u0301\u0301\u0301", "\uffff", "\U0010ffff", "İı", "\xff\xfe\xc0\x80", "\xed\xa0\x80", "👩‍👩‍👧‍👦", "Ω≈ç√"}))
	case 4:
		return str(pick(g.r, []string{"../../../etc/passwd", "/", "//", "a/../b", "%2e%2e%2f", `..\..\`, "./.", "?x=1#f", "ws-aaaaaaaaa/../ws-bbbbbbbbb", "d-1234567890/x", "C:\\Windows", "file:///etc/passwd"}))
	case 5, 6:
		if v, ok := g.pool.get(g.r, name); ok {
			return str(mutateID(g.r, v))
		}
		return str(pick(g.r, []string{"ws-zzzzzzzzz", "wsb-zzzzzzzzz", "wsi-zzzzzzzzz", "d-0000000000", "ami-00000000000000000", "sg-00000000000000000", "subnet-00000000000000000", "vpc-00000000000000000", "AKIAZZZZZZZZZZZZZZZZ", "00000000-0000-0000-0000-000000000000", "alias/none"}))
	case 7, 8:
		return str(g.hostileARN())
	case 9:
		return str(pick(g.r, []string{"' OR '1'='1", "%s%s%n%x", "${jndi:ldap://127.0.0.1/x}", "<x>&amp;</x>", `"}`, "*", "?", "**", "%00", "\\", `\u0000`, "{{.}}", "-1", "1e309", "0x10", "null", "true"}))
	case 10:
		if s != nil && len(s.Enum) > 0 {
			e := pick(g.r, s.Enum)
			return str(pick(g.r, []string{strings.ToLower(e), e + " ", " " + e, e + "\x00", strings.ToUpper(e) + "X"}))
		}
		return str(strings.Repeat("x", 1+g.r.IntN(3)))
	case 11:
		if s != nil && s.Max != nil && *s.Max < 5000 {
			return str(strings.Repeat("m", int(*s.Max)+1))
		}
		if s != nil && s.Min != nil && *s.Min > 1 {
			return str(strings.Repeat("m", int(*s.Min)-1))
		}
		return str("m")
	case 12:
		if v, ok := g.pool.any(g.r); ok {
			return str(v) // an id of another kind
		}
		return str("x")
	default:
		return str(string(randBytes(g.r, 1+g.r.IntN(40))))
	}
}

// arnServices are the services whose ARNs are mangled; every service the
// server serves, plus a few it does not.
var arnServices = []string{"workspaces", "workspaces-instances", "iam", "sts", "kms", "ec2", "ds", "ds-data", "cloudtrail", "s3", ""}

var arnResources = map[string][]string{
	"workspaces":           {"workspace/", "workspacebundle/", "directory/", "workspaceimage/", "workspace/ws-zzzzzzzzz"},
	"workspaces-instances": {"workspaceinstance/", "workspaceinstance/wsinst-zzzzzzzzzzzzzzzzz"},
	"iam":                  {"user/", "role/", "policy/", "user/admin/", "role/../admin", "root", "user"},
	"sts":                  {"assumed-role/", "assumed-role/r/", "federated-user/"},
	"kms":                  {"key/", "alias/", "key/00000000-0000-0000-0000-000000000000", "alias/aws/ebs"},
	"ec2":                  {"image/", "instance/", "subnet/", "security-group/", "vpc/", "image/ami-00000000000000000"},
	"ds":                   {"directory/", "directory/d-0000000000"},
	"cloudtrail":           {"trail/", "eventdatastore/", "trail/x:y"},
}

// hostileARN is a malformed, truncated or foreign ARN.
func (g *gen) hostileARN() string {
	if v, ok := g.pool.get(g.r, anyARN); ok && g.r.IntN(3) == 0 {
		switch g.r.IntN(4) {
		case 0:
			return v[:g.r.IntN(len(v))] // truncated
		case 1:
			return v + strings.Repeat("a", 5000)
		case 2:
			return strings.Replace(v, "111122223333", "444455556666", 1) // another account's
		default:
			return mutateID(g.r, v)
		}
	}
	svc := pick(g.r, arnServices)
	acct := pick(g.r, []string{"111122223333", "", "444455556666", "notanaccount", "1111222233334", "000000000000"})
	region := pick(g.r, []string{"us-east-1", "", "xx-nowhere-9", "us-east-1\x00"})
	if svc == "iam" {
		region = ""
	}
	res := pick(g.r, append(arnResources[svc], "", "x", strings.Repeat("r", 5000)))
	full := "arn:aws:" + svc + ":" + region + ":" + acct + ":" + res
	switch g.r.IntN(6) {
	case 0:
		return full[:g.r.IntN(len(full)+1)]
	case 1:
		return strings.Replace(full, "arn:aws:", pick(g.r, []string{"arn:aws-cn:", "arn::", "ARN:AWS:", "arn:aws-us-gov:", "urn:aws:"}), 1)
	case 2:
		return pick(g.r, []string{"arn", "arn:", "arn:aws", "arn:aws:", "arn:aws:::::", "arn:aws::::aaaa", "arn:aws:" + svc, "arn:aws:" + svc + ":", ":::::", "arn:aws:iam::111122223333:user/" + strings.Repeat("x/", 3000)})
	case 3:
		return full + ":" + pick(g.r, []string{"", "extra", "\x00", "*"})
	default:
		return full
	}
}

// mutateID keeps an id's prefix and replaces the rest with characters of
// the same kind: the right prefix, but unknown.
func mutateID(r *rand.Rand, v string) string {
	cut := strings.LastIndexAny(v, "-/:")
	if cut < 0 || cut == len(v)-1 {
		cut = len(v) / 2
	}
	b := []byte(v)
	for i := cut + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			b[i] = byte('0' + r.IntN(10))
		case c >= 'a' && c <= 'z':
			b[i] = byte('a' + r.IntN(26))
		case c >= 'A' && c <= 'Z':
			b[i] = byte('A' + r.IntN(26))
		}
	}
	return string(b)
}

// singular names a list's elements for the pool (WorkspaceIds → WorkspaceId).
func singular(name string) string {
	switch {
	case strings.HasSuffix(name, "Ids"), strings.HasSuffix(name, "Arns"), strings.HasSuffix(name, "Names"), strings.HasSuffix(name, "Keys"):
		return strings.TrimSuffix(name, "s")
	}
	return name
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// anyARN is the pool key under which every ARN the server handed out is kept.
const anyARN = "\x00arn"

// pool holds values the server handed out (ids, names, ARNs), by the
// member name they came under. It is filled before the run and read-only
// during it, so a call's request depends only on the seed and its index.
type pool struct {
	by   map[string][]string
	all  []string
	deny map[string]bool // values never handed to the generator
}

func newPool(deny ...string) *pool {
	p := &pool{by: map[string][]string{}, deny: map[string]bool{}}
	for _, d := range deny {
		p.deny[d] = true
	}
	return p
}

// add records a value seen under a member name.
func (p *pool) add(name, v string) {
	if v == "" || len(v) > 300 || p.deny[v] || name == "" {
		return
	}
	if strings.HasPrefix(v, "arn:") {
		p.addTo(anyARN, v)
	}
	p.addTo(name, v)
}

func (p *pool) addTo(key, v string) {
	vs := p.by[key]
	if len(vs) >= 40 || contains(vs, v) {
		return
	}
	p.by[key] = append(vs, v)
	p.all = append(p.all, v)
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// get picks a value seen under name, else under the longest name that
// name ends with (Ec2ImageId takes an ImageId, SourceDirectoryId a
// DirectoryId).
func (p *pool) get(r *rand.Rand, name string) (string, bool) {
	vs := p.by[name]
	if len(vs) == 0 && name != anyARN {
		best := ""
		for k := range p.by {
			if len(k) > len(best) && len(k) >= 4 && strings.HasSuffix(name, k) {
				best = k
			}
		}
		vs = p.by[best]
	}
	if len(vs) == 0 {
		return "", false
	}
	return vs[r.IntN(len(vs))], true
}

func (p *pool) any(r *rand.Rand) (string, bool) {
	if len(p.all) == 0 {
		return "", false
	}
	return p.all[r.IntN(len(p.all))], true
}

// sorted freezes the pool's order (values were added in a fixed order; the
// per-key slices are sorted so the order does not depend on the answers'
// map order).
func (p *pool) sorted() {
	for k := range p.by {
		sort.Strings(p.by[k])
	}
	sort.Strings(p.all)
}

func (p *pool) String() string {
	n := 0
	for _, v := range p.by {
		n += len(v)
	}
	return fmt.Sprintf("%d values under %d names", n, len(p.by))
}
