package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The Converse request (ConverseRequest in the service model). Union shapes
// are structs of pointers; strict decoding rejects unknown members, so an
// unknown key or union member is a 400 like on Bedrock.
type converseRequest struct {
	Messages                          []message                  `json:"messages"`
	System                            []systemBlock              `json:"system"`
	InferenceConfig                   *inferenceConfig           `json:"inferenceConfig"`
	ToolConfig                        *toolConfig                `json:"toolConfig"`
	GuardrailConfig                   *guardrailConfig           `json:"guardrailConfig"`
	AdditionalModelRequestFields      json.RawMessage            `json:"additionalModelRequestFields"`
	PromptVariables                   map[string]json.RawMessage `json:"promptVariables"`
	AdditionalModelResponseFieldPaths []string                   `json:"additionalModelResponseFieldPaths"`
	RequestMetadata                   map[string]string          `json:"requestMetadata"`
	PerformanceConfig                 json.RawMessage            `json:"performanceConfig"`
	ServiceTier                       json.RawMessage            `json:"serviceTier"`
	OutputConfig                      *outputConfig              `json:"outputConfig"`
}

type message struct {
	Role    string         `json:"role"`
	Content []contentBlock `json:"content"`
}

type contentBlock struct {
	Text             *string            `json:"text"`
	Image            *imageBlock        `json:"image"`
	Document         *documentBlock     `json:"document"`
	Video            json.RawMessage    `json:"video"`
	Audio            json.RawMessage    `json:"audio"`
	ToolUse          *toolUseBlock      `json:"toolUse"`
	ToolResult       *toolResultBlock   `json:"toolResult"`
	GuardContent     *guardContentBlock `json:"guardContent"`
	CachePoint       *cachePointBlock   `json:"cachePoint"`
	ReasoningContent json.RawMessage    `json:"reasoningContent"`
	CitationsContent json.RawMessage    `json:"citationsContent"`
	SearchResult     json.RawMessage    `json:"searchResult"`
	ToolAddition     json.RawMessage    `json:"toolAddition"`
	ToolRemoval      json.RawMessage    `json:"toolRemoval"`
}

type systemBlock struct {
	Text         *string            `json:"text"`
	GuardContent *guardContentBlock `json:"guardContent"`
	CachePoint   *cachePointBlock   `json:"cachePoint"`
}

type imageBlock struct {
	Format string          `json:"format"`
	Source json.RawMessage `json:"source"`
}

type documentBlock struct {
	Format    string          `json:"format"`
	Name      string          `json:"name"`
	Source    json.RawMessage `json:"source"`
	Context   *string         `json:"context"`
	Citations json.RawMessage `json:"citations"`
}

type toolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Type      string          `json:"type"`
}

type toolResultBlock struct {
	ToolUseID string            `json:"toolUseId"`
	Content   []json.RawMessage `json:"content"`
	Status    string            `json:"status"`
	Type      string            `json:"type"`
}

type guardContentBlock struct {
	Text *struct {
		Text       string   `json:"text"`
		Qualifiers []string `json:"qualifiers"`
	} `json:"text"`
	Image json.RawMessage `json:"image"`
}

type cachePointBlock struct {
	Type string `json:"type"`
	TTL  string `json:"ttl"`
}

type inferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens"`
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"topP"`
	StopSequences []string `json:"stopSequences"`
}

type toolConfig struct {
	Tools      []tool      `json:"tools"`
	ToolChoice *toolChoice `json:"toolChoice"`
}

type tool struct {
	ToolSpec   *toolSpec        `json:"toolSpec"`
	SystemTool json.RawMessage  `json:"systemTool"`
	CachePoint *cachePointBlock `json:"cachePoint"`
}

type toolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	InputSchema *struct {
		JSON json.RawMessage `json:"json"`
	} `json:"inputSchema"`
	Strict *bool `json:"strict"`
}

type toolChoice struct {
	Auto *struct{} `json:"auto"`
	Any  *struct{} `json:"any"`
	Tool *struct {
		Name string `json:"name"`
	} `json:"tool"`
}

type guardrailConfig struct {
	GuardrailIdentifier  string `json:"guardrailIdentifier"`
	GuardrailVersion     string `json:"guardrailVersion"`
	Trace                string `json:"trace"`
	StreamProcessingMode string `json:"streamProcessingMode"`
}

type outputConfig struct {
	TextFormat *struct {
		Type      string `json:"type"`
		Structure *struct {
			JSONSchema *struct {
				Schema      string `json:"schema"`
				Name        string `json:"name"`
				Description string `json:"description"`
			} `json:"jsonSchema"`
		} `json:"structure"`
	} `json:"textFormat"`
	Effort string `json:"effort"`
}

// decodeStrict decodes a JSON request body, rejecting unknown members and
// trailing data the way Bedrock's front end does.
func decodeStrict(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return validationError("Malformed input request: expected type %s for field %s, please reformat your input and try again.", jsonKind(te.Type.Kind().String()), te.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return validationError("Malformed input request: extraneous key [%s] is not permitted, please reformat your input and try again.", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		}
		return validationError("Malformed input request, please reformat your input and try again.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return validationError("Malformed input request, please reformat your input and try again.")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "float64", "uint64":
		return "number"
	case "struct", "map":
		return "object"
	case "slice":
		return "array"
	}
	return k
}

var (
	toolNameRE    = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	toolUseIDRE   = regexp.MustCompile(`^[a-zA-Z0-9_.:-]{1,64}$`)
	metadataKeyRE = regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]{1,256}$`)
	metadataValRE = regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]{0,256}$`)
)

var imageFormats = map[string]bool{"png": true, "jpeg": true, "gif": true, "webp": true}
var documentFormats = map[string]bool{"pdf": true, "csv": true, "doc": true, "docx": true, "xls": true, "xlsx": true, "html": true, "txt": true, "md": true}

// converseInput is a parsed and validated Converse request.
type converseInput struct {
	gen        genRequest
	guardTexts []string // what an input guardrail checks: the guardContent blocks if any, else system and user text
	cacheKey   [32]byte // hash of the prefix up to the last cache point
	cacheTok   int      // tokens of that prefix; 0: no cache point
	cacheTTL   time.Duration
	guardrail  *guardrailConfig
	fieldPaths []string
}

// parseConverse validates a Converse/ConverseStream (or CountTokens
// "converse") request for model m as Bedrock does and reduces it to a
// genRequest.
func parseConverse(req *converseRequest, m *Model) (*converseInput, *apiError) {
	in := &converseInput{guardrail: req.GuardrailConfig, fieldPaths: req.AdditionalModelResponseFieldPaths}
	g := &in.gen
	g.ModelID, g.Family = m.ID, m.Family

	if len(req.Messages) == 0 {
		return nil, validationError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	prefix := newCachePrefix(req, m.ID)
	cachePoint := func(cp *cachePointBlock, path string) *apiError {
		if cp.Type != "default" {
			return validationError("1 validation error detected: Value '%s' at '%s.type' failed to satisfy constraint: Member must satisfy enum value set: [default]", cp.Type, path)
		}
		ttl := 5 * time.Minute
		switch cp.TTL {
		case "", "5m":
		case "1h":
			ttl = time.Hour
		default:
			return validationError("1 validation error detected: Value '%s' at '%s.ttl' failed to satisfy constraint: Member must satisfy enum value set: [5m, 1h]", cp.TTL, path)
		}
		in.cacheTok, in.cacheTTL = prefix.tokens, ttl
		in.cacheKey = prefix.key()
		return nil
	}

	// Tools.
	if tc := req.ToolConfig; tc != nil {
		if !m.Tools {
			return nil, validationError("This model doesn't support tool use.")
		}
		if len(tc.Tools) == 0 {
			return nil, validationError("1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		seen := map[string]bool{}
		for i, t := range tc.Tools {
			path := func() string { return fmt.Sprintf("toolConfig.tools.%d", i) }
			switch {
			case t.CachePoint != nil:
				if err := cachePoint(t.CachePoint, path()+".member.cachePoint"); err != nil {
					return nil, err
				}
				continue
			case t.ToolSpec != nil:
			case t.SystemTool != nil:
				continue
			default:
				return nil, validationError("The Tool object at %s is empty. Add a toolSpec, and try again.", path())
			}
			ts := t.ToolSpec
			if !toolNameRE.MatchString(ts.Name) {
				return nil, validationError("1 validation error detected: Value '%s' at '%s.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+ and Member must have length less than or equal to 64", ts.Name, path())
			}
			if seen[ts.Name] {
				return nil, validationError("The toolConfig field contains duplicate tool names: %s. Tool names must be unique, try again with unique names.", ts.Name)
			}
			seen[ts.Name] = true
			if ts.InputSchema == nil {
				return nil, validationError("The inputSchema field at %s.toolSpec is missing. Add an inputSchema, and try again.", path())
			}
			gt := genTool{Name: ts.Name, Description: ts.Description}
			if raw := bytes.TrimSpace(ts.InputSchema.JSON); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
				if err := json.Unmarshal(raw, &gt.Schema); err != nil {
					return nil, validationError("The inputSchema at %s.toolSpec.inputSchema.json is not a JSON object. Provide a valid JSON schema, and try again.", path())
				}
				gt.SchemaJSON = string(raw)
			}
			g.Tools = append(g.Tools, gt)
			prefix.tool(&gt)
		}
		if ch := tc.ToolChoice; ch != nil {
			switch {
			case ch.Auto != nil:
				g.ToolChoice = "auto"
			case ch.Any != nil:
				if !m.ToolChoice {
					return nil, validationError("This model doesn't support the toolConfig.toolChoice.any field. Remove toolConfig.toolChoice.any and try again.")
				}
				g.ToolChoice = "any"
			case ch.Tool != nil:
				if !m.ToolChoice {
					return nil, validationError("This model doesn't support the toolConfig.toolChoice.tool field. Remove toolConfig.toolChoice.tool and try again.")
				}
				if !seen[ch.Tool.Name] {
					return nil, validationError("The tool %s in toolConfig.toolChoice.tool.name is not in toolConfig.tools. Add the tool to toolConfig.tools, and try again.", ch.Tool.Name)
				}
				g.ToolChoice = ch.Tool.Name
			default:
				return nil, validationError("The toolChoice field is empty. Set auto, any or tool, and try again.")
			}
		}
	}

	// System prompt.
	if len(req.System) > 0 && m.NoSystem {
		return nil, validationError("This model doesn't support system messages. Try again without a system message or with a model that supports system messages.")
	}
	for i, s := range req.System {
		switch {
		case s.Text != nil:
			if strings.TrimSpace(*s.Text) == "" {
				return nil, validationError("The text field in the SystemContentBlock object at system.%d is blank. Add text to the text field, and try again.", i)
			}
			g.System = append(g.System, *s.Text)
			in.guardTexts = append(in.guardTexts, *s.Text)
			prefix.text(1, *s.Text)
		case s.GuardContent != nil:
			if s.GuardContent.Text != nil {
				g.System = append(g.System, s.GuardContent.Text.Text)
				prefix.text(1, s.GuardContent.Text.Text)
			}
		case s.CachePoint != nil:
			if err := cachePoint(s.CachePoint, fmt.Sprintf("system.%d.member.cachePoint", i)); err != nil {
				return nil, err
			}
		default:
			return nil, validationError("The SystemContentBlock object at system.%d is empty. Add text, guardContent or cachePoint, and try again.", i)
		}
	}

	// Messages.
	var guardContent []string
	var prevUses []string
	for i, msg := range req.Messages {
		switch msg.Role {
		case "user", "assistant":
		default:
			return nil, validationError("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", msg.Role, i)
		}
		if i == 0 && msg.Role != "user" {
			return nil, validationError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		}
		if i > 0 && msg.Role == req.Messages[i-1].Role {
			return nil, validationError("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
		if len(msg.Content) == 0 {
			return nil, validationError("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		gm := genMessage{Role: msg.Role}
		var texts []string
		var results []string
		for j, b := range msg.Content {
			path := func() string { return fmt.Sprintf("messages.%d.content.%d", i, j) }
			switch {
			case b.Text != nil:
				if strings.TrimSpace(*b.Text) == "" {
					return nil, validationError("The text field in the ContentBlock object at %s is blank. Add text to the text field, and try again.", path())
				}
				texts = append(texts, *b.Text)
				if msg.Role == "user" {
					in.guardTexts = append(in.guardTexts, *b.Text)
				}
				prefix.text(2, *b.Text)
			case b.GuardContent != nil:
				if b.GuardContent.Text != nil {
					t := b.GuardContent.Text.Text
					texts = append(texts, t)
					guardContent = append(guardContent, t)
					prefix.text(2, t)
				}
			case b.Image != nil:
				if !imageFormats[b.Image.Format] {
					return nil, validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [gif, jpeg, png, webp]", b.Image.Format, i, j)
				}
				if !m.Images {
					return nil, validationError("This model doesn't support the image content block that you provided. Try again with a supported content block or a different model.")
				}
				if len(b.Image.Source) == 0 {
					return nil, validationError("The source field in the ImageBlock object at %s is missing. Add a source, and try again.", path())
				}
				g.ExtraInputTokens += 1600
				prefix.blob(1600, b.Image.Source)
			case b.Document != nil:
				if !documentFormats[b.Document.Format] {
					return nil, validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.document.format' failed to satisfy constraint: Member must satisfy enum value set: [pdf, csv, doc, docx, xls, xlsx, html, txt, md]", b.Document.Format, i, j)
				}
				if !m.Documents {
					return nil, validationError("This model doesn't support the document content block that you provided. Try again with a supported content block or a different model.")
				}
				if b.Document.Name == "" || len(b.Document.Name) > 200 {
					return nil, validationError("The name field in the DocumentBlock object at %s must be 1 to 200 characters long.", path())
				}
				tok := len(b.Document.Source)/6 + 10
				g.ExtraInputTokens += tok
				prefix.blob(tok, b.Document.Source)
			case b.Video != nil:
				id, err := checkVideo(b.Video, m, i, j)
				if err != nil {
					return nil, err
				}
				g.ExtraInputTokens += videoInputTokens
				prefix.blob(videoInputTokens, id)
			case b.Audio != nil:
				return nil, validationError("This model doesn't support the video or audio content block that you provided. Try again with a supported content block or a different model.")
			case b.ToolUse != nil:
				if msg.Role != "assistant" {
					return nil, validationError("The toolUse block at %s is in a user message. Tool use blocks are only valid in assistant messages.", path())
				}
				if req.ToolConfig == nil {
					return nil, validationError("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
				}
				if !toolUseIDRE.MatchString(b.ToolUse.ToolUseID) {
					return nil, validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.toolUse.toolUseId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+", b.ToolUse.ToolUseID, i, j)
				}
				input := b.ToolUse.Input
				if len(input) == 0 {
					input = json.RawMessage("{}")
				}
				u := genToolUse{ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Input: input}
				gm.ToolUses = append(gm.ToolUses, u)
				prefix.toolUse(u.Name, u.Input)
			case b.ToolResult != nil:
				if msg.Role != "user" {
					return nil, validationError("The toolResult block at %s is in an assistant message. Tool result blocks are only valid in user messages.", path())
				}
				if req.ToolConfig == nil {
					return nil, validationError("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
				}
				tr := b.ToolResult
				switch tr.Status {
				case "", "success", "error":
				default:
					return nil, validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.toolResult.status' failed to satisfy constraint: Member must satisfy enum value set: [success, error]", tr.Status, i, j)
				}
				text := toolResultText(tr.Content)
				gm.ToolResults = append(gm.ToolResults, genToolResult{ToolUseID: tr.ToolUseID, Text: text, Status: tr.Status})
				results = append(results, tr.ToolUseID)
				prefix.text(4, text)
			case b.CachePoint != nil:
				if err := cachePoint(b.CachePoint, path()+".member.cachePoint"); err != nil {
					return nil, err
				}
			case b.ReasoningContent != nil, b.CitationsContent != nil, b.SearchResult != nil, b.ToolAddition != nil, b.ToolRemoval != nil:
				// Carried context; not billed as new text.
			default:
				return nil, validationError("The ContentBlock object at %s is empty. Add a content block, and try again.", path())
			}
		}
		// Tool results must answer the previous assistant turn's tool uses.
		if len(results) > 0 {
			want := map[string]bool{}
			for _, id := range prevUses {
				want[id] = true
			}
			for _, id := range results {
				if !want[id] {
					if len(prevUses) == 0 {
						return nil, validationError("The number of toolResult blocks at messages.%d.content exceeds the number of toolUse blocks of previous turn.", i)
					}
					return nil, validationError("The toolResult block with toolUseId %s at messages.%d.content has no matching toolUse block in the previous turn (messages.%d).", id, i, i-1)
				}
			}
		}
		if msg.Role == "user" && len(prevUses) > 0 && len(results) < len(prevUses) {
			got := map[string]bool{}
			for _, id := range results {
				got[id] = true
			}
			var missing []string
			for _, id := range prevUses {
				if !got[id] {
					missing = append(missing, id)
				}
			}
			return nil, validationError("Expected toolResult blocks at messages.%d.content for the following Ids: %s", i, strings.Join(missing, ", "))
		}
		prevUses = prevUses[:0]
		for _, u := range gm.ToolUses {
			prevUses = append(prevUses, u.ID)
		}
		gm.Text = strings.Join(texts, "\n")
		g.Messages = append(g.Messages, gm)
	}
	if len(guardContent) > 0 {
		in.guardTexts = guardContent
	}

	// Inference configuration.
	if ic := req.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil {
			if *ic.MaxTokens < 1 {
				return nil, validationError("1 validation error detected: Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1", *ic.MaxTokens)
			}
			if m.MaxTokens > 0 && *ic.MaxTokens > m.MaxTokens {
				return nil, validationError("The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value that is lower than %d.", m.MaxTokens, m.MaxTokens+1)
			}
			g.MaxTokens = *ic.MaxTokens
		}
		for name, v := range map[string]*float64{"temperature": ic.Temperature, "topP": ic.TopP} {
			if v == nil {
				continue
			}
			if *v < 0 {
				return nil, validationError("1 validation error detected: Value '%s' at 'inferenceConfig.%s' failed to satisfy constraint: Member must have value greater than or equal to 0", strconv.FormatFloat(*v, 'f', -1, 64), name)
			}
			if *v > 1 {
				return nil, validationError("1 validation error detected: Value '%s' at 'inferenceConfig.%s' failed to satisfy constraint: Member must have value less than or equal to 1", strconv.FormatFloat(*v, 'f', -1, 64), name)
			}
		}
		if len(ic.StopSequences) > 2500 {
			return nil, validationError("1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must have length less than or equal to 2500")
		}
		for k, s := range ic.StopSequences {
			if s == "" {
				return nil, validationError("1 validation error detected: Value '' at 'inferenceConfig.stopSequences.%d.member' failed to satisfy constraint: Member must have length greater than or equal to 1", k)
			}
		}
		g.StopSequences = ic.StopSequences
	}

	// Guardrail configuration shape.
	if gc := req.GuardrailConfig; gc != nil {
		if !guardrailVersionRE.MatchString(gc.GuardrailVersion) {
			return nil, validationError("1 validation error detected: Value '%s' at 'guardrailConfig.guardrailVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (([1-9][0-9]{0,7})|(DRAFT))", gc.GuardrailVersion)
		}
		switch gc.Trace {
		case "", "enabled", "disabled", "enabled_full":
		default:
			return nil, validationError("1 validation error detected: Value '%s' at 'guardrailConfig.trace' failed to satisfy constraint: Member must satisfy enum value set: [enabled, disabled, enabled_full]", gc.Trace)
		}
		if gc.GuardrailIdentifier == "" {
			return nil, validationError("1 validation error detected: Value '' at 'guardrailConfig.guardrailIdentifier' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
	}

	// Request metadata.
	if req.RequestMetadata != nil {
		if len(req.RequestMetadata) < 1 || len(req.RequestMetadata) > 16 {
			return nil, validationError("1 validation error detected: Value at 'requestMetadata' failed to satisfy constraint: Member must have length less than or equal to 16 and greater than or equal to 1")
		}
		for k, v := range req.RequestMetadata {
			if !metadataKeyRE.MatchString(k) {
				return nil, validationError("1 validation error detected: Value '%s' at 'requestMetadata' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}]", k)
			}
			if !metadataValRE.MatchString(v) {
				return nil, validationError("1 validation error detected: Value '%s' at 'requestMetadata' failed to satisfy constraint: Map values must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{0,256}]", v)
			}
		}
	}

	if n := len(req.AdditionalModelResponseFieldPaths); n > 10 {
		return nil, validationError("1 validation error detected: Value at 'additionalModelResponseFieldPaths' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for k, p := range req.AdditionalModelResponseFieldPaths {
		if p == "" || len(p) > 256 || p[0] != '/' {
			return nil, validationError("The additionalModelResponseFieldPaths.%d value %q is not a valid JSON Pointer. Provide a JSON Pointer such as /stop_sequence, and try again.", k, p)
		}
	}

	// Reasoning, from the model's own request fields.
	if raw := bytes.TrimSpace(req.AdditionalModelRequestFields); len(raw) > 0 && raw[0] == '{' {
		var extra struct {
			Thinking *struct {
				Type         string `json:"type"`
				BudgetTokens int    `json:"budget_tokens"`
			} `json:"thinking"`
			ReasoningConfig *struct {
				Type               string `json:"type"`
				MaxReasoningEffort string `json:"maxReasoningEffort"`
			} `json:"reasoningConfig"`
		}
		if err := json.Unmarshal(raw, &extra); err != nil {
			return nil, validationError("The format of the value at additionalModelRequestFields is invalid. Provide a JSON object, and try again.")
		}
		if t := extra.Thinking; t != nil && t.Type == "enabled" {
			if !m.Reasoning || m.Family != familyAnthropic {
				return nil, validationError("The model returned the following errors: thinking: Extra inputs are not permitted")
			}
			if t.BudgetTokens < 1024 {
				return nil, validationError("The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
			}
			if g.MaxTokens > 0 && t.BudgetTokens >= g.MaxTokens {
				return nil, validationError("The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
			}
			g.Reasoning = true
		}
		if rc := extra.ReasoningConfig; rc != nil && rc.Type == "enabled" {
			if !m.Reasoning || m.Family != familyNova {
				return nil, validationError("The model returned the following errors: extraneous key [reasoningConfig] is not permitted")
			}
			g.Reasoning = true
		}
	}

	// Structured output.
	if oc := req.OutputConfig; oc != nil && oc.TextFormat != nil {
		tf := oc.TextFormat
		if tf.Type != "json_schema" {
			return nil, validationError("1 validation error detected: Value '%s' at 'outputConfig.textFormat.type' failed to satisfy constraint: Member must satisfy enum value set: [json_schema]", tf.Type)
		}
		if !m.StructuredOutput {
			return nil, validationError("This model doesn't support structured output. Remove outputConfig.textFormat, or try again with a model that supports it.")
		}
		if tf.Structure == nil || tf.Structure.JSONSchema == nil {
			return nil, validationError("The structure field at outputConfig.textFormat is missing a jsonSchema. Add structure.jsonSchema, and try again.")
		}
		if err := json.Unmarshal([]byte(tf.Structure.JSONSchema.Schema), &g.JSONSchema); err != nil || g.JSONSchema == nil {
			return nil, validationError("The schema at outputConfig.textFormat.structure.jsonSchema.schema is not a valid JSON schema. Provide the schema as a JSON object string, and try again.")
		}
	}
	return in, nil
}

// toolResultText flattens ToolResultContentBlocks (text, json, …) into the
// text the model "reads".
func toolResultText(blocks []json.RawMessage) string {
	var parts []string
	for _, raw := range blocks {
		var b struct {
			Text *string         `json:"text"`
			JSON json.RawMessage `json:"json"`
		}
		if json.Unmarshal(raw, &b) != nil {
			continue
		}
		switch {
		case b.Text != nil:
			parts = append(parts, *b.Text)
		case b.JSON != nil:
			parts = append(parts, string(b.JSON))
		}
	}
	return strings.Join(parts, " ")
}

// usage is TokenUsage plus the unmodeled duplicates real Bedrock sends.
type usage struct {
	input, output, cacheRead, cacheWrite int
	caching                              bool // cache members present
}

func (u *usage) total() int { return u.input + u.output + u.cacheRead + u.cacheWrite }

// appendJSON writes the usage object with members in Bedrock's (sorted) order.
func (u *usage) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if u.caching {
		b = append(b, `"cacheReadInputTokenCount":`...)
		b = appendInt(b, u.cacheRead)
		b = append(b, `,"cacheReadInputTokens":`...)
		b = appendInt(b, u.cacheRead)
		b = append(b, `,"cacheWriteInputTokenCount":`...)
		b = appendInt(b, u.cacheWrite)
		b = append(b, `,"cacheWriteInputTokens":`...)
		b = appendInt(b, u.cacheWrite)
		b = append(b, ',')
	}
	b = append(b, `"inputTokens":`...)
	b = appendInt(b, u.input)
	b = append(b, `,"outputTokens":`...)
	b = appendInt(b, u.output)
	if u.caching {
		b = append(b, `,"serverToolUsage":{}`...)
	}
	b = append(b, `,"totalTokens":`...)
	b = appendInt(b, u.total())
	return append(b, '}')
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

func appendBase64(b []byte, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	b = append(b, make([]byte, n)...)
	base64.StdEncoding.Encode(b[len(b)-n:], src)
	return b
}

// promptCache remembers prompt prefixes (by hash) that have been written to
// the cache, so the next request with the same prefix reads it.
type promptCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time // expiry
}

func newPromptCache() *promptCache { return &promptCache{entries: map[[32]byte]time.Time{}} }

// use reports whether key was cached (a read) and refreshes its TTL; a miss
// writes it.
func (p *promptCache) use(key [32]byte, ttl time.Duration, now time.Time) (hit bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, ok := p.entries[key]
	hit = ok && now.Before(exp)
	p.entries[key] = now.Add(ttl)
	if len(p.entries) > 100_000 {
		for k, e := range p.entries {
			if now.After(e) {
				delete(p.entries, k)
			}
		}
	}
	return hit
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeJSON writes a 200 JSON response with Bedrock's headers.
func (c *call) writeJSON(body []byte, extra map[string]string) {
	h := c.w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["x-amzn-RequestId"] = []string{c.id}
	for k, v := range extra {
		h[k] = []string{v}
	}
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(body)
}

// serveConverse handles Converse and ConverseStream.
func (e *Emulator) serveConverse(c *call, modelID string) {
	m := e.lookupModel(c, modelID)
	if m == nil {
		return
	}
	if m.Kind != kindChat {
		c.fail(validationError("This action doesn't support the model that you provided. Try again with a supported text or chat model."))
		return
	}
	var req converseRequest
	if aerr := decodeStrict(c.body, &req); aerr != nil {
		c.fail(aerr)
		return
	}
	in, aerr := parseConverse(&req, m)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	var guard *guardOutcome
	if gc := in.guardrail; gc != nil {
		gr, aerr := e.findGuardrail(gc.GuardrailIdentifier, gc.GuardrailVersion)
		if aerr != nil {
			c.fail(aerr)
			return
		}
		guard = &guardOutcome{g: gr, trace: gc.Trace}
	}
	streaming := c.op == OpConverseStream
	f := e.faults.pick(m.ID, c.body)
	if !c.applyFaults(f, streaming, m) {
		return
	}
	res, aerr := e.generateAdmitted(m, &in.gen)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	if guard != nil {
		guard.guardInput(in.guardTexts)
		guard.apply(&res)
	}
	u := usage{input: res.InputTokens, output: res.OutputTokens}
	if in.cacheTok > 0 && m.Caching {
		u.caching = true
		if e.cache.use(in.cacheKey, in.cacheTTL, time.Now()) {
			u.cacheRead = in.cacheTok
		} else {
			u.cacheWrite = in.cacheTok
		}
		u.input -= in.cacheTok
	}
	lat := e.latency(f)
	var trace []byte
	if guard != nil {
		trace = guard.traceJSON()
	}
	additional := additionalFields(in.fieldPaths, &res)
	if streaming {
		e.streamConverse(c, m, &res, &u, lat, f, trace, additional)
		return
	}
	if !c.wait(lat.FirstToken + time.Duration(res.OutputTokens)*lat.BetweenTokens) {
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := appendConverseResponse((*bp)[:0], &res, &u, latencyMs(c, lat, res.OutputTokens), trace, additional)
	if f.kind == faultTruncate {
		writeTruncatedBody(c.w, b)
	} else {
		c.writeJSON(b, nil)
	}
	*bp = b
	bufPool.Put(bp)
}

// latencyMs is the reported metrics.latencyMs: the real elapsed time when a
// latency is configured, else a plausible figure derived from the output size.
func latencyMs(c *call, lat Latency, outputTokens int) int {
	if lat.FirstToken > 0 || lat.BetweenTokens > 0 {
		return int(time.Since(c.start) / time.Millisecond)
	}
	return 150 + 4*outputTokens
}

// additionalFields answers additionalModelResponseFieldPaths that the
// emulator knows ("/stop_sequence"); unknown pointers are ignored, as Bedrock
// ignores pointers absent from the model output.
func additionalFields(paths []string, res *genResult) []byte {
	for _, p := range paths {
		if p == "/stop_sequence" {
			if res.StopSequence != "" {
				return append(appendJSONString([]byte(`{"stop_sequence":`), res.StopSequence), '}')
			}
			return []byte(`{"stop_sequence":null}`)
		}
	}
	return nil
}

// appendConverseResponse renders the ConverseResponse body with members in
// lexicographic order, as Bedrock serializes it.
func appendConverseResponse(b []byte, res *genResult, u *usage, latency int, trace, additional []byte) []byte {
	b = append(b, '{')
	if len(additional) > 0 {
		b = append(b, `"additionalModelResponseFields":`...)
		b = append(b, additional...)
		b = append(b, ',')
	}
	b = append(b, `"metrics":{"latencyMs":`...)
	b = appendInt(b, latency)
	b = append(b, `},"output":{"message":{"content":[`...)
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if res.Reasoning != "" {
		sep()
		b = append(b, `{"reasoningContent":{"reasoningText":{"signature":`...)
		b = appendJSONString(b, res.ReasoningSignature)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, res.Reasoning)
		b = append(b, `}}}`...)
	}
	if res.Text != "" || (len(res.ToolUses) == 0 && res.Reasoning == "") {
		sep()
		b = append(b, `{"text":`...)
		b = appendJSONString(b, res.Text)
		b = append(b, '}')
	}
	for _, tu := range res.ToolUses {
		sep()
		b = append(b, `{"toolUse":{"input":`...)
		b = append(b, tu.Input...)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, tu.Name)
		b = append(b, `,"toolUseId":`...)
		b = appendJSONString(b, tu.ID)
		b = append(b, `}}`...)
	}
	b = append(b, `],"role":"assistant"}},"stopReason":`...)
	b = appendJSONString(b, res.StopReason)
	if len(trace) > 0 {
		b = append(b, `,"trace":`...)
		b = append(b, trace...)
	}
	b = append(b, `,"usage":`...)
	b = u.appendJSON(b)
	return append(b, '}')
}

// streamConverse writes ConverseStream's events. Text blocks have no
// contentBlockStart (real Bedrock omits it); tool-use blocks get one.
func (e *Emulator) streamConverse(c *call, m *Model, res *genResult, u *usage, lat Latency, f faults, trace, additional []byte) {
	ew := c.startStream(streamSeed(e.cfg.Seed, c.body), nil)
	ew.gap = lat.BetweenTokens
	ew.arm(f.kind)
	var events []func() error
	add := func(fn func() error) { events = append(events, fn) }
	add(ew.messageStart)
	idx := 0
	if res.Reasoning != "" {
		i := idx
		for _, p := range textPieces(res.Reasoning, ew.rng) {
			add(func() error { return ew.reasoningDelta(i, "text", p) })
		}
		add(func() error { return ew.reasoningDelta(i, "signature", res.ReasoningSignature) })
		add(func() error { return ew.blockStop(i) })
		idx++
	}
	if res.Text != "" {
		i := idx
		var pieces []string
		if m.Family == familyTitanText {
			pieces = []string{res.Text}
		} else {
			pieces = textPieces(res.Text, ew.rng)
		}
		for _, p := range pieces {
			add(func() error { return ew.textDelta(i, p) })
		}
		add(func() error { return ew.blockStop(i) })
		idx++
	}
	for _, tu := range res.ToolUses {
		i := idx
		add(func() error { return ew.toolUseStart(i, tu.Name, tu.ID) })
		for _, frag := range inputFragments(m.Family, string(tu.Input), ew.rng) {
			add(func() error { return ew.toolUseDelta(i, frag) })
		}
		add(func() error { return ew.blockStop(i) })
		idx++
	}
	add(func() error { return ew.messageStop(res.StopReason, additional) })
	add(func() error { return ew.metadata(latencyMs(c, lat, res.OutputTokens), u, trace) })
	ew.total = len(events)

	if !c.wait(lat.FirstToken) {
		return
	}
	for _, ev := range events {
		if err := ev(); err != nil {
			return
		}
	}
}

// inputFragments splits a tool input JSON into partial-JSON deltas. Claude
// streams it in small fragments, the first one empty; other families send it
// whole.
func inputFragments(family, input string, rng interface{ IntN(int) int }) []string {
	if family != familyAnthropic {
		return []string{input}
	}
	return partialJSONFragments(input, func() int { return 4 + rng.IntN(12) })
}

// partialJSONFragments splits a tool input's JSON the way Claude streams it:
// an empty delta first, then pieces of size() bytes, each widened to end on
// a rune boundary.
func partialJSONFragments(input string, size func() int) []string {
	frags := []string{""}
	for len(input) > 0 {
		n := min(size(), len(input))
		for n < len(input) && !utf8.RuneStart(input[n]) {
			n++
		}
		frags = append(frags, input[:n])
		input = input[n:]
	}
	return frags
}

// streamSeed seeds a stream's padding and chunking: deterministic per
// request body.
func streamSeed(seed uint64, body []byte) uint64 {
	h := sha256.Sum256(body)
	var s uint64
	for i := 0; i < 8; i++ {
		s = s<<8 | uint64(h[i])
	}
	return s ^ seed
}
