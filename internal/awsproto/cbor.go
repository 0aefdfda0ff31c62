package awsproto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// DecodeCBOR decodes a Smithy RPC v2 CBOR request body into in: the CBOR
// document is carried over to its JSON form (timestamps, tag 1, as epoch
// seconds; blobs as base64) and decoded and validated as an awsJson body
// is, so both protocols share one input type and one set of checks.
func DecodeCBOR(body []byte, in any, validationCode string) error {
	if len(body) == 0 {
		return DecodeJSON([]byte("{}"), in, validationCode)
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return Errorf("SerializationException", "Malformed CBOR request body: %v", err)
	}
	if _, ok := v.(cbor.Map); !ok {
		return Errorf("SerializationException", "The request body must be a CBOR map")
	}
	g, err := cborToGo(v, 0)
	if err != nil {
		return Errorf("SerializationException", "Malformed CBOR request body: %v", err)
	}
	b, err := json.Marshal(g)
	if err != nil {
		return Errorf("SerializationException", "Malformed CBOR request body: %v", err)
	}
	return DecodeJSON(b, in, validationCode)
}

// maxCBORDepth bounds the nesting of a request document.
const maxCBORDepth = 64

func cborToGo(v cbor.Value, depth int) (any, error) {
	if depth > maxCBORDepth {
		return nil, fmt.Errorf("nested too deeply")
	}
	switch v := v.(type) {
	case cbor.Uint:
		return uint64(v), nil
	case cbor.NegInt:
		if v == 0 || v > math.MaxInt64 { // NegInt(0) is -2^64
			return nil, fmt.Errorf("integer out of range")
		}
		return -int64(v), nil
	case cbor.Slice:
		return base64.StdEncoding.EncodeToString(v), nil
	case cbor.String:
		return string(v), nil
	case cbor.List:
		out := make([]any, len(v))
		for i, e := range v {
			g, err := cborToGo(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = g
		}
		return out, nil
	case cbor.Map:
		out := make(map[string]any, len(v))
		for k, e := range v {
			g, err := cborToGo(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = g
		}
		return out, nil
	case *cbor.Tag:
		if v.ID != 1 {
			return nil, fmt.Errorf("unsupported CBOR tag %d", v.ID)
		}
		t, err := cbor.AsTime(v)
		if err != nil {
			return nil, fmt.Errorf("invalid timestamp: %w", err)
		}
		return json.Number(fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000)), nil
	case cbor.Bool:
		return bool(v), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case cbor.Float32:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("non-finite number")
		}
		return f, nil
	case cbor.Float64:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("non-finite number")
		}
		return f, nil
	}
	return nil, fmt.Errorf("unsupported CBOR value %T", v)
}

// EncodeCBOR renders an output value as a Smithy RPC v2 CBOR body: the
// members its json tags name (omitempty and nil members left out),
// timestamps as tag 1 epoch seconds, []byte as byte strings.
func EncodeCBOR(out any) ([]byte, error) {
	if out == nil {
		return cbor.Encode(cbor.Map{}), nil
	}
	v, err := toCBOR(reflect.ValueOf(out))
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = cbor.Map{}
	}
	return cbor.Encode(v), nil
}

var (
	timeType   = reflect.TypeOf(Time{})
	stdTime    = reflect.TypeOf(time.Time{})
	marshalerT = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
)

func epoch(t time.Time) cbor.Value {
	return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1000)}
}

// toCBOR converts v; nil means "absent".
func toCBOR(v reflect.Value) (cbor.Value, error) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	switch v.Type() {
	case timeType:
		return epoch(v.Interface().(Time).Time), nil
	case stdTime:
		return epoch(v.Interface().(time.Time)), nil
	}
	if v.Type().Implements(marshalerT) && v.Kind() != reflect.Struct {
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return nil, err
		}
		var g any
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, err
		}
		return goToCBOR(g), nil
	}
	switch v.Kind() {
	case reflect.Struct:
		m := cbor.Map{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			e, err := toCBOR(fv)
			if err != nil {
				return nil, err
			}
			if e != nil {
				m[name] = e
			}
		}
		return m, nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return cbor.Slice(v.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		l := make(cbor.List, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			e, err := toCBOR(v.Index(i))
			if err != nil {
				return nil, err
			}
			if e == nil {
				e = &cbor.Nil{}
			}
			l = append(l, e)
		}
		return l, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("cbor: map key %s is not a string", v.Type().Key())
		}
		m := cbor.Map{}
		it := v.MapRange()
		for it.Next() {
			e, err := toCBOR(it.Value())
			if err != nil {
				return nil, err
			}
			if e == nil {
				e = &cbor.Nil{}
			}
			m[it.Key().String()] = e
		}
		return m, nil
	case reflect.String:
		return cbor.String(v.String()), nil
	case reflect.Bool:
		return cbor.Bool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n < 0 {
			return cbor.NegInt(uint64(-n)), nil
		}
		return cbor.Uint(uint64(n)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cbor.Uint(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return cbor.Float64(v.Float()), nil
	}
	return nil, fmt.Errorf("cbor: cannot encode %s", v.Type())
}

func goToCBOR(g any) cbor.Value {
	switch g := g.(type) {
	case nil:
		return &cbor.Nil{}
	case bool:
		return cbor.Bool(g)
	case float64:
		if g == math.Trunc(g) && math.Abs(g) < 1<<53 {
			if g < 0 {
				return cbor.NegInt(uint64(-g))
			}
			return cbor.Uint(uint64(g))
		}
		return cbor.Float64(g)
	case string:
		return cbor.String(g)
	case []any:
		l := make(cbor.List, len(g))
		for i, e := range g {
			l[i] = goToCBOR(e)
		}
		return l
	case map[string]any:
		m := cbor.Map{}
		for k, e := range g {
			m[k] = goToCBOR(e)
		}
		return m
	}
	return &cbor.Nil{}
}

// CBORErrorBody renders a Smithy RPC v2 CBOR error body.
func CBORErrorBody(e *Error) []byte {
	return cbor.Encode(cbor.Map{"__type": cbor.String(e.Code), "message": cbor.String(e.Message)})
}
