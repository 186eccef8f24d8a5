package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ConfigProblem is one problem in a configuration file, where it is. It
// mirrors the gateway's config.Problem (same format) rather than using it:
// that package depends on bedrock, which the emulator must not.
type ConfigProblem struct {
	File  string
	Line  int    // 0: the file as a whole
	Field string // the key's path, e.g. "faults.rules[0].rate"
	Msg   string
}

func (p ConfigProblem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Field + ": " + p.Msg
}

// ConfigError lists every problem found in a configuration file, one per
// line, in the gateway's format: file:line: field: message.
type ConfigError struct{ Problems []ConfigProblem }

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "emulator config:\n" + strings.Join(lines, "\n")
}

// LoadConfig reads a YAML configuration file, whose keys are the snake_case
// names of the Config fields (no_auth, clock_skew, faults.rules, ...; see
// the package documentation). Every problem (an unknown or duplicate key, a
// value of the wrong type) is reported at once, as a *ConfigError naming
// file, line and field. Durations are Go durations ("250ms", "5m"). An
// empty file is the zero Config.
func LoadConfig(path string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("emulator config: %w", err)
	}
	return cfg, decodeConfig(path, b, &cfg)
}

// decodeConfig decodes data (read from file) into cfg.
func decodeConfig(file string, data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		// A syntax error: yaml's message carries the line.
		return &ConfigError{[]ConfigProblem{{File: file, Msg: err.Error()}}}
	}
	d := &nodeDecoder{file: file}
	if len(doc.Content) > 0 {
		d.value(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	}
	if len(d.problems) > 0 {
		return &ConfigError{d.problems}
	}
	return nil
}

// nodeDecoder decodes a yaml.Node tree into Go values by their yaml tags,
// collecting every problem with its line instead of stopping at the first.
// It knows the kinds Config uses: structs, slices, string-keyed maps,
// strings, booleans, numbers and time.Duration.
type nodeDecoder struct {
	file     string
	problems []ConfigProblem
}

func (d *nodeDecoder) problem(n *yaml.Node, field, msg string) {
	d.problems = append(d.problems, ConfigProblem{File: d.file, Line: n.Line, Field: field, Msg: msg})
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *nodeDecoder) value(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value leaves the default
	}
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.problem(n, field, fmt.Sprintf("must be a duration such as 250ms or 5m, not %q", n.Value))
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.Struct:
		d.structure(n, v, field)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problem(n, field, "must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", field, i))
		}
		v.Set(s)
	case v.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.problem(n, field, "must be a mapping")
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			path := field + "." + k.Value
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.problem(k, path, "duplicate key")
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(val, e, path)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode {
			d.problem(n, field, "must be "+kindName(v))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.problem(n, field, fmt.Sprintf("must be %s, not %q", kindName(v), n.Value))
		}
	}
}

// structure decodes a mapping into a struct, field by yaml tag.
func (d *nodeDecoder) structure(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, field, "must be a mapping")
		return
	}
	t := v.Type()
	var keys []string
	index := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		keys = append(keys, name)
		index[name] = i
	}
	slices.Sort(keys)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		path := k.Value
		if field != "" {
			path = field + "." + k.Value
		}
		fi, ok := index[k.Value]
		switch {
		case !ok:
			d.problem(k, path, "unknown key (allowed: "+strings.Join(keys, ", ")+")")
		case seen[k.Value]:
			d.problem(k, path, "duplicate key")
		default:
			seen[k.Value] = true
			d.value(val, v.Field(fi), path)
		}
	}
}

// kindName is what a scalar of v's kind is called in a problem.
func kindName(v reflect.Value) string {
	switch {
	case v.Kind() == reflect.String:
		return "a string"
	case v.Kind() == reflect.Bool:
		return "a boolean (true or false)"
	case v.CanFloat():
		return "a number"
	case v.CanUint():
		return "a non-negative integer"
	case v.CanInt():
		return "an integer"
	}
	return "a " + v.Kind().String()
}
