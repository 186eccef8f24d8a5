package elastic

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// inferRequest is InferenceAction.Request's body.
type inferRequest struct {
	Input     []string
	InputType string
	Task      TaskSettings
}

// Elasticsearch's input types (InputType).
var inputTypes = []string{"ingest", "search", "classification", "clustering", "internal_ingest", "internal_search", "unspecified"}

// parseInfer validates an inference body against the endpoint: the input,
// and per-request task settings checked like the stored ones.
func parseInfer(s *Settings, body []byte) (*inferRequest, *Error) {
	o, e := decodeObject(body, "the inference request")
	if e != nil {
		return nil, e
	}
	req := &inferRequest{}
	var v validation
	switch in := o.take("input").(type) {
	case nil:
		v.add("Field [input] cannot be null")
	case string:
		req.Input = []string{in}
	case []any:
		if len(in) == 0 {
			v.add("Field [input] cannot be an empty array")
		}
		for _, x := range in {
			str, ok := x.(string)
			if !ok {
				return nil, parseErr("[inference_request] failed to parse field [input]: expected strings, got [%s]", javaString(x))
			}
			req.Input = append(req.Input, str)
		}
	default:
		return nil, parseErr("[inference_request] failed to parse field [input]: expected a string or an array of strings")
	}
	if it := o.take("input_type"); it != nil {
		str, _ := it.(string)
		if !slices.Contains(inputTypes, str) {
			return nil, badRequest("Unknown input_type [%s]", javaString(it))
		}
		req.InputType = str
	}
	tsObj, e := o.takeObject("task_settings")
	if e != nil {
		return nil, e
	}
	for k := range o {
		return nil, parseErr("[inference_request] unknown field [%s]", k)
	}
	if e := v.err(); e != nil {
		return nil, e
	}
	if tsObj != nil {
		ts, e := parseTaskSettings(s.TaskType, tsObj)
		if e != nil {
			return nil, e
		}
		if e := unknownSettings(tsObj); e != nil {
			return nil, e
		}
		req.Task = ts
	}
	merged := s.Task.override(req.Task)
	if e := checkTaskSettings(s.TaskType, s.Provider, merged); e != nil {
		return nil, e
	}
	req.Task = merged
	return req, nil
}

// timeValue matches Elasticsearch's time values (TimeValue.parseTimeValue).
var timeValue = regexp.MustCompile(`^(\d+)(d|h|m|s|ms|micros|nanos)$`)

// timeUnits are the durations of timeValue's units.
var timeUnits = map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second,
	"ms": time.Millisecond, "micros": time.Microsecond, "nanos": time.Nanosecond}

// timeoutParam reads ?timeout: Elasticsearch's time units; -1 means none.
func timeoutParam(r *http.Request) (time.Duration, *Error) {
	q := r.URL.Query()
	if !q.Has("timeout") {
		return DefaultTimeout, nil
	}
	raw := q.Get("timeout")
	if raw == "-1" {
		return 0, nil
	}
	m := timeValue.FindStringSubmatch(raw)
	if m == nil {
		return 0, &Error{Status: http.StatusBadRequest, Type: "parse_exception",
			Reason: fmt.Sprintf("failed to parse setting [timeout] with value [%s] as a time value: unit is missing or unrecognized", raw)}
	}
	// The bound is on the duration, whatever the unit, so that a large
	// count of days or hours cannot overflow time.Duration.
	const maxTimeout = 100 * 365 * 24 * time.Hour
	n, err := strconv.ParseInt(m[1], 10, 64)
	if unit := timeUnits[m[2]]; err != nil || n > int64(maxTimeout/unit) {
		return 0, &Error{Status: http.StatusBadRequest, Type: "parse_exception",
			Reason: fmt.Sprintf("failed to parse setting [timeout] with value [%s] as a time value: out of range", raw)}
	}
	return time.Duration(n) * timeUnits[m[2]], nil
}

