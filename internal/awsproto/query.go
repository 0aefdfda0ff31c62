package awsproto

import (
	"encoding"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// DecodeQuery decodes query-protocol parameters (IAM, STS: `Tags.member.1.Key`;
// EC2: `Filter.1.Value.1`) into in, using each field's `query` tag (or its
// `json` tag) as the wire name, then validates it. Lists are numbered from 1;
// the `member` and `entry` segments of the query flavour are skipped, and a
// map given as `Name.entry.N.key/value` becomes a Go map.
func DecodeQuery(values url.Values, in any, validationCode string) error {
	root := &qnode{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "Action" || k == "Version" || strings.HasPrefix(k, "X-Amz-") {
			continue
		}
		root.set(strings.Split(k, "."), values.Get(k))
	}
	if err := root.decode(reflect.ValueOf(in).Elem(), ""); err != nil {
		return Errorf(validationCode, "%s", err.Error())
	}
	if msg := Validate(in); msg != "" {
		return Errorf(validationCode, "%s", msg)
	}
	return nil
}

type qnode struct {
	value    *string
	children map[string]*qnode
}

func (n *qnode) set(path []string, v string) {
	if len(path) == 0 {
		n.value = &v
		return
	}
	if n.children == nil {
		n.children = map[string]*qnode{}
	}
	c := n.children[path[0]]
	if c == nil {
		c = &qnode{}
		n.children[path[0]] = c
	}
	c.set(path[1:], v)
}

// items returns the numbered children in order, skipping member/entry wrappers.
func (n *qnode) items() ([]*qnode, error) {
	src := n
	if m, ok := n.children["member"]; ok {
		src = m
	} else if m, ok := n.children["entry"]; ok {
		src = m
	} else if m, ok := n.children["item"]; ok {
		src = m
	}
	idx := make([]int, 0, len(src.children))
	for k := range src.children {
		i, err := strconv.Atoi(k)
		// Only canonical indices: "01" or "+1" would name no child below.
		if err != nil || i < 1 || i > 10000 || strconv.Itoa(i) != k {
			return nil, fmt.Errorf("invalid list index %q", k)
		}
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]*qnode, 0, len(idx))
	for _, i := range idx {
		out = append(out, src.children[strconv.Itoa(i)])
	}
	return out, nil
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

func (n *qnode) decode(v reflect.Value, path string) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return n.decode(v.Elem(), path)
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) && n.value != nil {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(*n.value)); err != nil {
			return fmt.Errorf("invalid value for %s: %v", path, err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		byName := map[string]int{}
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				byName[queryName(t.Field(i))] = i
			}
		}
		for name, c := range n.children {
			i, ok := byName[name]
			if !ok {
				// Unknown parameters are ignored, as AWS query services do for forward compatibility.
				continue
			}
			if err := c.decode(v.Field(i), joinPath(path, name)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		items, err := n.items()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := it.decode(s.Index(i), fmt.Sprintf("%s.%d", path, i+1)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Map:
		items, err := n.items()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		m := reflect.MakeMap(v.Type())
		for _, it := range items {
			k, val := it.children["key"], it.children["value"]
			if k == nil || k.value == nil {
				return fmt.Errorf("%s: map entry without key", path)
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			if val != nil {
				if err := val.decode(ev, path+"."+*k.value); err != nil {
					return err
				}
			}
			m.SetMapIndex(reflect.ValueOf(*k.value), ev)
		}
		v.Set(m)
	default:
		if n.value == nil {
			return fmt.Errorf("%s: expected a value", path)
		}
		return setScalar(v, *n.value, path)
	}
	return nil
}

func setScalar(v reflect.Value, s, path string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean %q for %s", s, path)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q for %s", s, path)
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("invalid number %q for %s", s, path)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported member type for %s", path)
	}
	return nil
}

func queryName(f reflect.StructField) string {
	if tag := f.Tag.Get("query"); tag != "" {
		n, _, _ := strings.Cut(tag, ",")
		return n
	}
	return memberName(f)
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}
