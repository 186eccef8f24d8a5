package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// The Amazon Nova Sonic event protocol over InvokeModelWithBidirectionalStream.
// Input: sessionStart, promptStart, then contents (contentStart, textInput /
// audioInput / toolResult, contentEnd), promptEnd, sessionEnd. Output, for
// each interactive user content and each tool result: completionStart (once
// per prompt), the user's transcript (a USER TEXT content), then either a
// toolUse (a TOOL content, stopReason TOOL_USE) or the reply as ASSISTANT
// TEXT followed by ASSISTANT AUDIO (a PCM sine tone, its length following
// the text), then a usageEvent; promptEnd answers completionEnd.

type sonicInput struct {
	Event struct {
		SessionStart *struct {
			InferenceConfiguration *struct {
				MaxTokens   *int     `json:"maxTokens"`
				TopP        *float64 `json:"topP"`
				Temperature *float64 `json:"temperature"`
			} `json:"inferenceConfiguration"`
		} `json:"sessionStart"`
		PromptStart *struct {
			PromptName               string           `json:"promptName"`
			TextOutputConfiguration  json.RawMessage  `json:"textOutputConfiguration"`
			AudioOutputConfiguration *sonicAudioCfg   `json:"audioOutputConfiguration"`
			ToolUseOutputConfig      json.RawMessage  `json:"toolUseOutputConfiguration"`
			ToolConfiguration        *sonicToolConfig `json:"toolConfiguration"`
		} `json:"promptStart"`
		ContentStart *struct {
			PromptName  string `json:"promptName"`
			ContentName string `json:"contentName"`
			Type        string `json:"type"`
			Interactive *bool  `json:"interactive"`
			Role        string `json:"role"`
			ToolResult  *struct {
				ToolUseID string `json:"toolUseId"`
			} `json:"toolResultInputConfiguration"`
		} `json:"contentStart"`
		TextInput  *sonicContentEvent `json:"textInput"`
		AudioInput *sonicContentEvent `json:"audioInput"`
		ToolResult *sonicContentEvent `json:"toolResult"`
		ContentEnd *sonicContentEvent `json:"contentEnd"`
		PromptEnd  *struct {
			PromptName string `json:"promptName"`
		} `json:"promptEnd"`
		SessionEnd *struct{} `json:"sessionEnd"`
	} `json:"event"`
}

type sonicToolConfig struct {
	Tools []struct {
		ToolSpec struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			InputSchema struct {
				JSON string `json:"json"`
			} `json:"inputSchema"`
		} `json:"toolSpec"`
	} `json:"tools"`
}

type sonicContentEvent struct {
	PromptName  string `json:"promptName"`
	ContentName string `json:"contentName"`
	Content     string `json:"content"`
}

type sonicAudioCfg struct {
	MediaType       string `json:"mediaType"`
	SampleRateHertz int    `json:"sampleRateHertz"`
	SampleSizeBits  int    `json:"sampleSizeBits"`
	ChannelCount    int    `json:"channelCount"`
	VoiceID         string `json:"voiceId"`
	Encoding        string `json:"encoding"`
	AudioType       string `json:"audioType"`
}

// sonicContent is an open input content.
type sonicContent struct {
	typ, role   string
	interactive bool
	toolUseID   string
	text        strings.Builder
	audioBytes  int
}

type sonicSession struct {
	e   *Emulator
	c   *call
	m   *Model
	out *bidiWriter

	id         string
	started    bool
	maxTokens  int
	prompt     string // open prompt's name
	audio      sonicAudioCfg
	tools      []genTool
	contents   map[string]*sonicContent
	completion string // open completion's ID, "" before completionStart
	req        genRequest
	turns      int
	inTok      int
	outTok     int
}

func newSonicSession(e *Emulator, c *call, m *Model, out *bidiWriter) *sonicSession {
	return &sonicSession{e: e, c: c, m: m, out: out, id: newRequestID(), contents: map[string]*sonicContent{}}
}

// errSessionDone ends a session normally (sessionEnd).
var errSessionDone = errors.New("emulator: session ended")

// run reads input events until the session ends, the input fails or the
// client goes away.
func (s *sonicSession) run(br *bidiReader) {
	for {
		ev, err := br.next()
		if err != nil {
			var aerr *apiError
			switch {
			case errors.As(err, &aerr):
				s.out.fail(aerr)
			case errors.Is(err, errInputEnded):
				// Closing the input without sessionEnd abandons the session
				// (the SDKs' Close does this): a disconnect, told anyway.
				s.e.disconnects.Add(1)
				s.out.fail(validationError("The input stream ended before sessionEnd."))
			default: // the client went away or reset the stream
				s.e.disconnects.Add(1)
			}
			return
		}
		if err := s.handle(ev); err != nil {
			if aerr := (*apiError)(nil); errors.As(err, &aerr) {
				s.out.fail(aerr)
			}
			return
		}
	}
}

