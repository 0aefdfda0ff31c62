// Package workspaces is the Amazon WorkSpaces Core service: account BYOL
// settings, directory registration, images, bundles and desktops, driven by
// the durable lifecycle engine with the real service's states and rules.
package workspaces

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// FaultSource returns the current injected faults.
type FaultSource interface {
	Get(ctx context.Context) (config.Faults, error)
}

// Module is the WorkSpaces service.
type Module struct {
	cfg    *config.Config
	store  store.Store
	engine *lifecycle.Engine
	ec2    EC2
	dirs   Directories
	keys   VolumeKeys
	rt     Runtime
	groups SecurityGroups
	// desktopPorts are the ports every guest serves besides its
	// protocol's (SetDesktopPorts).
	desktopPorts []GuestPort
	// dataKeys holds, by desktop key, the plaintext data keys its attach
	// decrypted for the runtime, until its guest starts (never stored).
	dataKeys sync.Map
	faults   FaultSource
	log      *slog.Logger
	svc      *gateway.Service
	// rand returns a number in [0,1) (fault-injection draws); replaceable in tests.
	rand func() float64
	// decoded caches desktops decoded for DescribeWorkspaces by id.
	decoded *store.Decoded[desktopRec]
	// descs keeps the JSON of the desktops it answered with.
	descs *descCache
	// fresh hands new desktops' records to their provisioning job.
	fresh *freshRecs
	// The directories, bundles and images a creation reads, decoded once
	// per version of their bytes (sharedRec): every CreateWorkspaces of a
	// directory and bundle reads the same three records.
	dirsDecoded    *store.Decoded[directoryRec]
	bundlesDecoded *store.Decoded[bundleRec]
	imagesDecoded  *store.Decoded[imageRec]
}

// Options are the module's dependencies.
type Options struct {
	Config      *config.Config
	Store       store.Store
	Engine      *lifecycle.Engine
	EC2         EC2
	Directories Directories
	Keys        VolumeKeys // nil: encrypted desktops are refused
	Faults      FaultSource
	Log         *slog.Logger
	Rand        func() float64
}

// New builds the WorkSpaces module and registers its job handlers.
func New(o Options) *Module {
	m := &Module{cfg: o.Config, store: o.Store, engine: o.Engine, ec2: o.EC2, dirs: o.Directories, keys: o.Keys, faults: o.Faults, log: o.Log, rand: o.Rand}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.rand == nil {
		m.rand = defaultRand
	}
	m.decoded = store.NewDecoded[desktopRec](20000) // bounded: at most tens of MB
	m.descs = newDescCache()
	m.fresh = newFreshRecs(4096) // a few MB: the desktops of the creations not yet provisioned
	m.dirsDecoded = store.NewDecoded[directoryRec](sharedRecsMax)
	m.bundlesDecoded = store.NewDecoded[bundleRec](sharedRecsMax)
	m.imagesDecoded = store.NewDecoded[imageRec](sharedRecsMax)
	m.svc = &gateway.Service{
		Name: "workspaces", ActionPrefix: "workspaces", EventSource: "workspaces.amazonaws.com",
		Protocol: gateway.JSON, TargetPrefix: "WorkspacesService", ValidationCode: "ValidationException",
	}
	m.register()
	m.registerJobs()
	return m
}

// SetKeys wires KMS once it exists (the KMS module is built after this one).
func (m *Module) SetKeys(k VolumeKeys) { m.keys = k }

// Services implements server.Module.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.svc} }

// Seed implements server.Module: account BYOL settings are derived from the
// configuration on first use; standby relationships written before their
// mark existed get it (markStandbyRelations).
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	return markStandbyRelations(ctx, tx)
}

func (m *Module) timing(s lifecycle.Step) time.Duration { return m.engine.Timing().Duration(s) }

// scaled returns a span of the real service's schedules (auto-stop,
// snapshots, the waits between modifications, maintenance) under the
// timing profile.
func (m *Module) scaled(d time.Duration) time.Duration { return m.engine.Timing().Scale(d) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tagsFromList validates request tags: at most 50, no aws: prefix, valid characters.
func tagsFromList(list []Tag) (Tags, error) {
	if len(list) == 0 {
		return nil, nil
	}
	if len(list) > 50 {
		return nil, errInvalid("The number of tags exceeds the limit of 50 tags per resource.")
	}
	t := Tags{}
	for _, tg := range list {
		if err := checkTagKey(tg.Key); err != nil {
			return nil, err
		}
		v := ptr.Deref(tg.Value)
		if !validTagText(v) {
			return nil, errInvalid("The tag value %q contains characters that are not allowed.", v)
		}
		t[tg.Key] = v
	}
	return t, nil
}

func checkTagKey(k string) error {
	if reservedTagKey(k) {
		return errInvalid("Tag keys beginning with 'aws:' are reserved for AWS use: %q.", k)
	}
	if k == "" || len(k) > 127 || !validTagText(k) || strings.TrimSpace(k) != k {
		return errInvalid("The tag key %q is not valid. Keys are 1 to 127 letters, digits, spaces and + - = . _ : / @.", k)
	}
	return nil
}

// reservedTagKey reports whether k begins with "aws:" in any case, as
// strings.HasPrefix(strings.ToLower(k), "aws:") does, without lowering a
// copy of k: no rune outside ASCII lowers to one of "aws:".
func reservedTagKey(k string) bool {
	if len(k) < 4 {
		return false
	}
	for i, c := range []byte("aws:") {
		b := k[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != c {
			return false
		}
	}
	return true
}

func validTagText(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(" +-=._:/@", r):
		case r > 127: // letters of any script
		default:
			return false
		}
	}
	return true
}

// withRequestTags adds the request tags (aws:RequestTag, aws:TagKeys) to a check.
func withRequestTags(chk gateway.Check, list []Tag) gateway.Check {
	if list == nil {
		return chk
	}
	chk.RequestTags = map[string]string{}
	for _, t := range list {
		chk.RequestTags[t.Key] = ptr.Deref(t.Value)
	}
	return chk
}
