package shaping

import (
	"fmt"
	"slices"

	"github.com/quarry-dev/quarry/bedrock"
)

// ErrUnknownRole is wrapped by the errors of Role and Conversation for a
// role that is none of system, developer, user, assistant and tool.
var ErrUnknownRole = fmt.Errorf("unknown message role")

// Role returns the role a message of the given role is sent with:
//
//   - tool messages, and assistant messages with tool calls (hasToolCalls),
//     keep their role: Bedrock pairs a toolUse with the toolResult that
//     answers it;
//   - developer (OpenAI's newer name for system) counts as system;
//   - a role not in AllowedRoles becomes DefaultRole;
//   - RemapRoles then renames the result.
//
// Zero values resolve as EffectiveRoles says. Any other role is an error
// wrapping ErrUnknownRole.
func (o *Options) Role(role string, hasToolCalls bool) (string, error) {
	switch role {
	case "tool":
		return role, nil
	case "assistant":
		if hasToolCalls {
			return role, nil
		}
	case "developer":
		role = "system"
	case "system", "user":
	default:
		return "", fmt.Errorf("%w %q (roles: system, developer, user, assistant, tool)", ErrUnknownRole, role)
	}
	if !o.allows(role) {
		role = o.defaultRole()
	}
	if to, ok := o.RemapRoles[role]; ok && to != "" {
		role = to
	}
	return role, nil
}

// allows reports whether role, one of Roles, is among the allowed roles of
// EffectiveRoles. Role asks it per message: it builds no list.
func (o *Options) allows(role string) bool {
	anyValid := false
	for _, r := range o.AllowedRoles {
		if r == role {
			return true
		}
		anyValid = anyValid || slices.Contains(Roles, r)
	}
	return !anyValid // none valid: all of Roles
}

// defaultRole is EffectiveRoles' default role, without building the list.
func (o *Options) defaultRole() string {
	switch {
	case o.DefaultRole != "":
		return o.DefaultRole
	case o.allows("user"):
		return "user"
	}
	// user is allowed unless some entry is valid: the first one is the
	// first allowed role.
	i := slices.IndexFunc(o.AllowedRoles, func(r string) bool { return slices.Contains(Roles, r) })
	return o.AllowedRoles[i]
}

// Message is a role-tagged message for Conversation.
type Message struct {
	// Role is system, developer, user, assistant or tool (a tool message's
	// Content holds bedrock.ToolResultBlock blocks).
	Role string
	// Content is the message's content. A system message may hold only
	// text, guard content and cache points.
	Content []bedrock.ContentBlock
	// Metadata is per-message metadata. Conversation reads the prompt-cache
	// markers cache_control and cachePoint, when AllowedRoleMetadata lists
	// them, as a cache point after the message's content: a
	// bedrock.CachePointBlock or *bedrock.CachePointBlock value is used as
	// it is, any other value means the default cache point. Keys not listed
	// are dropped.
	Metadata map[string]any
}

// Conversation turns role-tagged messages into a Converse request's System
// and Messages: each message's role is decided by Role (a tool message is
// sent as a user turn, as Bedrock expects tool results), system messages
// become system blocks, consecutive messages that end up with the same
// role are merged into one turn, and allowed metadata becomes cache points.
// CachePoint blocks already in Content are kept.
func (o *Options) Conversation(msgs []Message) ([]bedrock.SystemContentBlock, []bedrock.Message, error) {
	var system []bedrock.SystemContentBlock
	var out []bedrock.Message
	for i, m := range msgs {
		hasToolCalls := slices.ContainsFunc(m.Content, func(b bedrock.ContentBlock) bool { return b.ToolUse != nil })
		role, err := o.Role(m.Role, hasToolCalls)
		if err != nil {
			return nil, nil, fmt.Errorf("message %d: %w", i, err)
		}
		content := slices.Clone(m.Content)
		if cp := o.cachePoint(m.Metadata); cp != nil {
			content = append(content, bedrock.ContentBlock{CachePoint: cp})
		}
		switch role {
		case "system":
			for j, b := range content {
				switch {
				case b.CachePoint != nil:
					system = append(system, bedrock.SystemContentBlock{CachePoint: b.CachePoint})
				case b.GuardContent != nil:
					system = append(system, bedrock.SystemContentBlock{GuardContent: b.GuardContent})
				case b == (bedrock.ContentBlock{Text: b.Text}):
					system = append(system, bedrock.SystemContentBlock{Text: b.Text})
				default:
					return nil, nil, fmt.Errorf("message %d (%s, sent as system): block %d: a system message may hold only text, guard content and cache points", i, m.Role, j)
				}
			}
			continue
		case "tool":
			role = bedrock.RoleUser
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = append(out[n-1].Content, content...)
			continue
		}
		out = append(out, bedrock.Message{Role: role, Content: content})
	}
	return system, out, nil
}

// cachePoint is the cache point a message's allowed metadata asks for.
func (o *Options) cachePoint(md map[string]any) *bedrock.CachePointBlock {
	for _, k := range RoleMetadata {
		v, set := md[k]
		if !set || !slices.Contains(o.AllowedRoleMetadata, k) {
			continue
		}
		switch cp := v.(type) {
		case bedrock.CachePointBlock:
			return &cp
		case *bedrock.CachePointBlock:
			if cp != nil {
				c := *cp
				return &c
			}
		}
		return &bedrock.CachePointBlock{Type: "default"}
	}
	return nil
}
