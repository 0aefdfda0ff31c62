package workspaces

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/deskplane/deskplane/internal/jsonenc"
)

// The batch and maintenance-group job payloads are written in a compact form
// (version 2): the desktops' common key prefix once, then the rest of each
// key, and the maintenance windows as seconds after the earliest one. A CreateWorkspaces
// request of 25 desktops wrote about 1.3 KB of refs and 2.2 KB of entries in
// the first form (an array of objects), more than SQLite keeps in a row of
// the jobs table, so each spilled to an overflow page that every enqueue,
// claim and finish wrote to the log again; the compact forms stay in the
// row. The first form still decodes (jobs queued by an older binary):
//
//	refs v1:    [{"key":"111122223333/us-east-1/ws-0bst0hl6x","seq":0},...]
//	refs v2:    {"v":2,"p":"111122223333/us-east-1/","k":["ws-0bst0hl6x",...],"s":[0,...]}
//	entries v1: [{"key":"111122223333/us-east-1/ws-0bst0hl6x","due":"2026-12-13T06:00:00Z"},...]
//	entries v2: {"v":2,"p":"111122223333/us-east-1/","k":["ws-0bst0hl6x",...],"t":UNIX_NANOS,"ds":[SECONDS,...]}
//
// Since session 12 "p" is all the keys share (keyPrefix), about 10 bytes
// more for a request's ids: {"v":2,"p":"111122223333/us-east-1/ws-0bst0h","k":["l6x",...]}.
// "s" is left out when every seq is 0; "ds" becomes "dn" (nanoseconds) when a
// window is not a whole number of seconds after the earliest.

// jobPayloadV2 is the compact form of both payloads.
type jobPayloadV2 struct {
	V      int      `json:"v"`
	Prefix string   `json:"p"`
	IDs    []string `json:"k"`
	Seqs   []int64  `json:"s,omitempty"`
	Base   int64    `json:"t,omitempty"`
	DueS   []int64  `json:"ds,omitempty"`
	DueN   []int64  `json:"dn,omitempty"`
}

// keyPrefix is the longest prefix of ASCII bytes every key shares: the
// ACCOUNT/REGION/ of a request's desktops and the start their ids share
// (a request's ids are made in order, so its 25 share about 10 bytes:
// "ws-0bt8zir"). Each key is written as what follows it. A decoder of
// either version joins the two ("p" + "k"), so a payload of a longer
// prefix reads as one of ACCOUNT/REGION/ did. The prefix stops before a
// byte outside ASCII, so it never splits a character.
func keyPrefix(n int, key func(int) string) string {
	if n == 0 {
		return ""
	}
	p := key(0)
	for i := 0; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			p = p[:i]
			break
		}
	}
	for j := 1; j < n && p != ""; j++ {
		k := key(j)
		if strings.HasPrefix(k, p) {
			continue // the usual case once the prefix is found
		}
		i := 0
		for i < len(p) && i < len(k) && p[i] == k[i] {
			i++
		}
		p = p[:i]
	}
	return p
}

