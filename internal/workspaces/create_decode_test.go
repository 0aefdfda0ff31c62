package workspaces

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
)

// generalCreateIn is createWorkspacesIn without its DecodeJSONFast: the
// general decoding decodes it.
type generalCreateIn createWorkspacesIn

// checkCreateDecode decodes body both ways and fails if the fast decoding
// accepts it and gives other values than the general one, if it refuses it
// and leaves anything set, or if DecodeJSON's answer differs between the two.
// It reports whether the fast decoding accepted body.
func checkCreateDecode(t *testing.T, body []byte) bool {
	t.Helper()
	var fast createWorkspacesIn
	ok := fast.DecodeJSONFast(string(bytes.TrimSpace(body)))
	if !ok && !reflect.DeepEqual(fast, createWorkspacesIn{}) {
		t.Fatalf("refused %q but left %+v", body, fast)
	}
	var general, hooked createWorkspacesIn
	errG := awsproto.DecodeJSON(body, (*generalCreateIn)(&general), "ValidationException")
	errH := awsproto.DecodeJSON(body, &hooked, "ValidationException")
	// The general decoding's messages name the type it decodes.
	if strings.ReplaceAll(fmt.Sprint(errG), "generalCreateIn", "createWorkspacesIn") != fmt.Sprint(errH) {
		t.Fatalf("%q: DecodeJSON gives %v, the general decoding %v", body, errH, errG)
	}
	if ok {
		if e, isErr := errG.(*awsproto.Error); errG != nil && (!isErr || e.Code != "ValidationException") {
			t.Fatalf("fast decoding accepted %q, the general one refused it: %v", body, errG)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Fatalf("%q:\nfast    %s\ngeneral %s", body, dump(fast), dump(general))
		}
		if !reflect.DeepEqual(hooked, general) {
			t.Fatalf("%q: DecodeJSON's values differ from the general decoding's", body)
		}
	}
	return ok
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// member is a key and its value, already written.
type member struct{ k, v string }

// jsonWriter writes random, valid and invalid, CreateWorkspaces bodies.
type jsonWriter struct {
	r       *rand.Rand
	hostile bool // also values the fast decoding must refuse or get right
}

func (w *jsonWriter) sp() string {
	if w.r.IntN(4) > 0 {
		return ""
	}
	return []string{" ", "\n", "\t", "\r\n  "}[w.r.IntN(4)]
}

func (w *jsonWriter) object(ms []member) string {
	var b strings.Builder
	b.WriteString("{" + w.sp())
	for i, m := range ms {
		if i > 0 {
			b.WriteString("," + w.sp())
		}
		k := m.k
		if w.bad() {
			k = strings.ToLower(k)
		}
		b.WriteString(`"` + k + `"` + w.sp() + ":" + w.sp() + m.v + w.sp())
	}
	if w.bad() && len(ms) > 0 {
		b.WriteString("," + `"` + ms[0].k + `":` + ms[0].v) // a repeated key
	}
	b.WriteString("}")
	return b.String()
}

func (w *jsonWriter) list(vs []string) string {
	return "[" + w.sp() + strings.Join(vs, ","+w.sp()) + w.sp() + "]"
}

// odd reports whether to write a value the fast decoding takes but a
// client rarely sends; bad, one it must refuse (rarer, so that most hostile
// bodies still hold only values it takes).
func (w *jsonWriter) odd() bool { return w.hostile && w.r.IntN(5) == 0 }
func (w *jsonWriter) bad() bool { return w.hostile && w.r.IntN(400) == 0 }

func (w *jsonWriter) str(plain ...string) string {
	switch {
	case w.bad():
		return []string{`"caf\u00e9"`, `"a\"b"`, "\"\xff\xfe\"", "null", "7", "\"tab\there\"", "[]", "{}"}[w.r.IntN(8)]
	case w.odd():
		return []string{`"日本-x"`, `""`, `"é"`, `"a b"`}[w.r.IntN(4)]
	}
	return `"` + plain[w.r.IntN(len(plain))] + `"`
}

func (w *jsonWriter) num() string {
	switch {
	case w.bad():
		return []string{"-0", "01", "1.5", "1e3", "99999999999999999999", "1234567890123456789", `"80"`, "null", "true", "-", "2x"}[w.r.IntN(11)]
	case w.odd():
		return []string{"0", "-7", "123456789012345678", "-123456789012345678"}[w.r.IntN(4)]
	}
	return fmt.Sprint(w.r.IntN(3000))
}

func (w *jsonWriter) boolean() string {
	if w.bad() {
		return []string{"null", `"true"`, "1", "tru", "truex"}[w.r.IntN(5)]
	}
	return []string{"true", "false"}[w.r.IntN(2)]
}

func (w *jsonWriter) some(all []member) []member {
	var ms []member
	for _, m := range all {
		if w.r.IntN(3) > 0 {
			ms = append(ms, m)
		}
	}
	w.r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	return ms
}

func (w *jsonWriter) properties() string {
	ms := w.some([]member{
		{"RunningMode", w.str("MANUAL", "AUTO_STOP", "ALWAYS_ON", "OFF")},
		{"RunningModeAutoStopTimeoutInMinutes", w.num()},
		{"RootVolumeSizeGib", w.num()},
		{"UserVolumeSizeGib", w.num()},
		{"ComputeTypeName", w.str("VALUE", "STANDARD", "POWER")},
		{"Protocols", w.list([]string{w.str("PCOIP", "WSP"), w.str("WSP")}[:w.r.IntN(3)])},
		{"OperatingSystemName", w.str("WINDOWS_10", "UBUNTU_22_04")},
		{"GlobalAccelerator", w.object(w.some([]member{{"Mode", w.str("ENABLED_AUTO", "DISABLED")}, {"PreferredProtocol", w.str("TCP", "NONE")}}))},
	})
	if w.bad() {
		ms = append(ms, member{"Unknown", "1"})
	}
	return w.object(ms)
}

func (w *jsonWriter) request(j int) string {
	tags := make([]string, w.r.IntN(4))
	for i := range tags {
		tags[i] = w.object(w.some([]member{{"Key", w.str("PartnerManaged", "team", "a b")}, {"Value", w.str("true", "x", "")}}))
	}
	ms := []member{
		{"DirectoryId", w.str("d-1234567890", "d-12", "wsd-abcdefgh1")},
		{"UserName", w.str("[UNDEFINED]", "alice")},
		{"BundleId", w.str("wsb-12345678", "wsb-")},
	}
	if w.r.IntN(8) == 0 {
		ms = ms[:w.r.IntN(3)] // a required member missing
	}
	ms = append(ms, w.some([]member{
		{"WorkspaceName", w.str(fmt.Sprintf("w-%d", j), "x", "bad name")},
		{"WorkspaceProperties", w.properties()},
		{"Tags", w.list(tags)},
		{"VolumeEncryptionKey", w.str("arn:aws:kms:us-east-1:123456789012:key/k")},
		{"UserVolumeEncryptionEnabled", w.boolean()},
		{"RootVolumeEncryptionEnabled", w.boolean()},
		{"Ipv6Address", w.str("2001:db8::1")},
	})...)
	w.r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	return w.object(ms)
}

func (w *jsonWriter) body() []byte {
	reqs := make([]string, w.r.IntN(28))
	for j := range reqs {
		reqs[j] = w.request(j)
	}
	b := w.sp() + w.object([]member{{"Workspaces", w.list(reqs)}}) + w.sp()
	if w.hostile && w.r.IntN(30) == 0 {
		b += []string{"{}", "x", ","}[w.r.IntN(3)]
	}
	return []byte(b)
}

// mutate changes a few bytes of b: a byte replaced, deleted or inserted.
func mutate(r *rand.Rand, b []byte) []byte {
	b = bytes.Clone(b)
	const set = "{}[],:\" \\0123456789-.etrunlfaxAZ\xff"
	for range 1 + r.IntN(3) {
		if len(b) == 0 {
			break
		}
		i := r.IntN(len(b))
		switch r.IntN(3) {
		case 0:
			b[i] = set[r.IntN(len(set))]
		case 1:
			b = append(b[:i], b[i+1:]...)
		default:
			b = append(b[:i], append([]byte{set[r.IntN(len(set))]}, b[i:]...)...)
		}
	}
	return b
}

// TestCreateDecodeAsTheDecoder: the bodies the SDKs write take the fast
// decoding and give the general decoding's values; hostile ones and random
// mutations give the same values, or are refused and left to the general
// decoding, with DecodeJSON's answer unchanged either way.
func TestCreateDecodeAsTheDecoder(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 8))
	for _, body := range []string{
		string(createRequestBody()), `{}`, `{"Workspaces":[]}`, ` {"Workspaces":[{}]} `,
		`{"Workspaces":null}`, `{"Workspaces":[{"Tags":[]}]}`, `{"Workspaces":[{"WorkspaceProperties":{"Protocols":[]}}]}`,
		`{"Workspaces":[{"WorkspaceProperties":{}}]}`, `{"Workspaces":[{"WorkspaceProperties":{"GlobalAccelerator":{}}}]}`,
		`{"Workspaces":[{"Tags":[{}]}]}`, `{"Workspaces":[{"UserName":"a","UserName":"b"}]}`,
		`{"Workspaces":[{"WorkspaceProperties":{"RunningMode":"MANUAL"},"WorkspaceProperties":{"RootVolumeSizeGib":80}}]}`, `{"Workspaces":[]} {}`, `[]`, `null`, `"x"`, `{"workspaces":[]}`,
	} {
		checkCreateDecode(t, []byte(body))
	}
	if !checkCreateDecode(t, createRequestBody()) {
		t.Fatal("the benchmark's body was refused")
	}
	written, fast, hostile := 0, 0, 0
	for range 1500 {
		w := &jsonWriter{r: r}
		body := w.body()
		written++
		if checkCreateDecode(t, body) {
			fast++
		}
		checkCreateDecode(t, mutate(r, body))
		w.hostile = true
		if checkCreateDecode(t, w.body()) {
			hostile++
		}
	}
	t.Logf("hostile bodies taken by the fast decoding: %d of %d", hostile, written)
	if hostile < written/5 {
		t.Fatalf("only %d of %d hostile bodies took the fast decoding", hostile, written)
	}
	if fast != written {
		t.Fatalf("%d of %d written bodies took the fast decoding", fast, written)
	}
}

// FuzzCreateDecodeAgrees: whatever the fast decoding accepts decodes to
// the general decoding's values, and DecodeJSON answers the same.
func FuzzCreateDecodeAgrees(f *testing.F) {
	f.Add(createRequestBody())
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		w := &jsonWriter{r: r, hostile: r.IntN(2) == 0}
		f.Add(w.body())
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkCreateDecode(t, body)
	})
}
