package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/quarry-dev/quarry/internal/cassette"
)

// ReplayConfig answers requests from recorded cassettes (RecordConfig's, or
// any in the form of testdata/bedrock-recordings) instead of generating
// replies. A request matches a recording with the same operation, model and
// body: the same bytes, or the same JSON once the IgnorePaths are removed
// from both. A request that matches nothing gets a 404
// ResourceNotFoundException naming the closest recording, unless Fallback
// is "generate".
type ReplayConfig struct {
	// Dir holds the cassettes (*.yaml).
	Dir string `yaml:"dir"`
	// IgnorePaths are JSON paths left out of the body comparison, dotted
	// with array indexes or * for every element: "inferenceConfig.temperature",
	// "messages.*.content.0.text".
	IgnorePaths []string `yaml:"ignore_paths"`
	// Fallback "generate" answers unmatched requests as the emulator would
	// without recordings; "" (default) answers them with the 404.
	Fallback string `yaml:"fallback"`
}

// recording is one replayable exchange.
type recording struct {
	name      string // file name, and #n for a cassette's later interactions
	op, model string
	body      []byte
	json      any // the body without the ignored paths; nil if not JSON
	status    int
	header    http.Header
	respBody  []byte
}

type replayer struct {
	cfg   ReplayConfig
	recs  []*recording
	mu    sync.Mutex
	used  map[string]int // times each match key was answered
	paths [][]string
}

func newReplayer(cfg ReplayConfig) (*replayer, error) {
	if cfg.Fallback != "" && cfg.Fallback != "generate" {
		return nil, fmt.Errorf("replay: fallback %q is not \"generate\" or empty", cfg.Fallback)
	}
	rp := &replayer{cfg: cfg, used: map[string]int{}}
	for _, p := range cfg.IgnorePaths {
		rp.paths = append(rp.paths, strings.Split(p, "."))
	}
	names, err := filepath.Glob(filepath.Join(cfg.Dir, "*.yaml"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("replay: no cassettes (*.yaml) in %s", cfg.Dir)
	}
	sort.Strings(names)
	for _, path := range names {
		c, err := cassette.Load(path)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		for i, in := range c.Interactions {
			u, err := url.Parse(in.Request.URI)
			if err != nil {
				return nil, fmt.Errorf("replay: %s: uri: %w", path, err)
			}
			esc := u.EscapedPath()
			var op string
			var model string
			for _, prefix := range []string{"/model/", "/guardrail/"} {
				if j := strings.Index(esc, prefix); j >= 0 {
					var ids [2]string
					op, ids = route(http.MethodPost, esc[j:])
					model = ids[0]
				}
			}
			name := filepath.Base(path)
			if i > 0 {
				name += "#" + strconv.Itoa(i+1)
			}
			r := &recording{name: name, op: op, model: model, body: []byte(in.Request.Body),
				status: in.Response.Status, header: in.Response.Headers, respBody: in.Response.Body}
			r.json = rp.normalise(r.body)
			rp.recs = append(rp.recs, r)
		}
	}
	return rp, nil
}

// normalise decodes a JSON body and drops the ignored paths; nil if the
// body is not JSON.
func (rp *replayer) normalise(body []byte) any {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	for _, p := range rp.paths {
		v = dropPath(v, p)
	}
	return v
}

func dropPath(v any, path []string) any {
	if len(path) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(x, path[0])
			return x
		}
		if c, ok := x[path[0]]; ok {
			x[path[0]] = dropPath(c, path[1:])
		}
	case []any:
		for i := range x {
			if path[0] == "*" || path[0] == strconv.Itoa(i) {
				if len(path) == 1 {
					x[i] = nil // keep the indexes of the others
				} else {
					x[i] = dropPath(x[i], path[1:])
				}
			}
		}
	}
	return v
}

// match finds the recording for a request; the nth identical request gets
// the nth matching recording (the last one repeats).
func (rp *replayer) match(op, model string, body []byte) (*recording, *apiError) {
	norm := rp.normalise(body)
	var hits []*recording
	for _, r := range rp.recs {
		if r.op != op || r.model != model {
			continue
		}
		if bytes.Equal(r.body, body) || (norm != nil && r.json != nil && reflect.DeepEqual(r.json, norm)) {
			hits = append(hits, r)
		}
	}
	if len(hits) == 0 {
		return nil, rp.noMatch(op, model, norm)
	}
	key := hits[0].name
	rp.mu.Lock()
	n := rp.used[key]
	rp.used[key] = n + 1
	rp.mu.Unlock()
	return hits[min(n, len(hits)-1)], nil
}

// noMatch is the 404 naming the closest recording and how it differs.
func (rp *replayer) noMatch(op, model string, norm any) *apiError {
	var best *recording
	bestScore, bestDiff := -1, ""
	for _, r := range rp.recs {
		score := 0
		if r.op == op {
			score += 2
		}
		if r.model == model {
			score += 1
		}
		if score > bestScore {
			best, bestScore = r, score
			bestDiff = firstDiff(r.json, norm, "")
		}
	}
	msg := fmt.Sprintf("No recording matches this %s request for model %s", op, model)
	if best != nil {
		what := "the body"
		switch {
		case best.op != op:
			what = "the operation (" + best.op + ")"
		case best.model != model:
			what = "the model (" + best.model + ")"
		case bestDiff != "":
			what = "the body at " + bestDiff
		}
		msg += fmt.Sprintf("; the closest recording is %s, which differs in %s", best.name, what)
	}
	return &apiError{Status: 404, Code: "ResourceNotFoundException", Message: msg + "."}
}

// firstDiff is the first JSON path where a and b differ ("" if equal).
func firstDiff(a, b any, at string) string {
	join := func(k string) string {
		if at == "" {
			return k
		}
		return at + "." + k
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return or(at, "(root)")
		}
		keys := make([]string, 0, len(x)+len(y))
		for k := range x {
			keys = append(keys, k)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if d := firstDiff(x[k], y[k], join(k)); d != "" {
				return d
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok {
			return or(at, "(root)")
		}
		for i := 0; i < max(len(x), len(y)); i++ {
			var xi, yi any
			if i < len(x) {
				xi = x[i]
			}
			if i < len(y) {
				yi = y[i]
			}
			if d := firstDiff(xi, yi, join(strconv.Itoa(i))); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return or(at, "(root)")
	}
	return ""
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// serve answers c from a recording and reports whether it did (or failed
// it with the 404); false means: generate (Fallback).
func (rp *replayer) serve(c *call, op, model string) bool {
	r, aerr := rp.match(op, model, c.body)
	if aerr != nil {
		if rp.cfg.Fallback == "generate" {
			return false
		}
		c.fail(aerr)
		return true
	}
	h := c.w.Header()
	for k, v := range r.header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection", "Date", "Set-Cookie":
			continue
		}
		h[k] = v
	}
	if r.header.Get("Transfer-Encoding") == "" {
		h.Set("Content-Length", strconv.Itoa(len(r.respBody)))
	}
	if r.status >= 400 {
		c.e.errors.Add(1)
	} else if strings.HasPrefix(r.header.Get("Content-Type"), "application/vnd.amazon.eventstream") {
		c.e.streams.Add(1)
	}
	c.w.WriteHeader(r.status)
	if _, err := c.w.Write(r.respBody); err != nil {
		c.e.disconnects.Add(1)
	}
	return true
}
