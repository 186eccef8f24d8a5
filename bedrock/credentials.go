package bedrock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
)

// refreshWindow is how long before expiry temporary credentials are
// refreshed, so that no request is signed with credentials about to lapse.
const refreshWindow = 5 * time.Minute

// ErrNoCredentials is returned (wrapped in a *CredentialsError) when the
// credential chain found nothing.
var ErrNoCredentials = errors.New("no AWS credentials found")

// CredentialsError reports a failure to obtain credentials: which source was
// in use, and why it failed. It never contains secret values.
type CredentialsError struct {
	Source string // e.g. "default chain: ECS container credentials", "assume role arn:..."
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
	// lastResort is set when the chain found no configured source and fell
	// through to instance metadata: its failure means "no credentials
	// anywhere", reported with the list of places the chain looked.
	lastResort bool
	profile    string // the shared-config profile the chain consulted
	// profileRegion is the region of the loaded shared-config profile, if any.
	profileRegion string

	// After Bedrock rejects credentials (see credentialsRejected) the chain
	// is resolved again: reresolve builds a fresh provider, live holds it,
	// gen counts the refreshes so that concurrent calls refresh once.
	reresolve func(context.Context) (aws.CredentialsProvider, error)
	log       *slog.Logger
	mu        sync.Mutex
	gen       atomic.Uint64
	live      atomic.Pointer[providerRef]
}

type providerRef struct{ p aws.CredentialsProvider }

// rejectedCodes are Bedrock's answers to credentials it no longer accepts:
// an expired session token, a key that was rotated or deleted, a secret
// that changed under the same key ID.
var rejectedCodes = map[string]bool{
	"ExpiredTokenException":       true,
	"ExpiredToken":                true,
	"UnrecognizedClientException": true,
	"InvalidClientTokenId":        true,
	"InvalidSignatureException":   true,
}

// credentialsRejected reports whether err is Bedrock refusing the
// credentials a request was signed with.
func credentialsRejected(err error) bool {
	be, ok := errors.AsType[*Error](err)
	return ok && rejectedCodes[be.Code]
}

// provider is the credentials provider in use.
func (a *auth) provider() aws.CredentialsProvider {
	if r := a.live.Load(); r != nil {
		return r.p
	}
	return a.creds
}

// refresh drops the credentials of generation gen, which Bedrock rejected
// (cause), and resolves the chain again so that the next retrieve fetches
// fresh ones from whichever provider supplies them. Concurrent callers
// that saw the same generation refresh once, and it is logged once. It
// reports whether a retry may use new credentials.
func (a *auth) refresh(ctx context.Context, gen uint64, cause error) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen.Load() != gen {
		return true // another call refreshed them meanwhile
	}
	old := a.provider()
	if inv, ok := old.(interface{ Invalidate() }); ok {
		inv.Invalidate() // an *aws.CredentialsCache: the next Retrieve fetches
	}
	if a.reresolve != nil {
		// Static keys from the environment or the shared files are read
		// again too (a rotation rewrites them), not only cached sessions.
		if p, err := a.reresolve(ctx); err == nil && p != nil {
			a.live.Store(&providerRef{p})
		}
	}
	a.gen.Add(1)
	code := ""
	if be, ok := errors.AsType[*Error](cause); ok {
		code = be.Code
	}
	log := a.log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("bedrock: the credentials were rejected; resolved them again and retrying once",
		"source", a.source, "code", code)
	return true
}

// chainLocations lists, in order, where the default chain looks; it is named
// in the error when nothing is found.
const chainLocations = "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); " +
	"shared config and credentials files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ~/.aws; profile %s: static keys, SSO, role, process); " +
	"web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN); " +
	"ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI); " +
	"EC2 instance metadata (IMDSv2%s)"

