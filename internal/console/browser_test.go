package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserDeps returns the Chromium binary (QUARRY_TEST_CHROMIUM) and
// axe-core's source (npm ci --prefix internal/console/web), or skips: in CI
// QUARRY_REQUIRE_CHROMIUM=1 turns the skip into a failure.
func browserDeps(t *testing.T) (string, string) {
	t.Helper()
	miss := func(msg string) {
		if os.Getenv("QUARRY_REQUIRE_CHROMIUM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin := os.Getenv("QUARRY_TEST_CHROMIUM")
	if bin == "" {
		miss("browser tests need Chromium: apt-get install chromium and set QUARRY_TEST_CHROMIUM=/usr/bin/chromium")
	}
	if _, err := os.Stat(bin); err != nil {
		miss("QUARRY_TEST_CHROMIUM: " + err.Error())
	}
	axe, err := os.ReadFile("web/node_modules/axe-core/axe.min.js")
	if err != nil {
		miss("browser tests need axe-core: npm ci --prefix internal/console/web")
	}
	return bin, string(axe)
}

// browser drives one Chromium tab against a gateway, collecting the
// page's errors (a Content-Security-Policy violation is one).
type browser struct {
	t        *testing.T
	ctx      context.Context
	base     string
	axe      string
	shots    string
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, base string) *browser {
	bin, axe := browserDeps(t)
	shots := os.Getenv("QUARRY_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	} else {
		shots = filepath.Join(shots, "console")
		os.MkdirAll(shots, 0o755)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("window-size", "1400,1000"), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, base: base, axe: axe, shots: shots}
	if err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			// A 401 on purpose (the login page) is logged as a network error.
			// So is a 404 from an admin route this gateway lacks (the
			// keys page degrades).
			if e.Entry.Level == log.EntryLevelError && !strings.Contains(e.Entry.Text, "401") &&
				!(strings.Contains(e.Entry.Text, "404") && strings.Contains(e.Entry.URL, "/admin/")) {
				p = fmt.Sprintf("log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				p += " " + e.ExceptionDetails.Exception.Description
			}
		}
		if p != "" {
			b.mu.Lock()
			b.problems = append(b.problems, p)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page problems: %v)", what, err, b.problems)
	}
}

// waitFor polls a JavaScript condition.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	var err error
	for range 5 {
		// A navigation under way replaces the page's JavaScript context:
		// poll again in the new one.
		if _, err = chromedp.Run(b.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(30*time.Second))); err == nil ||
			!strings.Contains(err.Error(), "context") || b.ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		txt, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		b.t.Fatalf("%s: %v\npage text:\n%s\npage problems: %v", what, err, txt, b.problems)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).textContent`, sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// login logs in through the form (checking the login page when check).
func (b *browser) login(check bool) {
	b.t.Helper()
	b.do("login page", chromedp.Navigate(b.base+"/ui/"), chromedp.WaitVisible("#key"))
	if check {
		b.check("login")
	}
	b.do("log in", chromedp.SendKeys("#key", adminKey), chromedp.Submit("#key"), chromedp.WaitVisible("#models article"))
}

// forget drops the page errors a test caused on purpose.
func (b *browser) forget(substr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.problems[:0]
	for _, p := range b.problems {
		if !strings.Contains(p, substr) {
			kept = append(kept, p)
		}
	}
	b.problems = kept
}

// check saves a screenshot of the page, runs axe-core on it (no serious or
// critical violation allowed), and fails on any page error so far.
func (b *browser) check(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](b.axe+"\n;true")); err != nil {
		b.t.Fatalf("injecting axe-core: %v", err)
	}
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
		 .map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", "))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe on %s: %v", name, err)
	}
	var violations []string
	json.Unmarshal([]byte(out), &violations)
	for _, v := range violations {
		b.t.Errorf("accessibility, %s page: %s", name, v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("%s page: %s", name, p)
	}
	b.problems = nil
}

// writePNG writes a small opaque PNG.
func writePNG(t *testing.T, path string) {
	m := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range m.Pix {
		m.Pix[i] = 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleInBrowser walks every page of the console in headless Chromium
// against the quick start (the built-in emulator), behind an admin key.
func TestConsoleInBrowser(t *testing.T) {
	base := startGateway(t, quickstart, withAdminKey(adminKey))
	b := newBrowser(t, base)

	b.login(true)

	// Overview: every configured model, with its target and a chart.
	b.waitFor("overview models", `document.querySelectorAll("#models article").length === 8`)
	b.waitFor("charts", `document.querySelector("#model-nova-lite .chart canvas") !== null`)
	if got := b.text("#model-nova-lite"); !strings.Contains(got, "us.amazon.nova-lite-v1:0") {
		t.Fatalf("nova-lite card: %q", got)
	}
	b.check("overview")

	// Live requests: a request made elsewhere appears.
	b.do("live page", chromedp.Navigate(base+"/ui/#live"))
	b.waitFor("live stream", `document.querySelector("#live-state").textContent.includes("Streaming")`)
	resp, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"nova-micro","messages":[{"role":"user","content":"hello from outside"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b.waitFor("live row", `[...document.querySelectorAll("#live-table tbody tr")].some(r => r.textContent.includes("nova-micro"))`)
	b.do("detail", chromedp.Click(`#live-table tbody tr button`))
	b.waitFor("detail view", `!document.querySelector("#live-detail").hidden && document.querySelector("#live-detail").textContent.includes("upstream_request_id")`)
	if strings.Contains(b.text("#page-live"), "hello from outside") {
		t.Fatal("the live view shows the prompt")
	}
	b.check("live")

	// Playground: a streamed chat, embeddings, an image.
	b.do("playground", chromedp.Navigate(base+"/ui/#playground"))
	b.waitFor("chat models", `document.querySelector("#chat-model").options.length === 3`)
	b.do("chat", chromedp.SetValue("#chat-system", "Be brief."), chromedp.SetValue("#chat-max", "200"), chromedp.Click("#chat-send"))
	b.waitFor("streamed answer", `document.querySelector("#chat-meta").textContent.includes("Finish reason: stop")`)
	if ans := b.text("#chat-answer"); strings.TrimSpace(ans) == "" {
		t.Fatal("empty answer")
	}
	if meta := b.text("#chat-meta"); !strings.Contains(meta, "tokens:") {
		t.Fatalf("no usage: %q", meta)
	}
	if br := b.text("#chat-bedrock-json"); !strings.Contains(br, "converse-stream") || !strings.Contains(br, `\"maxTokens\":200`) || strings.Contains(br, "Authorization") {
		t.Fatalf("Bedrock request: %s", br)
	}
	// An attached image and a tool reach Bedrock.
	img := filepath.Join(t.TempDir(), "square.png")
	writePNG(t, img)
	b.do("chat with an image and a tool", chromedp.SetUploadFiles("#chat-image", []string{img}), chromedp.Click("#chat-tools-on"), chromedp.Click("#chat-send"))
	b.waitFor("second answer", `/Finish reason: (stop|tool_calls)/.test(document.querySelector("#chat-meta").textContent)`)
	if br := b.text("#chat-bedrock-json"); !strings.Contains(br, `\"toolConfig\"`) || !strings.Contains(br, `\"get_weather\"`) || !strings.Contains(br, `\"image\"`) {
		t.Fatalf("Bedrock request lacks the tool or the image: %s", br)
	}
	b.do("embed", chromedp.Click(`#embed-form button[type=submit]`))
	b.waitFor("embedding", `document.querySelector("#embed-result").textContent.includes("512 dimensions")`)
	b.do("image", chromedp.SetValue("#image-size", "512x512"), chromedp.Click(`#image-form button[type=submit]`))
	b.waitFor("image", `(() => { const i = document.querySelector("#image-result img"); return i !== null && i.complete && i.naturalWidth > 0; })()`)
	b.check("playground")

	// Keys and usage: the admin API's pages, or their degraded state.
	b.do("keys", chromedp.Navigate(base+"/ui/#keys"))
	b.waitFor("keys page", `!document.querySelector("#keys-body").textContent.includes("Loading") && !document.querySelector("#usage-body").textContent.includes("Loading")`)
	// The gateway's own /admin/keys: create a key, see its secret once,
	// revoke it.
	if strings.Contains(b.text("#keys-body"), "not available in this gateway") {
		t.Fatal("the keys page says /admin/keys is not available, but the gateway serves it")
	}
	b.do("create key", chromedp.SetValue("#key-name", "browser-test"), chromedp.Click(`#key-form button[type=submit]`))
	b.waitFor("key created", `document.querySelector("#key-created .secret") !== null && document.querySelector("#key-created .secret").textContent.startsWith("qk-")`)
	b.do("revoke", chromedp.Click(`#keys-table [data-revoke]`))
	b.waitFor("key revoked", `document.querySelector("#keys-table tbody").textContent.includes("revoked")`)
	b.check("keys")

	// Endpoints: a refused form shows the API's own error; then create
	// and delete one.
	b.do("endpoints", chromedp.Navigate(base+"/ui/#endpoints"))
	b.waitFor("endpoint list", `document.querySelector("#ep-list").textContent.includes("No inference endpoints")`)
	b.do("bad endpoint", chromedp.SetValue("#ep-id", "console-titan"), chromedp.SetValue("#ep-settings", `{"region": "us-east-1"}`), chromedp.Click("#ep-create"))
	b.waitFor("API error", `document.querySelector("#ep-result").textContent.includes("does not contain the required setting [model]")`)
	b.forget("status of 400")
	b.do("good endpoint", chromedp.SetValue("#ep-settings", `{"access_key": "AKIABROWSERTEST", "secret_key": "browser-secret", "region": "us-east-1", "provider": "amazontitan", "model": "amazon.titan-embed-text-v2:0"}`), chromedp.Click("#ep-create"))
	b.waitFor("endpoint created", `document.querySelector("#ep-result").textContent.includes("Created console-titan") && document.querySelector("#ep-list").textContent.includes("console-titan")`)
	if l := b.text("#ep-list"); strings.Contains(l, "browser-secret") || strings.Contains(l, "AKIABROWSERTEST") || !strings.Contains(l, "secret_key: set") {
		t.Fatalf("endpoint list: %q", l)
	}
	b.check("endpoints")
	b.do("delete endpoint", chromedp.Click(`#ep-list [data-delete]`))
	b.waitFor("endpoint deleted", `document.querySelector("#ep-result").textContent.includes("Deleted") && document.querySelector("#ep-list").textContent.includes("No inference endpoints")`)
}
