package bedrock

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// fakeSTS answers AssumeRole and AssumeRoleWithWebIdentity like STS (query
// protocol, XML), handing out the access key "ASIA<ACTION>" and recording
// the form of each call.
type fakeSTS struct {
	*httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	forms []url.Values
	authz []string
	fail  bool // answer 403 AccessDenied
}

func newFakeSTS(t *testing.T) *fakeSTS {
	t.Helper()
	f := &fakeSTS{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		r.ParseForm()
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		f.authz = append(f.authz, r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if f.fail {
			w.WriteHeader(403)
			fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to assume role</Message></Error><RequestId>sts-req</RequestId></ErrorResponse>`)
			return
		}
		action := r.PostForm.Get("Action")
		key := "ASIA" + strings.ToUpper(action)
		exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		fmt.Fprintf(w, `<%[1]sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%[1]sResult>
<Credentials><AccessKeyId>%[2]s</AccessKeyId><SecretAccessKey>stsSecret</SecretAccessKey><SessionToken>stsToken-%[1]s</SessionToken><Expiration>%[3]s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
</%[1]sResult><ResponseMetadata><RequestId>sts-req</RequestId></ResponseMetadata></%[1]sResponse>`, action, key, exp)
	}))
	t.Cleanup(f.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", f.URL)
	return f
}

func (f *fakeSTS) form(t *testing.T, i int) url.Values {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= len(f.forms) {
		t.Fatalf("STS received %d calls, want more than %d", len(f.forms), i)
	}
	return f.forms[i]
}

// fakeECS is a container-credentials endpoint handing out AccessKeyId
// "ASIAECS<n>" for its n-th hit, expiring after ttl.
func newFakeECS(t *testing.T, ttl time.Duration) (hits *atomic.Int64, expiries *sync.Map) {
	t.Helper()
	hits = new(atomic.Int64)
	expiries = new(sync.Map)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if r.Header.Get("Authorization") != "ecs-auth-token" {
			w.WriteHeader(401)
			return
		}
		exp := time.Now().Add(ttl)
		expiries.Store(n, exp)
		json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId":     fmt.Sprintf("ASIAECS%d", n),
			"SecretAccessKey": "ecsSecret",
			"Token":           "ecsToken",
			"Expiration":      exp.UTC().Format(time.RFC3339Nano),
			"RoleArn":         "arn:aws:iam::123456789012:role/task",
		})
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v2/credentials/task")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-token")
	return hits, expiries
}

// fakeIMDS is an IMDSv2 endpoint; it refuses credential reads without the
// session token it issued.
func newFakeIMDS(t *testing.T) (hits *atomic.Int64, tokenUsed *atomic.Bool) {
	t.Helper()
	hits = new(atomic.Int64)
	tokenUsed = new(atomic.Bool)
	const token = "imds-session-token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			io.WriteString(w, token)
			return
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != token:
			w.WriteHeader(401)
			return
		}
		tokenUsed.Store(true)
		switch r.URL.Path {
		case "/latest/meta-data/iam/security-credentials/":
			io.WriteString(w, "instance-role")
		case "/latest/meta-data/iam/security-credentials/instance-role":
			json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
				"AccessKeyId": "ASIAIMDS", "SecretAccessKey": "imdsSecret", "Token": "imdsToken",
				"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			})
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
	return hits, tokenUsed
}

// newFakeSSO is the SSO portal's GetRoleCredentials.
func newFakeSSO(t *testing.T, wantToken string) *atomic.Int64 {
	t.Helper()
	hits := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		q := r.URL.Query()
		if r.URL.Path != "/federation/credentials" || r.Header.Get("X-Amz-Sso_bearer_token") != wantToken ||
			q.Get("account_id") != "123456789012" || q.Get("role_name") != "BedrockUser" {
			w.WriteHeader(401)
			io.WriteString(w, `{"message":"bad request to fake SSO"}`)
			return
		}
		fmt.Fprintf(w, `{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"ssoSecret","sessionToken":"ssoToken","expiration":%d}}`,
			time.Now().Add(time.Hour).UnixMilli())
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_SSO", srv.URL)
	return hits
}

func writeWebIdentity(t *testing.T) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("eyJ.oidc.token"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", f)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa")
	t.Setenv("AWS_ROLE_SESSION_NAME", "irsa-session")
}

// keyUsed sends one call with cfg against a fresh fake Bedrock and returns
// the access key ID and session token that reached it.
func keyUsed(t *testing.T, cfg Config) (keyID, token string) {
	t.Helper()
	fb := newFakeBedrock(t, nil)
	cfg.Endpoint = fb.URL
	c := mustNew(t, cfg)
	if err := converseCall(context.Background(), c, "amazon.nova-micro-v1:0"); err != nil {
		t.Fatalf("call: %v", err)
	}
	r := fb.last(t)
	return accessKeyOf(r.Header.Get("Authorization")), r.Header.Get("X-Amz-Security-Token")
}

const sharedCreds = `[default]
aws_access_key_id = AKIDFILEDEFAULT
aws_secret_access_key = fileSecretDefault

[dev]
aws_access_key_id = AKIDFILEDEV
aws_secret_access_key = fileSecretDev
aws_session_token = fileTokenDev
`

func TestCredentialSources(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T)
		cfg       Config
		wantKey   string
		wantToken string
	}{
		{
			name:    "explicit keys",
			cfg:     Config{AccessKeyID: "AKIDEXPLICIT", SecretAccessKey: "explicitSecret"},
			wantKey: "AKIDEXPLICIT",
		},
		{
			name:      "explicit keys with session token",
			cfg:       Config{AccessKeyID: "ASIAEXPLICIT", SecretAccessKey: "explicitSecret", SessionToken: "explicitToken"},
			wantKey:   "ASIAEXPLICIT",
			wantToken: "explicitToken",
		},
		{
			name: "environment",
			setup: func(t *testing.T) {
				t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "envSecret")
				t.Setenv("AWS_SESSION_TOKEN", "envToken")
			},
			wantKey:   "AKIDENV",
			wantToken: "envToken",
		},
		{
			name:    "credentials file, default profile",
			setup:   func(t *testing.T) { writeAWSFile(t, "credentials", sharedCreds) },
			wantKey: "AKIDFILEDEFAULT",
		},
		{
			name: "credentials file, AWS_PROFILE",
			setup: func(t *testing.T) {
				writeAWSFile(t, "credentials", sharedCreds)
				t.Setenv("AWS_PROFILE", "dev")
			},
			wantKey:   "AKIDFILEDEV",
			wantToken: "fileTokenDev",
		},
		{
			name:      "credentials file, Config.Profile",
			setup:     func(t *testing.T) { writeAWSFile(t, "credentials", sharedCreds) },
			cfg:       Config{Profile: "dev"},
			wantKey:   "AKIDFILEDEV",
			wantToken: "fileTokenDev",
		},
		{
			name: "config file static keys, Config.Profile",
			setup: func(t *testing.T) {
				writeAWSFile(t, "config", "[profile cfgonly]\naws_access_key_id = AKIDCFGFILE\naws_secret_access_key = s\nregion = eu-west-3\n")
			},
			cfg:     Config{Profile: "cfgonly"},
			wantKey: "AKIDCFGFILE",
		},
		{
			name: "web identity (IRSA)",
			setup: func(t *testing.T) {
				sts := newFakeSTS(t)
				writeWebIdentity(t)
				t.Cleanup(func() {
					f := sts.form(t, 0)
					if f.Get("Action") != "AssumeRoleWithWebIdentity" || f.Get("WebIdentityToken") != "eyJ.oidc.token" ||
						f.Get("RoleArn") != "arn:aws:iam::123456789012:role/irsa" {
						t.Errorf("STS form = %v", f)
					}
				})
			},
			wantKey:   "ASIAASSUMEROLEWITHWEBIDENTITY",
			wantToken: "stsToken-AssumeRoleWithWebIdentity",
		},
		{
			name: "ECS container credentials",
			setup: func(t *testing.T) {
				newFakeECS(t, time.Hour)
			},
			wantKey:   "ASIAECS1",
			wantToken: "ecsToken",
		},
		{
			name: "EC2 IMDSv2",
			setup: func(t *testing.T) {
				_, used := newFakeIMDS(t)
				t.Cleanup(func() {
					if !used.Load() {
						t.Error("the IMDS session token was never presented")
					}
				})
			},
			wantKey:   "ASIAIMDS",
			wantToken: "imdsToken",
		},
		{
			name: "assume role with external ID",
			setup: func(t *testing.T) {
				sts := newFakeSTS(t)
				t.Cleanup(func() {
					f := sts.form(t, 0)
					if f.Get("Action") != "AssumeRole" || f.Get("ExternalId") != "ext-123" ||
						f.Get("RoleArn") != "arn:aws:iam::123456789012:role/bedrock" || !strings.HasPrefix(f.Get("RoleSessionName"), "quarry-") {
						t.Errorf("STS form = %v", f)
					}
					// The source credentials sign the STS call.
					if k := accessKeyOf(sts.authz[0]); k != "AKIDSOURCE" {
						t.Errorf("AssumeRole signed with %q, want AKIDSOURCE", k)
					}
				})
			},
			cfg: Config{AccessKeyID: "AKIDSOURCE", SecretAccessKey: "sourceSecret",
				RoleARN: "arn:aws:iam::123456789012:role/bedrock", ExternalID: "ext-123"},
			wantKey:   "ASIAASSUMEROLE",
			wantToken: "stsToken-AssumeRole",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			if tt.setup != nil {
				tt.setup(t)
			}
			key, token := keyUsed(t, tt.cfg)
			if key != tt.wantKey || token != tt.wantToken {
				t.Fatalf("Bedrock saw key %q token %q, want %q %q", key, token, tt.wantKey, tt.wantToken)
			}
		})
	}
}

// TestExplicitCredentialsIgnoreSharedFiles: credentials given in code work
// whatever state the shared files are in, AssumeRole included.
func TestExplicitCredentialsIgnoreSharedFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T)
	}{
		{"AWS_PROFILE names a missing profile", func(t *testing.T) { t.Setenv("AWS_PROFILE", "nope") }},
		{"malformed config file", func(t *testing.T) {
			writeAWSFile(t, "config", "[profile broken\nregion = = =\n[default\n")
			writeAWSFile(t, "credentials", "[default]\naws_access_key_id\n")
		}},
		{"profile with a missing source_profile", func(t *testing.T) {
			writeAWSFile(t, "config", "[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = gone\n")
		}},
	}
	for _, tt := range tests {
		for _, role := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/assume role %v", tt.name, role), func(t *testing.T) {
				isolateAWSEnv(t)
				tt.setup(t)
				cfg := Config{AccessKeyID: "AKIDCODE", SecretAccessKey: "s"}
				want := "AKIDCODE"
				if role {
					newFakeSTS(t)
					cfg.RoleARN, want = "arn:aws:iam::123456789012:role/bedrock", "ASIAASSUMEROLE"
				}
				if key, _ := keyUsed(t, cfg); key != want {
					t.Fatalf("Bedrock saw %q, want %q", key, want)
				}
			})
		}
	}
}

func TestCredentialSSOProfile(t *testing.T) {
	home := isolateAWSEnv(t)
	const accessToken = "sso-access-token"
	hits := newFakeSSO(t, accessToken)
	writeAWSFile(t, "config", `[profile sso-dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = BedrockUser
region = us-west-2

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`)
	sum := sha1.Sum([]byte("corp")) // sso-session tokens are cached under sha1(session name)
	cache := filepath.Join(home, ".aws", "sso", "cache")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	tok := fmt.Sprintf(`{"accessToken":%q,"expiresAt":%q,"region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}`,
		accessToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(cache, hex.EncodeToString(sum[:])+".json"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"AWS_PROFILE", "Config.Profile"} {
		t.Run(via, func(t *testing.T) {
			cfg := Config{}
			if via == "AWS_PROFILE" {
				t.Setenv("AWS_PROFILE", "sso-dev")
			} else {
				cfg.Profile = "sso-dev"
			}
			fb := newFakeBedrock(t, nil)
			cfg.Endpoint = fb.URL
			c := mustNew(t, cfg)
			if c.Region() != "us-west-2" {
				t.Errorf("region = %q, want the profile's us-west-2", c.Region())
			}
			if err := converseCall(context.Background(), c, "m"); err != nil {
				t.Fatal(err)
			}
			r := fb.last(t)
			if k := accessKeyOf(r.Header.Get("Authorization")); k != "ASIASSO" || r.Header.Get("X-Amz-Security-Token") != "ssoToken" {
				t.Fatalf("Bedrock saw key %q, want ASIASSO", k)
			}
			if !strings.Contains(r.Header.Get("Authorization"), "/us-west-2/bedrock/aws4_request") {
				t.Errorf("scope not us-west-2: %s", r.Header.Get("Authorization"))
			}
		})
	}
	if hits.Load() != 2 {
		t.Errorf("SSO portal hits = %d, want 2 (one per client)", hits.Load())
	}
}

func TestCredentialPrecedence(t *testing.T) {
	envKeys := func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "envSecret")
	}
	files := func(t *testing.T) { writeAWSFile(t, "credentials", sharedCreds) }
	tests := []struct {
		name    string
		setup   []func(t *testing.T)
		cfg     Config
		wantKey string
	}{
		{"explicit beats env", []func(*testing.T){envKeys, files}, Config{AccessKeyID: "AKIDEXPLICIT", SecretAccessKey: "s"}, "AKIDEXPLICIT"},
		{"env beats files", []func(*testing.T){envKeys, files}, Config{}, "AKIDENV"},
		{"explicit profile beats env", []func(*testing.T){envKeys, files}, Config{Profile: "dev"}, "AKIDFILEDEV"},
		{"env beats web identity", []func(*testing.T){envKeys, func(t *testing.T) { newFakeSTS(t); writeWebIdentity(t) }}, Config{}, "AKIDENV"},
		// aws-sdk-go-v2 alone would pick web identity here; the issue's
		// order (files first) is enforced by resolveAuth.
		{"files beat web identity", []func(*testing.T){files, func(t *testing.T) {
			sts := newFakeSTS(t)
			writeWebIdentity(t)
			t.Cleanup(func() {
				if sts.hits.Load() != 0 {
					t.Error("STS was called although the shared files had credentials")
				}
			})
		}}, Config{}, "AKIDFILEDEFAULT"},
		{"web identity beats ECS", []func(*testing.T){func(t *testing.T) { newFakeSTS(t); writeWebIdentity(t); newFakeECS(t, time.Hour) }}, Config{}, "ASIAASSUMEROLEWITHWEBIDENTITY"},
		{"files beat ECS", []func(*testing.T){files, func(t *testing.T) { newFakeECS(t, time.Hour) }}, Config{}, "AKIDFILEDEFAULT"},
		{"ECS beats IMDS", []func(*testing.T){func(t *testing.T) {
			hits, _ := newFakeIMDS(t)
			newFakeECS(t, time.Hour)
			t.Cleanup(func() {
				if hits.Load() != 0 {
					t.Error("IMDS was called although ECS credentials were configured")
				}
			})
		}}, Config{}, "ASIAECS1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			for _, s := range tt.setup {
				s(t)
			}
			if key, _ := keyUsed(t, tt.cfg); key != tt.wantKey {
				t.Fatalf("Bedrock saw key %q, want %q", key, tt.wantKey)
			}
		})
	}
}

