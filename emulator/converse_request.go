package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"time"
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

// Bedrock's rules for tool names, tool use IDs and request metadata are a
// class of characters and a length. Written as a bounded repetition
// ({1,256}), regexp compiles one copy of the class per repetition:
// 26–150 KB each, live for as long as any process that links this package
// (the gateway's binary does). The class unbounded and a length check
// accept the same strings: every class here is ASCII, so bytes are
// characters.
var (
	toolNameRE    = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9_-]+$`), 64}
	toolUseIDRE   = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9_.:-]+$`), 64}
	metadataKeyRE = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]+$`), 256}
	metadataValRE = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]*$`), 256}
)

// boundedRE is a pattern and the most bytes it may match.
type boundedRE struct {
	re  *regexp.Regexp
	max int
}

func (b boundedRE) MatchString(s string) bool { return len(s) <= b.max && b.re.MatchString(s) }

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
	cited      []docCitation // documents with citations enabled
}
