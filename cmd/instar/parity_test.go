package main

import (
	"bytes"
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
}

var parityCases = []parityCase{
	{name: "raw", args: []string{"-f", "raw", "IMG", "10M"}},
	{name: "raw-default-format", args: []string{"IMG", "1000"}},
	{name: "raw-falloc", args: []string{"-f", "raw", "-o", "preallocation=falloc", "IMG", "3M"}},
	{name: "raw-full", args: []string{"-f", "raw", "-o", "preallocation=full", "IMG", "2M"}},
	{name: "raw-zero", args: []string{"-f", "raw", "IMG", "0"}},
	{name: "raw-metadata-refused", args: []string{"-f", "raw", "-o", "preallocation=metadata", "IMG", "1M"}, fails: true},
	{name: "raw-backing-refused", args: []string{"-f", "raw", "-b", "x", "-F", "raw", "IMG", "1M"}, fails: true},
	{name: "no-size", args: []string{"-f", "raw", "IMG"}, fails: true},
	{name: "bad-size", args: []string{"-f", "raw", "IMG", "1x"}, fails: true},
	{name: "too-big", args: []string{"-f", "raw", "IMG", "8E"}, fails: true},
	{name: "unknown-format", args: []string{"-f", "qcow3", "IMG", "1M"}, fails: true},
	{name: "backing-fmt-without-backing", args: []string{"-f", "qcow2", "-F", "qcow2", "IMG", "1M"}, fails: true},
}

func runParity(t *testing.T, c parityCase, compare func(t *testing.T, ours, theirs string)) {
	t.Helper()
	oursDir, theirsDir := t.TempDir(), t.TempDir()
	if c.base != nil {
		for _, dir := range []string{oursDir, theirsDir} {
			args := append([]string{"create", "-q"}, substitute(c.base, dir)...)
			if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
				t.Fatalf("make backing file: %v\n%s", err, out)
			}
		}
	}
	ours := filepath.Join(oursDir, "img")
	theirs := filepath.Join(theirsDir, "img")

	qout, qerr := exec.Command("qemu-img", append([]string{"create"}, substitute(c.args, theirsDir)...)...).CombinedOutput()
	root := newRootCommand()
	var iout bytes.Buffer
	root.SetOut(&iout)
	root.SetErr(&iout)
	root.SetArgs(append([]string{"create", "--accel", *parityAccel}, substitute(c.args, oursDir)...))
	ierr := root.Execute()

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
		return
	}
	if qerr != nil {
		t.Fatalf("qemu-img failed: %v\n%s", qerr, qout)
	}
	if ierr != nil {
		t.Fatalf("instar failed: %v (qemu-img succeeded)", ierr)
	}
	want := strings.ReplaceAll(firstLine(string(qout)), theirsDir, "DIR")
	got := strings.ReplaceAll(firstLine(iout.String()), oursDir, "DIR")
	if got != want {
		t.Errorf("output:\n got %s\nwant %s", got, want)
	}
	compare(t, ours, theirs)
}

func substitute(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "IMG", filepath.Join(dir, "img"))
		out[i] = strings.ReplaceAll(a, "BASE", "base")
		if a == "BASE" {
			out[i] = filepath.Join(dir, "base")
		}
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
				opt := imgcompare.Options{Format: format, Check: format != "raw"}
				if err := imgcompare.Compare(ours, theirs, opt); err != nil {
					t.Error(err)
				}
			})
		})
	}
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
	} {
		root := newRootCommand()
		root.SetOut(&bytes.Buffer{})
		root.SetArgs(append([]string{"create", "--accel", *parityAccel}, args...))
		if err := root.Execute(); err == nil {
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
