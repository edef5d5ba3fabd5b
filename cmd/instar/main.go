// Command instar is a qemu-img compatible disk image tool in which every
// piece of image-format logic runs inside a tiny sandboxed guest. Its
// command line is package cli.
package main

import (
	"os"

	"instar/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
