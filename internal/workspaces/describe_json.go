package workspaces

import (
	"slices"
	"strconv"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/jsonenc"
)

// AppendJSON appends the DescribeWorkspaces response: the bytes
// encoding/json writes for it (TestDescribeOutAppendJSONMatchesEncodingJSON
// holds them equal), without its reflection. The gateway encodes a
// response that has it with it; DescribeWorkspaces is the most frequent
// call of a broker or a console.
func (o *describeWorkspacesOut) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, 64+450*len(o.Workspaces)) // a desktop is about 400 bytes
	b = append(b, `{"Workspaces":`...)
	if o.Workspaces == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range o.Workspaces {
			if i > 0 {
				b = append(b, ',')
			}
			if o.cache != nil {
				b = o.cache.appendWorkspace(b, &o.Workspaces[i])
			} else {
				b = o.Workspaces[i].appendJSON(b)
			}
		}
		b = append(b, ']')
	}
	if o.NextToken != nil {
		b = jsonenc.String(jsonenc.Field(b, "NextToken", false), *o.NextToken)
	}
	return append(b, '}'), nil
}

// appendJSON appends the desktop as encoding/json writes it.
func (w *Workspace) appendJSON(b []byte) []byte { return w.appendAfter(b, nil) }

// wsRuns is where, in the buffer being written, three runs of members of
// the desktop written before lie (offsets from the buffer's start): the
// members from DirectoryId to BundleId, from ErrorMessage to
// RootVolumeEncryptionEnabled, and WorkspaceProperties. A
// CreateWorkspaces answer's desktops share most of them (the request's
// directory, bundle, user and state, the flags, the properties): a
// desktop whose run's members equal its predecessor's, compared by value,
// copies the run's bytes instead of encoding them again.
// TestCreateOutRepeatsAsEncodingJSON holds the bytes to encoding/json's.
type wsRuns struct {
	prev               *Workspace
	head, flags, props [2]int
}

