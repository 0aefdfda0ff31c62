package broker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// Onboarder runs the partner guide's infrastructure setup as one resumable,
// idempotent sequence of steps. Each step first looks at the account and is
// skipped (and says so) when already done, so a second run changes nothing
// and a run after a failure picks up where it stopped.
type Onboarder struct {
	C   *Clients
	Cfg Onboarding
	// CIDRConstraint bounds ListAvailableManagementCidrRanges (default 10.0.0.0/8).
	CIDRConstraint string
	// Out receives progress; In answers prompts (nil: no prompting, every
	// choice must be configured).
	Out io.Writer
	In  *bufio.Reader
	// Poll is the interval between status checks (default 5s).
	Poll time.Duration
	// Timeout bounds each wait (default 2h: image imports are slow).
	Timeout time.Duration
	// Ports are the protocol plans' TCP ports the security-group step
	// lets in (Config.ProtocolPorts).
	Ports []int32
}

// OnboardResult names what onboarding set up.
type OnboardResult struct {
	CIDR        string
	ImageID     string
	DirectoryID string
	BundleID    string
	// SecurityGroupID is the directory's custom security group.
	SecurityGroupID string
	// Skipped lists the steps that were already done.
	Skipped []string
	// Done lists the steps performed.
	Done []string
}

func (o *Onboarder) printf(format string, a ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format, a...)
	}
}

func (o *Onboarder) skip(r *OnboardResult, step, why string) {
	r.Skipped = append(r.Skipped, step)
	o.printf("  ✓ %s: already done (%s), skipped\n", step, why)
}

func (o *Onboarder) done(r *OnboardResult, step, what string) {
	r.Done = append(r.Done, step)
	o.printf("  ✓ %s: %s\n", step, what)
}

// choose returns the configured value or asks the operator to pick one of
// options (by number or value).
func (o *Onboarder) choose(what, configured string, options []string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if len(options) == 0 {
		return "", fmt.Errorf("no %s to choose from", what)
	}
	if o.In == nil {
		return "", fmt.Errorf("choose a %s (flag or config) — options: %s", what, strings.Join(options, ", "))
	}
	for {
		o.printf("choose a %s [1-%d or value]: ", what, len(options))
		line, err := o.In.ReadString('\n')
		line = strings.TrimSpace(line)
		if line != "" {
			if n, e := strconv.Atoi(line); e == nil && n >= 1 && n <= len(options) {
				return options[n-1], nil
			}
			for _, opt := range options {
				if opt == line {
					return opt, nil
				}
			}
			o.printf("  %q is not one of the options\n", line)
		}
		if err != nil {
			return "", fmt.Errorf("no %s chosen: %w", what, err)
		}
	}
}

