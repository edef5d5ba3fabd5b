package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// instar runs this test binary as the instar command.
func instar(t *testing.T, dir string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "INSTAR_TEST_MAIN=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// TestBadInputErrors: every bad input gets one clear line naming the problem
// and exit status 1, never a panic, and leaves no file behind.
func TestBadInputErrors(t *testing.T) {
	dir := t.TempDir()
	hostile := filepath.Join(dir, "hostile.qcow2")
	// A qcow2 magic and version, then nonsense: cluster bits of 200.
	hdr := make([]byte, 512)
	copy(hdr, []byte{'Q', 'F', 'I', 0xfb, 0, 0, 0, 3})
	hdr[23] = 200
	if err := os.WriteFile(hostile, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.raw"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"create", "-f", "qcow3", "x", "1M"}, "x: Unknown file format 'qcow3'"},
		{"unknown option", []string{"create", "-f", "qcow2", "-o", "colour=blue", "x", "1M"}, "invalid parameter 'colour'"},
		{"bad size", []string{"create", "x", "12Q"}, "invalid image size '12Q'"},
		{"huge size", []string{"create", "x", "9E"}, "between 0 and"},
		{"bad bool", []string{"create", "-f", "qcow2", "-o", "lazy_refcounts=maybe", "x", "1M"}, "'on' or 'off'"},
		{"bad word", []string{"create", "-f", "qcow2", "-o", "compat=2.0", "x", "1M"}, "invalid value '2.0' for option 'compat'"},
		{"no size", []string{"create", "-f", "qcow2", "x"}, "needs a size"},
		{"no file", []string{"create", "-f", "qcow2"}, "expecting image file name"},
		{"extra argument", []string{"create", "x", "1M", "more"}, "unexpected argument: more"},
		{"backing fmt alone", []string{"create", "-f", "qcow2", "-F", "qcow2", "x", "1M"}, "without backing file"},
		{"backing on vpc", []string{"create", "-f", "vpc", "-b", "b", "-F", "raw", "x", "1M"}, "not supported for file format 'vpc'"},
		{"missing backing", []string{"create", "-f", "qcow2", "-b", "missing.qcow2", "-F", "qcow2", "x"}, "could not open backing file 'missing.qcow2'"},
		{"directory backing", []string{"create", "-f", "qcow2", "-b", "adir", "-F", "qcow2", "x"}, "not a regular file"},
		{"raw metadata", []string{"create", "-o", "preallocation=metadata", "x", "1M"}, "'metadata' is not supported"},
		{"bad accel", []string{"create", "-f", "qcow2", "--accel", "warp", "x", "1M"}, "unknown accelerator"},
		{"bad output", []string{"create", "--output", "yaml", "x", "1M"}, "unknown output format"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"no command", []string{}, "missing command"},
		{"unknown short option", []string{"create", "-z", "x", "1M"}, "invalid option -- 'z'"},
		{"unknown long option", []string{"create", "--zzz", "x", "1M"}, "unrecognized option '--zzz'"},
		{"missing option argument", []string{"create", "x", "1M", "-f"}, "option requires an argument -- 'f'"},
		{"bad timeout", []string{"create", "--timeout", "soon", "x", "1M"}, "invalid duration"},
		{"refused option", []string{"create", "-f", "qcow2", "--accel", "process", "-o", "cluster_size=3000", "x", "1M"}, "Cluster size must be a power of two between 512 and 2048k"},
		{"refused combination", []string{"create", "-f", "qcow2", "--accel", "process", "-o", "compat=0.10,lazy_refcounts=on", "x", "1M"}, "Lazy refcounts only supported with compatibility level 1.1"},
		{"size too large for format", []string{"create", "-f", "vpc", "--accel", "process", "x", "3T"}, "The image size is too large for file format 'vpc'"},
		// The planners' refusals carry qemu-img's own words.
		{"vhdx block size", []string{"create", "-f", "vhdx", "--accel", "process", "-o", "block_size=3M", "x", "1G"}, "x: Block size must be a power of two"},
		{"vhdx log size", []string{"create", "-f", "vhdx", "-o", "log_size=4G", "x", "1G"}, "x: Log size must be smaller than 4 GB"},
		{"vmdk compat6 and hwversion", []string{"create", "-f", "vmdk", "--accel", "process", "-o", "compat6=on,hwversion=4", "x", "1G"}, "x: compat6 cannot be enabled with hwversion set"},
		{"vmdk flat zeroed grain", []string{"create", "-f", "vmdk", "--accel", "process", "-o", "subformat=monolithicFlat,zeroed_grain=on", "x", "1G"}, "x: Flat image can't enable zeroed grain"},
		{"vmdk raw backing", []string{"create", "-f", "vmdk", "--accel", "process", "-b", "b.raw", "-F", "raw", "x", "1G"}, "x: backing_file must be a vmdk image"},
		{"hostile backing header", []string{"create", "-f", "qcow2", "--accel", "process", "-b", "hostile.qcow2", "-F", "qcow2", "x"}, "not a valid qcow2 image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, status := instar(t, dir, c.args...)
			if status != 1 {
				t.Errorf("exit status %d, want 1", status)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "instar: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q; want one line 'instar: ...' containing %q", stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
				t.Error("a failed create left x behind")
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".instar-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestCommandLineForms: the spellings getopt_long accepts (clustered and
// attached short options, options after the operands, long options and
// their prefixes) all make the same image.
func TestCommandLineForms(t *testing.T) {
	dir := t.TempDir()
	for i, args := range [][]string{
		{"-f", "qcow2", "img", "1M"},
		{"-fqcow2", "img", "1M"},
		{"-qf", "qcow2", "img", "1M"},
		{"-qfqcow2", "img", "1M"},
		{"img", "-f", "qcow2", "1M"},
		{"img", "1M", "-f", "qcow2"},
		{"--format=qcow2", "img", "1M"},
		{"--form", "qcow2", "img", "1M"},
		{"-f", "qcow2", "--", "img", "1M"},
	} {
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, stderr, status := instar(t, sub, append([]string{"create", "--accel", "process"}, args...)...); status != 0 {
			t.Fatalf("%q: status %d: %s", args, status, stderr)
		}
		out, err := exec.Command("qemu-img", "info", "--output=json", filepath.Join(sub, "img")).Output()
		if err != nil {
			t.Fatalf("%q: qemu-img info: %v", args, err)
		}
		if !strings.Contains(string(out), `"format": "qcow2"`) || !strings.Contains(string(out), `"virtual-size": 1048576`) {
			t.Errorf("%q: made %s", args, out)
		}
	}
}

// TestHelp: --help, -h, a unique prefix of --help, and `instar help
// COMMAND` print the command's help to stdout and exit 0; `help create`
// and `create --help` are the same text, which lists every option.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"create", "--help"}, {"create", "-h"}, {"create", "--he"},
		{"create", "-qh", "-z"}, {"doctor", "--help"}, {"inspect", "--help"}, {"inspect", "-h", "x"}, {"version", "--help"}, {"help", "create"}, {"completion", "--help"}} {
		stdout, stderr, status := instar(t, t.TempDir(), args...)
		if status != 0 || !strings.Contains(stdout, "Usage:\n  instar") || stderr != "" {
			t.Errorf("%q: status %d, stdout %q, stderr %q", args, status, stdout, stderr)
		}
	}
	viaHelp, _, _ := instar(t, t.TempDir(), "help", "create")
	viaFlag, _, _ := instar(t, t.TempDir(), "create", "--help")
	if viaHelp != viaFlag {
		t.Errorf("instar help create:\n%s\ninstar create --help:\n%s", viaHelp, viaFlag)
	}
	for _, want := range []string{"-q, --quiet", "-f, --format FMT", "-b, --backing FILE", "-F, --backing-format FMT",
		"-u, --unsafe", "-o, --options OPTS", "--output FMT", "--accel NAME", "--timeout DURATION", "-h, --help"} {
		if !strings.Contains(viaFlag, want) {
			t.Errorf("create --help lacks %q:\n%s", want, viaFlag)
		}
	}
}

// TestMistypedCommand: a mistyped command gets one line that suggests the
// right one.
func TestMistypedCommand(t *testing.T) {
	_, stderr, status := instar(t, t.TempDir(), "crate", "x", "1M")
	if status != 1 || stderr != "instar: unknown command \"crate\" (did you mean \"create\"?); see instar --help\n" {
		t.Errorf("status %d, stderr %q", status, stderr)
	}
}