// TestCredentialRefresh hands out first credentials that enter the
// 5-minute refresh window one second after they are issued (later ones last
// an hour): calls before that use the cached ones, and a burst of concurrent
// calls after it fetches new ones exactly once, while the old are still
// valid for almost 5 minutes. It runs in a synctest bubble (the provider and
// Bedrock in memory), so the second passes at once and a loaded machine
// cannot make the calls miss it.
func TestCredentialRefresh(t *testing.T) {
	isolateAWSEnv(t)
	synctest.Test(t, func(t *testing.T) {
		const lead = time.Second
		p := &countingProvider{ttl: func(n int) time.Duration {
			if n == 1 {
				return refreshWindow + lead
			}
			return time.Hour
		}, delay: 50 * time.Millisecond}
		var mu sync.Mutex
		var keys []string
		bedrock := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			keys = append(keys, accessKeyOf(r.Header.Get("Authorization")))
			mu.Unlock()
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
		})
		c := mustNew(t, Config{Endpoint: "https://bedrock.test", Region: "us-east-1", RequestsPerMinute: -1,
			CredentialsProvider: p, HTTPClient: &http.Client{Transport: bedrock}})
		ctx := context.Background()

		for range 3 {
			if err := converseCall(ctx, c, "m"); err != nil {
				t.Fatal(err)
			}
		}
		if n := p.fetches(); n != 1 {
			t.Fatalf("credential fetches = %d after 3 calls, want 1 (cached)", n)
		}
		first := p.expiry(1)
		time.Sleep(time.Until(first.Add(-refreshWindow)) + 50*time.Millisecond)

		const burst = 20
		var wg sync.WaitGroup
		errs := make(chan error, burst)
		for range burst {
			wg.Go(func() { errs <- converseCall(ctx, c, "m") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := p.fetches(); n != 2 {
			t.Fatalf("credential fetches = %d after a concurrent burst at refresh time, want exactly 2", n)
		}
		if left := time.Until(first); left < 4*time.Minute {
			t.Fatalf("refresh happened only %v before expiry", left)
		}
		for i, k := range keys {
			want := "ASIAPROV1"
			if i >= 3 {
				want = "ASIAPROV2"
			}
			if k != want {
				t.Fatalf("call %d signed with %q, want %q", i, k, want)
			}
		}
	})
}

// countingProvider hands out credentials "ASIAPROV<n>" on its n-th fetch,
// after delay, expiring after ttl(n).
type countingProvider struct {
	ttl   func(n int) time.Duration
	delay time.Duration

	mu       sync.Mutex
	expiries []time.Time
}

func (p *countingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	time.Sleep(p.delay)
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.expiries) + 1
	exp := time.Now().Add(p.ttl(n))
	p.expiries = append(p.expiries, exp)
	return aws.Credentials{AccessKeyID: fmt.Sprintf("ASIAPROV%d", n), SecretAccessKey: "provSecret", SessionToken: "provToken",
		CanExpire: true, Expires: exp}, nil
}

