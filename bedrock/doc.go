// Package bedrock is a lean client for Amazon Bedrock Runtime.
//
// It speaks the service's restJson1 wire protocol directly over net/http:
// Converse and ConverseStream, InvokeModel and InvokeModelWithResponseStream
// (with typed bodies per model family), ApplyGuardrail and CountTokens.
// Requests are signed with SigV4 (signing name "bedrock") using
// aws-sdk-go-v2's signer, or authorized with a Bedrock API key
// (Authorization: Bearer). Credentials come from the full AWS chain, resolved
// once per Client and refreshed before they expire.
//
// A Client is safe for concurrent use; create one per set of credentials and
// reuse it. Every call takes a context first; cancelling it (or closing a
// stream) releases the connection at once.
//
//	c, err := bedrock.New(ctx, bedrock.Config{Region: "us-east-1"})
//	resp, err := c.Converse(ctx, "us.amazon.nova-lite-v1:0", &bedrock.ConverseRequest{
//		Messages: []bedrock.Message{bedrock.UserText("Hello")},
//	})
//
// # Authentication
//
// A Bedrock API key (Config.APIKey, else AWS_BEARER_TOKEN_BEDROCK unless AWS
// credentials are configured in code) is sent as "Authorization: Bearer".
// Otherwise requests are signed with SigV4 using the first source found:
// explicit keys (+ session token); the environment; the shared config and
// credentials files (Config.Profile or AWS_PROFILE: static keys, SSO, roles);
// web identity (IRSA); ECS container credentials; EC2 IMDSv2. (aws-sdk-go-v2
// alone would try web identity before the files; this package does not.)
// Config.RoleARN then assumes a role through STS. Temporary credentials are
// refreshed five minutes before they expire, one fetch for all concurrent
// calls. Half a key pair, a profile next to explicit keys or an unknown
// profile is a *ConfigError naming the setting; finding nothing at all is
// one *CredentialsError (matching ErrNoCredentials) listing where the chain
// looked. No error or printed Config contains a secret.
//
// # Errors, retries, limits
//
// Errors returned by Bedrock are *Error values (code, message, HTTP status,
// request ID), wrapped in an *OpError naming the operation; match them with
// errors.Is against the sentinels (ErrThrottling, ErrValidation, ...) or
// errors.As. Throttling, 5xx and connection errors are retried with capped,
// fully jittered exponential backoff (Config.Retry); validation errors and
// responses that have started are not. Each Client limits its calls
// (Config.RequestsPerMinute, default 1500; Config.MaxConcurrent, default
// 40); a call whose context ends while it waits, or that waits longer than
// its WithQueueTimeout option allows, fails with an error matching
// ErrLimited. Config.Limiter adds an admission of the caller's own (limits
// shared by several processes, say), asked before each call and told when
// the call is done.
//
// # Per-call options and response metadata
//
// Every call takes optional CallOptions after its request, such as
// WithQueueTimeout. Every response carries Bedrock's request ID and the
// response header in the same place, resp.RequestID and resp.Header (an
// embedded ResponseMetadata; InvokeModel responses embed it through
// InvokeMetadata, with the token-count headers); streams offer RequestID()
// and ResponseMetadata().
package bedrock
