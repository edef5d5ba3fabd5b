package cli

import (
	"math/rand/v2"
	"testing"

	"instar/getopt/getopttest"
)

// TestOptionsAgreeWithGlibc: every command's option table, as the command
// parses it, reads random command lines exactly as glibc's getopt_long
// reads them with the same table: the same options and values in the same
// order, the same operands, the same refusals.
func TestOptionsAgreeWithGlibc(t *testing.T) {
	for _, c := range []struct {
		name string
		cmd  optionCommand
	}{
		{"create", &createCmd{}},
		{"info", &infoCmd{}},
		{"inspect", &inspectCmd{}},
		{"doctor", &doctorCmd{}},
		{"version", versionCmd{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := append(c.cmd.options(), helpOption())
			oracle, err := getopttest.Build(t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			words := getopttest.Words(opts)
			r := rand.New(rand.NewPCG(11, uint64(len(opts))))
			for i := 0; i < 400; i++ {
				args := getopttest.Line(r, words, 6)
				want, err := oracle.Glibc(args)
				if err != nil {
					t.Fatal(err)
				}
				if got := oracle.Ours(args); got != want {
					t.Errorf("%q: getopt says %q, glibc %q", args, got, want)
				}
			}
		})
	}
}
