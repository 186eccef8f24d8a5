package elastic

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/store"
)

// TestReplicaRefresh: two gateways share one store (as replicas share
// PostgreSQL; SQLite stands in here). An update or delete made through one
// reaches inference on the other, which already had the endpoint live, only
// through its periodic refresh (Options.Refresh, 5 s in production).
func TestReplicaRefresh(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	emu, err := emulator.NewServer(emulator.Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	path := filepath.Join(t.TempDir(), "shared.db")
	open := func(refresh time.Duration) (*Handler, *bedrockRecorder) {
		st, err := store.Open(context.Background(), store.Config{Path: path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rec := &bedrockRecorder{}
		h, err := New(context.Background(), st, Options{BedrockEndpoint: emu.URL, HTTPClient: &http.Client{Transport: rec}, Refresh: refresh})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return h, rec
	}
	writer, _ := open(0)
	const model = "anthropic.claude-3-haiku-20240307-v1:0"
	if st, b := call(writer, "PUT", "/_inference/completion/shared", createBody(taskCompletion, nil, map[string]any{"max_new_tokens": 10}, nil)); st != 200 {
		t.Fatalf("create: %d %s", st, b)
	}
	replica, rec := open(20 * time.Millisecond)
	infer := func() (int, string) { return call(replica, "POST", "/_inference/completion/shared", `{"input":"hi"}`) }
	if st, b := infer(); st != 200 {
		t.Fatalf("replica infer: %d %s", st, b)
	}
	if got := rec.last(t, "/model/"+model+"/converse"); !strings.Contains(got, `"maxTokens":10`) {
		t.Fatalf("replica's first call: %s", got)
	}

	if st, b := call(writer, "PUT", "/_inference/shared/_update", `{"task_settings":{"max_new_tokens":34}}`); st != 200 {
		t.Fatalf("update: %d %s", st, b)
	}
	// Polls until the refresh has run. The bound is only there to fail
	// clearly instead of hanging: the refresh runs every 20 ms.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the replica still uses the old task settings")
		}
		if st, b := infer(); st != 200 {
			t.Fatalf("replica infer after update: %d %s", st, b)
		}
		if strings.Contains(rec.last(t, "/model/"+model+"/converse"), `"maxTokens":34`) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	if st, b := call(writer, "DELETE", "/_inference/shared", ""); st != 200 {
		t.Fatalf("delete: %d %s", st, b)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the replica still serves the deleted endpoint")
		}
		st, b := infer()
		if st == http.StatusNotFound {
			if !strings.Contains(b, "resource_not_found_exception") {
				t.Fatalf("replica after delete: %d %s", st, b)
			}
			break
		}
		if st != 200 {
			t.Fatalf("replica infer while the delete propagates: %d %s", st, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
