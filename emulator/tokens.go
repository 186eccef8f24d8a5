package emulator

import "unicode"

// countTokens estimates the token count of s the way the emulator bills it
// everywhere (usage, headers, stream metadata, CountTokens), so the numbers
// agree with each other. A token is a run of letters or digits, or a single
// other non-space character; long words count one token per four runes, which
// keeps the estimate close to BPE tokenizers on English text.
func countTokens(s string) int {
	n, run := 0, 0
	flush := func() {
		if run > 0 {
			n += (run + 3) / 4
			run = 0
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			run++
		case unicode.IsSpace(r):
			flush()
		default:
			flush()
			n++
		}
	}
	flush()
	return n
}
