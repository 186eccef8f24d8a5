package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-dev/quarry/internal/cassette"
)

// These tests replay the VCR recordings of real Bedrock traffic in
// testdata/bedrock-recordings at the repository root (copied there from the
// steering shared/testdata) and check the library against values read
// from the cassettes by hand.

const cvRecordingsDir = cassette.Dir

// cvLoadCassette reads one of the shared recordings.
func cvLoadCassette(t testing.TB, name string) *cassette.Cassette {
	t.Helper()
	c, err := cassette.Load(filepath.Join(cvRecordingsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cvSeenRequest is what the replay server received.
type cvSeenRequest struct {
	method, uri, contentType string
	body                     []byte
}

// cvReplayServer serves a cassette's interactions in order, with the
// recorded status, headers and body. Event-stream bodies are written in
// small flushed chunks so that frames straddle HTTP chunk boundaries.
type cvReplayServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []cvSeenRequest
}

func cvNewReplayServer(t testing.TB, c *cassette.Cassette) *cvReplayServer {
	s := &cvReplayServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.seen)
		s.seen = append(s.seen, cvSeenRequest{r.Method, r.RequestURI, r.Header.Get("Content-Type"), body})
		s.mu.Unlock()
		if n >= len(c.Interactions) {
			http.Error(w, "no more interactions", http.StatusTeapot)
			return
		}
		in := &c.Interactions[n]
		for k, vs := range in.Response.Headers {
			switch http.CanonicalHeaderKey(k) {
			case "Content-Length", "Transfer-Encoding", "Connection":
				continue // net/http frames the body itself
			}
			w.Header()[http.CanonicalHeaderKey(k)] = vs
		}
		w.WriteHeader(in.Response.Status)
		b := in.Response.Body
		if !strings.Contains(in.Response.Headers.Get("Content-Type"), "eventstream") {
			w.Write(b)
			return
		}
		f := w.(http.Flusher)
		for len(b) > 0 {
			k := min(len(b), 61)
			w.Write(b[:k])
			f.Flush()
			b = b[k:]
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *cvReplayServer) requests() []cvSeenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cvSeenRequest(nil), s.seen...)
}

