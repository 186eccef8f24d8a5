package bedrock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRegionPrecedence(t *testing.T) {
	tests := []struct {
		name          string
		cfgRegion     string
		env           map[string]string
		profileRegion string // written to the default profile of the config file
		want          string
	}{
		{"default", "", nil, "", "us-east-1"},
		{"explicit", "eu-west-1", map[string]string{"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}, "ca-central-1", "eu-west-1"},
		{"AWS_REGION", "", map[string]string{"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}, "ca-central-1", "us-west-2"},
		{"AWS_DEFAULT_REGION", "", map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}, "ca-central-1", "ap-south-1"},
		{"profile region", "", nil, "ca-central-1", "ca-central-1"},
	}
	for _, tt := range tests {
		for _, auth := range []string{"sigv4", "apikey"} {
			t.Run(tt.name+"/"+auth, func(t *testing.T) {
				isolateAWSEnv(t)
				for k, v := range tt.env {
					t.Setenv(k, v)
				}
				if tt.profileRegion != "" {
					writeAWSFile(t, "config", "[default]\nregion = "+tt.profileRegion+"\n")
				}
				cfg := Config{Region: tt.cfgRegion, AccessKeyID: "AKID", SecretAccessKey: "s"}
				want := tt.want
				if auth == "apikey" {
					// With an API key no AWS config is loaded: the profile's
					// region does not apply.
					cfg = Config{Region: tt.cfgRegion, APIKey: "k"}
					if tt.name == "profile region" {
						want = DefaultRegion
					}
				}
				c := mustNew(t, cfg)
				if c.Region() != want {
					t.Fatalf("Region() = %q, want %q", c.Region(), want)
				}
				if wantEP := "https://bedrock-runtime." + want + ".amazonaws.com"; c.Endpoint() != wantEP {
					t.Fatalf("Endpoint() = %q, want %q", c.Endpoint(), wantEP)
				}
			})
		}
	}
}

func TestEndpointPrecedence(t *testing.T) {
	tests := []struct {
		name   string
		cfgEP  string
		env    map[string]string
		region string
		want   string
	}{
		{"default", "", nil, "", "https://bedrock-runtime.us-east-1.amazonaws.com"},
		{"default follows region", "", nil, "eu-central-1", "https://bedrock-runtime.eu-central-1.amazonaws.com"},
		{"china partition", "", nil, "cn-north-1", "https://bedrock-runtime.cn-north-1.amazonaws.com.cn"},
		{"GovCloud", "", nil, "us-gov-west-1", "https://bedrock-runtime.us-gov-west-1.amazonaws.com"},
		{"ISO", "", nil, "us-iso-east-1", "https://bedrock-runtime.us-iso-east-1.c2s.ic.gov"},
		{"ISO-B", "", nil, "us-isob-east-1", "https://bedrock-runtime.us-isob-east-1.sc2s.sgov.gov"},
		{"AWS_ENDPOINT_URL", "", map[string]string{"AWS_ENDPOINT_URL": "http://generic:1"}, "", "http://generic:1"},
		{"service-specific beats generic", "", map[string]string{"AWS_ENDPOINT_URL": "http://generic:1",
			"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://runtime:2"}, "", "http://runtime:2"},
		{"explicit beats env", "https://vpce-123.bedrock-runtime.us-east-1.vpce.amazonaws.com", map[string]string{
			"AWS_ENDPOINT_URL": "http://generic:1", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://runtime:2"}, "",
			"https://vpce-123.bedrock-runtime.us-east-1.vpce.amazonaws.com"},
		{"base path kept, trailing slash dropped", "http://host:8080/proxy/", nil, "", "http://host:8080/proxy"},
		{"env base path kept", "", map[string]string{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://host/proxy"}, "", "http://host/proxy"},
		{"env ignored on request", "", map[string]string{"AWS_ENDPOINT_URL": "http://generic:1",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", "https://bedrock-runtime.us-east-1.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := mustNew(t, Config{Endpoint: tt.cfgEP, Region: tt.region, APIKey: "k"})
			if c.Endpoint() != tt.want {
				t.Fatalf("Endpoint() = %q, want %q", c.Endpoint(), tt.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		env       map[string]string
		wantField string // "" = valid
	}{
		{"zero value", Config{}, nil, ""},
		{"keys and token", Config{AccessKeyID: "A", SecretAccessKey: "s", SessionToken: "t"}, nil, ""},
		{"role with external id", Config{RoleARN: "arn:aws:iam::1:role/r", ExternalID: "x"}, nil, ""},
		{"bad region", Config{Region: "US East"}, nil, "Region"},
		{"bad AWS_REGION", Config{}, map[string]string{"AWS_REGION": "us east 1"}, "AWS_REGION"},
		{"bad AWS_DEFAULT_REGION", Config{}, map[string]string{"AWS_DEFAULT_REGION": "x/y"}, "AWS_DEFAULT_REGION"},
		{"relative endpoint", Config{Endpoint: "bedrock.local"}, nil, "Endpoint"},
		{"ftp endpoint", Config{Endpoint: "ftp://host"}, nil, "Endpoint"},
		{"endpoint with query", Config{Endpoint: "https://host/?a=b"}, nil, "Endpoint"},
		{"endpoint with userinfo", Config{Endpoint: "https://u:p@host"}, nil, "Endpoint"},
		{"bad AWS_ENDPOINT_URL", Config{}, map[string]string{"AWS_ENDPOINT_URL": "not a url"}, "AWS_ENDPOINT_URL"},
		{"bad AWS_ENDPOINT_URL_BEDROCK_RUNTIME", Config{}, map[string]string{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "::"}, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"},
		{"blank API key", Config{APIKey: "  "}, nil, "APIKey"},
		{"provider with keys", Config{CredentialsProvider: &rotatingCreds{}, AccessKeyID: "A", SecretAccessKey: "s"}, nil, "CredentialsProvider"},
		{"negative attempts", Config{Retry: RetryPolicy{MaxAttempts: -1}}, nil, "Retry.MaxAttempts"},
		{"negative delay", Config{Retry: RetryPolicy{BaseDelay: -1}}, nil, "Retry.BaseDelay"},
		{"negative max delay", Config{Retry: RetryPolicy{MaxDelay: -1}}, nil, "Retry.MaxDelay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := New(context.Background(), tt.cfg)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.wantField {
				t.Fatalf("err = %v, want ConfigError for %s", err, tt.wantField)
			}
		})
	}
}

func TestConfigPrintsWithoutSecrets(t *testing.T) {
	cfg := Config{Region: "us-east-1", Endpoint: "https://user:endpointpass@host/p", AccessKeyID: "AKIDVISIBLE",
		SecretAccessKey: "secretvalue", SessionToken: "tokenvalue", APIKey: "apikeyvalue", ExternalID: "externalvalue"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg)
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, &cfg) + logged.String()
	for _, s := range []string{"secretvalue", "tokenvalue", "apikeyvalue", "endpointpass", "externalvalue"} {
		if strings.Contains(out, s) {
			t.Errorf("printed Config contains %q: %s", s, out)
		}
	}
	for _, s := range []string{"AKIDVISIBLE", "us-east-1", "REDACTED"} {
		if !strings.Contains(out, s) {
			t.Errorf("printed Config lacks %q: %s", s, out)
		}
	}
}

func TestDefaults(t *testing.T) {
	if DefaultRegion != "us-east-1" || DefaultRequestsPerMinute != 1500 || DefaultMaxConcurrent != 40 {
		t.Fatalf("defaults %s/%d/%d, want us-east-1/1500/40", DefaultRegion, DefaultRequestsPerMinute, DefaultMaxConcurrent)
	}
	p := RetryPolicy{}.withDefaults()
	if p.MaxAttempts != 3 || p.MaxDelay <= 0 || p.BaseDelay <= 0 {
		t.Fatalf("retry defaults %+v", p)
	}
}
