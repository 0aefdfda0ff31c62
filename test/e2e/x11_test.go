package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	vnc "github.com/mitchellh/go-vnc"

	"github.com/deskplane/deskplane/internal/runtime"
	"github.com/deskplane/deskplane/internal/testserver"
)

// x11ScreenshotDir is where the x11 test saves its framebuffer snapshot
// (gitignored, like the browser tests' screenshots).
const x11ScreenshotDir = "../artifacts/screenshots"

// needX11 skips a test without the x11 runtime's programs (and xwininfo),
// unless CI=true or DESKPLANE_REQUIRE_X11=1 (scripts/test.sh installs them
// and sets it), where the test fails.
func needX11(t *testing.T) {
	t.Helper()
	err := runtime.CheckX11()
	if _, lerr := exec.LookPath("xwininfo"); err == nil && lerr != nil {
		err = fmt.Errorf("xwininfo not found: install the Debian package x11-utils")
	}
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("DESKPLANE_REQUIRE_X11") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// x11Guest is one desktop of GET /_deskplane/runtime under x11.
type x11Guest struct {
	guestInfo
	Display   string         `json:"display"`
	VNC       string         `json:"vnc"`
	Processes map[string]int `json:"processes"`
}

func x11Guests(t *testing.T, s *testserver.Server) map[string]x11Guest {
	t.Helper()
	var out struct {
		Runtime  string     `json:"runtime"`
		Desktops []x11Guest `json:"desktops"`
	}
	if err := json.Unmarshal([]byte(adminText(t, s, "/_deskplane/runtime")), &out); err != nil || out.Runtime != "x11" {
		t.Fatalf("GET /_deskplane/runtime: runtime %q, %v", out.Runtime, err)
	}
	m := map[string]x11Guest{}
	for _, g := range out.Desktops {
		m[g.WorkspaceID] = g
	}
	return m
}

// snapshot connects a VNC client to addr and reads the whole framebuffer.
func snapshot(t *testing.T, addr string) *image.RGBA {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect a VNC client to %s: %v", addr, err)
	}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	msgs := make(chan vnc.ServerMessage, 16)
	c, err := vnc.Client(bufferedConn{nc, bufio.NewReaderSize(nc, 1<<16)}, &vnc.ClientConfig{ServerMessageCh: msgs})
	if err != nil {
		nc.Close()
		t.Fatalf("VNC handshake with %s: %v", addr, err)
	}
	defer c.Close()
	w, h := int(c.FrameBufferWidth), int(c.FrameBufferHeight)
	if err := c.SetEncodings([]vnc.Encoding{new(vnc.RawEncoding)}); err != nil {
		t.Fatal(err)
	}
	if err := c.FramebufferUpdateRequest(false, 0, 0, uint16(w), uint16(h)); err != nil {
		t.Fatal(err)
	}
	pf := c.PixelFormat
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	covered := 0
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for covered < w*h {
		select {
		case m := <-msgs:
			u, ok := m.(*vnc.FramebufferUpdateMessage)
			if !ok {
				continue
			}
			for _, r := range u.Rectangles {
				raw, ok := r.Enc.(*vnc.RawEncoding)
				if !ok {
					continue
				}
				for y := 0; y < int(r.Height); y++ {
					for x := 0; x < int(r.Width); x++ {
						p := raw.Colors[y*int(r.Width)+x]
						img.SetRGBA(int(r.X)+x, int(r.Y)+y, color.RGBA{scale(p.R, pf.RedMax), scale(p.G, pf.GreenMax), scale(p.B, pf.BlueMax), 255})
					}
				}
				covered += int(r.Width) * int(r.Height)
			}
		case <-timeout.C:
			t.Fatalf("framebuffer of %s: %d of %d pixels after 60 s", addr, covered, w*h)
		}
	}
	return img
}

func scale(v, max uint16) uint8 {
	if max == 0 {
		return 0
	}
	return uint8(uint32(v) * 255 / uint32(max))
}

