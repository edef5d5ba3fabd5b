package main

import (
	"strings"
	"testing"
)

// TestInspectUnsafeImages: the known unsafe shapes qemu-img can make fail
// their checks, status 1, and the rest of a batch is still inspected in
// order. (qed and container shapes join as the guest checks them.)
func TestInspectUnsafeImages(t *testing.T) {
	dir := t.TempDir()
	makeImages(t, dir, []infoImage{
		{"base.raw", "raw", [][]string{qcreate("-f", "raw", "base.raw", "1M")}},
		{"over.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-b", "base.raw", "-F", "raw", "over.qcow2")}},
		{"host.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-u", "-b", "/etc/passwd", "-F", "raw", "host.qcow2", "1M")}},
		{"data.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-o", "data_file=data.raw", "data.qcow2", "1M")}},
		{"json.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-u", "-b", `json:{"file":{"driver":"file","filename":"/etc/passwd"}}`, "-F", "raw", "json.qcow2", "1M")}},
		{"d.vhd", "vpc", [][]string{qcreate("-f", "vpc", "d.vhd", "1M")}},
		// CVE-2022-47951's shape: a descriptor whose extent is another file.
		{"flat.vmdk", "vmdk", [][]string{qcreate("-f", "vmdk", "-o", "subformat=monolithicFlat", "flat.vmdk", "1M")}},
	})
	cases := []struct {
		name, format, check string
	}{
		{"over.qcow2", "qcow2", "backing_file"},
		{"host.qcow2", "qcow2", "backing_file"},
		{"data.qcow2", "qcow2", "data_file"},
		{"json.qcow2", "qcow2", "protocol"},
		{"json.qcow2", "qcow2", "backing_file"},
		{"flat.vmdk", "vmdk", "descriptor"},
	}
	args := []string{"-j", "3", "base.raw"}
	for _, c := range cases {
		args = append(args, c.name)
	}
	args = append(args, "d.vhd")
	lines, stderr, status := inspectJSON(t, dir, args...)
	if status != 1 || stderr != "" || len(lines) != len(cases)+2 {
		t.Fatalf("status %d, %d lines, stderr %q", status, len(lines), stderr)
	}
	if !lines[0].Safe || lines[0].Filename != "base.raw" {
		t.Errorf("base.raw: %+v", lines[0])
	}
	for k, c := range cases {
		l := lines[k+1]
		if l.Filename != c.name || l.Format != c.format || l.Safe || l.Failures[c.check] == "" {
			t.Errorf("%s: %+v, want format %s failing %s", c.name, l, c.format, c.check)
		}
	}
	if l := lines[len(lines)-1]; !l.Safe || l.Filename != "d.vhd" {
		t.Errorf("d.vhd after the unsafe ones: %+v", l)
	}
	out, _, status := instar(t, dir, "inspect", "over.qcow2")
	if status != 1 || !strings.Contains(out, "safe: no\n  backing_file: ") {
		t.Errorf("human: status %d:\n%s", status, out)
	}
	t.Logf("e.g. %s: %v", lines[1].Filename, lines[1].Failures)
}
