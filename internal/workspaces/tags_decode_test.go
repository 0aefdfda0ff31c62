package workspaces

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/store"
)

// TestResourceTagsAsEncodingJSON: resourceTags (store.DecodeJSON) reads the
// tags of directory, bundle and desktop records (the compact form, and
// terminated ones) as encoding/json reads them: 600 random records, tags
// with escapes, non-ASCII and empty values, none or many.
func TestResourceTagsAsEncodingJSON(t *testing.T) {
	ctx := context.Background()
	const acct, region = config.CustomerAccount, "us-east-1"
	db, update := openTestStore(t)
	m := &Module{store: db} // resourceTags reads the store only
	rng := rand.New(rand.NewPCG(11, 3))
	strs := []string{"", "a", "Cost Center", `q"uote`, "back\\slash", "tab\t", "é ü", "日本", "<html>&", "\u2028"}
	randTags := func() Tags {
		if rng.IntN(5) == 0 {
			return nil
		}
		tg := Tags{}
		for range rng.IntN(6) {
			tg[strs[rng.IntN(len(strs))]+fmt.Sprint(rng.IntN(3))] = strs[rng.IntN(len(strs))]
		}
		return tg
	}
	type rec struct {
		id, table string
		b         []byte
	}
	var recs []rec
	for i := range 600 {
		var r rec
		var err error
		switch i % 3 {
		case 0:
			r.id, r.table = fmt.Sprintf("d-%010x", i), tDirs
			r.b, err = json.Marshal(map[string]any{"directoryId": r.id, "tags": randTags(), "state": "REGISTERED", "subnetIds": []string{"subnet-1"}})
		case 1:
			r.id, r.table = fmt.Sprintf("wsb-%09x", i), tBundles
			r.b, err = json.Marshal(map[string]any{"bundleId": r.id, "name": "b", "tags": randTags()})
		case 2:
			w := benchDesktop()
			w.WorkspaceID = fmt.Sprintf("ws-%09x", i)
			w.Tags = randTags()
			if rng.IntN(4) == 0 {
				w.State = "TERMINATED"
			}
			r.id, r.table = w.WorkspaceID, tDesktops
			r.b, err = store.EncodeJSON(w)
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	update(func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.Put(ctx, r.table, key(acct, region, r.id), r.b); err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range recs {
		got, err := m.resourceTags(ctx, acct, region, r.id)
		if err != nil {
			t.Fatalf("%s: %v", r.id, err)
		}
		var want struct {
			Tags  Tags   `json:"tags"`
			State string `json:"state"`
		}
		if err := json.Unmarshal(r.b, &want); err != nil {
			t.Fatal(err)
		}
		if r.table == tDesktops && want.State == "TERMINATED" {
			want.Tags = nil
		} else if want.Tags == nil {
			want.Tags = Tags{}
		}
		if (got == nil) != (want.Tags == nil) || !maps.Equal(got, want.Tags) {
			t.Fatalf("%s (%s): tags %v, encoding/json %v", r.id, r.b, got, want.Tags)
		}
	}
}
