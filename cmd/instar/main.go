// Command instar is a qemu-img compatible disk image tool in which every
// piece of image-format logic runs inside a tiny sandboxed guest.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is the instar release; the build may override it with -X.
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes one command line and returns the exit status. Every error is
// printed as one line, "instar: ...", with status 1.
func run(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "instar: %v\n", err)
		return 1
	}
	return 0
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "instar",
		Short:         "A qemu-img compatible disk image tool that parses images only in a sandboxed guest",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.AddCommand(newVersionCommand(), newDoctorCommand(), newCreateCommand())
	return root
}
