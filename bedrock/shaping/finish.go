package shaping

import (
	"fmt"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
)

// FinishReasonError is CheckFinish's error: the answer ended with a reason
// the options do not allow. It is a property of the answer, not a transport
// failure: retrying the same request is unlikely to help.
type FinishReasonError struct {
	// StopReason is Bedrock's stop reason (end_turn, max_tokens, ...).
	StopReason string
	// Allowed or Denied is the list that refused it (the other is nil).
	Allowed, Denied []string
}

func (e *FinishReasonError) Error() string {
	rule := "finish_reason_deny_list: " + strings.Join(e.Denied, ", ")
	if e.Allowed != nil {
		rule = "finish_reason_allow_list: " + strings.Join(e.Allowed, ", ")
	}
	return fmt.Sprintf("shaping: finish reason %q (Bedrock stop reason %q) is not allowed (%s)",
		OpenAIFinishReason(e.StopReason), e.StopReason, rule)
}

// CheckFinish returns a *FinishReasonError when an answer that stopped for
// Bedrock's stopReason may not be returned, else nil. The lists match,
// ignoring case, either the stop reason itself or the OpenAI finish reason
// it maps to (see OpenAIFinishReason): an allow list passes a reason when
// either name is listed, a deny list refuses it when either is. With
// neither list set every reason passes.
func (o *Options) CheckFinish(stopReason string) error {
	names := [2]string{strings.ToLower(stopReason), OpenAIFinishReason(stopReason)}
	listed := func(l []string) bool {
		for _, r := range l {
			if strings.EqualFold(r, names[0]) || strings.EqualFold(r, names[1]) {
				return true
			}
		}
		return false
	}
	switch {
	case o.FinishReasonAllowList != nil:
		if !listed(o.FinishReasonAllowList) {
			return &FinishReasonError{StopReason: stopReason, Allowed: o.FinishReasonAllowList}
		}
	case o.FinishReasonDenyList != nil:
		if listed(o.FinishReasonDenyList) {
			return &FinishReasonError{StopReason: stopReason, Denied: o.FinishReasonDenyList}
		}
	}
	return nil
}

// OpenAIFinishReason maps a Converse stop reason to OpenAI's finish_reason:
// length for max_tokens and model_context_window_exceeded, tool_calls for
// tool_use, content_filter for guardrail_intervened and content_filtered,
// stop for anything else.
func OpenAIFinishReason(stopReason string) string {
	switch stopReason {
	case bedrock.StopReasonMaxTokens, bedrock.StopReasonModelContextWindowExceeded:
		return "length"
	case bedrock.StopReasonToolUse:
		return "tool_calls"
	case bedrock.StopReasonGuardrailIntervened, bedrock.StopReasonContentFiltered:
		return "content_filter"
	}
	return "stop"
}