func (o *Onboarder) wait(ctx context.Context, what string, f func() (done bool, status string, err error)) error {
	poll, timeout := o.Poll, o.Timeout
	if poll <= 0 {
		poll = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = 2 * time.Hour
	}
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		done, status, err := f()
		if err != nil {
			return err
		}
		if status != last {
			o.printf("    %s: %s\n", what, status)
			last = status
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: still %s after %s", what, status, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Run runs every step.
func (o *Onboarder) Run(ctx context.Context) (*OnboardResult, error) {
	r := &OnboardResult{}
	steps := []struct {
		name string
		f    func(context.Context, *OnboardResult) error
	}{
		{"byol", o.byol},
		{"image", o.image},
		{"directory", o.directory},
		{"bundle", o.bundle},
		{"security-group", o.securityGroup},
	}
	for i, s := range steps {
		o.printf("[%d/%d] %s\n", i+1, len(steps), s.name)
		if err := s.f(ctx, r); err != nil {
			return r, fmt.Errorf("onboard %s: %w", s.name, err)
		}
	}
	o.printf("onboarding complete: image %s, directory %s, bundle %s, security group %s\n", r.ImageID, r.DirectoryID, r.BundleID, r.SecurityGroupID)
	return r, nil
}

// byol enables BYOL with a management CIDR range unless configured.
func (o *Onboarder) byol(ctx context.Context, r *OnboardResult) error {
	ws := o.C.WorkSpaces
	state := func() (types.AccountModification, error) {
		mods, err := ws.DescribeAccountModifications(ctx, &workspaces.DescribeAccountModificationsInput{})
		if err != nil {
			return types.AccountModification{}, fmt.Errorf("DescribeAccountModifications: %w", err)
		}
		var last types.AccountModification
		for _, m := range mods.AccountModifications {
			if m.DedicatedTenancySupport == types.DedicatedTenancySupportResultEnumEnabled &&
				m.ModificationState != types.DedicatedTenancyModificationStateEnumFailed {
				if m.ModificationState == types.DedicatedTenancyModificationStateEnumCompleted || last.ModificationState == "" {
					last = m
				}
			}
		}
		return last, nil
	}
	m, err := state()
	if err != nil {
		return err
	}
	if m.ModificationState == types.DedicatedTenancyModificationStateEnumCompleted {
		r.CIDR = aws.ToString(m.DedicatedTenancyManagementCidrRange)
		o.skip(r, "byol", "BYOL enabled with management CIDR "+r.CIDR)
		return nil
	}
	if m.ModificationState != types.DedicatedTenancyModificationStateEnumPending {
		constraint := o.CIDRConstraint
		if constraint == "" {
			constraint = "10.0.0.0/8"
		}
		var ranges []string
		var tok *string
		for len(ranges) < 20 {
			pg, err := ws.ListAvailableManagementCidrRanges(ctx, &workspaces.ListAvailableManagementCidrRangesInput{
				ManagementCidrRangeConstraint: aws.String(constraint), NextToken: tok})
			if err != nil {
				return fmt.Errorf("ListAvailableManagementCidrRanges: %w", err)
			}
			ranges = append(ranges, pg.ManagementCidrRanges...)
			if len(ranges) > 20 {
				ranges = ranges[:20]
			}
			if tok = pg.NextToken; tok == nil {
				break
			}
		}
		if o.Cfg.CIDR == "" {
			o.printf("  available management CIDR ranges (this cannot be changed once configured):\n")
			for i, c := range ranges {
				o.printf("    %2d) %s\n", i+1, c)
			}
		}
		cidr, err := o.choose("management CIDR range", o.Cfg.CIDR, ranges)
		if err != nil {
			return err
		}
		if _, err := ws.ModifyAccount(ctx, &workspaces.ModifyAccountInput{
			DedicatedTenancySupport:             types.DedicatedTenancySupportEnumEnabled,
			DedicatedTenancyManagementCidrRange: aws.String(cidr),
		}); err != nil {
			return fmt.Errorf("ModifyAccount: %w", err)
		}
		o.printf("    ModifyAccount: BYOL with management CIDR %s requested\n", cidr)
	}
	err = o.wait(ctx, "account modification", func() (bool, string, error) {
		m, err := state()
		if err != nil {
			return false, "", err
		}
		r.CIDR = aws.ToString(m.DedicatedTenancyManagementCidrRange)
		if m.ModificationState == "" {
			return false, "", errors.New("the account modification failed")
		}
		return m.ModificationState == types.DedicatedTenancyModificationStateEnumCompleted, string(m.ModificationState), nil
	})
	if err != nil {
		return err
	}
	o.done(r, "byol", "BYOL enabled with management CIDR "+r.CIDR)
	return nil
}

func (o *Onboarder) imageName() string {
	if o.Cfg.ImageName != "" {
		return o.Cfg.ImageName
	}
	return "deskplane-byol-image"
}

func (o *Onboarder) findImage(ctx context.Context) (*types.WorkspaceImage, error) {
	var tok *string
	for {
		pg, err := o.C.WorkSpaces.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{NextToken: tok})
		if err != nil {
			return nil, fmt.Errorf("DescribeWorkspaceImages: %w", err)
		}
		for i := range pg.Images {
			if aws.ToString(pg.Images[i].Name) == o.imageName() {
				return &pg.Images[i], nil
			}
		}
		if tok = pg.NextToken; tok == nil {
			return nil, nil
		}
	}
}

// ListImportableImages lists the account's own AMIs as the guide says:
// image-type machine, state available, virtualization-type hvm, and not
// encrypted (encrypted AMIs cannot be imported).
func ListImportableImages(ctx context.Context, c EC2API) ([]ec2types.Image, error) {
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners: []string{"self"},
		Filters: []ec2types.Filter{
			{Name: aws.String("image-type"), Values: []string{"machine"}},
			{Name: aws.String("state"), Values: []string{"available"}},
			{Name: aws.String("virtualization-type"), Values: []string{"hvm"}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("DescribeImages: %w", err)
	}
	var imgs []ec2types.Image
	for _, im := range out.Images {
		if !imageEncrypted(im) {
			imgs = append(imgs, im)
		}
	}
	return imgs, nil
}

// amiByName returns the id of the importable AMI named configured (the
// configuration may name the AMI instead of giving its id), or configured
// itself when it is an id or empty.
func amiByName(configured string, imgs []ec2types.Image) (string, error) {
	if configured == "" || strings.HasPrefix(configured, "ami-") {
		return configured, nil
	}
	var names []string
	for _, im := range imgs {
		if aws.ToString(im.Name) == configured {
			return aws.ToString(im.ImageId), nil
		}
		names = append(names, aws.ToString(im.Name))
	}
	return "", fmt.Errorf("no importable AMI is named %q (importable: %s)", configured, strings.Join(names, ", "))
}

func imageEncrypted(im ec2types.Image) bool {
	for _, bd := range im.BlockDeviceMappings {
		if bd.Ebs != nil && aws.ToBool(bd.Ebs.Encrypted) {
			return true
		}
	}
	return false
}

func rootVolume(im ec2types.Image) (string, int32) {
	for _, bd := range im.BlockDeviceMappings {
		if bd.Ebs != nil && (aws.ToString(bd.DeviceName) == aws.ToString(im.RootDeviceName) || len(im.BlockDeviceMappings) == 1) {
			return string(bd.Ebs.VolumeType), aws.ToInt32(bd.Ebs.VolumeSize)
		}
	}
	if len(im.BlockDeviceMappings) > 0 && im.BlockDeviceMappings[0].Ebs != nil {
		e := im.BlockDeviceMappings[0].Ebs
		return string(e.VolumeType), aws.ToInt32(e.VolumeSize)
	}
	return "", 0
}

// PrintImages shows the guide's fields of each AMI.
func PrintImages(w io.Writer, imgs []ec2types.Image) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tImageId\tName\tDescription\tPlatformDetails\tVirtualizationType\tEnaSupport\tHypervisor\tState\tVolumeType\tVolumeSize\tOwnerId\tImageType")
	for i, im := range imgs {
		vt, vs := rootVolume(im)
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%t\t%s\t%s\t%s\t%d\t%s\t%s\n", i+1, aws.ToString(im.ImageId), aws.ToString(im.Name),
			aws.ToString(im.Description), aws.ToString(im.PlatformDetails), im.VirtualizationType, aws.ToBool(im.EnaSupport),
			im.Hypervisor, im.State, vt, vs, aws.ToString(im.OwnerId), im.ImageType)
	}
	tw.Flush()
}

