package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: any config file is accepted or refused with problems that
// name their file; never a panic. Seeds: the examples and the invalid
// configs of testdata.
func FuzzParse(f *testing.F) {
	for _, pat := range []string{"../../examples/*.yaml", "testdata/invalid/*.txt"} {
		paths, _ := filepath.Glob(pat)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			cfg, _, _ := strings.Cut(string(b), "\n----\n")
			f.Add([]byte(cfg))
		}
	}
	f.Add([]byte("models: [{name: a, from: 'bedrock:x', params: {aws_secret_access_key: ${ secrets:K }}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Secrets{}
		_, err := Parse("fuzz.yaml", data, s)
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") && !strings.Contains(err.Error(), "config") {
			t.Errorf("error without the file's name: %v", err)
		}
	})
}

// FuzzDotenv: any .env file parses or fails naming the line, never
// showing its contents (values are secrets).
func FuzzDotenv(f *testing.F) {
	f.Add([]byte("A=1\nexport B=\"two words\"\n# comment\nC='x' # not a comment\nD=v # comment\n"))
	f.Add([]byte("NOEQUALS-secretvalue\n"))
	f.Add([]byte("K=\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseDotenv(".env", data)
		if err != nil {
			for _, line := range strings.Split(string(data), "\n") {
				if line = strings.TrimSpace(line); len(line) >= 8 && strings.Contains(err.Error(), line) {
					t.Errorf("the error shows a line: %v", err)
				}
			}
			return
		}
		for k := range m {
			if strings.Contains(k, "=") {
				t.Errorf("key %q holds '='", k)
			}
		}
	})
}

// FuzzParseImageSize: "WxH" sizes parse to positive dimensions or fail.
func FuzzParseImageSize(f *testing.F) {
	for _, s := range []string{"1024x1024", "512X768", "0x0", "-1x5", "99999999999999999999x1", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, h, err := ParseImageSize(s)
		if err == nil && (w <= 0 || h <= 0) {
			t.Errorf("ParseImageSize(%q) = %d, %d without an error", s, w, h)
		}
	})
}