// cvTestClient is a client for a loopback server; static keys, so that no
// credential chain runs.
func cvTestClient(t testing.TB, url string) *Client {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	}
	c, err := New(context.Background(), withTestProto(Config{Endpoint: url, AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "us-east-1"}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type cvTool struct{ id, name, input string }

// cvWant is what one interaction must decode to.
type cvWant struct {
	path    string // escaped request path as recorded
	text    string
	tools   []cvTool
	stop    string
	usage   TokenUsage
	latency int64
	reqID   string
	events  int // stream events (known types)

	errCode, errMsg string
	status          int
}

var cvCases = []struct {
	cassette string
	stream   bool
	model    string
	want     []cvWant
}{
	{"test_converse_with_content.yaml", false, "amazon.titan-text-lite-v1", []cvWant{{
		path: "/model/amazon.titan-text-lite-v1/converse",
		text: "Hi, how can I help you", stop: StopReasonMaxTokens,
		usage: TokenUsage{InputTokens: 8, OutputTokens: 10, TotalTokens: 18}, latency: 608,
		reqID: "180bdcbc-0fea-4b99-a0f0-b858dd830a83",
	}}},
	{"test_converse_no_content.yaml", false, "amazon.titan-text-lite-v1", []cvWant{{
		path: "/model/amazon.titan-text-lite-v1/converse",
		text: "Hello, how are you doing", stop: StopReasonMaxTokens,
		usage: TokenUsage{InputTokens: 8, OutputTokens: 10, TotalTokens: 18}, latency: 683,
		reqID: "ff8f385b-009e-49da-b124-1359bc244f10",
	}}},
	{"test_converse_with_content_different_events.yaml", false, "anthropic.claude-v2", []cvWant{{
		path: "/model/anthropic.claude-v2/converse",
		text: "This is a test", stop: StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 37, OutputTokens: 8, TotalTokens: 45}, latency: 408,
		reqID: "5273de67-e76c-45ad-be0a-558957af8046",
	}}},
	{"test_converse_no_content_different_events.yaml", false, "anthropic.claude-v2", []cvWant{{
		path: "/model/anthropic.claude-v2/converse",
		text: "This is a test", stop: StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 37, OutputTokens: 8, TotalTokens: 45}, latency: 489,
		reqID: "67f0b4ef-e481-4c12-853b-d8e992395129",
	}}},
	{"test_converse_with_invalid_model.yaml", false, "does-not-exist", []cvWant{{
		path:    "/model/does-not-exist/converse",
		errCode: "ValidationException", errMsg: "The provided model identifier is invalid.", status: 400,
		reqID: "7fdbc480-6d28-4d1c-abbc-bd7f17c7dfec",
	}}},
	{"test_converse_tool_call_with_content.yaml", false, "amazon.nova-micro-v1:0", []cvWant{{
		path: "/model/amazon.nova-micro-v1%3A0/converse",
		text: "<thinking> To provide the weather information for both Seattle and San Francisco, I will use the `get_current_weather` tool for each city. I will start with Seattle and then proceed with San Francisco.</thinking>\n",
		tools: []cvTool{
			{"tooluse_tggNKJbGSrm48inRqf3Rvw", "get_current_weather", `{"location":"Seattle"}`},
			{"tooluse_bRV9WIcFSxyrLY6-MVkZRA", "get_current_weather", `{"location":"San Francisco"}`},
		},
		stop:  StopReasonToolUse,
		usage: TokenUsage{InputTokens: 415, OutputTokens: 190, TotalTokens: 605}, latency: 658,
		reqID: "c8537d75-1a24-432f-a26e-1712281540cf",
	}, {
		path:  "/model/amazon.nova-micro-v1%3A0/converse",
		text:  "<thinking> I have received the weather information for both cities. Now I will compile this information and present it to the User.</thinking>\n\nThe current weather in Seattle is 50 degrees and it's raining. In San Francisco, it's 70 degrees and sunny today.",
		stop:  StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 553, OutputTokens: 59, TotalTokens: 612}, latency: 496,
		reqID: "ce574485-9823-4db9-8974-cdbeacd6e0f3",
	}}},
	{"test_converse_tool_call_no_content.yaml", false, "amazon.nova-micro-v1:0", []cvWant{{
		path: "/model/amazon.nova-micro-v1%3A0/converse",
		text: "<thinking>The User wants to know the current weather in two different cities: Seattle and San Francisco. To provide this information, I will use the available tool to get the current weather in each of these locations.</thinking>\n",
		tools: []cvTool{
			{"tooluse_AOOBCtPEQ7SHozPsXCqgNg", "get_current_weather", `{"location":"Seattle"}`},
			{"tooluse_biMWVYVLSR-qN88TpGnkUA", "get_current_weather", `{"location":"San Francisco"}`},
		},
		stop:  StopReasonToolUse,
		usage: TokenUsage{InputTokens: 415, OutputTokens: 180, TotalTokens: 595}, latency: 563,
		reqID: "c2e62244-dcdd-4453-9125-7f9c5c31e51d",
	}, {
		path:  "/model/amazon.nova-micro-v1%3A0/converse",
		text:  "<thinking>I have obtained the current weather information for both Seattle and San Francisco using the provided tool. Now, I will present this information to the User.</thinking>\n\nThe current weather is as follows:\n- In Seattle: It is 50 degrees and raining.\n- In San Francisco: It is 70 degrees and sunny.\n\nIf you need any more information, feel free to ask!",
		stop:  StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 553, OutputTokens: 80, TotalTokens: 633}, latency: 642,
		reqID: "03795cb8-e59d-4e27-8031-b988d40ebe0b",
	}}},

	{"test_converse_stream_with_content.yaml", true, "amazon.titan-text-lite-v1", []cvWant{{
		path: "/model/amazon.titan-text-lite-v1/converse-stream",
		text: "I am here and ready to assist", stop: StopReasonMaxTokens,
		usage: TokenUsage{InputTokens: 8, OutputTokens: 10, TotalTokens: 18}, latency: 605,
		reqID: "77f2fab1-08a9-4235-a402-e0e5f3a5e117", events: 5,
	}}},
	{"test_converse_stream_no_content.yaml", true, "amazon.titan-text-lite-v1", []cvWant{{
		path: "/model/amazon.titan-text-lite-v1/converse-stream",
		text: "Sure, did you have a question", stop: StopReasonMaxTokens,
		usage: TokenUsage{InputTokens: 8, OutputTokens: 10, TotalTokens: 18}, latency: 696,
		reqID: "a2ff4e96-777d-4bf0-9db7-8a9aa7aecf78", events: 5,
	}}},
	{"test_converse_stream_close_before_consumption.yaml", true, "amazon.titan-text-lite-v1", []cvWant{{
		path: "/model/amazon.titan-text-lite-v1/converse-stream",
		text: "Hi, did you have a question", stop: StopReasonMaxTokens,
		usage: TokenUsage{InputTokens: 8, OutputTokens: 10, TotalTokens: 18}, latency: 625,
		reqID: "5aaaa521-d2c6-4980-ba0a-7bba19633a40", events: 5,
	}}},
	// The recording behind this name has no exception frame (the original
	// test injected the error client-side); in-stream exceptions are covered
	// in eventstream_test.go and stream_test.go.
	{"test_converse_stream_handles_event_stream_error.yaml", true, "amazon.titan-text-lite-v1", []cvWant{{
		path: "/model/amazon.titan-text-lite-v1/converse-stream",
		text: "Sure, how can I help you", stop: StopReasonMaxTokens,
		usage: TokenUsage{InputTokens: 8, OutputTokens: 10, TotalTokens: 18}, latency: 613,
		reqID: "63519949-dc02-437f-9ee4-d2eba90685e4", events: 5,
	}}},
	{"test_converse_stream_with_content_different_events.yaml", true, "anthropic.claude-v2", []cvWant{{
		path: "/model/anthropic.claude-v2/converse-stream",
		text: "This is a test", stop: StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 37, OutputTokens: 8, TotalTokens: 45}, latency: 508,
		reqID: "829dbcea-d3df-4781-be84-c1c2d5c420bd", events: 8,
	}}},
	{"test_converse_stream_no_content_different_events.yaml", true, "anthropic.claude-v2", []cvWant{{
		path: "/model/anthropic.claude-v2/converse-stream",
		text: "This is a test", stop: StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 37, OutputTokens: 8, TotalTokens: 45}, latency: 361,
		reqID: "e443d332-cba6-4076-a4f6-86d6321eada3", events: 8,
	}}},
	{"test_converse_stream_with_invalid_model.yaml", true, "does-not-exist", []cvWant{{
		path:    "/model/does-not-exist/converse-stream",
		errCode: "ValidationException", errMsg: "The provided model identifier is invalid.", status: 400,
		reqID: "32ef4ce3-5d0d-4ac2-9928-b7648a98c5b2",
	}}},
	{"test_converse_stream_with_content_tool_call.yaml", true, "amazon.nova-micro-v1:0", []cvWant{{
		path: "/model/amazon.nova-micro-v1%3A0/converse-stream",
		text: "<thinking> The User has asked for the current weather in two different cities: Seattle and San Francisco. To provide this information, I will use the `get_current_weather` tool for each city. I need to call the tool twice, once for each city.</thinking>\n",
		tools: []cvTool{
			{"tooluse_JZ11QcxSQ3m3xacMQKVIKw", "get_current_weather", `{"location":"Seattle"}`},
			{"tooluse_-hxBEEwGRc-VQqC2i7SFqg", "get_current_weather", `{"location":"San Francisco"}`},
		},
		stop:  StopReasonToolUse,
		usage: TokenUsage{InputTokens: 415, OutputTokens: 202, TotalTokens: 617}, latency: 625,
		reqID: "74f31869-e1ef-4224-b9d8-3f143d117f77", events: 67,
	}, {
		path:  "/model/amazon.nova-micro-v1%3A0/converse-stream",
		text:  "<thinking> I have received the weather information for both cities. Now I will provide the details to the User.</thinking>\n\nThe current weather in Seattle is 50 degrees and raining. In San Francisco, the weather is 70 degrees and sunny.",
		stop:  StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 565, OutputTokens: 52, TotalTokens: 617}, latency: 479,
		reqID: "a23749ab-7ba7-45b1-81c4-f7bc1de0f139", events: 56,
	}}},
	{"test_converse_stream_no_content_tool_call.yaml", true, "amazon.nova-micro-v1:0", []cvWant{{
		path: "/model/amazon.nova-micro-v1%3A0/converse-stream",
		text: "<thinking> The User has asked for the current weather in two different cities: Seattle and San Francisco. To provide this information, I will need to use the `get_current_weather` tool twice, once for each city. </thinking>\n",
		tools: []cvTool{
			{"tooluse_IIpMFTgaRVGyI7x4sJfKzQ", "get_current_weather", `{"location":"Seattle"}`},
			{"tooluse_KZPBYYUtS72Um_JDI8hTow", "get_current_weather", `{"location":"San Francisco"}`},
		},
		stop:  StopReasonToolUse,
		usage: TokenUsage{InputTokens: 415, OutputTokens: 195, TotalTokens: 610}, latency: 593,
		reqID: "b386c247-d072-4cc9-a14d-4d63ef2952ca", events: 60,
	}, {
		path:  "/model/amazon.nova-micro-v1%3A0/converse-stream",
		text:  "<thinking> I have received the weather information for both cities. Now, I will summarize this information for the User. </thinking>\n\nThe current weather in Seattle is 50 degrees and it is raining. Meanwhile, the weather in San Francisco is 70 degrees and sunny.",
		stop:  StopReasonEndTurn,
		usage: TokenUsage{InputTokens: 558, OutputTokens: 57, TotalTokens: 615}, latency: 490,
		reqID: "3b6454ed-7ed2-4289-b2ef-d41a4b135f4e", events: 61,
	}}},
	// Claude streams tool input in many fragments, the first one empty.
	{"test_converse_stream_tool_call_parsing_errors.yaml", true, "anthropic.claude-3-sonnet-20240229-v1:0", []cvWant{{
		path: "/model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse-stream",
		tools: []cvTool{{"tooluse_FQQ2AuomSWSry_S27YpRbA", "get_cities_list",
			`{"cities":["Tokyo","Osaka","Kyoto","Hiroshima","Nara","Yokohama","Sapporo","Fukuoka","Sendai","Nagoya"]}`}},
		stop:  StopReasonToolUse,
		usage: TokenUsage{InputTokens: 295, OutputTokens: 43, TotalTokens: 338}, latency: 2499,
		reqID: "ec25d949-bde0-4ed6-9fd5-4fe595818b33", events: 24,
	}, {
		path: "/model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse-stream",
		text: "\n\n\nThe tool provided a result about the weather, which was not what I asked for. I requested a list of 10 popular tourist cities in Japan. Let me try again:",
		tools: []cvTool{{"tooluse_wl-Hty8UR4W2IonLjtoNbw", "get_cities_list",
			`{"cities":["Tokyo","Osaka","Kyoto","Hiroshima","Nara","Yokohama","Sapporo","Fukuoka","Sendai","Nagoya"]}`}},
		stop:  StopReasonToolUse,
		usage: TokenUsage{InputTokens: 422, OutputTokens: 82, TotalTokens: 504}, latency: 3089,
		reqID: "5d12cdb0-59b9-493a-b41d-4d236934f15d", events: 59,
	}}},
}

