package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"instar/getopt"
	"instar/imginfo"
	"instar/imglock"
	"instar/imgpath"
	"instar/imgread"
	"instar/vmm"
	"instar/vmm/accel"
)

// maxChain bounds --backing-chain: qemu has no bound, but a chain this
// deep is a hostile one.
const maxChain = 256

func infoCommand() *cobra.Command {
	return withOptions(&cobra.Command{
		Use:   "info [-f fmt] [--output=human|json] [--backing-chain] [-U] [--allow-path DIR]... filename",
		Short: "Show what qemu-img info shows about an image",
		Long: `Show an image's format, sizes, backing file, snapshots and format-specific
information, byte for byte as qemu-img info prints them, with qemu-img's
command line. Without -f the format is probed as qemu-img probes it. The
image is read only by a sandboxed guest; the host never parses its bytes.

A file named inside an image is a plain local path, never a protocol: a
backing file is opened only with --backing-chain, and only when it lies
inside the image's directory or an --allow-path directory, symbolic links
included; a data file is never opened.`,
		Example: `  instar info disk.qcow2
  instar info --output=json -U disk.qcow2
  instar info --backing-chain --allow-path /var/lib/images overlay.qcow2`,
	}, func() optionCommand { return &infoCmd{out: "human", accel: "auto"} })
}

// infoCmd is `instar info`.
type infoCmd struct {
	format, out, accel string
	forceShare, chain  bool
	imageOpts          bool
	allow              []string
	timeout            time.Duration
	objects            objects
}

func (c *infoCmd) options() []getopt.Option {
	return append([]getopt.Option{
		{Short: 'f', Long: "format", Arg: "FMT", Help: "image format (default: probed as qemu-img probes)", Set: getopt.String(&c.format)},
		{Long: "output", Arg: "FMT", Help: "output format: human (default) or json", Set: getopt.String(&c.out)},
		{Long: "backing-chain", Help: "show every image of the backing chain", Set: getopt.Bool(&c.chain)},
		{Short: 'U', Long: "force-share", Help: "open the images without taking QEMU's locks", Set: getopt.Bool(&c.forceShare)},
		{Long: "object", Arg: "OBJ", Help: "an object, as qemu-img's --object", Set: c.objects.add},
		{Long: "image-opts", Help: "refused: instar reads only a file name", Set: getopt.Bool(&c.imageOpts)},
		{Long: "allow-path", Arg: "DIR", Help: "a directory backing files may also lie in (repeatable)",
			Set: func(v string) error { c.allow = append(c.allow, v); return nil }},
	}, guestOptions(&c.accel, &c.timeout, true)...)
}

func (c *infoCmd) run(stdout io.Writer, args []string) error {
	if c.imageOpts {
		return errors.New("--image-opts is not supported: give the image as a file name")
	}
	if c.out != "human" && c.out != "json" {
		return errors.New("--output must be used with human or json as argument.")
	}
	if len(args) != 1 {
		return errors.New("Expecting one image file name")
	}
	name := args[0]
	acc, err := accel.Get(c.accel)
	if err != nil {
		return err
	}
	g := imgread.Start(acc)
	if err := accel.CheckUsable(acc); err != nil {
		g.Release()
		return err
	}
	rules, err := imgpath.New(name, c.allow)
	if err != nil {
		g.Release()
		return err
	}
	f, err := openImage(name)
	if err != nil {
		g.Release()
		return err
	}
	var chain []imginfo.ImageInfo
	seen := map[string]bool{}
	format := c.format
	for {
		seen[name] = true
		info, err := c.read(g, acc, f, name, format, rules)
		f.Close()
		if err != nil {
			return err
		}
		chain = append(chain, *info)
		if !c.chain || info.BackingFilename == nil {
			break
		}
		stored, full := *info.BackingFilename, *info.FullBackingFilename
		if seen[full] {
			return fmt.Errorf("Backing file '%s' creates an infinite loop.", full)
		}
		if len(chain) >= maxChain {
			return fmt.Errorf("the backing chain is deeper than %d images", maxChain)
		}
		format = ""
		if info.BackingFilenameFormat != nil {
			format = *info.BackingFilenameFormat
		}
		// Each image is parsed by a guest of its own.
		g = imgread.Start(acc)
		if f, err = rules.Open("backing file", stored, full); err != nil {
			g.Release()
			var refused *imgpath.RefusedError
			if errors.As(err, &refused) {
				return err
			}
			return fmt.Errorf("Could not open '%s': %w", full, err)
		}
		name = full
	}
	switch {
	case c.chain && c.out == "json":
		_, err = stdout.Write(imginfo.JSONChain(chain))
	case c.chain:
		_, err = stdout.Write(imginfo.HumanChain(chain, nil))
	case c.out == "json":
		_, err = stdout.Write(imginfo.JSON(&chain[0]))
	default:
		_, err = stdout.Write(imginfo.Human(&chain[0], nil))
	}
	return err
}

// read takes QEMU's locks on f (unless -U), as qemu-img info does, and
// runs guest g over it (and a second guest on acc, when the image's
// extent files are read); g is released.
func (c *infoCmd) read(g *vmm.Guest, acc vmm.Accelerator, f *os.File, name, format string, rules *imgpath.Rules) (*imginfo.ImageInfo, error) {
	defer g.Release()
	if !c.forceShare {
		lock, err := imglock.Acquire(f, imglock.Info)
		var conflict *imglock.ConflictError
		switch {
		case errors.As(err, &conflict):
			return nil, fmt.Errorf("Could not open '%s': %v\nIs another process using the image [%s]?", name, err, name)
		case err != nil && !errors.Is(err, imglock.ErrUnsupported):
			return nil, fmt.Errorf("Could not open '%s': %w", name, err)
		case lock != nil:
			defer lock.Release()
		}
	}
	info, err := imgread.Read(g, imgread.Request{Name: name, File: f, Format: format, Deadline: c.timeout, Accel: acc,
		OpenExtent: func(stored, full string) (*os.File, error) { return rules.Open("extent file", stored, full) }})
	var refused *imgpath.RefusedError
	switch {
	case errors.As(err, &refused):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("Could not open '%s': %w", name, err)
	}
	return info, nil
}

// openImage opens the image named on the command line read-only, as a
// regular file or block device; it never reads a protocol prefix.
func openImage(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("Could not open '%s': Could not open '%s': %s", name, name, errText(err))
	}
	st, err := f.Stat()
	if err != nil || !(st.Mode().IsRegular() || st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0) {
		f.Close()
		return nil, fmt.Errorf("Could not open '%s': not a regular file or block device", name)
	}
	return f, nil
}

// errText is an error as C's strerror words it (capitalised).
func errText(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