func (p *countingProvider) fetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.expiries)
}

func (p *countingProvider) expiry(n int) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expiries[n-1]
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCredentialConfigErrors(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T)
		cfg       Config
		wantField string
	}{
		{"access key without secret", nil, Config{AccessKeyID: "AKID"}, "SecretAccessKey"},
		{"secret without access key", nil, Config{SecretAccessKey: "s"}, "AccessKeyID"},
		{"session token alone", nil, Config{SessionToken: "t"}, "AccessKeyID"},
		{"session token with access key only", nil, Config{AccessKeyID: "AKID", SessionToken: "t"}, "SecretAccessKey"},
		{"session token with secret only", nil, Config{SecretAccessKey: "s", SessionToken: "t"}, "AccessKeyID"},
		{"profile with explicit keys", nil, Config{Profile: "dev", AccessKeyID: "AKID", SecretAccessKey: "s"}, "Profile"},
		{"API key with explicit keys", nil, Config{APIKey: "k", AccessKeyID: "AKID", SecretAccessKey: "s"}, "APIKey"},
		{"API key with profile", nil, Config{APIKey: "k", Profile: "dev"}, "APIKey"},
		{"external ID without role", nil, Config{ExternalID: "x"}, "ExternalID"},
		{"role ARN malformed", nil, Config{RoleARN: "bedrock-role"}, "RoleARN"},
		{"env access key without secret", func(t *testing.T) { t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV") }, Config{}, "AWS_SECRET_ACCESS_KEY"},
		{"env secret without access key", func(t *testing.T) { t.Setenv("AWS_SECRET_ACCESS_KEY", "s") }, Config{}, "AWS_ACCESS_KEY_ID"},
		{"unknown Config.Profile", nil, Config{Profile: "nope"}, "Profile"},
		{"unknown AWS_PROFILE", func(t *testing.T) { t.Setenv("AWS_PROFILE", "nope") }, Config{}, "AWS_PROFILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			writeAWSFile(t, "credentials", sharedCreds)
			if tt.setup != nil {
				tt.setup(t)
			}
			_, err := New(context.Background(), tt.cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.wantField {
				t.Fatalf("err = %v, want a ConfigError naming %s", err, tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Fatalf("message %q does not name %s", err, tt.wantField)
			}
		})
	}
}

func TestNoCredentialsAnywhere(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		env         string // AWS_PROFILE
		wantProfile string
	}{
		{"nothing configured", Config{}, "", "profile default"},
		{"Config.Profile without credentials", Config{Profile: "regiononly"}, "", "profile regiononly"},
		{"AWS_PROFILE without credentials", Config{}, "regiononly", "profile regiononly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			writeAWSFile(t, "config", "[profile regiononly]\nregion = eu-west-1\n")
			if tt.env != "" {
				t.Setenv("AWS_PROFILE", tt.env)
			}
			fb := newFakeBedrock(t, nil)
			tt.cfg.Endpoint = fb.URL
			c := mustNew(t, tt.cfg)
			err := converseCall(context.Background(), c, "m")
			if !errors.Is(err, ErrNoCredentials) {
				t.Fatalf("err = %v, want ErrNoCredentials", err)
			}
			var ce *CredentialsError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %T, want *CredentialsError inside", err)
			}
			msg := err.Error()
			for _, place := range []string{"AWS_ACCESS_KEY_ID", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", tt.wantProfile,
				"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "IMDSv2", "AWS_EC2_METADATA_DISABLED"} {
				if !strings.Contains(msg, place) {
					t.Errorf("no-credentials error does not mention %s: %s", place, msg)
				}
			}
			if strings.Count(msg, "looked in") != 1 {
				t.Errorf("want ONE error listing the places, got: %s", msg)
			}
			if fb.hits.Load() != 0 {
				t.Errorf("Bedrock was called %d times without credentials", fb.hits.Load())
			}
		})
	}
}

