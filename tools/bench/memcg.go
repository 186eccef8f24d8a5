package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memCgroup is a memory cgroup made for one gateway (-memory-limit): the
// gateway runs under a container's limit, and its usage, peak and OOM
// kills are read from the cgroup. Both hierarchies are handled: cgroup v2
// (memory.max) and v1's memory controller (memory.limit_in_bytes), as
// container runtimes use either.
type memCgroup struct {
	dir string
	v2  bool
}

// newMemCgroup makes a child of this process's memory cgroup with a limit
// of limit bytes.
func newMemCgroup(name string, limit int64) (*memCgroup, error) {
	parent, v2, err := ownMemCgroup()
	if err != nil {
		return nil, err
	}
	cg := &memCgroup{dir: filepath.Join(parent, name), v2: v2}
	if err := os.Mkdir(cg.dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("memory cgroup: %w (run as root, or drop -memory-limit)", err)
	}
	file := "memory.limit_in_bytes"
	if v2 {
		file = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		cg.remove()
		return nil, fmt.Errorf("memory cgroup: %w", err)
	}
	return cg, nil
}

// ownMemCgroup finds this process's memory cgroup directory.
func ownMemCgroup() (dir string, v2 bool, err error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	var v2path string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2path = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == "memory" {
				return filepath.Join("/sys/fs/cgroup/memory", parts[2]), false, nil
			}
		}
	}
	if ctl, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && v2path != "" && strings.Contains(string(ctl), "memory") {
		return filepath.Join("/sys/fs/cgroup", v2path), true, nil
	}
	return "", false, errors.New("memory cgroup: no memory controller in /proc/self/cgroup")
}

// wrap is argv run inside the cgroup: a shell joins it and execs argv, so
// that everything the process charges is the cgroup's from the start.
func (cg *memCgroup) wrap(argv []string) []string {
	return append([]string{"/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg.dir}, argv...)
}

// read is one of the cgroup's counters in bytes, -1 if it cannot be read.
func (cg *memCgroup) read(v1, v2 string) int64 {
	name := v1
	if cg.v2 {
		name = v2
	}
	data, err := os.ReadFile(filepath.Join(cg.dir, name))
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func (cg *memCgroup) usage() int64 { return cg.read("memory.usage_in_bytes", "memory.current") }

// peak is the most the cgroup has held since it was made.
func (cg *memCgroup) peak() int64 { return cg.read("memory.max_usage_in_bytes", "memory.peak") }

// oomKills is how many processes the kernel killed for the limit.
func (cg *memCgroup) oomKills() int64 {
	name := "memory.oom_control"
	if cg.v2 {
		name = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(cg.dir, name))
	if err != nil {
		return -1
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "oom_kill "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// remove deletes the cgroup once its processes have gone.
func (cg *memCgroup) remove() { os.Remove(cg.dir) }
