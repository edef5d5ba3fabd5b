// Package getopttest holds package getopt to glibc's getopt_long, the
// parser qemu-img reads its command lines with: Oracle compiles a small C
// program that parses its arguments with getopt_long for a given option
// table, and Words generates command lines from such a table. It is for
// tests; instar does not link it.
package getopttest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"instar/getopt"
)

// program parses argv with getopt_long. SHORTOPTS is getopt's option
// string; LONGOPTS lists the long options as name:has_arg:val, a space
// between each, where val is the short option's character code or, for a
// long-only option, 256 plus its index in LONGOPTS. It prints every option seen as
// name=value, then " |" and the operands; any error prints ERROR.
const program = `#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	static struct option longs[64];
	static char names[64][64];
	static char spec[4096];
	static char out[65536];
	int nlong = 0, c, n = 0;
	const char *shorts = getenv("SHORTOPTS"), *l = getenv("LONGOPTS");
	if (!shorts || !l || strlen(l) >= sizeof spec) return 2;
	strcpy(spec, l);
	for (char *tok = strtok(spec, " "); tok && nlong < 63; tok = strtok(0, " ")) {
		int has, val;
		if (sscanf(tok, "%63[^:]:%d:%d", names[nlong], &has, &val) != 3) return 2;
		longs[nlong] = (struct option){names[nlong], has, 0, val};
		nlong++;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, 0)) != -1) {
		if (c == '?' || c == ':') { printf("ERROR\n"); return 0; }
		char s[2] = {(char)c, 0};
		const char *name = c >= 256 ? names[c - 256] : s;
		n += snprintf(out + n, sizeof out - n, "%s%s=%s", n ? " " : "", name, optarg ? optarg : "");
	}
	n += snprintf(out + n, sizeof out - n, " |");
	for (int i = optind; i < argc; i++) n += snprintf(out + n, sizeof out - n, " %s", argv[i]);
	printf("%s\n", out);
	return 0;
}
`

// Oracle is getopt_long compiled for one option table.
type Oracle struct {
	bin        string
	shorts     string
	longs      string
	seen       []string
	recordOpts []getopt.Option
}

// Build compiles the oracle for opts in dir (with the system's gcc).
// Options are named in renderings by their short letter, or else by their
// long name.
func Build(dir string, opts []getopt.Option) (*Oracle, error) {
	src, bin := filepath.Join(dir, "getopt.c"), filepath.Join(dir, "getopt")
	if err := os.WriteFile(src, []byte(program), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command("gcc", "-o", bin, src).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gcc: %v\n%s", err, out)
	}
	o := &Oracle{bin: bin, shorts: ":"}
	var longs []string
	for _, opt := range opts {
		has := 0
		if opt.Arg != "" {
			has = 1
		}
		if opt.Short != 0 {
			o.shorts += string(opt.Short)
			if has == 1 {
				o.shorts += ":"
			}
		}
		if opt.Long != "" {
			val := 256 + len(longs)
			if opt.Short != 0 {
				val = int(opt.Short)
			}
			longs = append(longs, fmt.Sprintf("%s:%d:%d", opt.Long, has, val))
		}
		name := opt.Long
		if opt.Short != 0 {
			name = string(opt.Short)
		}
		rec := opt
		rec.Set = func(v string) error {
			o.seen = append(o.seen, name+"="+v)
			return nil
		}
		o.recordOpts = append(o.recordOpts, rec)
	}
	o.longs = strings.Join(longs, " ")
	return o, nil
}

// Glibc is getopt_long's reading of args: the options as name=value in
// order, " | ", the operands; or "ERROR".
func (o *Oracle) Glibc(args []string) (string, error) {
	cmd := exec.Command(o.bin, args...)
	// POSIXLY_CORRECT would stop glibc at the first operand.
	cmd.Env = append(withoutPosixlyCorrect(os.Environ()), "SHORTOPTS="+o.shorts, "LONGOPTS="+o.longs)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("getopt oracle: %w", err)
	}
	return normalise(strings.TrimSuffix(string(out), "\n")), nil
}

func withoutPosixlyCorrect(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "POSIXLY_CORRECT=") {
			out = append(out, e)
		}
	}
	return out
}

// Ours is package getopt's reading of args, rendered as Glibc renders.
func (o *Oracle) Ours(args []string) string {
	o.seen = nil
	operands, err := getopt.Parse(args, o.recordOpts)
	if err != nil {
		return "ERROR"
	}
	return normalise(strings.Join(o.seen, " ") + " | " + strings.Join(operands, " "))
}

// normalise trims the spaces either end, which differ when there are no
// options or no operands.
func normalise(s string) string { return strings.TrimSpace(s) }

// Words are the pieces random command lines are made of for opts: each
// option in every spelling (short, clustered with another, with the
// argument attached, long, long with =, unique and ambiguous prefixes),
// operands, "-" and "--", and a few unknown options.
func Words(opts []getopt.Option) []string {
	words := []string{"x", "1G", "-", "--", "--=x", "-Z", "--zz", "qcow2", "a=b"}
	var noArg []byte
	for _, o := range opts {
		if o.Short != 0 && o.Arg == "" {
			noArg = append(noArg, o.Short)
		}
	}
	for _, o := range opts {
		if o.Short != 0 {
			s := "-" + string(o.Short)
			words = append(words, s)
			if o.Arg != "" {
				words = append(words, s+"raw")
			}
			for _, c := range noArg {
				words = append(words, "-"+string(c)+string(o.Short))
			}
		}
		if o.Long != "" {
			l := "--" + o.Long
			words = append(words, l, l+"=", l+"=v")
			for n := 1; n < len(o.Long); n++ {
				words = append(words, "--"+o.Long[:n])
			}
			words = append(words, "--"+o.Long[:len(o.Long)/2+1]+"=w")
		}
	}
	return words
}

// Line is a random command line of up to max words.
func Line(r *rand.Rand, words []string, max int) []string {
	args := make([]string, r.IntN(max+1))
	for j := range args {
		args[j] = words[r.IntN(len(words))]
	}
	return args
}
