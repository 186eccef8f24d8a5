package elastic

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// svc builds a create body: service_settings with the keys, model, region
// and provider unless overridden (a nil value drops the key).
func createBody(task string, ss map[string]any, ts map[string]any, extra map[string]any) string {
	s := map[string]any{"access_key": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI", "region": "us-east-1",
		"provider": "anthropic", "model": "anthropic.claude-3-haiku-20240307-v1:0"}
	if task == taskTextEmbedding {
		s["provider"], s["model"] = "amazontitan", "amazon.titan-embed-text-v2:0"
	}
	for k, v := range ss {
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	body := map[string]any{"service": "amazonbedrock", "service_settings": s}
	if ts != nil {
		body["task_settings"] = ts
	}
	for k, v := range extra {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	b, _ := json.Marshal(body)
	return string(b)
}

// TestCreateValidation checks every validation rule with Elasticsearch's
// exception type and message.
func TestCreateValidation(t *testing.T) {
	const vf = "Validation Failed: "
	cases := []struct {
		name, id, task, body string
		status               int
		typ, reason          string
	}{
		{"missing access_key", "e", taskCompletion, createBody(taskCompletion, map[string]any{"access_key": nil}, nil, nil),
			400, "validation_exception", vf + "1: [secret_settings] does not contain the required setting [access_key];"},
		{"missing secret_key", "e", taskCompletion, createBody(taskCompletion, map[string]any{"secret_key": nil}, nil, nil),
			400, "validation_exception", vf + "1: [secret_settings] does not contain the required setting [secret_key];"},
		{"missing both keys", "e", taskCompletion, createBody(taskCompletion, map[string]any{"access_key": nil, "secret_key": nil}, nil, nil),
			400, "validation_exception", vf + "1: [secret_settings] does not contain the required setting [access_key];2: [secret_settings] does not contain the required setting [secret_key];"},
		{"missing region", "e", taskCompletion, createBody(taskCompletion, map[string]any{"region": nil}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not contain the required setting [region];"},
		{"missing provider", "e", taskCompletion, createBody(taskCompletion, map[string]any{"provider": nil}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not contain the required setting [provider];"},
		{"missing model", "e", taskCompletion, createBody(taskCompletion, map[string]any{"model": nil}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not contain the required setting [model];"},
		{"missing model, region and provider", "e", taskTextEmbedding,
			createBody(taskTextEmbedding, map[string]any{"model": nil, "region": nil, "provider": nil}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not contain the required setting [model];" +
				"2: [service_settings] does not contain the required setting [region];" +
				"3: [service_settings] does not contain the required setting [provider];"},
		{"empty model", "e", taskCompletion, createBody(taskCompletion, map[string]any{"model": ""}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] Invalid value empty string. [model] must be a non-empty string;"},
		{"model not a string", "e", taskCompletion, createBody(taskCompletion, map[string]any{"model": 7}, nil, nil),
			400, "validation_exception", vf + "1: field [model] is not of the expected type. The value [7] cannot be converted to a [String];"},
		{"unknown provider", "e", taskCompletion, createBody(taskCompletion, map[string]any{"provider": "openai"}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] Invalid value [openai] received. [provider] must be one of [ai21labs, amazontitan, anthropic, cohere, meta, mistral];"},
		{"rate limit not positive", "e", taskCompletion, createBody(taskCompletion, map[string]any{"rate_limit": map[string]any{"requests_per_minute": 0}}, nil, nil),
			400, "validation_exception", vf + "1: [rate_limit] Invalid value [0]. [requests_per_minute] must be a positive long;"},
		{"rate limit unknown key", "e", taskCompletion, createBody(taskCompletion, map[string]any{"rate_limit": map[string]any{"rpm": 5}}, nil, nil),
			400, "validation_exception", vf + "1: [rate_limit] does not allow the setting [rpm];"},
		{"dimensions set by the user", "e", taskTextEmbedding, createBody(taskTextEmbedding, map[string]any{"dimensions": 256}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not allow the setting [dimensions];"},
		{"dimensions_set_by_user", "e", taskTextEmbedding, createBody(taskTextEmbedding, map[string]any{"dimensions_set_by_user": true}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] does not allow the setting [dimensions_set_by_user];"},
		{"bad similarity", "e", taskTextEmbedding, createBody(taskTextEmbedding, map[string]any{"similarity": "hamming"}, nil, nil),
			400, "validation_exception", vf + "1: [service_settings] Invalid value [hamming] received. [similarity] must be one of [cosine, dot_product, l2_norm];"},

		// Provider and task compatibility.
		{"meta cannot embed", "e", taskTextEmbedding, createBody(taskTextEmbedding, map[string]any{"provider": "meta"}, nil, nil),
			400, "status_exception", "The [text_embedding] task type for provider [meta] is not available"},
		{"anthropic cannot embed", "e", taskTextEmbedding, createBody(taskTextEmbedding, map[string]any{"provider": "anthropic"}, nil, nil),
			400, "status_exception", "The [text_embedding] task type for provider [anthropic] is not available"},

		// Task settings ranges.
		{"temperature above 1", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"temperature": 1.5}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [1.5]. [temperature] must be a less than or equal to [1.0];"},
		{"temperature below 0", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"temperature": -0.1}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [-0.1]. [temperature] must be a greater than or equal to [0.0];"},
		{"top_p above 1", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"top_p": 2}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [2.0]. [top_p] must be a less than or equal to [1.0];"},
		{"top_k above 1", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"top_k": 40}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [40.0]. [top_k] must be a less than or equal to [1.0];"},
		{"temperature not a number", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"temperature": "hot"}, nil),
			400, "validation_exception", vf + "1: field [temperature] is not of the expected type. The value [hot] cannot be converted to a [Double];"},
		{"max_new_tokens zero", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"max_new_tokens": 0}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [0]. [max_new_tokens] must be a positive integer;"},
		{"max_new_tokens negative", "e", taskChatCompletion, createBody(taskChatCompletion, nil, map[string]any{"max_new_tokens": -5}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [-5]. [max_new_tokens] must be a positive integer;"},
		{"max_new_tokens fractional", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"max_new_tokens": 1.5}, nil),
			400, "validation_exception", vf + "1: field [max_new_tokens] is not of the expected type. The value [1.5] cannot be converted to a [Integer];"},
		{"several task settings at once", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"temperature": 3, "max_new_tokens": 0}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [3.0]. [temperature] must be a less than or equal to [1.0];" +
				"2: [task_settings] Invalid value [0]. [max_new_tokens] must be a positive integer;"},

		// Provider rules on task settings.
		{"top_k for amazontitan", "e", taskCompletion,
			createBody(taskCompletion, map[string]any{"provider": "amazontitan", "model": "amazon.titan-text-premier-v1:0"}, map[string]any{"top_k": 0.5}, nil),
			400, "status_exception", "The [top_k] task parameter is not available for provider [amazontitan]"},
		{"top_k for meta", "e", taskCompletion, createBody(taskCompletion, map[string]any{"provider": "meta"}, map[string]any{"top_k": 0.5}, nil),
			400, "status_exception", "The [top_k] task parameter is not available for provider [meta]"},
		{"top_k for ai21labs", "e", taskChatCompletion, createBody(taskChatCompletion, map[string]any{"provider": "ai21labs"}, map[string]any{"top_k": 0.5}, nil),
			400, "status_exception", "The [top_k] task parameter is not available for provider [ai21labs]"},
		{"truncate for amazontitan", "e", taskTextEmbedding, createBody(taskTextEmbedding, nil, map[string]any{"truncate": "end"}, nil),
			400, "status_exception", "The [text_embedding] task type for provider [amazontitan] does not allow [truncate] field"},
		{"bad truncate", "e", taskTextEmbedding, createBody(taskTextEmbedding, map[string]any{"provider": "cohere"}, map[string]any{"truncate": "middle"}, nil),
			400, "validation_exception", vf + "1: [task_settings] Invalid value [middle] received. [truncate] must be one of [end, none, start];"},

		// Unknown keys, at every level.
		{"unknown service setting", "e", taskCompletion, createBody(taskCompletion, map[string]any{"colour": "blue"}, nil, nil),
			400, "status_exception", "Model configuration contains settings [{colour=blue}] unknown to the [amazonbedrock] service"},
		{"unknown task setting", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"top_x": 1}, nil),
			400, "status_exception", "Model configuration contains settings [{top_x=1}] unknown to the [amazonbedrock] service"},
		{"unknown top-level key", "e", taskCompletion, createBody(taskCompletion, nil, nil, map[string]any{"extra": true}),
			400, "status_exception", "Model configuration contains settings [{extra=true}] unknown to the [amazonbedrock] service"},
		{"embedding task settings on completion", "e", taskCompletion, createBody(taskCompletion, nil, map[string]any{"truncate": "end"}, nil),
			400, "status_exception", "Model configuration contains settings [{truncate=end}] unknown to the [amazonbedrock] service"},

		// Task types, service, id.
		{"unknown task type in the body", "e", "", createBody(taskCompletion, nil, nil, map[string]any{"task_type": "bad"}),
			400, "status_exception", "Unknown task_type [bad]"},
		{"no task type anywhere", "e", "", createBody(taskCompletion, nil, nil, nil),
			400, "status_exception", "model is missing required setting [task_type]"},
		{"conflicting task types", "e", taskCompletion, createBody(taskCompletion, nil, nil, map[string]any{"task_type": "text_embedding"}),
			400, "status_exception", "Cannot resolve conflicting task_type parameter in the request URL [completion] and the request body [text_embedding]"},
		{"task type Bedrock does not serve", "e", "rerank", createBody(taskCompletion, nil, nil, nil),
			400, "status_exception", "The [amazonbedrock] service does not support task type [rerank]"},
		{"other service", "e", taskCompletion, createBody(taskCompletion, nil, nil, map[string]any{"service": "openai"}),
			400, "status_exception", "Unknown service [openai]"},
		{"no service", "e", taskCompletion, createBody(taskCompletion, nil, nil, map[string]any{"service": nil}),
			400, "status_exception", "Model configuration is missing a service"},
		{"no service_settings", "e", taskCompletion, `{"service":"amazonbedrock"}`,
			400, "status_exception", "Missing required field [service_settings]"},
		{"bad id", "Bad_ID", taskCompletion, createBody(taskCompletion, nil, nil, nil),
			400, "action_request_validation_exception", vf + "1: Invalid inference_id; 'Bad_ID' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with alphanumeric;"},
		{"not JSON", "e", taskCompletion, `{"service":`,
			400, "x_content_parse_exception", "Failed to parse the inference endpoint configuration: invalid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, e := parseCreate(c.id, c.task, []byte(c.body))
			if e == nil {
				t.Fatal("accepted")
			}
			if e.Status != c.status || e.Type != c.typ || e.Reason != c.reason {
				t.Errorf("got %d %s %q\nwant %d %s %q", e.Status, e.Type, e.Reason, c.status, c.typ, c.reason)
			}
			// Error messages never quote the keys.
			if strings.Contains(e.Reason, "wJalrXUtnFEMI") || strings.Contains(e.Reason, "AKIDEXAMPLE") {
				t.Errorf("message quotes a key: %s", e.Reason)
			}
		})
	}
}

func TestCreateValid(t *testing.T) {
	for _, c := range []struct {
		name, task, body string
		check            func(*Settings) bool
	}{
		{"completion with every task setting, provider in any case", taskCompletion,
			createBody(taskCompletion, map[string]any{"provider": " Anthropic ", "rate_limit": map[string]any{"requests_per_minute": 60}},
				map[string]any{"temperature": 0.2, "top_p": 1, "top_k": 0.5, "max_new_tokens": 128}, nil),
			func(s *Settings) bool {
				return s.Provider == "anthropic" && s.RequestsPerMinute == 60 && *s.Task.Temperature == 0.2 &&
					*s.Task.TopP == 1 && *s.Task.TopK == 0.5 && *s.Task.MaxNewTokens == 128
			}},
		{"default rate limit", taskChatCompletion, createBody(taskChatCompletion, nil, nil, nil),
			func(s *Settings) bool { return s.RequestsPerMinute == 240 && s.TaskType == taskChatCompletion }},
		{"task type only in the body", "", createBody(taskCompletion, nil, nil, map[string]any{"task_type": "completion"}),
			func(s *Settings) bool { return s.TaskType == taskCompletion }},
		{"cohere embeddings with truncate and similarity", taskTextEmbedding,
			createBody(taskTextEmbedding, map[string]any{"provider": "cohere", "model": "cohere.embed-english-v3", "similarity": "cosine"},
				map[string]any{"truncate": "END"}, map[string]any{"chunking_settings": map[string]any{"strategy": "sentence", "max_chunk_size": 100}}),
			func(s *Settings) bool { return s.Task.Truncate == "end" && s.Similarity == "cosine" }},
		{"null task settings", taskCompletion, createBody(taskCompletion, nil, nil, map[string]any{"task_settings": map[string]any{"temperature": nil}}),
			func(s *Settings) bool { return s.Task.Temperature == nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, creds, e := parseCreate("my-endpoint_1", c.task, []byte(c.body))
			if e != nil {
				t.Fatal(e)
			}
			if !c.check(s) || creds.AccessKey != "AKIDEXAMPLE" || creds.SecretKey != "wJalrXUtnFEMI" {
				t.Errorf("settings %+v", s)
			}
		})
	}
}

func TestUpdateValidation(t *testing.T) {
	titan, _, e := parseCreate("t", taskCompletion, []byte(createBody(taskCompletion,
		map[string]any{"provider": "amazontitan", "model": "amazon.titan-text-premier-v1:0"}, map[string]any{"temperature": 0.5}, nil)))
	if e != nil {
		t.Fatal(e)
	}
	upd := func(task, body string) (*update, *Error) {
		b, e := parseUpdateBody(task, []byte(body))
		if e != nil {
			return nil, e
		}
		return parseUpdate(titan, b)
	}
	for _, c := range []struct {
		name, task, body, reason string
	}{
		{"model cannot change", taskCompletion, `{"service_settings":{"model":"x"}}`,
			"Validation Failed: 1: [service_settings] does not allow the setting [model];"},
		{"only one key", taskCompletion, `{"service_settings":{"access_key":"a"}}`,
			"Validation Failed: 1: [secret_settings] does not contain the required setting [secret_key];"},
		{"task settings ranges", taskCompletion, `{"task_settings":{"top_p":1.5}}`,
			"Validation Failed: 1: [task_settings] Invalid value [1.5]. [top_p] must be a less than or equal to [1.0];"},
		{"top_k for titan", taskCompletion, `{"task_settings":{"top_k":0.1}}`, "The [top_k] task parameter is not available for provider [amazontitan]"},
		{"other task type", taskTextEmbedding, `{"task_settings":{}}`, "Task type must match the task type of the existing endpoint"},
		{"unknown key", taskCompletion, `{"foo":1}`, "Request contained fields which cannot be updated, remove these fields and try again [{foo=1}]"},
		{"bad task type in body", "", `{"task_type":"nope"}`, "Unknown task_type [nope]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, e := upd(c.task, c.body)
			if e == nil || e.Reason != c.reason {
				t.Errorf("got %v, want %q", e, c.reason)
			}
		})
	}
	u, e := upd(taskCompletion, `{"service_settings":{"access_key":"a2","secret_key":"s2","rate_limit":{"requests_per_minute":10}},"task_settings":{"max_new_tokens":9}}`)
	if e != nil {
		t.Fatal(e)
	}
	next := u.apply(titan)
	if u.Creds == nil || u.Creds.SecretKey != "s2" || next.RequestsPerMinute != 10 || *next.Task.MaxNewTokens != 9 ||
		next.Task.Temperature == nil || *next.Task.Temperature != 0.5 || next.Model != titan.Model {
		t.Errorf("update merged into %+v (creds %+v)", next, u.Creds)
	}
}

func TestInferValidation(t *testing.T) {
	s, _, _ := parseCreate("c", taskCompletion, []byte(createBody(taskCompletion, nil, map[string]any{"temperature": 0.5, "max_new_tokens": 10}, nil)))
	for _, c := range []struct{ name, body, reason string }{
		{"no input", `{}`, "Validation Failed: 1: Field [input] cannot be null;"},
		{"empty input", `{"input":[]}`, "Validation Failed: 1: Field [input] cannot be an empty array;"},
		{"unknown field", `{"input":"x","colour":1}`, "[inference_request] unknown field [colour]"},
		{"request task settings out of range", `{"input":"x","task_settings":{"temperature":9}}`,
			"Validation Failed: 1: [task_settings] Invalid value [9.0]. [temperature] must be a less than or equal to [1.0];"},
	} {
		if _, e := parseInfer(s, []byte(c.body)); e == nil || e.Reason != c.reason {
			t.Errorf("%s: got %v, want %q", c.name, e, c.reason)
		}
	}
	// Per-request task settings override the stored ones, field by field.
	req, e := parseInfer(s, []byte(`{"input":["a","b"],"task_settings":{"temperature":0.9}}`))
	if e != nil {
		t.Fatal(e)
	}
	if *req.Task.Temperature != 0.9 || *req.Task.MaxNewTokens != 10 || len(req.Input) != 2 {
		t.Errorf("merged task settings %+v", req.Task)
	}
}

func TestTimeoutParam(t *testing.T) {
	for raw, want := range map[string]string{"": "30s", "?timeout=5s": "5s", "?timeout=250ms": "250ms", "?timeout=2m": "2m0s", "?timeout=-1": "0s"} {
		r := httptest.NewRequest("POST", "/_inference/x"+raw, nil)
		d, e := timeoutParam(r)
		if e != nil || d.String() != want {
			t.Errorf("%q: %v %v", raw, d, e)
		}
	}
	for _, bad := range []string{"soon", "3000000000d", "900000000h", "36600d"} {
		if d, e := timeoutParam(httptest.NewRequest("POST", "/_inference/x?timeout="+bad, nil)); e == nil || e.Type != "parse_exception" {
			t.Errorf("timeout=%s accepted as %v (overflow or nonsense must be a parse_exception)", bad, d)
		}
	}
	if d, e := timeoutParam(httptest.NewRequest("POST", "/_inference/x?timeout=36500d", nil)); e != nil || d != 36500*24*time.Hour {
		t.Errorf("100 years: %v %v", d, e)
	}
}