// handle applies one input event; an *apiError ends the session with an
// exception frame, errSessionDone and errClientGone end it quietly.
func (s *sonicSession) handle(raw []byte) error {
	var in sonicInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&in); err != nil {
		return validationError("Invalid input event: the chunk is not a JSON event object (%v).", err)
	}
	ev := &in.Event
	if ev.SessionStart == nil && !s.started {
		return validationError("The first event must be sessionStart.")
	}
	switch {
	case ev.SessionStart != nil:
		if s.started {
			return validationError("sessionStart was already received for this session.")
		}
		s.started = true
		s.maxTokens = 1024
		if ic := ev.SessionStart.InferenceConfiguration; ic != nil {
			if ic.MaxTokens != nil {
				if *ic.MaxTokens < 1 {
					return validationError("inferenceConfiguration.maxTokens must be at least 1.")
				}
				s.maxTokens = *ic.MaxTokens
			}
			for name, v := range map[string]*float64{"temperature": ic.Temperature, "topP": ic.TopP} {
				if v != nil && (*v < 0 || *v > 1) {
					return validationError("inferenceConfiguration.%s must be between 0 and 1.", name)
				}
			}
		}
	case ev.PromptStart != nil:
		return s.promptStart(ev.PromptStart.PromptName, ev.PromptStart.AudioOutputConfiguration, ev.PromptStart.ToolConfiguration)
	case ev.ContentStart != nil:
		cs := ev.ContentStart
		if err := s.checkPrompt(cs.PromptName); err != nil {
			return err
		}
		if cs.ContentName == "" {
			return validationError("contentStart.contentName is required.")
		}
		if _, dup := s.contents[cs.ContentName]; dup {
			return validationError("The content %s is already open.", cs.ContentName)
		}
		ct := &sonicContent{typ: cs.Type, role: cs.Role, interactive: cs.Interactive == nil || *cs.Interactive}
		switch cs.Type {
		case "TEXT", "AUDIO":
		case "TOOL":
			if cs.ToolResult == nil || cs.ToolResult.ToolUseID == "" {
				return validationError("A TOOL content needs toolResultInputConfiguration.toolUseId.")
			}
			ct.toolUseID = cs.ToolResult.ToolUseID
		default:
			return validationError("contentStart.type %q is not one of TEXT, AUDIO, TOOL.", cs.Type)
		}
		switch cs.Role {
		case "SYSTEM", "USER", "ASSISTANT", "TOOL":
		default:
			return validationError("contentStart.role %q is not one of SYSTEM, USER, ASSISTANT, TOOL.", cs.Role)
		}
		s.contents[cs.ContentName] = ct
	case ev.TextInput != nil:
		ct, err := s.content(ev.TextInput, "TEXT", "textInput")
		if err != nil {
			return err
		}
		ct.text.WriteString(ev.TextInput.Content)
	case ev.AudioInput != nil:
		ct, err := s.content(ev.AudioInput, "AUDIO", "audioInput")
		if err != nil {
			return err
		}
		b, derr := decodeBase64(ev.AudioInput.Content)
		if derr != nil {
			return validationError("audioInput.content is not base64.")
		}
		ct.audioBytes += len(b)
	case ev.ToolResult != nil:
		ct, err := s.content(ev.ToolResult, "TOOL", "toolResult")
		if err != nil {
			return err
		}
		ct.text.WriteString(ev.ToolResult.Content)
	case ev.ContentEnd != nil:
		ct, err := s.content(ev.ContentEnd, "", "contentEnd")
		if err != nil {
			return err
		}
		delete(s.contents, ev.ContentEnd.ContentName)
		return s.contentEnd(ct)
	case ev.PromptEnd != nil:
		if err := s.checkPrompt(ev.PromptEnd.PromptName); err != nil {
			return err
		}
		if s.completion != "" {
			if err := s.emit("completionEnd", map[string]any{"stopReason": "END_TURN"}); err != nil {
				return err
			}
		}
		s.prompt, s.completion = "", ""
	case ev.SessionEnd != nil:
		return errSessionDone
	default:
		return validationError("Unknown input event: expected one of sessionStart, promptStart, contentStart, textInput, audioInput, toolResult, contentEnd, promptEnd, sessionEnd.")
	}
	return nil
}

