package emulator

import (
	"strings"
	"testing"
)

// The patterns match what Bedrock's bounded classes match: the class
// and the length, at the bounds.
func TestBoundedPatterns(t *testing.T) {
	for _, c := range []struct {
		name string
		re   boundedRE
		in   string
		want bool
	}{
		{"tool name at 64", toolNameRE, strings.Repeat("a", 64), true},
		{"tool name at 65", toolNameRE, strings.Repeat("a", 65), false},
		{"tool name empty", toolNameRE, "", false},
		{"tool name with a dot", toolNameRE, "a.b", false},
		{"tool use ID at 64", toolUseIDRE, strings.Repeat("a:", 32), true},
		{"tool use ID at 65", toolUseIDRE, strings.Repeat("a", 65), false},
		{"tool use ID with a space", toolUseIDRE, "a b", false},
		{"metadata key at 256", metadataKeyRE, strings.Repeat("k ", 128), true},
		{"metadata key at 257", metadataKeyRE, strings.Repeat("k", 257), false},
		{"metadata key empty", metadataKeyRE, "", false},
		{"metadata key non-ASCII", metadataKeyRE, "é", false},
		{"metadata value empty", metadataValRE, "", true},
		{"metadata value at 256", metadataValRE, strings.Repeat("v", 256), true},
		{"metadata value at 257", metadataValRE, strings.Repeat("v", 257), false},
		{"metadata value with a quote", metadataValRE, `"`, false},
	} {
		if got := c.re.MatchString(c.in); got != c.want {
			t.Errorf("%s: MatchString = %v, want %v", c.name, got, c.want)
		}
	}
}
