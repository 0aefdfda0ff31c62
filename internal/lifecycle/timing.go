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
}

// Duration returns the step's duration.
func (t Timing) Duration(s Step) time.Duration { return t.durations[s] }

var profiles = map[string]map[Step]time.Duration{
	// realistic: the real service's documented or observed durations.
	"realistic": {
		Provision: 20 * time.Minute, Start: 2 * time.Minute, Stop: 2 * time.Minute, Reboot: 3 * time.Minute,
		Rebuild: 20 * time.Minute, Restore: 20 * time.Minute, Terminate: 5 * time.Minute, Modify: 5 * time.Minute,
		Migrate: 20 * time.Minute, ImageImport: 45 * time.Minute, ImageCreate: 45 * time.Minute, ImageCopy: 30 * time.Minute,
		AccountModify: 10 * time.Minute, Maintenance: 2 * time.Hour, DirectoryMake: 25 * time.Minute, TerminatedTTL: time.Hour,
	},
	// fast: the same sequences in seconds.
	"fast": {
		Provision: 3 * time.Second, Start: time.Second, Stop: time.Second, Reboot: time.Second,
		Rebuild: 2 * time.Second, Restore: 2 * time.Second, Terminate: time.Second, Modify: time.Second,
		Migrate: 3 * time.Second, ImageImport: 3 * time.Second, ImageCreate: 3 * time.Second, ImageCopy: 2 * time.Second,
		AccountModify: 2 * time.Second, Maintenance: 10 * time.Second, DirectoryMake: 2 * time.Second, TerminatedTTL: time.Minute,
	},
	// instant: steps complete as soon as the scheduler sees them. The
	// TERMINATED record still lingers a while, as on AWS.
	"instant": {TerminatedTTL: time.Minute, Maintenance: 0},
}

// Profile returns the named timing profile: instant, fast or realistic.
func Profile(name string) (Timing, error) {
	d, ok := profiles[name]
	if !ok {
		return Timing{}, fmt.Errorf("unknown timing profile %q (want instant, fast or realistic)", name)
	}
	return Timing{Name: name, durations: d}, nil
}
