package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/quarry-dev/quarry/bedrock"
)

// Routing is where a model's calls go. A model with one from: has one
// target built from its ModelID and AWS (Targets is nil); one that lists
// targets: has them here, and its ModelID and AWS are the first target's.
type Routing struct {
	Targets  []Target
	Strategy Strategy
	Cooldown Cooldown
	// AttemptTimeout bounds one attempt on one target (for a stream: until
	// its first event), so a slow target gives way to the next; 0: only the
	// request's own timeout applies.
	AttemptTimeout time.Duration
	// Fallbacks are other models of the same kind tried, in order, once
	// this model's targets are exhausted (not their own fallbacks).
	Fallbacks []string
	// fallbacksAt and fallbacksField say where fallbacks is written, for
	// messages.
	fallbacksAt    *yaml.Node
	fallbacksField string
}

// Target is one place a model is served from: a model ID and how to reach
// it (region, credentials, endpoint).
type Target struct {
	// Name is the target's name in the x-quarry-target header and the
	// access log: its name: key, else "<index>/<model id>[@<region>]".
	Name    string
	ModelID string
	AWS     AWS
	// Weight is its share under strategy weighted (default 1); Priority
	// its rank under strategy priority (lower first; default its index).
	Weight, Priority int
	Line             int
}

// Strategy chooses the order in which a model's targets are tried.
type Strategy string

// The strategies.
const (
	StrategyPriority  Strategy = "priority"   // in priority order (the default)
	StrategyWeighted  Strategy = "weighted"   // smooth weighted round robin
	StrategyLeastBusy Strategy = "least_busy" // fewest calls in flight
	StrategyLatency   Strategy = "latency"    // lowest recent time to first token
)

// Cooldown is how long a failing target is skipped: Base after its first
// failure, times Backoff after each further one, at most Max.
type Cooldown struct {
	Base, Max time.Duration
	Backoff   float64
}

// DefaultCooldown applies when a model lists targets without cooldown.
var DefaultCooldown = Cooldown{Base: 5 * time.Second, Max: 5 * time.Minute, Backoff: 2}

// targetKeys are a target's own keys besides the commonParams.
var targetKeys = []string{"name", "from", "weight", "priority"}

// targetNamePattern and a length of at most 128 is a target name's rule
// (see modelNamePattern).
var targetNamePattern = regexp.MustCompile(`^[A-Za-z0-9._:/@-]+$`)

// routing decodes a model's targets, strategy, cooldown, attempt_timeout
// and fallbacks (f are the model's keys).
func (d *decoder) routing(n *yaml.Node, f map[string]*yaml.Node, field string, m *Model) {
	r := &m.Routing
	tn, hasTargets := f["targets"]
	if hasTargets {
		d.targets(tn, field+".targets", m)
	}
	for _, key := range []string{"strategy", "cooldown", "attempt_timeout"} {
		if v, ok := f[key]; ok && !hasTargets {
			d.problem(v, field+"."+key, "applies only to a model that lists targets")
		}
	}
	if v, ok := f["strategy"]; ok {
		r.Strategy = Strategy(d.enum(v, field+".strategy", string(StrategyPriority), string(StrategyWeighted), string(StrategyLeastBusy), string(StrategyLatency)))
	}
	if r.Strategy == "" {
		r.Strategy = StrategyPriority
	}
	r.Cooldown = DefaultCooldown
	if v, ok := f["cooldown"]; ok {
		d.cooldown(v, field+".cooldown", &r.Cooldown)
	}
	if v, ok := f["attempt_timeout"]; ok {
		r.AttemptTimeout, _ = d.duration(v, field+".attempt_timeout")
	}
	if v, ok := f["fallbacks"]; ok {
		if m.Kind != KindChat {
			d.problem(v, field+".fallbacks", "applies only to chat models (models:)")
		}
		r.Fallbacks = d.matchingList(v, field+".fallbacks", modelNamePattern, "is not a model name")
		r.fallbacksAt, r.fallbacksField = v, field+".fallbacks"
	}
	for i, t := range r.Targets {
		path := fmt.Sprintf("%s.targets[%d]", field, i)
		if t.Weight != 0 && r.Strategy != StrategyWeighted {
			d.problem(tn.Content[i], path+".weight", fmt.Sprintf("applies only to strategy: weighted (the strategy is %s)", r.Strategy))
		}
		if t.Priority >= 0 && r.Strategy != StrategyPriority {
			d.problem(tn.Content[i], path+".priority", fmt.Sprintf("applies only to strategy: priority (the strategy is %s)", r.Strategy))
		}
		if t.Weight == 0 {
			r.Targets[i].Weight = 1
		}
		if t.Priority < 0 {
			r.Targets[i].Priority = i
		}
	}
}

