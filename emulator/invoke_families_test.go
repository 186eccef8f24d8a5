package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// End-to-end tests of the model families through the official Go SDK against
// the emulator on loopback.

func famE2EClient(t *testing.T) *bedrockruntime.Client {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return bedrockruntime.New(bedrockruntime.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkHTTPClient,
	})
}

func famE2ECtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func famE2EInvoke(t *testing.T, client *bedrockruntime.Client, model, body string) map[string]any {
	t.Helper()
	out, err := client.InvokeModel(famE2ECtx(t), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(model), Body: []byte(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		t.Fatalf("InvokeModel %s: %v", model, err)
	}
	if ct := aws.ToString(out.ContentType); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Body, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, out.Body)
	}
	return m
}

func famE2EStream(t *testing.T, client *bedrockruntime.Client, model, body string) []map[string]any {
	t.Helper()
	chunks, err := famE2EStreamOnce(t, client, model, body)
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream %s: %v", model, err)
	}
	if _, ok := chunks[len(chunks)-1]["amazon-bedrock-invocationMetrics"]; !ok {
		t.Errorf("last chunk has no invocation metrics: %v", chunks[len(chunks)-1])
	}
	return chunks
}

func famE2EStreamOnce(t *testing.T, client *bedrockruntime.Client, model, body string) ([]map[string]any, error) {
	t.Helper()
	out, err := client.InvokeModelWithResponseStream(famE2ECtx(t), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(model), Body: []byte(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return nil, err
	}
	stream := out.GetStream()
	defer stream.Close()
	var chunks []map[string]any
	for ev := range stream.Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		var m map[string]any
		if err := json.Unmarshal(chunk.Value.Bytes, &m); err != nil {
			t.Fatalf("chunk is not JSON: %v\n%s", err, chunk.Value.Bytes)
		}
		chunks = append(chunks, m)
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if len(chunks) == 0 {
		t.Fatal("no chunks")
	}
	return chunks, nil
}

// famE2EText extracts the reply text of a family's InvokeModel body and of
// its streamed chunks.
func famE2EText(family string, body map[string]any) string {
	switch family {
	case familyAnthropic:
		var b strings.Builder
		for _, c := range ntList(body["content"]) {
			b.WriteString(ntStr(ntObj(c)["text"]))
		}
		return b.String()
	case familyNova:
		var b strings.Builder
		for _, c := range ntList(ntObj(body, "output", "message")["content"]) {
			b.WriteString(ntStr(ntObj(c)["text"]))
		}
		return b.String()
	case familyTitanText:
		return ntStr(ntObj(ntList(body["results"])[0])["outputText"])
	case familyLlama:
		return ntStr(body["generation"])
	case familyMistral:
		return ntStr(ntObj(ntList(body["outputs"])[0])["text"])
	case familyCohere:
		return ntStr(ntObj(ntList(body["generations"])[0])["text"])
	case familyCohereR:
		return ntStr(body["text"])
	}
	return ""
}

func famE2EStreamText(family string, chunks []map[string]any) string {
	var b strings.Builder
	for _, ch := range chunks {
		switch family {
		case familyAnthropic:
			if d := ntObj(ch, "delta"); ntStr(d["type"]) == "text_delta" {
				b.WriteString(ntStr(d["text"]))
			}
		case familyNova:
			b.WriteString(ntStr(ntObj(ch, "contentBlockDelta", "delta")["text"]))
		case familyTitanText:
			b.WriteString(ntStr(ch["outputText"]))
		case familyLlama:
			b.WriteString(ntStr(ch["generation"]))
		case familyMistral:
			b.WriteString(ntStr(ntObj(ntList(ch["outputs"])[0])["text"]))
		case familyCohere:
			b.WriteString(ntStr(ntObj(ntList(ch["generations"])[0])["text"]))
		case familyCohereR:
			if ch["event_type"] == "text-generation" {
				b.WriteString(ntStr(ch["text"]))
			}
		}
	}
	return b.String()
}

func TestInvokeFamiliesSDK(t *testing.T) {
	client := famE2EClient(t)
	tests := []struct {
		family, model, body string
		keys                []string // members of the InvokeModel body, as recorded
	}{
		{familyAnthropic, "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
			`{"anthropic_version":"bedrock-2023-05-31","max_tokens":200,"system":"You are terse.","messages":[{"role":"user","content":[{"type":"text","text":"Describe the ocean tides"}]}],"temperature":0.5}`,
			[]string{"content", "id", "model", "role", "stop_reason", "stop_sequence", "type", "usage"}},
		{familyNova, "amazon.nova-micro-v1:0",
			`{"schemaVersion":"messages-v1","system":[{"text":"You are terse."}],"messages":[{"role":"user","content":[{"text":"Describe the ocean tides"}]}],"inferenceConfig":{"max_new_tokens":200,"temperature":0.5}}`,
			[]string{"output", "stopReason", "usage"}},
		{familyTitanText, "amazon.titan-text-lite-v1",
			`{"inputText":"Describe the ocean tides","textGenerationConfig":{"maxTokenCount":200,"temperature":0.5,"topP":1}}`,
			[]string{"inputTextTokenCount", "results"}},
		{familyLlama, "meta.llama3-1-70b-instruct-v1:0",
			`{"prompt":"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nDescribe the ocean tides<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n","max_gen_len":200,"temperature":0.5}`,
			[]string{"generation", "generation_token_count", "prompt_token_count", "stop_reason"}},
		{familyMistral, "mistral.mistral-7b-instruct-v0:2",
			`{"prompt":"<s>[INST] Describe the ocean tides [/INST]","max_tokens":200,"temperature":0.5,"top_p":0.9}`,
			[]string{"outputs"}},
		{familyCohere, "cohere.command-light-text-v14",
			`{"prompt":"Describe the ocean tides","max_tokens":200,"temperature":0.5,"p":1}`,
			[]string{"generations", "id", "prompt"}},
		{familyCohereR, "cohere.command-r-v1:0",
			`{"message":"Describe the ocean tides","max_tokens":200,"temperature":0.5,"p":0.9}`,
			[]string{"chat_history", "finish_reason", "generation_id", "response_id", "text"}},
	}
	for _, tc := range tests {
		t.Run(tc.family, func(t *testing.T) {
			body := famE2EInvoke(t, client, tc.model, tc.body)
			if got := ntKeys(body); !reflect.DeepEqual(got, tc.keys) {
				t.Fatalf("members %v, want %v", got, tc.keys)
			}
			text := famE2EText(tc.family, body)
			if len(strings.Fields(text)) < 3 {
				t.Errorf("reply %q", text)
			}
			chunks := famE2EStream(t, client, tc.model, tc.body)
			if got := famE2EStreamText(tc.family, chunks); got != text {
				t.Errorf("streamed text %q\n  invoke text %q", got, text)
			}
		})
	}
}

func TestInvokeFamiliesToolsSDK(t *testing.T) {
	client := famE2EClient(t)
	claude := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":500,"messages":[{"role":"user","content":"What is the weather in Seattle?"}],
		"tools":[{"name":"get_current_weather","description":"Get the current weather in a given location.","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}],
		"tool_choice":{"type":"any"}}`
	nova := `{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":"What is the weather in Seattle?"}]}],"inferenceConfig":{"max_new_tokens":500},
		"toolConfig":{"tools":[{"toolSpec":{"name":"get_current_weather","description":"Get the current weather in a given location.","inputSchema":{"json":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}}],"toolChoice":{"any":{}}}}`

	t.Run("claude", func(t *testing.T) {
		model := "anthropic.claude-3-5-sonnet-20240620-v1:0"
		body := famE2EInvoke(t, client, model, claude)
		if body["stop_reason"] != "tool_use" {
			t.Fatalf("stop_reason %v", body["stop_reason"])
		}
		var call map[string]any
		for _, c := range ntList(body["content"]) {
			if ntObj(c)["type"] == "tool_use" {
				call = ntObj(c)
			}
		}
		if call == nil || call["name"] != "get_current_weather" || !strings.HasPrefix(ntStr(call["id"]), "toolu_bdrk_") || ntStr(ntObj(call, "input")["location"]) == "" {
			t.Fatalf("tool_use %v", call)
		}
		// The stream carries the same call, its input in fragments (the first one empty).
		var frags []string
		for _, ch := range famE2EStream(t, client, model, claude) {
			if d := ntObj(ch, "delta"); d["type"] == "input_json_delta" {
				frags = append(frags, ntStr(d["partial_json"]))
			}
		}
		var in map[string]any
		if len(frags) < 2 || frags[0] != "" || json.Unmarshal([]byte(strings.Join(frags, "")), &in) != nil || !reflect.DeepEqual(in, ntObj(call, "input")) {
			t.Fatalf("streamed input %q, want %v", frags, call["input"])
		}

		// Answering the call: the reply is text.
		follow := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":500,"messages":[{"role":"user","content":"What is the weather in Seattle?"},
			{"role":"assistant","content":[{"type":"tool_use","id":"` + ntStr(call["id"]) + `","name":"get_current_weather","input":{"location":"Seattle"}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"` + ntStr(call["id"]) + `","content":"50 degrees and raining"}]}],
			"tools":[{"name":"get_current_weather","description":"Get the current weather in a given location.","input_schema":{"type":"object","properties":{"location":{"type":"string"}}}}]}`
		body = famE2EInvoke(t, client, model, follow)
		if body["stop_reason"] != "end_turn" || famE2EText(familyAnthropic, body) == "" {
			t.Fatalf("follow-up %v", body)
		}
	})

	t.Run("nova", func(t *testing.T) {
		model := "us.amazon.nova-lite-v1:0"
		body := famE2EInvoke(t, client, model, nova)
		if body["stopReason"] != "tool_use" {
			t.Fatalf("stopReason %v", body["stopReason"])
		}
		var call map[string]any
		for _, c := range ntList(ntObj(body, "output", "message")["content"]) {
			if tu := ntObj(c, "toolUse"); tu != nil {
				call = tu
			}
		}
		if call == nil || call["name"] != "get_current_weather" || !nativeUUIDShape.MatchString(ntStr(call["toolUseId"])) {
			t.Fatalf("toolUse %v", call)
		}
		var started bool
		var input string
		for _, ch := range famE2EStream(t, client, model, nova) {
			if tu := ntObj(ch, "contentBlockStart", "start", "toolUse"); tu != nil {
				started = tu["toolUseId"] == call["toolUseId"]
			}
			input += ntStr(ntObj(ch, "contentBlockDelta", "delta", "toolUse")["input"])
		}
		var in map[string]any
		if !started || json.Unmarshal([]byte(input), &in) != nil || !reflect.DeepEqual(in, ntObj(call, "input")) {
			t.Fatalf("streamed toolUse start=%v input %q, want %v", started, input, call["input"])
		}
	})
}

func TestInvokeEmbeddingsSDK(t *testing.T) {
	client := famE2EClient(t)
	tests := []struct {
		model, body string
		vector      func(map[string]any) []any
		dims        int
	}{
		{"amazon.titan-embed-text-v1", `{"inputText":"the cat sat on the mat"}`,
			func(m map[string]any) []any { return ntList(m["embedding"]) }, 1536},
		{"amazon.titan-embed-text-v2:0", `{"inputText":"the cat sat on the mat","dimensions":512,"normalize":true}`,
			func(m map[string]any) []any { return ntList(m["embedding"]) }, 512},
		{"cohere.embed-english-v3", `{"texts":["the cat sat on the mat"],"input_type":"search_document"}`,
			func(m map[string]any) []any { return ntList(ntList(m["embeddings"])[0]) }, 1024},
		{"cohere.embed-multilingual-v3", `{"texts":["le chat"],"input_type":"search_query","embedding_types":["float"]}`,
			func(m map[string]any) []any { return ntList(ntList(ntObj(m, "embeddings")["float"])[0]) }, 1024},
		{"cohere.embed-v4:0", `{"texts":["the cat sat on the mat"],"input_type":"search_document","output_dimension":256}`,
			func(m map[string]any) []any { return ntList(ntList(m["embeddings"])[0]) }, 256},
		{"amazon.nova-2-multimodal-embeddings-v1:0",
			`{"taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","embeddingDimension":384,"text":{"truncationMode":"END","value":"the cat"}}}`,
			func(m map[string]any) []any { return ntList(ntObj(ntList(m["embeddings"])[0])["embedding"]) }, 384},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			v := tc.vector(famE2EInvoke(t, client, tc.model, tc.body))
			if len(v) != tc.dims {
				t.Fatalf("%d dimensions, want %d", len(v), tc.dims)
			}
			var n float64
			for _, x := range v {
				n += x.(float64) * x.(float64)
			}
			if tc.model != "amazon.titan-embed-text-v1" && math.Abs(math.Sqrt(n)-1) > 1e-3 {
				t.Errorf("norm %v", math.Sqrt(n))
			}
		})
	}
}

