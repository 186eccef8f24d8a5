// Package textpages takes the executable's pages that only start-up used
// out of the gateway's resident set.
//
// A Go binary with the gateway's dependencies runs the init code of about
// a thousand packages before main, and the kernel maps an executable in
// runs, not pages: read-ahead fills the page cache in large folios (up to a
// few MiB on Linux 6.x with ext4 or xfs), and a fault maps the whole folio.
// So `quarry serve` ended start-up with 28–30 MiB of its 57 MiB executable
// resident (code, .rodata, .gopclntab), most of it init code and tables it
// never touches again: a third of what 1,000 open streams cost. In a
// container the page cache behind those pages is charged to the memory
// limit, and the kernel reclaims mapped executable pages last.
//
// Trim, called once start-up is over, turns read-ahead off for the
// executable's read-only mappings (MADV_RANDOM), so that later faults read
// single pages; evicts what they map (MADV_PAGEOUT) and unmaps the rest
// (MADV_DONTNEED, which for a private read-only mapping only unmaps); and
// drops the executable's cached pages nothing maps (POSIX_FADV_DONTNEED).
// The pages the gateway uses come back one by one as it runs. At 1,000
// open streams the executable's resident pages went from ~29 to ~15 MiB
// (docs/benchmarks.md). No library does this; it is four system calls.
package textpages
