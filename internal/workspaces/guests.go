package workspaces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Runtime is what the lifecycle needs from the guest runtime (deskplane
// serve --runtime process; internal/runtime, wired by internal/server).
// Keys are the desktops' store keys (ACCOUNT/REGION/ID). No method blocks:
// a guest's change of state is reported through Module.GuestChanged.
type Runtime interface {
	// Admit reserves a guest for a desktop about to start; it fails with
	// ErrGuestLimit when the limit of running guests is reached.
	Admit(key string) error
	// Room is how many more guests may start now.
	Room() int
	// Release drops a reservation whose start was abandoned.
	Release(key string)
	// Ensure starts (or keeps) the guest of spec.Boot and returns its status.
	Ensure(spec GuestSpec) GuestStatus
	// Status returns a desktop's guest status (State "" when none).
	Status(key string) GuestStatus
	// Stop ends a desktop's guest; it reports whether none runs any more.
	Stop(key string) bool
	// Freeze stops a desktop's guest's processes where they are (SIGSTOP),
	// so that it answers on no port, until Stop ends it.
	Freeze(key string) bool
	// Remove deletes a stopped desktop's volumes (Terminate).
	Remove(key string) error
	// Snapshot copies both volumes into snapshot name, keeping keep.
	Snapshot(key, name string, keep int) error
	// Rebuild recreates the root volume from an image (account, region,
	// image id; the empty volume when the image holds no captured root)
	// and the user volume from the newest snapshot not after upTo.
	Rebuild(key, imageAccount, imageRegion, imageID, upTo string) error
	// Restore returns both volumes to the newest snapshot not after upTo.
	Restore(key, upTo string) error
	// Capture copies a desktop's root volume into an image.
	Capture(key, account, region, imageID string) error
	Sessions
}

// Sessions is what the runtime observed of desktops' user sessions: the
// source of DescribeWorkspacesConnectionStatus and of AUTO_STOP under a
// runtime.
type Sessions interface {
	// ConnectionState reports a desktop's sessions by workspace id; ok is
	// false when no client connected to it since the server started.
	ConnectionState(workspaceID string) (c Connection, ok bool)
}

// Connection is a desktop's observed sessions.
type Connection struct {
	// State is CONNECTED while a client holds a connection to one of the
	// desktop's protocol ports, DISCONNECTED after.
	State          string
	Open           int
	LastConnect    time.Time // LastKnownUserConnectionTimestamp
	LastDisconnect time.Time
}

// ErrGuestLimit is what Runtime.Admit returns at the limit of guests.
var ErrGuestLimit = errors.New("the limit of running guests is reached")

// Guest states reported by Runtime.
const (
	GuestStarting  = "starting"
	GuestReady     = "ready"
	GuestUnhealthy = "unhealthy"
	GuestStopping  = "stopping"
	GuestExited    = "exited"
	GuestFailed    = "failed"
)

// GuestSpec is what a desktop's guest is started from.
type GuestSpec struct {
	Key, WorkspaceID, UserName, ComputerName, DirectoryID, VPCAddress string
	Ports                                                             []GuestPort
	Boot                                                              int64
	Command                                                           []string
	// Keys are the plaintext data keys of the encrypted volumes ("root",
	// "user"); the runtime keeps those volumes sealed at rest.
	Keys map[string][]byte
	// ImageAccount, ImageRegion and ImageID name the image the root
	// volume is made from when it does not exist yet.
	ImageAccount, ImageRegion, ImageID string
}

// GuestPort is one protocol port and whether the desktop's security groups
// allow it inbound.
type GuestPort struct {
	Protocol string
	Port     int
	Allowed  bool
}

// GuestStatus is a guest's state and the boot it runs for.
type GuestStatus struct {
	State string
	Boot  int64
}

// SecurityGroups is what the runtime needs from EC2: whether a desktop's
// groups let a TCP port in.
type SecurityGroups interface {
	// AllowsInbound reports whether one of the groups has an inbound rule
	// that lets TCP traffic reach port (missing groups allow nothing).
	AllowsInbound(ctx context.Context, tx store.Tx, account, region string, groupIDs []string, port int) (bool, error)
}

// ProtocolPorts are the port numbers of the streaming protocols on a
// desktop: PCoIP 4172, WSP (DCV) 8443, and the partner's own protocol of a
// BYOP image 3389 (RDP). PCoIP and WSP reach the desktop through the
// service's management interface, so they are always allowed; a BYOP
// protocol comes in through the desktop's own network interface, so its
// port is reachable only when the desktop's security groups (the
// directory's group and the custom group of its creation properties)
// allow it inbound.
var ProtocolPorts = map[string]int{"PCOIP": 4172, "WSP": 8443, "BYOP": 3389}

// jobSnapshot takes the real copies of a desktop's volumes on the snapshot
// schedule (runtime only).
const jobSnapshot = "workspaces.snapshot"

// SetRuntime wires the guest runtime (nil: desktops are records only).
func (m *Module) SetRuntime(rt Runtime, groups SecurityGroups) {
	m.rt, m.groups = rt, groups
}

// SetDesktopPorts names ports every desktop's guest serves besides its
// streaming protocol's (the x11 runtime's VNC server on 5900): like a BYOP
// protocol they come in through the desktop's own network interface, so
// each is allowed only when the desktop's security groups allow it inbound.
// Call it before the server starts.
func (m *Module) SetDesktopPorts(ports []GuestPort) {
	m.desktopPorts = ports
}

// guestStarts are the states whose end starts a guest.
func guestStarts(state string) bool {
	return isIn(state, "PENDING", "STARTING", "REBOOTING", "REBUILDING", "RESTORING")
}

// guestStops are the states that must end the running guest first.
func guestStops(state string) bool {
	return isIn(state, "STOPPING", "REBOOTING", "REBUILDING", "RESTORING", "TERMINATING")
}

// guestGate runs before a transition ends, with a runtime: it returns
// wait=true when the desktop must wait for its guest (the old one to exit,
// the new one to pass its readiness check), having marked the record so
// that GuestChanged brings the step back. done is the state to move to
// when the guest settled it (AVAILABLE, UNHEALTHY), "" to go on.
func (m *Module) guestGate(w *desktopRec, k string) (wait bool, done string) {
	if w.AwaitGuest && w.GuestBoot == w.Seq {
		st := m.rt.Status(k)
		switch {
		case st.Boot != w.Seq || st.State == "":
			return false, "" // the server restarted: start it again below
		case st.State == GuestReady:
			return false, "AVAILABLE"
		case st.State == GuestStarting:
			return true, ""
		default:
			if w.ErrorCode == "" {
				w.ErrorCode, w.ErrorMessage = "GuestUnhealthy", "The WorkSpace's guest did not pass its readiness check ("+st.State+")."
			}
			return false, "UNHEALTHY"
		}
	}
	if guestStops(w.State) && w.GuestBoot != w.Seq && !m.rt.Stop(k) {
		return true, ""
	}
	return false, ""
}

// guestStart starts the guest of a desktop whose step ends in AVAILABLE,
// after the volume work of the step (rebuild, restore).
func (m *Module) guestStart(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, k, from string, now time.Time) (bool, error) {
	switch from {
	case "REBUILDING":
		img := w.Root.ImageID
		owner := account
		if rec, err := m.lookupImage(ctx, tx, account, region, img); err != nil {
			return false, err
		} else if rec != nil && rec.OwnerAccountID != "" && rec.OwnerAccountID != "AMAZON" {
			owner = rec.OwnerAccountID
		}
		if err := m.rt.Rebuild(k, owner, region, img, m.snapshotName(w, now, false)); err != nil {
			return false, err
		}
	case "RESTORING":
		if err := m.rt.Restore(k, m.snapshotName(w, now, true)); err != nil {
			return false, err
		}
	}
	spec, err := m.guestSpec(ctx, tx, account, region, w, k)
	if err != nil {
		return false, err
	}
	if next, err := m.guestKeys(ctx, tx, account, region, w, &spec); next != "" || err != nil {
		return false, err
	}
	w.GuestBoot = w.Seq
	st := m.rt.Ensure(spec)
	if st.State == GuestReady && st.Boot == w.Seq {
		return false, nil
	}
	w.AwaitGuest = true
	return true, nil
}

// snapshotName is the real copy behind the newest snapshot DescribeWorkspaceSnapshots
// lists ("" when none: the newest copy there is).
func (m *Module) snapshotName(w *desktopRec, now time.Time, restore bool) string {
	s := m.snapshots(w, now, restore)
	if len(s) == 0 {
		return ""
	}
	return snapName(s[len(s)-1])
}

func snapName(t time.Time) string { return t.UTC().Format("20060102T150405.000Z") }

// guestSpec builds a desktop's guest: identity, ports (allowed or not by
// its security groups), the image's guest command and root volume.
func (m *Module) guestSpec(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, k string) (GuestSpec, error) {
	spec := GuestSpec{Key: k, WorkspaceID: w.WorkspaceID, UserName: w.UserName, ComputerName: w.ComputerName, DirectoryID: w.DirectoryID,
		VPCAddress: w.IPAddress, Boot: w.Seq, ImageAccount: account, ImageRegion: region, ImageID: w.Root.ImageID}
	protocols := append([]string(nil), w.Properties.Protocols...)
	img, err := m.desktopImage(ctx, tx, account, region, w)
	if err != nil {
		return spec, err
	}
	if img != nil {
		if img.Protocol == "BYOP" {
			protocols = []string{"BYOP"}
		} else if len(protocols) == 0 && img.Protocol != "" {
			protocols = []string{img.Protocol}
		}
		if img.OwnerAccountID != "" && img.OwnerAccountID != "AMAZON" {
			spec.ImageAccount = img.OwnerAccountID
		}
		spec.ImageID = img.ImageID
		if img.SourceEC2Image != "" && m.ec2 != nil {
			if ami, err := m.ec2.Image(ctx, tx, img.OwnerAccountID, region, img.SourceEC2Image); err == nil && ami != nil {
				spec.Command = m.guestCommand(ami.Name)
			}
		}
	}
	if len(protocols) == 0 {
		protocols = []string{"PCOIP"}
	}
	var groups []string
	if dir, err := getRec[directoryRec](ctx, tx, tDirs, key(account, region, w.DirectoryID)); err != nil {
		return spec, err
	} else if dir != nil {
		if dir.SecurityGroupID != "" {
			groups = append(groups, dir.SecurityGroupID)
		}
		if g := ptr.Deref(dir.Creation.CustomSecurityGroupId); g != "" {
			groups = append(groups, g)
		}
	}
	for _, p := range protocols {
		port := ProtocolPorts[p]
		if port == 0 {
			continue
		}
		allowed := p != "BYOP"
		if !allowed && m.groups != nil {
			if allowed, err = m.groups.AllowsInbound(ctx, tx, account, region, groups, port); err != nil {
				return spec, fmt.Errorf("check the security groups of %s: %w", w.WorkspaceID, err)
			}
		}
		spec.Ports = append(spec.Ports, GuestPort{Protocol: p, Port: port, Allowed: allowed})
	}
	for _, p := range m.desktopPorts {
		allowed := false
		if m.groups != nil {
			if allowed, err = m.groups.AllowsInbound(ctx, tx, account, region, groups, p.Port); err != nil {
				return spec, fmt.Errorf("check the security groups of %s: %w", w.WorkspaceID, err)
			}
		}
		spec.Ports = append(spec.Ports, GuestPort{Protocol: p.Protocol, Port: p.Port, Allowed: allowed})
	}
	return spec, nil
}

// guestCommand is the configured guest command of an EC2 image (by name),
// nil for the built-in guest.
func (m *Module) guestCommand(amiName string) []string {
	if m.cfg == nil {
		return nil
	}
	for _, a := range m.cfg.Accounts {
		for _, im := range a.Images {
			if im.Name == amiName && len(im.GuestCommand) > 0 {
				return im.GuestCommand
			}
		}
	}
	return nil
}

// GuestChanged is called by the runtime when a desktop's guest changes
// state: a desktop waiting for its guest has its step run again now; an
// AVAILABLE desktop whose guest died or failed its health check becomes
// UNHEALTHY.
func (m *Module) GuestChanged(ctx context.Context, k string) {
	if m.rt == nil {
		return
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		w, err := getRec[desktopRec](ctx, tx, tDesktops, k)
		if err != nil || w == nil {
			return err
		}
		now := m.engine.Clock().Now()
		if w.AwaitGuest {
			return m.engine.Schedule(ctx, tx, "t/"+k, jobTransition, now, jobRef{Key: k, Seq: w.Seq})
		}
		if w.State != "AVAILABLE" {
			return nil
		}
		st := m.rt.Status(k)
		if st.State == GuestUnhealthy || st.State == GuestExited || st.State == GuestFailed {
			parts := splitKey(k)
			w.ErrorCode, w.ErrorMessage = "GuestUnhealthy", "The WorkSpace's guest "+map[bool]string{true: "stopped answering its health check", false: "exited"}[st.State == GuestUnhealthy]+"."
			if err := m.setState(ctx, tx, parts[0], parts[1], w, "UNHEALTHY", now); err != nil {
				return err
			}
			return m.save(ctx, tx, parts[0], parts[1], w)
		}
		return nil
	})
	if err != nil {
		m.log.Error("workspaces: guest state change", "key", k, "err", err)
	}
}

