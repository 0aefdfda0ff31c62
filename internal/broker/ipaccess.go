package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/broker/gateway"
)

// ipAccessTTL is how long the broker trusts the IP access control groups it
// read for a directory (the broker's clock). A refusal drops the
// directory's entry, so a user refused a moment after an operator added a
// rule gets in on the next try.
const ipAccessTTL = 30 * time.Second

// ipAccessCache holds each directory's IP access control, read from
// WorkSpaces, for ipAccessTTL.
type ipAccessCache struct {
	mu  sync.Mutex
	dir map[string]string // pool → directory id
	m   map[string]cachedAccess
}

type cachedAccess struct {
	acc gateway.IPAccess
	at  time.Time
}

// EventGatewayRefused is the event-log kind of a connection the gateway
// refused (the user's source address outside the directory's IP access
// control groups).
const EventGatewayRefused = "gateway_refused"

// poolDirectory returns the directory id of a pool.
func (b *Broker) poolDirectory(ctx context.Context, pool string) (string, error) {
	c := &b.ipAccess
	c.mu.Lock()
	d := c.dir[pool]
	c.mu.Unlock()
	if d != "" {
		return d, nil
	}
	b.mu.Lock()
	err := b.resolve(ctx)
	d = b.dirID[pool]
	b.mu.Unlock()
	if err != nil {
		return "", err
	}
	if d == "" {
		return "", fmt.Errorf("pool %q is not configured", pool)
	}
	c.mu.Lock()
	if c.dir == nil {
		c.dir = map[string]string{}
	}
	c.dir[pool] = d
	c.mu.Unlock()
	return d, nil
}

// IPAccess returns the IP access control of a pool's directory: the groups
// DescribeWorkspaceDirectories lists for it and their rules from
// DescribeIpGroups (cached for ipAccessTTL).
func (b *Broker) IPAccess(ctx context.Context, pool string) (gateway.IPAccess, error) {
	dir, err := b.poolDirectory(ctx, pool)
	if err != nil {
		return gateway.IPAccess{}, err
	}
	now := b.clock.Now()
	c := &b.ipAccess
	c.mu.Lock()
	e, ok := c.m[dir]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < ipAccessTTL && !now.Before(e.at) {
		return e.acc, nil
	}
	acc, err := b.readIPAccess(ctx, dir)
	if err != nil {
		return gateway.IPAccess{}, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]cachedAccess{}
	}
	c.m[dir] = cachedAccess{acc: acc, at: now}
	c.mu.Unlock()
	return acc, nil
}

// forgetIPAccess drops a pool's cached IP access control.
func (b *Broker) forgetIPAccess(pool string) {
	c := &b.ipAccess
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.dir[pool]; d != "" {
		delete(c.m, d)
	}
}

func (b *Broker) readIPAccess(ctx context.Context, dir string) (gateway.IPAccess, error) {
	out, err := b.c.WorkSpaces.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{dir}})
	if err != nil {
		return gateway.IPAccess{}, fmt.Errorf("DescribeWorkspaceDirectories %s: %w", dir, err)
	}
	if len(out.Directories) != 1 {
		return gateway.IPAccess{}, fmt.Errorf("DescribeWorkspaceDirectories %s: the directory is not registered", dir)
	}
	acc := gateway.IPAccess{Groups: append([]string(nil), out.Directories[0].IpGroupIds...)}
	if len(acc.Groups) == 0 {
		return acc, nil
	}
	in := &workspaces.DescribeIpGroupsInput{GroupIds: acc.Groups}
	for {
		o, err := b.c.WorkSpaces.DescribeIpGroups(ctx, in)
		if err != nil {
			return gateway.IPAccess{}, fmt.Errorf("DescribeIpGroups: %w", err)
		}
		for _, g := range o.Result {
			for _, r := range g.UserRules {
				acc.Rules = append(acc.Rules, aws.ToString(r.IpRule))
			}
		}
		if aws.ToString(o.NextToken) == "" {
			return acc, nil
		}
		in.NextToken = o.NextToken
	}
}

// refused records a connection the gateway refused in the event log and
// drops the directory's cached IP access control.
func (b *Broker) refused(ctx context.Context, gatewayID string, ev gateway.Event) error {
	s, err := b.st.Session(ctx, ev.SessionID)
	if err != nil {
		return err
	}
	ws, user := "", ""
	if s != nil {
		ws, user = s.WorkspaceID, s.User
		b.forgetIPAccess(s.Pool)
	}
	b.metrics.gatewayConns.WithLabelValues("refused").Inc()
	b.log.Info("gateway refused a connection", "gateway", gatewayID, "session", ev.SessionID, "user", user, "remote", ev.Remote, "reason", ev.Reason)
	detail := fmt.Sprintf("gateway %s refused %s's connection from %s (session %s): %s", gatewayID, user, ev.Remote, ev.SessionID, ev.Reason)
	if err := b.st.Event(ctx, b.clock.Now(), EventGatewayRefused, ws, detail); err != nil {
		return fmt.Errorf("record refusal: %w", err)
	}
	return nil
}
