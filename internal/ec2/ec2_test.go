package ec2_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// wantCode asserts that err is an API error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
}

// must turns a (value, error) result into a value, failing the test on error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// noClientValidation removes the SDK's own required-member check so the
// server's answer to a missing member is what the test sees.
func noClientValidation(o *ec2.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		_, err := st.Initialize.Remove("OperationInputValidation")
		return err
	})
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func imageNames(imgs []types.Image) []string {
	var out []string
	for _, im := range imgs {
		out = append(out, aws.ToString(im.Name))
	}
	sort.Strings(out)
	return out
}

func TestDescribeImages(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())

	all := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}}))(t)
	if len(all.Images) != len(config.DefaultImages()) {
		t.Fatalf("want %d seeded images, got %d", len(config.DefaultImages()), len(all.Images))
	}
	var win11 types.Image
	for _, im := range all.Images {
		if aws.ToString(im.Name) == "win11-ent-23h2-byol" {
			win11 = im
		}
	}
	if win11.ImageId == nil {
		t.Fatal("win11 image not seeded")
	}
	checks := map[string][2]string{
		"state":        {string(win11.State), "available"},
		"owner":        {aws.ToString(win11.OwnerId), config.CustomerAccount},
		"platform":     {string(win11.Platform), "windows"},
		"details":      {aws.ToString(win11.PlatformDetails), "Windows BYOL"},
		"usage":        {aws.ToString(win11.UsageOperation), "RunInstances:0800"},
		"arch":         {string(win11.Architecture), "x86_64"},
		"type":         {string(win11.ImageType), "machine"},
		"root":         {aws.ToString(win11.RootDeviceName), "/dev/sda1"},
		"rootType":     {string(win11.RootDeviceType), "ebs"},
		"virt":         {string(win11.VirtualizationType), "hvm"},
		"hypervisor":   {string(win11.Hypervisor), "xen"},
		"boot":         {string(win11.BootMode), "uefi"},
		"sriov":        {aws.ToString(win11.SriovNetSupport), "simple"},
		"location":     {aws.ToString(win11.ImageLocation), config.CustomerAccount + "/win11-ent-23h2-byol"},
		"volumeType":   {string(win11.BlockDeviceMappings[0].Ebs.VolumeType), "gp3"},
		"volumeSize":   {fmt.Sprint(aws.ToInt32(win11.BlockDeviceMappings[0].Ebs.VolumeSize)), "80"},
		"deviceName":   {aws.ToString(win11.BlockDeviceMappings[0].DeviceName), "/dev/sda1"},
		"isPublic":     {boolText(aws.ToBool(win11.Public)), "false"},
		"enaSupport":   {boolText(aws.ToBool(win11.EnaSupport)), "true"},
		"creationDate": {boolText(aws.ToString(win11.CreationDate) != ""), "true"},
	}
	for what, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s: got %q, want %q", what, v[0], v[1])
		}
	}
	if len(aws.ToString(win11.ImageId)) != len("ami-")+17 {
		t.Errorf("image id %q is not ami-<17 hex>", aws.ToString(win11.ImageId))
	}
	if aws.ToString(win11.BlockDeviceMappings[0].Ebs.SnapshotId) == "" {
		t.Error("root device has no snapshot id")
	}

	// By id, and unknown or malformed ids.
	one := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(win11.ImageId)}}))(t)
	if len(one.Images) != 1 || aws.ToString(one.Images[0].ImageId) != aws.ToString(win11.ImageId) {
		t.Fatalf("by id: %+v", one.Images)
	}
	_, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-0123456789abcdef0"}})
	wantCode(t, err, "InvalidAMIID.NotFound")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"image-1"}})
	wantCode(t, err, "InvalidAMIID.Malformed")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"nobody"}})
	wantCode(t, err, "InvalidUserID.Malformed")

	// Owners: an account id, and amazon (none here).
	byAcct := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{config.CustomerAccount}}))(t)
	if len(byAcct.Images) != 3 {
		t.Errorf("owner by account id: got %d images", len(byAcct.Images))
	}
	amz := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}}))(t)
	if len(amz.Images) != 0 {
		t.Errorf("owner amazon: got %v", imageNames(amz.Images))
	}

	// Filters with wildcards.
	cases := []struct {
		filters []types.Filter
		want    []string
	}{
		{[]types.Filter{filter("name", "win*")}, []string{"win10-ent-22h2-byol", "win11-ent-23h2-byol"}},
		{[]types.Filter{filter("name", "win1?-ent-2?h2-byol")}, []string{"win10-ent-22h2-byol", "win11-ent-23h2-byol"}},
		{[]types.Filter{filter("name", "WIN*")}, nil},
		{[]types.Filter{filter("platform-details", "Windows")}, []string{"Windows_Server-2022-English-Full-Base"}},
		{[]types.Filter{filter("platform-details", "Windows BYOL"), filter("name", "*11*")}, []string{"win11-ent-23h2-byol"}},
		{[]types.Filter{filter("state", "available"), filter("image-type", "machine"), filter("virtualization-type", "hvm"), filter("architecture", "x86_64")}, []string{"Windows_Server-2022-English-Full-Base", "win10-ent-22h2-byol", "win11-ent-23h2-byol"}},
		{[]types.Filter{filter("architecture", "arm64")}, nil},
		{[]types.Filter{filter("is-public", "true")}, nil},
		{[]types.Filter{filter("is-public", "false"), filter("owner-id", config.CustomerAccount), filter("image-id", aws.ToString(win11.ImageId))}, []string{"win11-ent-23h2-byol"}},
		{[]types.Filter{filter("name", "nothing*", "win10*")}, []string{"win10-ent-22h2-byol"}},
	}
	for i, tc := range cases {
		out := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: tc.filters}))(t)
		if got := imageNames(out.Images); !equal(got, tc.want) {
			t.Errorf("case %d: got %v, want %v", i, got, tc.want)
		}
	}
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("colour", "blue")}})
	wantCode(t, err, "InvalidParameterValue")

	// Pagination.
	var seen []string
	p := ec2.NewDescribeImagesPaginator(c, &ec2.DescribeImagesInput{MaxResults: aws.Int32(5)})
	pages := 0
	for p.HasMorePages() {
		out := must(p.NextPage(ctx))(t)
		pages++
		seen = append(seen, imageNames(out.Images)...)
	}
	if len(seen) != 3 || pages != 1 {
		t.Errorf("paginate by 5: %d pages, %v", pages, seen)
	}
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{MaxResults: aws.Int32(2)})
	wantCode(t, err, "InvalidParameterValue")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{NextToken: aws.String("!!not-a-token")})
	wantCode(t, err, "InvalidPaginationToken")

	// Other regions are seeded with their own ids; the partner sees none.
	west := ec2.NewFromConfig(s.Admin("eu-west-1"))
	wout := must(west.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "win11-ent-23h2-byol")}}))(t)
	if len(wout.Images) != 1 || aws.ToString(wout.Images[0].ImageId) == aws.ToString(win11.ImageId) {
		t.Errorf("eu-west-1: %+v", wout.Images)
	}
	partner := ec2.NewFromConfig(s.Partner())
	pout := must(partner.DescribeImages(ctx, &ec2.DescribeImagesInput{}))(t)
	if len(pout.Images) != 0 {
		t.Errorf("partner sees the customer's images: %v", imageNames(pout.Images))
	}
	_, err = partner.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(win11.ImageId)}})
	wantCode(t, err, "InvalidAMIID.NotFound")
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRegisterImage(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())

	src := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "win10-ent-22h2-byol")}}))(t).Images[0]
	snap := aws.ToString(src.BlockDeviceMappings[0].Ebs.SnapshotId)
	in := &ec2.RegisterImageInput{
		Name: aws.String("golden-win10 (v2)"), Description: aws.String("golden"), Architecture: types.ArchitectureValuesX8664,
		VirtualizationType: aws.String("hvm"), RootDeviceName: aws.String("/dev/sda1"), EnaSupport: aws.Bool(true), BootMode: types.BootModeValuesUefi,
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"),
			Ebs: &types.EbsBlockDevice{SnapshotId: aws.String(snap), VolumeSize: aws.Int32(100), VolumeType: types.VolumeTypeGp3, Encrypted: aws.Bool(true)}}},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("euc")}}}},
	}
	out := must(c.RegisterImage(ctx, in))(t)
	id := aws.ToString(out.ImageId)
	got := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}}))(t).Images
	if len(got) != 1 {
		t.Fatalf("registered image not found: %v", got)
	}
	im := got[0]
	ebs := im.BlockDeviceMappings[0].Ebs
	if aws.ToString(im.Name) != "golden-win10 (v2)" || aws.ToString(im.PlatformDetails) != "Windows BYOL" || im.Platform != "windows" ||
		aws.ToInt32(ebs.VolumeSize) != 100 || ebs.VolumeType != types.VolumeTypeGp3 || !aws.ToBool(ebs.Encrypted) ||
		im.BootMode != types.BootModeValuesUefi || !aws.ToBool(im.EnaSupport) || len(im.Tags) != 1 || aws.ToString(im.Tags[0].Value) != "euc" {
		t.Errorf("registered image: %+v / %+v", im, ebs)
	}
	tagged := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag:team", "euc")}}))(t).Images
	if len(tagged) != 1 {
		t.Errorf("tag filter: %v", imageNames(tagged))
	}

	// Without a known snapshot the image is Linux/UNIX.
	linux := must(c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("plain"), RootDeviceName: aws.String("/dev/xvda"),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(8)}}}}))(t)
	lim := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(linux.ImageId)}}))(t).Images[0]
	if aws.ToString(lim.PlatformDetails) != "Linux/UNIX" || lim.Platform != "" || aws.ToString(lim.UsageOperation) != "RunInstances" {
		t.Errorf("linux image: %+v", lim)
	}

	_, err := c.RegisterImage(ctx, in)
	wantCode(t, err, "InvalidAMIName.Duplicate")
	_, err = c.RegisterImage(ctx, &ec2.RegisterImageInput{}, noClientValidation)
	wantCode(t, err, "MissingParameter")
	bad := *in
	bad.Name = aws.String("no")
	_, err = c.RegisterImage(ctx, &bad)
	wantCode(t, err, "InvalidAMIName.Malformed")
	bad = *in
	bad.Name, bad.Architecture = aws.String("other"), types.ArchitectureValues("sparc")
	_, err = c.RegisterImage(ctx, &bad)
	wantCode(t, err, "InvalidParameterValue")
	bad = *in
	bad.Name, bad.BlockDeviceMappings = aws.String("other"), []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"),
		Ebs: &types.EbsBlockDevice{SnapshotId: aws.String(snap), VolumeType: types.VolumeType("floppy")}}}
	_, err = c.RegisterImage(ctx, &bad)
	wantCode(t, err, "InvalidParameterValue")
	bad = *in
	bad.Name, bad.DryRun = aws.String("dry"), aws.Bool(true)
	_, err = c.RegisterImage(ctx, &bad)
	wantCode(t, err, "DryRunOperation")

	// The same name is free in another account.
	partner := ec2.NewFromConfig(s.Partner())
	must(partner.RegisterImage(ctx, &ec2.RegisterImageInput{Name: in.Name, RootDeviceName: aws.String("/dev/sda1"),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(30)}}}}))(t)
}

