package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jobView is a lifecycle job as GET /_deskplane/jobs shows it.
type jobView struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	State     string `json:"state"` // pending or parked
	Attempts  int    `json:"attempts"`
	Due       string `json:"due,omitempty"`       // when a pending job runs next
	ParkedAt  string `json:"parked_at,omitempty"` // when a parked job was set aside
	LastError string `json:"last_error,omitempty"`
}

// maxJobsPage bounds the jobs of one GET /_deskplane/jobs answer.
const maxJobsPage = 1000

// getJobs lists the lifecycle jobs, pending and parked (those set aside
// after failing too many times), in id order:
// ?state=pending|parked (default both), ?limit= (1–1000, default 100),
// ?after=<id> (the previous answer's next).
func (s *Server) getJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && state != "pending" && state != "parked" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "state must be pending or parked"})
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxJobsPage {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a number from 1 to 1000"})
			return
		}
		limit = n
	}
	after := q.Get("after")
	if !utf8.ValidString(after) || strings.ContainsRune(after, 0) || len(after) > 1024 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "after is not a job id"})
		return
	}
	out := []jobView{}
	next := ""
	for len(out) < limit {
		page, err := s.Deps.Store.ListJobs(r.Context(), after, maxJobsPage)
		if err != nil {
			s.Opts.Log.Error("list jobs", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not list the jobs"})
			return
		}
		for _, j := range page {
			after = j.ID
			v := jobView{ID: j.ID, Kind: j.Kind, State: "pending", Attempts: j.Attempts, LastError: j.LastError}
			if j.Parked {
				v.State, v.ParkedAt = "parked", j.Due.UTC().Format(time.RFC3339Nano)
			} else {
				v.Due = j.Due.UTC().Format(time.RFC3339Nano)
			}
			if state != "" && v.State != state {
				continue
			}
			out = append(out, v)
			if len(out) == limit {
				next = j.ID
				break
			}
		}
		if len(page) < maxJobsPage {
			break
		}
	}
	resp := map[string]any{"jobs": out}
	if next != "" {
		resp["next"] = next
	}
	writeJSON(w, http.StatusOK, resp)
}
