package workspaces

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// fill sets v (addressable) to random contents: every pointer, slice and map
// is left empty or nil at random, so that both sides of every omitempty are
// taken across runs, and strings include characters JSON escapes.
func fill(r *rand.Rand, v reflect.Value) {
	if v.Type() == reflect.TypeOf(time.Time{}) {
		if r.IntN(4) > 0 {
			v.Set(reflect.ValueOf(time.Date(1970+r.IntN(100), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(3)*r.IntN(1e9), time.UTC)))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		words := []string{"", "ws-0bpw1stta", "<&>", "quote\"back\\", "é日本\u2028", "bad\xff", "tab\tnl\n"}
		v.SetString(words[r.IntN(len(words))])
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(r.IntN(3)) * r.Int64N(1<<40) * int64(1-2*r.IntN(2)))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Pointer:
		if r.IntN(3) > 0 {
			p := reflect.New(v.Type().Elem())
			fill(r, p.Elem())
			v.Set(p)
		}
	case reflect.Slice:
		if n := r.IntN(4); n > 0 || r.IntN(2) == 0 {
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				fill(r, s.Index(i))
			}
			v.Set(s)
		}
	case reflect.Map:
		if n := r.IntN(4); n > 0 || r.IntN(2) == 0 {
			m := reflect.MakeMap(v.Type())
			for range n {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fill(r, k)
				fill(r, e)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				fill(r, v.Field(i))
			}
		}
	case reflect.Uint8:
		v.SetUint(uint64(r.IntN(256)))
	default:
		panic("fill: add a case for " + v.Type().String())
	}
}

// TestDesktopAppendJSONMatchesEncodingJSON holds the hand-written encoder of
// the first form to encoding/json's bytes, over random records that take every field (a field
// added to the record and not to the encoder fails it).
func TestDesktopAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 28, 22, 5, 30, 589814384, time.UTC)
	typical := desktopRec{WorkspaceID: "ws-0bpw1stta", DirectoryID: "d-bb55269ea9", UserName: UndefinedUser, WorkspaceName: "bench-0",
		Properties: WorkspaceProperties{RunningMode: ptr.To("MANUAL"), RootVolumeSizeGib: ptr.To(80), Protocols: []string{"PCOIP"}},
		Tags:       Tags{"b": "2", "a": "1"}, Created: now, StateSince: now, AvailableSince: &now, History: []Transition{{State: "PENDING", Time: now}}}
	recs := []desktopRec{{}, typical}
	for range 2000 {
		var w desktopRec
		fill(r, reflect.ValueOf(&w).Elem())
		recs = append(recs, w)
	}
	seen := map[string]bool{} // the members written across all records
	for i := range recs {
		want, err := json.Marshal(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := recs[i].appendV1(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			seen[k] = true
		}
	}
	if n := reflect.TypeOf(desktopRec{}).NumField(); len(seen) != n {
		t.Fatalf("the random records wrote %d members of %d fields: %v", len(seen), n, seen)
	}
	if _, err := (&desktopRec{Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).appendV1(nil); err == nil {
		t.Fatal("a year encoding/json refuses must fail")
	}
}

// benchDesktop is a provisioned user-decoupled desktop, as the benchmarks
// of this file encode and decode it.
func benchDesktop() *desktopRec {
	now := time.Date(2026, 11, 28, 22, 5, 30, 589814384, time.UTC)
	return &desktopRec{WorkspaceID: "ws-0bpw1stta", DirectoryID: "d-bb55269ea9", UserName: UndefinedUser, WorkspaceName: "bench-0",
		BundleID: "wsb-ck17phc7g", State: "AVAILABLE", SubnetID: "subnet-8530797a53b9d41c9", IPAddress: "10.0.1.4", ComputerName: "WSAMZN-BPW1STTA",
		Properties: WorkspaceProperties{RunningMode: ptr.To("MANUAL"), RootVolumeSizeGib: ptr.To(80), UserVolumeSizeGib: ptr.To(50), ComputeTypeName: ptr.To("STANDARD"), OperatingSystemName: ptr.To("WINDOWS_10")},
		Root:       volumeRec{VolumeID: "vol-a0e00eb7dc18ece55", SizeGib: 80, ImageID: "wsi-fv7tz5yo0"}, User: volumeRec{VolumeID: "vol-e147e2b81fd70db2b", SizeGib: 50},
		SnapshotBase: &now, Tags: Tags{"PartnerManaged": "true"}, Created: now, StateSince: now, AvailableSince: &now,
		MaintGroup: "mwg/111122223333/us-east-1/63b85726-a2c9-5e91-9a2c-33fe68b14a98", Seq: 1,
		History: []Transition{{State: "PENDING", Time: now}, {State: "AVAILABLE", Time: now}}}
}

func BenchmarkDesktopEncode(b *testing.B) {
	w := benchDesktop()
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(w)
		}
	})
	b.Run("first-form", func(b *testing.B) {
		for b.Loop() {
			w.appendV1(make([]byte, 0, 1024))
		}
	})
	b.Run("compact", func(b *testing.B) {
		for b.Loop() {
			w.AppendJSON(make([]byte, 0, 1024))
		}
	})
}