// appendIDs appends "p" and "k": the prefix and the keys without it.
func appendIDs(b []byte, n int, key func(int) string) []byte {
	p := keyPrefix(n, key)
	b = jsonenc.String(append(b, `{"v":2,"p":`...), p)
	b = append(b, `,"k":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.String(b, key(i)[len(p):])
	}
	return append(b, ']')
}

func appendInts(b []byte, name string, n int, v func(int) int64) []byte {
	b = append(append(append(b, ",\""...), name...), "\":["...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.Int(b, v(i))
	}
	return append(b, ']')
}

// AppendJSON appends the refs in the compact form.
func (rs jobRefs) AppendJSON(b []byte) ([]byte, error) {
	if len(rs) == 0 {
		return appendV1(b, []jobRef(rs)) // null or [], as before
	}
	b = appendIDs(b, len(rs), func(i int) string { return rs[i].Key })
	for _, r := range rs {
		if r.Seq != 0 {
			b = appendInts(b, "s", len(rs), func(i int) int64 { return rs[i].Seq })
			break
		}
	}
	return append(b, '}'), nil
}

// AppendJSON appends the entries in the compact form, or in the first form
// when a window is outside what nanoseconds since 1970 can hold.
func (es maintEntries) AppendJSON(b []byte) ([]byte, error) {
	if len(es) == 0 {
		return appendV1(b, []maintEntry(es))
	}
	base := es[0].Due
	whole := true
	for _, e := range es {
		if y := e.Due.Year(); y < 1700 || y > 2200 {
			return appendV1(b, []maintEntry(es))
		}
		if e.Due.Before(base) {
			base = e.Due
		}
	}
	for _, e := range es {
		if e.Due.Sub(base)%time.Second != 0 {
			whole = false
		}
	}
	b = appendIDs(b, len(es), func(i int) string { return es[i].Key })
	b = jsonenc.Int(append(b, `,"t":`...), base.UnixNano())
	if whole {
		b = appendInts(b, "ds", len(es), func(i int) int64 { return int64(es[i].Due.Sub(base) / time.Second) })
	} else {
		b = appendInts(b, "dn", len(es), func(i int) int64 { return int64(es[i].Due.Sub(base)) })
	}
	return append(b, '}'), nil
}

// appendV1 appends v in the first form (encoding/json's).
func appendV1(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	return append(b, j...), err
}

// isV1 reports whether a payload is in the first form (a JSON array, or null).
func isV1(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) == 0 || b[0] != '{'
}

// decodeV2 decodes a compact payload and checks its lengths.
func decodeV2(b []byte) (*jobPayloadV2, error) {
	var p jobPayloadV2
	if err := gojson.Unmarshal(b, &p); err != nil { // as encoding/json (TestJobPayloadsRoundTripInBothForms), faster
		return nil, err
	}
	if p.V != 2 {
		return nil, fmt.Errorf("job payload version %d", p.V)
	}
	for _, l := range []int{len(p.Seqs), len(p.DueS), len(p.DueN)} {
		if l != 0 && l != len(p.IDs) {
			return nil, fmt.Errorf("job payload of %d ids has a list of %d", len(p.IDs), l)
		}
	}
	return &p, nil
}

// decodeJobRefs decodes a batch job's payload in either form.
func decodeJobRefs(b []byte) ([]jobRef, error) {
	if refs, ok := decodeRefsAsWritten(b); ok {
		return refs, nil
	}
	if isV1(b) {
		var refs []jobRef
		err := json.Unmarshal(b, &refs)
		return refs, err
	}
	return decodeV2Refs(b)
}

// decodeV2Refs decodes a batch job's payload in the compact form by the
// general decoder.
func decodeV2Refs(b []byte) ([]jobRef, error) {
	p, err := decodeV2(b)
	if err != nil {
		return nil, err
	}
	refs := make([]jobRef, len(p.IDs))
	for i, id := range p.IDs {
		refs[i].Key = p.Prefix + id
		if p.Seqs != nil {
			refs[i].Seq = p.Seqs[i]
		}
	}
	return refs, nil
}

// decodeMaintEntries decodes a maintenance group's payload in either form.
func decodeMaintEntries(b []byte) ([]maintEntry, error) {
	if isV1(b) {
		var es []maintEntry
		err := json.Unmarshal(b, &es)
		return es, err
	}
	p, err := decodeV2(b)
	if err != nil {
		return nil, err
	}
	if p.DueS == nil && p.DueN == nil {
		return nil, fmt.Errorf("maintenance payload without windows")
	}
	base := time.Unix(0, p.Base).UTC()
	es := make([]maintEntry, len(p.IDs))
	for i, id := range p.IDs {
		es[i].Key = p.Prefix + id
		if p.DueS != nil {
			es[i].Due = base.Add(time.Duration(p.DueS[i]) * time.Second)
		} else {
			es[i].Due = base.Add(time.Duration(p.DueN[i]))
		}
	}
	return es, nil
}

// decodeRefsAsWritten decodes a compact refs payload exactly as AppendJSON
// writes it (no space, "p" and "k" then an optional "s", strings of
// printable ASCII without escapes, integers without leading zeros), with
// every key sliced out of one string built for them all: the provisioning
// batch of every CreateWorkspaces request decodes one on the store's
// writer, and the general decoder allocated each id and then each key. ok
// is false for anything else, which decodeJobRefs decodes in full.
func decodeRefsAsWritten(b []byte) (refs []jobRef, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"v":2,"p":"`))
	if !ok {
		return nil, false
	}
	prefix, rest, ok := plainString(rest)
	if !ok {
		return nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"k":[`)); !ok {
		return nil, false
	}
	// Sized at once: ids are separated by "," (the count is one over when
	// a seq list follows, which has none).
	ids := make([][]byte, 0, 1+bytes.Count(rest, []byte(`","`)))
	for len(rest) > 0 && rest[0] != ']' {
		if len(ids) > 0 {
			if rest, ok = bytes.CutPrefix(rest, []byte(`,`)); !ok {
				return nil, false
			}
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`"`)); !ok {
			return nil, false
		}
		var id []byte
		if id, rest, ok = plainString(rest); !ok {
			return nil, false
		}
		ids = append(ids, id)
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`]`)); !ok || len(ids) == 0 {
		return nil, false
	}
	refs = make([]jobRef, len(ids))
	if s, ok := bytes.CutPrefix(rest, []byte(`,"s":[`)); ok {
		rest = s
		for i := range refs {
			if i > 0 {
				if rest, ok = bytes.CutPrefix(rest, []byte(`,`)); !ok {
					return nil, false
				}
			}
			n := 0
			for n < len(rest) && (rest[n] == '-' && n == 0 || '0' <= rest[n] && rest[n] <= '9') {
				n++
			}
			digits := bytes.TrimPrefix(rest[:n], []byte("-"))
			if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
				return nil, false
			}
			v, err := strconv.ParseInt(string(rest[:n]), 10, 64)
			if err != nil {
				return nil, false
			}
			refs[i].Seq, rest = v, rest[n:]
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`]`)); !ok {
			return nil, false
		}
	}
	if string(rest) != "}" {
		return nil, false
	}
	total := 0
	for _, id := range ids {
		total += len(prefix) + len(id)
	}
	var all strings.Builder
	all.Grow(total)
	for _, id := range ids {
		all.Write(prefix)
		all.Write(id)
	}
	keys, off := all.String(), 0
	for i, id := range ids {
		n := len(prefix) + len(id)
		refs[i].Key = keys[off : off+n]
		off += n
	}
	return refs, true
}

// plainString returns the JSON string at the start of b (after its opening
// quote) when it holds only printable ASCII other than a backslash, and
// what follows its closing quote.
func plainString(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i+1:], true
		case c < 0x20 || c >= utf8.RuneSelf || c == '\\':
			return nil, nil, false
		}
	}
	return nil, nil, false
}
