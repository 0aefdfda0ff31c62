package testserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/deskplane/deskplane/internal/config"
)

// JSONClient calls an awsJson service whose aws-sdk-go-v2 client module is
// not available to this build (WorkSpaces Instances: the module proxy this
// project uses does not carry service/workspacesinstances). It speaks the
// protocol as the SDK's generated clients do: a POST of the JSON input with
// X-Amz-Target TargetPrefix.Operation and the awsJson Content-Type, signed
// with the SDK's own SigV4 signer.
type JSONClient struct {
	URL          string
	Creds        aws.Credentials
	Region       string
	Service      string // signing name, e.g. "workspaces-instances"
	TargetPrefix string // e.g. "EUCMIFrontendAPIService"
	JSONVersion  string // "1.0" or "1.1"
	HTTP         *http.Client
}

// JSONResponse is the answer to a JSONClient call.
type JSONResponse struct {
	Status      int
	ContentType string
	Body        []byte
	// Code is the error code (X-Amzn-ErrorType, or the body's __type) of
	// an error answer; "" on success.
	Code string
}

// Decode decodes the body into v.
func (r *JSONResponse) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %s: %w", r.Body, err)
	}
	return nil
}

// WorkspacesInstances returns a WorkSpaces Instances client for the keys,
// region us-east-1 unless given.
func (s *Server) WorkspacesInstances(akid, secret string, region ...string) *JSONClient {
	r := "us-east-1"
	if len(region) > 0 {
		r = region[0]
	}
	return &JSONClient{URL: s.URL, Creds: aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, Region: r,
		Service: "workspaces-instances", TargetPrefix: "EUCMIFrontendAPIService", JSONVersion: "1.0",
		HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// AdminWorkspacesInstances is WorkspacesInstances with the customer admin's keys.
func (s *Server) AdminWorkspacesInstances(region ...string) *JSONClient {
	return s.WorkspacesInstances(config.AdminKeyID, config.AdminSecret, region...)
}

// Call sends op with the input in (marshalled to JSON; nil sends {}).
func (c *JSONClient) Call(ctx context.Context, op string, in any) (*JSONResponse, error) {
	body := []byte("{}")
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("marshal %s input: %w", op, err)
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-"+c.JSONVersion)
	req.Header.Set("X-Amz-Target", c.TargetPrefix+"."+op)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, c.Creds, req, hex.EncodeToString(sum[:]), c.Service, c.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign %s: %w", op, err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read the answer: %w", op, err)
	}
	out := &JSONResponse{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b}
	if resp.StatusCode != http.StatusOK {
		out.Code = resp.Header.Get("X-Amzn-ErrorType")
		var e struct {
			Type string `json:"__type"`
		}
		if out.Code == "" && json.Unmarshal(b, &e) == nil {
			out.Code = e.Type
		}
	}
	return out, nil
}
