package workspaces

import (
	"slices"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/jsonenc"
)

// appendV1 appends the desktop's first stored form: the bytes encoding/json
// writes for it (TestDesktopAppendJSONMatchesEncodingJSON holds them
// equal), without its reflection. AppendJSON writes it for a record the
// compact form cannot hold (desktop_v2.go).
func (w *desktopRec) appendV1(b []byte) ([]byte, error) {
	var err error
	b = append(b, '{')
	b = jsonenc.String(jsonenc.Field(b, "id", true), w.WorkspaceID)
	b = jsonenc.String(jsonenc.Field(b, "dir", false), w.DirectoryID)
	b = jsonenc.String(jsonenc.Field(b, "user", false), w.UserName)
	b = optString(b, "name", w.WorkspaceName)
	b = jsonenc.String(jsonenc.Field(b, "bundle", false), w.BundleID)
	b = jsonenc.String(jsonenc.Field(b, "state", false), w.State)
	b = optString(b, "prev_state", w.PrevState)
	b = jsonenc.String(jsonenc.Field(b, "subnet", false), w.SubnetID)
	b = jsonenc.String(jsonenc.Field(b, "ip", false), w.IPAddress)
	b = jsonenc.String(jsonenc.Field(b, "computer", false), w.ComputerName)
	b = optString(b, "error_code", w.ErrorCode)
	b = optString(b, "error_message", w.ErrorMessage)
	b = w.Properties.appendJSON(jsonenc.Field(b, "props", false))
	b = appendMods(b, "mods", w.Modifications)
	b = optString(b, "kms_key", w.VolumeKey)
	b = optBool(b, "root_enc", w.RootEncrypted)
	b = optBool(b, "user_enc", w.UserEncrypted)
	b = optString(b, "sid", w.UserSID)
	b = optString(b, "ws_grant", w.WorkspaceGrant)
	b = w.Root.appendJSON(jsonenc.Field(b, "root", false))
	b = w.User.appendJSON(jsonenc.Field(b, "uservol", false))
	for _, t := range []struct {
		name string
		t    *time.Time
	}{{"snapshot_base", w.SnapshotBase}, {"unhealthy_since", w.UnhealthySince}} {
		if t.t != nil {
			if b, err = jsonenc.Time(jsonenc.Field(b, t.name, false), *t.t); err != nil {
				return nil, err
			}
		}
	}
	if len(w.Tags) > 0 {
		b = w.Tags.appendJSON(jsonenc.Field(b, "tags", false))
	}
	if b, err = jsonenc.Time(jsonenc.Field(b, "created", false), w.Created); err != nil {
		return nil, err
	}
	if b, err = jsonenc.Time(jsonenc.Field(b, "state_since", false), w.StateSince); err != nil {
		return nil, err
	}
	if w.AvailableSince != nil {
		if b, err = jsonenc.Time(jsonenc.Field(b, "available_since", false), *w.AvailableSince); err != nil {
			return nil, err
		}
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"last_volume_resize", w.LastVolumeResize}, {"last_compute_up", w.LastComputeUp}, {"last_compute_down", w.LastComputeDown}} {
		if !t.t.IsZero() {
			if b, err = jsonenc.Time(jsonenc.Field(b, t.name, false), t.t); err != nil {
				return nil, err
			}
		}
	}
	b = optString(b, "maint_group", w.MaintGroup)
	b = optString(b, "migrated_from", w.MigratedFrom)
	b = optString(b, "migrating_to", w.MigratingTo)
	if w.AwaitGuest {
		b = jsonenc.Bool(jsonenc.Field(b, "await_guest", false), true)
	}
	if w.GuestBoot != 0 {
		b = jsonenc.Int(jsonenc.Field(b, "guest_boot", false), w.GuestBoot)
	}
	b = jsonenc.Int(jsonenc.Field(b, "seq", false), w.Seq)
	if len(w.History) > 0 {
		b = append(jsonenc.Field(b, "history", false), '[')
		for i, h := range w.History {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendStringAndTime(b, "state", h.State, "time", h.Time); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendJSON appends the properties as encoding/json writes them.
func (p *WorkspaceProperties) appendJSON(b []byte) []byte { return p.appendNamed(b, &propsV1Names) }

// propsNames are the member names of WorkspaceProperties in one of its
// stored forms.
type propsNames struct {
	runningMode, autoStop, root, user, compute, protocols, os, accelerator string
}

// propsV1Names are encoding/json's names (the API's); the compact form's
// are propsV2Names.
var propsV1Names = propsNames{"RunningMode", "RunningModeAutoStopTimeoutInMinutes", "RootVolumeSizeGib", "UserVolumeSizeGib",
	"ComputeTypeName", "Protocols", "OperatingSystemName", "GlobalAccelerator"}

// appendNamed appends the properties as encoding/json writes them, under
// the names n.
func (p *WorkspaceProperties) appendNamed(b []byte, n *propsNames) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		b = jsonenc.Field(b, name, first)
		first = false
	}
	if p.RunningMode != nil {
		field(n.runningMode)
		b = jsonenc.String(b, *p.RunningMode)
	}
	for _, f := range [...]struct {
		name string
		v    *int
	}{{n.autoStop, p.RunningModeAutoStopTimeoutInMinutes}, {n.root, p.RootVolumeSizeGib}, {n.user, p.UserVolumeSizeGib}} {
		if f.v != nil {
			field(f.name)
			b = jsonenc.Int(b, int64(*f.v))
		}
	}
	if p.ComputeTypeName != nil {
		field(n.compute)
		b = jsonenc.String(b, *p.ComputeTypeName)
	}
	if len(p.Protocols) > 0 {
		field(n.protocols)
		b = appendStrings(b, p.Protocols)
	}
	if p.OperatingSystemName != nil {
		field(n.os)
		b = jsonenc.String(b, *p.OperatingSystemName)
	}
	if g := p.GlobalAccelerator; g != nil {
		field(n.accelerator)
		b = append(b, '{')
		if g.Mode != nil {
			b = jsonenc.String(jsonenc.Field(b, "Mode", true), *g.Mode)
		}
		if g.PreferredProtocol != nil {
			b = jsonenc.String(jsonenc.Field(b, "PreferredProtocol", g.Mode == nil), *g.PreferredProtocol)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendJSON appends the volume as encoding/json writes it.
func (v *volumeRec) appendJSON(b []byte) []byte { return v.appendNamed(b, &volumeV1Names) }

// volumeNames are the member names of volumeRec in one of its stored forms.
type volumeNames struct{ id, size, encrypted, key, grants, image string }

// volumeV1Names are encoding/json's names (volumeRec's tags); the compact
// form's are volumeV2Names.
var volumeV1Names = volumeNames{"id", "size", "encrypted", "edk", "grants", "image"}

// appendNamed appends the volume as encoding/json writes it, under the
// names n.
func (v *volumeRec) appendNamed(b []byte, n *volumeNames) []byte {
	b = jsonenc.String(jsonenc.Field(append(b, '{'), n.id, true), v.VolumeID)
	b = jsonenc.Int(jsonenc.Field(b, n.size, false), int64(v.SizeGib))
	b = optBool(b, n.encrypted, v.Encrypted)
	if len(v.EncryptedDataKey) > 0 {
		b = jsonenc.Bytes(jsonenc.Field(b, n.key, false), v.EncryptedDataKey)
	}
	if len(v.GrantIDs) > 0 {
		b = appendStrings(jsonenc.Field(b, n.grants, false), v.GrantIDs)
	}
	b = optString(b, n.image, v.ImageID)
	return append(b, '}')
}

// appendJSON appends the tags as encoding/json writes a map: keys sorted.
func (t Tags) appendJSON(b []byte) []byte {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonenc.String(b, k), ':')
		b = jsonenc.String(b, t[k])
	}
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.String(b, s)
	}
	return append(b, ']')
}

