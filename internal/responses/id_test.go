package responses

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestNewResponseID: IDs are resp_ and 32 hex digits, distinct, and sort
// as their times do (the store's index appends them).
func TestNewResponseID(t *testing.T) {
	base := time.UnixMilli(1_800_000_000_000)
	pattern := regexp.MustCompile(`^resp_[0-9a-f]{32}$`)
	prev := ""
	seen := map[string]bool{}
	for i := range 1000 {
		id := newResponseID(base.Add(time.Duration(i) * time.Millisecond))
		if !pattern.MatchString(id) || seen[id] {
			t.Fatalf("id %d: %q (seen before: %v)", i, id, seen[id])
		}
		if strings.Compare(prev, id) >= 0 {
			t.Fatalf("%q does not sort after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}
