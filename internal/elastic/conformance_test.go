package elastic

import (
	"encoding/json"
	"strings"
	"testing"
)

// Elasticsearch source files the conformance cases are drawn from
// (github.com/elastic/elasticsearch; x-pack/plugin/... paths shortened to
// inference/... and core/...). docs/elasticsearch-conformance.md lists the
// same rules.
const (
	srcBuilder   = "inference/chunking/ChunkingSettingsBuilder.java"
	srcStrategy  = "inference/ChunkingStrategy.java (server)"
	srcSentence  = "inference/chunking/SentenceBoundaryChunkingSettings.java"
	srcWord      = "inference/chunking/WordBoundaryChunkingSettings.java"
	srcRecursive = "inference/chunking/RecursiveChunkingSettings.java"
	srcUtils     = "inference/services/ServiceUtils.java"
	srcService   = "inference/services/amazonbedrock/AmazonBedrockService.java"
	srcSvcTests  = "inference/services/amazonbedrock/AmazonBedrockServiceTests.java"
	srcPut       = "inference/action/TransportPutInferenceModelAction.java"
	srcPutReq    = "core/inference/action/PutInferenceModelAction.java"
	srcUpdReq    = "core/inference/action/UpdateInferenceModelAction.java"
	srcUpd       = "inference/action/TransportUpdateInferenceModelAction.java"
	srcInferReq  = "core/inference/action/InferenceAction.java"
	srcInferT    = "inference/action/BaseTransportInferenceAction.java"
	srcTaskType  = "inference/TaskType.java (server)"
	srcRest      = "rest/RestController.java (server)"
	srcCrudYAML  = "x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/inference/inference_crud.yml"
	srcRateLimit = "inference/services/settings/RateLimitSettings.java"
	srcCaps      = "inference/services/amazonbedrock/AmazonBedrockProviderCapabilities.java"
)

