package getopt_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"instar/getopt"
	"instar/getopt/getopttest"
)

// qemuImgCreate is qemu-img create's option table plus long-only options
// with and without an argument.
var qemuImgCreate = []getopt.Option{
	{Short: 'F', Arg: "FMT"}, {Short: 'b', Arg: "FILE"}, {Short: 'f', Arg: "FMT"}, {Short: 'h', Long: "help"},
	{Short: 'o', Arg: "OPTS"}, {Short: 'q'}, {Short: 'u'},
	{Long: "output", Arg: "FMT"}, {Long: "object", Arg: "OBJ"}, {Long: "accel", Arg: "NAME"}, {Long: "quiet"},
}

// TestAgreesWithGlibc parses a table of command lines, and random ones,
// with Parse and with glibc's getopt_long, and wants the same options,
// values and operands, and the same refusals.
func TestAgreesWithGlibc(t *testing.T) {
	oracle, err := getopttest.Build(t.TempDir(), qemuImgCreate)
	if err != nil {
		t.Fatal(err)
	}
	check := func(args []string) {
		t.Helper()
		want, err := oracle.Glibc(args)
		if err != nil {
			t.Fatal(err)
		}
		if got := oracle.Ours(args); got != want {
			t.Errorf("%q: getopt says %q, glibc %q", args, got, want)
		}
	}
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
		check(args)
	}
	words := getopttest.Words(qemuImgCreate)
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 300; i++ {
		check(getopttest.Line(r, words, 6))
	}
}

// TestPending: completion asks which option the next word belongs to.
func TestPending(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // the option's letter or long name; "" for none
	}{
		{nil, ""},
		{[]string{"-f"}, "f"},
		{[]string{"-qf"}, "f"},
		{[]string{"-fqcow2"}, ""},
		{[]string{"-f", "qcow2"}, ""},
		{[]string{"--outp"}, "output"},
		{[]string{"--output=json"}, ""},
		{[]string{"--quiet"}, ""},
		{[]string{"--", "-f"}, ""},
		{[]string{"x", "-o"}, "o"},
	} {
		o, err := getopt.Pending(c.args, qemuImgCreate)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		got := ""
		if o != nil {
			got = o.Long
			if o.Short != 0 {
				got = string(o.Short)
			}
		}
		if got != c.want {
			t.Errorf("%q: pending %q, want %q", c.args, got, c.want)
		}
	}
}

// TestErrors checks the messages, which name the option.
func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	opts := []getopt.Option{
		{Short: 'f', Arg: "FMT", Set: func(string) error { return boom }},
		{Long: "output", Arg: "FMT", Set: getopt.String(new(string))},
		{Long: "options", Arg: "OPTS", Set: getopt.String(new(string))},
		{Long: "quiet", Set: getopt.Bool(new(bool))},
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
		_, err := getopt.Parse(c.args, opts)
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
	got := getopt.Usage([]getopt.Option{
		{Short: 'f', Long: "format", Arg: "FMT", Help: "image format", Set: getopt.String(&s)},
		{Short: 'q', Help: "quiet", Set: getopt.Bool(&b)},
		{Long: "accel", Arg: "NAME", Help: "accelerator", Set: getopt.String(&s)},
	})
	want := fmt.Sprint(
		"  -f, --format=FMT  image format\n",
		"  -q                quiet\n",
		"      --accel=NAME  accelerator\n")
	if got != want {
		t.Errorf("usage:\n%s\nwant:\n%s", got, want)
	}
}
