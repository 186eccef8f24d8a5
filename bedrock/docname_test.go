package bedrock

import (
	"strings"
	"testing"
)

func TestDocumentName(t *testing.T) {
	taken := map[string]bool{}
	for _, c := range []struct{ in, want string }{
		{"Q3 report", "Q3 report"},
		{"Q3 report", "Q3 report (2)"}, // names are unique in a request
		{"a/b\\c..d", "a b c d"},       // other characters become single spaces
		{"  __  ", "document"},         // nothing left
		{"document", "document (2)"},   // the default is unique too
		{"résumé (final) [v2]", "r sum (final) [v2]"},
	} {
		if got := DocumentName(c.in, taken); got != c.want {
			t.Errorf("DocumentName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := DocumentName(strings.Repeat("x", 300), map[string]bool{})
	if len(long) > 200 {
		t.Errorf("a long name is %d characters; Bedrock allows 200", len(long))
	}
}
