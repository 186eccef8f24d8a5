package bedrock

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Amazon Nova Sonic's events, as carried by a BidiStream: every event is
// {"event":{"<name>":{...}}}. SonicInput builds the input events;
// DecodeSonicEvent types the output ones.

// SonicInput is one Nova Sonic input event; set exactly one member.
type SonicInput struct {
	SessionStart *SonicSessionStart `json:"sessionStart,omitempty"`
	PromptStart  *SonicPromptStart  `json:"promptStart,omitempty"`
	ContentStart *SonicContentStart `json:"contentStart,omitempty"`
	TextInput    *SonicContent      `json:"textInput,omitempty"`
	AudioInput   *SonicContent      `json:"audioInput,omitempty"`
	ToolResult   *SonicContent      `json:"toolResult,omitempty"`
	ContentEnd   *SonicContent      `json:"contentEnd,omitempty"`
	PromptEnd    *SonicPromptEnd    `json:"promptEnd,omitempty"`
	SessionEnd   *struct{}          `json:"sessionEnd,omitempty"`
}

// MarshalJSON wraps the event in its {"event": ...} envelope.
func (e SonicInput) MarshalJSON() ([]byte, error) {
	type plain SonicInput
	return json.Marshal(struct {
		Event plain `json:"event"`
	}{plain(e)})
}

// SendSonic sends one Nova Sonic input event.
func (s *BidiStream) SendSonic(e SonicInput) error { return s.SendJSON(e) }

// SonicSessionStart opens the session.
type SonicSessionStart struct {
	InferenceConfiguration SonicInference `json:"inferenceConfiguration"`
}

// SonicInference are the session's inference parameters.
type SonicInference struct {
	MaxTokens   int     `json:"maxTokens,omitempty"`
	TopP        float64 `json:"topP,omitempty"`
	Temperature float64 `json:"temperature,omitempty"`
}

// SonicPromptStart opens a prompt: output formats and tools.
type SonicPromptStart struct {
	PromptName                 string            `json:"promptName"`
	TextOutputConfiguration    *SonicMediaType   `json:"textOutputConfiguration,omitempty"`
	AudioOutputConfiguration   *SonicAudioConfig `json:"audioOutputConfiguration,omitempty"`
	ToolUseOutputConfiguration *SonicMediaType   `json:"toolUseOutputConfiguration,omitempty"`
	ToolConfiguration          *SonicToolConfig  `json:"toolConfiguration,omitempty"`
}

// SonicMediaType is a {"mediaType": ...} configuration.
type SonicMediaType struct {
	MediaType string `json:"mediaType"`
}

// SonicAudioConfig describes PCM audio in or out.
type SonicAudioConfig struct {
	MediaType       string `json:"mediaType"` // audio/lpcm
	SampleRateHertz int    `json:"sampleRateHertz"`
	SampleSizeBits  int    `json:"sampleSizeBits"`
	ChannelCount    int    `json:"channelCount"`
	VoiceID         string `json:"voiceId,omitempty"`
	Encoding        string `json:"encoding"`  // base64
	AudioType       string `json:"audioType"` // SPEECH
}

// SonicToolConfig lists the tools the model may call.
type SonicToolConfig struct {
	Tools []SonicTool `json:"tools"`
}

// SonicTool is one tool; InputSchema is the JSON schema as a string, as
// Nova Sonic wants it.
type SonicTool struct {
	ToolSpec struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		InputSchema struct {
			JSON string `json:"json"`
		} `json:"inputSchema"`
	} `json:"toolSpec"`
}

// NewSonicTool builds a SonicTool from a JSON schema value.
func NewSonicTool(name, description string, schema any) (SonicTool, error) {
	var t SonicTool
	b, err := json.Marshal(schema)
	if err != nil {
		return t, fmt.Errorf("bedrock: tool %s schema: %w", name, err)
	}
	t.ToolSpec.Name, t.ToolSpec.Description, t.ToolSpec.InputSchema.JSON = name, description, string(b)
	return t, nil
}

// SonicContentStart opens a content of a prompt: TEXT, AUDIO or TOOL, from
// SYSTEM, USER, ASSISTANT or TOOL.
type SonicContentStart struct {
	PromptName                   string                 `json:"promptName"`
	ContentName                  string                 `json:"contentName"`
	Type                         string                 `json:"type"`
	Interactive                  bool                   `json:"interactive"`
	Role                         string                 `json:"role"`
	TextInputConfiguration       *SonicMediaType        `json:"textInputConfiguration,omitempty"`
	AudioInputConfiguration      *SonicAudioConfig      `json:"audioInputConfiguration,omitempty"`
	ToolResultInputConfiguration *SonicToolResultConfig `json:"toolResultInputConfiguration,omitempty"`
}

// SonicToolResultConfig names the tool call a TOOL content answers.
type SonicToolResultConfig struct {
	ToolUseID              string          `json:"toolUseId"`
	Type                   string          `json:"type"` // TEXT
	TextInputConfiguration *SonicMediaType `json:"textInputConfiguration,omitempty"`
}

// SonicContent carries a content's data (textInput, audioInput as base64,
// toolResult as a JSON string) or ends it (contentEnd, Content empty).
type SonicContent struct {
	PromptName  string `json:"promptName"`
	ContentName string `json:"contentName"`
	Content     string `json:"content,omitempty"`
}

// SonicPromptEnd closes a prompt.
type SonicPromptEnd struct {
	PromptName string `json:"promptName"`
}

// SonicEvent is one Nova Sonic output event; exactly one member is set.
type SonicEvent struct {
	CompletionStart *SonicOutput `json:"completionStart"`
	ContentStart    *SonicOutput `json:"contentStart"`
	TextOutput      *SonicOutput `json:"textOutput"`
	AudioOutput     *SonicOutput `json:"audioOutput"`
	ToolUse         *SonicOutput `json:"toolUse"`
	ContentEnd      *SonicOutput `json:"contentEnd"`
	UsageEvent      *SonicUsage  `json:"usageEvent"`
	CompletionEnd   *SonicOutput `json:"completionEnd"`
}

// SonicOutput holds the members of the output events (each event sets the
// ones it has).
type SonicOutput struct {
	SessionID             string `json:"sessionId"`
	PromptName            string `json:"promptName"`
	CompletionID          string `json:"completionId"`
	ContentID             string `json:"contentId"`
	Type                  string `json:"type"` // TEXT, AUDIO, TOOL
	Role                  string `json:"role"` // USER (transcript), ASSISTANT, TOOL
	Content               string `json:"content"`
	ToolName              string `json:"toolName"`
	ToolUseID             string `json:"toolUseId"`
	StopReason            string `json:"stopReason"`
	AdditionalModelFields string `json:"additionalModelFields"`
}

// Audio decodes an audioOutput's base64 PCM.
func (o *SonicOutput) Audio() ([]byte, error) { return base64.StdEncoding.DecodeString(o.Content) }

// SonicUsage is a usageEvent.
type SonicUsage struct {
	SessionID         string `json:"sessionId"`
	TotalInputTokens  int    `json:"totalInputTokens"`
	TotalOutputTokens int    `json:"totalOutputTokens"`
	TotalTokens       int    `json:"totalTokens"`
}

// DecodeSonicEvent types a Nova Sonic output event (BidiStream.Current).
func DecodeSonicEvent(b []byte) (*SonicEvent, error) {
	var env struct {
		Event SonicEvent `json:"event"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("bedrock: decoding Nova Sonic event: %w", err)
	}
	return &env.Event, nil
}
