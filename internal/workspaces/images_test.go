package workspaces

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// Test accounts of the image tests.
const (
	imgOwner     = "111122223333"
	imgRecipient = "444455556666"
	imgRegion    = "us-east-1"
	imgRegion2   = "us-west-2"
)

// imgFakeEC2 serves AMIs from a map keyed ACCOUNT/REGION/AMI.
type imgFakeEC2 struct{ images map[string]*SourceImage }

func (f *imgFakeEC2) Image(ctx context.Context, tx store.Tx, account, region, id string) (*SourceImage, error) {
	if si := f.images[key(account, region, id)]; si != nil {
		cp := *si
		return &cp, nil
	}
	return nil, store.ErrNotFound
}
func (f *imgFakeEC2) Subnet(ctx context.Context, tx store.Tx, account, region, id string) (*Subnet, error) {
	if id == "subnet-1" {
		return &Subnet{SubnetID: id, VPCID: "vpc-1", CIDR: "10.0.1.0/24", AZ: region + "a"}, nil
	}
	return nil, store.ErrNotFound
}
func (f *imgFakeEC2) SubnetsByID(ctx context.Context, tx store.Tx, account, region string, ids []string) ([]*Subnet, error) {
	out := make([]*Subnet, len(ids))
	for i, id := range ids {
		out[i], _ = f.Subnet(ctx, tx, account, region, id)
	}
	return out, nil
}
func (f *imgFakeEC2) VPCCIDRs(ctx context.Context, tx store.Tx, account, region string) ([]string, error) {
	return nil, nil
}
func (f *imgFakeEC2) CreateSecurityGroup(ctx context.Context, tx store.Tx, account, region, vpcID, name, description string) (string, error) {
	return "sg-0123456789abcdef0", nil
}
func (f *imgFakeEC2) SecurityGroupVPC(ctx context.Context, tx store.Tx, account, region, groupID string) (string, error) {
	return "", store.ErrNotFound
}

// imgFakeDirs has no directories.
type imgFakeDirs struct{}

func (imgFakeDirs) Directory(ctx context.Context, tx store.Tx, account, region, id string) (*Directory, error) {
	return nil, store.ErrNotFound
}
func (imgFakeDirs) Directories(ctx context.Context, tx store.Tx, account, region string) ([]*Directory, error) {
	return nil, nil
}
func (imgFakeDirs) User(ctx context.Context, tx store.Tx, account, region, dir, user string) (*DirectoryUser, error) {
	return nil, store.ErrNotFound
}

// imgEnv is a WorkSpaces module on a temporary SQLite store, a frozen
// virtual clock and the instant timing profile.
type imgEnv struct {
	t   *testing.T
	ctx context.Context
	m   *Module
	db  *sqlite.DB
	eng *lifecycle.Engine
	clk *clock.Virtual
	ec2 *imgFakeEC2
	gw  *gateway.Gateway
	// checks are the authorization checks of the last call, as the
	// pipeline asked them (action and resource account filled in).
	checks []gateway.Check
}

// AMIs of the fake EC2 (owner account, us-east-1 unless noted).
const (
	amiWin10     = "ami-0a0a0a0a0a0a0a0a1"
	amiWin11     = "ami-0a0a0a0a0a0a0a0a2"
	amiServer    = "ami-0a0a0a0a0a0a0a0a3"
	amiI386      = "ami-0a0a0a0a0a0a0a0a4"
	amiBig       = "ami-0a0a0a0a0a0a0a0a5"
	amiWin10N    = "ami-0a0a0a0a0a0a0a0a6"
	amiPending   = "ami-0a0a0a0a0a0a0a0a7"
	amiEncrypted = "ami-0a0a0a0a0a0a0a0a8"
	amiOther     = "ami-0a0a0a0a0a0a0a0a9" // owned by another account (public)
)

func newImgEnv(t *testing.T, tune ...func(*config.Config)) *imgEnv {
	t.Helper()
	ctx := context.Background()
	db, _ := openTestStore(t)
	clk, eng, log := testEngine(t, db, time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC), "instant")
	cfg := config.Default()
	for _, f := range tune {
		f(cfg)
	}
	win := func(os, arch string, size int, boot string) *SourceImage {
		return &SourceImage{Name: os, OwnerID: imgOwner, State: "available", ImageType: "machine", Architecture: arch,
			PlatformDetails: "Windows BYOL", VirtualizationType: "hvm", BootMode: boot, EnaSupport: true,
			RootVolumeType: "gp3", RootVolumeSize: size, OSVersion: os}
	}
	images := map[string]*SourceImage{
		amiWin10:     win("Windows 10 Enterprise 22H2", "x86_64", 80, "legacy-bios"),
		amiWin11:     win("Windows 11 Enterprise 23H2", "x86_64", 80, "uefi"),
		amiServer:    {Name: "Windows_Server-2022-English-Full-Base", OwnerID: imgOwner, State: "available", ImageType: "machine", Architecture: "x86_64", PlatformDetails: "Windows", RootVolumeSize: 30, OSVersion: "Windows Server 2022"},
		amiI386:      win("Windows 10 Pro 22H2", "i386", 60, "legacy-bios"),
		amiBig:       win("Windows 10 Enterprise 22H2", "x86_64", 100, "legacy-bios"),
		amiWin10N:    win("Windows 10 Enterprise N 22H2", "x86_64", 60, "legacy-bios"),
		amiPending:   win("Windows 10 Enterprise 22H2", "x86_64", 80, "legacy-bios"),
		amiEncrypted: win("Windows 10 Enterprise 22H2", "x86_64", 80, "legacy-bios"),
		amiOther:     win("Windows 10 Enterprise 22H2", "x86_64", 80, "legacy-bios"),
	}
	images[amiPending].State = "pending"
	images[amiEncrypted].Encrypted = true
	images[amiOther].OwnerID = "999988887777"
	fake := &imgFakeEC2{images: map[string]*SourceImage{}}
	for id, si := range images {
		si.ImageID = id
		fake.images[key(imgOwner, imgRegion, id)] = si
	}
	w10 := *images[amiWin10]
	fake.images[key(imgOwner, imgRegion2, amiWin10)] = &w10
	m := New(Options{Config: cfg, Store: db, Engine: eng, EC2: fake, Directories: imgFakeDirs{}, Log: log})
	m.registerImageJobs()
	e := &imgEnv{t: t, ctx: ctx, m: m, db: db, eng: eng, clk: clk, ec2: fake}
	e.gw = gateway.New(m.svc)
	e.gw.Clock, e.gw.Log = clk, log
	e.gw.Authz = recordingAuthz{checks: &e.checks}
	return e
}

