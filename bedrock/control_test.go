package bedrock_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/emulator"
)

// TestListingsAgainstEmulator: the control-plane listings are signed the way
// the emulator verifies (service bedrock) and decode its answers.
func TestListingsAgainstEmulator(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	emu, err := emulator.NewServer(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	ctx := context.Background()
	c, err := bedrock.New(ctx, bedrock.Config{Region: "eu-west-1", Endpoint: emu.URL, AccessKeyID: "test", SecretAccessKey: "test"})
	if err != nil {
		t.Fatal(err)
	}
	models, err := c.ListFoundationModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]bedrock.FoundationModel{}
	for _, m := range models {
		byID[m.ModelID] = m
	}
	if m, ok := byID["amazon.nova-lite-v1:0"]; !ok || m.ProviderName != "Amazon" || !strings.Contains(m.ModelArn, ":eu-west-1::") {
		t.Errorf("nova lite = %+v", m)
	}
	if m := byID["cohere.rerank-v3-5:0"]; len(m.OutputModalities) == 0 {
		t.Errorf("rerank model missing: %+v", m)
	}
	profiles, err := c.ListInferenceProfiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range profiles {
		found = found || p.InferenceProfileID == "us.amazon.nova-lite-v1:0"
	}
	if !found {
		t.Errorf("no us.amazon.nova-lite-v1:0 among %d profiles", len(profiles))
	}

	wrong, _ := bedrock.New(ctx, bedrock.Config{Region: "eu-west-1", Endpoint: emu.URL, AccessKeyID: "test", SecretAccessKey: "nope"})
	_, err = wrong.ListFoundationModels(ctx)
	var be *bedrock.Error
	if !errors.As(err, &be) || be.StatusCode != 403 {
		t.Errorf("bad signature: %v; want a 403 *bedrock.Error", err)
	}
}

// TestListingsPagesAndHost: inference profiles are read page by page, and
// the default runtime endpoint's control-plane host is bedrock.<region>.
func TestListingsPagesAndHost(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var hosts, tokens []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		tokens = append(tokens, r.URL.Query().Get("nextToken"))
		if r.URL.Query().Get("nextToken") == "" {
			w.Write([]byte(`{"inferenceProfileSummaries":[{"inferenceProfileId":"a"}],"nextToken":"p2"}`))
			return
		}
		w.Write([]byte(`{"inferenceProfileSummaries":[{"inferenceProfileId":"b"}]}`))
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := bedrock.New(ctx, bedrock.Config{Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: "k", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.ListInferenceProfiles(ctx)
	if err != nil || len(ps) != 2 || ps[1].InferenceProfileID != "b" || tokens[1] != "p2" {
		t.Fatalf("profiles %+v, tokens %v, err %v", ps, tokens, err)
	}
	// The real endpoint: the request goes to bedrock.us-east-1, signed for
	// service bedrock. A transport that records the URL stands in for AWS.
	var got *http.Request
	real, err := bedrock.New(ctx, bedrock.Config{Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s",
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		})}})
	if err != nil {
		t.Fatal(err)
	}
	real.ListFoundationModels(ctx)
	if got == nil || got.URL.Host != "bedrock.us-east-1.amazonaws.com" || got.URL.Path != "/foundation-models" ||
		!strings.Contains(got.Header.Get("Authorization"), "/us-east-1/bedrock/aws4_request") {
		t.Errorf("request %v %v", got.URL, got.Header.Get("Authorization"))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
