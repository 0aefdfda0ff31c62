package ec2

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/ids"
)

// DeterministicID returns prefix-<17 hex> derived from the parts, so that the
// same configuration always yields the same resource ids.
func DeterministicID(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + "-" + hex.EncodeToString(h[:])[:17]
}

// randomID returns prefix-<17 random hex digits>.
func randomID(prefix string) string {
	return prefix + "-" + ids.Hex(17)
}

// idPattern matches an EC2 id with the short (8) or long (17) hex form.
func idPattern(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + prefix + `-([0-9a-f]{8}|[0-9a-f]{17})$`)
}

var (
	amiRe    = idPattern("ami")
	vpcRe    = idPattern("vpc")
	subnetRe = idPattern("subnet")
	sgRe     = idPattern("sg")
)

// Filter is an EC2 filter: Filter.N.Name and Filter.N.Value.M.
type Filter struct {
	Name   string   `query:"Name"`
	Values []string `query:"Value"`
}

// Tag is an EC2 tag.
type Tag struct {
	Key   string `query:"Key" xml:"key"`
	Value string `query:"Value" xml:"value"`
}

// TagSpecification is TagSpecification.N in create requests.
type TagSpecification struct {
	ResourceType string `query:"ResourceType"`
	Tags         []Tag  `query:"Tag"`
}

// tagsFor collects the tags of specs for one resource type.
func tagsFor(specs []TagSpecification, resourceType string) (map[string]string, error) {
	var out map[string]string
	for _, s := range specs {
		if s.ResourceType != resourceType {
			return nil, awsproto.Errorf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
		for _, t := range s.Tags {
			if t.Key == "" {
				return nil, awsproto.Errorf("InvalidParameterValue", "Tag keys must not be empty")
			}
			if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
				return nil, awsproto.Errorf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
			}
			if out == nil {
				out = map[string]string{}
			}
			out[t.Key] = t.Value
		}
	}
	return out, nil
}

// tagList renders a tag map in key order (nil when empty).
func tagList(m map[string]string) []Tag {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Tag, len(keys))
	for i, k := range keys {
		out[i] = Tag{Key: k, Value: m[k]}
	}
	return out
}

// fieldFunc returns the values of a filterable attribute, or ok=false when
// the filter name is not supported for the resource.
type fieldFunc func(name string) (values []string, ok bool)

// tagField answers the tag:<key> and tag-key filters.
func tagField(tags map[string]string, name string) ([]string, bool) {
	if k, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, has := tags[k]; has {
			return []string{v}, true
		}
		return nil, true
	}
	if name == "tag-key" {
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		return keys, true
	}
	if name == "tag-value" {
		vals := make([]string, 0, len(tags))
		for _, v := range tags {
			vals = append(vals, v)
		}
		return vals, true
	}
	return nil, false
}

// compiledFilter is a filter with its values turned into matchers.
type compiledFilter struct {
	name string
	res  []*regexp.Regexp
}

// compileFilters validates filter names against probe (an item's field
// function on any value) and compiles their wildcard values.
func compileFilters(filters []Filter, known func(string) bool) ([]compiledFilter, error) {
	out := make([]compiledFilter, 0, len(filters))
	for _, f := range filters {
		if f.Name == "" {
			return nil, awsproto.Errorf("InvalidParameterValue", "The filter 'null' is invalid")
		}
		if !known(f.Name) && !strings.HasPrefix(f.Name, "tag:") && f.Name != "tag-key" && f.Name != "tag-value" {
			return nil, awsproto.Errorf("InvalidParameterValue", "The filter '%s' is invalid", f.Name)
		}
		cf := compiledFilter{name: f.Name}
		for _, v := range f.Values {
			cf.res = append(cf.res, wildcard(v))
		}
		out = append(out, cf)
	}
	return out, nil
}

// wildcard compiles an EC2 filter value: * matches any run of characters, ?
// exactly one; a backslash escapes the next character.
func wildcard(v string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			b.WriteString(regexp.QuoteMeta(string(v[i])))
		case c == '*':
			b.WriteString("(?s:.*)")
		case c == '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// matches reports whether an item passes every filter: for each filter, one
// of the item's values matches one of the filter's values.
func matches(filters []compiledFilter, field fieldFunc) bool {
	for _, f := range filters {
		vals, _ := field(f.name)
		ok := false
		for _, v := range vals {
			for _, re := range f.res {
				if re.MatchString(v) {
					ok = true
					break
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// page cuts a sorted id list at a NextToken and MaxResults. It returns the
// window's bounds and the token of the next page ("" when none).
func page(ids []string, token string, max int) (start, end int, next string, err error) {
	if token != "" {
		b, derr := base64.RawURLEncoding.DecodeString(token)
		if derr != nil || len(b) == 0 {
			return 0, 0, "", awsproto.Errorf("InvalidPaginationToken", "Invalid pagination token: %s", token)
		}
		after := string(b)
		start = sort.SearchStrings(ids, after)
		if start < len(ids) && ids[start] == after {
			start++
		}
	}
	end = len(ids)
	if max > 0 && start+max < end {
		end = start + max
		next = base64.RawURLEncoding.EncodeToString([]byte(ids[end-1]))
	}
	return start, end, next, nil
}

// checkMaxResults validates MaxResults (5..1000 when set).
func checkMaxResults(n *int) error {
	if n != nil && (*n < 5 || *n > 1000) {
		return awsproto.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", *n)
	}
	return nil
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// partition returns the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// ARN builds an EC2 ARN; account is empty for images and snapshots.
func ARN(region, account, resource string) string {
	return "arn:" + partition(region) + ":ec2:" + region + ":" + account + ":" + resource
}

func dryRun(dry bool) error {
	if dry {
		return awsproto.ErrorStatus(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

func missing(name string) error {
	return awsproto.Errorf("MissingParameter", "The request must contain the parameter %s", name)
}
