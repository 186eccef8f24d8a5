package elastic

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// inferRequest is InferenceAction.Request's body.
type inferRequest struct {
	Input     []string
	InputType string
	Task      TaskSettings
}

// Elasticsearch's input types (InputType).
var inputTypes = []string{"ingest", "search", "classification", "clustering", "internal_ingest", "internal_search", "unspecified"}

// DefaultMaxInputs bounds the inputs of one inference request unless
// Options.MaxInputs says otherwise: Titan embeds one text per call, so this
// is also the bound on the Bedrock calls one request can make.
const DefaultMaxInputs = 1000

// inferBody is an inference body checked on its own, before the endpoint
// is looked up (InferenceAction.Request is parsed and validated by the REST
// layer): a bad request for a missing endpoint is a 400, not a 404.
type inferBody struct {
	req    *inferRequest
	taskSO object // task_settings, checked against the endpoint later
}

// parseInfer validates an inference body against the endpoint: the input,
// and per-request task settings checked like the stored ones.
func parseInfer(s *Settings, body []byte) (*inferRequest, *Error) {
	b, e := parseInferBody(body, 0)
	if e != nil {
		return nil, e
	}
	return b.against(s)
}

// parseInferBody checks what needs no endpoint; maxInputs > 0 bounds the
// inputs.
func parseInferBody(body []byte, maxInputs int) (*inferBody, *Error) {
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
	if maxInputs > 0 && len(req.Input) > maxInputs {
		v.add("Field [input] cannot contain more than [%d] inputs, this gateway's limit per request (server.max_inference_inputs); send them in several requests", maxInputs)
	}
	if e := v.err(); e != nil {
		e.Type = "action_request_validation_exception"
		return nil, e
	}
	return &inferBody{req: req, taskSO: tsObj}, nil
}

// against checks the body's task settings for endpoint s and merges them
// over the stored ones.
func (b *inferBody) against(s *Settings) (*inferRequest, *Error) {
	req, tsObj := b.req, maps.Clone(b.taskSO)
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

// timedOut is what Elasticsearch answers when an inference call outlives
// its ?timeout (RequestTask and the amazonbedrock executors): a 408.
func timedOut(d time.Duration) *Error {
	return statusErr(http.StatusRequestTimeout, "Request timed out after [%s]", esTimeValue(d))
}

// esTimeValue prints a duration as Elasticsearch's TimeValue.toString does
// for whole units (30s, 250ms, 2m).
func esTimeValue(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "micros"}} {
		if d >= u.d && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "nanos"
}

// callErr maps a failed call, telling our own ?timeout (408) from the
// other failures.
func callErr(ctx, cctx context.Context, timeout time.Duration, err error) *Error {
	if timeout > 0 && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return timedOut(timeout)
	}
	return upstreamErr(err)
}

// withTimeout bounds ctx by d (0: unbounded).
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// inferenceCall reads what infer and stream both need: the ?timeout, the
// body, checked by check (when not nil) before the endpoint is looked up,
// and the endpoint id names (which must be of the URL's task type, if any).
func (h *Handler) inferenceCall(r *http.Request, urlTask, id string, check func([]byte) *Error) (*endpoint, []byte, time.Duration, *Error) {
	timeout, e := timeoutParam(r)
	if e != nil {
		return nil, nil, 0, e
	}
	body, e := readBody(r)
	if e != nil {
		return nil, nil, 0, e
	}
	if check != nil {
		if e := check(body); e != nil {
			return nil, nil, 0, e
		}
	}
	ep, e := h.lookup(r.Context(), id)
	if e != nil {
		return nil, nil, 0, e
	}
	// Only now: the id names an endpoint. A made-up id would otherwise
	// become a metrics label, one series per id a client cares to send.
	accesslog.From(r.Context()).SetModel(id)
	accesslog.From(r.Context()).SetBedrockModel(ep.s.Model, ep.s.Region)
	// A virtual key's model list names Bedrock model IDs here: the
	// endpoint's own name is its creator's choice.
	if err := upstream.AllowModelID(r.Context(), ep.s.Model); err != nil {
		return nil, nil, 0, upstreamErr(err)
	}
	if urlTask != "" && urlTask != ep.s.TaskType {
		return nil, nil, 0, badRequest("Incompatible task_type, the requested type [%s] does not match the model type [%s]", urlTask, ep.s.TaskType)
	}
	return ep, body, timeout, nil
}

// infer serves POST /_inference[/task_type]/id.
func (h *Handler) infer(w http.ResponseWriter, r *http.Request, urlTask, id string) {
	ctx := r.Context()
	log := accesslog.From(ctx)
	var ib *inferBody
	check := func(body []byte) (e *Error) {
		ib, e = parseInferBody(body, h.opts.MaxInputs)
		return e
	}
	if urlTask == taskChatCompletion {
		check = nil // a chat body, read by chat below
	}
	ep, body, timeout, e := h.inferenceCall(r, urlTask, id, check)
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
	if ib == nil {
		if ib, e = parseInferBody(body, h.opts.MaxInputs); e != nil {
			writeError(w, r, e)
			return
		}
	}
	req, e := ib.against(s)
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
			writeError(w, r, callErr(ctx, cctx, timeout, err))
			return
		}
		log.SetUpstreamRequestID(resp.RequestID)
		upstream.RecordUsage(log, resp.Usage)
		writeJSON(w, http.StatusOK, map[string]any{"completion": []map[string]string{{"result": responseText(resp)}}})
	case taskTextEmbedding:
		vecs, err := h.embed(cctx, ep, req.Input, req.InputType, req.Task)
		if err != nil {
			writeError(w, r, callErr(ctx, cctx, timeout, err))
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
// keeping their order. The rate-limit tokens of every batch are reserved
// before the first call, so a request the endpoint's limit cannot serve in
// time is a 429 before any call; a batch Bedrock throttles once others have
// succeeded is tried again within the deadline (upstream.RetryPaid), so
// that results already paid for are never thrown away.
func (h *Handler) embed(ctx context.Context, ep *endpoint, inputs []string, inputType string, ts TaskSettings) ([][]float64, error) {
	s := ep.s
	log := accesslog.From(ctx)
	size := titanBatch
	if s.Provider == "cohere" {
		size = cohereBatch
	}
	bs := batches(inputs, size)
	qt := bedrock.WithQueueTimeout(h.opts.QueueTimeout)
	ctx, release, err := ep.client.Reserve(ctx, len(bs), qt)
	if err != nil {
		return nil, err
	}
	defer release()
	var paid atomic.Bool
	out := make([][]float64, 0, len(inputs))
	for _, b := range bs {
		err := upstream.RetryPaid(ctx, &paid, func(ctx context.Context) error {
			if s.Provider == "cohere" {
				resp, err := ep.client.EmbedCohere(ctx, s.Model, cohereRequest(s.Model, b, inputType, ts.Truncate), qt)
				if err != nil {
					return err
				}
				log.AddTokens(resp.InputTokenCount, 0, 0)
				if len(resp.Embeddings.Float) != len(b) {
					return statusErr(http.StatusBadGateway, "Amazon Bedrock returned %d embeddings for %d texts", len(resp.Embeddings.Float), len(b))
				}
				out = append(out, resp.Embeddings.Float...)
				return nil
			}
			resp, err := ep.client.EmbedTitan(ctx, s.Model, titanRequest(b[0]), qt) // amazontitan
			if err != nil {
				return err
			}
			log.AddTokens(resp.InputTextTokenCount, 0, 0)
			out = append(out, resp.Embedding)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
