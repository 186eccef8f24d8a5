package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test's child reads these; TestCrashHelper does nothing
// without them.
const (
	crashDBEnv    = "QUARRY_STORE_CRASH_DB"
	crashRoundEnv = "QUARRY_STORE_CRASH_ROUND"
)

// crashEndpoint is the complete content of id at version: every field
// derives from both, so a row mixing two writes, or cut short, does not
// match it. The padding spreads a row over more than one page.
func crashEndpoint(id string, version int64) *Endpoint {
	tag := fmt.Sprintf("%s-v%d", id, version)
	ss, _ := json.Marshal(map[string]any{
		"region": "us-east-1", "provider": "amazontitan", "model": "model-" + tag,
		"rate_limit": map[string]int{"requests_per_minute": 240},
		"padding":    strings.Repeat(tag+";", 6000/len(tag)),
	})
	return &Endpoint{
		ID:              id,
		TaskType:        "completion",
		Service:         "amazonbedrock",
		ServiceSettings: ss,
		TaskSettings:    json.RawMessage(fmt.Sprintf(`{"max_new_tokens":%d}`, version)),
		Secrets:         Secrets{"access_key": "ak-" + tag, "secret_key": "sk-" + tag + "-" + strings.Repeat("s", 3000)},
	}
}

// TestCrashHelper is the crash test's child process: it creates endpoints
// (and updates the one before) in a loop, printing each write only after
// the store acknowledged it, until it is killed.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		return // run directly: nothing to do
	}
	ctx := context.Background()
	st, err := Open(ctx, Config{Path: path}, nil) // the key file path, also under crashes
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	round := os.Getenv(crashRoundEnv)
	var prev *Endpoint
	for i := 0; ; i++ {
		e := crashEndpoint(fmt.Sprintf("r%s-%05d", round, i), 1)
		if err := st.Create(ctx, e); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Printf("ack %s %d\n", e.ID, e.Version) // os.Stdout is unbuffered
		if prev != nil {
			u := crashEndpoint(prev.ID, prev.Version+1)
			if err := st.Update(ctx, u, prev.Version); err != nil {
				fmt.Println("ERR", err)
				os.Exit(2)
			}
			fmt.Printf("ack %s %d\n", u.ID, u.Version)
		}
		prev = e
	}
}

// TestCrashKeepsAcknowledgedWrites kills a writing child with SIGKILL at
// random moments; after each round every acknowledged write must be there,
// complete, with secrets that decrypt, and no row may be half-written.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string]int64{} // id -> highest acknowledged version
	for round := range 5 {
		n := crashRound(t, path, round, acked)
		t.Logf("round %d: killed after %d acknowledged writes", round, n)
		checkCrashed(t, path, acked)
	}
}

func crashRound(t *testing.T, path string, round int, acked map[string]int64) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Kill a random 100-300 ms after the first acknowledgement, so that
	// the child is in the middle of its write loop, never still starting.
	var kill <-chan time.Time
	deadline := time.After(30 * time.Second)
	n := 0
	for lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			id, v, isAck := parseAck(line)
			if !isAck {
				if strings.HasPrefix(line, "ERR") {
					t.Errorf("child: %s", line)
				}
				continue
			}
			n++
			acked[id] = max(acked[id], v)
			if kill == nil {
				kill = time.After(time.Duration(100+rand.IntN(200)) * time.Millisecond)
			}
		case <-kill:
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			kill = nil
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("the child acknowledged nothing in time; stderr:\n%s", stderr.String())
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed by SIGKILL: %v; stderr:\n%s", err, stderr.String())
	}
	return n
}

func parseAck(line string) (id string, version int64, ok bool) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ack" {
		return "", 0, false
	}
	v, err := strconv.ParseInt(f[2], 10, 64)
	return f[1], v, err == nil
}

func checkCrashed(t *testing.T, path string, acked map[string]int64) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, Config{Path: path}, nil)
	if err != nil {
		t.Fatalf("reopening after the crash: %v", err)
	}
	defer st.Close()
	// List decodes and decrypts every row: a half-written one fails here.
	all, err := st.List(ctx)
	if err != nil {
		t.Fatalf("List after the crash: %v", err)
	}
	stored := map[string]*Endpoint{}
	for _, e := range all {
		stored[e.ID] = e
		want := crashEndpoint(e.ID, e.Version)
		if !bytes.Equal(e.ServiceSettings, want.ServiceSettings) || !bytes.Equal(e.TaskSettings, want.TaskSettings) ||
			e.TaskType != want.TaskType || e.Service != want.Service ||
			e.Secrets["access_key"] != want.Secrets["access_key"] || e.Secrets["secret_key"] != want.Secrets["secret_key"] {
			t.Errorf("%s at version %d is not the content written for that version (torn write)", e.ID, e.Version)
		}
	}
	for id, v := range acked {
		e, ok := stored[id]
		switch {
		case !ok:
			t.Errorf("acknowledged %s (version %d) is gone after the crash", id, v)
		case e.Version < v:
			t.Errorf("%s is at version %d after the crash, but version %d was acknowledged", id, e.Version, v)
		case e.Version > v+1:
			t.Errorf("%s is at version %d, more than one write past the acknowledged %d", id, e.Version, v)
		}
	}
	// At most the one write in flight per round may have landed unacknowledged.
	if extra := len(stored) - len(acked); extra < 0 || extra > 5 {
		t.Errorf("%d stored endpoints for %d acknowledged", len(stored), len(acked))
	}
}