func TestVpcsAndSubnets(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())

	vpcs := must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t).Vpcs
	if len(vpcs) != 1 || aws.ToString(vpcs[0].CidrBlock) != "10.0.0.0/16" || aws.ToString(vpcs[0].OwnerId) != config.CustomerAccount ||
		vpcs[0].State != types.VpcStateAvailable || len(vpcs[0].CidrBlockAssociationSet) != 1 {
		t.Fatalf("vpcs: %+v", vpcs)
	}
	vpcID := aws.ToString(vpcs[0].VpcId)
	if len(vpcID) != len("vpc-")+17 {
		t.Errorf("vpc id %q", vpcID)
	}
	must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}}))(t)
	_, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}})
	wantCode(t, err, "InvalidVpcID.NotFound")
	_, err = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-x"}})
	wantCode(t, err, "InvalidVpcID.Malformed")
	none := must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("cidr", "172.*")}}))(t).Vpcs
	if len(none) != 0 {
		t.Errorf("cidr filter: %+v", none)
	}

	subs := must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}))(t).Subnets
	if len(subs) != 2 {
		t.Fatalf("subnets: %+v", subs)
	}
	azs := map[string]string{}
	for _, sn := range subs {
		azs[aws.ToString(sn.CidrBlock)] = aws.ToString(sn.AvailabilityZone)
		if aws.ToString(sn.VpcId) != vpcID || aws.ToInt32(sn.AvailableIpAddressCount) != 251 || aws.ToString(sn.SubnetArn) == "" {
			t.Errorf("subnet: %+v", sn)
		}
	}
	if azs["10.0.1.0/24"] != "us-east-1a" || azs["10.0.2.0/24"] != "us-east-1b" {
		t.Errorf("zones: %v", azs)
	}
	byAZ := must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("availability-zone", "us-east-1b"), filter("vpc-id", vpcID)}}))(t).Subnets
	if len(byAZ) != 1 || aws.ToString(byAZ[0].CidrBlock) != "10.0.2.0/24" {
		t.Errorf("az filter: %+v", byAZ)
	}
	bySubnetFilter := must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("subnet-id", aws.ToString(byAZ[0].SubnetId))}}))(t).Subnets
	byID := must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{aws.ToString(byAZ[0].SubnetId)}}))(t).Subnets
	if len(bySubnetFilter) != 1 || len(byID) != 1 {
		t.Errorf("subnet-id filter %d, SubnetIds %d", len(bySubnetFilter), len(byID))
	}
	_, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
	wantCode(t, err, "InvalidSubnetID.NotFound")
	_, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"sub-1"}})
	wantCode(t, err, "InvalidSubnetID.Malformed")

	// Pagination: MaxResults 5 holds both subnets in one page (EC2's minimum).
	first := must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(5)}))(t)
	if len(first.Subnets) != 2 || first.NextToken != nil {
		t.Errorf("page: %d subnets, token %v", len(first.Subnets), first.NextToken)
	}

	// The partner sees only its own network.
	p := ec2.NewFromConfig(s.Partner())
	pv := must(p.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t).Vpcs
	if len(pv) != 1 || aws.ToString(pv[0].CidrBlock) != "172.31.0.0/16" {
		t.Errorf("partner vpcs: %+v", pv)
	}
	_, err = p.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	wantCode(t, err, "InvalidVpcID.NotFound")
	ps := must(p.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}))(t).Subnets
	if len(ps) != 2 || aws.ToInt32(ps[0].AvailableIpAddressCount) != 4091 {
		t.Errorf("partner subnets: %+v", ps)
	}
}

