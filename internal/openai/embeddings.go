package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// embeddings serves POST /v1/embeddings.
func (h *Handler) embeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	m, aerr := h.servedModel(r, req.Model)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	plan, aerr := planEmbeddings(m, &req)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	n := 0
	for _, c := range plan.Calls {
		n += c.Count
	}
	if n > h.opts.MaxEmbeddingInputs {
		writeAPIError(w, r, invalid("input", "'input' has %d items; the limit is %d per request (server.max_embedding_inputs).", n, h.opts.MaxEmbeddingInputs))
		return
	}
	// The request context: a client that goes away cancels every call.
	// UpstreamTimeout bounds the whole fan-out, whose rate-limit tokens are
	// all reserved before the first call: a request the model's
	// requests_per_min_limit cannot serve in time is a 429 before any call,
	// never one that fails half way and discards what it paid for.
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.UpstreamTimeout)
	defer cancel()
	ctx, release, err := m.Client.Reserve(ctx, len(plan.Calls), h.queue)
	if err != nil {
		writeFailure(w, r, err)
		return
	}
	results, err := h.runEmbedCalls(ctx, m, plan.Calls)
	release()
	log := accesslog.From(r.Context())
	if ids := requestIDs(results); ids != "" {
		log.SetUpstreamRequestID(ids)
	}
	if err != nil {
		var bad *badUpstreamAnswer
		if errors.As(err, &bad) {
			writeError(w, r, http.StatusBadGateway, "api_error", "", "", bad.Error())
			return
		}
		writeFailure(w, r, err)
		return
	}
	vectors := make([][]float64, n)
	tokens := 0
	for i, c := range plan.Calls {
		copy(vectors[c.First:c.First+c.Count], results[i].Vectors)
		tokens += results[i].Tokens
	}
	log.AddTokens(tokens, 0, 0)
	upstream.RecordCall(log, upstream.OpEmbeddings, m, nil)
	writeJSONBody(w, http.StatusOK, embeddingResponseOf(m.Name, vectors, tokens, plan.Base64))
}

// badUpstreamAnswer is a Bedrock answer that does not fit the request (a
// vector missing, say): a 502, never a response with shifted indexes.
type badUpstreamAnswer struct{ msg string }

func (e *badUpstreamAnswer) Error() string { return e.msg }

// runEmbedCalls makes the calls with a pool of at most the model's
// max_concurrent_invocations workers: the client's limiter would hold any
// more in its queue anyway, and a pool keeps a 2,000-input request from
// parking 2,000 goroutines. The first failure cancels the calls still
// running; results[i] is the outcome of calls[i].
func (h *Handler) runEmbedCalls(ctx context.Context, m *upstream.Model, calls []embedCall) ([]embedResult, error) {
	workers := m.AWS.MaxConcurrent
	if workers <= 0 {
		workers = bedrock.DefaultMaxConcurrent
	}
	workers = min(workers, len(calls))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	results := make([]embedResult, len(calls))
	var (
		paid     atomic.Bool // a call has succeeded: its result is worth keeping
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				res, err := h.embedCall(ctx, m, calls[i], &paid)
				results[i] = res
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range calls {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return results, firstErr
}

// embedCall makes one Bedrock call. When Bedrock throttles it (after the
// client's own retries) once other calls of the request have succeeded, it
// is tried again until the request's deadline, so that one throttled batch
// does not discard results already paid for; with nothing paid for yet,
// the throttling is the request's answer (a 429 the client may retry).
func (h *Handler) embedCall(ctx context.Context, m *upstream.Model, call embedCall, paid *atomic.Bool) (res embedResult, err error) {
	err = upstream.RetryPaid(ctx, paid, func(ctx context.Context) error {
		res, err = h.embedCallOnce(ctx, m, call)
		return err
	})
	return res, err
}

// embedCallOnce makes one Bedrock call.
func (h *Handler) embedCallOnce(ctx context.Context, m *upstream.Model, call embedCall) (embedResult, error) {
	qt := h.queue
	var (
		titan  *bedrock.TitanEmbedResponse
		cohere *bedrock.CohereEmbedResponse
		nova   *bedrock.NovaEmbedResponse
		err    error
	)
	switch {
	case call.Titan != nil:
		titan, err = m.EmbedTitan(ctx, call.Titan, qt)
	case call.Cohere != nil:
		cohere, err = m.EmbedCohere(ctx, call.Cohere, qt)
	case call.Nova != nil:
		nova, err = m.EmbedNova(ctx, call.Nova, qt)
	}
	if err != nil {
		return embedResult{}, err
	}
	res, err := embedResultOf(call, titan, cohere, nova)
	if err != nil {
		return res, &badUpstreamAnswer{err.Error()}
	}
	return res, nil
}

// requestIDs joins the upstream request IDs of the calls for the access log,
// the first few only: a 500-input Titan request makes 500 calls.
func requestIDs(results []embedResult) string {
	const keep = 8
	var ids []string
	more := 0
	for _, r := range results {
		if r.RequestID == "" {
			continue
		}
		if len(ids) < keep {
			ids = append(ids, r.RequestID)
		} else {
			more++
		}
	}
	s := strings.Join(ids, ",")
	if more > 0 {
		s += fmt.Sprintf(",+%d more", more)
	}
	return s
}