// enableBYOL enables BYOL for account in region, as a completed ModifyAccount would.
func (e *imgEnv) enableBYOL(account, region string) {
	e.t.Helper()
	err := e.db.Update(e.ctx, func(tx store.Tx) error {
		return putRec(e.ctx, tx, tAccounts, account+"/"+region, accountRec{DedicatedTenancySupport: "ENABLED", ManagementCidrRange: "10.200.0.0/16"})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// call runs an operation through the gateway's pipeline (Invoke): JSON
// input decoded and validated, the operation's checks resolved and
// evaluated (by an authorizer that records them and allows them), the
// handler, and the output encoded as JSON.
func (e *imgEnv) call(account, region, op, input string) (map[string]any, error) {
	e.t.Helper()
	if _, ok := e.m.svc.Operation(op); !ok {
		e.t.Fatalf("operation %s is not registered", op)
	}
	e.checks = nil
	p := &gateway.Principal{Type: "IAMUser", Account: account, ARN: "arn:aws:iam::" + account + ":user/tester", UserName: "tester"}
	out, err := e.gw.Invoke(e.ctx, gateway.Invocation{Principal: p, Region: region}, "workspaces", op, []byte(input))
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatal(err)
	}
	return m, nil
}

// recordingAuthz allows every check and records it.
type recordingAuthz struct{ checks *[]gateway.Check }

func (a recordingAuthz) Authorize(_ context.Context, _ *gateway.Principal, _ string, chk gateway.Check, _ gateway.Env) (gateway.Decision, error) {
	*a.checks = append(*a.checks, chk)
	return gateway.Decision{Allowed: true}, nil
}

// must runs call and fails the test on error.
func (e *imgEnv) must(account, region, op, input string) map[string]any {
	e.t.Helper()
	out, err := e.call(account, region, op, input)
	if err != nil {
		e.t.Fatalf("%s %s: %v", op, input, err)
	}
	return out
}

// fails runs call and checks the AWS error code.
func (e *imgEnv) fails(code, account, region, op, input string) {
	e.t.Helper()
	_, err := e.call(account, region, op, input)
	if err == nil {
		e.t.Fatalf("%s %s: succeeded, want %s", op, input, code)
	}
	ae := awsproto.As(err)
	if ae == nil || ae.Code != code {
		e.t.Fatalf("%s %s: error %v, want %s", op, input, err, code)
	}
}

// run runs the due lifecycle jobs.
func (e *imgEnv) run() {
	e.t.Helper()
	if _, err := e.eng.RunDue(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// importImage imports an AMI and returns the new image id.
func (e *imgEnv) importImage(account, region, ami, process, name string) string {
	e.t.Helper()
	out := e.must(account, region, "ImportWorkspaceImage", fmt.Sprintf(`{"Ec2ImageId":%q,"IngestionProcess":%q,"ImageName":%q,"ImageDescription":"Windows 10 Enterprise"}`, ami, process, name))
	return out["ImageId"].(string)
}

// image describes one image as the account sees it (nil if not listed).
func (e *imgEnv) image(account, region, id string) map[string]any {
	e.t.Helper()
	out := e.must(account, region, "DescribeWorkspaceImages", fmt.Sprintf(`{"ImageIds":[%q]}`, id))
	imgs := out["Images"].([]any)
	if len(imgs) == 0 {
		return nil
	}
	return imgs[0].(map[string]any)
}

// bundle creates a custom bundle and returns its id.
func (e *imgEnv) bundle(account, region, name, image, compute, root, user string) string {
	e.t.Helper()
	out := e.must(account, region, "CreateWorkspaceBundle", fmt.Sprintf(`{"BundleName":%q,"BundleDescription":"test bundle","ImageId":%q,"ComputeType":{"Name":%q},"RootStorage":{"Capacity":%q},"UserStorage":{"Capacity":%q}}`, name, image, compute, root, user))
	return out["WorkspaceBundle"].(map[string]any)["BundleId"].(string)
}

// putDesktop stores a desktop record directly.
func (e *imgEnv) putDesktop(account, region string, w *desktopRec) {
	e.t.Helper()
	err := e.db.Update(e.ctx, func(tx store.Tx) error { return putRec(e.ctx, tx, tDesktops, key(account, region, w.WorkspaceID), w) })
	if err != nil {
		e.t.Fatal(err)
	}
}

// desktop reads a desktop record.
func (e *imgEnv) desktop(account, region, id string) *desktopRec {
	e.t.Helper()
	var w *desktopRec
	err := e.db.View(e.ctx, func(tx store.Tx) error {
		var err error
		w, err = getRec[desktopRec](e.ctx, tx, tDesktops, key(account, region, id))
		return err
	})
	if err != nil || w == nil {
		e.t.Fatalf("desktop %s: %v", id, err)
	}
	return w
}

func TestImportImagePendingThenAvailable(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	out := e.must(imgOwner, imgRegion, "ImportWorkspaceImage", `{"Ec2ImageId":"`+amiWin10+`","IngestionProcess":"BYOL_REGULAR_BYOP","ImageName":"win10-ent-img01","ImageDescription":"Windows 10 Enterprise","Tags":[{"Key":"PartnerManaged","Value":"true"}]}`)
	id := out["ImageId"].(string)
	if !regexp.MustCompile(`^wsi-[0-9a-z]{9,63}$`).MatchString(id) {
		t.Fatalf("image id %q does not match the model's pattern", id)
	}
	if len(e.checks) != 1 || e.checks[0].Resource != "*" || e.checks[0].RequestTags["PartnerManaged"] != "true" {
		t.Fatalf("import checks = %+v, want * with request tags", e.checks)
	}
	img := e.image(imgOwner, imgRegion, id)
	if img["State"] != "PENDING" || img["RequiredTenancy"] != "DEDICATED" || img["OwnerAccountId"] != imgOwner ||
		img["OperatingSystem"].(map[string]any)["Type"] != "WINDOWS" || img["Name"] != "win10-ent-img01" || img["Created"] == nil {
		t.Fatalf("pending image = %v", img)
	}
	e.run()
	if img := e.image(imgOwner, imgRegion, id); img["State"] != "AVAILABLE" || img["ErrorCode"] != nil {
		t.Fatalf("image after ingestion = %v", img)
	}
	var rec *imageRec
	e.db.View(e.ctx, func(tx store.Tx) error {
		rec, _ = e.m.lookupImage(e.ctx, tx, imgOwner, imgRegion, id)
		return nil
	})
	if rec.Protocol != "BYOP" || rec.OSName != "WINDOWS_10" || rec.Tags["PartnerManaged"] != "true" || rec.RootVolumeSize != 80 {
		t.Fatalf("record = %+v", rec)
	}
}

func TestImportImageEveryIngestionProcess(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	want := map[string]string{
		"BYOL_REGULAR": "PCOIP", "BYOL_GRAPHICS": "PCOIP", "BYOL_GRAPHICSPRO": "PCOIP", "BYOL_GRAPHICS_G4DN": "PCOIP",
		"BYOL_REGULAR_WSP": "WSP", "BYOL_GRAPHICS_G4DN_WSP": "WSP", "BYOL_REGULAR_BYOP": "BYOP", "BYOL_GRAPHICS_G4DN_BYOP": "BYOP",
	}
	for process, protocol := range want {
		id := e.importImage(imgOwner, imgRegion, amiWin10, process, "img-"+strings.ToLower(process))
		e.run()
		if img := e.image(imgOwner, imgRegion, id); img["State"] != "AVAILABLE" {
			t.Errorf("%s: %v", process, img)
		}
		e.db.View(e.ctx, func(tx store.Tx) error {
			rec, _ := e.m.lookupImage(e.ctx, tx, imgOwner, imgRegion, id)
			if rec.Protocol != protocol || rec.IngestionProcess != process {
				t.Errorf("%s: protocol %s, want %s", process, rec.Protocol, protocol)
			}
			return nil
		})
	}
	e.fails("ValidationException", imgOwner, imgRegion, "ImportWorkspaceImage", `{"Ec2ImageId":"`+amiWin10+`","IngestionProcess":"BYOL_FANCY","ImageName":"x","ImageDescription":"x"}`)
}

func TestImportImageRejections(t *testing.T) {
	e := newImgEnv(t)
	req := func(ami, name, extra string) string {
		return fmt.Sprintf(`{"Ec2ImageId":%q,"IngestionProcess":"BYOL_REGULAR_WSP","ImageName":%q,"ImageDescription":"d"%s}`, ami, name, extra)
	}
	// BYOL not enabled in the Region.
	e.fails("AccessDeniedException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiWin10, "a", ""))
	e.enableBYOL(imgOwner, imgRegion)
	e.fails("AccessDeniedException", imgOwner, imgRegion2, "ImportWorkspaceImage", req(amiWin10, "a", ""))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "ImportWorkspaceImage", req("ami-0123456789abcdef0", "a", ""))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiOther, "a", ""))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiPending, "a", ""))
	e.fails("OperationNotSupportedException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiEncrypted, "a", ""))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiWin10, "a", `,"Applications":["Microsoft_Office_2016","Microsoft_Office_2019"]`))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiWin11, "a", `,"Applications":["Microsoft_Office_2016"]`))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "ImportWorkspaceImage", `{"Ec2ImageId":"`+amiWin11+`","IngestionProcess":"BYOL_GRAPHICS_G4DN_WSP","ImageName":"a","ImageDescription":"d","Applications":["Microsoft_Office_2019"]}`)
	e.fails("ValidationException", imgOwner, imgRegion, "ImportWorkspaceImage", req("ami-xyz", "a", ""))
	e.fails("ValidationException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiWin10, "bad name!", ""))
	e.fails("ValidationException", imgOwner, imgRegion, "ImportWorkspaceImage", `{"Ec2ImageId":"`+amiWin10+`","IngestionProcess":"BYOL_REGULAR","ImageName":"a"}`)
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiWin10, "a", `,"Tags":[{"Key":"aws:x","Value":"y"}]`))
	// Office 2019 on Windows 11 non-GPU DCV is fine; the name is then taken.
	e.must(imgOwner, imgRegion, "ImportWorkspaceImage", req(amiWin11, "a", `,"Applications":["Microsoft_Office_2019"]`))
	e.fails("ResourceAlreadyExistsException", imgOwner, imgRegion, "ImportWorkspaceImage", req(amiWin10, "a", ""))
	// Names are per account and Region.
	e.enableBYOL(imgOwner, imgRegion2)
	e.must(imgOwner, imgRegion2, "ImportWorkspaceImage", req(amiWin10, "a", ""))
}

