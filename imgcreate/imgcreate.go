// Package imgcreate creates disk images the way `qemu-img create` does. The
// host side is here: checking the command's options, opening the backing
// file read-only, and writing the image to a temporary file that is renamed
// into place only on success. Every piece of format logic (the backing
// file's header, the image's metadata) runs in the create guest.
package imgcreate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"instar/imgopt"
	"instar/imgsize"
	"instar/shared"
	"instar/shared/formats"
	"instar/vmm"
	"instar/vmm/accel"
)

// Request is one create.
type Request struct {
	// Filename is the image to create.
	Filename string
	// Options holds -o, -b, -F and the size, for Options' format.
	Options *imgopt.Values
	// Unsafe is -u: the backing file is recorded but not opened.
	Unsafe bool
	// Guests are the guests the caller started for this create with
	// StartGuests (none for raw); Create runs them, the caller closes
	// or releases them.
	Guests *Guests
	// Deadline bounds each guest run; zero means vmm.DefaultDeadline.
	Deadline time.Duration
	// OnProgress, when set, is told how far preallocation has come.
	OnProgress func(done, total uint64)
	// OnStart, when set, is called once the options are checked and the
	// size is known (from the backing file, if need be), just before the
	// image is written: where qemu-img prints its "Formatting" line.
	OnStart func(opts *imgopt.Values)
	// BeforeNamed, when set, is called before the first file this create
	// writes gets a name in the file system: until then a process killed
	// outright leaves nothing behind (the files are O_TMPFILE where the
	// file system allows), so a command can set its interrupt handler up
	// concurrently and wait for it here.
	BeforeNamed func()
}

// Result describes the image created.
type Result struct {
	Filename      string `json:"filename"`
	Format        string `json:"format"`
	VirtualSize   uint64 `json:"virtual-size"`
	FileSize      uint64 `json:"file-size"`
	BackingFile   string `json:"backing-filename,omitempty"`
	BackingFormat string `json:"backing-filename-format,omitempty"`
}

