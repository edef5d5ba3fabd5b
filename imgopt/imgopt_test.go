package imgopt

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unsupported are qcow2 options qemu-img lists that instar does not create
// yet (encryption); they are left out of the help.
func unsupported(line string) bool {
	for _, p := range []string{"  encrypt"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

func TestHelpMatchesQemuImg(t *testing.T) {
	for _, name := range Formats() {
		f, _ := Lookup(name)
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command("qemu-img", "create", "-f", name, "-o", "help").Output()
			if err != nil {
				t.Fatalf("qemu-img: %v", err)
			}
			var want []string
			for _, l := range strings.Split(string(out), "\n") {
				if l == "" || strings.HasPrefix(l, "The protocol level") || strings.HasPrefix(l, "Specify the target") || unsupported(l) {
					continue
				}
				want = append(want, l)
			}
			if name == "raw" {
				// qemu-img lists raw's preallocation only with a file
				// name (it belongs to its file protocol); instar always
				// lists it.
				want = append(want[:1], append([]string{"  preallocation=<str>    - Preallocation mode (allowed values: off, falloc, full)"}, want[1:]...)...)
			}
			got := strings.Split(strings.TrimSuffix(f.Help(), "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("help:\n%s\nqemu-img:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestFormattingMatchesQemuImg checks the "Formatting" line against
// qemu-img's for the same options.
func TestFormattingMatchesQemuImg(t *testing.T) {
	cases := []struct {
		format string
		opts   string
	}{
		{"raw", "size=1000"},
		{"raw", "preallocation=falloc,size=1M"},
		{"qcow2", "size=1G"},
		{"qcow2", "compat=0.10,cluster_size=4k,preallocation=metadata,size=1.5M"},
		{"qcow2", "compat=v2,cluster_size=1k,size=1k"},
		{"qcow2", "compat=1.1,lazy_refcounts=on,refcount_bits=8,extended_l2=on,compression_type=zstd,size=10G"},
		{"qcow2", "lazy_refcounts=true,size=1M"},
		{"qcow2", "lazy_refcounts,extended_l2,size=1M"},
		{"qcow2", "refcount_bits=+16,size=1M"},
		{"qcow2", "refcount_bits= 010,size=1M"},
		{"qcow2", "refcount_bits=0x10,size=1M"},
		{"qcow2", "nolazy_refcounts,size=1M"},
		{"vpc", "force_size,size=10M"},
		{"qcow2", "backing_file=b.qcow2,backing_fmt=qcow2,size=1G"},
		{"qcow2", "backing_file=a,,b.qcow2,backing_fmt=qcow2,size=1G"},
		{"vmdk", "size=1G"},
		{"vmdk", "subformat=streamOptimized,adapter_type=lsilogic,hwversion=6,toolsversion=5,zeroed_grain=on,size=2G"},
		{"vmdk", "compat6=on,size=1G"},
		{"vpc", "size=10M"},
		{"vpc", "subformat=fixed,force_size=on,size=10M"},
		{"vhdx", "size=10M"},
		{"vhdx", "subformat=fixed,block_size=1M,log_size=2M,block_state_zero=off,size=10M"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		file := filepath.Join(dir, "x."+c.format)
		out, err := exec.Command("qemu-img", "create", "-u", "-f", c.format, "-o", c.opts, file).CombinedOutput()
		if err != nil {
			t.Fatalf("qemu-img -o %s: %v\n%s", c.opts, err, out)
		}
		want := strings.TrimSpace(strings.Split(string(out), "\n")[0])
		f, _ := Lookup(c.format)
		v := New(f)
		if err := v.Parse(c.opts); err != nil {
			t.Fatalf("-f %s -o %s: %v", c.format, c.opts, err)
		}
		if got := v.Formatting(file); got != want {
			t.Errorf("-f %s -o %s:\n got %s\nwant %s", c.format, c.opts, got, want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	f, _ := Lookup("qcow2")
	for _, spec := range []string{"nosuch=1", "cluster_size=abc", "lazy_refcounts=maybe", "refcount_bits=x", "justaname",
		"refcount_bits=0b100", "refcount_bits=1_6", "refcount_bits=0o20", "refcount_bits=08", "refcount_bits=0x", "refcount_bits="} {
		if err := New(f).Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted it", spec)
		}
	}
	if _, err := Lookup("qcow3"); err == nil {
		t.Error("Lookup(qcow3) succeeded")
	}
}

// TestNegativeNumber: qemu reads refcount_bits=-1 as strtoull does and
// prints it signed in its "Formatting" line (before its driver refuses
// the value).
func TestNegativeNumber(t *testing.T) {
	f, _ := Lookup("qcow2")
	v := New(f)
	if err := v.Parse("refcount_bits=-1,size=1M"); err != nil {
		t.Fatal(err)
	}
	if n := v.Uint("refcount_bits", 16); n != 1<<64-1 {
		t.Errorf("refcount_bits=-1 read as %d", n)
	}
	if got := v.Formatting("x"); !strings.HasSuffix(got, " refcount_bits=-1") {
		t.Errorf("Formatting: %s", got)
	}
}

func TestCommaEscaping(t *testing.T) {
	f, _ := Lookup("qcow2")
	v := New(f)
	if err := v.Parse("backing_file=a,,b.img,backing_fmt=raw"); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.Get("backing_file"); got != "a,b.img" {
		t.Errorf("backing_file = %q, want a,b.img", got)
	}
	for spec, want := range map[string]bool{"size=1,help": true, "size=1": false, "help,,": true, "help,,x": true,
		"?,,,size=1": true, "xhelp": false, "help=1": false, "size=help": false, "cluster_size=64k,,help": false} {
		if IsHelp(spec) != want {
			t.Errorf("IsHelp(%q) = %v, qemu-img says %v", spec, !want, want)
		}
	}
}

// TestCompletionLists: what shell completion offers comes from the format
// table: every format, a format's options in the Formatting line's order,
// and an option's allowed words.
func TestCompletionLists(t *testing.T) {
	if got := strings.Join(Formats(), " "); got != "raw qcow2 vmdk vpc vhdx" {
		t.Errorf("Formats() = %s", got)
	}
	q, err := Lookup("qcow2")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(q.Options(), " "); !strings.HasPrefix(got, "cluster_size extended_l2 preallocation") || !q.Has("refcount_bits") {
		t.Errorf("qcow2 options %s", got)
	}
	for opt, want := range map[string]string{
		"compat":         "0.10 v2 1.1 v3",
		"lazy_refcounts": "on off",
		"preallocation":  "off metadata falloc full",
		"cluster_size":   "",
		"no_such_option": "",
	} {
		if got := strings.Join(q.Words(opt), " "); got != want {
			t.Errorf("Words(%s) = %q, want %q", opt, got, want)
		}
	}
	// Every word an option offers is a value Set accepts.
	for _, name := range Formats() {
		f, _ := Lookup(name)
		for _, opt := range f.Options() {
			for _, w := range f.Words(opt) {
				if err := New(f).Set(opt, w); err != nil {
					t.Errorf("%s %s=%s: %v", name, opt, w, err)
				}
			}
		}
	}
}