// targets decodes a targets: list. Each target inherits the model's
// region, endpoint and limits unless it sets its own, and the model's
// credentials unless it names any credential of its own.
func (d *decoder) targets(n *yaml.Node, field string, m *Model) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.problem(n, field, "must be a non-empty list of targets (each with its own from)")
		return
	}
	allowed := append(append([]string(nil), targetKeys...), commonParams...)
	names := map[string]int{}
	for i, tn := range n.Content {
		path := fmt.Sprintf("%s[%d]", field, i)
		f := d.mapping(tn, path, allowed...)
		t := Target{Line: tn.Line, Priority: -1}
		if v, ok := f["from"]; ok {
			t.ModelID = d.from(v, path+".from", m.Kind)
		} else {
			d.problem(tn, path+".from", "required (bedrock:<model id>)")
		}
		var own AWS
		for _, p := range commonParams {
			if v, ok := f[p]; ok {
				d.awsParam(&own, p, v, path+"."+p)
			}
		}
		t.AWS = inheritAWS(m.AWS, own)
		d.checkCredentials(tn, path, t.AWS)
		if v, ok := f["weight"]; ok {
			w, _ := d.integer(v, path+".weight", 1, 1000)
			t.Weight = int(w)
		}
		if v, ok := f["priority"]; ok {
			p, _ := d.integer(v, path+".priority", 0, 1000)
			t.Priority = int(p)
		}
		if v, ok := f["name"]; ok {
			t.Name, _ = d.str(v, path+".name")
			if len(t.Name) > 128 || !targetNamePattern.MatchString(t.Name) {
				d.problem(v, path+".name", fmt.Sprintf("%q may contain only letters, digits, '.', '_', ':', '/', '@' and '-' (at most 128)", t.Name))
			}
		} else {
			t.Name = DefaultTargetName(i, t.ModelID, t.AWS.Region)
		}
		if prev, dup := names[t.Name]; dup {
			d.problem(tn, path+".name", fmt.Sprintf("%q is already the name of the target at line %d", t.Name, prev))
		}
		names[t.Name] = t.Line
		if i > 0 && t.ModelID != "" && m.Routing.Targets[0].ModelID != "" {
			// Every target gets the request translated once, for the
			// model's family.
			if a, b := bedrock.ModelFamily(m.Routing.Targets[0].ModelID), bedrock.ModelFamily(t.ModelID); a != b {
				d.problem(tn, path+".from", fmt.Sprintf("%s is of another model family than the first target's %s: a model's targets must take the same requests (use fallbacks for another family)", t.ModelID, m.Routing.Targets[0].ModelID))
			}
		}
		m.Routing.Targets = append(m.Routing.Targets, t)
	}
	first := m.Routing.Targets[0]
	m.ModelID, m.AWS = first.ModelID, first.AWS
}

// DefaultTargetName names a target without a name: key (and the one target
// of a from: model): its index, model ID and region.
func DefaultTargetName(i int, modelID, region string) string {
	name := fmt.Sprintf("%d/%s", i, modelID)
	if region != "" {
		name += "@" + region
	}
	return name
}

// inheritAWS is a target's AWS params: its own, else the model's; the
// model's credentials only when the target names none.
func inheritAWS(model, own AWS) AWS {
	a := own
	if own.Region == "" {
		a.Region = model.Region
	}
	if own.EndpointURL == "" {
		a.EndpointURL = model.EndpointURL
	}
	if own.MaxConcurrent == 0 {
		a.MaxConcurrent = model.MaxConcurrent
	}
	if own.RequestsPerMinute == 0 {
		a.RequestsPerMinute = model.RequestsPerMinute
	}
	ownCreds := own.Profile != "" || own.AccessKeyID != "" || own.SecretAccessKey != "" || own.SessionToken != "" ||
		own.RoleARN != "" || own.ExternalID != "" || own.APIKey != ""
	if !ownCreds {
		a.Profile, a.AccessKeyID, a.SecretAccessKey, a.SessionToken = model.Profile, model.AccessKeyID, model.SecretAccessKey, model.SessionToken
		a.RoleARN, a.ExternalID, a.APIKey = model.RoleARN, model.ExternalID, model.APIKey
	}
	return a
}

func (d *decoder) cooldown(n *yaml.Node, field string, c *Cooldown) {
	f := d.mapping(n, field, "base", "max", "backoff")
	if v, ok := f["base"]; ok {
		c.Base, _ = d.duration(v, field+".base")
	}
	if v, ok := f["max"]; ok {
		c.Max, _ = d.duration(v, field+".max")
	}
	if v, ok := f["backoff"]; ok {
		c.Backoff, _ = d.float(v, field+".backoff", 1, 100)
	}
	if c.Max < c.Base {
		d.problem(n, field+".max", fmt.Sprintf("%v is shorter than base %v", c.Max, c.Base))
	}
}

// checkFallbacks checks that each model's fallbacks name other chat models
// (not aliases: a fallback is reshaped for the model it names).
func (d *decoder) checkFallbacks(cfg *Config) {
	chat := make(map[string]bool, len(cfg.Models))
	for _, m := range cfg.Models {
		chat[m.Name] = true
	}
	for _, m := range cfg.Models {
		r := m.Routing
		for j, fb := range r.Fallbacks {
			field := fmt.Sprintf("%s[%d]", r.fallbacksField, j)
			switch {
			case fb == m.Name:
				d.problem(r.fallbacksAt, field, "a model cannot fall back to itself")
			case !chat[fb]:
				d.problem(r.fallbacksAt, field, fmt.Sprintf("%q is not the name of a chat model (models: %s)", fb, strings.Join(sorted(keys(chat)), ", ")))
			}
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