// TestRecordingsCovered fails when a Converse cassette has no table row.
func TestRecordingsCovered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(cvRecordingsDir, "test_converse_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Converse cassettes in %s (testdata/bedrock-recordings at the repository root): %v", cvRecordingsDir, err)
	}
	var have, want []string
	for _, f := range files {
		have = append(have, filepath.Base(f))
	}
	for _, c := range cvCases {
		want = append(want, c.cassette)
	}
	sort.Strings(have)
	sort.Strings(want)
	if !reflect.DeepEqual(have, want) {
		t.Errorf("cassettes %v\ntable rows %v", have, want)
	}
}

func TestRecordings(t *testing.T) {
	for _, tc := range cvCases {
		t.Run(strings.TrimSuffix(tc.cassette, ".yaml"), func(t *testing.T) {
			cas := cvLoadCassette(t, tc.cassette)
			if len(cas.Interactions) != len(tc.want) {
				t.Fatalf("%d interactions in the cassette, %d expected rows", len(cas.Interactions), len(tc.want))
			}
			srv := cvNewReplayServer(t, cas)
			c := cvTestClient(t, srv.URL)
			for i, want := range tc.want {
				in := &cas.Interactions[i]
				var req ConverseRequest
				if err := json.Unmarshal([]byte(in.Request.Body), &req); err != nil {
					t.Fatalf("interaction %d: recorded request does not decode into ConverseRequest: %v", i, err)
				}
				var got *ConverseResponse
				var err error
				if tc.stream {
					got, err = cvRunStream(t, c, tc.model, &req, want)
				} else {
					got, err = c.Converse(context.Background(), tc.model, &req)
				}

				seen := srv.requests()
				if len(seen) != i+1 {
					t.Fatalf("interaction %d: server saw %d requests", i, len(seen))
				}
				sr := seen[i]
				if sr.method != "POST" || sr.uri != want.path {
					t.Errorf("interaction %d: request %s %s, want POST %s", i, sr.method, sr.uri, want.path)
				}
				if !strings.HasSuffix(in.Request.URI, want.path) {
					t.Errorf("interaction %d: row path %s is not the recorded %s", i, want.path, in.Request.URI)
				}
				if sr.contentType != "application/json" {
					t.Errorf("interaction %d: Content-Type %q", i, sr.contentType)
				}
				cvSameJSON(t, sr.body, []byte(in.Request.Body))

				if want.errCode != "" {
					cvCheckError(t, err, want, tc.stream)
					continue
				}
				if err != nil {
					t.Fatalf("interaction %d: %v", i, err)
				}
				cvCheckResponse(t, got, want)
			}
		})
	}
}