func TestImportImageQuota(t *testing.T) {
	e := newImgEnv(t, func(c *config.Config) { c.Quotas.Images = 2 })
	e.enableBYOL(imgOwner, imgRegion)
	e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR", "one")
	e.importImage(imgOwner, imgRegion, amiServer, "BYOL_REGULAR", "two") // ERROR images count too
	e.run()
	e.fails("ResourceLimitExceededException", imgOwner, imgRegion, "ImportWorkspaceImage", `{"Ec2ImageId":"`+amiWin10+`","IngestionProcess":"BYOL_REGULAR","ImageName":"three","ImageDescription":"d"}`)
}

func TestImportImageValidationFailures(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	cases := []struct {
		ami, process string
		want         []string // ErrorDetails codes; none: AVAILABLE
	}{
		{amiWin10, "BYOL_REGULAR", nil},
		{amiWin11, "BYOL_REGULAR_WSP", nil},
		{amiWin11, "BYOL_REGULAR_BYOP", nil},
		{amiServer, "BYOL_REGULAR_BYOP", []string{"OSNotSupported"}},
		{amiWin10N, "BYOL_REGULAR", []string{"OSNotSupported"}},
		{amiI386, "BYOL_REGULAR", []string{"Requires64BitOS"}},
		{amiBig, "BYOL_REGULAR", []string{"DiskSizeExceeded"}},
		{amiWin11, "BYOL_REGULAR", []string{"ProtocolOSIncompatibility"}},
	}
	for i, tc := range cases {
		id := e.importImage(imgOwner, imgRegion, tc.ami, tc.process, fmt.Sprintf("case-%d", i))
		e.run()
		img := e.image(imgOwner, imgRegion, id)
		if tc.want == nil {
			if img["State"] != "AVAILABLE" {
				t.Errorf("case %d: %v, want AVAILABLE", i, img)
			}
			continue
		}
		if img["State"] != "ERROR" || img["ErrorCode"] != tc.want[0] || img["ErrorMessage"] == nil {
			t.Errorf("case %d: %v, want ERROR %v", i, img, tc.want)
			continue
		}
		details := img["ErrorDetails"].([]any)
		var got []string
		for _, d := range details {
			got = append(got, d.(map[string]any)["ErrorCode"].(string))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("case %d: details %v, want %v", i, got, tc.want)
		}
	}
}

func TestDescribeImagesFiltersAndPagination(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR", fmt.Sprintf("img-%d", i)))
	}
	e.run()
	var seen []string
	tok := ""
	for page := 0; ; page++ {
		in := `{"MaxResults":2}`
		if tok != "" {
			in = fmt.Sprintf(`{"MaxResults":2,"NextToken":%q}`, tok)
		}
		out := e.must(imgOwner, imgRegion, "DescribeWorkspaceImages", in)
		for _, im := range out["Images"].([]any) {
			seen = append(seen, im.(map[string]any)["ImageId"].(string))
		}
		if out["NextToken"] == nil {
			if page != 2 {
				t.Fatalf("%d pages, want 3", page+1)
			}
			break
		}
		tok = out["NextToken"].(string)
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %v", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1] >= seen[i] {
			t.Fatalf("not in id order: %v", seen)
		}
	}
	out := e.must(imgOwner, imgRegion, "DescribeWorkspaceImages", fmt.Sprintf(`{"ImageIds":[%q,%q,"wsi-000000000"]}`, ids[0], ids[3]))
	if n := len(out["Images"].([]any)); n != 2 {
		t.Fatalf("by ids: %d images", n)
	}
	if n := len(e.must(imgOwner, imgRegion, "DescribeWorkspaceImages", `{"ImageType":"OWNED"}`)["Images"].([]any)); n != 5 {
		t.Fatalf("OWNED: %d images", n)
	}
	if n := len(e.must(imgOwner, imgRegion, "DescribeWorkspaceImages", `{"ImageType":"SHARED"}`)["Images"].([]any)); n != 0 {
		t.Fatalf("SHARED: %d images", n)
	}
	if n := len(e.must(imgOwner, imgRegion2, "DescribeWorkspaceImages", `{}`)["Images"].([]any)); n != 0 {
		t.Fatalf("other Region: %d images", n)
	}
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "DescribeWorkspaceImages", `{"NextToken":"bm9wZQ"}`)
	e.fails("ValidationException", imgOwner, imgRegion, "DescribeWorkspaceImages", `{"MaxResults":26}`)
	e.fails("ValidationException", imgOwner, imgRegion, "DescribeWorkspaceImages", `{"ImageType":"PUBLIC"}`)
	e.fails("ValidationException", imgOwner, imgRegion, "DescribeWorkspaceImages", `{"ImageIds":["ami-12345678"]}`)
}

