package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/deskplane/deskplane/internal/broker/dsdata"
	"github.com/deskplane/deskplane/internal/sdkhttp"
)

// WorkSpacesAPI is the part of the WorkSpaces API the broker uses; the
// aws-sdk-go-v2 client satisfies it.
type WorkSpacesAPI interface {
	DescribeAccount(context.Context, *workspaces.DescribeAccountInput, ...func(*workspaces.Options)) (*workspaces.DescribeAccountOutput, error)
	DescribeAccountModifications(context.Context, *workspaces.DescribeAccountModificationsInput, ...func(*workspaces.Options)) (*workspaces.DescribeAccountModificationsOutput, error)
	ListAvailableManagementCidrRanges(context.Context, *workspaces.ListAvailableManagementCidrRangesInput, ...func(*workspaces.Options)) (*workspaces.ListAvailableManagementCidrRangesOutput, error)
	ModifyAccount(context.Context, *workspaces.ModifyAccountInput, ...func(*workspaces.Options)) (*workspaces.ModifyAccountOutput, error)
	ImportWorkspaceImage(context.Context, *workspaces.ImportWorkspaceImageInput, ...func(*workspaces.Options)) (*workspaces.ImportWorkspaceImageOutput, error)
	DescribeWorkspaceImages(context.Context, *workspaces.DescribeWorkspaceImagesInput, ...func(*workspaces.Options)) (*workspaces.DescribeWorkspaceImagesOutput, error)
	DescribeWorkspaceDirectories(context.Context, *workspaces.DescribeWorkspaceDirectoriesInput, ...func(*workspaces.Options)) (*workspaces.DescribeWorkspaceDirectoriesOutput, error)
	RegisterWorkspaceDirectory(context.Context, *workspaces.RegisterWorkspaceDirectoryInput, ...func(*workspaces.Options)) (*workspaces.RegisterWorkspaceDirectoryOutput, error)
	DescribeWorkspaceBundles(context.Context, *workspaces.DescribeWorkspaceBundlesInput, ...func(*workspaces.Options)) (*workspaces.DescribeWorkspaceBundlesOutput, error)
	CreateWorkspaceBundle(context.Context, *workspaces.CreateWorkspaceBundleInput, ...func(*workspaces.Options)) (*workspaces.CreateWorkspaceBundleOutput, error)
	DescribeWorkspaces(context.Context, *workspaces.DescribeWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.DescribeWorkspacesOutput, error)
	DescribeTags(context.Context, *workspaces.DescribeTagsInput, ...func(*workspaces.Options)) (*workspaces.DescribeTagsOutput, error)
	CreateWorkspaces(context.Context, *workspaces.CreateWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.CreateWorkspacesOutput, error)
	StartWorkspaces(context.Context, *workspaces.StartWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.StartWorkspacesOutput, error)
	StopWorkspaces(context.Context, *workspaces.StopWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.StopWorkspacesOutput, error)
	TerminateWorkspaces(context.Context, *workspaces.TerminateWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.TerminateWorkspacesOutput, error)
	RebuildWorkspaces(context.Context, *workspaces.RebuildWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.RebuildWorkspacesOutput, error)
	RebootWorkspaces(context.Context, *workspaces.RebootWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.RebootWorkspacesOutput, error)
	DescribeIpGroups(context.Context, *workspaces.DescribeIpGroupsInput, ...func(*workspaces.Options)) (*workspaces.DescribeIpGroupsOutput, error)
	CreateStandbyWorkspaces(context.Context, *workspaces.CreateStandbyWorkspacesInput, ...func(*workspaces.Options)) (*workspaces.CreateStandbyWorkspacesOutput, error)
	ModifyWorkspaceCreationProperties(context.Context, *workspaces.ModifyWorkspaceCreationPropertiesInput, ...func(*workspaces.Options)) (*workspaces.ModifyWorkspaceCreationPropertiesOutput, error)
}

