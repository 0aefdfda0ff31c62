package wsinstances_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// api wraps a WorkSpaces Instances client: every answer must carry the
// awsJson1.0 Content-Type and match botocore's model (the output shape on
// success; a modeled or common error with its shape's members otherwise).
type api struct {
	t *testing.T
	c *testserver.JSONClient
	m *awsmodel.Model
}

func newAPI(t *testing.T, c *testserver.JSONClient) *api {
	return &api{t: t, c: c, m: awsmodel.LoadOrSkip(t, "workspaces-instances")}
}

func (a *api) call(op string, in any) *testserver.JSONResponse {
	a.t.Helper()
	r, err := a.c.Call(context.Background(), op, in)
	if err != nil {
		a.t.Fatalf("%s: %v", op, err)
	}
	if r.ContentType != "application/x-amz-json-1.0" {
		a.t.Errorf("%s: Content-Type %q, want application/x-amz-json-1.0", op, r.ContentType)
	}
	var problems []string
	if r.Status == 200 {
		problems = a.m.CheckJSONOutputWith(op, r.Body, awsmodel.CheckOptions{})
	} else {
		problems = a.m.CheckJSONError(op, r.Code, r.Body)
	}
	if len(problems) > 0 {
		a.t.Errorf("%s answer %d %s does not match the model:\n  %s", op, r.Status, r.Body, strings.Join(problems, "\n  "))
	}
	return r
}

// ok calls op, wants success and decodes the answer into out (if not nil).
func (a *api) ok(op string, in, out any) {
	a.t.Helper()
	r := a.call(op, in)
	if r.Status != 200 {
		a.t.Fatalf("%s: %d %s", op, r.Status, r.Body)
	}
	if out != nil {
		if err := r.Decode(out); err != nil {
			a.t.Fatal(err)
		}
	}
}

// fails calls op and wants the error code; it returns the error body.
func (a *api) fails(op string, in any, code string) map[string]any {
	a.t.Helper()
	r := a.call(op, in)
	if r.Status == 200 || r.Code != code {
		a.t.Fatalf("%s: want %s, got %d %s %s", op, code, r.Status, r.Code, r.Body)
	}
	if r.Status != 400 {
		a.t.Errorf("%s: %s with HTTP %d, want 400", op, code, r.Status)
	}
	var body map[string]any
	if err := r.Decode(&body); err != nil {
		a.t.Fatal(err)
	}
	return body
}

type instance struct {
	ProvisionState          string
	WorkspaceInstanceID     string `json:"WorkspaceInstanceId"`
	EC2ManagedInstance      *struct{ InstanceId string }
	BillingConfiguration    *struct{ BillingMode string }
	EC2InstanceErrors       []struct{ EC2ErrorCode, EC2ExceptionType, EC2ErrorMessage string }
	WorkspaceInstanceErrors []struct{ ErrorCode, ErrorMessage string }
}

func (a *api) get(id string) instance {
	a.t.Helper()
	var out instance
	a.ok("GetWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, &out)
	return out
}

func (a *api) create(in map[string]any) string {
	a.t.Helper()
	var out struct{ WorkspaceInstanceId string }
	a.ok("CreateWorkspaceInstance", in, &out)
	if !strings.HasPrefix(out.WorkspaceInstanceId, "wsinst-") {
		a.t.Fatalf("instance id %q", out.WorkspaceInstanceId)
	}
	return out.WorkspaceInstanceId
}

// account describes the default customer account's images and subnets.
type account struct {
	windows, byol string // AMI ids
	subnetA       string // in us-east-1a
	cidrA         string // subnetA's CIDR block
	subnetB       string // in us-east-1b
	sg            string // a security group of the subnets' VPC
}

func lookup(t *testing.T, s *testserver.Server) account {
	t.Helper()
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())
	var a account
	ims, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range ims.Images {
		switch aws.ToString(im.PlatformDetails) {
		case "Windows":
			a.windows = aws.ToString(im.ImageId)
		case "Windows BYOL":
			a.byol = aws.ToString(im.ImageId)
		}
	}
	subs, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range subs.Subnets {
		switch aws.ToString(sn.AvailabilityZone) {
		case "us-east-1a":
			a.subnetA, a.cidrA = aws.ToString(sn.SubnetId), aws.ToString(sn.CidrBlock)
		case "us-east-1b":
			a.subnetB = aws.ToString(sn.SubnetId)
		}
	}
	vpc := aws.ToString(subs.Subnets[0].VpcId)
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("wsi-test"), Description: aws.String("test"), VpcId: &vpc})
	if err != nil {
		t.Fatal(err)
	}
	a.sg = aws.ToString(sg.GroupId)
	if a.windows == "" || a.byol == "" || a.subnetA == "" || a.subnetB == "" {
		t.Fatalf("default account lacks images or subnets: %+v", a)
	}
	return a
}

