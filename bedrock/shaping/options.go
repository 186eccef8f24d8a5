// Package shaping holds per-model request shaping for Bedrock's Converse
// API, after BAML's aws-bedrock client options: which message roles are
// sent and how they are renamed, which per-message metadata (prompt-cache
// markers) is forwarded, which finish reasons are accepted, whether the
// model is streamed, and default additional model request fields,
// inference parameters and top-k. The Quarry gateway configures the same
// options per model in YAML and applies them through this package.
//
// The zero Options changes nothing: every role is allowed and kept, no
// metadata is forwarded by Conversation, every finish reason passes, Stream
// streams, and Apply adds nothing.
package shaping

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
)

// Options shape a model's requests and check its answers. All fields are
// optional; see each field for what its zero value means. Options are read,
// never modified, by the methods here, which are safe for concurrent use.
type Options struct {
	// DefaultRole replaces a role that is not in AllowedRoles. Empty: user
	// when allowed, else the first allowed role (BAML's rule).
	DefaultRole string
	// AllowedRoles are the roles sent as they are: a subset of system, user
	// and assistant. Nil or empty: all three. OpenAI's developer role counts
	// as system; tool messages, and assistant messages carrying tool calls,
	// are always sent as they are (Bedrock pairs them).
	AllowedRoles []string
	// RemapRoles renames roles after the AllowedRoles check and defaulting,
	// e.g. {"system": "user"}. Keys and values are system, user or
	// assistant. Nil: no renaming.
	RemapRoles map[string]string
	// AllowedRoleMetadata are the per-message metadata keys forwarded:
	// cache_control and cachePoint (both prompt-cache markers). Nil: none,
	// markers are dropped.
	AllowedRoleMetadata []string
	// FinishReasonAllowList, if not nil, lists the finish reasons an answer
	// may end with; FinishReasonDenyList, if not nil, those it may not. Set
	// at most one. Names are Bedrock stop reasons (end_turn, max_tokens,
	// ...) or OpenAI finish reasons (stop, length, tool_calls,
	// content_filter), matched ignoring case. Note that an empty, non-nil
	// allow list refuses every answer.
	FinishReasonAllowList, FinishReasonDenyList []string
	// NoStreaming makes Stream call Converse and replay the whole answer as
	// stream events (BAML's supports_streaming: false). False: stream.
	NoStreaming bool
	// AdditionalModelRequestFields are merged by Apply under a request's own
	// additionalModelRequestFields: the request wins key by key, at every
	// level of nesting. Nil: nothing added.
	AdditionalModelRequestFields map[string]any
	// Inference holds inference defaults (max tokens, temperature, top-p,
	// stop sequences) Apply sets where the request has none. Nil: none.
	Inference *bedrock.InferenceConfig
	// TopK is a default top-k, which Apply sends in the model family's
	// native field (see bedrock.TopKRequestFields). Nil: none.
	TopK *int
}

// Roles are the roles AllowedRoles, DefaultRole and RemapRoles may name.
var Roles = []string{"system", "user", "assistant"}

// RoleMetadata are the keys AllowedRoleMetadata may list.
var RoleMetadata = []string{"cache_control", "cachePoint"}

// FinishReasons are the names a finish-reason list may use (lower case):
// OpenAI's finish reasons, then Bedrock's stop reasons.
var FinishReasons = []string{
	"stop", "length", "tool_calls", "content_filter",
	"end_turn", "tool_use", "max_tokens", "stop_sequence", "guardrail_intervened", "content_filtered",
	"malformed_model_output", "malformed_tool_use", "model_context_window_exceeded",
}

