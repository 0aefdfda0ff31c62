package workspaces

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/deskplane/deskplane/internal/jsonenc"
)

// A desktop record is stored in one of two JSON forms:
//
//   - the first form, encoding/json's bytes for desktopRec (its json tags;
//     desktopRec.appendV1), written by every version before the compact
//     form and still written for a record the compact form cannot hold;
//   - the compact form, desktopRecV2's bytes: it begins with {"v":2, has
//     short member names, times as integers (the creation time in Unix
//     nanoseconds, every other time in nanoseconds after it), the history
//     as two arrays, and leaves out what it can derive (the computer name
//     when it is the one the id gives). A provisioned desktop takes about
//     60% of the first form's bytes, and every byte of a record goes
//     through the store's batch, WAL, memtable and read cache, twice per
//     created desktop.
//
// The compact form's version 3 ({"v":3,) is version 2 with one more
// member, "eq", last: bits naming the times left out because they equal
// the state's time (ss): the snapshot base (eqSnapBase), the time it
// became available (eqAvail) and the last history entry's (eqLastHist).
// A desktop that has just become AVAILABLE has all three (about 27 B of
// its record), one just created the last. A record with none of them is
// written as version 2, byte for byte as before.
//
// decodeRecord reads every form; "state" and "tags" keep their names in
// all (resourceTags reads only those two members).

// v2Prefix and v3Prefix begin every record in the compact form (and none
// in the first: its first member is "id").
const (
	v2Prefix = `{"v":2,`
	v3Prefix = `{"v":3,`
)

// compactForm reports whether b is a record in the compact form.
func compactForm(b []byte) bool {
	return bytes.HasPrefix(b, []byte(v2Prefix)) || bytes.HasPrefix(b, []byte(v3Prefix))
}

// The bits of a version 3 record's "eq": each names a time left out of the
// record because it equals the state's time.
const (
	eqSnapBase = 1 << iota // "sb"
	eqAvail                // "as"
	eqLastHist             // the last of "ht"
)

// desktopRecV2 is the compact form of desktopRec (see above). Times are
// nanoseconds after C, the creation time in Unix nanoseconds; a time
// field left out is the zero time (or, for SS, the creation time).
type desktopRecV2 struct {
	V        int                 `json:"v"`
	ID       string              `json:"id"`
	Dir      string              `json:"d"`
	User     string              `json:"u"`
	Name     string              `json:"n,omitempty"`
	Bundle   string              `json:"b"`
	State    string              `json:"state"`
	Prev     string              `json:"ps,omitempty"`
	Subnet   string              `json:"sn"`
	IP       string              `json:"ip"`
	Computer *string             `json:"cn,omitempty"` // absent: computerName(ID)
	ErrCode  string              `json:"ec,omitempty"`
	ErrMsg   string              `json:"em,omitempty"`
	Props    propsV2             `json:"p"`
	Mods     []ModificationState `json:"m,omitempty"`
	Key      string              `json:"k,omitempty"`
	RootEnc  bool                `json:"re,omitempty"`
	UserEnc  bool                `json:"ue,omitempty"`
	SID      string              `json:"sid,omitempty"`
	Grant    string              `json:"wg,omitempty"`
	Root     volumeV2            `json:"r"`
	UserVol  volumeV2            `json:"uv"`
	SnapBase *int64              `json:"sb,omitempty"`
	Unhealth *int64              `json:"uh,omitempty"`
	Tags     Tags                `json:"tags,omitempty"`
	Created  int64               `json:"c"`
	Since    int64               `json:"ss,omitempty"`
	Avail    *int64              `json:"as,omitempty"`
	Resize   *int64              `json:"lr,omitempty"`
	Up       *int64              `json:"lu,omitempty"`
	Down     *int64              `json:"ld,omitempty"`
	Maint    string              `json:"mg,omitempty"`
	MigFrom  string              `json:"mf,omitempty"`
	MigTo    string              `json:"mt,omitempty"`
	Await    bool                `json:"ag,omitempty"`
	Boot     int64               `json:"gb,omitempty"`
	Seq      int64               `json:"q"`
	HStates  []string            `json:"hs,omitempty"`
	HTimes   []int64             `json:"ht,omitempty"`
	Eq       int                 `json:"eq,omitempty"` // version 3: the eq bits
}

