package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/deskplane/deskplane/internal/ids"
)

// EventRefused is reported when the gateway refuses a redeemed ticket's
// connection (the user's source address is outside the directory's IP
// access control groups); Event.Reason says why.
const EventRefused = "refused"

// IPAccess is the IP access control that applies to a desktop's directory,
// as the broker read it from WorkSpaces (DescribeWorkspaceDirectories'
// IpGroupIds, DescribeIpGroups' rules). With no group associated every
// source address is allowed; with groups, the user's source address must
// match a rule of one of them.
type IPAccess struct {
	// Groups are the directory's IP access control group ids (empty: no
	// restriction).
	Groups []string `json:"groups,omitempty"`
	// Rules are the groups' rules (CIDR blocks or single addresses).
	Rules []string `json:"rules,omitempty"`
}

// Admits checks a source address ("host:port" or a bare address) against
// the access control; a refusal wraps ErrDenied and says why.
func (a IPAccess) Admits(remote string) error {
	if len(a.Groups) == 0 {
		return nil
	}
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: source address %q is not an IP address", ErrDenied, remote)
	}
	addr = addr.Unmap()
	for _, r := range a.Rules {
		p, ok := rulePrefix(r)
		if ok && p.Contains(addr) {
			return nil
		}
	}
	return fmt.Errorf("%w: source address %s matches no rule of the directory's IP access control groups (%s)",
		ErrDenied, addr, strings.Join(a.Groups, ", "))
}

// rulePrefix parses an IP rule: a CIDR block, or one address.
func rulePrefix(r string) (netip.Prefix, bool) {
	r = strings.TrimSpace(r)
	if p, err := netip.ParsePrefix(r); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(r); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), true
	}
	return netip.Prefix{}, false
}

// admit enforces the target's IP access control on the user's source
// address; a refusal is reported to the broker (which records it in its
// event log) and returned.
func (g *Gateway) admit(ctx context.Context, t Target, remote string) error {
	err := t.Access.Admits(remote)
	if err == nil {
		return nil
	}
	g.log().Info("gateway: connection refused by IP access control", "session", t.SessionID, "user", t.User, "remote", remote, "err", err)
	g.report(ctx, Event{Conn: "c-" + ids.Hex(12), SessionID: t.SessionID, Kind: EventRefused, Remote: remote, Reason: err.Error()})
	return err
}
