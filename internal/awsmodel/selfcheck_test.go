package awsmodel

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// genJSON builds a value for shape s that should conform (constraints
// aside), including every member down to depth.
func genJSON(m *Model, s *Shape, depth int, body bool) any {
	switch s.Type {
	case "structure":
		obj := map[string]any{}
		for _, n := range s.MemberNames() {
			ref := s.Members[n]
			if body && ref.Location != "" {
				continue
			}
			if depth <= 0 && !s.IsRequired(n) {
				continue
			}
			if s.Union && len(obj) > 0 {
				break
			}
			obj[n] = genJSON(m, m.Shapes[ref.Target], depth-1, false)
		}
		return obj
	case "list":
		if depth <= 0 {
			return []any{}
		}
		return []any{genJSON(m, m.Shapes[s.Member.Target], depth-1, false)}
	case "map":
		k := "k"
		if ks := m.Shapes[s.Key.Target]; len(ks.Enum) > 0 {
			k = ks.Enum[0]
		}
		if depth <= 0 {
			return map[string]any{}
		}
		return map[string]any{k: genJSON(m, m.Shapes[s.Value.Target], depth-1, false)}
	case "string":
		if len(s.Enum) > 0 {
			return s.Enum[len(s.Enum)-1]
		}
		return "x"
	case "boolean":
		return true
	case "integer", "long":
		return 1
	case "float", "double":
		return 1.5
	case "timestamp":
		if s.TimestampFormat == "iso8601" {
			return "2024-01-01T00:00:00Z"
		}
		return 1700000000
	case "blob":
		return "aGk="
	}
	return map[string]any{}
}

// genXML writes shape s's content (not its own element) as the query/ec2
// protocols would.
func genXML(m *Model, b *strings.Builder, s *Shape, depth int) {
	switch s.Type {
	case "structure":
		for _, n := range s.MemberNames() {
			ref := s.Members[n]
			if depth <= 0 && !s.IsRequired(n) {
				continue
			}
			ms := m.Shapes[ref.Target]
			name := m.xmlMemberName(ref)
			if m.isFlattened(ref) && ms.Type == "list" {
				fmt.Fprintf(b, "<%s>", name)
				genXML(m, b, m.Shapes[ms.Member.Target], depth-1)
				fmt.Fprintf(b, "</%s>", name)
				continue
			}
			fmt.Fprintf(b, "<%s>", name)
			genXML(m, b, ms, depth-1)
			fmt.Fprintf(b, "</%s>", name)
			if s.Union {
				break
			}
		}
	case "list":
		if depth <= 0 {
			return
		}
		e := firstNonEmpty(s.Member.LocationName, "member")
		fmt.Fprintf(b, "<%s>", e)
		genXML(m, b, m.Shapes[s.Member.Target], depth-1)
		fmt.Fprintf(b, "</%s>", e)
	case "map":
		if depth <= 0 {
			return
		}
		b.WriteString("<entry><key>")
		genXML(m, b, m.Shapes[s.Key.Target], 0)
		b.WriteString("</key><value>")
		genXML(m, b, m.Shapes[s.Value.Target], depth-1)
		b.WriteString("</value></entry>")
	default:
		v := genJSON(m, s, 0, false)
		if s.Type == "timestamp" {
			v = "2024-01-01T00:00:00Z"
		}
		fmt.Fprintf(b, "%v", v)
	}
}

// TestGeneratedBodiesConform walks every operation of every service and
// checks that a generated, fully populated body passes: it guards the
// checkers against false positives across the whole models.
func TestGeneratedBodiesConform(t *testing.T) {
	opts := CheckOptions{SkipConstraints: true}
	for svc := range services {
		m := LoadOrSkip(t, svc)
		n := 0
		for _, name := range m.Operations() {
			op, _ := m.Operation(name)
			switch m.Protocol() {
			case "json", "rest-json":
				for _, dir := range []string{"in", "out"} {
					sh := op.Input
					if dir == "out" {
						sh = op.Output
					}
					if sh == "" {
						continue
					}
					s := m.Shapes[sh]
					if s.Payload != "" {
						continue
					}
					body, _ := json.Marshal(genJSON(m, s, 4, true))
					var p []string
					if dir == "in" {
						p = m.CheckJSONInputWith(name, body, opts)
					} else {
						p = m.CheckJSONOutputWith(name, body, opts)
					}
					n++
					if len(p) > 0 {
						t.Errorf("%s %s %s: %s\nbody: %s", svc, name, dir, strings.Join(p, "\n"), body)
					}
				}
			case "query", "ec2":
				var b strings.Builder
				fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, name, m.Metadata.XMLNamespace)
				inner := &b
				wrapper := ""
				if op.OutputRef != nil {
					wrapper = op.OutputRef.ResultWrapper
				}
				if m.Protocol() == "ec2" {
					b.WriteString("<requestId>r</requestId>")
				}
				if op.Output != "" {
					if wrapper != "" {
						fmt.Fprintf(inner, "<%s>", wrapper)
					}
					genXML(m, inner, m.Shapes[op.Output], 4)
					if wrapper != "" {
						fmt.Fprintf(inner, "</%s>", wrapper)
					}
				}
				if m.Protocol() == "query" {
					b.WriteString("<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>")
				}
				fmt.Fprintf(&b, "</%sResponse>", name)
				n++
				if p := m.CheckXMLOutputWith(name, []byte(b.String()), opts); len(p) > 0 {
					t.Errorf("%s %s: %s\nbody: %s", svc, name, strings.Join(p, "\n"), abbrev(b.String()))
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: nothing checked", svc)
		}
		t.Logf("%s: %d generated bodies conform", svc, n)
	}
}