// propsV2 is WorkspaceProperties in the compact form.
type propsV2 struct {
	RunningMode *string            `json:"rm,omitempty"`
	AutoStop    *int               `json:"at,omitempty"`
	Root        *int               `json:"rs,omitempty"`
	User        *int               `json:"us,omitempty"`
	Compute     *string            `json:"ct,omitempty"`
	Protocols   []string           `json:"pr,omitempty"`
	OS          *string            `json:"os,omitempty"`
	GA          *GlobalAccelerator `json:"ga,omitempty"`
}

// properties is p as WorkspaceProperties.
func (p *propsV2) properties() WorkspaceProperties {
	return WorkspaceProperties{
		RunningMode: p.RunningMode, RunningModeAutoStopTimeoutInMinutes: p.AutoStop,
		RootVolumeSizeGib: p.Root, UserVolumeSizeGib: p.User, ComputeTypeName: p.Compute,
		Protocols: p.Protocols, OperatingSystemName: p.OS, GlobalAccelerator: p.GA,
	}
}

// storedComputerName is a compact record's computer name: the one stored,
// or, when none is (the usual case), the one its id gives.
func storedComputerName(stored *string, id string) string {
	if stored != nil {
		return *stored
	}
	return computerName(id)
}

// volumeV2 is volumeRec in the compact form.
type volumeV2 struct {
	ID     string   `json:"id"`
	Size   int      `json:"sz"`
	Enc    bool     `json:"e,omitempty"`
	EDK    []byte   `json:"k,omitempty"`
	Grants []string `json:"g,omitempty"`
	Image  string   `json:"im,omitempty"`
}