// FieldError is one problem Validate found. Field is the option's
// configuration name as the gateway's YAML spells it (allowed_roles,
// finish_reason_deny_list, ...), with an index or key for an element:
// allowed_roles[2], remap_roles.user, inference_configuration.temperature.
type FieldError struct {
	Field, Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate reports every problem of o, as errors.Join of *FieldError values
// in a fixed order (nil when o is valid): both finish-reason lists set,
// unknown finish reasons, roles or metadata keys, AllowedRoles without
// user, a DefaultRole not allowed, a RemapRoles key that is not allowed or
// a target Bedrock does not accept, and out-of-range inference defaults or
// top-k.
func (o *Options) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{field, fmt.Sprintf(format, args...)})
	}
	if o.FinishReasonAllowList != nil && o.FinishReasonDenyList != nil {
		add("finish_reason_deny_list", "cannot be combined with finish_reason_allow_list: set one of them")
	}
	for _, l := range []struct {
		name  string
		items []string
	}{{"finish_reason_allow_list", o.FinishReasonAllowList}, {"finish_reason_deny_list", o.FinishReasonDenyList}} {
		for i, r := range l.items {
			if r = strings.ToLower(strings.TrimSpace(r)); !slices.Contains(FinishReasons, r) {
				add(fmt.Sprintf("%s[%d]", l.name, i), "unknown finish reason %q (OpenAI: stop, length, tool_calls, content_filter; Bedrock: %s)",
					r, strings.Join(FinishReasons[4:], ", "))
			}
		}
	}
	for i, r := range o.AllowedRoles {
		if msg := roleProblem(r); msg != "" {
			add(fmt.Sprintf("allowed_roles[%d]", i), "%s", msg)
		}
	}
	allowed, _ := o.EffectiveRoles()
	if !slices.Contains(allowed, "user") {
		add("allowed_roles", "must include user: a Bedrock conversation starts with a user message")
	}
	if d := o.DefaultRole; d != "" {
		switch {
		case !slices.Contains(Roles, d):
			add("default_role", "%q is not a role (roles: system, user, assistant)", d)
		case !slices.Contains(allowed, d):
			add("default_role", "%q is not in allowed_roles (%s)", d, strings.Join(allowed, ", "))
		}
	}
	froms := make([]string, 0, len(o.RemapRoles))
	for from := range o.RemapRoles {
		froms = append(froms, from)
	}
	sort.Strings(froms)
	for _, from := range froms {
		to := o.RemapRoles[from]
		switch {
		case roleProblem(from) != "":
			add("remap_roles."+from, "%s", roleProblem(from))
		case !slices.Contains(Roles, to):
			add("remap_roles."+from, "%q is not a role Bedrock accepts (system, user, assistant)", to)
		case !slices.Contains(allowed, from):
			add("remap_roles."+from, "%s is not in allowed_roles, so no message keeps that role to be remapped", from)
		}
	}
	for i, k := range o.AllowedRoleMetadata {
		if !slices.Contains(RoleMetadata, k) {
			add(fmt.Sprintf("allowed_role_metadata[%d]", i), "unknown message metadata %q (known: %s)", k, strings.Join(RoleMetadata, ", "))
		}
	}
	if ic := o.Inference; ic != nil {
		if ic.MaxTokens != nil && *ic.MaxTokens < 1 {
			add("inference_configuration.max_tokens", "must be 1 or more (got %d)", *ic.MaxTokens)
		}
		if ic.Temperature != nil && (*ic.Temperature < 0 || *ic.Temperature > 1) {
			add("inference_configuration.temperature", "must be between 0 and 1 (got %v)", *ic.Temperature)
		}
		if ic.TopP != nil && (*ic.TopP < 0 || *ic.TopP > 1) {
			add("inference_configuration.top_p", "must be between 0 and 1 (got %v)", *ic.TopP)
		}
	}
	if o.TopK != nil && *o.TopK < 0 {
		add("top_k", "must be 0 or more (got %d)", *o.TopK)
	}
	return errors.Join(errs...)
}

// roleProblem says what is wrong with a role name in AllowedRoles or as a
// RemapRoles key ("" if nothing).
func roleProblem(r string) string {
	switch {
	case slices.Contains(Roles, r):
		return ""
	case r == "developer":
		return "developer messages count as system messages: use system"
	case r == "tool":
		return "tool messages are always forwarded with the tool calls they answer: list only system, user and assistant"
	}
	return fmt.Sprintf("unknown role %q (roles: system, user, assistant)", r)
}

// EffectiveRoles returns the allowed roles and the default role o stands
// for, with the zero values resolved: all of Roles when AllowedRoles lists
// none, and user (or else the first allowed role) when DefaultRole is empty.
// Invalid and repeated entries of AllowedRoles are left out.
func (o *Options) EffectiveRoles() (allowed []string, defaultRole string) {
	for _, r := range o.AllowedRoles {
		if slices.Contains(Roles, r) && !slices.Contains(allowed, r) {
			allowed = append(allowed, r)
		}
	}
	if len(allowed) == 0 {
		allowed = slices.Clone(Roles)
	}
	defaultRole = o.DefaultRole
	if defaultRole == "" {
		defaultRole = allowed[0]
		if slices.Contains(allowed, "user") {
			defaultRole = "user"
		}
	}
	return allowed, defaultRole
}