// byolDesktop makes an imported image, a bundle and an AVAILABLE desktop on it.
func byolDesktop(e *imgEnv, wsID string) (imageID, bundleID string) {
	e.enableBYOL(imgOwner, imgRegion)
	imageID = e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR_BYOP", "golden-"+wsID)
	e.run()
	bundleID = e.bundle(imgOwner, imgRegion, "bundle-"+wsID, imageID, "STANDARD", "80", "50")
	e.putDesktop(imgOwner, imgRegion, &desktopRec{WorkspaceID: wsID, BundleID: bundleID, State: "AVAILABLE",
		Root: volumeRec{SizeGib: 80, ImageID: imageID}, User: volumeRec{SizeGib: 50}, Created: e.clk.Now(), StateSince: e.clk.Now(),
		Properties: WorkspaceProperties{RunningMode: ptr.To("ALWAYS_ON")}})
	return imageID, bundleID
}

func TestCreateImageFromDesktop(t *testing.T) {
	e := newImgEnv(t)
	_, _ = byolDesktop(e, "ws-abcdefgh1")
	seq := e.desktop(imgOwner, imgRegion, "ws-abcdefgh1").Seq
	out := e.must(imgOwner, imgRegion, "CreateWorkspaceImage", `{"Name":"golden-2","Description":"from ws","WorkspaceId":"ws-abcdefgh1","Tags":[{"Key":"k","Value":"v"}]}`)
	if out["State"] != "PENDING" || out["RequiredTenancy"] != "DEDICATED" || out["OwnerAccountId"] != imgOwner ||
		out["OperatingSystem"].(map[string]any)["Type"] != "WINDOWS" || out["Name"] != "golden-2" || out["Created"] == nil {
		t.Fatalf("CreateWorkspaceImage = %v", out)
	}
	var actions []string
	for _, c := range e.checks {
		actions = append(actions, c.Action+" "+c.Resource)
	}
	wantChecks := []string{"workspaces:CreateWorkspaceImage arn:aws:workspaces:us-east-1:111122223333:workspace/ws-abcdefgh1", "workspaces:CreateWorkspaceImage arn:aws:workspaces:us-east-1:111122223333:workspaceimage/*", "workspaces:CreateTags *"}
	if !reflect.DeepEqual(actions, wantChecks) {
		t.Fatalf("checks = %q", actions)
	}
	w := e.desktop(imgOwner, imgRegion, "ws-abcdefgh1")
	if w.State != "SUSPENDED" || w.PrevState != "AVAILABLE" || w.Seq <= seq || !w.StateSince.Equal(e.clk.Now()) {
		t.Fatalf("desktop during capture: %s prev %s seq %d", w.State, w.PrevState, w.Seq)
	}
	// SUSPENDED desktops cannot be imaged again.
	e.fails("InvalidResourceStateException", imgOwner, imgRegion, "CreateWorkspaceImage", `{"Name":"golden-3","Description":"x","WorkspaceId":"ws-abcdefgh1"}`)
	e.run()
	if img := e.image(imgOwner, imgRegion, out["ImageId"].(string)); img["State"] != "AVAILABLE" {
		t.Fatalf("image after capture = %v", img)
	}
	if w := e.desktop(imgOwner, imgRegion, "ws-abcdefgh1"); w.State != "AVAILABLE" {
		t.Fatalf("desktop after capture: %s", w.State)
	}
	var rec *imageRec
	e.db.View(e.ctx, func(tx store.Tx) error {
		rec, _ = e.m.lookupImage(e.ctx, tx, imgOwner, imgRegion, out["ImageId"].(string))
		return nil
	})
	if rec.Protocol != "BYOP" || rec.SourceWorkspace != "ws-abcdefgh1" || rec.IngestionProcess != "BYOL_REGULAR_BYOP" {
		t.Fatalf("image record = %+v", rec)
	}
	e.fails("ResourceAlreadyExistsException", imgOwner, imgRegion, "CreateWorkspaceImage", `{"Name":"golden-2","Description":"x","WorkspaceId":"ws-abcdefgh1"}`)
}

func TestCreateImageRejections(t *testing.T) {
	e := newImgEnv(t, func(c *config.Config) { c.Quotas.Images = 2 })
	byolDesktop(e, "ws-abcdefgh1")
	base := desktopRec{BundleID: "wsb-nothere00", Root: volumeRec{SizeGib: 80}, User: volumeRec{SizeGib: 10}}
	stopped, enc, busy, gone := base, base, base, base
	stopped.WorkspaceID, stopped.State = "ws-stopped01", "STOPPED"
	enc.WorkspaceID, enc.State, enc.RootEncrypted = "ws-encrypt01", "AVAILABLE", true
	busy.WorkspaceID, busy.State, busy.Modifications = "ws-modifying", "AVAILABLE", []ModificationState{{Resource: "COMPUTE_TYPE", State: "UPDATE_IN_PROGRESS"}}
	gone.WorkspaceID, gone.State = "ws-terminate", "TERMINATED"
	for _, w := range []desktopRec{stopped, enc, busy, gone} {
		w := w
		e.putDesktop(imgOwner, imgRegion, &w)
	}
	req := func(ws string) string {
		return fmt.Sprintf(`{"Name":"img-%s","Description":"d","WorkspaceId":%q}`, ws, ws)
	}
	e.fails("InvalidResourceStateException", imgOwner, imgRegion, "CreateWorkspaceImage", req("ws-stopped01"))
	e.fails("OperationNotSupportedException", imgOwner, imgRegion, "CreateWorkspaceImage", req("ws-encrypt01"))
	e.fails("InvalidResourceStateException", imgOwner, imgRegion, "CreateWorkspaceImage", req("ws-modifying"))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "CreateWorkspaceImage", req("ws-terminate"))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "CreateWorkspaceImage", req("ws-unknown00"))
	e.fails("ValidationException", imgOwner, imgRegion, "CreateWorkspaceImage", `{"Name":"x","WorkspaceId":"ws-abcdefgh1"}`)
	e.must(imgOwner, imgRegion, "CreateWorkspaceImage", req("ws-abcdefgh1")) // second image: at the quota now
	e.run()
	e.fails("ResourceLimitExceededException", imgOwner, imgRegion, "CreateWorkspaceImage", `{"Name":"third","Description":"d","WorkspaceId":"ws-abcdefgh1"}`)
}

