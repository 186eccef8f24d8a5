package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// runVersion prints the module version the binary was built from (as
// `go install …@v1.2.3` records it; "(devel)" for a build from a checkout,
// then with the VCS revision when Go recorded one) and the Go version.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "quarry version: unexpected argument %q\n", args[0])
		return 2
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintf(stdout, "quarry %s %s %s/%s\n", versionOf(info), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

// versionOf is the main module's version from the build information, with
// the revision (12 digits, "+dirty" for modified trees) of a devel build.
func versionOf(info *debug.BuildInfo) string {
	if info == nil {
		return "(unknown)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if v == "(devel)" && rev != "" {
		v += " " + rev[:min(12, len(rev))] + dirty
	}
	return v
}
