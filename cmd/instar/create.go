package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"instar/imgcreate"
	"instar/imgopt"
	"instar/imgsize"
	"instar/vmm/accel"
)

func newCreateCommand() *cobra.Command {
	var (
		quiet, unsafe                    bool
		format, backing, backingFmt, out string
		accelName                        string
		options                          []string
		timeout                          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename [size]",
		Short: "Create a disk image, as qemu-img create does",
		Long: `Create a disk image, as qemu-img create does. Formats: raw, qcow2, vmdk,
vpc and vhdx; "-o help" lists a format's options. Sizes take k, M, G, T, P
or E suffixes. All format logic runs in a sandboxed guest.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := watchInterrupts(cmd.Context())
			defer ctx.stop()
			f, err := imgopt.Lookup(format)
			if err != nil {
				return err
			}
			for _, o := range options {
				if imgopt.IsHelp(o) {
					fmt.Fprint(cmd.OutOrStdout(), f.Help())
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
			if (cmd.Flags().Changed("backing") || cmd.Flags().Changed("backing-format")) && !f.Has("backing_file") {
				return fmt.Errorf("%s: backing file not supported for file format '%s'", filename, format)
			}
			if cmd.Flags().Changed("backing") {
				if err := vals.Set("backing_file", backing); err != nil {
					return fmt.Errorf("%s: %w", filename, err)
				}
			}
			if cmd.Flags().Changed("backing-format") {
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
			req := imgcreate.Request{Filename: filename, Options: vals, Format: format, Unsafe: unsafe, Deadline: timeout}
			if format != "raw" {
				if req.Accel, err = accel.Usable(accelName); err != nil {
					return err
				}
			}
			if !quiet && out == "human" {
				req.OnStart = func(v *imgopt.Values) { fmt.Fprintln(cmd.OutOrStdout(), v.Formatting(filename)) }
			}
			if !quiet && out == "human" && isTerminal(os.Stderr) {
				bar := newProgressBar(os.Stderr)
				defer bar.finish()
				req.OnProgress = bar.update
			}
			req.BeforeNamed = ctx.wait
			res, err := imgcreate.Create(ctx, req)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("%s: interrupted; nothing was written", filename)
				}
				return err
			}
			if out == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "    ")
				return enc.Encode(res)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "print nothing but errors")
	fl.StringVarP(&format, "format", "f", "raw", "image format: raw, qcow2, vmdk, vpc or vhdx")
	fl.StringVarP(&backing, "backing", "b", "", "backing file (a relative name is resolved against the image's directory)")
	fl.StringVarP(&backingFmt, "backing-format", "F", "", "format of the backing file")
	fl.BoolVarP(&unsafe, "unsafe", "u", false, "record the backing file without opening it (a size is then required)")
	fl.StringArrayVarP(&options, "options", "o", nil, "format options, name=value[,...] (repeatable; -o help lists them)")
	fl.StringVar(&out, "output", "human", "output format: human or json")
	fl.StringVar(&accelName, "accel", "auto", "accelerator for the guest: auto, kvm or process")
	fl.DurationVar(&timeout, "timeout", 0, "stop the guest after this long (default 60s)")
	fl.SortFlags = false
	return cmd
}