// compactTimes bounds the times the compact form holds: every time of the
// record is in UTC and in [1970, 2200), so that each fits in Unix
// nanoseconds and each one's distance from the creation time does too.
var (
	compactFrom  = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	compactUntil = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func compactTime(t time.Time) bool {
	return t.Location() == time.UTC && !t.Before(compactFrom) && t.Before(compactUntil)
}

// compactable reports whether the compact form holds w: its times are
// compactTime (zero times of omitted fields aside).
func (w *desktopRec) compactable() bool {
	if !compactTime(w.Created) || !compactTime(w.StateSince) {
		return false
	}
	for _, t := range [...]*time.Time{w.SnapshotBase, w.UnhealthySince, w.AvailableSince} {
		if t != nil && !compactTime(*t) {
			return false
		}
	}
	for _, t := range [...]time.Time{w.LastVolumeResize, w.LastComputeUp, w.LastComputeDown} {
		if !t.IsZero() && !compactTime(t) {
			return false
		}
	}
	for _, h := range w.History {
		if !compactTime(h.Time) {
			return false
		}
	}
	return true
}

// AppendJSON appends the desktop's stored form: the compact form when it
// holds the record, else the first form. Every desktop write encodes a
// record, most of them on the store's single writer, so this is on the
// path of every CreateWorkspaces and state change.
func (w *desktopRec) AppendJSON(b []byte) ([]byte, error) {
	if !w.compactable() {
		return w.appendV1(b)
	}
	return w.appendV2(b), nil
}

// eqBits returns the eq bits of w in the compact form: which of its times
// equal its state's time.
func (w *desktopRec) eqBits() int {
	ss := w.StateSince.UnixNano()
	eq := 0
	if w.SnapshotBase != nil && w.SnapshotBase.UnixNano() == ss {
		eq |= eqSnapBase
	}
	if w.AvailableSince != nil && w.AvailableSince.UnixNano() == ss {
		eq |= eqAvail
	}
	if n := len(w.History); n > 0 && w.History[n-1].Time.UnixNano() == ss {
		eq |= eqLastHist
	}
	return eq
}

// appendV2 appends the compact form: the bytes encoding/json writes for
// the desktopRecV2 of w (TestDesktopV2MatchesEncodingJSON holds them
// equal), in version 3 when a time can be left out (eqBits), else in
// version 2. w must be compactable.
func (w *desktopRec) appendV2(b []byte) []byte {
	b, _ = w.appendV2Marks(b)
	return b
}

// recMarks are where two members of a record in the compact form begin,
// counted from its first byte: its `,"state":` and its tail (`,"c":`, see
// appendV2Tail). The zero recMarks is unknown marks.
type recMarks struct{ state, tail int32 }

// appendJSONMarks is AppendJSON, with the marks of the record appended
// when it is in the compact form (else the zero recMarks).
func (w *desktopRec) appendJSONMarks(b []byte) ([]byte, recMarks, error) {
	if !w.compactable() {
		b, err := w.appendV1(b)
		return b, recMarks{}, err
	}
	b, mk := w.appendV2Marks(b)
	return b, mk, nil
}

// appendV2Marks is appendV2, with the marks of the record appended.
func (w *desktopRec) appendV2Marks(b []byte) ([]byte, recMarks) {
	var mk recMarks
	start := len(b)
	c := w.Created.UnixNano()
	off := func(b []byte, name string, t time.Time) []byte {
		return jsonenc.Int(jsonenc.Field(b, name, false), t.UnixNano()-c)
	}
	eq := w.eqBits()
	if eq != 0 {
		b = append(b, v3Prefix...)
	} else {
		b = append(b, v2Prefix...)
	}
	b = jsonenc.String(jsonenc.Field(b, "id", true), w.WorkspaceID)
	b = jsonenc.String(jsonenc.Field(b, "d", false), w.DirectoryID)
	b = jsonenc.String(jsonenc.Field(b, "u", false), w.UserName)
	b = optString(b, "n", w.WorkspaceName)
	b = jsonenc.String(jsonenc.Field(b, "b", false), w.BundleID)
	mk.state = int32(len(b) - start)
	b = jsonenc.String(jsonenc.Field(b, "state", false), w.State)
	b = optString(b, "ps", w.PrevState)
	b = jsonenc.String(jsonenc.Field(b, "sn", false), w.SubnetID)
	b = jsonenc.String(jsonenc.Field(b, "ip", false), w.IPAddress)
	if !derivedComputerName(w) {
		b = jsonenc.String(jsonenc.Field(b, "cn", false), w.ComputerName)
	}
	b = optString(b, "ec", w.ErrorCode)
	b = optString(b, "em", w.ErrorMessage)
	b = w.Properties.appendV2(jsonenc.Field(b, "p", false))
	b = appendMods(b, "m", w.Modifications)
	b = optString(b, "k", w.VolumeKey)
	b = optBool(b, "re", w.RootEncrypted)
	b = optBool(b, "ue", w.UserEncrypted)
	b = optString(b, "sid", w.UserSID)
	b = optString(b, "wg", w.WorkspaceGrant)
	b = w.Root.appendV2(jsonenc.Field(b, "r", false))
	b = w.User.appendV2(jsonenc.Field(b, "uv", false))
	if w.SnapshotBase != nil && eq&eqSnapBase == 0 {
		b = off(b, "sb", *w.SnapshotBase)
	}
	if w.UnhealthySince != nil {
		b = off(b, "uh", *w.UnhealthySince)
	}
	if len(w.Tags) > 0 {
		b = w.Tags.appendJSON(jsonenc.Field(b, "tags", false))
	}
	mk.tail = int32(len(b) - start)
	return w.appendV2Tail(b, eq), mk
}

// appendV2Tail appends the compact form's members from "c" on and its
// closing brace (appendV2's end; patchProvisioned writes them alone).
// Every member from "c" on is a number, a string, a bool or an array of
// strings or numbers, and none is named "c": the last `,"c":` of a
// record's bytes is where its tail begins.
func (w *desktopRec) appendV2Tail(b []byte, eq int) []byte {
	c := w.Created.UnixNano()
	off := func(b []byte, name string, t time.Time) []byte {
		return jsonenc.Int(jsonenc.Field(b, name, false), t.UnixNano()-c)
	}
	b = jsonenc.Int(jsonenc.Field(b, "c", false), c)
	if s := w.StateSince.UnixNano() - c; s != 0 {
		b = jsonenc.Int(jsonenc.Field(b, "ss", false), s)
	}
	if w.AvailableSince != nil && eq&eqAvail == 0 {
		b = off(b, "as", *w.AvailableSince)
	}
	if !w.LastVolumeResize.IsZero() {
		b = off(b, "lr", w.LastVolumeResize)
	}
	if !w.LastComputeUp.IsZero() {
		b = off(b, "lu", w.LastComputeUp)
	}
	if !w.LastComputeDown.IsZero() {
		b = off(b, "ld", w.LastComputeDown)
	}
	b = optString(b, "mg", w.MaintGroup)
	b = optString(b, "mf", w.MigratedFrom)
	b = optString(b, "mt", w.MigratingTo)
	b = optBool(b, "ag", w.AwaitGuest)
	if w.GuestBoot != 0 {
		b = jsonenc.Int(jsonenc.Field(b, "gb", false), w.GuestBoot)
	}
	b = jsonenc.Int(jsonenc.Field(b, "q", false), w.Seq)
	if len(w.History) > 0 {
		b = append(jsonenc.Field(b, "hs", false), '[')
		for i, h := range w.History {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.String(b, h.State)
		}
		b = append(b, ']')
		times := w.History
		if eq&eqLastHist != 0 {
			times = times[:len(times)-1]
		}
		if len(times) > 0 {
			b = append(jsonenc.Field(b, "ht", false), '[')
			for i, h := range times {
				if i > 0 {
					b = append(b, ',')
				}
				b = jsonenc.Int(b, h.Time.UnixNano()-c)
			}
			b = append(b, ']')
		}
	}
	if eq != 0 {
		b = jsonenc.Int(jsonenc.Field(b, "eq", false), int64(eq))
	}
	return append(b, '}')
}

// derivedComputerName reports whether the compact form leaves w's computer
// name out: it is the one its id gives (and valid UTF-8, which JSON would
// otherwise have changed).
func derivedComputerName(w *desktopRec) bool {
	// computerName(w.WorkspaceID) == w.ComputerName, without building it.
	const p = "WSAMZN-"
	n, id := w.ComputerName, strings.TrimPrefix(w.WorkspaceID, "ws-")
	if !strings.HasPrefix(n, p) || !utf8.ValidString(n) {
		return false
	}
	if len(id) > 8 {
		id = id[len(id)-8:]
	}
	for i := 0; i < len(id); i++ {
		if id[i] >= utf8.RuneSelf {
			return n == computerName(w.WorkspaceID) // ToUpper of more than ASCII
		}
	}
	n = n[len(p):]
	if len(n) != len(id) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if n[i] != c {
			return false
		}
	}
	return true
}

