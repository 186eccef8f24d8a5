package server_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
)

func TestModelsE2E(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := sdkClient(g)
	ctx := sdkContext(t)

	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, m := range page.Data {
		owners[m.ID] = m.OwnedBy
		if m.Object != "model" || m.Created == 0 {
			t.Errorf("%s: object %q created %d", m.ID, m.Object, m.Created)
		}
	}
	want := map[string]string{
		"nova-lite": "amazon", "claude-sonnet": "anthropic", "nova-micro": "amazon",
		"titan-embed": "amazon", "cohere-embed": "cohere", "nova-canvas": "amazon",
		"cohere-rerank": "cohere", "amazon-rerank": "amazon",
	}
	if len(owners) != len(want) {
		var ids []string
		for id := range owners {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		t.Errorf("listed %v; want the 8 quick-start models", ids)
	}
	for id, owner := range want {
		if owners[id] != owner {
			t.Errorf("%s owned_by %q; want %q", id, owners[id], owner)
		}
	}

	m, err := client.Models.Get(ctx, "cohere-embed")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "cohere-embed" || m.OwnedBy != "cohere" {
		t.Errorf("get = %+v", m)
	}
	var extra struct {
		Kind           string `json:"kind"`
		BedrockModelID string `json:"bedrock_model_id"`
	}
	if err := json.Unmarshal([]byte(m.RawJSON()), &extra); err != nil || extra.Kind != "embedding" || extra.BedrockModelID != "cohere.embed-english-v3" {
		t.Errorf("extra fields %+v (%v)", extra, err)
	}
	if strings.Contains(strings.ToLower(page.RawJSON()), "secret") || strings.Contains(page.RawJSON(), "aws_") {
		t.Errorf("model list mentions credentials: %s", page.RawJSON())
	}

	_, err = client.Models.Get(ctx, "gpt-4o")
	wantAPIError(t, err, http.StatusNotFound, "")
	resp, err := http.Get(g.URL + "/v1/models/gpt-4o")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct {
			Code string `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusNotFound || body.Error.Code != "model_not_found" || body.Error.Type != "invalid_request_error" {
		t.Errorf("GET unknown model: %d %+v", resp.StatusCode, body)
	}
}
