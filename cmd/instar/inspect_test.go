package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inspectLine is one JSON line of instar inspect, as documented.
type inspectLine struct {
	Filename    string            `json:"filename"`
	Format      string            `json:"format"`
	Formats     []string          `json:"formats"`
	VirtualSize *uint64           `json:"virtual-size"`
	Safe        bool              `json:"safe"`
	Failures    map[string]string `json:"failures"`
}

// inspectJSON runs instar inspect --output=json over args in dir and
// parses its lines strictly: every documented key, nothing else.
func inspectJSON(t *testing.T, dir string, args ...string) (lines []inspectLine, stderr string, status int) {
	t.Helper()
	out, stderr, status := instar(t, dir, append([]string{"inspect", "--output=json"}, args...)...)
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &keys); err != nil {
			t.Fatalf("%q: line %q: %v", args, l, err)
		}
		if len(keys) != 6 {
			t.Errorf("%q: line %q has %d keys, want 6", args, l, len(keys))
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		var v inspectLine
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: line %q: %v", args, l, err)
		}
		if v.Safe != (len(v.Failures) == 0) || v.Formats == nil || v.Failures == nil {
			t.Errorf("%q: line %q breaks the shape", args, l)
		}
		lines = append(lines, v)
	}
	return lines, stderr, status
}

// TestInspectUsageErrors: usage errors are one line and status 2, with
// nothing on stdout.
func TestInspectUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"--output=json"}, {"-j", "0", "x"}, {"-j", "x", "y"}, {"--colour", "x"},
		{"--expect-format", "qcow3", "x"}, {"--allow-formats", "raw,nope", "x"}, {"--output", "xml", "x"},
	} {
		out, stderr, status := instar(t, t.TempDir(), append([]string{"inspect"}, args...)...)
		if status != 2 || out != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "instar: inspect: ") {
			t.Errorf("%q: status %d, stdout %q, stderr %q", args, status, out, stderr)
		}
	}
}

// TestInspectUnopenable: a file that cannot be inspected gets one line on
// stderr naming it, in order, and status 1; on stdout it still gets its
// verdict (JSON line or human block), unsafe by not_inspected, so that
// there is one per file.
func TestInspectUnopenable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok.img"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr := "instar: inspect: adir: is a directory\ninstar: inspect: gone.img: could not open: no such file or directory\n"
	out, stderr, status := instar(t, dir, "inspect", "-j", "2", "adir", "ok.img", "gone.img")
	wantOut := "filename: adir\nsafe: no\n  not_inspected: is a directory\n\n" +
		"filename: ok.img\nformat: raw\nvirtual size: 4 KiB (4096 bytes)\nsafe: yes\n\n" +
		"filename: gone.img\nsafe: no\n  not_inspected: could not open: no such file or directory\n"
	if status != 1 || out != wantOut || stderr != wantErr {
		t.Errorf("status %d, stdout %q, stderr %q, want %q and %q", status, out, stderr, wantOut, wantErr)
	}
	lines, stderr, status := inspectJSON(t, dir, "-j", "2", "--expect-format", "raw", "adir", "ok.img", "gone.img")
	if status != 1 || stderr != wantErr || len(lines) != 3 {
		t.Fatalf("status %d, %d lines %+v, stderr %q", status, len(lines), lines, stderr)
	}
	for i, want := range []struct {
		name, format, failure string
	}{{"adir", "", "is a directory"}, {"ok.img", "raw", ""}, {"gone.img", "", "could not open: no such file or directory"}} {
		l := lines[i]
		if l.Filename != want.name || l.Format != want.format || l.Failures["not_inspected"] != want.failure ||
			len(l.Failures) != map[bool]int{true: 0, false: 1}[want.failure == ""] {
			t.Errorf("line %d: %+v, want %+v", i, l, want)
		}
	}
}
