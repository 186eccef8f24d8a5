package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// The pipeline: every surface calls a model through these methods, which
// choose a target by the model's strategy, skip targets cooling down, and
// move to the next target when one fails in a way the request did not
// cause (Failover). The target that answered is named in the request's
// access-log entry (and so in the x-quarry-target header).

// Converse calls Converse on one of m's targets.
func (m *Model) Converse(ctx context.Context, req *bedrock.ConverseRequest, opts ...bedrock.CallOption) (*bedrock.ConverseResponse, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.ConverseResponse, error) {
		return t.Client.Converse(ctx, t.ModelID, req, opts...)
	})
}

// ConverseStream opens a ConverseStream on one of m's targets and reads its
// first event, which is Current when it returns: a stream fails over only
// until then, before anything reached the client.
func (m *Model) ConverseStream(ctx context.Context, req *bedrock.ConverseRequest, opts ...bedrock.CallOption) (*bedrock.ConverseStream, error) {
	return call(ctx, m, true, func(ctx context.Context, t *Target) (*bedrock.ConverseStream, error) {
		return firstEvent(t.Client.ConverseStream(ctx, t.ModelID, req, opts...))
	})
}

// ShapedStream is ConverseStream for a model that may not support
// streaming: shaping.Stream on one of m's targets (the first event read).
func (m *Model) ShapedStream(ctx context.Context, req *bedrock.ConverseRequest, o *shaping.Options, opts ...bedrock.CallOption) (*bedrock.ConverseStream, error) {
	return call(ctx, m, true, func(ctx context.Context, t *Target) (*bedrock.ConverseStream, error) {
		return firstEvent(shaping.Stream(ctx, t.Client, t.ModelID, req, o, opts...))
	})
}

// InvokeModel calls InvokeModel on one of m's targets.
func (m *Model) InvokeModel(ctx context.Context, in *bedrock.InvokeModelInput, opts ...bedrock.CallOption) (*bedrock.InvokeModelOutput, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.InvokeModelOutput, error) {
		return t.Client.InvokeModel(ctx, t.ModelID, in, opts...)
	})
}

// InvokeModelWithResponseStream opens a stream on one of m's targets and
// reads its first chunk, which is Current when it returns (see
// ConverseStream).
func (m *Model) InvokeModelWithResponseStream(ctx context.Context, in *bedrock.InvokeModelInput, opts ...bedrock.CallOption) (*bedrock.InvokeStream, error) {
	return call(ctx, m, true, func(ctx context.Context, t *Target) (*bedrock.InvokeStream, error) {
		return firstEvent(t.Client.InvokeModelWithResponseStream(ctx, t.ModelID, in, opts...))
	})
}

// CountTokens calls CountTokens on one of m's targets.
func (m *Model) CountTokens(ctx context.Context, req *bedrock.CountTokensRequest, opts ...bedrock.CallOption) (*bedrock.CountTokensResponse, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.CountTokensResponse, error) {
		return t.Client.CountTokens(ctx, t.ModelID, req, opts...)
	})
}

// EmbedTitan calls EmbedTitan on one of m's targets.
func (m *Model) EmbedTitan(ctx context.Context, req *bedrock.TitanEmbedRequest, opts ...bedrock.CallOption) (*bedrock.TitanEmbedResponse, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.TitanEmbedResponse, error) {
		return t.Client.EmbedTitan(ctx, t.ModelID, req, opts...)
	})
}

// EmbedCohere calls EmbedCohere on one of m's targets.
func (m *Model) EmbedCohere(ctx context.Context, req *bedrock.CohereEmbedRequest, opts ...bedrock.CallOption) (*bedrock.CohereEmbedResponse, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.CohereEmbedResponse, error) {
		return t.Client.EmbedCohere(ctx, t.ModelID, req, opts...)
	})
}

// EmbedNova calls EmbedNova on one of m's targets.
func (m *Model) EmbedNova(ctx context.Context, req *bedrock.NovaEmbedRequest, opts ...bedrock.CallOption) (*bedrock.NovaEmbedResponse, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.NovaEmbedResponse, error) {
		return t.Client.EmbedNova(ctx, t.ModelID, req, opts...)
	})
}

// GenerateImages calls GenerateImages on one of m's targets.
func (m *Model) GenerateImages(ctx context.Context, req *bedrock.ImageRequest, opts ...bedrock.CallOption) (*bedrock.ImageResponse, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.ImageResponse, error) {
		return t.Client.GenerateImages(ctx, t.ModelID, req, opts...)
	})
}

// Rerank calls Rerank on one of m's targets.
func (m *Model) Rerank(ctx context.Context, req *bedrock.RerankRequest, opts ...bedrock.CallOption) (*bedrock.RerankResponse, error) {
	return call(ctx, m, false, func(ctx context.Context, t *Target) (*bedrock.RerankResponse, error) {
		return t.Client.Rerank(ctx, t.ModelID, req, opts...)
	})
}

// eventStream is what firstEvent reads.
type eventStream interface {
	Next() bool
	Err() error
	Close() error
}

// firstEvent reads a just-opened stream's first event: until it arrives,
// the stream's failure is the call's, and another target may take it.
func firstEvent[S eventStream](s S, err error) (S, error) {
	var zero S
	if err != nil {
		return zero, err
	}
	if !s.Next() {
		err := s.Err()
		if err == nil {
			err = &bedrock.Error{Code: bedrock.CodeModelStreamError, Message: "Bedrock ended the stream without any event", StatusCode: http.StatusBadGateway}
		}
		s.Close()
		return zero, err
	}
	return s, nil
}

