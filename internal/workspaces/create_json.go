package workspaces

import (
	"encoding/json"
	"fmt"
	"slices"
)

// AppendJSON appends the CreateWorkspaces response: the bytes
// encoding/json writes for it (TestCreateOutAppendJSONMatchesEncodingJSON
// holds them equal). The desktops pending, every answer's bulk, are
// written without reflection (Workspace.appendJSON, as DescribeWorkspaces
// writes them); the refused requests, rare, through encoding/json.
func (o *createWorkspacesOut) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, 64+450*len(o.PendingRequests))
	b = append(b, `{"FailedRequests":`...)
	if len(o.FailedRequests) == 0 && o.FailedRequests != nil {
		b = append(b, "[]"...)
	} else {
		f, err := json.Marshal(o.FailedRequests)
		if err != nil {
			return nil, fmt.Errorf("encode failed requests: %w", err)
		}
		b = append(b, f...)
	}
	b = append(b, `,"PendingRequests":`...)
	if o.PendingRequests == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		var runs wsRuns // the members a desktop shares with the one before are copied (wsRuns)
		for i := range o.PendingRequests {
			if i > 0 {
				b = append(b, ',')
			}
			b = o.PendingRequests[i].appendAfter(b, &runs)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}