// TestJobPayloadsRoundTripInBothForms: the batch and maintenance job
// payloads, written in the compact form (AppendJSON) or in the first form
// (encoding/json, as older binaries queued them), decode to the same refs
// and entries, over random payloads (keys with and without a common prefix,
// zero and non-zero seqs, windows in whole seconds or not, and zero times
// that keep the first form).
func TestJobPayloadsRoundTripInBothForms(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	prefixed := func(rs []string) {
		for i := range rs {
			if r.IntN(3) > 0 {
				rs[i] = "111122223333/us-east-1/" + rs[i]
			}
		}
	}
	compact := 0
	for range 600 {
		var refs []jobRef
		var entries []maintEntry
		fill(r, reflect.ValueOf(&refs).Elem())
		fill(r, reflect.ValueOf(&entries).Elem())
		keys := make([]string, len(refs))
		for i := range refs {
			keys[i] = refs[i].Key
		}
		prefixed(keys)
		for i := range refs {
			refs[i].Key = keys[i]
		}
		for i := range entries {
			entries[i].Key = "111122223333/us-east-1/ws-" + strconv.Itoa(i)
			if r.IntN(2) == 0 {
				entries[i].Due = time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(30*86400)) * time.Second)
			}
		}
		v1, err := json.Marshal(refs)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := jobRefs(refs).AppendJSON([]byte("x"))
		if err != nil || v2[0] != 'x' {
			t.Fatalf("AppendJSON: %q, %v", v2, err)
		}
		if !isV1(v2[1:]) {
			compact++
		}
		want, err1 := decodeJobRefs(v1)
		got, err2 := decodeJobRefs(v2[1:])
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("refs %s decode to %+v (%v), first form %s to %+v (%v)", v2[1:], got, err2, v1, want, err1)
		}
		v1, err = json.Marshal(entries)
		if err != nil {
			t.Fatal(err)
		}
		v2, err = maintEntries(entries).AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		we, err1 := decodeMaintEntries(v1)
		ge, err2 := decodeMaintEntries(v2)
		if err1 != nil || err2 != nil || len(we) != len(ge) {
			t.Fatalf("entries %s decode to %+v (%v), first form %s to %+v (%v)", v2, ge, err2, v1, we, err1)
		}
		for i := range we {
			if we[i].Key != ge[i].Key || !we[i].Due.Equal(ge[i].Due) {
				t.Fatalf("entry %d: %s decodes to %+v, first form %s to %+v", i, v2, ge[i], v1, we[i])
			}
		}
	}
	if compact < 100 {
		t.Fatalf("only %d of 600 ref payloads took the compact form", compact)
	}
}

// TestCreatePayloadsStayInTheJobsRow: the jobs a 25-desktop CreateWorkspaces
// request queues (its provisioning batch and its maintenance group) encode
// in under 1,000 bytes each, the most SQLite keeps in a row of the jobs
// table before it spills to an overflow page.
func TestCreatePayloadsStayInTheJobsRow(t *testing.T) {
	now := time.Date(2026, 12, 6, 6, 23, 25, 6805282, time.UTC)
	var refs []jobRef
	var entries []maintEntry
	for range 25 {
		k := key("111122223333", "us-east-1", newOrderedID("ws-"))
		refs = append(refs, jobRef{Key: k})
		entries = append(entries, maintEntry{Key: k, Due: MaintenanceWindow(k[len(k)-12:], now)})
	}
	for _, p := range []store.JSONAppender{jobRefs(refs), maintEntries(entries)} {
		b, err := store.EncodeJSON(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) >= 1000 {
			t.Errorf("%T of 25 desktops: %d bytes: %s", p, len(b), b)
		}
		t.Logf("%T of 25 desktops: %d bytes", p, len(b))
	}
}

