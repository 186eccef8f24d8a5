package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/quarry-dev/quarry/internal/cassette"
)

// headersThatMatter are compared by presence (and Content-Type by value).
var headersThatMatter = []string{
	"x-amzn-RequestId", "Content-Type", "x-amzn-ErrorType",
	"X-Amzn-Bedrock-Input-Token-Count", "X-Amzn-Bedrock-Output-Token-Count", "X-Amzn-Bedrock-Invocation-Latency",
	"X-Amzn-Bedrock-Cache-Read-Input-Token-Count", "X-Amzn-Bedrock-Cache-Write-Input-Token-Count",
	"X-Amzn-Bedrock-Content-Type",
}

// newerHeaders and newerKeys appear in Nova responses recorded from
// 2025-02-11 on but not in the ones recorded on 2025-02-06; the emulator
// follows the newer traffic, so older recordings do not require them.
var newerHeaders = map[string]bool{
	"X-Amzn-Bedrock-Cache-Read-Input-Token-Count":  true,
	"X-Amzn-Bedrock-Cache-Write-Input-Token-Count": true,
}

var newerKeys = map[string]bool{"cacheReadInputTokenCount": true, "cacheWriteInputTokenCount": true}

// Known, deliberate divergences: interaction → the event sequence the
// emulator sends instead, with the reason.
//
// The recordings' "handles_event_stream_error", "handles_stream_error" and
// "close_before_consumption" cases are complete, normal streams (the error
// or the early close happened in the client under test), so they need no
// fault marker: the emulator's normal stream reproduces them. None of the
// recordings holds an in-stream exception; those are covered by
// TestStreamFaults with the [[quarry:…]] markers.
var divergences = map[string]string{
	// Real Claude 3 Sonnet called the tool again after a toolResult that did
	// not answer it; the emulator's rule is to answer a successful
	// toolResult in text (a status "error" result would be retried).
	"test_converse_stream_tool_call_parsing_errors.yaml#1": "messageStart contentBlockDelta:text contentBlockStop messageStop metadata",
}

