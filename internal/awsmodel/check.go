package awsmodel

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// CheckOptions selects the optional parts of a conformance check. The
// zero value is the strictest check; the Check* methods without an
// options argument use the zero value.
type CheckOptions struct {
	// SkipRequired disables reporting of missing required members.
	SkipRequired bool
	// SkipConstraints disables min/max (length, size, value range) and
	// pattern checks; enum, name and type checks always run.
	SkipConstraints bool
}

// checker accumulates problems while walking a value against a shape.
type checker struct {
	m    *Model
	opts CheckOptions
	out  []string
}

func (c *checker) add(path, format string, args ...any) {
	if path == "" {
		path = "(root)"
	}
	c.out = append(c.out, path+": "+fmt.Sprintf(format, args...))
}

func (c *checker) shape(path, name string) *Shape {
	s, ok := c.m.Shapes[name]
	if !ok {
		c.add(path, "model has no shape %q", name)
		return nil
	}
	return s
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func keyPath(path, k string) string { return fmt.Sprintf("%s[%q]", path, k) }

// checkString checks a string value against a string shape's enum,
// length bounds and pattern.
func (c *checker) checkString(path string, s *Shape, v string) {
	if len(s.Enum) > 0 {
		ok := false
		for _, e := range s.Enum {
			if e == v {
				ok = true
				break
			}
		}
		if !ok {
			c.add(path, "value %q is not in enum %s %v", v, s.Name, s.Enum)
		}
	}
	if c.opts.SkipConstraints {
		return
	}
	n := float64(utf8.RuneCountInString(v))
	if s.Min != nil && n < *s.Min {
		c.add(path, "string length %v is below min %v of %s", n, *s.Min, s.Name)
	}
	if s.Max != nil && n > *s.Max {
		c.add(path, "string length %v is above max %v of %s", n, *s.Max, s.Name)
	}
	if s.Pattern != "" {
		if re := c.m.regexpFor(s.Pattern); re != nil && !re.MatchString(v) {
			c.add(path, "value %q does not match pattern %s of %s", v, s.Pattern, s.Name)
		}
	}
}

// checkSize checks a length/size (blob, list, map) against min/max.
func (c *checker) checkSize(path string, s *Shape, n int, what string) {
	if c.opts.SkipConstraints {
		return
	}
	if s.Min != nil && float64(n) < *s.Min {
		c.add(path, "%s %d is below min %v of %s", what, n, *s.Min, s.Name)
	}
	if s.Max != nil && float64(n) > *s.Max {
		c.add(path, "%s %d is above max %v of %s", what, n, *s.Max, s.Name)
	}
}

// checkNumberText checks the textual form of a number (JSON number or XML
// text) against a numeric shape's type and range.
func (c *checker) checkNumberText(path string, s *Shape, txt string, allowSpecialFloat bool) {
	var f float64
	switch s.Type {
	case "integer", "long", "bigInteger":
		bits := 64
		if s.Type == "integer" {
			bits = 32
		}
		if s.Type == "bigInteger" {
			bits = 0
		}
		if bits == 0 {
			if _, ok := new(big.Int).SetString(txt, 10); !ok {
				c.add(path, "%q is not an integer (%s)", txt, s.Name)
			}
			return
		}
		i, err := strconv.ParseInt(txt, 10, bits)
		if err != nil {
			c.add(path, "%q is not a valid %s (%s)", txt, s.Type, s.Name)
			return
		}
		f = float64(i)
	case "float", "double", "bigDecimal":
		if allowSpecialFloat && (txt == "NaN" || txt == "Infinity" || txt == "-Infinity") {
			return
		}
		bits := 64
		if s.Type == "float" {
			bits = 32
		}
		v, err := strconv.ParseFloat(txt, bits)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			c.add(path, "%q is not a valid %s (%s)", txt, s.Type, s.Name)
			return
		}
		f = v
	default:
		c.add(path, "internal: %s is not numeric", s.Type)
		return
	}
	if c.opts.SkipConstraints {
		return
	}
	if s.Min != nil && f < *s.Min {
		c.add(path, "value %s is below min %v of %s", txt, *s.Min, s.Name)
	}
	if s.Max != nil && f > *s.Max {
		c.add(path, "value %s is above max %v of %s", txt, *s.Max, s.Name)
	}
}

// missingRequired reports required members of s absent from present.
func (c *checker) missingRequired(path string, s *Shape, present func(name string) bool, skip func(*Ref) bool) {
	if c.opts.SkipRequired {
		return
	}
	for _, r := range s.Required {
		ref := s.Members[r]
		if ref != nil && skip != nil && skip(ref) {
			continue
		}
		if !present(r) {
			c.add(path, "required member %s of %s is missing", r, s.Name)
		}
	}
}