func TestSecurityGroups(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())
	vpcID := aws.ToString(must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t).Vpcs[0].VpcId)

	def := must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("group-name", "default")}}))(t).SecurityGroups
	if len(def) != 1 || aws.ToString(def[0].VpcId) != vpcID || len(def[0].IpPermissions) != 1 || len(def[0].IpPermissionsEgress) != 1 {
		t.Fatalf("default group: %+v", def)
	}

	out := must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web servers"), VpcId: aws.String(vpcID)}))(t)
	gid := aws.ToString(out.GroupId)
	if len(gid) != len("sg-")+17 || aws.ToString(out.SecurityGroupArn) != "arn:aws:ec2:us-east-1:"+config.CustomerAccount+":security-group/"+gid {
		t.Errorf("create: %+v", out)
	}
	_, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("again"), VpcId: aws.String(vpcID)})
	wantCode(t, err, "InvalidGroup.Duplicate")
	_, err = c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("nodesc"), VpcId: aws.String(vpcID)}, noClientValidation)
	wantCode(t, err, "MissingParameter")
	_, err = c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x"), VpcId: aws.String("vpc-0123456789abcdef0")})
	wantCode(t, err, "InvalidVpcID.NotFound")
	_, err = c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("sg-bad"), Description: aws.String("x"), VpcId: aws.String(vpcID)})
	wantCode(t, err, "InvalidParameterValue")

	// Ingress: the structured form and the flat form.
	auth := must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
			IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16"), Description: aws.String("vpc")}, {CidrIp: aws.String("192.168.0.0/24")}}}}}))(t)
	if !aws.ToBool(auth.Return) || len(auth.SecurityGroupRules) != 2 || aws.ToString(auth.SecurityGroupRules[0].CidrIpv4) != "10.0.0.0/16" ||
		aws.ToInt32(auth.SecurityGroupRules[0].FromPort) != 443 || aws.ToString(auth.SecurityGroupRules[0].GroupId) != gid {
		t.Errorf("authorize: %+v", auth)
	}
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpProtocol: aws.String("udp"), FromPort: aws.Int32(4172), ToPort: aws.Int32(4172), CidrIp: aws.String("0.0.0.0/0")}))(t)
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpProtocol: aws.String("udp"), FromPort: aws.Int32(4172), ToPort: aws.Int32(4172), CidrIp: aws.String("0.0.0.0/0")})
	wantCode(t, err, "InvalidPermission.Duplicate")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-0123456789abcdef0"),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(1), ToPort: aws.Int32(1), CidrIp: aws.String("0.0.0.0/0")})
	wantCode(t, err, "InvalidGroup.NotFound")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(10), ToPort: aws.Int32(1), CidrIp: aws.String("0.0.0.0/0")})
	wantCode(t, err, "InvalidParameterValue")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(1), ToPort: aws.Int32(1), CidrIp: aws.String("10.0.0.300/8")})
	wantCode(t, err, "InvalidParameterValue")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{IpProtocol: aws.String("-1"), CidrIp: aws.String("0.0.0.0/0")})
	wantCode(t, err, "MissingParameter")

	got := must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{gid}}))(t).SecurityGroups
	if len(got) != 1 || len(got[0].IpPermissions) != 2 {
		t.Fatalf("describe: %+v", got)
	}
	tcp := got[0].IpPermissions[0]
	if aws.ToString(tcp.IpProtocol) != "tcp" || len(tcp.IpRanges) != 2 || aws.ToString(tcp.IpRanges[0].Description) != "vpc" {
		t.Errorf("permissions: %+v", got[0].IpPermissions)
	}
	if len(got[0].IpPermissionsEgress) != 1 || aws.ToString(got[0].IpPermissionsEgress[0].IpProtocol) != "-1" {
		t.Errorf("egress: %+v", got[0].IpPermissionsEgress)
	}
	byName := must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"web"}}))(t).SecurityGroups
	byVPC := must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("vpc-id", vpcID), filter("group-id", gid)}}))(t).SecurityGroups
	if len(byName) != 1 || len(byVPC) != 1 {
		t.Errorf("by name %d, by filter %d", len(byName), len(byVPC))
	}
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
	wantCode(t, err, "InvalidGroup.NotFound")
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"group-1"}})
	wantCode(t, err, "InvalidGroupId.Malformed")

	// Pagination, five at a time, over the groups there are (the default
	// group, the directory's controllers group, web) plus five more.
	before := len(must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{}))(t).SecurityGroups)
	for i := range 5 {
		must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("g%d", i)), Description: aws.String("d"), VpcId: aws.String(vpcID)}))(t)
	}
	var names []string
	pg := ec2.NewDescribeSecurityGroupsPaginator(c, &ec2.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)})
	pages := 0
	for pg.HasMorePages() {
		for _, g := range must(pg.NextPage(ctx))(t).SecurityGroups {
			names = append(names, aws.ToString(g.GroupName))
		}
		pages++
	}
	if len(names) != before+5 || pages != (before+5+4)/5 {
		t.Errorf("paginated %d pages: %v", pages, names)
	}

	// Another account cannot see or change the group.
	p := ec2.NewFromConfig(s.Partner())
	_, err = p.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{gid}})
	wantCode(t, err, "InvalidGroup.NotFound")
	_, err = p.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("0.0.0.0/0")})
	wantCode(t, err, "InvalidGroup.NotFound")
}

func TestSeedIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	snapshot := func() (imgs, vpcs, subs, sgs int, ids []string) {
		s := testserver.Start(t, testserver.DataDir(dir))
		c := ec2.NewFromConfig(s.Admin())
		im := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{}))(t).Images
		for _, i := range im {
			ids = append(ids, aws.ToString(i.ImageId))
		}
		sort.Strings(ids)
		v := must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t).Vpcs
		sn := must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}))(t).Subnets
		sg := must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{}))(t).SecurityGroups
		s.Shutdown(ctx)
		return len(im), len(v), len(sn), len(sg), ids
	}
	i1, v1, s1, g1, ids1 := snapshot()
	i2, v2, s2, g2, ids2 := snapshot()
	if i1 != i2 || v1 != v2 || s1 != s2 || g1 != g2 || !equal(ids1, ids2) || i1 == 0 {
		t.Errorf("first start %d/%d/%d/%d %v, second %d/%d/%d/%d %v", i1, v1, s1, g1, ids1, i2, v2, s2, g2, ids2)
	}
	// A fresh data directory derives the same ids from the same config.
	dir = t.TempDir()
	_, _, _, _, ids3 := snapshot()
	if !equal(ids1, ids3) {
		t.Errorf("ids differ across data dirs: %v vs %v", ids1, ids3)
	}
}
