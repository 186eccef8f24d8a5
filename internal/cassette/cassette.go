// Package cassette reads the VCR recordings of real Bedrock Runtime traffic
// in testdata/bedrock-recordings (vcrpy's YAML format), for the tests
// of the client library and of the emulator. Event-stream bodies are stored
// as !!binary and come back as their raw bytes.
package cassette

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Dir is the recordings directory as seen from a package one level below
// the repository root (bedrock/, emulator/): the recordings live in the
// repository's own testdata/ (see testdata/README.md).
const Dir = "../testdata/bedrock-recordings"

// Cassette is one recording: a test's HTTP exchanges, in order.
type Cassette struct {
	Name         string // the file's base name
	Interactions []Interaction
}

// Interaction is one recorded request and its response.
type Interaction struct {
	Request  Request
	Response Response
}

// Request is a recorded request.
type Request struct {
	Method  string
	URI     string
	Headers http.Header
	Body    string
}

// Response is a recorded response.
type Response struct {
	Status  int
	Headers http.Header
	Body    []byte
}

// file mirrors the YAML; header values are a list or a single scalar.
type file struct {
	Interactions []struct {
		Request struct {
			Body    string               `yaml:"body"`
			Headers map[string]yaml.Node `yaml:"headers"`
			Method  string               `yaml:"method"`
			URI     string               `yaml:"uri"`
		} `yaml:"request"`
		Response struct {
			Body struct {
				String string `yaml:"string"`
			} `yaml:"body"`
			Headers map[string]yaml.Node `yaml:"headers"`
			Status  struct {
				Code int `yaml:"code"`
			} `yaml:"status"`
		} `yaml:"response"`
	} `yaml:"interactions"`
}

// Load reads one cassette.
func Load(path string) (*Cassette, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading cassette (testdata/bedrock-recordings at the repository root): %w", err)
	}
	var f file
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Interactions) == 0 {
		return nil, fmt.Errorf("%s: no interactions", path)
	}
	c := &Cassette{Name: filepath.Base(path)}
	for _, in := range f.Interactions {
		c.Interactions = append(c.Interactions, Interaction{
			Request: Request{Method: in.Request.Method, URI: in.Request.URI, Body: in.Request.Body,
				Headers: headers(in.Request.Headers)},
			Response: Response{Status: in.Response.Status.Code, Body: []byte(in.Response.Body.String),
				Headers: headers(in.Response.Headers)},
		})
	}
	return c, nil
}

// Names lists the cassette files in dir, sorted.
func Names(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no cassettes in %s (testdata/bedrock-recordings at the repository root)", dir)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	sort.Strings(names)
	return names, nil
}

func headers(m map[string]yaml.Node) http.Header {
	h := http.Header{}
	for k, n := range m {
		switch n.Kind {
		case yaml.SequenceNode:
			var vs []string
			_ = n.Decode(&vs)
			h[k] = append(h[k], vs...) // keep the recorded spelling of the name
		case yaml.ScalarNode:
			h[k] = append(h[k], n.Value)
		}
	}
	return h
}