// TestElasticsearchConformance replays requests Elasticsearch's own tests
// and code make, each with the status, error type and reason Elasticsearch
// answers (source named per case). Endpoints "emb" (Titan embeddings) and
// "comp" (Anthropic completion) exist; every other id does not.
func TestElasticsearchConformance(t *testing.T) {
	h, _ := startHandler(t)
	for _, c := range []struct{ path, body string }{
		{"/_inference/text_embedding/emb", createBody(taskTextEmbedding, nil, nil, nil)},
		{"/_inference/completion/comp", createBody(taskCompletion, nil, nil, nil)},
	} {
		if st, b := call(h, "PUT", c.path, c.body); st != 200 {
			t.Fatalf("setup %s: %d %s", c.path, st, b)
		}
	}
	emb := func(cs any) string {
		return createBody(taskTextEmbedding, nil, nil, map[string]any{"chunking_settings": cs})
	}
	const vf = "Validation Failed: "
	cases := []struct {
		name, source, method, path, body string
		status                           int
		typ, reason                      string
	}{
		// chunking_settings: strategy and builder.
		{"chunking without strategy", srcBuilder, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"max_chunk_size": 20}),
			400, "illegal_argument_exception", "Can't generate Chunker without ChunkingStrategy provided"},
		{"unknown strategy", srcStrategy, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "paragraph"}),
			400, "illegal_argument_exception", "Invalid chunkingStrategy paragraph"},
		{"strategy is case sensitive", srcStrategy, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "WORD"}),
			400, "illegal_argument_exception", "Invalid chunkingStrategy WORD"},
		{"chunking not an object", srcUtils, "PUT", "/_inference/text_embedding/c1", emb("sentence"),
			400, "status_exception", "field [chunking_settings] is not of the expected type. The value [sentence] cannot be converted to a [Map]"},
		{"chunking on completion is unknown", srcService, "PUT", "/_inference/completion/c1",
			createBody(taskCompletion, nil, nil, map[string]any{"chunking_settings": map[string]any{"strategy": "none"}}),
			400, "status_exception", "Model configuration contains settings [{chunking_settings={strategy=none}}] unknown to the [amazonbedrock] service"},
		// sentence
		{"sentence needs max_chunk_size", srcSentence, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence"}),
			400, "validation_exception", vf + "1: [chunking_settings] does not contain the required setting [max_chunk_size];"},
		{"sentence max_chunk_size below 20", srcSentence, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "max_chunk_size": 19}),
			400, "validation_exception", vf + "1: [chunking_settings] Invalid value [19.0]. [max_chunk_size] must be a greater than or equal to [20.0];"},
		{"sentence max_chunk_size zero", srcUtils, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "max_chunk_size": 0}),
			400, "validation_exception", vf + "1: [chunking_settings] Invalid value [0]. [max_chunk_size] must be a positive integer;"},
		{"sentence max_chunk_size a string", srcUtils, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "max_chunk_size": "100"}),
			400, "validation_exception", vf + "1: field [max_chunk_size] is not of the expected type. The value [100] cannot be converted to a [Integer];"},
		{"sentence max_chunk_size a double", srcUtils, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "max_chunk_size": 100.5}),
			400, "validation_exception", vf + "1: field [max_chunk_size] is not of the expected type. The value [100.5] cannot be converted to a [Integer];"},
		{"sentence_overlap 2", srcSentence, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 2}),
			400, "validation_exception", vf + "1: sentence_overlap[2] must be either 0 or 1;"},
		{"sentence_overlap -1", srcSentence, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": -1}),
			400, "validation_exception", vf + "1: sentence_overlap[-1] must be either 0 or 1;"},
		{"sentence with overlap", srcSentence, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "max_chunk_size": 100, "overlap": 10}),
			400, "validation_exception", vf + "1: Sentence based chunking settings can not have the following settings: [overlap];"},
		{"sentence, two errors at once", srcSentence, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "sentence", "foo": 1, "sentence_overlap": 3}),
			400, "validation_exception", vf + "1: Sentence based chunking settings can not have the following settings: [foo];2: [chunking_settings] does not contain the required setting [max_chunk_size];3: sentence_overlap[3] must be either 0 or 1;"},
		// word
		{"word needs max_chunk_size", srcWord, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "word"}),
			400, "validation_exception", vf + "1: [chunking_settings] does not contain the required setting [max_chunk_size];"},
		{"word max_chunk_size below 10", srcWord, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "word", "max_chunk_size": 9, "overlap": 1}),
			400, "validation_exception", vf + "1: [chunking_settings] Invalid value [9.0]. [max_chunk_size] must be a greater than or equal to [10.0];"},
		{"word max_chunk_size above 300", srcWord, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "word", "max_chunk_size": 301, "overlap": 1}),
			400, "validation_exception", vf + "1: [chunking_settings] Invalid value [301.0]. [max_chunk_size] must be a less than or equal to [300.0];"},
		{"word needs overlap", srcWord, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "word", "max_chunk_size": 100}),
			400, "validation_exception", vf + "1: [chunking_settings] does not contain the required setting [overlap];"},
		{"word overlap above half", srcWord, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "word", "max_chunk_size": 100, "overlap": 51}),
			400, "validation_exception", vf + "1: [chunking_settings] Invalid value [51.0]. [overlap] must be a less than or equal to [50.0];"},
		{"word overlap zero", srcUtils, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "word", "max_chunk_size": 100, "overlap": 0}),
			400, "validation_exception", vf + "1: [chunking_settings] Invalid value [0]. [overlap] must be a positive integer;"},
		{"word with sentence_overlap", srcWord, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "word", "max_chunk_size": 100, "overlap": 10, "sentence_overlap": 1}),
			400, "validation_exception", vf + "1: Word based chunking settings can not have the following settings: [sentence_overlap];"},
		// recursive
		{"recursive needs max_chunk_size", srcRecursive, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "recursive"}),
			400, "validation_exception", vf + "1: [chunking_settings] does not contain the required setting [max_chunk_size];"},
		{"recursive both separators", srcRecursive, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "recursive", "max_chunk_size": 100, "separators": []string{"\n"}, "separator_set": "markdown"}),
			400, "validation_exception", vf + "1: Recursive chunking settings can not have both separators and separator_set;"},
		{"recursive empty separators", srcRecursive, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "recursive", "max_chunk_size": 100, "separators": []string{}}),
			400, "validation_exception", vf + "1: Recursive chunking settings can not have an empty list of separators;"},
		{"recursive unknown separator_set", srcRecursive, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "recursive", "max_chunk_size": 100, "separator_set": "html"}),
			400, "validation_exception", vf + "1: [chunking_settings] Invalid value [html] received. [separator_set] must be one of [markdown, plaintext];"},
		{"recursive with overlap", srcRecursive, "PUT", "/_inference/text_embedding/c1", emb(map[string]any{"strategy": "recursive", "max_chunk_size": 100, "overlap": 1}),
			400, "validation_exception", vf + "1: Recursive chunking settings can not have the following settings: [overlap];"},

		// Create: id, service, task type, settings.
		{"invalid id", srcPutReq, "PUT", "/_inference/completion/Bad_ID", createBody(taskCompletion, nil, nil, nil),
			400, "action_request_validation_exception", vf + "1: Invalid inference_id; 'Bad_ID' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with alphanumeric;"},
		{"id ending in a hyphen", srcPutReq, "PUT", "/_inference/completion/bad-", createBody(taskCompletion, nil, nil, nil),
			400, "action_request_validation_exception", vf + "1: Invalid inference_id; 'bad-' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with alphanumeric;"},
		{"missing service", srcPut, "PUT", "/_inference/completion/c1", createBody(taskCompletion, nil, nil, map[string]any{"service": nil}),
			400, "status_exception", "Model configuration is missing a service"},
		{"unknown service", srcPut, "PUT", "/_inference/completion/c1", createBody(taskCompletion, nil, nil, map[string]any{"service": "openai"}),
			400, "status_exception", "Unknown service [openai]"},
		{"missing service_settings", srcUtils, "PUT", "/_inference/completion/c1", `{"service":"amazonbedrock"}`,
			400, "status_exception", "Missing required field [service_settings]"},
		{"no task type", srcUtils, "PUT", "/_inference/c1", createBody(taskCompletion, nil, nil, nil),
			400, "status_exception", "model is missing required setting [task_type]"},
		{"conflicting task types", srcUtils, "PUT", "/_inference/completion/c1", createBody(taskCompletion, nil, nil, map[string]any{"task_type": "text_embedding"}),
			400, "status_exception", "Cannot resolve conflicting task_type parameter in the request URL [completion] and the request body [text_embedding]"},
		{"unknown task type in URL", srcTaskType, "PUT", "/_inference/translation/c1", createBody(taskCompletion, nil, nil, nil),
			400, "status_exception", "Unknown task_type [translation]"},
		{"task type amazonbedrock lacks", srcService, "PUT", "/_inference/rerank/c1", createBody(taskCompletion, nil, nil, nil),
			400, "status_exception", "The [amazonbedrock] service does not support task type [rerank]"},
		{"missing model", srcSvcTests, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"model": nil}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not contain the required setting [model];"},
		{"missing region", srcSvcTests, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"region": nil}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not contain the required setting [region];"},
		{"missing provider", srcSvcTests, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"provider": nil}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not contain the required setting [provider];"},
		{"unknown provider", srcSvcTests, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"provider": "openai"}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] Invalid value [openai] received. [provider] must be one of [ai21labs, amazontitan, anthropic, cohere, meta, mistral];"},
		{"empty model", srcUtils, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"model": ""}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] Invalid value empty string. [model] must be a non-empty string;"},
		{"missing access_key", srcSvcTests, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"access_key": nil}, nil, nil),
			400, "validation_exception", vf + "1: [secret_settings] does not contain the required setting [access_key];"},
		{"missing secret_key", srcSvcTests, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"secret_key": nil}, nil, nil),
			400, "validation_exception", vf + "1: [secret_settings] does not contain the required setting [secret_key];"},
		{"secret of the wrong type is not quoted", srcUtils + " (value withheld, issue #12)", "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"secret_key": 123456789}, nil, nil),
			400, "validation_exception", vf + "1: field [secret_key] is not of the expected type. The value of type [Number] cannot be converted to a [String];"},
		{"embeddings from anthropic", srcCaps, "PUT", "/_inference/text_embedding/c1", createBody(taskTextEmbedding, map[string]any{"provider": "anthropic"}, nil, nil),
			400, "status_exception", "The [text_embedding] task type for provider [anthropic] is not available"},
		{"top_k for amazontitan", srcService, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"provider": "amazontitan"}, map[string]any{"top_k": 0.5}, nil),
			400, "status_exception", "The [top_k] task parameter is not available for provider [amazontitan]"},
		{"temperature above 1", srcSvcTests, "PUT", "/_inference/completion/c1", createBody(taskCompletion, nil, map[string]any{"temperature": 1.5}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [1.5]. [temperature] must be a less than or equal to [1.0];"},
		{"max_new_tokens zero", srcUtils, "PUT", "/_inference/completion/c1", createBody(taskCompletion, nil, map[string]any{"max_new_tokens": 0}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [0]. [max_new_tokens] must be a positive integer;"},
		{"rate limit zero", srcRateLimit, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"rate_limit": map[string]any{"requests_per_minute": 0}}, nil, nil),
			400, "validation_exception", vf + "1: [rate_limit] Invalid value [0]. [requests_per_minute] must be a positive long;"},
		{"dimensions set by the user", srcSvcTests, "PUT", "/_inference/text_embedding/c1", createBody(taskTextEmbedding, map[string]any{"dimensions": 512}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not allow the setting [dimensions];"},
		{"unknown service setting", srcUtils, "PUT", "/_inference/completion/c1", createBody(taskCompletion, map[string]any{"colour": "blue"}, nil, nil),
			400, "status_exception", "Model configuration contains settings [{colour=blue}] unknown to the [amazonbedrock] service"},
		{"unknown top-level key", srcUtils, "PUT", "/_inference/completion/c1", createBody(taskCompletion, nil, nil, map[string]any{"extra": true}),
			400, "status_exception", "Model configuration contains settings [{extra=true}] unknown to the [amazonbedrock] service"},
		{"id already taken", srcCrudYAML, "PUT", "/_inference/completion/comp", createBody(taskCompletion, nil, nil, nil),
			400, "resource_already_exists_exception", "Inference endpoint [comp] already exists"},

		// Update: body first, then the endpoint.
		{"update empty body", srcUpdReq, "PUT", "/_inference/completion/nope/_update", `{}`,
			400, "status_exception", "Request body is empty"},
		{"update field that cannot change", srcUpdReq, "PUT", "/_inference/completion/nope/_update", `{"service":"openai"}`,
			400, "status_exception", "Request contained fields which cannot be updated, remove these fields and try again [{service=openai}]"},
		{"update chunking settings", srcUpdReq, "PUT", "/_inference/text_embedding/emb/_update", `{"chunking_settings":{"strategy":"none"}}`,
			400, "status_exception", "Request contained fields which cannot be updated, remove these fields and try again [{chunking_settings={strategy=none}}]"},
		{"update service_settings not an object", srcUpdReq, "PUT", "/_inference/completion/nope/_update", `{"service_settings":"x"}`,
			400, "status_exception", "Unable to parse service settings in the request [{service_settings=x}]"},
		{"update task_settings not an object", srcUpdReq, "PUT", "/_inference/completion/nope/_update", `{"task_settings":[1]}`,
			400, "status_exception", "Unable to parse task settings in the request [{task_settings=[1]}]"},
		{"update invalid id", srcUpdReq, "PUT", "/_inference/completion/Nope/_update", `{"task_settings":{}}`,
			400, "action_request_validation_exception", vf + "1: Invalid inference_id; 'Nope' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with alphanumeric;"},
		{"update conflicting task types", srcUtils, "PUT", "/_inference/completion/comp/_update", `{"task_type":"text_embedding","task_settings":{}}`,
			400, "status_exception", "Cannot resolve conflicting task_type parameter in the request URL [completion] and the request body [text_embedding]"},
		{"update missing endpoint", srcUpd, "PUT", "/_inference/completion/nope/_update", `{"task_settings":{"temperature":0.5}}`,
			404, "resource_not_found_exception", "The inference endpoint [nope] does not exist and cannot be updated"},
		{"update other task type", srcUpd, "PUT", "/_inference/text_embedding/comp/_update", `{"task_settings":{}}`,
			400, "status_exception", "Task type must match the task type of the existing endpoint"},

		// Inference: the body is checked before the endpoint is looked up.
		{"infer missing input, missing endpoint", srcInferReq, "POST", "/_inference/completion/nope", `{}`,
			400, "action_request_validation_exception", vf + "1: Field [input] cannot be null;"},
		{"infer empty input", srcInferReq, "POST", "/_inference/completion/comp", `{"input":[]}`,
			400, "action_request_validation_exception", vf + "1: Field [input] cannot be an empty array;"},
		{"infer unknown field", srcInferReq, "POST", "/_inference/completion/nope", `{"input":"x","colour":1}`,
			400, "x_content_parse_exception", "[inference_request] unknown field [colour]"},
		{"infer missing endpoint", srcCrudYAML, "POST", "/_inference/completion/nope", `{"input":"x"}`,
			404, "resource_not_found_exception", "Inference endpoint not found [nope]"},
		{"infer wrong task type", srcInferT, "POST", "/_inference/text_embedding/comp", `{"input":"x"}`,
			400, "status_exception", "Incompatible task_type, the requested type [text_embedding] does not match the model type [completion]"},
		{"infer request task settings out of range", srcService, "POST", "/_inference/completion/comp", `{"input":"x","task_settings":{"top_p":2}}`,
			400, "validation_exception", vf + "1: [task_settings] Invalid value [2.0]. [top_p] must be a less than or equal to [1.0];"},
		{"bad timeout", srcInferReq, "POST", "/_inference/completion/comp?timeout=soon", `{"input":"x"}`,
			400, "parse_exception", "failed to parse setting [timeout] with value [soon] as a time value: unit is missing or unrecognized"},
		{"get wrong task type", srcCrudYAML, "GET", "/_inference/text_embedding/comp", ``,
			400, "status_exception", "Requested task type [text_embedding] does not match the inference endpoint's task type [completion]"},
		{"get missing", srcCrudYAML, "GET", "/_inference/nope", ``,
			404, "resource_not_found_exception", "Inference endpoint not found [nope]"},
		{"delete missing", srcCrudYAML, "DELETE", "/_inference/nope", ``,
			404, "resource_not_found_exception", "Inference endpoint not found [nope]"},
		{"escaped slash stays in its segment", srcRest, "PUT", "/_inference/text_embedding/%2F", createBody(taskTextEmbedding, nil, nil, nil),
			400, "action_request_validation_exception", vf + "1: Invalid inference_id; '/' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with alphanumeric;"},
	}
	if len(cases) < 60 {
		t.Fatalf("%d cases; the issue asks for at least 60", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, b := call(h, c.method, c.path, c.body)
			var got errorBody
			if err := json.Unmarshal([]byte(b), &got); err != nil {
				t.Fatalf("[%s] %d %s", c.source, st, b)
			}
			e := got.Error
			if st != c.status || got.Status != c.status || e.Type != c.typ || e.Reason != c.reason {
				t.Errorf("[%s]\n got %d %s %q\nwant %d %s %q", c.source, st, e.Type, e.Reason, c.status, c.typ, c.reason)
			}
			if len(e.RootCause) != 1 || e.RootCause[0] != e.errorCause {
				t.Errorf("[%s] root_cause %+v", c.source, e.RootCause)
			}
			if strings.Contains(b, "wJalrXUtnFEMI") || strings.Contains(b, "123456789") {
				t.Errorf("[%s] a secret value is quoted: %s", c.source, b)
			}
		})
	}
}
