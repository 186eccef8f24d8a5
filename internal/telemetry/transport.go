package telemetry

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/quarry-dev/quarry/internal/accesslog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Transport wraps next (the upstream transport every Bedrock client
// shares) so that each attempt (every retry inside a bedrock.Client, every
// failover to another target) gets a client span, a child of the request's
// span. The span lasts until the response body is closed, so a stream's
// span covers the stream. The traceparent is propagated to Bedrock too: it
// ignores it, but a proxy in between (or the emulator) may not, and it is
// not signed, so it never breaks SigV4.
func (t *Telemetry) Transport(next http.RoundTripper) http.RoundTripper {
	return &transport{t: t, next: next}
}

type transport struct {
	t    *Telemetry
	next http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	op, model := bedrockOperation(req.URL)
	// The configured target the pipeline chose (a model group's), else
	// where the call goes.
	target := accesslog.From(req.Context()).Target()
	if target == "" {
		target = req.URL.Host
		if model != "" {
			target += "/" + model
		}
	}
	var ordinal, retry int
	a, _ := req.Context().Value(attemptsKey{}).(*attempts)
	if a != nil {
		ordinal, retry = a.next(target)
	}
	ctx, span := tr.t.tracer.Start(req.Context(), "bedrock "+op, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname()),
			attribute.String("rpc.method", op),
			attribute.String("quarry.target", target),
			attribute.Int("http.request.resend_count", retry),
			providerAttr,
		}
		if model != "" {
			attrs = append(attrs, attribute.String("gen_ai.request.model", model))
		}
		if ordinal > 0 {
			attrs = append(attrs, attribute.Int("quarry.attempt", ordinal))
		}
		span.SetAttributes(attrs...)
		if tr.t.capture {
			captureInput(span, req)
		}
	}
	// RoundTrip must not change the caller's request: a shallow copy with
	// its own header map carries the traceparent.
	out := req.WithContext(ctx)
	out.Header = req.Header.Clone()
	tr.t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := tr.next.RoundTrip(out)
	if err != nil {
		if a != nil {
			a.fail(target)
		}
		span.RecordError(err)
		span.SetAttributes(attribute.String("error.type", "transport"))
		span.SetStatus(codes.Error, "transport error")
		span.End()
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if id := resp.Header.Get("X-Amzn-Requestid"); id != "" {
		span.SetAttributes(attribute.String("aws.request_id", id))
	}
	if resp.StatusCode >= 400 {
		if a != nil {
			a.fail(target)
		}
		et := resp.Header.Get("X-Amzn-Errortype")
		if i := strings.IndexByte(et, ':'); i >= 0 {
			et = et[:i]
		}
		if et == "" {
			et = http.StatusText(resp.StatusCode)
		}
		span.SetAttributes(attribute.String("error.type", et))
		span.SetStatus(codes.Error, et)
	}
	if tr.t.capture && resp.StatusCode < 300 && op == "Converse" && span.IsRecording() {
		captureOutput(span, resp)
	}
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	return resp, nil
}

// spanBody ends the attempt's span when the body is read to its end or
// closed.
type spanBody struct {
	io.ReadCloser
	span trace.Span
	once sync.Once
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(func() { b.span.End() })
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.span.End() })
	return err
}

// bedrockOperation names a Bedrock Runtime call from its URL path
// (/model/{id}/converse, …) and its model ID.
func bedrockOperation(u *url.URL) (op, model string) {
	p := u.EscapedPath()
	rest, ok := strings.CutPrefix(p, "/model/")
	if !ok {
		switch {
		case strings.HasPrefix(p, "/guardrail/"):
			return "ApplyGuardrail", ""
		case strings.HasPrefix(p, "/async-invoke"):
			return "AsyncInvoke", ""
		}
		return "call", ""
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "call", ""
	}
	model, action := rest[:i], rest[i+1:]
	if m, err := url.PathUnescape(model); err == nil {
		model = m
	}
	switch action {
	case "converse":
		op = "Converse"
	case "converse-stream":
		op = "ConverseStream"
	case "invoke":
		op = "InvokeModel"
	case "invoke-with-response-stream":
		op = "InvokeModelWithResponseStream"
	case "count-tokens":
		op = "CountTokens"
	default:
		op = action
	}
	return op, model
}
