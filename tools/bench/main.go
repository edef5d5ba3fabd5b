// Command bench measures instar against its targets, with the competitors
// run alternately in one go so that a noisy machine slows them alike:
//
//   - one whole self-test guest run (set-up, run, teardown) under each
//     accelerator this machine can use, in process, and `instar doctor`
//     as a whole command;
//   - start-up: `instar version` (which reads the embedded bundle, as
//     every guest run does first) against `qemu-img --version`;
//   - `instar create` against `qemu-img create` for the same image: every
//     format and subformat at 10 GiB, onto a new file and over an existing
//     one, with a backing file, and at scale (preallocated metadata of
//     large images, a 64 TiB vhdx, a 500 GiB twoGbMaxExtentSparse vmdk);
//   - `instar info` against `qemu-img info`, human and JSON: a qcow2
//     with data, snapshots and bitmaps, a monolithicSparse vmdk, and a
//     --backing-chain of 8 qcow2 images;
//   - preallocation (falloc and full at 1, 4 and 16 GiB) against qemu-img
//     and against the plain tools that set the floor: fallocate(1), and
//     dd writing the same zeros with O_DIRECT and a final fsync;
//   - `instar inspect` against `qemu-img info --output=json` on the same
//     file (one per format), and a batch of 100 small images in one
//     instar inspect (-j, parallel guests) against 100 qemu-img info runs.
//
// Each case runs its commands in turn, after warm-up rounds that are not
// counted. In a slow case, a competitor's run that takes longer than the
// cap (-cap) is stopped, counted as taking the cap and not run again in
// that case: the report says so, and gives instar's ratio against the cap
// as what it is, a bound ("< r"). A slow case measures each run's maximum
// resident set size in its timed rounds; a quick case in one more run. A ratio is taken within each round (instar's time over the
// other's in that round) and the report gives the median of those ratios
// with their interquartile range, and the median wall time and maximum
// resident set size of each command. With -baseline, an earlier instar
// build runs in the same rounds as one more command of each create case,
// so that a change's cost is measured side by side. It is run by
// `go run mage.go bench` after the build.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"instar/vmm/accel"
	"instar/vmm/selftest"
)

// A tool is one command of a case: its argv, with {img} standing for the
// image file and {dir} for the case's directory.
type tool struct {
	name string
	argv []string
}

// A target bounds instar against one of the case's other tools: the
// median per-round ratio at most ratio, or, with slack set, instar's
// median at most slack longer than the other's.
type target struct {
	against string
	ratio   float64
	slack   time.Duration
}

// A benchCase is one measurement.
type benchCase struct {
	name  string
	tools []tool // the first is instar
	// overwrite makes each run create over an existing image (made by
	// the same tool in the set-up, which is not timed).
	overwrite bool
	// setup, when set, runs once before the case, in its directory.
	setup   []string
	targets []target
	// slow cases run fewer rounds.
	slow bool
}

// result is what was measured of one tool in a case.
type result struct {
	times []time.Duration
	rss   int64 // KiB
	// capped: a run passed the cap, was stopped and counted as the cap.
	capped bool
}

func create(format, opts, size string, extra ...string) (instar, qemu tool) {
	args := []string{"-q", "-f", format}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	args = append(args, extra...)
	args = append(args, "{img}")
	if size != "" {
		args = append(args, size)
	}
	return tool{"instar", append([]string{"{instar}", "create", "--accel", "{accel}"}, args...)},
		tool{"qemu-img", append([]string{"qemu-img", "create"}, args...)}
}

func pair(name, format, opts, size string, ratio float64) benchCase {
	i, q := create(format, opts, size)
	return benchCase{name: name, tools: []tool{i, q}, targets: []target{{against: "qemu-img", ratio: ratio}}}
}

