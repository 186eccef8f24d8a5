package bedrock

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
)

// sonicSession opens a Nova Sonic session with Quarry's client against an
// emulator reached over HTTP/2: TLS (h2) or h2c.
func sonicSession(t *testing.T, useTLS bool, cfg Config) (*BidiStream, *emulator.Server, context.CancelFunc) {
	t.Helper()
	isolateAWSEnv(t)
	ecfg := emulator.Config{}
	if useTLS {
		ecfg.TLS = &emulator.TLSConfig{Dir: t.TempDir()}
	}
	emu, err := emulator.NewServer(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	tr := &http.Transport{}
	var p http.Protocols
	if useTLS {
		tr.TLSClientConfig = &tls.Config{RootCAs: emu.CertPool}
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	tr.Protocols = &p
	t.Cleanup(tr.CloseIdleConnections)
	cfg.Region, cfg.Endpoint, cfg.HTTPClient = "us-east-1", emu.URL, &http.Client{Transport: tr}
	if cfg.APIKey == "" {
		cfg.AccessKeyID, cfg.SecretAccessKey = "test", "test"
	}
	c := mustNew(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	s, err := c.InvokeModelWithBidirectionalStream(ctx, "amazon.nova-sonic-v1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, emu, cancel
}

func sendAll(t *testing.T, s *BidiStream, events ...SonicInput) {
	t.Helper()
	for _, e := range events {
		if err := s.SendSonic(e); err != nil {
			t.Fatal(err)
		}
	}
}

// opening is sessionStart, promptStart (with a get_weather tool when
// tools), a system prompt and an interactive user text.
func opening(t *testing.T, text string, tools bool) []SonicInput {
	ps := &SonicPromptStart{PromptName: "p1", TextOutputConfiguration: &SonicMediaType{"text/plain"},
		AudioOutputConfiguration: &SonicAudioConfig{MediaType: "audio/lpcm", SampleRateHertz: 16000, SampleSizeBits: 16, ChannelCount: 1, VoiceID: "matthew", Encoding: "base64", AudioType: "SPEECH"}}
	if tools {
		tool, err := NewSonicTool("get_weather", "Get the weather for a city", map[string]any{
			"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}})
		if err != nil {
			t.Fatal(err)
		}
		ps.ToolUseOutputConfiguration = &SonicMediaType{"application/json"}
		ps.ToolConfiguration = &SonicToolConfig{Tools: []SonicTool{tool}}
	}
	return []SonicInput{
		{SessionStart: &SonicSessionStart{SonicInference{MaxTokens: 1024, TopP: 0.9, Temperature: 0.7}}},
		{PromptStart: ps},
		{ContentStart: &SonicContentStart{PromptName: "p1", ContentName: "sys", Type: "TEXT", Role: "SYSTEM", TextInputConfiguration: &SonicMediaType{"text/plain"}}},
		{TextInput: &SonicContent{PromptName: "p1", ContentName: "sys", Content: "You are a friendly assistant."}},
		{ContentEnd: &SonicContent{PromptName: "p1", ContentName: "sys"}},
		{ContentStart: &SonicContentStart{PromptName: "p1", ContentName: "u1", Type: "TEXT", Interactive: true, Role: "USER", TextInputConfiguration: &SonicMediaType{"text/plain"}}},
		{TextInput: &SonicContent{PromptName: "p1", ContentName: "u1", Content: text}},
		{ContentEnd: &SonicContent{PromptName: "p1", ContentName: "u1"}},
	}
}

// until collects events up to and including the first usageEvent or
// completionEnd.
func until(t *testing.T, s *BidiStream) []*SonicEvent {
	t.Helper()
	var evs []*SonicEvent
	for s.Next() {
		ev, err := DecodeSonicEvent(s.Current())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		if ev.UsageEvent != nil || ev.CompletionEnd != nil {
			return evs
		}
	}
	return evs
}

func TestBidiSonicToolRoundTrip(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "h2c", true: "tls"}[useTLS], func(t *testing.T) {
			s, _, _ := sonicSession(t, useTLS, Config{})
			sendAll(t, s, opening(t, "What is the weather in Paris?", true)...)
			var transcript string
			var use *SonicOutput
			for _, ev := range until(t, s) {
				if o := ev.TextOutput; o != nil && o.Role == "USER" {
					transcript = o.Content
				}
				if ev.ToolUse != nil {
					use = ev.ToolUse
				}
			}
			if transcript != "What is the weather in Paris?" {
				t.Errorf("transcript %q", transcript)
			}
			if use == nil || use.ToolName != "get_weather" || !strings.Contains(use.Content, `"city"`) {
				t.Fatalf("tool use %+v", use)
			}
			sendAll(t, s,
				SonicInput{ContentStart: &SonicContentStart{PromptName: "p1", ContentName: "t1", Type: "TOOL", Role: "TOOL",
					ToolResultInputConfiguration: &SonicToolResultConfig{ToolUseID: use.ToolUseID, Type: "TEXT", TextInputConfiguration: &SonicMediaType{"text/plain"}}}},
				SonicInput{ToolResult: &SonicContent{PromptName: "p1", ContentName: "t1", Content: `{"forecast":"sunny and 21 degrees"}`}},
				SonicInput{ContentEnd: &SonicContent{PromptName: "p1", ContentName: "t1"}})
			var reply string
			var pcm int
			for _, ev := range until(t, s) {
				if o := ev.TextOutput; o != nil && o.Role == "ASSISTANT" {
					reply = o.Content
				}
				if o := ev.AudioOutput; o != nil {
					b, err := o.Audio()
					if err != nil {
						t.Fatal(err)
					}
					pcm += len(b)
				}
			}
			if !strings.Contains(reply, "sunny") || pcm == 0 || pcm%2 != 0 {
				t.Errorf("reply %q with %d PCM bytes", reply, pcm)
			}
			sendAll(t, s, SonicInput{PromptEnd: &SonicPromptEnd{"p1"}}, SonicInput{SessionEnd: &struct{}{}})
			if err := s.CloseSend(); err != nil {
				t.Fatal(err)
			}
			evs := until(t, s)
			if len(evs) != 1 || evs[0].CompletionEnd == nil {
				t.Errorf("after promptEnd: %+v", evs)
			}
			if s.Next() || s.Err() != nil {
				t.Errorf("session did not end cleanly: %v", s.Err())
			}
		})
	}
}

func TestBidiSonicErrors(t *testing.T) {
	cases := []struct {
		name   string
		events func(t *testing.T) []SonicInput
		want   error
		code   string
	}{
		{"throttle marker", func(t *testing.T) []SonicInput { return opening(t, "[[quarry:throttle]] hello", false) }, ErrThrottling, "ThrottlingException"},
		{"prompt before session", func(t *testing.T) []SonicInput {
			return []SonicInput{{PromptStart: &SonicPromptStart{PromptName: "p1"}}}
		}, ErrValidation, "ValidationException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := sonicSession(t, false, Config{})
			sendAll(t, s, tc.events(t)...)
			for s.Next() {
			}
			var be *Error
			if err := s.Err(); !errors.Is(err, tc.want) || !errors.As(err, &be) || !be.InStream || be.Code != tc.code {
				t.Fatalf("error %v, want in-stream %s", err, tc.code)
			}
			if err := s.Send([]byte(`{}`)); err == nil {
				t.Error("Send after the session failed did not fail")
			}
		})
	}
}

func TestBidiSonicBearerAndBadModel(t *testing.T) {
	s, _, _ := sonicSession(t, false, Config{APIKey: "bedrock-api-key"})
	sendAll(t, s, opening(t, "Say hello", false)...)
	var reply string
	for _, ev := range until(t, s) {
		if o := ev.TextOutput; o != nil && o.Role == "ASSISTANT" {
			reply = o.Content
		}
	}
	if reply != "Hello." {
		t.Errorf("reply %q", reply)
	}

	emu, err := emulator.NewServer(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	c := mustNew(t, Config{Region: "us-east-1", Endpoint: emu.URL, AccessKeyID: "test", SecretAccessKey: "test"})
	bad, err := c.InvokeModelWithBidirectionalStream(context.Background(), "amazon.nova-lite-v1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if bad.Next() || !errors.Is(bad.Err(), ErrValidation) {
		t.Errorf("a text model: %v", bad.Err())
	}
}

// TestBidiSonicCancel: cancelling mid-session frees the client's slot and
// the emulator sees the stream go.
func TestBidiSonicCancel(t *testing.T) {
	s, emu, cancel := sonicSession(t, false, Config{})
	sendAll(t, s, opening(t, "Tell me about rivers", false)...)
	if evs := until(t, s); len(evs) == 0 {
		t.Fatal("no reply")
	}
	cancel()
	if s.Next() || !errors.Is(s.Err(), context.Canceled) {
		t.Errorf("after cancel: %v", s.Err())
	}
	deadline := time.Now().Add(5 * time.Second)
	for emu.Stats().Disconnects == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the emulator did not see the session cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