func TestInvokeImagesSDK(t *testing.T) {
	client := famE2EClient(t)
	src := imgTestPNG(t, 512, 384)
	tests := []struct {
		name, model, body string
		w, h, n           int
	}{
		{"text image", "amazon.nova-canvas-v1:0",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse"},"imageGenerationConfig":{"width":512,"height":320,"numberOfImages":2,"seed":7}}`, 512, 320, 2},
		{"color guided", "amazon.nova-canvas-v1:0",
			`{"taskType":"COLOR_GUIDED_GENERATION","colorGuidedGenerationParams":{"colors":["#112233","#FFAA00"],"text":"waves"},"imageGenerationConfig":{"width":384,"height":384}}`, 384, 384, 1},
		{"image variation", "amazon.titan-image-generator-v2:0",
			`{"taskType":"IMAGE_VARIATION","imageVariationParams":{"images":["` + src + `"],"similarityStrength":0.5}}`, 512, 384, 1},
		{"inpainting", "amazon.nova-canvas-v1:0",
			`{"taskType":"INPAINTING","inPaintingParams":{"image":"` + src + `","maskPrompt":"the sky","text":"stars"}}`, 512, 384, 1},
		{"outpainting", "amazon.titan-image-generator-v1",
			`{"taskType":"OUTPAINTING","outPaintingParams":{"image":"` + src + `","maskPrompt":"the house","outPaintingMode":"DEFAULT"}}`, 512, 384, 1},
		{"background removal", "amazon.nova-canvas-v1:0",
			`{"taskType":"BACKGROUND_REMOVAL","backgroundRemovalParams":{"image":"` + src + `"}}`, 512, 384, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := famE2EInvoke(t, client, tc.model, tc.body)
			images := ntList(body["images"])
			if len(images) != tc.n {
				t.Fatalf("%d images, want %d", len(images), tc.n)
			}
			for _, s := range images {
				data, err := base64.StdEncoding.DecodeString(ntStr(s))
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
					t.Errorf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
				}
			}
		})
	}
	t.Run("output moderation", func(t *testing.T) {
		body := famE2EInvoke(t, client, "amazon.nova-canvas-v1:0",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a cat `+imgMarkerBlocked+`"},"imageGenerationConfig":{"width":320,"height":320}}`)
		if body["error"] != imgErrAllBlocked || len(ntList(body["images"])) != 0 {
			t.Fatalf("body %v", body)
		}
	})
}