// image imports the chosen AMI unless an image of that name exists, and
// follows the import until AVAILABLE.
func (o *Onboarder) image(ctx context.Context, r *OnboardResult) error {
	im, err := o.findImage(ctx)
	if err != nil {
		return err
	}
	if im != nil && im.State == types.WorkspaceImageStateAvailable {
		r.ImageID = aws.ToString(im.ImageId)
		o.skip(r, "image", fmt.Sprintf("image %s %q is AVAILABLE", r.ImageID, o.imageName()))
		return nil
	}
	if im != nil && im.State == types.WorkspaceImageStateError {
		return fmt.Errorf("image %s %q is in ERROR (%s): delete it or choose another image_name",
			aws.ToString(im.ImageId), o.imageName(), aws.ToString(im.ErrorMessage))
	}
	if im == nil {
		imgs, err := ListImportableImages(ctx, o.C.EC2)
		if err != nil {
			return err
		}
		if o.Cfg.AMI == "" {
			o.printf("  importable AMIs (owned by the account, machine, available, hvm, not encrypted):\n")
			PrintImages(o.Out, imgs)
		}
		var ids []string
		for _, x := range imgs {
			ids = append(ids, aws.ToString(x.ImageId))
		}
		configured, err := amiByName(o.Cfg.AMI, imgs)
		if err != nil {
			return err
		}
		ami, err := o.choose("AMI to import", configured, ids)
		if err != nil {
			return err
		}
		desc := o.Cfg.ImageDescription
		if desc == "" {
			desc = "Imported by deskplane broker from " + ami
		}
		out, err := o.C.WorkSpaces.ImportWorkspaceImage(ctx, &workspaces.ImportWorkspaceImageInput{
			Ec2ImageId:       aws.String(ami),
			IngestionProcess: types.WorkspaceImageIngestionProcess(o.Cfg.IngestionProcess),
			ImageName:        aws.String(o.imageName()),
			ImageDescription: aws.String(desc),
			Tags:             partnerTags(),
		})
		if err != nil {
			return fmt.Errorf("ImportWorkspaceImage: %w", err)
		}
		r.ImageID = aws.ToString(out.ImageId)
		o.printf("    ImportWorkspaceImage %s (%s) → %s\n", ami, o.Cfg.IngestionProcess, r.ImageID)
	} else {
		r.ImageID = aws.ToString(im.ImageId)
	}
	err = o.wait(ctx, "image "+r.ImageID, func() (bool, string, error) {
		out, err := o.C.WorkSpaces.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{r.ImageID}})
		if err != nil {
			return false, "", fmt.Errorf("DescribeWorkspaceImages: %w", err)
		}
		if len(out.Images) != 1 {
			return false, "", fmt.Errorf("image %s disappeared", r.ImageID)
		}
		x := out.Images[0]
		if x.State == types.WorkspaceImageStateError {
			return false, "", fmt.Errorf("image import failed: %s: %s", aws.ToString(x.ErrorCode), aws.ToString(x.ErrorMessage))
		}
		return x.State == types.WorkspaceImageStateAvailable, string(x.State), nil
	})
	if err != nil {
		return err
	}
	o.done(r, "image", fmt.Sprintf("image %s %q AVAILABLE", r.ImageID, o.imageName()))
	return nil
}

