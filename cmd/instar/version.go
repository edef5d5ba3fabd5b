package main

import (
	"fmt"
	"io"

	"instar/embed"
)

// runVersion is `instar version`.
func runVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("version: unexpected argument: %s", args[0])
	}
	b, err := embed.Load()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "instar version %s\n", version)
	for _, e := range b.Entries {
		fmt.Fprintf(stdout, "guest %-10s load %#07x  %6d bytes  %6d in memory  sha256 %s\n",
			e.Name, e.LoadAddr, e.Size, e.MemSize, e.SHA256)
	}
	return nil
}