// TestSecretsNeverInErrors drives every failure path with recognisable
// secrets and checks no error text (nor a printed Config) contains them.
func TestSecretsNeverInErrors(t *testing.T) {
	const secret, token, apiKey = "SECRETwJalrXUtnFEMIK7MDENG", "TOKENIQoJb3JpZ2luX2VjEJr", "ABSKAPIKEYbedrock0123"
	secrets := []string{secret, token, apiKey}
	var texts []string
	collect := func(err error) {
		t.Helper()
		if err == nil {
			t.Error("expected an error")
			return
		}
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	ctx := context.Background()

	t.Run("bad config", func(t *testing.T) {
		isolateAWSEnv(t)
		for _, cfg := range []Config{
			{SecretAccessKey: secret, SessionToken: token},
			{AccessKeyID: "AKID", SessionToken: token},
			{AccessKeyID: "AKID", SecretAccessKey: secret, SessionToken: token, Profile: "dev"},
			{APIKey: apiKey, AccessKeyID: "AKID", SecretAccessKey: secret},
			{APIKey: apiKey, Endpoint: "https://user:" + secret + "@example.com"},
			{AccessKeyID: "AKID", SecretAccessKey: secret, Endpoint: "ftp://x:" + token + "@example.com"},
			{AccessKeyID: "AKID", SecretAccessKey: secret, Region: "Not A Region"},
		} {
			_, err := New(ctx, cfg)
			collect(err)
			texts = append(texts, cfg.String(), fmt.Sprintf("%v|%+v|%#v|%s", cfg, cfg, cfg, cfg))
		}
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		_, err := New(ctx, Config{})
		collect(err)
	})
	t.Run("chain failure", func(t *testing.T) {
		isolateAWSEnv(t)
		t.Setenv("AWS_SESSION_TOKEN", token)
		t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds")
		t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", secret)
		c := mustNew(t, Config{Endpoint: "http://127.0.0.1:1", Retry: RetryPolicy{MaxAttempts: 1}})
		collect(converseCall(ctx, c, "m"))
	})
	t.Run("STS failure", func(t *testing.T) {
		isolateAWSEnv(t)
		sts := newFakeSTS(t)
		sts.fail = true
		fb := newFakeBedrock(t, nil)
		c := mustNew(t, Config{Endpoint: fb.URL, AccessKeyID: "AKIDSRC", SecretAccessKey: secret, SessionToken: token,
			RoleARN: "arn:aws:iam::123456789012:role/r", ExternalID: "ext"})
		collect(converseCall(ctx, c, "m"))
	})
	t.Run("Bedrock 403", func(t *testing.T) {
		isolateAWSEnv(t)
		fb := newFakeBedrock(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.Header().Set("X-Amzn-ErrorType", "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/")
			w.WriteHeader(403)
			io.WriteString(w, `{"message":"The security token included in the request is invalid."}`)
		})
		for _, cfg := range []Config{
			{Endpoint: fb.URL, AccessKeyID: "AKID", SecretAccessKey: secret, SessionToken: token},
			{Endpoint: fb.URL, APIKey: apiKey},
		} {
			collect(converseCall(ctx, mustNew(t, cfg), "m"))
		}
	})
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret leaked: %q", text)
			}
		}
	}
	if len(texts) < 20 {
		t.Errorf("only %d texts checked", len(texts))
	}
}

