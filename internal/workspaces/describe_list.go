package workspaces

import (
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
)

// listRecV2 is the part of a compact desktop record (desktopRecV2) that a
// page of DescribeWorkspaces reads: what render, listed and the page's
// filters use. The members it leaves out (the volumes, tags, history and
// the lifecycle's bookkeeping) are skipped by the decoder, not copied.
type listRecV2 struct {
	V        int                 `json:"v"`
	ID       string              `json:"id"`
	Dir      string              `json:"d"`
	User     string              `json:"u"`
	Name     string              `json:"n,omitempty"`
	Bundle   string              `json:"b"`
	State    string              `json:"state"`
	Subnet   string              `json:"sn"`
	IP       string              `json:"ip"`
	Computer *string             `json:"cn,omitempty"`
	ErrCode  string              `json:"ec,omitempty"`
	ErrMsg   string              `json:"em,omitempty"`
	Props    propsV2             `json:"p"`
	Mods     []ModificationState `json:"m,omitempty"`
	Key      string              `json:"k,omitempty"`
	RootEnc  bool                `json:"re,omitempty"`
	UserEnc  bool                `json:"ue,omitempty"`
	Created  int64               `json:"c"`
	Since    int64               `json:"ss,omitempty"`
}

var listScratch = sync.Pool{New: func() any { return new(listRecV2) }}

// decodeListed decodes the stored desktop b for a page of
// DescribeWorkspaces: from the decoded cache when it holds b's version;
// else decoded whole and cached while the cache has room (a directory
// listed again and again, a broker's pools, is decoded once); else, when
// the cache is full (a directory of more desktops than it holds, listed
// through, would only start it over and over), a record in the compact
// form is decoded into w, only the members a page shows or filters on
// (listRecV2: w's other fields are left zero), and not cached.
// TestDecodeListedRendersAsDecode holds the page's output from it equal
// to the general decoding's.
func (m *Module) decodeListed(k string, b []byte, w *desktopRec) (*desktopRec, error) {
	if c, ok := m.decoded.Cached(tDesktops, k, b); ok {
		return c, nil
	}
	if !compactForm(b) || m.decoded.Room() {
		return m.decoded.Decode(tDesktops, k, b)
	}
	v := listScratch.Get().(*listRecV2)
	defer func() {
		*v = listRecV2{}
		listScratch.Put(v)
	}()
	if err := gojson.Unmarshal(b, v); err != nil {
		// Whatever the compact decoding refuses, the general one reports.
		return m.decoded.Decode(tDesktops, k, b)
	}
	*w = desktopRec{
		WorkspaceID: v.ID, DirectoryID: v.Dir, UserName: v.User, WorkspaceName: v.Name, BundleID: v.Bundle,
		State: v.State, SubnetID: v.Subnet, IPAddress: v.IP, ErrorCode: v.ErrCode, ErrorMessage: v.ErrMsg,
		Properties:    v.Props.properties(),
		Modifications: v.Mods, VolumeKey: v.Key, RootEncrypted: v.RootEnc, UserEncrypted: v.UserEnc,
		StateSince: time.Unix(0, v.Created+v.Since).UTC(),
	}
	w.ComputerName = storedComputerName(v.Computer, v.ID)
	return w, nil
}