// bufferedConn reads through a buffer: the VNC library reads raw pixels
// a few bytes at a time.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// windowRect finds the window titled title on display with xwininfo, once
// it is mapped (the terminal starts with the session, independently of the
// desktop's readiness).
func windowRect(display, title string) (image.Rectangle, error) {
	cmd := exec.Command("xwininfo", "-name", title)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("xwininfo -name %s on %s: %v\n%s", title, display, err, out)
	}
	if !strings.Contains(string(out), "Map State: IsViewable") {
		return image.Rectangle{}, fmt.Errorf("the window %s is not mapped yet:\n%s", title, out)
	}
	v := map[string]int{}
	for _, name := range []string{"Absolute upper-left X", "Absolute upper-left Y", "Width", "Height"} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `:\s+(-?\d+)`).FindSubmatch(out)
		if m == nil {
			return image.Rectangle{}, fmt.Errorf("xwininfo: no %q in\n%s", name, out)
		}
		v[name], _ = strconv.Atoi(string(m[1]))
	}
	x, y := v["Absolute upper-left X"], v["Absolute upper-left Y"]
	return image.Rect(x, y, x+v["Width"], y+v["Height"]), nil
}

// lazy formats a failure message when it is printed, not when the poll
// starts.
type lazy func() string

func (l lazy) String() string { return l() }

// windowShown counts the pixels of win that differ from the root
// background (the bottom-right corner: Xvfb -br makes it black), and those
// of the bottom row left of the window that differ from it (none: the
// root is uniform).
func windowShown(img *image.RGBA, win image.Rectangle) (differ, outside int) {
	b := img.Bounds()
	bg := img.RGBAAt(b.Max.X-2, b.Max.Y-2)
	for y := win.Min.Y; y < win.Max.Y; y++ {
		for x := win.Min.X; x < win.Max.X; x++ {
			if img.RGBAAt(x, y) != bg {
				differ++
			}
		}
	}
	for x := 0; x < win.Min.X; x++ {
		if img.RGBAAt(x, b.Max.Y-2) != bg {
			outside++
		}
	}
	return differ, outside
}

