package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"instar/getopt"
	"instar/imgcreate"
	"instar/imgopt"
	"instar/imgsize"
)

// createUsage is the first lines of `instar create --help`.
const createUsage = `usage: instar create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename [size]

Create a disk image, as qemu-img create does. Formats: raw, qcow2, vmdk,
vpc and vhdx; "-o help" lists a format's options. Sizes take k, M, G, T, P
or E suffixes. All format logic runs in a sandboxed guest.

options:
`

// runCreate is `instar create`.
func runCreate(args []string, stdout io.Writer) error {
	var (
		quiet, unsafe, help       bool
		hasBacking, hasBackingFmt bool
		format                    = "raw"
		backing, backingFmt       string
		out, accelName            = "human", "auto"
		options                   []string
		timeout                   time.Duration
	)
	opts := []getopt.Option{
		{Short: 'q', Long: "quiet", Help: "print nothing but errors", Set: getopt.Bool(&quiet)},
		{Short: 'f', Long: "format", Arg: "FMT", Help: "image format: raw (default), qcow2, vmdk, vpc or vhdx", Set: getopt.String(&format)},
		{Short: 'b', Long: "backing", Arg: "FILE", Help: "backing file (a relative name is resolved against the image's directory)",
			Set: func(v string) error { backing, hasBacking = v, true; return nil }},
		{Short: 'F', Long: "backing-format", Arg: "FMT", Help: "format of the backing file",
			Set: func(v string) error { backingFmt, hasBackingFmt = v, true; return nil }},
		{Short: 'u', Long: "unsafe", Help: "record the backing file without opening it (a size is then required)", Set: getopt.Bool(&unsafe)},
		{Short: 'o', Long: "options", Arg: "OPTS", Help: "format options, name=value[,...] (repeatable; -o help lists them)", Set: getopt.Append(&options)},
		{Long: "output", Arg: "FMT", Help: "output format: human (default) or json", Set: getopt.String(&out)},
		{Long: "accel", Arg: "NAME", Help: "accelerator for the guest: auto (default), kvm or process", Set: getopt.String(&accelName)},
		{Long: "timeout", Arg: "DURATION", Help: "stop the guest after this long (default 60s)", Set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("invalid duration %q (want e.g. 90s or 5m)", v)
			}
			timeout = d
			return nil
		}},
		{Short: 'h', Long: "help", Help: "print this help", Set: getopt.Bool(&help)},
	}
	args, err := getopt.Parse(args, opts)
	if err != nil {
		return fmt.Errorf("create: %w (see instar create --help)", err)
	}
	if help {
		_, err := fmt.Fprint(stdout, createUsage+getopt.Usage(opts))
		return err
	}
	f, err := imgopt.Lookup(format)
	if err != nil {
		return err
	}
	// The guests' VMs are set up while the options are checked; an
	// unusable accelerator is reported below, in its turn.
	guests, err := imgcreate.StartGuests(accelName, f, hasBacking, unsafe)
	if err != nil {
		return err
	}
	// instar exits right after the create: its guests' teardown need not
	// hold that up.
	defer guests.Release()
	for _, o := range options {
		if imgopt.IsHelp(o) {
			fmt.Fprint(stdout, f.Help())
			return nil
		}
	}
	if len(args) == 0 {
		return errors.New("expecting image file name")
	}
	if len(args) > 2 {
		return fmt.Errorf("unexpected argument: %s", args[2])
	}
	filename := args[0]
	vals := imgopt.New(f)
	for _, o := range options {
		if err := vals.Parse(o); err != nil {
			return fmt.Errorf("%s: %w", filename, err)
		}
	}
	if (hasBacking || hasBackingFmt) && !f.Has("backing_file") {
		return fmt.Errorf("%s: backing file not supported for file format '%s'", filename, format)
	}
	if hasBacking {
		if err := vals.Set("backing_file", backing); err != nil {
			return fmt.Errorf("%s: %w", filename, err)
		}
	}
	if hasBackingFmt {
		if err := vals.Set("backing_fmt", backingFmt); err != nil {
			return fmt.Errorf("%s: %w", filename, err)
		}
	}
	if len(args) == 2 {
		n, err := imgsize.Parse(args[1])
		if err != nil {
			return fmt.Errorf("invalid image size '%s': %w", args[1], err)
		}
		vals.Set("size", strconv.FormatUint(n, 10))
	}
	if out != "human" && out != "json" {
		return fmt.Errorf("unknown output format %q (want human or json)", out)
	}
	req := imgcreate.Request{Filename: filename, Options: vals, Unsafe: unsafe, Deadline: timeout, Guests: guests}
	if err := guests.Check(); err != nil {
		return err
	}
	if !quiet && out == "human" {
		req.OnStart = func(v *imgopt.Values) { fmt.Fprintln(stdout, v.Formatting(filename)) }
	}
	if !quiet && out == "human" && isTerminal(os.Stderr) {
		bar := newProgressBar(os.Stderr)
		defer bar.finish()
		req.OnProgress = bar.update
	}
	prealloc, _ := vals.Get("preallocation")
	ctx := watchInterrupts(context.Background(), prealloc != "" && prealloc != "off")
	defer ctx.stop()
	req.BeforeNamed = ctx.beforeNamed
	res, err := imgcreate.Create(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: interrupted; nothing was written", filename)
		}
		return err
	}
	if out == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(res)
	}
	return nil
}
