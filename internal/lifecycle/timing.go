package lifecycle

import (
	"fmt"
	"time"
)

// Step names an asynchronous step whose duration depends on the profile.
type Step string

// The steps of the WorkSpaces lifecycle.
const (
	Provision     Step = "provision"      // PENDING -> AVAILABLE
	Start         Step = "start"          // STARTING -> AVAILABLE
	Stop          Step = "stop"           // STOPPING -> STOPPED
	Reboot        Step = "reboot"         // REBOOTING -> AVAILABLE
	Rebuild       Step = "rebuild"        // REBUILDING -> AVAILABLE
	Restore       Step = "restore"        // RESTORING -> AVAILABLE
	Terminate     Step = "terminate"      // TERMINATING -> TERMINATED
	Modify        Step = "modify"         // UPDATING -> previous state
	Migrate       Step = "migrate"        // new desktop provisioning during migration
	ImageImport   Step = "image-import"   // image PENDING -> AVAILABLE
	ImageCreate   Step = "image-create"   // image from a workspace
	ImageCopy     Step = "image-copy"     // copied image PENDING -> AVAILABLE
	AccountModify Step = "account-modify" // BYOL modification PENDING -> COMPLETED
	Maintenance   Step = "maintenance"    // MAINTENANCE window length
	DirectoryMake Step = "directory"      // a new directory Creating -> Active
	TerminatedTTL Step = "terminated-ttl" // how long TERMINATED desktops stay visible
)

// Timing maps steps to durations.
type Timing struct {
	Name      string
	durations map[Step]time.Duration
	// speedup divides the service's schedules (see Scale); 0 means 1.
	speedup int64
}

// Duration returns the step's duration.
func (t Timing) Duration(s Step) time.Duration { return t.durations[s] }

// FastSpeedup is how many times faster than the real service the fast
// profile runs the service's schedules: snapshots, the waits between
// compute-type and volume changes, the auto-stop of MANUAL desktops and
// the monthly maintenance (one hour of the real service is 10 seconds).
const FastSpeedup = 360

// speedups divide the schedules of the profiles that scale them.
var speedups = map[string]int64{"fast": FastSpeedup}

// Scale returns a span of the real service's schedules (the 48 hours before
// a MANUAL desktop is stopped, the 12 hours between snapshots, the 6 hours
// between compute-type changes, the time until the next maintenance window)
// as this profile runs it: unchanged in realistic and instant (whose steps
// are instant but whose schedules stay real, for tests that move a virtual
// clock), divided by FastSpeedup in fast.
func (t Timing) Scale(d time.Duration) time.Duration {
	if t.speedup <= 1 {
		return d
	}
	return d / time.Duration(t.speedup)
}

// Speedup returns the factor Scale divides by (1: the real schedules).
func (t Timing) Speedup() int64 { return max(t.speedup, 1) }

var profiles = map[string]map[Step]time.Duration{
	// realistic: the real service's documented or observed durations.
	"realistic": {
		Provision: 20 * time.Minute, Start: 2 * time.Minute, Stop: 2 * time.Minute, Reboot: 3 * time.Minute,
		Rebuild: 20 * time.Minute, Restore: 20 * time.Minute, Terminate: 5 * time.Minute, Modify: 5 * time.Minute,
		Migrate: 20 * time.Minute, ImageImport: 45 * time.Minute, ImageCreate: 45 * time.Minute, ImageCopy: 30 * time.Minute,
		AccountModify: 10 * time.Minute, Maintenance: 2 * time.Hour, DirectoryMake: 25 * time.Minute, TerminatedTTL: 3 * time.Minute,
	},
	// fast: the same sequences in seconds.
	"fast": {
		Provision: 3 * time.Second, Start: time.Second, Stop: time.Second, Reboot: time.Second,
		Rebuild: 2 * time.Second, Restore: 2 * time.Second, Terminate: time.Second, Modify: time.Second,
		Migrate: 3 * time.Second, ImageImport: 3 * time.Second, ImageCreate: 3 * time.Second, ImageCopy: 2 * time.Second,
		AccountModify: 2 * time.Second, Maintenance: 10 * time.Second, DirectoryMake: 2 * time.Second, TerminatedTTL: 20 * time.Second,
	},
	// instant: steps complete as soon as the scheduler sees them. The
	// TERMINATED record still lingers briefly, as on AWS.
	"instant": {TerminatedTTL: 20 * time.Second, Maintenance: 0},
}

// Profile returns the named timing profile: instant, fast or realistic.
func Profile(name string) (Timing, error) {
	d, ok := profiles[name]
	if !ok {
		return Timing{}, fmt.Errorf("unknown timing profile %q (want instant, fast or realistic)", name)
	}
	return Timing{Name: name, durations: d, speedup: speedups[name]}, nil
}