func cases() []benchCase {
	cs := []benchCase{{name: "start-up: instar version, qemu-img --version", tools: []tool{
		{"instar", []string{"{instar}", "version"}}, {"qemu-img", []string{"qemu-img", "--version"}}}}}
	for _, f := range []struct{ name, format, opts string }{
		{"raw", "raw", ""},
		{"qcow2", "qcow2", ""},
		{"vmdk", "vmdk", ""},
		{"vmdk streamOptimized", "vmdk", "subformat=streamOptimized"},
		{"vmdk monolithicFlat", "vmdk", "subformat=monolithicFlat"},
		{"vmdk twoGbMaxExtentSparse", "vmdk", "subformat=twoGbMaxExtentSparse"},
		{"vmdk twoGbMaxExtentFlat", "vmdk", "subformat=twoGbMaxExtentFlat"},
		{"vpc", "vpc", ""},
		{"vpc fixed", "vpc", "subformat=fixed"},
		{"vhdx", "vhdx", ""},
		{"vhdx fixed", "vhdx", "subformat=fixed"},
	} {
		c := pair(f.name+" 10G", f.format, f.opts, "10G", 0.5)
		cs = append(cs, c)
		if !strings.Contains(f.opts, "Flat") && !strings.Contains(f.opts, "fixed") {
			o := c
			o.name += " over an existing image"
			o.overwrite = true
			cs = append(cs, o)
		}
	}
	i, q := create("qcow2", "", "", "-b", "{dir}/base.qcow2", "-F", "qcow2")
	cs = append(cs, benchCase{name: "qcow2 over a qcow2 backing file", tools: []tool{i, q},
		setup:   []string{"qemu-img", "create", "-q", "-f", "qcow2", "{dir}/base.qcow2", "10G"},
		targets: []target{{against: "qemu-img", ratio: 0.5}}})
	for _, s := range []struct{ name, format, opts, size string }{
		{"qcow2 10G preallocation=metadata", "qcow2", "preallocation=metadata", "10G"},
		{"qcow2 100G preallocation=metadata", "qcow2", "preallocation=metadata", "100G"},
		{"qcow2 100G preallocation=metadata cluster_size=4k", "qcow2", "preallocation=metadata,cluster_size=4k", "100G"},
		// Near the largest qcow2 qemu-img can preallocate at 512-byte
		// clusters (its 32 MiB L1 table covers 128 GiB): within the
		// default deadline, without --timeout.
		{"qcow2 100G preallocation=metadata cluster_size=512", "qcow2", "preallocation=metadata,cluster_size=512", "100G"},
		{"qcow2 1T preallocation=metadata", "qcow2", "preallocation=metadata", "1T"},
		{"qcow2 4T preallocation=metadata", "qcow2", "preallocation=metadata", "4T"},
		{"vhdx 64T", "vhdx", "", "64T"},
		{"vmdk twoGbMaxExtentSparse 500G", "vmdk", "subformat=twoGbMaxExtentSparse", "500G"},
	} {
		c := pair(s.name, s.format, s.opts, s.size, 1.0)
		c.slow = true
		cs = append(cs, c)
	}
	cs = append(cs, infoCases()...)
	for _, size := range []string{"1G", "4G", "16G"} {
		bytes := map[string]string{"1G": "16384", "4G": "65536", "16G": "262144"}[size] // 64 KiB blocks
		i, q := create("raw", "preallocation=falloc", size)
		cs = append(cs, benchCase{name: "raw " + size + " preallocation=falloc", slow: true,
			tools: []tool{i, q, {"fallocate", []string{"fallocate", "-l", size, "{img}"}}},
			targets: []target{{against: "qemu-img", ratio: 1.0},
				{against: "fallocate", slack: 5 * time.Millisecond}}})
		i, q = create("raw", "preallocation=full", size)
		cs = append(cs, benchCase{name: "raw " + size + " preallocation=full", slow: true,
			tools: []tool{i, q, {"dd", []string{"dd", "if=/dev/zero", "of={img}", "bs=64k", "count=" + bytes,
				"oflag=direct", "conv=fsync", "status=none"}}},
			targets: []target{{against: "qemu-img", ratio: 1.0}, {against: "dd", ratio: 1.2}}})
	}
	return append(cs, inspectCases()...)
}