// TestRuntimeX11DesktopOverVNC: under --runtime x11 a desktop created
// through the SDK is a real Linux desktop: 5900 is refused until its
// security group allows it, then a VNC client's framebuffer snapshot shows
// the terminal titled with the workspace id; a killed X server makes the
// desktop UNHEALTHY and a reboot heals it; Stop ends every process of the
// guest.
func TestRuntimeX11DesktopOverVNC(t *testing.T) {
	needX11(t)
	bin := binary(t)
	s := testserver.Start(t, testserver.VirtualClock(), testserver.Runtime("x11", 3, bin, "guest"), testserver.X11Session(bin, "x11-session"))
	e := setup(t, s)
	ctx := ctxT(t)
	id := e.create(t, ctx, 1, "x11")[0]
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g0 := readyGuest(t, s, id, -1)
	g := x11Guests(t, s)[id]
	vncAddr := net.JoinHostPort(g.Address, "5900")
	if g.Display == "" || g.Processes["xvfb"] == 0 || g.VNC != "" || g.Processes["x11vnc"] != 0 {
		t.Fatalf("guest %+v: want an X display and no VNC server (the groups do not allow 5900)", g)
	}
	// Neither 5900 nor the BYOP port: the directory's group allows neither.
	refused(t, vncAddr)
	refused(t, net.JoinHostPort(g.Address, "3389"))

	dirs, err := e.ws.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: dirs.Directories[0].WorkspaceSecurityGroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5900), ToPort: aws.Int32(5900),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatalf("AuthorizeSecurityGroupIngress: %v", err)
	}
	e.rebootOne(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	g0 = readyGuest(t, s, id, g0.Boot)
	g = x11Guests(t, s)[id]
	if g.VNC != vncAddr || g.Processes["x11vnc"] == 0 {
		t.Fatalf("guest %+v: want x11vnc on %s", g, vncAddr)
	}
	// The port outside the groups is still refused.
	refused(t, net.JoinHostPort(g.Address, "3389"))

	// The terminal titled with the workspace id, found by xwininfo on the
	// guest's display, shows in the VNC client's snapshot: most pixels of
	// its rectangle (white, with a line of text) differ from the root's
	// black; the root left of it does not. It maps a little after the
	// desktop is ready, so snapshots are taken until it shows.
	var (
		img             *image.RGBA
		win             image.Rectangle
		differ, outside int
		werr            error
	)
	if err := os.MkdirAll(x11ScreenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 45*time.Second, func() bool {
		if win, werr = windowRect(g.Display, id); werr != nil {
			return false
		}
		img = snapshot(t, vncAddr)
		f, err := os.Create(filepath.Join(x11ScreenshotDir, "x11-desktop.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if win.Dx() < 100 || win.Dy() < 100 || !win.In(img.Bounds()) || (win.Max.X >= img.Bounds().Max.X-2 && win.Max.Y >= img.Bounds().Max.Y-2) {
			t.Fatalf("the terminal titled %s at %v on a %v screen", id, win, img.Bounds())
		}
		differ, outside = windowShown(img, win)
		return differ >= win.Dx()*win.Dy()/2
	}, "%v", lazy(func() string {
		return fmt.Sprintf("the terminal window %v never showed in the snapshot (%d of its pixels differ from the background; %v)", win, differ, werr)
	}))
	if outside > 0 {
		t.Fatalf("%d pixels of the bottom row left of the window differ from the background: not a uniform root", outside)
	}

	// A VNC client is a user session: CONNECTED while it is connected.
	nc, err := net.DialTimeout("tcp", vncAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := vnc.Client(nc, &vnc.ClientConfig{})
	if err != nil {
		t.Fatalf("VNC handshake: %v", err)
	}
	connState := func() wstypes.ConnectionState {
		o, err := e.ws.DescribeWorkspacesConnectionStatus(ctx, &workspaces.DescribeWorkspacesConnectionStatusInput{WorkspaceIds: []string{id}})
		if err != nil || len(o.WorkspacesConnectionStatus) != 1 {
			t.Fatalf("DescribeWorkspacesConnectionStatus: %v", err)
		}
		return o.WorkspacesConnectionStatus[0].ConnectionState
	}
	testserver.Eventually(t, 15*time.Second, func() bool { return connState() == wstypes.ConnectionStateConnected },
		"a desktop with a VNC client connected is not CONNECTED")
	vc.Close()
	testserver.Eventually(t, 15*time.Second, func() bool { return connState() == wstypes.ConnectionStateDisconnected },
		"a desktop whose VNC client left is not DISCONNECTED")

	// The X server killed: the session ends, the desktop is UNHEALTHY; a
	// reboot heals it.
	if err := syscall.Kill(g.Processes["xvfb"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateUnhealthy)
	e.rebootOne(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateAvailable)
	readyGuest(t, s, id, g0.Boot)
	g = x11Guests(t, s)[id]
	if img := snapshot(t, vncAddr); img.Bounds().Dx() == 0 {
		t.Fatal("no framebuffer after the reboot")
	}

	// Stop ends every process of the guest.
	pids := []int{g.PID}
	for _, p := range g.Processes {
		pids = append(pids, p)
	}
	e.stop(t, ctx, id)
	e.waitAll(t, ctx, []string{id}, wstypes.WorkspaceStateStopped)
	testserver.Eventually(t, 10*time.Second, func() bool { return len(processesOf(id)) == 0 },
		"processes of the stopped desktop's guest still run: %v", processesOf(id))
	for _, p := range pids {
		if err := syscall.Kill(p, 0); err == nil {
			t.Fatalf("process %d of the stopped guest still runs", p)
		}
	}
	refused(t, vncAddr)
	console := adminText(t, s, "/_deskplane/runtime/"+id+"/console")
	if !strings.Contains(console, "X server on :") || !strings.Contains(console, "xvfb exited") {
		t.Fatalf("console:\n%s", console)
	}
}

// processesOf lists the processes whose environment names the workspace
// (everything a guest starts inherits its identity).
func processesOf(id string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !strings.Contains(string(env), "\x00DESKPLANE_WORKSPACE_ID="+id+"\x00") {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		out = append(out, e.Name()+" "+strings.TrimSpace(string(comm)))
	}
	return out
}