// TestStoredRecordsDecodeAsEncodingJSON: store.DecodeJSON (goccy/go-json)
// gives the very values encoding/json gives for the records this module
// stores, over random records of each kind, and refuses what encoding/json
// refuses.
func TestStoredRecordsDecodeAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	kinds := []func() any{
		func() any { return new(desktopRec) }, func() any { return new(directoryRec) },
		func() any { return new(bundleRec) }, func() any { return new(imageRec) },
	}
	for _, mk := range kinds {
		for range 300 {
			v := mk()
			fill(r, reflect.ValueOf(v).Elem())
			b, err := store.EncodeJSON(v)
			if err != nil {
				t.Fatal(err)
			}
			want, got := mk(), mk()
			if err := json.Unmarshal(b, want); err != nil {
				t.Fatal(err)
			}
			if err := store.DecodeJSON(b, got); err != nil {
				t.Fatalf("%T %s: %v", v, b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%T %s:\n got %+v\nwant %+v", v, b, got, want)
			}
		}
	}
	for _, bad := range []string{``, `{`, `{"id":}`, `{"id":"x"`, `{"seq":"one"}`, `[1,2]`, `{"id":"x"} trailing`} {
		if err := store.DecodeJSON([]byte(bad), new(desktopRec)); err == nil {
			t.Errorf("DecodeJSON(%q) accepted what encoding/json refuses", bad)
		}
	}
}

func BenchmarkDesktopDecode(b *testing.B) {
	v1, err := benchDesktop().appendV1(nil)
	if err != nil {
		b.Fatal(err)
	}
	v2, err := benchDesktop().AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var w desktopRecV1
			json.Unmarshal(v1, &w)
		}
	})
	b.Run("store.DecodeJSON/first-form", func(b *testing.B) {
		for b.Loop() {
			var w desktopRec
			store.DecodeJSON(v1, &w)
		}
	})
	b.Run("store.DecodeJSON/compact", func(b *testing.B) {
		for b.Loop() {
			var w desktopRec
			store.DecodeJSON(v2, &w)
		}
	})
}