// inspectCases measure instar inspect against qemu-img info on the same
// files: one image of each format qemu-img makes, and a batch of 100
// small images inspected by one instar (parallel guests, -j the number
// of CPUs) against 100 qemu-img info runs.
func inspectCases() []benchCase {
	var cs []benchCase
	for _, f := range []struct{ name, format, opts string }{
		{"raw", "raw", ""}, {"qcow2", "qcow2", ""}, {"vmdk", "vmdk", ""},
		{"vmdk streamOptimized", "vmdk", "subformat=streamOptimized"}, {"vpc", "vpc", ""}, {"vhdx", "vhdx", ""},
	} {
		setup := []string{"qemu-img", "create", "-q", "-f", f.format}
		if f.opts != "" {
			setup = append(setup, "-o", f.opts)
		}
		cs = append(cs, benchCase{name: "inspect " + f.name + " 10G",
			setup: append(setup, "{dir}/img", "10G"),
			tools: []tool{{"instar", []string{"{instar}", "inspect", "--accel", "{accel}", "--output=json", "{dir}/img"}},
				{"qemu-img", []string{"qemu-img", "info", "--output=json", "{dir}/img"}}},
			targets: []target{{against: "qemu-img", ratio: 0.5}}})
	}
	cs = append(cs, benchCase{name: "inspect 100 qcow2 images with -j", slow: true,
		setup: []string{"sh", "-c", "for i in $(seq 100); do qemu-img create -q -f qcow2 {dir}/b$i.qcow2 1G || exit 1; done"},
		tools: []tool{{"instar", []string{"sh", "-c", "{instar} inspect --accel {accel} --output=json {dir}/b*.qcow2 >/dev/null"}},
			{"qemu-img", []string{"sh", "-c", "for f in {dir}/b*.qcow2; do qemu-img info --output=json $f >/dev/null || exit 1; done"}}},
		targets: []target{{against: "qemu-img", ratio: 0.2}}})
	return cs
}

// infoCases are `instar info` against `qemu-img info`, human and JSON,
// on images made once in the set-up: a qcow2 with data, snapshots and
// bitmaps, a monolithicSparse vmdk, and a chain of 8 qcow2 images read
// with --backing-chain.
func infoCases() []benchCase {
	snapshots := "qemu-img create -q -f qcow2 {dir}/img.qcow2 10G" +
		" && qemu-io -f qcow2 -c 'write -P 1 0 64M' -c 'write -P 2 1G 16M' {dir}/img.qcow2 >/dev/null" +
		" && for s in first second third; do qemu-img snapshot -c $s {dir}/img.qcow2 || exit 1; done" +
		" && qemu-img bitmap --add {dir}/img.qcow2 b0" +
		" && qemu-img bitmap --add -g 1M {dir}/img.qcow2 b1" +
		" && qemu-img bitmap --add --disable {dir}/img.qcow2 b2"
	chain := "qemu-img create -q -f qcow2 {dir}/c0.qcow2 10G" +
		" && for i in 1 2 3 4 5 6 7; do qemu-img create -q -f qcow2 -b c$((i-1)).qcow2 -F qcow2 {dir}/c$i.qcow2 || exit 1; done"
	images := []struct{ name, setup, img string }{
		{"qcow2 10G with data, 3 snapshots, 3 bitmaps", snapshots, "{dir}/img.qcow2"},
		{"vmdk monolithicSparse 10G", "qemu-img create -q -f vmdk {dir}/img.vmdk 10G", "{dir}/img.vmdk"},
		{"qcow2 chain of 8, --backing-chain", chain, "{dir}/c7.qcow2"},
	}
	// No target: what instar's start-up alone (the Go runtime, the
	// required libraries' package init, the command tree, the embedded
	// bundle) costs of qemu-img info's time, the floor under every info
	// and inspect ratio.
	cs := []benchCase{{name: "floor: instar version, qemu-img info", tools: []tool{
		{"instar", []string{"{instar}", "version"}},
		{"qemu-img", []string{"qemu-img", "info", "{dir}/img.qcow2"}}},
		setup: []string{"qemu-img", "create", "-q", "-f", "qcow2", "{dir}/img.qcow2", "10G"}}}
	for _, im := range images {
		for _, output := range []string{"human", "json"} {
			args := []string{"--output=" + output}
			if strings.Contains(im.name, "--backing-chain") {
				args = append(args, "--backing-chain")
			}
			args = append(args, im.img)
			cs = append(cs, benchCase{name: "info " + output + ": " + im.name,
				tools: []tool{
					{"instar", append([]string{"{instar}", "info", "--accel", "{accel}"}, args...)},
					{"qemu-img", append([]string{"qemu-img", "info"}, args...)},
				},
				setup:   []string{"sh", "-c", im.setup},
				targets: []target{{against: "qemu-img", ratio: 0.5}}})
		}
	}
	return cs
}

