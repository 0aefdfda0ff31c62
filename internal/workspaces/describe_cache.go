package workspaces

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
	"unsafe"
)

// descCache keeps the JSON of desktops DescribeWorkspaces by id answered
// with, in slots chosen by the desktop id's hash: a desktop asked for again
// and again (a client waiting for it to become AVAILABLE, a broker polling
// its desktops) is answered with the bytes its last answer encoded, when the
// desktop is the same as then member for member. Encoding one costs about
// 0.4 µs of a call's 30; the comparison a few tens of nanoseconds.
//
// The strings and booleans are compared by value. The properties' members
// are pointers, compared by identity: a rendered desktop's point into its
// record, which describeWorkspaces by id takes from m.decoded, where a
// record is decoded once per version of its bytes, shared, and never
// changed. (A listing decodes into records it reuses; it does not use the
// cache.) An entry is stored on an id's second miss in a row in its slot,
// so that ids taking turns in a slot allocate nothing.
type descCache struct {
	seed  maphash.Seed
	slots [descSlots]descSlot
}

const descSlots = 256

type descSlot struct {
	missed atomic.Uint64 // the hash of the last id that missed here
	e      atomic.Pointer[descEntry]
}

// descEntry is a desktop and its JSON. It does not change once stored.
type descEntry struct {
	ws         Workspace // what the JSON was encoded from; its pointers point into the entry
	props      WorkspaceProperties
	root, user bool
	json       []byte
}

func newDescCache() *descCache { return &descCache{seed: maphash.MakeSeed()} }

// appendWorkspace appends w's JSON (Workspace.appendJSON's bytes).
func (c *descCache) appendWorkspace(b []byte, w *Workspace) []byte {
	if !cacheable(w) {
		return w.appendJSON(b)
	}
	h := mapHashOf(c, w.WorkspaceId)
	s := &c.slots[h%descSlots]
	if e := s.e.Load(); e != nil && e.same(w) {
		return append(b, e.json...)
	}
	n := len(b)
	b = w.appendJSON(b)
	if s.missed.Swap(h) == h {
		s.e.Store(newDescEntry(w, b[n:]))
	}
	return b
}

// cacheable reports whether w is a desktop the cache keeps: one without
// modifications in progress, related or standby desktops (they change as
// other records do).
func cacheable(w *Workspace) bool {
	return len(w.ModificationStates) == 0 && len(w.RelatedWorkspaces) == 0 && w.DataReplicationSettings == nil &&
		len(w.StandbyWorkspacesProperties) == 0
}

func newDescEntry(w *Workspace, js []byte) *descEntry {
	e := &descEntry{ws: *w, json: bytes.Clone(js)}
	if p := w.WorkspaceProperties; p != nil {
		e.props = *p
		e.ws.WorkspaceProperties = &e.props
	}
	if p := w.RootVolumeEncryptionEnabled; p != nil {
		e.root = *p
		e.ws.RootVolumeEncryptionEnabled = &e.root
	}
	if p := w.UserVolumeEncryptionEnabled; p != nil {
		e.user = *p
		e.ws.UserVolumeEncryptionEnabled = &e.user
	}
	return e
}

// same reports whether w, a cacheable desktop, is the one e was encoded
// from (see descCache for how the members are compared).
func (e *descEntry) same(w *Workspace) bool {
	a := &e.ws
	if a.WorkspaceId != w.WorkspaceId || a.DirectoryId != w.DirectoryId || a.UserName != w.UserName ||
		a.IpAddress != w.IpAddress || a.State != w.State || a.BundleId != w.BundleId || a.SubnetId != w.SubnetId ||
		a.ErrorMessage != w.ErrorMessage || a.ErrorCode != w.ErrorCode || a.ComputerName != w.ComputerName ||
		a.VolumeEncryptionKey != w.VolumeEncryptionKey || a.WorkspaceName != w.WorkspaceName ||
		!sameBool(a.UserVolumeEncryptionEnabled, w.UserVolumeEncryptionEnabled) ||
		!sameBool(a.RootVolumeEncryptionEnabled, w.RootVolumeEncryptionEnabled) {
		return false
	}
	p, q := a.WorkspaceProperties, w.WorkspaceProperties
	if p == nil || q == nil {
		return p == q
	}
	return p.RunningMode == q.RunningMode && p.RunningModeAutoStopTimeoutInMinutes == q.RunningModeAutoStopTimeoutInMinutes &&
		p.RootVolumeSizeGib == q.RootVolumeSizeGib && p.UserVolumeSizeGib == q.UserVolumeSizeGib &&
		p.ComputeTypeName == q.ComputeTypeName && p.OperatingSystemName == q.OperatingSystemName &&
		p.GlobalAccelerator == q.GlobalAccelerator &&
		len(p.Protocols) == len(q.Protocols) && unsafe.SliceData(p.Protocols) == unsafe.SliceData(q.Protocols)
}

func sameBool(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// mapHashOf is the hash appendWorkspace chooses id's slot by.
func mapHashOf(c *descCache, id string) uint64 { return maphash.String(c.seed, id) }
