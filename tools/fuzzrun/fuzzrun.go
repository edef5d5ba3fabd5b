// Package fuzzrun runs the repository's Go fuzz targets one after another
// for a bounded time each (go test -fuzz takes one target per run): the
// format library's with its C code under ASan and UBSan and that code's
// coverage fed to the fuzzer (guest/format/cgo_cover.go), and sums up
// each run. `mage
// fuzz` and `mage check` drive it.
package fuzzrun

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SanitizerEnv is the environment that builds cgo code under ASan and
// UBSan, any finding fatal (with go test's -asan).
var SanitizerEnv = map[string]string{
	"CGO_CFLAGS":  "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer",
	"CGO_LDFLAGS": "-fsanitize=address,undefined",
}

// cgoPackages are the packages whose C code the fuzzer runs: their C is
// built with the sanitizers and C coverage (the fuzzcover tag). Only the C
// side: go test's -asan would instrument the Go side too (the fuzzer's
// own loop and the test's source), which made each run 15 times slower,
// and the code under test is the C.
var cgoPackages = map[string]bool{"instar/guest/format": true}

// QemuPrefix names the differential targets, which run qemu-img per
// input and need INSTAR_FUZZ_QEMU=1.
const QemuPrefix = "FuzzQemu"

// Target is one fuzz target of a package.
type Target struct{ Pkg, Name string }

// Options says what Run fuzzes and for how long.
type Options struct {
	Time     time.Duration  // per target
	Match    *regexp.Regexp // nil: every target
	Qemu     bool           // the differential targets too
	Parallel int            // fuzzing workers; 0: go test's default
	CacheDir string         // where the fuzzer keeps the inputs it found; "": go test's, in GOCACHE
	Out      io.Writer      // go test's output and the summary
}

// Result is one target's run.
type Result struct {
	Target
	Execs          uint64
	Elapsed        time.Duration
	NewInteresting int
	Err            error
}

// List returns every fuzz target under the module (go test -list).
func List(ctx context.Context) ([]Target, error) {
	out, err := exec.CommandContext(ctx, "go", "test", "-list", "^Fuzz", "./...").Output()
	if err != nil {
		return nil, fmt.Errorf("list fuzz targets: %w", err)
	}
	return parseList(out), nil
}

// parseList reads go test -list output: each package's names, then its
// "ok <package>" line.
func parseList(out []byte) []Target {
	var targets []Target
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && strings.HasPrefix(f[0], "Fuzz"):
			names = append(names, f[0])
		case len(f) >= 2 && f[0] == "ok":
			for _, n := range names {
				targets = append(targets, Target{Pkg: f[1], Name: n})
			}
			names = nil
		}
	}
	return targets
}

// Run fuzzes each selected target for o.Time, one after another, and
// prints a line per target (executions, their rate, new inputs). It runs
// them all even when one fails (the fuzzer has then written the input
// under the package's testdata/fuzz/), and returns an error naming the
// failed ones.
func Run(ctx context.Context, o Options) ([]Result, error) {
	targets, err := List(ctx)
	if err != nil {
		return nil, err
	}
	var results []Result
	var failed []string
	for _, t := range targets {
		if (o.Match != nil && !o.Match.MatchString(t.Name)) || (!o.Qemu && strings.HasPrefix(t.Name, QemuPrefix)) {
			continue
		}
		r := runOne(ctx, o, t)
		results = append(results, r)
		rate := 0.0
		if r.Elapsed > 0 {
			rate = float64(r.Execs) / r.Elapsed.Seconds()
		}
		status := "ok"
		if r.Err != nil {
			status = "FAILED: " + r.Err.Error()
			failed = append(failed, t.Name)
		}
		fmt.Fprintf(o.Out, "fuzzrun: %s %s: %d execs in %v (%.0f/s), %d new inputs: %s\n",
			t.Pkg, t.Name, r.Execs, r.Elapsed, rate, r.NewInteresting, status)
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("fuzzing found failures in %s", strings.Join(failed, ", "))
	}
	return results, nil
}

// minimizeLimit bounds the minimizing of each new input and each crasher
// by a count of calls, not a time: with a time, the coordinator's own
// deadline for the minimizing call runs out before the worker's (which
// starts later), so every minimizing that uses its whole time ends with
// the coordinator closing the worker. Each new input then cost a restart
// of the worker (and its seeding: FuzzInspect runs qemu-img), and the
// calls made minimizing were never counted: the "0/sec" stretches.
const minimizeLimit = "100x"

func runOne(ctx context.Context, o Options, t Target) Result {
	args := []string{"test", "-run", "^$", "-fuzz", "^" + t.Name + "$", "-fuzztime", o.Time.String(),
		"-fuzzminimizetime", minimizeLimit, "-timeout", "0"}
	if o.Parallel > 0 {
		args = append(args, "-parallel", strconv.Itoa(o.Parallel))
	}
	cmd := exec.CommandContext(ctx, "go")
	cmd.Env = os.Environ()
	if cgoPackages[t.Pkg] {
		args = append(args, "-tags", "fuzzcover")
		for k, v := range SanitizerEnv {
			if k == "CGO_CFLAGS" {
				v += " -fsanitize-coverage=trace-pc"
			}
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if o.Qemu {
		cmd.Env = append(cmd.Env, "INSTAR_FUZZ_QEMU=1")
	}
	cmd.Args = append([]string{"go"}, append(args, t.Pkg)...)
	if o.CacheDir != "" {
		// After go test's own -test.fuzzcachedir, so this one wins.
		cmd.Args = append(cmd.Args, "-args", "-test.fuzzcachedir="+filepath.Join(o.CacheDir, t.Pkg, t.Name))
	}
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(o.Out, &buf)
	cmd.Stderr = cmd.Stdout
	dir, err := packageDir(ctx, t.Pkg)
	if err != nil {
		return Result{Target: t, Err: err}
	}
	corpus := filepath.Join(dir, "testdata", "fuzz", t.Name)
	before := entries(corpus)
	err = cmd.Run()
	r := Result{Target: t, Err: err}
	r.Execs, r.Elapsed, r.NewInteresting = summary(buf.Bytes())
	// Go's fuzzing coordinator can fail a run whose -fuzztime ends while a
	// worker is mid-call, with "context deadline exceeded" and no input
	// written (go.dev/issue/75804, fixed in Go 1.27): a failure is one
	// that wrote its input.
	if err != nil && bytes.Contains(buf.Bytes(), []byte("context deadline exceeded")) && entries(corpus) == before {
		fmt.Fprintf(o.Out, "fuzzrun: %s: the coordinator's end-of-run race (go.dev/issue/75804), no input written: not a finding\n", t.Name)
		r.Err = nil
	}
	return r
}

// packageDir is the directory of package pkg.
func packageDir(ctx context.Context, pkg string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %w", pkg, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// entries is the number of files in dir (0 when it does not exist).
func entries(dir string) int {
	e, _ := os.ReadDir(dir)
	return len(e)
}

var progress = regexp.MustCompile(`fuzz: elapsed: ([0-9hms]+), execs: (\d+) \(\d+/sec\), new interesting: (\d+)`)

// summary reads the last progress line of go test -fuzz output.
func summary(out []byte) (execs uint64, elapsed time.Duration, newInputs int) {
	m := progress.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, 0, 0
	}
	last := m[len(m)-1]
	elapsed, _ = time.ParseDuration(string(last[1]))
	execs, _ = strconv.ParseUint(string(last[2]), 10, 64)
	newInputs, _ = strconv.Atoi(string(last[3]))
	return execs, elapsed, newInputs
}
