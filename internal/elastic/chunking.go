package elastic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Chunking is a text_embedding endpoint's chunking_settings, as
// Elasticsearch's ChunkingSettingsBuilder reads them and their
// toXContent writes them (field order included). Quarry serves no
// semantic_text fields, so nothing is chunked: the settings are validated,
// kept and shown, so that configurations move between the two unchanged.
type Chunking struct {
	Strategy        string   `json:"strategy"`
	MaxChunkSize    *int     `json:"max_chunk_size,omitempty"`
	Overlap         *int     `json:"overlap,omitempty"`          // word
	SentenceOverlap *int     `json:"sentence_overlap,omitempty"` // sentence
	Separators      []string `json:"separators,omitempty"`       // recursive
}

// Chunking strategies (ChunkingStrategy), matched exactly as its
// fromString does: lower case only.
const (
	chunkSentence  = "sentence"
	chunkWord      = "word"
	chunkNone      = "none"
	chunkRecursive = "recursive"
)

// defaultChunking is ChunkingSettingsBuilder.DEFAULT_SETTINGS: what a
// text_embedding endpoint created without chunking_settings gets.
func defaultChunking() *Chunking {
	return &Chunking{Strategy: chunkSentence, MaxChunkSize: new(250), SentenceOverlap: new(1)}
}

// oldDefaultChunking is ChunkingSettingsBuilder.OLD_DEFAULT_SETTINGS: what
// Elasticsearch reads for an endpoint stored before chunking settings
// existed (fromMap(null)). Quarry endpoints stored before this release are
// read the same way.
func oldDefaultChunking() *Chunking {
	return &Chunking{Strategy: chunkWord, MaxChunkSize: new(250), Overlap: new(100)}
}

// separatorSets are SeparatorSet's lists.
var separatorSets = map[string][]string{
	"plaintext": {`(?<!\n)\n\n(?!\n)`, `(?<!\n)\n(?!\n)`},
	"markdown":  {"\n# ", "\n## ", "\n### ", "\n#### ", "\n##### ", "\n###### ", "\n^(?!\\s*$).*\\n-{1,}\\n", "\n^(?!\\s*$).*\\n={1,}\\n"},
}

const chunkScope = "chunking_settings"

// parseChunking is ChunkingSettingsBuilder.fromMap for a request: an
// absent or empty object is the default; a strategy is required
// (IllegalArgumentException, 400 illegal_argument_exception); each
// strategy validates its own keys (ValidationException).
func parseChunking(o object) (*Chunking, *Error) {
	if len(o) == 0 {
		return defaultChunking(), nil
	}
	raw, ok := o["strategy"]
	if !ok {
		return nil, illegalArg("Can't generate Chunker without ChunkingStrategy provided")
	}
	strategy := javaString(raw)
	var v validation
	unknown := func(name string, valid ...string) {
		var bad []string
		for k := range o {
			if k != "strategy" && !slices.Contains(valid, k) {
				bad = append(bad, k)
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			v.add("%s chunking settings can not have the following settings: [%s]", name, strings.Join(bad, ", "))
		}
	}
	c := &Chunking{Strategy: strategy}
	switch strategy {
	case chunkNone:
		// NoneChunkingSettings.INSTANCE: the other keys are not looked at.
		return &Chunking{Strategy: chunkNone}, nil
	case chunkSentence:
		unknown("Sentence based", "max_chunk_size", "sentence_overlap")
		c.MaxChunkSize = o.requiredIntBetween("max_chunk_size", 20, 0, &v)
		overlap := 1
		if n, ok := o.integer("sentence_overlap", "Integer", &v); ok {
			if n < 0 || n > 1 {
				v.add("sentence_overlap[%d] must be either 0 or 1", n)
			}
			overlap = int(n)
		}
		c.SentenceOverlap = &overlap
	case chunkWord:
		unknown("Word based", "max_chunk_size", "overlap")
		c.MaxChunkSize = o.requiredIntBetween("max_chunk_size", 10, 300, &v)
		if c.MaxChunkSize != nil {
			c.Overlap = o.requiredIntBetween("overlap", 0, *c.MaxChunkSize/2, &v)
		}
	case chunkRecursive:
		unknown("Recursive", "max_chunk_size", "separator_set", "separators")
		c.MaxChunkSize = o.requiredIntBetween("max_chunk_size", 10, 300, &v)
		set := o.enum("separator_set", chunkScope, []string{"markdown", "plaintext"}, false, &v)
		var seps []string
		hasSeps := false
		if raw := o.take("separators"); raw != nil {
			hasSeps = true
			list, ok := raw.([]any)
			if !ok {
				v.add("%s", typeMsg("separators", raw, "List"))
			}
			for _, x := range list {
				s, ok := x.(string)
				if !ok {
					v.add("field [separators] is not of the expected type. The value [%s] cannot be converted to a [String]", javaString(list))
					break
				}
				seps = append(seps, s)
			}
		}
		switch {
		case hasSeps && set != "":
			v.add("Recursive chunking settings can not have both separators and separator_set")
		case set != "":
			seps = separatorSets[set]
		case hasSeps && len(seps) == 0:
			v.add("Recursive chunking settings can not have an empty list of separators")
		case !hasSeps:
			seps = separatorSets["plaintext"]
		}
		c.Separators = seps
	default:
		return nil, illegalArg("Invalid chunkingStrategy %s", strategy)
	}
	if e := v.err(); e != nil {
		return nil, e
	}
	return c, nil
}

// requiredIntBetween is ServiceUtils.extractRequiredPositiveInteger followed
// by the bounds checks of extractRequiredPositiveIntegerBetween (max 0: no
// upper bound). The bounds messages print doubles, as Elasticsearch's do.
func (o object) requiredIntBetween(key string, lo, hi int, v *validation) *int {
	n, ok := o.integer(key, "Integer", v)
	if !ok {
		if _, present := o[key]; !present && !v.has(key) {
			v.add("[%s] does not contain the required setting [%s]", chunkScope, key)
		}
		return nil
	}
	switch {
	case n <= 0 || n > 1<<31-1:
		v.add("[%s] Invalid value [%d]. [%s] must be a positive integer", chunkScope, n, key)
	case int(n) < lo:
		v.add("[%s] Invalid value [%s]. [%s] must be a greater than or equal to [%s]", chunkScope, javaDouble(float64(n)), key, javaDouble(float64(lo)))
	case hi > 0 && int(n) > hi:
		v.add("[%s] Invalid value [%s]. [%s] must be a less than or equal to [%s]", chunkScope, javaDouble(float64(n)), key, javaDouble(float64(hi)))
	default:
		i := int(n)
		return &i
	}
	return nil
}

// has reports whether an error already names key (a type error), so that
// a missing-setting error is not added on top of it.
func (v *validation) has(key string) bool {
	for _, e := range v.errs {
		if strings.Contains(e, "field ["+key+"]") {
			return true
		}
	}
	return false
}

func illegalArg(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "illegal_argument_exception", Reason: fmt.Sprintf(format, args...)}
}

// chunkingJSON is the stored form: nil (SQL NULL) for none, as the store
// keeps "absent" apart from any setting.
func chunkingJSON(c *Chunking) (json.RawMessage, error) {
	if c == nil {
		return nil, nil
	}
	return json.Marshal(c)
}
