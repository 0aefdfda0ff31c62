package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/deskplane/deskplane/internal/store"
)

// tableDigest is one table's part of GET /_deskplane/digest.
type tableDigest struct {
	Records int               `json:"records"`
	SHA256  string            `json:"sha256"`
	Keys    map[string]string `json:"keys,omitempty"` // key -> sha256 of its value, with ?keys=1
}

// getDigest serves GET /_deskplane/digest: a SHA-256 over every record of the
// main store (tables, keys and values in order, read in one snapshot), and
// one per table. ?exclude=p1,p2 leaves out the tables whose names start with
// one of the prefixes (e.g. cloudtrail); ?keys=1 adds each record's own
// digest, to tell which records differ. The hostile-input suite compares two
// digests to hold that refused requests change nothing. The CloudTrail
// events are part of it on Pebble and PostgreSQL (exclude=cloudtrail
// leaves them out), never on SQLite, whose events live in a database of
// their own.
func (s *Server) getDigest(w http.ResponseWriter, r *http.Request) {
	lister, ok := s.Deps.Store.(store.TableLister)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this store cannot list its tables"})
		return
	}
	var exclude []string
	if v := r.URL.Query().Get("exclude"); v != "" {
		exclude = strings.Split(v, ",")
	}
	withKeys := r.URL.Query().Get("keys") == "1"
	ctx := r.Context()
	tables, err := lister.Tables(ctx)
	if err != nil {
		s.Opts.Log.Error("digest: list tables", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not list the tables"})
		return
	}
	out := map[string]*tableDigest{}
	total := sha256.New()
	err = s.Deps.Store.View(ctx, func(tx store.Tx) error {
	tables:
		for _, t := range tables {
			for _, p := range exclude {
				if p != "" && strings.HasPrefix(t, p) {
					continue tables
				}
			}
			td := &tableDigest{}
			if withKeys {
				td.Keys = map[string]string{}
			}
			h := sha256.New()
			err := tx.Scan(ctx, t, "", "", 0, func(k string, v []byte) error {
				td.Records++
				for _, b := range [][]byte{[]byte(k), {0}, v, {0}} {
					h.Write(b)
				}
				if withKeys {
					sum := sha256.Sum256(v)
					td.Keys[k] = hex.EncodeToString(sum[:])
				}
				return nil
			})
			if err != nil {
				return err
			}
			td.SHA256 = hex.EncodeToString(h.Sum(nil))
			out[t] = td
			total.Write([]byte(t + "\x00" + td.SHA256 + "\x00"))
		}
		return nil
	})
	if err != nil {
		s.Opts.Log.Error("digest: scan", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the store"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha256": hex.EncodeToString(total.Sum(nil)), "tables": out})
}
