package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// qemuVirtualSize is qemu-img info's virtual size of name in dir.
func qemuVirtualSize(t *testing.T, dir, name string) uint64 {
	t.Helper()
	out, errOut, status := qemuImgInfo(dir, "--output=json", name)
	if status != 0 {
		t.Fatalf("qemu-img info %s: %s", name, errOut)
	}
	var v struct {
		VirtualSize uint64 `json:"virtual-size"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v.VirtualSize
}

// TestInspectSafeImages: images qemu-img makes, of every format inspect
// reads and their main options, are safe, of their format, with qemu-img's
// virtual size, status 0; with -j 2 the lines keep the files' order; the
// human output says the same.
func TestInspectSafeImages(t *testing.T) {
	dir := t.TempDir()
	imgs := []infoImage{
		{"r.raw", "raw", [][]string{qcreate("-f", "raw", "r.raw", "1M")}},
		{"empty.raw", "raw", [][]string{qcreate("-f", "raw", "empty.raw", "0")}},
		{"q.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "q.qcow2", "1G")}},
		{"q2.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-o", "compat=0.10", "q2.qcow2", "100M")}},
		{"ql.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-o", "lazy_refcounts=on,cluster_size=4096", "ql.qcow2", "100M")}},
		{"qz.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-o", "compression_type=zstd,extended_l2=on", "qz.qcow2", "100M")}},
		{"s.vmdk", "vmdk", [][]string{qcreate("-f", "vmdk", "s.vmdk", "100M")}},
		{"st.vmdk", "vmdk", [][]string{qcreate("-f", "vmdk", "-o", "subformat=streamOptimized", "st.vmdk", "100M")}},
		{"d.vhd", "vpc", [][]string{qcreate("-f", "vpc", "d.vhd", "100M")}},
		{"x.vhdx", "vhdx", [][]string{qcreate("-f", "vhdx", "x.vhdx", "100M")}},
		// Formats inspect recognises but does not read, with qemu-img's
		// size for them: a raw file of an odd size (qemu counts whole
		// sectors), vdi, LUKS1 (no key needed for the size), an ISO.
		{"odd.raw", "raw", [][]string{{"truncate", "-s", "1000", "odd.raw"}}},
		{"v.vdi", "vdi", [][]string{qcreate("-f", "vdi", "v.vdi", "7M")}},
		{"l.luks", "luks", [][]string{{"truncate", "-s", "20M", "l.luks"}, {"sh", "-c", "printf pw > key"},
			{"cryptsetup", "luksFormat", "--type", "luks1", "-q", "--batch-mode", "--key-file", "key",
				"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "l.luks"}}},
		{"c.iso", "iso", [][]string{{"mkdir", "-p", "isodir"}, {"sh", "-c", "echo hi > isodir/a"},
			{"genisoimage", "-quiet", "-o", "c.iso", "isodir"}, {"truncate", "-s", "+3", "c.iso"}}},
		// A hybrid ISO: a GPT in its system area, its backup header at
		// the ISO's end; one format, not a polyglot.
		{"h.iso", "iso", [][]string{{"mkdir", "-p", "hdir"}, {"sh", "-c", "seq 1 5000 > hdir/a"},
			{"truncate", "-s", "1440K", "efi.img"}, {"mkfs.fat", "efi.img"},
			{"xorriso", "-as", "mkisofs", "-quiet", "-o", "h.iso", "-append_partition", "2", "0xef", "efi.img",
				"-appended_part_as_gpt", "hdir"}}},
	}
	makeImages(t, dir, imgs)
	var names []string
	for _, img := range imgs {
		names = append(names, img.name)
	}
	lines, stderr, status := inspectJSON(t, dir, append([]string{"-j", "2"}, names...)...)
	if status != 0 || stderr != "" || len(lines) != len(imgs) {
		t.Fatalf("status %d, %d lines, stderr %q", status, len(lines), stderr)
	}
	for k, img := range imgs {
		l := lines[k]
		want := []string{img.format}
		switch {
		case img.format == "raw":
			want = []string{}
		case img.name == "h.iso":
			want = []string{"iso", "gpt"} // both claim it; the verdict is iso
		}
		if l.Filename != img.name || l.Format != img.format || !reflect.DeepEqual(l.Formats, want) || !l.Safe {
			t.Errorf("%s: %+v", img.name, l)
		}
		if vs := qemuVirtualSize(t, dir, img.name); l.VirtualSize == nil || *l.VirtualSize != vs {
			t.Errorf("%s: virtual size %v, qemu-img says %d", img.name, l.VirtualSize, vs)
		}
	}
	// One file: the same single line.
	one, _, status := inspectJSON(t, dir, "q.qcow2")
	if status != 0 || len(one) != 1 || !reflect.DeepEqual(one[0], lines[2]) {
		t.Errorf("one file: status %d, %+v", status, one)
	}
	out, stderr, status := instar(t, dir, "inspect", "q.qcow2", "r.raw")
	want := "filename: q.qcow2\nformat: qcow2\nvirtual size: 1 GiB (1073741824 bytes)\nsafe: yes\n\n" +
		"filename: r.raw\nformat: raw\nvirtual size: 1 MiB (1048576 bytes)\nsafe: yes\n"
	if status != 0 || out != want || stderr != "" {
		t.Errorf("human: status %d, stderr %q, got\n%s\nwant\n%s", status, stderr, out, want)
	}
	// The host's checks, and OpenStack's name for vpc.
	for _, c := range []struct {
		args   []string
		status int
		failed []string
	}{
		{[]string{"--expect-format", "vhd", "d.vhd"}, 0, nil},
		{[]string{"--expect-format", "raw", "d.vhd"}, 1, []string{"expect_format"}},
		{[]string{"--allow-formats", "raw,qcow2", "q.qcow2"}, 0, nil},
		{[]string{"--allow-formats", "raw,vhd", "x.vhdx"}, 1, []string{"allow_formats"}},
		{[]string{"--expect-format", "qcow2", "--allow-formats", "qcow2", "r.raw"}, 1, []string{"allow_formats", "expect_format"}},
	} {
		ls, _, st := inspectJSON(t, dir, c.args...)
		var failed []string
		for _, l := range ls {
			for k := range l.Failures {
				failed = append(failed, k)
			}
		}
		if len(failed) > 1 && failed[0] > failed[1] {
			failed[0], failed[1] = failed[1], failed[0]
		}
		if st != c.status || len(ls) != 1 || !reflect.DeepEqual(failed, c.failed) {
			t.Errorf("%q: status %d, failures %v, want %d %v", c.args, st, failed, c.status, c.failed)
		}
	}
}

// TestInspectMutations: seeded mutations of qemu-img's images, inspected
// in one batch, each get a verdict line or a one-line error, in order,
// status 0 or 1, never a panic or a hang.
func TestInspectMutations(t *testing.T) {
	dir := t.TempDir()
	imgs := []infoImage{
		{"q.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "q.qcow2", "1G")}},
		{"b.qcow2", "qcow2", [][]string{qcreate("-f", "qcow2", "-u", "-b", "x.raw", "-F", "raw", "b.qcow2", "1M")}},
		{"s.vmdk", "vmdk", [][]string{qcreate("-f", "vmdk", "s.vmdk", "100M")}},
		{"st.vmdk", "vmdk", [][]string{qcreate("-f", "vmdk", "-o", "subformat=streamOptimized", "st.vmdk", "100M")}},
		{"d.vhd", "vpc", [][]string{qcreate("-f", "vpc", "d.vhd", "100M")}},
		{"x.vhdx", "vhdx", [][]string{qcreate("-f", "vhdx", "x.vhdx", "100M")}},
		// Formats inspect recognises but does not read, with qemu-img's
		// size for them: a raw file of an odd size (qemu counts whole
		// sectors), vdi, LUKS1 (no key needed for the size), an ISO.
		{"odd.raw", "raw", [][]string{{"truncate", "-s", "1000", "odd.raw"}}},
		{"v.vdi", "vdi", [][]string{qcreate("-f", "vdi", "v.vdi", "7M")}},
		{"l.luks", "luks", [][]string{{"truncate", "-s", "20M", "l.luks"}, {"sh", "-c", "printf pw > key"},
			{"cryptsetup", "luksFormat", "--type", "luks1", "-q", "--batch-mode", "--key-file", "key",
				"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "l.luks"}}},
		{"c.iso", "iso", [][]string{{"mkdir", "-p", "isodir"}, {"sh", "-c", "echo hi > isodir/a"},
			{"genisoimage", "-quiet", "-o", "c.iso", "isodir"}, {"truncate", "-s", "+3", "c.iso"}}},
	}
	makeImages(t, dir, imgs)
	rng := rand.New(rand.NewSource(13))
	var names []string
	for _, img := range imgs {
		orig, err := os.ReadFile(filepath.Join(dir, img.name))
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 20; k++ {
			b := append([]byte(nil), orig...)
			// Most of the metadata is in the first 64 KiB.
			for n := 1 + rng.Intn(8); n > 0; n-- {
				b[rng.Intn(min(len(b), 1<<16))] = byte(rng.Intn(256))
			}
			name := fmt.Sprintf("m%d-%s", k, img.name)
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
	}
	out, stderr, status := instar(t, dir, append([]string{"inspect", "--output=json", "-j", "2", "--timeout", "20s"}, names...)...)
	if status != 0 && status != 1 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	var seen []string
	last := -1
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var v inspectLine
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i, ok := index[v.Filename]; !ok || i <= last {
			t.Errorf("verdict for %q out of order", v.Filename)
		} else {
			last = i
		}
		seen = append(seen, v.Filename)
	}
	errs := 0
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if l == "" {
			continue
		}
		errs++
		if !strings.HasPrefix(l, "instar: inspect: m") || strings.Contains(l, "panic") {
			t.Errorf("stderr line %q", l)
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(l, "instar: inspect: "), ":")
		seen = append(seen, name)
	}
	if len(seen) != len(names) {
		t.Fatalf("%d verdicts and errors for %d files", len(seen), len(names))
	}
	got := map[string]bool{}
	for _, s := range seen {
		got[s] = true
	}
	for _, n := range names {
		if !got[n] {
			t.Errorf("%s: neither a verdict nor an error", n)
		}
	}
	t.Logf("%d mutated files: %d verdicts, %d one-line errors", len(names), len(names)-errs, errs)
}