func TestRecordingsReplay(t *testing.T) {
	names, err := cassette.Names(cassette.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// Default config: the recordings carry "Authorization: Bearer …", which
	// the default configuration accepts.
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	usedDivergences := map[string]bool{}
	defer func() {
		for name := range divergences {
			if !usedDivergences[name] {
				t.Errorf("divergence %q matches no recorded stream: remove or fix it", name)
			}
		}
	}()
	for _, n := range names {
		c, err := cassette.Load(filepath.Join(cassette.Dir, n))
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range c.Interactions {
			name := n + "#" + strconv.Itoa(i)
			t.Run(name, func(t *testing.T) {
				path := it.Request.URI
				if j := strings.Index(path, ".com/"); j >= 0 {
					path = path[j+4:]
				}
				req, _ := http.NewRequest(it.Request.Method, srv.URL+path, strings.NewReader(it.Request.Body))
				for k, vs := range it.Request.Headers {
					lk := strings.ToLower(k)
					if lk == "content-type" || lk == "accept" || lk == "authorization" || strings.HasPrefix(lk, "x-amzn-bedrock-") {
						req.Header.Set(k, vs[0])
					}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != it.Response.Status {
					t.Fatalf("status %d, recorded %d: %s", resp.StatusCode, it.Response.Status, body)
				}
				recHdr := map[string]string{}
				for k, v := range it.Response.Headers {
					recHdr[strings.ToLower(k)] = v[0]
				}
				for _, h := range headersThatMatter {
					rv, inRec := recHdr[strings.ToLower(h)]
					ov := resp.Header.Get(h)
					if newerHeaders[h] && !inRec {
						continue // absent from older recordings, present in newer ones
					}
					if inRec != (ov != "") {
						t.Errorf("header %s: recorded %v, emulator %q", h, inRec, ov)
					}
					if strings.EqualFold(h, "Content-Type") && rv != ov {
						t.Errorf("Content-Type %q, recorded %q", ov, rv)
					}
				}
				recBody := it.Response.Body
				if strings.Contains(recHdr["content-type"], "eventstream") {
					want, err := eventSequence(recBody)
					if err != nil {
						t.Fatalf("recorded stream: %v", err)
					}
					got, err := eventSequence(body)
					if err != nil {
						t.Fatalf("emulator stream: %v", err)
					}
					if d, ok := divergences[name]; ok {
						usedDivergences[name] = true
						t.Logf("documented divergence: recorded %s", want)
						want = d
					}
					if got != want {
						t.Errorf("events\n got %s\nwant %s", got, want)
					}
					return
				}
				var a, b any
				if err := json.Unmarshal(recBody, &a); err != nil {
					t.Fatalf("recorded body: %v", err)
				}
				if err := json.Unmarshal(body, &b); err != nil {
					t.Fatalf("emulator body %q: %v", body, err)
				}
				if ws, gs := shape(a), shape(b); ws != gs {
					t.Errorf("JSON shape\n got %s\nwant %s", gs, ws)
				}
			})
		}
	}
}

// eventSequence decodes an event stream into its shape: one token per event
// (event type, the delta/start member, for chunks the decoded payload's top
// keys or Anthropic "type"), with repeated runs collapsed so that the number
// of deltas (or of repeated block groups) does not matter.
func eventSequence(b []byte) (string, error) {
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(b)
	var seq []string
	for r.Len() > 0 {
		m, err := dec.Decode(r, nil)
		if err != nil {
			return strings.Join(seq, " "), err
		}
		var typ, mt string
		for _, h := range m.Headers {
			switch h.Name {
			case ":event-type", ":exception-type":
				typ = h.Value.String()
			case ":message-type":
				mt = h.Value.String()
			}
		}
		tok := typ
		if mt == "exception" {
			tok = "exception:" + typ
		}
		var p map[string]json.RawMessage
		json.Unmarshal(m.Payload, &p)
		if _, ok := p["p"]; !ok && mt == "event" {
			return "", errMissingPadding
		}
		switch typ {
		case "contentBlockDelta":
			tok += ":" + firstKey(p["delta"])
		case "contentBlockStart":
			tok += ":" + firstKey(p["start"])
		case "chunk":
			var bs string
			json.Unmarshal(p["bytes"], &bs)
			dec, _ := base64.StdEncoding.DecodeString(bs)
			var inner map[string]json.RawMessage
			json.Unmarshal(dec, &inner)
			if t, ok := inner["type"]; ok {
				var s string
				json.Unmarshal(t, &s)
				tok += ":" + s
			} else {
				keys := make([]string, 0, len(inner))
				for k := range inner {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				tok += ":" + strings.Join(keys, ",")
			}
		}
		seq = append(seq, tok)
	}
	return strings.Join(collapseRepeats(seq), " "), nil
}

var errMissingPadding = errorString("event payload without the p padding member")

type errorString string

func (e errorString) Error() string { return string(e) }

func firstKey(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	for k := range m {
		return k
	}
	return ""
}

// collapseRepeats removes immediate repetitions of runs of 1 to 3 tokens.
func collapseRepeats(seq []string) []string {
	for changed := true; changed; {
		changed = false
		for n := 1; n <= 3; n++ {
			for i := 0; i+2*n <= len(seq); i++ {
				if strings.Join(seq[i:i+n], " ") == strings.Join(seq[i+n:i+2*n], " ") {
					seq = append(seq[:i+n], seq[i+2*n:]...)
					changed = true
					i--
				}
			}
		}
	}
	return seq
}

// shape renders a JSON value's structure: object key sets, array element
// shapes (as a set), and scalar kinds (null matches any scalar).
func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !newerKeys[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k + ":" + shape(x[k]))
		}
		return b.String() + "}"
	case []any:
		set := map[string]bool{}
		for _, e := range x {
			set[shape(e)] = true
		}
		var parts []string
		for s := range set {
			parts = append(parts, s)
		}
		sort.Strings(parts)
		return "[" + strings.Join(parts, "|") + "]"
	case string, float64, bool, nil:
		return "scalar"
	}
	return "?"
}