// directory registers the chosen directory with the configured tenancy
// (DEDICATED for BYOL) unless registered.
func (o *Onboarder) directory(ctx context.Context, r *OnboardResult) error {
	var dirs []types.WorkspaceDirectory
	p := workspaces.NewDescribeWorkspaceDirectoriesPaginator(o.C.WorkSpaces, &workspaces.DescribeWorkspaceDirectoriesInput{})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("DescribeWorkspaceDirectories: %w", err)
		}
		dirs = append(dirs, pg.Directories...)
	}
	var ids []string
	for _, d := range dirs {
		ids = append(ids, aws.ToString(d.DirectoryId))
	}
	want := o.Cfg.Directory
	for _, d := range dirs {
		if want != "" && strings.EqualFold(aws.ToString(d.DirectoryName), want) {
			want = aws.ToString(d.DirectoryId)
		}
	}
	if o.Cfg.Directory == "" {
		o.printf("  directories:\n")
		for i, d := range dirs {
			o.printf("    %2d) %s  %s  %s  %s\n", i+1, aws.ToString(d.DirectoryId), aws.ToString(d.DirectoryName), d.DirectoryType, d.State)
		}
	}
	id, err := o.choose("directory", want, ids)
	if err != nil {
		return err
	}
	r.DirectoryID = id
	find := func() (*types.WorkspaceDirectory, error) {
		out, err := o.C.WorkSpaces.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{id}})
		if err != nil {
			return nil, fmt.Errorf("DescribeWorkspaceDirectories: %w", err)
		}
		if len(out.Directories) == 0 {
			return nil, fmt.Errorf("directory %s not found", id)
		}
		return &out.Directories[0], nil
	}
	d, err := find()
	if err != nil {
		return err
	}
	if d.State == types.WorkspaceDirectoryStateRegistered {
		o.skip(r, "directory", "directory "+id+" is REGISTERED")
		return nil
	}
	if d.State != types.WorkspaceDirectoryStateRegistering {
		in := &workspaces.RegisterWorkspaceDirectoryInput{
			DirectoryId: aws.String(id),
			Tenancy:     types.Tenancy(o.Cfg.Tenancy),
			SubnetIds:   o.Cfg.SubnetIDs,
			Tags:        partnerTags(),
		}
		if _, err := o.C.WorkSpaces.RegisterWorkspaceDirectory(ctx, in); err != nil {
			return fmt.Errorf("RegisterWorkspaceDirectory: %w", err)
		}
		o.printf("    RegisterWorkspaceDirectory %s (tenancy %s)\n", id, o.Cfg.Tenancy)
	}
	err = o.wait(ctx, "directory "+id, func() (bool, string, error) {
		d, err := find()
		if err != nil {
			return false, "", err
		}
		if d.State == types.WorkspaceDirectoryStateError {
			return false, "", fmt.Errorf("directory registration failed")
		}
		return d.State == types.WorkspaceDirectoryStateRegistered, string(d.State), nil
	})
	if err != nil {
		return err
	}
	o.done(r, "directory", "directory "+id+" REGISTERED")
	return nil
}

