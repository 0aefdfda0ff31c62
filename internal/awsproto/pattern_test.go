package awsproto

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// modelPatterns is every pattern= of a v tag in the module's packages
// (read from their sources), the model's constraints as deskplane states
// them.
func modelPatterns(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			fld, ok := n.(*ast.Field)
			if !ok || fld.Tag == nil {
				return true
			}
			raw, err := strconv.Unquote(fld.Tag.Value)
			if err != nil {
				return true
			}
			for _, part := range splitTag(reflect.StructTag(raw).Get("v")) {
				if p, ok := strings.CutPrefix(part, "pattern="); ok && !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunPatternAsRegexp holds runPattern.match to regexp's MatchString on
// every pattern of the model that compileRuns takes, and on patterns made
// to catch its edges (runs that share characters, bounds, case folding,
// classes past ASCII), over strings made from each pattern's runs and
// changed at random: too short and too long runs, characters of a
// neighbouring run, other ASCII, bytes past it, case flipped.
func TestRunPatternAsRegexp(t *testing.T) {
	patterns := append(modelPatterns(t),
		`^[a-c]{1,3}[c-e]$`,    // runs that share a character: refused
		`^[a-z]+[0-9]+$`,       // disjoint runs of varying length
		`^[a-z]*[0-9]$`,        //
		`^a?b$`,                //
		`^[a-z]{2,}b$`,         // shares b: refused
		`^x*y*$`,               // a run that may be empty after one of varying length: refused
		`^(?i)wsb-[0-9]{2,4}$`, // case folded: refused
		`^[é-ü]{1,3}$`,         // past ASCII: refused
		`^[^a-z]+$`,            // a negated class reaches past ASCII: refused
		`^ab{0,2}c{3}[d-f]{1,2}$`,
		`^$`,
		`^[0-9]{4}-[0-9]{2}$`,
		`^(ab)+$`, // a repeated group: refused
		`^a|b$`,   // an alternation: refused
		`^a(?m)$`, // end of line: refused
	)
	// Patterns the fast path must take (the ids and names a
	// CreateWorkspaces request carries): a test that never compiles one
	// would check nothing.
	must := []string{`^wsb-[0-9a-z]{8,63}$`, `^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`, `^d-[0-9a-f]{10}$`, `^\d{12}$`,
		`^[A-Za-z0-9_+=,.@-]+$`, `^[a-z]+[0-9]+$`, `^ab{0,2}c{3}[d-f]{1,2}$`}
	mustNot := []string{`^[a-c]{1,3}[c-e]$`, `^[a-z]{2,}b$`, `^x*y*$`, `^(?i)wsb-[0-9]{2,4}$`, `^[é-ü]{1,3}$`, `^[^a-z]+$`,
		`^(ab)+$`, `^a|b$`, `^a(?m)$`, `^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)`, `wsi-[0-9a-z]{9,63}$`, `^link-.{8,24}$`}
	for _, p := range must {
		if compileRuns(p) == nil {
			t.Errorf("compileRuns(%q) = nil, want runs", p)
		}
	}
	for _, p := range mustNot {
		if compileRuns(p) != nil {
			t.Errorf("compileRuns(%q) took a pattern it cannot match exactly", p)
		}
	}
	var pool []byte
	for c := 0; c < 128; c++ {
		pool = append(pool, byte(c))
	}
	extra := []string{"é", "\xff", "日", "\x80"}
	rng := rand.New(rand.NewPCG(19, 14))
	compiled := 0
	for _, expr := range patterns {
		re := regexp.MustCompile(expr)
		p := compileRuns(expr)
		if p == nil {
			continue
		}
		compiled++
		members := make([][]byte, len(p.runs))
		for k := range p.runs {
			for c := 0; c < 128; c++ {
				if p.runs[k].has(byte(c)) {
					members[k] = append(members[k], byte(c))
				}
			}
		}
		matched := 0
		for range 3000 {
			var b []byte
			for k, r := range p.runs {
				hi := r.max
				if hi < 0 {
					hi = r.min + 70
				}
				n := r.min - 1 + rng.IntN(hi-r.min+3) // one under min to one over max
				if r.min == r.max && rng.IntN(30) != 0 {
					n = r.min // a literal's characters, mostly as they are
				}
				if n < 0 {
					n = 0
				}
				for range n {
					switch {
					case rng.IntN(20) == 0 && k+1 < len(p.runs) && len(members[k+1]) > 0:
						b = append(b, members[k+1][rng.IntN(len(members[k+1]))])
					case len(members[k]) > 0:
						b = append(b, members[k][rng.IntN(len(members[k]))])
					}
				}
			}
			s := string(b)
			switch rng.IntN(6) {
			case 0: // a character replaced
				if len(s) > 0 {
					i := rng.IntN(len(s))
					s = s[:i] + string(pool[rng.IntN(len(pool))]) + s[i+1:]
				}
			case 1: // a character or a byte past ASCII inserted
				i := rng.IntN(len(s) + 1)
				ins := string(pool[rng.IntN(len(pool))])
				if rng.IntN(2) == 0 {
					ins = extra[rng.IntN(len(extra))]
				}
				s = s[:i] + ins + s[i:]
			case 2: // a character removed
				if len(s) > 0 {
					i := rng.IntN(len(s))
					s = s[:i] + s[i+1:]
				}
			case 3: // case flipped
				if rng.IntN(2) == 0 {
					s = strings.ToUpper(s)
				} else {
					s = strings.ToLower(s)
				}
			}
			got, want := p.match(s), re.MatchString(s)
			if got != want {
				t.Fatalf("pattern %q on %q: runs %v, regexp %v", expr, s, got, want)
			}
			if want {
				matched++
			}
		}
		if matched == 0 && expr != `^$` {
			t.Errorf("pattern %q: no string made matched it; the test checks only refusals", expr)
		}
	}
	if compiled < 20 {
		t.Errorf("only %d patterns compiled to runs", compiled)
	}
	t.Logf("%d patterns, %d of them as runs", len(patterns), compiled)
}

// TestValidateRunsAsRegexp: a rule's pattern of runs gives the same
// message as its regexp, members of lists included.
func TestValidateRunsAsRegexp(t *testing.T) {
	type in struct {
		Name  *string  `json:"Name,omitempty" v:"pattern=^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$"`
		Ids   []string `json:"Ids,omitempty" v:"pattern=^wsb-[0-9a-z]{8,63}$"`
		Plain string   `json:"Plain" v:"pattern=^[a-z]+$"`
	}
	if r := parseRules(reflect.TypeFor[in]()); r[0].runs == nil || r[1].runs == nil || r[2].runs == nil {
		t.Fatal("the rules' patterns did not compile to runs")
	}
	for _, c := range []struct {
		v    in
		want string
	}{
		{in{Name: ptrTo("ok_name"), Ids: []string{"wsb-12345678"}, Plain: "abc"}, ""},
		{in{Name: ptrTo("-bad")}, "1 validation error detected: Value '-bad' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$"},
		{in{Ids: []string{"wsb-12345678", "wsb-1234567"}}, "1 validation error detected: Value 'wsb-1234567' at 'ids.2.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ^wsb-[0-9a-z]{8,63}$"},
		{in{Plain: "abC"}, "1 validation error detected: Value 'abC' at 'plain' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z]+$"},
	} {
		if got := Validate(&c.v); got != c.want {
			t.Errorf("Validate(%+v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
