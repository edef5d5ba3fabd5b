// Command bench measures instar against its targets, with the competitors
// run alternately in one go so that a noisy machine slows both alike:
//
//   - one whole self-test guest run (set-up, run, teardown) under each
//     accelerator this machine can use, as a median;
//   - start-up: `instar version` (which reads the embedded bundle) against
//     `qemu-img --version`;
//   - `instar create` against `qemu-img create` for the same 10 GiB image
//     in every format, and qcow2 with preallocation=metadata at 100 GiB,
//     as medians and their ratio.
//
// It is run by `go run mage.go bench` after the build.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"instar/vmm/accel"
	"instar/vmm/selftest"
)

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

type createCase struct {
	name   string
	format string
	opts   string
	size   string
	target float64 // instar/qemu-img must be at most this
}

var createCases = []createCase{
	{"raw 10G", "raw", "", "10G", 0.5},
	{"qcow2 10G", "qcow2", "", "10G", 0.5},
	{"vmdk 10G", "vmdk", "", "10G", 0.5},
	{"vpc 10G", "vpc", "", "10G", 0.5},
	{"vhdx 10G", "vhdx", "", "10G", 0.5},
	{"qcow2 100G preallocation=metadata", "qcow2", "preallocation=metadata", "100G", 1.0},
}

func main() {
	instar := flag.String("instar", "bin/instar", "instar binary")
	runs := flag.Int("runs", 41, "runs of each measurement (odd: the median is one of them)")
	accelName := flag.String("accel", "process", "accelerator for the create benchmarks")
	flag.Parse()

	failed := false
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
		for i := 0; i < *runs*4; i++ {
			start := time.Now()
			if _, err := selftest.Run(acc); err != nil {
				fmt.Fprintf(os.Stderr, "bench: self-test on %s: %v\n", acc.Name(), err)
				os.Exit(1)
			}
			d = append(d, time.Since(start))
		}
		m := median(d)
		verdict := ""
		if acc.Name() == "process" {
			verdict = "target < 5ms: met"
			if m >= 5*time.Millisecond {
				verdict, failed = "target < 5ms: MISSED", true
			}
		}
		fmt.Printf("%-8s median %v over %d runs  %s\n", acc.Name(), m.Round(10*time.Microsecond), len(d), verdict)
	}

	dir, err := os.MkdirTemp("", "instar-bench")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	// Start-up: every command pays it. `instar version` also reads and
	// verifies the embedded bundle, as any guest run does first.
	fmt.Println("\n== start-up: instar version against qemu-img --version, run alternately")
	var ours, theirs []time.Duration
	for i := 0; i < *runs*2; i++ {
		for _, cmd := range [][]string{{*instar, "version"}, {"qemu-img", "--version"}} {
			start := time.Now()
			if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v: %v\n%s", cmd, err, out)
				os.Exit(1)
			}
			if cmd[0] == *instar {
				ours = append(ours, time.Since(start))
			} else {
				theirs = append(theirs, time.Since(start))
			}
		}
	}
	fmt.Printf("%-36s instar %8v  qemu-img %8v  ratio %.2f\n", "start-up",
		median(ours).Round(10*time.Microsecond), median(theirs).Round(10*time.Microsecond), float64(median(ours))/float64(median(theirs)))

	fmt.Printf("\n== create: instar (--accel %s) against qemu-img, run alternately\n", *accelName)
	for _, c := range createCases {
		var ours, theirs []time.Duration
		for i := 0; i < *runs; i++ {
			for _, who := range []string{"instar", "qemu-img"} {
				file := filepath.Join(dir, "img-"+who)
				args := []string{"create", "-q", "-f", c.format}
				if c.opts != "" {
					args = append(args, "-o", c.opts)
				}
				args = append(args, file, c.size)
				bin := "qemu-img"
				if who == "instar" {
					bin, args = *instar, append([]string{"create", "--accel", *accelName}, args[1:]...)
				}
				start := time.Now()
				out, err := exec.Command(bin, args...).CombinedOutput()
				d := time.Since(start)
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s %v: %v\n%s", bin, args, err, out)
					os.Exit(1)
				}
				os.Remove(file)
				if who == "instar" {
					ours = append(ours, d)
				} else {
					theirs = append(theirs, d)
				}
			}
		}
		mo, mt := median(ours), median(theirs)
		ratio := float64(mo) / float64(mt)
		verdict := "met"
		if ratio > c.target {
			verdict, failed = "MISSED", true
		}
		fmt.Printf("%-36s instar %8v  qemu-img %8v  ratio %.2f (target <= %.1f: %s)\n",
			c.name, mo.Round(10*time.Microsecond), mt.Round(10*time.Microsecond), ratio, c.target, verdict)
	}
	if failed {
		fmt.Println("bench: some targets were missed")
		os.Exit(1)
	}
}