// cvRunStream iterates a stream event by event (checking the event count and
// the unique request id), folding events into a StreamAccumulator.
func cvRunStream(t *testing.T, c *Client, model string, req *ConverseRequest, want cvWant) (*ConverseResponse, error) {
	t.Helper()
	s, err := c.ConverseStream(context.Background(), model, req)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if s.RequestID() != want.reqID {
		t.Errorf("stream RequestID %q, want %q", s.RequestID(), want.reqID)
	}
	var acc StreamAccumulator
	n := 0
	for s.Next() {
		n++
		ev := s.Current()
		if cvMembers(ev) != 1 {
			t.Errorf("event %d (%s) has %d members set", n, ev.Type, cvMembers(ev))
		}
		if err := acc.Add(ev); err != nil {
			t.Errorf("Add: %v", err)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if n != want.events {
		t.Errorf("%d events, want %d", n, want.events)
	}
	if got := c.limiter.inFlight(); got != 0 {
		t.Errorf("limiter slots in flight after the stream ended: %d", got)
	}
	resp, err := acc.Response()
	if resp != nil {
		resp.RequestID = s.RequestID()
	}
	return resp, err
}

func cvMembers(ev StreamEvent) int {
	n := 0
	for _, set := range []bool{ev.MessageStart != nil, ev.ContentBlockStart != nil, ev.ContentBlockDelta != nil,
		ev.ContentBlockStop != nil, ev.MessageStop != nil, ev.Metadata != nil} {
		if set {
			n++
		}
	}
	return n
}

func cvCheckResponse(t *testing.T, got *ConverseResponse, want cvWant) {
	t.Helper()
	if got.Text() != want.text {
		t.Errorf("Text() = %q\nwant %q", got.Text(), want.text)
	}
	if got.StopReason != want.stop {
		t.Errorf("StopReason %q, want %q", got.StopReason, want.stop)
	}
	if !reflect.DeepEqual(got.Usage, want.usage) {
		t.Errorf("Usage %+v, want %+v", got.Usage, want.usage)
	}
	if got.Metrics.LatencyMs != want.latency {
		t.Errorf("LatencyMs %d, want %d", got.Metrics.LatencyMs, want.latency)
	}
	if got.RequestID != want.reqID {
		t.Errorf("RequestID %q, want %q", got.RequestID, want.reqID)
	}
	if got.Output.Message == nil || got.Output.Message.Role != RoleAssistant {
		t.Errorf("output message %+v, want an assistant message", got.Output.Message)
	}
	tools := got.ToolUses()
	if len(tools) != len(want.tools) {
		t.Fatalf("%d tool uses, want %d: %+v", len(tools), len(want.tools), tools)
	}
	for i, w := range want.tools {
		g := tools[i]
		if g.ToolUseID != w.id || g.Name != w.name {
			t.Errorf("tool %d: %s %s, want %s %s", i, g.ToolUseID, g.Name, w.id, w.name)
		}
		cvSameJSON(t, g.Input, []byte(w.input))
	}
}

func cvCheckError(t *testing.T, err error, want cvWant, stream bool) {
	t.Helper()
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T), want a *Error", err, err)
	}
	if be.Code != want.errCode || be.Message != want.errMsg || be.StatusCode != want.status || be.RequestID != want.reqID || be.InStream {
		t.Errorf("error %+v\nwant code %s, message %q, status %d, request id %s", be, want.errCode, want.errMsg, want.status, want.reqID)
	}
	if !errors.Is(err, ErrValidation) {
		t.Errorf("errors.Is(err, ErrValidation) is false for %v", err)
	}
	op := "Converse"
	if stream {
		op = "ConverseStream"
	}
	var oe *OpError
	if !errors.As(err, &oe) || oe.Op != op {
		t.Errorf("error %v is not an *OpError for %s", err, op)
	}
}

