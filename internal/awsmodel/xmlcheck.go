package awsmodel

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// xnode is a minimal XML element tree.
type xnode struct {
	name  xml.Name
	attrs []xml.Attr
	kids  []*xnode
	text  strings.Builder
}

func parseXML(body []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var root *xnode
	var stack []*xnode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	return root, nil
}

func (n *xnode) hasText() bool { return strings.TrimSpace(n.text.String()) != "" }

// CheckXMLOutput checks an XML response body of op for the query protocol
// (IAM, STS) and the ec2 protocol with the default (strictest) options. See
// [Model.CheckXMLOutputWith].
func (m *Model) CheckXMLOutput(op string, body []byte) []string {
	return m.CheckXMLOutputWith(op, body, CheckOptions{})
}

// CheckXMLOutputWith checks an XML response body of op. It verifies that:
//   - the root element is <OpResponse> in the model's xmlNamespace
//     (trailing "/" ignored);
//   - query protocol: the root holds <OpResult> (the modeled resultWrapper,
//     when the operation has output) and <ResponseMetadata><RequestId>;
//     ec2 protocol: the root holds <requestId> and the output members;
//   - every element maps to a member of its structure, by the member's
//     locationName or else its name; flattened lists/maps repeat under the
//     member's (or list member's) name; non-flattened lists wrap elements
//     named by the list member's locationName or else "member" (EC2 models
//     name them "item"); non-flattened maps wrap <entry><key/><value/></entry>
//     (key/value names honour locationName);
//   - non-list members appear at most once, structures hold no text and
//     leaves hold no elements;
//   - leaves parse: integer/long, float/double, boolean ("true"/"false"),
//     timestamp (ISO 8601 unless the model says otherwise), blob (base64);
//   - strings and map keys are in their enum;
//   - unless opts say otherwise, required members are present and
//     min/max/pattern constraints hold.
func (m *Model) CheckXMLOutputWith(op string, body []byte, opts CheckOptions) []string {
	o, ok := m.Ops[op]
	if !ok {
		return []string{fmt.Sprintf("%s has no operation %q", m.Service, op)}
	}
	proto := m.Protocol()
	if proto != "query" && proto != "ec2" {
		return []string{fmt.Sprintf("%s uses protocol %s, not query/ec2", m.Service, proto)}
	}
	root, err := parseXML(body)
	if err != nil {
		return []string{"(root): invalid XML: " + err.Error()}
	}
	c := &checker{m: m, opts: opts}
	want := op + "Response"
	if root.name.Local != want {
		c.add("", "root element is <%s>, want <%s>", root.name.Local, want)
		return c.out
	}
	c.checkNamespace(want, root)
	var outShape *Shape
	if o.Output != "" {
		outShape = c.shape(want, o.Output)
		if outShape == nil {
			return c.out
		}
	}
	if proto == "ec2" {
		var rest []*xnode
		seenReq := 0
		for _, k := range root.kids {
			if k.name.Local == "requestId" {
				seenReq++
				continue
			}
			rest = append(rest, k)
		}
		if seenReq != 1 {
			c.add(want, "want exactly one <requestId>, got %d", seenReq)
		}
		if outShape == nil {
			for _, k := range rest {
				c.add(want+"."+k.name.Local, "unexpected element: operation has no output")
			}
			return c.out
		}
		c.xmlStructKids(want, outShape, rest)
		return c.out
	}
	// query protocol
	wrapper := ""
	if o.OutputRef != nil {
		wrapper = o.OutputRef.ResultWrapper
	}
	var meta, result []*xnode
	var other []*xnode
	for _, k := range root.kids {
		switch {
		case k.name.Local == "ResponseMetadata":
			meta = append(meta, k)
		case wrapper != "" && k.name.Local == wrapper:
			result = append(result, k)
		default:
			other = append(other, k)
		}
	}
	if len(meta) != 1 {
		c.add(want, "want exactly one <ResponseMetadata>, got %d", len(meta))
	} else {
		reqIDs := 0
		for _, k := range meta[0].kids {
			if k.name.Local == "RequestId" {
				reqIDs++
			} else {
				c.add(want+".ResponseMetadata."+k.name.Local, "unexpected element")
			}
		}
		if reqIDs != 1 {
			c.add(want+".ResponseMetadata", "want exactly one <RequestId>, got %d", reqIDs)
		}
	}
	switch {
	case outShape == nil:
		for _, k := range other {
			c.add(want+"."+k.name.Local, "unexpected element: operation has no output")
		}
	case wrapper == "":
		c.xmlStructKids(want, outShape, other)
	default:
		for _, k := range other {
			c.add(want+"."+k.name.Local, "unexpected element (want <%s> and <ResponseMetadata>)", wrapper)
		}
		if len(result) != 1 {
			c.add(want, "want exactly one <%s>, got %d", wrapper, len(result))
		}
		if len(result) > 0 {
			if result[0].hasText() {
				c.add(want+"."+wrapper, "unexpected text")
			}
			c.xmlStructKids(want+"."+wrapper, outShape, result[0].kids)
		}
	}
	return c.out
}