// appendV2 appends the properties in the compact form.
func (p *WorkspaceProperties) appendV2(b []byte) []byte { return p.appendNamed(b, &propsV2Names) }

// propsV2Names are propsV2's member names.
var propsV2Names = propsNames{"rm", "at", "rs", "us", "ct", "pr", "os", "ga"}

// appendV2 appends the volume in the compact form.
func (v *volumeRec) appendV2(b []byte) []byte { return v.appendNamed(b, &volumeV2Names) }

// volumeV2Names are volumeV2's member names.
var volumeV2Names = volumeNames{"id", "sz", "e", "k", "g", "im"}

// desktopRecV1 is desktopRec without its methods: the first form, decoded
// by its json tags.
type desktopRecV1 desktopRec

// DecodeRecord decodes a stored desktop record of either form into w
// (store.DecodeJSON calls it).
func (w *desktopRec) DecodeRecord(b []byte) error {
	if !compactForm(b) {
		return gojson.Unmarshal(b, (*desktopRecV1)(w))
	}
	v := v2Scratch.Get().(*desktopRecV2)
	err := gojson.Unmarshal(b, v)
	if err == nil {
		err = w.fromV2(v)
	}
	*v = desktopRecV2{} // w holds its slices, maps and pointers now
	v2Scratch.Put(v)
	return err
}

// v2Scratch holds zeroed desktopRecV2s for DecodeRecord: the compact form
// is decoded into one and moved into the desktopRec.
var v2Scratch = sync.Pool{New: func() any { return new(desktopRecV2) }}

// UnmarshalJSON decodes a stored desktop record of either form (for
// encoding/json's callers; the store's reads use DecodeRecord).
func (w *desktopRec) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if !compactForm(b) {
		return json.Unmarshal(b, (*desktopRecV1)(w))
	}
	var v desktopRecV2
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return w.fromV2(&v)
}

// errV2History is a compact record whose history arrays differ in length.
var errV2History = errors.New("desktop record: history states and times differ in number")

// errV3Eq is a compact record whose eq bits name a time it also holds, or
// are not version 3's.
var errV3Eq = errors.New("desktop record: a time both left out (eq) and written")