func (s *sonicSession) promptStart(name string, audio *sonicAudioCfg, tc *sonicToolConfig) error {
	if name == "" {
		return validationError("promptStart.promptName is required.")
	}
	if s.prompt != "" {
		return validationError("The prompt %s is still open; send promptEnd first.", s.prompt)
	}
	s.prompt = name
	s.audio = sonicAudioCfg{MediaType: "audio/lpcm", SampleRateHertz: 24000, SampleSizeBits: 16, ChannelCount: 1, VoiceID: "matthew", Encoding: "base64", AudioType: "SPEECH"}
	if audio != nil {
		switch audio.SampleRateHertz {
		case 0:
		case 8000, 16000, 24000:
			s.audio.SampleRateHertz = audio.SampleRateHertz
		default:
			return validationError("audioOutputConfiguration.sampleRateHertz must be 8000, 16000 or 24000.")
		}
		if audio.VoiceID != "" {
			s.audio.VoiceID = audio.VoiceID
		}
	}
	s.tools = nil
	if tc != nil {
		for i, t := range tc.Tools {
			gt := genTool{Name: t.ToolSpec.Name, Description: t.ToolSpec.Description, SchemaJSON: t.ToolSpec.InputSchema.JSON}
			if !toolNameRE.MatchString(gt.Name) {
				return validationError("toolConfiguration.tools.%d.toolSpec.name %q is not a valid tool name.", i, gt.Name)
			}
			if gt.SchemaJSON != "" {
				if err := json.Unmarshal([]byte(gt.SchemaJSON), &gt.Schema); err != nil {
					return validationError("toolConfiguration.tools.%d.toolSpec.inputSchema.json is not a JSON schema string.", i)
				}
			}
			s.tools = append(s.tools, gt)
		}
	}
	return nil
}

func (s *sonicSession) checkPrompt(name string) error {
	if s.prompt == "" {
		return validationError("No prompt is open; send promptStart first.")
	}
	if name != s.prompt {
		return validationError("The promptName %q does not match the open prompt %q.", name, s.prompt)
	}
	return nil
}

// content finds the open content an event names and checks its type.
func (s *sonicSession) content(ev *sonicContentEvent, typ, event string) (*sonicContent, error) {
	if err := s.checkPrompt(ev.PromptName); err != nil {
		return nil, err
	}
	ct := s.contents[ev.ContentName]
	if ct == nil {
		return nil, validationError("%s names the content %q, which is not open.", event, ev.ContentName)
	}
	if typ != "" && ct.typ != typ {
		return nil, validationError("%s is not valid in a %s content.", event, ct.typ)
	}
	return ct, nil
}

// contentEnd folds a finished content into the conversation and answers
// interactive user input and tool results.
func (s *sonicSession) contentEnd(ct *sonicContent) error {
	text := ct.text.String()
	if f := s.e.faults.pick(s.m.ID, []byte(text)); f.kind != "" {
		return sonicFault(f.kind, s.m.ID)
	}
	switch {
	case ct.role == "SYSTEM":
		s.req.System = append(s.req.System, text)
		s.inTok += countTokens(text)
		return nil
	case ct.typ == "TOOL":
		s.req.Messages = append(s.req.Messages, genMessage{Role: "user", ToolResults: []genToolResult{{ToolUseID: ct.toolUseID, Text: text}}})
		s.inTok += countTokens(text)
		return s.respond("")
	case ct.role == "ASSISTANT":
		s.req.Messages = append(s.req.Messages, genMessage{Role: "assistant", Text: text})
		return nil
	}
	heard := text
	if ct.typ == "AUDIO" {
		// There is no recogniser: audio is "heard" as its duration.
		ms := ct.audioBytes * 1000 / (16000 * 2)
		heard = fmt.Sprintf("(%d ms of audio)", ms)
	}
	s.inTok += countTokens(heard)
	s.req.Messages = appendUser(s.req.Messages, heard)
	if !ct.interactive {
		return nil
	}
	return s.respond(heard)
}

// appendUser adds user text, merging with a previous user turn so that
// turns keep alternating.
func appendUser(msgs []genMessage, text string) []genMessage {
	if n := len(msgs); n > 0 && msgs[n-1].Role == "user" && len(msgs[n-1].ToolResults) == 0 {
		msgs[n-1].Text += "\n" + text
		return msgs
	}
	return append(msgs, genMessage{Role: "user", Text: text})
}

// sonicFault is the in-stream exception a fault marker asks for.
func sonicFault(kind, modelID string) *apiError {
	switch kind {
	case faultModelStreamError:
		return &apiError{Code: "ModelStreamErrorException", Message: "The model encountered an error while streaming the response.",
			Extra: map[string]any{"originalMessage": "Internal model error", "originalStatusCode": 500}}
	case faultThrottle, faultThrottleStream:
		return errThrottled()
	}
	if aerr := httpFault(kind, true, "arn:aws:bedrock:us-east-1::foundation-model/"+modelID); aerr != nil {
		return aerr
	}
	return errInternal()
}

