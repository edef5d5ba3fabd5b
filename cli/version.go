package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"instar/buildinfo"
	"instar/embed"
	"instar/getopt"
)

// buildText describes the build, from the Go build information: the VCS
// revision and commit time, whether the tree had changes, and the Go
// release.
func buildText() string {
	in := buildinfo.Read()
	var b strings.Builder
	if in.Revision == "" {
		b.WriteString("revision unknown (built without VCS information)\n")
	} else {
		fmt.Fprintf(&b, "revision %s", in.Revision)
		if in.Modified {
			b.WriteString(" (modified)")
		}
		if in.Time != "" {
			fmt.Fprintf(&b, ", committed %s", in.Time)
		}
		b.WriteString("\n")
	}
	if in.GoVersion != "" {
		fmt.Fprintf(&b, "built with %s\n", in.GoVersion)
	}
	return b.String()
}

func versionCommand() *cobra.Command {
	return withOptions(&cobra.Command{
		Use:   "version",
		Short: "Print the instar version, its build and the embedded guest binaries",
		Long: `Print the instar version, the VCS revision and Go release it was built from,
and each embedded guest binary: its load address, size and sha256.`,
	}, func() optionCommand { return versionCmd{} })
}

type versionCmd struct{}

func (versionCmd) options() []getopt.Option { return nil }

// run is `instar version`.
func (versionCmd) run(stdout io.Writer, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("version: unexpected argument: %s", args[0])
	}
	b, err := embed.Load()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "instar version %s\n%s", buildinfo.Read().Version, buildText())
	for _, e := range b.Entries {
		fmt.Fprintf(stdout, "guest %-10s load %#07x  %6d bytes  %6d in memory  sha256 %s\n",
			e.Name, e.LoadAddr, e.Size, e.MemSize, e.SHA256)
	}
	return nil
}