func TestCreateImageFromPublicBundleDesktop(t *testing.T) {
	e := newImgEnv(t)
	pub := publicByName(t, "Standard with Windows Server 2022 (WSP)")
	e.putDesktop(imgOwner, imgRegion, &desktopRec{WorkspaceID: "ws-public001", BundleID: pub.BundleID, State: "AVAILABLE",
		Root: volumeRec{SizeGib: 80, ImageID: pub.ImageID}, User: volumeRec{SizeGib: 50}, Properties: WorkspaceProperties{Protocols: []string{"WSP"}}})
	out := e.must(imgOwner, imgRegion, "CreateWorkspaceImage", `{"Name":"shared-golden","Description":"d","WorkspaceId":"ws-public001"}`)
	if out["RequiredTenancy"] != "DEFAULT" {
		t.Fatalf("image from a public bundle: %v", out)
	}
	e.run()
	var rec *imageRec
	e.db.View(e.ctx, func(tx store.Tx) error {
		rec, _ = e.m.lookupImage(e.ctx, tx, imgOwner, imgRegion, out["ImageId"].(string))
		return nil
	})
	if rec.State != "AVAILABLE" || rec.Protocol != "WSP" || rec.OSName != "WINDOWS_SERVER_2022" || rec.IngestionProcess != "" {
		t.Fatalf("record = %+v", rec)
	}
	// A shared-tenancy image makes a bundle with any compute type.
	e.bundle(imgOwner, imgRegion, "shared-b", rec.ImageID, "GRAPHICS_G4DN", "100", "100")
}

func TestCopyImageAcrossRegions(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	src := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR_WSP", "golden")
	copyReq := fmt.Sprintf(`{"Name":"golden-west","SourceImageId":%q,"SourceRegion":%q,"Tags":[{"Key":"team","Value":"vdi"}]}`, src, imgRegion)
	e.fails("ResourceUnavailableException", imgOwner, imgRegion2, "CopyWorkspaceImage", copyReq) // still PENDING
	e.run()
	// BYOL images only to BYOL-enabled Regions.
	e.fails("AccessDeniedException", imgOwner, imgRegion2, "CopyWorkspaceImage", copyReq)
	e.enableBYOL(imgOwner, imgRegion2)
	out := e.must(imgOwner, imgRegion2, "CopyWorkspaceImage", copyReq)
	if len(e.checks) != 1 || e.checks[0].Resource != "arn:aws:workspaces:us-east-1:111122223333:workspaceimage/"+src || e.checks[0].RequestTags["team"] != "vdi" {
		t.Fatalf("copy checks = %+v", e.checks)
	}
	id := out["ImageId"].(string)
	if id == src {
		t.Fatal("copy kept the source id")
	}
	img := e.image(imgOwner, imgRegion2, id)
	if img["State"] != "PENDING" || img["RequiredTenancy"] != "DEDICATED" || img["Description"] != "Windows 10 Enterprise" {
		t.Fatalf("copy = %v", img)
	}
	e.run()
	if img := e.image(imgOwner, imgRegion2, id); img["State"] != "AVAILABLE" {
		t.Fatalf("copy after job = %v", img)
	}
	e.fails("ResourceAlreadyExistsException", imgOwner, imgRegion2, "CopyWorkspaceImage", copyReq)
	// Same-Region copy.
	e.must(imgOwner, imgRegion, "CopyWorkspaceImage", fmt.Sprintf(`{"Name":"golden-2","Description":"second","SourceImageId":%q,"SourceRegion":%q}`, src, imgRegion))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion2, "CopyWorkspaceImage", fmt.Sprintf(`{"Name":"x","SourceImageId":"wsi-000000000","SourceRegion":%q}`, imgRegion))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion2, "CopyWorkspaceImage", fmt.Sprintf(`{"Name":"x","SourceImageId":%q,"SourceRegion":"eu-west-1"}`, src))
}

func TestImageSharing(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	id := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR_BYOP", "golden")
	share := func(acct string, allow bool) string {
		return fmt.Sprintf(`{"ImageId":%q,"AllowCopyImage":%t,"SharedAccountId":%q}`, id, allow, acct)
	}
	e.fails("ResourceUnavailableException", imgOwner, imgRegion, "UpdateWorkspaceImagePermission", share(imgRecipient, true)) // PENDING
	e.run()
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "UpdateWorkspaceImagePermission", share(imgOwner, true))
	// BYOL images only to BYOL-enabled accounts.
	e.fails("OperationNotSupportedException", imgOwner, imgRegion, "UpdateWorkspaceImagePermission", share(imgRecipient, true))
	e.fails("ValidationException", imgOwner, imgRegion, "UpdateWorkspaceImagePermission", fmt.Sprintf(`{"ImageId":%q,"AllowCopyImage":true,"SharedAccountId":"12345"}`, id))
	e.fails("ValidationException", imgOwner, imgRegion, "UpdateWorkspaceImagePermission", fmt.Sprintf(`{"ImageId":%q,"SharedAccountId":%q}`, id, imgRecipient))
	e.enableBYOL(imgRecipient, imgRegion)
	e.must(imgOwner, imgRegion, "UpdateWorkspaceImagePermission", share(imgRecipient, true))
	if e.checks[0].Resource != "arn:aws:workspaces:us-east-1:111122223333:workspaceimage/"+id {
		t.Fatalf("share checks = %+v", e.checks)
	}
	perms := e.must(imgOwner, imgRegion, "DescribeWorkspaceImagePermissions", fmt.Sprintf(`{"ImageId":%q}`, id))
	if !reflect.DeepEqual(perms["ImagePermissions"], []any{map[string]any{"SharedAccountId": imgRecipient}}) || perms["ImageId"] != id {
		t.Fatalf("permissions = %v", perms)
	}
	e.fails("ResourceNotFoundException", imgRecipient, imgRegion, "DescribeWorkspaceImagePermissions", fmt.Sprintf(`{"ImageId":%q}`, id))

	// The recipient sees it as SHARED with the owner's account and original date.
	shared := e.must(imgRecipient, imgRegion, "DescribeWorkspaceImages", `{"ImageType":"SHARED"}`)["Images"].([]any)
	if len(shared) != 1 || shared[0].(map[string]any)["ImageId"] != id || shared[0].(map[string]any)["OwnerAccountId"] != imgOwner {
		t.Fatalf("recipient SHARED = %v", shared)
	}
	if owned := e.must(imgRecipient, imgRegion, "DescribeWorkspaceImages", `{"ImageType":"OWNED"}`)["Images"].([]any); len(owned) != 0 {
		t.Fatalf("recipient OWNED = %v", owned)
	}
	if all := e.must(imgRecipient, imgRegion, "DescribeWorkspaceImages", `{}`)["Images"].([]any); len(all) != 1 {
		t.Fatalf("recipient all = %v", all)
	}
	if img := e.image(imgRecipient, imgRegion2, id); img != nil {
		t.Fatalf("sharing is per Region; recipient sees %v in %s", img, imgRegion2)
	}
	// No re-sharing, no bundle before copying, no delete by the recipient.
	e.fails("OperationNotSupportedException", imgRecipient, imgRegion, "UpdateWorkspaceImagePermission", fmt.Sprintf(`{"ImageId":%q,"AllowCopyImage":true,"SharedAccountId":"999988887777"}`, id))
	e.fails("InvalidParameterValuesException", imgRecipient, imgRegion, "CreateWorkspaceBundle", fmt.Sprintf(`{"BundleName":"b","BundleDescription":"d","ImageId":%q,"ComputeType":{"Name":"STANDARD"},"UserStorage":{"Capacity":"50"}}`, id))
	e.fails("AccessDeniedException", imgRecipient, imgRegion, "DeleteWorkspaceImage", fmt.Sprintf(`{"ImageId":%q}`, id))
	// The owner cannot delete a shared image.
	e.fails("ResourceAssociatedException", imgOwner, imgRegion, "DeleteWorkspaceImage", fmt.Sprintf(`{"ImageId":%q}`, id))

	// The recipient copies it (IAM resource uses * as account) and owns the copy.
	out := e.must(imgRecipient, imgRegion, "CopyWorkspaceImage", fmt.Sprintf(`{"Name":"my-golden","SourceImageId":%q,"SourceRegion":%q}`, id, imgRegion))
	if e.checks[0].Resource != "arn:aws:workspaces:us-east-1:*:workspaceimage/"+id || e.checks[0].ResourceAccount != imgRecipient {
		t.Fatalf("shared copy checks = %+v", e.checks)
	}
	e.run()
	copyID := out["ImageId"].(string)
	if img := e.image(imgRecipient, imgRegion, copyID); img["OwnerAccountId"] != imgRecipient || img["State"] != "AVAILABLE" {
		t.Fatalf("recipient copy = %v", img)
	}

	// Unshare: the recipient no longer sees (or copies) it; its copy stays.
	e.must(imgOwner, imgRegion, "UpdateWorkspaceImagePermission", share(imgRecipient, false))
	if img := e.image(imgRecipient, imgRegion, id); img != nil {
		t.Fatalf("after unshare the recipient sees %v", img)
	}
	e.fails("ResourceNotFoundException", imgRecipient, imgRegion, "CopyWorkspaceImage", fmt.Sprintf(`{"Name":"again","SourceImageId":%q,"SourceRegion":%q}`, id, imgRegion))
	if img := e.image(imgRecipient, imgRegion, copyID); img == nil {
		t.Fatal("the recipient's copy disappeared with the unshare")
	}
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "UpdateWorkspaceImagePermission", share(imgRecipient, false))
	perms = e.must(imgOwner, imgRegion, "DescribeWorkspaceImagePermissions", fmt.Sprintf(`{"ImageId":%q}`, id))
	if len(perms["ImagePermissions"].([]any)) != 0 {
		t.Fatalf("permissions after unshare = %v", perms)
	}
	e.must(imgOwner, imgRegion, "DeleteWorkspaceImage", fmt.Sprintf(`{"ImageId":%q}`, id))
}

