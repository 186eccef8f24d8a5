package vkeys

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/store"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"nova-lite", "nova-lite", true},
		{"nova-lite", "nova-lite-2", false},
		{"nova-*", "nova-lite", true},
		{"nova-*", "nova-", true},
		{"nova-*", "claude", false},
		{"*", "anything:at/all", true},
		{"amazon.titan-embed-*", "amazon.titan-embed-text-v2:0", true},
		{"arn:aws:bedrock:*:*:inference-profile/us.*", "arn:aws:bedrock:us-east-1:123:inference-profile/us.nova", true},
		{"nova-l?te", "nova-lite", true},
		{"nova-l?te", "nova-lte", false},
		{"*-lite", "nova-lite", true},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b", "xxaxxbxx", false},
		{"", "", true},
		{"", "x", false},
	} {
		if got := match(c.pattern, c.name); got != c.want {
			t.Errorf("match(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}

func TestAllows(t *testing.T) {
	k := &store.VirtualKey{Models: []string{"nova-*"}}
	if !allows(k, []string{"claude", "nova-lite"}) || allows(k, []string{"claude", "us.anthropic.claude"}) || allows(k, []string{""}) {
		t.Error("allows with a list")
	}
	if !allows(&store.VirtualKey{}, []string{"anything"}) {
		t.Error("an empty list allows every model")
	}
}

func TestPeriod(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 59, 0, 0, time.FixedZone("x", -5*3600)) // 2027-01-01T04:59Z
	for _, c := range []struct {
		p            string
		start, reset string
	}{
		{PeriodDay, "2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z"},
		{PeriodMonth, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"},
	} {
		s, r := period(now, c.p)
		if s.Format(time.RFC3339) != c.start || r.Format(time.RFC3339) != c.reset {
			t.Errorf("%s: %v %v", c.p, s, r)
		}
	}
}

func TestNewSecret(t *testing.T) {
	secret, hash, prefix := newSecret()
	other, _, _ := newSecret()
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != 46 || secret == other {
		t.Errorf("secret %q", secret)
	}
	if hash != sha256.Sum256([]byte(secret)) || prefix != secret[:10] {
		t.Errorf("hash or prefix %q", prefix)
	}
}
