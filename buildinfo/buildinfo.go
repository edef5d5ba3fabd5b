// Package buildinfo says which instar this is: its release, and the VCS
// revision it was built from, as the Go toolchain recorded it in the binary.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Release is the instar release this tree is, or is heading for.
const Release = "0.1.0"

// version is what a build reports. mage dist sets it to Release with
// -ldflags=-X; every other build is a development build of Release.
var version = Release + "-dev"

// Info is what `instar version` prints.
type Info struct {
	// Version is the release, with -dev for builds other than mage dist's.
	Version string
	// Revision is the VCS commit built from; empty when the build was not
	// made in a checkout (or with -buildvcs=false).
	Revision string
	// Time is the revision's commit time, RFC 3339; empty with Revision.
	Time string
	// Modified is whether the checkout had uncommitted changes.
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Read returns this binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(version, bi)
}

// fromBuildInfo reads bi, which is nil when the binary has none.
func fromBuildInfo(version string, bi *debug.BuildInfo) Info {
	in := Info{Version: version}
	if bi == nil {
		return in
	}
	in.GoVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the version in one line, as "0.1.0-dev (revision 1a2b..., modified)";
// the revision is unknown in builds made outside a checkout, and in go run
// and go test builds, which the toolchain does not stamp.
func (in Info) String() string {
	var b strings.Builder
	b.WriteString(in.Version)
	switch {
	case in.Revision == "":
		b.WriteString(" (revision unknown)")
	case in.Modified:
		fmt.Fprintf(&b, " (revision %s, modified)", in.Revision)
	default:
		fmt.Fprintf(&b, " (revision %s)", in.Revision)
	}
	return b.String()
}
