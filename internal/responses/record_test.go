package responses

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// TestRecordConversation: a stored record keeps each item once (Before,
// Input, the output) and gives back the whole history a next turn
// continues, through a round trip through JSON; a record stored with the
// older whole History gives that back unchanged.
func TestRecordConversation(t *testing.T) {
	args := `{"city":"Paris"}`
	rec := record{
		Response: &response{ID: "resp_2", Output: []*outItem{{ID: "fc_1", Type: "function_call", CallID: "call_1", Name: "weather", Arguments: &args, Status: "completed"}}},
		Input:    []json.RawMessage{json.RawMessage(`{"id":"msg_2","type":"message","role":"user","content":[{"type":"input_text","text":"and Paris?"}]}`)},
		Before: []json.RawMessage{
			json.RawMessage(`{"id":"msg_1","type":"message","role":"user","content":[{"type":"input_text","text":"weather in Rome?"}]}`),
			json.RawMessage(`{"id":"msg_o1","type":"message","role":"assistant","content":[{"type":"output_text","text":"Sunny."}]}`),
		},
	}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]json.RawMessage
	json.Unmarshal(data, &stored)
	if _, ok := stored["history"]; ok {
		t.Errorf("a new record stores history: %s", data)
	}
	var back record
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	got := back.conversation()
	want := []string{
		string(rec.Before[0]), string(rec.Before[1]), string(rec.Input[0]),
		`{"id":"fc_1","type":"function_call","status":"completed","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}"}`,
	}
	if !slices.EqualFunc(got, want, func(g json.RawMessage, w string) bool { return string(g) == w }) {
		t.Errorf("conversation:\n got %s\nwant %s", got, want)
	}

	old := []byte(`{"response":{"id":"resp_1","output":[]},"input":[{"id":"msg_1"}],"history":[{"id":"msg_0"},{"id":"msg_1"}]}`)
	var legacy record
	if err := json.Unmarshal(old, &legacy); err != nil {
		t.Fatal(err)
	}
	if got := legacy.conversation(); len(got) != 2 || string(got[0]) != `{"id":"msg_0"}` {
		t.Errorf("an older record's conversation = %s, want its history", got)
	}
}

// TestAppendRecord: the record save writes by hand is what json.Marshal
// writes for it, and the answer rebuilt from the stored encoding is the
// public response, output_text included.
func TestAppendRecord(t *testing.T) {
	text := "Line one <b>&</b>\n\"quoted\" \u2028 é"
	content := []*outputText{{Type: "output_text", Text: text}}
	resp := &response{ID: "resp_1", Object: "response", Status: "completed", Model: "m",
		Output: []*outItem{{ID: "msg_1", Type: "message", Role: "assistant", Status: "completed", Content: &content}}}
	resp.OutputText = joinedText(resp)
	items := []json.RawMessage{json.RawMessage(`{"id":"msg_0","type":"message"}`), json.RawMessage(`{"id":"fc_0","type":"function_call"}`)}
	for _, tt := range []struct {
		name          string
		include       bool
		input, before []json.RawMessage
	}{
		{"first turn", false, items[:1], nil},
		{"encrypted included, a turn after others", true, items[1:], items},
		{"no input items", false, nil, nil},
	} {
		stored := *resp
		stored.OutputText = ""
		enc, err := json.Marshal(&stored)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(record{Response: &stored, Include: tt.include, Input: tt.input, Before: tt.before})
		if got := appendRecord(nil, enc, tt.include, tt.input, tt.before); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, want)
		}
		var got, public map[string]any
		if err := json.Unmarshal(appendOutputText(enc, resp.OutputText), &got); err != nil {
			t.Fatalf("%s: the answer does not decode: %v", tt.name, err)
		}
		pub, _ := json.Marshal(publicResponse(resp, tt.include))
		json.Unmarshal(pub, &public)
		if !reflect.DeepEqual(got, public) {
			t.Errorf("%s: the answer from the stored encoding\n got %v\nwant %v", tt.name, got, public)
		}
	}
}

// TestSamePublic: the stored encoding may be the answer only when no
// encrypted reasoning is withheld from the client.
func TestSamePublic(t *testing.T) {
	sig := "c2ln"
	r := &response{Output: []*outItem{{Type: "reasoning", EncryptedContent: &sig}, {Type: "message"}}}
	if samePublic(r, false) {
		t.Error("samePublic with encrypted content not included = true")
	}
	if !samePublic(r, true) {
		t.Error("samePublic with encrypted content included = false")
	}
	if !samePublic(&response{Output: []*outItem{{Type: "message"}}}, false) {
		t.Error("samePublic without reasoning = false")
	}
}