// withTimeout bounds ctx by d (0: unbounded).
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// inferenceCall reads what infer and stream both need: the ?timeout, the
// endpoint id names (which must be of the URL's task type, if any) and the
// body.
func (h *Handler) inferenceCall(r *http.Request, urlTask, id string) (*endpoint, []byte, time.Duration, *Error) {
	timeout, e := timeoutParam(r)
	if e != nil {
		return nil, nil, 0, e
	}
	ep, e := h.lookup(r.Context(), id)
	if e != nil {
		return nil, nil, 0, e
	}
	// Only now: the id names an endpoint. A made-up id would otherwise
	// become a metrics label, one series per id a client cares to send.
	accesslog.From(r.Context()).SetModel(id)
	if urlTask != "" && urlTask != ep.s.TaskType {
		return nil, nil, 0, badRequest("Incompatible task_type, the requested type [%s] does not match the model type [%s]", urlTask, ep.s.TaskType)
	}
	body, e := readBody(r)
	if e != nil {
		return nil, nil, 0, e
	}
	return ep, body, timeout, nil
}

// infer serves POST /_inference[/task_type]/id.
func (h *Handler) infer(w http.ResponseWriter, r *http.Request, urlTask, id string) {
	ctx := r.Context()
	log := accesslog.From(ctx)
	ep, body, timeout, e := h.inferenceCall(r, urlTask, id)
	if e != nil {
		writeError(w, r, e)
		return
	}
	s := ep.s
	if s.TaskType == taskChatCompletion {
		if urlTask != taskChatCompletion {
			writeError(w, r, badRequest("Inference entity [%s] does not support task type [%s] for inference, the task type must be one of [%s, %s]. "+
				"The task type for the inference entity is %s, please use the _inference/chat_completion/%s/_stream URL.",
				id, s.TaskType, taskTextEmbedding, taskCompletion, taskChatCompletion, id))
			return
		}
		h.chat(w, r, ep, body, timeout, false)
		return
	}
	req, e := parseInfer(s, body)
	if e != nil {
		writeError(w, r, e)
		return
	}
	cctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	switch s.TaskType {
	case taskCompletion:
		resp, err := ep.client.Converse(cctx, s.Model, completionRequest(req.Input, req.Task), bedrock.WithQueueTimeout(h.opts.QueueTimeout))
		if err != nil {
			writeError(w, r, upstreamErr(err))
			return
		}
		log.SetUpstreamRequestID(resp.RequestID)
		log.AddTokens(resp.Usage.InputTokens, resp.Usage.OutputTokens, resp.Usage.CacheReadInputTokens)
		writeJSON(w, http.StatusOK, map[string]any{"completion": []map[string]string{{"result": responseText(resp)}}})
	case taskTextEmbedding:
		vecs, err := h.embed(cctx, ep, req.Input, req.InputType, req.Task)
		if err != nil {
			writeError(w, r, upstreamErr(err))
			return
		}
		out := make([]map[string][]float64, len(vecs))
		for i, v := range vecs {
			out[i] = map[string][]float64{"embedding": v}
		}
		writeJSON(w, http.StatusOK, map[string]any{"text_embedding": out})
	}
}

// embed embeds inputs in the provider's batches (Titan 1, Cohere 96),
// keeping their order.
func (h *Handler) embed(ctx context.Context, ep *endpoint, inputs []string, inputType string, ts TaskSettings) ([][]float64, error) {
	s := ep.s
	log := accesslog.From(ctx)
	out := make([][]float64, 0, len(inputs))
	switch s.Provider {
	case "cohere":
		for _, b := range batches(inputs, cohereBatch) {
			resp, err := ep.client.EmbedCohere(ctx, s.Model, cohereRequest(s.Model, b, inputType, ts.Truncate), bedrock.WithQueueTimeout(h.opts.QueueTimeout))
			if err != nil {
				return nil, err
			}
			log.AddTokens(resp.InputTokenCount, 0, 0)
			if len(resp.Embeddings.Float) != len(b) {
				return nil, statusErr(http.StatusBadGateway, "Amazon Bedrock returned %d embeddings for %d texts", len(resp.Embeddings.Float), len(b))
			}
			out = append(out, resp.Embeddings.Float...)
		}
	default: // amazontitan
		for _, b := range batches(inputs, titanBatch) {
			resp, err := ep.client.EmbedTitan(ctx, s.Model, titanRequest(b[0]), bedrock.WithQueueTimeout(h.opts.QueueTimeout))
			if err != nil {
				return nil, err
			}
			log.AddTokens(resp.InputTextTokenCount, 0, 0)
			out = append(out, resp.Embedding)
		}
	}
	return out, nil
}
