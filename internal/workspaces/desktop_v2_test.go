package workspaces

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// toV2 is the compact form's struct of a compactable record, field by
// field (the reference TestDesktopV2MatchesEncodingJSON holds appendV2 to):
// version 3, the times equal to the state's left out and named in Eq, when
// there is one; else version 2.
func toV2(w *desktopRec) *desktopRecV2 {
	v := toV2Full(w)
	if v.SnapBase != nil && *v.SnapBase == v.Since {
		v.SnapBase, v.Eq = nil, v.Eq|1
	}
	if v.Avail != nil && *v.Avail == v.Since {
		v.Avail, v.Eq = nil, v.Eq|2
	}
	if n := len(v.HTimes); n > 0 && v.HTimes[n-1] == v.Since {
		v.HTimes, v.Eq = v.HTimes[:n-1], v.Eq|4
		if len(v.HTimes) == 0 {
			v.HTimes = nil
		}
	}
	if v.Eq != 0 {
		v.V = 3
	}
	return v
}

// toV2Full is the version 2 struct of a compactable record (every time
// written).
func toV2Full(w *desktopRec) *desktopRecV2 {
	c := w.Created.UnixNano()
	offp := func(t *time.Time) *int64 {
		if t == nil {
			return nil
		}
		return ptr.To(t.UnixNano() - c)
	}
	offz := func(t time.Time) *int64 {
		if t.IsZero() {
			return nil
		}
		return ptr.To(t.UnixNano() - c)
	}
	vol := func(v volumeRec) volumeV2 {
		return volumeV2{ID: v.VolumeID, Size: v.SizeGib, Enc: v.Encrypted, EDK: v.EncryptedDataKey, Grants: v.GrantIDs, Image: v.ImageID}
	}
	v := &desktopRecV2{
		V: 2, ID: w.WorkspaceID, Dir: w.DirectoryID, User: w.UserName, Name: w.WorkspaceName, Bundle: w.BundleID,
		State: w.State, Prev: w.PrevState, Subnet: w.SubnetID, IP: w.IPAddress, ErrCode: w.ErrorCode, ErrMsg: w.ErrorMessage,
		Props: propsV2{RunningMode: w.Properties.RunningMode, AutoStop: w.Properties.RunningModeAutoStopTimeoutInMinutes,
			Root: w.Properties.RootVolumeSizeGib, User: w.Properties.UserVolumeSizeGib, Compute: w.Properties.ComputeTypeName,
			Protocols: w.Properties.Protocols, OS: w.Properties.OperatingSystemName, GA: w.Properties.GlobalAccelerator},
		Mods: w.Modifications, Key: w.VolumeKey, RootEnc: w.RootEncrypted, UserEnc: w.UserEncrypted, SID: w.UserSID, Grant: w.WorkspaceGrant,
		Root: vol(w.Root), UserVol: vol(w.User), SnapBase: offp(w.SnapshotBase), Unhealth: offp(w.UnhealthySince), Tags: w.Tags,
		Created: c, Since: w.StateSince.UnixNano() - c, Avail: offp(w.AvailableSince),
		Resize: offz(w.LastVolumeResize), Up: offz(w.LastComputeUp), Down: offz(w.LastComputeDown),
		Maint: w.MaintGroup, MigFrom: w.MigratedFrom, MigTo: w.MigratingTo, Await: w.AwaitGuest, Boot: w.GuestBoot, Seq: w.Seq,
	}
	if !derivedComputerName(w) {
		v.Computer = ptr.To(w.ComputerName)
	}
	for _, h := range w.History {
		v.HStates = append(v.HStates, h.State)
		v.HTimes = append(v.HTimes, h.Time.UnixNano()-c)
	}
	return v
}

// randomDesktops returns n random records (fill) with, in most of them,
// the computer name the id gives, and a typical provisioned desktop.
func randomDesktops(r *rand.Rand, n int) []desktopRec {
	recs := []desktopRec{*benchDesktop()}
	recs[0].ComputerName = computerName(recs[0].WorkspaceID)
	for range n {
		var w desktopRec
		fill(r, reflect.ValueOf(&w).Elem())
		if r.IntN(3) > 0 {
			w.ComputerName = computerName(w.WorkspaceID)
		}
		// Times equal to the state's, as a state change sets them (the
		// compact form's version 3 leaves them out), in some records.
		if r.IntN(2) == 0 {
			ss := w.StateSince
			if w.SnapshotBase != nil && r.IntN(2) == 0 {
				w.SnapshotBase = &ss
			}
			if w.AvailableSince != nil && r.IntN(2) == 0 {
				w.AvailableSince = &ss
			}
			if n := len(w.History); n > 0 && r.IntN(2) == 0 {
				w.History[n-1].Time = ss
			}
		}
		recs = append(recs, w)
	}
	return recs
}

