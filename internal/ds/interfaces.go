package ds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/deskplane/deskplane/internal/store"
)

// ControllerInterface is the network interface of one of a directory's
// domain controllers: one per subnet, with the directory's DNS address and
// its controllers' security group.
type ControllerInterface struct {
	ID, DirectoryID, SubnetID, VPCID, AZ, PrivateIP, SecurityGroupID, Description string
}

// ControllerInterfaces lists the domain controllers' network interfaces of
// the account's directories in region (AD Connector included: its connector
// endpoints sit in the subnets too).
func (m *Module) ControllerInterfaces(ctx context.Context, tx store.Tx, account, region string) ([]ControllerInterface, error) {
	dirs, err := listDirectories(ctx, tx, account, region)
	if err != nil {
		return nil, fmt.Errorf("ds: list directories: %w", err)
	}
	var out []ControllerInterface
	for _, d := range dirs {
		for i, sub := range d.SubnetIDs {
			e := ControllerInterface{ID: eniID(d.ID, sub), DirectoryID: d.ID, SubnetID: sub, VPCID: d.VPCID,
				SecurityGroupID: d.SecurityGroupID, Description: "AWS created network interface for directory " + d.ID}
			if i < len(d.AZs) {
				e.AZ = d.AZs[i]
			}
			if i < len(d.DNSIPs) {
				e.PrivateIP = d.DNSIPs[i]
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// eniID derives a controller interface's id from its directory and subnet.
func eniID(dirID, subnetID string) string {
	h := sha256.Sum256([]byte("eni\x00" + dirID + "\x00" + subnetID))
	return "eni-" + hex.EncodeToString(h[:])[:17]
}