// TestInstanceLifecycle drives an instance through its provision states on
// the virtual clock under the realistic profile, with its volumes and tags.
func TestInstanceLifecycle(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("realistic"), testserver.VirtualClock())
	acct := lookup(t, s)
	a := newAPI(t, s.AdminWorkspacesInstances())

	spec := map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "SubnetId": acct.subnetA,
		"SecurityGroupIds": []string{acct.sg},
		"BlockDeviceMappings": []any{
			map[string]any{"DeviceName": "/dev/sda1", "Ebs": map[string]any{"VolumeSize": 60, "VolumeType": "gp3"}},
			map[string]any{"DeviceName": "xvdf", "Ebs": map[string]any{"VolumeSize": 100, "VolumeType": "io2", "Iops": 1000}},
		},
		"TagSpecifications": []any{map[string]any{"ResourceType": "volume", "Tags": []any{map[string]any{"Key": "disk", "Value": "yes"}}}}}
	req := map[string]any{"ClientToken": "token-1", "ManagedInstance": spec,
		"Tags": []any{map[string]any{"Key": "team", "Value": "blue"}}, "BillingConfiguration": map[string]any{"BillingMode": "MONTHLY"}}
	id := a.create(req)

	// A retry with the same token is the same instance; another request
	// with that token is a conflict.
	if again := a.create(req); again != id {
		t.Fatalf("retry with the same ClientToken made %s, want %s", again, id)
	}
	other := map[string]any{"ClientToken": "token-1", "ManagedInstance": map[string]any{"ImageId": acct.windows, "InstanceType": "t3.large"}}
	if body := a.fails("CreateWorkspaceInstance", other, "ConflictException"); body["ResourceId"] != id {
		t.Errorf("conflict names %v, want %s", body["ResourceId"], id)
	}

	got := a.get(id)
	if got.ProvisionState != "ALLOCATING" || got.EC2ManagedInstance != nil || got.BillingConfiguration == nil || got.BillingConfiguration.BillingMode != "MONTHLY" {
		t.Fatalf("new instance: %+v", got)
	}
	a.fails("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, "ConflictException")

	s.Advance(20 * time.Minute) // the realistic provision step
	testserver.Eventually(t, 10*time.Second, func() bool { return a.get(id).ProvisionState == "ALLOCATED" }, "instance %s never ALLOCATED", id)
	got = a.get(id)
	if got.EC2ManagedInstance == nil || !strings.HasPrefix(got.EC2ManagedInstance.InstanceId, "i-") || len(got.EC2InstanceErrors) != 0 {
		t.Fatalf("allocated instance: %+v", got)
	}

	// Listing, with and without a state filter, and paging.
	second := a.create(map[string]any{"ManagedInstance": map[string]any{"ImageId": acct.byol, "InstanceType": "t3.large", "Placement": map[string]any{"AvailabilityZone": "us-east-1b"}}})
	type listOut struct {
		WorkspaceInstances []instance
		NextToken          string
	}
	var list listOut
	a.ok("ListWorkspaceInstances", map[string]any{"MaxResults": 1}, &list)
	if len(list.WorkspaceInstances) != 1 || list.NextToken == "" {
		t.Fatalf("first page: %+v", list)
	}
	first := list.WorkspaceInstances[0].WorkspaceInstanceID
	tok := list.NextToken
	list = listOut{}
	a.ok("ListWorkspaceInstances", map[string]any{"MaxResults": 1, "NextToken": tok}, &list)
	if len(list.WorkspaceInstances) != 1 || list.WorkspaceInstances[0].WorkspaceInstanceID == first || list.NextToken != "" {
		t.Fatalf("second page: %+v", list)
	}
	list = listOut{}
	a.ok("ListWorkspaceInstances", map[string]any{"ProvisionStates": []string{"ALLOCATING"}}, &list)
	if len(list.WorkspaceInstances) != 1 || list.WorkspaceInstances[0].WorkspaceInstanceID != second {
		t.Fatalf("ALLOCATING filter: %+v", list)
	}
	a.fails("ListWorkspaceInstances", map[string]any{"NextToken": "garbage"}, "ValidationException")
	a.fails("ListWorkspaceInstances", map[string]any{"MaxResults": 26}, "ValidationException")
	a.fails("ListWorkspaceInstances", map[string]any{"ProvisionStates": []string{"RUNNING"}}, "ValidationException")

	// Tags.
	a.ok("TagResource", map[string]any{"WorkspaceInstanceId": id, "Tags": []any{map[string]any{"Key": "owner", "Value": "ops"}}}, nil)
	a.ok("UntagResource", map[string]any{"WorkspaceInstanceId": id, "TagKeys": []string{"team"}}, nil)
	var tags struct{ Tags []struct{ Key, Value string } }
	a.ok("ListTagsForResource", map[string]any{"WorkspaceInstanceId": id}, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Key != "owner" || tags.Tags[0].Value != "ops" {
		t.Fatalf("tags: %+v", tags)
	}
	if b := a.fails("TagResource", map[string]any{"WorkspaceInstanceId": id, "Tags": []any{map[string]any{"Key": "aws:x", "Value": "1"}}}, "ValidationException"); b["Reason"] != "FIELD_VALIDATION_FAILED" {
		t.Errorf("ValidationException without its Reason: %v", b)
	}
	missing := "wsinst-00000000000000000"
	for _, op := range []string{"GetWorkspaceInstance", "ListTagsForResource", "DeleteWorkspaceInstance"} {
		if b := a.fails(op, map[string]any{"WorkspaceInstanceId": missing}, "ResourceNotFoundException"); b["ResourceId"] != missing || b["ResourceType"] != "WorkspaceInstance" {
			t.Errorf("%s: not-found body %v", op, b)
		}
	}
	a.fails("TagResource", map[string]any{"WorkspaceInstanceId": missing, "Tags": []any{map[string]any{"Key": "k", "Value": "v"}}}, "ResourceNotFoundException")
	a.fails("UntagResource", map[string]any{"WorkspaceInstanceId": missing, "TagKeys": []string{"k"}}, "ResourceNotFoundException")
	if b := a.fails("GetWorkspaceInstance", map[string]any{"WorkspaceInstanceId": "i-123"}, "ValidationException"); b["Reason"] != "FIELD_VALIDATION_FAILED" {
		t.Errorf("a schema validation failure without its Reason: %v", b)
	}

	// Volumes: create, attach, the conflicts, detach, delete.
	var vol struct{ VolumeId string }
	a.ok("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 20, "VolumeType": "gp3", "ClientToken": "v-1",
		"TagSpecifications": []any{map[string]any{"ResourceType": "volume", "Tags": []any{map[string]any{"Key": "k", "Value": "v"}}}}}, &vol)
	var far struct{ VolumeId string }
	a.ok("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1b", "SizeInGB": 20}, &far)
	a.fails("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": far.VolumeId, "Device": "xvdg"}, "ValidationException")
	a.fails("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "xvdf"}, "ConflictException") // the io2 volume's
	a.fails("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "sdz"}, "ValidationException")
	a.fails("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": "vol-0000000000", "Device": "xvdg"}, "ResourceNotFoundException")
	a.fails("AssociateVolume", map[string]any{"WorkspaceInstanceId": second, "VolumeId": far.VolumeId, "Device": "xvdg"}, "ConflictException") // still ALLOCATING
	a.ok("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "xvdg"}, nil)
	a.fails("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "xvdh"}, "ConflictException")
	a.fails("DeleteVolume", map[string]any{"VolumeId": vol.VolumeId}, "ConflictException")
	a.fails("DisassociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "xvdh"}, "ValidationException")
	a.ok("DisassociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "/dev/sdg", "DisassociateMode": "NO_FORCE"}, nil)
	a.fails("DisassociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId}, "ConflictException")
	a.fails("DisassociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": "vol-0000000000"}, "ResourceNotFoundException")
	a.fails("DisassociateVolume", map[string]any{"WorkspaceInstanceId": missing, "VolumeId": vol.VolumeId}, "ResourceNotFoundException")
	a.ok("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "xvdg"}, nil)
	a.ok("DeleteVolume", map[string]any{"VolumeId": far.VolumeId}, nil)
	if b := a.fails("DeleteVolume", map[string]any{"VolumeId": far.VolumeId}, "ResourceNotFoundException"); b["ResourceType"] != "Volume" {
		t.Errorf("volume not-found body %v", b)
	}

	// Delete: DEALLOCATING, then DEALLOCATED with the attached volume
	// detached (and deletable), then gone after the terminated linger.
	a.ok("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, nil)
	if st := a.get(id).ProvisionState; st != "DEALLOCATING" {
		t.Fatalf("after delete: %s", st)
	}
	a.fails("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, "ConflictException")
	a.fails("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "xvdi"}, "ConflictException")
	s.Advance(5 * time.Minute) // the realistic terminate step
	testserver.Eventually(t, 10*time.Second, func() bool { return a.get(id).ProvisionState == "DEALLOCATED" }, "instance %s never DEALLOCATED", id)
	a.ok("DeleteVolume", map[string]any{"VolumeId": vol.VolumeId}, nil)
	a.fails("TagResource", map[string]any{"WorkspaceInstanceId": id, "Tags": []any{map[string]any{"Key": "k", "Value": "v"}}}, "ResourceNotFoundException")
	s.Advance(time.Hour)
	testserver.Eventually(t, 10*time.Second, func() bool {
		r, err := a.c.Call(context.Background(), "GetWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id})
		return err == nil && r.Code == "ResourceNotFoundException"
	}, "instance %s still listed after the linger", id)
}

// TestLaunchChecks covers the launch specification: what is refused at once
// (ValidationException with its Reason) and what EC2 refuses at launch
// (ERROR_ALLOCATING with EC2InstanceErrors).
func TestLaunchChecks(t *testing.T) {
	s := testserver.Start(t)
	acct := lookup(t, s)
	a := newAPI(t, s.AdminWorkspacesInstances())
	bad := []struct {
		name   string
		spec   map[string]any
		reason string
	}{
		{"no image", map[string]any{"InstanceType": "m5.large"}, "FIELD_VALIDATION_FAILED"},
		{"no type", map[string]any{"ImageId": acct.windows}, "FIELD_VALIDATION_FAILED"},
		{"unknown type", map[string]any{"ImageId": acct.windows, "InstanceType": "x9.huge"}, "FIELD_VALIDATION_FAILED"},
		{"spot", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "InstanceMarketOptions": map[string]any{"MarketType": "spot"}}, "UNSUPPORTED_OPERATION"},
		{"instance store", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "BlockDeviceMappings": []any{map[string]any{"DeviceName": "xvdb", "VirtualName": "ephemeral0"}}}, "UNSUPPORTED_OPERATION"},
		{"io1 without iops", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "BlockDeviceMappings": []any{map[string]any{"DeviceName": "xvdf", "Ebs": map[string]any{"VolumeType": "io1", "VolumeSize": 10}}}}, "FIELD_VALIDATION_FAILED"},
		{"kernel", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "KernelId": "aki-1"}, "FIELD_VALIDATION_FAILED"},
		{"tag target", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "TagSpecifications": []any{map[string]any{"ResourceType": "spot-instances-request"}}}, "FIELD_VALIDATION_FAILED"},
		{"second device index", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "NetworkInterfaces": []any{map[string]any{"DeviceIndex": 1, "SubnetId": acct.subnetA}}}, "FIELD_VALIDATION_FAILED"},
		{"network card", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "NetworkInterfaces": []any{map[string]any{"DeviceIndex": 0, "NetworkCardIndex": 1}}}, "UNSUPPORTED_OPERATION"},
		{"secondary addresses", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "NetworkInterfaces": []any{map[string]any{"DeviceIndex": 0, "SecondaryPrivateIpAddressCount": 2}}}, "UNSUPPORTED_OPERATION"},
		{"secondary address", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "NetworkInterfaces": []any{map[string]any{"PrivateIpAddresses": []any{map[string]any{"PrivateIpAddress": "10.0.0.9", "Primary": false}}}}}, "UNSUPPORTED_OPERATION"},
		{"primary ipv6", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "NetworkInterfaces": []any{map[string]any{"PrimaryIpv6": true}}}, "UNSUPPORTED_OPERATION"},
		{"carrier address", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "NetworkInterfaces": []any{map[string]any{"AssociateCarrierIpAddress": true}}}, "UNSUPPORTED_OPERATION"},
		{"ipv4 prefixes", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "NetworkInterfaces": []any{map[string]any{"Ipv4PrefixCount": 1}}}, "UNSUPPORTED_OPERATION"},
	}
	for _, c := range bad {
		if b := a.fails("CreateWorkspaceInstance", map[string]any{"ManagedInstance": c.spec}, "ValidationException"); b["Reason"] != c.reason {
			t.Errorf("%s: reason %v, want %s (%v)", c.name, b["Reason"], c.reason, b["message"])
		}
	}
	a.fails("CreateWorkspaceInstance", map[string]any{}, "ValidationException")
	a.fails("CreateWorkspaceInstance", map[string]any{"ManagedInstance": map[string]any{"ImageId": "not-an-ami"}}, "ValidationException")
	a.fails("CreateWorkspaceInstance", map[string]any{"ManagedInstance": map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large"},
		"BillingConfiguration": map[string]any{"BillingMode": "YEARLY"}}, "ValidationException")

	failing := []struct {
		name string
		spec map[string]any
		code string
	}{
		{"missing image", map[string]any{"ImageId": "ami-0123456789abcdef0", "InstanceType": "m5.large"}, "InvalidAMIID.NotFound"},
		{"missing subnet", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "SubnetId": "subnet-0123456789abcdef0"}, "InvalidSubnetID.NotFound"},
		{"subnet elsewhere", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "SubnetId": acct.subnetA, "Placement": map[string]any{"AvailabilityZone": "us-east-1b"}}, "InvalidParameterValue"},
		{"missing group", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "SecurityGroupIds": []string{"sg-0123456789abcdef0"}}, "InvalidGroup.NotFound"},
		{"small root", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/sda1", "Ebs": map[string]any{"VolumeSize": 8}}}}, "InvalidBlockDeviceMapping"},
		{"burstable dedicated", map[string]any{"ImageId": acct.windows, "InstanceType": "t3.large", "Placement": map[string]any{"Tenancy": "dedicated"}}, "Unsupported"},
		// The launch options EC2 acts on, against what the account has.
		{"key pair", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "KeyName": "mykey"}, "InvalidKeyPair.NotFound"},
		{"instance profile", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "IamInstanceProfile": map[string]any{"Name": "ws-profile"}}, "InvalidParameterValue"},
		{"reservations only", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "CapacityReservationSpecification": map[string]any{"CapacityReservationPreference": "capacity-reservations-only"}}, "InsufficientInstanceCapacity"},
		{"credits on m5", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "CreditSpecification": map[string]any{"CpuCredits": "unlimited"}}, "InvalidParameterCombination"},
		{"too many cores", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "CpuOptions": map[string]any{"CoreCount": 2, "ThreadsPerCore": 2}}, "InvalidParameterValue"},
		{"sev-snp", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "CpuOptions": map[string]any{"AmdSevSnp": "enabled"}}, "UnsupportedOperation"},
		{"hibernation unencrypted", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "HibernationOptions": map[string]any{"Configured": true}}, "UnsupportedHibernationConfiguration"},
		{"address outside", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "SubnetId": acct.subnetA, "PrivateIpAddress": "192.0.2.10"}, "InvalidParameterValue"},
		{"reserved address", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "SubnetId": acct.subnetA, "PrivateIpAddress": hostIn(t, acct.cidrA, 1)}, "InvalidParameterValue"},
		{"two primaries", map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "PrivateIpAddress": hostIn(t, acct.cidrA, 10),
			"NetworkInterfaces": []any{map[string]any{"DeviceIndex": 0, "SubnetId": acct.subnetA, "PrivateIpAddress": hostIn(t, acct.cidrA, 11)}}}, "InvalidParameterCombination"},
	}
	for _, c := range failing {
		id := a.create(map[string]any{"ManagedInstance": c.spec})
		var got instance
		testserver.Eventually(t, 10*time.Second, func() bool { got = a.get(id); return got.ProvisionState != "ALLOCATING" }, "%s: still ALLOCATING", c.name)
		if got.ProvisionState != "ERROR_ALLOCATING" || len(got.EC2InstanceErrors) != 1 || got.EC2InstanceErrors[0].EC2ErrorCode != c.code ||
			got.EC2ManagedInstance != nil || len(got.WorkspaceInstanceErrors) != 1 {
			t.Errorf("%s: %+v, want ERROR_ALLOCATING with %s", c.name, got, c.code)
		}
		// A failed launch can be deleted.
		a.ok("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, nil)
	}
	// The same options within what the account has launch.
	id := a.create(map[string]any{"ManagedInstance": map[string]any{"ImageId": acct.windows, "InstanceType": "t3.large", "SubnetId": acct.subnetA,
		"PrivateIpAddress": hostIn(t, acct.cidrA, 20), "CreditSpecification": map[string]any{"CpuCredits": "unlimited"},
		"CpuOptions": map[string]any{"CoreCount": 1, "ThreadsPerCore": 2}, "HibernationOptions": map[string]any{"Configured": true},
		"CapacityReservationSpecification": map[string]any{"CapacityReservationPreference": "open"},
		"BlockDeviceMappings":              []any{map[string]any{"DeviceName": "/dev/sda1", "Ebs": map[string]any{"Encrypted": true, "VolumeType": "gp3", "VolumeSize": 60}}}}})
	testserver.Eventually(t, 10*time.Second, func() bool { return a.get(id).ProvisionState == "ALLOCATED" }, "the launch within the account's options never ALLOCATED: %+v", a.get(id))
	a.ok("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, nil)
	// Volume rules.
	for _, in := range []map[string]any{
		{"AvailabilityZone": "eu-west-1a", "SizeInGB": 10},
		{"AvailabilityZone": "us-east-1a"},
		{"AvailabilityZone": "us-east-1a", "SizeInGB": 10, "VolumeType": "st1"},
		{"AvailabilityZone": "us-east-1a", "SizeInGB": 10, "VolumeType": "gp2", "Iops": 300},
		{"AvailabilityZone": "us-east-1a", "SizeInGB": 10, "VolumeType": "gp3", "Throughput": 2000},
		{"AvailabilityZone": "us-east-1a", "SizeInGB": 10, "SnapshotId": "snap-123"},
		{"AvailabilityZone": "us-east-1a", "SizeInGB": 10, "KmsKeyId": "alias/aws/ebs"},
		{"AvailabilityZone": "us-east-1a", "SizeInGB": 10, "VolumeType": "ssd"},
		{"AvailabilityZone": "us-east-1a", "SizeInGB": 10, "TagSpecifications": []any{map[string]any{"ResourceType": "instance"}}},
	} {
		a.fails("CreateVolume", in, "ValidationException")
	}
	a.fails("DeleteVolume", map[string]any{"VolumeId": "volume-1"}, "ValidationException")
}

func TestCatalog(t *testing.T) {
	s := testserver.Start(t)
	a := newAPI(t, s.AdminWorkspacesInstances())
	type types struct {
		InstanceTypes []struct {
			InstanceType                    string
			SupportedInstanceConfigurations []struct{ BillingMode, PlatformType, Tenancy string }
		}
		NextToken string
	}
	var all, page types
	a.ok("ListInstanceTypes", nil, &all)
	if len(all.InstanceTypes) < 10 || all.NextToken != "" {
		t.Fatalf("ListInstanceTypes: %d types, token %q", len(all.InstanceTypes), all.NextToken)
	}
	var seen []string
	tok := ""
	for {
		in := map[string]any{"MaxResults": 4}
		if tok != "" {
			in["NextToken"] = tok
		}
		page = types{}
		a.ok("ListInstanceTypes", in, &page)
		for _, it := range page.InstanceTypes {
			seen = append(seen, it.InstanceType)
		}
		if tok = page.NextToken; tok == "" {
			break
		}
	}
	if len(seen) != len(all.InstanceTypes) {
		t.Fatalf("paged %d types, listed %d", len(seen), len(all.InstanceTypes))
	}
	var ded types
	a.ok("ListInstanceTypes", map[string]any{"InstanceConfigurationFilter": map[string]any{"BillingMode": "HOURLY", "PlatformType": "Windows BYOL", "Tenancy": "DEDICATED"}}, &ded)
	for _, it := range ded.InstanceTypes {
		if strings.HasPrefix(it.InstanceType, "t3.") || len(it.SupportedInstanceConfigurations) != 1 || it.SupportedInstanceConfigurations[0].Tenancy != "DEDICATED" {
			t.Errorf("dedicated filter returned %+v", it)
		}
	}
	if len(ded.InstanceTypes) == 0 || len(ded.InstanceTypes) >= len(all.InstanceTypes) {
		t.Errorf("dedicated filter: %d of %d types", len(ded.InstanceTypes), len(all.InstanceTypes))
	}
	var linux types
	a.ok("ListInstanceTypes", map[string]any{"InstanceConfigurationFilter": map[string]any{"BillingMode": "HOURLY", "PlatformType": "Linux/UNIX", "Tenancy": "SHARED"}}, &linux)
	if len(linux.InstanceTypes) != 0 {
		t.Errorf("Linux types offered: %+v", linux.InstanceTypes)
	}
	a.fails("ListInstanceTypes", map[string]any{"InstanceConfigurationFilter": map[string]any{"BillingMode": "HOURLY"}}, "ValidationException")
	a.fails("ListInstanceTypes", map[string]any{"NextToken": "nope"}, "ValidationException")
	a.fails("ListInstanceTypes", map[string]any{"MaxResults": 0}, "ValidationException")

	var regions struct {
		Regions   []struct{ RegionName string }
		NextToken string
	}
	a.ok("ListRegions", map[string]any{"MaxResults": 10}, &regions)
	if len(regions.Regions) != 10 || regions.NextToken == "" {
		t.Fatalf("ListRegions page: %+v", regions)
	}
	n := len(regions.Regions)
	next := regions.NextToken
	regions.NextToken = ""
	a.ok("ListRegions", map[string]any{"NextToken": next}, &regions)
	if n+len(regions.Regions) != len(config.DefaultRegions) || regions.NextToken != "" {
		t.Fatalf("ListRegions: %d + %d regions, want %d", n, len(regions.Regions), len(config.DefaultRegions))
	}
	a.fails("ListRegions", map[string]any{"MaxResults": 26}, "ValidationException")
	a.fails("ListRegions", map[string]any{"NextToken": "mars-1"}, "ValidationException")
}

func TestQuotas(t *testing.T) {
	cfg := config.Default()
	cfg.Quotas.WorkspaceInstances, cfg.Quotas.InstanceVolumes = 1, 2
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "deskplane.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := testserver.Start(t, testserver.ConfigFile(path))
	acct := lookup(t, s)
	a := newAPI(t, s.AdminWorkspacesInstances())
	id := a.create(map[string]any{"ManagedInstance": map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large"}})
	body := a.fails("CreateWorkspaceInstance", map[string]any{"ManagedInstance": map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large"}}, "ServiceQuotaExceededException")
	if body["ServiceCode"] != "workspaces-instances" || body["QuotaCode"] == "" {
		t.Errorf("quota body %v", body)
	}
	// The launch's root volume counts: one more volume fits, then none.
	testserver.Eventually(t, 10*time.Second, func() bool { return a.get(id).ProvisionState == "ALLOCATED" }, "never ALLOCATED")
	a.ok("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 10}, nil)
	a.fails("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 10}, "ServiceQuotaExceededException")
	// Another region has its own quota.
	b2 := newAPI(t, s.WorkspacesInstances(config.AdminKeyID, config.AdminSecret, "eu-west-1"))
	b2.ok("CreateVolume", map[string]any{"AvailabilityZone": "eu-west-1b", "SizeInGB": 10}, nil)
	// A launch whose volumes do not fit fails as EC2 fails it.
	euIms, err := ec2.NewFromConfig(s.Admin("eu-west-1")).DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil || len(euIms.Images) == 0 {
		t.Fatalf("eu-west-1 images: %v", err)
	}
	full := b2.create(map[string]any{"ManagedInstance": map[string]any{"ImageId": aws.ToString(euIms.Images[0].ImageId), "InstanceType": "m5.large",
		"BlockDeviceMappings": []any{map[string]any{"DeviceName": "xvdf", "Ebs": map[string]any{"VolumeSize": 10}}}}})
	testserver.Eventually(t, 10*time.Second, func() bool { return b2.get(full).ProvisionState == "ERROR_ALLOCATING" }, "the launch over the volume quota did not fail")
	if e := b2.get(full).EC2InstanceErrors; len(e) != 1 || e[0].EC2ErrorCode != "VolumeLimitExceeded" {
		t.Errorf("launch over the volume quota: %+v", e)
	}
	// A DEALLOCATED instance no longer counts, nor do the volumes it took with it.
	a.ok("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, nil)
	testserver.Eventually(t, 10*time.Second, func() bool { return a.get(id).ProvisionState == "DEALLOCATED" }, "never DEALLOCATED")
	a.ok("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 10}, nil)
	a.create(map[string]any{"ManagedInstance": map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large"}})
}

// TestAuthorization holds the operations to IAM policy with the service
// authorization reference's actions, ARNs and tag conditions, and CloudTrail
// records the calls.
func TestAuthorization(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t)
	acct := lookup(t, s)
	admin := newAPI(t, s.AdminWorkspacesInstances())
	im := iam.NewFromConfig(s.Admin())
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["workspaces-instances:CreateWorkspaceInstance","workspaces-instances:TagResource"],"Resource":"*",
	  "Condition":{"StringEquals":{"aws:RequestTag/team":"blue"}}},
	 {"Effect":"Allow","Action":["workspaces-instances:GetWorkspaceInstance","workspaces-instances:DeleteWorkspaceInstance"],
	  "Resource":"arn:aws:workspaces-instances:*:*:workspaceinstance/*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}},
	 {"Effect":"Allow","Action":"workspaces-instances:List*","Resource":"*"},
	 {"Effect":"Allow","Action":"workspaces-instances:DeleteVolume","Resource":"arn:aws:ec2:us-east-1:*:volume/*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}},
	 {"Effect":"Deny","Action":"workspaces-instances:ListRegions","Resource":"*"}]}`
	if _, err := im.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("blue")}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("blue"), PolicyName: aws.String("p"), PolicyDocument: &policy}); err != nil {
		t.Fatal(err)
	}
	k, err := im.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("blue")})
	if err != nil {
		t.Fatal(err)
	}
	u := newAPI(t, s.WorkspacesInstances(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)))
	spec := map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large"}
	tag := func(v string) []any { return []any{map[string]any{"Key": "team", "Value": v}} }

	mine := u.create(map[string]any{"ManagedInstance": spec, "Tags": tag("blue")})
	u.fails("CreateWorkspaceInstance", map[string]any{"ManagedInstance": spec, "Tags": tag("red")}, "AccessDeniedException")
	u.fails("CreateWorkspaceInstance", map[string]any{"ManagedInstance": spec}, "AccessDeniedException")
	theirs := admin.create(map[string]any{"ManagedInstance": spec, "Tags": tag("red")})
	u.get(mine)
	body := u.fails("GetWorkspaceInstance", map[string]any{"WorkspaceInstanceId": theirs}, "AccessDeniedException")
	if msg, _ := body["message"].(string); !strings.Contains(msg, "workspaces-instances:GetWorkspaceInstance") || !strings.Contains(msg, "arn:aws:workspaces-instances:us-east-1:"+config.CustomerAccount+":workspaceinstance/"+theirs) {
		t.Errorf("denial message %q", msg)
	}
	u.fails("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": theirs}, "AccessDeniedException")
	u.fails("TagResource", map[string]any{"WorkspaceInstanceId": mine, "Tags": tag("red")}, "AccessDeniedException")
	u.fails("UntagResource", map[string]any{"WorkspaceInstanceId": mine, "TagKeys": []string{"team"}}, "AccessDeniedException")
	u.ok("ListWorkspaceInstances", nil, nil)
	u.ok("ListInstanceTypes", nil, nil)
	u.fails("ListRegions", nil, "AccessDeniedException")
	u.fails("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 10}, "AccessDeniedException")
	var blueVol, redVol struct{ VolumeId string }
	admin.ok("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 10,
		"TagSpecifications": []any{map[string]any{"ResourceType": "volume", "Tags": tag("blue")}}}, &blueVol)
	admin.ok("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 10}, &redVol)
	u.fails("DeleteVolume", map[string]any{"VolumeId": redVol.VolumeId}, "AccessDeniedException")
	u.ok("DeleteVolume", map[string]any{"VolumeId": blueVol.VolumeId}, nil)
	// An unknown instance is not found for whoever may act on any instance,
	// and a denial for whoever may not (no tags: the condition fails).
	u.fails("GetWorkspaceInstance", map[string]any{"WorkspaceInstanceId": "wsinst-00000000000000000"}, "AccessDeniedException")
	admin.fails("GetWorkspaceInstance", map[string]any{"WorkspaceInstanceId": "wsinst-00000000000000000"}, "ResourceNotFoundException")

	// CloudTrail: the calls are audited under the service's event source,
	// the denied ones with their error code.
	ct := cloudtrail.NewFromConfig(s.Admin())
	testserver.Eventually(t, 10*time.Second, func() bool {
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(50)})
		if err != nil {
			return false
		}
		created, denied := false, false
		for _, e := range out.Events {
			if aws.ToString(e.EventSource) != "workspaces-instances.amazonaws.com" {
				continue
			}
			raw := aws.ToString(e.CloudTrailEvent)
			if aws.ToString(e.EventName) == "CreateWorkspaceInstance" && aws.ToString(e.Username) == "blue" && strings.Contains(raw, mine) {
				created = true
			}
			if aws.ToString(e.EventName) == "GetWorkspaceInstance" && strings.Contains(raw, `"errorCode":"AccessDenied`) {
				denied = true
			}
		}
		return created && denied
	}, "CloudTrail lacks the WorkSpaces Instances events")
}

// TestRestartKeepsInstances stops the server and starts another on the
// same data directory: instances, volumes, attachments, tags and
// idempotency tokens are durable, and a pending deallocation still runs.
func TestRestartKeepsInstances(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := testserver.Start(t, testserver.DataDir(dir), testserver.Timing("realistic"), testserver.VirtualClock())
	acct := lookup(t, s)
	a := newAPI(t, s.AdminWorkspacesInstances())
	req := map[string]any{"ClientToken": "durable", "ManagedInstance": map[string]any{"ImageId": acct.windows, "InstanceType": "m5.large", "SubnetId": acct.subnetA},
		"Tags": []any{map[string]any{"Key": "k", "Value": "v"}}}
	id := a.create(req)
	s.Advance(20 * time.Minute)
	testserver.Eventually(t, 10*time.Second, func() bool { return a.get(id).ProvisionState == "ALLOCATED" }, "never ALLOCATED")
	var vol struct{ VolumeId string }
	a.ok("CreateVolume", map[string]any{"AvailabilityZone": "us-east-1a", "SizeInGB": 10}, &vol)
	a.ok("AssociateVolume", map[string]any{"WorkspaceInstanceId": id, "VolumeId": vol.VolumeId, "Device": "xvdf"}, nil)
	ec2ID := a.get(id).EC2ManagedInstance.InstanceId
	a.ok("DeleteWorkspaceInstance", map[string]any{"WorkspaceInstanceId": id}, nil)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := testserver.Start(t, testserver.DataDir(dir), testserver.Timing("realistic"), testserver.VirtualClock())
	b := newAPI(t, s2.AdminWorkspacesInstances())
	got := b.get(id)
	if got.ProvisionState != "DEALLOCATING" || got.EC2ManagedInstance == nil || got.EC2ManagedInstance.InstanceId != ec2ID {
		t.Fatalf("after restart: %+v", got)
	}
	if again := b.create(req); again != id {
		t.Fatalf("the ClientToken was forgotten: %s, want %s", again, id)
	}
	var tags struct{ Tags []struct{ Key, Value string } }
	b.ok("ListTagsForResource", map[string]any{"WorkspaceInstanceId": id}, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Key != "k" {
		t.Fatalf("tags after restart: %+v", tags)
	}
	b.fails("DeleteVolume", map[string]any{"VolumeId": vol.VolumeId}, "ConflictException") // still attached
	s2.Advance(5 * time.Minute)
	testserver.Eventually(t, 10*time.Second, func() bool { return b.get(id).ProvisionState == "DEALLOCATED" }, "the deallocation did not survive the restart")
	b.ok("DeleteVolume", map[string]any{"VolumeId": vol.VolumeId}, nil)
}

// hostIn returns the address n hosts into the IPv4 block cidr.
func hostIn(t *testing.T, cidr string, n uint32) string {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatalf("subnet CIDR %q: %v", cidr, err)
	}
	b := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) + n
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b).String()
}
