package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxDepth bounds JSON nesting. A valid policy never nests deeper than
// Statement[] -> {} -> Condition -> operator -> key -> [] (7 levels).
const maxDepth = 16

type nodeKind uint8

const (
	nString nodeKind = iota + 1
	nNumber
	nBool
	nNull
	nObject
	nArray
)

func (k nodeKind) String() string {
	switch k {
	case nString:
		return "string"
	case nNumber:
		return "number"
	case nBool:
		return "boolean"
	case nNull:
		return "null"
	case nObject:
		return "object"
	case nArray:
		return "array"
	}
	return "value"
}

// node is a decoded JSON value that keeps object key order, rejects
// duplicate keys and remembers its byte span in the source document.
type node struct {
	kind  nodeKind
	str   string // string value, or literal text of a number/bool
	keys  []string
	vals  []*node
	items []*node
	start int64 // byte offset of the first character
	end   int64 // byte offset just past the last character
}

func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// checkChars enforces the documented character set of IAM policy documents:
// tab, LF, CR and U+0020 through U+00FF.
func checkChars(doc string) error {
	if !utf8.ValidString(doc) {
		return errors.New("policy document is not valid UTF-8")
	}
	line, col := 1, 0
	for _, r := range doc {
		col++
		if r == '\n' {
			line, col = line+1, 0
			continue
		}
		if r == '\t' || r == '\r' || (r >= 0x20 && r <= 0xFF) {
			continue
		}
		return fmt.Errorf("policy document contains a character outside the allowed set (tab, LF, CR, U+0020-U+00FF): %U at line %d, column %d", r, line, col)
	}
	return nil
}

type jsonParser struct {
	dec *json.Decoder
	src string
}

// parseJSON decodes doc into a node tree. Errors are plain errors; the caller
// wraps them into a *MalformedError.
func parseJSON(doc string) (*node, error) {
	p := &jsonParser{dec: json.NewDecoder(bytes.NewReader([]byte(doc))), src: doc}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, errors.New("syntax error: unexpected data after the top-level JSON object")
	}
	return n, nil
}

// tokenStart returns the offset of the next non-space byte at or after off.
func (p *jsonParser) tokenStart(off int64) int64 {
	for off < int64(len(p.src)) {
		switch p.src[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

func syntaxErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte offset %d: %v", se.Offset, se)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("syntax error: unexpected end of document")
	}
	return fmt.Errorf("syntax error: %v", err)
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errors.New("syntax error: JSON nesting is too deep")
	}
	start := p.tokenStart(p.dec.InputOffset())
	tok, err := p.dec.Token()
	if err != nil {
		return nil, syntaxErr(err)
	}
	n := &node{start: start}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = nObject
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, syntaxErr(err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("syntax error: object key is not a string")
				}
				if n.get(key) != nil {
					return nil, fmt.Errorf("duplicate key %q in JSON object", key)
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, v)
			}
		case '[':
			n.kind = nArray
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
		default:
			return nil, fmt.Errorf("syntax error: unexpected %q", rune(t))
		}
		if _, err := p.dec.Token(); err != nil { // closing delimiter
			return nil, syntaxErr(err)
		}
	case string:
		n.kind, n.str = nString, t
	case json.Number:
		n.kind, n.str = nNumber, string(t)
	case bool:
		n.kind = nBool
		if t {
			n.str = "true"
		} else {
			n.str = "false"
		}
	case nil:
		n.kind = nNull
	default:
		return nil, fmt.Errorf("syntax error: unexpected token %v", tok)
	}
	n.end = p.dec.InputOffset()
	return n, nil
}

// lineIndex maps byte offsets to 1-based line/column positions.
type lineIndex []int64 // byte offset of the start of each line

func newLineIndex(src string) lineIndex {
	li := lineIndex{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			li = append(li, int64(i+1))
		}
	}
	return li
}

// position converts a byte offset into a 1-based line and column (columns
// count bytes).
func (li lineIndex) position(off int64) Position {
	lo, hi := 0, len(li)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return Position{Line: lo + 1, Column: int(off-li[lo]) + 1}
}