// CheckXMLShape checks an XML element (the document root, whose own name is
// not checked) against a named shape with the rules of
// [Model.CheckXMLOutputWith].
func (m *Model) CheckXMLShape(shape string, body []byte, opts CheckOptions) []string {
	root, err := parseXML(body)
	if err != nil {
		return []string{"(root): invalid XML: " + err.Error()}
	}
	c := &checker{m: m, opts: opts}
	if s := c.shape(root.name.Local, shape); s != nil {
		c.xmlValue(root.name.Local, nil, s, root)
	}
	return c.out
}

// CheckXMLError checks an XML error response of op. Query protocol:
// <ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/></ErrorResponse>;
// ec2 protocol: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
// The code must satisfy [Model.IsErrorCode].
func (m *Model) CheckXMLError(op string, body []byte) []string {
	root, err := parseXML(body)
	if err != nil {
		return []string{"(root): invalid XML: " + err.Error()}
	}
	c := &checker{m: m}
	var errNodes []*xnode
	reqIDName, rootName := "RequestId", "ErrorResponse"
	if m.Protocol() == "ec2" {
		reqIDName, rootName = "RequestID", "Response"
	}
	if root.name.Local != rootName {
		c.add("", "root element is <%s>, want <%s>", root.name.Local, rootName)
		return c.out
	}
	if m.Protocol() != "ec2" {
		c.checkNamespace(rootName, root)
	}
	reqIDs := 0
	for _, k := range root.kids {
		switch {
		case k.name.Local == reqIDName:
			reqIDs++
		case m.Protocol() == "ec2" && k.name.Local == "Errors":
			for _, e := range k.kids {
				if e.name.Local != "Error" {
					c.add(rootName+".Errors."+e.name.Local, "unexpected element")
					continue
				}
				errNodes = append(errNodes, e)
			}
		case m.Protocol() != "ec2" && k.name.Local == "Error":
			errNodes = append(errNodes, k)
		default:
			c.add(rootName+"."+k.name.Local, "unexpected element")
		}
	}
	if reqIDs != 1 {
		c.add(rootName, "want exactly one <%s>, got %d", reqIDName, reqIDs)
	}
	if len(errNodes) == 0 {
		c.add(rootName, "no <Error> element")
	}
	for _, e := range errNodes {
		p := rootName + ".Error"
		fields := map[string]string{}
		for _, f := range e.kids {
			switch f.name.Local {
			case "Code", "Message", "Type":
				if _, dup := fields[f.name.Local]; dup {
					c.add(p+"."+f.name.Local, "duplicate element")
				}
				fields[f.name.Local] = strings.TrimSpace(f.text.String())
			default:
				// modeled error members may appear as extra elements
				if s, ok := m.ErrorShapeForCode(op, textOf(e, "Code")); ok {
					if ref := findXMLMember(s, f.name.Local); ref != nil {
						continue
					}
				}
				c.add(p+"."+f.name.Local, "unexpected element")
			}
		}
		code := fields["Code"]
		if code == "" {
			c.add(p, "missing <Code>")
		} else if !m.IsErrorCode(op, code) {
			c.add(p+".Code", "error code %q is neither a modeled error of %s nor a common %s error", code, op, m.Protocol())
		}
		if m.Protocol() != "ec2" {
			if t := fields["Type"]; t != "Sender" && t != "Receiver" {
				c.add(p+".Type", "got %q, want Sender or Receiver", t)
			}
		}
	}
	return c.out
}