// ResumeGuests starts again, after a server restart, the guests of the
// desktops that run (AVAILABLE, and those waiting for their guest).
func (m *Module) ResumeGuests(ctx context.Context) error {
	if m.rt == nil {
		return nil
	}
	var keys []string
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON[desktopRec](ctx, tx, tDesktops, "", "", 0, func(k string, w *desktopRec) error {
			if w.State == "AVAILABLE" || w.AwaitGuest {
				keys = append(keys, k)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list the desktops to resume: %w", err)
	}
	for _, k := range keys {
		err := m.store.Update(ctx, func(tx store.Tx) error {
			w, err := getRec[desktopRec](ctx, tx, tDesktops, k)
			if err != nil || w == nil {
				return err
			}
			now := m.engine.Clock().Now()
			if w.AwaitGuest {
				return m.engine.Schedule(ctx, tx, "t/"+k, jobTransition, now, jobRef{Key: k, Seq: w.Seq})
			}
			if w.State != "AVAILABLE" {
				return nil
			}
			parts := splitKey(k)
			spec, err := m.guestSpec(ctx, tx, parts[0], parts[1], w, k)
			if err != nil {
				return err
			}
			spec.Boot = w.GuestBoot
			next, err := m.guestKeys(ctx, tx, parts[0], parts[1], w, &spec)
			if err != nil {
				return err
			}
			if next != "" { // the volumes' key cannot be used any more
				if err := m.setState(ctx, tx, parts[0], parts[1], w, next, now); err != nil {
					return err
				}
				return m.save(ctx, tx, parts[0], parts[1], w)
			}
			m.rt.Ensure(spec)
			return nil
		})
		if err != nil {
			return fmt.Errorf("resume the guest of %s: %w", k, err)
		}
	}
	return nil
}

// admitGuest reserves a guest for a desktop about to start.
func (m *Module) admitGuest(k, op string) error {
	if m.rt == nil {
		return nil
	}
	if err := m.rt.Admit(k); err != nil {
		if errors.Is(err, ErrGuestLimit) {
			return itemErr("ResourceLimitExceededException", "The WorkSpace cannot be %s: the limit of running desktops of this deskplane (--runtime-max) is reached.", op)
		}
		return fmt.Errorf("admit the guest of %s: %w", k, err)
	}
	return nil
}

// scheduleSnapshots schedules the first real snapshot of a desktop.
func (m *Module) scheduleSnapshots(ctx context.Context, tx store.Tx, k string, base time.Time) error {
	if m.rt == nil {
		return nil
	}
	return m.engine.Schedule(ctx, tx, "snap/"+k, jobSnapshot, base.Add(m.scaled(firstSnapshot)), jobRef{Key: k})
}

// runSnapshot copies a desktop's volumes at the snapshot time (the job's
// due time names it) and schedules the next one.
func (m *Module) runSnapshot(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	var ref jobRef
	if err := json.Unmarshal(j.Payload, &ref); err != nil {
		return fmt.Errorf("job %s: bad payload: %w", j.ID, err)
	}
	w, err := getRec[desktopRec](ctx, tx, tDesktops, ref.Key)
	if err != nil || w == nil || isIn(w.State, "TERMINATING", "TERMINATED") || m.rt == nil {
		return err
	}
	if err := m.rt.Snapshot(ref.Key, snapName(j.Due), keepSnapshots+1); err != nil {
		return err
	}
	return m.engine.Schedule(ctx, tx, "snap/"+ref.Key, jobSnapshot, j.Due.Add(m.scaled(snapshotInterval)), ref)
}

// ConnectionStatus is what DescribeWorkspacesConnectionStatus reports for a
// desktop under a runtime: the observed sessions (ok is false without a
// runtime, when the records decide). A desktop no client has connected to
// since the server started is DISCONNECTED with no LastConnect.
func (m *Module) ConnectionStatus(workspaceID string) (c Connection, ok bool) {
	if m.rt == nil {
		return Connection{}, false
	}
	if c, seen := m.rt.ConnectionState(workspaceID); seen {
		return c, true
	}
	return Connection{State: "DISCONNECTED"}, true
}

// jobAutoStopIdle stops an AUTO_STOP desktop once no client has been
// connected for its RunningModeAutoStopTimeoutInMinutes: under a runtime
// the observed sessions decide; with --runtime none, where no session is
// ever observed, the timeout runs from the desktop's last start.
const jobAutoStopIdle = "workspaces.autostop-idle"

// autoStopTimeout is an AUTO_STOP desktop's idle timeout under the timing profile.
func (m *Module) autoStopTimeout(w *desktopRec) time.Duration {
	min := ptr.Deref(w.Properties.RunningModeAutoStopTimeoutInMinutes)
	if min <= 0 {
		min = 60
	}
	return m.scaled(time.Duration(min) * time.Minute)
}

// idleStopDue is when an AUTO_STOP desktop idle since idleSince stops.
// Without a runtime, a profile that scales the schedules (fast: an hour
// is 10 s) stops it no sooner than a MANUAL desktop's auto-stop after its
// start (AutoStopAfter, scaled: 8 minutes in fast), or it would stop in
// the middle of a script's first steps; under a runtime a connected
// client holds it off.
func (m *Module) idleStopDue(w *desktopRec, idleSince time.Time) time.Time {
	due := idleSince.Add(m.autoStopTimeout(w))
	if m.rt == nil && m.engine.Timing().Speedup() > 1 {
		if soonest := w.StateSince.Add(m.scaled(AutoStopAfter)); due.Before(soonest) {
			due = soonest
		}
	}
	return due
}

// scheduleIdleStop schedules the idle check of an AUTO_STOP desktop that
// became AVAILABLE.
func (m *Module) scheduleIdleStop(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, now time.Time) error {
	if ptr.Deref(w.Properties.RunningMode) != "AUTO_STOP" {
		return nil
	}
	k := key(account, region, w.WorkspaceID)
	return m.engine.Schedule(ctx, tx, "asi/"+k, jobAutoStopIdle, m.idleStopDue(w, now), jobRef{Key: k, Seq: w.Seq})
}

// runAutoStopIdle stops the desktop when no client is connected and none
// has been for the timeout (since its last disconnect, or since it became
// AVAILABLE); otherwise it looks again when the timeout could next expire.
func (m *Module) runAutoStopIdle(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	w, ref, err := m.loadJob(ctx, tx, j)
	if err != nil || w == nil || w.Seq != ref.Seq || w.State != "AVAILABLE" || ptr.Deref(w.Properties.RunningMode) != "AUTO_STOP" {
		return err
	}
	idleSince := w.StateSince
	if m.rt != nil {
		if c, ok := m.rt.ConnectionState(w.WorkspaceID); ok {
			if c.Open > 0 {
				return m.engine.Schedule(ctx, tx, j.ID, jobAutoStopIdle, now.Add(m.autoStopTimeout(w)), ref)
			}
			if c.LastDisconnect.After(idleSince) {
				idleSince = c.LastDisconnect
			}
		}
	}
	if due := m.idleStopDue(w, idleSince); due.After(now) {
		return m.engine.Schedule(ctx, tx, j.ID, jobAutoStopIdle, due, ref)
	}
	parts := splitKey(ref.Key)
	return m.transition(ctx, tx, parts[0], parts[1], w, "STOPPING", lifecycle.Stop, now)
}

// volumeName is "root" or "user".
func volumeName(w *desktopRec, v *volumeRec) string {
	if v == &w.Root {
		return "root"
	}
	return "user"
}

// guestKeys puts the plaintext data keys of the desktop's encrypted
// volumes into spec: those attach decrypted in this step, else decrypted
// now (a guest started again after a restart). When the key cannot be
// used, the desktop's error is set and next is "ERROR".
func (m *Module) guestKeys(ctx context.Context, tx store.Tx, account, region string, w *desktopRec, spec *GuestSpec) (next string, err error) {
	if w.VolumeKey == "" || m.keys == nil {
		return "", nil
	}
	k := key(account, region, w.WorkspaceID)
	v, ok := m.dataKeys.LoadAndDelete(k)
	if !ok {
		if next, err := m.attach(ctx, tx, account, region, w); err != nil || next != "AVAILABLE" {
			return next, err
		}
		v, _ = m.dataKeys.LoadAndDelete(k)
	}
	if keys, ok := v.(map[string][]byte); ok {
		spec.Keys = keys
	}
	return "", nil
}

// attachedKey keeps a volume's plaintext data key for its guest's start.
func (m *Module) attachedKey(k, vol string, pt []byte) {
	v, _ := m.dataKeys.LoadOrStore(k, map[string][]byte{})
	v.(map[string][]byte)[vol] = pt
}