// optString appends a member tagged omitempty: nothing for "".
func optString(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return jsonenc.String(jsonenc.Field(b, name, false), v)
}

// optBool appends a member tagged omitempty: nothing for false.
func optBool(b []byte, name string, v bool) []byte {
	if !v {
		return b
	}
	return jsonenc.Bool(jsonenc.Field(b, name, false), v)
}

// jobRefs is the payload of a batch job: the desktops it moves on (encoded
// by jobpayload.go).
type jobRefs []jobRef

// maintEntries is the payload of a maintenance group's job (encoded by
// jobpayload.go).
type maintEntries []maintEntry

// appendStringAndTime appends an object of a string member and a time
// member, as encoding/json writes a struct of the two.
func appendStringAndTime(b []byte, sName, s, tName string, t time.Time) ([]byte, error) {
	b = jsonenc.String(jsonenc.Field(append(b, '{'), sName, true), s)
	b, err := jsonenc.Time(jsonenc.Field(b, tName, false), t)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendMods appends the record's modifications under name (nothing when
// there are none), as encoding/json writes them.
func appendMods(b []byte, name string, mods []ModificationState) []byte {
	if len(mods) == 0 {
		return b
	}
	b = append(jsonenc.Field(b, name, false), '[')
	for i, m := range mods {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.String(jsonenc.Field(append(b, '{'), "Resource", true), m.Resource)
		b = append(jsonenc.String(jsonenc.Field(b, "State", false), m.State), '}')
	}
	return append(b, ']')
}