// fromV2 sets w to the record v holds, as the first form's decoding would
// (into a zero record). A version 3 record's left-out times (v.Eq) are put
// back into v first.
func (w *desktopRec) fromV2(v *desktopRecV2) error {
	if v.Eq != 0 {
		if err := v.restoreEq(); err != nil {
			return err
		}
	}
	if len(v.HStates) != len(v.HTimes) {
		return errV2History
	}
	c := v.Created
	at := func(off int64) time.Time { return time.Unix(0, c+off).UTC() }
	atp := func(off *int64) *time.Time {
		if off == nil {
			return nil
		}
		t := at(*off)
		return &t
	}
	atz := func(off *int64) time.Time {
		if off == nil {
			return time.Time{}
		}
		return at(*off)
	}
	*w = desktopRec{
		WorkspaceID: v.ID, DirectoryID: v.Dir, UserName: v.User, WorkspaceName: v.Name, BundleID: v.Bundle,
		State: v.State, PrevState: v.Prev, SubnetID: v.Subnet, IPAddress: v.IP,
		ErrorCode: v.ErrCode, ErrorMessage: v.ErrMsg,
		Properties:    v.Props.properties(),
		Modifications: v.Mods, VolumeKey: v.Key, RootEncrypted: v.RootEnc, UserEncrypted: v.UserEnc,
		UserSID: v.SID, WorkspaceGrant: v.Grant,
		Root:         volumeRec{VolumeID: v.Root.ID, SizeGib: v.Root.Size, Encrypted: v.Root.Enc, EncryptedDataKey: v.Root.EDK, GrantIDs: v.Root.Grants, ImageID: v.Root.Image},
		User:         volumeRec{VolumeID: v.UserVol.ID, SizeGib: v.UserVol.Size, Encrypted: v.UserVol.Enc, EncryptedDataKey: v.UserVol.EDK, GrantIDs: v.UserVol.Grants, ImageID: v.UserVol.Image},
		SnapshotBase: atp(v.SnapBase), UnhealthySince: atp(v.Unhealth), Tags: v.Tags,
		Created: at(0), StateSince: at(v.Since), AvailableSince: atp(v.Avail),
		LastVolumeResize: atz(v.Resize), LastComputeUp: atz(v.Up), LastComputeDown: atz(v.Down),
		MaintGroup: v.Maint, MigratedFrom: v.MigFrom, MigratingTo: v.MigTo,
		AwaitGuest: v.Await, GuestBoot: v.Boot, Seq: v.Seq,
	}
	w.ComputerName = storedComputerName(v.Computer, v.ID)
	if len(v.HStates) > 0 {
		w.History = make([]Transition, len(v.HStates))
		for i, s := range v.HStates {
			w.History[i] = Transition{State: s, Time: at(v.HTimes[i])}
		}
	}
	return nil
}

// restoreEq puts back the times a version 3 record left out (v.Eq): each is
// the state's time, v.Since.
func (v *desktopRecV2) restoreEq() error {
	if v.V != 3 || v.Eq&^(eqSnapBase|eqAvail|eqLastHist) != 0 {
		return errV3Eq
	}
	since := v.Since
	if v.Eq&eqSnapBase != 0 {
		if v.SnapBase != nil {
			return errV3Eq
		}
		v.SnapBase = &since
	}
	if v.Eq&eqAvail != 0 {
		if v.Avail != nil {
			return errV3Eq
		}
		v.Avail = &since
	}
	if v.Eq&eqLastHist != 0 {
		if len(v.HStates) != len(v.HTimes)+1 {
			return errV2History
		}
		v.HTimes = append(v.HTimes, since)
	}
	v.Eq = 0
	return nil
}

// patchProvisioned returns the compact form of w, a desktop its
// provisioning has just moved from PENDING to AVAILABLE, built from raw, the
// bytes of the same record before (in the compact form: AppendJSON's of
// it, as its creation wrote them), without encoding the members the
// transition left unchanged: it writes the version, the state and the
// members from "c" on (appendV2Tail) and copies the rest from raw. It
// returns nil when it cannot: the caller encodes w in full.
//
// The caller vouches that the transition changed no member between
// "state" and "c" other than those checked here (provisionPatchable:
// "ec", "em", "sb" and "uh", the members setState changes there, are
// checked in both records; the KMS steps of an encrypted desktop, a
// migration's end and a guest runtime change others, and are not
// patched). TestProvisionedPatchIsTheEncoding holds the patch to
// EncodeJSON over random records.
func (w *desktopRec) patchProvisioned(raw []byte) []byte {
	return w.patchProvisionedAt(raw, recMarks{})
}

// patchProvisionedAt is patchProvisioned, told where raw's state and tail
// begin (mk: the marks its encoding gave, appendJSONMarks), so that it
// need not look for them. Marks that do not point at both members, or
// the zero recMarks, are not used: it looks for them as patchProvisioned
// does.
func (w *desktopRec) patchProvisionedAt(raw []byte, mk recMarks) []byte {
	b, ok := w.appendProvisioned(nil, raw, mk)
	if !ok {
		return nil
	}
	return b
}

