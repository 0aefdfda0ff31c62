package workspaces

// The Amazon-provided (public) bundles: what DescribeWorkspaceBundles
// returns for Owner AMAZON, and what shared-tenancy deployments launch
// desktops from without importing an image [PG]. The catalogue is the same in
// every Region and its ids are stable: they are derived from the bundle's
// name, so a bundle id written into a configuration or a test keeps working
// across restarts and versions.
//
// Storage follows the documented default combinations: Value 80/10,
// Standard 80/50, Performance 80/100, Power and PowerPro 175/100,
// Graphics.g4dn and GraphicsPro.g4dn 100/100 [AG:create-custom-bundle]
// [AG:modify-workspaces]. vCPU and memory are not stated in the
// descriptions: the only source found for them is a third-party page.

import (
	"crypto/sha256"
	"math/big"
	"slices"
	"sort"
	"time"
)

// publicCompute is one compute type offered by public bundles.
type publicCompute struct {
	name    string // ComputeType.Name
	display string // console name
	root    string // RootStorage.Capacity
	user    string // UserStorage.Capacity
	gpu     bool
}

// publicOS is one operating system (and protocol) of the public images.
type publicOS struct {
	display  string // bundle name part, e.g. "Windows 10 (Server 2022 based)"
	desc     string // description part
	osType   string // OperatingSystem.Type
	osName   string // OperatingSystemName of desktops launched from it
	protocol string // PCOIP, WSP or BYOP
	gpu      bool   // offered with the GPU compute types too
	// without lists the compute types (names) it is not offered with.
	without []string
}

var publicComputes = []publicCompute{
	{"VALUE", "Value", "80", "10", false},
	{"STANDARD", "Standard", "80", "50", false},
	{"PERFORMANCE", "Performance", "80", "100", false},
	{"POWER", "Power", "175", "100", false},
	{"POWERPRO", "PowerPro", "175", "100", false},
	{"GRAPHICS_G4DN", "Graphics.g4dn", "100", "100", true},
	{"GRAPHICSPRO_G4DN", "GraphicsPro.g4dn", "100", "100", true},
}

// publicOSes: the Windows 10/11 desktop experiences are provided by Windows
// Server 2022, so desktops launched from them report WINDOWS_SERVER_2022.
// Ubuntu is offered with DCV (WSP) only.
var publicOSes = []publicOS{
	{"Windows Server 2019", "Windows Server 2019", "WINDOWS", "WINDOWS_SERVER_2019", "PCOIP", true, nil},
	{"Windows Server 2019 (WSP)", "Windows Server 2019 with DCV (WSP)", "WINDOWS", "WINDOWS_SERVER_2019", "WSP", true, nil},
	{"Windows Server 2022", "Windows Server 2022", "WINDOWS", "WINDOWS_SERVER_2022", "PCOIP", true, nil},
	{"Windows Server 2022 (WSP)", "Windows Server 2022 with DCV (WSP)", "WINDOWS", "WINDOWS_SERVER_2022", "WSP", true, nil},
	{"Windows 10 (Server 2022 based)", "Windows 10 desktop experience provided by Windows Server 2022", "WINDOWS", "WINDOWS_SERVER_2022", "PCOIP", false, nil},
	{"Windows 10 (Server 2022 based) (WSP)", "Windows 10 desktop experience provided by Windows Server 2022 with DCV (WSP)", "WINDOWS", "WINDOWS_SERVER_2022", "WSP", false, nil},
	{"Windows 11 (Server 2022 based)", "Windows 11 desktop experience provided by Windows Server 2022", "WINDOWS", "WINDOWS_SERVER_2022", "PCOIP", false, nil},
	{"Windows 11 (Server 2022 based) (WSP)", "Windows 11 desktop experience provided by Windows Server 2022 with DCV (WSP)", "WINDOWS", "WINDOWS_SERVER_2022", "WSP", false, nil},
	{"Amazon Linux 2", "Amazon Linux 2", "LINUX", "AMAZON_LINUX_2", "PCOIP", false, nil},
	{"Amazon Linux 2 (WSP)", "Amazon Linux 2 with DCV (WSP)", "LINUX", "AMAZON_LINUX_2", "WSP", false, nil},
	{"Ubuntu 22.04 (WSP)", "Ubuntu 22.04 with DCV (WSP)", "LINUX", "UBUNTU_22_04", "WSP", false, nil},
	// WorkSpaces Core: Windows Server with its license included and no
	// streaming protocol (the partner brings its own), the shared-tenancy
	// bundles a BYOP partner launches ALWAYS_ON or MANUAL desktops from
	// without importing an image [PG]. Named as DescribeWorkspaceBundles
	// --owner AMAZON lists them ("Standard with Windows Server 2022
	// (BYOP)"); Server 2022 is not offered on Value.
	{"Windows Server 2019 (BYOP)", "Windows Server 2019, license included, bring your own protocol (WorkSpaces Core)", "WINDOWS", "WINDOWS_SERVER_2019", "BYOP", true, nil},
	{"Windows Server 2022 (BYOP)", "Windows Server 2022, license included, bring your own protocol (WorkSpaces Core)", "WINDOWS", "WINDOWS_SERVER_2022", "BYOP", true, []string{"VALUE"}},
}

