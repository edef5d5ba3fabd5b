// Package imginspect is the host side of the inspect operation: it runs
// the inspect guest over one file, checks everything the guest reports
// (nothing it sends is trusted), adds the host's own checks
// (--expect-format, --allow-formats) and returns a Verdict. The host never
// reads the image's bytes. Batch runs many files in parallel guests and
// hands back their verdicts in input order.
package imginspect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"instar/embed"
	"instar/shared"
	"instar/shared/guestmsg"
	"instar/vmm"
)

// MaxReason bounds the bytes of one failure's reason as the guest sends
// it; a longer one is refused.
const MaxReason = 1024

// Options are what one inspection is asked for besides the file.
type Options struct {
	// Accel runs the guest; it must be set.
	Accel vmm.Accelerator
	// Deadline bounds each guest's run; zero is the VMM's default.
	Deadline time.Duration
	// ExpectFormat, when not "", is the format the file must be (a name
	// ParseFormat accepts); a different one fails expect_format.
	ExpectFormat string
	// AllowFormats, when not empty, are the formats the file may be; any
	// other fails allow_formats.
	AllowFormats []string
}

// Failure is one failed check: its name (a shared.InspectChecks name) and
// the reason, as the guest or the host words it.
type Failure struct {
	Check  string
	Reason string
}

// Verdict is what inspect says of one file.
type Verdict struct {
	// Filename is the file's name as given.
	Filename string
	// Format is the format the file is taken to be; "" when the file
	// could not be inspected (NotInspected).
	Format string
	// Formats are every format that claims the file, in InspectFmt
	// number order; empty for a file no format claims (raw).
	Formats []string
	// VirtualSize is the size of the disk the image holds, or nil when
	// the format has none (a container, or an image the guest could not
	// size).
	VirtualSize *uint64
	// Failures are the failed checks, one per check name, in check
	// number order; a check that failed more than once has its reasons
	// joined with "; ".
	Failures []Failure
	// Safe is true when no check failed.
	Safe bool
}

// ParseFormat returns the InspectFmt number of a format name: the names
// of shared.InspectFormatNames, and "vhd", OpenStack's name for vpc.
func ParseFormat(name string) (int, error) {
	if name == "vhd" {
		return shared.InspectFmtVpc, nil
	}
	for n, f := range shared.InspectFormatNames {
		if f == name {
			return n, nil
		}
	}
	return 0, fmt.Errorf("unknown format %q (want one of %s, or vhd)", name, strings.Join(shared.InspectFormatNames[:], ", "))
}

// ParseFormatList splits a comma-separated list of format names and
// checks each with ParseFormat; it returns the canonical names.
func ParseFormatList(list string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(list, ",") {
		n, err := ParseFormat(name)
		if err != nil {
			return nil, err
		}
		out = append(out, shared.InspectFormatNames[n])
	}
	return out, nil
}

// checkNumber is each check's number by name.
var checkNumber = func() map[string]int {
	m := map[string]int{}
	for n, c := range shared.InspectChecks {
		m[c.Name] = n
	}
	return m
}()

// hostOnly are the checks only the host makes; a guest that reports one is
// refused.
var hostOnly = map[uint32]bool{
	shared.InspectCheckExpectFormat: true, shared.InspectCheckAllowFormats: true, shared.InspectCheckNotInspected: true,
}

// readAsRaw are the formats qemu-img opens as raw, whose virtual size is
// the file's size rounded up to a whole 512-byte sector.
var readAsRaw = map[string]bool{"raw": true, "gpt": true, "iso": true}

// errorTexts are the host's words for the inspect error codes.
var errorTexts = map[uint32]string{
	shared.InspectErrReadFailed: "could not read the file",
	shared.InspectErrBadConfig:  "the guest refused its configuration",
	shared.InspectErrTooBig:     "the file's metadata is larger than inspect reads",
}

// guestBinaries returns core and the inspect operation from the bundle.
func guestBinaries() (core, op []byte, err error) { return embed.Guest("inspect") }

