// Command mangen writes instar's man pages, instar(1), instar-create(1)
// and one for every other command, from the cobra command tree in package
// cli, so that they say what --help says:
//
//	go run ./tools/mangen DIR
//
// `go run mage.go man` runs it into build/man. (A command, not a package
// the magefile imports: package cli embeds the guest bundle, which the
// magefile must compile without.)
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"instar/buildinfo"
	"instar/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	if err := Generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}

// Generate writes the pages into dir. SOURCE_DATE_EPOCH, when set, dates
// them (cobra's doc package reads it), so that a build is reproducible.
func Generate(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{
		Title:   "INSTAR",
		Section: "1",
		Source:  "instar " + buildinfo.Release,
		Manual:  "instar manual",
	}
	root := cli.Command()
	argNames(root)
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	// An option without an argument takes none (getopt refuses
	// --quiet=false), so its page shows it bare.
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		return err
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte(`\fP[=false]`), []byte(`\fP`)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// argNames makes each option's argument show in the pages by its name
// (--format=FMT): cobra's pages print the default value there, and
// instar's options declare none.
func argNames(c *cobra.Command) {
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() != "bool" && f.DefValue == "" {
			f.DefValue = f.Value.Type()
		}
	})
	for _, sub := range c.Commands() {
		argNames(sub)
	}
}