// cvSameJSON compares two JSON documents semantically.
func cvSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("got invalid JSON %s: %v", got, err)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs:\n got %s\nwant %s", bytes.TrimSpace(got), cvCompact(want))
	}
}

func cvCompact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// TestRecordingsCollect replays every stream cassette through Collect, which
// must agree with the event-by-event accumulation above.
func TestRecordingsCollect(t *testing.T) {
	for _, tc := range cvCases {
		if !tc.stream || tc.want[0].errCode != "" {
			continue
		}
		t.Run(strings.TrimSuffix(tc.cassette, ".yaml"), func(t *testing.T) {
			cas := cvLoadCassette(t, tc.cassette)
			srv := cvNewReplayServer(t, cas)
			c := cvTestClient(t, srv.URL)
			for i, want := range tc.want {
				var req ConverseRequest
				if err := json.Unmarshal([]byte(cas.Interactions[i].Request.Body), &req); err != nil {
					t.Fatal(err)
				}
				s, err := c.ConverseStream(context.Background(), tc.model, &req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Collect()
				if err != nil {
					t.Fatalf("interaction %d: Collect: %v", i, err)
				}
				cvCheckResponse(t, got, want)
				if n := c.limiter.inFlight(); n != 0 {
					t.Errorf("limiter slots in flight after Collect: %d", n)
				}
			}
		})
	}
}

// TestRecordingCloseBeforeConsumption opens the recorded stream and closes
// it before reading an event: no events, no error, the slot is released.
func TestRecordingCloseBeforeConsumption(t *testing.T) {
	cas := cvLoadCassette(t, "test_converse_stream_close_before_consumption.yaml")
	srv := cvNewReplayServer(t, cas)
	c := cvTestClient(t, srv.URL)
	s, err := c.ConverseStream(context.Background(), "amazon.titan-text-lite-v1", &ConverseRequest{Messages: []Message{UserText("Say this is a test")}})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.limiter.inFlight(); n != 1 {
		t.Errorf("in flight while open: %d, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if s.Next() {
		t.Errorf("Next after Close returned an event: %+v", s.Current())
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after Close: %v", err)
	}
	if n := c.limiter.inFlight(); n != 0 {
		t.Errorf("in flight after Close: %d", n)
	}
}
