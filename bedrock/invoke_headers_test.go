package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// invHeaderServer records the last request and answers with respHeader and
// body (an empty event stream for the streaming path).
type invHeaderServer struct {
	mu         sync.Mutex
	header     http.Header
	path       string
	body       []byte
	n          int
	respHeader map[string]string
}

func (s *invHeaderServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.header, s.path, s.body = r.Header.Clone(), r.URL.EscapedPath(), b
	s.n++
	s.mu.Unlock()
	for k, v := range s.respHeader {
		w.Header().Set(k, v)
	}
	if strings.HasSuffix(r.URL.Path, "/invoke-with-response-stream") {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

func newInvHeaderServer(t *testing.T) (*invHeaderServer, *Client) {
	s := &invHeaderServer{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, newInvClient(t, srv)
}

func TestInvokeModelHeaders(t *testing.T) {
	meta := map[string]string{"team": "search", "ticket": "Q-1"}
	metaJSON, _ := json.Marshal(meta)
	tests := []struct {
		name string
		in   InvokeModelInput
		want map[string]string // header -> value ("" means absent)
	}{
		{"defaults", InvokeModelInput{}, map[string]string{
			"Content-Type": "application/json", "Accept": "application/json",
			"X-Amzn-Bedrock-Trace": "", "X-Amzn-Bedrock-GuardrailIdentifier": "",
			"X-Amzn-Bedrock-PerformanceConfig-Latency": "", "X-Amzn-Bedrock-Service-Tier": "",
			"X-Amzn-Bedrock-Request-Metadata": "", "X-Amzn-Bedrock-Accept": "",
		}},
		{"content type and accept", InvokeModelInput{ContentType: "application/octet-stream", Accept: "*/*"},
			map[string]string{"Content-Type": "application/octet-stream", "Accept": "*/*"}},
		{"trace", InvokeModelInput{Trace: TraceEnabledFull}, map[string]string{"X-Amzn-Bedrock-Trace": "ENABLED_FULL"}},
		{"guardrail", InvokeModelInput{GuardrailIdentifier: "gr1abc", GuardrailVersion: "DRAFT"}, map[string]string{
			"X-Amzn-Bedrock-GuardrailIdentifier": "gr1abc", "X-Amzn-Bedrock-GuardrailVersion": "DRAFT"}},
		{"latency", InvokeModelInput{PerformanceConfigLatency: LatencyOptimized},
			map[string]string{"X-Amzn-Bedrock-PerformanceConfig-Latency": "optimized"}},
		{"service tier", InvokeModelInput{ServiceTier: "flex"}, map[string]string{"X-Amzn-Bedrock-Service-Tier": "flex"}},
		{"request metadata", InvokeModelInput{RequestMetadata: meta},
			map[string]string{"X-Amzn-Bedrock-Request-Metadata": string(metaJSON)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newInvHeaderServer(t)
			tt.in.Body = []byte(`{"inputText":"hi"}`)
			out, err := c.InvokeModel(context.Background(), "amazon.titan-text-lite-v1", &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(out.Body) != `{"ok":true}` || string(s.body) != `{"inputText":"hi"}` {
				t.Errorf("body sent %q, received %q", s.body, out.Body)
			}
			for k, v := range tt.want {
				if got := s.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestInvokeModelWithResponseStreamHeaders(t *testing.T) {
	s, c := newInvHeaderServer(t)
	st, err := c.InvokeModelWithResponseStream(context.Background(), "anthropic.claude-v2", &InvokeModelInput{
		Body: []byte(`{}`), Accept: "application/json", Trace: TraceEnabled, ServiceTier: "priority",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Next() || st.Err() != nil {
		t.Errorf("empty stream: Next true or Err %v", st.Err())
	}
	if st.InvocationMetrics() != nil {
		t.Errorf("metrics without a chunk: %+v", st.InvocationMetrics())
	}
	for k, v := range map[string]string{
		"X-Amzn-Bedrock-Accept": "application/json", "Accept": "", "Content-Type": "application/json",
		"X-Amzn-Bedrock-Trace": "ENABLED", "X-Amzn-Bedrock-Service-Tier": "priority",
	} {
		if got := s.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if s.path != "/model/anthropic.claude-v2/invoke-with-response-stream" {
		t.Errorf("path = %q", s.path)
	}
}

func TestInvokeModelPathEscapesARN(t *testing.T) {
	s, c := newInvHeaderServer(t)
	arn := "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"
	if _, err := c.InvokeModel(context.Background(), arn, &InvokeModelInput{Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	want := "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke"
	if s.path != want {
		t.Errorf("path = %q, want %q", s.path, want)
	}
}

func TestInvokeModelInputErrors(t *testing.T) {
	big := map[string]string{"k": strings.Repeat("x", 9000)}
	tests := []struct {
		name string
		in   *InvokeModelInput
		want string
	}{
		{"nil", nil, "nil request"},
		{"empty model ID", &InvokeModelInput{}, "empty model ID"},
		{"guardrail id without version", &InvokeModelInput{GuardrailIdentifier: "abc"}, "GuardrailIdentifier and GuardrailVersion"},
		{"guardrail version without id", &InvokeModelInput{GuardrailVersion: "1"}, "GuardrailIdentifier and GuardrailVersion"},
		{"metadata too large", &InvokeModelInput{RequestMetadata: big}, "limit is 8500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newInvHeaderServer(t)
			model := "m"
			if tt.name == "empty model ID" {
				model = ""
			}
			_, err := c.InvokeModel(context.Background(), model, tt.in)
			var op *OpError
			if !errors.As(err, &op) || op.Op != "InvokeModel" || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("InvokeModel error = %v, want InvokeModel: ...%s...", err, tt.want)
			}
			_, err = c.InvokeModelWithResponseStream(context.Background(), model, tt.in)
			if !errors.As(err, &op) || op.Op != "InvokeModelWithResponseStream" || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("stream error = %v", err)
			}
			if s.n != 0 {
				t.Errorf("%d requests sent for an invalid input", s.n)
			}
		})
	}
}

func TestInvokeModelResponseHeaders(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   InvokeMetadata
	}{
		{"all", map[string]string{
			"X-Amzn-Bedrock-Input-Token-Count": "2701", "X-Amzn-Bedrock-Output-Token-Count": "10",
			"X-Amzn-Bedrock-Invocation-Latency": "387", "X-Amzn-Bedrock-Cache-Read-Input-Token-Count": "2700",
			"X-Amzn-Bedrock-Cache-Write-Input-Token-Count": "5", "X-Amzn-Bedrock-PerformanceConfig-Latency": "optimized",
			"X-Amzn-Bedrock-Service-Tier": "priority", "X-Amzn-RequestId": "rid-1",
		}, InvokeMetadata{
			InputTokenCount: 2701, OutputTokenCount: 10, InvocationLatency: 387 * time.Millisecond,
			CacheReadInputTokenCount: 2700, CacheWriteInputTokenCount: 5,
			PerformanceConfigLatency: "optimized", ServiceTier: "priority", ResponseMetadata: ResponseMetadata{RequestID: "rid-1"},
		}},
		{"absent", map[string]string{}, InvokeMetadata{}},
		{"malformed reads as zero", map[string]string{
			"X-Amzn-Bedrock-Input-Token-Count": "many", "X-Amzn-Bedrock-Output-Token-Count": "-3",
			"X-Amzn-Bedrock-Invocation-Latency": "1.5",
		}, InvokeMetadata{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newInvHeaderServer(t)
			s.respHeader = tt.header
			out, err := c.InvokeModel(context.Background(), "m", &InvokeModelInput{Body: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			got := out.InvokeMetadata
			got.Header = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("metadata = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// A nil request, typed or not, is refused before anything is sent (it
// would otherwise travel as the body "null").
func TestInvokeJSONNilRequest(t *testing.T) {
	c := &Client{} // never reached: the check comes first
	var typed *AnthropicRequest
	for _, req := range []any{nil, typed, map[string]any(nil)} {
		if _, _, err := InvokeJSON[AnthropicResponse](context.Background(), c, "m", req, nil); !errors.Is(err, errNilRequest) {
			t.Errorf("InvokeJSON(%T nil) err = %v, want errNilRequest", req, err)
		}
	}
	if _, err := c.InvokeAnthropic(context.Background(), "m", nil); !errors.Is(err, errNilRequest) {
		t.Errorf("InvokeAnthropic(nil) err = %v", err)
	}
}
