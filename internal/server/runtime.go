package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/cloudwatch"
	"github.com/deskplane/deskplane/internal/loopback"
	"github.com/deskplane/deskplane/internal/runtime"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// DefaultRuntimeMax is the default of --runtime-max.
const DefaultRuntimeMax = 50

// checkRuntime validates --runtime and --runtime-max.
func (o Options) checkRuntime() error {
	switch o.Runtime {
	case "", runtime.KindNone, runtime.KindProcess:
	case runtime.KindX11:
		if err := runtime.CheckX11(); err != nil {
			return fmt.Errorf("--runtime x11: %w", err)
		}
	default:
		return fmt.Errorf("unknown runtime %q (want none, process or x11)", o.Runtime)
	}
	if o.RuntimeMax < 0 {
		return fmt.Errorf("--runtime-max must not be negative (got %d)", o.RuntimeMax)
	}
	return nil
}

// newRuntime builds the guest runtime of --runtime process or x11 (nil for none)
// and wires it to the WorkSpaces lifecycle and EC2's security groups.
//
// The runtime shares addrs, the server's loopback allocator, with the
// directories' LDAP listeners (desktops and DNS addresses sit in the same
// subnets), and reports the sessions it observes to rec (CloudWatch's
// connection metrics; nil: none).
func newRuntime(d Deps, wsm *workspaces.Module, groups workspaces.SecurityGroups, addrs *loopback.Allocator, rec cloudwatch.SessionRecorder) (*runtime.Manager, error) {
	if d.Runtime == "" || d.Runtime == runtime.KindNone {
		return nil, nil
	}
	max := d.RuntimeMax
	if max == 0 {
		max = DefaultRuntimeMax
	}
	var onSession func(key string, connect bool, at time.Time)
	if rec != nil {
		onSession = func(key string, connect bool, at time.Time) {
			account, region, id, ok := splitDesktopKey(key)
			if !ok {
				return
			}
			kind := cloudwatch.SessionDisconnected
			if connect {
				kind = cloudwatch.SessionConnected
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ev := cloudwatch.SessionEvent{Account: account, Region: region, WorkspaceID: id, Kind: kind, Time: at,
				DirectoryID: wsm.DirectoryOf(ctx, account, region, id)}
			if err := rec.RecordSession(ctx, ev); err != nil {
				d.Log.Warn("runtime: record a session for CloudWatch", "workspace_id", id, "err", err)
			}
		}
	}
	rt, err := runtime.New(runtime.Options{Kind: d.Runtime, SessionCommand: d.SessionCommand,
		Dir: filepath.Join(d.DataDir, "runtime"), Max: max, Command: d.GuestCommand, Env: d.GuestEnv, Log: d.Log, Now: d.Clock.Now,
		Addrs: addrs, OnSession: onSession,
		Notify: func(key string) { wsm.GuestChanged(context.Background(), key) }})
	if err != nil {
		return nil, err
	}
	wsm.SetRuntime(runtimeAdapter{rt}, groups)
	if d.Runtime == runtime.KindX11 {
		wsm.SetDesktopPorts([]workspaces.GuestPort{{Protocol: runtime.VNCProtocol, Port: runtime.VNCPort}})
	}
	return rt, nil
}

// runtimeAdapter is the runtime as the WorkSpaces module declares it
// (workspaces.Runtime): the module does not import internal/runtime.
type runtimeAdapter struct{ m *runtime.Manager }

func (a runtimeAdapter) Admit(key string) error {
	if err := a.m.Admit(key); errors.Is(err, runtime.ErrLimit) {
		return workspaces.ErrGuestLimit
	} else if err != nil {
		return err
	}
	return nil
}
func (a runtimeAdapter) ConnectionState(workspaceID string) (workspaces.Connection, bool) {
	c, ok := a.m.ConnectionState(workspaceID)
	return workspaces.Connection{State: c.State, Open: c.Open, LastConnect: c.LastConnect, LastDisconnect: c.LastDisconnect}, ok
}
func (a runtimeAdapter) Room() int                  { return a.m.Room() }
func (a runtimeAdapter) Release(key string)         { a.m.Release(key) }
func (a runtimeAdapter) Stop(key string) bool       { return a.m.Stop(key) }
func (a runtimeAdapter) Freeze(key string) bool     { return a.m.Freeze(key) }
func (a runtimeAdapter) Remove(key string) error    { return a.m.Remove(key) }
func (a runtimeAdapter) Restore(k, up string) error { return a.m.Restore(k, up) }
func (a runtimeAdapter) Snapshot(key, name string, keep int) error {
	return a.m.Snapshot(key, name, keep)
}
func (a runtimeAdapter) Capture(key, account, region, imageID string) error {
	return a.m.Capture(key, account, region, imageID)
}
func (a runtimeAdapter) Status(key string) workspaces.GuestStatus {
	s := a.m.Status(key)
	return workspaces.GuestStatus{State: s.State, Boot: s.Boot}
}
func (a runtimeAdapter) Rebuild(key, account, region, imageID, upTo string) error {
	dir := ""
	if imageID != "" && a.m.HasImage(account, region, imageID) {
		dir = a.m.ImageDir(account, region, imageID)
	}
	return a.m.Rebuild(key, dir, upTo)
}
func (a runtimeAdapter) Ensure(s workspaces.GuestSpec) workspaces.GuestStatus {
	spec := runtime.Spec{Key: s.Key, WorkspaceID: s.WorkspaceID, UserName: s.UserName, ComputerName: s.ComputerName, DirectoryID: s.DirectoryID,
		VPCAddress: s.VPCAddress, Boot: s.Boot, Command: s.Command, Keys: s.Keys}
	for _, p := range s.Ports {
		spec.Ports = append(spec.Ports, runtime.Port{Protocol: p.Protocol, Port: p.Port, Allowed: p.Allowed})
	}
	if s.ImageID != "" && a.m.HasImage(s.ImageAccount, s.ImageRegion, s.ImageID) {
		spec.RootImage = a.m.ImageDir(s.ImageAccount, s.ImageRegion, s.ImageID)
	}
	st := a.m.Ensure(spec)
	return workspaces.GuestStatus{State: st.State, Boot: st.Boot}
}

// getRuntime serves GET /_deskplane/runtime: every guest with its
// addresses, ports, state and pid.
func (s *Server) getRuntime(w http.ResponseWriter, r *http.Request) {
	if s.runtime == nil {
		writeJSON(w, http.StatusOK, map[string]any{"runtime": runtime.KindNone, "desktops": []any{}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runtime": s.Opts.Runtime, "max": s.runtime.Max(), "desktops": s.runtime.List()})
}

// getConsole serves GET /_deskplane/runtime/{id}/console: the end of a
// desktop's console log (?bytes=N, default 64 KiB) as text.
func (s *Server) getConsole(w http.ResponseWriter, r *http.Request) {
	if s.runtime == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no runtime: start the server with --runtime process or x11"})
		return
	}
	n := int64(64 << 10)
	if v := r.URL.Query().Get("bytes"); v != "" {
		b, err := strconv.ParseInt(v, 10, 64)
		if err != nil || b <= 0 || b > 16<<20 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bytes must be between 1 and 16777216"})
			return
		}
		n = b
	}
	key, ok := s.runtime.Find(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no guest for that workspace"})
		return
	}
	out, err := s.runtime.Console(key, n)
	if err != nil {
		s.Opts.Log.Error("console", "err", err)
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no console for that workspace"})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	w.Write(out)
}

// splitDesktopKey splits a desktop's store key (account/region/workspace id).
func splitDesktopKey(key string) (account, region, id string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
