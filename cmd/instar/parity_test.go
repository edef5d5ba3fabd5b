package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"instar/tools/imgcompare"
)

// The parity suite: for each command line, `instar create` and `qemu-img
// create` must print the same "Formatting" line and make images that are
// the same by every criterion of formats.md. It runs under the accelerator
// given by -accel (process in plain go test; kvm in mage vmtest).
var parityAccel = flag.String("accel", "process", "accelerator for the parity suite")

// parityCase is one command line; "IMG" stands for the image's path and
// "BASE" for a backing file made beforehand in the same directory.
type parityCase struct {
	name string
	args []string
	// base, when set, is the qemu-img create command line that makes
	// BASE beforehand (with "BASE" as its file name).
	base []string
	// fails: both must fail, and leave no file behind.
	fails bool
	// inDir runs both tools in the image's directory, with IMG and DATA
	// (a qcow2 external data file) as names relative to it: qemu-img
	// makes a data file relative to its working directory, and records
	// the name as given.
	inDir bool
}

var parityCases = []parityCase{
	// raw, made on the host.
	{name: "raw", args: []string{"-f", "raw", "IMG", "10M"}},
	{name: "raw-default-format", args: []string{"IMG", "1000"}},
	{name: "raw-falloc", args: []string{"-f", "raw", "-o", "preallocation=falloc", "IMG", "3M"}},
	{name: "raw-full", args: []string{"-f", "raw", "-o", "preallocation=full", "IMG", "2M"}},
	{name: "raw-zero", args: []string{"-f", "raw", "IMG", "0"}},

	// qcow2.
	{name: "qcow2", args: []string{"-f", "qcow2", "IMG", "10G"}},
	{name: "qcow2-odd-size", args: []string{"-f", "qcow2", "IMG", "1.5k"}},
	{name: "qcow2-zero", args: []string{"-f", "qcow2", "IMG", "0"}},
	{name: "qcow2-v2", args: []string{"-f", "qcow2", "-o", "compat=0.10", "IMG", "10G"}},
	{name: "qcow2-v2-word", args: []string{"-f", "qcow2", "-o", "compat=v2", "IMG", "1G"}},
	{name: "qcow2-cluster-512", args: []string{"-f", "qcow2", "-o", "cluster_size=512", "IMG", "1G"}},
	{name: "qcow2-cluster-2M", args: []string{"-f", "qcow2", "-o", "cluster_size=2M", "IMG", "1T"}},
	{name: "qcow2-refcount-1", args: []string{"-f", "qcow2", "-o", "refcount_bits=1", "IMG", "10G"}},
	{name: "qcow2-refcount-64", args: []string{"-f", "qcow2", "-o", "refcount_bits=64", "IMG", "10G"}},
	{name: "qcow2-extended-l2", args: []string{"-f", "qcow2", "-o", "extended_l2=on,cluster_size=32k", "IMG", "10G"}},
	{name: "qcow2-lazy", args: []string{"-f", "qcow2", "-o", "lazy_refcounts=on", "IMG", "10G"}},
	{name: "qcow2-zstd", args: []string{"-f", "qcow2", "-o", "compression_type=zstd", "IMG", "10G"}},
	{name: "qcow2-big", args: []string{"-f", "qcow2", "IMG", "100T"}},
	{name: "qcow2-metadata", args: []string{"-f", "qcow2", "-o", "preallocation=metadata", "IMG", "1G"}},
	{name: "qcow2-metadata-4k", args: []string{"-f", "qcow2", "-o", "preallocation=metadata,cluster_size=4k", "IMG", "256M"}},
	// Enough pages for the host to start their write-back during the
	// guest run.
	{name: "qcow2-metadata-4k-written-back", args: []string{"-f", "qcow2", "-o", "preallocation=metadata,cluster_size=4k", "IMG", "2G"}},
	{name: "qcow2-metadata-512", args: []string{"-f", "qcow2", "-o", "preallocation=metadata,cluster_size=512", "IMG", "16M"}},
	{name: "qcow2-falloc", args: []string{"-f", "qcow2", "-o", "preallocation=falloc", "IMG", "64M"}},
	{name: "qcow2-full", args: []string{"-f", "qcow2", "-o", "preallocation=full", "IMG", "32M"}},
	// -o backing_file= and backing_fmt= are -b and -F, in any mixture.
	{name: "qcow2-o-backing", base: []string{"-f", "qcow2", "BASE", "3G"}, args: []string{"-f", "qcow2", "-o", "backing_file=base,backing_fmt=qcow2", "IMG"}},
	{name: "qcow2-o-backing-F", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-o", "backing_file=base", "-F", "raw", "IMG"}},
	{name: "qcow2-b-o-backing-fmt", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-b", "base", "-o", "backing_fmt=raw", "IMG"}},
	{name: "qcow2-b-over-o-backing", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-b", "base", "-o", "backing_file=other,backing_fmt=raw", "IMG"}},
	{name: "qcow2-o-backing-unsafe", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-u", "-o", "backing_file=base,backing_fmt=raw", "IMG", "2M"}},
	{name: "vmdk-o-backing", base: []string{"-f", "vmdk", "BASE", "1G"}, args: []string{"-f", "vmdk", "-o", "backing_file=base,backing_fmt=vmdk", "IMG"}},
	{name: "qcow2-o-backing-no-fmt", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-o", "backing_file=base", "IMG"}, fails: true},
	{name: "vmdk-o-backing-raw", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "vmdk", "-o", "backing_file=base,backing_fmt=raw", "IMG"}, fails: true},
	{name: "qcow2-unsafe-no-fmt", args: []string{"-f", "qcow2", "-u", "-b", "nowhere", "IMG", "1M"}, fails: true},
	{name: "qcow2-unsafe-o-no-fmt", args: []string{"-f", "qcow2", "-u", "-o", "backing_file=nowhere", "IMG", "1M"}, fails: true},
	{name: "qcow2-backing-size-0", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "raw", "IMG", "0"}},
	{name: "qcow2-file-prefix", args: []string{"-f", "qcow2", "file:IMG", "1G"}},
	{name: "qcow2-size-twice", args: []string{"-f", "qcow2", "-o", "size=1M", "IMG", "1M"}, fails: true},
	{name: "qcow2-backing-qcow2", base: []string{"-f", "qcow2", "BASE", "3G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "qcow2", "IMG"}},
	{name: "qcow2-backing-raw", base: []string{"-f", "raw", "BASE", "1000"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "raw", "IMG"}},
	{name: "qcow2-backing-qcow2-as-raw", base: []string{"-f", "qcow2", "BASE", "1G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "raw", "IMG"}},
	{name: "qcow2-backing-vmdk", base: []string{"-f", "vmdk", "BASE", "2G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "vmdk", "IMG"}},
	{name: "qcow2-backing-vpc", base: []string{"-f", "vpc", "BASE", "1G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "vpc", "IMG"}},
	{name: "qcow2-backing-vpc-fixed", base: []string{"-f", "vpc", "-o", "subformat=fixed", "BASE", "10M"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "vpc", "IMG"}},
	{name: "qcow2-backing-vhdx", base: []string{"-f", "vhdx", "BASE", "5G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "vhdx", "IMG"}},
	{name: "qcow2-backing-size", base: []string{"-f", "qcow2", "BASE", "1G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "qcow2", "IMG", "5G"}},
	{name: "qcow2-backing-unsafe", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-u", "-b", "base", "-F", "raw", "IMG", "1G"}},
	// external data files, made beside the image (relative names) in
	// every preallocation mode, raw or not
	{name: "qcow2-data-file", args: []string{"-f", "qcow2", "-o", "data_file=DATA", "IMG", "10G"}, inDir: true},
	{name: "qcow2-data-file-raw", args: []string{"-f", "qcow2", "-o", "data_file=DATA,data_file_raw=on", "IMG", "1G"}, inDir: true},
	{name: "qcow2-data-file-metadata", args: []string{"-f", "qcow2", "-o", "data_file=DATA,preallocation=metadata", "IMG", "1G"}, inDir: true},
	{name: "qcow2-data-file-falloc", args: []string{"-f", "qcow2", "-o", "data_file=DATA,preallocation=falloc", "IMG", "64M"}, inDir: true},
	{name: "qcow2-data-file-falloc-1G", args: []string{"-f", "qcow2", "-o", "data_file=DATA,preallocation=falloc", "IMG", "1G"}, inDir: true},
	{name: "qcow2-data-file-full", args: []string{"-f", "qcow2", "-o", "data_file=DATA,preallocation=full", "IMG", "32M"}, inDir: true},
	{name: "qcow2-data-file-raw-full", args: []string{"-f", "qcow2", "-o", "data_file=DATA,data_file_raw=on,preallocation=full", "IMG", "32M"}, inDir: true},
	{name: "qcow2-data-file-raw-falloc-odd", args: []string{"-f", "qcow2", "-o", "data_file=DATA,data_file_raw=on,preallocation=falloc", "IMG", "3146240"}, inDir: true},
	{name: "qcow2-data-file-odd", args: []string{"-f", "qcow2", "-o", "data_file=DATA,data_file_raw=on", "IMG", "1.5k"}, inDir: true},
	{name: "qcow2-data-file-prefix", args: []string{"-f", "qcow2", "-o", "data_file=file:DATA,data_file_raw=on", "IMG", "1M"}, inDir: true},
	{name: "qcow2-data-file-zero", args: []string{"-f", "qcow2", "-o", "data_file=DATA", "IMG", "0"}, inDir: true},
	{name: "qcow2-data-file-extended", args: []string{"-f", "qcow2", "-o", "data_file=DATA,extended_l2=on,preallocation=metadata", "IMG", "100M"}, inDir: true},
	{name: "qcow2-data-file-backing", base: []string{"-f", "qcow2", "BASE", "1G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "qcow2", "-o", "data_file=DATA", "IMG"}, inDir: true},
	{name: "qcow2-backing-extended-metadata", base: []string{"-f", "qcow2", "BASE", "1G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "qcow2", "-o", "extended_l2=on,preallocation=metadata", "IMG"}},

	// vmdk.
	{name: "vmdk", args: []string{"-f", "vmdk", "IMG", "10G"}},
	{name: "vmdk-stream", args: []string{"-f", "vmdk", "-o", "subformat=streamOptimized", "IMG", "10G"}},
	{name: "vmdk-lsilogic", args: []string{"-f", "vmdk", "-o", "adapter_type=lsilogic", "IMG", "5G"}},
	{name: "vmdk-legacyesx", args: []string{"-f", "vmdk", "-o", "adapter_type=legacyESX", "IMG", "5G"}},
	{name: "vmdk-hwversion", args: []string{"-f", "vmdk", "-o", "hwversion=6", "IMG", "1G"}},
	{name: "vmdk-compat6", args: []string{"-f", "vmdk", "-o", "compat6=on", "IMG", "1G"}},
	{name: "vmdk-toolsversion", args: []string{"-f", "vmdk", "-o", "toolsversion=11269", "IMG", "1G"}},
	{name: "vmdk-zeroed-grain", args: []string{"-f", "vmdk", "-o", "zeroed_grain=on", "IMG", "1G"}},
	{name: "vmdk-backing", base: []string{"-f", "vmdk", "BASE", "2G"}, args: []string{"-f", "vmdk", "-b", "base", "-F", "vmdk", "IMG"}},
	{name: "vmdk-backing-unsafe", base: []string{"-f", "vmdk", "BASE", "2G"}, args: []string{"-f", "vmdk", "-u", "-b", "base", "-F", "vmdk", "IMG", "1G"}},
	{name: "vmdk-flat", args: []string{"-f", "vmdk", "-o", "subformat=monolithicFlat", "IMG", "5G"}},
	{name: "vmdk-2gb-sparse", args: []string{"-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "IMG", "5G"}},
	{name: "vmdk-2gb-flat", args: []string{"-f", "vmdk", "-o", "subformat=twoGbMaxExtentFlat,adapter_type=buslogic", "IMG", "4G"}},
	{name: "vmdk-2gb-sparse-backing", base: []string{"-f", "vmdk", "BASE", "3G"}, args: []string{"-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-b", "base", "-F", "vmdk", "IMG"}},

	// vpc.
	{name: "vpc", args: []string{"-f", "vpc", "IMG", "10G"}},
	{name: "vpc-chs", args: []string{"-f", "vpc", "IMG", "1G"}},
	{name: "vpc-force-size", args: []string{"-f", "vpc", "-o", "force_size=on", "IMG", "1G"}},
	{name: "vpc-fixed", args: []string{"-f", "vpc", "-o", "subformat=fixed", "IMG", "64M"}},
	{name: "vpc-fixed-force", args: []string{"-f", "vpc", "-o", "subformat=fixed,force_size=on", "IMG", "20M"}},
	{name: "vpc-max", args: []string{"-f", "vpc", "IMG", "2040G"}},

	// vhdx.
	{name: "vhdx", args: []string{"-f", "vhdx", "IMG", "10G"}},
	{name: "vhdx-small", args: []string{"-f", "vhdx", "IMG", "100M"}},
	{name: "vhdx-32M-blocks", args: []string{"-f", "vhdx", "IMG", "101G"}},
	{name: "vhdx-fixed", args: []string{"-f", "vhdx", "-o", "subformat=fixed", "IMG", "64M"}},
	{name: "vhdx-block-size", args: []string{"-f", "vhdx", "-o", "block_size=1M", "IMG", "1G"}},
	{name: "vhdx-log-size", args: []string{"-f", "vhdx", "-o", "log_size=4M", "IMG", "1G"}},
	{name: "vhdx-no-zero", args: []string{"-f", "vhdx", "-o", "block_state_zero=off", "IMG", "1G"}},

	// Refused by both.
	{name: "raw-metadata-refused", args: []string{"-f", "raw", "-o", "preallocation=metadata", "IMG", "1M"}, fails: true},
	{name: "raw-backing-refused", args: []string{"-f", "raw", "-b", "x", "-F", "raw", "IMG", "1M"}, fails: true},
	{name: "no-size", args: []string{"-f", "raw", "IMG"}, fails: true},
	{name: "bad-size", args: []string{"-f", "raw", "IMG", "1x"}, fails: true},
	{name: "too-big", args: []string{"-f", "raw", "IMG", "8E"}, fails: true},
	{name: "unknown-format", args: []string{"-f", "qcow3", "IMG", "1M"}, fails: true},
	{name: "backing-fmt-without-backing", args: []string{"-f", "qcow2", "-F", "qcow2", "IMG", "1M"}, fails: true},
	{name: "qcow2-cluster-not-power", args: []string{"-f", "qcow2", "-o", "cluster_size=3000", "IMG", "1M"}, fails: true},
	{name: "qcow2-cluster-too-big", args: []string{"-f", "qcow2", "-o", "cluster_size=4M", "IMG", "1M"}, fails: true},
	{name: "qcow2-refcount-3", args: []string{"-f", "qcow2", "-o", "refcount_bits=3", "IMG", "1M"}, fails: true},
	{name: "qcow2-v2-lazy", args: []string{"-f", "qcow2", "-o", "compat=0.10,lazy_refcounts=on", "IMG", "1M"}, fails: true},
	{name: "qcow2-v2-zstd", args: []string{"-f", "qcow2", "-o", "compat=0.10,compression_type=zstd", "IMG", "1M"}, fails: true},
	{name: "qcow2-v2-refcount-8", args: []string{"-f", "qcow2", "-o", "compat=0.10,refcount_bits=8", "IMG", "1M"}, fails: true},
	{name: "qcow2-extended-small-cluster", args: []string{"-f", "qcow2", "-o", "extended_l2=on,cluster_size=4k", "IMG", "1M"}, fails: true},
	{name: "qcow2-backing-prealloc", base: []string{"-f", "qcow2", "BASE", "1G"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "qcow2", "-o", "preallocation=metadata", "IMG"}, fails: true},
	{name: "qcow2-backing-without-format", base: []string{"-f", "qcow2", "BASE", "1G"}, args: []string{"-f", "qcow2", "-b", "base", "IMG"}, fails: true},
	{name: "qcow2-backing-wrong-format", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "qcow2", "IMG"}, fails: true},
	{name: "qcow2-backing-missing", args: []string{"-f", "qcow2", "-b", "missing", "-F", "qcow2", "IMG"}, fails: true},
	{name: "qcow2-too-big-for-clusters", args: []string{"-f", "qcow2", "-o", "cluster_size=512", "IMG", "1T"}, fails: true},
	{name: "vpc-too-big", args: []string{"-f", "vpc", "IMG", "2041G"}, fails: true},
	{name: "vpc-bad-subformat", args: []string{"-f", "vpc", "-o", "subformat=sparse", "IMG", "1G"}, fails: true},
	{name: "vhdx-too-big", args: []string{"-f", "vhdx", "IMG", "65T"}, fails: true},
	{name: "vhdx-bad-block-size", args: []string{"-f", "vhdx", "-o", "block_size=3M", "IMG", "1G"}, fails: true},
	{name: "vmdk-backing-not-vmdk", base: []string{"-f", "qcow2", "BASE", "1G"}, args: []string{"-f", "vmdk", "-b", "base", "-F", "qcow2", "IMG"}, fails: true},
	{name: "qcow2-data-file-raw-alone", args: []string{"-f", "qcow2", "-o", "data_file_raw=on", "IMG", "1M"}, fails: true},
	{name: "qcow2-data-file-v2", args: []string{"-f", "qcow2", "-o", "data_file=DATA,compat=0.10", "IMG", "1M"}, fails: true, inDir: true},
	{name: "qcow2-data-file-raw-backing", base: []string{"-f", "raw", "BASE", "1M"}, args: []string{"-f", "qcow2", "-b", "base", "-F", "raw", "-o", "data_file=DATA,data_file_raw=on", "IMG"}, fails: true, inDir: true},
	{name: "qcow2-data-file-is-image", args: []string{"-f", "qcow2", "-o", "data_file=IMG", "IMG", "1M"}, fails: true, inDir: true},
	{name: "qcow2-data-file-empty", args: []string{"-f", "qcow2", "-o", "data_file=", "IMG", "1M"}, fails: true, inDir: true},
	{name: "qcow2-data-file-no-dir", args: []string{"-f", "qcow2", "-o", "data_file=nodir/DATA", "IMG", "1M"}, fails: true, inDir: true},
	{name: "qcow2-data-file-protocol", args: []string{"-f", "qcow2", "-o", "data_file=nbd:localhost:1", "IMG", "1M"}, fails: true, inDir: true},
	{name: "vmdk-bad-adapter", args: []string{"-f", "vmdk", "-o", "adapter_type=scsi", "IMG", "1G"}, fails: true},
}

// runParity runs one case, again while a vmdk's random CID has a leading
// zero (it is then printed shorter, shifting the bytes after it).
func runParity(t *testing.T, c parityCase, compare func(t *testing.T, ours, theirs string)) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		if !runParityOnce(t, c, compare) {
			return
		}
	}
	t.Fatal("vmdk CIDs kept having leading zeros")
}

func runParityOnce(t *testing.T, c parityCase, compare func(t *testing.T, ours, theirs string)) (retry bool) {
	t.Helper()
	oursDir, theirsDir := t.TempDir(), t.TempDir()
	if c.base != nil {
		// One backing file, copied to both sides, so that anything
		// random in it (a vmdk CID) is the same for both.
		args := append([]string{"create", "-q"}, substitute(c.base, oursDir)...)
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("make backing file: %v\n%s", err, out)
		}
		data, err := os.ReadFile(filepath.Join(oursDir, "base"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(theirsDir, "base"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ours := filepath.Join(oursDir, "img")
	theirs := filepath.Join(theirsDir, "img")

	var qout []byte
	var qerr, ierr error
	var iout bytes.Buffer
	if c.inDir {
		q := exec.Command("qemu-img", append([]string{"create"}, substituteIn(c.args)...)...)
		q.Dir = theirsDir
		qout, qerr = q.CombinedOutput()
		stdout, stderr, status := instar(t, oursDir, append([]string{"create", "--accel", *parityAccel}, substituteIn(c.args)...)...)
		iout.WriteString(stdout)
		if status != 0 {
			ierr = errors.New(strings.TrimSuffix(stderr, "\n"))
		}
	} else {
		qout, qerr = exec.Command("qemu-img", append([]string{"create"}, substitute(c.args, theirsDir)...)...).CombinedOutput()
		ierr = dispatch(append([]string{"create", "--accel", *parityAccel}, substitute(c.args, oursDir)...), &iout)
	}

	if c.fails {
		if qerr == nil {
			t.Fatalf("qemu-img succeeded; the case expects failure:\n%s", qout)
		}
		if ierr == nil {
			t.Fatalf("instar succeeded where qemu-img failed with:\n%s", qout)
		}
		if strings.Contains(ierr.Error(), "\n") {
			t.Errorf("error is not one line: %q", ierr)
		}
		assertNoStrayFiles(t, oursDir, c.base != nil)
		return false
	}
	if qerr != nil {
		t.Fatalf("qemu-img failed: %v\n%s", qerr, qout)
	}
	if ierr != nil {
		t.Fatalf("instar failed: %v (qemu-img succeeded)", ierr)
	}
	if formatOf(c.args) == "vmdk" && (shortCID(t, ours) || shortCID(t, theirs)) {
		return true
	}
	want := strings.ReplaceAll(firstLine(string(qout)), theirsDir, "DIR")
	got := strings.ReplaceAll(firstLine(iout.String()), oursDir, "DIR")
	if got != want {
		t.Errorf("output:\n got %s\nwant %s", got, want)
	}
	compare(t, ours, theirs)
	return false
}

func shortCID(t *testing.T, path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return imgcompare.VmdkShortCID(data)
}

func substitute(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "IMG", filepath.Join(dir, "img"))
		a = strings.ReplaceAll(a, "DATA", filepath.Join(dir, "data"))
		out[i] = strings.ReplaceAll(a, "BASE", "base")
		if a == "BASE" {
			out[i] = filepath.Join(dir, "base")
		}
	}
	return out
}

// substituteIn is substitute for a case run in the image's directory:
// IMG is "img", DATA "data", BASE "base".
func substituteIn(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "IMG", "img")
		out[i] = strings.ReplaceAll(strings.ReplaceAll(a, "DATA", "data"), "BASE", "base")
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// assertNoStrayFiles checks a failed create left nothing in dir (but the
// backing file, when there is one).
func assertNoStrayFiles(t *testing.T, dir string, hasBase bool) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if hasBase && e.Name() == "base" {
			continue
		}
		t.Errorf("failed create left %s behind", e.Name())
	}
}

func formatOf(args []string) string {
	for i, a := range args {
		if a == "-f" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return "raw"
}

func TestParity(t *testing.T) {
	for _, c := range parityCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runParity(t, c, func(t *testing.T, ours, theirs string) {
				format := formatOf(c.args)
				opt := imgcompare.Options{Format: format, Check: format != "raw",
					Mask: imgcompare.MaskFor(format), InfoIgnore: imgcompare.InfoIgnoreFor(format),
					Extra: extraFiles(t, ours, theirs)}
				if strings.Contains(strings.Join(c.args, " "), "data_file=") {
					// qemu-img opens each image with its own data file
					// (the name recorded is relative), compared there
					opt.Extra = nil
					opt.DataFiles = [2]string{filepath.Join(filepath.Dir(ours), "data"), filepath.Join(filepath.Dir(theirs), "data")}
				}
				if err := imgcompare.Compare(ours, theirs, opt); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// extraFiles pairs the other files a create made (vmdk extents) by name,
// and fails if the two sides made different sets.
func extraFiles(t *testing.T, ours, theirs string) [][2]string {
	t.Helper()
	list := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			if e.Name() != "img" && e.Name() != "base" {
				names = append(names, e.Name())
			}
		}
		return names
	}
	o, th := list(filepath.Dir(ours)), list(filepath.Dir(theirs))
	if strings.Join(o, ",") != strings.Join(th, ",") {
		t.Fatalf("instar made files %v, qemu-img %v", o, th)
	}
	var pairs [][2]string
	for _, n := range o {
		pairs = append(pairs, [2]string{filepath.Join(filepath.Dir(ours), n), filepath.Join(filepath.Dir(theirs), n)})
	}
	return pairs
}

// TestFailedCreateKeepsExistingFile checks that nothing is lost: a create
// that fails leaves an existing file of that name untouched.
func TestFailedCreateKeepsExistingFile(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "precious")
	if err := os.WriteFile(img, []byte("precious data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-f", "raw", "-o", "preallocation=metadata", img, "1M"},
		{"-f", "qcow2", "-o", "cluster_size=3000", img, "1M"},
		{"-f", "qcow2", "-b", filepath.Join(dir, "missing"), "-F", "qcow2", img},
		// an existing data file, with an image the format refuses
		{"-f", "qcow2", "-o", "data_file=" + img + ",compat=0.10", filepath.Join(dir, "new.qcow2"), "1M"},
		{"-f", "qcow2", "-o", "data_file=" + img + ",cluster_size=3000", filepath.Join(dir, "new.qcow2"), "1M"},
		// an existing image, with a data file that cannot be made
		{"-f", "qcow2", "-o", "data_file=" + filepath.Join(dir, "nodir", "d"), img, "1M"},
	} {
		if err := dispatch(append([]string{"create", "--accel", *parityAccel}, args...), &bytes.Buffer{}); err == nil {
			t.Errorf("create %v succeeded", args)
		}
		data, err := os.ReadFile(img)
		if err != nil || string(data) != "precious data" {
			t.Errorf("create %v changed the existing file: %q, %v", args, data, err)
		}
		assertOnly(t, dir, "precious")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}
