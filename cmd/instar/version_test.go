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
		`(?m)^instar version \S+ \((revision [0-9a-f]{40}(, modified)?|revision unknown)\)$`,
		`(?m)^guest core +load 0x0010000 +\d+ bytes +\d+ in memory +sha256 [0-9a-f]{64}$`,
		`(?m)^guest selftest +load 0x0020000 `,
	} {
		if !regexp.MustCompile(re).Match(out.Bytes()) {
			t.Errorf("output does not match %s:\n%s", re, out.String())
		}
	}
}

func TestDashDashVersion(t *testing.T) {
	var out bytes.Buffer
	if err := dispatch([]string{"--version"}, &out); err != nil {
		t.Fatal(err)
	}
	if re := `^instar version \S+ \([^\n]+\)\n$`; !regexp.MustCompile(re).Match(out.Bytes()) {
		t.Errorf("output does not match %s:\n%s", re, out.String())
	}
}
