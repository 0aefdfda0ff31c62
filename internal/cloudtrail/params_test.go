package cloudtrail

import (
	"encoding/json"
	"fmt"
	"sync"
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

// params is appendParams into a copy of its own (nil for JSON null), for
// the tests. (The writer encodes into buffers of its own.)
func params(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	// Encoded into a reused scratch buffer and copied out at its size: a
	// CreateWorkspaces request of 25 desktops is about 5 KB, which grown
	// from nothing costs eight allocations and twice its size in garbage.
	bp := scratch.Get().(*[]byte)
	b, ok := appendParams((*bp)[:0], v)
	var out json.RawMessage
	if ok {
		out = make([]byte, len(b))
		copy(out, b)
	}
	// Returned to the pool only once copied out: another build may take
	// it as soon as it is back.
	if cap(b) <= 1<<20 { // a rare huge request does not pin its buffer
		*bp = b[:0]
		scratch.Put(bp)
	}
	return out
}

// scratch holds params' encoding buffers.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}
