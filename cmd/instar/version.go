package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"instar/embed"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the instar version and the embedded guest binaries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := embed.Load()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "instar version %s\n", version)
			for _, e := range b.Entries {
				fmt.Fprintf(w, "guest %-10s load %#07x  %6d bytes  %6d in memory  sha256 %s\n",
					e.Name, e.LoadAddr, e.Size, e.MemSize, e.SHA256)
			}
			return nil
		},
	}
}