// createRequestBody is a CreateWorkspaces request of 25 user-decoupled
// desktops, as the benchmark's load generator sends it.
func createRequestBody() []byte {
	var body strings.Builder
	body.WriteString(`{"Workspaces":[`)
	for j := 0; j < 25; j++ {
		if j > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"DirectoryId":"d-1234567890","UserName":"[UNDEFINED]","BundleId":"wsb-12345678","WorkspaceName":"w-%d",`+
			`"WorkspaceProperties":{"RunningMode":"MANUAL"},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}`, j)
	}
	body.WriteString(`]}`)
	return []byte(body.String())
}

// BenchmarkValidateCreateInput validates a decoded CreateWorkspaces input
// of 25 desktops, as every such request is before it runs.
func BenchmarkValidateCreateInput(b *testing.B) {
	var in createWorkspacesIn
	if err := awsproto.DecodeJSON(createRequestBody(), &in, "ValidationException"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if msg := awsproto.Validate(&in); msg != "" {
			b.Fatal(msg)
		}
	}
}

// BenchmarkDecodeCreateRequest decodes and validates a CreateWorkspaces
// request of 25 desktops, with DecodeJSON (the body copied) and with
// DecodeJSONOwned (the gateway's: the strings share the body).
func BenchmarkDecodeCreateRequest(b *testing.B) {
	data := createRequestBody()
	for _, bc := range []struct {
		name   string
		decode func([]byte, any, string) error
	}{{"copied", awsproto.DecodeJSON}, {"owned", awsproto.DecodeJSONOwned}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var in createWorkspacesIn
				if err := bc.decode(data, &in, "ValidationException"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRefsAsWrittenDecodeAsTheDecoder: the batch payloads AppendJSON
// writes for a request's desktops take the fast decoding, and whatever it
// accepts (the payloads written, and random mutations of them) decodes to
// what the general decoder (decodeV2) gives; what it refuses is left to it.
func TestRefsAsWrittenDecodeAsTheDecoder(t *testing.T) {
	general := decodeV2Refs
	r := rand.New(rand.NewPCG(7, 8))
	fast := 0
	for n := range 3000 {
		refs := make([]jobRef, 1+r.IntN(25))
		for i := range refs {
			refs[i].Key = "111122223333/us-east-1/" + newOrderedID("ws-")
			if n%2 == 1 {
				refs[i].Seq = int64(r.IntN(5)) - 1
			}
		}
		b, err := jobRefs(refs).AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := decodeRefsAsWritten(b); !ok || !reflect.DeepEqual(got, refs) {
			t.Fatalf("%s: fast decoding %v gives %+v, want %+v", b, ok, got, refs)
		}
		// A mutated payload: a byte changed, dropped or doubled.
		i := r.IntN(len(b))
		switch m := append([]byte(nil), b...); r.IntN(3) {
		case 0:
			m[i] = `0123456789"\,[]{}:-a é`[r.IntN(23)]
			b = m
		case 1:
			b = append(m[:i], m[i+1:]...)
		default:
			b = append(m[:i+1], m[i:]...)
		}
		got, ok := decodeRefsAsWritten(b)
		if !ok {
			continue
		}
		fast++
		want, err := general(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: fast decoding gives %+v, the decoder %+v (%v)", b, got, want, err)
		}
	}
	if fast == 0 {
		t.Fatal("no mutated payload took the fast decoding")
	}
}

// BenchmarkDecodeJobRefs decodes a 25-desktop provisioning batch's refs:
// the way decodeJobRefs takes for them, and the general decoder.
func BenchmarkDecodeJobRefs(b *testing.B) {
	refs := make([]jobRef, 25)
	for i := range refs {
		refs[i].Key = "111122223333/us-east-1/" + newOrderedID("ws-")
	}
	payload, _ := jobRefs(refs).AppendJSON(nil)
	b.Run("decodeJobRefs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeJobRefs(payload)
		}
	})
	b.Run("general", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := decodeV2(payload)
			out := make([]jobRef, len(p.IDs))
			for i, id := range p.IDs {
				out[i].Key = p.Prefix + id
			}
		}
	})
}

// TestVolumeIDs: the two ids volumeIDs makes at once have volumeID's form
// and differ.
func TestVolumeIDs(t *testing.T) {
	re := regexp.MustCompile(`^vol-[0-9a-f]{17}$`)
	seen := map[string]bool{}
	for range 200 {
		a, b := volumeIDs()
		for _, id := range []string{a, b, volumeID()} {
			if !re.MatchString(id) {
				t.Fatalf("volume id %q has not the form vol- and 17 hex digits", id)
			}
			if seen[id] {
				t.Fatalf("volume id %q made twice", id)
			}
			seen[id] = true
		}
	}
}

// TestReservedTagKeyAsLowered: reservedTagKey agrees with lowering the key
// and looking for "aws:", over ASCII and non-ASCII keys.
func TestReservedTagKeyAsLowered(t *testing.T) {
	keys := []string{"", "a", "aws", "aws:", "AWS:x", "Aws:", "aWs:k", "aws-", "aws :", "PartnerManaged",
		"\u0130ws:", "aw\u017f:", "\u212aws:", "\u00e5ws:", "ÀWS:", "aws:é", "xaws:"}
	for _, a := range []rune{'a', 'A', 'w', 'W', 's', 'S', ':', 0x17f, 0x130, 0x212a, 0x131, 'x'} {
		for _, b := range []rune{'w', 'W', 0x17f, 's'} {
			keys = append(keys, string(a)+string(b)+"s:", "a"+string(b)+string(a)+":", string(a)+"ws"+string(b))
		}
	}
	// The claim it rests on: no rune outside ASCII lowers to one of "aws:".
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if l := strings.ToLower(string(r)); strings.ContainsAny(l, "aws:") {
			t.Errorf("%U lowers to %q", r, l)
		}
	}
	for _, k := range keys {
		if got, want := reservedTagKey(k), strings.HasPrefix(strings.ToLower(k), "aws:"); got != want {
			t.Errorf("reservedTagKey(%q) = %v, lowering says %v", k, got, want)
		}
	}
}

