package upstream

import (
	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// RecordUsage adds Converse's usage (a response's, or a stream's metadata
// event) to the request's access log entry, each kind apart, as every
// surface must for usage and cost. Converse reports no reasoning count:
// reasoning is inside outputTokens, and billed as output.
func RecordUsage(e *accesslog.Entry, u bedrock.TokenUsage) {
	e.AddUsage(accesslog.Usage{Input: u.InputTokens, Output: u.OutputTokens,
		CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheWriteInputTokens})
}