func textOf(n *xnode, child string) string {
	for _, k := range n.kids {
		if k.name.Local == child {
			return strings.TrimSpace(k.text.String())
		}
	}
	return ""
}

func (c *checker) checkNamespace(path string, root *xnode) {
	want := strings.TrimSuffix(c.m.Metadata.XMLNamespace, "/")
	if want == "" {
		return
	}
	if got := strings.TrimSuffix(root.name.Space, "/"); got != want {
		c.add(path, "xmlns is %q, want %q", root.name.Space, c.m.Metadata.XMLNamespace)
	}
}

// xmlMemberName returns the element name a structure member uses.
func (m *Model) xmlMemberName(ref *Ref) string {
	name := firstNonEmpty(ref.LocationName, ref.Name)
	if t, ok := m.Shapes[ref.Target]; ok && t.Type == "list" && (ref.Flattened || t.Flattened) {
		if t.Member != nil && t.Member.LocationName != "" {
			return t.Member.LocationName
		}
	}
	return name
}

func findXMLMember(s *Shape, elem string) *Ref {
	for _, ref := range s.Members {
		if firstNonEmpty(ref.LocationName, ref.Name) == elem {
			return ref
		}
	}
	return nil
}

func (m *Model) isFlattened(ref *Ref) bool {
	t, ok := m.Shapes[ref.Target]
	return ok && (t.Type == "list" || t.Type == "map") && (ref.Flattened || t.Flattened)
}

// xmlStructKids checks the child elements of a structure element.
func (c *checker) xmlStructKids(path string, s *Shape, kids []*xnode) {
	if s.Type != "structure" {
		c.add(path, "internal: %s is not a structure", s.Name)
		return
	}
	byName := map[string]*Ref{}
	for _, ref := range s.Members {
		if ref.XMLAttribute {
			continue
		}
		byName[c.m.xmlMemberName(ref)] = ref
	}
	groups := map[string][]*xnode{}
	var order []string
	for _, k := range kids {
		n := k.name.Local
		if _, ok := groups[n]; !ok {
			order = append(order, n)
		}
		groups[n] = append(groups[n], k)
	}
	present := map[string]bool{}
	set := 0
	for _, n := range order {
		nodes := groups[n]
		ep := joinPath(path, n)
		ref := byName[n]
		if ref == nil {
			c.add(ep, "unknown element in %s (members: %s)", s.Name, strings.Join(c.xmlNames(s), ", "))
			continue
		}
		present[ref.Name] = true
		set++
		ms := c.shape(ep, ref.Target)
		if ms == nil {
			continue
		}
		if c.m.isFlattened(ref) {
			if ms.Type == "list" {
				c.checkSize(ep, ms, len(nodes), "list length")
				es := c.shape(ep, ms.Member.Target)
				if es == nil {
					continue
				}
				for i, node := range nodes {
					c.xmlValue(indexPath(ep, i), ms.Member, es, node)
				}
			} else {
				c.checkSize(ep, ms, len(nodes), "map size")
				for i, node := range nodes {
					c.xmlMapEntry(indexPath(ep, i), ms, node)
				}
			}
			continue
		}
		if len(nodes) > 1 {
			c.add(ep, "element appears %d times, want at most once", len(nodes))
		}
		c.xmlValue(ep, ref, ms, nodes[0])
	}
	if s.Union && set > 1 {
		c.add(path, "union %s has %d members set, want exactly one", s.Name, set)
	}
	c.missingRequired(path, s, func(n string) bool { return present[n] },
		func(r *Ref) bool { return r.XMLAttribute })
}

func (c *checker) xmlNames(s *Shape) []string {
	var out []string
	for _, n := range s.MemberNames() {
		out = append(out, c.m.xmlMemberName(s.Members[n]))
	}
	return out
}