// BenchmarkVolumeIDs makes a new desktop's two volume ids, one by one
// (volumeID) and at once (volumeIDs).
func BenchmarkVolumeIDs(b *testing.B) {
	b.Run("volumeID×2", func(b *testing.B) {
		for b.Loop() {
			_, _ = volumeID(), volumeID()
		}
	})
	b.Run("volumeIDs", func(b *testing.B) {
		for b.Loop() {
			_, _ = volumeIDs()
		}
	})
}

// BenchmarkTagsFromList checks and collects one desktop's tags as the load
// generator sends them.
func BenchmarkTagsFromList(b *testing.B) {
	v := "true"
	list := []Tag{{Key: "PartnerManaged", Value: &v}}
	for b.Loop() {
		if _, err := tagsFromList(list); err != nil {
			b.Fatal(err)
		}
	}
}

// TestJobPayloadsShareTheKeysPrefix: a payload's "p" is all its keys share
// (a request's ordered ids too), never a part of a character, and payloads
// written before it was (ACCOUNT/REGION/ alone) decode to the same refs and
// entries.
func TestJobPayloadsShareTheKeysPrefix(t *testing.T) {
	refs := jobRefs{{Key: "111122223333/us-east-1/ws-0bt8zirbv"}, {Key: "111122223333/us-east-1/ws-0bt8zirbw", Seq: 2}}
	b, err := refs.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":2,"p":"111122223333/us-east-1/ws-0bt8zirb","k":["v","w"],"s":[0,2]}`; string(b) != want {
		t.Errorf("refs: %s, want %s", b, want)
	}
	old := `{"v":2,"p":"111122223333/us-east-1/","k":["ws-0bt8zirbv","ws-0bt8zirbw"],"s":[0,2]}`
	for _, p := range []string{string(b), old} {
		got, err := decodeJobRefs([]byte(p))
		if err != nil || !reflect.DeepEqual(got, []jobRef(refs)) {
			t.Errorf("%s decodes to %+v (%v), want %+v", p, got, err, refs)
		}
		if got, err := decodeV2Refs([]byte(p)); err != nil || !reflect.DeepEqual(got, []jobRef(refs)) {
			t.Errorf("%s decodes (general) to %+v (%v), want %+v", p, got, err, refs)
		}
	}
	due := time.Date(2026, 12, 13, 6, 0, 0, 0, time.UTC)
	oldEntries := `{"v":2,"p":"111122223333/us-east-1/","k":["ws-0bt8zirbv","ws-0bt8zirbw"],"t":` +
		strconv.FormatInt(due.UnixNano(), 10) + `,"ds":[0,3600]}`
	es, err := decodeMaintEntries([]byte(oldEntries))
	if err != nil || len(es) != 2 || es[1].Key != refs[1].Key || !es[1].Due.Equal(due.Add(time.Hour)) {
		t.Errorf("%s decodes to %+v (%v)", oldEntries, es, err)
	}
	nb, err := maintEntries(es).AppendJSON(nil)
	if err != nil || !bytes.Contains(nb, []byte(`"p":"111122223333/us-east-1/ws-0bt8zirb","k":["v","w"]`)) {
		t.Errorf("entries: %s (%v)", nb, err)
	}
	// Keys that share the first byte of a character and not its second
	// (é is C3 A9, ê C3 AA), one that is all the prefix, and one alone.
	for _, keys := range [][]string{{"a/é1", "a/ê1"}, {"a/é", "a/é", "a/éx"}, {"a/b", "a/bc"}, {"only"}, {"x", "y"}} {
		var rs jobRefs
		for _, k := range keys {
			rs = append(rs, jobRef{Key: k})
		}
		b, err := rs.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeJobRefs(b)
		if err != nil || !reflect.DeepEqual(got, []jobRef(rs)) {
			t.Errorf("%q: %s decodes to %+v (%v)", keys, b, got, err)
		}
	}
}
