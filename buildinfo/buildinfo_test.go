package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	const rev = "132a8c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7"
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		want     Info
		wantLine string
	}{
		{"no build info", nil, Info{Version: "1.0"}, "1.0 (revision unknown)"},
		{"clean checkout",
			&debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
				{Key: "-trimpath", Value: "true"},
				{Key: "vcs", Value: "git"},
				{Key: "vcs.revision", Value: rev},
				{Key: "vcs.time", Value: "2026-12-02T03:00:00Z"},
				{Key: "vcs.modified", Value: "false"},
			}},
			Info{Version: "1.0", Revision: rev, Time: "2026-12-02T03:00:00Z", GoVersion: "go1.26.8"},
			"1.0 (revision " + rev + ")"},
		{"modified checkout",
			&debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: rev},
				{Key: "vcs.modified", Value: "true"},
			}},
			Info{Version: "1.0", Revision: rev, Modified: true, GoVersion: "go1.26.8"},
			"1.0 (revision " + rev + ", modified)"},
		{"outside a checkout", &debug.BuildInfo{GoVersion: "go1.26.8"},
			Info{Version: "1.0", GoVersion: "go1.26.8"},
			"1.0 (revision unknown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuildInfo("1.0", tc.bi)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if line := got.String(); line != tc.wantLine {
				t.Errorf("String() = %q, want %q", line, tc.wantLine)
			}
		})
	}
}

func TestDevelopmentBuild(t *testing.T) {
	if v := Read().Version; v != Release+"-dev" {
		t.Errorf("Version = %q, want %q in a build without mage dist's -X", v, Release+"-dev")
	}
}
