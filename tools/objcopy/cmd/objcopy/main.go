// Command objcopy writes the flat binary image of an x86-64 ELF executable,
// like `objcopy -O binary`, after checking that it loads and starts at -base
// and fits in -max bytes of memory.
//
// Usage:
//
//	objcopy -base 0x10000 -max 0x10000 in.elf out.bin
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"instar/tools/objcopy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status, 0 on
// success, 1 on failure and 2 on bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("objcopy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.Uint64("base", 0, "required load address and entry point (accepts 0x hex)")
	maxSize := fs.Uint64("max", 0, "cap on the in-memory size in bytes, .bss included (accepts 0x hex)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: objcopy -base ADDR -max BYTES in.elf out.bin")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// Both limits are required: a default would silently accept the wrong layout.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["base"] || !set["max"] || fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	in, out := fs.Arg(0), fs.Arg(1)

	if err := convert(in, out, objcopy.Limits{Base: *base, MaxSize: *maxSize}, stdout); err != nil {
		fmt.Fprintf(stderr, "objcopy: %v\n", err)
		return 1
	}
	return 0
}

// convert does the work so that run has a single error path.
func convert(in, out string, lim objcopy.Limits, stdout io.Writer) error {
	img, err := objcopy.ConvertFile(in, lim)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return err // already names the file
		}
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := os.WriteFile(out, img.Data, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: load %#x entry %#x file %d bytes, in memory %d bytes (cap %d)\n",
		out, img.LoadAddr, img.Entry, len(img.Data), img.MemSize, lim.MaxSize)
	return err
}
