package console_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestConsoleNeverShowsSecrets fills a gateway's config with secrets, creates
// an endpoint with credentials and calls a model, then reads every page,
// asset and API answer of the console and greps them for the values.
func TestConsoleNeverShowsSecrets(t *testing.T) {
	secrets := map[string]string{
		"QUARRY_CONSOLE_TEST_ADMIN_KEY":   "adminkey-7f3a9c1e5b",
		"QUARRY_CONSOLE_TEST_API_KEY":     "apikey-2c8e4a6f0d",
		"QUARRY_CONSOLE_TEST_AWS_ID":      "AKIAQUARRYCONSOLE01",
		"QUARRY_CONSOLE_TEST_AWS_SECRET":  "awssecret-9d1b3f5e7a",
		"QUARRY_CONSOLE_TEST_AWS_TOKEN":   "sessiontoken-4e6a8c0b2d",
		"QUARRY_CONSOLE_TEST_BEDROCK_KEY": "bedrockkey-1a3c5e7b9d",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	endpointID, endpointSecret := "AKIAENDPOINTKEY0001", "endpointsecret-6b8d0f2a4c"
	base := startGateway(t, "testdata/secrets.yaml", nil)
	auth := map[string]string{"Authorization": "Bearer " + secrets["QUARRY_CONSOLE_TEST_ADMIN_KEY"]}

	var served []string
	get := func(method, path, body string) {
		t.Helper()
		resp, b := call(t, noRedirect, method, base+path, body, auth)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		served = append(served, method+" "+path+"\n"+b)
	}
	get("PUT", "/ui/api/inference/text_embedding/with-keys", `{"service":"amazonbedrock","service_settings":{"access_key":"`+endpointID+`","secret_key":"`+endpointSecret+`","region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0"}}`)
	get("PUT", "/ui/api/inference/text_embedding/with-keys/_update", `{"service_settings":{"access_key":"`+endpointID+`","secret_key":"`+endpointSecret+`"}}`)
	get("PUT", "/ui/api/inference/text_embedding/broken", `{"service":"amazonbedrock","service_settings":{"access_key":"`+endpointID+`","secret_key":"`+endpointSecret+`"}}`)
	get("POST", "/ui/api/playground/chat", `{"model":"nova-lite","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	get("POST", "/ui/api/playground/chat", `{"model":"claude-key","messages":[{"role":"user","content":"hi"}]}`)
	get("POST", "/ui/api/playground/embeddings", `{"model":"titan-embed","input":"hi"}`)
	for _, p := range []string{"/ui/", "/ui/login", "/ui/assets/app.js", "/ui/assets/app.css", "/ui/api/overview",
		"/ui/api/inference/_all", "/ui/api/inference/text_embedding/with-keys"} {
		get("GET", p, "")
	}
	// The live stream: read until the events recorded so far are in.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/ui/api/live", nil)
	req.Header.Set("Authorization", auth["Authorization"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var live strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != ": ready" {
		live.WriteString(sc.Text() + "\n")
	}
	resp.Body.Close()
	if !strings.Contains(live.String(), `"model":"nova-lite"`) {
		t.Fatalf("the live stream lacks the playground call:\n%s", live.String())
	}
	served = append(served, "live\n"+live.String())

	all := strings.Join(served, "\n")
	for name, v := range secrets {
		if strings.Contains(all, v) {
			t.Errorf("%s's value appears in what the console served", name)
		}
	}
	for _, v := range []string{endpointID, endpointSecret} {
		if strings.Contains(all, v) {
			t.Errorf("the endpoint credential %q appears in what the console served", v)
		}
	}
	if !strings.Contains(all, `"secret_key":"set"`) {
		t.Error("the endpoint's secrets are not shown as set")
	}
}