func main() {
	instar := flag.String("instar", "bin/instar", "instar binary")
	runs := flag.Int("runs", 41, "rounds of each quick case (odd: the median is one of them)")
	slowRuns := flag.Int("slow-runs", 3, "rounds of each slow case")
	warm := flag.Int("warmup", 3, "uncounted rounds before each quick case")
	slowWarm := flag.Int("slow-warmup", 1, "uncounted rounds before each slow case")
	capTime := flag.Duration("cap", 120*time.Second, "in slow cases, the longest a competitor's run may take before it is stopped (0: no cap)")
	accelName := flag.String("accel", "process", "accelerator for the create benchmarks")
	only := flag.String("run", "", "run only the cases whose name contains this")
	baseline := flag.String("baseline", "", "an earlier instar build to run in the same rounds, for its times beside this one's")
	flag.Parse()
	dir, err := os.MkdirTemp(".", ".bench-") // on the disk the project is on, not a tmpfs
	if err != nil {
		fail(err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	abs := installed(*instar, dir, "instar")
	if *baseline != "" {
		*baseline = installed(*baseline, dir, "baseline")
	}

	missed := 0
	if *only == "" {
		missed += benchGuests(abs, *runs)
	}
	fmt.Printf("\n== create: instar (--accel %s) against qemu-img and the plain tools, %d rounds after %d warm-up (slow cases %d after %d, competitors stopped after %v)\n",
		*accelName, *runs, *warm, *slowRuns, *slowWarm, *capTime)
	fmt.Printf("%-56s %-10s %10s %9s  %s\n", "case", "command", "median", "max RSS", "instar's ratio [IQR] (target)")
	for _, c := range cases() {
		if !strings.Contains(c.name, *only) {
			continue
		}
		if *baseline != "" {
			c = withBaseline(c, *baseline)
		}
		n, w, limit := *runs, *warm, time.Duration(0)
		if c.slow {
			n, w, limit = *slowRuns, *slowWarm, *capTime
		}
		missed += runCase(c, dir, abs, *accelName, n, w, limit)
	}
	if missed > 0 {
		fmt.Printf("bench: %d targets were missed\n", missed)
		os.RemoveAll(dir) // os.Exit runs no deferred call
		os.Exit(1)
	}
	fmt.Println("bench: every target was met")
}

// installed copies the binary at path into dir with plain writes, as a
// package manager installs it, and returns the copy's path: the binary
// the Go linker wrote in place has its page cache filled through a
// mapping, and here each run of it took about 1 ms more (CPU and wall)
// than a copy of the same bytes, until the cache was dropped.
func installed(path, dir, name string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		fail(err)
	}
	return dst
}

// withBaseline adds to c, after its instar, the same command run by the
// baseline build.
func withBaseline(c benchCase, baseline string) benchCase {
	b := tool{"baseline", append([]string{baseline}, c.tools[0].argv[1:]...)}
	c.tools = append([]tool{c.tools[0], b}, c.tools[1:]...)
	return c
}

// benchGuests measures a whole self-test guest run in process under each
// usable accelerator, and `instar doctor` as a command. It returns the
// number of targets missed.
func benchGuests(instar string, runs int) int {
	missed := 0
	fmt.Println("== one whole self-test guest run (set-up, run, teardown)")
	for _, acc := range accel.All() {
		if err := acc.Available(); err != nil {
			fmt.Printf("%-8s unavailable: %v\n", acc.Name(), err)
			continue
		}
		if note := accel.Note(acc); note != "" {
			fmt.Printf("%-8s skipped: %s\n", acc.Name(), note)
			continue
		}
		var d []time.Duration
		for i := 0; i < runs*4; i++ {
			start := time.Now()
			if _, err := selftest.Run(acc); err != nil {
				fail(fmt.Errorf("self-test on %s: %w", acc.Name(), err))
			}
			d = append(d, time.Since(start))
		}
		m := median(d)
		verdict := ""
		if acc.Name() == "process" {
			verdict = "target < 5ms: met"
			if m >= 5*time.Millisecond {
				verdict = "target < 5ms: MISSED"
				missed++
			}
		}
		fmt.Printf("%-8s median %v over %d runs  %s\n", acc.Name(), m.Round(10*time.Microsecond), len(d), verdict)
	}
	doctor := []string{instar, "doctor"}
	var times []time.Duration
	for i := 0; i < runs; i++ {
		d, _, err := timeCommand(doctor, 0, false)
		if err != nil {
			fail(err)
		}
		times = append(times, d)
	}
	_, rss, err := timeCommand(doctor, 0, true)
	if err != nil {
		fail(err)
	}
	fmt.Printf("instar doctor, the whole command: median %v, max RSS %d KiB\n",
		median(times).Round(10*time.Microsecond), rss)
	return missed
}

// runCase measures one case and prints its lines; it returns the number
// of targets missed. limit, when not 0, caps the competitors' runs (every
// tool but instar and the baseline).
func runCase(c benchCase, root, instar, accelName string, rounds, warm int, limit time.Duration) int {
	dir, err := os.MkdirTemp(root, "case-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	expand := func(argv []string) []string {
		out := make([]string, len(argv))
		r := strings.NewReplacer("{instar}", instar, "{accel}", accelName, "{dir}", dir,
			"{img}", filepath.Join(dir, "img.out"))
		for i, a := range argv {
			out[i] = r.Replace(a)
		}
		return out
	}
	var kept map[string]bool // the set-up's files
	if c.setup != nil {
		if out, err := exec.Command(expand(c.setup)[0], expand(c.setup)[1:]...).CombinedOutput(); err != nil {
			fail(fmt.Errorf("%s: set-up: %v\n%s", c.name, err, out))
		}
		kept = map[string]bool{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			kept[e.Name()] = true
		}
	}
	res := make([]result, len(c.tools))
	for round := 0; round < warm+rounds; round++ {
		for i, t := range c.tools {
			if res[i].capped {
				// Once stopped, never run again: it would only take the
				// cap once more.
				if round >= warm {
					res[i].times = append(res[i].times, limit)
				}
				continue
			}
			argv := expand(t.argv)
			clearDir(dir, kept)
			if c.overwrite {
				if _, _, err := timeCommand(argv, 0, false); err != nil {
					fail(fmt.Errorf("%s: %s (set-up): %w", c.name, t.name, err))
				}
			}
			capped := time.Duration(0)
			if i > 0 && t.name != "baseline" {
				capped = limit
			}
			d, rss, err := timeCommand(argv, capped, c.slow)
			if errors.Is(err, errCapped) {
				res[i].capped, d = true, limit
			} else if err != nil {
				// A failed run is a result too (instar past its
				// deadline, say): the case ends there, the bench
				// goes on.
				clearDir(dir, nil)
				fmt.Printf("%-56s %-10s FAILED: %s\n", c.name, t.name, firstLine(err.Error()))
				return 1
			}
			res[i].rss = max(res[i].rss, rss)
			if round >= warm {
				res[i].times = append(res[i].times, d)
			}
		}
	}
	for i, t := range c.tools {
		if c.slow {
			break // measured in the rounds
		}
		clearDir(dir, kept)
		if c.overwrite {
			if _, _, err := timeCommand(expand(t.argv), 0, false); err != nil {
				fail(fmt.Errorf("%s: %s (set-up): %w", c.name, t.name, err))
			}
		}
		if _, res[i].rss, err = timeCommand(expand(t.argv), 0, true); err != nil {
			fail(fmt.Errorf("%s: %s: %w", c.name, t.name, err))
		}
	}
	clearDir(dir, nil)
	missed := 0
	for i, t := range c.tools {
		m := median(res[i].times)
		med, rss := m.Round(10*time.Microsecond).String(), fmt.Sprintf("%6d KiB", res[i].rss)
		if res[i].capped && m >= limit {
			med = "> " + limit.String()
		}
		if res[i].capped && res[i].rss == 0 {
			rss = "     - KiB" // no run finished
		}
		line := fmt.Sprintf("%-56s %-10s %10s %s", c.name, t.name, med, rss)
		if i == 0 {
			fmt.Println(line)
			continue
		}
		ratios := make([]float64, len(res[i].times))
		for k := range ratios {
			ratios[k] = float64(res[0].times[k]) / float64(res[i].times[k])
		}
		sort.Float64s(ratios)
		q1, mid, q3 := ratios[len(ratios)/4], ratios[len(ratios)/2], ratios[3*len(ratios)/4]
		if res[i].capped {
			// Against a run stopped at the cap, a ratio is an upper
			// bound.
			line += fmt.Sprintf("  < %.2f [< %.2f-%.2f] (%s stopped after %v)", mid, q1, q3, t.name, limit)
		} else {
			line += fmt.Sprintf("  %.2f [%.2f-%.2f]", mid, q1, q3)
		}
		for _, tg := range c.targets {
			if tg.against != t.name {
				continue
			}
			ok := mid <= tg.ratio
			want := fmt.Sprintf("<= %.1f", tg.ratio)
			if tg.slack > 0 {
				ok = median(res[0].times)-median(res[i].times) <= tg.slack
				want = fmt.Sprintf("at most %v longer", tg.slack)
			}
			verdict := "met"
			if !ok {
				verdict = "MISSED"
				if res[i].capped {
					verdict = "MISSED (or the cap hides it)"
				}
				missed++
			}
			line += fmt.Sprintf(" (target %s: %s)", want, verdict)
		}
		fmt.Println(line)
	}
	return missed
}

// clearDir removes what a round made in dir, but the files named in
// keep (the set-up's).
func clearDir(dir string, keep map[string]bool) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if keep[e.Name()] {
			continue
		}
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// errCapped is a run stopped at its cap.
var errCapped = errors.New("stopped at the cap")

// timeCommand runs argv and returns its wall time; with rss, under GNU
// time, also its maximum resident set size in KiB (GNU time's own start
// is in the time: a few milliseconds, so a quick case's times are taken
// without it). The rusage of a child this program starts itself would
// not do: Go starts children with vfork, and Linux counts the parent's
// memory, at the exec, into the child's maximum. A run longer than limit
// (when not 0) is killed, and the error is errCapped.
func timeCommand(argv []string, limit time.Duration, rss bool) (time.Duration, int64, error) {
	if rss {
		argv = append([]string{"/usr/bin/time", "-f", "maxrss %M"}, argv...)
	}
	ctx := context.Background()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// GNU time's child is the one to stop; its group goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if ctx.Err() != nil {
		return d, 0, errCapped
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	if !rss {
		return d, 0, nil
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var kib int64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "maxrss %d", &kib); err != nil {
		return 0, 0, fmt.Errorf("/usr/bin/time said %q", out)
	}
	return d, kib, nil
}

// firstLine is s up to its first line break and the last line after it
// (a failed command's error and the last thing it said), GNU time's own
// lines left out.
func firstLine(s string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, "maxrss ") && !strings.HasPrefix(l, "Command exited with") {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 {
		return strings.Join(lines, "")
	}
	return lines[0] + ": " + lines[len(lines)-1]
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
