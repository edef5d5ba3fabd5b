// Command instar is a qemu-img compatible disk image tool in which every
// piece of image-format logic runs inside a tiny sandboxed guest.
package main

import (
	"fmt"
	"io"
	"os"

	"instar/cpupin"
)

// version is the instar release; the build may override it with -X.
var version = "0.1.0-dev"

func main() {
	keepIgnoring = true // the process ends with the command
	if len(os.Args) > 1 && os.Args[1] == "create" {
		cpupin.Here() // for good: the process ends with the command
	}
	os.Exit(run(os.Args[1:]))
}

// commands are instar's subcommands. Their options are read by package
// getopt, as qemu-img's are by getopt_long.
var commands = []struct {
	name, summary string
	run           func(args []string, stdout io.Writer) error
}{
	{"create", "Create a disk image, as qemu-img create does", runCreate},
	{"doctor", "Say whether this machine can run instar guests, and self-test each usable accelerator", runDoctor},
	{"version", "Print the instar version and the embedded guest binaries", runVersion},
}

// usage is `instar --help`.
func usage() string {
	s := "usage: instar COMMAND [options] [arguments]\n\n" +
		"A qemu-img compatible disk image tool that parses images only in a sandboxed guest.\n\ncommands:\n"
	for _, c := range commands {
		s += fmt.Sprintf("  %-8s %s\n", c.name, c.summary)
	}
	return s + "\n`instar COMMAND --help` describes a command's options.\n"
}

// run executes one command line and returns the exit status. Every error is
// printed as one line, "instar: ...", with status 1.
func run(args []string) int {
	if err := dispatch(args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "instar: %v\n", err)
		return 1
	}
	return 0
}

func dispatch(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("missing command (want create, doctor or version; see instar --help)")
	}
	switch args[0] {
	case "-h", "--help", "help":
		_, err := fmt.Fprint(stdout, usage())
		return err
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout)
		}
	}
	return fmt.Errorf("unknown command %q (want create, doctor or version; see instar --help)", args[0])
}
