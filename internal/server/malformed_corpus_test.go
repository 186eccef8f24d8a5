package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
)

// malformedCase is one line of testdata/malformed/<surface>.jsonl (made
// by generate.py there): a request and the field its answer must name.
type malformedCase struct {
	Name        string            `json:"name"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	ContentType *string           `json:"content_type"` // nil: application/json
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body"`
	BodyBase64  string            `json:"body_base64"`
	// Expand replaces a placeholder in Body by a string repeated n times
	// (deep nesting and oversized bodies without megabytes of data).
	Expand [][3]any `json:"expand"`
	Field  string   `json:"field"`
}

func (c *malformedCase) body(t *testing.T) []byte {
	if c.BodyBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(c.BodyBase64)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := c.Body
	for _, e := range c.Expand {
		b = strings.Replace(b, e[0].(string), strings.Repeat(e[1].(string), int(e[2].(float64))), 1)
	}
	return []byte(b)
}

// errorShape checks a body is the surface's error format and returns the
// text that may name the field (OpenAI: param and message; Elasticsearch:
// type and reason).
var errorShape = map[string]func(b []byte) (text string, ok bool){
	"openai": func(b []byte) (string, bool) {
		var v struct {
			Error *struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &v) != nil || v.Error == nil || v.Error.Message == "" || v.Error.Type == "" {
			return "", false
		}
		p := ""
		if v.Error.Param != nil {
			p = *v.Error.Param
		}
		return p + " " + v.Error.Message, true
	},
	"anthropic": func(b []byte) (string, bool) {
		var v struct {
			Type  string `json:"type"`
			Error *struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &v) != nil || v.Type != "error" || v.Error == nil || v.Error.Type == "" || v.Error.Message == "" {
			return "", false
		}
		return v.Error.Message, true
	},
	"elastic": func(b []byte) (string, bool) {
		// Elasticsearch answers an unknown route with the error as a
		// string: {"error":"no handler found for uri […]","status":400}.
		var plain struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		if json.Unmarshal(b, &plain) == nil && plain.Error != "" && plain.Status != 0 {
			return plain.Error, true
		}
		var v struct {
			Error *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
			Status int `json:"status"`
		}
		if json.Unmarshal(b, &v) != nil || v.Error == nil || v.Error.Type == "" || v.Error.Reason == "" || v.Status == 0 {
			return "", false
		}
		return v.Error.Type + " " + v.Error.Reason, true
	},
}

// TestMalformedCorpus sends every request of testdata/malformed against
// the quick start: each answer must be a 4xx in the surface's own error
// format, naming the field when the case says which, within seconds.
func TestMalformedCorpus(t *testing.T) {
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Server.MaxRequestBytes = 64 << 10
		c.Server.BodyReadTimeout = 5 * time.Second
	})
	if st, b := doJSON(t, "PUT", g.URL+"/_inference/text_embedding/mal-embed", `{"service":"amazonbedrock","service_settings":{"access_key":"AKIAEXAMPLEKEY",`+
		`"secret_key":"example-secret-value","region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0"}}`); st != 200 {
		t.Fatalf("creating mal-embed: %d %s", st, b)
	}
	surfaces := map[string]string{"chat": "openai", "embeddings": "openai", "images": "openai", "inference": "elastic",
		"messages": "anthropic", "responses": "openai"}
	client := &http.Client{Timeout: 15 * time.Second}
	for file, format := range surfaces {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "malformed", file+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 4<<20)
			n := 0
			for sc.Scan() {
				var c malformedCase
				if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
					t.Fatalf("line %d: %v", n+1, err)
				}
				n++
				t.Run(c.Name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					req, err := http.NewRequestWithContext(ctx, c.Method, g.URL+c.Path, bytes.NewReader(c.body(t)))
					if err != nil {
						t.Skipf("not a request Go can send: %v", err)
					}
					req.Header.Set("Content-Type", "application/json")
					if c.ContentType != nil {
						req.Header.Set("Content-Type", *c.ContentType)
					}
					for k, v := range c.Headers {
						req.Header.Set(k, v)
					}
					resp, err := client.Do(req)
					if err != nil {
						t.Fatalf("no answer: %v", err)
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					if resp.StatusCode < 400 || resp.StatusCode > 499 {
						t.Fatalf("status %d, want a 4xx: %.300s", resp.StatusCode, b)
					}
					text, ok := errorShape[format](b)
					if !ok {
						t.Fatalf("not a %s error: %.300s", format, b)
					}
					if c.Field != "" && !strings.Contains(strings.ToLower(text), strings.ToLower(c.Field)) {
						t.Errorf("the error does not name %q: %.300s", c.Field, text)
					}
				})
			}
			if n < 150 {
				t.Errorf("%d cases for %s, want at least 150", n, file)
			}
		})
	}
}
