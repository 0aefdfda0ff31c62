package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
)

// Example is a documented configuration file: the default environment's
// customer and partner accounts, with every kind of member and a comment on
// each (deskplane config example prints it).
//
//go:embed example.jsonc
var Example []byte

// Error is a mistake in a configuration file: where it is (the file, the
// line when known, the member's path) and what is wrong.
type Error struct {
	File string // the file's name ("-" for standard input)
	Line int    // 1-based; 0 when unknown
	Path string // e.g. accounts[0].vpcs[1].cidr; empty for the whole file
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Parse reads a configuration file's contents strictly: it must be one JSON
// object (with // comments allowed to the end of a line) whose keys are all
// members of Config — an unknown or misspelled key is an error naming it and
// its line — and whose values are possible (Validate). Omitted members take
// their defaults. name labels the errors.
func Parse(name string, b []byte) (*Config, error) {
	src := stripComments(b)
	pos, err := checkKeys(name, src)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, decodeError(name, src, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{File: name, Line: lineAt(src, dec.InputOffset()), Msg: "unexpected data after the configuration object"}
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = lineAt(src, pos.find(ce.Path))
		}
		return nil, err
	}
	return c, nil
}

// applyDefaults fills the members a file may omit.
func (c *Config) applyDefaults() {
	if len(c.Regions) == 0 {
		c.Regions = DefaultRegions
	}
	if c.Quotas.Workspaces == 0 {
		c.Quotas.Workspaces = DefaultQuotas.Workspaces
	}
	if c.Quotas.Bundles == 0 {
		c.Quotas.Bundles = DefaultQuotas.Bundles
	}
	if c.Quotas.Images == 0 {
		c.Quotas.Images = DefaultQuotas.Images
	}
	if c.Quotas.Directories == 0 {
		c.Quotas.Directories = DefaultQuotas.Directories
	}
	if c.Quotas.WorkspaceInstances == 0 {
		c.Quotas.WorkspaceInstances = DefaultQuotas.WorkspaceInstances
	}
	if c.Quotas.InstanceVolumes == 0 {
		c.Quotas.InstanceVolumes = DefaultQuotas.InstanceVolumes
	}
}

// stripComments blanks // comments outside strings, keeping every offset
// (and so every line number) where it was.
func stripComments(b []byte) []byte {
	out := bytes.Clone(b)
	inStr, esc := false, false
	for i := 0; i < len(out); i++ {
		ch := out[i]
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case ch == '\\':
				esc = true
			case ch == '"':
				inStr = false
			}
		case ch == '"':
			inStr = true
		case ch == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		}
	}
	return out
}

