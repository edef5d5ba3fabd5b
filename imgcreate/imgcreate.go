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

	"golang.org/x/sys/unix"

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
	path, wantDevice, err := localName(r.Filename)
	if err != nil {
		return nil, err
	}
	backing, hasBacking := opts.Get("backing_file")
	backingFmt, hasBackingFmt := opts.Get("backing_fmt")
	format := opts.Def()
	// A backing format without a backing file is the format's to refuse
	// (after the "Formatting" line, as qemu-img's drivers do).
	if hasBacking && !format.Backing {
		return nil, fmt.Errorf("backing file not supported for file format '%s'", format.Name)
	}
	if hasBacking && (backing == r.Filename || sameFile(path, backingPath(path, backing))) {
		return nil, errors.New("Error: Trying to create an image with the same filename as the backing file")
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
		t, err := openTarget(path, wantDevice)
		if err != nil {
			return nil, err
		}
		defer t.close()
		return res, createRaw(ctx, r, t, roundUp(size), res)
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
		// qemu-img's format driver refuses these values once the
		// "Formatting" line is out (with a backing file to open, that
		// comes first).
		if !hasBacking || r.Unsafe {
			start()
		}
		return nil, err
	}
	if hasSize {
		cfg.Flags |= shared.FlagSizeGiven
	}

	var inputs []vmm.Input
	// qemu-img opens a vmdk's backing file even with -u: the new
	// descriptor records the backing file's CID.
	if needsProbe(hasBacking, r.Unsafe) || hasBacking && format.BackingEvenUnsafe {
		in, err := openBacking(path, backing)
		if err != nil {
			return nil, err
		}
		defer in.f.Close()
		inputs = []vmm.Input{{R: in.f, Size: in.size, SectorSize: 512}}
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
			inferred, err := checkInferredSize(backingFmt, cr.GetResolvedVirtualSize(), inputs[0].Size)
			if err != nil {
				return nil, err
			}
			cfg.VirtualSize = inferred
			cfg.Flags |= shared.FlagSizeGiven
			if err := opts.Set("size", strconv.FormatUint(cfg.VirtualSize, 10)); err != nil {
				return nil, err
			}
		}
	}
	start()
	return res, createImage(ctx, r, path, wantDevice, guest, cfg, inputs, res)
}

func roundUp(n uint64) uint64 {
	if n > math.MaxUint64-511 {
		return n
	}
	return (n + 511) &^ 511
}

// backingPath is the local file a backing file name names: relative to
// the image's directory, with "file:" stripped. A name of another
// protocol gives "" (it names no local file).
func backingPath(image, backing string) string {
	path, _, err := localName(backing)
	if err != nil {
		return ""
	}
	// Joined as qemu joins them, without cleaning: "a/../b" is not "b"
	// when a is a link.
	if !filepath.IsAbs(path) {
		path = image[:strings.LastIndexByte(image, '/')+1] + path
	}
	return path
}

// samePath reports whether names a and b are one file: the same path
// once cleaned and made absolute, or the same device and inode.
func samePath(a, b string) bool {
	ca, errA := filepath.Abs(a)
	cb, errB := filepath.Abs(b)
	return errA == nil && errB == nil && ca == cb || sameFile(a, b)
}

// sameFile reports whether a and b are one file (device and inode, links
// followed); a file that does not exist is no other file.
func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// backingInput is the opened backing file and its size.
type backingInput struct {
	f    *os.File
	size uint64
}

// openBacking opens the backing file read-only. It must be a regular file
// or a block device, checked before it is opened (opening a device can
// have effects) and again on what was opened; it is opened without
// blocking, so a FIFO swapped in cannot hang the command. Its size is
// where lseek puts its end, as qemu finds it: files of /proc that have
// no end (/proc/self/mem) are refused as qemu refuses them.
func openBacking(image, backing string) (*backingInput, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("could not open backing file '%s': %s", backing, fmt.Sprintf(format, args...))
	}
	if _, _, err := localName(backing); err != nil {
		return nil, fail("%v", err)
	}
	path := backingPath(image, backing)
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fail("%s", errnoText(err))
	}
	if !regularOrBlock(st.Mode) {
		return nil, fail("not a regular file or block device")
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fail("%s", errnoText(err))
	}
	f := os.NewFile(uintptr(fd), path)
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil || !regularOrBlock(got.Mode) || got.Dev != st.Dev || got.Ino != st.Ino {
		f.Close()
		return nil, fail("not a regular file or block device")
	}
	end, err := unix.Seek(fd, 0, 2)
	if err != nil {
		f.Close()
		return nil, fail("Could not refresh total sector count: %s", errnoText(err))
	}
	return &backingInput{f: f, size: uint64(end)}, nil
}

