package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"instar/getopt"
	"instar/imgcreate"
	"instar/imgopt"
	"instar/imgsize"
)

func createCommand() *cobra.Command {
	return withOptions(&cobra.Command{
		Use:   "create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename [size]",
		Short: "Create a disk image, as qemu-img create does",
		Long: `Create a disk image, as qemu-img create does, with its command line: options
are read as glibc's getopt_long reads qemu-img's (-qf qcow2, -fqcow2,
options after the file name, --). Formats: raw, qcow2, vmdk, vpc and vhdx;
"-o help" lists a format's options. Sizes take k, M, G, T, P or E
suffixes. All format logic runs in a sandboxed guest.`,
		Example: `  instar create -f qcow2 disk.qcow2 10G
  instar create -f qcow2 -b base.qcow2 -F qcow2 overlay.qcow2
  instar create -f vmdk -o subformat=streamOptimized disk.vmdk 20G
  instar create -f qcow2 -o help`,
	}, func() optionCommand { return &createCmd{format: "raw", out: "human", accel: "auto"} })
}

// createCmd is `instar create`.
type createCmd struct {
	quiet, unsafe             bool
	hasBacking, hasBackingFmt bool
	format                    string
	backing, backingFmt       string
	out, accel                string
	opts                      []string
	timeout                   time.Duration
	objects                   objects
}

func (c *createCmd) options() []getopt.Option {
	return append([]getopt.Option{
		{Short: 'q', Long: "quiet", Help: "print nothing but errors", Set: getopt.Bool(&c.quiet)},
		{Short: 'f', Long: "format", Arg: "FMT", Help: "image format: raw (default), qcow2, vmdk, vpc or vhdx", Set: getopt.String(&c.format)},
		{Short: 'b', Long: "backing", Arg: "FILE", Help: "backing file (a relative name is resolved against the image's directory)",
			Set: func(v string) error { c.backing, c.hasBacking = v, true; return nil }},
		{Short: 'F', Long: "backing-format", Arg: "FMT", Help: "format of the backing file",
			Set: func(v string) error { c.backingFmt, c.hasBackingFmt = v, true; return nil }},
		{Short: 'u', Long: "unsafe", Help: "record the backing file without opening it (a size is then required)", Set: getopt.Bool(&c.unsafe)},
		{Short: 'o', Long: "options", Arg: "OPTS", Help: "format options, as name=value,... (repeatable; -o help lists them)",
			Set: func(v string) error {
				if !validOptionList(v) {
					return fmt.Errorf("Invalid option list: %s", v)
				}
				c.opts = append(c.opts, v)
				return nil
			}},
		{Long: "object", Arg: "OBJ", Help: "an object, as qemu-img's --object: secret,id=ID,data=TEXT or file=FILE[,format=base64]",
			Set: c.objects.add},
		{Long: "output", Arg: "FMT", Help: "output format: human (default) or json", Set: getopt.String(&c.out)},
	}, guestOptions(&c.accel, &c.timeout, false)...)
}

// validOptionList is qemu-img's test of an -o argument: not empty, no
// leading comma, and no lone comma at the end (",," there is an escaped
// comma).
func validOptionList(s string) bool {
	if s == "" || s[0] == ',' {
		return false
	}
	n := len(s) - len(strings.TrimRight(s, ","))
	return n%2 == 0
}

// notCreatable are the formats qemu-img 7.2 knows but cannot create.
var notCreatable = map[string]bool{
	"blkdebug": true, "blklogwrites": true, "blkverify": true, "bochs": true, "cloop": true, "compress": true,
	"copy-before-write": true, "copy-on-read": true, "dmg": true, "ftp": true, "ftps": true, "http": true,
	"https": true, "null-aio": true, "null-co": true, "preallocate": true, "quorum": true, "replication": true,
	"snapshot-access": true, "throttle": true, "vvfat": true,
}

// lookupFormat is imgopt.Lookup with qemu-img's word for a format that
// cannot be created at all.
func lookupFormat(name string) (*imgopt.Format, error) {
	if notCreatable[name] {
		return nil, fmt.Errorf("Format driver '%s' does not support image creation", name)
	}
	return imgopt.Lookup(name)
}

func (c *createCmd) run(stdout io.Writer, args []string) error {
	quiet, unsafe := c.quiet, c.unsafe
	hasBacking, hasBackingFmt := c.hasBacking, c.hasBackingFmt
	format, backing, backingFmt := c.format, c.backing, c.backingFmt
	out, accelName, options, timeout := c.out, c.accel, c.opts, c.timeout
	// qemu-img joins its -o arguments with commas (each was checked as
	// it came) and reads them as one list.
	spec := strings.Join(options, ",")
	if len(options) > 0 && imgopt.IsHelp(spec) {
		f, err := lookupFormat(format)
		if err != nil {
			return err
		}
		help := f.Help()
		if len(args) == 0 {
			// As qemu-img ends the list when it has no file name to
			// ask the protocol about.
			help += "\nThe protocol level may support further options.\nSpecify the target filename to include those options.\n"
		} else {
			help = "Supported options:\n" + help[strings.IndexByte(help, '\n')+1:]
		}
		fmt.Fprint(stdout, help)
		return nil
	}
	if len(args) == 0 {
		return errors.New("expecting image file name")
	}
	if len(args) > 2 {
		return fmt.Errorf("unexpected argument: %s", args[2])
	}
	// A protocol prefix (qemu-img's "file:") is imgcreate's to read; the
	// "Formatting" line shows the name as given.
	filename := args[0]
	var size uint64
	if len(args) == 2 {
		n, err := imgsize.Parse(args[1])
		if err != nil {
			return fmt.Errorf("invalid image size '%s': %w", args[1], err)
		}
		size = n
	}
	f, err := lookupFormat(format)
	if err != nil {
		return fmt.Errorf("%s: %w", filename, err)
	}
	vals := imgopt.New(f)
	if len(options) > 0 {
		if err := vals.Parse(spec); err != nil {
			return fmt.Errorf("%s: %w", filename, err)
		}
	}
	if len(args) == 2 {
		if vals.Has("size") {
			return fmt.Errorf("%s: The image size must be specified only once", filename)
		}
		vals.Set("size", strconv.FormatUint(size, 10))
	}
	switch {
	case hasBacking && !f.Has("backing_file"):
		return fmt.Errorf("%s: backing file not supported for file format '%s'", filename, format)
	case hasBackingFmt && !f.Has("backing_fmt"):
		return fmt.Errorf("%s: Backing file format not supported for file format '%s'", filename, format)
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
	if unsafe && vals.Has("backing_file") && !vals.Has("backing_fmt") {
		// qemu-img 7.2 no longer guesses; with -u it cannot even look.
		return fmt.Errorf("%s: Backing file specified without backing format", filename)
	}
	// The guests' VMs are set up while the rest is checked (-o
	// backing_file= is -b); an unusable accelerator is reported below,
	// in its turn.
	guests, err := imgcreate.StartGuests(accelName, f, vals.Has("backing_file"), unsafe)
	if err != nil {
		return err
	}
	// instar exits right after the create: its guests' teardown need not
	// hold that up.
	defer guests.Release()
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
		if sig := ctx.signal(); sig != 0 {
			// As a shell reports a process that signal killed.
			return &StatusError{Status: 128 + int(sig), Err: fmt.Errorf("%s: interrupted; nothing was written", filename)}
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