// Inspect opens path read-only (a regular file or a block device), runs
// an inspect guest over it and returns its checked verdict, with opts'
// host checks added. The error names path.
func Inspect(ctx context.Context, path string, opts Options) (Verdict, error) {
	if opts.Accel == nil {
		return Verdict{}, errors.New("imginspect: no accelerator")
	}
	// The guest's set-up overlaps opening the file.
	g := vmm.Start(opts.Accel, guestBinaries)
	defer g.Release()
	f, size, err := open(path)
	if err != nil {
		return Verdict{}, err
	}
	defer f.Close()
	cfg := shared.InspectConfig{Magic: shared.InspectConfigMagic}
	res, err := g.Run(vmm.Config{
		Context:         ctx,
		OperationConfig: shared.Encode(&cfg),
		Inputs:          []vmm.Input{{R: f, Size: uint64(size), SectorSize: 512}},
		Deadline:        opts.Deadline,
	})
	if err != nil {
		return Verdict{}, fmt.Errorf("%s: %w", path, err)
	}
	v, err := Decode(res)
	if err != nil {
		return Verdict{}, fmt.Errorf("%s: %w", path, err)
	}
	v.Filename = path
	if v.VirtualSize == nil && readAsRaw[v.Format] {
		// qemu reads these as raw: the disk is the whole file, whose
		// size the host knows without reading a byte of it, in whole
		// sectors as qemu-img info reports it.
		vs := (uint64(size) + 511) &^ 511
		v.VirtualSize = &vs
	}
	if err := AddHostChecks(&v, opts.ExpectFormat, opts.AllowFormats); err != nil {
		return Verdict{}, err
	}
	return v, nil
}

// open opens path read-only and returns it with its size. A directory,
// FIFO, socket or character device is refused: only a regular file or a
// block device has bytes to inspect at offsets.
func open(path string) (*os.File, int64, error) {
	// O_NONBLOCK: a FIFO must not block the open before it is refused.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, 0, fmt.Errorf("%s: could not open: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: stat: %w", path, err)
	}
	m := st.Mode()
	switch {
	case m.IsDir():
		f.Close()
		return nil, 0, fmt.Errorf("%s: is a directory", path)
	case !m.IsRegular() && (m&os.ModeDevice == 0 || m&os.ModeCharDevice != 0):
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file or block device", path)
	}
	size, err := f.Seek(0, 2)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: size: %w", path, err)
	}
	return f, size, nil
}

// Decode checks and converts what an inspect guest reported: the
// completion's InspectResultMessage and one InspectFailureMessage per
// failed check. Anything out of the contract (a number out of range, a
// count that disagrees, a reason that is not bounded UTF-8, a message
// inspect does not use) is an error saying what the guest sent. The
// Verdict's Filename is left empty.
func Decode(res *vmm.Result) (Verdict, error) {
	if res == nil || res.Complete == nil || res.Complete.Result == nil {
		reason := ""
		if res != nil && len(res.Errors) > 0 {
			reason = ": " + vmm.Printable(res.Errors[len(res.Errors)-1].GetMessage())
		}
		return Verdict{}, fmt.Errorf("the inspect guest completed without a result%s", reason)
	}
	var m guestmsg.InspectResultMessage
	if err := m.Unmarshal(res.Complete.Result); err != nil {
		return Verdict{}, fmt.Errorf("the inspect guest's result does not decode: %w", err)
	}
	if m.Error != shared.InspectErrOK {
		if n := len(res.Errors); n > 0 {
			return Verdict{}, fmt.Errorf("%s", vmm.Printable(res.Errors[n-1].GetMessage()))
		}
		if t, ok := errorTexts[m.Error]; ok {
			return Verdict{}, errors.New(t)
		}
		return Verdict{}, fmt.Errorf("guest sent unknown error code %d", m.Error)
	}
	if m.Format >= shared.InspectFmtCount {
		return Verdict{}, fmt.Errorf("guest sent format number %d (formats are 0 to %d)", m.Format, shared.InspectFmtCount-1)
	}
	if m.Formats>>shared.InspectFmtCount != 0 {
		return Verdict{}, fmt.Errorf("guest sent formats %#x, with bits beyond format %d", m.Formats, shared.InspectFmtCount-1)
	}
	if m.Formats&(1<<shared.InspectFmtRaw) != 0 {
		return Verdict{}, errors.New("guest sent raw among the formats claiming the file")
	}
	switch {
	case m.Format == shared.InspectFmtRaw && m.Formats != 0:
		return Verdict{}, fmt.Errorf("guest sent format raw for a file formats %#x claim", m.Formats)
	case m.Format != shared.InspectFmtRaw && m.Formats&(1<<m.Format) == 0:
		return Verdict{}, fmt.Errorf("guest sent format %s, which is not among the formats claiming the file", shared.InspectFormatNames[m.Format])
	}
	if m.VirtualSize > 1<<63-1 {
		return Verdict{}, fmt.Errorf("guest sent virtual size %d, out of range", m.VirtualSize)
	}
	if m.Failures > shared.InspectMaxFailures {
		return Verdict{}, fmt.Errorf("guest sent a count of %d failures (at most %d)", m.Failures, shared.InspectMaxFailures)
	}
	reasons := map[uint32][]string{}
	got := 0
	for _, msg := range res.Messages {
		fm := msg.GetInspectFailure()
		if fm == nil {
			return Verdict{}, errors.New("guest sent a message inspect does not use")
		}
		got++
		if got > shared.InspectMaxFailures {
			return Verdict{}, fmt.Errorf("guest sent more than %d failures", shared.InspectMaxFailures)
		}
		switch {
		case fm.Check >= shared.InspectCheckCount:
			return Verdict{}, fmt.Errorf("guest sent check number %d (checks are 0 to %d)", fm.Check, shared.InspectCheckCount-1)
		case hostOnly[fm.Check]:
			return Verdict{}, fmt.Errorf("guest sent a failure of %s, a check only the host makes", shared.InspectChecks[fm.Check].Name)
		case fm.Reason == "":
			return Verdict{}, fmt.Errorf("guest sent a failure of %s without a reason", shared.InspectChecks[fm.Check].Name)
		case len(fm.Reason) > MaxReason:
			return Verdict{}, fmt.Errorf("guest sent a reason of %d bytes (at most %d)", len(fm.Reason), MaxReason)
		case !utf8.ValidString(fm.Reason):
			return Verdict{}, errors.New("guest sent a reason that is not UTF-8")
		}
		reasons[fm.Check] = append(reasons[fm.Check], fm.Reason)
	}
	if uint32(got) != m.Failures {
		return Verdict{}, fmt.Errorf("guest sent %d failures but counted %d", got, m.Failures)
	}
	v := Verdict{Format: shared.InspectFormatNames[m.Format], Formats: []string{}}
	for n := range shared.InspectFmtCount {
		if m.Formats&(1<<n) != 0 {
			v.Formats = append(v.Formats, shared.InspectFormatNames[n])
		}
	}
	if m.HasVirtualSize {
		vs := m.VirtualSize
		v.VirtualSize = &vs
	}
	checks := make([]int, 0, len(reasons))
	for c := range reasons {
		checks = append(checks, int(c))
	}
	sort.Ints(checks)
	for _, c := range checks {
		v.Failures = append(v.Failures, Failure{shared.InspectChecks[c].Name, strings.Join(reasons[uint32(c)], "; ")})
	}
	v.Safe = len(v.Failures) == 0
	return v, nil
}

