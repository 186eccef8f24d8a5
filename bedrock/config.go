package bedrock

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Defaults from the seed documents (Spice.ai's Bedrock connector).
const (
	DefaultRegion            = "us-east-1"
	DefaultRequestsPerMinute = 1500
	DefaultMaxConcurrent     = 40
)

// Config says how a Client reaches Bedrock. The zero value is valid: region
// from the environment (else us-east-1), credentials from the default AWS
// chain, the public endpoint, the default limits and retries.
type Config struct {
	// Region is the AWS region. Empty: AWS_REGION, then AWS_DEFAULT_REGION,
	// then the profile's region, then us-east-1.
	Region string

	// Endpoint overrides the Bedrock Runtime base URL (VPC endpoints,
	// proxies, the emulator). Empty: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, then
	// AWS_ENDPOINT_URL, then https://bedrock-runtime.{region}.amazonaws.com.
	Endpoint string

	// AccessKeyID and SecretAccessKey are explicit static credentials; both or
	// neither. SessionToken, for temporary credentials, needs both.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// Profile names a profile in the shared config and credentials files
	// (static keys, SSO, role chains). It cannot be combined with explicit
	// keys. Empty: AWS_PROFILE, then "default".
	Profile string

	// RoleARN, when set, assumes this role through STS using the credentials
	// resolved above as the source; ExternalID is passed along if set.
	RoleARN    string
	ExternalID string

	// APIKey is a Bedrock API key sent as "Authorization: Bearer". Empty:
	// AWS_BEARER_TOKEN_BEDROCK, unless explicit keys, a profile, a role or a
	// credentials provider were configured. An API key replaces SigV4.
	APIKey string

	// CredentialsProvider, when set, replaces the default chain (keys and
	// profile must then be empty). It is wrapped in a refreshing cache.
	CredentialsProvider aws.CredentialsProvider

	// RequestsPerMinute caps the rate of calls to Bedrock (each retry
	// counts). 0: DefaultRequestsPerMinute; negative: no limit.
	RequestsPerMinute int
	// MaxConcurrent caps the calls in flight, streams included until they are
	// closed. 0: DefaultMaxConcurrent; negative: no limit.
	MaxConcurrent int
	// Limits, when set, replaces RequestsPerMinute and MaxConcurrent: a
	// rate and a cap shared with the other Clients given the same Limits
	// (see NewLimits).
	Limits *Limits
	// Limiter, when set, also admits every call (see Limiter): limits
	// shared beyond this Client.
	Limiter Limiter

	// Retry controls retries of throttling, 5xx and connection errors.
	Retry RetryPolicy

	// HTTPClient sends the requests. Nil: a client whose transport
	// (NewTransportWith) negotiates HTTP/2 over TLS and keeps enough idle
	// HTTP/1.1 connections for MaxConcurrent.
	HTTPClient *http.Client

	// HTTP1Only forces HTTP/1.1 (one connection per call in flight) on the
	// transport New builds; it does not apply to an HTTPClient given here.
	HTTP1Only bool

	// UserAgent is appended to Quarry's User-Agent.
	UserAgent string

	// Logger receives the client's rare notices (credentials Bedrock
	// rejected and that were resolved again) and the AWS SDK's own
	// messages while it resolves credentials (such as the IMDS client's
	// "falling back to IMDSv1"), at Warn or Debug with component=aws-sdk,
	// instead of the raw lines the SDK would print to stderr. Nil:
	// slog.Default().
	Logger *slog.Logger
}

// ConfigError reports an invalid configuration: the Config field (or the
// environment variable) and the rule it breaks. It never contains secrets.
type ConfigError struct {
	Field string // the Config field, e.g. "SecretAccessKey", or an env var, e.g. "AWS_REGION"
	Rule  string
}

func (e *ConfigError) Error() string { return "bedrock: config: " + e.Field + ": " + e.Rule }

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$|^[a-z0-9-]+$`)

// validate checks the rules that do not need the environment.
func (c *Config) validate() error {
	switch {
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		return &ConfigError{"SecretAccessKey", "required when AccessKeyID is set"}
	case c.SecretAccessKey != "" && c.AccessKeyID == "":
		return &ConfigError{"AccessKeyID", "required when SecretAccessKey is set"}
	case c.SessionToken != "" && c.AccessKeyID == "":
		return &ConfigError{"AccessKeyID", "required when SessionToken is set (a session token needs both keys)"}
	}
	explicit := c.AccessKeyID != ""
	if c.Profile != "" && explicit {
		return &ConfigError{"Profile", "cannot be combined with explicit AccessKeyID/SecretAccessKey"}
	}
	if c.CredentialsProvider != nil && (explicit || c.Profile != "") {
		return &ConfigError{"CredentialsProvider", "cannot be combined with explicit keys or a profile"}
	}
	if c.APIKey != "" {
		if explicit || c.Profile != "" || c.RoleARN != "" || c.CredentialsProvider != nil {
			return &ConfigError{"APIKey", "cannot be combined with AWS credentials (keys, profile, role or provider): choose one way to authenticate"}
		}
		if strings.TrimSpace(c.APIKey) == "" {
			return &ConfigError{"APIKey", "is blank"}
		}
	}
	if c.ExternalID != "" && c.RoleARN == "" {
		return &ConfigError{"ExternalID", "requires RoleARN"}
	}
	if c.RoleARN != "" && !strings.HasPrefix(c.RoleARN, "arn:") {
		return &ConfigError{"RoleARN", "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)"}
	}
	if c.Region != "" && !regionPattern.MatchString(c.Region) {
		return &ConfigError{"Region", fmt.Sprintf("%q is not an AWS region name", c.Region)}
	}
	if c.Endpoint != "" {
		if err := checkEndpoint(c.Endpoint); err != nil {
			return &ConfigError{"Endpoint", err.Error()}
		}
	}
	if c.HTTP1Only && c.HTTPClient != nil {
		return &ConfigError{"HTTP1Only", "applies to the transport New builds, not to an HTTPClient given in Config: set its transport's protocols instead"}
	}
	if err := c.Retry.validate(); err != nil {
		return err
	}
	return nil
}

// checkEndpoint accepts an absolute http(s) base URL, optionally with a path
// (a proxy prefix). The URL is echoed only in redacted form: a password in
// it must not end up in an error message or a log.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http(s) URL", u.Redacted())
	}
	if u.User != nil {
		// net/http would send it as Basic auth next to our Authorization.
		return fmt.Errorf("%q must not contain user information", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", u.Redacted())
	}
	return nil
}

// resolveRegion applies the documented precedence (Region, AWS_REGION,
// AWS_DEFAULT_REGION, the profile's region, us-east-1); profileRegion is the
// region of the shared-config profile, if one was loaded. A malformed region
// would end up in the endpoint's host name and the signing scope, so it is
// rejected with the name of the setting it came from.
func resolveRegion(explicit, profileRegion string) (string, error) {
	sources := []struct{ field, value string }{
		{"Region", explicit},
		{"AWS_REGION", os.Getenv("AWS_REGION")},
		{"AWS_DEFAULT_REGION", os.Getenv("AWS_DEFAULT_REGION")},
		{"region (shared config profile)", profileRegion},
	}
	for _, s := range sources {
		if s.value == "" {
			continue
		}
		if !regionPattern.MatchString(s.value) {
			return "", &ConfigError{s.field, fmt.Sprintf("%q is not an AWS region name", s.value)}
		}
		return s.value, nil
	}
	return DefaultRegion, nil
}

// resolveEndpoint applies the documented precedence and returns the base URL
// without a trailing slash.
func resolveEndpoint(explicit, region string) (string, error) {
	ep := explicit
	if ep == "" && !strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		for _, name := range []string{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"} {
			if v := os.Getenv(name); v != "" {
				if err := checkEndpoint(v); err != nil {
					return "", &ConfigError{name, err.Error()}
				}
				ep = v
				break
			}
		}
	}
	if ep == "" {
		ep = DefaultEndpoint(region)
	}
	return strings.TrimRight(ep, "/"), nil
}

// DefaultEndpoint is the public Bedrock Runtime endpoint of a region, with
// the DNS suffix of its partition (endpoint-rule-set test cases).
func DefaultEndpoint(region string) string {
	suffix := "amazonaws.com"
	switch {
	case strings.HasPrefix(region, "cn-"):
		suffix = "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-isob-"):
		suffix = "sc2s.sgov.gov"
	case strings.HasPrefix(region, "us-iso-"):
		suffix = "c2s.ic.gov"
	}
	return "https://bedrock-runtime." + region + "." + suffix
}

// String describes the Config without its secrets, so that logging a Config
// (fmt's %v and %+v) cannot leak keys, session tokens or API keys.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("bedrock.Config{")
	sep := ""
	field := func(name, v string) {
		if v != "" {
			b.WriteString(sep + name + ":" + v)
			sep = " "
		}
	}
	field("Region", c.Region)
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err == nil {
			field("Endpoint", u.Redacted())
		} else {
			field("Endpoint", redacted)
		}
	}
	field("AccessKeyID", c.AccessKeyID) // an identifier, not a secret
	field("SecretAccessKey", redact(c.SecretAccessKey))
	field("SessionToken", redact(c.SessionToken))
	field("Profile", c.Profile)
	field("RoleARN", c.RoleARN)
	field("ExternalID", redact(c.ExternalID))
	field("APIKey", redact(c.APIKey))
	if c.CredentialsProvider != nil {
		field("CredentialsProvider", fmt.Sprintf("%T", c.CredentialsProvider))
	}
	if c.RequestsPerMinute != 0 {
		field("RequestsPerMinute", fmt.Sprint(c.RequestsPerMinute))
	}
	if c.MaxConcurrent != 0 {
		field("MaxConcurrent", fmt.Sprint(c.MaxConcurrent))
	}
	if c.Retry != (RetryPolicy{}) {
		field("Retry", fmt.Sprintf("%+v", c.Retry))
	}
	if c.HTTPClient != nil {
		field("HTTPClient", "set")
	}
	if c.HTTP1Only {
		field("HTTP1Only", "true")
	}
	field("UserAgent", c.UserAgent)
	b.WriteString("}")
	return b.String()
}

// GoString keeps %#v as safe as %v.
func (c Config) GoString() string { return c.String() }

// LogValue keeps log/slog as safe as fmt.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

const redacted = "[REDACTED]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}
