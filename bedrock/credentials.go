package bedrock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// refreshWindow is how long before expiry temporary credentials are
// refreshed, so that no request is signed with credentials about to lapse.
const refreshWindow = 5 * time.Minute

// ErrNoCredentials is returned (wrapped in a *CredentialsError) when the
// credential chain found nothing.
var ErrNoCredentials = errors.New("no AWS credentials found")

// CredentialsError reports a failure to obtain credentials: which source was
// in use, and why it failed.
type CredentialsError struct {
	Source string // e.g. "default chain", "profile sso-dev", "assume role arn:..."
	Err    error
}

func (e *CredentialsError) Error() string {
	return "bedrock: credentials (" + e.Source + "): " + e.Err.Error()
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// auth is what a Client signs with: either a Bedrock API key, or a refreshing
// credentials provider.
type auth struct {
	apiKey string
	creds  aws.CredentialsProvider // an *aws.CredentialsCache
	source string
	// profileRegion is the region of the loaded shared-config profile, if any.
	profileRegion string
}

// chainLocations lists, in order, where the default chain looks; it is named
// in the error when nothing is found.
const chainLocations = "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), " +
	"shared config and credentials files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ~/.aws; profile %s), " +
	"web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), " +
	"ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI), " +
	"EC2 instance metadata (IMDSv2%s)"

// resolveAuth builds the credentials once per Client, in the order the seed
// documents give: explicit keys, then the default chain (environment, shared
// files with AWS_PROFILE or Profile, web identity, ECS, IMDSv2), optionally
// followed by an STS AssumeRole.
func resolveAuth(ctx context.Context, c *Config) (*auth, error) {
	if c.APIKey != "" {
		return &auth{apiKey: strings.TrimSpace(c.APIKey), source: "API key"}, nil
	}
	explicit := c.AccessKeyID != "" || c.Profile != "" || c.RoleARN != "" || c.CredentialsProvider != nil
	if !explicit {
		// Bedrock API keys from the environment, as botocore does, unless the
		// caller configured AWS credentials in code.
		if k := strings.TrimSpace(os.Getenv("AWS_BEARER_TOKEN_BEDROCK")); k != "" {
			return &auth{apiKey: k, source: "AWS_BEARER_TOKEN_BEDROCK"}, nil
		}
	}

	cacheOpts := func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = refreshWindow }
	opts := []func(*config.LoadOptions) error{config.WithCredentialsCacheOptions(cacheOpts)}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	}
	a := &auth{}
	switch {
	case c.AccessKeyID != "":
		a.source = "explicit keys"
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	case c.CredentialsProvider != nil:
		a.source = "credentials provider"
		opts = append(opts, config.WithCredentialsProvider(c.CredentialsProvider))
	case c.Profile != "":
		a.source = "profile " + c.Profile
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	default:
		a.source = "default chain"
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, &CredentialsError{Source: a.source, Err: err}
	}
	a.profileRegion = awsCfg.Region
	a.creds = awsCfg.Credentials
	if c.RoleARN != "" {
		if awsCfg.Region == "" {
			awsCfg.Region = resolveRegion(c.Region, "")
		}
		stsClient := sts.NewFromConfig(awsCfg)
		provider := stscreds.NewAssumeRoleProvider(stsClient, c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			if c.ExternalID != "" {
				o.ExternalID = aws.String(c.ExternalID)
			}
			o.RoleSessionName = fmt.Sprintf("quarry-%d", time.Now().UnixNano())
		})
		a.source = "assume role " + c.RoleARN + " from " + a.source
		a.creds = aws.NewCredentialsCache(provider, cacheOpts)
	}
	if a.creds == nil {
		return nil, &CredentialsError{Source: a.source, Err: ErrNoCredentials}
	}
	return a, nil
}

// retrieve returns current credentials, refreshed as needed; concurrent
// callers share one refresh (aws.CredentialsCache is single-flight).
func (a *auth) retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := a.creds.Retrieve(ctx)
	if err == nil {
		return creds, nil
	}
	if ctx.Err() != nil {
		return aws.Credentials{}, ctx.Err()
	}
	if a.source == "default chain" {
		profile := os.Getenv("AWS_PROFILE")
		if profile == "" {
			profile = "default"
		}
		imds := ""
		if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
			imds = ", disabled by AWS_EC2_METADATA_DISABLED"
		}
		return aws.Credentials{}, &CredentialsError{Source: a.source,
			Err: fmt.Errorf("%w; looked in: "+chainLocations+": %w", ErrNoCredentials, profile, imds, err)}
	}
	return aws.Credentials{}, &CredentialsError{Source: a.source, Err: err}
}
