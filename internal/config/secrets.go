package config

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Secret is a configuration value that must never be shown: it prints,
// logs and marshals as "[redacted]". Reveal returns the value.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps the value out of JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// Secrets resolves ${ secrets:KEY } and ${ env:KEY } references. Both read
// the same store: the process environment first, then .env.local, then .env
// (files in the config file's directory and in the working directory), as
// Spice.ai's default env secret store does. Keys are tried as written and
// upper-cased.
type Secrets struct {
	files []map[string]string // .env.local before .env
}

// LoadSecrets reads the dotenv files found in dirs (missing files are fine).
func LoadSecrets(dirs ...string) (*Secrets, error) {
	s := &Secrets{}
	seen := map[string]bool{}
	for _, name := range []string{".env.local", ".env"} {
		for _, dir := range dirs {
			p := filepath.Join(dir, name)
			abs, _ := filepath.Abs(p)
			if seen[abs] {
				continue
			}
			seen[abs] = true
			m, err := readDotenv(p)
			if err != nil {
				return nil, err
			}
			if m != nil {
				s.files = append(s.files, m)
			}
		}
	}
	return s, nil
}

// Lookup returns the value of key from the store.
func (s *Secrets) Lookup(key string) (string, bool) {
	for _, k := range []string{key, strings.ToUpper(key)} {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		if s == nil {
			continue
		}
		for _, f := range s.files {
			if v, ok := f[k]; ok {
				return v, true
			}
		}
	}
	return "", false
}

// secretRef matches ${ store:KEY } with optional spaces.
var secretRef = regexp.MustCompile(`\$\{\s*([A-Za-z0-9_-]+)\s*:\s*([^}\s]+)\s*\}`)

// interpolate replaces every reference in v. It reports whether v contained
// a reference (so the caller can treat the value as a secret), and the
// first problem: an unknown store or a missing key.
func (s *Secrets) interpolate(v string) (out string, hadRef bool, err error) {
	if !strings.Contains(v, "${") {
		return v, false, nil
	}
	out = secretRef.ReplaceAllStringFunc(v, func(m string) string {
		hadRef = true
		sub := secretRef.FindStringSubmatch(m)
		store, key := sub[1], sub[2]
		if store != "secrets" && store != "env" {
			if err == nil {
				err = fmt.Errorf("unknown secret store %q in %s (use secrets or env)", store, m)
			}
			return ""
		}
		val, ok := s.Lookup(key)
		if !ok && err == nil {
			err = fmt.Errorf("secret %q is not set (looked in the environment, .env.local and .env)", key)
		}
		return val
	})
	return out, hadRef, err
}

// readDotenv parses KEY=VALUE lines (export prefix, # comments, single or
// double quotes). A missing file returns nil, nil.
func readDotenv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return parseDotenv(path, data)
}

// parseDotenv parses the contents of a .env file read from path. Its
// errors name the line, never its contents (a value may be a secret).
func parseDotenv(path string, data []byte) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", path, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		m[k] = v
	}
	return m, sc.Err()
}
