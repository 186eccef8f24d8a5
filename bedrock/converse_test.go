package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// cvStrictDecode decodes JSON refusing members the types do not model, so a
// misspelt or missing member name fails the test.
func cvStrictDecode(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("strict decode into %T: %v\n%s", v, err, data)
	}
}

// cvSDKCapture runs fn with an official SDK client pointed at a loopback
// server and returns the request bodies the SDK sent.
func cvSDKCapture(t *testing.T, respond func(w http.ResponseWriter), fn func(*bedrockruntime.Client)) [][]byte {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		respond(w)
	}))
	defer srv.Close()
	sdk := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		HTTPClient:   srv.Client(),
	})
	fn(sdk)
	mu.Lock()
	defer mu.Unlock()
	return bodies
}

// TestConverseRequestMatchesSDK builds a request using every member with the
// official SDK, captures the JSON it sends, and checks that ConverseRequest
// models every member under the same name (strict decode) and re-encodes to
// the same JSON.
func TestConverseRequestMatchesSDK(t *testing.T) {
	doc := func(v any) document.Interface { return document.NewLazyDocument(v) }
	s3 := &types.S3Location{Uri: aws.String("s3://bucket/key"), BucketOwner: aws.String("123456789012")}
	cache := types.CachePointBlock{Type: types.CachePointTypeDefault, Ttl: types.CacheTTLOneHour}
	citations := &types.CitationsConfig{Enabled: aws.Bool(true)}
	guardText := &types.GuardrailConverseContentBlockMemberText{Value: types.GuardrailConverseTextBlock{
		Text: aws.String("check me"), Qualifiers: []types.GuardrailConverseContentQualifier{"guard_content", "query"}}}
	searchResult := types.SearchResultBlock{
		Source: aws.String("https://example.com"), Title: aws.String("Example"),
		Content:   []types.SearchResultContentBlock{{Text: aws.String("result text")}},
		Citations: citations,
	}
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String("us.amazon.nova-lite-v1:0"),
		System: []types.SystemContentBlock{
			&types.SystemContentBlockMemberText{Value: "You are terse."},
			&types.SystemContentBlockMemberGuardContent{Value: guardText},
			&types.SystemContentBlockMemberCachePoint{Value: cache},
		},
		Messages: []types.Message{
			{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
				&types.ContentBlockMemberText{Value: "Describe"},
				&types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatPng,
					Source: &types.ImageSourceMemberBytes{Value: []byte{0x89, 'P', 'N', 'G'}}}},
				&types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatJpeg,
					Source: &types.ImageSourceMemberS3Location{Value: *s3}}},
				&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatPdf, Name: aws.String("report"),
					Source: &types.DocumentSourceMemberBytes{Value: []byte("%PDF")}, Context: aws.String("quarterly"), Citations: citations}},
				&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatTxt, Name: aws.String("notes"),
					Source: &types.DocumentSourceMemberText{Value: "plain notes"}}},
				&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Name: aws.String("parts"),
					Source: &types.DocumentSourceMemberContent{Value: []types.DocumentContentBlock{&types.DocumentContentBlockMemberText{Value: "part one"}}}}},
				&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatCsv, Name: aws.String("table"),
					Source: &types.DocumentSourceMemberS3Location{Value: *s3}}},
				&types.ContentBlockMemberVideo{Value: types.VideoBlock{Format: types.VideoFormatMp4,
					Source: &types.VideoSourceMemberS3Location{Value: types.S3Location{Uri: aws.String("s3://b/k.mp4")}}}},
				&types.ContentBlockMemberVideo{Value: types.VideoBlock{Format: types.VideoFormatWebm,
					Source: &types.VideoSourceMemberBytes{Value: []byte("webm")}}},
				&types.ContentBlockMemberAudio{Value: types.AudioBlock{Format: types.AudioFormatMp3,
					Source: &types.AudioSourceMemberBytes{Value: []byte("ID3")}}},
				&types.ContentBlockMemberAudio{Value: types.AudioBlock{Format: types.AudioFormatWav,
					Source: &types.AudioSourceMemberS3Location{Value: *s3}}},
				&types.ContentBlockMemberGuardContent{Value: guardText},
				&types.ContentBlockMemberGuardContent{Value: &types.GuardrailConverseContentBlockMemberImage{Value: types.GuardrailConverseImageBlock{
					Format: types.GuardrailConverseImageFormatPng, Source: &types.GuardrailConverseImageSourceMemberBytes{Value: []byte("img")}}}},
				&types.ContentBlockMemberSearchResult{Value: searchResult},
				&types.ContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault, Ttl: types.CacheTTLFiveMinutes}},
			}},
			{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{
				&types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: types.ReasoningTextBlock{
					Text: aws.String("thinking"), Signature: aws.String("sig")}}},
				&types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberRedactedContent{Value: []byte{1, 2, 3}}},
				&types.ContentBlockMemberCitationsContent{Value: types.CitationsContentBlock{
					Content: []types.CitationGeneratedContent{&types.CitationGeneratedContentMemberText{Value: "cited"}},
					Citations: []types.Citation{
						{Title: aws.String("Doc"), Source: aws.String("src"),
							SourceContent: []types.CitationSourceContent{&types.CitationSourceContentMemberText{Value: "quote"}},
							Location: &types.CitationLocationMemberDocumentChar{Value: types.DocumentCharLocation{
								DocumentIndex: aws.Int32(0), Start: aws.Int32(1), End: aws.Int32(5)}}},
						{Location: &types.CitationLocationMemberDocumentPage{Value: types.DocumentPageLocation{
							DocumentIndex: aws.Int32(1), Start: aws.Int32(2), End: aws.Int32(3)}}},
						{Location: &types.CitationLocationMemberDocumentChunk{Value: types.DocumentChunkLocation{
							DocumentIndex: aws.Int32(2), Start: aws.Int32(0), End: aws.Int32(1)}}},
						{Location: &types.CitationLocationMemberWeb{Value: types.WebLocation{Url: aws.String("https://e.com/a"), Domain: aws.String("e.com")}}},
						{Location: &types.CitationLocationMemberSearchResultLocation{Value: types.SearchResultLocation{
							SearchResultIndex: aws.Int32(0), Start: aws.Int32(0), End: aws.Int32(0)}}},
					}}},
				&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String("tooluse_abc"), Name: aws.String("get_weather"),
					Input: doc(map[string]any{"city": "Paris", "days": 3})}},
				&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String("srvtool_1"), Name: aws.String("web_search"),
					Input: doc(map[string]any{}), Type: types.ToolUseTypeServerToolUse}},
			}},
			{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
				&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{ToolUseId: aws.String("tooluse_abc"), Status: types.ToolResultStatusSuccess,
					Content: []types.ToolResultContentBlock{
						&types.ToolResultContentBlockMemberJson{Value: doc(map[string]any{"tempC": 21})},
						&types.ToolResultContentBlockMemberText{Value: "sunny"},
						&types.ToolResultContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatGif,
							Source: &types.ImageSourceMemberBytes{Value: []byte("GIF")}}},
						&types.ToolResultContentBlockMemberDocument{Value: types.DocumentBlock{Format: types.DocumentFormatMd, Name: aws.String("md"),
							Source: &types.DocumentSourceMemberText{Value: "# hi"}}},
						&types.ToolResultContentBlockMemberVideo{Value: types.VideoBlock{Format: types.VideoFormatMov,
							Source: &types.VideoSourceMemberBytes{Value: []byte("mov")}}},
						&types.ToolResultContentBlockMemberSearchResult{Value: searchResult},
					}}},
				&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{ToolUseId: aws.String("srvtool_1"), Status: types.ToolResultStatusError,
					Type: aws.String("web_search_result"), Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "failed"}}}},
				&types.ContentBlockMemberToolAddition{Value: types.ToolAdditionBlock{Tool: &types.ToolReference{
					Type: aws.String("mcp"), Name: aws.String("lookup"), ServerName: aws.String("srv")}}},
				&types.ContentBlockMemberToolRemoval{Value: types.ToolRemovalBlock{Tool: &types.ToolReference{Name: aws.String("lookup")}}},
			}},
		},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(512), Temperature: aws.Float32(0), TopP: aws.Float32(0.5),
			StopSequences: []string{"|", "END"}},
		ToolConfig: &types.ToolConfiguration{
			Tools: []types.Tool{
				&types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String("get_weather"), Description: aws.String("Weather."),
					InputSchema: &types.ToolInputSchemaMemberJson{Value: doc(map[string]any{"type": "object",
						"properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []any{"city"}})},
					Strict: aws.Bool(true)}},
				&types.ToolMemberSystemTool{Value: types.SystemTool{Name: aws.String("web_search")}},
				&types.ToolMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}},
			},
			ToolChoice: &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("get_weather")}},
		},
		GuardrailConfig: &types.GuardrailConfiguration{GuardrailIdentifier: aws.String("abc123"), GuardrailVersion: aws.String("1"),
			Trace: types.GuardrailTraceEnabledFull},
		AdditionalModelRequestFields:      doc(map[string]any{"top_k": 200, "nested": map[string]any{"a": []any{1, "b"}}}),
		AdditionalModelResponseFieldPaths: []string{"/stop_sequence"},
		PromptVariables:                   map[string]types.PromptVariableValues{"topic": &types.PromptVariableValuesMemberText{Value: "cats"}},
		RequestMetadata:                   map[string]string{"team": "search"},
		PerformanceConfig:                 &types.PerformanceConfiguration{Latency: types.PerformanceConfigLatencyOptimized},
		ServiceTier:                       &types.ServiceTier{Type: types.ServiceTierTypeFlex},
		OutputConfig: &types.OutputConfig{
			TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
				Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{
					Schema: aws.String(`{"type":"object"}`), Name: aws.String("answer"), Description: aws.String("The answer.")}}},
			Effort: aws.String("high"),
		},
	}
	streamIn := &bedrockruntime.ConverseStreamInput{
		ModelId:  in.ModelId,
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}},
		ToolConfig: &types.ToolConfiguration{Tools: in.ToolConfig.Tools[:1],
			ToolChoice: &types.ToolChoiceMemberAny{Value: types.AnyToolChoice{}}},
		GuardrailConfig: &types.GuardrailStreamConfiguration{GuardrailIdentifier: aws.String("abc123"), GuardrailVersion: aws.String("DRAFT"),
			Trace: types.GuardrailTraceEnabled, StreamProcessingMode: types.GuardrailStreamProcessingModeAsync},
	}
	autoIn := &bedrockruntime.ConverseInput{
		ModelId:    in.ModelId,
		Messages:   streamIn.Messages,
		ToolConfig: &types.ToolConfiguration{Tools: in.ToolConfig.Tools[:1], ToolChoice: &types.ToolChoiceMemberAuto{}},
	}

	bodies := cvSDKCapture(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`))
	}, func(sdk *bedrockruntime.Client) {
		if _, err := sdk.Converse(context.Background(), in); err != nil {
			t.Fatalf("SDK Converse: %v", err)
		}
		if _, err := sdk.Converse(context.Background(), autoIn); err != nil {
			t.Fatalf("SDK Converse: %v", err)
		}
		// The stream's reply is not an event stream; only its request matters.
		if out, err := sdk.ConverseStream(context.Background(), streamIn); err == nil {
			out.GetStream().Close()
		}
	})
	if len(bodies) != 3 {
		t.Fatalf("SDK sent %d requests", len(bodies))
	}
	for i, body := range bodies {
		var req ConverseRequest
		cvStrictDecode(t, body, &req)
		again, err := json.Marshal(&req)
		if err != nil {
			t.Fatal(err)
		}
		cvSameJSON(t, again, body)
		if i == 0 {
			// Spot checks that the values landed in the intended Go fields.
			if req.InferenceConfig == nil || req.InferenceConfig.Temperature == nil || *req.InferenceConfig.Temperature != 0 {
				t.Errorf("temperature 0 lost: %+v", req.InferenceConfig)
			}
			if c := req.Messages[0].Content[1]; c.Image == nil || !bytes.Equal(c.Image.Source.Bytes, []byte{0x89, 'P', 'N', 'G'}) {
				t.Errorf("image bytes: %+v", c.Image)
			}
			if req.ToolConfig.ToolChoice.Tool == nil || req.ToolConfig.ToolChoice.Tool.Name != "get_weather" {
				t.Errorf("tool choice: %+v", req.ToolConfig.ToolChoice)
			}
		}
	}
}

// TestConverseResponseFull decodes the SDK's response snapshot, which sets
// every response member, strictly, and re-encodes it to the same JSON.
func TestConverseResponseFull(t *testing.T) {
	data, err := os.ReadFile("testdata/converse_response_full.json")
	if err != nil {
		t.Fatal(err)
	}
	var resp ConverseResponse
	cvStrictDecode(t, data, &resp)
	again, err := json.Marshal(&resp)
	if err != nil {
		t.Fatal(err)
	}
	cvSameJSON(t, again, data)
	if resp.Trace == nil || resp.Trace.PromptRouter == nil || resp.Trace.PromptRouter.InvokedModelID != "__InvokedModelId__" ||
		len(resp.Usage.CacheDetails) != 2 || resp.Usage.CacheDetails[0].TTL != "5m" || resp.ServiceTier.Type != "priority" {
		t.Errorf("decoded %+v", resp)
	}
}

// TestConverseResponseRealUsage: real responses carry unmodeled duplicates
// (cacheReadInputTokenCount, serverToolUsage), which are ignored.
func TestConverseResponseRealUsage(t *testing.T) {
	var u TokenUsage
	err := json.Unmarshal([]byte(`{"cacheReadInputTokenCount":2701,"cacheReadInputTokens":2701,"cacheWriteInputTokenCount":0,"cacheWriteInputTokens":0,"inputTokens":4,"outputTokens":10,"serverToolUsage":{},"totalTokens":2715}`), &u)
	if err != nil || !reflect.DeepEqual(u, TokenUsage{InputTokens: 4, OutputTokens: 10, TotalTokens: 2715, CacheReadInputTokens: 2701}) {
		t.Errorf("%+v, %v", u, err)
	}
}

func TestConstructorsJSON(t *testing.T) {
	maxTokens, temp := 0, 0.0
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"UserText", UserText("hi"), `{"role":"user","content":[{"text":"hi"}]}`},
		{"AssistantText", AssistantText("yo"), `{"role":"assistant","content":[{"text":"yo"}]}`},
		{"TextBlock", TextBlock("t"), `{"text":"t"}`},
		{"SystemText", SystemText("s"), `{"text":"s"}`},
		{"CachePoint", CachePoint(), `{"cachePoint":{"type":"default"}}`},
		{"ToolResultText", ToolResultText("id1", "done"), `{"toolResult":{"toolUseId":"id1","content":[{"text":"done"}]}}`},
		{"ToolResultJSON", ToolResultJSON("id1", json.RawMessage(`{"a":1}`)), `{"toolResult":{"toolUseId":"id1","content":[{"json":{"a":1}}]}}`},
		{"ToolResultErrorText", ToolResultErrorText("id1", "bad"), `{"toolResult":{"toolUseId":"id1","content":[{"text":"bad"}],"status":"error"}}`},
		{"empty tool input", ContentBlock{ToolUse: &ToolUseBlock{ToolUseID: "t", Name: "n"}}, `{"toolUse":{"toolUseId":"t","name":"n","input":{}}}`},
		{"zero values kept", InferenceConfig{MaxTokens: &maxTokens, Temperature: &temp}, `{"maxTokens":0,"temperature":0}`},
		{"tool choice any", ToolChoice{Any: &struct{}{}}, `{"any":{}}`},
		{"image bytes", ContentBlock{Image: &ImageBlock{Format: "png", Source: MediaSource{Bytes: []byte{1, 2}}}}, `{"image":{"format":"png","source":{"bytes":"AQI="}}}`},
		{"empty request", ConverseRequest{}, `{}`},
	}
	for _, tc := range cases {
		got, err := json.Marshal(tc.v)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestConverseCall(t *testing.T) {
	var gotPath, gotCT string
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotCT = r.URL.EscapedPath(), r.Header.Get("Content-Type")
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Requestid", "req-42")
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", "3")
		w.Write([]byte(`{"output":{"message":{"role":"assistant","content":[` +
			`{"reasoningContent":{"reasoningText":{"text":"hmm","signature":"s"}}},{"text":"Hello"},{"text":" there"},` +
			`{"toolUse":{"toolUseId":"t1","name":"f","input":{"x":1}}}]}},` +
			`"stopReason":"tool_use","usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7},"metrics":{"latencyMs":12},` +
			`"additionalModelResponseFields":{"stop_sequence":"|"}}`))
	}))
	defer srv.Close()
	c := cvTestClient(t, srv.URL)
	resp, err := c.Converse(context.Background(), "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
		&ConverseRequest{Messages: []Message{UserText("hi")}, System: []SystemContentBlock{SystemText("be brief")}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"; gotPath != want {
		t.Errorf("path %s\nwant %s", gotPath, want)
	}
	if gotCT != "application/json" {
		t.Errorf("Content-Type %q", gotCT)
	}
	cvSameJSON(t, gotBody, []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":[{"text":"be brief"}]}`))
	if resp.Text() != "Hello there" || resp.Reasoning() != "hmm" || resp.StopReason != StopReasonToolUse ||
		resp.RequestID != "req-42" || resp.Header.Get("X-Amzn-Bedrock-Input-Token-Count") != "3" ||
		string(resp.AdditionalModelResponseFields) != `{"stop_sequence":"|"}` || resp.Metrics.LatencyMs != 12 {
		t.Errorf("response %+v", resp)
	}
	if tu := resp.ToolUses(); len(tu) != 1 || tu[0].ToolUseID != "t1" || string(tu[0].Input) != `{"x":1}` {
		t.Errorf("tool uses %+v", tu)
	}

	if _, err := c.Converse(context.Background(), "m", nil); !errors.Is(err, errNilRequest) {
		t.Errorf("nil request: %v", err)
	}
	if _, err := c.Converse(context.Background(), "", &ConverseRequest{}); !errors.Is(err, errEmptyModelID) {
		t.Errorf("empty model: %v", err)
	}
	var nilResp *ConverseResponse
	if nilResp.Text() != "" || nilResp.ToolUses() != nil || nilResp.Reasoning() != "" {
		t.Error("helpers on a nil response")
	}
}
