package bedrock

import "strings"

// escapeLabel percent-encodes a URI label the way the AWS SDKs do for
// non-greedy labels such as {modelId}: every byte except the unreserved
// characters A-Z a-z 0-9 - . _ ~ is encoded, including ':' and '/'. An
// inference-profile ARN thus travels as one path segment:
// arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F...
func escapeLabel(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// modelPath is the escaped request path of a model operation, e.g.
// /model/us.amazon.nova-lite-v1%3A0/converse.
func modelPath(modelID, op string) string {
	return "/model/" + escapeLabel(modelID) + "/" + op
}