func regularOrBlock(mode uint32) bool {
	return mode&unix.S_IFMT == unix.S_IFREG || mode&unix.S_IFMT == unix.S_IFBLK
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

// createImage runs the create guest with its output files staged, and
// puts them in place when all went well.
func createImage(ctx context.Context, r Request, path string, wantDevice bool, guest *vmm.Guest, cfg *shared.CreateConfig, inputs []vmm.Input, res *Result) error {
	files, err := outputFiles(path, r.Options.Def(), cfg)
	if err != nil {
		return err
	}
	targets := make([]*target, 0, len(files))
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	for i, f := range files {
		if i > 0 && f.dataFile && samePath(path, f.name) {
			// qemu-img's file locks refuse the data file on the image.
			return fmt.Errorf("Failed to get shared \"resize\" lock: the data file '%s' is the image itself", f.name)
		}
		t, err := openTarget(f.name, wantDevice && i == 0)
		if err != nil {
			return err
		}
		targets = append(targets, t)
		if i > 0 && t.kind == targetDevice {
			what := "a vmdk extent"
			if f.dataFile {
				what = "a data file"
			}
			return fmt.Errorf("%s is a block device; instar writes %s only to a regular file", f.name, what)
		}
	}
	if targets[0].kind == targetDevice {
		if len(files) > 1 {
			return fmt.Errorf("instar does not put a multi-file %s image on a block device", r.Options.Def().Name)
		}
		if cfg.Preallocation == shared.PreallocFalloc || cfg.Preallocation == shared.PreallocFull {
			word, _ := r.Options.Get("preallocation")
			return fmt.Errorf("Could not resize image: Failed to resize underlying file: Preallocation mode '%s' unsupported for this non-regular file", word)
		}
	}
	var gr *guestResult
	fill := func(fs []*os.File) error {
		out := make([]vmm.Output, len(fs))
		for i, f := range fs {
			w := newEarlyWriteback(f)
			defer w.stop()
			out[i] = vmm.Output{W: w, Limit: files[i].limit, SectorSize: 512}
		}
		gr, err = runGuest(ctx, r, guest, cfg, inputs, out)
		cr := gr
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
		if err := checkResultSize(r.Options.Def(), cfg.VirtualSize, cr.GetResolvedVirtualSize()); err != nil {
			return err
		}
		for i := 1; i < len(fs); i++ {
			n, ok := gr.outputSizes[uint32(i)]
			if !ok || n > files[i].limit {
				return fmt.Errorf("guest gave no valid size for %s (%d, limit %d)", files[i].name, n, files[i].limit)
			}
		}
		return nil
	}
	setSize := func(ctx context.Context, fs []*os.File) error {
		cr := gr
		size, start, end := cr.GetFileSizeAfter(), cr.GetPreallocStart(), cr.GetPreallocEnd()
		// The order is qemu's: allocate the data area, then set the length.
		if err := preallocate(ctx, fs[0], cfg.Preallocation, start, end, r.OnProgress); err != nil {
			return err
		}
		if err := fs[0].Truncate(int64(size)); err != nil {
			return fmt.Errorf("set image size: %w", err)
		}
		for i := 1; i < len(fs); i++ {
			if files[i].dataFile {
				if err := growDataFile(ctx, fs[i], cfg.Preallocation, gr.outputSizes[uint32(i)], r.OnProgress); err != nil {
					return fmt.Errorf("data file %s: %w", files[i].name, err)
				}
				continue
			}
			if err := fs[i].Truncate(int64(gr.outputSizes[uint32(i)])); err != nil {
				return fmt.Errorf("set size of %s: %w", files[i].name, err)
			}
		}
		res.VirtualSize = cr.GetResolvedVirtualSize()
		res.FileSize = size
		return nil
	}
	return writeOutputs(ctx, targets, r.BeforeNamed, fill, setSize)
}

// checkInferredSize checks the virtual size the probe guest read from a
// backing file of format fmt and rounds it as qemu does: a raw file's
// length rounds up to whole sectors; every other format's size field
// rounds down (qemu keeps whole sectors of it). A raw file's size is the
// host's own knowledge, so the guest's word must agree with it.
func checkInferredSize(format string, got, fileSize uint64) (uint64, error) {
	f, known := formats.Named(format)
	if !known || got > f.ReadMax {
		return 0, fmt.Errorf("could not open backing image: the guest reported a virtual size of %d bytes for a %s image, more than qemu allows", got, format)
	}
	if format == "raw" {
		if got != fileSize {
			return 0, fmt.Errorf("could not open backing image: the guest reported a virtual size of %d bytes for a raw file of %d", got, fileSize)
		}
		return roundUp(got), nil
	}
	return got &^ 511, nil
}

// checkResultSize checks the virtual size the create guest reports before
// it is printed: whole sectors, within the format's limit, and no larger
// than what was asked, give or take the format's slack.
func checkResultSize(format *formats.Format, asked, got uint64) error {
	if got%512 != 0 || got > format.MaxSize || got > roundUp(asked)+format.SizeSlack {
		return fmt.Errorf("guest reported a virtual size of %d bytes for a request of %d", got, asked)
	}
	return nil
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
		ExitBudget: exitBudget(cfg),
	})
	if err != nil {
		return nil, err
	}
	return decodeResult(res, len(out))
}

// exitBudget is how many exits a create guest may cause: the VMM's
// default, which a create of any size without preallocation stays far
// below, plus room for preallocated metadata, which grows with the
// virtual size (a qcow2 with 512-byte clusters needs about 41,000 exits
// per GiB: one per 26 KiB; this allows one per 16 KiB).
func exitBudget(cfg *shared.CreateConfig) int {
	budget := uint64(vmm.DefaultExitBudget)
	if cfg.Preallocation != shared.PreallocOff || cfg.Flags&shared.FlagDataFileRaw != 0 {
		budget += cfg.VirtualSize / (16 << 10)
	}
	return int(min(budget, math.MaxInt32))
}
