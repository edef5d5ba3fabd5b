package main

import (
	"fmt"
	"io"

	"instar/buildinfo"
	"instar/embed"
)

// runVersion is `instar version`.
func runVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("version: unexpected argument: %s", args[0])
	}
	if err := printVersion(stdout); err != nil {
		return err
	}
	b, err := embed.Load()
	if err != nil {
		return err
	}
	for _, e := range b.Entries {
		fmt.Fprintf(stdout, "guest %-10s load %#07x  %6d bytes  %6d in memory  sha256 %s\n",
			e.Name, e.LoadAddr, e.Size, e.MemSize, e.SHA256)
	}
	return nil
}

// printVersion is `instar --version`: the release and the revision built.
func printVersion(stdout io.Writer) error {
	_, err := fmt.Fprintf(stdout, "instar version %s\n", buildinfo.Read())
	return err
}
