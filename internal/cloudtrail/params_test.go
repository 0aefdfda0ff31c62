package cloudtrail

import (
	"encoding/json"
	"fmt"
	"testing"
)

// createRequest is shaped like a CreateWorkspaces request of 25 desktops
// (the largest request on the write path that CloudTrail records).
type createRequest struct {
	Workspaces []struct {
		DirectoryId, UserName, BundleId, WorkspaceName string
		WorkspaceProperties                            *struct{ RunningMode *string }
		Tags                                           []struct{ Key, Value *string }
	}
}

func newCreateRequest() *createRequest {
	var in createRequest
	b := []byte(`{"Workspaces":[`)
	for i := range 25 {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"DirectoryId":"d-bb55269ea9","UserName":"[UNDEFINED]","BundleId":"wsb-pbu7vl0vg","WorkspaceName":"bench-%d",`+
			`"WorkspaceProperties":{"RunningMode":"MANUAL"},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}`, i)
	}
	if err := json.Unmarshal(append(b, "]}"...), &in); err != nil {
		panic(err)
	}
	return &in
}

// TestParamsOfACreateRequest: the request parameters of a 25-desktop
// request encode in full, and two encodings in a row (the scratch buffer
// reused) give the same bytes.
func TestParamsOfACreateRequest(t *testing.T) {
	in := newCreateRequest()
	a := params(in)
	b := params(in)
	var back struct {
		Workspaces []map[string]any `json:"workspaces"`
	}
	if err := json.Unmarshal(a, &back); err != nil || len(back.Workspaces) != 25 || string(a) != string(b) {
		t.Fatalf("params: %d desktops (%v); %s then %s", len(back.Workspaces), err, a, b)
	}
	if cap(a) != len(a) {
		t.Errorf("params kept %d bytes of scratch for %d", cap(a), len(a))
	}
}

// BenchmarkParamsCreate25: go test ./internal/cloudtrail -run '^$' -bench BenchmarkParamsCreate25 -benchmem
func BenchmarkParamsCreate25(b *testing.B) {
	in := newCreateRequest()
	b.ReportAllocs()
	for b.Loop() {
		params(in)
	}
}
