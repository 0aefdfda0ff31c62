package ds_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/ds"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/testserver"
)

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

func noClientValidation(o *directoryservice.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		_, err := st.Initialize.Remove("OperationInputValidation")
		return err
	})
}

// network returns the customer's VPC and its two subnets in us-east-1.
func network(t *testing.T, s *testserver.Server) (string, []string) {
	t.Helper()
	c := ec2.NewFromConfig(s.Admin())
	subs := must(c.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{}))(t).Subnets
	var ids []string
	for _, sn := range subs {
		ids = append(ids, aws.ToString(sn.SubnetId))
	}
	return aws.ToString(subs[0].VpcId), ids
}

func seeded(t *testing.T, c *directoryservice.Client) types.DirectoryDescription {
	t.Helper()
	out := must(c.DescribeDirectories(context.Background(), &directoryservice.DescribeDirectoriesInput{}))(t)
	for _, d := range out.DirectoryDescriptions {
		if aws.ToString(d.Name) == "corp.example.com" {
			return d
		}
	}
	t.Fatalf("corp.example.com not seeded: %+v", out.DirectoryDescriptions)
	return types.DirectoryDescription{}
}

func TestSeededDirectory(t *testing.T) {
	s := testserver.Start(t)
	c := directoryservice.NewFromConfig(s.Admin())
	d := seeded(t, c)
	vpc, subnets := network(t, s)
	id := aws.ToString(d.DirectoryId)
	if len(id) != 12 || !strings.HasPrefix(id, "d-") || d.Stage != types.DirectoryStageActive || d.Type != types.DirectoryTypeMicrosoftAd ||
		d.Edition != types.DirectoryEditionStandard || aws.ToString(d.ShortName) != "CORP" || aws.ToString(d.AccessUrl) != id+".awsapps.com" ||
		d.LaunchTime == nil || d.StageLastUpdatedDateTime == nil || len(d.DnsIpAddrs) != 2 {
		t.Fatalf("seeded directory: %+v", d)
	}
	if d.VpcSettings == nil || aws.ToString(d.VpcSettings.VpcId) != vpc || len(d.VpcSettings.SubnetIds) != 2 ||
		len(d.VpcSettings.AvailabilityZones) != 2 || !strings.HasPrefix(aws.ToString(d.VpcSettings.SecurityGroupId), "sg-") {
		t.Fatalf("vpc settings: %+v", d.VpcSettings)
	}
	for _, sid := range d.VpcSettings.SubnetIds {
		if sid != subnets[0] && sid != subnets[1] {
			t.Errorf("subnet %s is not one of the VPC's", sid)
		}
	}
	for _, ip := range d.DnsIpAddrs {
		if !strings.HasPrefix(ip, "10.0.1.") && !strings.HasPrefix(ip, "10.0.2.") {
			t.Errorf("DNS address %s is outside the subnets", ip)
		}
	}
	// Every configured region has its own directory; the partner has none.
	west := directoryservice.NewFromConfig(s.Admin("eu-west-2"))
	wd := seeded(t, west)
	if aws.ToString(wd.DirectoryId) == id {
		t.Error("regions share a directory id")
	}
	p := directoryservice.NewFromConfig(s.Partner())
	if out := must(p.DescribeDirectories(context.Background(), &directoryservice.DescribeDirectoriesInput{}))(t); len(out.DirectoryDescriptions) != 0 {
		t.Errorf("partner sees %+v", out.DirectoryDescriptions)
	}
	_, err := p.DescribeDirectories(context.Background(), &directoryservice.DescribeDirectoriesInput{DirectoryIds: []string{id}})
	wantCode(t, err, "EntityDoesNotExistException")
}

