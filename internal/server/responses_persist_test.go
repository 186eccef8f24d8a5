package server_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// storedConversation creates a stored response on g, for continuing it
// elsewhere.
func storedConversation(t *testing.T, g *gateway) *responses.Response {
	t.Helper()
	c := respClient(g)
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "nova-lite",
		Input: textInput("Remember the word heliotrope.")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// continueOn reads r back on g and continues the conversation there; the
// model gets the whole stored conversation.
func continueOn(t *testing.T, g *gateway, rec *recorder, r *responses.Response) {
	t.Helper()
	c := respClient(g)
	ctx := context.Background()
	got, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatalf("GET on the other gateway: %v", err)
	}
	if got.OutputText() != r.OutputText() {
		t.Errorf("GET: %q; created %q", got.OutputText(), r.OutputText())
	}
	next, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "nova-lite", PreviousResponseID: openai.String(r.ID),
		Input: textInput("What was the word?")})
	if err != nil {
		t.Fatalf("continuing on the other gateway: %v", err)
	}
	if next.PreviousResponseID != r.ID {
		t.Errorf("previous_response_id = %q", next.PreviousResponseID)
	}
	_, body, _ := rec.last(t, "us.amazon.nova-lite-v1:0")
	msgs := body["messages"].([]any)
	if len(msgs) != 3 || !strings.Contains(string(mustMarshal(t, msgs[0])), "heliotrope") ||
		!strings.Contains(string(mustMarshal(t, msgs[1])), r.OutputText()[:20]) {
		t.Errorf("Bedrock got %v", msgs)
	}
}

func TestResponsesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quarry.db")
	var r *responses.Response
	t.Run("first gateway", func(t *testing.T) {
		g := startGateway(t, quickstart, func(c *config.Config) { c.Store.Path = path })
		r = storedConversation(t, g)
	})
	if r == nil {
		t.FailNow()
	}
	rec := &recorder{}
	g := startChatGateway(t, quickstart, func(c *config.Config) { c.Store.Path = path }, serverOpts(rec))
	continueOn(t, g, rec, r)
}

// TestResponsesSecondReplicaPostgres: two gateways on one PostgreSQL
// store; a response stored by one is read and continued on the other. It
// skips without QUARRY_TEST_POSTGRES_DSN unless QUARRY_REQUIRE_POSTGRES=1.
func TestResponsesSecondReplicaPostgres(t *testing.T) {
	dsn := postgresSchemaDSN(t, "quarry_responses_")
	pg := func(c *config.Config) { c.Store.PostgresDSN = config.Secret(dsn) }
	a := startGateway(t, quickstart, pg)
	rec := &recorder{}
	b := startChatGateway(t, quickstart, pg, serverOpts(rec))
	continueOn(t, b, rec, storedConversation(t, a))
}

func serverOpts(rec *recorder) server.Options { return server.Options{UpstreamTransport: rec} }

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