// NotInspected is the verdict on a file that has none: err (from Inspect)
// kept it from being inspected. It is unsafe, with the one failure
// not_inspected giving err's words (without the leading file name,
// which the verdict carries); its format is unknown (""), it has no
// formats and no virtual size. The host checks are not added: there is
// no format to match.
func NotInspected(path string, err error) Verdict {
	reason := err.Error()
	if r, ok := strings.CutPrefix(reason, path+": "); ok && r != "" {
		reason = r
	}
	return Verdict{
		Filename: path,
		Formats:  []string{},
		Failures: []Failure{{shared.InspectChecks[shared.InspectCheckNotInspected].Name, reason}},
	}
}

// matches says whether a file detected as format is of the format named
// want: the same, or raw for a partition table (gpt), which qemu reads as
// the raw disk it is.
func matches(format, want string) bool {
	return format == want || want == "raw" && format == shared.InspectFormatNames[shared.InspectFmtGpt]
}

// AddHostChecks adds the host's checks to v: expect_format when expect is
// not "" and v's format does not match it, allow_formats when allow is not
// empty and v's format matches none of it (raw matches a partition table,
// gpt, too). Names are as ParseFormat accepts them; an unknown one is an
// error.
func AddHostChecks(v *Verdict, expect string, allow []string) error {
	if expect != "" {
		n, err := ParseFormat(expect)
		if err != nil {
			return err
		}
		if want := shared.InspectFormatNames[n]; !matches(v.Format, want) {
			v.add(Failure{"expect_format", fmt.Sprintf("the file is %s, not %s", v.Format, want)})
		}
	}
	if len(allow) > 0 {
		ok := false
		var names []string
		for _, a := range allow {
			n, err := ParseFormat(a)
			if err != nil {
				return err
			}
			names = append(names, shared.InspectFormatNames[n])
			ok = ok || matches(v.Format, shared.InspectFormatNames[n])
		}
		if !ok {
			v.add(Failure{"allow_formats", fmt.Sprintf("the file is %s, which is not among %s", v.Format, strings.Join(names, ", "))})
		}
	}
	v.Safe = len(v.Failures) == 0
	return nil
}

// add puts f among v's failures in check number order.
func (v *Verdict) add(f Failure) {
	n := checkNumber[f.Check]
	i := sort.Search(len(v.Failures), func(i int) bool { return checkNumber[v.Failures[i].Check] > n })
	v.Failures = append(v.Failures, Failure{})
	copy(v.Failures[i+1:], v.Failures[i:])
	v.Failures[i] = f
}