// TestCredentialSourceFailures: a source that is configured but fails gives
// a *CredentialsError naming the source and the cause, and Bedrock is never
// called unsigned.
func TestCredentialSourceFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T)
		cfg   Config
		want  []string // in the error text
	}{
		{"assume role refused by STS", func(t *testing.T) { newFakeSTS(t).fail = true },
			Config{AccessKeyID: "AKIDSRC", SecretAccessKey: "s", RoleARN: "arn:aws:iam::123456789012:role/denied"},
			[]string{"assume role arn:aws:iam::123456789012:role/denied", "AccessDenied", "not authorized to assume role"}},
		{"web identity refused by STS", func(t *testing.T) { newFakeSTS(t).fail = true; writeWebIdentity(t) },
			Config{}, []string{"web identity", "AccessDenied"}},
		{"ECS endpoint refuses the token", func(t *testing.T) {
			newFakeECS(t, time.Hour)
			t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token")
		}, Config{}, []string{"ECS container credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			tt.setup(t)
			fb := newFakeBedrock(t, nil)
			tt.cfg.Endpoint = fb.URL
			tt.cfg.Retry = RetryPolicy{MaxAttempts: 1}
			c := mustNew(t, tt.cfg)
			err := converseCall(context.Background(), c, "m")
			var ce *CredentialsError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *CredentialsError", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if errors.Is(err, ErrNoCredentials) {
				t.Errorf("a configured source that fails is not 'no credentials': %v", err)
			}
			if fb.hits.Load() != 0 {
				t.Errorf("Bedrock was called %d times", fb.hits.Load())
			}
		})
	}
}
