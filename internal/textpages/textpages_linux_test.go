package textpages

import (
	"bytes"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadOnlySpans(t *testing.T) {
	// A trimmed /proc/self/smaps: the executable is fe:00 inode 99.
	const smaps = `00400000-01746000 r-xp 00000000 fe:00 99                             /q
Rss:                6040 kB
Anonymous:             0 kB
01746000-02aef000 r--p 01346000 fe:00 99                             /q
Rss:               11108 kB
Anonymous:             0 kB
02aef000-02bb9000 rw-p 026ef000 fe:00 99                             /q
Rss:                 740 kB
Anonymous:           120 kB
02bb9000-02bbb000 r--p 027b9000 fe:00 99                             /q
Rss:                   8 kB
Anonymous:             8 kB
02bbb000-02bbc000 r--s 00000000 fe:00 99                             /q
Rss:                   4 kB
Anonymous:             0 kB
7f4054ba5000-7f4054cfb000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 876 kB
Anonymous:             0 kB
7f4054cfb000-7f4054d4e000 r--p 0017c000 fe:01 99                     /other/fs
Rss:                 212 kB
Anonymous:             0 kB
7ffd1000-7ffd3000 r--p 00000000 00:00 0                                  [vvar]
Rss:                   0 kB
Anonymous:             0 kB
`
	spans, resident := readOnlySpans(smaps, 0xfe, 0, 99)
	want := []span{{0x400000, 0x1746000}, {0x1746000, 0x2aef000}}
	if len(spans) != len(want) || spans[0] != want[0] || spans[1] != want[1] {
		t.Errorf("spans = %#v, want %#v: only the executable's private read-only mappings without pages of their own", spans, want)
	}
	if want := int64(6040+11108) << 10; resident != want {
		t.Errorf("resident = %d, want %d", resident, want)
	}
}

// exeResident is the resident bytes of the test binary's read-only
// mappings.
func exeResident(t *testing.T) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	_, n := readOnlySpans(string(smaps), unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	return n
}

var written = []byte("set before Trim")

// TestTrim: the executable's resident read-only pages drop, and what the
// process wrote is kept, in its data and in a read-only private mapping of
// the executable whose page it wrote before making it read-only (a RELRO
// region's case).
func TestTrim(t *testing.T) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Skip("no /proc/self/exe:", err)
	}
	defer exe.Close()
	relro, err := unix.Mmap(int(exe.Fd()), 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(relro)
	copy(relro, "relocated")
	if err := unix.Mprotect(relro, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	copy(written, "changed by test")

	before := exeResident(t)
	got, err := Trim()
	if err != nil {
		t.Fatal(err)
	}
	after := exeResident(t)
	t.Logf("resident read-only pages of the executable: %d KiB before, Trim saw %d KiB, %d KiB after", before>>10, got>>10, after>>10)
	if got <= 0 || after >= before/2 {
		t.Errorf("resident %d KiB before, %d KiB after Trim (which saw %d KiB): want less than half left", before>>10, after>>10, got>>10)
	}
	if !bytes.HasPrefix(relro, []byte("relocated")) {
		t.Errorf("the written read-only mapping lost its page: %q", relro[:9])
	}
	if string(written) != "changed by test" {
		t.Errorf("data changed: %q", written)
	}
}