func TestImagePermissionsPagination(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	id := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR", "golden")
	e.run()
	for i := 0; i < 3; i++ {
		acct := fmt.Sprintf("55556666777%d", i)
		e.enableBYOL(acct, imgRegion)
		e.must(imgOwner, imgRegion, "UpdateWorkspaceImagePermission", fmt.Sprintf(`{"ImageId":%q,"AllowCopyImage":true,"SharedAccountId":%q}`, id, acct))
	}
	p1 := e.must(imgOwner, imgRegion, "DescribeWorkspaceImagePermissions", fmt.Sprintf(`{"ImageId":%q,"MaxResults":2}`, id))
	p2 := e.must(imgOwner, imgRegion, "DescribeWorkspaceImagePermissions", fmt.Sprintf(`{"ImageId":%q,"MaxResults":2,"NextToken":%q}`, id, p1["NextToken"]))
	if len(p1["ImagePermissions"].([]any)) != 2 || len(p2["ImagePermissions"].([]any)) != 1 || p2["NextToken"] != nil {
		t.Fatalf("pages %v / %v", p1, p2)
	}
}

func TestDeleteImage(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	id := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR", "golden")
	del := fmt.Sprintf(`{"ImageId":%q}`, id)
	e.fails("InvalidResourceStateException", imgOwner, imgRegion, "DeleteWorkspaceImage", del)
	e.run()
	b := e.bundle(imgOwner, imgRegion, "b1", id, "VALUE", "80", "10")
	e.fails("ResourceAssociatedException", imgOwner, imgRegion, "DeleteWorkspaceImage", del)
	e.must(imgOwner, imgRegion, "DeleteWorkspaceBundle", fmt.Sprintf(`{"BundleId":%q}`, b))
	e.must(imgOwner, imgRegion, "DeleteWorkspaceImage", del)
	if img := e.image(imgOwner, imgRegion, id); img != nil {
		t.Fatalf("deleted image still listed: %v", img)
	}
	e.must(imgOwner, imgRegion, "DeleteWorkspaceImage", del) // no ResourceNotFound in the model: a no-op
	// ERROR images can be deleted, and the name is free again.
	bad := e.importImage(imgOwner, imgRegion, amiServer, "BYOL_REGULAR", "golden")
	e.run()
	e.must(imgOwner, imgRegion, "DeleteWorkspaceImage", fmt.Sprintf(`{"ImageId":%q}`, bad))
}