// Error is a create that failed; its text is one line naming the file.
type Error struct {
	Filename string
	Err      error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Filename, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Guests are the VMs a create runs its guests on, set up in the background
// from StartGuests until Create uses them, and torn down while Create puts
// the files in place. A caller that starts them as early as it can (before
// checking its own options, say) takes their set-up off its critical path.
type Guests struct {
	acc           vmm.Accelerator
	create, probe *vmm.Guest
}

// needsProbe is the rule for a probe run: a backing file that is opened
// (not -u) is read by a first guest, which reports its format and size.
func needsProbe(hasBacking, unsafe bool) bool { return hasBacking && !unsafe }

// StartGuests begins setting up the guests a create of format needs, on
// the accelerator accelName names (see accel.Get): none for raw (the host
// makes raw images), else the create guest, and a probe guest when a
// backing file is given without -u. Start them as soon as the format is
// known: their set-up then overlaps the rest of the command's checks. The
// error is an unknown accelerator name; whether it can run here is Check's
// to say.
func StartGuests(accelName string, format *imgopt.Format, hasBacking, unsafe bool) (*Guests, error) {
	g := &Guests{}
	if format.Def().OnHost {
		return g, nil
	}
	acc, err := accel.Get(accelName)
	if err != nil {
		return nil, err
	}
	g.acc = acc
	g.create = vmm.Start(acc, guestBinaries)
	if needsProbe(hasBacking, unsafe) {
		g.probe = vmm.Start(acc, guestBinaries)
	}
	return g, nil
}

// Check says why the guests' accelerator cannot run guests here, if it
// cannot.
func (g *Guests) Check() error {
	if g.acc == nil {
		return nil
	}
	return accel.CheckUsable(g.acc)
}

// Close releases the guests, run or not, and waits until they are.
func (g *Guests) Close() {
	for _, x := range []*vmm.Guest{g.create, g.probe} {
		if x != nil {
			x.Close()
		}
	}
}

// Release lets the guests go without waiting for their teardown, for a
// command about to exit (see vmm.Guest.Release).
func (g *Guests) Release() {
	for _, x := range []*vmm.Guest{g.create, g.probe} {
		if x != nil {
			x.Release()
		}
	}
}

// Create makes the image. On any failure the file named by r.Filename is
// left as it was and no temporary file remains.
func Create(ctx context.Context, r Request) (*Result, error) {
	res, err := create(ctx, r)
	if err != nil {
		return nil, &Error{Filename: r.Filename, Err: err}
	}
	return res, nil
}

func create(ctx context.Context, r Request) (*Result, error) {
	opts := r.Options
	backing, hasBacking := opts.Get("backing_file")
	backingFmt, hasBackingFmt := opts.Get("backing_fmt")
	if hasBackingFmt && !hasBacking {
		return nil, errors.New("backing format cannot be used without backing file")
	}
	format := opts.Def()
	if hasBacking && !format.Backing {
		return nil, fmt.Errorf("backing file not supported for file format '%s'", format.Name)
	}
	_, hasSize := opts.Get("size")
	if !hasSize && (!hasBacking || r.Unsafe) {
		return nil, errors.New("image creation needs a size parameter")
	}
	size := opts.Uint("size", 0)
	if size > imgsize.Max {
		return nil, fmt.Errorf("image size must be between 0 and %d", uint64(imgsize.Max))
	}
	res := &Result{Filename: r.Filename, Format: format.Name, BackingFile: backing}
	start := func() {
		if r.OnStart != nil {
			r.OnStart(opts)
		}
	}
	if format.OnHost {
		start()
		return res, createRaw(ctx, r, roundUp(size), res)
	}
	if r.Guests == nil || r.Guests.create == nil {
		return nil, fmt.Errorf("no guest was started for the %s image", format.Name)
	}
	guest, probeGuest := r.Guests.create, r.Guests.probe
	if needsProbe(hasBacking, r.Unsafe) && probeGuest == nil {
		return nil, errors.New("no guest was started to read the backing file")
	}
	cfg, err := configFor(r)
	if err != nil {
		return nil, err
	}

	var inputs []vmm.Input
	if needsProbe(hasBacking, r.Unsafe) || hasBacking && format.BackingEvenUnsafe {
		f, err := openBacking(r.Filename, backing)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("stat backing file: %w", err)
		}
		inputs = []vmm.Input{{R: f, Size: uint64(st.Size()), SectorSize: 512}}
	}
	if needsProbe(hasBacking, r.Unsafe) {
		// Ask the guest what the backing file is before anything is
		// written: its format must be known, and its size may be needed.
		probe := *cfg
		probe.Flags |= shared.FlagProbeOnly
		cr, err := runGuest(ctx, r, probeGuest, &probe, inputs, nil)
		if err != nil {
			return nil, err
		}
		detected := vmm.Printable(cr.GetBackingFormat())
		if _, known := formats.Named(detected); !known {
			detected = "unknown"
		}
		switch {
		case cr.GetError() == shared.CreateErrBackingFormat && !hasBackingFmt:
			return nil, fmt.Errorf("backing file specified without backing format (detected format of %s; add -F %s)", detected, detected)
		case cr.GetError() == shared.CreateErrBackingFormat:
			return nil, fmt.Errorf("could not open backing image: instar cannot read %s images", backingFmt)
		case cr.GetError() == shared.CreateErrBackingParse:
			return nil, fmt.Errorf("could not open backing image: it is not a valid %s image", backingFmt)
		case cr.GetError() != shared.CreateErrOK:
			return nil, fmt.Errorf("could not open backing image: %s", createErrorText(cr.GetError()))
		}
		res.BackingFormat = detected
		if !hasSize {
			cfg.VirtualSize = cr.GetResolvedVirtualSize()
			if err := opts.Set("size", strconv.FormatUint(cfg.VirtualSize, 10)); err != nil {
				return nil, err
			}
		}
	}
	start()
	return res, createImage(ctx, r, guest, cfg, inputs, res)
}

func roundUp(n uint64) uint64 {
	if n > math.MaxUint64-511 {
		return n
	}
	return (n + 511) &^ 511
}

func openBacking(image, backing string) (*os.File, error) {
	path := backing
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(image), backing)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("could not open backing file '%s': %w", backing, errors.Unwrap(err))
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() && st.Mode()&os.ModeDevice == 0 {
		f.Close()
		return nil, fmt.Errorf("could not open backing file '%s': not a regular file or block device", backing)
	}
	return f, nil
}