// appendProvisioned appends to dst what patchProvisionedAt returns, and
// reports whether it could (when not, dst is returned as it was).
func (w *desktopRec) appendProvisioned(dst, raw []byte, mk recMarks) ([]byte, bool) {
	pp, ok := w.provisionedParts(raw, mk)
	if !ok {
		return dst, false
	}
	var buf [256]byte
	tail := w.appendV2Tail(buf[:0], pp.eq)
	if dst == nil {
		dst = make([]byte, 0, pp.size(len(tail)))
	}
	return pp.appendTo(dst, tail), true
}

// provisioned is where the bytes of a record its provisioning moved on
// come from (patchProvisionedAt): raw's members before and after its
// state, then the tail appendV2Tail writes with eq.
type provisioned struct {
	raw  []byte
	i, j int // raw's state and tail (see patchProvisionedAt)
	eq   int
}

const (
	provPending = `,"state":"PENDING"`
	provState   = `,"state":"AVAILABLE"`
)

// provisionedParts finds the parts of w's provisioned bytes in raw, the
// bytes of its record before (marked by mk), or reports that it cannot
// (patchProvisionedAt returns nil).
func (w *desktopRec) provisionedParts(raw []byte, mk recMarks) (provisioned, bool) {
	const pending = provPending
	if w.State != "AVAILABLE" || w.ErrorCode != "" || w.ErrorMessage != "" || w.UnhealthySince != nil ||
		w.SnapshotBase == nil || w.SnapshotBase.UnixNano() != w.StateSince.UnixNano() || !w.compactable() ||
		!compactForm(raw) {
		return provisioned{}, false
	}
	i, j := int(mk.state), int(mk.tail)
	if i < len(v2Prefix) || j < i+len(pending) || j+len(`,"c":`) > len(raw) ||
		string(raw[i:i+len(pending)]) != pending || string(raw[j:j+len(`,"c":`)]) != `,"c":` {
		i = bytes.Index(raw, []byte(pending))
		j = tailAt(raw)
	}
	if i < len(v2Prefix) || j < i+len(pending) {
		return provisioned{}, false
	}
	return provisioned{raw: raw, i: i, j: j, eq: w.eqBits()}, true
}

// size is the length of the provisioned bytes with a tail of n bytes.
func (p provisioned) size(n int) int {
	return len(v3Prefix) + (p.i - len(v2Prefix)) + len(provState) + (p.j - p.i - len(provPending)) + n
}

// appendTo appends the provisioned bytes, with tail (appendV2Tail's with
// p.eq), to dst.
func (p provisioned) appendTo(dst, tail []byte) []byte {
	if p.eq != 0 {
		dst = append(dst, v3Prefix...)
	} else {
		dst = append(dst, v2Prefix...)
	}
	dst = append(dst, p.raw[len(v2Prefix):p.i]...)
	dst = append(dst, provState...)
	dst = append(dst, p.raw[p.i+len(provPending):p.j]...)
	return append(dst, tail...)
}

// provisionPatchable reports whether a record read by a provisioning batch
// may have its transition's bytes patched (patchProvisioned) rather than
// encoded: a PENDING desktop whose members between "state" and "c" its
// provisioning leaves as they are. An encrypted desktop's provisioning adds
// grants and data keys to its volumes, and a migrated one's end changes
// more: those are encoded in full, as is every desktop under a guest
// runtime (the caller's check).
func provisionPatchable(w *desktopRec) bool {
	return w.State == "PENDING" && w.ErrorCode == "" && w.ErrorMessage == "" && w.SnapshotBase == nil &&
		w.UnhealthySince == nil && w.VolumeKey == "" && w.MigratedFrom == "" && !w.AwaitGuest
}

// tailAt returns where the members from "c" on of b, a record in the
// compact form, begin: at its last `,"c":` (see appendV2Tail), or -1. It
// looks from the end, where the tail is (bytes.LastIndex hashes every
// byte it passes).
func tailAt(b []byte) int {
	for j := len(b) - len(`,"c":`); j >= 0; j-- {
		if b[j+2] == 'c' && b[j+1] == '"' && b[j] == ',' && b[j+3] == '"' && b[j+4] == ':' {
			return j
		}
	}
	return -1
}