// lineAt returns the 1-based line of a byte offset (0 for a negative one).
func lineAt(b []byte, off int64) int {
	if off < 0 {
		return 0
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// decodeError turns an encoding/json error into an Error with a line.
func decodeError(name string, src []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &Error{File: name, Line: lineAt(src, se.Offset), Msg: "invalid JSON: " + se.Error()}
	case errors.As(err, &te):
		return &Error{File: name, Line: lineAt(src, te.Offset), Path: te.Field, Msg: fmt.Sprintf("a %s cannot hold a JSON %s", te.Type, te.Value)}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{File: name, Line: lineAt(src, int64(len(src))), Msg: "the file ends before the configuration object does"}
	}
	return &Error{File: name, Msg: err.Error()}
}

// positions maps member paths to the offsets where their values start.
type positions map[string]int64

// find returns the offset of path, or of its nearest recorded parent.
func (p positions) find(path string) int64 {
	for path != "" {
		if off, ok := p[path]; ok {
			return off
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return -1
}

// checkKeys walks the document's tokens against Config's type, so that an
// unknown key is reported with its path and line (encoding/json names only
// the key), and records where each member is for later messages. The walk
// is driven by reflection over the json tags, so members added to Config
// are known without a list to keep.
func checkKeys(name string, src []byte) (positions, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	pos := positions{}
	w := &keyWalker{dec: dec, src: src, name: name, pos: pos}
	if err := w.value(reflect.TypeOf(Config{}), ""); err != nil {
		return nil, err
	}
	return pos, nil
}

type keyWalker struct {
	dec  *json.Decoder
	src  []byte
	name string
	pos  positions
}

func (w *keyWalker) fail(path string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{File: w.name, Line: lineAt(w.src, se.Offset), Msg: "invalid JSON: " + se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{File: w.name, Line: lineAt(w.src, int64(len(w.src))), Msg: "the file ends before the configuration object does"}
	}
	return &Error{File: w.name, Line: lineAt(w.src, w.dec.InputOffset()), Path: path, Msg: err.Error()}
}

// value reads one value of type t at path.
func (w *keyWalker) value(t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w.pos[path] = w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return w.fail(path, err)
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil // scalars are checked when decoding
	}
	switch d {
	case '{':
		var fields map[string]reflect.Type
		if t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		for w.dec.More() {
			off := w.dec.InputOffset()
			kt, err := w.dec.Token()
			if err != nil {
				return w.fail(path, err)
			}
			key, _ := kt.(string)
			var ft reflect.Type
			var sub string
			switch t.Kind() {
			case reflect.Struct:
				ft = fields[key]
				if ft == nil {
					for k, v := range fields { // encoding/json folds case
						if strings.EqualFold(k, key) {
							ft = v
							break
						}
					}
				}
				if ft == nil {
					return &Error{File: w.name, Line: lineAt(w.src, skipSpace(w.src, off)), Path: path,
						Msg: fmt.Sprintf("unknown key %q%s", key, suggest(key, fields))}
				}
				sub = join(path, key)
			case reflect.Map:
				ft, sub = t.Elem(), join(path, key)
			default:
				ft, sub = reflect.TypeOf((*any)(nil)).Elem(), join(path, key)
			}
			if err := w.value(ft, sub); err != nil {
				return err
			}
		}
	case '[':
		et := reflect.TypeOf((*any)(nil)).Elem()
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			et = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(et, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	if _, err := w.dec.Token(); err != nil { // the closing delimiter
		return w.fail(path, err)
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// skipSpace returns the offset of the first non-space byte at or after off
// (the decoder's offset before a key is after the preceding comma).
func skipSpace(b []byte, off int64) int64 {
	for off < int64(len(b)) && strings.IndexByte(" \t\r\n,:", b[off]) >= 0 {
		off++
	}
	return off
}

// jsonFields returns the JSON member names of a struct type (embedded
// structs flattened) and their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// suggest names the known key closest to an unknown one, if any is close.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validateValues checks that the values are possible: account ids, unique
// names and ids, CIDRs (subnets inside their VPC, not overlapping), quotas
// and fault rates. Errors are *Error with the member's path.
func (c *Config) validateValues() error {
	bad := func(path, format string, args ...any) error {
		return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	seenRegion := map[string]bool{}
	for i, r := range c.Regions {
		p := fmt.Sprintf("regions[%d]", i)
		if !regionRe.MatchString(r) {
			return bad(p, "%q is not a region name such as us-east-1", r)
		}
		if seenRegion[r] {
			return bad(p, "region %s is listed twice", r)
		}
		seenRegion[r] = true
	}
	seenAccount := map[string]bool{}
	for i, a := range c.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		if !accountRe.MatchString(a.ID) {
			return bad(p+".id", "account id %q must be 12 digits", a.ID)
		}
		if seenAccount[a.ID] {
			return bad(p+".id", "account %s is declared twice", a.ID)
		}
		seenAccount[a.ID] = true
		users := map[string]bool{}
		for j, u := range a.Users {
			up := fmt.Sprintf("%s.users[%d]", p, j)
			if u.Name == "" {
				return bad(up+".name", "a user needs a name")
			}
			if users[u.Name] {
				return bad(up+".name", "user %s is declared twice in account %s", u.Name, a.ID)
			}
			users[u.Name] = true
		}
		roles := map[string]bool{}
		for j, r := range a.Roles {
			rp := fmt.Sprintf("%s.roles[%d]", p, j)
			if !roleNameRe.MatchString(r.Name) {
				return bad(rp+".name", "role name %q: a name is 1 to 64 letters, digits and +=,.@_-", r.Name)
			}
			if roles[strings.ToLower(r.Name)] {
				return bad(rp+".name", "role %s is declared twice in account %s", r.Name, a.ID)
			}
			roles[strings.ToLower(r.Name)] = true
			if r.TrustPolicy == nil {
				return bad(rp+".trust_policy", "role %s: trust_policy is required", r.Name)
			}
			if r.Path != "" && (!strings.HasPrefix(r.Path, "/") || !strings.HasSuffix(r.Path, "/")) {
				return bad(rp+".path", "role %s: path %q must begin and end with /", r.Name, r.Path)
			}
			if d := r.MaxSessionDuration; d != 0 && (d < 3600 || d > 43200) {
				return bad(rp+".max_session_duration", "role %s: %d is not between 3600 and 43200", r.Name, d)
			}
		}
		dirs := map[string]bool{}
		for j, d := range a.Directories {
			dp := fmt.Sprintf("%s.directories[%d]", p, j)
			if d.Name == "" {
				return bad(dp+".name", "a directory needs a name such as corp.example.com")
			}
			if dirs[d.Name] {
				return bad(dp+".name", "directory %s is declared twice in account %s", d.Name, a.ID)
			}
			dirs[d.Name] = true
			switch d.Type {
			case "", "MicrosoftAD", "SimpleAD", "ADConnector":
			default:
				return bad(dp+".type", "directory type %q is not MicrosoftAD, SimpleAD or ADConnector", d.Type)
			}
			members := map[string]bool{}
			for k, du := range d.Users {
				if du.Name == "" {
					return bad(fmt.Sprintf("%s.users[%d].name", dp, k), "a directory user needs a name")
				}
				if members[du.Name] {
					return bad(fmt.Sprintf("%s.users[%d].name", dp, k), "directory user %s is declared twice", du.Name)
				}
				members[du.Name] = true
			}
			for g, us := range d.Groups {
				for _, u := range us {
					if !members[u] {
						return bad(dp+".groups."+g, "group %s names %s, who is not a user of the directory", g, u)
					}
				}
			}
		}
		var vpcs []netip.Prefix
		for j, v := range a.VPCs {
			vp := fmt.Sprintf("%s.vpcs[%d]", p, j)
			vc, err := netip.ParsePrefix(v.CIDR)
			if err != nil || !vc.Addr().Is4() || vc.Masked() != vc {
				return bad(vp+".cidr", "%q is not an IPv4 network in CIDR notation such as 10.0.0.0/16", v.CIDR)
			}
			if vc.Bits() < 16 || vc.Bits() > 28 {
				return bad(vp+".cidr", "a VPC's netmask must be between /16 and /28, not /%d", vc.Bits())
			}
			for _, o := range vpcs {
				if o.Overlaps(vc) {
					return bad(vp+".cidr", "VPC %s overlaps VPC %s of the same account", vc, o)
				}
			}
			vpcs = append(vpcs, vc)
			var subnets []netip.Prefix
			for k, s := range v.Subnets {
				sp := fmt.Sprintf("%s.subnets[%d]", vp, k)
				sc, err := netip.ParsePrefix(s.CIDR)
				if err != nil || !sc.Addr().Is4() || sc.Masked() != sc {
					return bad(sp+".cidr", "%q is not an IPv4 network in CIDR notation such as 10.0.1.0/24", s.CIDR)
				}
				if sc.Bits() < vc.Bits() || !vc.Contains(sc.Addr()) {
					return bad(sp+".cidr", "subnet %s is not inside its VPC %s", sc, vc)
				}
				for _, o := range subnets {
					if o.Overlaps(sc) {
						return bad(sp+".cidr", "subnet %s overlaps subnet %s", sc, o)
					}
				}
				subnets = append(subnets, sc)
				if s.AZ == "" {
					return bad(sp+".az", "a subnet needs an availability zone: a suffix such as \"a\" or a zone name")
				}
			}
		}
		images := map[string]bool{}
		for j, im := range a.Images {
			ip := fmt.Sprintf("%s.images[%d]", p, j)
			if im.Name == "" {
				return bad(ip+".name", "an image needs a name")
			}
			if images[im.Name] {
				return bad(ip+".name", "image %s is declared twice in account %s", im.Name, a.ID)
			}
			images[im.Name] = true
			if im.VolumeSize < 0 {
				return bad(ip+".volume_size", "volume_size must not be negative")
			}
			if im.GuestCommand != nil && (len(im.GuestCommand) == 0 || im.GuestCommand[0] == "") {
				return bad(ip+".guest_command", "guest_command needs a program: [\"/path/to/guest\", \"arg\"...], or leave it out for the built-in guest")
			}
		}
	}
	for _, q := range []struct {
		name string
		v    int
	}{{"workspaces", c.Quotas.Workspaces}, {"bundles", c.Quotas.Bundles}, {"images", c.Quotas.Images},
		{"directories", c.Quotas.Directories}, {"workspace_instances", c.Quotas.WorkspaceInstances},
		{"instance_volumes", c.Quotas.InstanceVolumes}, {"requests_per_second", c.Quotas.RequestsPerSecond}} {
		if q.v < 0 {
			return bad("quotas."+q.name, "a quota must not be negative (%d)", q.v)
		}
	}
	if f := c.Faults; f != nil {
		for _, r := range []struct {
			name string
			v    float64
		}{{"provision_fail_rate", f.ProvisionFailRate}, {"unhealthy_rate", f.UnhealthyRate}, {"throttle_rate", f.ThrottleRate}} {
			if r.v < 0 || r.v > 1 {
				return bad("faults."+r.name, "a rate must be between 0 and 1 (%g)", r.v)
			}
		}
		if err := f.CheckRegionOutages(c.Regions); err != nil {
			return bad("faults.region_outages", "%v", err)
		}
		if err := f.Check(); err != nil {
			return bad("faults", "%v", err)
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		return bad("admin_token", "the admin token must be at least 16 characters")
	}
	return nil
}
