package getopt

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// record parses args with qemu-img create's options plus two long-only
// ones, and renders what was seen as one line: each option as name=value
// in order, then the operands. getoptC renders glibc's result the same
// way.
func record(args []string) (string, error) {
	var seen []string
	opt := func(short byte, long, arg string) Option {
		name := long
		if short != 0 {
			name = string(short)
		}
		return Option{Short: short, Long: long, Arg: arg, Set: func(v string) error {
			seen = append(seen, name+"="+v)
			return nil
		}}
	}
	opts := []Option{
		opt('F', "", "FMT"), opt('b', "", "FILE"), opt('f', "", "FMT"), opt('h', "help", ""),
		opt('o', "", "OPTS"), opt('q', "", ""), opt('u', "", ""),
		opt(0, "output", "FMT"), opt(0, "object", "OBJ"), opt(0, "accel", "NAME"), opt(0, "quiet", ""),
	}
	operands, err := Parse(args, opts)
	if err != nil {
		return "", err
	}
	return strings.Join(seen, " ") + " | " + strings.Join(operands, " "), nil
}

// getoptC builds a C program that parses its arguments with glibc's
// getopt_long, qemu-img's parser, and prints the same rendering.
func getoptC(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "getopt.c")
	err := os.WriteFile(src, []byte(`#include <getopt.h>
#include <stdio.h>
int main(int argc, char **argv) {
	static const struct option longs[] = {
		{"help", no_argument, 0, 'h'}, {"output", required_argument, 0, 1},
		{"object", required_argument, 0, 2}, {"accel", required_argument, 0, 3},
		{"quiet", no_argument, 0, 4}, {0, 0, 0, 0}};
	const char *names[] = {"", "output", "object", "accel", "quiet"};
	static char out[65536];
	int c, n = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", longs, 0)) != -1) {
		if (c == '?' || c == ':') { printf("ERROR\n"); return 0; }
		char s[2] = {(char)c, 0};
		n += snprintf(out + n, sizeof out - n, "%s%s=%s", n ? " " : "", c < 5 ? names[c] : s, optarg ? optarg : "");
	}
	n += snprintf(out + n, sizeof out - n, " |");
	for (int i = optind; i < argc; i++) n += snprintf(out + n, sizeof out - n, " %s", argv[i]);
	printf("%s\n", out);
	return 0;
}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "getopt")
	if out, err := exec.Command("gcc", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func checkAgainstC(t *testing.T, bin string, args []string) {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(string(out), "\n")
	got, perr := record(args)
	if perr != nil {
		got = "ERROR"
	}
	// glibc prints " |" with nothing before it when no option was seen.
	want = strings.TrimPrefix(want, " ")
	got = strings.TrimPrefix(strings.TrimSuffix(got, " "), " ")
	if got != want {
		t.Errorf("%q: getopt says %q (%v), glibc %q", args, got, perr, want)
	}
}

// TestAgreesWithGlibc parses a table of command lines, and random ones,
// with Parse and with glibc's getopt_long, and wants the same options,
// values and operands, and the same refusals.
func TestAgreesWithGlibc(t *testing.T) {
	bin := getoptC(t)
	table := [][]string{
		{},
		{"x", "1G"},
		{"-f", "qcow2", "x", "1G"},
		{"-fqcow2", "x"},
		{"-qf", "qcow2", "x"},
		{"-qfqcow2", "x"},
		{"-qu", "x"},
		{"x", "-f", "raw", "1G"},
		{"-o", "a=1", "-o", "b=2", "x"},
		{"--", "-f", "x"},
		{"-", "x"},
		{"--output", "json", "x"},
		{"--output=json", "x"},
		{"--out=json", "x"},
		{"--o=json", "x"},
		{"--obj", "secret", "x"},
		{"--acc", "kvm"},
		{"--quiet", "x"},
		{"--quiet=yes", "x"},
		{"--help"},
		{"--he"},
		{"-h"},
		{"-x"},
		{"--nope"},
		{"-f"},
		{"--output"},
		{"-qx"},
		{"--"},
		{"--=x"},
		{"-b", "-f", "x"},
		{"--output", "--quiet"},
		{"x", "--", "--quiet"},
	}
	for _, args := range table {
		checkAgainstC(t, bin, args)
	}
	words := []string{"-f", "qcow2", "-q", "-qf", "-fraw", "-u", "-o", "a=b", "--output", "--output=json",
		"--out", "--o", "--quiet", "--q", "--", "-", "x", "1G", "-b", "-F", "--accel=kvm", "-z", "--zz", "-h"}
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 300; i++ {
		args := make([]string, r.IntN(6))
		for j := range args {
			args[j] = words[r.IntN(len(words))]
		}
		checkAgainstC(t, bin, args)
	}
}

// TestErrors checks the messages, which name the option.
func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	opts := []Option{
		{Short: 'f', Arg: "FMT", Set: func(string) error { return boom }},
		{Long: "output", Arg: "FMT", Set: String(new(string))},
		{Long: "options", Arg: "OPTS", Set: String(new(string))},
		{Long: "quiet", Set: Bool(new(bool))},
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "invalid option -- 'x'"},
		{[]string{"-f"}, "option requires an argument -- 'f'"},
		{[]string{"-f", "raw"}, "-f: boom"},
		{[]string{"--nope"}, "unrecognized option '--nope'"},
		{[]string{"--output"}, "option '--output' requires an argument"},
		{[]string{"--quiet=1"}, "option '--quiet' doesn't allow an argument"},
		{[]string{"--o", "x"}, "option '--o' is ambiguous; possibilities: '--output' '--options'"},
	} {
		_, err := Parse(c.args, opts)
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
		if c.want == "-f: boom" && !errors.Is(err, boom) {
			t.Errorf("%q: the Set error is not wrapped", c.args)
		}
	}
}

func TestUsage(t *testing.T) {
	var s string
	var b bool
	got := Usage([]Option{
		{Short: 'f', Long: "format", Arg: "FMT", Help: "image format", Set: String(&s)},
		{Short: 'q', Help: "quiet", Set: Bool(&b)},
		{Long: "accel", Arg: "NAME", Help: "accelerator", Set: String(&s)},
	})
	want := fmt.Sprint(
		"  -f, --format=FMT  image format\n",
		"  -q                quiet\n",
		"      --accel=NAME  accelerator\n")
	if got != want {
		t.Errorf("usage:\n%s\nwant:\n%s", got, want)
	}
}