// resolveAuth builds the credentials once per Client, in the order issue #3
// requires: explicit keys, then the environment, the shared files (AWS_PROFILE
// or Profile; static keys and SSO), web identity, ECS, IMDSv2 — optionally
// followed by an STS AssumeRole. Nothing is fetched here: the provider is a
// cache that fetches on first use and refreshes before expiry.
func resolveAuth(ctx context.Context, c *Config) (*auth, error) {
	if c.APIKey != "" {
		return &auth{apiKey: strings.TrimSpace(c.APIKey), source: "API key"}, nil
	}
	inCode := c.AccessKeyID != "" || c.Profile != "" || c.RoleARN != "" || c.CredentialsProvider != nil
	if !inCode {
		// Bedrock API keys from the environment, as botocore does, unless the
		// caller configured AWS credentials in code.
		if k := strings.TrimSpace(os.Getenv("AWS_BEARER_TOKEN_BEDROCK")); k != "" {
			return &auth{apiKey: k, source: "AWS_BEARER_TOKEN_BEDROCK"}, nil
		}
	}

	cacheOpts := func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = refreshWindow }
	opts := []func(*config.LoadOptions) error{
		config.WithCredentialsCacheOptions(cacheOpts),
		// STS, SSO and the web-identity provider need a region even when
		// none is configured; Bedrock itself defaults to us-east-1 too.
		config.WithDefaultRegion(DefaultRegion),
		config.WithLogger(sdkLogger{cmp.Or(c.Logger, slog.Default())}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	// The chain's own calls (STS, SSO, ECS, IMDS) use the SDK's HTTP client,
	// not Config.HTTPClient: that one is sized and tuned for Bedrock, and the
	// SDK must be free to apply AWS_CA_BUNDLE to its transport.
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
		a.profile = c.Profile
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	default:
		if err := checkEnvKeys(); err != nil {
			return nil, err
		}
	}
	if a.profile == "" {
		a.profile = requestedProfile()
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil && (c.AccessKeyID != "" || c.CredentialsProvider != nil) {
		// Credentials given in code need nothing from the shared files: a
		// stray AWS_PROFILE or a broken ~/.aws/config must not break them.
		awsCfg, err = envOnlyConfig(c, cacheOpts)
	}
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		// A typo in a profile name deserves an error naming the setting
		// (the SDK only checks profiles named in code or by AWS_PROFILE).
		field := "Profile"
		if c.Profile == "" {
			field = "AWS_PROFILE"
		}
		return nil, &ConfigError{field, fmt.Sprintf("profile %q not found in the shared config or credentials files", notExist.Profile)}
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return nil, ce
	}
	if err != nil {
		return nil, &CredentialsError{Source: cmp.Or(a.source, "default chain"), Err: err}
	}
	env, shared := configSources(awsCfg)
	if a.source == "" {
		a.source = "default chain: " + chainChoice(env, shared)
		// The SDK's chain tries web identity from the environment before the
		// shared files; issue #3 (like the Rust SDK and Spice.ai) puts the
		// files first. Selecting the profile explicitly makes the SDK use it.
		if env.WebIdentityTokenFilePath != "" && !env.Credentials.HasKeys() && profileHasCredentials(&shared) {
			awsCfg, err = config.LoadDefaultConfig(ctx, append(opts, config.WithSharedConfigProfile(shared.Profile))...)
			if err != nil {
				return nil, &CredentialsError{Source: a.source, Err: err}
			}
		}
	}
	if c.AccessKeyID == "" && c.CredentialsProvider == nil {
		// With Profile set the SDK ignores environment keys and web
		// identity, so only the profile and the container matter then.
		envSource := c.Profile == "" && (env.Credentials.HasKeys() || env.WebIdentityTokenFilePath != "")
		a.lastResort = !envSource && !profileHasCredentials(&shared) &&
			env.ContainerCredentialsRelativePath == "" && env.ContainerCredentialsEndpoint == ""
	}
	a.profileRegion = awsCfg.Region
	a.creds = awsCfg.Credentials
	if c.RoleARN != "" {
		stsClient := sts.NewFromConfig(awsCfg)
		provider := stscreds.NewAssumeRoleProvider(stsClient, c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			if c.ExternalID != "" {
				o.ExternalID = aws.String(c.ExternalID)
			}
			o.RoleSessionName = fmt.Sprintf("quarry-%d", time.Now().UnixNano())
		})
		a.source = "assume role " + c.RoleARN + " from " + a.source
		a.lastResort = false
		a.creds = aws.NewCredentialsCache(provider, cacheOpts)
	}
	if a.creds == nil {
		return nil, &CredentialsError{Source: a.source, Err: ErrNoCredentials}
	}
	return a, nil
}

