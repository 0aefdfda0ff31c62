package workspaces

import (
	"reflect"
	"strings"
	"unicode/utf8"
)

// ValidFast reports whether in is certainly valid (awsproto.FastValid):
// every constraint of its v tags holds, checked here without reflection,
// the patterns by hand. It reports false on anything it is not sure of (a
// value it would have to think about, such as a directory id the pattern
// takes only through its unanchored second half), and then Validate
// decides and words the message. It is off (always false) unless the v
// tags of the input's types are the ones it was written for
// (createValidTags): a changed constraint turns it off, and
// TestCreateValidFastIsOn fails. TestCreateValidFastAsValidate holds it to
// Validate on random and mutated inputs.
func (in *createWorkspacesIn) ValidFast() bool {
	if !createValid.on || len(in.Workspaces) < 1 || len(in.Workspaces) > 25 {
		return false
	}
	var lastDir, lastBundle string // a request's desktops mostly repeat them
	for i := range in.Workspaces {
		r := &in.Workspaces[i]
		if i == 0 || r.DirectoryId != lastDir {
			if !directoryIDValid(r.DirectoryId) {
				return false
			}
			lastDir = r.DirectoryId
		}
		if i == 0 || r.BundleId != lastBundle {
			if !idValid(r.BundleId, "wsb-", 8, 63) {
				return false
			}
			lastBundle = r.BundleId
		}
		if n := utf8.RuneCountInString(r.UserName); n < 1 || n > 63 {
			return false
		}
		if r.WorkspaceName != nil && !workspaceNameValid(*r.WorkspaceName) {
			return false
		}
		if p := r.WorkspaceProperties; p != nil && !propertiesValid(p) {
			return false
		}
		for j := range r.Tags {
			t := &r.Tags[j]
			if n := utf8.RuneCountInString(t.Key); n < 1 || n > 127 {
				return false
			}
			if t.Value != nil && utf8.RuneCountInString(*t.Value) > 255 {
				return false
			}
		}
	}
	return true
}

func propertiesValid(p *WorkspaceProperties) bool {
	v := &createValid
	if !inEnum(p.RunningMode, v.runningMode) || !inEnum(p.ComputeTypeName, v.computeType) ||
		!inEnum(p.OperatingSystemName, v.osName) {
		return false
	}
	for _, s := range p.Protocols {
		if !v.protocol[s] {
			return false
		}
	}
	if g := p.GlobalAccelerator; g != nil && (!inEnum(g.Mode, v.gaMode) || !inEnum(g.PreferredProtocol, v.gaProtocol)) {
		return false
	}
	return true
}

func inEnum(s *string, set map[string]bool) bool { return s == nil || set[*s] }

// directoryIDValid: d- and 8 to 63 lower-case hex digits, or wsd- and 8
// to 61 lower-case letters and digits (the length's max, 65, is under the
// pattern's), the whole string.
func directoryIDValid(s string) bool {
	if strings.HasPrefix(s, "d-") {
		for i := 2; i < len(s); i++ {
			if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return len(s) >= 2+8 && len(s) <= 2+63
	}
	return len(s) <= 65 && idValid(s, "wsd-", 8, 63)
}

// idValid: prefix and lo to hi lower-case letters and digits, the whole
// string.
func idValid(s, prefix string, lo, hi int) bool {
	if !strings.HasPrefix(s, prefix) || len(s) < len(prefix)+lo || len(s) > len(prefix)+hi {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// workspaceNameValid: ^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$.
func workspaceNameValid(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '(' || c == ')'
		if i > 0 {
			ok = ok || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// createValidTags are the v tags ValidFast was written for, by type and
// field; a field not named has none. An enum's values are read from its
// tag ("enum=" marks it).
var createValidTags = map[string]string{
	"createWorkspacesIn.Workspaces":           "required,min=1,max=25",
	"WorkspaceRequest.DirectoryId":            "required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)",
	"WorkspaceRequest.UserName":               "required,min=1,max=63",
	"WorkspaceRequest.BundleId":               "required,pattern=^wsb-[0-9a-z]{8,63}$",
	"WorkspaceRequest.WorkspaceName":          "pattern=^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$",
	"WorkspaceProperties.RunningMode":         "enum=",
	"WorkspaceProperties.ComputeTypeName":     "enum=",
	"WorkspaceProperties.Protocols":           "enum=",
	"WorkspaceProperties.OperatingSystemName": "enum=",
	"GlobalAccelerator.Mode":                  "enum=",
	"GlobalAccelerator.PreferredProtocol":     "enum=",
	"Tag.Key":                                 "required,min=1,max=127",
	"Tag.Value":                               "max=255",
}

// createValid is ValidFast's state: on, and the enums' values.
var createValid = func() (v struct {
	on                                                             bool
	runningMode, computeType, protocol, osName, gaMode, gaProtocol map[string]bool
}) {
	enums := map[string]map[string]bool{}
	structs := map[reflect.Type]bool{}
	for _, t := range []reflect.Type{reflect.TypeFor[createWorkspacesIn](), reflect.TypeFor[WorkspaceRequest](),
		reflect.TypeFor[WorkspaceProperties](), reflect.TypeFor[GlobalAccelerator](), reflect.TypeFor[Tag]()} {
		structs[t] = true
	}
	for t := range structs {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := t.Name() + "." + f.Name
			tag, want := f.Tag.Get("v"), createValidTags[name]
			if list, ok := strings.CutPrefix(tag, "enum="); ok && want == "enum=" && !strings.Contains(list, ",") {
				enums[name] = map[string]bool{}
				for _, e := range strings.Split(list, "|") {
					enums[name][e] = true
				}
			} else if tag != want {
				return v // a constraint it was not written for
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.String, reflect.Bool, reflect.Int:
			case reflect.Struct:
				if !structs[ft] {
					return v // a member it does not look into
				}
			default:
				return v
			}
		}
	}
	v.runningMode, v.computeType = enums["WorkspaceProperties.RunningMode"], enums["WorkspaceProperties.ComputeTypeName"]
	v.protocol, v.osName = enums["WorkspaceProperties.Protocols"], enums["WorkspaceProperties.OperatingSystemName"]
	v.gaMode, v.gaProtocol = enums["GlobalAccelerator.Mode"], enums["GlobalAccelerator.PreferredProtocol"]
	v.on = len(enums) == 6
	return v
}()
