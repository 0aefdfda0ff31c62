package broker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestChangesComplete: a state-changing request goes on under a context its
// client's going away does not cancel (a browser leaving a page while its
// form's POST is served must not cut the change between two writes); a
// read still stops with its client.
func TestChangesComplete(t *testing.T) {
	var live bool
	h := changesComplete(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live = r.Context().Err() == nil
		_, hasDeadline := r.Context().Deadline()
		if r.Method != http.MethodGet && !hasDeadline {
			t.Errorf("%s: a change has no deadline", r.Method)
		}
	}))
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for method, want := range map[string]bool{http.MethodPost: true, http.MethodDelete: true, http.MethodGet: false} {
		live = !want
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(gone, method, "/portal/disconnect", nil))
		if live != want {
			t.Errorf("%s with its client gone: context live %v, want %v", method, live, want)
		}
	}
}