// outputLimit bounds what the guest may write: the virtual size plus room
// for any format's metadata (a qcow2 with 512-byte clusters and
// preallocated metadata needs about a 32nd of it; an empty vhdx is 71 MiB
// with its default 1 MiB log) and the vhdx log.
func outputLimit(cfg *shared.CreateConfig) uint64 {
	v := cfg.VirtualSize
	extra := v/8 + uint64(cfg.VhdxLogSize) + 128<<20
	if v > math.MaxInt64-extra {
		return math.MaxInt64
	}
	return v + extra
}

// createImage runs the create guest with temporary output files, and
// renames them into place when all went well.
func createImage(ctx context.Context, r Request, guest *vmm.Guest, cfg *shared.CreateConfig, inputs []vmm.Input, res *Result) error {
	files, err := outputFiles(r.Filename, r.Options.Def(), cfg)
	if err != nil {
		return err
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	return withTempFiles(names, r.BeforeNamed, func(fs []*os.File) error {
		out := make([]vmm.Output, len(fs))
		for i, f := range fs {
			out[i] = vmm.Output{W: f, Limit: files[i].limit, SectorSize: 512}
		}
		cr, err := runGuest(ctx, r, guest, cfg, inputs, out)
		if err != nil {
			return err
		}
		if cr.GetError() != shared.CreateErrOK && cr.reason != "" {
			return errors.New(cr.reason)
		}
		switch cr.GetError() {
		case shared.CreateErrOK:
		case shared.CreateErrInvalidOption:
			// Which option is wrong is the guest's knowledge; name what
			// the user set, so the message points somewhere.
			set := r.Options.Explicit("size", "backing_file", "backing_fmt")
			if r.Options.Has("backing_file") {
				set = append(set, "with a backing file")
			}
			if len(set) == 0 {
				return errors.New(createErrorText(cr.GetError()))
			}
			return fmt.Errorf("%s does not accept %s (see -o help)", r.Options.Def().Name, strings.Join(set, ", "))
		case shared.CreateErrInvalidSize:
			return fmt.Errorf("%s cannot make an image of %d bytes", r.Options.Def().Name, cfg.VirtualSize)
		default:
			return errors.New(createErrorText(cr.GetError()))
		}
		size := cr.GetFileSizeAfter()
		start, end := cr.GetPreallocStart(), cr.GetPreallocEnd()
		if size > files[0].limit || start > end || end > size {
			return fmt.Errorf("guest reported a file size of %d bytes and a data area [%d, %d); the limit is %d",
				size, start, end, files[0].limit)
		}
		// The order is qemu's: allocate the data area, then set the length.
		if err := preallocate(ctx, fs[0], cfg.Preallocation, start, end, r.OnProgress); err != nil {
			return err
		}
		if err := fs[0].Truncate(int64(size)); err != nil {
			return fmt.Errorf("set image size: %w", err)
		}
		for i := 1; i < len(fs); i++ {
			n, ok := cr.outputSizes[uint32(i)]
			if !ok || n > files[i].limit {
				return fmt.Errorf("guest gave no valid size for %s (%d, limit %d)", files[i].name, n, files[i].limit)
			}
			if err := fs[i].Truncate(int64(n)); err != nil {
				return fmt.Errorf("set size of %s: %w", files[i].name, err)
			}
		}
		res.VirtualSize = cr.GetResolvedVirtualSize()
		res.FileSize = size
		return nil
	})
}

// Entropy and time for the guest. With SOURCE_DATE_EPOCH set, both are
// derived from it and the image name, so the same command makes the same
// bytes; otherwise they are random and now.
func entropyAndTime(filename string) ([shared.CreateEntropySize]byte, uint64, error) {
	var e [shared.CreateEntropySize]byte
	if s, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		t, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return e, 0, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
		}
		e = sha256.Sum256([]byte("instar create\x00" + s + "\x00" + filepath.Base(filename)))
		return e, t, nil
	}
	if err := randomBytes(e[:]); err != nil {
		return e, 0, err
	}
	return e, uint64(time.Now().Unix()), nil
}

// runGuest runs the create operation on g and returns its result.
func runGuest(ctx context.Context, r Request, g *vmm.Guest, cfg *shared.CreateConfig, in []vmm.Input, out []vmm.Output) (*guestResult, error) {
	res, err := g.Run(vmm.Config{
		Context:         ctx,
		OperationConfig: shared.Encode(cfg),
		Inputs:          in, Outputs: out, Deadline: r.Deadline,
	})
	if err != nil {
		return nil, err
	}
	return decodeResult(res, len(out))
}
