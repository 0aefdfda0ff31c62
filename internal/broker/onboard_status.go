package broker

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// OnboardStep is one onboarding step as GET /v1/onboarding and the
// console show it: whether the account has it done, and what was found.
type OnboardStep struct {
	Step   string `json:"step"`
	Done   bool   `json:"done"`
	Detail string `json:"detail"`
}

// Status looks at the account and reports each onboarding step (changing
// nothing): byol, image, directory, bundle and security-group.
func (o *Onboarder) Status(ctx context.Context) ([]OnboardStep, error) {
	ws := o.C.WorkSpaces
	var out []OnboardStep
	acct, err := ws.DescribeAccount(ctx, &workspaces.DescribeAccountInput{})
	if err != nil {
		return nil, fmt.Errorf("DescribeAccount: %w", err)
	}
	byol := OnboardStep{Step: "byol", Detail: "BYOL is not enabled"}
	if acct.DedicatedTenancySupport == types.DedicatedTenancySupportResultEnumEnabled {
		byol.Done, byol.Detail = true, "BYOL enabled with management CIDR "+aws.ToString(acct.DedicatedTenancyManagementCidrRange)
	}
	out = append(out, byol)

	img := OnboardStep{Step: "image", Detail: fmt.Sprintf("no image named %q", o.imageName())}
	im, err := o.findImage(ctx)
	if err != nil {
		return nil, err
	}
	if im != nil {
		img.Done = im.State == types.WorkspaceImageStateAvailable
		img.Detail = fmt.Sprintf("image %s %q is %s", aws.ToString(im.ImageId), o.imageName(), im.State)
	}
	out = append(out, img)

	dirStep := OnboardStep{Step: "directory", Detail: fmt.Sprintf("no directory %q", o.Cfg.Directory)}
	var dir *types.WorkspaceDirectory
	p := workspaces.NewDescribeWorkspaceDirectoriesPaginator(ws, &workspaces.DescribeWorkspaceDirectoriesInput{})
	for p.HasMorePages() && dir == nil {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeWorkspaceDirectories: %w", err)
		}
		for i, d := range pg.Directories {
			if aws.ToString(d.DirectoryId) == o.Cfg.Directory || strings.EqualFold(aws.ToString(d.DirectoryName), o.Cfg.Directory) {
				dir = &pg.Directories[i]
				break
			}
		}
	}
	if dir != nil {
		dirStep.Done = dir.State == types.WorkspaceDirectoryStateRegistered
		dirStep.Detail = fmt.Sprintf("directory %s is %s", aws.ToString(dir.DirectoryId), dir.State)
	}
	out = append(out, dirStep)

	bundle := OnboardStep{Step: "bundle", Detail: fmt.Sprintf("no bundle named %q", o.bundleName())}
	bp := workspaces.NewDescribeWorkspaceBundlesPaginator(ws, &workspaces.DescribeWorkspaceBundlesInput{})
	for bp.HasMorePages() && !bundle.Done {
		pg, err := bp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeWorkspaceBundles: %w", err)
		}
		for _, b := range pg.Bundles {
			if aws.ToString(b.Name) == o.bundleName() {
				bundle.Done, bundle.Detail = true, fmt.Sprintf("bundle %s %q exists", aws.ToString(b.BundleId), o.bundleName())
			}
		}
	}
	out = append(out, bundle)

	sg := OnboardStep{Step: "security-group"}
	switch {
	case len(o.Ports) == 0:
		sg.Done, sg.Detail = true, "no protocol plan has a port"
	case dir == nil || !dirStep.Done:
		sg.Detail = "the directory is not registered yet"
	default:
		sg.Done, sg.Detail, err = o.groupStatus(ctx, dir)
		if err != nil {
			return nil, err
		}
	}
	return append(out, sg), nil
}

// groupStatus checks that the directory's custom security group lets the
// protocol ports in.
func (o *Onboarder) groupStatus(ctx context.Context, dir *types.WorkspaceDirectory) (bool, string, error) {
	id := aws.ToString(dir.DirectoryId)
	current := ""
	if p := dir.WorkspaceCreationProperties; p != nil {
		current = aws.ToString(p.CustomSecurityGroupId)
	}
	if current == "" {
		return false, "directory " + id + " has no custom security group for TCP " + joinPorts(o.Ports), nil
	}
	_, cidr, err := o.directoryVPC(ctx, id)
	if err != nil {
		return false, "", err
	}
	if o.Cfg.IngressCIDR != "" {
		cidr = o.Cfg.IngressCIDR
	}
	gs, err := o.C.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{current}})
	if err != nil {
		return false, "", fmt.Errorf("DescribeSecurityGroups %s: %w", current, err)
	}
	var missing []int32
	for _, p := range o.Ports {
		if len(gs.SecurityGroups) != 1 || !sgAllows(gs.SecurityGroups[0], p, cidr) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Sprintf("the custom security group %s of %s does not let TCP %s in from %s", current, id, joinPorts(missing), cidr), nil
	}
	return true, fmt.Sprintf("the custom security group %s of %s lets TCP %s in from %s", current, id, joinPorts(o.Ports), cidr), nil
}

// onboarder returns an Onboarder over the broker's clients and
// configuration (for its status; the directory defaults to the first
// pool's).
func (b *Broker) onboarder() *Onboarder {
	ob := b.cfg.Onboarding
	if ob.Directory == "" && len(b.cfg.Pools) > 0 {
		ob.Directory = b.cfg.Pools[0].Directory
	}
	return &Onboarder{C: b.c, Cfg: ob, Ports: b.cfg.ProtocolPorts()}
}

// OnboardingStatus is GET /v1/onboarding: each onboarding step, done or
// not, as the account is now.
func (b *Broker) OnboardingStatus(ctx context.Context) ([]OnboardStep, error) {
	return b.onboarder().Status(ctx)
}

func (b *Broker) onboardingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/onboarding", b.auth(func(w http.ResponseWriter, r *http.Request) {
		steps, err := b.OnboardingStatus(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"steps": steps})
	}))
}