func TestInvokeFamiliesValidationSDK(t *testing.T) {
	client := famE2EClient(t)
	tests := []struct {
		name, model, body, msg string
	}{
		{"claude max_tokens", "anthropic.claude-3-haiku-20240307-v1:0", `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"hi"}]}`,
			"Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again."},
		{"nova extraneous", "amazon.nova-lite-v1:0", `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"foo":1}`,
			"Malformed input request: #: extraneous key [foo] is not permitted, please reformat your input and try again."},
		{"titan dimensions", "amazon.titan-embed-text-v2:0", `{"inputText":"x","dimensions":100}`,
			"Malformed input request: #/dimensions: 100 is not a valid enum value, please reformat your input and try again."},
		{"cohere input_type", "cohere.embed-english-v3", `{"texts":["x"]}`,
			"Malformed input request: #: required key [input_type] not found, please reformat your input and try again."},
		{"image size", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"width":1000,"height":1000}}`,
			"Malformed input request: #/imageGenerationConfig: width and height must each be a multiple of 16 (got 1000x1000), please reformat your input and try again."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.InvokeModel(famE2ECtx(t), &bedrockruntime.InvokeModelInput{ModelId: aws.String(tc.model), Body: []byte(tc.body)})
			var ve *types.ValidationException
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want ValidationException", err, err)
			}
			if ve.ErrorMessage() != tc.msg {
				t.Fatalf("message %q\nwant    %q", ve.ErrorMessage(), tc.msg)
			}
		})
	}
}
