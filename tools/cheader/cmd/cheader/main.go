// Command cheader writes the guest's C header from package shared.
//
//	go run ./tools/cheader/cmd/cheader shared guest/include/instar/shared.h
package main

import (
	"fmt"
	"os"

	"instar/tools/cheader"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cheader SRC_DIR OUT.h")
		os.Exit(2)
	}
	if _, err := cheader.Generate(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "cheader:", err)
		os.Exit(1)
	}
}
