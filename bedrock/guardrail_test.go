package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValidateGuardrail(t *testing.T) {
	tests := []struct {
		id, version string
		wantErr     string // "" for valid
	}{
		{"abc123xyz", "1", ""},
		{"abc123xyz", "DRAFT", ""},
		{"abc123xyz", "99999999", ""},
		{"arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123xyz", "2", ""},
		{"arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:guardrail/abc", "DRAFT", ""},
		{"arn:aws-cn:bedrock:cn-north-1:123456789012:guardrail/abc", "1", ""},
		{"", "1", "identifier is empty"},
		{"ABC123", "1", "neither a guardrail ID"},
		{"abc-123", "1", "neither a guardrail ID"},
		{"arn:aws:bedrock:us-east-1:12345:guardrail/abc", "1", "neither a guardrail ID"},
		{"arn:aws:bedrock:us-east-1:123456789012:guardrail/", "1", "neither a guardrail ID"},
		{"arn:aws:bedrock:us-east-1:123456789012:agent/abc", "1", "neither a guardrail ID"},
		{"arn:aws:iam::123456789012:guardrail/abc", "1", "neither a guardrail ID"},
		{strings.Repeat("a", 2049), "1", "limit is 2048"},
		{"abc", "", "version is empty"},
		{"abc", "0", "must be a version number"},
		{"abc", "01", "must be a version number"},
		{"abc", "123456789", "must be a version number"},
		{"abc", "draft", "must be a version number"},
		{"abc", "1.0", "must be a version number"},
	}
	for _, tt := range tests {
		err := ValidateGuardrail(tt.id, tt.version)
		if tt.wantErr == "" && err != nil {
			t.Errorf("ValidateGuardrail(%.40q, %q) = %v, want nil", tt.id, tt.version, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ValidateGuardrail(%.40q, %q) = %v, want %q", tt.id, tt.version, err, tt.wantErr)
		}
	}
}

// A real-shaped ApplyGuardrail response (sensitive information masked).
const guardrailRespJSON = `{
  "usage": {"topicPolicyUnits": 1, "contentPolicyUnits": 1, "wordPolicyUnits": 1,
            "sensitiveInformationPolicyUnits": 1, "sensitiveInformationPolicyFreeUnits": 1,
            "contextualGroundingPolicyUnits": 0},
  "action": "GUARDRAIL_INTERVENED",
  "actionReason": "Guardrail masked.",
  "outputs": [{"text": "My email is {EMAIL}."}],
  "assessments": [{"sensitiveInformationPolicy": {"piiEntities": [{"match": "bob@example.com", "type": "EMAIL", "action": "ANONYMIZED", "detected": true}]}}],
  "guardrailCoverage": {"textCharacters": {"guarded": 28, "total": 28}}
}`

func TestApplyGuardrail(t *testing.T) {
	var gotPath, gotCT string
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotCT = r.URL.EscapedPath(), r.Header.Get("Content-Type")
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "rid-gr")
		io.WriteString(w, guardrailRespJSON)
	}))
	defer srv.Close()
	c := newInvClient(t, srv)

	req := &ApplyGuardrailRequest{
		Source: GuardrailSourceInput,
		Content: []GuardrailContent{
			GuardrailTextContent("My email is bob@example.com."),
			GuardrailTextContent("What is my email?", "query"),
			{Image: &GuardrailImage{Format: "png", Source: GuardrailImageSource{Bytes: []byte{0x89, 'P', 'N', 'G'}}}},
		},
		OutputScope: GuardrailScopeFull,
	}
	arn := "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123xyz"
	resp, err := c.ApplyGuardrail(context.Background(), arn, "DRAFT", req)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/guardrail/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aguardrail%2Fabc123xyz/version/DRAFT/apply"; gotPath != want {
		t.Errorf("path = %q\nwant %q", gotPath, want)
	}
	if gotCT != "application/json" {
		t.Errorf("Content-Type = %q", gotCT)
	}
	wantBody := `{"source":"INPUT","content":[{"text":{"text":"My email is bob@example.com."}},` +
		`{"text":{"text":"What is my email?","qualifiers":["query"]}},` +
		`{"image":{"format":"png","source":{"bytes":"iVBORw=="}}}],"outputScope":"FULL"}`
	if !invJSONEqual(t, gotBody, []byte(wantBody)) {
		t.Errorf("body = %s\nwant %s", gotBody, wantBody)
	}
	if !resp.Intervened() || resp.ActionReason != "Guardrail masked." || len(resp.Outputs) != 1 ||
		resp.Outputs[0].Text != "My email is {EMAIL}." || resp.RequestID != "rid-gr" {
		t.Errorf("response = %+v", resp)
	}
	if resp.Usage != (GuardrailUsage{TopicPolicyUnits: 1, ContentPolicyUnits: 1, WordPolicyUnits: 1,
		SensitiveInformationPolicyUnits: 1, SensitiveInformationPolicyFreeUnits: 1}) {
		t.Errorf("usage = %+v", resp.Usage)
	}
	if cov := resp.GuardrailCoverage; cov == nil || cov.TextCharacters == nil || *cov.TextCharacters != (GuardrailCovered{28, 28}) || cov.Images != nil {
		t.Errorf("coverage = %+v", cov)
	}
	var assessments []map[string]json.RawMessage
	if err := json.Unmarshal(resp.Assessments, &assessments); err != nil || len(assessments) != 1 || assessments[0]["sensitiveInformationPolicy"] == nil {
		t.Errorf("assessments = %s (%v)", resp.Assessments, err)
	}
	// The response re-encodes to the same JSON (member names).
	re, _ := json.Marshal(resp)
	if !invJSONEqual(t, re, []byte(guardrailRespJSON)) {
		t.Errorf("re-encoded = %s", re)
	}
}

func TestApplyGuardrailRejectsBadInputLocally(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	defer srv.Close()
	c := newInvClient(t, srv)
	req := &ApplyGuardrailRequest{Source: GuardrailSourceOutput, Content: []GuardrailContent{GuardrailTextContent("x")}}
	for _, tt := range []struct {
		id, version string
		req         *ApplyGuardrailRequest
	}{
		{"Bad_ID", "1", req},
		{"abc", "v1", req},
		{"abc", "1", nil},
	} {
		_, err := c.ApplyGuardrail(context.Background(), tt.id, tt.version, tt.req)
		var op *OpError
		if !errors.As(err, &op) || op.Op != "ApplyGuardrail" {
			t.Errorf("ApplyGuardrail(%q, %q) = %v", tt.id, tt.version, err)
		}
	}
	if calls != 0 {
		t.Errorf("%d requests sent", calls)
	}
}

func TestApplyGuardrailServiceError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.WriteHeader(404)
		io.WriteString(w, `{"message":"The guardrail identifier or version provided is invalid."}`)
	}))
	defer srv.Close()
	c := newInvClient(t, srv)
	_, err := c.ApplyGuardrail(context.Background(), "abc", "3", &ApplyGuardrailRequest{Source: "INPUT", Content: []GuardrailContent{GuardrailTextContent("x")}})
	if !errors.Is(err, ErrResourceNotFound) {
		t.Errorf("err = %v", err)
	}
}