// TestDesktopV2MatchesEncodingJSON holds the compact form's hand-written
// encoder to encoding/json's bytes for desktopRecV2, over random records
// that take every member (a field added to the record and not to the
// compact form fails TestDesktopFormsDecodeAlike; one added to
// desktopRecV2 and not to the encoder fails this).
func TestDesktopV2MatchesEncodingJSON(t *testing.T) {
	seen := map[string]bool{}
	compact, v3s := 0, 0
	for i, w := range randomDesktops(rand.New(rand.NewPCG(3, 4)), 3000) {
		if !w.compactable() {
			continue
		}
		compact++
		want, err := json.Marshal(toV2(&w))
		if err != nil {
			t.Fatal(err)
		}
		got := w.appendV2(nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
		if prefix := []byte(v2Prefix); w.eqBits() != 0 {
			if prefix = []byte(v3Prefix); !bytes.HasPrefix(got, prefix) {
				t.Fatalf("record %d: %s does not begin with %s", i, got, prefix)
			}
			v3s++
		} else if !bytes.HasPrefix(got, prefix) {
			t.Fatalf("record %d: %s does not begin with %s", i, got, prefix)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			seen[k] = true
		}
	}
	if compact < 500 || v3s < 200 || compact-v3s < 200 {
		t.Fatalf("only %d records were compactable, %d of them in version 3", compact, v3s)
	}
	if n := reflect.TypeOf(desktopRecV2{}).NumField(); len(seen) != n {
		t.Fatalf("the random records wrote %d members of %d fields: %v", len(seen), n, seen)
	}
}

// TestDesktopFormsDecodeAlike: a record written in the compact form decodes
// (through the store's DecodeJSON and through encoding/json) to exactly
// what the same record written in the first form decodes to, over random
// records; AppendJSON writes the first form for a record the compact form
// cannot hold (a time outside [1970, 2200) or not in UTC) and the compact
// form otherwise; a damaged compact record is refused.
func TestDesktopFormsDecodeAlike(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	recs := randomDesktops(r, 3000)
	// Times the compact form cannot hold.
	far := time.Date(2262, 5, 1, 0, 0, 0, 0, time.UTC)
	zoned := time.Date(2026, 12, 6, 10, 0, 0, 5, time.FixedZone("X", 3600))
	for i := 1; i < 40; i++ {
		w := recs[i]
		switch i % 4 {
		case 0:
			w.Created = far
		case 1:
			w.History = append(w.History, Transition{State: "STOPPED", Time: zoned})
		case 2:
			w.LastComputeUp = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
		case 3:
			w.StateSince = zoned
		}
		recs = append(recs, w)
	}
	v1s, v2s := 0, 0
	for i := range recs {
		w := &recs[i]
		v1, err := w.appendV1(nil)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := store.EncodeJSON(w)
		if err != nil {
			t.Fatal(err)
		}
		if w.compactable() {
			v2s++
			if !bytes.Equal(stored, w.appendV2(nil)) {
				t.Fatalf("record %d: stored %s, not its compact form", i, stored)
			}
		} else {
			v1s++
			if !bytes.Equal(stored, v1) {
				t.Fatalf("record %d: stored %s, not its first form %s", i, stored, v1)
			}
			continue
		}
		var want desktopRec
		if err := json.Unmarshal(v1, (*desktopRecV1)(&want)); err != nil {
			t.Fatal(err)
		}
		var got, std desktopRec
		if err := store.DecodeJSON(stored, &got); err != nil {
			t.Fatalf("record %d %s: %v", i, stored, err)
		}
		if err := json.Unmarshal(stored, &std); err != nil {
			t.Fatalf("record %d %s: %v", i, stored, err)
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(std, want) {
			t.Fatalf("record %d:\ncompact %s\n  first %s\ndecode to\n%+v\n%+v\nwant\n%+v", i, stored, v1, got, std, want)
		}
	}
	if v1s < 40 || v2s < 500 {
		t.Fatalf("%d records in the first form, %d in the compact form", v1s, v2s)
	}
	for _, bad := range []string{`{"v":2,`, `{"v":2,"id":"x","hs":["A"],"ht":[]}`, `{"v":2,"id":"x"} trailing`, `{"v":2,"c":"one"}`,
		`{"v":2,"id":"x","sb":0,"eq":1}`, `{"v":3,"id":"x","sb":0,"eq":1}`, `{"v":3,"id":"x","as":0,"eq":2}`, `{"v":3,"id":"x","eq":8}`,
		`{"v":3,"id":"x","hs":["A","B"],"eq":4}`, `{"v":3,"id":"x","hs":["A"],"ht":[0],"eq":4}`} {
		if err := store.DecodeJSON([]byte(bad), new(desktopRec)); err == nil {
			t.Errorf("DecodeJSON(%q) accepted a damaged record", bad)
		}
		if err := json.Unmarshal([]byte(bad), new(desktopRec)); err == nil {
			t.Errorf("json.Unmarshal(%q) accepted a damaged record", bad)
		}
	}
}

// firstFormRecord is a provisioned desktop's record as the version before
// the compact form wrote it (its bytes, kept as they were).
const firstFormRecord = `{"id":"ws-0bpw1stta","dir":"d-bb55269ea9","user":"[UNDEFINED]","name":"bench-0","bundle":"wsb-ck17phc7g","state":"AVAILABLE","subnet":"subnet-8530797a53b9d41c9","ip":"10.0.1.4","computer":"WSAMZN-BPW1STTA","props":{"RunningMode":"MANUAL","RootVolumeSizeGib":80,"UserVolumeSizeGib":50,"ComputeTypeName":"STANDARD","OperatingSystemName":"WINDOWS_10"},"root":{"id":"vol-a0e00eb7dc18ece55","size":80,"image":"wsi-fv7tz5yo0"},"uservol":{"id":"vol-e147e2b81fd70db2b","size":50},"snapshot_base":"2026-11-28T22:05:30.589814384Z","tags":{"PartnerManaged":"true"},"created":"2026-11-28T22:05:30.589814384Z","state_since":"2026-11-28T22:05:30.589814384Z","available_since":"2026-11-28T22:05:30.589814384Z","maint_group":"mwg/111122223333/us-east-1/63b85726-a2c9-5e91-9a2c-33fe68b14a98","seq":1,"history":[{"state":"PENDING","time":"2026-11-28T22:05:30.589814384Z"},{"state":"AVAILABLE","time":"2026-11-28T22:05:30.589814384Z"}]}`

// v2Record is a provisioned desktop (v2Desktop) as version 2 of the
// compact form wrote it, before version 3 (its bytes, kept as they were).
const v2Record = `{"v":2,"id":"ws-0bpw1stta","d":"d-bb55269ea9","u":"[UNDEFINED]","n":"bench-0","b":"wsb-ck17phc7g","state":"AVAILABLE","sn":"subnet-8530797a53b9d41c9","ip":"10.0.1.4","p":{"rm":"MANUAL","rs":80,"us":50,"ct":"STANDARD","os":"WINDOWS_10"},"r":{"id":"vol-a0e00eb7dc18ece55","sz":80,"im":"wsi-fv7tz5yo0"},"uv":{"id":"vol-e147e2b81fd70db2b","sz":50},"sb":12345678,"tags":{"PartnerManaged":"true"},"c":1795903530589814384,"ss":12345678,"as":12345678,"mg":"mwg/111122223333/us-east-1/63b85726-a2c9-5e91-9a2c-33fe68b14a98","q":1,"hs":["PENDING","AVAILABLE"],"ht":[0,12345678]}`

// v2Desktop is benchDesktop provisioned 12,345,678 ns after its creation.
func v2Desktop() *desktopRec {
	w := benchDesktop()
	at := w.Created.Add(12345678)
	w.StateSince, w.SnapshotBase, w.AvailableSince = at, &at, &at
	w.History[1].Time = at
	return w
}

// TestV2RecordStillDecodes: a record version 2 of the compact form wrote
// decodes to the desktop it was (through the store, encoding/json and the
// page's decoding), and is written again in version 3, shorter, which
// decodes to the same desktop.
func TestV2RecordStillDecodes(t *testing.T) {
	want := v2Desktop()
	for _, rec := range []string{v2Record, string(want.appendV2(nil))} {
		var w, std desktopRec
		if err := store.DecodeJSON([]byte(rec), &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(rec), &std); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&w, want) || !reflect.DeepEqual(&std, want) {
			t.Fatalf("%s decoded\n%+v\n%+v\nwant %+v", rec, w, std, *want)
		}
	}
	b := want.appendV2(nil)
	if !bytes.HasPrefix(b, []byte(v3Prefix)) || len(b) > len(v2Record)-25 {
		t.Fatalf("written again as %d bytes (version 2: %d): %s", len(b), len(v2Record), b)
	}
	t.Logf("version 2 %d bytes, version 3 %d: %s", len(v2Record), len(b), b)
}

// TestFirstFormRecordStillDecodes: a record the version before the compact
// form wrote decodes to the desktop it was, through the store and through
// resourceTags' partial read, and is written back in the compact form,
// which decodes to the same desktop in under two thirds of the bytes.
func TestFirstFormRecordStillDecodes(t *testing.T) {
	want := benchDesktop()
	var w desktopRec
	if err := store.DecodeJSON([]byte(firstFormRecord), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&w, want) {
		t.Fatalf("decoded %+v\nwant %+v", w, *want)
	}
	b, err := store.EncodeJSON(&w)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(v3Prefix)) || 3*len(b) > 2*len(firstFormRecord) {
		t.Fatalf("written again as %d bytes (first form %d): %s", len(b), len(firstFormRecord), b)
	}
	t.Logf("first form %d bytes, compact %d: %s", len(firstFormRecord), len(b), b)
	var again desktopRec
	if err := store.DecodeJSON(b, &again); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&again, want) {
		t.Fatalf("compact form decoded %+v\nwant %+v", again, *want)
	}
	for _, rec := range [][]byte{[]byte(firstFormRecord), b} {
		var part struct {
			Tags  Tags   `json:"tags"`
			State string `json:"state"`
		}
		if err := json.Unmarshal(rec, &part); err != nil || part.State != "AVAILABLE" || part.Tags["PartnerManaged"] != "true" {
			t.Fatalf("partial read of %s: %+v, %v", rec, part, err)
		}
	}
}

