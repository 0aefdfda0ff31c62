package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Registration is what a gateway tells its broker about itself.
type Registration struct {
	ID string `json:"id"`
	// URL is the WebSocket URL browsers connect to (ws:// or wss://).
	URL string `json:"url"`
	// TCPAddr is host:port for native clients.
	TCPAddr string `json:"tcp_addr,omitempty"`
	// Active is the number of connections open now (heartbeats).
	Active int64 `json:"active"`
}

// Client is a Broker reached over HTTP, authenticated with the broker's
// gateway_secret ("Authorization: Bearer <secret>"), for a gateway that runs
// as its own process.
type Client struct {
	// URL is the broker's base URL (http://host:port).
	URL    string
	Secret string
	HTTP   *http.Client
}

func (c *Client) do(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Secret)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("broker %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("broker %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusForbidden {
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(data, &e)
		return fmt.Errorf("%w: %s", ErrDenied, e.Message)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("broker %s: %s: %s", path, resp.Status, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("broker %s: decode: %w", path, err)
	}
	return nil
}

// Redeem is POST /v1/gateway/redeem.
func (c *Client) Redeem(ctx context.Context, gatewayID, ticket string) (Target, error) {
	var t Target
	err := c.do(ctx, "/v1/gateway/redeem", map[string]string{"gateway": gatewayID, "ticket": ticket}, &t)
	return t, err
}

// Report is POST /v1/gateway/events.
func (c *Client) Report(ctx context.Context, gatewayID string, ev Event) error {
	return c.do(ctx, "/v1/gateway/events", struct {
		Gateway string `json:"gateway"`
		Event
	}{gatewayID, ev}, nil)
}

// Heartbeat is POST /v1/gateway/heartbeat: it registers the gateway (or
// renews its registration) and reports its load.
func (c *Client) Heartbeat(ctx context.Context, r Registration) error {
	return c.do(ctx, "/v1/gateway/heartbeat", r, nil)
}
