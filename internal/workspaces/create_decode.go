package workspaces

import "unicode/utf8"

// DecodeJSONFast decodes a CreateWorkspaces body in the form SDKs write it
// and reports whether it did (awsproto.FastJSON). Every string is sliced
// from body (the gateway's, handed over by DecodeJSONOwned: not copied),
// and the pointers and lists of a request's desktops come from a few
// shared blocks: about 12 allocations per desktop fewer than the general
// decoder. It refuses anything it does not expect (a string with an
// escape or invalid UTF-8, null, an unknown, repeated or differently
// cased key, a number other than a plain integer, any other
// type or syntax) and then leaves in zero, for the general decoder to
// decode or to tell what is wrong. TestCreateDecodeAsTheDecoder and
// FuzzCreateDecodeAgrees hold what it accepts to the general decoder's
// values.
func (in *createWorkspacesIn) DecodeJSONFast(body string) bool {
	d := createDecoder{s: body}
	if !d.top(in) {
		*in = createWorkspacesIn{}
		return false
	}
	return true
}

// createDecoder reads s from i. Its blocks hand out the pointers of the
// decoded values: each is a slice whose free capacity the next value takes.
type createDecoder struct {
	s     string
	i     int
	strs  []string
	bools []bool
	ints  []int
	props []WorkspaceProperties
	tags  []Tag
}