func TestCreateDescribeDelete(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("fast"))
	ctx := context.Background()
	c := directoryservice.NewFromConfig(s.Admin())
	vpc, subnets := network(t, s)
	vs := &types.DirectoryVpcSettings{VpcId: aws.String(vpc), SubnetIds: subnets}

	mad := must(c.CreateMicrosoftAD(ctx, &directoryservice.CreateMicrosoftADInput{Name: aws.String("ad.example.org"), ShortName: aws.String("AD"),
		Password: aws.String("Sup3r-secret!"), Edition: types.DirectoryEditionEnterprise, VpcSettings: vs,
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}}))(t)
	simple := must(c.CreateDirectory(ctx, &directoryservice.CreateDirectoryInput{Name: aws.String("simple.example.org"),
		Password: aws.String("Sup3r-secret!"), Size: types.DirectorySizeSmall, VpcSettings: vs}))(t)
	conn := must(c.ConnectDirectory(ctx, &directoryservice.ConnectDirectoryInput{Name: aws.String("onprem.example.org"),
		Password: aws.String("x"), Size: types.DirectorySizeLarge, ConnectSettings: &types.DirectoryConnectSettings{VpcId: aws.String(vpc),
			SubnetIds: subnets, CustomerDnsIps: []string{"192.168.1.10", "192.168.1.11"}, CustomerUserName: aws.String("svc-connector")}}))(t)

	ids := []string{aws.ToString(mad.DirectoryId), aws.ToString(simple.DirectoryId), aws.ToString(conn.DirectoryId)}
	out := must(c.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{DirectoryIds: ids}))(t)
	if len(out.DirectoryDescriptions) != 3 {
		t.Fatalf("describe: %+v", out.DirectoryDescriptions)
	}
	for _, d := range out.DirectoryDescriptions {
		if d.Stage != types.DirectoryStageCreating {
			t.Errorf("%s: stage %s right after creation", aws.ToString(d.Name), d.Stage)
		}
		switch d.Type {
		case types.DirectoryTypeMicrosoftAd:
			if d.Edition != types.DirectoryEditionEnterprise || d.VpcSettings == nil {
				t.Errorf("microsoft ad: %+v", d)
			}
		case types.DirectoryTypeSimpleAd:
			if d.Size != types.DirectorySizeSmall || aws.ToString(d.ShortName) != "SIMPLE" {
				t.Errorf("simple ad: %+v", d)
			}
		case types.DirectoryTypeAdConnector:
			if d.ConnectSettings == nil || aws.ToString(d.ConnectSettings.CustomerUserName) != "svc-connector" || len(d.ConnectSettings.ConnectIps) != 2 {
				t.Errorf("ad connector: %+v", d)
			}
		}
	}
	// The lifecycle engine makes them Active.
	testserver.Eventually(t, 20*time.Second, func() bool {
		out, err := c.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{DirectoryIds: ids})
		if err != nil {
			return false
		}
		for _, d := range out.DirectoryDescriptions {
			if d.Stage != types.DirectoryStageActive {
				return false
			}
		}
		return true
	}, "directories did not become Active")

	// Pagination with Limit.
	var all []string
	var token *string
	for {
		page := must(c.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{Limit: aws.Int32(2), NextToken: token}))(t)
		for _, d := range page.DirectoryDescriptions {
			all = append(all, aws.ToString(d.DirectoryId))
		}
		if page.NextToken == nil {
			break
		}
		token = page.NextToken
	}
	if len(all) != 4 {
		t.Errorf("paginated directories: %v", all)
	}
	_, err := c.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidNextTokenException")
	_, err = c.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{DirectoryIds: []string{"d-0000000000"}})
	wantCode(t, err, "EntityDoesNotExistException")

	// Validation.
	bad := []struct {
		in   *directoryservice.CreateMicrosoftADInput
		code string
	}{
		{&directoryservice.CreateMicrosoftADInput{Name: aws.String("x.example.org"), Password: aws.String("weak"), VpcSettings: vs}, "InvalidParameterException"},
		{&directoryservice.CreateMicrosoftADInput{Name: aws.String("not a name"), Password: aws.String("Sup3r-secret!"), VpcSettings: vs}, "InvalidParameterException"},
		{&directoryservice.CreateMicrosoftADInput{Name: aws.String("x.example.org"), Password: aws.String("Sup3r-secret!"),
			VpcSettings: &types.DirectoryVpcSettings{VpcId: aws.String(vpc), SubnetIds: subnets[:1]}}, "InvalidParameterException"},
		{&directoryservice.CreateMicrosoftADInput{Name: aws.String("x.example.org"), Password: aws.String("Sup3r-secret!"),
			VpcSettings: &types.DirectoryVpcSettings{VpcId: aws.String(vpc), SubnetIds: []string{subnets[0], "subnet-0123456789abcdef0"}}}, "InvalidParameterException"},
		{&directoryservice.CreateMicrosoftADInput{Name: aws.String("x.example.org"), Password: aws.String("Sup3r-secret!"),
			VpcSettings: &types.DirectoryVpcSettings{VpcId: aws.String(vpc), SubnetIds: []string{subnets[0], subnets[0]}}}, "InvalidParameterException"},
		{&directoryservice.CreateMicrosoftADInput{Name: aws.String("x.example.org"), Password: aws.String("Sup3r-secret!"), VpcSettings: vs, Edition: "Platinum"}, "InvalidParameterException"},
		{&directoryservice.CreateMicrosoftADInput{Name: aws.String("x.example.org"), VpcSettings: vs}, "InvalidParameterException"},
	}
	for i, b := range bad {
		_, err := c.CreateMicrosoftAD(ctx, b.in, noClientValidation)
		if err == nil {
			t.Errorf("case %d: accepted", i)
			continue
		}
		wantCode(t, err, b.code)
	}

	// Delete, honouring the in-use hook.
	var dsm *ds.Module
	for _, m := range s.Modules {
		if x, ok := m.(*ds.Module); ok {
			dsm = x
		}
	}
	dsm.SetInUse(func(ctx context.Context, tx store.Tx, account, region, dirID string) (bool, error) {
		return account == config.CustomerAccount && dirID == aws.ToString(mad.DirectoryId), nil
	})
	_, err = c.DeleteDirectory(ctx, &directoryservice.DeleteDirectoryInput{DirectoryId: mad.DirectoryId})
	wantCode(t, err, "ClientException")
	must(c.DeleteDirectory(ctx, &directoryservice.DeleteDirectoryInput{DirectoryId: simple.DirectoryId}))(t)
	_, err = c.DeleteDirectory(ctx, &directoryservice.DeleteDirectoryInput{DirectoryId: simple.DirectoryId})
	wantCode(t, err, "EntityDoesNotExistException")
	_, err = c.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{DirectoryIds: []string{aws.ToString(simple.DirectoryId)}})
	wantCode(t, err, "EntityDoesNotExistException")
	_, err = c.DeleteDirectory(ctx, &directoryservice.DeleteDirectoryInput{DirectoryId: aws.String("bad")}, noClientValidation)
	wantCode(t, err, "InvalidParameterException")
}

func TestSeedIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var ids [2]string
	for i := range 2 {
		s := testserver.Start(t, testserver.DataDir(dir))
		c := directoryservice.NewFromConfig(s.Admin())
		out := must(c.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{}))(t)
		if len(out.DirectoryDescriptions) != 1 {
			t.Fatalf("start %d: %d directories", i, len(out.DirectoryDescriptions))
		}
		ids[i] = aws.ToString(out.DirectoryDescriptions[0].DirectoryId)
		users := dsData(t, s, "list-users", "--directory-id", ids[i])
		if n := len(users["Users"].([]any)); n != 8 {
			t.Errorf("start %d: %d users", i, n)
		}
		s.Shutdown(ctx)
	}
	if ids[0] != ids[1] {
		t.Errorf("directory id changed across restarts: %v", ids)
	}
}

// dsData runs the aws CLI's ds-data command against the server as the
// customer admin and decodes its JSON output. Errors fail the test; use
// dsDataErr to expect one.
func dsData(t *testing.T, s *testserver.Server, args ...string) map[string]any {
	t.Helper()
	out, err := dsDataRun(t, s, args...)
	if err != nil {
		t.Fatalf("aws ds-data %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func dsDataErr(t *testing.T, s *testserver.Server, code string, args ...string) {
	t.Helper()
	_, err := dsDataRun(t, s, args...)
	if err == nil || !strings.Contains(err.Error(), "("+code+")") {
		t.Fatalf("aws ds-data %s: want %s, got %v", strings.Join(args, " "), code, err)
	}
}

func dsDataRun(t *testing.T, s *testserver.Server, args ...string) (map[string]any, error) {
	t.Helper()
	return dsDataRunAs(t, s, "admin", args...)
}

// dsDataRunAs runs aws ds-data as the customer "admin" or the "partner".
func dsDataRunAs(t *testing.T, s *testserver.Server, who string, args ...string) (map[string]any, error) {
	t.Helper()
	key, secret := config.AdminKeyID, config.AdminSecret
	if who == "partner" {
		key, secret = config.PartnerKeyID, config.PartnerSecret
	}
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	cmd := exec.Command(bin, append(append([]string{"ds-data"}, args...), "--endpoint-url", s.URL, "--region", "us-east-1", "--output", "json")...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, errors.New(strings.TrimSpace(stderr.String()))
	}
	out := map[string]any{}
	if len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("decode %q: %v", b, err)
		}
	}
	return out, nil
}