func (o *Onboarder) bundleName() string {
	if o.Cfg.BundleName != "" {
		return o.Cfg.BundleName
	}
	return "deskplane-bundle"
}

// bundle creates the bundle from the imported image unless one of that
// name exists.
func (o *Onboarder) bundle(ctx context.Context, r *OnboardResult) error {
	p := workspaces.NewDescribeWorkspaceBundlesPaginator(o.C.WorkSpaces, &workspaces.DescribeWorkspaceBundlesInput{})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("DescribeWorkspaceBundles: %w", err)
		}
		for _, b := range pg.Bundles {
			if aws.ToString(b.Name) == o.bundleName() {
				r.BundleID = aws.ToString(b.BundleId)
				o.skip(r, "bundle", fmt.Sprintf("bundle %s %q exists", r.BundleID, o.bundleName()))
				return nil
			}
		}
	}
	desc := o.Cfg.BundleDescription
	if desc == "" {
		desc = "deskplane broker bundle of image " + r.ImageID
	}
	out, err := o.C.WorkSpaces.CreateWorkspaceBundle(ctx, &workspaces.CreateWorkspaceBundleInput{
		BundleName:        aws.String(o.bundleName()),
		BundleDescription: aws.String(desc),
		ComputeType:       &types.ComputeType{Name: types.Compute(o.Cfg.ComputeType)},
		ImageId:           aws.String(r.ImageID),
		RootStorage:       &types.RootStorage{Capacity: aws.String(strconv.Itoa(o.Cfg.RootVolumeGiB))},
		UserStorage:       &types.UserStorage{Capacity: aws.String(strconv.Itoa(o.Cfg.UserVolumeGiB))},
		Tags:              partnerTags(),
	})
	if err != nil {
		return fmt.Errorf("CreateWorkspaceBundle: %w", err)
	}
	r.BundleID = aws.ToString(out.WorkspaceBundle.BundleId)
	o.done(r, "bundle", fmt.Sprintf("bundle %s %q created", r.BundleID, o.bundleName()))
	return nil
}