func TestCreateAndDescribeBundles(t *testing.T) {
	e := newImgEnv(t)
	e.enableBYOL(imgOwner, imgRegion)
	img := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR_BYOP", "golden")
	e.fails("ResourceUnavailableException", imgOwner, imgRegion, "CreateWorkspaceBundle", fmt.Sprintf(`{"BundleName":"b","BundleDescription":"d","ImageId":%q,"ComputeType":{"Name":"STANDARD"},"UserStorage":{"Capacity":"50"}}`, img))
	e.run()
	out := e.must(imgOwner, imgRegion, "CreateWorkspaceBundle", fmt.Sprintf(`{"BundleName":"core-standard","BundleDescription":"Core standard","ImageId":%q,"ComputeType":{"Name":"STANDARD"},"UserStorage":{"Capacity":"50"},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}`, img))
	b := out["WorkspaceBundle"].(map[string]any)
	want := map[string]any{"Name": "core-standard", "Owner": imgOwner, "Description": "Core standard", "ImageId": img, "State": "AVAILABLE", "BundleType": "REGULAR",
		"ComputeType": map[string]any{"Name": "STANDARD"}, "RootStorage": map[string]any{"Capacity": "80"}, "UserStorage": map[string]any{"Capacity": "50"}}
	for k, v := range want {
		if !reflect.DeepEqual(b[k], v) {
			t.Errorf("bundle %s = %v, want %v", k, b[k], v)
		}
	}
	if b["CreationTime"] == nil || b["LastUpdatedTime"] == nil || !regexp.MustCompile(`^wsb-[0-9a-z]{8,63}$`).MatchString(b["BundleId"].(string)) {
		t.Fatalf("bundle = %v", b)
	}
	var res []string
	for _, c := range e.checks {
		res = append(res, c.Action+" "+c.Resource)
	}
	if !reflect.DeepEqual(res, []string{"workspaces:CreateWorkspaceBundle arn:aws:workspaces:us-east-1:111122223333:workspacebundle/*", "workspaces:CreateWorkspaceBundle arn:aws:workspaces:us-east-1:111122223333:workspaceimage/" + img, "workspaces:CreateTags *"}) ||
		e.checks[0].RequestTags["PartnerManaged"] != "true" {
		t.Fatalf("bundle checks = %q", res)
	}
	id := b["BundleId"].(string)
	req := func(name, compute, root, user string) string {
		r := ""
		if root != "" {
			r = fmt.Sprintf(`,"RootStorage":{"Capacity":%q}`, root)
		}
		return fmt.Sprintf(`{"BundleName":%q,"BundleDescription":"d","ImageId":%q,"ComputeType":{"Name":%q},"UserStorage":{"Capacity":%q}%s}`, name, img, compute, user, r)
	}
	e.fails("ResourceAlreadyExistsException", imgOwner, imgRegion, "CreateWorkspaceBundle", req("core-standard", "STANDARD", "80", "50"))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "CreateWorkspaceBundle", strings.Replace(req("x", "STANDARD", "80", "50"), img, "wsi-000000000", 1))
	e.fails("ValidationException", imgOwner, imgRegion, "CreateWorkspaceBundle", req("x", "HUGE", "80", "50"))
	e.fails("ValidationException", imgOwner, imgRegion, "CreateWorkspaceBundle", fmt.Sprintf(`{"BundleName":"x","BundleDescription":"d","ImageId":%q,"ComputeType":{"Name":"VALUE"}}`, img))
	// Storage combinations [80,10] [80,50] [80,100] [175-2000,100-2000]; Graphics [100,100].
	storage := []struct {
		compute, root, user string
		ok                  bool
	}{
		{"VALUE", "80", "10", true}, {"PERFORMANCE", "80", "100", true}, {"POWER", "175", "100", true}, {"POWERPRO", "2000", "2000", true},
		{"STANDARD", "", "10", true}, {"STANDARD", "80", "20", false}, {"STANDARD", "100", "100", false}, {"STANDARD", "175", "50", false},
		{"STANDARD", "2001", "100", false}, {"STANDARD", "80.5", "10", false}, {"STANDARD", "abc", "10", false}, {"STANDARD", "80", "-10", false},
		{"STANDARD", "60", "10", false}, // smaller than the image's 80 GB root volume
	}
	for i, s := range storage {
		_, err := e.call(imgOwner, imgRegion, "CreateWorkspaceBundle", req(fmt.Sprintf("s%d", i), s.compute, s.root, s.user))
		if s.ok && err != nil || !s.ok && (err == nil || awsproto.As(err).Code != "InvalidParameterValuesException") {
			t.Errorf("storage %+v: err %v", s, err)
		}
	}
	// A BYOL_REGULAR* image is for non-GPU bundles only.
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "CreateWorkspaceBundle", req("gpu", "GRAPHICS_G4DN", "100", "100"))

	// Own bundles (no Owner, or the own account id), by id, and AMAZON.
	own := e.must(imgOwner, imgRegion, "DescribeWorkspaceBundles", `{}`)["Bundles"].([]any)
	if len(own) != 6 {
		t.Fatalf("own bundles: %d", len(own))
	}
	if n := len(e.must(imgOwner, imgRegion, "DescribeWorkspaceBundles", `{"Owner":"`+imgOwner+`"}`)["Bundles"].([]any)); n != 6 {
		t.Fatalf("Owner=self: %d", n)
	}
	if n := len(e.must(imgRecipient, imgRegion, "DescribeWorkspaceBundles", `{}`)["Bundles"].([]any)); n != 0 {
		t.Fatalf("another account sees %d bundles", n)
	}
	pub := publicByName(t, "Value with Amazon Linux 2")
	byID := e.must(imgOwner, imgRegion, "DescribeWorkspaceBundles", fmt.Sprintf(`{"BundleIds":[%q,%q,"wsb-000000000"]}`, id, pub.BundleID))["Bundles"].([]any)
	if len(byID) != 2 || byID[1].(map[string]any)["Owner"] != "AMAZON" {
		t.Fatalf("by ids = %v", byID)
	}
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "DescribeWorkspaceBundles", fmt.Sprintf(`{"BundleIds":[%q],"Owner":"AMAZON"}`, id))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "DescribeWorkspaceBundles", `{"Owner":"999988887777"}`)
	e.fails("ValidationException", imgOwner, imgRegion, "DescribeWorkspaceBundles", `{"BundleIds":["nope"]}`)
}

func TestDescribeAmazonBundles(t *testing.T) {
	e := newImgEnv(t)
	var all []map[string]any
	tok := ""
	pages := 0
	for {
		in := `{"Owner":"AMAZON"}`
		if tok != "" {
			in = fmt.Sprintf(`{"Owner":"AMAZON","NextToken":%q}`, tok)
		}
		out := e.must(imgOwner, imgRegion2, "DescribeWorkspaceBundles", in)
		pages++
		bs := out["Bundles"].([]any)
		if len(bs) > 25 {
			t.Fatalf("page of %d bundles", len(bs))
		}
		for _, b := range bs {
			all = append(all, b.(map[string]any))
		}
		if out["NextToken"] == nil {
			break
		}
		tok = out["NextToken"].(string)
	}
	if len(all) != len(publicCatalog.order) || pages < 2 {
		t.Fatalf("%d public bundles in %d pages, catalogue has %d", len(all), pages, len(publicCatalog.order))
	}
	names := map[string]bool{}
	for _, b := range all {
		if b["Owner"] != "AMAZON" || b["State"] != "AVAILABLE" || b["BundleType"] != "REGULAR" || b["CreationTime"] == nil || b["LastUpdatedTime"] == nil ||
			!regexp.MustCompile(`^wsb-[0-9a-z]{8,63}$`).MatchString(b["BundleId"].(string)) || !regexp.MustCompile(`^wsi-[0-9a-z]{9,63}$`).MatchString(b["ImageId"].(string)) {
			t.Fatalf("public bundle = %v", b)
		}
		names[b["Name"].(string)] = true
	}
	for _, n := range []string{"Value with Windows Server 2019", "Standard with Windows Server 2022 (WSP)", "Performance with Windows 10 (Server 2022 based)",
		"Power with Windows 11 (Server 2022 based) (WSP)", "PowerPro with Amazon Linux 2", "Standard with Ubuntu 22.04 (WSP)", "Graphics.g4dn with Windows Server 2022"} {
		if !names[n] {
			t.Errorf("missing public bundle %q", n)
		}
	}
	// The same bundles, with the same ids, in every Region.
	first := e.must(imgOwner, imgRegion, "DescribeWorkspaceBundles", `{"Owner":"AMAZON"}`)["Bundles"].([]any)
	if first[0].(map[string]any)["BundleId"] != all[0]["BundleId"] {
		t.Fatal("public bundle ids differ between Regions")
	}
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "DescribeWorkspaceBundles", `{"Owner":"AMAZON","NextToken":"bm9wZQ"}`)
}

