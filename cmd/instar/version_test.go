package main

import (
	"bytes"
	"regexp"
	"testing"
)

func TestVersionListsGuestBinaries(t *testing.T) {
	var out bytes.Buffer
	if err := dispatch([]string{"version"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^instar version \S+$`,
		`(?m)^built with go\S+$`,
		`(?m)^revision (unknown|[0-9a-f]{40})`,
		`(?m)^guest core +load 0x0010000 +\d+ bytes +\d+ in memory +sha256 [0-9a-f]{64}$`,
		`(?m)^guest selftest +load 0x0020000 `,
	} {
		if !regexp.MustCompile(re).Match(out.Bytes()) {
			t.Errorf("output does not match %s:\n%s", re, out.String())
		}
	}
}

// TestVersionFlag: `instar --version` gives the version and the build.
func TestVersionFlag(t *testing.T) {
	stdout, stderr, status := instar(t, t.TempDir(), "--version")
	if status != 0 || stderr != "" || !regexp.MustCompile(`^instar version \S+\nrevision .*\nbuilt with go\S+\n$`).MatchString(stdout) {
		t.Errorf("status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}