// appendAfter is appendJSON, after the desktop r holds the runs of (r nil:
// none; r.prev nil: the first), and notes this desktop's runs in r.
func (w *Workspace) appendAfter(b []byte, r *wsRuns) []byte {
	b = jsonenc.String(jsonenc.Field(append(b, '{'), "WorkspaceId", true), w.WorkspaceId)
	var p *Workspace
	if r != nil {
		p = r.prev
	}
	if p != nil && w.DirectoryId == p.DirectoryId && w.UserName == p.UserName && w.IpAddress == p.IpAddress &&
		w.State == p.State && w.BundleId == p.BundleId {
		b = append(b, b[r.head[0]:r.head[1]]...)
	} else {
		start := len(b)
		b = jsonenc.String(jsonenc.Field(b, "DirectoryId", false), w.DirectoryId)
		b = jsonenc.String(jsonenc.Field(b, "UserName", false), w.UserName)
		b = optString(b, "IpAddress", w.IpAddress)
		b = jsonenc.String(jsonenc.Field(b, "State", false), w.State)
		b = jsonenc.String(jsonenc.Field(b, "BundleId", false), w.BundleId)
		if r != nil {
			r.head = [2]int{start, len(b)}
		}
	}
	b = optString(b, "SubnetId", w.SubnetId)
	if p != nil && w.ErrorMessage == p.ErrorMessage && w.ErrorCode == p.ErrorCode && w.ComputerName == p.ComputerName &&
		w.VolumeEncryptionKey == p.VolumeEncryptionKey && sameBool(w.UserVolumeEncryptionEnabled, p.UserVolumeEncryptionEnabled) &&
		sameBool(w.RootVolumeEncryptionEnabled, p.RootVolumeEncryptionEnabled) {
		b = append(b, b[r.flags[0]:r.flags[1]]...)
	} else {
		start := len(b)
		b = optString(b, "ErrorMessage", w.ErrorMessage)
		b = optString(b, "ErrorCode", w.ErrorCode)
		b = optString(b, "ComputerName", w.ComputerName)
		b = optString(b, "VolumeEncryptionKey", w.VolumeEncryptionKey)
		if w.UserVolumeEncryptionEnabled != nil {
			b = jsonenc.Bool(jsonenc.Field(b, "UserVolumeEncryptionEnabled", false), *w.UserVolumeEncryptionEnabled)
		}
		if w.RootVolumeEncryptionEnabled != nil {
			b = jsonenc.Bool(jsonenc.Field(b, "RootVolumeEncryptionEnabled", false), *w.RootVolumeEncryptionEnabled)
		}
		if r != nil {
			r.flags = [2]int{start, len(b)}
		}
	}
	b = optString(b, "WorkspaceName", w.WorkspaceName)
	if p != nil && sameProps(w.WorkspaceProperties, p.WorkspaceProperties) {
		b = append(b, b[r.props[0]:r.props[1]]...)
	} else {
		start := len(b)
		if w.WorkspaceProperties != nil {
			b = w.WorkspaceProperties.appendJSON(jsonenc.Field(b, "WorkspaceProperties", false))
		}
		if r != nil {
			r.props = [2]int{start, len(b)}
		}
	}
	if r != nil {
		r.prev = w
	}
	if len(w.ModificationStates) > 0 {
		b = append(jsonenc.Field(b, "ModificationStates", false), '[')
		for i, m := range w.ModificationStates {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.String(jsonenc.Field(append(b, '{'), "Resource", true), m.Resource)
			b = append(jsonenc.String(jsonenc.Field(b, "State", false), m.State), '}')
		}
		b = append(b, ']')
	}
	if len(w.RelatedWorkspaces) > 0 {
		b = append(jsonenc.Field(b, "RelatedWorkspaces", false), '[')
		for i, r := range w.RelatedWorkspaces {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.String(jsonenc.Field(append(b, '{'), "WorkspaceId", true), r.WorkspaceId)
			b = jsonenc.String(jsonenc.Field(b, "Region", false), r.Region)
			b = jsonenc.String(jsonenc.Field(b, "State", false), r.State)
			b = append(jsonenc.String(jsonenc.Field(b, "Type", false), r.Type), '}')
		}
		b = append(b, ']')
	}
	if d := w.DataReplicationSettings; d != nil {
		b = append(jsonenc.Field(b, "DataReplicationSettings", false), '{')
		if d.DataReplication != "" {
			b = jsonenc.String(jsonenc.Field(b, "DataReplication", true), d.DataReplication)
		}
		if t := d.RecoverySnapshotTime; t != nil {
			b = epoch(jsonenc.Field(b, "RecoverySnapshotTime", d.DataReplication == ""), t)
		}
		b = append(b, '}')
	}
	if len(w.StandbyWorkspacesProperties) > 0 {
		b = append(jsonenc.Field(b, "StandbyWorkspacesProperties", false), '[')
		for i, s := range w.StandbyWorkspacesProperties {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.String(jsonenc.Field(append(b, '{'), "StandbyWorkspaceId", true), s.StandbyWorkspaceId)
			b = optString(b, "DataReplication", s.DataReplication)
			if t := s.RecoverySnapshotTime; t != nil {
				b = epoch(jsonenc.Field(b, "RecoverySnapshotTime", false), t)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// epoch appends a timestamp as awsproto.Time marshals it: epoch seconds
// with millisecond precision.
func epoch(b []byte, t *awsproto.Time) []byte {
	return strconv.AppendFloat(b, float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// sameProps reports whether p and q are written as the same JSON: nil
// both, or members equal by value (Protocols nil and empty alike: neither
// is written).
func sameProps(p, q *WorkspaceProperties) bool {
	if p == q {
		return true
	}
	if p == nil || q == nil {
		return false
	}
	if !samePtr(p.RunningMode, q.RunningMode) || !samePtr(p.RunningModeAutoStopTimeoutInMinutes, q.RunningModeAutoStopTimeoutInMinutes) ||
		!samePtr(p.RootVolumeSizeGib, q.RootVolumeSizeGib) || !samePtr(p.UserVolumeSizeGib, q.UserVolumeSizeGib) ||
		!samePtr(p.ComputeTypeName, q.ComputeTypeName) || !slices.Equal(p.Protocols, q.Protocols) ||
		!samePtr(p.OperatingSystemName, q.OperatingSystemName) {
		return false
	}
	g, h := p.GlobalAccelerator, q.GlobalAccelerator
	if g == nil || h == nil {
		return g == h
	}
	return samePtr(g.Mode, h.Mode) && samePtr(g.PreferredProtocol, h.PreferredProtocol)
}

// samePtr reports whether a and b are both nil or point to equal values.
func samePtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
