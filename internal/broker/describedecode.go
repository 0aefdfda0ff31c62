package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	gojson "github.com/goccy/go-json"
)

// The broker lists every pool desktop each reconcile pass (DescribeWorkspaces,
// 25 to a page: 400 pages for 10,000 desktops), and the SDK decodes a
// response into a generic map first and then walks it into its types: a
// quarter of a pass's CPU in the reconcile benchmark. describeDecoder
// decodes a successful DescribeWorkspaces response straight into the SDK's
// types (their exported fields are the wire's member names), and leaves
// everything else to the SDK's own deserializer: the other operations,
// errors, and a body its typed decode refuses (a timestamp, which the wire
// carries as epoch seconds: a desktop with standby or data replication
// settings).

// fastDescribed counts the responses describeDecoder decoded itself (the
// tests check that it does).
var fastDescribed atomic.Int64

// fastDescribe installs describeDecoder in a WorkSpaces client's stack.
func fastDescribe(stack *middleware.Stack) error {
	orig, ok := stack.Deserialize.Get("OperationDeserializer")
	if !ok {
		return fmt.Errorf("broker: the WorkSpaces client's stack has no OperationDeserializer")
	}
	if _, err := stack.Deserialize.Swap("OperationDeserializer", &describeDecoder{orig: orig}); err != nil {
		return fmt.Errorf("broker: install the DescribeWorkspaces decoder: %w", err)
	}
	return nil
}

// describeDecoder is the stack's "OperationDeserializer" for
// DescribeWorkspaces; orig is the SDK's, used for everything else.
type describeDecoder struct {
	orig middleware.DeserializeMiddleware
}

// ID implements middleware.DeserializeMiddleware.
func (*describeDecoder) ID() string { return "OperationDeserializer" }

// describeWire is a DescribeWorkspaces response body.
type describeWire struct {
	Workspaces []types.Workspace
	NextToken  *string
}

// HandleDeserialize implements middleware.DeserializeMiddleware.
func (d *describeDecoder) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	if awsmiddleware.GetOperationName(ctx) != "DescribeWorkspaces" {
		return d.orig.HandleDeserialize(ctx, in, next)
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	// The SDK's deserializer, on the response already received (with its
	// body read into raw when it was).
	sdk := func(raw []byte) (middleware.DeserializeOutput, middleware.Metadata, error) {
		if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && raw != nil {
			resp.Body = io.NopCloser(bytes.NewReader(raw))
		}
		return d.orig.HandleDeserialize(ctx, in, middleware.DeserializeHandlerFunc(
			func(context.Context, middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
				return out, md, nil
			}))
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return sdk(nil)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return out, md, fmt.Errorf("read the DescribeWorkspaces response: %w", err)
	}
	var w describeWire
	if err := gojson.Unmarshal(raw, &w); err != nil {
		return sdk(raw)
	}
	out.Result = &workspaces.DescribeWorkspacesOutput{Workspaces: w.Workspaces, NextToken: w.NextToken}
	fastDescribed.Add(1)
	return out, md, nil
}