// envOnlyConfig is the AWS config of credentials given in code when the
// shared files cannot be loaded: the environment still supplies settings
// such as AWS_ENDPOINT_URL_STS to the STS client of an AssumeRole.
func envOnlyConfig(c *Config, cacheOpts func(*aws.CredentialsCacheOptions)) (aws.Config, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return aws.Config{}, err
	}
	region, err := resolveRegion(c.Region, "")
	if err != nil {
		return aws.Config{}, err
	}
	var p aws.CredentialsProvider = c.CredentialsProvider
	if c.AccessKeyID != "" {
		p = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	}
	if _, cached := p.(*aws.CredentialsCache); !cached {
		p = aws.NewCredentialsCache(p, cacheOpts)
	}
	// Like LoadDefaultConfig here, the STS client keeps the SDK's own HTTP
	// client rather than Config.HTTPClient (tuned for Bedrock).
	return aws.Config{Region: region, Credentials: p, ConfigSources: []any{env}, Logger: sdkLogger{cmp.Or(c.Logger, slog.Default())}}, nil
}

// sdkLogger hands the AWS SDK's log lines to slog.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, fmt.Sprintf(format, v...), "component", "aws-sdk")
	}
}

// checkEnvKeys rejects half a key pair in the environment: the SDK would
// silently ignore it and sign with something else (an instance role, say),
// which is never what the user meant.
func checkEnvKeys() error {
	id := firstEnv("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := firstEnv("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	switch {
	case id != "" && secret == "":
		return &ConfigError{"AWS_SECRET_ACCESS_KEY", "required when AWS_ACCESS_KEY_ID is set in the environment"}
	case secret != "" && id == "":
		return &ConfigError{"AWS_ACCESS_KEY_ID", "required when AWS_SECRET_ACCESS_KEY is set in the environment"}
	}
	return nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// requestedProfile is the profile named by the environment, "" if none.
func requestedProfile() string {
	return firstEnv("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
}

// configSources extracts what LoadDefaultConfig read from the environment and
// the shared files.
func configSources(cfg aws.Config) (env config.EnvConfig, shared config.SharedConfig) {
	for _, s := range cfg.ConfigSources {
		switch v := s.(type) {
		case config.EnvConfig:
			env = v
		case *config.EnvConfig:
			env = *v
		case config.SharedConfig:
			shared = v
		case *config.SharedConfig:
			shared = *v
		}
	}
	return env, shared
}

// profileHasCredentials reports whether a shared-config profile configures a
// credential source of its own.
func profileHasCredentials(s *config.SharedConfig) bool {
	return s.Credentials.HasKeys() || s.Source != nil || s.CredentialSource != "" ||
		s.WebIdentityTokenFile != "" || s.SSOSessionName != "" || s.SSOStartURL != "" ||
		s.SSOAccountID != "" || s.SSORoleName != "" || s.CredentialProcess != "" || s.LoginSession != ""
}

// chainChoice names the source the default chain will use, for errors.
func chainChoice(env config.EnvConfig, shared config.SharedConfig) string {
	switch {
	case env.Credentials.HasKeys():
		return "environment"
	case profileHasCredentials(&shared):
		return "profile " + shared.Profile
	case env.WebIdentityTokenFilePath != "":
		return "web identity"
	case env.ContainerCredentialsRelativePath != "" || env.ContainerCredentialsEndpoint != "":
		return "ECS container credentials"
	default:
		return "EC2 instance metadata"
	}
}

// profileSource is the source label when a profile was chosen in code.
func (a *auth) profileSource() string {
	if strings.HasPrefix(a.source, "profile ") {
		return a.source
	}
	return ""
}

// retrieve returns current credentials, refreshed as needed; concurrent
// callers share one refresh (aws.CredentialsCache is single-flight).
func (a *auth) retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := a.provider().Retrieve(ctx)
	if err == nil {
		return creds, nil
	}
	if ctx.Err() != nil {
		return aws.Credentials{}, ctx.Err()
	}
	if a.lastResort {
		profile := a.profile
		if profile == "" {
			profile = "default"
		}
		imds := ""
		if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
			imds = ", disabled by AWS_EC2_METADATA_DISABLED"
		}
		return aws.Credentials{}, &CredentialsError{Source: cmp.Or(a.profileSource(), "default chain"),
			Err: fmt.Errorf("%w; looked in: "+chainLocations+": %w", ErrNoCredentials, profile, imds, err)}
	}
	return aws.Credentials{}, &CredentialsError{Source: a.source, Err: err}
}
