package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/bedrock/shaping"
)

func TestShapingParse(t *testing.T) {
	in := `
server:
  media: {max_bytes: 1MiB, timeout: 5s, max_redirects: 2, trusted_hosts: [Files.Internal, "10.0.0.5:8443"]}
models:
  - name: shaped
    from: bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0
    params:
      allowed_roles: [user, assistant]
      remap_roles: {assistant: assistant, user: user}
      allowed_role_metadata: cachePoint
      finish_reason_deny_list: [LENGTH, Content_Filter]
      supports_streaming: false
      media_url_handler: {image: send_url, video: send_url_add_mime_type}
      additional_model_request_fields: {top_k: 40, anthropic_beta: [context-1m-2025-08-07], thinking: {type: disabled}}
      inference_configuration: {max_tokens: 300, temperature: 0.2, stop_sequences: [END]}
      bedrock_top_p: 0.8
  - name: plain
    from: bedrock:amazon.nova-lite-v1:0
`
	cfg, err := Parse("inline.yaml", []byte(in), &Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	wantMedia := Media{MaxBytes: 1 << 20, Timeout: 5 * time.Second, MaxRedirects: 2, TrustedHosts: []string{"files.internal", "10.0.0.5:8443"}}
	if !reflect.DeepEqual(cfg.Server.Media, wantMedia) {
		t.Errorf("server.media = %+v, want %+v", cfg.Server.Media, wantMedia)
	}
	s := cfg.Models[0].Shaping
	want := Shaping{
		Options: shaping.Options{
			AllowedRoles:         []string{"user", "assistant"},
			DefaultRole:          "user",
			RemapRoles:           map[string]string{"assistant": "assistant", "user": "user"},
			AllowedRoleMetadata:  []string{"cachePoint"},
			FinishReasonDenyList: []string{"length", "content_filter"},
			NoStreaming:          true,
			AdditionalModelRequestFields: map[string]any{
				"top_k": int64(40), "anthropic_beta": []any{"context-1m-2025-08-07"}, "thinking": map[string]any{"type": "disabled"},
			},
		},
		MediaURLHandler: map[string]string{"image": "send_url", "audio": "send_base64", "pdf": "send_base64", "video": "send_url_add_mime_type"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("shaping =\n %#v\nwant\n %#v", s, want)
	}
	// inference_configuration sets request defaults, beside bedrock_<param>.
	wantDefaults := map[string]any{"max_tokens": 300.0, "temperature": 0.2, "stop": []any{"END"}, "top_p": 0.8}
	if d := cfg.Models[0].Defaults; !reflect.DeepEqual(d, wantDefaults) {
		t.Errorf("defaults = %#v, want %#v", d, wantDefaults)
	}
	// A model without params gets BAML's defaults.
	p := cfg.Models[1].Shaping
	if !reflect.DeepEqual(p.AllowedRoles, []string{"system", "user", "assistant"}) || p.DefaultRole != "user" || p.NoStreaming ||
		p.AllowedRoleMetadata != nil || p.FinishReasonAllowList != nil || p.FinishReasonDenyList != nil ||
		p.MediaURLHandler["image"] != MediaSendBase64 || p.MediaURLHandler["video"] != MediaSendURL {
		t.Errorf("default shaping = %+v", p)
	}
	if m := cfg.Server.Media; m.MaxBytes == 0 {
		t.Error("media defaults missing")
	}
}

// TestShapingDefaultRole: BAML's rule, user when allowed, else the first
// allowed role; an explicit default_role wins.
func TestShapingDefaultRole(t *testing.T) {
	for _, c := range []struct{ params, want string }{
		{`{allowed_roles: [assistant, user]}`, "user"},
		{`{allowed_roles: [system, user], default_role: system}`, "system"},
		{`{}`, "user"},
	} {
		cfg, err := Parse("x.yaml", []byte("models:\n  - name: m\n    from: bedrock:amazon.nova-lite-v1:0\n    params: "+c.params+"\n"), &Secrets{})
		if err != nil {
			t.Fatalf("%s: %v", c.params, err)
		}
		if got := cfg.Models[0].Shaping.DefaultRole; got != c.want {
			t.Errorf("%s: default role %q, want %q", c.params, got, c.want)
		}
	}
}
