package ec2

import (
	"context"
	"regexp"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// describeStart is what every Describe operation does first, in EC2's
// order: refuse an id not of the kind's form (malformed returns its
// error), compile the filters against the names the kind answers, and
// answer DryRun.
func describeStart(ids []string, malformed func(id string) error, fs []Filter, known func(name string) bool, dry bool) ([]compiledFilter, error) {
	for _, id := range ids {
		if err := malformed(id); err != nil {
			return nil, err
		}
	}
	filters, err := compileFilters(fs, known)
	if err != nil {
		return nil, err
	}
	if err := dryRun(dry); err != nil {
		return nil, err
	}
	return filters, nil
}

// malformedID refuses an id that does not match re with code (an
// "….Malformed" error) and EC2's message.
func malformedID(re *regexp.Regexp, code string) func(id string) error {
	return func(id string) error {
		if !re.MatchString(id) {
			return awsproto.Errorf(code, "Invalid id: %q", id)
		}
		return nil
	}
}

// describeKind is a kind of record that a Describe operation lists by id
// (DescribeVpcs, DescribeSubnets).
type describeKind[T any] struct {
	table string
	idRe  *regexp.Regexp
	code  string // the errors' stem: code+".Malformed", code+".NotFound"
	noun  string // "The <noun> ID '…' does not exist"
	id    func(*T) string
	field func(*T) fieldFunc
}

// describeRecords answers a Describe operation over k: the records ids
// names (an unknown one is NotFound) or all of the caller's account and
// region, those the filters keep, in id order, the page token and
// maxResults select.
func describeRecords[T any](ctx context.Context, m *Module, c *gateway.Call, k describeKind[T], ids []string, fs []Filter, dry bool, token string, maxResults *int) ([]*T, string, error) {
	if err := checkMaxResults(maxResults); err != nil {
		return nil, "", err
	}
	filters, err := describeStart(ids, malformedID(k.idRe, k.code+".Malformed"), fs,
		func(n string) bool { _, ok := k.field(new(T))(n); return ok }, dry)
	if err != nil {
		return nil, "", err
	}
	var recs []*T
	if err := m.store.View(ctx, func(tx store.Tx) error {
		recs, err = listAll[T](ctx, tx, k.table, c.Account, c.Region)
		return err
	}); err != nil {
		return nil, "", err
	}
	byID := make(map[string]*T, len(recs))
	for _, r := range recs {
		byID[k.id(r)] = r
	}
	for _, id := range ids {
		if byID[id] == nil {
			return nil, "", awsproto.Errorf(k.code+".NotFound", "The %s ID '%s' does not exist", k.noun, id)
		}
	}
	sel := selectIDs(byID, ids, func(r *T) bool { return matches(filters, k.field(r)) })
	start, end, next, err := page(sel, token, ptr.Deref(maxResults))
	if err != nil {
		return nil, "", err
	}
	out := make([]*T, 0, end-start)
	for _, id := range sel[start:end] {
		out = append(out, byID[id])
	}
	return out, next, nil
}