// respond answers the conversation so far: the transcript of what was
// heard (none for a tool result), then a tool call or text and audio.
func (s *sonicSession) respond(heard string) error {
	if s.completion == "" {
		s.completion = newRequestID()
		if err := s.emit("completionStart", nil); err != nil {
			return err
		}
	}
	if heard != "" {
		if err := s.textContent("USER", "FINAL", heard); err != nil {
			return err
		}
	}
	req := s.req
	req.ModelID, req.Family, req.Tools, req.MaxTokens = s.m.ID, familyNova, s.tools, s.maxTokens
	res := generate(s.e.cfg.Seed+uint64(s.turns), &req)
	s.turns++
	if len(res.ToolUses) > 0 {
		u := res.ToolUses[0]
		s.req.Messages = append(s.req.Messages, genMessage{Role: "assistant", ToolUses: []genToolUse{u}})
		contentID := newRequestID()
		if err := s.emit("contentStart", map[string]any{"contentId": contentID, "type": "TOOL", "role": "TOOL",
			"toolUseOutputConfiguration": map[string]any{"mediaType": "application/json"}}); err != nil {
			return err
		}
		if err := s.emit("toolUse", map[string]any{"contentId": contentID, "toolName": u.Name, "toolUseId": u.ID, "content": string(u.Input), "role": "TOOL"}); err != nil {
			return err
		}
		if err := s.emit("contentEnd", map[string]any{"contentId": contentID, "type": "TOOL", "stopReason": "TOOL_USE"}); err != nil {
			return err
		}
	} else {
		s.req.Messages = append(s.req.Messages, genMessage{Role: "assistant", Text: res.Text})
		if err := s.textContent("ASSISTANT", "SPECULATIVE", res.Text); err != nil {
			return err
		}
		if err := s.audioContent(res.Text); err != nil {
			return err
		}
	}
	s.outTok += res.OutputTokens
	return s.emit("usageEvent", map[string]any{
		"details": map[string]any{
			"total": map[string]any{"input": map[string]any{"speechTokens": 0, "textTokens": s.inTok}, "output": map[string]any{"speechTokens": s.outTok, "textTokens": s.outTok}},
		},
		"totalInputTokens": s.inTok, "totalOutputTokens": 2 * s.outTok, "totalTokens": s.inTok + 2*s.outTok,
	})
}

func (s *sonicSession) textContent(role, stage, text string) error {
	contentID := newRequestID()
	if err := s.emit("contentStart", map[string]any{"contentId": contentID, "type": "TEXT", "role": role,
		"additionalModelFields":   `{"generationStage":"` + stage + `"}`,
		"textOutputConfiguration": map[string]any{"mediaType": "text/plain"}}); err != nil {
		return err
	}
	if err := s.emit("textOutput", map[string]any{"contentId": contentID, "content": text, "role": role}); err != nil {
		return err
	}
	stop := "PARTIAL_TURN"
	if role == "USER" {
		stop = "END_TURN"
	}
	return s.emit("contentEnd", map[string]any{"contentId": contentID, "type": "TEXT", "stopReason": stop})
}

// audioContent speaks text as a 440 Hz tone, 60 ms a word, in 100 ms
// audioOutput events of little-endian 16-bit mono PCM.
func (s *sonicSession) audioContent(text string) error {
	contentID := newRequestID()
	if err := s.emit("contentStart", map[string]any{"contentId": contentID, "type": "AUDIO", "role": "ASSISTANT",
		"audioOutputConfiguration": s.audio}); err != nil {
		return err
	}
	pcm := sonicTone(s.audio.SampleRateHertz, 60*max(1, len(strings.Fields(text))))
	chunk := s.audio.SampleRateHertz / 10 * 2
	for off := 0; off < len(pcm); off += chunk {
		end := min(off+chunk, len(pcm))
		if err := s.emit("audioOutput", map[string]any{"contentId": contentID, "content": base64.StdEncoding.EncodeToString(pcm[off:end]), "role": "ASSISTANT"}); err != nil {
			return err
		}
	}
	return s.emit("contentEnd", map[string]any{"contentId": contentID, "type": "AUDIO", "stopReason": "END_TURN"})
}

// sonicTone is ms milliseconds of a 440 Hz sine at a quarter of full scale.
func sonicTone(rate, ms int) []byte {
	n := rate * ms / 1000
	b := make([]byte, 2*n)
	for i := range n {
		v := int16(8192 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// emit sends one output event, adding the session, prompt and completion
// IDs every output event carries.
func (s *sonicSession) emit(name string, fields map[string]any) error {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["sessionId"] = s.id
	fields["promptName"] = s.prompt
	fields["completionId"] = s.completion
	b := mustJSON(map[string]any{"event": map[string]any{name: fields}})
	return s.out.send(b)
}
