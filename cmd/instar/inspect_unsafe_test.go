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
		// Shapes qemu refuses to open, which inspect refuses with qemu's words.
		{"sector.vdi", "vdi", [][]string{qcreate("-f", "vdi", "sector.vdi", "7M"), {"patch", "sector.vdi", "360", "4", "1048576"}}},
		{"table.vhd", "vpc", [][]string{qcreate("-f", "vpc", "table.vhd", "16M"), {"patch", "table.vhd", "540", "4", "2"}}},
		{"l2.luks", "luks", [][]string{{"truncate", "-s", "20M", "l2.luks"}, {"sh", "-c", "printf pw > key"},
			{"cryptsetup", "luksFormat", "--type", "luks2", "-q", "--batch-mode", "--key-file", "key",
				"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "l2.luks"}}},
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
		{"sector.vdi", "vdi", "open"},
		{"table.vhd", "vpc", "open"},
		{"table.vhd", "vpc", "virtual_size"},
		{"l2.luks", "luks", "version"},
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
	// Where qemu refuses the file, the reason is its message.
	for k, c := range cases {
		if c.check != "open" {
			continue
		}
		_, qerr, status := qemuImgInfo(dir, c.name)
		want, ok := strings.CutPrefix(strings.TrimSpace(qerr), "qemu-img: Could not open '"+c.name+"': ")
		if status == 0 || !ok || lines[k+1].Failures["open"] != want {
			t.Errorf("%s: open %q, qemu-img info says %q (status %d)", c.name, lines[k+1].Failures["open"], qerr, status)
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