// call runs do on m's targets in the strategy's order until one succeeds
// or fails in a way another target would not change. A stream's attempt
// context outlives call (it is the stream's), ending with ctx.
func call[T any](ctx context.Context, m *Model, stream bool, do func(context.Context, *Target) (T, error)) (T, error) {
	entry := accesslog.From(ctx)
	if m.group == nil {
		// A group of one: no choice, no cooldown, nothing measured.
		t := m.Targets[0]
		entry.SetTarget(t.Name)
		return do(ctx, t)
	}
	return callGroup(ctx, m, stream, do)
}

// callGroup is call for a group of targets. It is apart from call so that
// a single target's call, most models', has a small frame: a stream's
// setup runs on top of it (see chatConverter.message in internal/openai).
func callGroup[T any](ctx context.Context, m *Model, stream bool, do func(context.Context, *Target) (T, error)) (T, error) {
	entry := accesslog.From(ctx)
	var zero T
	var tried []string
	var last error
	for _, t := range m.group.order(time.Now()) {
		entry.SetTarget(t.Name)
		entry.SetBedrockModel(t.ModelID, t.Region) // priced by the target that served
		v, err := attempt(ctx, m, t, stream, do)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil || !Failover(err) {
			return zero, err
		}
		tried, last = append(tried, t.Name), err
		f := Classify(err)
		attrs := []any{"model", m.Name, "target", t.Name, "error", string(f.Kind), "status", f.Status}
		if f.Code != "" {
			attrs = append(attrs, "code", f.Code)
		}
		// The target's own limiter being full says nothing of its health.
		if !errors.Is(err, bedrock.ErrLimited) {
			attrs = append(attrs, "cooldown", t.failed(m.Routing.Cooldown, time.Now()))
		}
		m.log.Warn("target failed; trying the next", attrs...)
	}
	return zero, &ExhaustedError{Model: m.Name, Tried: tried, Err: last}
}

// attempt runs do on t, bounded by the model's attempt_timeout until it
// returns (for a stream: until its first event; the stream then lives as
// long as ctx). t counts as in flight until then.
func attempt[T any](ctx context.Context, m *Model, t *Target, stream bool, do func(context.Context, *Target) (T, error)) (T, error) {
	actx, cancel := context.WithCancel(ctx)
	var expired atomic.Bool
	var timer *time.Timer
	if d := m.Routing.AttemptTimeout; d > 0 {
		timer = time.AfterFunc(d, func() { expired.Store(true); cancel() })
	}
	t.inflight.Add(1)
	start := time.Now()
	v, err := do(actx, t)
	if timer != nil {
		timer.Stop()
	}
	if err == nil && stream {
		t.succeeded(time.Since(start))
		// In flight until the stream's context (the surface's) ends.
		context.AfterFunc(actx, func() { t.inflight.Add(-1); cancel() })
		return v, nil
	}
	t.inflight.Add(-1)
	cancel()
	if err == nil {
		t.succeeded(time.Since(start))
		return v, nil
	}
	if expired.Load() && ctx.Err() == nil {
		err = fmt.Errorf("target %s did not answer within attempt_timeout %v: %w", t.Name, m.Routing.AttemptTimeout, context.DeadlineExceeded)
	}
	return v, err
}

// Failover reports whether err is a failure of the target rather than of
// the request, so another target (or a fallback model) may succeed:
// throttling and quotas, unavailability, timeouts, unreachable endpoints,
// 5xx, and what is per target: access denied (credentials, model access
// and the model's existence are per account and region: 403 and 404
// move on). Validation errors (400) and a client gone away never do.
func Failover(err error) bool {
	switch Classify(err).Kind {
	case FailureRateLimit, FailureUpstreamUnavailable, FailureUpstreamTimeout, FailureUpstreamError, FailureNotFound:
		return true
	}
	return false
}

// ExhaustedError is the failure of a call every target of a model failed
// (the last target's error, which Classify reads through Unwrap).
type ExhaustedError struct {
	Model string
	Tried []string // the targets, in the order tried
	Err   error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("model %s: every target failed (%s); the last: %v", e.Model, strings.Join(e.Tried, ", "), e.Err)
}

func (e *ExhaustedError) Unwrap() error { return e.Err }

// Fallback runs call for m and, while it fails in a way another model may
// not (Failover) and ctx lasts, for each of m's fallback models in order:
// call builds the request for the model it is given (the same translation
// as a direct request to it) and makes the call; a fallback the request's
// key may not use is skipped. It returns the last call's error. Every surface's fallback goes through here.
func Fallback(ctx context.Context, m *Model, call func(*Model) error) error {
	err := call(m)
	if err == nil || len(m.Fallbacks) == 0 {
		return err
	}
	return fallback(ctx, m, call, err)
}

// fallback tries m's fallbacks after m failed with err. It is apart from
// Fallback so that the frame every request runs on is small (see
// callGroup).
func fallback(ctx context.Context, m *Model, call func(*Model) error, err error) error {
	for _, fb := range m.Fallbacks {
		if err == nil || ctx.Err() != nil || !Failover(err) {
			break
		}
		if !Listed(ctx, fb) {
			continue // the request's key may not use this model
		}
		m.log.Warn("model failed; trying its fallback", "model", m.Name, "fallback", fb.Name, "error", string(Classify(err).Kind))
		err = call(fb)
	}
	return err
}