func (c *checker) xmlValue(path string, ref *Ref, s *Shape, n *xnode) {
	switch s.Type {
	case "structure":
		if n.hasText() {
			c.add(path, "unexpected text in structure %s", s.Name)
		}
		c.xmlStructKids(path, s, n.kids)
		return
	case "list":
		if n.hasText() {
			c.add(path, "unexpected text in list %s", s.Name)
		}
		elem := "member"
		if s.Member != nil && s.Member.LocationName != "" {
			elem = s.Member.LocationName
		}
		c.checkSize(path, s, len(n.kids), "list length")
		es := c.shape(path, s.Member.Target)
		for i, k := range n.kids {
			ip := indexPath(path, i)
			if k.name.Local != elem {
				c.add(ip, "list element is <%s>, want <%s>", k.name.Local, elem)
				continue
			}
			if es != nil {
				c.xmlValue(ip, s.Member, es, k)
			}
		}
		return
	case "map":
		if n.hasText() {
			c.add(path, "unexpected text in map %s", s.Name)
		}
		c.checkSize(path, s, len(n.kids), "map size")
		for i, k := range n.kids {
			ip := indexPath(path, i)
			if k.name.Local != "entry" {
				c.add(ip, "map element is <%s>, want <entry>", k.name.Local)
				continue
			}
			c.xmlMapEntry(ip, s, k)
		}
		return
	}
	if len(n.kids) > 0 {
		c.add(path, "unexpected child element <%s> in %s %s", n.kids[0].name.Local, s.Type, s.Name)
		return
	}
	c.xmlLeaf(path, ref, s, n.text.String())
}

func (c *checker) xmlMapEntry(path string, s *Shape, n *xnode) {
	kn, vn := "key", "value"
	if s.Key != nil && s.Key.LocationName != "" {
		kn = s.Key.LocationName
	}
	if s.Value != nil && s.Value.LocationName != "" {
		vn = s.Value.LocationName
	}
	var kk, vv []*xnode
	for _, k := range n.kids {
		switch k.name.Local {
		case kn:
			kk = append(kk, k)
		case vn:
			vv = append(vv, k)
		default:
			c.add(joinPath(path, k.name.Local), "unexpected element in map entry (want <%s>, <%s>)", kn, vn)
		}
	}
	if len(kk) != 1 || len(vv) != 1 {
		c.add(path, "map entry has %d <%s> and %d <%s>, want one each", len(kk), kn, len(vv), vn)
	}
	if len(kk) > 0 && s.Key != nil {
		if ks := c.shape(path, s.Key.Target); ks != nil {
			c.xmlValue(joinPath(path, kn), s.Key, ks, kk[0])
		}
	}
	if len(vv) > 0 && s.Value != nil {
		if vs := c.shape(path, s.Value.Target); vs != nil {
			c.xmlValue(joinPath(path, vn), s.Value, vs, vv[0])
		}
	}
}

func (c *checker) xmlLeaf(path string, ref *Ref, s *Shape, raw string) {
	switch s.Type {
	case "string":
		c.checkString(path, s, raw)
		return
	}
	txt := strings.TrimSpace(raw)
	switch s.Type {
	case "boolean":
		if txt != "true" && txt != "false" {
			c.add(path, "%q is not a boolean (want true or false) (%s)", txt, s.Name)
		}
	case "integer", "long", "float", "double", "bigInteger", "bigDecimal":
		c.checkNumberText(path, s, txt, true)
	case "timestamp":
		f := timestampFormat(ref, s, "iso8601")
		if !parseTimestamp(f, txt) {
			c.add(path, "%q is not a valid %s timestamp (%s)", txt, f, s.Name)
		}
	case "blob":
		b, err := base64.StdEncoding.DecodeString(txt)
		if err != nil {
			c.add(path, "blob %s is not standard base64: %v", s.Name, err)
			return
		}
		c.checkSize(path, s, len(b), "blob length")
	default:
		c.add(path, "unsupported shape type %q (%s)", s.Type, s.Name)
	}
}