func TestBundleQuota(t *testing.T) {
	e := newImgEnv(t, func(c *config.Config) { c.Quotas.Bundles = 1 })
	e.enableBYOL(imgOwner, imgRegion)
	img := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR", "golden")
	e.run()
	e.bundle(imgOwner, imgRegion, "one", img, "VALUE", "80", "10")
	e.fails("ResourceLimitExceededException", imgOwner, imgRegion, "CreateWorkspaceBundle", fmt.Sprintf(`{"BundleName":"two","BundleDescription":"d","ImageId":%q,"ComputeType":{"Name":"VALUE"},"UserStorage":{"Capacity":"10"}}`, img))
}

func TestUpdateAndDeleteBundle(t *testing.T) {
	e := newImgEnv(t)
	img1, b := byolDesktop(e, "ws-abcdefgh1")
	img2 := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR_BYOP", "golden-v2")
	upd := func(bundle, image string) string { return fmt.Sprintf(`{"BundleId":%q,"ImageId":%q}`, bundle, image) }
	e.fails("ResourceUnavailableException", imgOwner, imgRegion, "UpdateWorkspaceBundle", upd(b, img2))
	e.run()
	e.clk.Advance(time.Hour)
	e.must(imgOwner, imgRegion, "UpdateWorkspaceBundle", upd(b, img2))
	if len(e.checks) != 2 || !strings.HasSuffix(e.checks[0].Resource, "workspacebundle/"+b) || !strings.HasSuffix(e.checks[1].Resource, "workspaceimage/"+img2) {
		t.Fatalf("update checks = %+v", e.checks)
	}
	got := e.must(imgOwner, imgRegion, "DescribeWorkspaceBundles", fmt.Sprintf(`{"BundleIds":[%q]}`, b))["Bundles"].([]any)[0].(map[string]any)
	if got["ImageId"] != img2 || got["LastUpdatedTime"] == got["CreationTime"] {
		t.Fatalf("updated bundle = %v", got)
	}
	// Incompatible images: another protocol, shared tenancy.
	wsp := e.importImage(imgOwner, imgRegion, amiWin10, "BYOL_REGULAR_WSP", "golden-wsp")
	pub := publicByName(t, "Standard with Windows Server 2022")
	e.putDesktop(imgOwner, imgRegion, &desktopRec{WorkspaceID: "ws-public001", BundleID: pub.BundleID, State: "AVAILABLE", Root: volumeRec{SizeGib: 80}})
	shared := e.must(imgOwner, imgRegion, "CreateWorkspaceImage", `{"Name":"shared-img","Description":"d","WorkspaceId":"ws-public001"}`)["ImageId"].(string)
	e.run()
	e.fails("OperationNotSupportedException", imgOwner, imgRegion, "UpdateWorkspaceBundle", upd(b, wsp))
	e.fails("OperationNotSupportedException", imgOwner, imgRegion, "UpdateWorkspaceBundle", upd(b, shared))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "UpdateWorkspaceBundle", upd(b, "wsi-000000000"))
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "UpdateWorkspaceBundle", upd("wsb-00000000", img1))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "UpdateWorkspaceBundle", upd(pub.BundleID, img1))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "UpdateWorkspaceBundle", fmt.Sprintf(`{"BundleId":%q}`, b))

	// Delete: refused while a live desktop uses the bundle.
	del := fmt.Sprintf(`{"BundleId":%q}`, b)
	e.fails("ResourceAssociatedException", imgOwner, imgRegion, "DeleteWorkspaceBundle", del)
	w := e.desktop(imgOwner, imgRegion, "ws-abcdefgh1")
	w.State = "TERMINATED"
	e.putDesktop(imgOwner, imgRegion, w)
	e.must(imgOwner, imgRegion, "DeleteWorkspaceBundle", del)
	e.fails("ResourceNotFoundException", imgOwner, imgRegion, "DeleteWorkspaceBundle", del)
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "DeleteWorkspaceBundle", fmt.Sprintf(`{"BundleId":%q}`, pub.BundleID))
	e.fails("InvalidParameterValuesException", imgOwner, imgRegion, "DeleteWorkspaceBundle", `{}`)
	// The name is free again.
	e.bundle(imgOwner, imgRegion, "bundle-ws-abcdefgh1", img1, "STANDARD", "80", "50")
}

func TestLookupHelpers(t *testing.T) {
	e := newImgEnv(t)
	img, b := byolDesktop(e, "ws-abcdefgh1")
	pub := publicByName(t, "Standard with Ubuntu 22.04 (WSP)")
	e.db.View(e.ctx, func(tx store.Tx) error {
		if got, _ := e.m.lookupBundle(e.ctx, tx, imgOwner, imgRegion, b); got == nil || got.Owner != imgOwner {
			t.Errorf("own bundle: %+v", got)
		}
		if got, _ := e.m.lookupBundle(e.ctx, tx, imgRecipient, imgRegion, b); got != nil {
			t.Errorf("another account's bundle: %+v", got)
		}
		if got, _ := e.m.lookupBundle(e.ctx, tx, imgRecipient, "eu-west-1", pub.BundleID); got == nil || got.Owner != "AMAZON" || got.ComputeType != "STANDARD" {
			t.Errorf("public bundle: %+v", got)
		}
		if got, _ := e.m.lookupImage(e.ctx, tx, imgRecipient, imgRegion, pub.ImageID); got == nil || got.OSName != "UBUNTU_22_04" || got.Protocol != "WSP" || got.OperatingSystem != "LINUX" {
			t.Errorf("public image: %+v", got)
		}
		if got, _ := e.m.lookupImage(e.ctx, tx, imgRecipient, imgRegion, img); got != nil {
			t.Errorf("unshared image visible: %+v", got)
		}
		if used, _ := e.m.bundleInUse(e.ctx, tx, imgOwner, imgRegion, b); !used {
			t.Error("bundleInUse = false")
		}
		if used, _ := e.m.imageInUse(e.ctx, tx, imgOwner, imgRegion, img); !used {
			t.Error("imageInUse = false")
		}
		return nil
	})
}

func TestPublicCatalogue(t *testing.T) {
	if stableID("wsb-", "x") != stableID("wsb-", "x") || stableID("wsb-", "x") == stableID("wsb-", "y") {
		t.Fatal("stableID is not stable or not distinct")
	}
	names := map[string]bool{}
	for _, id := range publicCatalog.order {
		b := publicCatalog.bundles[id]
		if names[b.Name] {
			t.Errorf("duplicate name %s", b.Name)
		}
		names[b.Name] = true
		img := publicCatalog.images[b.ImageID]
		if img == nil {
			t.Fatalf("bundle %s has no image", b.Name)
		}
		root, user := 0, 0
		fmt.Sscan(b.RootCapacity, &root)
		fmt.Sscan(b.UserCapacity, &user)
		if err := checkBundleStorage(root, user, b.ComputeType, img.RootVolumeSize); err != nil {
			t.Errorf("%s: %v", b.Name, err)
		}
	}
	if len(publicCatalog.bundles) != len(publicCatalog.order) {
		t.Fatal("bundle id collision")
	}
}

// publicByName returns the public bundle with that name.
func publicByName(t *testing.T, name string) *bundleRec {
	t.Helper()
	for _, b := range publicCatalog.bundles {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("no public bundle %q", name)
	return nil
}
