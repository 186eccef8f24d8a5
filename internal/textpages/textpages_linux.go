package textpages

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Trim advises the kernel on every read-only mapping of the running
// executable and drops the executable's cached pages that nothing maps. It
// returns how many bytes were resident in those mappings before.
//
// Writable mappings (.data, .bss, the heap) are never touched, nor a
// read-only one holding pages of its own (a RELRO region written before
// it was made read-only): dropping those would lose their contents.
func Trim() (int64, error) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("textpages: %w", err)
	}
	defer exe.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(exe.Fd()), &st); err != nil {
		return 0, fmt.Errorf("textpages: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("textpages: %w", err)
	}
	spans, resident := readOnlySpans(string(smaps), unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for _, s := range spans {
		if err := advise(s); err != nil {
			return 0, err
		}
	}
	// What the start-up read ahead and never mapped, and what the
	// advice unmapped, leaves the page cache: it is charged to the
	// container's memory, and a large folio left there would be mapped
	// whole again by the next fault in it.
	if err := unix.Fadvise(int(exe.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, fmt.Errorf("textpages: fadvise: %w", err)
	}
	return resident, nil
}

// advise turns read-ahead off for the span (MADV_RANDOM: a fault then
// reads the one page it needs; fault-around still maps the neighbours
// already cached, which are few once the cache is dropped), reclaims what
// it maps (MADV_PAGEOUT, Linux 5.4: pages no other process maps leave the
// page cache) and unmaps the rest (MADV_DONTNEED; for a private mapping
// without pages of its own this only unmaps).
func advise(s span) error {
	for _, a := range []struct {
		advice int
		name   string
	}{{unix.MADV_RANDOM, "MADV_RANDOM"}, {unix.MADV_PAGEOUT, "MADV_PAGEOUT"}, {unix.MADV_DONTNEED, "MADV_DONTNEED"}} {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.lo, s.hi-s.lo, uintptr(a.advice)); errno != 0 {
			if a.advice == unix.MADV_PAGEOUT && errno == unix.EINVAL {
				continue // a kernel before 5.4: unmapping still helps
			}
			return fmt.Errorf("textpages: %s %#x-%#x: %w", a.name, s.lo, s.hi, errno)
		}
	}
	return nil
}

type span struct{ lo, hi uintptr }

// readOnlySpans parses /proc/self/smaps for the private read-only mappings
// of the file major:minor, ino that hold no anonymous pages, and sums their
// resident bytes.
func readOnlySpans(smaps string, major, minor uint32, ino uint64) (spans []span, resident int64) {
	var cur *span
	var curRSS int64
	flush := func() {
		if cur != nil {
			spans = append(spans, *cur)
			resident += curRSS
		}
		cur = nil
	}
	sc := bufio.NewScanner(strings.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header line
			flush()
			if s, ok := readOnlyOf(f, major, minor, ino); ok {
				cur, curRSS = &s, 0
			}
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Rss:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			curRSS = kb << 10
		case "Anonymous:":
			if f[1] != "0" {
				cur = nil
			}
		}
	}
	flush()
	return spans, resident
}

// readOnlyOf reads a mapping's header ("lo-hi perms offset major:minor
// inode path") and reports its range if it is a private read-only mapping
// of the file major:minor, ino.
func readOnlyOf(f []string, major, minor uint32, ino uint64) (span, bool) {
	if len(f) < 5 || len(f[1]) != 4 || f[1][0] != 'r' || f[1][1] != '-' || f[1][3] != 'p' {
		return span{}, false
	}
	if n, err := strconv.ParseUint(f[4], 10, 64); err != nil || n != ino {
		return span{}, false
	}
	ma, mi, _ := strings.Cut(f[3], ":")
	if a, err := strconv.ParseUint(ma, 16, 32); err != nil || uint32(a) != major {
		return span{}, false
	}
	if b, err := strconv.ParseUint(mi, 16, 32); err != nil || uint32(b) != minor {
		return span{}, false
	}
	l, h, _ := strings.Cut(f[0], "-")
	lo, err1 := strconv.ParseUint(l, 16, 64)
	hi, err2 := strconv.ParseUint(h, 16, 64)
	if err1 != nil || err2 != nil || hi <= lo {
		return span{}, false
	}
	return span{uintptr(lo), uintptr(hi)}, true
}
