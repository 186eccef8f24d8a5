package bedrock

import (
	"fmt"
	"strings"
)

// DocumentName makes name fit Converse's rule for DocumentBlock.Name and
// unique among the names in taken, which it records it in: Bedrock allows
// only letters, digits, single spaces, hyphens, parentheses and square
// brackets, at most 200 characters, and refuses a request in which two
// documents share a name. Other characters become single spaces; a name
// left empty is "document"; a repeated one gets " (2)", " (3)", ….
func DocumentName(name string, taken map[string]bool) string {
	var b strings.Builder
	space := false
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '(' || r == ')' || r == '[' || r == ']'
		if !ok {
			if b.Len() > 0 {
				space = true
			}
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > 180 { // room for a " (N)" suffix within 200
		out = strings.TrimSpace(out[:180])
	}
	if out == "" {
		out = "document"
	}
	candidate := out
	for i := 2; taken[candidate]; i++ {
		candidate = fmt.Sprintf("%s (%d)", out, i)
	}
	taken[candidate] = true
	return candidate
}
