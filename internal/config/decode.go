package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML node tree, collecting every problem with its line
// instead of stopping at the first.
type decoder struct {
	file     string
	secrets  *Secrets
	problems []Problem
	// revealed are the secret values interpolated so far: a problem's
	// message that quotes a value must not show them.
	revealed []string
}

func (d *decoder) problem(n *yaml.Node, field, msg string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	for _, v := range d.revealed {
		msg = strings.ReplaceAll(msg, v, redacted)
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: field, Msg: msg})
}

// mapping returns the keys of a mapping node, reporting unknown and
// duplicate keys. field is the mapping's path ("" for the top level).
func (d *decoder) mapping(n *yaml.Node, field string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n == nil {
		return out
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n, field, "must be a mapping")
		return out
	}
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := join(field, k.Value)
		if len(allowed) > 0 && !ok[k.Value] {
			d.problem(k, path, "unknown key (allowed: "+strings.Join(sorted(allowed), ", ")+")")
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.problem(k, path, "duplicate key")
			continue
		}
		out[k.Value] = v
	}
	return out
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// scalar returns the interpolated text of a scalar node.
func (d *decoder) scalar(n *yaml.Node, field string) (v string, secret bool, ok bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(n, field, "must be a single value")
		return "", false, false
	}
	v, had, err := d.secrets.interpolate(n.Value)
	if had {
		for _, m := range secretRef.FindAllStringSubmatch(n.Value, -1) {
			if s, ok := d.secrets.Lookup(m[2]); ok && len(s) >= 4 { // shorter ones would garble messages
				d.revealed = append(d.revealed, s)
			}
		}
	}
	if err != nil {
		d.problem(n, field, err.Error())
		return "", had, false
	}
	return v, had, true
}

func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	v, _, ok := d.scalar(n, field)
	return v, ok
}

func (d *decoder) secret(n *yaml.Node, field string) Secret {
	v, _, _ := d.scalar(n, field)
	return Secret(v)
}

func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	v, ok := d.str(n, field)
	if !ok {
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		d.problem(n, field, fmt.Sprintf("must be true or false (got %q)", v))
		return false, false
	}
	return b, true
}

func (d *decoder) integer(n *yaml.Node, field string, min, max int64) (int64, bool) {
	v, ok := d.str(n, field)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		d.problem(n, field, fmt.Sprintf("must be a whole number (got %q)", v))
		return 0, false
	}
	if i < min || i > max {
		d.problem(n, field, fmt.Sprintf("must be between %d and %d (got %d)", min, max, i))
		return 0, false
	}
	return i, true
}

func (d *decoder) float(n *yaml.Node, field string, min, max float64) (float64, bool) {
	v, ok := d.str(n, field)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.problem(n, field, fmt.Sprintf("must be a number (got %q)", v))
		return 0, false
	}
	if f < min || f > max {
		d.problem(n, field, fmt.Sprintf("must be between %g and %g (got %g)", min, max, f))
		return 0, false
	}
	return f, true
}

func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	v, ok := d.str(n, field)
	if !ok {
		return 0, false
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		d.problem(n, field, fmt.Sprintf("must be a duration such as 30s or 2m (got %q)", v))
		return 0, false
	}
	return t, true
}

// bytes parses a size: a number of bytes, or with a KiB/MiB/GiB (or KB/MB/GB)
// suffix.
func (d *decoder) bytes(n *yaml.Node, field string) (int64, bool) {
	v, ok := d.str(n, field)
	if !ok {
		return 0, false
	}
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil || i <= 0 {
		d.problem(n, field, fmt.Sprintf("must be a positive size such as 1048576 or 32MiB (got %q)", v))
		return 0, false
	}
	return i * mult, true
}

// enum returns the value if it is one of allowed.
func (d *decoder) enum(n *yaml.Node, field string, allowed ...string) string {
	v, ok := d.str(n, field)
	if !ok {
		return ""
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	d.problem(n, field, fmt.Sprintf("must be one of %s (got %q)", strings.Join(allowed, ", "), v))
	return ""
}

// strList accepts a single string or a list of strings.
func (d *decoder) strList(n *yaml.Node, field string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode {
		v, ok := d.str(n, field)
		return []string{v}, ok
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(n, field, "must be a string or a list of strings")
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		v, ok := d.str(c, fmt.Sprintf("%s[%d]", field, i))
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// value converts any node to plain Go values (map[string]any, []any,
// string, bool, int64, float64, nil), interpolating strings.
func (d *decoder) value(n *yaml.Node, field string) (any, bool) {
	switch n.Kind {
	case yaml.AliasNode:
		return d.value(n.Alias, field)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, ok := d.value(n.Content[i+1], join(field, n.Content[i].Value))
			if !ok {
				return nil, false
			}
			m[n.Content[i].Value] = v
		}
		return m, true
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, ok := d.value(c, fmt.Sprintf("%s[%d]", field, i))
			if !ok {
				return nil, false
			}
			l = append(l, v)
		}
		return l, true
	}
	s, _, ok := d.scalar(n, field)
	if !ok {
		return nil, false
	}
	switch n.Tag {
	case "!!int":
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i, true
		}
	case "!!float":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, true
		}
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(s)); err == nil {
			return b, true
		}
	case "!!null":
		return nil, true
	}
	return s, true
}