func (d *createDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the byte there is c, taking it
// if so.
func (d *createDecoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string without escapes, of valid UTF-8.
func (d *createDecoder) str() (string, bool) {
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.s); j++ {
		c := d.s[j]
		switch {
		case c == '"':
			v := d.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			d.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

func (d *createDecoder) strPtr() (*string, bool) {
	v, ok := d.str()
	if !ok {
		return nil, false
	}
	if len(d.strs) == cap(d.strs) {
		d.strs = make([]string, 0, 64)
	}
	d.strs = append(d.strs, v)
	return &d.strs[len(d.strs)-1], true
}

func (d *createDecoder) boolPtr() (*bool, bool) {
	d.ws()
	var v bool
	switch {
	case len(d.s)-d.i >= 4 && d.s[d.i:d.i+4] == "true":
		v, d.i = true, d.i+4
	case len(d.s)-d.i >= 5 && d.s[d.i:d.i+5] == "false":
		d.i += 5
	default:
		return nil, false
	}
	if !d.delim() {
		return nil, false
	}
	if len(d.bools) == cap(d.bools) {
		d.bools = make([]bool, 0, 32)
	}
	d.bools = append(d.bools, v)
	return &d.bools[len(d.bools)-1], true
}

// delim reports whether a value ends at i: the end, white space, ',' '}' or ']'.
func (d *createDecoder) delim() bool {
	if d.i == len(d.s) {
		return true
	}
	switch d.s[d.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// intPtr reads a plain integer: 0, or an optional minus and up to 18 digits
// without a leading zero (so it fits an int).
func (d *createDecoder) intPtr() (*int, bool) {
	d.ws()
	neg := d.i < len(d.s) && d.s[d.i] == '-'
	if neg {
		d.i++
	}
	start, n := d.i, 0
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' && d.i-start < 19 {
		n = n*10 + int(d.s[d.i]-'0')
		d.i++
	}
	digits := d.i - start
	if digits == 0 || digits > 18 || (d.s[start] == '0' && (digits > 1 || neg)) || !d.delim() {
		return nil, false
	}
	if neg {
		n = -n
	}
	if len(d.ints) == cap(d.ints) {
		d.ints = make([]int, 0, 16)
	}
	d.ints = append(d.ints, n)
	return &d.ints[len(d.ints)-1], true
}

// object reads an object's members, calling member with each key; member
// reads the value and returns the key's bit, or 0 to refuse. A key met
// twice is refused.
func (d *createDecoder) object(member func(key string) uint32) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	var seen uint32
	for {
		k, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		bit := member(k)
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

func (d *createDecoder) top(in *createWorkspacesIn) bool {
	ok := d.object(func(k string) uint32 {
		if k != "Workspaces" || !d.next('[') {
			return 0
		}
		in.Workspaces = make([]WorkspaceRequest, 0, 25)
		if d.next(']') {
			return 1
		}
		for {
			in.Workspaces = append(in.Workspaces, WorkspaceRequest{})
			if !d.request(&in.Workspaces[len(in.Workspaces)-1]) {
				return 0
			}
			if d.next(']') {
				return 1
			}
			if !d.next(',') {
				return 0
			}
		}
	})
	d.ws()
	return ok && d.i == len(d.s)
}

// known returns bit if ok, else 0.
func known(bit uint32, ok bool) uint32 {
	if !ok {
		return 0
	}
	return bit
}

func (d *createDecoder) request(r *WorkspaceRequest) bool {
	return d.object(func(k string) uint32 {
		var ok bool
		var bit uint32
		switch k {
		case "DirectoryId":
			bit = 1 << 0
			r.DirectoryId, ok = d.str()
		case "UserName":
			bit = 1 << 1
			r.UserName, ok = d.str()
		case "BundleId":
			bit = 1 << 2
			r.BundleId, ok = d.str()
		case "VolumeEncryptionKey":
			bit = 1 << 3
			r.VolumeEncryptionKey, ok = d.strPtr()
		case "UserVolumeEncryptionEnabled":
			bit = 1 << 4
			r.UserVolumeEncryptionEnabled, ok = d.boolPtr()
		case "RootVolumeEncryptionEnabled":
			bit = 1 << 5
			r.RootVolumeEncryptionEnabled, ok = d.boolPtr()
		case "WorkspaceProperties":
			bit = 1 << 6
			if len(d.props) == cap(d.props) {
				d.props = make([]WorkspaceProperties, 0, 25)
			}
			d.props = append(d.props, WorkspaceProperties{})
			r.WorkspaceProperties = &d.props[len(d.props)-1]
			ok = d.properties(r.WorkspaceProperties)
		case "Tags":
			bit = 1 << 7
			r.Tags, ok = d.tagList()
		case "WorkspaceName":
			bit = 1 << 8
			r.WorkspaceName, ok = d.strPtr()
		case "Ipv6Address":
			bit = 1 << 9
			r.Ipv6Address, ok = d.strPtr()
		}
		return known(bit, ok)
	})
}

func (d *createDecoder) properties(p *WorkspaceProperties) bool {
	return d.object(func(k string) uint32 {
		var ok bool
		var bit uint32
		switch k {
		case "RunningMode":
			bit = 1 << 0
			p.RunningMode, ok = d.strPtr()
		case "RunningModeAutoStopTimeoutInMinutes":
			bit = 1 << 1
			p.RunningModeAutoStopTimeoutInMinutes, ok = d.intPtr()
		case "RootVolumeSizeGib":
			bit = 1 << 2
			p.RootVolumeSizeGib, ok = d.intPtr()
		case "UserVolumeSizeGib":
			bit = 1 << 3
			p.UserVolumeSizeGib, ok = d.intPtr()
		case "ComputeTypeName":
			bit = 1 << 4
			p.ComputeTypeName, ok = d.strPtr()
		case "Protocols":
			bit = 1 << 5
			p.Protocols, ok = d.strList()
		case "OperatingSystemName":
			bit = 1 << 6
			p.OperatingSystemName, ok = d.strPtr()
		case "GlobalAccelerator":
			bit = 1 << 7
			p.GlobalAccelerator = &GlobalAccelerator{}
			ok = d.object(func(k string) uint32 {
				var ok bool
				var bit uint32
				switch k {
				case "Mode":
					bit = 1 << 0
					p.GlobalAccelerator.Mode, ok = d.strPtr()
				case "PreferredProtocol":
					bit = 1 << 1
					p.GlobalAccelerator.PreferredProtocol, ok = d.strPtr()
				}
				return known(bit, ok)
			})
		}
		return known(bit, ok)
	})
}

func (d *createDecoder) strList() ([]string, bool) {
	if !d.next('[') {
		return nil, false
	}
	list := []string{}
	if d.next(']') {
		return list, true
	}
	for {
		v, ok := d.str()
		if !ok {
			return nil, false
		}
		list = append(list, v)
		if d.next(']') {
			return list, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

// tagList reads a list of tags into the free end of the tags block; the
// list's capacity is its length, so an append to it copies.
func (d *createDecoder) tagList() ([]Tag, bool) {
	if !d.next('[') {
		return nil, false
	}
	if d.next(']') {
		return []Tag{}, true
	}
	if cap(d.tags)-len(d.tags) < 4 {
		d.tags = make([]Tag, 0, 32)
	}
	start := len(d.tags)
	for {
		if len(d.tags) == cap(d.tags) { // move the list so far to a larger block
			n := len(d.tags) - start
			grown := make([]Tag, n, max(32, 2*n))
			copy(grown, d.tags[start:])
			d.tags, start = grown, 0
		}
		d.tags = append(d.tags, Tag{})
		t := &d.tags[len(d.tags)-1]
		ok := d.object(func(k string) uint32 {
			var ok bool
			var bit uint32
			switch k {
			case "Key":
				bit = 1 << 0
				t.Key, ok = d.str()
			case "Value":
				bit = 1 << 1
				t.Value, ok = d.strPtr()
			}
			return known(bit, ok)
		})
		if !ok {
			return nil, false
		}
		if d.next(']') {
			return d.tags[start:len(d.tags):len(d.tags)], true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}