// EC2API is the part of EC2 the broker uses (listing AMIs to import; the
// onboarding security group).
type EC2API interface {
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DescribeVpcs(context.Context, *ec2.DescribeVpcsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(context.Context, *ec2.CreateSecurityGroupInput, ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
}

// Clients are the service clients the broker talks to, all signed with the
// same credentials.
type Clients struct {
	WorkSpaces WorkSpacesAPI
	EC2        EC2API
	DS         *directoryservice.Client
	DSData     *dsdata.Client
	// AWS is the configuration the clients were built from.
	AWS aws.Config
	// calls feeds the broker's metrics from the clients' middleware.
	calls *callObserver
}

// NewAWSConfig builds the aws.Config the broker uses from its
// configuration: region, endpoint (when set), credentials — the static keys,
// or the default chain, wrapped in an sts:AssumeRole provider with the
// ExternalId when a role is configured, behind an aws.CredentialsCache that
// refreshes five minutes before expiry — and a retryer that retries
// throttling with jittered exponential backoff and no client-side retry
// quota (a throttled broker must keep trying, not give up).
func NewAWSConfig(ctx context.Context, c *Config, timeout time.Duration) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.Region)}
	if c.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	if c.Endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(c.Endpoint))
	}
	if timeout > 0 {
		opts = append(opts, awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)))
	}
	maxAttempts, maxBackoff := c.MaxAttempts, c.maxBackoff()
	// cache is the role's credentials cache, set below; an ExpiredToken
	// answer (the service's clock disagrees with ours) drops it and retries
	// with fresh credentials.
	var cache *aws.CredentialsCache
	expired := retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
		if cache != nil && IsExpiredToken(err) {
			cache.Invalidate()
			return aws.TrueTernary
		}
		return aws.UnknownTernary
	})
	opts = append(opts, awsconfig.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = maxBackoff
			o.RateLimiter = ratelimit.None
			o.Retryables = append([]retry.IsErrorRetryable{expired}, o.Retryables...)
		})
	}))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("broker: aws config: %w", err)
	}
	if c.MaxRequestsPerSecond > 0 {
		cfg.APIOptions = append(cfg.APIOptions, newPacer(c.MaxRequestsPerSecond).install)
	}
	// Request bodies go through sdkhttp (wrapped after loading, which
	// configures the client's transport, e.g. with AWS_CA_BUNDLE): a race
	// between the SDK and net/http otherwise loses large response bodies
	// now and then.
	cfg.HTTPClient = sdkhttp.Client(cfg.HTTPClient)
	if c.RoleARN != "" {
		cache = AssumeRoleCredentials(sts.NewFromConfig(cfg), c.RoleARN, c.ExternalID, c.SessionName)
		cfg.Credentials = cache
	}
	return cfg, nil
}

// IsExpiredToken reports whether err is the service refusing expired
// temporary credentials.
func IsExpiredToken(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "ExpiredToken" || ae.ErrorCode() == "ExpiredTokenException"
	}
	return false
}

// AssumeRoleCredentials returns a cached provider of the role's temporary
// credentials, refreshed before they expire.
func AssumeRoleCredentials(client stscreds.AssumeRoleAPIClient, roleARN, externalID, sessionName string) *aws.CredentialsCache {
	p := stscreds.NewAssumeRoleProvider(client, roleARN, func(o *stscreds.AssumeRoleOptions) {
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
		o.RoleSessionName = sessionName
		o.Duration = time.Hour
	})
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 5 * time.Minute
		o.ExpiryWindowJitterFrac = 0.2
	})
}

// NewClients builds the service clients from an aws.Config.
func NewClients(cfg aws.Config, endpoint string) *Clients {
	dd := dsdata.New(endpoint, cfg.Region, cfg.Credentials, cfg.HTTPClient)
	// The clients observe their calls for the broker's metrics; AWS keeps
	// the configuration as given, so clients built from it again do not
	// observe twice.
	orig := cfg
	obs := &callObserver{}
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), obs.install)
	return &Clients{
		calls: obs,
		WorkSpaces: workspaces.NewFromConfig(cfg, func(o *workspaces.Options) {
			o.APIOptions = append(o.APIOptions[:len(o.APIOptions):len(o.APIOptions)], fastDescribe)
		}),
		EC2:    ec2.NewFromConfig(cfg),
		DS:     directoryservice.NewFromConfig(cfg),
		DSData: dd,
		AWS:    orig,
	}
}