// TestDerivedComputerName: the compact form leaves out exactly the computer
// names computerName gives for the id.
func TestDerivedComputerName(t *testing.T) {
	ids := []string{"ws-0bpw1stta", "ws-abc", "ws-", "", "0bpw1stta", "ws-é日本\u2028x", "ws-bad\xffxyzabcd", "ws-ABCdefGHijk"}
	for _, id := range ids {
		for _, n := range []string{computerName(id), "WSAMZN-BPW1STTA", "WSAMZN-", "WSAMZN-ABC", "", "wsamzn-bpw1stta", "WSAMZN-bpw1stta"} {
			want := n == computerName(id) && utf8.ValidString(n)
			if got := derivedComputerName(&desktopRec{WorkspaceID: id, ComputerName: n}); got != want {
				t.Errorf("id %q, name %q: derived %v, want %v", id, n, got, want)
			}
		}
	}
}

// TestComputerNameAsBefore: computerName gives what it gave before it was
// written without strings.ToUpper for ASCII ids.
func TestComputerNameAsBefore(t *testing.T) {
	before := func(id string) string {
		s := strings.ToUpper(strings.TrimPrefix(id, "ws-"))
		if len(s) > 8 {
			s = s[len(s)-8:]
		}
		return "WSAMZN-" + s
	}
	for _, id := range []string{"ws-0bpw1stta", "ws-abc", "ws-", "", "0bpw1stta", "ws-é日本\u2028x", "ws-bad\xffxyzabcd", "ws-ABCdefGHijk", "ws-z{}~!azAZ09", newOrderedID("ws-"), newID("ws-")} {
		if got, want := computerName(id), before(id); got != want {
			t.Errorf("computerName(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestMaintGroupIDIsShortAndRandom: a request's maintenance group id,
// stored in each of its desktops' records, is "mwg/" and 20 base-36
// characters (not the request id, 36, nor the account and Region too); two
// requests get two groups.
func TestMaintGroupIDIsShortAndRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		g := maintGroupID()
		rest, ok := strings.CutPrefix(g, "mwg/")
		if !ok || len(rest) != 20 || strings.Trim(rest, ids.Base36) != "" || seen[g] {
			t.Fatalf("maintenance group id %q (seen before: %v)", g, seen[g])
		}
		seen[g] = true
	}
}
