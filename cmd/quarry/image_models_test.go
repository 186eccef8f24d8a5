package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/emulator"
)

// TestImageCommand: PNG files of the asked size, paths printed one a line,
// never overwriting earlier files; several calls above five images.
func TestImageCommand(t *testing.T) {
	setTestCredentials(t)
	emu := startCountingEmulator(t, emulator.Config{})
	dir := filepath.Join(t.TempDir(), "imgs")
	for round := 0; round < 2; round++ {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"image", "--model", "amazon.nova-canvas-v1:0", "--endpoint-url", emu.URL,
			"--size", "320x512", "--n", "7", "--seed", "3", "--out", dir, "A lighthouse,", "at dusk!"}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		paths := strings.Fields(stdout.String())
		if len(paths) != 7 {
			t.Fatalf("%d paths: %q", len(paths), stdout.String())
		}
		if want := filepath.Join(dir, "a-lighthouse-at-dusk-"+string(rune('1'+round*7))+".png"); paths[0] != want {
			t.Errorf("first path %s; want %s", paths[0], want)
		}
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 512 {
				t.Errorf("%s is %dx%d", p, b.Dx(), b.Dy())
			}
		}
	}
	if emu.calls != 4 {
		t.Errorf("%d Bedrock calls for two runs of 7 images; want 4", emu.calls)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no prompt", []string{"--model", "amazon.nova-canvas-v1:0"}, "a PROMPT is required"},
		{"bad size", []string{"--model", "amazon.nova-canvas-v1:0", "--size", "1000x1000", "x"}, "multiple of 16"},
		{"bad n", []string{"--model", "amazon.nova-canvas-v1:0", "--n", "0", "x"}, "--n must be"},
		{"not an image model", []string{"--model", "amazon.nova-lite-v1:0", "x"}, "not an image model"},
		{"refused prompt", []string{"--model", "amazon.nova-canvas-v1:0", "--out", t.TempDir(), "[[quarry:blocked-prompt]]"}, "ValidationException"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"image", "--endpoint-url", emu.URL}, c.args...), &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), c.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want a failure line with %q", code, stderr.String(), c.want)
			}
		})
	}
}

// TestModelsCommand lists the emulator's foundation models and profiles.
func TestModelsCommand(t *testing.T) {
	setTestCredentials(t)
	emu := startCountingEmulator(t, emulator.Config{})
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"models", "--endpoint-url", emu.URL}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"MODEL ID", "amazon.nova-lite-v1:0", "cohere.rerank-v3-5:0", "INFERENCE PROFILE ID", "us.anthropic.claude"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"models", "--json", "--endpoint-url", emu.URL}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), `"inferenceProfileId": "us.amazon.nova-lite-v1:0"`) {
		t.Errorf("--json: exit %d %.300s", code, stdout.String())
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	stderr.Reset()
	code := run(context.Background(), []string{"models", "--endpoint-url", emu.URL}, &stdout, &stderr)
	if code != 1 || !strings.HasPrefix(stderr.String(), "quarry models: ") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("bad credentials: exit %d, %q", code, stderr.String())
	}
	if code := run(context.Background(), []string{"models", "extra"}, &stdout, &stderr); code != 2 {
		t.Errorf("an argument: exit %d", code)
	}
}