// The public catalogue's fixed dates (bundles and images).
var (
	publicCreated = time.Date(2024, 3, 4, 17, 0, 0, 0, time.UTC)
	publicUpdated = time.Date(2025, 6, 10, 9, 30, 0, 0, time.UTC)
)

// publicCatalog is built once: bundles by id, images by id, and the bundle
// ids in order.
var publicCatalog = buildPublicCatalog()

type catalog struct {
	bundles map[string]*bundleRec
	images  map[string]*imageRec
	order   []string // bundle ids, sorted
}

// stableID derives a stable resource id (prefix + 9 base36 chars) from a name.
func stableID(prefix, name string) string {
	sum := sha256.Sum256([]byte("deskplane public " + prefix + name))
	s := new(big.Int).SetBytes(sum[:8]).Text(36)
	for len(s) < 9 {
		s = "0" + s
	}
	return prefix + s[len(s)-9:]
}

func buildPublicCatalog() catalog {
	c := catalog{bundles: map[string]*bundleRec{}, images: map[string]*imageRec{}}
	for _, os := range publicOSes {
		img := &imageRec{
			ImageID: stableID("wsi-", os.display), Name: os.display, Description: os.desc, OwnerAccountID: "AMAZON",
			State: "AVAILABLE", RequiredTenancy: "DEFAULT", OperatingSystem: os.osType, OSName: os.osName,
			Protocol: os.protocol, RootVolumeSize: 80, Created: publicCreated,
		}
		c.images[img.ImageID] = img
		for _, ct := range publicComputes {
			if (ct.gpu && !os.gpu) || slices.Contains(os.without, ct.name) {
				continue
			}
			name := ct.display + " with " + os.display
			b := &bundleRec{
				BundleID: stableID("wsb-", name), Name: name, Owner: "AMAZON",
				Description: ct.display + " with " + os.desc + ", " + ct.root + " GB root volume, " + ct.user + " GB user volume",
				ImageID:     img.ImageID, ComputeType: ct.name, RootCapacity: ct.root, UserCapacity: ct.user,
				State: "AVAILABLE", BundleType: "REGULAR", Created: publicCreated, Updated: publicUpdated,
			}
			c.bundles[b.BundleID] = b
			c.order = append(c.order, b.BundleID)
		}
	}
	sort.Strings(c.order)
	return c
}

// publicBundle returns a copy of a public bundle, or nil.
func publicBundle(id string) (*bundleRec, error) {
	if b := publicCatalog.bundles[id]; b != nil {
		return clone(b)
	}
	return nil, nil
}

// publicImage returns a copy of a public bundle's image, or nil.
func publicImage(id string) (*imageRec, error) {
	if img := publicCatalog.images[id]; img != nil {
		return clone(img)
	}
	return nil, nil
}
