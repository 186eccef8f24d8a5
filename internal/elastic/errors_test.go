package elastic

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
)

func TestErrorBodyGolden(t *testing.T) {
	w := httptest.NewRecorder()
	writeError(w, httptest.NewRequest("GET", "/_inference/x", nil), notFound("x"))
	want := `{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"Inference endpoint not found [x]"}],` +
		`"type":"resource_not_found_exception","reason":"Inference endpoint not found [x]"},"status":404}`
	if got := strings.TrimSpace(w.Body.String()); w.Code != 404 || got != want {
		t.Errorf("%d\n got %s\nwant %s", w.Code, got, want)
	}
}

// Bedrock failures take their status from upstream.Classify.
func TestUpstreamErr(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{&bedrock.Error{Code: bedrock.CodeThrottling, Message: "slow down"}, 429},
		{&bedrock.Error{Code: bedrock.CodeValidation, Message: "bad"}, 400},
		{bedrock.ErrLimited, 429},
		{fmt.Errorf("dial tcp: refused: %w", bedrock.ErrUnreachable), 503},
		{errors.New("read: connection reset by peer"), 502},
		{badRequest("kept"), 400},
	} {
		if e := upstreamErr(c.err); e.Status != c.status {
			t.Errorf("%v: %d, want %d", c.err, e.Status, c.status)
		}
	}
}
