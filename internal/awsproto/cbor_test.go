package awsproto

import (
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

type cborIn struct {
	Name  *string  `json:"Name" v:"required,min=1"`
	N     *int64   `json:"N,omitempty"`
	F     *float64 `json:"F,omitempty"`
	When  *Time    `json:"When,omitempty"`
	Blob  []byte   `json:"Blob,omitempty"`
	List  []string `json:"List,omitempty"`
	Inner *struct {
		OK *bool `json:"OK,omitempty"`
	} `json:"Inner,omitempty"`
}

func TestDecodeCBOR(t *testing.T) {
	when := time.Date(2026, 3, 1, 12, 30, 15, 250e6, time.UTC)
	body := cbor.Encode(cbor.Map{
		"Name": cbor.String("x"), "N": cbor.NegInt(5), "F": cbor.Float64(1.5),
		"When": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(when.UnixMilli()) / 1000)},
		"Blob": cbor.Slice("hi"), "List": cbor.List{cbor.String("a"), cbor.String("b")},
		"Inner": cbor.Map{"OK": cbor.Bool(true)},
	})
	var in cborIn
	if err := DecodeCBOR(body, &in, "ValidationException"); err != nil {
		t.Fatal(err)
	}
	if *in.Name != "x" || *in.N != -5 || *in.F != 1.5 || !in.When.Equal(when) || string(in.Blob) != "hi" || len(in.List) != 2 || !*in.Inner.OK {
		t.Errorf("decoded %+v", in)
	}
	// Validation applies as for JSON; malformed bodies are 400s.
	for name, b := range map[string][]byte{
		"missing required": cbor.Encode(cbor.Map{}),
		"not a map":        cbor.Encode(cbor.List{}),
		"truncated":        body[:len(body)/2],
		"wrong type":       cbor.Encode(cbor.Map{"Name": cbor.Uint(3)}),
		"bad tag":          cbor.Encode(cbor.Map{"Name": cbor.String("x"), "When": &cbor.Tag{ID: 99, Value: cbor.Uint(1)}}),
		"-2^64":            cbor.Encode(cbor.Map{"Name": cbor.String("x"), "N": cbor.NegInt(0)}),
	} {
		if err := DecodeCBOR(b, &cborIn{}, "ValidationException"); As(err) == nil || As(err).HTTPStatus() != 400 {
			t.Errorf("%s: %v, want a 400 error", name, err)
		}
	}
}

func TestEncodeCBOR(t *testing.T) {
	type out struct {
		A  string             `json:"A"`
		B  *string            `json:"B,omitempty"`
		T  *Time              `json:"T,omitempty"`
		Fs []float64          `json:"Fs"`
		M  map[string]float64 `json:"M,omitempty"`
		N  int                `json:"N"`
	}
	when := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b, err := EncodeCBOR(&out{A: "a", T: NewTime(when), Fs: []float64{1, 2.5}, M: map[string]float64{"p90": 3}, N: -2})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cbor.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(cbor.Map)
	if _, ok := m["B"]; ok {
		t.Error("nil member encoded")
	}
	tag, ok := m["T"].(*cbor.Tag)
	if !ok || tag.ID != 1 {
		t.Fatalf("timestamp %#v, want tag 1", m["T"])
	}
	if got, _ := cbor.AsTime(tag); !got.Equal(when) {
		t.Errorf("timestamp %v", got)
	}
	if m["A"] != cbor.String("a") || m["N"] != cbor.NegInt(2) || len(m["Fs"].(cbor.List)) != 2 {
		t.Errorf("encoded %#v", m)
	}
}

// FuzzDecodeCBOR holds that no request body makes the CBOR decoder panic
// or answer anything but a 4xx error or a decoded value.
func FuzzDecodeCBOR(f *testing.F) {
	f.Add(cbor.Encode(cbor.Map{"Name": cbor.String("x"), "When": &cbor.Tag{ID: 1, Value: cbor.Uint(1)}}))
	f.Add(cbor.Encode(cbor.Map{"Name": cbor.String("x"), "List": cbor.List{cbor.String("a")}, "Inner": cbor.Map{}}))
	f.Add([]byte{0xbf, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		var in cborIn
		if err := DecodeCBOR(body, &in, "ValidationException"); err != nil {
			if ae := As(err); ae == nil || ae.HTTPStatus() >= 500 {
				t.Fatalf("%q: %v", body, err)
			}
		}
	})
}
